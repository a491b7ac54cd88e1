"""Figure ``mmicl-asymmetry``: multimodal ICL versus the number of secondary classes K2.

Stage 2 (projector + decoder) on the multimodal task, starting from the stage-1 decoder pretrained on
the high-diversity primary modality (K1 classes) or from scratch (early fusion), for each K2 of the
grid; final ICL (``IC``, novel classes) and IWL (``IW``) accuracies.  The paper's finding (Huang et
al. 2026, Fig. 4; digest sections 1.2 item 4, 4.4 c): the pretrained decoder already reaches high ICL
at a few hundred secondary classes, where early fusion memorises.

References
----------
Huang, Roth, Bouniot, Xu, Akata, arXiv:2601.20796 (2026), Fig. 4; digest
``shared/papers/multimodal_icl.md`` sections 1.4, 4.4, 5.
"""

from __future__ import annotations

import numpy as np

from figures.registry import FigureData, figure


def compute(quick: bool, seed: int) -> FigureData:
    from validation import mmicl

    cfg = mmicl.reduced(quick)
    grid = mmicl.K2_GRID[quick]
    specs = [("mm", (quick, K2, init, seed)) for init in (True, False) for K2 in grid]
    res = mmicl.runs(specs)
    S = cfg["train2"].eval_size
    cols = {k: [] for k in ("init", "K2", "IC", "IC_se", "IC2", "IW", "IW_se", "steps")}
    for (_, a), r in zip(specs, res):
        f = r.final()
        cols["init"].append("pretrained" if a[2] else "early fusion")
        cols["K2"].append(a[1])
        for k in ("IC", "IC2", "IW"):
            cols[k].append(f[k])
        cols["IC_se"].append(mmicl._se(f["IC"], S))
        cols["IW_se"].append(mmicl._se(f["IW"], S))
        cols["steps"].append(f["step"])
    pre = mmicl.pretrained(quick, seed).final()
    meta = {"config": mmicl._describe(cfg), "K1": cfg["K1"], "L2": cfg["L2"], "D2": cfg["D2"],
            "B": cfg["B2"], "seed": seed, "K2_grid": list(grid), "eval_sequences": S,
            "steps_pretrained": cfg["train2"].steps, "steps_scratch": cfg["train2_scratch"].steps,
            "stage1_final": {k: pre[k] for k in ("IC", "IW")}, "chance": 1 / cfg["L2"],
            "copy_baseline": mmicl.copy_baseline(cfg["L2"], cfg["N"], cfg["B2"]),
            "mode": "quick: reduced CPU configuration" if quick else "full: paper"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for init, color in (("pretrained", "C0"), ("early fusion", "C1")):
        s = c["init"] == init
        o = np.argsort(c["K2"][s])
        ax.errorbar(c["K2"][s][o], c["IC"][s][o], yerr=c["IC_se"][s][o], color=color, marker="o",
                    label=f"{init}: ICL")
        ax.errorbar(c["K2"][s][o], c["IW"][s][o], yerr=c["IW_se"][s][o], color=color, marker="s",
                    ls="--", mfc="none", label=f"{init}: IWL")
    ax.axhline(m["chance"], color="0.5", lw=0.8, ls=":", label="chance 1/L2")
    ax.axhline(m["copy_baseline"], color="0.3", lw=0.8, ls="-.",
               label="copy a context label at random")
    ax.set(xscale="log", xlabel="secondary-modality classes K2", ylabel="final accuracy",
           ylim=(-0.02, 1.02))
    ax.set_xticks(m["K2_grid"], [str(k) for k in m["K2_grid"]])
    ax.set_title(f"Multimodal ICL: decoder pretrained on K1 = {m['K1']} classes vs early fusion\n"
                 f"B = {m['B']}, D2 = {m['D2']}, stage 2: {m['steps_pretrained']} steps "
                 f"(pretrained), {m['steps_scratch']} (scratch)", fontsize=8)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    return fig


figure("mmicl-asymmetry", "multimodal ICL vs K2: stage-1-pretrained decoder vs early fusion",
       compute, plot, requires=("torch",))
