"""Two-layer AIM: decoupled state evolution against GAMP-RIE per layer (``iclc verify aim``).

Tolerance of every comparison (docs/derivations/aim_multilayer.md#measurements):

    |mean GAMP-RIE error at d_max - SE| <= 4 x standard error (teacher-to-teacher spread at d_max)
                                           + finite-size allowance + stopping allowance,

and a point where GAMP-RIE converged on fewer than half of the teachers at some size fails (the
allowances of non-converged runs are large and say nothing about the theory),

the finite-size allowance being measured in the same run: the per-layer means at the sizes
``ds`` are fitted by weighted least squares as ``m(d) = m_inf + b / d`` (weights 1/s.e.^2; with two
sizes the line through both), and the allowance is the fitted bias at ``d_max``, ``|b| / d_max``,
plus 2 standard errors of that bias (the fit's own uncertainty).  The rate ``1/d`` is an assumption
(stated in every rule), the fitted ``m_inf`` is reported as a fact.  The stopping allowance bounds
the distance of the final GAMP iterate from its fixed point from the geometric tail of the
residuals (:func:`icl_companion.validation.aim.stopping_allowance`).

Points: T = 2, rho = (0.5, 0.5); quick mode c = 1, alpha = 0.15, d = 20, 30, 3 teachers; full
mode c = 1 (noiseless) and c = 0 (output noise Delta = 0.05), alpha = 0.1, 0.15, 0.2, d = 40, 60,
8 teachers per point and size.

Averaged gradient-descent students (full mode; d = 40, 4 teachers, k = 4 students, Adam lr 0.03,
2000 steps: the single-layer protocol's lr 0.1 x 1000 steps leaves two-layer students far from
interpolation) are trained on the same data as GAMP-RIE; their error per layer (the unbiased
infinitely-averaged estimate ``E_k - s^2/k``) and its gaps to the SE and to GAMP-RIE on the same
data are reported as facts, not judged (GD is not expected to be Bayes-optimal).

References
----------
Boncoraglio, Troiani, Erba, Zdeborová, arXiv:2506.01582 (model: Eqs. 4-5; GAMP-RIE and GD for one
layer); docs/derivations/aim_multilayer.md.
"""

from __future__ import annotations

import math

import numpy as np

from icl_companion.numerics.aim_multilayer import sample_multilayer
from icl_companion.numerics.aim_multilayer_gamp import gamp_rie_multilayer
from icl_companion.numerics.aim_multilayer_gd import gd_estimate_multilayer
from icl_companion.numerics.aim_multilayer_se import se_multilayer
from icl_companion.validation.aim import stopping_allowance
from icl_companion.theory.registry import Reference
from icl_companion.validation.checks import Outcome, check, compare

RHO = (0.5, 0.5)
T = 2
#: Output noise used with c < 1, where the noiseless joint channel folds (derivation
#: ``#two-preimages``): the inner quadrature is accurate for Delta >= 0.03 (tested).
DELTA_FOLD = 0.05
#: Fraction of teachers on which GAMP-RIE must converge at every size for a point to be judged.
MIN_CONVERGED = 0.5


def gamp_settings(c: float, max_iter: int) -> dict:
    """GAMP-RIE iteration controls at skip strength ``c``.

    With ``c >= 1``: damping 0.5 on ``(V, omega)``, no damping of the estimates, ``max_iter``.
    Below (``c = 0`` measured), where the joint channel folds, that iteration oscillates on most
    teachers at ``d = 40`` (error above the prior's, wandering between 0.9 and 6); damping 0.8 on
    ``(V, omega)`` and 0.5 on the estimates ``S_hat_l`` converge (6 of 6 teachers at ``d = 40``,
    ``alpha = 0.1``, ``Delta = 0.05``, in 30-56 iterations), with at least 200 iterations allowed
    (docs/derivations/aim_multilayer.md#state-evolution-versus-gamp-rie).
    """
    if c < 1:
        return {"damping": 0.8, "damp_S": 0.5, "max_iter": max(int(max_iter), 200)}
    return {"damping": 0.5, "damp_S": 0.0, "max_iter": int(max_iter)}


def _gamp_description() -> str:
    """The iteration controls of :func:`gamp_settings`, in words (read from it, not restated)."""
    hi, lo = gamp_settings(1.0, 0), gamp_settings(0.0, 0)
    return (f"tol 1e-6, init sqrt(rho) I; c >= 1: damping {hi['damping']:g} on (V, omega); "
            f"c < 1: damping {lo['damping']:g} on (V, omega) and {lo['damp_S']:g} on S_hat, at "
            f"least {lo['max_iter']} iterations")


