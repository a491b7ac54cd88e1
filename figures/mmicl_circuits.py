"""Figure ``mmicl-circuits``: the induction circuit of a trained decoder and its formation.

Left: layer-1 and layer-2 attention of the stage-1 decoder (APE, K = K1, B = 2) on one novel-class
ICL sequence ``[x_1, l_1, ..., x_N, l_N, x_q]``: a previous-token pattern in layer 1 (each label
attends to its item) and, in layer 2, the query attending to the labels whose item matches it.
Right: over training, the ICL / IWL accuracies and the circuit metrics of
:mod:`icl_companion.numerics.mmicl_metrics` on the ICL set: PHStrength_1 (layer-1 previous-token attention),
IndStrength_2 and TILA_2 (layer-2 query attention to matching labels) and the context-label
accuracy CLA (Huang et al. 2026; ``docs/derivations/mmicl.md#circuit-metrics``).

References
----------
Huang, Roth, Bouniot, Xu, Akata, arXiv:2601.20796 (2026; not numbered in the sources); Reddy, ICLR
2024 (arXiv:2312.03002); ``docs/derivations/mmicl.md#circuit-metrics``.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.mmicl_common import PRETRAINED, attention, pretrained_unit, run
from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.theory.registry import NOT_NUMBERED, Reference

SERIES = ("IC", "IW", "prev1_1", "ind_2", "tila_2", "cla")


def units(quick: bool, seed: int) -> list:
    return [pretrained_unit(quick, seed),
            Unit("attention", attention, {"example": 0}, needs={"model": PRETRAINED},
                 fields=("attn", "labels", "target", "match", "prediction"), cost=2.0)]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    from icl_companion.validation import mmicl

    cfg = mmicl.reduced(quick)
    pre = run(results[PRETRAINED])
    att = results["attention"]
    cols = {k: [] for k in ("panel", "layer", "row", "col", "step", "name", "value")}

    def add(panel, layer, i, j, step, name, value):
        for k, v in zip(cols, (panel, layer, i, j, step, name, value)):
            cols[k].append(v)

    for layer, A in enumerate(att["attn"]):
        T = A.shape[-1]
        for i in range(T):
            for j in range(T):
                add("attention", layer + 1, i, j, -1, "", float(A[i, j]))
    for h in pre.history:
        for name in SERIES:
            add("training", 0, -1, -1, h["step"], name, float(h[name]))
    meta = {"config": mmicl._describe(cfg), "K": cfg["K1"], "B": cfg["B1"], "seed": seed,
            "example": {k: att[k] for k in ("labels", "target", "match", "prediction")},
            "final_IC": pre.final()["IC"], "eval_sequences": att["eval_sequences"],
            "mode": "quick: reduced CPU configuration" if quick else "full: paper"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    ex = m["example"]
    N = len(ex["labels"])
    T = 2 * N + 1
    ticks = [t for i in range(N) for t in (f"x{i + 1}", f"l{i + 1}={ex['labels'][i]}")] + ["xq"]
    fig = plt.figure(figsize=(12, 4.2))
    gs = fig.add_gridspec(1, 3, width_ratios=(1, 1, 1.3))
    for layer in (1, 2):
        ax = fig.add_subplot(gs[0, layer - 1])
        s = (c["panel"] == "attention") & (c["layer"] == layer)
        A = np.zeros((T, T))
        A[c["row"][s].astype(int), c["col"][s].astype(int)] = c["value"][s].astype(float)
        im = ax.imshow(A, cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(T), ticks, rotation=90, fontsize=6)
        ax.set_yticks(range(T), ticks, fontsize=6)
        for i, hit in enumerate(ex["match"]):
            if hit and layer == 2:  # matching labels, seen from the query row
                ax.add_patch(plt.Rectangle((2 * i + 0.5, T - 1.5), 1, 1, fill=False, ec="r",
                                           lw=1.2))
        ax.set_title(f"layer {layer} attention (one ICL sequence)\n"
                     f"target {ex['target']}, predicted {ex['prediction']}"
                     + (" (red: labels equal to the target)" if layer == 2 else ""), fontsize=8)
        ax.set(xlabel="attended position", ylabel="query position")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax = fig.add_subplot(gs[0, 2])
    s = c["panel"] == "training"
    names = {"IC": "ICL accuracy (novel)", "IW": "IWL accuracy", "prev1_1": "PHStrength, layer 1",
             "ind_2": "IndStrength, layer 2", "tila_2": "TILA, layer 2", "cla": "CLA"}
    styles = {"IC": "-", "IW": "-", "cla": ":", "prev1_1": "--", "ind_2": "--", "tila_2": "-."}
    for name, label in names.items():
        t = s & (c["name"] == name)
        ax.plot(c["step"][t].astype(int), c["value"][t].astype(float), styles[name], label=label)
    ax.set(xlabel="training step", ylabel="accuracy / attention", ylim=(-0.05, 1.05))
    ax.set_title(f"circuit formation, K = {m['K']}, B = {m['B']}, seed {m['seed']}", fontsize=8)
    ax.legend(fontsize=7)
    fig.suptitle(m["config"], fontsize=7)
    fig.tight_layout()
    return fig


figure("mmicl-circuits", "layer-1/layer-2 attention maps of a trained decoder and circuit metrics "
       "over training", plot=plot, units=units, reduce=reduce, requires=("torch",),
       reference=Reference("mmicl", NOT_NUMBERED,
                           "docs/derivations/mmicl.md#circuit-metrics",
                           ("Reddy (2024), ICLR, arXiv:2312.03002",)))
