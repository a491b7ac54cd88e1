"""Figure ``aim-multilayer``: per-layer Bayes error of the two-layer AIM versus alpha.

Left: the decoupled state evolution (derivation docs/derivations/aim_multilayer.md) per layer
(solid: layer 1, the hidden attention; dashed: layer 2, the output) for skip strengths
``c`` in {0, 1, 3} (``c = 0`` with output noise ``Delta = 0.05``: the noiseless channel folds),
``T = 2``, ``rho_1 = rho_2 = 0.5``, with GAMP-RIE runs (markers: mean +- standard error over
teachers), the single-layer SE (grey) and the counting threshold ``alpha_PR`` (vertical line).
Right: the ratio of the two errors, which tends to the value ``kappa*`` predicted by the linearised
channel (ticks) as both errors vanish together at ``alpha_PR`` (noiseless ``c``).
Quick mode: ``c`` in {1, 3}, six alphas, RQMC ``2^6 x 2``, a cheaper inner rule, GAMP-RIE at
``c = 1``, ``d = 30``, 2 teachers (about 46 s of unit time).  Full mode: ``c`` in {0, 1, 3}, twelve
alphas, RQMC ``2^10 x 4``, GAMP-RIE at ``c`` in {0, 1}, ``d = 60``, 8 teachers.  Work units: one SE
curve per ``c`` (warm-started along alpha), one linearised threshold ratio per noiseless ``c``, the
single-layer curve, one GAMP-RIE teacher per unit.
Boncoraglio et al. 2025 (arXiv:2506.01582), multilayer construction Eqs. 4-5; this figure is not
in the paper (docs/derivations/aim_multilayer.md#figure-and-transitions).
"""

from __future__ import annotations

import math

import numpy as np

from icl_companion.figures.registry import NONCONVERGED_NOTE, Column, FigureData, Unit, figure
from icl_companion.numerics.aim_multilayer import sample_multilayer
from icl_companion.numerics.aim_multilayer_channel import DEFAULT_RULE, QuadratureRule
from icl_companion.numerics.aim_multilayer_gamp import gamp_rie_multilayer
from icl_companion.numerics.aim_multilayer_se import (alpha_pr_multilayer, se_multilayer,
                                                      threshold_ratio)
from icl_companion.numerics.aim_se import se_softmax
from icl_companion.theory.registry import Reference
from icl_companion.validation.aim_figures import check_multilayer
from icl_companion.validation.aim_multilayer import gamp_settings

RHO = (0.5, 0.5)
T = 2
SKIPS = ((0.0, 0.05), (1.0, 0.0), (3.0, 0.0))   # (c, Delta)


def _settings(quick: bool) -> dict:
    if quick:   # two skip strengths, a coarse alpha grid, 2^6 x 2 RQMC points, cheaper inner rule
        return dict(skips=SKIPS[1:], alphas=[0.04, 0.12, 0.2, 0.28, 0.34, 0.4], rqmc=(6, 2),
                    rule=dict(n_coarse=12, starts=2, newton_steps=8, n_final=14),
                    gamp=dict(d=30, reps=2, alphas=[0.12, 0.2], skips=[(1.0, 0.0)]),
                    lin_nodes=6)
    return dict(skips=SKIPS, rule=None,
                alphas=[0.01, 0.03, 0.05, 0.08, 0.11, 0.15, 0.19, 0.23, 0.27, 0.31, 0.34, 0.36],
                rqmc=(10, 4),
                gamp=dict(d=60, reps=8, alphas=[0.1, 0.15, 0.2, 0.25],
                          skips=[(0.0, 0.05), (1.0, 0.0)]),
                lin_nodes=8)


COLUMNS = ("kind", "c", "Delta", "layer", "alpha", "y", "yerr")


def _rule(spec: dict | None) -> QuadratureRule:
    return DEFAULT_RULE if spec is None else QuadratureRule(**spec)


def se_curve(c: float, Delta: float, alphas: list, log2: int, R: int, rule: dict | None) -> dict:
    """Work unit: the SE per layer along ``alphas`` for one skip strength (each point warm-started
    from the previous one); non-converged points are reported by ``ok``."""
    warm = None
    V, se, ok = [], [], []
    for a in alphas:
        r = se_multilayer(a, RHO, T, c=c, delta=Delta, log2_points=log2, scramblings=R,
                          warm=warm, rule=_rule(rule))
        ok.append(bool(r.success))
        V.append([float(v) for v in r.mmse])
        se.append([float(v) for v in r.mmse_se])
        if r.success:
            warm = np.maximum(r.mmse, 1e-6)
    return {"alpha": np.asarray(alphas, float), "mmse": np.asarray(V), "mmse_se": np.asarray(se),
            "ok": np.asarray(ok, bool)}


