"""The work unit shared by the ``softmax-*`` figures: one trained model (He et al. 2025).

Not a figure itself.  :func:`trained` trains the model of one configuration from ``seed`` on
(seeds ``seed, seed+1, ...`` until one reaches the +/- head configuration,
:func:`icl_companion.validation.softmax_training.first_plus_minus`), and returns the record as
data; figures that train the same configuration share the unit (same function, same inputs, same
cache entry).  :func:`trained_paired` trains several models on one batch stream
(:func:`icl_companion.numerics.softmax_attention.train_paired`).  The cache keys do not involve
the figure modules, so editing a figure's table or plot keeps the trained models.
"""

from __future__ import annotations

from icl_companion.figures.registry import Unit
from icl_companion.numerics.softmax_attention import TrainConfig, TrainRecord
from icl_companion.numerics.softmax_data import Setting

__all__ = ["trained", "training_unit", "trained_paired", "paired_unit", "record",
           "config_from_dict"]


def config_from_dict(d: dict) -> TrainConfig:
    """Inverse of ``TrainConfig.as_dict`` (``ValueError`` if ``d`` is not such a dict)."""
    s = {k: v for k, v in d["setting"].items() if v is not None}
    if "supports" in s:
        s["supports"] = tuple(tuple(int(i) for i in sup) for sup in s["supports"])
    cfg = TrainConfig(setting=Setting(**s), H=d["H"], kind=d["kind"], steps=d["steps"],
                      batch=d["batch"], lr=d["lr"], log_every=d["log_every"], dtype=d["dtype"])
    if cfg.as_dict() != d:
        raise ValueError("not a TrainConfig.as_dict()")
    return cfg


def trained(config: dict, seed: int) -> dict:
    """Work unit: the first model of seeds ``seed, seed+1, seed+2`` in the +/- configuration."""
    from icl_companion.validation.softmax_training import first_plus_minus

    rec, notes = first_plus_minus(config_from_dict(config), seed)
    return {"record": rec.to_data(), "notes": list(notes)}


def trained_paired(configs: list, seed: int) -> dict:
    """Work unit: models trained together on one batch stream, the multi-head ones that end
    outside the +/- configuration again with the next seeds
    (:func:`icl_companion.validation.softmax_training.first_plus_minus_paired`)."""
    from icl_companion.validation.softmax_training import first_plus_minus_paired

    recs, notes = first_plus_minus_paired([config_from_dict(c) for c in configs], seed)
    return {"records": [r.to_data() for r in recs], "notes": list(notes)}


def paired_unit(name: str, configs: list, seed: int) -> Unit:
    # one batch per step for every model: ~1.7 ms of sampling (d = 6, N = 2, L = 48, batch 256)
    # plus ~0.1 + 0.15 H ms per model, measured on the development machine
    c0 = configs[0]
    per_step = 0.0017 + sum(0.0001 + 0.00015 * c.H for c in configs)
    return Unit(name, trained_paired, {"configs": [c.as_dict() for c in configs], "seed": seed},
                fields=("records", "notes"), cost=c0.steps * per_step)


def training_unit(name: str, config: TrainConfig, seed: int) -> Unit:
    # seconds per step measured on the development machine (d = 5, batch 256): ~2.6 ms at H = 2,
    # ~4.4 ms at H = 8, x1.5 for two outputs; a first seed stuck in the same-sign pattern retrains
    per_step = (0.002 + 0.0003 * config.H) * (1.5 if config.setting.n_out > 1 else 1.0)
    return Unit(name, trained, {"config": config.as_dict(), "seed": seed},
                fields=("record", "notes"), cost=config.steps * per_step)


def record(result: dict, config: TrainConfig) -> tuple[TrainRecord, list]:
    """``(TrainRecord, notes)`` of a :func:`trained` result."""
    return TrainRecord.from_data(result["record"], config), list(result["notes"])
