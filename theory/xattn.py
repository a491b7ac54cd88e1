"""Multi-modal ICL in a latent factor model: LSA fails, deep linearized cross-attention reaches Bayes.

**Reconstructed model.**  Only the abstract and secondary summaries of Barnfield, Sen & Sur
(arXiv:2602.04872) were available (the paper's numbering is not known).  Everything below implements
the reconstruction written out in ``docs/derivations/xattn.md``, built to agree with every stated
fact, in particular ``alpha* = 2/(2 + m_lo + m_hi)`` and ``beta* -> -alpha*``.  Its open choices are
parameters:

* view-noise variance ``tau2`` (the "2" in ``alpha*`` is ``2 tau2`` with ``tau2 = 1``),
* response noise ``sigma2`` and latent dimension ``k``,
* one-parameter (``beta = -alpha``) or two-parameter ``(alpha, beta)`` layers, shared or per layer.

Latent factor model (``docs/derivations/xattn.md#latent-factor-model``).  Per prompt (task) draw
loadings ``Gamma = [Gamma_bar; Gamma_tilde]`` (``d x k``, ``d = d1 + d2``) and a response loading
``beta`` (``k``); per example ``u ~ N(0, I_k)``, ``x = Gamma u + tau eps`` (both modalities
stacked), ``y = beta^T u + sigma e``. Given the task, ``Sigma = tau2 I + Gamma Gamma^T``,
``s = Cov(x, y) = Gamma beta``.

Every closed form is derived here by SymPy; the catalogue callables are lambdified from these
expressions, so ``iclc show`` prints what ``iclc eval`` computes.

>>> sp.simplify(alpha_star_expr() - 2 / (2 * TAU2 + MLO + MHI)) == 0
True
>>> sp.simplify(rho_star_expr() - (MHI - MLO) / (2 * TAU2 + MLO + MHI)) == 0
True
>>> push_through_check() and neumann_check() and ca_recursion_check() and alpha_T_foc_check()
True
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from icl_companion.theory.closed_form import DOUBLE_MAX, register_closed_form
from icl_companion.theory.registry import (NOT_NUMBERED, Reference, Result, choice, integer, matrix,
                             real, register, vector)

__all__ = [
    "alpha_star_expr", "rho_star_expr", "layers_needed", "alpha_T_expr", "alpha_T",
    "chebyshev_steps", "chebyshev_residual_check", "push_through_check", "bayes_risk_form_check",
    "bayes_predictor", "bayes_risk", "neumann_check", "ca_recursion_check", "ca_closed_form_expr",
    "alpha_T_foc_check", "lsa_normal_equation_check", "lsa_fixed_direction_exprs", "lsa_gap",
    "isotropic_one_layer_check", "no_shift_gap_check", "zfb_no_shift_risk", "ca_excess_term_expr",
    "STATUS_NOTE",
]

STATUS_NOTE = ("reconstructed model (arXiv:2602.04872: only the abstract and secondary summaries "
               "were available); not confirmed against the paper body")

A, B, LAM, TAU2, MLO, MHI = sp.symbols("alpha beta lambda tau2 m_lo m_hi", positive=True)
T = sp.Symbol("T", positive=True, integer=True)
t = sp.Symbol("t", integer=True, nonnegative=True)
EPS = sp.Symbol("epsilon", positive=True)
L1, L2, W1, W2, R = sp.symbols("lambda1 lambda2 w1 w2 r", positive=True)
G2 = sp.Symbol("g2", nonnegative=True)
P = sp.Symbol("p", nonnegative=True)


def _ref(anchor: str, *cites: str, where: str = NOT_NUMBERED) -> Reference:
    """Derived for the reconstructed model on ``docs/derivations/xattn.md#<anchor>``."""
    return Reference("xattn", where, f"docs/derivations/xattn.md#{anchor}", cites)


# ------------------------------------------------------------------------ Bayes predictor and risk
def push_through_check(d: int = 3, k: int = 2) -> bool:
    """SymPy proof of the push-through identity used for the Bayes predictor.

    ``(tau2 I_d + Gamma Gamma^T) Gamma = Gamma (tau2 I_k + Gamma^T Gamma)`` holds as a matrix
    expression identity (checked symbolically with ``MatrixSymbol``), hence
    ``(tau2 I + Gamma Gamma^T)^-1 Gamma = Gamma (tau2 I + Gamma^T Gamma)^-1``.  For certainty it is
    also expanded entrywise for a generic ``d x k`` matrix of symbols.

    References
    ----------
    ``docs/derivations/xattn.md#bayes-predictor-and-risk`` (push-through / Woodbury form).
    """
    n, m = sp.symbols("n m", integer=True, positive=True)
    G = sp.MatrixSymbol("Gamma", n, m)
    lhs = (TAU2 * sp.Identity(n) + G * G.T) * G
    rhs = G * (TAU2 * sp.Identity(m) + G.T * G)
    abstract = sp.simplify((lhs - rhs).expand()) == sp.ZeroMatrix(n, m)
    Gm = sp.Matrix(d, k, lambda i, j: sp.Symbol(f"g{i}{j}"))
    concrete = ((TAU2 * sp.eye(d) + Gm * Gm.T) * Gm - Gm * (TAU2 * sp.eye(k) + Gm.T * Gm)).expand()
    return bool(abstract and concrete == sp.zeros(d, k))


