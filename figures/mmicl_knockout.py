"""Figure ``mmicl-knockout``: ICL accuracy under head knockouts and modality zeroing.

Stage-2 models (decoder pretrained on the primary modality, then projector + decoder trained at K2 =
256) and, for reference, the stage-1 decoder, evaluated on the novel-class ICL set.  Full mode: the
paper's optimiser (SGD).  Quick mode: Adam (the run of the other stage-2 checks) and Adam with the
projector's learning rate scaled by 0.1, which gives the projector SGD's speed relative to the
pretrained decoder (``validation.mmicl_train.projector_decoder_rates``); the quick SGD run itself
(4000 steps) is judged by ``mmicl.modality_zeroing`` in ``iclc verify``.  Conditions: full model,
previous-token head (layer 1) knocked
out, induction head (layer 2) knocked out, primary (M1) or secondary (M2) items zeroed.  A knockout
zeroes the head's attention output; zeroing keeps the label tokens and the positions.  Paper (Huang
et al. 2026, knockout experiments; not numbered in the sources): the PH knockout drops ICL sharply,
the IH knockout collapses it to near chance, zeroing M1 collapses it and zeroing M2 lowers it less.
At CPU scale the SGD model and the slow-projector Adam model read M1 (zeroing M1 collapses ICL,
zeroing M2 costs nothing) and the Adam model reads M2 (docs/mmicl.md).

References
----------
Huang, Roth, Bouniot, Xu, Akata, arXiv:2601.20796 (2026);
``docs/derivations/mmicl.md#trained-decoders``.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.mmicl_common import PRETRAINED, knockouts, pretrained_unit, stage2_unit
from icl_companion.figures.registry import Column, FigureData, Unit, figure
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.validation.mmicl_figures import check_knockout


def _variants(quick: bool) -> list[str]:
    # full mode: the paper's SGD run (the main stage-2 run is the same).  Quick mode: the Adam run
    # of the other stage-2 checks (reads M2) and Adam with the projector's rate cut to SGD's
    # relative rate (reads M1 like SGD, in 800 steps where the SGD run needs 4000; the SGD run
    # itself is judged by mmicl.modality_zeroing in `iclc verify`)
    return ["slow_projector", "main"] if quick else ["sgd"]


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
        label = f"stage 2, K2=256, {tc.optimizer} lr {tc.lr:g}"
        if tc.proj_lr_scale != 1.0:
            label += f" (projector x{tc.proj_lr_scale:g}: SGD's rate ratio)"
        label += f", {tc.steps} steps" + (" (paper's optimiser)" if v == "sgd" else "")
        panels.append((label, f"knockouts/stage2/{v}"))
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
    from icl_companion.figures.layout import DOUBLE, caption, greek, legend_below, new_figure, wrap

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    models = list(dict.fromkeys(c["model"].tolist()))
    ratios = [3] + [5] * (len(models) - 1)
    fig, axes = new_figure(DOUBLE, 3.4, 1, len(models), legend_row=True, width_ratios=ratios)
    short = {"full": "full", "PH knocked out (layer 1)": "PH out\n(layer 1)",
             "IH knocked out (layer 2)": "IH out\n(layer 2)", "M1 zeroed": "$M_1$\nzeroed",
             "M2 zeroed": "$M_2$\nzeroed"}
    for k, (ax, model) in enumerate(zip(axes, models)):
        tag = "stage1" if k == 0 else "stage2"
        s = c["model"] == model
        names = c["condition"][s]
        acc = c["acc"][s].astype(float)
        ax.bar(range(len(acc)), acc, yerr=c["se"][s].astype(float), color=[
            "C0"] + ["C3"] * 2 + ["C2"] * (len(acc) - 3), capsize=2, width=0.7)
        for i, a in enumerate(acc):
            ax.text(i, a + 0.03, f"{a:.2f}", ha="center", fontsize=6)
        ax.axhline(m[f"chance_{tag}"], color="0.5", ls=":", lw=0.8, label="chance $1/L$")
        ax.axhline(m[f"copy_baseline_{tag}"], color="0.3", ls="-.", lw=0.8,
                   label="copy a context label at random")
        ax.set_xticks(range(len(acc)), [short.get(n, n) for n in names], fontsize=6)
        ax.set(ylim=(0, 1.15))
        ax.set_ylabel("ICL accuracy (novel classes)" if k == 0 else "")
        ax.set_title(wrap(model.replace("stage 2, ", "stage 2: "),
                          DOUBLE * ratios[k] / sum(ratios) * 0.95, 7), fontsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    legend_below(fig, handles, labels, ncol=2)
    caption(fig, "Knockouts zero a head's attention output; zeroing replaces a modality's "
                 "items by 0 (labels and positions kept); evaluated on the novel-class ICL set "
                 "($\\pm$1 binomial s.e.). " + greek(m["config"]) + f". {m['mode']}.")
    return fig


COLUMNS = {
    "model": Column("evaluated model: the stage-1 decoder or a stage-2 run (optimiser, learning "
                    "rate, steps in the label)", kind="text"),
    "condition": Column("full model, a head knocked out (PH: layer 1, IH: layer 2) or a "
                        "modality zeroed (M1, M2)", kind="text"),
    "acc": Column("ICL accuracy on the novel-class set", "", "fraction (chance and copy "
                  "baseline in the JSON)"),
    "se": Column("binomial standard error of acc", "", "as acc"),
    "n": Column("evaluation sequences", "", "", kind="int"),
}


figure("mmicl-knockout", "ICL accuracy: full model, PH / IH head knocked out, modalities zeroed",
       plot=plot, units=units, reduce=reduce, requires=("torch",),
       reference=Reference("mmicl", NOT_NUMBERED,
                           "docs/derivations/mmicl.md#trained-decoders"),
       columns=COLUMNS, check=check_knockout,
       claim='Knocking out the previous-token or the induction head drops ICL to the copy baseline or below, and zeroing the modality a stage-2 model reads collapses its ICL while zeroing the other modality costs little.')
