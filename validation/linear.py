"""Theory-versus-simulation checks of the shared linear baselines (``iclc verify linear``).

Every theory value is obtained through the catalogue (:func:`icl_companion.theory.registry.evaluate`), so that a
perturbed formula in the catalogue makes these checks fail (tests/test_linear.py proves it).
"""

from __future__ import annotations

import numpy as np

from icl_companion.numerics.linear import (bayes_conditional_risk, gd_predict, mc_mean, mc_risk, ridge_predict,
                             zfb_predict)
from icl_companion.theory.linear import HE_ET_AL, ZFB
from icl_companion.theory.registry import Reference, evaluate
from icl_companion.validation.checks import Outcome, compare, check

GD_CONFIGS = [  # (d, L, sigma2, eta): He et al.'s d=5, L=40, sigma2=0.1, plus off-optimum steps
    (5, 40, 0.1, 0.9), (10, 20, 1.0, 0.5), (3, 5, 0.5, 1.2)]


@check("linear.gd_risk", "exact one-step GD risk vs Monte Carlo over prompts",
       reference=Reference("linear", "", "docs/derivations/linear.md#exact-risk-of-one-step-gd",
                           (HE_ET_AL,)))
def gd_risk_check(quick: bool, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    n = 400_000 if quick else 4_000_000
    out = Outcome(facts={"prompts_per_config": n, "seed": seed})
    for d, L, s2, eta in GD_CONFIGS:
        th = evaluate("linear.gd_risk", d=d, L=L, sigma2=s2, eta=eta).value
        est = mc_risk(lambda P: gd_predict(P, eta), rng, n, d, L, s2)
        out.comparisons.append(compare(f"d={d} L={L} sigma2={s2} eta={eta}", th, est.mean,
                                       est.stderr))
    return out


ZFB_CONFIGS = [((1.0, 2.0, 0.5), 10, 20), ((1.0, 1.0, 1.0, 1.0), 8, 8), ((3.0, 0.2), 30, 5)]


@check("linear.lsa_zfb_risk", "ZFB LSA optimum: exact error vs Monte Carlo (noiseless, w ~ N(0, I))",
       reference=Reference("linear", "", "docs/derivations/linear.md#zfb-lsa-risk",
                           (ZFB + ", Theorem 4.1",)))
def zfb_check(quick: bool, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    n = 400_000 if quick else 4_000_000
    out = Outcome(facts={"prompts_per_config": n, "seed": seed})
    for lam, N, M in ZFB_CONFIGS:
        th = evaluate("linear.lsa_zfb_risk", lambdas=list(lam), N=N, M=M).value
        est = mc_risk(lambda P: zfb_predict(P, lam, N), rng, n, len(lam), M, 0.0,
                      target="clean", lambdas=lam, beta_scale=1.0)
        out.comparisons.append(compare(f"lambdas={lam} N={N} M={M}", th, est.mean, est.stderr))
    return out


@check("linear.ridge_posterior", "finite-size Bayes risk: ridge predictor MC vs the conditional "
       "posterior-variance formula",
       reference=Reference("linear", "",
                           "docs/derivations/linear.md#bayes-risk-via-marchenko-pastur"))
def ridge_posterior_check(quick: bool, seed: int) -> Outcome:
    """Both sides estimate the same finite-(d, L) Bayes risk; tolerance from the combined SE."""
    rng = np.random.default_rng(seed)
    n = 200_000 if quick else 2_000_000
    out = Outcome(facts={"prompts": n, "seed": seed})
    for d, L, s2 in [(5, 10, 0.25), (8, 4, 1.0)]:
        direct = mc_risk(lambda P: ridge_predict(P, s2 * d), rng, n, d, L, s2)
        cond = mc_mean(bayes_conditional_risk(rng, n // 10, d, L, s2))
        se = float(np.hypot(direct.stderr, cond.stderr))
        out.comparisons.append(compare(f"d={d} L={L} sigma2={s2}", cond.mean, direct.mean, se))
    return out


def _extrapolate(ds, means, ses):
    """Weighted least squares of ``m(d) = a + b/d + c/d^2``; returns ``(a, se(a))``."""
    A = np.vander(1.0 / np.asarray(ds, float), 3, increasing=True) / np.asarray(ses)[:, None]
    rhs = np.asarray(means) / np.asarray(ses)
    coef, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    cov = np.linalg.inv(A.T @ A)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


@check("linear.ridge_bayes_risk_asym", "Marchenko-Pastur Bayes risk vs finite-size Bayes risks "
       "extrapolated in 1/d",
       reference=Reference("linear", "",
                           "docs/derivations/linear.md#bayes-risk-via-marchenko-pastur",
                           (HE_ET_AL + " (Theorem 1(3) of their blog post, code ridge_loss)",)))
def ridge_asym_check(quick: bool, seed: int) -> Outcome:
    """The finite-d Bayes risk has bias ``b/d + c/d^2`` (real Gaussian resolvent); the intercept of a
    weighted fit over several d is compared with the limit, tolerance 4 SE of the intercept."""
    rng = np.random.default_rng(seed)
    ds = [10, 20, 40] if quick else [10, 20, 40, 80]
    budget = 200_000 if quick else 800_000
    out = Outcome(facts={"d_values": ds, "prompts_at_d": f"{budget}/d", "seed": seed,
                         "bias model": "a + b/d + c/d^2, weighted least squares"})
    for xi, s2 in [(0.5, 0.25), (2.0, 1.0)]:
        th = evaluate("linear.ridge_bayes_risk_asym", xi=xi, sigma2=s2).value
        means, ses = [], []
        for d in ds:
            L = int(round(d / xi))
            n = budget // d
            r = np.concatenate([bayes_conditional_risk(rng, min(1000, n - i), d, L, s2)
                                for i in range(0, n, 1000)])
            e = mc_mean(r)
            means.append(e.mean)
            ses.append(e.stderr)
        a, se = _extrapolate(ds, means, ses)
        out.comparisons.append(compare(f"xi={xi} sigma2={s2} (d -> inf)", th, a, se))
    return out
