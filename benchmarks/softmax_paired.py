"""Benchmark: the four multi-task models trained on one batch stream vs one after another.

    OMP_NUM_THREADS=1 python benchmarks/softmax_paired.py [--steps 1000] [--repeat 3]

The ``softmax-multitask`` setting of He et al. (2025) (N = 2 tasks, d = 6, L = 48, batch 256),
H = 1, 2, 3, 4, Adam.  In this process, on one core:

* ``separate``: :func:`icl_companion.numerics.softmax_attention.train` for each H (each model
  draws its own batches: four batches per step in all), the baseline;
* ``paired``: :func:`icl_companion.numerics.softmax_attention.train_paired` (one batch per step,
  used by the four models).

Also times the parts of one step (sampling a batch; forward, backward and Adam of each model), so
the ratio can be read against them.  Prints the best of ``--repeat`` runs and the ratio
separate / paired (> 1: paired faster).
"""

from __future__ import annotations

import argparse
import os
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from icl_companion.numerics.softmax_attention import (Adam, init_params, loss_and_grad,  # noqa: E402
                                                      train, train_paired)
from icl_companion.numerics.softmax_data import sample_tokens  # noqa: E402
from icl_companion.validation.softmax_training import (MT_HEADS,  # noqa: E402
                                                       multitask_config)


def _best(f, repeat: int) -> float:
    """Best wall time of ``repeat`` calls (the machine may be shared)."""
    return min(timeit.repeat(f, number=1, repeat=repeat))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    from dataclasses import replace

    cfgs = [replace(multitask_config(H, True), steps=a.steps, log_every=a.steps // 10)
            for H in MT_HEADS]
    st = cfgs[0].setting
    rng = np.random.default_rng(0)
    n = 200
    t_sample = _best(lambda: [sample_tokens(rng, 256, st) for _ in range(n)], a.repeat) / n
    print(f"sampling one batch (256 x {st.L + 1} x {st.D}): {t_sample * 1e3:.2f} ms")
    b = sample_tokens(rng, 256, st)
    for c in cfgs:
        p = init_params(rng, st.D, c.H, st.n_out)
        opt = Adam(p, c.lr)

        def model_steps(p=p, opt=opt):
            for _ in range(n):
                _, g = loss_and_grad(p, b)
                opt.step(p, g)

        print(f"H = {c.H}: forward + backward + Adam: "
              f"{_best(model_steps, a.repeat) / n * 1e3:.2f} ms")
    sep = _best(lambda: [train(c, 0) for c in cfgs], a.repeat)
    par = _best(lambda: train_paired(cfgs, 0), a.repeat)
    print(f"{a.steps} steps of H = {', '.join(map(str, MT_HEADS))}: separate {sep:.2f} s "
          f"({sep / a.steps * 1e3:.2f} ms/step), paired {par:.2f} s "
          f"({par / a.steps * 1e3:.2f} ms/step); ratio separate/paired = {sep / par:.2f}")


if __name__ == "__main__":
    main()
