"""Figure ``mmicl-pe``: ICL and IWL accuracy versus the number of classes K, APE versus RoPE.

Stage-1 decoders (2 layers, 1 head, B = 2) trained at each K of the grid with the concatenated
shifted one-hot APE and with standard RoPE; final accuracies on the novel-class ICL set (``IC``) and
the in-weights set (``IW``), with binomial standard errors.  The paper's finding (Huang et al. 2026,
Fig. 2c-d in the figure map of the authors' README): RoPE needs more classes than APE before ICL
appears. Quick mode: the reduced CPU configuration (D = 32, one-hot 26, Adam, 1500 steps, one seed).

References
----------
Huang, Roth, Bouniot, Xu, Akata, arXiv:2601.20796 (2026), Fig. 2c-d;
``docs/derivations/mmicl.md#figures``.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.mmicl_common import run, stage1_unit
from icl_companion.figures.registry import Column, FigureData, figure
from icl_companion.theory.registry import Reference
from icl_companion.validation.mmicl_figures import check_pe


POSITIONS = ("ape", "rope")


def units(quick: bool, seed: int) -> list:
    from icl_companion.validation import mmicl

    return [stage1_unit(f"stage1/{pos}/K={K}", quick, K, 2, pos, seed)
            for pos in POSITIONS for K in mmicl.K_GRID[quick]]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    from icl_companion.validation import mmicl

    cfg = mmicl.reduced(quick)
    grid = mmicl.K_GRID[quick]
    S = cfg["train"].eval_size
    cols = {k: [] for k in ("pos", "K", "IC", "IC_se", "IC2", "IW", "IW_se", "steps")}
    seconds = {}
    for pos in POSITIONS:
        for K in grid:
            r = run(results[f"stage1/{pos}/K={K}"])
            f = r.final()
            cols["pos"].append(pos)
            cols["K"].append(K)
            for k in ("IC", "IC2", "IW"):
                cols[k].append(f[k])
            cols["IC_se"].append(mmicl._se(f["IC"], S))
            cols["IW_se"].append(mmicl._se(f["IW"], S))
            cols["steps"].append(f["step"])
            seconds[f"{pos} K={K}"] = round(r.seconds, 2)
    meta = {"config": mmicl._describe(cfg), "B": 2, "seed": seed, "K_grid": list(grid),
            "eval_sequences": S, "chance": 1 / cfg["L"],
            "copy_baseline": mmicl.copy_baseline(cfg["L"], cfg["N"], 2),
            "training_seconds": seconds,
            "mode": "quick: reduced CPU configuration, one seed" if quick else "full: paper"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    from icl_companion.figures.layout import DOUBLE, caption, greek, legend_right, new_figure

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, ax = new_figure(DOUBLE, 3.0)
    for pos, color, label in (("ape", "C0", "APE (shifted one-hot)"), ("rope", "C3", "RoPE")):
        s = c["pos"] == pos
        o = np.argsort(c["K"][s])
        K = c["K"][s][o]
        ax.errorbar(K, c["IC"][s][o], yerr=c["IC_se"][s][o], color=color, marker="o",
                    label=f"{label}: ICL (novel classes)")
        ax.errorbar(K, c["IW"][s][o], yerr=c["IW_se"][s][o], color=color, marker="s", ls="--",
                    mfc="none", label=f"{label}: IWL")
    ax.axhline(m["chance"], color="0.5", lw=0.8, ls=":", label="chance $1/L$")
    ax.axhline(m["copy_baseline"], color="0.3", lw=0.8, ls="-.",
               label="copy a context label at random")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="number of classes $K$ ($B = 2$)", ylabel="final accuracy",
           ylim=(-0.02, 1.02))
    ax.minorticks_off()
    ax.set_xticks(m["K_grid"], [str(k) for k in m["K_grid"]])
    legend_right(ax)
    caption(fig, greek(m["config"]) + f"; {m['eval_sequences']} evaluation sequences per "
            f"point ($\\pm$1 binomial s.e.); {m['mode']}.")
    return fig


COLUMNS = {
    "pos": Column("positional scheme: 'ape' (shifted one-hot) or 'rope'", kind="text"),
    "K": Column("number of classes of the stage-1 task", "K", kind="int"),
    "IC": Column("ICL accuracy: novel classes, bursty context", "", "fraction of the evaluation "
                 "sequences (chance = 1/L, copy baseline in the JSON)"),
    "IC_se": Column("binomial standard error of IC", "", "as IC"),
    "IC2": Column("ICL accuracy on trained classes with every label shifted (must read the "
                  "context)", "", "fraction"),
    "IW": Column("in-weights accuracy: trained classes, query class absent from the context",
                 "", "fraction"),
    "IW_se": Column("binomial standard error of IW", "", "as IW"),
    "steps": Column("training step of the final evaluation", "", "optimizer steps", kind="int"),
}


figure("mmicl-pe", "ICL and IWL accuracy vs K for APE and RoPE (trained 2-layer decoders)",
       plot=plot, units=units, reduce=reduce, requires=("torch",),
       reference=Reference("mmicl", "Fig. 2c-d (figure map of the authors' README)",
                           "docs/derivations/mmicl.md#figures"),
       columns=COLUMNS, check=check_pe,
       claim='Trained two-layer decoders learn in context (ICL far above the copy baseline) once the number of classes K is large enough, and RoPE needs more classes than APE to get there.')