def ratio_at_threshold(c: float, n: int) -> dict:
    """Work unit: the error ratio ``V_1 / V_2`` at ``alpha_PR`` from the linearised channel."""
    kr = threshold_ratio(RHO, T, c, n=n)
    return {"ratio": float(kr["ratio"]), "success": bool(kr["success"])}


def single_layer(n: int) -> dict:
    """Work unit: the single-layer SE (``aim.mmse``) of one layer of ``rho = RHO[0]``."""
    grid = np.linspace(0, 0.19, n)
    r = se_softmax(grid, RHO[0], T)
    return {"alpha": grid, "mmse": np.asarray(r.mmse, float), "ok": np.asarray(r.success, bool)}


def gamp_instance(c: float, Delta: float, alpha: float, rep: int, i_alpha: int, d: int,
                  rule: dict | None, seed: int) -> dict:
    """Work unit: one teacher (stream ``SeedSequence(seed, spawn_key=(c index, i_alpha, rep))``)
    and one GAMP-RIE run on it."""
    ic = [s[0] for s in SKIPS].index(c)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ic, i_alpha, rep)))
    D = sample_multilayer(rng, d, RHO, T, L=2, alpha=alpha, c=c, delta=Delta)
    res = gamp_rie_multilayer(D.X, D.y, RHO, c=c, delta=Delta, S_true=D.S, tol=1e-6,
                              rule=_rule(rule), **gamp_settings(c, 80))
    return {"success": bool(res.success), "mse": np.asarray(res.mse, float)}


def units(quick: bool, seed: int) -> list[Unit]:
    st = _settings(quick)
    log2, R = st["rqmc"]
    scale = 1.0 if quick else 30.0
    out = [Unit(f"se/c={c:g}", se_curve, {"c": c, "Delta": dl, "alphas": st["alphas"],
                                          "log2": log2, "R": R, "rule": st["rule"]},
                fields=("alpha", "mmse", "mmse_se", "ok"), cost=20.0 * scale)
           for c, dl in st["skips"]]
    out += [Unit(f"ratio/c={c:g}", ratio_at_threshold, {"c": c, "n": st["lin_nodes"]},
                 fields=("ratio", "success"), cost=5.0) for c, dl in st["skips"] if dl == 0]
    out.append(Unit("single", single_layer, {"n": 60}, fields=("alpha", "mmse", "ok"), cost=0.5))
    g = st["gamp"]
    for c, dl in g["skips"]:
        for i, a in enumerate(g["alphas"]):
            out += [Unit(f"gamp/c={c:g}/alpha={a:g}/rep={r}", gamp_instance,
                         {"c": c, "Delta": dl, "alpha": a, "rep": r, "i_alpha": i, "d": g["d"],
                          "rule": st["rule"], "seed": seed},
                         fields=("success", "mse"), cost=10.0 * scale * (1 + 3 * a))
                    for r in range(g["reps"])]
    return out


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = _settings(quick)
    cols: dict[str, list] = {k: [] for k in COLUMNS}

    def add(kind, c, dl, layer, a, y, yerr=0.0):
        for k, v in zip(cols, (kind, c, dl, layer, a, y, yerr)):
            cols[k].append(v)

    log2, R = st["rqmc"]
    nonconv = {"se": 0, "gamp": 0, "ratio": 0}
    se_omitted = []
    transitions = {}
    for c, dl in st["skips"]:
        r = results[f"se/c={c:g}"]
        for a, V, s, ok in zip(r["alpha"], r["mmse"], r["mmse_se"], r["ok"]):
            if not ok:
                nonconv["se"] += 1
                se_omitted.append([float(c), float(a), [float(v) for v in V]])
                continue
            for lay in range(2):
                add("se", c, dl, lay + 1, float(a), float(V[lay]), float(s[lay]))
        transitions[f"c={c:g}"] = _first_zero(r)
        if dl == 0:
            kr = results[f"ratio/c={c:g}"]
            if kr["success"]:
                add("ratio_pr", c, dl, 0, alpha_pr_multilayer(RHO, T), kr["ratio"])
            else:
                nonconv["ratio"] += 1
    s1 = results["single"]
    for a, m, ok in zip(s1["alpha"], s1["mmse"], s1["ok"]):
        if ok:
            add("single", math.nan, 0.0, 0, float(a), float(m))
    g = st["gamp"]
    for c, dl in g["skips"]:
        for a in g["alphas"]:
            reps = [results[f"gamp/c={c:g}/alpha={a:g}/rep={r}"] for r in range(g["reps"])]
            errs = [np.asarray(x["mse"]) for x in reps if x["success"]]
            nonconv["gamp"] += len(reps) - len(errs)
            if len(errs) >= 2:
                e = np.array(errs)
                for lay in range(2):
                    add("gamp", c, dl, lay + 1, a, float(e[:, lay].mean()),
                        float(e[:, lay].std(ddof=1) / math.sqrt(len(e))))
    meta = {"seed": seed, "mode": "quick" if quick else "full", "rho": RHO, "T": T,
            "skips (c, Delta)": [list(s) for s in st["skips"]], "inner rule": repr(
                _rule(st["rule"])), "rqmc": f"2^{log2} x {R}", "gamp": g,
            "alpha_pr": alpha_pr_multilayer(RHO, T), "nonconverged_se_points": nonconv["se"],
            "nonconverged_se (c, alpha, last V)": se_omitted,
            "nonconverged_gamp_runs": nonconv["gamp"],
            "nonconverged_threshold_ratios": nonconv["ratio"], "note": NONCONVERGED_NOTE,
            "first alpha of the grid with V_l = 0 (layer 1, layer 2)": transitions,
            "random_streams": "one per teacher: SeedSequence(seed, spawn_key=(c index, alpha "
                              "index, repetition))",
            "error_bars": "SE: RQMC standard error; GAMP: standard error over teachers"}
    return FigureData(cols, meta)


