"""State evolution (SE) of attention-indexed models: softmax (any T), hardmax (T = 2), rho -> 0.

Interface (stable; used by the GAMP-RIE / GD modules and the figures)
--------------------------------------------------------------------
``se_softmax(alpha, rho, T) -> SEResult``
    ``alpha`` scalar or array (solved together, batched root finding).
``se_hardmax(alpha, rho, variant="correct", warm=None, damping=0.5, tol=1e-11, maxiter=3000,
method="anderson")``
    ``-> SEResult``; ``warm`` = a previous MMSE (the ``V`` of a neighbouring alpha) to start from.
    (Change after the first commit: the keyword ``method`` was added; the default is Anderson
    mixing with a damped-iteration fallback, ``method="damped"`` gives the plain damped iteration.
    Existing calls are unaffected.)
``se_trajectory(alpha, rho, T, channel="softmax", variant="correct", n_iter=50, damping=0.5)``
    ``-> ndarray`` of length ``n_iter + 1``: the SE-predicted error of ``S_hat^t`` for
    ``t = 0..n_iter`` of an AMP run started from the uninformative point ``S_hat^0 = sqrt(rho) I``
    (error 1).  Same damping convention as the GAMP-RIE (``docs/derivations/aim.md#gamp-rie``):
    ``damping = gamma`` is the
    weight of the OLD value, ``V <- (1 - gamma) V_new + gamma V_old``.  Entry ``t + 1`` is
    ``mmse_rho(Delta^t)``, the predicted error of the denoiser output ``S_hat^{t+1}``, with
    ``Delta^t = 1/hat q(V^t)`` and ``V^t`` the damped variance.
``mmse_rho0(alpha_bar, variant="correct", warm=None, damping=0.5, method="anderson") -> SEResult``
    ``rho -> 0`` hardmax limit at fixed ``alpha_bar = n/(d r) = alpha/rho``
    (``docs/derivations/aim.md#small-rank-limit``).
``weak_recovery(variant="correct") -> float``
    ``alpha_bar_c`` of that limit (closed form from :mod:`icl_companion.theory.aim`).
``gen_error(alpha, rho, T, channel, variant="correct") -> dict``
    (softmax any ``T >= 2``: quadrature for ``T <= 3``, randomised QMC with a standard error for
    ``T >= 4``; hardmax ``T = 2``).

``SEResult`` is an :class:`scipy.optimize.OptimizeResult` with at least ``mmse``, ``success``,
``nit``, ``residual``, ``history`` (and ``q``, ``qhat``, ``delta``, ``message``).

Normalisations
--------------
* ``mmse`` = ``(1/d) E||S_hat - S||_F^2`` for ``S = W W^T/sqrt(r d)``: the Bayes-optimal
  estimation error, equal to ``Q0 - q`` at the SE fixed point, with ``Q0 = 1 + rho``.  It is
  exactly 1 at ``alpha = 0`` (prior mean ``sqrt(rho) I``) and 0 for perfect recovery.  For the
  ``rho -> 0`` limit ``Q0 = 1`` and the same normalisation holds (1 = no information).
* ``gen_error`` = Bayes-optimal test error ``E ||y - E[y | X, data]||_F^2`` per sample (sum over the
  ``T x T`` output entries, softmax at inverse temperature 1),
  ``docs/derivations/aim.md#bayes-optimal-generalisation-error``; also returned
  normalised by its ``alpha = 0`` value (``normalised`` = 1 at ``alpha = 0``).
* ``alpha = n/d^2``; ``K = T^2 + T - 2``; softmax errors depend on ``alpha`` only through
  ``K alpha`` (T-universality).

Numerics: softmax = bracketed root of ``mmse_rho(Delta)/Delta = K alpha`` in ``log Delta``
(:func:`icl_companion.numerics.roots.find_roots_vectorized`, ``xtol = 1e-13``); hardmax = damped fixed point
(:func:`icl_companion.numerics.fixed_point.fixed_point`) in ``V`` with deterministic Gauss-Hermite quadrature
(1-D + 2-D, rescaled to the width ``sqrt(3V)`` of the channel) and Owen's-T bivariate CDF.

References
----------
Boncoraglio, Troiani, Erba, Zdeborova (2025), arXiv:2506.01582 (not numbered in the sources; the
equations are those of the authors' scripts ``SE_softmax.py``, ``SE_hardmax.py``,
``SE_hardmax_rho=0.py``); derivations in ``docs/derivations/aim.md``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from icl_companion.numerics.record import SolverRecord, diagnostics, make_record

from icl_companion.numerics.aim_channels import (CHANNELS, VARIANTS, Channel, HardmaxChannel,
                                                 LinearChannel, SoftmaxChannel,
                                                 SoftmaxNoisyChannel, make_channel)
from icl_companion.numerics.aim_data import softmax_rows
from icl_companion.numerics.aim_free_prob import (DELTA_FLOOR, DELTA_SPLIT, mmse_over_delta,
                                                  mmse_rho)
from icl_companion.numerics.fixed_point import fixed_point
from icl_companion.numerics.quadrature import hermite_e_rule
from icl_companion.numerics.roots import find_roots_vectorized

__all__ = ["SEResult", "K_of_T", "alpha_pr", "se_softmax", "hardmax_channel_info", "se_hardmax",
           "se_trajectory", "bbp_mmse", "mmse_rho0", "weak_recovery", "gen_error",
           "softmax_gen_error_T2", "softmax_gen_error", "softmax_gen_error_rqmc",
           "hardmax_gen_error", "VARIANTS", "CHANNELS"]

DELTA_MIN = 1e-10  # below this noise the softmax error K alpha Delta* < 1e-9: reported as 0


class SEResult(SolverRecord):
    """SE solution: ``mmse, q, qhat, delta, success, status, message, nit, residual, history``."""


def K_of_T(T: int) -> int:
    """``K = T^2 + T - 2`` (:func:`icl_companion.theory.aim.softmax_directions`)."""
    return int(T) * int(T) + int(T) - 2


def _slope(rho: float) -> float:
    return 2 * rho - rho**2 if rho < 1 else 1.0


def alpha_pr(rho: float, T: int) -> float:
    """Perfect-recovery threshold (same formula as the SymPy ``aim.alpha_pr``)."""
    return _slope(rho) / K_of_T(T)


def _check_common(alpha, rho):
    a = np.asarray(alpha, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"alpha = {alpha} is outside the allowed domain: a real number in [0, inf)")
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"rho = {rho} is outside the allowed domain: a real number in (0, inf)")
    return a


def _check_T(T, lo=1):
    if int(T) != T or T < lo:
        raise ValueError(f"T = {T} is outside the allowed domain: an integer >= {lo}")
    return int(T)


def _check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"variant = {variant!r} is outside the allowed domain: one of "
                         f"{', '.join(VARIANTS)}")


# ================================================================== softmax
def se_softmax(alpha, rho: float, T: int, xtol: float = 1e-13) -> SEResult:
    """Softmax SE: ``Delta*`` solves ``mmse_rho(Delta)/Delta = K alpha``; ``MMSE = K alpha Delta*``.

    Batched over ``alpha`` (one vectorised Chandrupatla solve in ``u = log Delta``).  ``alpha = 0``
    gives 1 exactly; ``K alpha >= slope(rho)`` (i.e. ``alpha >= alpha_PR``) gives 0 exactly, not a
    failure.  Scalar equation: ``docs/derivations/aim.md#softmax-channel``; ``T = 1`` is the
    identity-output quadratic network of
    Maillard et al. 2024 (``K = 0`` would be degenerate: the identity channel has ``K = 2``, use
    :func:`se_linear_T1`).

    Returns
    -------
    SEResult with arrays (or floats for scalar ``alpha``): ``mmse``, ``delta`` (``Delta*``,
    ``inf`` at ``alpha = 0``, 0 beyond ``alpha_PR``), ``qhat = 1/Delta*``, ``success``,
    ``nit``, ``residual`` (``|mmse/Delta - K alpha|``), ``history`` (solver counts).
    """
    a = _check_common(alpha, rho)
    T = _check_T(T, 2)
    return _solve_scalar_channel(a, rho, K_of_T(T), xtol, np.ndim(alpha) == 0,
                                 dict(channel="softmax", T=T))


def se_linear_T1(alpha, rho: float, xtol: float = 1e-13) -> SEResult:
    """``T = 1``, identity output ``y = h_11`` (Maillard et al. 2024): ``mmse/Delta = 2 alpha``."""
    a = _check_common(alpha, rho)
    return _solve_scalar_channel(a, rho, 2, xtol, np.ndim(alpha) == 0,
                                 dict(channel="identity", T=1))


def _solve_scalar_channel(a, rho, K, xtol, scalar, info):
    shape = a.shape
    a = a.ravel()
    slope = _slope(rho)
    Ka = K * a
    mmse = np.zeros_like(a)
    delta = np.zeros_like(a)
    conv = np.ones(a.shape, dtype=bool)
    its = np.zeros(a.shape, dtype=int)
    res = np.zeros_like(a)
    zero = a == 0
    mmse[zero], delta[zero] = 1.0, np.inf
    act = (~zero) & (Ka < slope) & (Ka * DELTA_FLOOR * max(1.0, 1.0 / math.sqrt(rho)) >= 1.0)
    if np.any(act):
        lo = np.full(act.sum(), math.log(DELTA_MIN))
        hi = math.log(2.0) - np.log(Ka[act])  # mmse <= 1: mmse/Delta < K alpha beyond 2/(K alpha)
        target = Ka[act]
        f = lambda u, t: mmse_over_delta(np.exp(u), rho) - t
        flo = f(lo, target)
        tiny = flo <= 0  # root below DELTA_MIN: the error is below K alpha DELTA_MIN < 1e-9
        idx = np.flatnonzero(act)
        sol = idx[~tiny]
        if sol.size:
            r = find_roots_vectorized(f, lo[~tiny], hi[~tiny], xtol=xtol, args=(target[~tiny],))
            d = np.exp(r.root)
            delta[sol] = d
            mmse[sol] = Ka[sol] * d
            conv[sol] = r.success
            its[sol] = r.nit
            res[sol] = r.residual
        delta[idx[tiny]] = 0.0
        # large Delta*: MMSE = K alpha Delta* loses relative accuracy ~xtol where 1 - MMSE ~ K alpha
        # is tiny; with mmse/Delta = 1/(1 + Delta) - r (r >= 0, free Cramer-Rao, computed without
        # cancellation) the root satisfies Delta* = 1/(K alpha + r) - 1, so
        # MMSE = 1 - K alpha - r/(K alpha + r): monotone in alpha, <= 1 - K alpha
        big = sol[delta[sol] >= DELTA_SPLIT]
        if big.size:
            d = delta[big]
            r_ = np.maximum(1.0 / (1.0 + d) - mmse_over_delta(d, rho), 0.0)
            mmse[big] = 1.0 - (Ka[big] + r_ / (Ka[big] + r_))  # one rounding: monotone
    # K alpha below 1/DELTA_FLOOR: mmse/Delta = 1/(1 + Delta) to 1e-24 at the root, MMSE = 1 - K alpha
    vtiny = (~zero) & (Ka * DELTA_FLOOR * max(1.0, 1.0 / math.sqrt(rho)) < 1.0)
    mmse[vtiny] = 1.0 - Ka[vtiny]
    with np.errstate(divide="ignore", over="ignore"):
        delta[vtiny] = 1.0 / Ka[vtiny] - 1.0
    conv[vtiny], res[vtiny], its[vtiny] = True, 0.0, 0
    # alpha >= alpha_PR (and roots below DELTA_MIN): perfect recovery, mmse = 0
    out = make_record(SEResult, mmse=mmse.reshape(shape), delta=delta.reshape(shape),
                   qhat=np.where(delta > 0, 1 / np.where(delta > 0, delta, 1), np.inf
                                 ).reshape(shape),
                   success=conv.reshape(shape), nit=its.reshape(shape),
                   residual=res.reshape(shape),
                   history={"solver": "find_roots_vectorized (Chandrupatla) in log Delta",
                            "xtol": xtol, "function_calls": int(its.sum())},
                   rho=rho, K=K, **info)
    if scalar:
        for k in ("mmse", "delta", "qhat", "residual"):
            out[k] = float(out[k])
        out["success"] = bool(out["success"])
        out["status"] = int(out["status"])
        out["nit"] = int(out["nit"])
        out["message"] = "converged" if out["success"] else "did not converge"
    return out


# ================================================================== hardmax T = 2
def hardmax_channel_info(q: float, V: float, variant: str = "correct") -> float:
    """``E[sum_{a<=b} c_ab (g^out_ab)^2]`` for the hardmax ``T = 2`` channel
    (``docs/derivations/aim.md#hardmax-channel-information-by-quadrature``).

    :meth:`icl_companion.numerics.aim_channels.HardmaxChannel.information`: the channel's own
    :meth:`~icl_companion.numerics.aim_channels.HardmaxChannel.gout` integrated over
    ``(m1, m2) ~ N(0, q [[3, 1], [1, 3]])`` with a ridge split and rescaled Gauss-Hermite rules.
    """
    _check_variant(variant)
    if V <= 0:
        raise ValueError(f"V = {V} must be > 0")
    return _hardmax(variant).information(q, V)


_HARDMAX: dict = {}


def _hardmax(variant):
    if variant not in _HARDMAX:
        _HARDMAX[variant] = HardmaxChannel(variant)
    return _HARDMAX[variant]


INITS = ("uninformed", "informed")
#: Start of the informed initialisation: ``V^0`` (the error of an estimate that starts at the truth
#: up to this residual error; ``V = 0`` itself is a fixed point of every noiseless channel).
V_INFORMED = 1e-6
#: Largest MMSE error (propagated from the channel information's quadrature error) reported as
#: ``success``.
MMSE_ERR_MAX = 1e-2


def _check_init(init):
    if init not in INITS:
        raise ValueError(f"init = {init!r} is outside the allowed domain: one of "
                         f"{', '.join(INITS)}")


def se_channel(alpha: float, rho: float, channel, init: str = "uninformed",
               warm: float | None = None, damping: float = 0.5, tol: float = 1e-11,
               maxiter: int = 3000, method: str = "anderson", closed_form: bool = True
               ) -> SEResult:
    """State evolution of the AIM for any :class:`~icl_companion.numerics.aim_channels.Channel`.

    The fixed point ``V = mmse_rho(1 / hat q)``, ``hat q = 2 alpha I(Q0 - V, V)`` with the channel's
    SE information ``I = E[sum_{a<=b} c_ab g_ab^2]`` (:meth:`Channel.information`), ``Q0 = 1 +
    rho``, solved in ``V`` by :func:`icl_companion.numerics.fixed_point.fixed_point` (Anderson, the
    damped iteration as fallback; ``damping`` = weight of the NEW iterate there).

    ``init="uninformed"`` starts at ``V = 1`` (the prior mean, error 1); ``init="informed"`` at
    ``V = V_INFORMED`` (an estimate next to the truth).  Both starts converge to the same point when
    the SE has one stable fixed point; different results mark several stable fixed points (a
    first-order transition).  ``warm`` overrides the start (sweeps).

    ``closed_form=True`` takes the scalar-equation fast paths of the softmax
    (:func:`se_softmax`, uninformed start) and of the identity channel (:func:`se_linear`);
    ``closed_form=False`` iterates the generic map (the path the fast ones are tested against).
    Channels whose information is a quadrature estimate (noisy channels) report its error (RQMC
    standard error and inner-rule refinement, :func:`_information_error`) propagated to the MMSE
    by one map step as ``mmse_err`` (``success`` False when it exceeds ``MMSE_ERR_MAX``).
    """
    a_arr = _check_common(alpha, rho)
    if np.ndim(a_arr) != 0:
        raise ValueError("se_channel takes a scalar alpha (se_softmax is batched)")
    _check_init(init)
    ch = make_channel(channel)
    alpha = float(alpha)
    if closed_form and warm is None and init == "uninformed":
        if isinstance(ch, SoftmaxChannel):
            return se_softmax(alpha, rho, ch.T)
        if isinstance(ch, LinearChannel):
            return se_linear(alpha, rho, ch.Delta)
    Q0 = 1.0 + rho
    info = dict(alpha=alpha, rho=rho, init=init, **ch.params())
    if alpha == 0:
        return make_record(SEResult, mmse=1.0, q=rho, qhat=0.0, delta=math.inf, success=True,
                           nit=0, residual=0.0, history={"x": np.array([1.0])}, mmse_err=0.0,
                           message="alpha = 0: prior mean", **info)

    def qhat(V):
        return 2.0 * alpha * ch.information(Q0 - V, V)

    def F(V):
        V = float(np.clip(V, 1e-300, 1.0))
        qh = qhat(V)
        return float(mmse_rho(1.0 / qh, rho)) if qh > 0 else 1.0

    if init == "informed" and warm is None and closed_form and isinstance(ch, SoftmaxChannel):
        return _se_softmax_informed(alpha, rho, ch, info)
    if init == "informed" and warm is None:
        r = _solve_fp_log(F, V_INFORMED, tol, maxiter)
    else:
        x0 = 1.0 if warm is None else float(np.clip(warm, 1e-12, 1.0))
        r = _solve_fp(F, x0, damping, tol, maxiter, method)
    V = float(np.clip(r.x, 0.0, 1.0))
    qh = qhat(max(V, 1e-300))
    err, success, message = 0.0, bool(r.success), r.message
    rel = _information_error(ch, Q0 - V, V)
    if rel > 0:
        # one map step: dV = |d mmse/d Delta| Delta (d hat q / hat q), Delta = 1/hat q
        d = 1.0 / qh
        dm = float(mmse_rho(d * (1 + 1e-4), rho) - mmse_rho(d * (1 - 1e-4), rho)) / (2e-4 * d)
        err = abs(dm) * d * rel
        if err > MMSE_ERR_MAX:
            success, message = False, (f"the channel information is not accurate enough: "
                                       f"estimated MMSE error {err:.2g} > {MMSE_ERR_MAX:g}")
    return make_record(SEResult, mmse=V, q=Q0 - V, qhat=qh, delta=1 / qh, success=success,
                       status=r.status if success == bool(r.success) else 4, nit=r.nit,
                       residual=r.residual, history=r.history, message=message, mmse_err=err,
                       **info)


def _information_error(ch, q, V) -> float:
    """Relative error estimate of a quadrature-based channel information (0 for closed forms and
    the deterministic hardmax rule): the randomized-QMC standard error and the change under a
    1.5x finer inner rule, added in quadrature."""
    from icl_companion.numerics.aim_channels import information_quadrature

    if isinstance(ch, SoftmaxNoisyChannel):
        e = ch.information_estimate(q, V)
        fine = ch.refined().information_estimate(q, V).value
    elif ch.Delta > 0 and not isinstance(ch, LinearChannel):
        e = information_quadrature(ch, q, V, rule="rqmc")
        fine = information_quadrature(ch.refined(), q, V, rule="rqmc").value
    else:
        return 0.0
    if not e.value > 0:
        return math.inf
    return math.hypot(e.stderr, fine - e.value) / e.value


def se_hardmax(alpha: float, rho: float, variant: str = "correct", warm: float | None = None,
               damping: float = 0.5, tol: float = 1e-11, maxiter: int = 3000,
               method: str = "anderson", init: str = "uninformed") -> SEResult:
    """Hardmax ``T = 2`` SE: :func:`se_channel` with
    :class:`~icl_companion.numerics.aim_channels.HardmaxChannel`
    (``docs/derivations/aim.md#state-evolution``,
    ``docs/derivations/aim.md#hardmax-channel-and-its-corrected-derivative``).

    ``hat q = 2 alpha E[2 g11^2 + 2 g22^2 + g12^2]`` at ``q = Q0 - V``
    (:func:`hardmax_channel_info`).  Iterated in ``V`` from ``warm`` (default: ``init``)
    with Anderson mixing (5-12 map evaluations), falling back to the plain damped iteration from
    its last iterate if it does not converge; ``method="damped"`` is the plain damped iteration.
    ``variant="paper"`` reproduces the authors' curves (their ``SE_hardmax.py``).
    """
    _check_common(alpha, rho)
    _check_variant(variant)
    return se_channel(alpha, rho, _hardmax(variant), init=init, warm=warm, damping=damping,
                      tol=tol, maxiter=maxiter, method=method)


#: Catalogue domains: ``rho`` in [RHO_MIN, RHO_MAX] (the free-probability edges of the denoiser
#: in double precision), ``T <= T_MAX`` (``T^2`` and the SE stay far inside the double range), the
#: denoising noise ``Delta >= DELTA_IN_MIN`` (``log(1/Delta)`` quadrature panels stay finite).
RHO_MIN, RHO_MAX = 1e-12, 1e12
T_MAX = 10**6
DELTA_IN_MIN = 1e-300

#: Wall-clock cap (seconds) of one SE fixed-point solve.  A converging point takes well under a
#: second; near degenerate spectra (e.g. rho below 1e-8) each map evaluation slows down and the
#: solve reports ``status=3`` instead of hanging.
SE_TIME_LIMIT = 10.0


def _solve_fp(F, x0, damping, tol, maxiter, method, time_limit=None):
    """``fixed_point`` in ``V``; Anderson first (fast), the damped iteration if it fails; both
    share one ``time_limit`` (default :data:`SE_TIME_LIMIT`)."""
    if method not in ("anderson", "damped"):
        raise ValueError(f"method = {method!r} is not one of anderson, damped")
    time_limit = SE_TIME_LIMIT if time_limit is None else time_limit
    t0 = time.monotonic()
    if method == "anderson":
        with np.errstate(invalid="ignore", divide="ignore"):  # scipy's Anderson step at x = 0
            r = fixed_point(F, x0, damping=damping, tol=tol, maxiter=min(maxiter, 200),
                            method="anderson", time_limit=time_limit)
        if (r.success and 0 < float(r.x) <= 1) or r.status == 3:
            return r
        x0 = float(np.clip(r.x, 1e-12, 1.0)) if np.isfinite(r.x) else x0
    left = max(time_limit - (time.monotonic() - t0), 0.0)
    return fixed_point(F, x0, damping=damping, tol=tol, maxiter=maxiter, time_limit=left)


def _se_softmax_informed(alpha, rho, ch, info, n_grid: int = 49) -> SEResult:
    """Softmax SE from the informed start ``V^0 = V_INFORMED``, by bracketing.

    The softmax map ``F(V) = mmse_rho(V / (K alpha))`` is increasing in ``V``, so the iteration
    from ``V^0`` converges monotonically to the nearest fixed point in the direction of
    ``F(V^0) - V^0``: upwards, the first crossing of ``F(V) = V`` above ``V^0`` on a geometric grid
    of ``V`` (one vectorised evaluation), refined by :func:`scipy.optimize.brentq`; downwards, the
    largest crossing below ``V^0`` on ``[1e-14, V^0]``, or ``V = 0``.  This is the limit of the
    informed iteration without its critical slowing-down near ``alpha_PR``.
    """
    from scipy.optimize import brentq

    Kx = ch.K * alpha
    Q0 = 1.0 + rho
    F = lambda V: mmse_rho(np.asarray(V) / Kx, rho)  # noqa: E731
    up = float(F(V_INFORMED)) >= V_INFORMED
    grid = np.geomspace(V_INFORMED, 1.0, n_grid) if up else np.geomspace(1e-14, V_INFORMED, 61)
    d = F(grid) - grid
    if up:
        k = np.flatnonzero(d < 0)
        lo, hi = (grid[k[0] - 1], grid[k[0]]) if k.size else (None, None)
    else:
        k = np.flatnonzero(d > 0)
        lo, hi = (grid[k[-1]], grid[k[-1] + 1]) if k.size else (None, None)
    if lo is None:
        V, nit, res, msg = 0.0, 0, float(abs(d[0])), "V -> 0: perfect recovery"
    else:
        V, rr = brentq(lambda v: float(F(v)) - v, lo, hi, xtol=1e-15, rtol=1e-13,
                       full_output=True)
        nit, res, msg = rr.iterations, abs(float(F(V)) - V), "converged (bracketed)"
    qh = Kx / V if V > 0 else math.inf
    return make_record(SEResult, mmse=float(V), q=Q0 - V, qhat=qh,
                       delta=1 / qh if V > 0 else 0.0, success=True, nit=nit, residual=res,
                       history={"solver": "grid bracket + brentq in V", "grid": n_grid},
                       mmse_err=0.0, message=msg, **info)


#: Below this ``V`` a decreasing iteration (``F(V) < V``) is taken to converge to ``V = 0``.
V_ZERO = 1e-13


def _solve_fp_log(F, V0, tol, maxiter):
    """Fixed point from a small ``V0`` by Anderson mixing in ``x = log V`` (tolerance relative in
    ``V``: an absolute tolerance would accept any ``V`` near the fixed point ``V = 0``, unstable or
    not).  If the iteration runs below ``V_ZERO`` while decreasing, ``V = 0`` is the attracting
    fixed point (perfect recovery) and is returned as converged."""
    G = lambda x: math.log(max(F(math.exp(min(float(x), 0.0))), 1e-300))  # noqa: E731
    with np.errstate(invalid="ignore", divide="ignore"):
        r = fixed_point(G, math.log(V0), damping=0.5, tol=tol, maxiter=min(maxiter, 200),
                        method="anderson", time_limit=SE_TIME_LIMIT)
    ok = r.success and float(r.x) <= 0 and np.isfinite(r.x)
    if not ok and r.status != 3:
        r = fixed_point(G, math.log(V0), damping=1.0, tol=tol, maxiter=maxiter,
                        time_limit=SE_TIME_LIMIT)
    x = float(r.x)
    V = math.exp(min(x, 0.0))
    if V < V_ZERO and F(V) < V:
        return make_record(SolverRecord, x=0.0, success=True, nit=r.nit, residual=V,
                           history=r.history, message="V -> 0: perfect recovery is the "
                                                      "attracting fixed point")
    r["x"] = V
    return r


# ================================================================== identity channel, T = 1
def se_linear(alpha, rho: float, Delta: float = 0.0, xtol: float = 1e-13) -> SEResult:
    """SE of the identity channel ``y = h_11 + sqrt(Delta) z`` at ``T = 1`` (scalar equation).

    ``hat q = 2 alpha / (V + Delta/2)`` (:class:`~icl_companion.numerics.aim_channels.LinearChannel`)
    and ``V = mmse_rho(Delta_eff)`` with ``Delta_eff = 1/hat q``, i.e. ``Delta_eff`` solves
    ``mmse_rho(D)/D + Delta/(2 D) = 2 alpha`` (left side decreasing in ``D``: one root), found in
    ``log D`` by :func:`icl_companion.numerics.roots.find_roots_vectorized`; ``MMSE =
    mmse_rho(Delta_eff)``.  ``Delta = 0`` is the noiseless quadratic network (perfect recovery at
    ``alpha = rho - rho^2/2``, :func:`se_linear_T1`).  Equivalent to Maillard, Troiani, Martin,
    Krzakala, Zdeborova (2024, arXiv:2408.03733) at ``alpha_M = alpha``, ``kappa = rho``,
    ``Delta_M = Delta / rho``, ``MMSE = rho err_M`` (:func:`icl_companion.theory.aim.maillard_mapping`;
    tested).
    """
    a = _check_common(alpha, rho)
    Delta = float(Delta)
    if not (math.isfinite(Delta) and Delta >= 0):
        raise ValueError(f"channel linear: Delta = {Delta} is outside the allowed domain: a "
                         f"finite real >= 0")
    if Delta == 0:
        return se_linear_T1(alpha, rho, xtol)
    scalar = np.ndim(alpha) == 0
    a = a.ravel()
    mmse = np.ones_like(a)
    dstar = np.full(a.shape, np.inf)
    conv = np.ones(a.shape, dtype=bool)
    its = np.zeros(a.shape, dtype=int)
    res = np.zeros_like(a)
    act = a > 0
    if np.any(act):
        t = 2 * a[act]
        f = lambda u, t: mmse_over_delta(np.exp(u), rho) + Delta / (2 * np.exp(u)) - t
        # at D = Delta/(4 alpha) the left side exceeds 2 alpha; at D = max(2/t, Delta/t) + Delta
        # it is below (mmse/D <= 1/D and Delta/(2D) <= t/2)
        lo = np.log(Delta / (2 * t))
        hi = np.log(2.0 / t + Delta / t + Delta)
        r = find_roots_vectorized(f, lo, hi, xtol=xtol, args=(t,))
        d = np.exp(r.root)
        dstar[act] = d
        mmse[act] = mmse_rho(d, rho)
        conv[act], its[act], res[act] = r.success, r.nit, r.residual
    out = make_record(SEResult, mmse=mmse, delta=dstar, qhat=1 / dstar, success=conv, nit=its,
                      residual=res, history={"solver": "find_roots_vectorized in log Delta_eff",
                                             "xtol": xtol}, rho=rho, channel="linear", T=1,
                      Delta=Delta, mmse_err=0.0)
    if scalar:
        for k in ("mmse", "delta", "qhat", "residual"):
            out[k] = float(out[k][0])
        out["success"] = bool(out["success"][0])
        out["status"] = int(np.asarray(out["status"]).ravel()[0])
        out["nit"] = int(out["nit"][0])
        out["message"] = "converged" if out["success"] else "did not converge"
    return out


# ================================================================== trajectories (for GAMP)
def se_trajectory(alpha: float, rho: float, T: int, channel="softmax",
                  variant: str = "correct", n_iter: int = 50, damping: float = 0.5
                  ) -> np.ndarray:
    """SE-predicted error of ``S_hat^t``, ``t = 0..n_iter``, for a damped AMP from ``sqrt(rho) I``.

    ``V^0 = 1``; for ``t >= 0``: ``Delta^t = 1/hat q(V^t)``, ``e^{t+1} = mmse_rho(Delta^t)``
    (error of the denoiser output ``S_hat^{t+1}``), ``V^{t+1} = (1 - damping) e^{t+1} + damping V^t``
    (``damping`` = weight of the OLD value, as in the GAMP-RIE,
    ``docs/derivations/aim.md#gamp-rie`` step 1).  Returns
    ``[1, e^1, ..., e^n_iter]``.  ``channel``: a name (with ``T``, ``variant``) or a
    :class:`~icl_companion.numerics.aim_channels.Channel`.
    """
    _check_common(alpha, rho)
    if isinstance(channel, Channel):
        ch = channel
    else:
        if channel not in ("softmax", "hardmax"):
            raise ValueError(f"channel = {channel!r} is outside the allowed domain: softmax, "
                             f"hardmax or a Channel object")
        if channel == "hardmax":
            _check_variant(variant)
            if int(T) != 2:
                raise ValueError(f"T = {T} is outside the allowed domain: hardmax requires T = 2")
        T = _check_T(T, 2)
        ch = make_channel(channel, T, variant)
    if not 0 <= damping < 1:
        raise ValueError(f"damping = {damping} must be in [0, 1)")
    Q0 = 1.0 + rho
    out = [1.0]
    V = 1.0
    for _ in range(int(n_iter)):
        if alpha == 0:
            e = 1.0
        else:
            qh = 2.0 * alpha * ch.information(Q0 - V, V)
            e = float(mmse_rho(1.0 / qh, rho)) if np.isfinite(qh) and qh > 0 else (
                0.0 if not np.isfinite(qh) else 1.0)
        out.append(e)
        V = max((1 - damping) * e + damping * V, 1e-300)
    return np.array(out)


# ================================================================== rho -> 0 limit
def bbp_mmse(dbar):
    """``Db (2 - Db)`` for ``Db < 1`` else 1 (:func:`icl_companion.theory.aim.bbp_mmse_expr`), vectorised."""
    dbar = np.asarray(dbar, dtype=float)
    return np.where(dbar < 1, dbar * (2 - dbar), 1.0)


def mmse_rho0(alpha_bar: float, variant: str = "correct", warm: float | None = None,
              damping: float = 0.5, tol: float = 1e-11, maxiter: int = 5000,
              method: str = "anderson") -> SEResult:
    """Hardmax ``T = 2`` SE in the ``rho -> 0`` limit at fixed ``alpha_bar = n/(d r)``
    (``docs/derivations/aim.md#small-rank-limit``).

    ``Q0 = 1``, ``q`` from 0; ``Db = 1/(2 alpha_bar E[sum c g^2](q, V = 1 - q))``,
    ``V = bbp_mmse(Db)``.  Below :func:`weak_recovery` the error is exactly 1.
    """
    _check_variant(variant)
    if not (np.isfinite(alpha_bar) and alpha_bar >= 0):
        raise ValueError(f"alpha_bar = {alpha_bar} is outside the allowed domain: a real number in "
                         f"[0, inf)")
    ab = float(alpha_bar)
    if ab == 0 or ab <= weak_recovery(variant):
        return make_record(SEResult, mmse=1.0, q=0.0, qhat=2 * ab * _E0(variant), success=True,
                        nit=0, residual=0.0, history={}, alpha_bar=ab, variant=variant,
                        message="below the weak-recovery threshold: q = 0 is the stable fixed "
                                "point")

    def F(V):
        V = float(np.clip(V, 1e-300, 1.0))
        E = _hardmax(variant).information(1.0 - V, V)
        return float(bbp_mmse(1.0 / (2 * ab * E)))

    x0 = 1.0 if warm is None else float(np.clip(warm, 1e-12, 1.0))
    r = _solve_fp(F, x0, damping, tol, maxiter, method)
    V = float(r.x)
    return make_record(SEResult, mmse=V, q=1 - V,
                    qhat=2 * ab * _hardmax(variant).information(1 - V, V), success=r.success,
                    status=r.status, nit=r.nit, residual=r.residual,
                    history=r.history, message=r.message, alpha_bar=ab, variant=variant)


_E0_CACHE: dict = {}


def _E0(variant):
    if variant not in _E0_CACHE:  # theory.aim.hardmax_E0_expr, generated (theory.precompute)
        from icl_companion.theory.precompute import derived

        _E0_CACHE[variant] = derived(f"aim.hardmax_E0_{variant}")
    return _E0_CACHE[variant]


def weak_recovery(variant: str = "correct") -> float:
    """``alpha_bar_c = 1/(2 E0)`` (closed form from :func:`icl_companion.theory.aim.weak_recovery_expr`)."""
    _check_variant(variant)
    return 1.0 / (2.0 * _E0(variant))


# ================================================================== generalisation error
def hardmax_gen_error(q: float, Q0: float) -> float:
    """Bayes test error of the hardmax ``T = 2`` output, ``1 - (2/pi) arcsin(q/Q0)``.

    ``y_11 = 1[u1 > 0]`` with ``u1 | m1 ~ N(m1, 3V)``, ``m1 ~ N(0, 3q)``: the posterior variance of
    each of the 4 entries is ``P(1 - P)``, ``P = Phi(m1/sqrt(3V))``, and
    ``E[Phi(k) Phi(-k)] = 1/4 - arcsin(q/Q0)/(2 pi)`` (Sheppard), so
    ``E_gen = 4 (1/4 - arcsin(q/Q0)/(2 pi))``
    (``docs/derivations/aim.md#bayes-optimal-generalisation-error``).
    """
    if q >= Q0:
        return 0.0
    return 1.0 - (2.0 / math.pi) * math.asin(max(q / Q0, -1.0))


def softmax_gen_error_T2(q: float, Q0: float, n: int = 96) -> float:
    """Bayes test error of the softmax ``T = 2`` output (inverse temperature 1).

    ``y_11 = sigmoid(u1)``, ``y_12 = 1 - y_11`` (same for row 2 with ``u2``), ``u | m ~ N(m, 3V)``,
    ``m ~ N(0, 3q)``: ``E_gen = 4 E_m Var(sigmoid(u) | m)``, a nested Gauss-Hermite sum.
    """
    V = max(Q0 - q, 0.0)
    if V == 0:
        return 0.0
    x, w = hermite_e_rule(n)
    m = math.sqrt(3 * max(q, 0.0)) * x[:, None]
    u = m + math.sqrt(3 * V) * x[None, :]
    sig = 0.5 * (1 + np.tanh(0.5 * u))  # stable logistic
    mean = sig @ w
    var = ((sig - mean[:, None]) ** 2) @ w
    return float(4.0 * np.sum(w * var))


GEN_NODES = {2: (48, 48), 3: (20, 12)}  # Gauss-Hermite nodes per dim (outer, inner); T=3: ~1e-6 rel
GEN_RQMC = {"log2_points": 14, "scramblings": 16, "seed": 20250601}  # T >= 4: RQMC defaults


def softmax_gen_error(q: float, Q0: float, T: int, nodes: tuple | None = None,
                      chunk: int = 512) -> float:
    """Bayes test error of the softmax output for ``T <= 3`` (inverse temperature 1).

    ``E_gen = sum_{a,b} E_omega Var(y_ab | omega)``; ``y_a. = softmax(h_a.)`` depends on row ``a``
    only, whose entries are independent given ``omega``: ``h_ab = sqrt(c_ab q) eta_b +
    sqrt(c_ab V) xi_b`` (``c_aa = 2``, else 1), and all rows are alike, so
    ``E_gen = T E_eta sum_b Var_xi(softmax_b(h))``: a ``T``-dimensional Gauss-Hermite tensor rule
    for ``eta`` around one for ``xi`` (cost ``(n_o n_i)^T``: ~2 s for ``T = 3``, relative accuracy
    ~1e-6; ``T = 4`` would need minutes for 1e-4: :func:`softmax_gen_error_rqmc` covers
    ``T >= 4``).  For ``T = 2`` it agrees with :func:`softmax_gen_error_T2` (tested).
    """
    T = int(T)
    if T not in GEN_NODES and nodes is None:
        raise ValueError(f"T = {T} is outside the allowed domain: the tensor-product quadrature "
                         f"is used for T <= 3 (softmax_gen_error_rqmc covers any T)")
    V = max(Q0 - q, 0.0)
    if V == 0:
        return 0.0
    no, ni = nodes or GEN_NODES[T]
    c = np.array([2.0] + [1.0] * (T - 1))

    def grid(n):
        x, w = hermite_e_rule(n)
        pts = np.stack(np.meshgrid(*([x] * T), indexing="ij"), -1).reshape(-1, T)
        wts = np.prod(np.stack(np.meshgrid(*([w] * T), indexing="ij"), -1).reshape(-1, T), -1)
        return pts, wts

    eta, weta = grid(no)
    xi, wxi = grid(ni)
    noise = np.sqrt(c * V) * xi                       # (Ni, T)
    total = 0.0
    for s in range(0, eta.shape[0], chunk):
        h = (np.sqrt(c * max(q, 0.0)) * eta[s:s + chunk])[:, None, :] + noise[None]
        sm = softmax_rows(h)
        m1 = np.einsum("oit,i->ot", sm, wxi)
        m2 = np.einsum("oit,i->ot", sm * sm, wxi)
        total += float(np.sum(weta[s:s + chunk] * np.sum(m2 - m1 * m1, axis=-1)))
    return T * total


def softmax_gen_error_rqmc(q, Q0: float, T: int, log2_points: int = GEN_RQMC["log2_points"],
                           scramblings: int = GEN_RQMC["scramblings"],
                           seed: int = GEN_RQMC["seed"]) -> tuple[np.ndarray, np.ndarray]:
    """Bayes test error of the softmax output, any ``T >= 2``, by randomised quasi-Monte Carlo.

    Same integral as :func:`softmax_gen_error`, ``E_gen = T E_eta sum_b Var_xi(softmax_b(h))``
    with ``h_b = sqrt(c_b q) eta_b + sqrt(c_b V) xi_b``, written with two independent copies
    ``xi, xi'`` of the noise so that it is a single expectation over ``3 T`` standard normals:

        ``Var_xi f = E_{xi, xi'} (f(xi) - f(xi'))^2 / 2``  =>
        ``E_gen = (T / 2) E_{eta, xi, xi'} sum_b (softmax_b(h(eta, xi)) - softmax_b(h(eta, xi')))^2``.

    The expectation is estimated with ``2^log2_points`` scrambled Sobol points (Owen scrambling,
    :class:`scipy.stats.qmc.Sobol`) mapped to normals by the inverse CDF, repeated for
    ``scramblings`` independent scramblings: each repetition is an unbiased estimate, so their mean
    is the value and their standard deviation ``/ sqrt(scramblings)`` its standard error.  A fixed
    ``seed`` makes the result deterministic.  Every ``q`` in the (array) argument uses the same
    points (common random numbers: differences and ratios of values have small error).

    Parameters
    ----------
    q : float or array
        Overlap(s) in ``[0, Q0]``; ``V = Q0 - q``.
    Q0 : float
        ``1 + rho``.
    T : int >= 2
    log2_points, scramblings, seed :
        RQMC size and its seed.

    Returns
    -------
    (mean, per_scrambling) : ndarray ``q.shape`` and ndarray ``(scramblings,) + q.shape``
        The estimate and the ``scramblings`` independent estimates it averages.

    References
    ----------
    ``docs/derivations/aim.md#bayes-optimal-generalisation-error``; A. B. Owen, "Scrambling
    Sobol' and Niederreiter-Xing points", J. Complexity 14 (1998); scipy.stats.qmc.Sobol.
    """
    from scipy.special import ndtri
    from scipy.stats import qmc

    T = int(T)
    if T < 2:
        raise ValueError(f"T = {T} is outside the allowed domain: T >= 2")
    q = np.atleast_1d(np.asarray(q, dtype=float))
    V = np.maximum(Q0 - q, 0.0)
    c = np.array([2.0] + [1.0] * (T - 1))
    tiny = np.finfo(float).tiny
    ss = np.random.SeedSequence(seed)
    per = np.empty((scramblings, q.size))
    for j, child in enumerate(ss.spawn(scramblings)):
        u = qmc.Sobol(3 * T, scramble=True, seed=np.random.default_rng(child)).random_base2(
            log2_points)
        z = ndtri(np.clip(u, tiny, 1.0 - 2**-53))      # no infinite normals at u = 0
        eta, xi, xi2 = z[:, :T], z[:, T:2 * T], z[:, 2 * T:]
        for i in range(q.size):
            mean = np.sqrt(c * max(q[i], 0.0)) * eta
            sd = np.sqrt(c * V[i])
            diff = softmax_rows(mean + sd * xi) - softmax_rows(mean + sd * xi2)
            per[j, i] = 0.5 * T * np.mean(np.sum(diff * diff, axis=-1))
    return per.mean(axis=0), per


#: Largest ``T`` of ``gen_error`` (softmax, randomized QMC over ``3 T`` dimensions): cost linear in
#: ``T``, measured at ``T = 64`` (alpha = 1e-5, rho = 0.5): 5.6 s (on a loaded 2-core machine) and
#: 118 MB peak (tracemalloc); ``T = 1000`` took > 60 s and 1.9 GB.  Requests beyond are refused
#: before any allocation.
GEN_T_MAX = 64


def gen_error_cost(T: int) -> dict:
    """Estimated peak memory (bytes) and time (s) of :func:`gen_error` for a softmax ``T >= 4``,
    scaled linearly from the measurement at ``T = 64`` (:data:`GEN_T_MAX`)."""
    return {"bytes": 1.84e6 * T, "seconds": 0.09 * T}


def gen_error(alpha: float, rho: float, T: int, channel="softmax",
              variant: str = "correct", Delta=None) -> dict:
    """Bayes-optimal generalisation error at the SE fixed point
    (``docs/derivations/aim.md#bayes-optimal-generalisation-error``).

    Softmax ``T = 2, 3``: deterministic Gauss-Hermite quadrature (``gen_error_se = 0``, relative
    accuracy ~1e-6); softmax ``4 <= T <= GEN_T_MAX``: randomised quasi-Monte Carlo
    (:func:`softmax_gen_error_rqmc`, fixed seed, so deterministic), with ``gen_error_se`` and
    ``normalised_se`` the standard errors over the independent scramblings (the ratio's by the
    delta method, from the same points at ``q`` and at ``q(alpha = 0) = rho``); hardmax ``T = 2``:
    closed form.  Identity channel (``T = 1``): ``y = h_11 + sqrt(Delta) z`` has posterior variance
    ``2 V + Delta``.  Noisy softmax (``T = 2``): the noiseless softmax error at the noisy SE's
    overlap plus the ``T^2 Delta`` of the output noise.
    """
    _check_common(alpha, rho)
    ch = make_channel(channel, T, variant, Delta)
    T = ch.T
    if isinstance(ch, SoftmaxChannel) and T > GEN_T_MAX:
        c = gen_error_cost(T)
        raise ValueError(f"T = {T} is outside the allowed domain of the softmax generalisation "
                         f"error: T <= {GEN_T_MAX} (randomized QMC over 3T dimensions; T = {T} "
                         f"would need ~{c['bytes'] / 1e9:.2g} GB and ~{c['seconds']:.0f} s)")
    Q0 = 1.0 + rho
    r = se_channel(alpha, rho, ch)
    q = Q0 - r.mmse
    se_g = se_n = 0.0
    if isinstance(ch, HardmaxChannel):
        g, g0 = hardmax_gen_error(q, Q0), hardmax_gen_error(rho, Q0)
    elif isinstance(ch, LinearChannel):
        g, g0 = 2.0 * float(r.mmse) + ch.Delta, 2.0 + ch.Delta
    elif isinstance(ch, SoftmaxNoisyChannel):
        noise = 4.0 * ch.Delta
        g, g0 = softmax_gen_error_T2(q, Q0) + noise, softmax_gen_error_T2(rho, Q0) + noise
    elif T in GEN_NODES:
        fn = softmax_gen_error_T2 if T == 2 else (lambda q, Q0: softmax_gen_error(q, Q0, T))
        g, g0 = fn(q, Q0), fn(rho, Q0)
    else:
        (g, g0), per = softmax_gen_error_rqmc(np.array([q, rho]), Q0, T)
        g, g0 = float(g), float(g0)
        R = per.shape[0]
        se_g = float(per[:, 0].std(ddof=1) / math.sqrt(R))
        lin = per[:, 0] / g0 - g * per[:, 1] / g0**2   # delta method for g / g0
        se_n = float(lin.std(ddof=1) / math.sqrt(R))
    return {"gen_error": g, "normalised": g / g0, "gen_error_alpha0": g0,
            "gen_error_se": se_g, "normalised_se": se_n, "mmse": float(r.mmse),
            **diagnostics(r)}


# ================================================================== the transition's order
def transition(rho: float, T: int = 2, channel: str = "softmax", variant: str = "correct"
               ) -> dict:
    """Order of the AIM's transitions, measured on the SE (not assumed).

    ``channel="softmax"``: the perfect-recovery transition at ``x_c = alpha_PR(rho, T)``, where the
    MMSE reaches 0 from the left; ``channel="hardmax"``: the ``rho -> 0`` weak-recovery transition at
    ``x_c = alpha_bar_c`` (``rho`` unused), where the MMSE leaves 1 to the right.  On the active side
    the distance ``e(h) = |MMSE(x_c (1 -+ h)) - MMSE(x_c)|`` is computed at ``h = 1e-3, 1e-4, 1e-5``:

    * ``exponent`` ``p``: ``log10(e(1e-4)/e(1e-5))`` (``e ~ h^p``); ``residual`` = its change from the
      previous decade;
    * ``slope_active``: ``dMMSE/dx`` at ``x_c`` from the active side, ``e(h)/(x_c h)``
      Richardson-extrapolated when ``p = 1`` (within 0.05), 0 when ``p > 1``;
      ``slope_flat``: the largest ``|MMSE - MMSE(x_c)|/(x_c h)`` on the other side (0: flat);
    * ``jump``: ``e`` at ``h = 1e-9`` (0 for a continuous transition);
    * ``hysteresis`` (softmax): ``max |MMSE(informed start) - MMSE(uninformed)|`` at
      ``alpha_PR x {0.5, 0.9, 0.99}``.

    ``order``: 1 if the jump or the hysteresis exceeds 1e-6 (first order); else 2 if ``p = 1``
    (continuous MMSE with a slope discontinuity); else 3 (the slope is continuous too).
    """
    if channel == "softmax":
        T = _check_T(T, 2)
        x0 = alpha_pr(rho, T)
        f = lambda a: float(se_softmax(a, rho, T).mmse)  # noqa: E731
        base, sgn = 0.0, -1.0
        hyst = 0.0
        for frac in (0.5, 0.9, 0.99):
            a = frac * x0
            inf = se_channel(a, rho, SoftmaxChannel(T), init="informed")
            hyst = max(hyst, abs(float(inf.mmse) - f(a)))
    elif channel == "hardmax":
        _check_variant(variant)
        x0 = weak_recovery(variant)
        f = lambda ab: float(mmse_rho0(ab, variant).mmse)  # noqa: E731
        base, sgn, hyst = 1.0, 1.0, 0.0
    else:
        raise ValueError(f"channel = {channel!r} is outside the allowed domain: softmax (perfect "
                         f"recovery) or hardmax (rho -> 0 weak recovery)")
    hs = np.array([1e-3, 1e-4, 1e-5])
    e = np.array([abs(f(x0 * (1 + sgn * h)) - base) for h in hs])
    p = np.log10(e[:-1] / e[1:])
    expo, res = float(p[-1]), float(abs(p[-1] - p[0]))
    sl = e / (x0 * hs)
    # MMSE decreases through the transition in both cases: the active-side slope is negative
    slope = -float((10 * sl[2] - sl[1]) / 9.0) if abs(expo - 1) < 0.05 else 0.0
    flat = max(abs(f(x0 * (1 - sgn * h)) - base) / (x0 * h) for h in hs)
    jump = abs(f(x0 * (1 + sgn * 1e-9)) - base)
    order = 1 if (jump > 1e-6 or hyst > 1e-6) else (2 if abs(expo - 1) < 0.05 else 3)
    return {"x_c": float(x0), "jump": float(jump), "exponent": expo, "slope_active": slope,
            "slope_flat": float(flat), "hysteresis": float(hyst), "order": order,
            "success": (ok := bool(res < 0.05 and np.all(e > 0))), "status": 0 if ok else 4,
            "nit": 0,
            "residual": res, "message": "measured" if res < 0.05 else
            "the local exponent changes by more than 0.05 between decades"}


# ================================================================== catalogue
def _register():
    from icl_companion.numerics.aim_free_prob import denoising_mi_record, denoising_mmse_record
    from icl_companion.theory.papers import paper
    from icl_companion.theory.registry import (NOT_NUMBERED, Bound, Reference, Result, choice,
                                               integer, real, register)

    AUTHORS_CODE = paper("aim").code_citation()  # as theory.aim.AUTHORS_CODE, without SymPy

    def ref(anchor, *cites):
        return Reference("aim", NOT_NUMBERED, f"docs/derivations/aim.md#{anchor}", cites)

    # The denoiser's free-probability edges are computed in double precision; outside this range
    # of rho they overflow or lose the zero-eigenvalue bulk (measured by the fuzz campaign), so the
    # catalogue refuses it (the rho -> 0 limit of the hardmax is aim.mmse_rho0).
    rho_p = real("rho", RHO_MIN, RHO_MAX, doc="r/d, rank ratio of S = W W^T/sqrt(r d)")
    alpha_p = real("alpha", 0, doc="n/d^2, samples per d^2")
    chan_p = choice("channel", CHANNELS, default="softmax",
                    doc="output: softmax (T >= 2), hardmax (T = 2), linear (identity, T = 1, "
                        "noise Delta >= 0, default 0), softmax_noisy (T = 2, Delta > 0 required)")
    var_p = choice("variant", VARIANTS, default="correct",
                   doc="hardmax g_out: correct (Bayes-optimal) or paper (authors' SE_hardmax.py)")
    delta_out_p = real("Delta", doc="output noise variance of channel=linear (>= 0) or "
                                    "softmax_noisy (> 0)", default=None)
    init_p = choice("init", INITS, default="uninformed",
                    doc="SE start: uninformed (V = 1, prior mean) or informed (V = 1e-6)")
    mmse_bounds = {"mmse": (0.0, 1.0), "delta": Bound(0.0, math.inf, True),
                   "alpha_pr": (0.0, 1.0), "mmse_err": (0.0, 1.0)}

    def rec(r, **extra):
        return {"mmse": float(r.mmse), **extra, **diagnostics(r), "_warm": float(r.mmse)}

    register(Result(
        "aim.denoising_mmse",
        "Matrix-denoising MMSE of S = WW^T/sqrt(rd) from S + sqrt(Delta) GOE (free probability)",
        (rho_p, real("delta", DELTA_IN_MIN, doc="noise variance Delta")),
        lambda rho, delta: {"value": (v := denoising_mmse_record(delta, rho))["mmse"],
                            **{k: v[k] for k in ("success", "status", "message", "nit",
                                                 "residual")}},
        ref("denoising-mmse-and-the-rie",
            "Bun, Allez, Bouchaud, Potters (2016), IEEE Trans. Inf. Theory 62, 7475, "
            "arXiv:1502.06736",
            "Voiculescu (1998), Invent. Math. 132, 189 (free Fisher information)"),
        status="numerical",
        status_note="Gauss-Legendre per support interval (~1e-12); Delta >= 10: free Cramer-Rao "
                    "split 1/(1+Delta) - Delta C without cancellation; residual = change from a "
                    "coarser rule, success if < 1e-8 relative",
        definition="mmse_rho(Delta) = Delta - (4 pi^2/3) Delta^2 int mu_{rho,Delta}(x)^3 dx\n"
                   "  = Delta/(1 + Delta) - Delta^2 int (2 Re G(x) - (x - sqrt(rho))/(1 + Delta))^2 "
                   "mu(x) dx,\n"
                   "mu_{rho,Delta} = MP-type law of S boxplus semicircle of variance Delta;\n"
                   "G solves sqrt(a) Delta G^3 - (sqrt(a) z + Delta) G^2 + (z + sqrt(a) - "
                   "1/sqrt(a)) G - 1 = 0, a = 1/rho",
        bounds=lambda inp: {"value": (0.0, min(1.0, inp["delta"]))}))

    register(Result(
        "aim.denoising_mi",
        "Mutual information I_rho(Delta) per d^2 of the matrix-denoising channel",
        (rho_p, real("delta", DELTA_IN_MIN, doc="noise variance Delta")),
        lambda rho, delta: {"value": (v := denoising_mi_record(delta, rho))["mi"],
                            **{k: v[k] for k in ("success", "status", "message", "nit",
                                                 "residual")}},
        ref("mutual-information-of-the-denoising-channel",
            "Guo, Shamai, Verdu (2005), IEEE Trans. Inf. Theory 51, 1261, arXiv:cs/0412108 "
            "(I-MMSE)"),
        status="numerical",
        status_note="log-potential by Gauss-Legendre (Delta < 8); I-MMSE integral "
                    "(1/4) int_0^(1/Delta) mmse_rho(1/l) dl for Delta >= 8 (no cancellation); "
                    "residual = change against a second rule, success if < 1e-8 relative",
        definition="I_rho(Delta) = Sigma(mu_{rho,Delta})/2 - log(Delta)/4 + 1/8,\n"
                   "Sigma(mu) = int int log|x - y| dmu(x) dmu(y)",
        bounds={"value": (0.0, math.inf)}))

    def _channel_of(inp):
        return make_channel(inp["channel"], inp["T"], inp["variant"], inp.get("Delta"))

    def _mmse(alpha, rho, T, channel, variant, Delta=None, init="uninformed", warm=None):
        ch = make_channel(channel, T, variant, Delta)
        # a sweep's warm start continues the uninformed branch; the informed start is by
        # definition the same for every point (results independent of the chunking); the
        # softmax's scalar equation needs no start: its closed form (se_softmax) at every point
        if init != "uninformed" or channel == "softmax":
            warm = None
        r = se_channel(alpha, rho, ch, init=init, warm=warm)
        extra = {"delta": float(r.delta)}
        if ch.Delta > 0 and not isinstance(ch, LinearChannel):  # quadrature-based information
            extra["mmse_err"] = float(r.get("mmse_err", 0.0))
        if channel == "softmax":
            extra["alpha_pr"] = alpha_pr(rho, T)
        return rec(r, **extra)

    def _mmse_batch(points):
        # the softmax SE from the uninformed start is a scalar equation vectorised over alpha
        # (se_softmax): one solve per (rho, T); the values are those of _mmse point by point,
        # bit for bit (elementwise root finding)
        if any(p["channel"] != "softmax" or p["init"] != "uninformed" or p["Delta"]
               for p in points):
            return None
        groups: dict = {}
        for i, p in enumerate(points):
            groups.setdefault((p["rho"], p["T"]), []).append(i)
        out: list = [None] * len(points)
        for (rho, T), idx in groups.items():
            r = se_softmax(np.array([points[i]["alpha"] for i in idx]), rho, T)
            apr = alpha_pr(rho, T)
            for j, i in enumerate(idx):
                ok = bool(r.success[j])
                out[i] = {"mmse": float(r.mmse[j]), "delta": float(r.delta[j]), "alpha_pr": apr,
                          "success": ok, "status": int(r.status[j]),
                          "message": "converged" if ok else "did not converge",
                          "nit": int(r.nit[j]), "residual": float(r.residual[j]),
                          "_warm": float(r.mmse[j])}
        return out

    def _check_channel(inp):
        try:
            _channel_of(inp)
        except ValueError as e:
            raise ValueError(str(e)) from None

    register(Result(
        "aim.mmse",
        "Bayes-optimal estimation error (1/d)||S_hat - S||^2 from state evolution (1 at alpha=0)",
        (alpha_p, rho_p, integer("T", 1, T_MAX, doc="sequence length (hardmax, softmax_noisy: T = 2; "
                                             "linear: T = 1)"), chan_p, var_p, delta_out_p, init_p),
        _mmse, ref("state-evolution", AUTHORS_CODE + ", SE_softmax.py, SE_hardmax.py",
                   "Maillard, Troiani, Martin, Krzakala, Zdeborova (2024), arXiv:2408.03733 "
                   "(channel=linear)"),
        status="numerical",
        status_note="softmax: bracketed root in log Delta, xtol 1e-13; hardmax: fixed point, "
                    "tol 1e-11, Gauss-Hermite + Owen's T; linear: bracketed root; softmax_noisy: "
                    "fixed point with a frozen randomized-QMC channel information (mmse_err = its "
                    "propagated standard error, ~1e-3; ~10 s per point)",
        outputs=("mmse", "delta", "alpha_pr", "mmse_err"),
        definition="V = mmse_rho(1/hat q), hat q = 2 alpha E[sum_{a<=b} c_ab g_ab^2](q = 1 + rho - V, V)"
                   " from the channel's g_out;\nsoftmax: mmse_rho(Delta*)/Delta* = (T^2+T-2) alpha, "
                   "MMSE = (T^2+T-2) alpha Delta*, 0 for alpha >= alpha_PR;\nlinear: hat q = "
                   "2 alpha/(V + Delta/2)",
        check=_check_channel, warm_start=True, bounds=mmse_bounds, batch=_mmse_batch))

    def _mmse_bar(alpha_bar, rho, variant, init="uninformed", warm=None):
        r = se_hardmax(alpha_bar * rho, rho, variant, init=init,
                       warm=warm if init == "uninformed" else None)
        return rec(r, alpha=alpha_bar * rho)

    register(Result(
        "aim.mmse_bar",
        "Hardmax T=2 SE error at alpha = alpha_bar rho (alpha_bar = n/(d r)), for phase diagrams",
        (real("alpha_bar", 0, doc="n/(d r)"), rho_p, var_p, init_p), _mmse_bar,
        ref("state-evolution"), status="numerical",
        status_note="as aim.mmse channel=hardmax", outputs=("mmse", "alpha"),
        definition="aim.mmse(alpha = alpha_bar rho, rho, T = 2, channel = hardmax, variant, init)",
        warm_start=True, bounds={"mmse": (0.0, 1.0), "alpha": (0.0, math.inf)}))

    def _rho0(alpha_bar, variant, warm=None):
        r = mmse_rho0(alpha_bar, variant, warm=warm)
        return rec(r, alpha_bar_c=weak_recovery(variant))

    register(Result(
        "aim.mmse_rho0",
        "Hardmax T=2 error in the rho -> 0 limit at fixed alpha_bar = n/(d r) (1 below alpha_bar_c)",
        (real("alpha_bar", 0, doc="n/(d r)"), var_p), _rho0,
        ref("small-rank-limit", AUTHORS_CODE + ", SE_hardmax_rho=0.py"),
        status="numerical", status_note="rho -> 0 at fixed n/(d r); fixed point tol 1e-11",
        outputs=("mmse", "alpha_bar_c"),
        definition="V = Db (2 - Db) if Db < 1 else 1, Db = 1/(2 alpha_bar E[sum c g^2](q=1-V, V))",
        warm_start=True, bounds={"mmse": (0.0, 1.0), "alpha_bar_c": (0.0, math.inf)}))

    def _wr_expr():
        from icl_companion.theory.aim import weak_recovery_expr
        import sympy as sp

        return sp.Eq(sp.Symbol("alphabar_c"), weak_recovery_expr("correct"))

    register(Result(
        "aim.weak_recovery",
        "rho -> 0 hardmax weak-recovery threshold alpha_bar_c = 1/(2 E0) in n/(d r)",
        (var_p,), lambda variant: weak_recovery(variant),
        ref("weak-recovery-threshold"),
        status="asymptotic", status_note="rho -> 0, exact closed form",
        expression=_wr_expr,
        definition="shown: variant=correct, E0 = 2/(3 pi p_s) + 1/(3 pi p_o); variant=paper: "
                   "E0 = 3/(2 pi^2 p_s) + 3/(4 pi^2 p_o); p_s,o = 1/4 +- arcsin(1/3)/(2 pi)",
        bounds={"value": (0.0, math.inf)}))

    def _check_gen(inp):
        _check_channel(inp)
        if inp["channel"] == "softmax" and inp["T"] > GEN_T_MAX:
            c = gen_error_cost(inp["T"])
            raise ValueError(f"T = {inp['T']} is outside the allowed domain for the softmax "
                             f"generalisation error: T <= {GEN_T_MAX} (T = {inp['T']} would need "
                             f"~{c['bytes'] / 1e9:.2g} GB and ~{c['seconds']:.0f} s)")

    def _gen(alpha, rho, T, channel, variant, Delta=None):
        return gen_error(alpha, rho, T, channel, variant, Delta)

    def _gen_bounds(inp):
        T, D = inp["T"], inp.get("Delta") or 0.0
        top = 2.0 + D if inp["channel"] == "linear" else T * T * (1.0 + D)
        return {"gen_error": (0.0, top), "gen_error_alpha0": (0.0, top), "normalised": (0.0, 1.5),
                "gen_error_se": (0.0, top), "normalised_se": (0.0, 1.0), "mmse": (0.0, 1.0)}

    register(Result(
        "aim.gen_error",
        "Bayes-optimal test error E||y - E[y|data]||_F^2 per sample at the SE fixed point",
        (alpha_p, rho_p, integer("T", 1, T_MAX, doc="sequence length (hardmax, softmax_noisy: T = 2; "
                                             "linear: T = 1; softmax: 2 <= T <= 64)"),
         chan_p, var_p, delta_out_p), _gen,
        ref("bayes-optimal-generalisation-error"), status="numerical",
        status_note="softmax at inverse temperature 1: T <= 3 nested Gauss-Hermite (~1e-6 rel), "
                    "4 <= T <= 64 randomised QMC (2^14 scrambled Sobol points x 16, fixed seed; "
                    "standard errors reported); hardmax T = 2 closed form; linear 2 V + Delta; "
                    "softmax_noisy: softmax T = 2 error at the noisy overlap + 4 Delta",
        outputs=("gen_error", "normalised", "gen_error_alpha0", "gen_error_se", "normalised_se",
                 "mmse"),
        definition="E_gen = E_omega[E_{y|omega}||y||^2 - ||E_{y|omega} y||^2]; "
                   "hardmax T=2: 1 - (2/pi) arcsin(q/Q0); normalised = E_gen / E_gen(alpha=0)",
        check=_check_gen, bounds=_gen_bounds))

    register(Result(
        "aim.transition",
        "Order of the softmax perfect-recovery (or rho->0 hardmax weak-recovery) transition, "
        "measured: jump, one-sided slopes, hysteresis",
        (rho_p, integer("T", 2, T_MAX, doc="sequence length (softmax)", default=2),
         choice("channel", ("softmax", "hardmax"), default="softmax",
                doc="softmax: alpha_PR(rho, T); hardmax: rho -> 0 weak recovery alpha_bar_c"),
         var_p),
        lambda rho, T, channel, variant: transition(rho, T, channel, variant),
        ref("phase-diagrams-and-the-order-of-the-transitions"), status="numerical",
        status_note="SE at relative distances 1e-3, 1e-4, 1e-5 of the threshold; residual = "
                    "change of the local exponent between decades (success if < 0.05)",
        outputs=("x_c", "jump", "exponent", "slope_active", "slope_flat", "hysteresis", "order"),
        definition="|MMSE(x) - MMSE(x_c)| ~ |x - x_c|^exponent on the active side (MMSE -> 0 "
                   "below alpha_PR; MMSE < 1 above alpha_bar_c); slope_active = dMMSE/dx there; "
                   "order 1 if jump or hysteresis > 1e-6, 2 if exponent = 1 (a kink), else 3",
        bounds={"x_c": (0.0, math.inf), "jump": (0.0, 1.0), "exponent": (0.0, 10.0),
                "slope_active": (-math.inf, math.inf), "slope_flat": (0.0, 1e-6),
                "hysteresis": (0.0, 1.0), "order": (1, 3)}))


_register()
