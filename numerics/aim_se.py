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

import numpy as np

from icl_companion.numerics.record import SolverRecord, diagnostics, make_record
from scipy.special import log_ndtr, ndtr, owens_t

from icl_companion.numerics.aim_data import softmax_rows
from icl_companion.numerics.aim_free_prob import mmse_over_delta, mmse_rho
from icl_companion.numerics.fixed_point import fixed_point
from icl_companion.numerics.quadrature import hermite_e_rule
from icl_companion.numerics.roots import find_roots_vectorized

__all__ = ["SEResult", "K_of_T", "alpha_pr", "se_softmax", "hardmax_channel_info", "se_hardmax",
           "se_trajectory", "bbp_mmse", "mmse_rho0", "weak_recovery", "gen_error",
           "softmax_gen_error_T2", "softmax_gen_error", "softmax_gen_error_rqmc",
           "hardmax_gen_error", "VARIANTS", "CHANNELS"]

VARIANTS = ("correct", "paper")
CHANNELS = ("softmax", "hardmax")
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
    act = (~zero) & (Ka < slope)
    if np.any(act):
        lo = np.full(act.sum(), math.log(DELTA_MIN))
        hi = np.log(2.0 / Ka[act])  # mmse <= 1 gives mmse/Delta < K alpha beyond 1/(K alpha)
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
_SQ89 = math.sqrt(8.0 / 9.0)
_LOG_TINY = -700.0


def _phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _bvn_cdf(h, k, r):
    """Standard bivariate normal CDF ``Phi_2(h, k; r)`` via Owen's T (Owen 1956, eq. 3.1).

    ``Phi_2 = (Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k) - beta``, ``a_h = (k - r h)/(h s)``,
    ``a_k = (h - r k)/(k s)``, ``s = sqrt(1 - r^2)``, ``beta = 1/2`` if ``h k < 0`` or
    (``h k = 0`` and ``h + k < 0``), else 0.  Handles ``h = 0`` / ``k = 0`` by the limits
    ``T(0, a) = arctan(a)/(2 pi)`` with ``a -> +-inf``.
    """
    s = math.sqrt(1 - r * r)
    h = np.asarray(h, dtype=float)
    k = np.asarray(k, dtype=float)
    hz, kz = h == 0, k == 0
    hs = np.where(hz, 1.0, h)
    ks = np.where(kz, 1.0, k)
    ah = (k - r * h) / (hs * s)
    ak = (h - r * k) / (ks * s)
    Th = np.where(hz, 0.25 * np.sign(k - r * h) * (k - r * h != 0), owens_t(h, ah))
    Tk = np.where(kz, 0.25 * np.sign(h - r * k) * (h - r * k != 0), owens_t(k, ak))
    # h = 0: T(0, +-inf) = +-1/4; the sign() factors above encode that limit
    beta = np.where((h * k < 0) | ((h * k == 0) & (h + k < 0)), 0.5, 0.0)
    both0 = hz & kz
    val = 0.5 * (ndtr(h) + ndtr(k)) - Th - Tk - beta
    val = np.where(both0, 0.25 + math.asin(r) / (2 * math.pi), val)
    return np.clip(val, 0.0, 1.0)


def _pattern_terms(k1, k2, V, variant):
    """``sum_s [2 D1^2 + 2 D2^2 + (s1 D1 + s2 D2)^2] / (3 V Z_s)`` over the 4 sign patterns.

    ``k_i = m_i / sqrt(3V)`` (unsigned); pattern ``s`` uses ``(s1 k1, s2 k2; s1 s2/3)``.
    """
    out = np.zeros(np.broadcast(k1, k2).shape)
    for s1 in (1.0, -1.0):
        for s2 in (1.0, -1.0):
            r = s1 * s2 / 3.0
            a1, a2 = s1 * k1, s2 * k2
            Z = _bvn_cdf(a1, a2, r)
            if variant == "correct":
                D1 = _phi(a1) * ndtr((a2 - r * a1) / _SQ89)
                D2 = _phi(a2) * ndtr((a1 - r * a2) / _SQ89)
            else:
                D1 = D2 = np.exp(-(a1 * a1 - 2 * r * a1 * a2 + a2 * a2) / (2 * (1 - r * r))) / (
                    2 * math.pi * math.sqrt(1 - r * r))
            num = 2 * D1 * D1 + 2 * D2 * D2 + (s1 * D1 + s2 * D2) ** 2
            ok = Z > 1e-280
            out += np.where(ok, num / np.where(ok, Z, 1.0), 0.0)
    return out / (3.0 * V)


