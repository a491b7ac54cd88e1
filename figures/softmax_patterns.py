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

from icl_companion.figures.registry import FigureData, figure
from icl_companion.figures.softmax_common import record, training_unit
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.theory.softmax import BLOG
from icl_companion.numerics.softmax_patterns import head_patterns
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
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    D = m["d"] + 1
    fig, axes = plt.subplots(len(HS), 4, figsize=(11, 2.9 * len(HS)), squeeze=False)
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
            ax.imshow(img, cmap="RdBu_r", vmin=-1, vmax=1)
            ax.set_xticks(list(range(D)) + [D + 1])
            ax.set_xticklabels([f"q{j + 1}" for j in range(D)] + ["OV"], fontsize=6)
            ax.set_yticks(range(D))
            ax.set_yticklabels([f"k{i + 1}" for i in range(D)], fontsize=6)
            dummy = " (dummy)" if pat["dummy"][h] else ""
            ax.set_title(f"H={H} (seed {info['seed']}), head {h + 1}{dummy}\n"
                         f"omega={pat['omega'][h]:+.3f}, mu={pat['mu'][h]:+.3f}\n"
                         f"diag {pat['diag_ratio'][h]:.3f}, OV last {pat['ov_last_ratio'][h]:.3f}",
                         fontsize=7)
        axes[r, 0].set_ylabel(f"{pat['configuration']}\n$\\eta_{{\\mathrm{{eff}}}}={pat['eta_eff']:.3f}$", fontsize=8)
    notes = "; ".join(m["notes"]) if m["notes"] else "all shown seeds are the first tried"
    fig.suptitle("Trained KQ (6x6, scaled by max|KQ|) and OV (last column, scaled by max|OV|); "
                 f"d={m['d']}, L={m['L']}, sigma2={m['sigma2']}; column q6 is ineffective "
                 f"(the query's last entry is 0)\n{m['mode']}\n{notes}",
                 fontsize=8)
    fig.tight_layout()
    return fig


figure("softmax-patterns", "KQ/OV heatmaps of trained H=1,2,4 softmax attention (d=5, L=40)",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("softmax", NOT_NUMBERED,
                           "docs/derivations/softmax.md#trained-models",
                           (BLOG + ", Figures 2.1, 2.2, 2.7",)))