def bayes_risk_form_check() -> bool:
    """SymPy: ``Var(y) - s^T Sigma^-1 s = sigma2 + tau2 beta^T (tau2 I + Gamma^T Gamma)^-1 beta``.

    Checked exactly for a generic ``2 x 1`` loading and for a generic ``2 x 2`` loading (symbols),
    using ``Var(y) = sigma2 + |beta|^2``, ``s = Gamma beta``, ``Sigma = tau2 I + Gamma Gamma^T``.

    References
    ----------
    ``docs/derivations/xattn.md#bayes-predictor-and-risk``:
    ``Cov(u | x) = tau2 (tau2 I + Gamma^T Gamma)^-1``.
    """
    s2 = sp.Symbol("sigma2", nonnegative=True)
    ok = True
    for d, k in ((2, 1), (2, 2)):
        Gm = sp.Matrix(d, k, lambda i, j: sp.Symbol(f"g{i}{j}"))
        b = sp.Matrix(k, 1, lambda i, j: sp.Symbol(f"b{i}"))
        Sigma = TAU2 * sp.eye(d) + Gm * Gm.T
        s = Gm * b
        lhs = s2 + (b.T * b)[0] - (s.T * Sigma.LUsolve(s))[0]
        rhs = s2 + TAU2 * (b.T * (TAU2 * sp.eye(k) + Gm.T * Gm).LUsolve(b))[0]
        ok &= sp.cancel(sp.together(lhs - rhs)) == 0
    return bool(ok)


def bayes_predictor(Gamma, beta, tau2: float = 1.0) -> np.ndarray:
    """Bayes coefficient ``w = Sigma^-1 s = Gamma (tau2 I_k + Gamma^T Gamma)^-1 beta`` (k x k solve).

    >>> bayes_predictor([[1.0], [1.0]], [1.0]).round(6).tolist()
    [0.333333, 0.333333]

    References
    ----------
    ``docs/derivations/xattn.md#bayes-predictor-and-risk`` (reconstructed latent factor model),
    push-through form.
    """
    return np.asarray(bayes_risk(Gamma, beta, 0.0, tau2)["w"])


def bayes_risk(Gamma, beta, sigma2: float = 0.0, tau2: float = 1.0) -> dict:
    """Infinite-context Bayes risk ``sigma2 + tau2 beta^T (tau2 I + Gamma^T Gamma)^-1 beta``.

    Returns the risk, the explained variance ``w^T s`` and the Bayes coefficient ``w``, plus the
    diagnostics ``success`` and ``residual`` (the a-priori relative error ``k eps cond(K)`` of the
    symmetric eigensolver applied to ``K = tau2 I + Gamma^T Gamma``).  ``Gamma`` is rescaled by its
    largest entry first (``K`` is then formed without overflow); a risk beyond the double range is
    refused with a ``ValueError``.

    >>> round(bayes_risk([[1.0], [1.0]], [1.0])["risk"], 12)
    0.333333333333

    References
    ----------
    ``docs/derivations/xattn.md#bayes-predictor-and-risk`` (reconstructed):
    ``R_j = Var(y_q | x_q, task)``.
    """
    G = np.atleast_2d(np.asarray(Gamma, dtype=float))
    b = np.asarray(beta, dtype=float).ravel()
    g = float(np.max(np.abs(G)))
    g = g if g > 1e150 else 1.0                   # rescale only where Gamma^T Gamma would overflow
    Gs = G / g                                    # K = g^2 (tau2/g^2 I + Gs^T Gs)
    with np.errstate(all="ignore"):
        ks, V = np.linalg.eigh(Gs.T @ Gs)
        ks = np.clip(ks, 0.0, None)
        gks = g * (g * ks)                        # eigenvalues of Gamma^T Gamma (0 stays 0)
        k = tau2 + gks                            # eigenvalues of K (inf when g^2 overflows)
        c = V.T @ b
        quad = float(np.sum(c * c * (tau2 / k)))  # tau2 beta^T K^-1 beta, each term >= 0
        risk = sigma2 + quad
        w = Gs @ (V @ (g * c / k))                # Gamma K^-1 beta
        share = 1 / (1 + tau2 / gks)              # gks / k in [0, 1] (0 where gks = 0)
        explained = float(np.sum(c * c * share))  # beta^T Gamma^T Gamma K^-1 beta
    if not (math.isfinite(risk) and math.isfinite(explained) and np.all(np.isfinite(w))):
        raise ValueError(f"the Bayes risk or coefficients leave the double-precision range at "
                         f"these inputs (|Gamma| up to {g:.3g}, |beta| up to "
                         f"{float(np.max(np.abs(b))):.3g}, sigma2 = {sigma2:.3g}); rescale them")
    err = float(len(k) * np.finfo(float).eps * k.max() / k.min())
    ok = err <= 1e-8
    out = {"risk": risk, "explained": explained, "w": w.tolist(), "success": ok, "residual": err}
    if not ok:
        out.update(status=4, message=f"K = tau2 I + Gamma^T Gamma is too ill-conditioned for double "
                                     f"precision: estimated relative error {err:.1e} > 1e-8")
    return out


