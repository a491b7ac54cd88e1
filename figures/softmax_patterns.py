"""Figure ``softmax-patterns``: KQ / OV circuits of trained 1-, 2- and 4-head softmax attention.

He, Pan, Chen, Yang (2025), blog Figures 2.1, 2.2, 2.7 (and the ``Metrics_pattern`` bars of the
code): each head's ``KQ^h = W_K^hT W_Q^h / sqrt(d+1)`` (6 x 6, rows key / columns query
coordinate) and ``OV^h = W_V^hT W_O^hT`` (6 x 1), trained by the NumPy trainer from the default
initialisation (d = 5, L = 40, sigma2 = 0.1, Adam 1e-3, batch 256).  Expected: diagonal x-block
``omega_h I``, last-entry OV ``mu_h`` with ``sign(omega_h) = sign(mu_h)``; a +/- pair for H = 2;
for H = 4 +/- groups with a dummy head or a split of mu.  Each panel is scaled by its own maximum
(the KQ and OV scales differ by ~10x); the titles give omega_h, mu_h and the pattern metrics.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import Column, FigureData, figure
from icl_companion.figures.softmax_common import record, training_unit
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.theory.softmax import BLOG
from icl_companion.numerics.softmax_patterns import head_patterns
from icl_companion.validation.softmax_figures import check_patterns
from icl_companion.validation.softmax_training import SETTING, figure_config

HS = (1, 2, 4)


def units(quick: bool, seed: int) -> list:
    return [training_unit(f"train/H={H}", figure_config(H, quick), seed) for H in HS]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    cols = {k: [] for k in ("H", "head", "matrix", "row", "col", "value")}
    meta = {"d": SETTING.d, "L": SETTING.L, "sigma2": SETTING.sigma2, "notes": [], "models": {}}
    for H in HS:
        rec, notes = record(results[f"train/H={H}"], figure_config(H, quick))
        meta["notes"] += notes
        KQ, OV = rec.log["KQ"][-1], rec.log["OV"][-1]
        pat = head_patterns(KQ, OV)
        meta["models"][str(H)] = {"seed": rec.seed, "steps": rec.steps_done,
                                  "success": rec.success, "patterns": pat.as_dict(),
                                  "final_train_loss": rec.final_loss()}
        for h in range(H):
            for name, M in (("KQ", KQ[h]), ("OV", OV[h])):
                for (i, j), v in np.ndenumerate(M):
                    cols["H"].append(H)
                    cols["head"].append(h + 1)
                    cols["matrix"].append(name)
                    cols["row"].append(i)
                    cols["col"].append(j)
                    cols["value"].append(float(v))
    meta["training"] = figure_config(2, quick).as_dict()
    meta["mode"] = (f"quick: {meta['training']['steps']} Adam steps per model (the paper: 500k)"
                    if quick else "full: 500k Adam steps per model (the paper's setting)")
    return FigureData(cols, meta)


def plot(data: FigureData):
    from icl_companion.figures.layout import DOUBLE, caption, new_figure

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    D = m["d"] + 1
    fig, axes = new_figure(DOUBLE, 6.6, len(HS), 4, squeeze=False)
    im = None
    for r, H in enumerate(HS):
        info = m["models"][str(H)]
        pat = info["patterns"]
        for h in range(4):
            ax = axes[r, h]
            if h >= H:
                ax.axis("off")
                continue
            sel = (c["H"] == H) & (c["head"] == h + 1)
            KQ = np.zeros((D, D))
            OV = np.zeros(D)
            for mat, i, j, v in zip(c["matrix"][sel], c["row"][sel], c["col"][sel],
                                    c["value"][sel]):
                if mat == "KQ":
                    KQ[i, j] = v
                else:
                    OV[i] = v
            img = np.full((D, D + 2), np.nan)
            img[:, :D] = KQ / max(np.abs(KQ).max(), 1e-300)
            img[:, D + 1] = OV / max(np.abs(OV).max(), 1e-300)
            im = ax.imshow(img, cmap="RdBu_r", vmin=-1, vmax=1)
            ax.grid(False)
            ax.set_xticks(list(range(D)) + [D + 1],
                          [f"$q_{j + 1}$" if j in (0, D - 1) else "" for j in range(D)] + ["OV"])
            ax.set_yticks(range(D), [f"$k_{i + 1}$" if i in (0, D - 1) else ""
                                     for i in range(D)])
            dummy = " (dummy)" if pat["dummy"][h] else ""
            ax.set_title(f"head {h + 1}{dummy}: $\\omega = {pat['omega'][h]:+.2f}$,\n"
                         f"$\\mu = {pat['mu'][h]:+.2f}$, diag {pat['diag_ratio'][h]:.2f}",
                         fontsize=7)
        axes[r, 0].set_ylabel(f"$H = {H}$ (seed {info['seed']})\n{pat['configuration']}, "
                              f"$\\eta_{{\\mathrm{{eff}}}} = {pat['eta_eff']:.2f}$")
    cb = fig.colorbar(im, ax=axes, shrink=0.6, pad=0.01)
    cb.set_label("entry / max |entry| of the matrix")
    notes = "; ".join(m["notes"]) if m["notes"] else "all shown seeds are the first tried"
    caption(fig, rf"Each head's KQ ($6 \times 6$, rows key, columns query coordinate) and OV "
                 rf"(last column), each divided by its largest entry; $d = {m['d']}$, "
                 rf"$L = {m['L']}$, $\sigma^2 = {m['sigma2']}$; the column $q_6$ does not act "
                 rf"(the query's last entry is 0); diag: share of the $x$-block on its "
                 rf"diagonal. {m['mode']}. {notes}.")
    return fig


COLUMNS = {
    "H": Column("number of heads of the trained model", "H", kind="int"),
    "head": Column("head index (1-based)", "h", kind="int"),
    "matrix": Column("'KQ' (W_K^T W_Q / sqrt(d+1), 6 x 6) or 'OV' (W_V^T W_O^T, 6 x 1)",
                     kind="text"),
    "row": Column("row index (0-based; key coordinate for KQ, token coordinate for OV; the last "
                  "coordinate is y)", kind="int"),
    "col": Column("column index (0-based; query coordinate for KQ, 0 for OV)", kind="int"),
    "value": Column("matrix entry", "", "as in the model"),
}


figure("softmax-patterns", "KQ/OV heatmaps of trained H=1,2,4 softmax attention (d=5, L=40)",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("softmax", NOT_NUMBERED,
                           "docs/derivations/softmax.md#trained-models",
                           (BLOG + ", Figures 2.1, 2.2, 2.7",)),
       columns=COLUMNS, check=check_patterns,
       claim='Trained softmax attention has a diagonal KQ x-block ωₕ I and an OV that reads only y (μₕ) with sign(ωₕ) = sign(μₕ); with two heads they form a ± pair that implements debiased one-step GD.')