def _f1(k, V):
    """One-coordinate Fisher term ``phi(k)^2 / (V Phi(k) Phi(-k))`` (limit of the pattern sum when
    the other coordinate is far from its threshold), in log space."""
    lg = -k * k - math.log(2 * math.pi) - log_ndtr(k) - log_ndtr(-k)
    return np.exp(np.maximum(lg, _LOG_TINY)) * (lg > _LOG_TINY) / V


def hardmax_channel_info(q: float, V: float, variant: str = "correct", n1: int = 96,
                         n2: int = 48) -> float:
    """``E[sum_{a<=b} c_ab (g^out_ab)^2]`` for the hardmax ``T = 2`` channel
    (``docs/derivations/aim.md#hardmax-channel-information-by-quadrature``).

    Only ``m_i = omega_ii - omega_12`` enter, ``(m1, m2) ~ N(0, q [[3, 1], [1, 3]])``, and the
    expectation over ``y`` is the sum over the four sign patterns weighted by ``Z_out``
    (Nishimori).  The integrand varies on the scale ``sqrt(3V)`` in ``m``, which is much narrower
    than the Gaussian of ``m`` (``sqrt(3q)``) when ``V << q``, so:

    * ``correct``: split ``F(m) = f1(k1) + f1(k2) + R(k1, k2)`` where ``f1`` is the single-threshold
      Fisher term (the limit of ``F`` when the other coordinate is far from 0); ``E f1(k1)`` is a 1-D
      Gauss-Hermite with the change of variables of :func:`icl_companion.numerics.quadrature.gauss_hermite_expect`
      (scale ``2 sqrt(V/q)``), and the remainder ``R``, localised near the origin, a 2-D
      Gauss-Hermite rescaled by ``1.5 sqrt(V/q)``;
    * ``paper``: ``F`` itself is localised near the origin (bivariate density): 2-D rule only.

    Rescaling factors are capped at 1 (plain Gauss-Hermite when ``V >= q``).
    """
    _check_variant(variant)
    if V <= 0:
        raise ValueError(f"V = {V} must be > 0")
    q = max(float(q), 0.0)
    c = math.sqrt(3 * V)
    x1, w1 = hermite_e_rule(n1)
    x2, w2 = hermite_e_rule(n2)
    ratio = math.sqrt(V / q) if q > 0 else math.inf
    # 2-D part: m = L s v, L = chol(q [[3,1],[1,3]])
    s2 = min(1.0, 1.5 * ratio)
    v1, v2 = np.meshgrid(x2, x2, indexing="ij")
    W = np.outer(w2, w2)
    jac2 = s2 * s2 * np.exp(-0.5 * (s2 * s2 - 1) * (v1 * v1 + v2 * v2))
    sq = math.sqrt(q)
    m1 = sq * math.sqrt(3) * s2 * v1
    m2 = sq * s2 * (v1 / math.sqrt(3) + math.sqrt(8.0 / 3.0) * v2)
    k1, k2 = m1 / c, m2 / c
    F = _pattern_terms(k1, k2, V, variant)
    if variant == "correct":
        F = F - _f1(k1, V) - _f1(k2, V)
        s1 = min(1.0, 2.0 * ratio)
        u = x1
        jac1 = s1 * np.exp(-0.5 * (s1 * s1 - 1) * u * u)
        kk = math.sqrt(3 * q) * s1 * u / c
        one_d = 2.0 * np.sum(w1 * jac1 * _f1(kk, V))
    else:
        one_d = 0.0
    return float(one_d + np.sum(W * jac2 * F))


def _hardmax_qhat(alpha, q, V, variant):
    return 2.0 * alpha * hardmax_channel_info(q, V, variant)