# --------------------------------------------------------------------- single-layer LSA, L = inf
def lsa_normal_equation_check() -> bool:
    """SymPy: the gradient of one task's excess ``(G s - w)^T Sigma (G s - w)`` in ``G`` is
    ``2 (Sigma G s s^T - s s^T)`` when ``Sigma w = s``.

    Summing over tasks gives the normal equations ``E[Sigma G s s^T] = E[s s^T]``, i.e.
    ``E[s s^T (x) Sigma] vec G = vec E[s s^T]``
    (``docs/derivations/xattn.md#single-layer-lsa-gap``).  Checked for a generic 2 x 2 case.
    """
    Gm = sp.Matrix(2, 2, sp.symbols("G0:4"))
    a, b_, c = sp.symbols("S00 S01 S11")
    S = sp.Matrix([[a, b_], [b_, c]])
    s = sp.Matrix(sp.symbols("s0:2"))
    w = S.inv() * s
    e = Gm * s - w
    f = (e.T * S * e)[0]
    grad = sp.Matrix(2, 2, lambda i, j: sp.diff(f, Gm[i, j]))
    return sp.simplify(grad - 2 * (S * Gm * s * s.T - s * s.T)) == sp.zeros(2, 2)


@functools.lru_cache(maxsize=None)
def lsa_fixed_direction_exprs():
    """Closed forms for the fixed-direction family
    (``docs/derivations/xattn.md#single-layer-lsa-gap``), derived by SymPy.

    Model: ``x = c v u + eps``, ``|v| = 1``, ``y = u``, unit view noise, noiseless response, signal
    strength ``g2 = c^2`` random.  Per task ``lambda = 1 + g2``, ``s^2 = g2``, Bayes risk
    ``1/(1 + g2)``; a fixed LSA ``G`` acts on ``span(v)`` as ``gamma`` and its excess is
    ``E[g2 (1 + g2) gamma^2 - 2 gamma g2 + g2/(1 + g2)]``; minimising over ``gamma`` (SymPy solve)
    gives ``gamma* = E g2 / E[g2 (1 + g2)]`` and the gap
    ``E[g2/(1+g2)] - (E g2)^2 / E[g2 (1 + g2)]``.

    Expectations are exact symbolic integrals: ``g2 ~ U[m_lo, m_hi]`` (``uniform``) and
    ``g2 = m_lo`` w.p. ``p``, ``m_hi`` w.p. ``1 - p`` (``two_point``).

    Returns
    -------
    dict
        ``{dist: {"gap", "gamma_star", "bayes_risk"}}`` of SymPy expressions.

    References
    ----------
    ``docs/derivations/xattn.md#single-layer-lsa-gap`` (fixed-direction family), reconstructed
    model; Zhang, Frei, Bartlett (2024), §4.3 for the unimodal ancestor.
    """
    gam = sp.Symbol("gamma")

    def expect_uniform(f):
        return sp.simplify(sp.integrate(f, (G2, MLO, MHI)) / (MHI - MLO))

    def expect_two(f):
        return P * f.subs(G2, MLO) + (1 - P) * f.subs(G2, MHI)

    out = {}
    for name, E in (("uniform", expect_uniform), ("two_point", expect_two)):
        excess = E(G2 * (1 + G2)) * gam**2 - 2 * gam * E(G2) + E(G2 / (1 + G2))
        (g_star,) = sp.solve(sp.diff(excess, gam), gam)
        gap = sp.simplify(excess.subs(gam, g_star))
        out[name] = {"gap": gap, "gamma_star": sp.simplify(g_star),
                     "bayes_risk": sp.simplify(E(1 / (1 + G2)))}
    return out


@functools.lru_cache(maxsize=None)
def _lsa_gap_mp():
    from icl_companion.theory.precompute import derived

    return derived("xattn.lsa_fixed_direction")  # lsa_fixed_direction_exprs, mpmath (m_lo, m_hi, p)


def lsa_gap(dist: str, m_lo: float, m_hi: float, p: float = 0.5) -> dict:
    """Infinite-context excess risk of the best single-layer LSA over Bayes (fixed-direction family).

    Evaluated from the SymPy expressions of :func:`lsa_fixed_direction_exprs` in 50-digit mpmath
    (the uniform form has a removable singularity at ``m_lo = m_hi``, where the gap is 0).

    >>> round(lsa_gap("two_point", 1, 3)["gap"], 12) == round(0.625 - 4 / 7, 12)
    True
    >>> round(lsa_gap("uniform", 1, 3)["gamma_star"], 10) == round(6 / 19, 10)
    True

    References
    ----------
    ``docs/derivations/xattn.md#single-layer-lsa-gap`` (reconstructed model).
    """
    import mpmath as mp

    if dist not in ("uniform", "two_point"):
        raise ValueError(f"dist = {dist!r} is not allowed; choose uniform or two_point")
    degenerate = m_lo == m_hi or (dist == "two_point" and p in (0.0, 1.0))
    g_eff = m_lo if (dist == "two_point" and p == 1.0) else m_hi
    if degenerate:  # a single signal strength: gamma = 1/(1 + g2) is exact, gap 0 (limit)
        return {"gap": 0.0, "gamma_star": 1.0 / (1.0 + g_eff), "bayes_risk": 1.0 / (1.0 + g_eff),
                "lsa_risk": 1.0 / (1.0 + g_eff)}
    with mp.workdps(50):
        f = _lsa_gap_mp()[dist]
        vals = {q: f[q](mp.mpf(m_lo), mp.mpf(m_hi), mp.mpf(p)) for q in f}
        out = {q: float(v) for q, v in vals.items()}
        out["lsa_risk"] = float(vals["bayes_risk"] + vals["gap"])
    return out


