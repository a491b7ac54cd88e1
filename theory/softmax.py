"""Multi-head softmax attention learns debiased GD: closed forms (prefix ``softmax``).

He, Pan, Chen, Yang, "In-context linear regression demystified: training dynamics and mechanistic
interpretability of multi-head softmax attention", ICML 2025 (arXiv:2503.12734).  The paper body was
not available (its theorem and equation numbers are not known); the formulas are read from the
authors' blog post (github.com/Y-Agent/Y-Agent.github.io,
``content/posts/in_context_regression.md``, which numbers Theorem 1 and its figures) and code
(github.com/XintianPan/ICL_linear), and every derived step is written out in
``docs/derivations/softmax.md``.  Setting as in :mod:`icl_companion.theory.linear`:
``x_l ~ N(0, I_d)``, ``beta ~ N(0, I_d/d)``, ``y = x^T beta + eps``, ``eps ~ N(0, sigma2)``; risks
are ``E (yhat_q - y_q)^2`` and include ``sigma2``.

Everything is *derived* by SymPy from its ingredients and the registered callables are lambdified
from the same expressions:

* the reduced predictor (a sum of Nadaraya-Watson heads) and its Taylor series in the KQ scale,
  whose first order is the debiased GD predictor (:func:`nw_head_expr`, :func:`pair_series`,
  :func:`multihead_first_order_expr`);
* exact finite-(d, L) risks of one-step GD and debiased GD from Gaussian moments
  (:func:`projected_gd_risk_expr`; ``softmax.gd_risk`` *is* :func:`icl_companion.theory.linear.gd_risk_expr`),
  their minimisers (Theorem 1(2)) and minimum risks;
* the approximate population loss ``L~(omega, mu)`` for any number of heads ``H``, its gradient and
  Hessian, ``mu*(omega)``, the solution manifold ``mu_gamma``, the profile loss, the Taylor form and
  the series form of the gradient flow;
* the asymptotic Bayes risk (:func:`icl_companion.theory.linear.ridge_bayes_risk_expr`), the Theorem 1(3) ratio
  bound and its grid check, the single-head optimum, linear-attention length generalisation and
  the optimal linear-TF preconditioner for AR(1) covariates.

Public numerical entry points (used by the figures)::

    single_head_optimum(d, L, sigma2) -> (omega: float, mu: float)
    approx_loss(d, L, sigma2, omega, mu) -> float            # omega, mu: length-H sequences
    approx_loss_grad(d, L, sigma2, omega, mu) -> (grad_omega, grad_mu)   # numpy arrays (H,)
    approx_loss_hessian(d, L, sigma2, omega, mu) -> ndarray (2H, 2H), order (omega, mu)
    mu_star(d, L, sigma2, omega) -> ndarray (H,)              # minimum-norm minimiser
    mu_gamma(d, L, sigma2, gamma) -> float
    ar1_covariance(d, rho) -> ndarray (d, d)
    preconditioner(d, L, sigma2, rho) -> ndarray (d, d)

Examples
--------
>>> sp.factor(eta_star_expr() - 1 / (1 + (1 + SIGMA2) * D / L))
0
>>> omega, mu = single_head_optimum(5, 40, 0.1)
>>> round(omega, 12) == round(5 ** -0.5, 12), round(mu, 6)
(True, 1.627695)
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from icl_companion.theory import linear as tl
from icl_companion.theory.linear import D, ETA, L, SIGMA2, XI
from icl_companion.theory.closed_form import register_closed_form
from icl_companion.theory.linear import risk_bounds
from icl_companion.theory.registry import (NOT_NUMBERED, Reference, Result, integer, real, register,
                             vector)

__all__ = [
    # reduced predictor
    "nw_head_expr", "taylor_coefficients", "pair_series", "dgd_predictor_expr",
    "nw_cumulant_coefficients",
    "multihead_first_order_expr",
    # exact risks
    "projected_gd_moments", "projected_gd_risk_expr", "dgd_risk_expr", "gd_risk_expr",
    "eta_star_expr", "dgd_min_risk_expr", "gd_eta_star_expr", "gd_min_risk_expr",
    # approximate loss
    "omega_symbols", "mu_symbols", "approx_loss_expr", "approx_loss_grad_expr",
    "approx_loss_hessian_expr", "mu_quadratic_form_expr", "mu_star_expr", "taylor_form_expr",
    "full_lambdified", "pair_term_expr",
    "series_flow_expr", "approx_loss", "approx_loss_grad", "approx_loss_hessian", "mu_star",
    "mu_gamma_expr", "profile_loss_expr", "mu_gamma", "profile_loss",
    "approx_loss_step_limit_expr", "approx_loss_gamma_term_expr", "approx_loss_centring_gap_expr",
    # Bayes, ratio bound, single head, length generalisation, preconditioner
    "bayes_risk_expr", "dgd_risk_asym_expr", "ratio_bound_expr", "ratio_expr",
    "ratio_bound_grid", "single_head_profile_expr", "single_head_optimum_expr",
    "single_head_optimum", "linear_length_risk_expr", "ar1_covariance",
    "preconditioner_from_moments", "preconditioner_closed_form", "preconditioner",
    "preconditioner_eig", "PRECONDITIONER_MAX_D", "certified_approx_loss", "MAX_HEADS",
    "preconditioned_gd_risk", "preconditioned_min_risk",
    "GAMMA", "MU", "OMEGA", "L_TRAIN", "L_TEST", "RHO",
]

GAMMA = sp.Symbol("gamma", positive=True)
MU, OMEGA, W = sp.symbols("mu omega w", real=True)
L_TRAIN, L_TEST = sp.symbols("L_train L_test", positive=True, integer=True)
RHO = sp.Symbol("rho", real=True)
C_NOISE = (1 + SIGMA2) / L  # the variance factor (1 + sigma2)/L of the approximate loss


# =============================================================================================
# 1. The reduced predictor and its expansion to debiased GD (derivations: softmax.md)
# =============================================================================================
def _prompt_symbols(n: int):
    """Symbols ``y_1..y_n`` (context responses) and ``s_1..s_n`` (``s_l = x_l^T x_q``)."""
    y = sp.symbols(f"y_1:{n + 1}", real=True)
    s = sp.symbols(f"s_1:{n + 1}", real=True)
    return y, s


def nw_head_expr(n: int, w=W):
    """One softmax head with KQ scale ``w`` on a prompt of ``n`` context tokens (symbolic ``n``-term).

    ``NW_w = sum_l y_l exp(w s_l) / sum_k exp(w s_k)`` with ``s_l = x_l^T x_q``: the Nadaraya-Watson
    regressor with exponential kernel that a head with ``KQ = [[w I, *], [0, *]]`` and last-entry
    OV computes.

    References
    ----------
    He et al. (2025), reduced predictor ``TFEst.Est``;
    ``docs/derivations/softmax.md#reduced-predictor``.
    """
    y, s = _prompt_symbols(n)
    den = sum(sp.exp(w * sk) for sk in s)
    return sum(yl * sp.exp(w * sl) for yl, sl in zip(y, s)) / den


def taylor_coefficients(expr, var, order: int) -> list:
    """Taylor coefficients ``[c_0, ..., c_order]`` of ``expr`` at ``var = 0`` (by differentiation)."""
    out, cur = [], expr
    for k in range(order + 1):
        # at var = 0 the exponentials are 1 and the coefficient is rational: cancel is exact
        out.append(sp.expand(sp.cancel(cur.subs(var, 0)) / sp.factorial(k)))
        cur = sp.diff(cur, var)
    return out


def dgd_predictor_expr(n: int, eta=ETA):
    """Debiased one-step GD ``(eta/n) sum_l y_l (x_l - xbar)^T x_q`` in the ``s_l`` symbols.

    References
    ----------
    He et al. (2025), ``TFEst.DGDEst``; ``docs/derivations/softmax.md#small-kq-scale-debiased-gd``.
    """
    y, s = _prompt_symbols(n)
    sbar = sum(s) / n
    return sp.expand(eta / n * sum(yl * (sl - sbar) for yl, sl in zip(y, s)))


@functools.lru_cache(maxsize=None)
def pair_series(n: int, order: int = 3):
    """Series in ``gamma`` of the 2-head predictor on the solution manifold at fixed step ``eta``.

    Heads ``omega = (gamma, -gamma)``, ``mu = (eta/(2 gamma), -eta/(2 gamma))``:
    ``yhat = eta/(2 gamma) (NW_gamma - NW_-gamma)``.  The difference is odd in ``gamma``, so
    ``yhat = eta c_1 + eta c_3 gamma^2 + O(gamma^4)`` with ``c_k`` the Taylor coefficients of
    ``NW_w``; ``eta c_1`` is the debiased GD predictor (Theorem 1(1): ``gamma -> 0`` recovers it).

    Returns the list of coefficients of ``gamma^0, gamma^1, ..., gamma^(order-1)``.

    References
    ----------
    He et al. (2025), Theorem 1(1) of the authors' blog post (not numbered in the paper sources);
    ``docs/derivations/softmax.md#small-kq-scale-debiased-gd``.
    """
    c = taylor_coefficients(nw_head_expr(n), W, order + 1)
    # eta/(2 gamma) * sum_k c_k (gamma^k - (-gamma)^k) = eta * sum_{k odd} c_k gamma^(k-1)
    coeffs = [sp.Integer(0)] * order
    for k in range(1, order + 1):
        if k % 2 == 1 and k - 1 < order:
            coeffs[k - 1] = sp.expand(ETA * c[k])
    return coeffs


def nw_cumulant_coefficients(n: int):
    """``(c_1, c_3)`` of ``NW_w`` in cumulant form, valid for every ``n`` (checked against
    :func:`taylor_coefficients` in the tests).

    ``NW_w`` is the mean of ``y_l`` under the tilted law ``p_w(l) ~ exp(w s_l)``, so its ``k``-th
    derivative at ``w = 0`` is the joint cumulant ``kappa(y, s, ..., s)`` (``k`` copies of ``s``) under
    the uniform law on ``l``: ``c_1 = mean(y~ s~)`` (the debiased GD term) and
    ``c_3 = (mean(y~ s~^3) - 3 mean(y~ s~) mean(s~^2)) / 6`` (centred ``y~``, ``s~``).  ``eta c_3``
    is the ``gamma^2`` coefficient of :func:`pair_series`.

    References
    ----------
    He et al. (2025), Theorem 1(1) of the authors' blog post; the cumulant form is derived here,
    ``docs/derivations/softmax.md#small-kq-scale-debiased-gd``.
    """
    y, s = _prompt_symbols(n)
    ybar, sbar = sum(y) / n, sum(s) / n
    yc = [v - ybar for v in y]
    sc = [v - sbar for v in s]

    def mean(vals):
        return sum(vals) / n

    c1 = mean([a * b for a, b in zip(yc, sc)])
    c3 = (mean([a * b**3 for a, b in zip(yc, sc)]) - 3 * c1 * mean([b**2 for b in sc])) / 6
    return sp.expand(c1), sp.expand(c3)


@functools.lru_cache(maxsize=None)
def multihead_first_order_expr(n: int, H: int):
    """First order in the KQ scale of ``sum_h mu_h NW_{omega_h}`` (``omega -> t omega``, ``t -> 0``).

    Equals ``<mu, omega>/n sum_l y_l (s_l - sbar) + <mu, 1> ybar``: debiased GD with step
    ``<mu, omega>`` plus the "bias" ``<mu, 1> ybar`` removed by the zero-sum OV.

    References
    ----------
    He et al. (2025), first-order expansion (the authors' blog post);
    ``docs/derivations/softmax.md#small-kq-scale-debiased-gd``.
    """
    t = sp.Symbol("t", real=True)
    om, mu = omega_symbols(H), mu_symbols(H)
    total = sum(m * nw_head_expr(n, t * w) for m, w in zip(mu, om))
    c = taylor_coefficients(total, t, 1)
    return sp.expand(c[0] + c[1])


# =============================================================================================
# 2. Exact finite-(d, L) risks of one-step GD and debiased GD (derived here)
# =============================================================================================
def projected_gd_moments(rank):
    """``(E<g, beta>, E|g|^2)`` for ``g = (1/L) X^T P y`` with ``P`` an ``L x L`` projection of rank ``r``.

    Derivation from Gaussian moments (:func:`icl_companion.theory.linear.gd_moments`, ``E x^4 = 3``, ``E x^2 = 1``):
    ``X^T P X`` has the law of ``W = sum_{i <= r} z_i z_i^T`` with ``z_i ~ N(0, I_d)`` (rotate ``P``
    to a coordinate projection), so ``E W = r I`` and ``E W^2 = r (E x^4 + (d-1)(E x^2)^2) I +
    r (r-1) I``; the noise part gives ``E|X^T P eps|^2 = sigma2 d r``; ``E|beta|^2 = 1``.
    ``P = I`` (``r = L``) is one-step GD, the centring ``P = I - 11^T/L`` (``r = L - 1``) is debiased
    GD, since ``sum_l y_l (x_l - xbar) = X^T (I - 11^T/L) y``.

    References
    ----------
    He et al. (2025), GD and debiased GD estimators ``TFEst.GDEst``/``DGDEst``; moments derived
    here, ``docs/derivations/softmax.md#exact-risks-of-one-step-gd-and-debiased-gd``.
    """
    m4, m2 = tl.gd_moments()
    r = sp.sympify(rank)
    b2 = 1  # E|beta|^2 for beta ~ N(0, I/d)
    e_zz = m4 + (D - 1) * m2**2          # E |z|^2 z z^T = e_zz I
    e_w2 = r * e_zz + r * (r - 1) * m2**2  # E W^2 = e_w2 I
    e_gb = r * m2 * b2 / L
    e_g2 = (e_w2 * b2 + SIGMA2 * D * m2 * r) / L**2
    return e_gb, e_g2


def projected_gd_risk_expr(rank):
    """Exact risk ``sigma2 + E|beta|^2 - 2 eta E<g, beta> + eta^2 E|g|^2`` of ``yhat = eta g^T x_q``.

    References
    ----------
    ``docs/derivations/softmax.md#exact-risks-of-one-step-gd-and-debiased-gd`` (risk including the
    noise).
    """
    e_gb, e_g2 = projected_gd_moments(rank)
    return sp.expand(SIGMA2 + 1 - 2 * ETA * e_gb + ETA**2 * e_g2)


@functools.lru_cache(maxsize=None)
def dgd_risk_expr():
    """Exact finite-(d, L) risk of debiased one-step GD with step ``eta``.

    ``E = 1 + sigma2 - 2 eta (1 - 1/L) + eta^2 (1 - 1/L)(1 + d (1 + sigma2)/L)``.

    References
    ----------
    He et al. (2025), debiased GD ``TFEst.DGDEst`` and Theorem 1 of the blog post; the exact
    finite-size form is derived here
    (``docs/derivations/softmax.md#exact-risks-of-one-step-gd-and-debiased-gd``) and checked by
    Monte Carlo in ``validation/softmax_theory.py``.
    """
    return projected_gd_risk_expr(L - 1)


def gd_risk_expr():
    """Exact risk of vanilla one-step GD: the *same* expression as :func:`icl_companion.theory.linear.gd_risk_expr`."""
    return tl.gd_risk_expr()


@functools.lru_cache(maxsize=None)
def eta_star_expr():
    """Risk-minimising debiased-GD step ``eta* = (1 + (1 + sigma2) d/L)^-1`` (Theorem 1(2)).

    Derived from ``d E_dgd/d eta = 0``; for ``L = 1`` the debiased predictor vanishes and every step
    is optimal: the returned expression is then the continuous extension.

    References
    ----------
    He et al. (2025), Theorem 1(2) of the authors' blog post;
    ``docs/derivations/softmax.md#optimal-debiased-gd-step``.
    """
    (sol,) = sp.solve(sp.diff(dgd_risk_expr(), ETA), ETA)
    return sp.factor(sp.simplify(sol))


@functools.lru_cache(maxsize=None)
def dgd_min_risk_expr():
    """``min_eta E_dgd = 1 + sigma2 - (1 - 1/L)/(1 + (1 + sigma2) d/L)``.

    References
    ----------
    He et al. (2025), Theorem 1(2) of the blog post; finite-size form derived,
    ``docs/derivations/softmax.md#optimal-debiased-gd-step``.
    """
    return sp.simplify(dgd_risk_expr().subs(ETA, eta_star_expr()))


def gd_eta_star_expr():
    """Optimal vanilla GD step (the expression of :func:`icl_companion.theory.linear.gd_eta_star_expr`)."""
    return tl.gd_eta_star_expr()


@functools.lru_cache(maxsize=None)
def gd_min_risk_expr():
    """``min_eta E_gd = 1 + sigma2 - eta*_gd``.

    References
    ----------
    ``docs/derivations/linear.md#optimal-gd-step`` (vanilla one-step GD, derived).
    """
    return sp.simplify(gd_risk_expr().subs(ETA, gd_eta_star_expr()))


# =============================================================================================
# 3. The approximate population loss L~(omega, mu) for H heads (the blog's; derivations: softmax.md)
# =============================================================================================
@functools.lru_cache(maxsize=None)
def omega_symbols(H: int):
    """KQ scales ``omega_1..omega_H`` (real symbols)."""
    return sp.symbols(f"omega_1:{H + 1}", real=True)


@functools.lru_cache(maxsize=None)
def mu_symbols(H: int):
    """OV last entries ``mu_1..mu_H`` (real symbols)."""
    return sp.symbols(f"mu_1:{H + 1}", real=True)


@functools.lru_cache(maxsize=None)
def approx_loss_expr(H: int):
    """``L~ = 1 + sigma2 - 2 mu^T omega + mu^T (omega omega^T + (1+sigma2)/L exp(d omega omega^T)) mu``.

    ``exp`` acts entrywise.  Large-``L`` approximation of the population risk of the reduced
    predictor: the cross-head terms come from ``E exp(a x^T x_q) ~ exp(a^2 d/2)``.

    References
    ----------
    He et al. (2025), approximate loss (the authors' blog post; code ``loss_function``, which is
    half of it); ``docs/derivations/softmax.md#approximate-population-loss``.
    """
    om, mu = sp.Matrix(omega_symbols(H)), sp.Matrix(mu_symbols(H))
    E = sp.Matrix(H, H, lambda i, j: sp.exp(D * om[i] * om[j]))
    quad = (mu.T * (om * om.T + C_NOISE * E) * mu)[0, 0]
    return 1 + SIGMA2 - 2 * (mu.T * om)[0, 0] + quad


@functools.lru_cache(maxsize=None)
def approx_loss_grad_expr(H: int):
    """Gradient ``(dL~/domega_1..H, dL~/dmu_1..H)`` (SymPy differentiation).

    References
    ----------
    He et al. (2025), code ``gradients`` (of ``L~/2``);
    ``docs/derivations/softmax.md#approximate-population-loss``.
    """
    e = approx_loss_expr(H)
    return [sp.diff(e, v) for v in omega_symbols(H) + mu_symbols(H)]


@functools.lru_cache(maxsize=None)
def approx_loss_hessian_expr(H: int):
    """Hessian of ``L~`` in the variables ``(omega, mu)`` (the Jacobian of the gradient flow, negated).

    References
    ----------
    ``docs/derivations/softmax.md#approximate-population-loss`` (derived).
    """
    return sp.hessian(approx_loss_expr(H), omega_symbols(H) + mu_symbols(H))


@functools.lru_cache(maxsize=None)
def mu_quadratic_form_expr(H: int):
    """``(A, b)`` with ``L~ = 1 + sigma2 - 2 b^T mu + mu^T A mu``: ``A = d^2L~/dmu^2 / 2``, ``b = -dL~/dmu|_0 / 2``.

    ``A = omega omega^T + (1+sigma2)/L exp(d omega omega^T)`` and ``b = omega``, read off the
    expression (``L~`` is quadratic in ``mu``).
    """
    e, mu = approx_loss_expr(H), mu_symbols(H)
    A = sp.hessian(e, mu) / 2
    b = -sp.Matrix([sp.diff(e, m) for m in mu]).subs({m: 0 for m in mu}) / 2
    return sp.simplify(A), sp.simplify(b)


@functools.lru_cache(maxsize=None)
def mu_star_expr(H: int = 1):
    """Optimal OV for fixed KQ, ``mu*(omega) = A(omega)^-1 omega`` (code ``calculate_mu_star``).

    For ``H = 1``: ``mu* = omega / (omega^2 + (1+sigma2)/L e^{d omega^2})``.

    References
    ----------
    He et al. (2025), code ``calculate_mu_star``;
    ``docs/derivations/softmax.md#optimal-ov-for-a-fixed-kq``.
    """
    A, b = mu_quadratic_form_expr(H)
    return sp.simplify(A.LUsolve(b))


@functools.lru_cache(maxsize=None)
def taylor_form_expr(H: int, K: int):
    """Taylor form truncated at ``k <= K``:

    ``sigma2 + (1 - <mu, omega>)^2 + c <mu, 1>^2 + c sum_{k=1}^K d^k/k! <mu, omega^k>^2``, with
    ``c = (1+sigma2)/L``.  Equals ``L~`` as ``K -> oo`` (expand ``exp(d omega_h omega_h')``).

    References
    ----------
    He et al. (2025), blog, Taylor form of the approximate loss;
    ``docs/derivations/softmax.md#taylor-form-and-gradient-flow``.
    """
    om, mu = omega_symbols(H), mu_symbols(H)

    def ip(p):
        return sum(m * w**p for m, w in zip(mu, om))

    return (SIGMA2 + (1 - ip(1))**2 + C_NOISE * sum(mu)**2
            + C_NOISE * sum(D**k / sp.factorial(k) * ip(k)**2 for k in range(1, K + 1)))


@functools.lru_cache(maxsize=None)
def series_flow_expr(H: int, K: int):
    """Series form of the gradient flow ``(domega/dt, dmu/dt) = -grad L~`` truncated at ``k <= K``.

    ``dmu/dt = 2 (1 - (1 + c d) <mu, omega>) omega - 2c (<mu, 1> 1 + sum_{k=2}^K d^k/k!
    <mu, omega^k> omega^k)`` and ``domega/dt = 2 (1 - (1 + c d) <mu, omega>) mu - 2c sum_{k=2}^K
    d^k/(k-1)! <mu, omega^k> mu * omega^(k-1)``: the low-order terms drive stage I (sign matching,
    ``<mu, 1> -> 0``, ``<mu, omega> -> eta*``), the ``k >= 2`` terms stage II (homogeneous KQ).

    References
    ----------
    He et al. (2025), blog, GD on the approximate loss;
    ``docs/derivations/softmax.md#taylor-form-and-gradient-flow``.
    """
    om, mu = omega_symbols(H), mu_symbols(H)

    def ip(p):
        return sum(m * w**p for m, w in zip(mu, om))

    lead = 2 * (1 - (1 + C_NOISE * D) * ip(1))
    dmu = [lead * w - 2 * C_NOISE * (sum(mu) + sum(D**k / sp.factorial(k) * ip(k) * w**k
                                                    for k in range(2, K + 1))) for w in om]
    dom = [lead * m - 2 * C_NOISE * sum(D**k / sp.factorial(k - 1) * ip(k) * m * w**(k - 1)
                                        for k in range(2, K + 1)) for m, w in zip(mu, om)]
    return dom + dmu


@functools.lru_cache(maxsize=None)
def full_lambdified(kind: str, H: int):
    """The full ``H``-head SymPy ``loss``/``grad``/``hess`` lambdified as is (reference; slow for large H).

    Arguments ``(omega_list, mu_list, d, L, sigma2)``.  The fast evaluators below assemble the same
    derivatives from the pair term (:func:`pair_term_expr`); the tests check that they agree.
    """
    args = [list(omega_symbols(H)), list(mu_symbols(H)), D, L, SIGMA2]
    expr = {"loss": approx_loss_expr, "grad": approx_loss_grad_expr,
            "hess": approx_loss_hessian_expr}[kind](H)
    return sp.lambdify(args, expr, "numpy")


# The quadratic part of L~ is a double sum over head pairs of one symmetric pair term; its
# derivatives are derived once by SymPy and assembled for any H with numpy broadcasting.
WA, WB, MA, MB = sp.symbols("omega_a omega_b mu_a mu_b", real=True)


def pair_term_expr():
    """``T(a, b) = mu_a mu_b (omega_a omega_b + (1+sigma2)/L exp(d omega_a omega_b))``.

    ``L~ = 1 + sigma2 - 2 sum_h mu_h omega_h + sum_{a, b} T(a, b)`` with ``T`` symmetric in the
    heads, so ``dL~/dx_h = (linear) + 2 sum_b d_1 T(h, b)`` and ``d^2 L~/dx_h dy_k = (linear) +
    2 (delta_hk sum_b d_11 T(h, b) + d_12 T(h, k))`` for the head variables ``x, y in {omega, mu}``.

    References
    ----------
    He et al. (2025), approximate loss; ``docs/derivations/softmax.md#approximate-population-loss``.
    """
    return MA * MB * (WA * WB + C_NOISE * sp.exp(D * WA * WB))


@functools.lru_cache(maxsize=None)
def _pair_functions():
    from icl_companion.theory.precompute import derived

    # {"T", "d1", "d11", "d12"}: pair_term_expr and its derivatives in (omega, mu) of heads a, b,
    # lambdified in (omega_a, omega_b, mu_a, mu_b, d, L, sigma2); generated (theory.precompute)
    return derived("softmax.pair_term")


def _pair_grid(om, m, d, L_, sigma2):
    return (om[:, None], om[None, :], m[:, None], m[None, :], float(d), float(L_), float(sigma2))


def _bcast(v, H):
    return np.broadcast_to(np.asarray(v, dtype=float), (H, H))


def _check_dls(d, L_, sigma2):
    if not (float(d) > 0 and math.isfinite(float(d))):
        raise ValueError(f"d = {d} is outside the allowed domain: a positive number")
    if not (float(L_) > 0 and math.isfinite(float(L_))):
        raise ValueError(f"L = {L_} is outside the allowed domain: a positive number")
    if not (float(sigma2) >= 0 and math.isfinite(float(sigma2))):
        raise ValueError(f"sigma2 = {sigma2} is outside the allowed domain: [0, inf)")


def _heads(omega, mu=None):
    om = np.asarray(omega, dtype=float)
    if om.ndim != 1 or om.size < 1:
        raise ValueError(f"omega must be a non-empty vector, got shape {om.shape}")
    if mu is None:
        return om, None
    m = np.asarray(mu, dtype=float)
    if m.shape != om.shape:
        raise ValueError(f"omega and mu must have the same length (one entry per head), got "
                         f"len(omega) = {om.size} and len(mu) = {m.size}")
    return om, m


def approx_loss(d, L, sigma2, omega, mu) -> float:
    """``L~(omega, mu)`` (:func:`approx_loss_expr`) for ``H = len(omega)`` heads.

    >>> round(approx_loss(5, 40, 0.1, [0.1, -0.1], [3.0, -3.0]), 10)
    0.3095206276
    """
    _check_dls(d, L, sigma2)
    om, m = _heads(omega, mu)
    T = _bcast(_pair_functions()["T"](*_pair_grid(om, m, d, L, sigma2)), om.size)
    return float(1 + sigma2 - 2 * m @ om + T.sum())


def approx_loss_grad(d, L, sigma2, omega, mu):
    """``(dL~/domega, dL~/dmu)`` as two arrays of length ``H`` (SymPy pair derivatives, lambdified)."""
    _check_dls(d, L, sigma2)
    om, m = _heads(omega, mu)
    grid, H = _pair_grid(om, m, d, L, sigma2), om.size
    d1 = _pair_functions()["d1"]
    g_om = -2 * m + 2 * _bcast(d1[0](*grid), H).sum(axis=1)
    g_mu = -2 * om + 2 * _bcast(d1[1](*grid), H).sum(axis=1)
    return g_om, g_mu


def approx_loss_hessian(d, L, sigma2, omega, mu) -> np.ndarray:
    """Hessian of ``L~`` in ``(omega, mu)``, shape ``(2H, 2H)``, blocks ordered (omega, mu)."""
    _check_dls(d, L, sigma2)
    om, m = _heads(omega, mu)
    grid, H = _pair_grid(om, m, d, L, sigma2), om.size
    pf = _pair_functions()
    out = np.empty((2 * H, 2 * H))
    for i in range(2):
        for j in range(2):
            blk = 2 * (np.diag(_bcast(pf["d11"][i][j](*grid), H).sum(axis=1))
                       + _bcast(pf["d12"][i][j](*grid), H))
            if i != j:  # the linear term -2 mu^T omega
                blk = blk - 2 * np.eye(H)
            out[i * H:(i + 1) * H, j * H:(j + 1) * H] = blk
    return out


def mu_star(d, L, sigma2, omega) -> np.ndarray:
    """``mu*(omega) = argmin_mu L~(omega, mu)`` solving ``A mu = omega`` (:func:`mu_quadratic_form_expr`).

    ``A = d^2 L~/dmu^2 / 2`` is the ``(mu, mu)`` block of the Hessian (independent of ``mu``).
    ``A`` is singular when two heads share the same ``omega`` (``exp(d omega omega^T)`` then has
    equal rows): the minimiser is then an affine set, and the minimum-norm one is returned
    (``numpy.linalg.lstsq``); the loss value is the same on the whole set.

    >>> np.round(mu_star(5, 40, 0.1, [0.1, -0.1]), 6).tolist()
    [4.395383, -4.395383]
    """
    _check_dls(d, L, sigma2)
    om, _ = _heads(omega)
    H = om.size
    A = approx_loss_hessian(d, L, sigma2, om, np.zeros(H))[H:, H:] / 2
    sol, *_ = np.linalg.lstsq(A, om, rcond=None)
    return sol


# -------------------------------------------------------------- solution manifold, profile loss
@functools.lru_cache(maxsize=None)
def _manifold_loss_expr():
    """``L~`` on the 2-head manifold ``omega = (gamma, -gamma)``, ``mu = (MU, -MU)``."""
    (w1, w2), (m1, m2) = omega_symbols(2), mu_symbols(2)
    return approx_loss_expr(2).subs({w1: GAMMA, w2: -GAMMA, m1: MU, m2: -MU})


@functools.lru_cache(maxsize=None)
def mu_gamma_expr():
    """``mu_gamma = (gamma/2) / (gamma^2 + (1+sigma2)/L sinh(d gamma^2))`` (derived, then verified).

    Minimiser of ``L~`` over the per-sign OV sum on the manifold ``S_gamma`` (derived here for
    ``omega = (gamma, -gamma)``; any split of the OV sums within a sign group gives the same loss).

    References
    ----------
    He et al. (2025), solution manifold (the authors' blog post);
    ``docs/derivations/softmax.md#solution-manifold``.
    """
    e = _manifold_loss_expr()
    (sol,) = sp.solve(sp.diff(e, MU), MU)
    target = (GAMMA / 2) / (GAMMA**2 + C_NOISE * sp.sinh(D * GAMMA**2))
    if sp.simplify((sol - target).rewrite(sp.exp)) != 0:  # pragma: no cover - guards the derivation
        raise RuntimeError("mu_gamma derivation does not reduce to the sinh form")
    return target


@functools.lru_cache(maxsize=None)
def profile_loss_expr():
    """``L~(gamma) = 1 + sigma2 - gamma^2 / (gamma^2 + (1+sigma2)/L sinh(d gamma^2))`` along ``S_gamma``.

    Strictly increasing in ``gamma`` (``sinh(x)/x`` increases), so the optimum is ``gamma -> 0+``,
    where it tends to ``1 + sigma2 - eta*`` (with ``eta*`` of Theorem 1).

    References
    ----------
    ``docs/derivations/softmax.md#profile-loss`` (derived from the blog's manifold).
    """
    e = _manifold_loss_expr().subs(MU, mu_gamma_expr())
    target = 1 + SIGMA2 - GAMMA**2 / (GAMMA**2 + C_NOISE * sp.sinh(D * GAMMA**2))
    if sp.simplify((e - target).rewrite(sp.exp)) != 0:  # pragma: no cover
        raise RuntimeError("profile loss derivation does not reduce to the sinh form")
    return target


@functools.lru_cache(maxsize=None)
def approx_loss_step_limit_expr():
    """``L~`` on the 2-head manifold at a fixed effective step ``eta = 2 gamma mu``, as ``gamma -> 0``.

    ``lim L~(gamma, eta/(2 gamma)) = 1 + sigma2 - 2 eta + eta^2 (1 + d (1+sigma2)/L)`` (derived by
    SymPy): the large-``L`` form of the debiased-GD risk.  At fixed ``eta`` the ``gamma``-dependence
    of ``L~`` is ``(1+sigma2) eta^2 (sinh(d gamma^2) - d gamma^2) / (L gamma^2) = O(gamma^4 / L)``
    (:func:`approx_loss_gamma_term_expr`).

    References
    ----------
    He et al. (2025), approximate loss and solution manifold (blog); limit derived,
    ``docs/derivations/softmax.md#the-gamma-to-zero-limit-and-the-1l-gap``.
    """
    e = _manifold_loss_expr().subs(MU, ETA / (2 * GAMMA))
    return sp.expand(sp.limit(e, GAMMA, 0))


@functools.lru_cache(maxsize=None)
def approx_loss_gamma_term_expr():
    """``L~(gamma, eta/(2 gamma)) - lim_{gamma -> 0}`` at fixed ``eta`` (exact, ``O(gamma^4/L)``).

    References
    ----------
    ``docs/derivations/softmax.md#the-gamma-to-zero-limit-and-the-1l-gap`` (derived).
    """
    e = _manifold_loss_expr().subs(MU, ETA / (2 * GAMMA))
    diff = sp.simplify((e - approx_loss_step_limit_expr()).rewrite(sp.exp))
    target = C_NOISE * ETA**2 * (sp.sinh(D * GAMMA**2) - D * GAMMA**2) / GAMMA**2
    if sp.simplify((diff - target).rewrite(sp.exp)) != 0:  # pragma: no cover - guards the derivation
        raise RuntimeError("gamma term of L~ does not reduce to the sinh form")
    return target


@functools.lru_cache(maxsize=None)
def approx_loss_centring_gap_expr():
    """Exact debiased-GD risk minus the ``gamma -> 0`` limit of ``L~`` at the same step ``eta``.

    ``E_dgd(eta) - lim L~ = (eta/L) (2 - eta (1 + d (1+sigma2)/L)) = (eta/L)(2 - eta/eta*)``,
    which is ``eta*/L`` at ``eta = eta*``.  This is the whole ``gamma -> 0`` gap between the true
    risk of the reduced +/- pair and ``L~``: an ``O(1/L)`` term from centring the context
    (``E g = (1 - 1/L) beta`` and ``E||g||^2`` carry the factor ``(1 - 1/L)``; ``L~`` keeps only
    the leading order in ``1/L``).  The reduced predictor adds ``O(gamma^2)`` to the risk (series
    of :func:`pair_series`) and ``L~`` its ``O(gamma^4/L)`` term; at d = 5, L = 40, sigma2 = 0.1
    the gap at ``eta*`` is ``eta*/L = 0.02198``.

    >>> sp.factor(approx_loss_centring_gap_expr() - ETA / L * (2 - ETA / eta_star_expr()))
    0

    References
    ----------
    He et al. (2025), approximate loss (the blog: "accurate when L is sufficiently large"); exact
    risk derived here, ``docs/derivations/softmax.md#the-gamma-to-zero-limit-and-the-1l-gap``.
    """
    return sp.factor(sp.simplify(dgd_risk_expr() - approx_loss_step_limit_expr()))


@functools.lru_cache(maxsize=None)
def _manifold_numeric():
    from icl_companion.theory.precompute import derived

    return derived("softmax.manifold")  # mu_gamma_expr, profile_loss_expr in (d, L, sigma2, gamma)


def mu_gamma(d, L, sigma2, gamma) -> float:
    """Numerical value of :func:`mu_gamma_expr` (``gamma > 0``)."""
    _check_dls(d, L, sigma2)
    if not gamma > 0:
        raise ValueError(f"gamma = {gamma} is outside the allowed domain: (0, inf)")
    return float(_manifold_numeric()[0](d, L, sigma2, gamma))


def profile_loss(d, L, sigma2, gamma) -> float:
    """Numerical value of :func:`profile_loss_expr` (``gamma > 0``)."""
    _check_dls(d, L, sigma2)
    if not gamma > 0:
        raise ValueError(f"gamma = {gamma} is outside the allowed domain: (0, inf)")
    return float(_manifold_numeric()[1](d, L, sigma2, gamma))


# =============================================================================================
# 4. Bayes risk and the Theorem 1(3) ratio bound (blog numbering)
# =============================================================================================
def bayes_risk_expr():
    """Asymptotic Bayes risk: the *same* expression as :func:`icl_companion.theory.linear.ridge_bayes_risk_expr`.

    References
    ----------
    He et al. (2025), Theorem 1(3) of the blog post and code ``ridge_loss``;
    ``docs/derivations/linear.md#bayes-risk-via-marchenko-pastur``.
    """
    return tl.ridge_bayes_risk_expr()


@functools.lru_cache(maxsize=None)
def dgd_risk_asym_expr():
    """Limit of ``min_eta E_dgd`` as ``L -> oo`` with ``d = xi L``:
    ``sigma2 + xi (1+sigma2) / (1 + xi (1+sigma2))``.

    References
    ----------
    He et al. (2025), large-L risk used in the code;
    ``docs/derivations/softmax.md#large-l-limit-of-the-optimal-risk``.
    """
    Lc = sp.Symbol("Lc", positive=True)
    e = dgd_min_risk_expr().subs({D: XI * Lc, L: Lc})
    return sp.simplify(sp.limit(e, Lc, sp.oo))


@functools.lru_cache(maxsize=None)
def ratio_bound_expr():
    """Theorem 1(3): ``E(yhat_gd(eta*)) / BayesRisk <= 1 + sigma2^-1 ((1 + xi sigma2)(1 + sigma2 + 1/xi))^-1``.

    Stated for ``sigma2 > 0`` and ``sigma2 + 1/xi > 1``, both risks including the noise.

    References
    ----------
    He et al. (2025), Theorem 1(3) of the authors' blog post;
    ``docs/derivations/softmax.md#bayes-risk-and-the-ratio-bound``.
    """
    return 1 + 1 / (SIGMA2 * (1 + XI * SIGMA2) * (1 + SIGMA2 + 1 / XI))


@functools.lru_cache(maxsize=None)
def ratio_expr():
    """``E_dgd,asym(eta*) / BayesRisk_{xi, sigma2}`` (left side of Theorem 1(3)).

    References
    ----------
    He et al. (2025), Theorem 1(3) of the blog post;
    ``docs/derivations/softmax.md#bayes-risk-and-the-ratio-bound``.
    """
    return dgd_risk_asym_expr() / bayes_risk_expr()


@functools.lru_cache(maxsize=None)
def _ratio_numeric():
    from icl_companion.theory.precompute import derived

    # ratio, ratio_bound, dgd_risk_asym, bayes_risk in (xi, sigma2); generated (theory.precompute)
    return derived("softmax.ratio")


def ratio_bound_grid(xis, sigma2s) -> dict:
    """Evaluate ratio and bound of Theorem 1(3) on the grid ``xis x sigma2s`` (vectorised).

    Points outside the theorem's conditions (``sigma2 > 0``, ``sigma2 + 1/xi > 1``) are excluded and
    counted.  Returns ``holds`` (bound >= ratio at every admissible point), the smallest margin
    ``bound - ratio`` with its location, and the counts.
    """
    xi, s2 = np.meshgrid(np.asarray(xis, float), np.asarray(sigma2s, float), indexing="ij")
    ok = (s2 > 0) & (xi > 0) & (s2 + 1 / np.where(xi > 0, xi, np.inf) > 1)
    r, bnd = _ratio_numeric()[0](xi[ok], s2[ok]), _ratio_numeric()[1](xi[ok], s2[ok])
    margin = bnd - r
    i = int(np.argmin(margin))
    return {"holds": bool(np.all(margin >= 0)), "min_margin": float(margin[i]),
            "at_xi": float(xi[ok][i]), "at_sigma2": float(s2[ok][i]),
            "max_ratio": float(r.max()), "n_points": int(ok.sum()),
            "n_excluded": int((~ok).sum())}


# =============================================================================================
# 5. Single head
# =============================================================================================
@functools.lru_cache(maxsize=None)
def single_head_profile_expr():
    """``L~(omega, mu*(omega))`` for one head: ``1 + sigma2 - omega^2 / (omega^2 + c e^{d omega^2})``.

    References
    ----------
    ``docs/derivations/softmax.md#single-head-optimum`` (profiled single-head approximate loss).
    """
    (w,), (m,) = omega_symbols(1), mu_symbols(1)
    e = approx_loss_expr(1).subs(m, mu_star_expr(1)[0])
    return sp.simplify(e).subs(w, OMEGA)


@functools.lru_cache(maxsize=None)
def single_head_optimum_expr():
    """``(omega, mu) = (1/sqrt(d), sqrt(d) / (1 + (1+sigma2) e d / L))`` minimising the profile.

    The profile loss decreases in ``omega^2 e^{-d omega^2}``, maximal at ``omega^2 = 1/d``; ``mu`` is
    ``mu*(1/sqrt(d))``.

    References
    ----------
    He et al. (2025), single-head case, citing Chen, Sheen, Wang, Yang (2024), arXiv:2402.19442; the
    code's ``mu = sqrt(d)/(1 + (1+sigma2) d e / L)``;
    ``docs/derivations/softmax.md#single-head-optimum``.
    """
    crit = sp.solve(sp.diff(OMEGA**2 * sp.exp(-D * OMEGA**2), OMEGA), OMEGA)
    pos = [c for c in crit if c.is_positive]
    if len(pos) != 1:  # pragma: no cover
        raise RuntimeError(f"single-head optimum: unexpected critical points {crit}")
    w = pos[0]
    (ws,) = omega_symbols(1)
    mu = sp.simplify(mu_star_expr(1)[0].subs(ws, w))
    return w, mu


@functools.lru_cache(maxsize=None)
def _single_head_numeric():
    from icl_companion.theory.precompute import derived

    # omega, mu of single_head_optimum_expr and the profile risk there, in (d, L, sigma2);
    # generated (theory.precompute)
    return derived("softmax.single_head")


def single_head_optimum(d, L, sigma2):
    """``(omega, mu)`` of the single-head optimum (:func:`single_head_optimum_expr`) as floats."""
    _check_dls(d, L, sigma2)
    fw, fm, _ = _single_head_numeric()
    return float(fw(d, L, sigma2)), float(fm(d, L, sigma2))


# =============================================================================================
# 6. Linear attention: length generalisation
# =============================================================================================
@functools.lru_cache(maxsize=None)
def linear_length_risk_expr():
    """Risk at test length ``L_test`` of linear attention trained at ``L_train``.

    The population optimum of one-layer linear attention on isotropic data is one-step GD with the
    ``1/L`` normalisation fixed at training time, step ``eta_0 = eta*_gd(L_train)``; at length
    ``L_test`` it is GD with effective step ``eta_0 L_test / L_train``, so the risk is
    :func:`icl_companion.theory.linear.gd_risk_expr` at that step and length.

    References
    ----------
    He et al. (2025), linear vs softmax attention length generalisation (blog Figure 4.1);
    ``docs/derivations/softmax.md#linear-attention-length-generalisation``.
    """
    eta0 = tl.gd_eta_star_expr().subs(L, L_TRAIN)
    return sp.simplify(tl.gd_risk_expr().subs({ETA: eta0 * L_TEST / L_TRAIN, L: L_TEST},
                                              simultaneous=True))


# =============================================================================================
# 7. Optimal linear-TF preconditioner for anisotropic covariates
# =============================================================================================
def ar1_covariance(d: int, rho: float) -> np.ndarray:
    """AR(1) covariance ``Sigma_ij = rho^|i - j|`` (the code's ``generate_covariance_matrix``).

    References
    ----------
    He et al. (2025), anisotropic experiments (code ``generate_covariance_matrix``).
    """
    if int(d) != d or d < 1:
        raise ValueError(f"d = {d} is outside the allowed domain: an integer >= 1")
    if not -1 < rho < 1:
        raise ValueError(f"rho = {rho} is outside the allowed domain: (-1, 1)")
    idx = np.arange(int(d))
    return float(rho) ** np.abs(idx[:, None] - idx[None, :])


def _gd_moments_aniso(Sigma, L, sigma2):
    """``(E[g beta^T], E[g g^T])`` for ``g = (1/L) sum_l y_l x_l``, ``x ~ N(0, Sigma)``, ``beta ~ N(0, I/d)``.

    Isserlis: ``E[(a^T x)^2 x x^T] = (a^T Sigma a) Sigma + 2 Sigma a a^T Sigma``; averaging over
    ``beta`` (``E beta beta^T = I/d``) gives ``E[y^2 x x^T] = (tr Sigma/d + sigma2) Sigma +
    2 Sigma^2/d``, and ``E[g g^T] = E[y^2 x x^T]/L + (1 - 1/L) Sigma^2/d``, ``E[g beta^T] = Sigma/d``.

    References
    ----------
    ``docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates`` (derived);
    Isserlis (1918).
    """
    S = np.asarray(Sigma, float)
    d = S.shape[0]
    e_y2xx = (np.trace(S) / d + sigma2) * S + 2 * S @ S / d
    e_gg = e_y2xx / L + (1 - 1 / L) * S @ S / d
    e_gb = S / d
    return e_gb, e_gg


def preconditioner_from_moments(Sigma, L, sigma2) -> np.ndarray:
    """Optimal ``Gamma`` of ``yhat = g^T Gamma x_q``: normal equations ``E[g g^T] Gamma = E[g beta^T]``.

    The risk ``sigma2 + E (beta - Gamma^T g)^T Sigma (beta - Gamma^T g)`` is a convex quadratic in
    ``Gamma``; its stationarity condition is ``Sigma (Gamma^T E[g g^T] - E[beta g^T]) = 0``.

    References
    ----------
    ``docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates``; Zhang, Frei,
    Bartlett (2024) for the isotropic-task analogue.
    """
    e_gb, e_gg = _gd_moments_aniso(Sigma, L, sigma2)
    return np.linalg.solve(e_gg, e_gb)


def preconditioner_closed_form(Sigma, L, sigma2) -> np.ndarray:
    """``Gamma* = ((1 + 1/L) Sigma + (tr Sigma + sigma2 d)/L I)^-1``.

    References
    ----------
    He et al. (2025), "Opt_KQ_LinTF" panel (blog Figure 3.1); formula derived,
    ``docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates``.
    """
    S = np.asarray(Sigma, float)
    d = S.shape[0]
    return np.linalg.inv((1 + 1 / L) * S + (np.trace(S) + sigma2 * d) / L * np.eye(d))


def preconditioned_gd_risk(Gamma, Sigma, L, sigma2) -> float:
    """Exact risk of ``yhat = (1/L) sum_l y_l x_l^T Gamma x_q`` with ``x ~ N(0, Sigma)``, ``beta ~ N(0, I/d)``.

    ``sigma2 + tr(Sigma)/d - 2 tr(Sigma Gamma^T E[g beta^T]) + tr(Gamma^T Sigma Gamma E[g g^T])``.

    References
    ----------
    ``docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates`` (derived).
    """
    G, S = np.asarray(Gamma, float), np.asarray(Sigma, float)
    e_gb, e_gg = _gd_moments_aniso(S, L, sigma2)
    d = S.shape[0]
    return float(sigma2 + np.trace(S) / d - 2 * np.trace(S @ G.T @ e_gb)
                 + np.trace(G.T @ S @ G @ e_gg))


def preconditioned_min_risk(Gamma, Sigma, sigma2) -> float:
    """Minimum risk ``sigma2 + tr(Sigma - Sigma^2 Gamma*)/d``, an identity valid only at ``Gamma = Gamma*``.

    With ``M = (1 + 1/L) Sigma + (tr Sigma + sigma2 d)/L I`` one has ``E[g g^T] = Sigma M/d`` and
    ``Gamma* = M^-1``, so the minimum ``sigma2 + tr(Sigma)/d - tr(Sigma E[beta g^T] E[g g^T]^-1
    E[g beta^T])`` equals ``sigma2 + tr(Sigma - Sigma^2 M^-1)/d``.  Evaluated at a wrong ``Gamma`` it
    moves at first order, while the true risk moves at second order: the check of ``Gamma*``.

    References
    ----------
    ``docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates`` (derived).
    """
    G, S = np.asarray(Gamma, float), np.asarray(Sigma, float)
    return float(sigma2 + np.trace(S - S @ S @ G) / S.shape[0])


def preconditioner(d, L, sigma2, rho) -> np.ndarray:
    """Optimal one-step linear-TF preconditioner for AR(1) covariates, ``Sigma_ij = rho^|i-j|``.

    Computed by :func:`preconditioner_eig` (symmetric by construction, accurate near
    ``|rho| = 1``); equal to the normal-equation solution :func:`preconditioner_from_moments`.

    >>> G = preconditioner(3, 40, 0.1, 0.0)
    >>> bool(np.allclose(G, 1 / (1 + (3 + 1 + 3 * 0.1) / 40) * np.eye(3)))
    True
    """
    _check_dls(d, L, sigma2)
    return preconditioner_eig(ar1_covariance(d, rho), L, sigma2)[0]


def preconditioner_eig(Sigma, L, sigma2) -> tuple:
    """``Gamma* = M^-1`` with ``M = (1 + 1/L) Sigma + (tr Sigma + sigma2 d)/L I`` from ``eigh(Sigma)``.

    ``M`` and ``Sigma`` share eigenvectors ``U``, so ``Gamma* = U diag(1/m) U^T`` with
    ``m = (1 + 1/L) lambda + (tr Sigma + sigma2 d)/L``: exactly symmetric (the two triangles are
    averaged) and backward stable, where solving the normal equations with ``E[g g^T] = Sigma M/d``
    squares the conditioning of a nearly singular ``Sigma`` (``|rho| -> 1``: an asymmetric result
    off by 1% at ``rho = 1 - 1e-12``).  Returns ``(Gamma, rel_err)`` with ``rel_err = d eps
    cond(M)``, the a-priori bound on the relative error of a backward-stable eigensolver.
    """
    S = np.asarray(Sigma, float)
    d = S.shape[0]
    lam, U = np.linalg.eigh(S)
    lam = np.clip(lam, 0.0, None)  # Sigma is PSD; rounding may leave -1e-17
    m = (1 + 1 / L) * lam + (np.trace(S) + sigma2 * d) / L
    G = (U / m) @ U.T
    return (G + G.T) / 2, float(d * np.finfo(float).eps * m.max() / m.min())


#: Largest ``d`` of ``softmax.preconditioner``: a d x d result printed in full (d = 256 is
#: 65,536 numbers, about 1.5 MB of text; the figures use d <= 20).
PRECONDITIONER_MAX_D = 256


def _preconditioner_result(d, L, sigma2, rho):
    G, err = preconditioner_eig(ar1_covariance(d, rho), L, sigma2)
    out = {"value": G.tolist(), "residual": err}
    if not np.all(np.isfinite(G)):
        out.update(success=False, status=2, message="non-finite entries in Gamma*")
    elif err > 1e-8:
        out.update(success=False, status=4, message=f"M is too ill-conditioned for double "
                   f"precision: estimated relative error {err:.1e} > 1e-8")
    else:
        out["success"] = True
    return out


def _preconditioner_display():
    Sig = sp.MatrixSymbol("Sigma", D, D)
    Id = sp.Identity(D)
    return sp.Inverse((1 + 1 / L) * Sig + (sp.Trace(Sig) + SIGMA2 * D) / L * Id)


# =============================================================================================
# Registry
# =============================================================================================
#: The authors' public sources (the paper body was not available: its theorem, equation and figure
#: numbers are not known).  The blog numbers Theorem 1 and its figures; the ICML version may differ.
BLOG = ("He, Pan, Chen, Yang, blog post 'In-Context Linear Regression Demystified' (2025), "
        "github.com/Y-Agent/Y-Agent.github.io, content/posts/in_context_regression.md")
AUTHORS_CODE = "He et al., code github.com/XintianPan/ICL_linear"


def _ref(anchor: str, *cites: str) -> Reference:
    """Not numbered in the sources; derived on ``docs/derivations/softmax.md#<anchor>``."""
    return Reference("softmax", NOT_NUMBERED, f"docs/derivations/softmax.md#{anchor}", cites)


def _d():
    return integer("d", 1, doc="covariate dimension")


def _L():
    return integer("L", 1, doc="prompt length (context tokens)")


def _s2():
    return real("sigma2", 0, doc="noise variance")


#: Largest number of heads accepted by the catalogue (the head-pair matrices are H x H).
MAX_HEADS = 1000


def same_length(a: str = "omega", b: str | None = "mu", max_heads: int = MAX_HEADS):
    """A catalogue ``check``: the per-head vectors ``a`` and ``b`` have one entry per head each,
    and at most ``max_heads`` heads."""

    def check(inputs):
        if b is not None and len(inputs[a]) != len(inputs[b]):
            raise ValueError(f"{a} and {b} must have the same length (one entry per head), got "
                             f"len({a}) = {len(inputs[a])} and len({b}) = {len(inputs[b])}")
        if len(inputs[a]) > max_heads:
            raise ValueError(f"{a} has {len(inputs[a])} entries; at most {max_heads} heads are "
                             f"allowed")

    return check


#: ``d omega_a omega_b`` above which ``exp`` overflows a double (log(1.8e308) = 709.8).
EXP_MAX = 709.0


def _exp_exponent_check(d, om) -> None:
    w = float(np.max(np.abs(om)))
    top = float(d) * w * w  # float products give inf, never OverflowError
    if top > EXP_MAX:
        raise ValueError(f"d * max(omega)^2 = {top:.4g} exceeds {EXP_MAX:g}: exp(d omega_a omega_b) "
                         f"overflows double precision (allowed: d * max|omega|^2 <= {EXP_MAX:g})")


def _approx_loss_iv(d, L, sigma2, om, m):
    """``L~`` in :mod:`mpmath.iv` interval arithmetic (arguments are intervals)."""
    from mpmath import iv

    c = (1 + sigma2) / L
    quad = sum(m[a] * m[b] * (om[a] * om[b] + c * iv.exp(d * om[a] * om[b]))
               for a in range(len(om)) for b in range(len(om)))
    return 1 + sigma2 - 2 * sum(x * y for x, y in zip(m, om)) + quad


#: Heads up to which an uncertain double-precision ``L~`` is recomputed in interval arithmetic.
_IV_MAX_HEADS = 64


def certified_approx_loss(d, L, sigma2, omega, mu) -> dict:
    """``L~(omega, mu)`` with a guaranteed accuracy, or ``success=False`` saying why not.

    Double precision first, with the a-priori bound ``(n + 4) eps S`` on its rounding error
    (``n = H^2 + H`` terms, ``S`` the sum of their magnitudes): accepted when that bound is below
    ``2^-50`` of the value.  Otherwise (cancellation between ``2 mu^T omega`` and the quadratic
    form, or an ``exp`` beyond the double range) the loss is recomputed in interval arithmetic
    (:func:`icl_companion.theory.closed_form.evaluate_interval`) for ``H <= 64``.
    """
    from icl_companion.theory.closed_form import evaluate_interval

    om, m = _heads(omega, mu)
    # Heads sharing one omega act as one head with the summed mu (L~ depends on mu only through
    # those sums): merging them removes exact cancellations that no rounding analysis can see.
    om, inverse = np.unique(om, return_inverse=True)
    m = np.bincount(inverse.ravel(), weights=m, minlength=om.size)
    H = om.size
    with np.errstate(all="ignore"):
        T = _bcast(_pair_functions()["T"](*_pair_grid(om, m, d, L, sigma2)), H)
        lin = 2 * m * om
        value = float(1 + sigma2 - lin.sum() + T.sum())
        scale = 1 + sigma2 + float(np.abs(lin).sum() + np.abs(T).sum())
    bound = (H * H + H + 4) * np.finfo(float).eps * scale
    if math.isfinite(value) and math.isfinite(scale) and bound <= 2.0 ** -50 * abs(value):
        return {"value": value, "success": True, "residual": bound}
    if H > _IV_MAX_HEADS:
        return {"value": value, "success": False, "status": 4,
                "message": f"double precision cannot guarantee L~ here (rounding bound "
                           f"{bound:.1e}) and H = {H} > {_IV_MAX_HEADS} is too many heads for "
                           f"interval arithmetic"}
    args = [d, L, sigma2, *om.tolist(), *m.tolist()]
    r = evaluate_interval(lambda d_, L_, s_, *x: _approx_loss_iv(d_, L_, s_, x[:H], x[H:]), args)
    out = {"value": r.value, "success": r.success, "residual": r.error}
    if not r.success:
        out.update(status=r.status, message=r.message)
    return out


def _ratio_conditions(inputs):
    from fractions import Fraction

    xi, s2 = inputs["xi"], inputs["sigma2"]
    if not Fraction(s2) + 1 / Fraction(xi) > 1:  # exact: 1/xi may overflow a double
        raise ValueError(f"Theorem 1(3) needs sigma2 + 1/xi > 1, got sigma2 = {s2:g}, "
                         f"xi = {xi:g} (sigma2 + 1/xi = {float(Fraction(s2) + 1 / Fraction(xi)):g})")


register_closed_form(
    "softmax.eta_star", "Optimal debiased-GD step eta* = (1 + (1+sigma2) d/L)^-1 (Theorem 1(2))",
    [_d(), _L(), _s2()], eta_star_expr, lambda: (D, L, SIGMA2),
    _ref("optimal-debiased-gd-step", BLOG + ", Theorem 1(2)"),
    bounds={"value": (0, 1)})

register_closed_form(
    "softmax.dgd_risk", "Exact risk of debiased one-step GD with step eta (finite d, L)",
    [_d(), _L(), _s2(), real("eta", doc="GD step")], dgd_risk_expr,
    lambda: (D, L, SIGMA2, ETA),
    _ref("exact-risks-of-one-step-gd-and-debiased-gd", AUTHORS_CODE + ", TFEst.DGDEst"),
    bounds=risk_bounds())

register_closed_form(
    "softmax.dgd_min_risk", "Minimum over eta of the exact debiased-GD risk (finite d, L)",
    [_d(), _L(), _s2()], dgd_min_risk_expr, lambda: (D, L, SIGMA2),
    _ref("optimal-debiased-gd-step", BLOG + ", Theorem 1(2)"),
    bounds=risk_bounds(1.0))

register_closed_form(
    "softmax.gd_risk", "Exact risk of vanilla one-step GD with step eta (= linear.gd_risk)",
    [_d(), _L(), _s2(), real("eta", doc="GD step")], gd_risk_expr, lambda: (D, L, SIGMA2, ETA),
    _ref("exact-risks-of-one-step-gd-and-debiased-gd", AUTHORS_CODE + ", TFEst.GDEst"),
    bounds=risk_bounds())

register_closed_form(
    "softmax.gd_eta_star", "Optimal vanilla one-step GD step (= linear.gd_eta_star)",
    [_d(), _L(), _s2()], gd_eta_star_expr, lambda: (D, L, SIGMA2),
    _ref("exact-risks-of-one-step-gd-and-debiased-gd", AUTHORS_CODE + ", TFEst.GDEst"),
    bounds={"value": (0, 1)})


def _approx_loss_display():
    return approx_loss_expr(2)


def _approx_loss_result(d, L, sigma2, omega, mu):
    try:
        return certified_approx_loss(d, L, sigma2, omega, mu)
    except ValueError as e:  # the value itself is beyond the double range
        raise ValueError(f"softmax.approx_loss: {e}") from None


register(Result(
    "softmax.approx_loss",
    "Approximate population loss L~(omega, mu) of the reduced H-head model (H = len(omega))",
    (_d(), _L(), _s2(), vector("omega", doc="KQ scales, one per head"),
     vector("mu", doc="OV last entries, one per head")),
    _approx_loss_result,
    _ref("approximate-population-loss", BLOG + ", section 'Simplification and Approximate Loss'",
         AUTHORS_CODE + ", loss_function (= L~/2)"),
    status="asymptotic", status_note="large-L approximation of the reduced model's risk; "
                                     "accuracy certified (residual = error bound)",
    expression=_approx_loss_display,
    definition="Shown for H = 2. General H: 1 + sigma2 - 2 mu^T omega + mu^T (omega omega^T + "
               "(1+sigma2)/L exp(d omega omega^T)) mu, exp entrywise.",
    check=same_length(), bounds=risk_bounds()))


def _mu_star_result(d, L, sigma2, omega):
    """``mu*`` by least squares (after refusing an ``exp`` beyond the double range, which LAPACK
    would report on stdout), its backward error as the residual, and the loss there."""
    om, _ = _heads(omega)
    try:
        _exp_exponent_check(d, om)
    except ValueError as e:
        raise ValueError(f"softmax.mu_star: {e}") from None
    H = om.size
    with np.errstate(all="ignore"):
        A = approx_loss_hessian(d, L, sigma2, om, np.zeros(H))[H:, H:] / 2
    if not np.all(np.isfinite(A)):  # checked here: LAPACK would print to stdout
        raise ValueError("softmax.mu_star: (1 + sigma2)/L exp(d omega_a omega_b) overflows "
                         "double precision at these inputs")
    m = mu_star(d, L, sigma2, om)
    scale = np.linalg.norm(A) * np.linalg.norm(m) + np.linalg.norm(om)
    backward = float(np.linalg.norm(A @ m - om) / scale) if scale > 0 else 0.0
    loss = certified_approx_loss(d, L, sigma2, om, m)
    ok = backward <= 1e-10 and loss["success"]
    out = {"mu": m.tolist(), "loss": loss["value"], "success": ok, "residual": backward}
    if not ok:
        out.update(status=4, message=loss.get("message") or f"least-squares backward error "
                   f"{backward:.1e} > 1e-10")
    return out


register(Result(
    "softmax.mu_star", "Optimal OV mu*(omega) = argmin_mu L~(omega, mu) and the loss there",
    (_d(), _L(), _s2(), vector("omega", doc="KQ scales, one per head")), _mu_star_result,
    _ref("optimal-ov-for-a-fixed-kq", AUTHORS_CODE + ", calculate_mu_star"), status="asymptotic",
    status_note="minimiser of the large-L approximate loss; minimum-norm when A is singular",
    outputs=("mu", "loss"), expression=lambda: mu_star_expr(1),
    definition="Shown for H = 1. General H: mu* = (omega omega^T + (1+sigma2)/L exp(d omega "
               "omega^T))^-1 omega (minimum-norm least squares when singular).",
    check=same_length("omega", None),
    bounds=lambda inp: {"loss": risk_bounds(1.0)(inp)["value"]}))

register_closed_form(
    "softmax.mu_gamma", "OV sum mu_gamma on the solution manifold S_gamma (omega = +-gamma)",
    [_d(), _L(), _s2(), real("gamma", 0, lo_open=True, doc="common |omega| of the heads")],
    mu_gamma_expr, lambda: (D, L, SIGMA2, GAMMA),
    _ref("solution-manifold", BLOG + ", solution manifold S_gamma"), status="asymptotic",
    status_note="minimiser of the large-L approximate loss",
    bounds={"value": (0, math.inf)})

register_closed_form(
    "softmax.profile_loss", "Approximate loss along the solution manifold S_gamma",
    [_d(), _L(), _s2(), real("gamma", 0, lo_open=True, doc="common |omega| of the heads")],
    profile_loss_expr, lambda: (D, L, SIGMA2, GAMMA),
    _ref("profile-loss"), status="asymptotic",
    status_note="large-L approximate loss",
    bounds=risk_bounds(1.0))

register_closed_form(
    "softmax.approx_loss_gap", "Exact debiased-GD risk minus the gamma -> 0 limit of the "
    "approximate loss at the same step: (eta/L)(2 - eta/eta*), eta*/L at eta*",
    [_d(), _L(), _s2(), real("eta", doc="effective step 2 gamma mu")],
    approx_loss_centring_gap_expr, lambda: (D, L, SIGMA2, ETA),
    _ref("the-gamma-to-zero-limit-and-the-1l-gap"),
    status_note="the O(1/L) centring term that L~ drops; the reduced predictor adds O(gamma^2)")

register_closed_form(
    "softmax.bayes_risk", "Asymptotic Bayes risk, d/L -> xi (= linear.ridge_bayes_risk_asym)",
    [real("xi", 0, lo_open=True, doc="d/L"), _s2()], bayes_risk_expr, lambda: (XI, SIGMA2),
    _ref("bayes-risk-and-the-ratio-bound", BLOG + ", Theorem 1(3)", AUTHORS_CODE + ", ridge_loss"),
    status="asymptotic",
    status_note="d, L -> inf with d/L -> xi",
    bounds=risk_bounds(1.0))

register_closed_form(
    "softmax.dgd_risk_asym", "Limit of the optimal debiased-GD risk, d/L -> xi",
    [real("xi", 0, lo_open=True, doc="d/L"), _s2()], dgd_risk_asym_expr, lambda: (XI, SIGMA2),
    _ref("large-l-limit-of-the-optimal-risk"), status="asymptotic",
    status_note="d, L -> inf with d/L -> xi",
    bounds=risk_bounds(1.0))


@functools.lru_cache(maxsize=None)
def _ratio_intervals():
    from icl_companion.theory.closed_form import interval_function

    exprs = {"ratio": ratio_expr(), "bound": ratio_bound_expr(), "dgd_risk": dgd_risk_asym_expr(),
             "bayes_risk": bayes_risk_expr(), "margin": ratio_bound_expr() - ratio_expr()}
    return {k: interval_function((XI, SIGMA2), e) for k, e in exprs.items()}


def _ratio_result(xi, sigma2):
    """Theorem 1(3) at one point, every number certified by interval arithmetic.

    ``holds`` is decided on the enclosure of ``bound - ratio`` (both tend to 1 as ``xi -> 0``, where
    comparing the two rounded doubles would decide on rounding errors).
    """
    from icl_companion.theory.closed_form import evaluate_many

    v = evaluate_many(_ratio_intervals(), (xi, sigma2), "softmax.ratio_bound")
    v["holds"] = bool(v.pop("margin") >= 0)
    order = ("ratio", "bound", "holds", "dgd_risk", "bayes_risk")  # the declared outputs, in order
    return {**{k: v.pop(k) for k in order}, **v}


def _ratio_bounds(inputs):
    s2 = inputs["sigma2"]
    hi = (1 + s2) * (1 + 4e-16)
    return {"ratio": (1, math.inf), "bound": (1, math.inf), "dgd_risk": (s2, hi),
            "bayes_risk": (s2, hi)}


register(Result(
    "softmax.ratio_bound",
    "Theorem 1(3): optimal debiased-GD risk / Bayes risk, and its upper bound",
    (real("xi", 0, lo_open=True, doc="d/L"),
     real("sigma2", 0, lo_open=True, doc="noise variance (> 0 in Theorem 1(3))")),
    _ratio_result, _ref("bayes-risk-and-the-ratio-bound", BLOG + ", Theorem 1(3)"),
    status="asymptotic",
    status_note="d, L -> inf with d/L -> xi; needs sigma2 > 0 and sigma2 + 1/xi > 1",
    outputs=("ratio", "bound", "holds", "dgd_risk", "bayes_risk"),
    expression=ratio_bound_expr,
    definition="bound shown; ratio = (sigma2 + xi(1+sigma2)/(1 + xi(1+sigma2))) / BayesRisk(xi, "
               "sigma2), BayesRisk = softmax.bayes_risk.",
    check=_ratio_conditions, bounds=_ratio_bounds))


@functools.lru_cache(maxsize=None)
def _single_head_intervals():
    from icl_companion.theory.closed_form import interval_function

    w, mu = single_head_optimum_expr()
    loss = sp.simplify(single_head_profile_expr().subs(OMEGA, w))
    return {k: interval_function((D, L, SIGMA2), e)
            for k, e in (("omega", w), ("mu", mu), ("approx_loss", loss))}


def _single_head_result(d, L, sigma2):
    from icl_companion.theory.closed_form import evaluate_many

    return evaluate_many(_single_head_intervals(), (d, L, sigma2), "softmax.single_head_optimum")


register(Result(
    "softmax.single_head_optimum",
    "Single-head optimum of the approximate loss: omega = 1/sqrt(d), mu = mu*(omega)",
    (_d(), _L(), _s2()), _single_head_result,
    _ref("single-head-optimum", "Chen, Sheen, Wang, Yang (2024), COLT 2024, arXiv:2402.19442",
         AUTHORS_CODE), status="asymptotic",
    status_note="minimiser of the large-L approximate loss; rough at d = 5",
    outputs=("omega", "mu", "approx_loss"),
    expression=lambda: sp.Matrix(single_head_optimum_expr()),
    definition="(omega, mu); approx_loss = 1 + sigma2 - (1 + (1+sigma2) e d/L)^-1.",
    bounds=lambda inp: {"omega": (0, 1), "mu": (0, math.inf),
                        "approx_loss": risk_bounds(1.0)(inp)["value"]}))

register_closed_form(
    "softmax.linear_length_risk",
    "Risk at L_test of linear attention trained at L_train (GD with the 1/L_train kept)",
    [_d(), integer("L_train", 1, doc="training prompt length"),
     integer("L_test", 1, doc="test prompt length"), _s2()],
    linear_length_risk_expr, lambda: (D, L_TRAIN, L_TEST, SIGMA2),
    _ref("linear-attention-length-generalisation", BLOG + ", Figure 4.1"),
    status="exact", status_note="exact for the linear-attention population optimum at L_train "
                                "(one-step GD with eta*_gd(L_train))",
    bounds=risk_bounds())


register(Result(
    "softmax.preconditioner",
    "Optimal linear-TF preconditioner Gamma* for AR(1) covariates Sigma_ij = rho^|i-j|",
    (integer("d", 1, PRECONDITIONER_MAX_D, doc="covariate dimension (the d x d matrix is printed "
             "in full)"), _L(), _s2(),
     real("rho", -1, 1, lo_open=True, hi_open=True, doc="AR(1) correlation")),
    _preconditioner_result,
    _ref("optimal-preconditioner-for-anisotropic-covariates",
         BLOG + ", Figure 3.1 (panel Opt_KQ_LinTF)"), status="exact",
    status_note="minimiser of the exact one-step preconditioned-GD risk; eigh of Sigma, residual = "
                "estimated relative error d eps cond(M)",
    expression=_preconditioner_display,
    definition="Sigma_ij = rho^|i-j| (d x d); returned as a nested list (rows)."))