def se_hardmax(alpha: float, rho: float, variant: str = "correct", warm: float | None = None,
               damping: float = 0.5, tol: float = 1e-11, maxiter: int = 3000,
               method: str = "anderson") -> SEResult:
    """Hardmax ``T = 2`` SE: damped fixed point ``V = mmse_rho(1/hat q(V))``
    (``docs/derivations/aim.md#state-evolution``,
    ``docs/derivations/aim.md#hardmax-channel-and-its-corrected-derivative``).

    ``hat q = 2 alpha E[2 g11^2 + 2 g22^2 + g12^2]`` at ``q = Q0 - V``
    (:func:`hardmax_channel_info`).  Iterated in ``V`` from ``warm`` (default 1, the uninformative
    start ``q = rho``) with :func:`icl_companion.numerics.fixed_point.fixed_point` (``damping`` = weight of the
    NEW iterate there).  ``method="anderson"`` (default; Anderson mixing whose first steps are
    damped Picard steps, 5-12 map evaluations) falls back to the plain damped iteration from its
    last iterate if it does not converge; ``method="damped"`` is the plain damped iteration.
    ``variant="paper"`` reproduces the authors' curves (their ``SE_hardmax.py``).
    """
    _check_common(alpha, rho)
    _check_variant(variant)
    alpha = float(alpha)
    Q0 = 1.0 + rho
    if alpha == 0:
        return make_record(SEResult, mmse=1.0, q=rho, qhat=0.0, delta=math.inf, success=True, nit=0,
                        residual=0.0, history={"x": np.array([1.0]), "residual": np.array([0.0])},
                        message="alpha = 0: prior mean", alpha=alpha, rho=rho, variant=variant)
    hist_qhat = []

    def F(V):
        V = float(np.clip(V, 1e-300, 1.0))
        qh = _hardmax_qhat(alpha, Q0 - V, V, variant)
        hist_qhat.append(qh)
        return float(mmse_rho(1.0 / qh, rho)) if qh > 0 else 1.0

    x0 = 1.0 if warm is None else float(np.clip(warm, 1e-12, 1.0))
    r = _solve_fp(F, x0, damping, tol, maxiter, method)
    V = float(r.x)
    qh = _hardmax_qhat(alpha, Q0 - V, V, variant)
    return make_record(SEResult, mmse=V, q=Q0 - V, qhat=qh, delta=1 / qh, success=r.success,
                    status=r.status,
                    nit=r.nit, residual=r.residual, history=r.history,
                    message=r.message, alpha=alpha, rho=rho, variant=variant)


def _solve_fp(F, x0, damping, tol, maxiter, method):
    """``fixed_point`` in ``V``; Anderson first (fast), the damped iteration if it fails."""
    if method not in ("anderson", "damped"):
        raise ValueError(f"method = {method!r} is not one of anderson, damped")
    if method == "anderson":
        r = fixed_point(F, x0, damping=damping, tol=tol, maxiter=min(maxiter, 200),
                        method="anderson")
        if r.success and 0 < float(r.x) <= 1:
            return r
        x0 = float(np.clip(r.x, 1e-12, 1.0)) if np.isfinite(r.x) else x0
    return fixed_point(F, x0, damping=damping, tol=tol, maxiter=maxiter)


