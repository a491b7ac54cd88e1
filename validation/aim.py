"""AIM: state evolution against GAMP-RIE and gradient-descent students (``iclc verify aim``).

Finite-size allowance (all three checks).  Every measured quantity is a mean over independent
teachers/data sets at two sizes, ``d`` and ``d/2``, in the same run.  The tolerance is
``4 x standard error (seed-to-seed spread at d) + |m(d/2) - m(d)|``: if the finite-size bias decays
like ``1/d`` or faster, the bias left at ``d`` is at most the change from ``d/2`` to ``d``.  This is an
assumption (stated in every rule), not a proof; the check fails when theory and simulation differ by
more than the noise plus the observed drift with ``d``.

References
----------
Boncoraglio, Troiani, Erba, Zdeborová, "Bayes optimal learning of attention-indexed models",
NeurIPS 2025, arXiv:2506.01582 (not numbered in the sources; the authors' ``AMP_*.py`` and
``GD_softmax_averaged.py``); ``docs/derivations/aim.md#state-evolution``, ``#gamp-rie``,
``#gradient-descent-students``.
"""

from __future__ import annotations

import math

import numpy as np

from icl_companion.numerics.aim_data import rank, sample_aim
from icl_companion.numerics.aim_gamp import gamp_rie
from icl_companion.numerics.aim_gd import gd_estimate
from icl_companion.numerics.aim_se import K_of_T, se_hardmax, se_softmax
from icl_companion.theory.aim import AUTHORS_CODE
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.validation.checks import Outcome, check, compare

RHO = 0.5
ALLOW_RULE = "finite-size allowance |m(d/2) - m(d)| (bias ~ 1/d assumed)"


def _mean_se(x):
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def stopping_allowance(result) -> float:
    """Bound on ``|mse(S_hat_t) - mse(S_hat_inf)|`` from the residual history of a GAMP run.

    With geometric convergence ``S_hat_t - S_hat_inf = lam^t E``, the last residual
    ``res = ||S_hat_{t+1} - S_hat_t||^2 / d`` gives ``||S_hat_{t+1} - S_hat_inf||^2 / d =
    res lam^2 / (1 - lam)^2 =: tail`` with ``lam = sqrt(res_t / res_{t-1})``; then
    ``|mse - mse_inf| <= 2 sqrt(mse tail) + tail`` (triangle inequality).
    """
    res = np.asarray(result.history["residual"], dtype=float)
    if res.size < 2 or not np.all(np.isfinite(res[-2:])) or res[-2] <= 0:
        return math.inf
    lam = min(math.sqrt(res[-1] / res[-2]), 0.99)
    tail = res[-1] * lam**2 / (1 - lam) ** 2
    return float(2 * math.sqrt(max(result.mse, 0.0) * tail) + tail)


def gamp_errors(d: int, alpha: float, T: int, channel: str, seeds, variant: str = "correct",
                damp_S: float = 0.0, tol: float = 1e-7, max_iter: int = 300, rho: float = RHO):
    """GAMP-RIE errors ``||S_hat - S||^2/d`` for independent teachers (one per seed).

    Returns ``(errors, n_converged, stopping_allowances)``.
    """
    errs, conv, stop = [], 0, []
    for s in seeds:
        D = sample_aim(np.random.default_rng(s), d, rho, T, alpha=alpha, channel=channel)
        r = gamp_rie(D.X, D.y, rho, channel=channel, variant=variant, S_true=D.S, tol=tol,
                     max_iter=max_iter, damp_S=damp_S, track_se=False)
        errs.append(r.mse)
        conv += bool(r.success)
        stop.append(stopping_allowance(r))
    return np.array(errs), conv, np.array(stop)