def _settings(quick: bool) -> dict:
    if quick:
        return dict(points=[(1.0, 0.0, 0.15)], ds=(20, 30), seeds=3, rqmc=(7, 3), gd=None,
                    max_iter=60)
    # alpha >= 0.1: below, GAMP-RIE at these sizes (n = alpha d^2 <= 160 at d = 40) collapses
    # to c_hat = 0 with errors near 2 on some teachers (derivation #measurements)
    return dict(points=[(c, dl, a) for (c, dl) in ((1.0, 0.0), (0.0, DELTA_FOLD))
                        for a in (0.1, 0.15, 0.2)],
                ds=(40, 60), seeds=8, rqmc=(10, 4),
                gd=dict(d=40, seeds=4, k=4, steps=2000, lr=0.03), max_iter=60)


def finite_size_fit(ds, means, ses) -> dict:
    """Weighted least squares ``m(d) = m_inf + b / d`` per layer.

    ``means``, ``ses``: arrays ``(len(ds), L)``.  Returns ``m_inf``, ``b``, ``b_se`` (arrays
    ``(L,)``; ``b_se`` = 0 for two sizes, where the line is exact) and the allowance at
    ``d_max``: ``(|b| + 2 b_se) / d_max``.
    """
    x = 1.0 / np.asarray(ds, dtype=float)
    means, ses = np.atleast_2d(means), np.atleast_2d(ses)
    out = {"m_inf": [], "b": [], "b_se": []}
    for j in range(means.shape[1]):
        y, s = means[:, j], np.maximum(ses[:, j], 1e-12)
        if len(x) == 2:
            b = (y[0] - y[1]) / (x[0] - x[1])
            out["m_inf"].append(y[1] - b * x[1])
            out["b"].append(b)
            out["b_se"].append(0.0)
            continue
        W = 1.0 / s**2
        X = np.stack([np.ones_like(x), x], 1)
        cov = np.linalg.inv(X.T @ (W[:, None] * X))
        coef = cov @ X.T @ (W * y)
        out["m_inf"].append(coef[0])
        out["b"].append(coef[1])
        out["b_se"].append(math.sqrt(cov[1, 1]))
    res = {k: np.array(v) for k, v in out.items()}
    res["allowance"] = (np.abs(res["b"]) + 2 * res["b_se"]) / max(ds)
    return res


def gamp_runs(d, alpha, c, delta, seeds, max_iter, gd=None):
    """GAMP-RIE (and optionally GD students) on independent teachers; per-layer arrays."""
    errs, stops, conv, cross, gd_inf, gd_gap = [], [], 0, [], [], []
    for i, s in enumerate(seeds):
        rng = np.random.default_rng(s)
        D = sample_multilayer(rng, d, RHO, T, L=2, alpha=alpha, c=c, delta=delta)
        r = gamp_rie_multilayer(D.X, D.y, RHO, c=c, delta=delta, S_true=D.S, tol=1e-6,
                                **gamp_settings(c, max_iter))
        errs.append(r.mse)
        conv += bool(r.success)
        cross.append(r.history["cross"][-1])
        stops.append([_layer_stop(r, lay) for lay in range(2)])
        if gd is not None and i < gd["seeds"]:
            e = gd_estimate_multilayer(D.X, D.y, D.S, RHO, rng, c=c, k=gd["k"],
                                       steps=gd["steps"], lr=gd["lr"])
            gd_inf.append(e.inf_average)
            gd_gap.append(e.inf_average - r.mse)
    out = {"mse": np.array(errs), "stop": np.array(stops), "converged": conv,
           "cross": np.array(cross)}
    if gd is not None:
        out["gd_inf"], out["gd_gap"] = np.array(gd_inf), np.array(gd_gap)
    return out


class _LayerView:
    """A single-layer view (residual history, final error) of a multilayer GAMP record."""

    def __init__(self, r, lay):
        self.history = {"residual": r.history["residual"]}
        self.mse = float(r.mse[lay])


def _layer_stop(r, lay):
    return stopping_allowance(_LayerView(r, lay))


def _mean_se(x):
    x = np.asarray(x, dtype=float)
    return x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(x.shape[0])


def measure(quick: bool, seed: int) -> dict:
    """GAMP-RIE (and, in full mode, GD) runs of every point and size: ``{(c, Delta, alpha): {d:
    runs}}`` (:func:`gamp_runs`)."""
    st = _settings(quick)
    out = {}
    for (c, delta, alpha) in st["points"]:
        seeds = [seed * 10000 + int(100 * alpha) * 100 + int(10 * c) * 10 + i
                 for i in range(st["seeds"])]
        out[(c, delta, alpha)] = {
            d: gamp_runs(d, alpha, c, delta, seeds, st["max_iter"],
                         st["gd"] if (st["gd"] and d == st["gd"]["d"]) else None)
            for d in st["ds"]}
    return out


def se_theory(quick: bool):
    """``theory(alpha, c, delta) -> (mmse, mmse_se, cross)`` from :func:`se_multilayer`."""
    log2, R = _settings(quick)["rqmc"]

    def theory(alpha, c, delta):
        r = se_multilayer(alpha, RHO, T, c=c, delta=delta, log2_points=log2, scramblings=R)
        if not r.success:
            raise RuntimeError(f"multilayer SE did not converge at alpha={alpha}, c={c}: "
                               f"{r.message}")
        return np.asarray(r.mmse), np.asarray(r.mmse_se), float(r.cross)

    return theory


