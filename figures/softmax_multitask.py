"""Figure ``softmax-multitask``: per-head KQ diagonals and OV entries of multi-task models, H = 1..4.

He, Pan, Chen, Yang (2025), blog Figures 3.2-3.5
(``docs/derivations/softmax.md#multi-task-separate-debiased-gd``): N = 2 tasks on d = 6
with supports ``S_1 = {1,2,3,4}``, ``S_2 = {3,4,5,6}`` (overlap ``{3,4}``) in the setting the
authors' code actually trains (``MultiTaskLinearReg``: separate ``beta_n ~ N(0, I_4)``, noise
variance ``0.1 d_n``, noiseless target, L = 48; the blog's shared-``beta`` L = 40 variant is
available in :mod:`icl_companion.numerics.softmax_data`), tokens ``[x; y_1; y_2]`` in ``R^8`` and two outputs.
For each H the figure shows ``omega^(h)`` = the diagonal of the x-block of
``KQ^h`` (H x 6) and ``mu^(h)`` = the diagonal of the y-block of ``OV^h`` (H x 2: head h's weight
of ``y_k`` in output k); the titles give the share of the effective entries in the whole circuits
(off-pattern mass); the bottom row is the effective step ``E_{n,i} = sum_h mu^h_n omega^h_i``
(separate debiased GD per task: ``eta*(d_n = 4)`` on ``S_n``, 0 off it; the same matrix is checked
by ``softmax.multitask``).  Expected regimes: H = 1 one weighted NW head (overlap weighted more),
H = 2 a +/- pair, H = 3 superposition (a head positive for one task and negative for the other),
H = 4 one +/- pair per task.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.annotate import annotate_cells
from icl_companion.figures.registry import FigureData, figure
from icl_companion.figures.softmax_common import record, training_unit
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.theory.softmax import BLOG
from icl_companion.numerics.softmax_patterns import multitask_omega_mu
from icl_companion.validation.softmax_training import (MT_SETTING, figure_config,
                                         multitask_config, multitask_effective_steps,
                                         separate_dgd_theory)

SETTING = MT_SETTING
HS = (1, 2, 3, 4)


def _config(H: int, quick: bool):
    return multitask_config(H, True) if quick else figure_config(H, False, setting=SETTING)


def units(quick: bool, seed: int) -> list:
    return [training_unit(f"train/H={H}", _config(H, quick), seed) for H in HS]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = SETTING
    d, N = st.d, st.n_out
    cols = {k: [] for k in ("H", "head", "quantity", "index", "value")}
    meta = {"d": d, "N": N, "L": st.L, "sigma2": st.sigma2,
            "supports": [list(s) for s in st.supports], "variant": st.variant, "models": {},
            "notes": []}
    for H in HS:
        rec, notes = record(results[f"train/H={H}"], _config(H, quick))
        meta["notes"] += notes
        KQ, OV = rec.log["KQ"][-1], rec.log["OV"][-1]
        om, mu = multitask_omega_mu(KQ, OV, N)
        # share of the effective entries: diagonal of the x-block of KQ, diagonal of the y-block
        # of OV, in the Frobenius norm of the effective parts (KQ columns 1..d, all of OV)
        kq_share = float(np.linalg.norm(om) / np.linalg.norm(KQ[:, :, :d]))
        ov_share = float(np.linalg.norm(mu) / np.linalg.norm(OV))
        meta["models"][str(H)] = {"seed": rec.seed, "steps": rec.steps_done,
                                  "success": rec.success, "final_train_loss": rec.final_loss(),
                                  "kq_diag_share": kq_share, "ov_diag_share": ov_share,
                                  "mu_sum_over_heads": mu.sum(0).tolist(),
                                  "E": multitask_effective_steps(KQ, OV, N).tolist(),
                                  "superposition_heads": [
                                      h + 1 for h in range(H) if mu[h, 0] * mu[h, 1] < 0
                                      and np.abs(mu[h]).min() >= 0.05 * np.abs(mu[h]).sum()]}
        for h in range(H):
            for q, vec in (("omega", om[h]), ("mu", mu[h])):
                for i, v in enumerate(vec):
                    cols["H"].append(H)
                    cols["head"].append(h + 1)
                    cols["quantity"].append(q)
                    cols["index"].append(i)
                    cols["value"].append(float(v))
    cfg = _config(2, quick)
    meta["training"] = cfg.as_dict()
    meta["eta_sep"] = separate_dgd_theory(st)[0][0]
    meta["mode"] = (f"quick: {cfg.steps} Adam steps per model (the paper: 500k)" if quick
                    else "full: 500k Adam steps per model")
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    d, N = m["d"], m["N"]
    fig, axes = plt.subplots(3, len(HS), figsize=(3.3 * len(HS), 7.4),
                             gridspec_kw={"height_ratios": [1, 1, 0.6]})
    S1, S2 = (set(s) for s in m["supports"])
    for k, H in enumerate(HS):
        info = m["models"][str(H)]
        for r, (q, width) in enumerate((("omega", d), ("mu", N))):
            ax = axes[r, k]
            s = (c["H"] == H) & (c["quantity"] == q)
            M = np.zeros((H, width))
            M[c["head"][s] - 1, c["index"][s]] = c["value"][s]
            lim = np.abs(M).max() or 1.0
            ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
            annotate_cells(ax, M, "{:.2f}" if q == "omega" else "{:.1f}", lim)
            ax.set_yticks(range(H))
            ax.set_yticklabels([f"head {h + 1}" for h in range(H)], fontsize=7)
            if q == "omega":
                ax.set_xticks(range(d))
                ax.set_xticklabels([("S*" if i in S1 & S2 else "S1" if i in S1 else "S2")
                                    + f"\nx{i + 1}" for i in range(d)], fontsize=6)
                ax.set_title(f"H={H} (seed {info['seed']}): KQ x-diagonal omega\n"
                             f"diag share {info['kq_diag_share']:.2f}", fontsize=8)
            else:
                ax.set_xticks(range(N))
                ax.set_xticklabels([f"task {i + 1}" for i in range(N)], fontsize=7)
                sup = info["superposition_heads"]
                ax.set_title(f"OV y-diagonal mu (share {info['ov_diag_share']:.2f})\n"
                             f"sum over heads {np.round(info['mu_sum_over_heads'], 2).tolist()}"
                             + (f"\nsuperposition: head {sup}" if sup else ""), fontsize=8)
        # effective steps E_{n,i} = sum_h mu^h_n omega^h_i: separate debiased GD per task has
        # eta*(d_n) on S_n and 0 off it
        ax = axes[2, k]
        E = np.asarray(info["E"])
        ax.imshow(E, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        annotate_cells(ax, E, "{:.2f}", 1.0)
        ax.set_yticks(range(N))
        ax.set_yticklabels([f"task {i + 1}" for i in range(N)], fontsize=7)
        ax.set_xticks(range(d))
        ax.set_xticklabels([f"x{i + 1}" for i in range(d)], fontsize=6)
        ax.set_title(f"E = sum_h mu_n omega_i (separate GD: {m['eta_sep']:.2f} on S_n, 0 off)",
                     fontsize=7)
    fig.suptitle(f"Multi-task regression: N={N}, d={d}, supports S1={sorted(S1)}, "
                 f"S2={sorted(S2)} (0-based), L={m['L']}, sigma2={m['sigma2']} "
                 f"({m['variant']} variant)\n{m['mode']}"
                 + ("\n" + "; ".join(m["notes"]) if m["notes"] else ""), fontsize=8)
    fig.tight_layout()
    return fig


figure("softmax-multitask", "multi-task (N=2, overlapping supports) KQ/OV patterns for H=1..4, "
       "superposition at H=3", plot=plot, units=units, reduce=reduce,
       reference=Reference("softmax", NOT_NUMBERED,
                           "docs/derivations/softmax.md#multi-task-separate-debiased-gd",
                           (BLOG + ", Figures 3.2-3.5",)))
