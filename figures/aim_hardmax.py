"""Figure ``aim-hardmax``: Bayes-optimal error of the ``T = 2`` hardmax AIM, both ``g_out`` variants.

Left (log-log): state-evolution error versus ``alpha = n/d^2`` for ``rho`` in {0.1, 0.2, 0.5, 1, 2},
with the authors' ``g_out`` (``variant="paper"``, dashed: the published curves) and the derivative of
the bivariate CDF (``variant="correct"``, solid: the Bayes-optimal error of the stated model,
``docs/derivations/aim.md#hardmax-channel-and-its-corrected-derivative``), and GAMP-RIE runs with
the correct ``g_out`` (dots, mean +- std over teachers).
Right: error versus ``alpha_bar = n/(d r) = alpha/rho`` for ``rho`` in {0.05, ..., 5}, the
``rho -> 0`` limit (black, flat at 1 up to the weak-recovery threshold) and the thresholds
``alpha_bar_c`` (thin vertical lines), both variants.  Boncoraglio et al. 2025 (arXiv:2506.01582),
hardmax figure of the authors' ``figures.ipynb`` (paper figure number not known;
``docs/derivations/aim.md#figures``).
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import NONCONVERGED_NOTE, FigureData, figure
from icl_companion.numerics.aim_data import sample_aim
from icl_companion.numerics.aim_gamp import gamp_rie
from icl_companion.numerics.aim_se import mmse_rho0, se_hardmax, weak_recovery
from icl_companion.theory.aim import AUTHORS_CODE
from icl_companion.theory.registry import NOT_NUMBERED, Reference

RHOS_LEFT = (0.1, 0.2, 0.5, 1.0, 2.0)
RHOS_RIGHT = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
VARIANTS = ("correct", "paper")


def _settings(quick: bool) -> dict:
    if quick:
        return dict(n_left=14, n_right=12, n_rho0=16, gamp_d=40, gamp_reps=2,
                    gamp_alpha=[0.1, 0.5, 2.0], gamp_iter=300)
    # the paper's AMP: d = 100, 16 samples, 500 iterations, alpha in logspace(0.03, 8, 32)
    return dict(n_left=48, n_right=40, n_rho0=64, gamp_d=100, gamp_reps=16,
                gamp_alpha=[float(a) for a in np.geomspace(0.03, 8, 32)[::3]], gamp_iter=500)


def compute(quick: bool, seed: int) -> FigureData:
    st = _settings(quick)
    cols: dict[str, list] = {k: [] for k in ("panel", "kind", "variant", "rho", "x", "y",
                                             "yerr")}

    def add(panel, kind, variant, rho, x, y, yerr=0.0):
        for k, v in zip(cols, (panel, kind, variant, rho, x, y, yerr)):
            cols[k].append(v)

    nonconv = {"se": 0, "gamp": 0}

    def se_curve(panel, variant, rho, alphas, xs):
        warm = None
        for a, x in zip(alphas, xs):
            r = se_hardmax(float(a), rho, variant, warm=warm)
            if r.success:
                add(panel, "se", variant, rho, float(x), float(r.mmse))
                warm = r.mmse
            else:
                nonconv["se"] += 1

    left_grid = np.geomspace(0.03, 10, st["n_left"])
    for variant in VARIANTS:
        for rho in RHOS_LEFT:
            se_curve("left", variant, rho, left_grid, left_grid)
        abar = np.geomspace(0.1, 20, st["n_right"])
        for rho in RHOS_RIGHT:
            se_curve("right", variant, rho, abar * rho, abar)
        # rho -> 0 limit: exactly 1 up to the threshold, then the BBP fixed point
        ac = weak_recovery(variant)
        add("right", "threshold", variant, 0.0, ac, 1.0)
        add("right", "rho0", variant, 0.0, 0.1, 1.0)
        add("right", "rho0", variant, 0.0, ac, 1.0)
        warm = None
        for ab in np.geomspace(ac * 1.001, 20, st["n_rho0"]):
            r = mmse_rho0(float(ab), variant, warm=warm)
            if r.success:
                add("right", "rho0", variant, 0.0, float(ab), float(r.mmse))
                warm = r.mmse
            else:
                nonconv["se"] += 1
    # GAMP-RIE with the correct g_out on data from the stated model
    ss = np.random.SeedSequence(seed)
    for rho in RHOS_LEFT:
        for a in st["gamp_alpha"]:
            errs = []
            for child in ss.spawn(st["gamp_reps"]):
                D = sample_aim(np.random.default_rng(child), st["gamp_d"], rho, 2, alpha=a,
                               channel="hardmax")
                r = gamp_rie(D.X, D.y, rho, channel="hardmax", variant="correct", S_true=D.S,
                             max_iter=st["gamp_iter"], tol=1e-5, damp_S=0.5, track_se=False)
                if r.success:
                    errs.append(r.mse)
                else:
                    nonconv["gamp"] += 1
            if errs:
                add("left", "gamp", "correct", rho, float(a), float(np.mean(errs)),
                    float(np.std(errs)))
    meta = {"seed": seed, "mode": "quick" if quick else "full (paper's AMP sizes)", **st,
            "weak_recovery": {v: weak_recovery(v) for v in VARIANTS},
            "nonconverged_se_points": nonconv["se"], "nonconverged_gamp_runs": nonconv["gamp"],
            "note": NONCONVERGED_NOTE,
            "gamp": "variant correct, labels of the stated model, damping 0.5 on (V, omega) and "
                    "S_hat, tol 1e-5; error bars: one std over teachers"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6.8, 2.7))
    cmap = plt.get_cmap("plasma")

    def colour(rho, rhos):
        return cmap(0.85 * list(rhos).index(rho) / (len(rhos) - 1))

    ls = {"correct": "-", "paper": "--"}
    for rho in RHOS_LEFT:
        for v in VARIANTS:
            s = (c["panel"] == "left") & (c["kind"] == "se") & (c["rho"] == rho) & \
                (c["variant"] == v)
            ax1.plot(c["x"][s], c["y"][s], ls[v], color=colour(rho, RHOS_LEFT), lw=1,
                     label=f"$\\rho = {rho:g}$" if v == "correct" else None)
        s = (c["kind"] == "gamp") & (c["rho"] == rho)
        ax1.errorbar(c["x"][s], c["y"][s], yerr=c["yerr"][s], fmt="o", ms=3, lw=0.6,
                     color=colour(rho, RHOS_LEFT))
    ax1.plot([], [], "k-", lw=1, label="SE, correct g_out")
    ax1.plot([], [], "k--", lw=1, label="SE, paper g_out")
    ax1.plot([], [], "ko", ms=3, label=f"GAMP-RIE (correct), d={m['gamp_d']}")
    ax1.set(xscale="log", yscale="log", xlim=(0.03, 10), ylim=(0.03, 1.1),
            xlabel=r"Sample complexity $\alpha = n/d^2$", ylabel="Estimation error",
            title="hardmax, T = 2")
    ax1.legend(fontsize=5, ncol=2, loc="lower left")
    for rho in RHOS_RIGHT:
        for v in VARIANTS:
            s = (c["panel"] == "right") & (c["kind"] == "se") & (c["rho"] == rho) & \
                (c["variant"] == v)
            ax2.plot(c["x"][s], c["y"][s], ls[v], color=colour(rho, RHOS_RIGHT), lw=0.9,
                     label=f"$\\rho = {rho:g}$" if v == "correct" else None)
    for v in VARIANTS:
        s = (c["kind"] == "rho0") & (c["variant"] == v)
        ax2.plot(c["x"][s], c["y"][s], ls[v], color="k", lw=1.4,
                 label=r"$\rho \to 0$" if v == "correct" else None)
        s = (c["kind"] == "threshold") & (c["variant"] == v)
        ax2.axvline(c["x"][s][0], color="0.5", lw=0.6, ls=ls[v])
    ax2.set(xscale="log", xlim=(0.1, 20), ylim=(0, 1.05),
            xlabel=r"Sample complexity $\bar{\alpha} = n/(d r)$",
            title=r"$\bar{\alpha}_c$: correct %.3f, paper %.3f" % (m["weak_recovery"]["correct"],
                                                         m["weak_recovery"]["paper"]))
    ax2.legend(fontsize=5, ncol=2)
    fig.suptitle(f"AIM hardmax ({m['mode']}); solid: correct g_out (Bayes-optimal), dashed: "
                 f"authors' g_out; omitted non-converged: SE {m['nonconverged_se_points']}, "
                 f"GAMP {m['nonconverged_gamp_runs']}", fontsize=6, y=1.02)
    fig.tight_layout()
    return fig


figure("aim-hardmax", "AIM hardmax T = 2: SE error vs alpha (both g_out variants) with GAMP-RIE, "
       "and vs n/(d r) with the rho -> 0 limit and its threshold", compute, plot,
       reference=Reference("aim", NOT_NUMBERED, "docs/derivations/aim.md#figures",
                           (AUTHORS_CODE + ", figures.ipynb (hardmax figure)",)))
