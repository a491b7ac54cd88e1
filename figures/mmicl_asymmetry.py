"""Figure ``mmicl-asymmetry``: multimodal ICL versus the number of secondary classes K2.

Stage 2 (projector + decoder) on the multimodal task, starting from the stage-1 decoder pretrained
on the high-diversity primary modality (K1 classes) or from scratch (early fusion), for each K2 of
the grid; final ICL (``IC``, novel classes) and IWL (``IW``) accuracies.  The paper's finding (Huang
et al. 2026, Fig. 4 in the figure map of the authors' README): the pretrained decoder already
reaches high ICL at a few hundred secondary classes, where early fusion memorises.

References
----------
Huang, Roth, Bouniot, Xu, Akata, arXiv:2601.20796 (2026), Fig. 4;
``docs/derivations/mmicl.md#figures``.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.mmicl_common import PRETRAINED, pretrained_unit, run, stage2_unit
from icl_companion.figures.registry import FigureData, figure
from icl_companion.theory.registry import Reference


INITS = (True, False)


def _name(init: bool, K2: int) -> str:
    return f"stage2/{'pretrained' if init else 'scratch'}/K2={K2}"


def units(quick: bool, seed: int) -> list:
    from icl_companion.validation import mmicl

    return [pretrained_unit(quick, seed)] + [
        stage2_unit(_name(init, K2), quick, K2, init, seed)
        for init in INITS for K2 in mmicl.K2_GRID[quick]]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    from icl_companion.validation import mmicl

    cfg = mmicl.reduced(quick)
    grid = mmicl.K2_GRID[quick]
    S = cfg["train2"].eval_size
    budget = cfg["train2"].steps
    cols = {k: [] for k in ("panel", "init", "K2", "step", "IC", "IC_se", "IC2", "IW", "IW_se")}

    def add(panel, init, K2, f):
        cols["panel"].append(panel)
        cols["init"].append(init)
        cols["K2"].append(K2)
        cols["step"].append(f["step"])
        for k in ("IC", "IC2", "IW"):
            cols[k].append(f[k])
        cols["IC_se"].append(mmicl._se(f["IC"], S))
        cols["IW_se"].append(mmicl._se(f["IW"], S))

    for init in INITS:
        for K2 in grid:
            r = run(results[_name(init, K2)])
            name = "pretrained" if init else "early fusion"
            # the comparison at equal stage-2 budget; early fusion's final point as well
            add("vs K2", name, K2, mmicl.at_step(r, budget))
            if not init:
                add("vs K2 (final)", name, K2, r.final())
            if K2 == 256:
                for h in r.history:
                    add("training, K2=256", name, K2, h)
    pre = run(results[PRETRAINED]).final()
    meta = {"config": mmicl._describe(cfg), "K1": cfg["K1"], "L2": cfg["L2"], "D2": cfg["D2"],
            "B": cfg["B2"], "seed": seed, "K2_grid": list(grid), "eval_sequences": S,
            "steps_pretrained": budget, "steps_scratch": cfg["train2_scratch"].steps,
            "stage1_final": {k: pre[k] for k in ("IC", "IW")}, "chance": 1 / cfg["L2"],
            "copy_baseline": mmicl.copy_baseline(cfg["L2"], cfg["N"], cfg["B2"]),
            "mode": "quick: reduced CPU configuration" if quick else "full: paper"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 5.0))
    for init, color in (("pretrained", "C0"), ("early fusion", "C1")):
        s = (c["panel"] == "vs K2") & (c["init"] == init)
        o = np.argsort(c["K2"][s])
        ax.errorbar(c["K2"][s][o], c["IC"][s][o], yerr=c["IC_se"][s][o], color=color, marker="o",
                    label=f"{init}: ICL")
        ax.errorbar(c["K2"][s][o], c["IW"][s][o], yerr=c["IW_se"][s][o], color=color, marker="s",
                    ls="--", mfc="none", label=f"{init}: IWL")
        f = (c["panel"] == "vs K2 (final)") & (c["init"] == init)
        if f.any():
            o = np.argsort(c["K2"][f])
            ax.plot(c["K2"][f][o], c["IC"][f][o], color=color, marker="^", ls=":", lw=0.8,
                    label=f"{init}: ICL after {m['steps_scratch']} steps")
        t = (c["panel"] == "training, K2=256") & (c["init"] == init)
        ax2.plot(c["step"][t], c["IC"][t], color=color, label=f"{init}: ICL")
        ax2.plot(c["step"][t], c["IW"][t], color=color, ls="--", label=f"{init}: IWL")
    for a in (ax, ax2):
        a.axhline(m["chance"], color="0.5", lw=0.8, ls=":", label="chance 1/L2")
        a.axhline(m["copy_baseline"], color="0.3", lw=0.8, ls="-.",
                  label="copy a context label at random")
        a.set(ylabel="accuracy", ylim=(-0.02, 1.02))
    ax2.axvline(m["steps_pretrained"], color="0.6", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="secondary-modality classes K2")
    ax.minorticks_off()
    ax.set_xticks(m["K2_grid"], [str(k) for k in m["K2_grid"]])
    ax.set_title(f"after {m['steps_pretrained']} stage-2 steps; decoder pretrained on K1 = "
                 f"{m['K1']} classes vs early fusion\nB = {m['B']}, D2 = {m['D2']}, "
                 f"seed {m['seed']}", fontsize=8)
    ax2.set(xlabel="stage-2 step")
    ax2.set_title("K2 = 256 over training (grey line: the equal-budget point)", fontsize=8)
    for a in (ax, ax2):  # below the axes: the curves fill the panels
        a.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    fig.suptitle(m["config"], fontsize=7)
    fig.tight_layout()
    return fig


figure("mmicl-asymmetry", "multimodal ICL vs K2: stage-1-pretrained decoder vs early fusion",
       plot=plot, units=units, reduce=reduce, requires=("torch",),
       reference=Reference("mmicl", "Fig. 4 (figure map of the authors' README)",
                           "docs/derivations/mmicl.md#figures"))