# ----------------------------------------------------------------------- CA recursion, closed form
def neumann_check() -> bool:
    """SymPy: ``alpha sum_{t<T} (1 - alpha lambda)^t = (1 - (1 - alpha lambda)^T)/lambda``.

    Per eigenvalue of the (symmetric) ``Sigma``, this is the truncated Neumann series
    ``alpha sum_{t<T} (I - alpha Sigma)^t = Sigma^-1 (I - (I - alpha Sigma)^T)``
    (``docs/derivations/xattn.md#cross-attention-recursion``).
    """
    lhs = sp.summation(A * (1 - A * LAM) ** t, (t, 0, T - 1))
    rhs = (1 - (1 - A * LAM) ** T) / LAM
    return sp.simplify(sp.piecewise_fold(lhs).args[-1][0] - rhs) == 0 if isinstance(
        lhs, sp.Piecewise) else sp.simplify(lhs - rhs) == 0


@functools.lru_cache(maxsize=None)
def ca_closed_form_expr():
    """Depth-T CA coefficient per eigen-direction, from ``rsolve`` of the layer recursion.

    Recursion (``docs/derivations/xattn.md#cross-attention-recursion``, reconstructed):
    ``w_{t+1} = (I + beta Sigma_hat) w_t + alpha s_hat``, ``w_0 = 0``.  Along an eigenvector with
    eigenvalue ``lambda`` and with ``q_t = w_t / w`` (``w = s/lambda``):
    ``q_{t+1} = (1 + beta lambda) q_t + alpha lambda``.  Returns ``q_T``.
    """
    q = sp.Function("q")
    sol = sp.rsolve(q(t + 1) - (1 + B * LAM) * q(t) - A * LAM, q(t), {q(0): 0})
    return sp.simplify(sol.subs(t, T))


def ca_recursion_check() -> bool:
    """SymPy: the rsolve solution equals ``(alpha/(-beta)) (1 - (1 + beta lambda)^T)``, and with
    ``beta = -alpha`` it is the Neumann form ``1 - (1 - alpha lambda)^T``
    (``docs/derivations/xattn.md#cross-attention-recursion``)."""
    q = ca_closed_form_expr()
    two = sp.simplify(q - (A / (-B)) * (1 - (1 + B * LAM) ** T)) == 0
    one = sp.simplify(q.subs(B, -A) - (1 - (1 - A * LAM) ** T)) == 0
    return bool(two and one)


def ca_excess_term_expr():
    """Excess risk of one eigen-direction at L = inf: ``c (1 - alpha lambda)^(2T)``,
    ``c = (u^T s)^2 / lambda`` (``docs/derivations/xattn.md#excess-risk-per-eigen-direction``).
    The total is the task average of the sum."""
    c = sp.Symbol("c", nonnegative=True)
    return c * (1 - A * LAM) ** (2 * T)


@functools.lru_cache(maxsize=None)
def alpha_star_expr():
    """Minimax step from equalising the spectrum endpoints
    (``docs/derivations/xattn.md#minimax-step-and-contraction``).

    ``max_{lambda in [tau2 + m_lo, tau2 + m_hi]} |1 - alpha lambda|`` is minimised where
    ``1 - alpha (tau2 + m_lo) = alpha (tau2 + m_hi) - 1`` (SymPy ``solve``); with ``tau2 = 1`` this is
    the paper's ``alpha* = 2/(2 + m_lo + m_hi)`` [READ].

    References
    ----------
    Barnfield, Sen, Sur (2026), abstract / summaries: ``alpha* = 2/(2 + m_lo + m_hi)``;
    classical optimal Richardson step (Saad, Iterative Methods, ch. 12).
    """
    (sol,) = sp.solve(sp.Eq(1 - A * (TAU2 + MLO), A * (TAU2 + MHI) - 1), A)
    return sp.simplify(sol)


@functools.lru_cache(maxsize=None)
def rho_star_expr():
    """Worst-case contraction at ``alpha*``: ``1 - alpha* (tau2 + m_lo)``
    (``docs/derivations/xattn.md#minimax-step-and-contraction``)."""
    return sp.simplify((1 - A * (TAU2 + MLO)).subs(A, alpha_star_expr()))