def judge(quick: bool, measured: dict, theory) -> Outcome:
    """Comparisons of the measured runs with ``theory(alpha, c, delta) -> (mmse (2,), mmse_se
    (2,), cross)`` (module docstring for the tolerance)."""
    st = _settings(quick)
    log2, R = st["rqmc"]
    out = Outcome(facts={"rho": RHO, "T": T, "sizes d": st["ds"], "teachers per point and size":
                         st["seeds"], "SE": f"RQMC 2^{log2} points x {R} scramblings, adaptive "
                                             "Gauss-Hermite inner integral",
                         "GAMP": _gamp_description()})
    ds = st["ds"]
    dmax = max(ds)
    for (c, delta, alpha), runs in measured.items():
        alpha_used = math.floor(alpha * dmax * dmax + 1e-9) / dmax**2
        th, th_se, cross = theory(alpha_used, c, delta)
        th, th_se = np.asarray(th, dtype=float), np.asarray(th_se, dtype=float)
        stats = [_mean_se(runs[d]["mse"]) for d in ds]
        means = np.array([m for m, _ in stats])
        ses = np.array([s for _, s in stats])
        fit = finite_size_fit(ds, means, ses)
        stop = runs[dmax]["stop"].mean(axis=0)
        tag = f"c={c:g}, Delta={delta:g}, alpha={alpha_used:.4g}"
        # allowances computed from runs that did not converge are not a tolerance: a point where
        # GAMP-RIE converged on fewer than half of the teachers at some size fails the check
        need = math.ceil(MIN_CONVERGED * st["seeds"])
        short = {d: runs[d]["converged"] for d in ds if runs[d]["converged"] < need}
        if short:
            out.passed = False
            out.notes.append(f"{tag}: GAMP-RIE converged on {short} of {st['seeds']} teachers "
                             f"(d: count), fewer than {need}: not comparable, counted as a failure")
        for lay in range(2):
            allow = float(fit["allowance"][lay] + stop[lay])
            rule = (f"= {fit['allowance'][lay]:.2g} finite-size allowance (|b| + 2 s.e.(b))/d_max "
                    f"from the fit m(d) = m_inf + b/d over d = {list(ds)} + {stop[lay]:.2g} "
                    f"stopping allowance; SE s.e. {th_se[lay]:.1g}")
            out.comparisons.append(compare(f"layer {lay + 1}, {tag}, d={dmax}", th[lay],
                                           means[-1, lay], ses[-1, lay], allowance=allow,
                                           allowance_rule=rule))
        out.facts[f"{tag}: SE (V1, V2) +- s.e."] = [[round(float(v), 4) for v in th],
                                                   [float(f"{v:.1g}") for v in th_se]]
        out.facts[f"{tag}: GAMP mean per d"] = {d: [round(float(v), 4) for v in m]
                                                for d, m in zip(ds, means)}
        out.facts[f"{tag}: fitted m_inf, b"] = [[round(float(v), 4) for v in fit["m_inf"]],
                                                [round(float(v), 3) for v in fit["b"]]]
        out.facts[f"{tag}: GAMP converged"] = {d: f"{runs[d]['converged']}/"
                                                  f"{len(runs[d]['mse'])}" for d in ds}
        out.facts[f"{tag}: cross Fisher, SE / GAMP (d_max)"] = [
            round(float(cross), 4), round(float(np.mean(runs[dmax]["cross"])), 4)]
        gd = st["gd"]
        if gd is not None:
            g = runs[gd["d"]]
            gm, gs = _mean_se(g["gd_inf"])
            pm, ps = _mean_se(g["gd_gap"])
            out.facts[f"{tag}: GD E_inf (d={gd['d']}, k={gd['k']}) +- s.e."] = [
                [round(float(v), 4) for v in gm], [round(float(v), 4) for v in gs]]
            out.facts[f"{tag}: GD E_inf - SE"] = [round(float(v), 4) for v in gm - th]
            out.facts[f"{tag}: GD E_inf - GAMP (same data) +- s.e."] = [
                [round(float(v), 4) for v in pm], [round(float(v), 4) for v in ps]]
    return out


def multilayer_comparisons(quick: bool, seed: int) -> Outcome:
    """Body of ``aim.multilayer_se_vs_gamp``: :func:`measure`, then :func:`judge` against the SE."""
    return judge(quick, measure(quick, seed), se_theory(quick))


@check("aim.multilayer_se_vs_gamp", "two-layer AIM (T = 2, rho = 0.5): decoupled SE per layer vs "
       "GAMP-RIE (c = 1 noiseless; full mode also c = 0 with output noise, three alphas, d = 40, "
       "60, 8 teachers, GD students reported)",
       reference=Reference("aim", "Eqs. 4-5 (multilayer construction); SE and check derived here",
                           "docs/derivations/aim_multilayer.md#measurements"))
def multilayer_se_vs_gamp(quick: bool, seed: int) -> Outcome:
    return multilayer_comparisons(quick, seed)
