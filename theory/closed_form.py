"""Closed forms evaluated to full double precision, with a rigorous error bound.

A SymPy expression lambdified for NumPy is evaluated in double precision, so an expression that
subtracts nearly equal terms loses digits silently (the ridge Bayes risk at ``xi = 1e-8`` fell
below its noise floor; the debiased-GD risk at ``L = 1``, where the ``eta^2`` terms cancel exactly,
returned 0 instead of ``1 + sigma2`` at ``eta = 1e6``), and one whose intermediate terms leave the
double range raises ``OverflowError`` or returns ``inf``/``nan``.

Here the *same* expression is lambdified for :mod:`mpmath` interval arithmetic (``mpmath.iv``)
and evaluated at the exact double inputs: every operation rounds outwards, so the returned
interval is guaranteed to contain the exact value of the formula.  The working precision doubles
until the interval is narrower than the double-precision spacing of its midpoint (accuracy of the
double result guaranteed, whatever the cancellation) or a cap is reached (then ``success`` is
False with a message, never a silent number).  Intermediate values have unbounded exponents, so
nothing overflows on the way; a final value outside the double range is refused with a
``ValueError`` that says so.

>>> from icl_companion.theory import linear as tl
>>> f = interval_function((tl.XI, tl.SIGMA2), tl.ridge_bayes_risk_expr())
>>> ev = evaluate_interval(f, (1e-16, 0.1))
>>> ev.value, ev.success          # the float64 lambdification gives 0.0 here
(0.10000000000000002, True)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

__all__ = ["interval_function", "evaluate_interval", "evaluate_many", "IntervalValue",
           "closed_form_func", "register_closed_form",
           "MAX_DPS", "MAX_SECONDS", "DOUBLE_MAX"]

#: Largest working precision (decimal digits) tried before giving up.  Enough for cancellations
#: between terms as far apart as 10^-4000 and 10^4000 (the double range is 10^+-308, so a
#: polynomial of degree <= 10 in the inputs is covered).
MAX_DPS = 5000
#: Wall-clock cap of one interval evaluation (seconds); reaching it is reported, never hidden.
MAX_SECONDS = 2.0
DOUBLE_MAX = 1.7976931348623157e308
_START_DPS = 20
# Accept when the interval is narrower than a quarter of the double spacing at its midpoint.
_RTOL = 2.0 ** -55
# Below the smallest normal double, an enclosure is accepted once it is narrower than half the
# smallest subnormal (relative accuracy is meaningless there).
_TINY = 2.2250738585072014e-308
_SUBNORMAL_HALF = 2.4e-324


def _iv_sinh(x):
    from mpmath import iv

    return (iv.expm1(x) - iv.expm1(-x)) / 2


def _iv_cosh(x):
    from mpmath import iv

    return (iv.exp(x) + iv.exp(-x)) / 2


@functools.lru_cache(maxsize=None)
def _namespace() -> dict:
    """The only names an interval-lambdified expression may call: every one rounds outwards."""
    from mpmath import iv

    from types import SimpleNamespace

    funcs = SimpleNamespace(mpf=iv.mpf, sqrt=iv.sqrt, exp=iv.exp, log=iv.log, expm1=iv.expm1,
                            log1p=iv.log1p, sinh=_iv_sinh, cosh=_iv_cosh, pi=iv.pi, e=iv.e)
    return {"mpmath": funcs}  # the printer writes mpmath.<name>: only these resolve


def interval_function(symbols: Sequence[Any], expr) -> Callable:
    """``sympy.lambdify`` of ``expr`` for :mod:`mpmath.iv` (arguments must be ``iv.mpf``).

    Only the functions of a fixed namespace are available; an expression that needs another one
    fails at the first call (``AttributeError``), which the tests exercise for every registered result.
    """
    import sympy as sp

    from sympy.printing.pycode import MpmathPrinter

    return sp.lambdify(tuple(symbols), expr, modules=[_namespace()], printer=MpmathPrinter)


@dataclass(frozen=True)
class IntervalValue:
    """Outcome of :func:`evaluate_interval`: the double value, a bound on its error, the digits
    used, and ``success`` (False when the interval could not be narrowed within ``MAX_DPS``)."""

    value: float
    error: float
    dps: int
    success: bool
    message: str = ""
    status: int = 0   # 3: stopped by the time cap, 4: by the precision cap


def _to_iv(x):
    from mpmath import iv

    return iv.mpf(x)  # exact for doubles and Python ints (ints beyond the precision: enclosed)


def _magnitude(x) -> str:
    """``x`` for a message: ``-3.1e+400`` or, for astronomically large exponents, ``10^(2.2e+21714)``."""
    from mpmath import log10, nstr

    if x == 0:
        return "0"
    if abs(x) == math.inf:
        return ("-" if x < 0 else "") + "10^(1e+308) or more"
    e = log10(abs(x))
    if e < 10**6:
        return nstr(x, 3)
    return ("-" if x < 0 else "") + f"10^({float(e):.3g})"


def _enclose(f, args, iv, mpf, ComplexResult):
    """``(lo, hi)``, the endpoints of ``f``'s enclosure at the current precision, or None."""
    try:
        y = f(*[_to_iv(a) for a in args])
    except (ComplexResult, ZeroDivisionError, ValueError):
        return None  # an enclosure straddles a branch point: more digits narrow it
    lo, hi = mpf(y.a), mpf(y.b)
    if not (lo == lo and hi == hi):
        return None
    return lo, hi