def _log_ratio_iv(m_lo, m_hi, eps, tau2):
    """``log(eps) / log(rho*)`` in interval arithmetic, with ``1 - rho* = 2 (tau2 + m_lo) /
    (2 tau2 + m_lo + m_hi)`` exactly: ``log(rho*) = log1p(-(1 - rho*))`` keeps its digits when
    ``rho*`` is within rounding of 1 (``m_hi = 1e17 m_lo``: a double ``rho*`` is 1.0, and the old
    ``log(eps)/log(rho*)`` divided by zero)."""
    from mpmath import iv

    delta = 2 * (tau2 + m_lo) / (2 * tau2 + m_lo + m_hi)
    return iv.log(eps) / iv.log1p(-delta)


#: Relative tolerance under which ``log(eps)/log(rho*)`` counts as the integer just below it.
_GUARD = 2.0 ** -50


def layers_needed(m_lo: float, m_hi: float, eps: float, tau2: float = 1.0) -> int:
    """Smallest depth ``T >= 1`` with ``rho*^T <= eps`` (relative coefficient accuracy).

    ``|w_T - w| <= rho*^T |w|`` at ``alpha*`` and ``L = inf``, so
    ``T(eps) = ceil(log(1/eps) / log(1/rho*))``; ``T = 1`` when ``rho* = 0`` (isotropic signal).
    The ratio is evaluated in interval arithmetic (:func:`_log_ratio_iv`); a depth beyond the
    double range is refused with a ``ValueError``.  A ratio less than ``2^-50`` (relative) above
    an integer ``n`` gives ``n``: the inputs are doubles rounded from what was typed, and
    ``eps = 1/9`` at ``rho* = 1/3`` means ``rho*^2 = eps`` (the double ``1/9`` is 6e-18 smaller).

    >>> layers_needed(1, 3, 1e-3)
    7

    References
    ----------
    ``docs/derivations/xattn.md#depth-needed``.
    """
    from mpmath import ceil, iv, mp, mpf, nstr

    if m_lo == m_hi:  # rho* = 0: one layer is exact
        return 1
    dps, old = 20, iv.dps
    try:
        while True:  # narrow the enclosure of x until its ceiling is decided
            iv.dps = dps
            with mp.workdps(dps):  # the endpoints keep every digit of the enclosure
                x = _log_ratio_iv(*(iv.mpf(v) for v in (m_lo, m_hi, eps, tau2))) * (1 - _GUARD)
                lo, hi = mpf(x.a), mpf(x.b)
                if lo > DOUBLE_MAX:
                    raise ValueError(f"the depth is about {nstr(lo, 3)}, beyond the double range")
                n_lo, n_hi = int(ceil(lo)), int(ceil(hi))
            if n_lo == n_hi:
                return max(1, n_lo)
            if dps > 5000:
                return max(1, n_lo)
            dps *= 2
    finally:
        iv.dps = old


def _layers_display():
    rho = sp.Symbol("rho^*")
    return sp.Max(1, sp.ceiling(sp.log(1 / EPS) / sp.log(1 / rho)))


def chebyshev_steps(m_lo: float, m_hi: float, T: int, tau2: float = 1.0) -> np.ndarray:
    """Per-layer steps of Chebyshev-Richardson: reciprocals of the Chebyshev nodes of the spectrum.

    ``alpha_t = 1 / (c + h cos((2t - 1) pi / (2T)))``, ``c = tau2 + (m_lo + m_hi)/2``,
    ``h = (m_hi - m_lo)/2``, ``t = 1..T``; then ``prod_t (1 - alpha_t lambda) =
    T_T((c - lambda)/h) / T_T(c/h)``, the minimax degree-T residual polynomial
    (checked in :func:`chebyshev_residual_check`).

    >>> chebyshev_steps(1, 3, 1).round(6).tolist()
    [0.333333]

    References
    ----------
    ``docs/derivations/xattn.md#depth-needed`` (per-layer steps); Saad, Iterative Methods for Sparse
    Linear Systems, chapter 12.
    """
    if T < 1:
        raise ValueError(f"T = {T} is outside the allowed domain: an integer >= 1")
    c = tau2 + 0.5 * (m_lo + m_hi)
    h = 0.5 * (m_hi - m_lo)
    tt = np.arange(1, T + 1)
    return 1.0 / (c + h * np.cos((2 * tt - 1) * np.pi / (2 * T)))


def chebyshev_residual_check(T_: int = 3) -> bool:
    """SymPy: with the Chebyshev steps the residual polynomial is ``T_T((c - lambda)/h)/T_T(c/h)``."""
    c, h = sp.symbols("c h", positive=True)
    steps = [1 / (c + h * sp.cos(sp.pi * (2 * j - 1) / (2 * T_))) for j in range(1, T_ + 1)]
    prod = sp.prod([1 - a * LAM for a in steps])
    cheb = sp.chebyshevt(T_, (c - LAM) / h) / sp.chebyshevt(T_, c / h)
    return sp.simplify(sp.expand(sp.nsimplify(prod) - cheb)) == 0 or all(
        abs(complex(sp.N((prod - cheb).subs({c: 3, h: 1, LAM: v})))) < 1e-12
        for v in (2.0, 2.5, 3.3, 4.0))


