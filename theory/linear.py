"""Shared linear baselines of in-context linear regression (prefix ``linear``).

Setting (He et al. 2025, arXiv:2503.12734; ``docs/derivations/linear.md#setting``): a prompt holds
``L`` pairs ``(x_l, y_l)`` with ``x_l ~ N(0, I_d)``, ``y_l = x_l^T beta + eps_l``,
``beta ~ N(0, I_d/d)``, ``eps_l ~ N(0, sigma2)``; the query is ``(x_q, y_q)`` from the same law.
Risks are ``E (yhat_q - y_q)^2`` and therefore *include* the noise ``sigma2``.

The ZFB result uses the Zhang-Frei-Bartlett convention instead: ``x ~ N(0, diag(lambdas))``,
``w ~ N(0, I_d)``, noiseless ``y``, and the error ``E (yhat_q - <w, x_q>)^2``.

Every expression below is *derived* by SymPy from its ingredients (a Stieltjes-transform equation,
Gaussian moments); the registered callables are lambdified from these same expressions.

>>> sp.simplify(ridge_bayes_risk_expr() - sp.Rational(1, 2) * (SIGMA2 + 1 - 1/XI
...     + sp.sqrt((SIGMA2 + 1/XI - 1)**2 + 4*SIGMA2))) == 0
True
>>> sp.factor(gd_risk_expr().subs(ETA, gd_eta_star_expr()) - (1 + SIGMA2 - gd_eta_star_expr()))
0
>>> zfb_isotropic_check()
True
"""

from __future__ import annotations

import functools
import math

import sympy as sp
from sympy.stats import E as _expect, Normal

from icl_companion.theory.closed_form import register_closed_form
from icl_companion.theory.registry import (Reference, Result, RiskBounds, integer, real, register,
                                           vector)

__all__ = ["ridge_bayes_risk_expr", "mp_stieltjes_equation", "gd_risk_expr", "gd_eta_star_expr",
           "zfb_term_expr", "zfb_term_ratio_form", "zfb_risk", "zfb_isotropic_check", "gd_moments",
           "risk_bounds"]

XI, SIGMA2, ETA = sp.symbols("xi sigma2 eta", positive=True)
D, L = sp.symbols("d L", positive=True, integer=True)
Z, M_ = sp.symbols("z m")


# ------------------------------------------------------------------- ridge / Bayes, asymptotic
def mp_stieltjes_equation(xi=XI, z=Z, m=M_):
    """Self-consistent equation of the Marchenko-Pastur Stieltjes transform.

    For ``S = X^T X / L`` with ``X`` an ``L x d`` standard Gaussian matrix and ``d/L -> xi``, the
    Stieltjes transform ``m(z) = E 1/(t - z)`` solves ``m = 1/(1 - xi - z - xi z m)``
    (Marchenko & Pastur 1967; Bai & Silverstein 2010, Thm 3.6), i.e. the returned quadratic = 0.
    """
    return sp.expand(m * (1 - xi - z - xi * z * m) - 1)


@functools.lru_cache(maxsize=None)
def ridge_bayes_risk_expr():
    """Asymptotic Bayes risk of in-context linear regression, derived from Marchenko-Pastur.

    The Bayes predictor is ridge with ``lambda = sigma2 d`` (posterior mean for
    ``beta ~ N(0, I/d)``).  Given ``X`` its risk is ``sigma2 + sigma2 tr((X^T X + sigma2 d I)^-1)``
    (posterior variance along ``x_q`` plus noise) which, with ``S = X^T X/L`` and ``d/L -> xi``,
    tends to ``sigma2 + sigma2 xi m(-sigma2 xi)``.  ``m`` is the root of
    :func:`mp_stieltjes_equation` that is positive on the negative real axis.

    References
    ----------
    He, Pan, Chen, Yang (2025), Theorem 1(3) of their blog post and the code's ``ridge_loss``;
    ``docs/derivations/linear.md#bayes-risk-via-marchenko-pastur``.
    """
    lam = SIGMA2 * XI
    roots = sp.solve(mp_stieltjes_equation(z=-lam), M_)
    # Select the Stieltjes branch: m(-lam) = E[1/(t + lam)] > 0 and m -> 0 as lam -> inf.
    probe = {XI: sp.Rational(1, 2), SIGMA2: sp.Rational(3, 10)}
    good = [r for r in roots if sp.N(r.subs(probe)) > 0]
    if len(good) != 1:  # pragma: no cover - guards the derivation itself
        raise RuntimeError("Marchenko-Pastur branch selection failed")
    m = good[0]
    return sp.simplify(SIGMA2 + SIGMA2 * XI * m)


# --------------------------------------------------------------------------- one-step GD, exact
def gd_moments():
    """Gaussian moments the GD risk is built from, computed by :mod:`sympy.stats`.

    Returns ``(E x^4, E x^2)`` for a standard normal coordinate; by rotation invariance
    ``E[(x^T b)^2 |x|^2] = (E x^4 + (d - 1) (E x^2)^2) |b|^2``.
    """
    g = Normal("g", 0, 1)
    return sp.simplify(_expect(g**4)), sp.simplify(_expect(g**2))


