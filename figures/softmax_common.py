"""The work unit shared by the ``softmax-*`` figures: one trained model (He et al. 2025).

Not a figure itself.  :func:`trained` trains the model of one configuration from ``seed`` on
(seeds ``seed, seed+1, ...`` until one reaches the +/- head configuration,
:func:`icl_companion.validation.softmax_training.first_plus_minus`), and returns the record as
data; figures that train the same configuration share the unit (same function, same inputs, same
cache entry).  Its cache key does not involve the figure modules, so editing a figure's table or
plot keeps the trained models.
"""

from __future__ import annotations

from icl_companion.figures.registry import Unit
from icl_companion.numerics.softmax_attention import TrainConfig, TrainRecord
from icl_companion.numerics.softmax_data import Setting

__all__ = ["trained", "training_unit", "record", "config_from_dict"]


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


def training_unit(name: str, config: TrainConfig, seed: int) -> Unit:
    # seconds per step measured on the development machine (d = 5, batch 256): ~2.6 ms at H = 2,
    # ~4.4 ms at H = 8, x1.5 for two outputs; a first seed stuck in the same-sign pattern retrains
    per_step = (0.002 + 0.0003 * config.H) * (1.5 if config.setting.n_out > 1 else 1.0)
    return Unit(name, trained, {"config": config.as_dict(), "seed": seed},
                fields=("record", "notes"), cost=config.steps * per_step)


def record(result: dict, config: TrainConfig) -> tuple[TrainRecord, list]:
    """``(TrainRecord, notes)`` of a :func:`trained` result."""
    return TrainRecord.from_data(result["record"], config), list(result["notes"])
