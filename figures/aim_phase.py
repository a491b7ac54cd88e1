"""Figure ``aim-phase``: phase diagrams of the attention-indexed model from its state evolution.

Four heat maps of the Bayes-optimal error (SE MMSE, 1 = no information, 0 = perfect recovery):

(a) softmax, ``T = 2``, over ``(alpha, rho)``, with the perfect-recovery lines
    ``alpha_PR(rho, T) = (2 rho - rho^2)/(T^2 + T - 2)`` for ``T = 2..6`` (``1/(T^2+T-2)`` for
    ``rho >= 1``); the regions partial / perfect recovery labelled;
(b) softmax over ``(alpha, T)`` at ``rho = 0.5``, with ``alpha_PR(0.5, T)``;
(c, d) hardmax ``T = 2`` over ``(alpha_bar = n/(d r), rho)`` for ``variant="correct"`` (the
    Bayes-optimal ``g_out``) and ``variant="paper"`` (the authors'), with the ``rho -> 0``
    weak-recovery threshold ``alpha_bar_c`` of each variant.

Every grid is a two-axis sweep of a catalogue result through
:func:`icl_companion.numerics.sweep.run_sweep` (the machinery of ``iclc sweep``; chunks of one
point, so no warm start carries a solution from one cell to the next): ``aim.mmse`` for (a, b),
``aim.mmse_bar`` for (c, d).  Each grid is solved twice, from the uninformed start (``V = 1``)
and from the informed start (``V = 1e-6``); a cell whose two solutions differ by more than 1e-6 has
two stable fixed points (hysteresis, a first-order transition) and would be outlined, none is
found.  Cells whose solver did not converge are drawn hatched grey, never interpolated; the CSV
holds every cell (both starts, status).  The transition's order is measured by ``aim.transition``
(meta ``transition``).  Boncoraglio, Troiani, Erba, Zdeborova (2025), arXiv:2506.01582.
"""

from __future__ import annotations

import math
import os

import numpy as np

from icl_companion.figures.registry import FigureData, figure
from icl_companion.numerics.aim_se import alpha_pr, transition, weak_recovery
from icl_companion.numerics.sweep import Axis, run_sweep
from icl_companion.theory.registry import NOT_NUMBERED, Reference

T_LINES = (2, 3, 4, 5, 6)
RHO_T_PANEL = 0.5
HYSTERESIS_TOL = 1e-6
VARIANTS = ("correct", "paper")


def _settings(quick: bool) -> dict:
    if quick:
        return dict(sm_alpha=40, sm_rho=12, t_alpha=40, t_max=7, hm_abar=10, hm_rho=5)
    return dict(sm_alpha=96, sm_rho=48, t_alpha=96, t_max=10, hm_abar=40, hm_rho=20)


def _workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _grid(result, fixed, axes, x_name, y_name, panel, cols, variant=""):
    """Sweep ``result`` from both starts; append one row per cell to ``cols``."""
    runs = {init: run_sweep(result, {**fixed, "init": init}, axes, workers=_workers(), chunk=1,
                            progress=False) for init in ("uninformed", "informed")}
    n_bad = n_hyst = 0
    for ru, ri in zip(runs["uninformed"].rows, runs["informed"].rows):
        ok = ru["status"] == "ok" and ri["status"] == "ok"
        mu, mi = float(ru.get("mmse", math.nan)), float(ri.get("mmse", math.nan))
        hyst = bool(ok and abs(mu - mi) > HYSTERESIS_TOL)
        n_bad += not ok
        n_hyst += hyst
        for k, v in (("panel", panel), ("variant", variant), ("x", float(ru[x_name])),
                     ("y", float(ru[y_name])), ("mmse", mu), ("mmse_informed", mi),
                     ("status", ru["status"] if ru["status"] != "ok" else ri["status"]),
                     ("converged", ok), ("hysteresis", hyst)):
            cols[k].append(v)
    wall = sum(r.meta["wall_seconds"] for r in runs.values())
    return {"cells": len(runs["uninformed"].rows), "not_converged": n_bad,
            "hysteresis_cells": n_hyst, "wall_seconds": round(wall, 2)}


