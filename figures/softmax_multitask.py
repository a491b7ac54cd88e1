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
H = 4 one +/- pair per task.  The four models are trained together on one stream of batches
(:func:`icl_companion.numerics.softmax_attention.train_paired`): they see the same prompts, so the
differences between the columns are differences of H alone.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.annotate import annotate_cells
from icl_companion.figures.registry import Column, FigureData, figure
from icl_companion.figures.softmax_common import paired_unit
from icl_companion.numerics.softmax_attention import TrainRecord
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.theory.softmax import BLOG
from icl_companion.numerics.softmax_patterns import multitask_omega_mu
from icl_companion.validation.softmax_figures import check_multitask
from icl_companion.validation.softmax_training import (MT_HEADS, MT_SETTING, multitask_config,
                                                       multitask_effective_steps,
                                                       separate_dgd_theory)

SETTING = MT_SETTING
HS = MT_HEADS


def _config(H: int, quick: bool):
    return multitask_config(H, quick)


UNIT = "train/H=" + ",".join(map(str, HS))


def units(quick: bool, seed: int) -> list:
    # the four models on one batch stream: sampling is most of a step, and the comparison
    # across H is paired (the same prompts)
    return [paired_unit(UNIT, [_config(H, quick) for H in HS], seed)]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = SETTING
    d, N = st.d, st.n_out
    cols = {k: [] for k in ("H", "head", "quantity", "task", "index", "value")}
    meta = {"d": d, "N": N, "L": st.L, "sigma2": st.sigma2,
            "supports": [list(s) for s in st.supports], "variant": st.variant, "models": {},
            "notes": []}
    res = results[UNIT]
    meta["notes"] += list(res["notes"])
    for H, data in zip(HS, res["records"]):
        rec = TrainRecord.from_data(data, _config(H, quick))
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

        def add(head, q, task, i, v):
            for k, x in zip(cols, (H, head, q, task, i, float(v))):
                cols[k].append(x)

        for h in range(H):
            for i, v in enumerate(om[h]):
                add(h + 1, "omega", -1, i, v)
            for n, v in enumerate(mu[h]):
                add(h + 1, "mu", n, n, v)
        for (n, i), v in np.ndenumerate(multitask_effective_steps(KQ, OV, N)):
            add(0, "E", n, i, v)  # the bottom row of the figure
    cfg = _config(2, quick)
    meta["training"] = cfg.as_dict()
    meta["training"]["stream"] = ("paired: the four models see the same batches "
                                  "(SeedSequence([seed, 0])); H heads initialised from "
                                  "SeedSequence([seed, 1, H])")
    meta["eta_sep"] = separate_dgd_theory(st)[0][0]
    meta["mode"] = ((f"quick: {cfg.steps} Adam steps per model (the paper: 500k)" if quick
                     else "full: 500k Adam steps per model")
                    + ", the four models on the same batches")
    return FigureData(cols, meta)


def _compact(v: float) -> str:
    """Two decimals without the leading zero (``-.15``): six cells fit a panel's width."""
    s = f"{v:.2f}"
    return s[1:] if s.startswith("0.") else "-" + s[2:] if s.startswith("-0.") else s


