"""Work units shared by the ``mmicl-*`` figures: trained decoders and their evaluations.

Not a figure itself.  A training unit is one run of one seed (:func:`stage1_run`: a stage-1
decoder; :func:`stage2_run`: projector + decoder, from the stage-1 decoder it *needs* or from
scratch); the evaluation units (:func:`knockouts`, :func:`attention`) need the run they evaluate.
Runs travel and are cached as data (:meth:`icl_companion.validation.mmicl_train.RunResult.to_data`:
configurations, log, weights as arrays).  Units with the same inputs in several figures are one
unit: the stage-1 decoder pretrained at ``K1`` is trained once for all four figures.  Torch units
take ``device`` (``--device``); the weights come back on the CPU.
"""

from __future__ import annotations

from icl_companion.figures.registry import Unit

__all__ = ["stage1_run", "stage2_run", "knockouts", "attention", "stage1_unit", "stage2_unit",
           "pretrained_unit", "run", "PRETRAINED"]

PRETRAINED = "stage1/pretrained"
_RUN_FIELDS = ("stage", "history", "state", "train", "task")


def run(data: dict):
    """A :class:`~icl_companion.validation.mmicl_train.RunResult` from a unit's result."""
    from icl_companion.validation.mmicl_train import RunResult

    return RunResult.from_data(data)


def stage1_run(quick: bool, K: int, B: int, pos: str, seed: int, device: str = "cpu") -> dict:
    """Work unit: a stage-1 decoder of the mode's configuration (K classes, burstiness B)."""
    from icl_companion.validation import mmicl

    return mmicl.uni_run(quick, K, B, pos, seed, device=device).to_data()


def stage2_run(quick: bool, K2: int, init: bool, seed: int, variant: str = "main",
               device: str = "cpu", pretrained: dict | None = None) -> dict:
    """Work unit: a stage-2 run at ``K2`` secondary classes, from the stage-1 decoder
    ``pretrained`` (``init=True``) or from scratch (early fusion)."""
    from icl_companion.validation import mmicl

    pre = run(pretrained) if init else None
    return mmicl.mm_run(quick, K2, init, seed, variant, device=device,
                        pretrained_run=pre).to_data()


def knockouts(model: dict) -> dict:
    """Work unit: ICL accuracy of a trained run under each knockout / zeroing
    (:func:`icl_companion.validation.mmicl.knockout_table`)."""
    from icl_companion.validation import mmicl

    return {"rows": mmicl.knockout_table(run(model))}


def attention(model: dict, example: int = 0) -> dict:
    """Work unit: the attention maps of a stage-1 decoder on sequence ``example`` of its
    novel-class ICL set, with that sequence's labels, target, matches and prediction."""
    from icl_companion.numerics.mmicl_data import GMMConfig, GMMTask
    from icl_companion.validation.mmicl_train import evaluate

    r1 = run(model)
    task = GMMTask(GMMConfig(**r1.task), r1.task_seed)
    ic = task.eval_sets(r1.train["eval_size"], seed=r1.train["eval_seed"])["IC"]
    r = evaluate(r1.load(), ic, capture=True)
    return {"attn": [A[example, 0] for A in r["attn"]],
            "labels": ic.labels[example].tolist(), "target": int(ic.target[example]),
            "match": ic.match[example].tolist(), "prediction": int(r["pred"][example]),
            "eval_sequences": len(ic)}


def _cost(quick: bool, steps: int) -> float:
    # seconds per optimiser step (evaluations included) measured on the development machine with
    # two busy workers (quick APE stage 1: ~0.02 s, RoPE ~0.013 s; full: the earlier estimate)
    return steps * (0.02 if quick else 0.15)


def stage1_unit(name: str, quick: bool, K: int, B: int, pos: str, seed: int) -> Unit:
    from icl_companion.validation import mmicl

    return Unit(name, stage1_run, {"quick": quick, "K": K, "B": B, "pos": pos, "seed": seed},
                fields=_RUN_FIELDS, torch=True,
                cost=_cost(quick, mmicl.reduced(quick)["train"].steps))


def pretrained_unit(quick: bool, seed: int) -> Unit:
    """The stage-1 decoder every stage-2 run starts from (APE, ``K = K1``, ``B = B1``)."""
    from icl_companion.validation import mmicl

    cfg = mmicl.reduced(quick)
    return stage1_unit(PRETRAINED, quick, cfg["K1"], cfg["B1"], "ape", seed)


def stage2_unit(name: str, quick: bool, K2: int, init: bool, seed: int,
                variant: str = "main") -> Unit:
    from icl_companion.validation import mmicl

    steps = mmicl.stage2_train(quick, init, variant).steps
    return Unit(name, stage2_run, {"quick": quick, "K2": K2, "init": init, "seed": seed,
                                   "variant": variant},
                needs={"pretrained": PRETRAINED} if init else {}, fields=_RUN_FIELDS,
                torch=True, cost=_cost(quick, steps) * 1.5)