def _first_zero(r) -> list:
    """Per layer, the first converged grid ``alpha`` where the SE error is exactly 0 (None if none):
    the transitions the figure shows."""
    out = []
    for lay in range(2):
        z = [float(a) for a, V, ok in zip(r["alpha"], r["mmse"], r["ok"]) if ok and V[lay] == 0]
        out.append(z[0] if z else None)
    return out


def plot(data: FigureData):
    from matplotlib.lines import Line2D

    from icl_companion.figures.layout import caption, legend_below, new_figure

    c_ = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, (ax1, ax2) = new_figure(height=3.4, ncols=2, legend_row=True,
                                 gridspec_kw={"width_ratios": [1.4, 1]})
    colors = {0.0: "#D55E00", 1.0: "#0072B2", 3.0: "#009E73"}
    s = c_["kind"] == "single"
    ax1.plot(c_["alpha"][s], c_["y"][s], color="0.6", lw=1, ls=":")
    handles, labels = [Line2D([], [], color="0.6", lw=1, ls=":")], [r"one layer ($L=1$)"]
    for c, dl in (tuple(s) for s in m["skips (c, Delta)"]):
        col = colors.get(c, "k")
        lab = rf"$c={c:g}$" + (rf", $\Delta={dl:g}$" if dl else "")
        handles.append(Line2D([], [], color=col))
        labels.append(lab)
        for lay, ls in ((1, "-"), (2, "--")):
            sel = (c_["kind"] == "se") & (c_["c"] == c) & (c_["layer"] == lay)
            ax1.plot(c_["alpha"][sel], c_["y"][sel], color=col, ls=ls, marker=".", ms=3)
            sel = (c_["kind"] == "gamp") & (c_["c"] == c) & (c_["layer"] == lay)
            if sel.any():
                ax1.errorbar(c_["alpha"][sel], c_["y"][sel], yerr=c_["yerr"][sel],
                             fmt="o" if lay == 1 else "s", mfc="none", color=col, ms=4, lw=0.8)
        sel1 = (c_["kind"] == "se") & (c_["c"] == c) & (c_["layer"] == 1)
        sel2 = (c_["kind"] == "se") & (c_["c"] == c) & (c_["layer"] == 2)
        if sel1.any() and sel2.any():
            a1, y1 = c_["alpha"][sel1], c_["y"][sel1]
            y2 = np.interp(a1, c_["alpha"][sel2], c_["y"][sel2])
            ok = y2 > 1e-6
            ax2.plot(a1[ok], y1[ok] / y2[ok], color=col, marker=".", ms=3)
        sel = (c_["kind"] == "ratio_pr") & (c_["c"] == c)
        if sel.any():
            ax2.plot(c_["alpha"][sel], c_["y"][sel], marker="<", color=col, ms=6, ls="none")
    apr = m["alpha_pr"]
    for ax in (ax1, ax2):
        ax.axvline(apr, color="0.4", lw=0.8)
    handles += [Line2D([], [], color="k", ls="-"), Line2D([], [], color="k", ls="--"),
                Line2D([], [], color="k", marker="o", mfc="none", ls="none"),
                Line2D([], [], color="k", marker="<", ls="none"),
                Line2D([], [], color="0.4", lw=0.8)]
    labels += ["layer 1 (hidden attention)", "layer 2 (output)",
               rf"GAMP-RIE, $d={m['gamp']['d']}$ (mean $\pm$ s.e.)",
               r"$\kappa^*$ at $\alpha_{\rm PR}$ (linearised channel)",
               rf"counting threshold $\alpha_{{\rm PR}} = {apr:g}$"]
    xmax = max(apr * 1.08, float(np.max(c_['alpha'])) * 1.02)
    ax1.set(xlim=(0, xmax), ylim=(0, 1.05), xlabel=r"sample complexity $\alpha = n/d^2$",
            ylabel=r"error $\|\hat S_\ell - S_\ell\|_F^2/d$",
            title=rf"per-layer SE, $T={m['T']}$, $\rho_1=\rho_2={m['rho'][0]:g}$")
    ax2.set(xlim=(0, xmax), yscale="log", xlabel=r"$\alpha = n/d^2$",
            ylabel=r"error ratio $V_1/V_2$", title="hidden / output error")
    legend_below(fig, handles, labels, ncol=3)
    caption(fig, f"{m['mode']} mode: SE by randomized QMC ({m['rqmc']} points; error bars "
                 f"RQMC s.e.), GAMP-RIE at d = {m['gamp']['d']} over {m['gamp']['reps']} "
                 f"teachers. Omitted as not converged: {_omitted(m)}. "
                 f"The model (AIM Eqs. 4-5) and its SE are derived in "
                 f"docs/derivations/aim_multilayer.md; the figure is not in the paper.")
    return fig