def evaluate_interval(f: Callable, args: Sequence[Any], max_dps: int = MAX_DPS,
                      max_seconds: float = MAX_SECONDS) -> IntervalValue:
    """Evaluate ``f`` (from :func:`interval_function`) at ``args``, raising precision as needed.

    Raises ``ValueError`` when the exact value certainly lies beyond the double range (it cannot
    be returned as a number).  Stops with ``success=False`` after ``max_dps`` digits or
    ``max_seconds`` (an expression whose enclosure does not narrow, e.g. ``A - A`` with a huge
    ``A``: interval arithmetic does not know the two terms are equal).
    """
    import time

    from mpmath import iv, mp, mpf
    from mpmath.libmp import ComplexResult

    dps, last, t0, status, why = _START_DPS, None, time.monotonic(), 4, ""
    while dps <= max_dps:
        if time.monotonic() - t0 > max_seconds:
            max_dps, status, why = dps // 2, 3, f" (time cap {max_seconds:g} s reached)"
            break
        old, iv.dps = iv.dps, dps
        try:
            with mp.workdps(dps):
                done = _enclose(f, args, iv, mpf, ComplexResult)
        finally:
            iv.dps = old
        if done is not None:
            lo, hi = done
            if lo > DOUBLE_MAX or hi < -DOUBLE_MAX:  # certainly beyond the double range
                raise ValueError(f"the exact value is about {_magnitude(lo if lo > 0 else hi)}, "
                                 f"beyond the double-precision range (|value| <= 1.8e308)")
            if math.inf not in (abs(lo), abs(hi)):
                mid, half = (lo + hi) / 2, (hi - lo) / 2
                last = (mid, half)
                if abs(mid) + half < _TINY and half < _SUBNORMAL_HALF:
                    # below the normal range and narrower than half the smallest subnormal:
                    # float(mid) is the correctly rounded (possibly zero) double
                    return IntervalValue(float(mid), float(half), dps, True)
                if half <= _RTOL * abs(mid):
                    if abs(mid) > DOUBLE_MAX:
                        raise ValueError(f"the exact value is about {_magnitude(mid)}, beyond "
                                         f"the double-precision range (|value| <= 1.8e308)")
                    return IntervalValue(float(mid), float(half), dps, True)
        dps *= 2
    if last is None:
        return IntervalValue(math.nan, math.inf, max_dps, False,
                             f"no finite enclosure of the value at {max_dps} digits{why}", status)
    mid, half = last
    return IntervalValue(float(mid), float(half), max_dps, False,
                         f"the value is only known to +-{_magnitude(half)} after {max_dps} "
                         f"digits{why}", status)


def evaluate_many(fs: dict, args: Sequence[Any], owner: str) -> dict:
    """Evaluate several interval functions at the same ``args``: a dict of outputs, plus
    ``success=False`` / ``status`` / ``message`` when one of them could not be certified.

    ``ValueError`` (a value beyond the double range) is re-raised naming ``owner`` and the output.
    """
    out, failed, status = {}, [], 4
    for name, f in fs.items():
        try:
            r = evaluate_interval(f, args)
        except ValueError as e:
            raise ValueError(f"{owner}: {name}: {e}") from None
        out[name] = r.value
        if not r.success:
            failed.append(f"{name}: {r.message}")
            status = min(status, r.status)
    if failed:
        out.update(success=False, status=status, message="interval evaluation did not reach double "
                                                    "precision: " + "; ".join(failed))
    return out


def closed_form_func(id: str, names: Sequence[str], symbols: Callable[[], Sequence[Any]],
                     expression: Callable[[], Any]) -> Callable:
    """``func(**inputs)`` for a catalogue result: interval evaluation of ``expression()``.

    A certified value is returned as a plain number (closed forms carry no solver diagnostics);
    an uncertified one as ``{"value", "success": False, "status": 4, "message"}``.
    """

    @functools.lru_cache(maxsize=None)
    def compiled():
        from icl_companion.theory import precompute

        f = precompute.interval_function(id)  # the committed source, rebound to mpmath.iv
        return f if f is not None else interval_function(tuple(symbols()), expression())

    def func(**inputs):
        try:
            r = evaluate_interval(compiled(), [inputs[n] for n in names])
        except ValueError as e:
            raise ValueError(f"{id}: {e}") from None
        if r.success:
            return r.value
        return {"value": r.value, "success": False, "status": r.status,
                "message": f"interval evaluation did not reach double precision: {r.message}",
                "residual": r.error}

    func.__name__ = id.replace(".", "_")
    return func


def register_closed_form(id: str, summary: str, params, expression, symbols, reference,
                         **kw):
    """:func:`icl_companion.theory.registry.register_symbolic`, evaluated by interval arithmetic.

    Same arguments; ``show`` prints the same expression, ``eval`` returns its exact value rounded
    to double precision (see the module docstring).
    """
    from icl_companion.theory.registry import register_symbolic

    import sys

    r = register_symbolic(id, summary, params, expression, symbols, reference, **kw)
    r.func = closed_form_func(id, [p.name for p in params], symbols, expression)
    r.module = sys._getframe(1).f_globals.get("__name__", "")  # the module that declares it
    return r
