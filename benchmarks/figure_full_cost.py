"""Benchmark: estimated CPU time of a figure's full (paper-size) mode from a measured sample.

    nice -n 10 python benchmarks/figure_full_cost.py aim-softmax aim-hardmax [--per-group 2]
    nice -n 10 python benchmarks/figure_full_cost.py softmax-heads mmicl-pe --prefix-steps 300

For each figure, the full mode's work units are grouped (:attr:`Unit.group`: the unit name up to
its first ``=``).  Units that finish in minutes are *sampled*: ``--per-group`` units of each group
(spread over the group) run in this process with one thread (as a pool worker would), and the
group's cost is its mean time times its size.  Training units of the ``softmax`` and ``mmicl``
figures (500k / 300k / 80k optimiser steps) are measured on a *prefix*: the same configuration
trained for ``--prefix-steps`` steps (evaluation steps included at the configured interval,
scaled) and extrapolated linearly in the number of steps; the short evaluation units that need a
trained model are counted at their quick-mode time.  Prints per group and per figure: units,
sampled seconds per unit, extrapolated CPU-hours, and the wall time on ``--workers`` cores at
perfect packing.  Measurements on a loaded machine overestimate; the per-unit times are printed so
that they can be compared with a quiet run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from icl_companion.figures.registry import get_figure  # noqa: E402
from icl_companion.numerics.executor import pinned_call  # noqa: E402


def _softmax_prefix(args: dict, steps: int) -> float:
    """Seconds of the full training configuration per optimiser step, from ``steps`` steps."""
    from icl_companion.figures.softmax_common import config_from_dict
    from icl_companion.numerics.softmax_attention import train

    cfg = config_from_dict(args["config"])
    short = dataclasses.replace(cfg, steps=steps, log_every=min(cfg.log_every, steps))
    _, secs = pinned_call(train, {"config": short, "seed": args["seed"]})
    return secs / steps * cfg.steps


def _mmicl_prefix(args: dict, stage: int, steps: int) -> float:
    from icl_companion.validation import mmicl
    from icl_companion.validation.mmicl_train import train_stage1, train_stage2

    cfg = mmicl.reduced(args["quick"])
    if stage == 1:
        t, m = mmicl.uni_configs(cfg, args["K"], args["B"], args["pos"])
        tc = cfg["train"]
    else:
        t, m = mmicl.mm_configs(cfg, args["K2"])
        tc = mmicl.stage2_train(args["quick"], args["init"], args.get("variant", "main"))
    # evaluation cost: one eval step per eval_every steps; measure two, scale
    short = dataclasses.replace(tc, steps=steps, eval_every=max(steps // 2, 1), snapshots=False)
    fn = train_stage1 if stage == 1 else train_stage2
    _, secs = pinned_call(fn, {"task_cfg": t, "model_cfg": m, "tc": short, "seed": args["seed"]})
    n_eval_short = 2
    # split: time of the steps alone from a run without intermediate evals
    short2 = dataclasses.replace(short, eval_every=steps)
    _, secs2 = pinned_call(fn, {"task_cfg": t, "model_cfg": m, "tc": short2, "seed": args["seed"]})
    per_eval = max(secs - secs2, 0.0) / (n_eval_short - 1)
    per_step = max(secs2 - per_eval, 1e-9) / steps
    return per_step * tc.steps + per_eval * (tc.steps // tc.eval_every + 1)


def estimate(name: str, per_group: int, prefix_steps: int) -> list[tuple]:
    fig = get_figure(name)
    units = fig.work(False, 0)
    groups: dict = {}
    for u in units:
        groups.setdefault(u.group, []).append(u)
    rows = []
    for g, us in groups.items():
        fn = us[0].func.__name__
        if fn == "trained":  # every model (H changes the cost per step)
            secs = [_softmax_prefix(u.args, prefix_steps) for u in us]
            how = f"{prefix_steps}-step prefix of each unit"
        elif fn in ("stage1_run", "stage2_run"):
            stage = 1 if fn == "stage1_run" else 2
            secs = [_mmicl_prefix(u.args, stage, prefix_steps) for u in us[:1]]
            how = f"{prefix_steps}-step prefix of 1 unit"
        elif us[0].needs:
            secs = [u.cost for u in us[:1]]
            how = "quick-mode a-priori cost (needs trained models)"
        else:
            pick = [us[int(i)] for i in np.unique(np.linspace(0, len(us) - 1, per_group).round())]
            secs = [pinned_call(u.func, dict(u.args, **({"device": "cpu"} if u.torch else {})))[1]
                    for u in pick]
            how = f"{len(pick)} sampled unit(s)"
        mean = float(np.mean(secs))
        rows.append((name, g, len(us), mean, mean * len(us), how))
        print(f"  {name:<20} {g:<40} {len(us):5d} units x {mean:9.2f} s = "
              f"{mean * len(us) / 3600:8.3f} CPU-h   ({how})", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("figures", nargs="+")
    ap.add_argument("--per-group", type=int, default=2)
    ap.add_argument("--prefix-steps", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    t0 = time.perf_counter()
    for name in a.figures:
        rows = estimate(name, a.per_group, a.prefix_steps)
        total = sum(r[4] for r in rows)
        longest = max(r[3] for r in rows)
        print(f"{name}: {sum(r[2] for r in rows)} units, {total / 3600:.2f} CPU-hours; on "
              f"{a.workers} cores at least {max(total / a.workers, longest) / 3600:.2f} h wall",
              flush=True)
    print(f"(benchmark wall time {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