def _omitted(m: dict) -> str:
    """The caption's list of the points left out because their solver did not converge."""
    pts = m["nonconverged_se (c, alpha, last V)"]
    se = ", ".join(f"c = {c:g} at $\\alpha$ = {a:g} (last iterate $V$ = "
                   f"{V[0]:.1g}, {V[1]:.1g})" for c, a, V in pts)
    parts = [f"SE {se}" if se else "no SE point"]
    g = m["nonconverged_gamp_runs"]
    parts.append(f"{g} GAMP-RIE run{'' if g == 1 else 's'}")
    return "; ".join(parts)


COLUMN_DOCS = {
    "kind": Column("series: 'se' state evolution per layer, 'gamp' GAMP-RIE (mean over "
                   "teachers), 'single' the one-layer SE (aim.mmse), 'ratio_pr' the linearised "
                   "error ratio kappa* at alpha_PR", kind="text"),
    "c": Column("skip strength of the hidden layer", "c", sentinels="nan: 'single' rows"),
    "Delta": Column("Gaussian output-noise variance", "Δ", sentinels="0: noiseless"),
    "layer": Column("layer l of the error (1 hidden, 2 output)", "ℓ", kind="int",
                    sentinels="0: 'single' and 'ratio_pr' rows (no layer)"),
    "alpha": Column("sample complexity n/d^2", "α"),
    "y": Column("error (1/d)||S_hat_l - S_l||_F^2, or the ratio V_1/V_2 ('ratio_pr')", "V_ℓ",
                unit="relative to E||S_l||^2/d (1 = no information)"),
    "yerr": Column("standard error: RQMC ('se'), over teachers ('gamp')", unit="as y",
                   sentinels="0: exact or not a Monte Carlo row"),
}


figure("aim-multilayer", "two-layer AIM: per-layer SE error vs alpha for skip strengths c = 0, 1, "
       "3 with GAMP-RIE points, and the error ratio approaching its linearised threshold value",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("aim", "Eqs. 4-5 (multilayer construction); figure not in the paper",
                           "docs/derivations/aim_multilayer.md#measurements"),
       claim="In the two-layer AIM the output layer is always learned better than the hidden "
             "one and both errors reach 0 together at the counting threshold α_PR (no layer "
             "recovers first), their ratio growing towards the linearised value κ*.",
       columns=COLUMN_DOCS, check=check_multilayer)
