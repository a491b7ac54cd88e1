"""Figure ``aim-softmax``: Bayes-optimal error of the softmax AIM, and GD / GAMP-RIE against it.

Left: state-evolution MMSE versus ``alpha = n/d^2`` for ``T = 2`` and ``rho`` in {0.1, 0.2, 0.3, 0.5,
1, 2} (each reaching 0 at ``alpha_PR(rho, 2)``), and the dashed ``rho = infinity`` line
``1 - 4 alpha``.  Right: the collapse in ``alpha_bar = alpha (T^2 + T - 2)`` at ``rho = 0.5``: the SE
curve (black line, ``T = 2``), GD students of matched width trained by full-batch Adam (single
students "+", averages of ``k`` students "x"; ``T = 2..6``) and GAMP-RIE runs (black dots,
``T = 2, 3, 4``).  Boncoraglio et al. 2025 (arXiv:2506.01582), softmax figure of the authors'
``figures.ipynb`` (paper figure number not known; ``docs/derivations/aim.md#figures``).
"""

from __future__ import annotations


import numpy as np

from icl_companion.figures.registry import NONCONVERGED_NOTE, FigureData, Unit, figure
from icl_companion.numerics.aim_data import rank, sample_aim
from icl_companion.numerics.aim_gamp import gamp_rie
from icl_companion.numerics.aim_gd import gd_estimate
from icl_companion.numerics.aim_se import K_of_T, alpha_pr, se_softmax
from icl_companion.theory.aim import AUTHORS_CODE
from icl_companion.theory.registry import NOT_NUMBERED, Reference