@functools.lru_cache(maxsize=None)
def alpha_T_expr():
    """Exact trained shared step for a two-point spectrum
    (``docs/derivations/xattn.md#trained-step-for-a-two-point-spectrum``).

    Minimiser of ``w1 (1 - alpha lambda1)^(2T) + w2 (1 - alpha lambda2)^(2T)`` (strictly convex in
    alpha for ``lambda1 != lambda2``): the first-order condition gives
    ``(1 - alpha lambda1)/(alpha lambda2 - 1) = r = (w2 lambda2/(w1 lambda1))^(1/(2T-1))``, solved
    for alpha by SymPy.  ``w_i = p_i (u_i^T s)^2 / lambda_i``.
    """
    (sol,) = sp.solve(sp.Eq(1 - A * L1, R * (A * L2 - 1)), A)
    r_T = (W2 * L2 / (W1 * L1)) ** (1 / (2 * T - 1))
    return sp.simplify(sol).subs(R, r_T)


def alpha_T_foc_check() -> bool:
    """SymPy: the closed form zeroes the derivative of the two-point objective, and tends to
    ``2/(lambda1 + lambda2)`` as T -> inf.

    With ``alpha(r) = (1 + r)/(lambda1 + r lambda2)``: ``1 - alpha lambda1 = r (alpha lambda2 - 1)``,
    so ``d f/d alpha = -2T (alpha lambda2 - 1)^(2T-1) [w1 lambda1 r^(2T-1) - w2 lambda2]``, which
    vanishes because ``r^(2T-1) = w2 lambda2/(w1 lambda1)``.  Both facts are checked by SymPy, and
    the derivative is also checked directly at a rational point for T = 1..4.
    """
    (a_r,) = sp.solve(sp.Eq(1 - A * L1, R * (A * L2 - 1)), A)
    ok = sp.simplify((1 - a_r * L1) - R * (a_r * L2 - 1)) == 0
    r_T = (W2 * L2 / (W1 * L1)) ** (1 / (2 * T - 1))
    ok &= sp.simplify(sp.powdenest(r_T ** (2 * T - 1), force=True) - W2 * L2 / (W1 * L1)) == 0
    f = W1 * (1 - A * L1) ** (2 * T) + W2 * (1 - A * L2) ** (2 * T)
    pt = {L1: 2, L2: 4, W1: sp.Rational(1, 2), W2: sp.Rational(3, 8)}
    for TT in range(1, 5):
        a_T = alpha_T_expr().subs(pt).subs(T, TT)
        ok &= abs(sp.N(sp.diff(f.subs(T, TT), A).subs(pt).subs(A, a_T), 40)) < 1e-30
    lim = sp.limit(alpha_T_expr(), T, sp.oo)
    return bool(ok and sp.simplify(lim - 2 / (L1 + L2)) == 0)


def alpha_T(lambda1: float, lambda2: float, w1: float, w2: float, T: int) -> float:
    """Depth-T trained shared step for a two-point spectrum (see :func:`alpha_T_expr`).

    ``alpha_T = (1 + r)/(lambda1 + r lambda2)`` with ``log r = (log(w2 lambda2) - log(w1 lambda1))
    / (2T - 1)``, evaluated in logs (each factor separately, so that ``w lambda`` cannot overflow),
    with ``r`` or ``1/r`` (whichever is <= 1) and the eigenvalues scaled by the larger one: no
    intermediate overflows for any inputs of the domain.  A step beyond the double range is
    refused with a ``ValueError``.

    >>> round(alpha_T(2, 4, 1, 1, 1), 12) == round(6 / 20, 12)
    True
    """
    x = (math.log(w2) + math.log(lambda2) - math.log(w1) - math.log(lambda1)) / (2.0 * T - 1.0)
    top = max(lambda1, lambda2)
    l1, l2 = lambda1 / top, lambda2 / top
    if x > 0:  # r > 1: divide through by r
        q = math.exp(-x)
        a = (q + 1) / (l1 * q + l2)
    else:
        q = math.exp(x)
        a = (1 + q) / (l1 + q * l2)
    value = a / top
    if not math.isfinite(value):
        raise ValueError(f"alpha_T is about {a:.3g}/{top:.3g}, beyond the double-precision range")
    return value


# ------------------------------------------------------------------------------------- reductions
def isotropic_one_layer_check(d: int = 3, k: int = 2) -> bool:
    """SymPy: if ``Gamma^T Gamma = m I_k`` (isotropic signal, ``m_lo = m_hi = m``), one CA layer with
    ``alpha* = 1/(tau2 + m)`` returns ``w_1 = alpha* s = Sigma^-1 s`` exactly, and ``rho* = 0``.

    Checked with ``Gamma = sqrt(m) Q`` for an explicit rational orthonormal ``Q`` (3 x 2)."""
    m = sp.Symbol("m", positive=True)
    Q = sp.Matrix([[sp.Rational(1, 3), sp.Rational(2, 3)], [sp.Rational(2, 3), sp.Rational(1, 3)],
                   [sp.Rational(2, 3), -sp.Rational(2, 3)]])
    assert Q.T * Q == sp.eye(2)
    G = sp.sqrt(m) * Q
    bvec = sp.Matrix(sp.symbols("b0:2"))
    Sigma = TAU2 * sp.eye(3) + G * G.T
    s = G * bvec
    a_star = alpha_star_expr().subs({MLO: m, MHI: m})
    exact = sp.simplify(Sigma * (a_star * s) - s) == sp.zeros(3, 1)
    return bool(exact and sp.simplify(rho_star_expr().subs({MLO: m, MHI: m})) == 0)


