"""Figure ``mmicl-knockout``: ICL accuracy under head knockouts and modality zeroing.

Stage-2 models (decoder pretrained on the primary modality, then projector + decoder trained at K2 =
256) trained with the paper's optimiser (SGD; the run judged by ``mmicl.modality_zeroing``) and, in
quick mode, with Adam (the run of the other stage-2 checks), and, for reference, the stage-1
decoder, evaluated on the novel-class ICL set: full model, previous-token head (layer 1) knocked
out, induction head (layer 2) knocked out, primary (M1) or secondary (M2) items zeroed.  A knockout
zeroes the head's attention output; zeroing keeps the label tokens and the positions.  Paper (Huang
et al. 2026, knockout experiments; not numbered in the sources): the PH knockout drops ICL sharply,
the IH knockout collapses it to near chance, zeroing M1 collapses it and zeroing M2 lowers it less.
At CPU scale the SGD model reads M1 (zeroing M1 collapses ICL, zeroing M2 costs nothing) and the
Adam model reads M2 (docs/mmicl.md).

References
----------
Huang, Roth, Bouniot, Xu, Akata, arXiv:2601.20796 (2026);
``docs/derivations/mmicl.md#trained-decoders``.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.mmicl_common import PRETRAINED, knockouts, pretrained_unit, stage2_unit
from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.theory.registry import NOT_NUMBERED, Reference


def _variants(quick: bool) -> list[str]:
    from icl_companion.validation import mmicl

    sgd_tc, main_tc = (mmicl.stage2_train(quick, True, v) for v in ("sgd", "main"))
    return ["sgd"] + (["main"] if main_tc != sgd_tc else [])


def units(quick: bool, seed: int) -> list:
    out = [pretrained_unit(quick, seed),
           Unit("knockouts/stage1", knockouts, needs={"model": PRETRAINED}, fields=("rows",),
                cost=2.0)]
    for v in _variants(quick):
        out += [stage2_unit(f"stage2/{v}", quick, 256, True, seed, v),
                Unit(f"knockouts/stage2/{v}", knockouts, needs={"model": f"stage2/{v}"},
                     fields=("rows",), cost=2.0)]
    return out


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    from icl_companion.validation import mmicl

    cfg = mmicl.reduced(quick)
    variants = _variants(quick)
    cols = {k: [] for k in ("model", "condition", "acc", "se", "n")}
    panels = [("stage 1 (unimodal)", "knockouts/stage1")]
    for v in variants:
        tc = mmicl.stage2_train(quick, True, v)
        panels.append((f"stage 2, K2=256, {tc.optimizer} lr {tc.lr:g}, {tc.steps} steps"
                       + (" (paper's optimiser)" if v == "sgd" else ""), f"knockouts/stage2/{v}"))
    for model, name in panels:
        for row in results[name]["rows"]:
            cols["model"].append(model)
            for k in ("condition", "acc", "se", "n"):
                cols[k].append(row[k])
    meta = {"config": mmicl._describe(cfg), "K1": cfg["K1"], "K2": 256, "seed": seed,
            "chance_stage1": 1 / cfg["L"], "chance_stage2": 1 / cfg["L2"],
            "copy_baseline_stage1": mmicl.copy_baseline(cfg["L"], cfg["N"], cfg["B1"]),
            "copy_baseline_stage2": mmicl.copy_baseline(cfg["L2"], cfg["N"], cfg["B2"]),
            "mode": "quick: reduced CPU configuration" if quick else "full: paper",
            "stage2": "; ".join(f"{v}: {mmicl.stage2_train(quick, True, v)}" for v in variants)}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    models = list(dict.fromkeys(c["model"].tolist()))
    fig, axes = plt.subplots(1, len(models), figsize=(14, 4.2),
                             gridspec_kw={"width_ratios": [3] + [5] * (len(models) - 1)})
    for ax, model, tag in zip(axes, models, ["stage1"] + ["stage2"] * (len(models) - 1)):
        s = c["model"] == model
        names = c["condition"][s]
        acc = c["acc"][s].astype(float)
        ax.bar(range(len(acc)), acc, yerr=c["se"][s].astype(float), color=[
            "C0"] + ["C3"] * 2 + ["C2"] * (len(acc) - 3), capsize=3)
        for i, a in enumerate(acc):
            ax.text(i, a + 0.02, f"{a:.2f}", ha="center", fontsize=7)
        ax.axhline(m[f"chance_{tag}"], color="0.5", ls=":", lw=0.8, label="chance")
        ax.axhline(m[f"copy_baseline_{tag}"], color="0.3", ls="-.", lw=0.8,
                   label="copy a context label at random")
        ax.set_xticks(range(len(acc)), [n.replace(" (", "\n(") for n in names], fontsize=7)
        ax.set(ylim=(0, 1.25), ylabel="ICL accuracy (novel classes)")
        ax.set_title(model, fontsize=9)
        ax.legend(fontsize=7, loc="upper center", ncol=2)
    fig.suptitle("Knockouts and modality zeroing at inference. " + m["config"], fontsize=7)
    fig.tight_layout()
    return fig


figure("mmicl-knockout", "ICL accuracy: full model, PH / IH head knocked out, modalities zeroed",
       plot=plot, units=units, reduce=reduce, requires=("torch",),
       reference=Reference("mmicl", NOT_NUMBERED,
                           "docs/derivations/mmicl.md#trained-decoders"))