# ================================================================== trajectories (for GAMP)
def se_trajectory(alpha: float, rho: float, T: int, channel: str = "softmax",
                  variant: str = "correct", n_iter: int = 50, damping: float = 0.5
                  ) -> np.ndarray:
    """SE-predicted error of ``S_hat^t``, ``t = 0..n_iter``, for a damped AMP from ``sqrt(rho) I``.

    ``V^0 = 1``; for ``t >= 0``: ``Delta^t = 1/hat q(V^t)``, ``e^{t+1} = mmse_rho(Delta^t)``
    (error of the denoiser output ``S_hat^{t+1}``), ``V^{t+1} = (1 - damping) e^{t+1} + damping V^t``
    (``damping`` = weight of the OLD value, as in the GAMP-RIE,
    ``docs/derivations/aim.md#gamp-rie`` step 1).  Returns
    ``[1, e^1, ..., e^n_iter]``.
    """
    _check_common(alpha, rho)
    if channel not in CHANNELS:
        raise ValueError(f"channel = {channel!r} is outside the allowed domain: one of "
                         f"{', '.join(CHANNELS)}")
    if channel == "hardmax":
        _check_variant(variant)
        if int(T) != 2:
            raise ValueError(f"T = {T} is outside the allowed domain: hardmax requires T = 2")
    T = _check_T(T, 2)
    if not 0 <= damping < 1:
        raise ValueError(f"damping = {damping} must be in [0, 1)")
    Q0 = 1.0 + rho
    K = K_of_T(T)
    out = [1.0]
    V = 1.0
    for _ in range(int(n_iter)):
        if alpha == 0:
            e = 1.0
        else:
            qh = K * alpha / V if channel == "softmax" else _hardmax_qhat(alpha, Q0 - V, V, variant)
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
        E = hardmax_channel_info(1.0 - V, V, variant)
        return float(bbp_mmse(1.0 / (2 * ab * E)))

    x0 = 1.0 if warm is None else float(np.clip(warm, 1e-12, 1.0))
    r = _solve_fp(F, x0, damping, tol, maxiter, method)
    V = float(r.x)
    return make_record(SEResult, mmse=V, q=1 - V,
                    qhat=2 * ab * hardmax_channel_info(1 - V, V, variant), success=r.success,
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


def gen_error(alpha: float, rho: float, T: int, channel: str = "softmax",
              variant: str = "correct") -> dict:
    """Bayes-optimal generalisation error at the SE fixed point
    (``docs/derivations/aim.md#bayes-optimal-generalisation-error``).

    Softmax ``T = 2, 3``: deterministic Gauss-Hermite quadrature (``gen_error_se = 0``, relative
    accuracy ~1e-6); softmax ``T >= 4``: randomised quasi-Monte Carlo
    (:func:`softmax_gen_error_rqmc`, fixed seed, so deterministic), with ``gen_error_se`` and
    ``normalised_se`` the standard errors over the independent scramblings (the ratio's by the
    delta method, from the same points at ``q`` and at ``q(alpha = 0) = rho``); hardmax ``T = 2``:
    closed form.
    """
    _check_common(alpha, rho)
    if channel not in CHANNELS:
        raise ValueError(f"channel = {channel!r} is outside the allowed domain: one of "
                         f"{', '.join(CHANNELS)}")
    T = _check_T(T, 2)
    if channel == "hardmax" and T != 2:
        raise ValueError(f"T = {T} is outside the allowed domain: the hardmax generalisation "
                         f"error requires T = 2")
    Q0 = 1.0 + rho
    r = se_softmax(alpha, rho, T) if channel == "softmax" else se_hardmax(alpha, rho, variant)
    q = Q0 - r.mmse
    se_g = se_n = 0.0
    if channel == "hardmax":
        g, g0 = hardmax_gen_error(q, Q0), hardmax_gen_error(rho, Q0)
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


# ================================================================== catalogue
def _register():
    from icl_companion.numerics.aim_free_prob import mutual_information
    from icl_companion.theory.papers import paper
    from icl_companion.theory.registry import (NOT_NUMBERED, Bound, Reference, Result, choice,
                                               integer, real, register)

    AUTHORS_CODE = paper("aim").code_citation()  # as theory.aim.AUTHORS_CODE, without SymPy

    def ref(anchor, *cites):
        return Reference("aim", NOT_NUMBERED, f"docs/derivations/aim.md#{anchor}", cites)

    rho_p = real("rho", 0, lo_open=True, doc="r/d, rank ratio of S = W W^T/sqrt(r d)")
    alpha_p = real("alpha", 0, doc="n/d^2, samples per d^2")
    chan_p = choice("channel", CHANNELS, default="softmax", doc="output function")
    var_p = choice("variant", VARIANTS, default="correct",
                   doc="hardmax g_out: correct (Bayes-optimal) or paper (authors' SE_hardmax.py)")

    def rec(r, **extra):
        return {"mmse": float(r.mmse), **extra, **diagnostics(r), "_warm": float(r.mmse)}

    register(Result(
        "aim.denoising_mmse",
        "Matrix-denoising MMSE of S = WW^T/sqrt(rd) from S + sqrt(Delta) GOE (free probability)",
        (rho_p, real("delta", 0, lo_open=True, doc="noise variance Delta")),
        lambda rho, delta: float(mmse_rho(delta, rho)),
        ref("denoising-mmse-and-the-rie",
            "Bun, Allez, Bouchaud, Potters (2016), IEEE Trans. Inf. Theory 62, 7475, "
            "arXiv:1502.06736"),
        status="numerical", status_note="Gauss-Legendre per support interval, ~1e-13",
        definition="mmse_rho(Delta) = Delta - (4 pi^2/3) Delta^2 int mu_{rho,Delta}(x)^3 dx,\n"
                   "mu_{rho,Delta} = MP-type law of S boxplus semicircle of variance Delta;\n"
                   "G solves sqrt(a) Delta G^3 - (sqrt(a) z + Delta) G^2 + (z + sqrt(a) - "
                   "1/sqrt(a)) G - 1 = 0, a = 1/rho"))

    register(Result(
        "aim.denoising_mi",
        "Mutual information I_rho(Delta) per d^2 of the matrix-denoising channel",
        (rho_p, real("delta", 0, lo_open=True, doc="noise variance Delta")),
        lambda rho, delta: float(mutual_information(delta, rho)),
        ref("mutual-information-of-the-denoising-channel",
            "Guo, Shamai, Verdu (2005), IEEE Trans. Inf. Theory 51, 1261, arXiv:cs/0412108 "
            "(I-MMSE)"),
        status="numerical", status_note="log-potential by Gauss-Legendre",
        definition="I_rho(Delta) = Sigma(mu_{rho,Delta})/2 - log(Delta)/4 + 1/8,\n"
                   "Sigma(mu) = int int log|x - y| dmu(x) dmu(y)"))

    def _mmse(alpha, rho, T, channel, variant, warm=None):
        if channel == "softmax":
            r = se_softmax(alpha, rho, T)
            return rec(r, delta=float(r.delta), alpha_pr=alpha_pr(rho, T))
        r = se_hardmax(alpha, rho, variant, warm=warm)
        return rec(r, delta=float(r.delta))

    def _mmse_batch(points):
        # the softmax SE is vectorised over alpha (se_softmax): one solve per (rho, T); the
        # values are those of _mmse point by point, bit for bit (elementwise root finding)
        if any(p["channel"] != "softmax" for p in points):
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
                          "success": ok, "status": int(r.status[j]), "nit": int(r.nit[j]),
                          "residual": float(r.residual[j]),
                          "message": "converged" if ok else "did not converge",
                          "_warm": float(r.mmse[j])}
        return out

    def _check_mmse(inp):
        if inp["channel"] == "hardmax" and inp["T"] != 2:
            raise ValueError(f"T = {inp['T']} is outside the allowed domain for channel=hardmax: "
                             f"hardmax requires T = 2")

    register(Result(
        "aim.mmse",
        "Bayes-optimal estimation error (1/d)||S_hat - S||^2 from state evolution (1 at alpha=0)",
        (alpha_p, rho_p, integer("T", 2, doc="sequence length (hardmax: T = 2)"), chan_p, var_p),
        _mmse, ref("state-evolution", AUTHORS_CODE + ", SE_softmax.py, SE_hardmax.py"),
        status="numerical",
        status_note="softmax: bracketed root in log Delta, xtol 1e-13; hardmax: fixed point, "
                    "tol 1e-11, Gauss-Hermite + Owen's T",
        outputs=("mmse", "delta"),
        definition="softmax: mmse_rho(Delta*)/Delta* = (T^2+T-2) alpha, MMSE = (T^2+T-2) alpha "
                   "Delta*, 0 for alpha >= alpha_PR;\nhardmax T=2: V = mmse_rho(1/hat q), "
                   "hat q = 2 alpha E[2 g11^2 + 2 g22^2 + g12^2](q = 1 + rho - V, V)",
        check=_check_mmse, warm_start=True, batch=_mmse_batch,
        # Delta* = inf at alpha = 0 (no information) is the solution, not a failure
        bounds={"delta": Bound(0.0, math.inf, infinite=True)}))

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
        warm_start=True))

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
                   "E0 = 3/(2 pi^2 p_s) + 3/(4 pi^2 p_o); p_s,o = 1/4 +- arcsin(1/3)/(2 pi)"))

    def _check_gen(inp):
        if inp["channel"] == "hardmax" and inp["T"] != 2:
            raise ValueError(f"T = {inp['T']} is outside the allowed domain for channel=hardmax: "
                             f"hardmax requires T = 2")

    def _gen(alpha, rho, T, channel, variant):
        return gen_error(alpha, rho, T, channel, variant)

    register(Result(
        "aim.gen_error",
        "Bayes-optimal test error E||y - E[y|data]||_F^2 per sample at the SE fixed point",
        (alpha_p, rho_p, integer("T", 2, doc="sequence length (hardmax: T = 2)"),
         chan_p,
         var_p), _gen,
        ref("bayes-optimal-generalisation-error"), status="numerical",
        status_note="softmax at inverse temperature 1: T <= 3 nested Gauss-Hermite (~1e-6 rel), "
                    "T >= 4 randomised QMC (2^14 scrambled Sobol points x 16, fixed seed; "
                    "standard errors reported); hardmax T = 2 closed form",
        outputs=("gen_error", "normalised", "gen_error_alpha0", "gen_error_se", "normalised_se",
                 "mmse"),
        definition="E_gen = E_omega[E_{h|omega}||g(h)||^2 - ||E_{h|omega} g(h)||^2]; "
                   "hardmax T=2: 1 - (2/pi) arcsin(q/Q0); normalised = E_gen / E_gen(alpha=0)",
        check=_check_gen))


_register()
