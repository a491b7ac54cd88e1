"""Fixed-point iteration ``x = F(x)`` with damping or Anderson mixing, returning a full record.

Message-passing state evolution is a fixed-point problem on a few order parameters.  The plain
damped iteration ``x <- (1 - a) x + a F(x)`` is robust and follows the algorithmic trajectory
(useful when the iteration itself has a meaning, as for SE from an uninformed start);
``method="anderson"`` delegates to :func:`scipy.optimize.root` (Anderson mixing on
``G(x) = F(x) - x``) for speed when only the fixed point matters.

Both return a :class:`FixedPointResult`, an :class:`scipy.optimize.OptimizeResult` with ``x``,
``success``, ``nit``, ``residual`` (``||F(x) - x||`` at the returned ``x``) and ``history``
(the iterates, and the residual at each iterate).
"""

from __future__ import annotations

import time
import warnings
from typing import Callable

import numpy as np
from scipy.linalg import LinAlgWarning
from scipy.optimize import root

from icl_companion.numerics.record import SolverRecord, make_record

__all__ = ["FixedPointResult", "fixed_point"]


class FixedPointResult(SolverRecord):
    """Result of :func:`fixed_point`: ``x, success, status, message, nit, residual, history``."""


def _norm_default(v: np.ndarray) -> float:
    return float(np.max(np.abs(v))) if v.size else 0.0


class _TimeUp(Exception):
    pass


class _Budget(Exception):
    pass


def fixed_point(F: Callable[[np.ndarray], np.ndarray], x0, damping: float = 0.5,
                tol: float = 1e-10, maxiter: int = 1000, method: str = "damped",
                norm: Callable[[np.ndarray], float] | None = None,
                time_limit: float | None = None, maxfev: int | None = None) -> FixedPointResult:
    """Solve ``x = F(x)``.

    Parameters
    ----------
    F : callable
        Map on arrays of the shape of ``x0``.
    x0 : array_like
        Starting point (also the warm start of a sweep).
    damping : float in (0, 1]
        Weight of the new iterate in the damped scheme (1 = undamped).
    tol : float
        Convergence when ``norm(F(x) - x) <= tol * max(1, norm(x))``.
    maxiter : int
        Iteration cap; reaching it returns ``success=False`` (never raises).
    method : {"damped", "anderson"}
    norm : callable, optional
        Norm for the residual (default: max-norm).
    time_limit : float, optional
        Wall-clock cap in seconds; reaching it returns ``success=False`` with ``status=3`` and the
        last iterate (a map that becomes slow, e.g. near a degenerate spectrum, never hangs).
    maxfev : int, optional
        Cap on the evaluations of ``F`` (Anderson's line search evaluates ``F`` more than once per
        iteration); reaching it returns ``success=False`` with ``status=1`` and the last iterate.

    Examples
    --------
    >>> r = fixed_point(np.cos, 1.0, damping=0.8)
    >>> bool(r.success), round(float(r.x), 10)
    (True, 0.7390851332)
    >>> r = fixed_point(lambda x: 2 * x + 1, 0.0, maxiter=20)   # repelling: x* = -1
    >>> bool(r.success), r.nit
    (False, 20)
    """
    if not 0 < damping <= 1:
        raise ValueError(f"damping must be in (0, 1], got {damping}")
    if tol <= 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if maxiter < 1:
        raise ValueError(f"maxiter must be >= 1, got {maxiter}")
    if maxfev is not None and maxfev < 1:
        raise ValueError(f"maxfev must be >= 1, got {maxfev}")
    norm = norm or _norm_default
    deadline = None if time_limit is None else time.monotonic() + float(time_limit)
    F_user = F

    nfev = [0]

    def F(v):  # noqa: F811 - the user's map behind the time and evaluation caps
        if deadline is not None and time.monotonic() > deadline:
            raise _TimeUp
        if maxfev is not None and nfev[0] >= maxfev:
            raise _Budget
        nfev[0] += 1
        return F_user(v)

    x = np.array(x0, dtype=float, copy=True)
    scalar = x.ndim == 0
    hist_x, hist_r = [], []

    def finish(x, res, it, ok, msg, status=None):
        xs = float(x) if scalar else x
        return make_record(FixedPointResult, x=xs, success=ok, nit=it, residual=res,
                           status=status, message=msg, method=method,
                           history={"x": np.array(hist_x), "residual": np.array(hist_r)})

    time_msg = f"time cap of {time_limit} s reached"
    fev_msg = f"maxfev={maxfev} map evaluations reached"
    if method == "damped":
        it = 0
        try:
            for it in range(1, maxiter + 1):
                fx = np.asarray(F(x), dtype=float)
                res = norm(fx - x)
                hist_x.append(x.copy())
                hist_r.append(res)
                if not np.isfinite(res):
                    return finish(x, res, it, False, "non-finite residual", status=2)
                if res <= tol * max(1.0, norm(x)):
                    return finish(fx, res, it, True, "converged")
                x = (1 - damping) * x + damping * fx
            fx = np.asarray(F(x), dtype=float)
        except _TimeUp:
            return finish(x, hist_r[-1] if hist_r else np.inf, it, False, time_msg, status=3)
        except _Budget:
            return finish(x, hist_r[-1] if hist_r else np.inf, it, False, fev_msg, status=1)
        return finish(x, norm(fx - x), maxiter, False, f"maxiter={maxiter} reached", status=1)
    if method == "anderson":
        def G(v):
            v = np.asarray(v, dtype=float).reshape(x.shape)
            return (np.asarray(F(v), dtype=float) - v).ravel()

        def cb(v, g):
            hist_x.append(np.array(v, dtype=float).reshape(x.shape))
            hist_r.append(norm(np.asarray(g)))

        # The initial Jacobian guess -1/damping makes the first steps damped Picard steps.  Near
        # convergence the Anderson history matrix is ill-conditioned by construction (its columns
        # become collinear); scipy's LinAlgWarning about it is expected and harmless here.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LinAlgWarning)
                sol = root(G, x.ravel(), method="anderson", callback=cb,
                           options={"maxiter": maxiter, "fatol": tol,
                                    "jac_options": {"alpha": damping}})
            xs = np.asarray(sol.x, dtype=float).reshape(x.shape)
            res = norm(G(xs))
        except (_TimeUp, _Budget) as e:
            last = hist_x[-1] if hist_x else x
            timeup = isinstance(e, _TimeUp)
            return finish(last, hist_r[-1] if hist_r else np.inf, max(len(hist_r), 1), False,
                          time_msg if timeup else fev_msg, status=3 if timeup else 1)
        ok = bool(np.isfinite(res) and res <= tol * max(1.0, norm(xs)))
        return finish(xs, res, max(len(hist_r), 1), ok, str(sol.message))
    raise ValueError(f"method must be 'damped' or 'anderson', got {method!r}")