def compute(quick: bool, seed: int) -> FigureData:
    st = _settings(quick)
    cols: dict[str, list] = {k: [] for k in ("panel", "variant", "x", "y", "mmse",
                                             "mmse_informed", "status", "converged",
                                             "hysteresis")}
    grids = {}
    grids["a"] = _grid("aim.mmse", {"T": 2, "channel": "softmax"},
                       [Axis("rho", 0.02, 5.0, st["sm_rho"], log=True),
                        Axis("alpha", 0.0, 0.3, st["sm_alpha"])], "alpha", "rho", "a", cols)
    grids["b"] = _grid("aim.mmse", {"rho": RHO_T_PANEL, "channel": "softmax"},
                       [Axis("T", 2, st["t_max"], st["t_max"] - 1),
                        Axis("alpha", 0.0, 0.2, st["t_alpha"])], "alpha", "T", "b", cols)
    for panel, variant in zip("cd", VARIANTS):
        grids[panel] = _grid("aim.mmse_bar", {"variant": variant},
                             [Axis("rho", 0.01, 2.0, st["hm_rho"], log=True),
                              Axis("alpha_bar", 0.1, 20.0, st["hm_abar"], log=True)],
                             "alpha_bar", "rho", panel, cols, variant)
    trans = {}
    for rho in (0.2, 0.5, 1.0, 2.0):
        t = transition(rho, 2, "softmax")
        trans[f"softmax rho={rho:g} T=2"] = {k: (round(v, 6) if isinstance(v, float) else v)
                                            for k, v in t.items()}
    for v in VARIANTS:
        t = transition(0.5, 2, "hardmax", v)
        trans[f"hardmax rho->0 {v}"] = {k: (round(x, 6) if isinstance(x, float) else x)
                                        for k, x in t.items()}
    meta = {"seed": seed, "mode": "quick" if quick else "full", **st, "grids": grids,
            "rho_T_panel": RHO_T_PANEL, "hysteresis_tol": HYSTERESIS_TOL,
            "weak_recovery": {v: weak_recovery(v) for v in VARIANTS},
            "transition": trans,
            "note": "each cell: SE from V = 1 (mmse) and from V = 1e-6 (mmse_informed); "
                    "non-converged cells are hatched grey, never interpolated"}
    return FigureData(cols, meta)


def _panel(ax, fig, c, panel, xlog, ylog, vmax=1.0):
    """Heat map of one panel (cells on their own grid), non-converged cells hatched."""
    s = c["panel"] == panel
    xs, ys = np.unique(c["x"][s]), np.unique(c["y"][s])
    Z = np.full((ys.size, xs.size), np.nan)
    bad = np.zeros_like(Z, dtype=bool)
    hyst = np.zeros_like(Z, dtype=bool)
    ix = np.searchsorted(xs, c["x"][s])
    iy = np.searchsorted(ys, c["y"][s])
    Z[iy, ix] = np.where(c["converged"][s], c["mmse"][s], np.nan)
    bad[iy, ix] = ~c["converged"][s]
    hyst[iy, ix] = c["hysteresis"][s]

    def edges(v, log):
        if v.size == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        if log:
            lv = np.log(v)
            m = 0.5 * (lv[1:] + lv[:-1])
            return np.exp(np.concatenate([[2 * lv[0] - m[0]], m, [2 * lv[-1] - m[-1]]]))
        m = 0.5 * (v[1:] + v[:-1])
        return np.concatenate([[2 * v[0] - m[0]], m, [2 * v[-1] - m[-1]]])

    xe, ye = edges(xs, xlog), edges(ys, ylog)
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.75")
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(Z), cmap=cmap, vmin=0.0, vmax=vmax,
                         shading="flat", rasterized=True)
    if bad.any():
        ax.pcolor(xe, ye, np.ma.masked_where(~bad, np.ones_like(Z)), hatch="////", alpha=0.0,
                  shading="flat")
    if hyst.any():
        ax.contour(0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1]), hyst.astype(float),
                   levels=[0.5], colors="red", linewidths=1.2)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.grid(False)
    cb = fig.colorbar(mesh, ax=ax, pad=0.02, fraction=0.05)
    cb.set_label("Bayes-optimal error (SE MMSE)", fontsize=7)
    cb.ax.tick_params(labelsize=6)
    return mesh


