"""Benchmark of the mmicl training loop (reduced CPU configuration, one thread).

Measures, in one process:

* steps per second of stage-1 training (Adam, the reduced configuration of ``validation.mmicl``),
  for APE and RoPE, and of stage 2 (triplet sequences);
* the time to generate one training batch (NumPy, ``numerics.mmicl_data``) against one training
  step (forward + backward + update), as a ratio: data generation must be negligible;
* optionally (``--reproductions``) the wall time of each quick reproduction (``iclc verify mmicl
  --quick``, uncached) and of each quick figure.

Usage: ``python benchmarks/mmicl_train.py [--steps 200] [--reproductions]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from icl_companion.numerics.mmicl_data import GMMTask, MMTask  # noqa: E402
from icl_companion.validation import mmicl  # noqa: E402
from icl_companion.validation.mmicl_train import _inputs, build_model  # noqa: E402


def _time_steps(model, task, P, steps, batch):
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    t_data = t_step = 0.0
    for i in range(steps + 5):  # 5 warm-up steps
        t0 = time.perf_counter()
        b = task.sample(batch, rng)
        x, shift = _inputs(b, P)
        y = torch.from_numpy(b.target)
        t1 = time.perf_counter()
        loss = F.cross_entropy(model(*x, shift=shift), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        if i >= 5:
            t_data += t1 - t0
            t_step += t2 - t1
    return t_data / steps, t_step / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--reproductions", action="store_true",
                    help="also time every quick check and figure (minutes)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = mmicl.reduced(quick=True)
    print(f"reduced configuration: D={cfg['D']}, L={cfg['L']}, N={cfg['N']}, "
          f"ape_len={cfg['ape_len']}, batch={cfg['train'].batch}, Adam lr {cfg['train'].lr}; "
          f"{a.steps} timed steps, 1 thread")
    rows = []
    for pos in ("ape", "rope"):
        tcfg, mcfg = mmicl.uni_configs(cfg, K=4096, B=2, pos=pos)
        task = GMMTask(mmicl.task_for(tcfg, mcfg), seed=0)
        P = mcfg.ape_len if pos == "ape" else 0
        rows.append((f"stage 1 {pos}", *_time_steps(build_model(mcfg, 0), task, P, a.steps,
                                                      cfg["train"].batch)))
    mm_task_cfg, mcfg = mmicl.mm_configs(cfg, K2=256)
    task = MMTask(mmicl.task_for(mm_task_cfg, mcfg), seed=0)
    rows.append(("stage 2 ape", *_time_steps(build_model(mcfg, 0, d2=mm_task_cfg.D2), task,
                                              mcfg.ape_len, a.steps, cfg["train"].batch)))
    base = rows[0][2]
    print(f"{'run':<14} {'steps/s':>8} {'step ms':>8} {'data ms':>8} {'data/step':>9} "
          f"{'step vs stage-1 APE':>20}")
    for name, td, ts in rows:
        print(f"{name:<14} {1 / (td + ts):8.1f} {1e3 * ts:8.2f} {1e3 * td:8.2f} {td / ts:9.3f} "
              f"{ts / base:20.2f}")
    if a.reproductions:
        from icl_companion.figures.registry import load_figures, make
        from icl_companion.validation.checks import load_checks, run_one

        os.environ["ICLC_CACHE"] = "0"  # time the real work, not a cache hit
        for cid, c in sorted(load_checks().items()):
            if cid.startswith("mmicl.") and c.quick and c.requires:
                t0 = time.perf_counter()
                r = run_one(c, quick=True, seed=0)
                print(f"check {cid:<32} {r.status:<7} {time.perf_counter() - t0:7.1f} s")
        os.environ["ICLC_CACHE"] = "1"
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            os.environ["ICLC_CACHE_DIR"] = tmp  # cold cache: the four figures share their runs
            t_all = time.perf_counter()
            for name in sorted(load_figures()):
                if name.startswith("mmicl-") and "torch" in load_figures()[name].requires:
                    t0 = time.perf_counter()
                    make(name, quick=True, out_dir=os.path.join(tmp, "figs"))
                    print(f"figure {name:<20} {time.perf_counter() - t0:7.1f} s (cache shared)")
            print(f"all mmicl torch figures, cold cache: {time.perf_counter() - t_all:.1f} s")


if __name__ == "__main__":
    main()
