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

import math

import numpy as np

from icl_companion.figures.registry import NONCONVERGED_NOTE, Column, FigureData, Unit, figure
from icl_companion.numerics.aim_data import rank, sample_aim
from icl_companion.numerics.aim_gamp import gamp_rie
from icl_companion.numerics.aim_gd import gd_estimate
from icl_companion.numerics.aim_se import K_of_T, alpha_pr, se_softmax
from icl_companion.theory.aim import AUTHORS_CODE
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.validation.aim_figures import check_softmax

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
    add("left", "se_rho_inf", math.inf, 2, 0.0, 1.0)  # 1 - 4 alpha, to alpha = 1/4
    add("left", "se_rho_inf", math.inf, 2, 0.25, 0.0)
    curves = [("left", rho, results[f"se-left/rho={rho:g}"]) for rho in RHOS_LEFT]
    curves.append(("right", RHO_RIGHT, results["se-right"]))
    for panel, rho, r in curves:
        for x, m, ok in zip(r["x"], r["y"], r["ok"]):
            if ok:
                add(panel, "se", rho, 2, float(x), float(m))
            else:
                nonconv["se"] += 1
    r = results["se-right"]
    for x, y, ok in zip(r["x"], r["y"], r["ok"]):
        if ok:
            add("right", "se_x2", RHO_RIGHT, 2, float(x), 2 * float(y))
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
    meta = {"seed": seed, **st,
            "mode": (f"Quick mode: GD d = {st['gd_d']}, {st['gd_k']} students; GAMP-RIE "
                     f"d = {st['gamp_d']}; {st['gamp_reps']} data sets per point" if quick else
                     "Full mode (the paper's sizes)"),
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
    from matplotlib.lines import Line2D

    from icl_companion.figures.layout import caption, legend_below, new_figure

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, (ax1, ax2, ax3) = new_figure(height=3.4, ncols=3, legend_row=True)
    cmap = plt.get_cmap("viridis")
    ends: dict = {}
    for i, rho in enumerate(RHOS_LEFT):
        s = (c["panel"] == "left") & (c["kind"] == "se") & (c["rho"] == rho)
        ax1.plot(c["x"][s], c["y"][s], color=cmap(0.9 * i / (len(RHOS_LEFT) - 1)), lw=1.1)
        ends.setdefault(round(alpha_pr(rho, 2), 9), []).append(f"{rho:g}")
    ends[0.25].append(r"$\infty$")
    for x, names in ends.items():  # each curve's rho where it reaches 0 (alpha_PR)
        ax1.text(x, 0.02, ", ".join(names), fontsize=6, ha="right" if x > 0.2 else "center",
                 va="bottom", rotation=90, color="0.25")
    s = (c["panel"] == "left") & (c["kind"] == "se_rho_inf")
    ax1.plot(c["x"][s], c["y"][s], "k--", lw=1)
    ax1.set(xlim=(0, 0.28), ylim=(0, 1.05), xlabel=r"$\alpha = n/d^2$",
            ylabel="estimation error",
            title=r"$T = 2$: SE for $\rho = 0.1 \ldots 2$")
    se = (c["panel"] == "right") & (c["kind"] == "se")
    se2 = (c["panel"] == "right") & (c["kind"] == "se_x2")
    for ax in (ax2, ax3):
        ax.plot(c["x"][se], c["y"][se], "k-", lw=1.3)
        ax.set(xlim=(0.0, 1.05), ylim=(0, 2.1),
               xlabel=r"$\bar\alpha = \alpha\,(T^2 + T - 2)$")
    ax3.plot(c["x"][se2], c["y"][se2], "k:", lw=0.9)
    colours = {T: f"C{i}" for i, T in enumerate(T_GD)}
    shift = {T: 0.012 * (i - 2) for i, T in enumerate(T_GD)}  # side by side, not on top
    many_gamp, many_gd = m["gamp_reps"] >= 5, m["gd_reps"] >= 5
    for T in T_GAMP:
        s = (c["kind"] == "gamp") & (c["T"] == T)
        ax2.errorbar(c["x"][s] + shift[T], c["y"][s], yerr=c["yerr"][s] if many_gamp else None,
                     fmt="o", ms=4, color=colours[T], mec="k", mew=0.4, lw=0.7)
    for T in T_GD:
        for kind, mk, ms in (("gd_single", "^", 4), ("gd_avg", "o", 4)):
            s = (c["kind"] == kind) & (c["T"] == T)
            err = c["yerr"][s] if (kind == "gd_single" or many_gd) else None
            ax3.errorbar(c["x"][s] + shift[T], c["y"][s], yerr=err, fmt=mk, ms=ms,
                         mfc="none" if kind == "gd_single" else colours[T], color=colours[T],
                         lw=0.6)
    ax2.set(title=f"GAMP-RIE, $d = {m['gamp_d']}$, $\\rho = {m['rho_right']:g}$")
    ax3.set(title=f"GD students, $d = {m['gd_d']}$, $\\rho = {m['rho_right']:g}$")
    handles = [Line2D([], [], color="0.5", lw=1.1), Line2D([], [], color="k", ls="--", lw=1),
               Line2D([], [], color="k", lw=1.3), Line2D([], [], color="k", ls=":", lw=0.9)]
    labels = [r"SE, $\rho$ as marked at $\alpha_{PR}$", r"$\rho = \infty$: $1 - 4\alpha$",
              rf"SE, $T = 2$, $\rho = {m['rho_right']:g}$", r"$2\times$ SE"]
    handles += [Line2D([], [], ls="none", marker="s", ms=5, color=colours[T]) for T in T_GD]
    labels += [f"$T = {T}$" for T in T_GD]
    handles += [Line2D([], [], ls="none", marker="o", ms=4, color="0.4", mec="k", mew=0.4),
                Line2D([], [], ls="none", marker="^", ms=4, mfc="none", color="0.4"),
                Line2D([], [], ls="none", marker="o", ms=4, color="0.4")]
    labels += ["GAMP-RIE", "one GD student", f"average of {m['gd_k']} GD students"]
    legend_below(fig, handles, labels, ncol=6)
    note = ("In quick mode the GD students (small d, few steps) stay well above the SE; the "
            "paper's 'averaged students close to SE' needs the full mode (d = 200, 1000 steps, "
            "32 students). " if m["gd_d"] < 200 else "")
    caption(fig, note + f"GD: matched width $r = \\rho d$, full-batch Adam, "
                        f"{m['gd_steps']} steps, {m['gd_reps']} data sets per point; error bars "
                        f"on single students: one std over students"
            + ("; on averages and GAMP-RIE: one std over data sets" if many_gd else
               " (averages and GAMP-RIE: too few data sets for a spread)")
            + f". Below $\\bar\\alpha \\approx 0.4$ GAMP-RIE at $d = {m['gamp_d']}$ does not "
              f"reach the Bayes-optimal fixed point (errors above 1)"
            + f". Omitted non-converged: SE {m['nonconverged_se_points']} points, GAMP "
              f"{m['nonconverged_gamp_runs']} runs. {m['mode']}.")
    return fig


COLUMNS = {
    "panel": Column("panel: 'left' (error vs alpha, T = 2) or 'right' (error vs alpha_bar, "
                    "rho = 0.5)", kind="text"),
    "kind": Column("series: 'se' state evolution, 'se_rho_inf' the rho = inf line 1 - 4 alpha, "
                   "'se_x2' twice the SE, 'gd_single' single GD students, 'gd_avg' averages of "
                   "k students, 'gamp' GAMP-RIE", kind="text"),
    "rho": Column("rank ratio r/d", "ρ", sentinels="inf: the rho = inf line"),
    "T": Column("sequence length", "T", kind="int"),
    "x": Column("sample complexity: alpha = n/d^2 (panel 'left') or alpha_bar = "
                "alpha (T^2 + T - 2) (panel 'right')", "α or ᾱ"),
    "y": Column("estimation error (1/d)||S_hat - S||^2 (mean over repetitions)",
                unit="relative to E||S||^2/d (1 = no information)"),
    "yerr": Column("one standard deviation: over students ('gd_single'), over data sets "
                   "('gd_avg', 'gamp')", unit="as y", sentinels="0: not a Monte Carlo row"),
    "success": Column("the solver converged (non-converged points and runs are omitted)",
                      kind="flag"),
}

figure("aim-softmax", "AIM softmax: SE error vs alpha (T = 2, several rho) and the collapse in "
       "alpha (T^2+T-2) with GD students and GAMP-RIE", plot=plot, units=units, reduce=reduce,
       reference=Reference("aim", NOT_NUMBERED, "docs/derivations/aim.md#figures",
                           (AUTHORS_CODE + ", figures.ipynb (softmax + GD figure)",)),
       claim="The Bayes-optimal error of the softmax AIM reaches 0 at α_PR(ρ, T), and in "
             "ᾱ = α(T² + T − 2) the sequence lengths collapse onto the T = 2 state evolution: "
             "GAMP-RIE follows it and GD students stay above it.",
       columns=COLUMNS, check=check_softmax)