RHOS_LEFT = (0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
RHO_RIGHT = 0.5
T_GD = (2, 3, 4, 5, 6)
T_GAMP = (2, 3, 4)


def _settings(quick: bool) -> dict:
    if quick:
        return dict(gd_d=30, gd_steps=500, gd_k=4, gd_reps=2,
                    gd_abar=[0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0],
                    gamp_d=60, gamp_reps=2, gamp_abar=[0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0],
                    gamp_iter=100, n_alpha=161)
    # the paper's sizes (the authors' GD_softmax_averaged.py and AMP_softmax.py): GD d = 200, 1000
    # Adam steps at lr 0.1, 16 repetitions, 32 averaged students, alpha in logspace(log10 0.0012,
    # log10 0.3, 32); AMP d = 150, 20 samples, 100 iterations, damping 0.5
    abar_gd = [float(a) for a in np.geomspace(0.0012, 0.3, 32) * 4 if a <= 1.0]
    return dict(gd_d=200, gd_steps=1000, gd_k=32, gd_reps=16, gd_abar=abar_gd,
                gamp_d=150, gamp_reps=20, gamp_abar=[0.04 * i for i in range(1, 13)] + [1.0],
                gamp_iter=100, n_alpha=256)


COLUMNS = ("panel", "kind", "rho", "T", "x", "y", "yerr", "success")


def se_left(rho: float, n_alpha: int) -> dict:
    """Work unit: the ``T = 2`` state-evolution curve of one ``rho`` (and its ``alpha_PR``)."""
    apr = alpha_pr(rho, 2)
    grid = np.unique(np.concatenate([np.linspace(0, 0.28, n_alpha), [apr]]))
    r = se_softmax(grid, rho, 2)
    return {"x": grid, "y": np.asarray(r.mmse, float), "ok": np.asarray(r.success, bool)}


def se_right(n_alpha: int) -> dict:
    """Work unit: the SE line at ``T = 2``, ``rho = RHO_RIGHT`` versus ``alpha_bar = 4 alpha``."""
    abar = np.linspace(0.01, 1.0, n_alpha)
    r = se_softmax(abar / K_of_T(2), RHO_RIGHT, 2)
    return {"x": abar, "y": np.asarray(r.mmse, float), "ok": np.asarray(r.success, bool)}


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def gd_students(T: int, abar: float, rep: int, i_abar: int, d: int, k: int, steps: int,
                seed: int) -> dict:
    """Work unit: one data set (stream ``(seed; 1, T, i_abar, rep)``) and ``k`` GD students of
    matched width trained on it by full-batch Adam."""
    rng = _stream(seed, 1, T, i_abar, rep)
    D = sample_aim(rng, d, RHO_RIGHT, T, alpha=abar / K_of_T(T))
    if D.n == 0:
        return {"n": 0, "single": np.zeros(0), "averaged": np.nan}
    e = gd_estimate(D.X, D.y, D.S, rank(RHO_RIGHT, d), rng, k=k, steps=steps, lr=0.1)
    return {"n": int(D.n), "single": np.asarray(e.single, float), "averaged": float(e.averaged)}


def gamp_instance(T: int, abar: float, rep: int, i_abar: int, d: int, max_iter: int,
                  seed: int) -> dict:
    """Work unit: one GAMP-RIE run on one data set (stream ``(seed; 2, T, i_abar, rep)``)."""
    D = sample_aim(_stream(seed, 2, T, i_abar, rep), d, RHO_RIGHT, T, alpha=abar / K_of_T(T))
    res = gamp_rie(D.X, D.y, RHO_RIGHT, S_true=D.S, max_iter=max_iter, tol=1e-5, track_se=False)
    return {"success": bool(res.success), "mse": float(res.mse)}


def units(quick: bool, seed: int) -> list[Unit]:
    st = _settings(quick)
    c = 1.0 if quick else 40.0
    out = [Unit(f"se-left/rho={rho:g}", se_left, {"rho": rho, "n_alpha": st["n_alpha"]},
                fields=("x", "y", "ok"), cost=1.0) for rho in RHOS_LEFT]
    out.append(Unit("se-right", se_right, {"n_alpha": st["n_alpha"]}, fields=("x", "y", "ok")))
    for T in T_GD:
        for i, ab in enumerate(st["gd_abar"]):
            out += [Unit(f"gd/T={T}/abar={ab:.4g}/rep={r}", gd_students,
                         {"T": T, "abar": ab, "rep": r, "i_abar": i, "d": st["gd_d"],
                          "k": st["gd_k"], "steps": st["gd_steps"], "seed": seed},
                         fields=("n", "single", "averaged"), cost=0.3 * c * (1 + ab))
                    for r in range(st["gd_reps"])]
    for T in T_GAMP:
        for i, ab in enumerate(st["gamp_abar"]):
            out += [Unit(f"gamp/T={T}/abar={ab:.4g}/rep={r}", gamp_instance,
                         {"T": T, "abar": ab, "rep": r, "i_abar": i, "d": st["gamp_d"],
                          "max_iter": st["gamp_iter"], "seed": seed},
                         fields=("success", "mse"), cost=0.3 * c * (1 + ab) * T)
                    for r in range(st["gamp_reps"])]
    return out


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = _settings(quick)
    cols: dict[str, list] = {k: [] for k in COLUMNS}

    def add(panel, kind, rho, T, x, y, yerr=0.0, conv=True):
        for k, v in zip(cols, (panel, kind, rho, T, x, y, yerr, conv)):
            cols[k].append(v)

    nonconv = {"se": 0, "gamp": 0}
    curves = [("left", rho, results[f"se-left/rho={rho:g}"]) for rho in RHOS_LEFT]
    curves.append(("right", RHO_RIGHT, results["se-right"]))
    for panel, rho, r in curves:
        for x, m, ok in zip(r["x"], r["y"], r["ok"]):
            if ok:
                add(panel, "se", rho, 2, float(x), float(m))
            else:
                nonconv["se"] += 1
    for T in T_GD:
        for ab in st["gd_abar"]:
            reps = [results[f"gd/T={T}/abar={ab:.4g}/rep={r}"] for r in range(st["gd_reps"])]
            reps = [r for r in reps if r["n"] > 0]
            if reps:
                singles = np.concatenate([r["single"] for r in reps])
                avgs = [r["averaged"] for r in reps]
                add("right", "gd_single", RHO_RIGHT, T, ab, float(np.mean(singles)),
                    float(np.std(singles)))
                add("right", "gd_avg", RHO_RIGHT, T, ab, float(np.mean(avgs)),
                    float(np.std(avgs)))
    for T in T_GAMP:
        for ab in st["gamp_abar"]:
            reps = [results[f"gamp/T={T}/abar={ab:.4g}/rep={r}"] for r in range(st["gamp_reps"])]
            errs = [r["mse"] for r in reps if r["success"]]
            nonconv["gamp"] += len(reps) - len(errs)
            if errs:
                add("right", "gamp", RHO_RIGHT, T, ab, float(np.mean(errs)),
                    float(np.std(errs)), True)
    meta = {"seed": seed, "mode": "quick" if quick else "full (paper's sizes)", **st,
            "rho_right": RHO_RIGHT, "nonconverged_se_points": nonconv["se"],
            "nonconverged_gamp_runs": nonconv["gamp"], "note": NONCONVERGED_NOTE,
            "random_streams": "one per data set: SeedSequence(seed, spawn_key=(1 GD | 2 GAMP, T, "
                              "alpha_bar index, repetition))",
            "error_bars": "one standard deviation over repetitions (students for '+', data sets "
                          "for 'x' and GAMP), as the paper",
            "gd": "matched width r = rho d, W ~ N(0,1) init, full-batch Adam lr 0.1, loss "
                  "(1/d) sum (y_hat - y)^2"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6.8, 2.6))
    cmap = plt.get_cmap("viridis")
    for i, rho in enumerate(RHOS_LEFT):
        s = (c["panel"] == "left") & (c["kind"] == "se") & (c["rho"] == rho)
        ax1.plot(c["x"][s], c["y"][s], color=cmap(i / (len(RHOS_LEFT) - 1)), lw=1.2,
                 label=f"$\\rho = {rho:g}$")
    a = np.linspace(0, 0.25, 2)
    ax1.plot(a, 1 - 4 * a, "k--", lw=1, label=r"$\rho = \infty$")
    ax1.set(xlim=(0, 0.28), ylim=(0, 1.1), xlabel=r"Sample complexity $\alpha = n/d^2$",
            ylabel="Estimation error", title="softmax, T = 2: state evolution")
    ax1.legend(fontsize=6, ncol=2)
    s = (c["panel"] == "right") & (c["kind"] == "se")
    ax2.plot(c["x"][s], c["y"][s], "k-", lw=1.2, label=f"SE, $T = 2$, $\\rho = {m['rho_right']:g}$")
    ax2.plot(c["x"][s], 2 * c["y"][s], "k:", lw=0.8, label="2 x SE")
    single_cols = ["tab:blue", "teal", "tab:green", "darkviolet", "dodgerblue"]
    avg_cols = ["red", "orangered", "orange", "gold", "lime"]
    for i, T in enumerate(T_GD):
        for kind, mk, col in (("gd_single", "+", single_cols[i]), ("gd_avg", "x", avg_cols[i])):
            s = (c["kind"] == kind) & (c["T"] == T)
            if s.any():
                ax2.errorbar(c["x"][s], c["y"][s], yerr=c["yerr"][s], fmt=mk, ms=4, lw=0.6,
                             color=col, label=f"GD {'single' if kind == 'gd_single' else 'avg'} "
                                              f"T={T}" if T in (2, 6) else None)
    for T, mk in zip(T_GAMP, ("o", "s", "^")):
        s = (c["kind"] == "gamp") & (c["T"] == T)
        ax2.errorbar(c["x"][s], c["y"][s], yerr=c["yerr"][s], fmt=mk, ms=3, color="k",
                     mfc="none", lw=0.6, label=f"GAMP-RIE T={T}")
    ax2.set(xlim=(0.01, 1.0), ylim=(0, 2.1),
            xlabel=r"Sample complexity $\bar{\alpha} = \alpha (T^2 + T - 2)$",
            title=f"collapse in $\\bar{{\\alpha}}$, $\\rho = {m['rho_right']:g}$")
    ax2.legend(fontsize=5, ncol=2)
    fig.suptitle(f"AIM softmax ({m['mode']}): GD d={m['gd_d']}, {m['gd_steps']} Adam steps, "
                 f"avg of k={m['gd_k']}, {m['gd_reps']} data sets; GAMP d={m['gamp_d']}, "
                 f"{m['gamp_reps']} runs/point; omitted non-converged: SE "
                 f"{m['nonconverged_se_points']}, GAMP {m['nonconverged_gamp_runs']}",
                 fontsize=6, y=1.02)
    fig.tight_layout()
    return fig


figure("aim-softmax", "AIM softmax: SE error vs alpha (T = 2, several rho) and the collapse in "
       "alpha (T^2+T-2) with GD students and GAMP-RIE", plot=plot, units=units, reduce=reduce,
       reference=Reference("aim", NOT_NUMBERED, "docs/derivations/aim.md#figures",
                           (AUTHORS_CODE + ", figures.ipynb (softmax + GD figure)",)))
