"""Scalar roots and thresholds: bracketed (brentq), batched (scipy elementwise), and indicator thresholds.

* :func:`find_root` wraps :func:`scipy.optimize.brentq` with an optional outward bracket search and a
  :class:`RootResult` record; a bracket without a sign change raises :class:`BracketError` naming
  the interval and the function values.
* :func:`find_roots_vectorized` solves many independent scalar problems at once with
  :func:`scipy.optimize.elementwise.find_root` (vectorised Chandrupatla), with no Python loop over
  the batch; it is how grids of thresholds or SE points are solved.
* :func:`find_threshold` locates where a *continuous indicator* (an order parameter, an error
  minus a level) crosses zero: a phase-transition location, reported with the same record.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.optimize import brentq
from scipy.optimize.elementwise import bracket_root, find_root as _find_root_elementwise

from icl_companion.numerics.record import SolverRecord, make_record

__all__ = ["BracketError", "RootResult", "find_root", "find_roots_vectorized", "find_threshold"]


class BracketError(ValueError):
    """No sign change on the bracket: the root is not where it was asked for."""


class RootResult(SolverRecord):
    """``root, success, status, message, nit, function_calls, residual, bracket``."""


def _expand(f, lo, hi, factor, max_expand):
    flo, fhi = f(lo), f(hi)
    for _ in range(max_expand):
        if np.sign(flo) != np.sign(fhi):
            return lo, hi, flo, fhi
        width = hi - lo
        lo, hi = lo - factor * width, hi + factor * width
        flo, fhi = f(lo), f(hi)
    return lo, hi, flo, fhi


def find_root(f: Callable[[float], float], lo: float, hi: float, xtol: float = 1e-14,
              rtol: float = 8.9e-16, maxiter: int = 200, expand: bool = False,
              factor: float = 1.0, max_expand: int = 40) -> RootResult:
    """Root of a continuous scalar ``f`` in ``[lo, hi]`` by Brent's method.

    With ``expand=True`` the bracket is widened geometrically (both sides) until ``f`` changes
    sign, at most ``max_expand`` times.  Raises :class:`BracketError` when no sign change is found.

    >>> r = find_root(lambda x: x**3 - 2, 0, 2)
    >>> round(r.root, 12), bool(r.success)
    (1.259921049895, True)
    >>> find_root(lambda x: x**2 + 1, -1, 1)
    Traceback (most recent call last):
    ...
    icl_companion.numerics.roots.BracketError: no sign change of f on [-1, 1]: f(-1) = 2, f(1) = 2
    """
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    if expand:
        lo, hi, flo, fhi = _expand(f, lo, hi, factor, max_expand)
    else:
        flo, fhi = f(lo), f(hi)
    if not (np.isfinite(flo) and np.isfinite(fhi)):
        raise BracketError(f"f is not finite at the bracket ends: f({lo:g}) = {flo:g}, "
                           f"f({hi:g}) = {fhi:g}")
    if flo == 0:
        return make_record(RootResult, root=float(lo), success=True, nit=0, function_calls=2,
                           residual=0.0, bracket=(lo, hi))
    if fhi == 0:
        return make_record(RootResult, root=float(hi), success=True, nit=0, function_calls=2,
                           residual=0.0, bracket=(lo, hi))
    if np.sign(flo) == np.sign(fhi):
        raise BracketError(f"no sign change of f on [{lo:g}, {hi:g}]: f({lo:g}) = {flo:g}, "
                           f"f({hi:g}) = {fhi:g}")
    x, info = brentq(f, lo, hi, xtol=xtol, rtol=rtol, maxiter=maxiter, full_output=True,
                     disp=False)
    return make_record(RootResult, root=float(x), success=info.converged, nit=info.iterations,
                       status=0 if info.converged else 1,
                       function_calls=info.function_calls, residual=float(abs(f(x))),
                       bracket=(lo, hi), message=info.flag)


def find_roots_vectorized(f: Callable[[np.ndarray], np.ndarray], lo, hi, xtol: float = 1e-14,
                          rtol: float | None = None, maxiter: int = 200, expand: bool = False,
                          args: tuple = ()) -> RootResult:
    """Roots of a batch of scalar problems ``f(x, *args) = 0``, elementwise, without Python loops.

    ``f`` is vectorised: it receives ``x`` of the broadcast shape of ``lo``, ``hi`` and ``args``.
    With ``expand=True``, :func:`scipy.optimize.elementwise.bracket_root` first searches brackets
    outward from ``[lo, hi]``.  Elements without a sign change get ``nan`` and ``success=False``;
    the caller decides whether that is an error.

    >>> c = np.array([2.0, 3.0, 10.0])
    >>> r = find_roots_vectorized(lambda x, c: x**2 - c, 0.0, 4.0, args=(c,))
    >>> np.allclose(r.root, np.sqrt(c)), r.success.tolist()
    (True, [True, True, True])
    """
    lo, hi = np.broadcast_arrays(np.asarray(lo, float), np.asarray(hi, float),
                                 *[np.asarray(a, float) for a in args])[:2]
    if expand:
        br = bracket_root(f, lo, hi, args=args)
        lo, hi = br.bracket
    tol = {"xatol": xtol}
    if rtol is not None:
        tol["xrtol"] = rtol
    res = _find_root_elementwise(f, (lo, hi), args=args, tolerances=tol, maxiter=maxiter)
    ok = np.asarray(res.success, dtype=bool)
    root = np.where(ok, res.x, np.nan)
    return make_record(RootResult, root=root, success=ok, nit=np.asarray(res.nit),
                       function_calls=np.asarray(res.nfev), residual=np.abs(np.asarray(res.f_x)),
                       bracket=(np.asarray(lo), np.asarray(hi)),
                       status=np.where(ok, 0, np.where(np.asarray(res.status) == -2, 1, 4)))


def find_threshold(indicator: Callable[[float], float], lo: float, hi: float,
                   level: float = 0.0, xtol: float = 1e-12, expand: bool = False) -> RootResult:
    """Where a continuous indicator crosses ``level`` (a transition), with a clear bracket error.

    >>> round(find_threshold(lambda a: 1 - a**2, 0.0, 3.0, level=0.5).root, 12)
    0.707106781187
    """
    return find_root(lambda x: indicator(x) - level, lo, hi, xtol=xtol, expand=expand)