@functools.lru_cache(maxsize=None)
def gd_risk_expr():
    """Exact risk of one-step GD from zero, ``yhat = (eta/L) sum_l y_l x_l^T x_q``.

    ``E(yhat - y_q)^2 = sigma2 + E|b|^2 - 2 eta E<g, b> + eta^2 E|g|^2`` with
    ``g = (1/L) sum_l y_l x_l``, ``E<g, b> = E|b|^2 = 1`` and
    ``E|g|^2 = (1/L) E[y^2 |x|^2] + (1 - 1/L) E|b|^2``,
    ``E[y^2 |x|^2] = (E x^4 + (d-1)) E|b|^2 + sigma2 d``.

    References
    ----------
    He et al. (2025), the vanilla one-step GD estimator ``TFEst.GDEst``;
    ``docs/derivations/linear.md#exact-risk-of-one-step-gd``.
    """
    m4, m2 = gd_moments()
    b2 = 1  # E|beta|^2 for beta ~ N(0, I/d)
    ey2x2 = (m4 + (D - 1) * m2**2) * b2 + SIGMA2 * D * m2
    eg2 = ey2x2 / L + (1 - sp.Integer(1) / L) * b2
    return sp.expand(SIGMA2 + b2 - 2 * ETA * b2 + ETA**2 * eg2)


@functools.lru_cache(maxsize=None)
def gd_eta_star_expr():
    """The risk-minimising GD step, from ``d risk / d eta = 0``
    (``docs/derivations/linear.md#optimal-gd-step``)."""
    (sol,) = sp.solve(sp.diff(gd_risk_expr(), ETA), ETA)
    return sp.simplify(sol)


# ------------------------------------------------------------------------------- ZFB, exact
LAM, TR, N_, MM = sp.symbols("lambda_i T_Lambda N M", positive=True)


@functools.lru_cache(maxsize=None)
def zfb_term_expr():
    """Per-eigendirection term of the ZFB LSA risk.

    The gradient-flow optimum of single-layer LSA trained at prompt length ``N`` predicts
    ``yhat = x_q^T Gamma^-1 S w``, ``S = (1/M) sum_i x_i x_i^T``,
    ``Gamma = (1 + 1/N) Lambda + tr(Lambda)/N I`` (Zhang, Frei & Bartlett 2024, Thm 4.1).  With
    ``w ~ N(0, I)``, ``x_q ~ N(0, Lambda)`` the error is ``tr(Lambda E[(Gamma^-1 S - I)(S Gamma^-1 - I)])``
    and, for diagonal ``Lambda``, the i-th term uses the Isserlis moment
    ``E[S^2]_ii = (1 - 1/M) lambda_i^2 + (1/M) E[x_i^2 |x|^2]`` with
    ``E[x_i^2 |x|^2] = 3 lambda_i^2 + lambda_i (T - lambda_i)``.

    References
    ----------
    Zhang, Frei, Bartlett, JMLR 25(49), 2024, Theorem 4.1;
    ``docs/derivations/linear.md#zfb-lsa-risk``.
    """
    m4, m2 = gd_moments()
    ex2x2 = m4 * LAM**2 + m2 * LAM * (TR - LAM)
    es2 = (1 - 1 / MM) * LAM**2 + ex2x2 / MM
    gamma = (1 + 1 / N_) * LAM + TR / N_
    return sp.factor(LAM * (es2 / gamma**2 - 2 * LAM / gamma + 1))


def zfb_term_ratio_form():
    """``term = lambda a^2 + (lambda + T) r^2 / M`` with ``a = (lambda + T)/g``, ``r = N lambda/g``,
    ``g = N lambda + lambda + T``: :func:`zfb_term_expr` as a sum of positive terms whose ratios
    ``a, r`` lie in ``[0, 1]``, so that no intermediate overflows, underflows to ``0/0`` or cancels
    (the tests prove the identity with SymPy).  ``term`` is homogeneous of degree 1 in
    ``(lambda, T)``, which :func:`zfb_risk` uses to rescale the spectrum to ``max lambda = 1``.
    """
    g = N_ * LAM + LAM + TR
    a, r = (LAM + TR) / g, N_ * LAM / g
    return LAM * a**2 + (LAM + TR) * r**2 / MM