def no_shift_gap_check() -> bool:
    """SymPy: with no covariate shift (one ``Sigma`` for all tasks) ``G = Sigma^-1`` solves the
    normal equations ``E[Sigma G s s^T] = E[s s^T]`` whatever the law of ``s``: the LSA gap is 0
    (``docs/derivations/xattn.md#reductions``).  Generic symmetric 2 x 2 ``Sigma`` and second
    moment ``M = E[s s^T]``."""
    a, b_, c, m0, m1, m2 = sp.symbols("S00 S01 S11 M00 M01 M11")
    S = sp.Matrix([[a, b_], [b_, c]])
    M = sp.Matrix([[m0, m1], [m1, m2]])
    return sp.simplify(S * S.inv() * M - M) == sp.zeros(2, 2)


def zfb_no_shift_risk(Gamma, N: int, M: int, tau2: float = 1.0) -> float:
    """ZFB reduction: one modality-stacked covariance ``Lambda = tau2 I + Gamma Gamma^T`` for every
    prompt (no covariate shift), Gaussian task ``w ~ N(0, I)`` with noiseless ``y = w^T x``: the
    gradient-flow single-layer LSA error is ``linear.lsa_zfb_risk(eig(Lambda), N, M)``, which
    tends to the (zero) infinite-context gap as ``N = M -> inf``
    (``docs/derivations/xattn.md#reductions``).

    References
    ----------
    Zhang, Frei, Bartlett, JMLR 25(49) 2024, Thm 4.1; ``docs/derivations/xattn.md#reductions``.
    """
    from icl_companion.theory.registry import evaluate

    G = np.atleast_2d(np.asarray(Gamma, dtype=float))
    lam = np.linalg.eigvalsh(tau2 * np.eye(G.shape[0]) + G @ G.T)
    return evaluate("linear.lsa_zfb_risk", lambdas=lam.tolist(), N=N, M=M).value


# --------------------------------------------------------------------------------------- registry
def _order(inp):
    if inp["m_lo"] > inp["m_hi"]:
        raise ValueError(f"m_lo = {inp['m_lo']:g} must be <= m_hi = {inp['m_hi']:g} "
                         f"(spectrum endpoints of Gamma^T Gamma)")


_TAU = real("tau2", 0, lo_open=True, default=1.0,
            doc="view-noise variance (reconstruction choice; the paper's '2' means tau2 = 1)")
_MLO = real("m_lo", 0, doc="lower bound of the spectrum of Gamma^T Gamma (>= 0)")
_MHI = real("m_hi", 0, doc="upper bound of the spectrum of Gamma^T Gamma (>= m_lo)")

register_closed_form(
    "xattn.alpha_star",
    "Minimax shared CA step alpha* = 2/(2 tau2 + m_lo + m_hi) (gradient-flow limit, T, L -> inf)",
    [_MLO, _MHI, _TAU], alpha_star_expr, lambda: (MLO, MHI, TAU2),
    _ref("minimax-step-and-contraction"),
    status="reconstructed", status_note=STATUS_NOTE + "; formula [READ] at tau2 = 1", check=_order,
    bounds={"value": (0, math.inf)})

register_closed_form(
    "xattn.rho_star",
    "Worst-case per-layer contraction of CA at alpha*: (m_hi - m_lo)/(2 tau2 + m_lo + m_hi)",
    [_MLO, _MHI, _TAU], rho_star_expr, lambda: (MLO, MHI, TAU2),
    _ref("minimax-step-and-contraction"), status="reconstructed", status_note=STATUS_NOTE,
    check=_order, bounds={"value": (0, 1)})


def _layers_result(m_lo, m_hi, eps, tau2):
    try:
        return layers_needed(m_lo, m_hi, eps, tau2)
    except (ValueError, OverflowError) as e:  # ceil of a depth beyond the double range
        raise ValueError(f"xattn.layers_needed: the depth is beyond the double-precision range "
                         f"({e})") from None


register(Result(
    "xattn.layers_needed",
    "CA depth T(eps) = ceil(log(1/eps)/log(1/rho*)) for relative coefficient error eps at L = inf",
    (_MLO, _MHI, real("eps", 0, 1, lo_open=True, hi_open=True, doc="target relative accuracy"),
     _TAU),
    _layers_result,
    _ref("depth-needed"), status="reconstructed", status_note=STATUS_NOTE,
    expression=_layers_display,
    definition="rho* = (m_hi - m_lo)/(2 tau2 + m_lo + m_hi); T = 1 when rho* = 0", check=_order,
    bounds={"value": (1, math.inf)}))


def _alpha_T_result(lambda1, lambda2, w1, w2, T):
    try:
        return alpha_T(lambda1, lambda2, w1, w2, T)
    except ValueError as e:
        raise ValueError(f"xattn.alpha_T: {e}") from None