def plot(data: FigureData):
    from icl_companion.figures.layout import DOUBLE, caption, new_figure

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    d, N = m["d"], m["N"]
    fig, axes = new_figure(DOUBLE, 6.4, 3, len(HS), height_ratios=[1.2, 1.0, 0.75])
    S1, S2 = (set(s) for s in m["supports"])

    mats = {}
    for H in HS:
        mats[H] = {}
        for q, shape, row in (("omega", (H, d), "head"), ("mu", (H, N), "head"),
                              ("E", (N, d), "task")):
            s = (c["H"] == H) & (c["quantity"] == q)
            M = np.zeros(shape)
            # heads are 1-based in the table, tasks 0-based
            M[c[row][s] - (1 if row == "head" else 0), c["index"][s]] = c["value"][s]
            mats[H][q] = M
    # one colour scale per row (shared by the panels compared in it)
    lims = {q: max(np.abs(mats[H][q]).max() for H in HS) for q in ("omega", "mu")}
    lims["E"] = max(1.0, max(np.abs(mats[H]["E"]).max() for H in HS))
    ims = {}
    for k, H in enumerate(HS):
        info = m["models"][str(H)]
        for r, q in enumerate(("omega", "mu", "E")):
            ax = axes[r, k]
            M = mats[H][q]
            ims[q] = ax.imshow(M, cmap="RdBu_r", vmin=-lims[q], vmax=lims[q], aspect="auto")
            annotate_cells(ax, M, _compact if q != "mu" else "{:.1f}", lims[q], fontsize=6)
            ax.grid(False)
            if q == "E":
                ax.set_yticks(range(N), [f"task {n + 1}" for n in range(N)] if k == 0 else [])
            else:
                ax.set_yticks(range(H), [f"h{h + 1}" for h in range(H)])
            if q == "mu":
                ax.set_xticks(range(N), [f"task {n + 1}" for n in range(N)])
            else:
                ax.set_xticks(range(d), [("S*" if i in S1 & S2 else "S1" if i in S1 else "S2")
                                         if q == "omega" else f"$x_{i + 1}$"
                                         for i in range(d)])
            if q == "omega":
                ax.set_title(f"$H = {H}$ (seed {info['seed']})")
            if q == "mu" and info["superposition_heads"]:
                ax.set_title(f"superposition: h{', h'.join(map(str, info['superposition_heads']))}")
    for q, label in (("omega", r"$\omega^h_i$ (KQ $x$-diagonal)"),
                     ("mu", r"$\mu^h_n$ (OV $y$-diagonal)"),
                     ("E", r"$E_{n,i} = \sum_h \mu^h_n \omega^h_i$")):
        row = {"omega": 0, "mu": 1, "E": 2}[q]
        cb = fig.colorbar(ims[q], ax=axes[row, :], shrink=0.9, pad=0.01)
        cb.set_label(label)
    four = m["models"]["4"]
    note = (f" Quick mode ({four['steps']} Adam steps): at $H = 4$ heads "
            f"{four['superposition_heads']} are still in superposition; the paper's one "
            f"$\\pm$ pair per task comes from 500k-step runs (full mode)."
            if four["superposition_heads"] else "")
    caption(fig, rf"$N = {N}$ tasks on $d = {d}$, supports $S_1 = \{{1..4\}}$, "
                 rf"$S_2 = \{{3..6\}}$ (S* = overlap), $L = {m['L']}$, "
                 rf"$\sigma^2 = {m['sigma2']}$ ({m['variant']} variant). Bottom row: separate "
                 rf"debiased GD per task has $E = \eta^* = {m['eta_sep']:.2f}$ on $S_n$ and 0 "
                 rf"off it. {m['mode']}." + note
                 + (" " + "; ".join(m["notes"]) if m["notes"] else ""))
    return fig


COLUMNS = {
    "H": Column("number of heads of the trained model", "H", kind="int"),
    "head": Column("head index (1-based)", "h", "", "0: quantity 'E' (a sum over the heads)",
                   kind="int"),
    "quantity": Column("'omega': diagonal of the x-block of KQ^h (entry index = coordinate i); "
                       "'mu': diagonal of the y-block of OV^h (index = task n); 'E': effective "
                       "step E_{n,i} = sum_h mu^h_n omega^h_i (task n, coordinate i)",
                       kind="text"),
    "task": Column("task n (0-based) of a 'mu' or 'E' entry", "n", "",
                   "-1: 'omega' rows (not task-specific)", kind="int"),
    "index": Column("coordinate i of x (0-based) for 'omega' and 'E', task n for 'mu'", "i",
                    kind="int"),
    "value": Column("the entry", "ω, μ, E", "as in the model (KQ includes 1/sqrt(D))"),
}


figure("softmax-multitask", "multi-task (N=2, overlapping supports) KQ/OV patterns for H=1..4, "
       "superposition at H=3", plot=plot, units=units, reduce=reduce,
       reference=Reference("softmax", NOT_NUMBERED,
                           "docs/derivations/softmax.md#multi-task-separate-debiased-gd",
                           (BLOG + ", Figures 3.2-3.5",)),
       columns=COLUMNS, check=check_multitask,
       claim="With N = 2 tasks on overlapping supports, softmax attention with H ≥ 3 heads implements separate debiased GD per task (effective step E ≈ η* on the task's support, 0 off it) through superposition heads, positive for one task and negative for the other, while with H = 1 or 2 heads both tasks get the same step on every coordinate.")