def zfb_risk(lambdas, N, M) -> float:
    """``R_LSA(N, M) = sum_i term(lambda_i, tr Lambda, N, M)`` (see :func:`zfb_term_expr`).

    Evaluated in the ratio form of :func:`zfb_term_ratio_form` on the spectrum rescaled to
    ``max lambda = 1`` (the risk is homogeneous of degree 1): every term is a sum of non-negative
    numbers of size at most ``max(lambda, T)``, so the relative error is a few ulps for any
    ``lambdas``, ``N``, ``M`` in the domain.

    >>> round(zfb_risk([1.0] * 5, 20, 20), 12) == round(5 * 6 / 26, 12)
    True
    """
    import numpy as np

    lam = np.asarray(lambdas, dtype=float)
    scale = float(lam.max())
    lam = lam / scale
    T, N, M = float(lam.sum()), float(N), float(M)
    g = N * lam + lam + T
    a, r = (lam + T) / g, N * lam / g
    with np.errstate(over="ignore"):
        value = scale * float(np.sum(lam * a**2 + (lam + T) * r**2 / M))
    if not math.isfinite(value):
        raise ValueError(f"the error is about {float(np.sum(lam * a**2 + (lam + T) * r**2 / M)):.3g}"
                         f" x {scale:.3g}, beyond the double-precision range")
    return value


def zfb_isotropic_check() -> bool:
    """SymPy proof that the isotropic ``M = N`` case equals ``d (d + 1)/(N + d + 1)``."""
    iso = D * zfb_term_expr().subs({LAM: 1, TR: D, MM: N_})
    return sp.simplify(iso - D * (D + 1) / (N_ + D + 1)) == 0


def _zfb_display():
    i = sp.Symbol("i", integer=True, positive=True)
    lam_i = sp.Indexed("lambda", i)
    term = zfb_term_expr().subs(LAM, lam_i)
    return sp.Sum(term, (i, 1, D))


# ----------------------------------------------------------------------------------- registry
#: The works the shared baselines come from (the ``linear`` prefix is no paper of its own).
HE_ET_AL = "He, Pan, Chen, Yang (2025), arXiv:2503.12734"
ZFB = "Zhang, Frei, Bartlett (2024), JMLR 25(49), arXiv:2306.09927"


def _ref(anchor: str, *cites: str) -> Reference:
    """Derived on ``docs/derivations/linear.md#<anchor>``, citing the works it comes from."""
    return Reference("linear", "", f"docs/derivations/linear.md#{anchor}", cites)


def risk_bounds(hi_above_noise: float | None = None):
    """``bounds`` of a risk that includes the noise: ``>= sigma2`` and, when given,
    ``<= sigma2 + hi_above_noise`` (:class:`~icl_companion.theory.registry.RiskBounds`)."""
    return RiskBounds(hi_above_noise)


register_closed_form(
    "linear.ridge_bayes_risk_asym",
    "Asymptotic Bayes (ridge, lambda = sigma2 d) risk of in-context linear regression, d/L -> xi",
    [real("xi", 0, hi_open=False, lo_open=True, doc="d/L, limit ratio"),
     real("sigma2", 0, doc="noise variance")],
    ridge_bayes_risk_expr, lambda: (XI, SIGMA2),
    _ref("bayes-risk-via-marchenko-pastur", "Marchenko, Pastur (1967), Math. USSR Sbornik 1",
         HE_ET_AL + " (the BayesRisk of Theorem 1(3) of their blog post; code ridge_loss)"),
    status="asymptotic", status_note="d, L -> inf with d/L -> xi", bounds=risk_bounds(1.0))

register_closed_form(
    "linear.gd_risk",
    "Exact risk E(yhat - y_q)^2 of one-step GD from zero with step eta (finite d, L)",
    [integer("d", 1, doc="dimension"), integer("L", 1, doc="prompt length"),
     real("sigma2", 0, doc="noise variance"), real("eta", doc="GD step")],
    gd_risk_expr, lambda: (D, L, SIGMA2, ETA),
    _ref("exact-risk-of-one-step-gd", HE_ET_AL + " (estimator TFEst.GDEst)"),
    bounds=risk_bounds())

register_closed_form(
    "linear.gd_eta_star",
    "Risk-minimising step of one-step GD from zero (finite d, L)",
    [integer("d", 1), integer("L", 1), real("sigma2", 0)],
    gd_eta_star_expr, lambda: (D, L, SIGMA2),
    _ref("optimal-gd-step", HE_ET_AL + " (estimator TFEst.GDEst)"), bounds={"value": (0, 1)})


def _zfb_result(lambdas, N, M):
    try:
        return zfb_risk(lambdas, N, M)
    except ValueError as e:
        raise ValueError(f"linear.lsa_zfb_risk: {e}") from None


register(Result(
    "linear.lsa_zfb_risk",
    "Exact error of the gradient-flow optimum of 1-layer LSA (ZFB), trained at N, tested at M",
    (vector("lambdas", 0, lo_open=True, doc="eigenvalues of Lambda (x ~ N(0, diag))"),
     integer("N", 1, doc="training prompt length"), integer("M", 1, doc="test prompt length")),
    _zfb_result,
    _ref("zfb-lsa-risk", ZFB + ", Theorem 4.1 (the optimum; its exact risk is derived here)"),
    expression=_zfb_display, bounds={"value": (0, math.inf)},
    definition="where T_Lambda = sum_i lambda_i; predictor yhat = x_q^T Gamma^-1 (1/M) sum_i y_i x_i, "
               "Gamma = (1 + 1/N) Lambda + tr(Lambda)/N I."))
