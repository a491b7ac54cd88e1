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

from icl_companion.figures.registry import NONCONVERGED_NOTE, FigureData, Unit, figure
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


COLUMNS = ("panel", "kind", "variant", "rho", "x", "y", "yerr")


def se_curve(variant: str, rho: float, alphas: list) -> dict:
    """Work unit: one state-evolution curve, warm-started along ``alphas`` (in order)."""
    ys, ok, warm = [], [], None
    for a in alphas:
        r = se_hardmax(float(a), rho, variant, warm=warm)
        ys.append(float(r.mmse) if r.success else np.nan)
        ok.append(bool(r.success))
        if r.success:
            warm = r.mmse
    return {"y": ys, "ok": ok}


def rho0_curve(variant: str, n: int) -> dict:
    """Work unit: the ``rho -> 0`` limit above its threshold ``alpha_bar_c``."""
    ac = weak_recovery(variant)
    xs = np.geomspace(ac * 1.001, 20, n)
    ys, ok, warm = [], [], None
    for ab in xs:
        r = mmse_rho0(float(ab), variant, warm=warm)
        ys.append(float(r.mmse) if r.success else np.nan)
        ok.append(bool(r.success))
        if r.success:
            warm = r.mmse
    return {"threshold": float(ac), "x": xs, "y": ys, "ok": ok}


def gamp_instance(rho: float, alpha: float, rep: int, i_alpha: int, d: int, max_iter: int,
                  seed: int) -> dict:
    """Work unit: one GAMP-RIE run (correct ``g_out``) on one data set of the stated model
    (stream ``SeedSequence(seed, spawn_key=(index of rho, i_alpha, rep))``)."""
    key = (RHOS_LEFT.index(rho), i_alpha, rep)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
    D = sample_aim(rng, d, rho, 2, alpha=alpha, channel="hardmax")
    r = gamp_rie(D.X, D.y, rho, channel="hardmax", variant="correct", S_true=D.S,
                 max_iter=max_iter, tol=1e-5, damp_S=0.5, track_se=False)
    return {"success": bool(r.success), "mse": float(r.mse)}


def _grids(st: dict) -> tuple[np.ndarray, np.ndarray]:
    return np.geomspace(0.03, 10, st["n_left"]), np.geomspace(0.1, 20, st["n_right"])


def units(quick: bool, seed: int) -> list[Unit]:
    st = _settings(quick)
    left, abar = _grids(st)
    out = []
    for v in VARIANTS:
        out += [Unit(f"se-left/{v}/rho={rho:g}", se_curve, {"variant": v, "rho": rho,
                                                            "alphas": left.tolist()},
                     fields=("y", "ok"), cost=0.05 * len(left)) for rho in RHOS_LEFT]
        out += [Unit(f"se-right/{v}/rho={rho:g}", se_curve, {"variant": v, "rho": rho,
                                                             "alphas": (abar * rho).tolist()},
                     fields=("y", "ok"), cost=0.05 * len(abar)) for rho in RHOS_RIGHT]
        out.append(Unit(f"rho0/{v}", rho0_curve, {"variant": v, "n": st["n_rho0"]},
                        fields=("threshold", "x", "y", "ok"), cost=0.05 * st["n_rho0"]))
    for rho in RHOS_LEFT:
        for i, a in enumerate(st["gamp_alpha"]):
            out += [Unit(f"gamp/rho={rho:g}/alpha={a:.4g}/rep={r}", gamp_instance,
                         {"rho": rho, "alpha": a, "rep": r, "i_alpha": i, "d": st["gamp_d"],
                          "max_iter": st["gamp_iter"], "seed": seed},
                         fields=("success", "mse"), cost=0.5 * (st["gamp_d"] / 40) ** 2)
                    for r in range(st["gamp_reps"])]
    return out


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = _settings(quick)
    left, abar = _grids(st)
    cols: dict[str, list] = {k: [] for k in COLUMNS}

    def add(panel, kind, variant, rho, x, y, yerr=0.0):
        for k, v in zip(cols, (panel, kind, variant, rho, x, y, yerr)):
            cols[k].append(v)

    nonconv = {"se": 0, "gamp": 0}

    def curve(panel, variant, rho, xs, r):
        for x, y, ok in zip(xs, r["y"], r["ok"]):
            if ok:
                add(panel, "se", variant, rho, float(x), float(y))
            else:
                nonconv["se"] += 1

    for variant in VARIANTS:
        for rho in RHOS_LEFT:
            curve("left", variant, rho, left, results[f"se-left/{variant}/rho={rho:g}"])
        for rho in RHOS_RIGHT:
            curve("right", variant, rho, abar, results[f"se-right/{variant}/rho={rho:g}"])
        # rho -> 0 limit: exactly 1 up to the threshold, then the BBP fixed point
        r0 = results[f"rho0/{variant}"]
        ac = r0["threshold"]
        add("right", "threshold", variant, 0.0, ac, 1.0)
        add("right", "rho0", variant, 0.0, 0.1, 1.0)
        add("right", "rho0", variant, 0.0, ac, 1.0)
        for x, y, ok in zip(r0["x"], r0["y"], r0["ok"]):
            if ok:
                add("right", "rho0", variant, 0.0, float(x), float(y))
            else:
                nonconv["se"] += 1
    for rho in RHOS_LEFT:
        for a in st["gamp_alpha"]:
            reps = [results[f"gamp/rho={rho:g}/alpha={a:.4g}/rep={r}"]
                    for r in range(st["gamp_reps"])]
            errs = [r["mse"] for r in reps if r["success"]]
            nonconv["gamp"] += len(reps) - len(errs)
            if errs:
                add("left", "gamp", "correct", rho, float(a), float(np.mean(errs)),
                    float(np.std(errs)))
    meta = {"seed": seed, "mode": "quick" if quick else "full (paper's AMP sizes)", **st,
            "weak_recovery": {v: results[f"rho0/{v}"]["threshold"] for v in VARIANTS},
            "nonconverged_se_points": nonconv["se"], "nonconverged_gamp_runs": nonconv["gamp"],
            "note": NONCONVERGED_NOTE,
            "random_streams": "one per GAMP data set: SeedSequence(seed, spawn_key=(rho index, "
                              "alpha index, repetition))",
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
       "and vs n/(d r) with the rho -> 0 limit and its threshold", plot=plot, units=units, reduce=reduce,
       reference=Reference("aim", NOT_NUMBERED, "docs/derivations/aim.md#figures",
                           (AUTHORS_CODE + ", figures.ipynb (hardmax figure)",)))