register(Result(
    "xattn.alpha_T",
    "Trained shared CA step at depth T for a two-point spectrum (exact minimiser)",
    (real("lambda1", 0, lo_open=True, doc="first excited eigenvalue of Sigma"),
     real("lambda2", 0, lo_open=True, doc="second excited eigenvalue of Sigma"),
     real("w1", 0, lo_open=True, doc="weight p1 (u1^T s)^2/lambda1 > 0"),
     real("w2", 0, lo_open=True, doc="weight p2 (u2^T s)^2/lambda2 > 0"),
     integer("T", 1, doc="depth (number of CA layers)")),
    _alpha_T_result,
    _ref("trained-step-for-a-two-point-spectrum"), status="reconstructed", status_note=STATUS_NOTE,
    expression=alpha_T_expr,
    definition="argmin_alpha w1 (1 - alpha lambda1)^(2T) + w2 (1 - alpha lambda2)^(2T)",
    bounds=lambda inp: {"value": (1 / max(inp["lambda1"], inp["lambda2"]) * (1 - 1e-15),
                                  1 / min(inp["lambda1"], inp["lambda2"]) * (1 + 1e-15))}))


def _lsa_check(inp):
    _order(inp)
    if inp["m_hi"] <= 0:
        raise ValueError(f"m_hi = {inp['m_hi']:g} must be > 0 (some signal)")


def _lsa_display():
    return lsa_fixed_direction_exprs()["uniform"]["gap"]


register(Result(
    "xattn.lsa_gap",
    "Infinite-context excess risk of the best 1-layer LSA over Bayes, fixed-direction family",
    (choice("dist", ("uniform", "two_point"), doc="law of the signal strength g2"), _MLO, _MHI,
     real("p", 0, 1, default=0.5, doc="two_point: probability of g2 = m_lo")),
    lambda dist, m_lo, m_hi, p: lsa_gap(dist, m_lo, m_hi, p),
    _ref("single-layer-lsa-gap", where="abstract (single-layer LSA fails to recover the Bayes "
                                        "predictor uniformly over the task distribution)"),
    status="reconstructed", status_note=STATUS_NOTE + "; unit view noise, noiseless response",
    outputs=("gap", "gamma_star", "bayes_risk", "lsa_risk"), expression=_lsa_display,
    bounds={"gap": (0, 1), "gamma_star": (0, math.inf), "bayes_risk": (0, 1), "lsa_risk": (0, 1)},
    definition="shown: dist=uniform, g2 ~ U[m_lo, m_hi]; dist=two_point: g2 = m_lo w.p. p, m_hi "
               "w.p. 1 - p.  In both, gap = E[g2/(1+g2)] - (E g2)^2/E[g2 (1+g2)] (exact SymPy "
               "expectations), gamma_star = E g2/E[g2 (1+g2)], bayes_risk = E[1/(1+g2)], "
               "lsa_risk = bayes_risk + gap.", check=_lsa_check))


#: Largest Gamma (entries) accepted by ``xattn.bayes_risk``: eigh of the k x k Gram matrix.
BAYES_MAX_ENTRIES = 4_000_000
BAYES_MAX_K = 2000


def _bayes_check(inp):
    G = np.asarray(inp["Gamma"], dtype=float)
    if G.shape[1] != len(inp["beta"]):
        raise ValueError(f"Gamma has {G.shape[1]} columns but beta has length {len(inp['beta'])}; "
                         "Gamma must be d x k and beta of length k")
    if G.size > BAYES_MAX_ENTRIES or G.shape[1] > BAYES_MAX_K:
        raise ValueError(f"Gamma is {G.shape[0]} x {G.shape[1]}; allowed: at most "
                         f"{BAYES_MAX_ENTRIES} entries and k <= {BAYES_MAX_K} columns")


def _bayes_result(Gamma, beta, sigma2, tau2):
    try:
        return bayes_risk(Gamma, beta, sigma2, tau2)
    except ValueError as e:
        raise ValueError(f"xattn.bayes_risk: {e}") from None


def _bayes_display():
    n, k = sp.symbols("d k", integer=True, positive=True)
    G = sp.MatrixSymbol("Gamma", n, k)
    b = sp.MatrixSymbol("beta", k, 1)
    s2 = sp.Symbol("sigma2")
    return s2 + TAU2 * sp.Trace(b.T * (TAU2 * sp.Identity(k) + G.T * G).I * b)  # 1 x 1: a scalar


register(Result(
    "xattn.bayes_risk",
    "Infinite-context Bayes risk and coefficient w = Gamma (tau2 I + Gamma^T Gamma)^-1 beta",
    (matrix("Gamma", doc="stacked loadings [Gamma_bar; Gamma_tilde], d x k (rows split by ';')"),
     vector("beta", doc="response loading, length k"),
     real("sigma2", 0, default=0.0, doc="response noise variance"), _TAU),
    _bayes_result,
    _ref("bayes-predictor-and-risk"),
    status="reconstructed", status_note=STATUS_NOTE, outputs=("risk", "explained", "w"),
    expression=_bayes_display,
    definition="w = Sigma^-1 s = Gamma (tau2 I_k + Gamma^T Gamma)^-1 beta (push-through); "
               "explained = w^T s", check=_bayes_check,
    bounds=lambda inp: {"risk": (inp["sigma2"], math.inf), "explained": (0, math.inf)}))