def plot(data: FigureData):
    import matplotlib.patheffects as pe
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, axs = plt.subplots(2, 2, figsize=(7.2, 6.6), layout="constrained")
    (a, b), (cc, d) = axs
    # (a) softmax T = 2 over (alpha, rho)
    _panel(a, fig, c, "a", xlog=False, ylog=True)
    rr = np.geomspace(0.02, 5.0, 200)
    styles = ["-", "--", "-.", ":", (0, (5, 1))]
    colours = ["white", "#ff9f43", "#ff4d4d", "#f78fb3", "#c8d6e5"]
    halo = [pe.withStroke(linewidth=2.4, foreground="black")]
    for T, ls, col in zip(T_LINES, styles, colours):
        a.plot([alpha_pr(float(r), T) for r in rr], rr, color=col, ls=ls,
               lw=1.4 if T == 2 else 1.0, path_effects=halo,
               label=rf"$\alpha_{{PR}}(\rho, T={T})$")
    a.text(0.13, 2.2, "partial recovery", color="white", fontsize=7, ha="center")
    a.text(0.262, 0.05, "perfect\nrecovery\n(MMSE = 0)", color="white", fontsize=7, ha="center")
    a.set(xlabel=r"$\alpha = n/d^2$", ylabel=r"$\rho = r/d$",
          title=r"(a) softmax, $T = 2$: error over $(\alpha, \rho)$")
    a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=6,
             frameon=False)
    # (b) softmax over (alpha, T) at rho = 0.5
    _panel(b, fig, c, "b", xlog=False, ylog=False)
    Ts = np.unique(c["y"][c["panel"] == "b"])
    b.step([alpha_pr(m["rho_T_panel"], int(T)) for T in Ts], Ts, where="mid", color="white",
           lw=1.3, path_effects=[pe.withStroke(linewidth=2.4, foreground="black")],
           label=r"$\alpha_{PR}(\rho = 0.5, T)$")
    b.text(0.004, Ts[-1] - 0.1, "partial", color="white", fontsize=7, va="top")
    b.text(0.12, Ts[len(Ts) // 2], "perfect recovery", color="white", fontsize=7, ha="center")
    b.set(xlabel=r"$\alpha = n/d^2$", ylabel=r"sequence length $T$",
          title=rf"(b) softmax, $\rho = {m['rho_T_panel']:g}$: error over $(\alpha, T)$")
    b.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=6, frameon=False)
    # (c, d) hardmax T = 2 over (alpha_bar, rho)
    for ax, panel, variant in ((cc, "c", "correct"), (d, "d", "paper")):
        _panel(ax, fig, c, panel, xlog=True, ylog=True)
        ab = m["weak_recovery"][variant]
        ax.axvline(ab, color="white", ls="--", lw=1.2,
                   path_effects=[pe.withStroke(linewidth=2.4, foreground="black")],
                   label=rf"$\rho \to 0$ weak recovery $\bar\alpha_c = {ab:.3f}$")
        ax.text(0.12, 0.013, r"no recovery" "\n" r"as $\rho\to 0$", color="white", fontsize=7)
        ax.set(xlabel=r"$\bar\alpha = n/(d\,r)$", ylabel=r"$\rho = r/d$",
               title=rf"({panel}) hardmax $T = 2$, $g_{{out}}$ {variant}")
        ax.text(3.0, 0.013, "recovery", color="white", fontsize=7)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=6, frameon=False)
    g = m["grids"]
    bad = sum(v["not_converged"] for v in g.values())
    hy = sum(v["hysteresis_cells"] for v in g.values())
    t = m["transition"]["softmax rho=0.5 T=2"]
    fig.suptitle(f"AIM phase diagrams ({m['mode']}): {sum(v['cells'] for v in g.values())} SE "
                 f"cells x 2 starts; not converged (hatched): {bad}; two stable fixed points "
                 f"(red outline): {hy}.  Softmax transition at $\\alpha_{{PR}}$: continuous, "
                 f"slope {t['slope_active']:.3g} from the left, 0 from the right (order "
                 f"{t['order']})", fontsize=6.5)
    return fig


figure("aim-phase", "AIM phase diagrams: softmax error over (alpha, rho) with alpha_PR lines "
       "and over (alpha, T); hardmax T = 2 over (alpha_bar, rho), both variants, with the "
       "weak-recovery thresholds; hysteresis scan from both starts", compute, plot,
       reference=Reference("aim", NOT_NUMBERED, "docs/derivations/aim.md#phase-diagrams-and-the-"
                           "order-of-the-transitions"))