def _two_size_comparison(name, theory, d, run):
    """Compare ``theory`` with the mean of ``run(d)``; allowances from ``run(d // 2)`` and from
    the stopping rule (:func:`stopping_allowance`, averaged over the runs at ``d``)."""
    big, conv_b, stop = run(d)
    small, conv_s, _ = run(d // 2)
    m, se = _mean_se(big)
    m2, _ = _mean_se(small)
    fs, st = abs(m2 - m), float(np.mean(stop))
    c = compare(name, theory, m, se, allowance=fs + st,
                allowance_rule=f"= {fs:.2g} {ALLOW_RULE} + {st:.2g} stopping allowance "
                               "(geometric tail of the residuals)")
    return c, conv_b, conv_s, m2


def softmax_comparisons(quick: bool, seed: int, theory=None) -> Outcome:
    """Body of ``aim.se_vs_gamp_softmax``; ``theory(alpha, T)`` may be replaced (tests)."""
    theory = theory or (lambda a, T: se_softmax(a, RHO, T).mmse)
    d = 60 if quick else 160
    n_seeds = 3 if quick else 4
    abars = [0.4, 1.2] if quick else [0.15, 0.3, 0.45, 0.6, 1.2]
    tol = 1e-6 if quick else 1e-7
    seeds = [seed * 1000 + i for i in range(n_seeds)]
    out = Outcome(facts={"rho": RHO, "d": d, "d_half": d // 2, "seeds_per_point": n_seeds,
                         "alpha_bar = K alpha": abars, "alpha_bar_PR": 2 * RHO - RHO**2,
                         "gamp": f"damping 0.5 on (V, omega), tol {tol}, <= 300 iterations, "
                                 "init sqrt(rho) I"})
    nonconv = 0
    for T in (2, 3):
        K = K_of_T(T)
        for ab in abars:
            a = ab / K
            run = lambda dd: gamp_errors(dd, a, T, "softmax", seeds, tol=tol)  # noqa: E731
            alpha_used = math.floor(a * d * d + 1e-9) / d**2
            c, cb, cs, _ = _two_size_comparison(
                f"T={T} alpha={alpha_used:.4g} (K alpha={ab:g})", theory(alpha_used, T), d, run)
            out.comparisons.append(c)
            nonconv += 2 * n_seeds - cb - cs
    out.facts["gamp runs not converged (final iterate used)"] = nonconv
    return out


@check("aim.se_vs_gamp_softmax", "softmax SE MMSE vs GAMP-RIE (T = 2, 3; rho = 0.5; alpha "
       "below and above alpha_PR)",
       reference=Reference("aim", NOT_NUMBERED, "docs/derivations/aim.md#gamp-rie",
                           (AUTHORS_CODE + ", AMP_softmax.py, SE_softmax.py",)))
def se_vs_gamp_softmax(quick: bool, seed: int) -> Outcome:
    return softmax_comparisons(quick, seed)


def hardmax_comparisons(quick: bool, seed: int, variant_theory: str = "correct") -> Outcome:
    """Body of ``aim.se_vs_gamp_hardmax``; GAMP always uses the ``correct`` g_out."""
    d = 50 if quick else 120
    n_seeds = 3 if quick else 4
    alphas = [0.4, 1.0]
    seeds = [seed * 1000 + 500 + i for i in range(n_seeds)]
    out = Outcome(facts={"rho": RHO, "T": 2, "d": d, "d_half": d // 2,
                         "seeds_per_point": n_seeds, "gamp variant": "correct",
                         "SE variant": variant_theory,
                         "gamp": "damping 0.5 on (V, omega) and on S_hat, tol 1e-7, <= 300 it."})
    nonconv = 0
    for a in alphas:
        run = lambda dd: gamp_errors(dd, a, 2, "hardmax", seeds, damp_S=0.5)  # noqa: E731
        th = se_hardmax(a, RHO, variant_theory)
        if not th.success:
            raise RuntimeError(f"hardmax SE did not converge at alpha={a}: {th.message}")
        c, cb, cs, _ = _two_size_comparison(f"alpha={a:g}", th.mmse, d, run)
        out.comparisons.append(c)
        nonconv += 2 * n_seeds - cb - cs
    out.facts["gamp runs not converged (final iterate used)"] = nonconv
    return out


@check("aim.se_vs_gamp_hardmax", "hardmax T = 2 SE (variant correct) vs GAMP-RIE at two alphas",
       reference=Reference("aim", NOT_NUMBERED,
                           "docs/derivations/aim.md#hardmax-channel-and-its-corrected-derivative",
                           (AUTHORS_CODE + ", AMP_hardmax.py, SE_hardmax.py",)))
def se_vs_gamp_hardmax(quick: bool, seed: int) -> Outcome:
    return hardmax_comparisons(quick, seed)


def gd_errors(d: int, abar: float, T: int, seeds, k: int, steps: int, rho: float = RHO) -> dict:
    """GD students and GAMP-RIE on the same teachers: one data set per seed.

    Returns arrays over seeds: ``E1`` (mean single-student error), ``Ek`` (error of the average of
    ``k`` students), ``Einf`` (unbiased estimate ``E_k - s^2/k`` of the infinitely averaged student,
    :func:`icl_companion.numerics.aim_gd.gd_estimate`), ``loss`` (median final training loss), and ``gamp`` (the
    GAMP-RIE error on the same data, a finite-``d`` Bayes-optimal reference) with
    ``gamp_converged`` (count; the final iterate is used either way).
    """
    out = {key: [] for key in ("E1", "Ek", "Einf", "loss", "gamp")}
    conv = 0
    for s in seeds:
        rng = np.random.default_rng(s)
        D = sample_aim(rng, d, rho, T, alpha=abar / K_of_T(T))
        e = gd_estimate(D.X, D.y, D.S, rank(rho, d), rng, k=k, steps=steps, lr=0.1)
        out["E1"].append(e.single.mean())
        out["Ek"].append(e.averaged)
        out["Einf"].append(e.inf_average)
        out["loss"].append(float(np.median(e.final_losses)))
        g = gamp_rie(D.X, D.y, rho, S_true=D.S, tol=1e-7, max_iter=300, track_se=False)
        out["gamp"].append(g.mse)
        conv += bool(g.success)
    res = {key: np.array(v, dtype=float) for key, v in out.items()}
    res["gamp_converged"] = conv
    return res


# Finite-size allowance of the GD estimand, measured by d-scaling (docs/aim.md; the paper's
# protocol, 4 teachers per point, k = 8): E_inf - MMSE at K alpha = 0.4, T = 3 is 0.065 (d = 40),
# 0.056 (d = 80), 0.040 (d = 160): it decays close to d^(-1/2) (80 -> 160: factor 0.71), much
# slower than the 1/d of the GAMP checks, and the drift between d/2 and d is not a usable bound
# below d = 80 (E_inf(20) ~ E_inf(40)).  Allowance c / sqrt(d) with c = 0.040 sqrt(160) = 0.51
# (K alpha = 0.6 at d = 160 gives 0.48 from 2 teachers; d = 200, 2 teachers: 0.033 measured, 0.036
# predicted).  This encodes "E_inf -> MMSE like d^(-1/2)"; that the excess vanishes as
# d -> infinity is an extrapolation from d <= 200.
GD_C = 0.51
GD_RULE = "finite-size allowance 0.51 / sqrt(d) (E_inf - MMSE measured at d = 160, rate d^(-1/2))"


def gd_comparisons(quick: bool, seed: int, theory=None, abars=None) -> Outcome:
    """Body of ``aim.gd_vs_se``; ``theory(alpha, T)`` may be replaced (tests).

    Estimand.  For each teacher, ``k`` students trained on the same data give the unbiased
    estimate ``E_inf = E_k - s^2/k`` of the error of the *infinitely* averaged student
    (:func:`icl_companion.numerics.aim_gd.gd_estimate`); its mean over teachers is compared with the SE MMSE.
    This is the assumption-free version of the paper's "GD averaged over 32 students, close to and
    slightly above SE": the average of ``k`` students has error ``E_inf + v/k`` (``v`` = spread of
    the students), so it lies above ``E_inf`` by an amount that depends on ``k`` only.  The former
    target ``(1 + 1/k) MMSE`` additionally assumed that each student is a posterior sample
    (``v = MMSE``, ``E_1 = 2 MMSE``), a heuristic that is not needed
    (``docs/derivations/aim.md#gradient-descent-students``).

    Tolerance: 4 standard errors of the teacher-to-teacher spread of ``E_inf`` at ``d`` plus the
    finite-size allowance ``GD_C / sqrt(d)`` measured by d-scaling (see ``GD_C``; at ``d = 80``:
    0.057, i.e. the check asserts "E_inf lies within the measured ``d^(-1/2)`` envelope above the
    SE", not Bayes-optimality at finite ``d``, which the paired GAMP-RIE facts contradict by
    ~0.03).  Universality: ``E_inf`` for ``T = 3, 4`` against ``T = 2`` at the same ``K alpha``
    (same allowance: the excesses share ``d`` and rate).  Diagnostics in the facts: ``E_1/MMSE``,
    ``E_k`` against ``(1 + 1/k) MMSE``, and the paired difference ``E_inf - GAMP-RIE`` on the same
    data (the distance of averaged GD from a Bayes-optimal algorithm at the same ``d``).
    """
    theory = theory or (lambda a, T: se_softmax(a, RHO, T).mmse)
    d = 40 if quick else 80
    # 4 teachers give a standard error with 3 degrees of freedom, too unreliable for a 4-SE rule
    # over 15 comparisons (measured at d = 80, K alpha = 0.4, T = 4: s.e. 0.020 from teachers 1-4,
    # 0.006 from teachers 900-903); the full check uses 8
    n_seeds = 4 if quick else 8
    k = 4 if quick else 8
    steps = 500 if quick else 1000
    abars = abars or ([0.4] if quick else [0.2, 0.4, 0.6])
    seeds = [seed * 1000 + 900 + i for i in range(n_seeds)]
    allow = GD_C / math.sqrt(d)
    out = Outcome(facts={"rho": RHO, "d": d, "data_sets_per_point": n_seeds,
                         "students averaged (k)": k, "adam": f"lr 0.1, {steps} full-batch steps, "
                                                            "init W ~ N(0, 1)",
                         "estimand": "E_inf = E_k - s^2/k (infinitely averaged student), "
                                     "unbiased; compared with the SE MMSE"})
    for ab in abars:
        res = {}
        for T in (2, 3, 4):
            a = ab / K_of_T(T)
            big = gd_errors(d, ab, T, seeds, k, steps)
            m, se = _mean_se(big["Einf"])
            alpha_used = math.floor(a * d * d + 1e-9) / d**2
            mm = theory(alpha_used, T)
            out.comparisons.append(compare(
                f"infinitely averaged GD, T={T}, K alpha={ab:g}", mm, m, se,
                allowance=allow, allowance_rule=GD_RULE))
            res[T] = m, se
            tag = f"T={T}, K alpha={ab:g}"
            gap, gap_se = _mean_se(big["Einf"] - big["gamp"])
            out.facts[f"{tag}: MMSE, E_inf"] = [round(mm, 4), round(m, 4)]
            out.facts[f"{tag}: single GD / MMSE"] = round(float(big["E1"].mean() / mm), 3) \
                if mm > 0 else float("nan")
            out.facts[f"{tag}: E_k vs (1 + 1/k) MMSE"] = [round(float(big["Ek"].mean()), 4),
                                                          round((1 + 1 / k) * mm, 4)]
            out.facts[f"{tag}: E_inf - GAMP-RIE (same data), s.e."] = [round(gap, 4),
                                                                      round(gap_se, 4)]
            out.facts[f"{tag}: GAMP converged, median final loss"] = [
                big["gamp_converged"], float(f"{np.median(big['loss']):.2g}")]
        m2_, se2 = res[2]
        for T in (3, 4):
            m_, se_ = res[T]
            # same d and rate for every T: the finite-size excesses (each <= allow) may differ
            # by at most allow
            out.comparisons.append(compare(
                f"universality: E_inf T={T} vs T=2 at K alpha={ab:g}", m2_, m_,
                math.hypot(se_, se2), allowance=allow, allowance_rule=GD_RULE))
    return out


@check("aim.gd_vs_se", "infinitely averaged GD students (E_k - s^2/k) vs softmax SE MMSE for "
       "T = 2..4 (rho = 0.5), and their collapse in K alpha",
       reference=Reference("aim", NOT_NUMBERED, "docs/derivations/aim.md#gradient-descent-students",
                           (AUTHORS_CODE + ", GD_softmax_averaged.py",)))
def gd_vs_se(quick: bool, seed: int) -> Outcome:
    return gd_comparisons(quick, seed)
