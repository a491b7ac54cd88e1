"""Benchmark: one training step of the NumPy multi-head softmax attention vs the same model in torch.

    OMP_NUM_THREADS=1 python benchmarks/softmax_train.py [--threads 1] [--steps 400]

Setting of He et al. (2025): batch 256, d = 5, L = 40, H = 2, Adam.  Both implementations run in
this process on the same pre-sampled batches, with the same number of threads
(``torch.set_num_threads`` = ``OMP_NUM_THREADS``), in float64 and in float32:

* ``step``: forward + backward + Adam update on a ready batch (NumPy: hand-written gradients;
  torch: autograd + ``torch.optim.Adam``, the model of ``validation.softmax_training``);
* ``step + sampling``: the full online step including drawing the fresh batch with
  :func:`icl_companion.numerics.softmax_data.sample_tokens` (the same NumPy sampler for both, converted with
  ``torch.from_numpy``, no copy).

Prints steps/s, the ratio NumPy/torch (> 1: NumPy faster) and the projected time of 100k steps.
Times are the best of ``--repeat`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from icl_companion.numerics.softmax_attention import Adam, init_params, loss_and_grad  # noqa: E402
from icl_companion.numerics.softmax_data import Setting, sample_tokens  # noqa: E402

SETTING = Setting("isotropic", 5, 40, 0.1)
H, BATCH = 2, 256


def _best(f, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(steps: int, repeat: int, dtype: str, threads: int) -> dict:
    import torch

    from icl_companion.validation.softmax_training import make_torch_model

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    p0 = init_params(rng, SETTING.D, H, 1, np.dtype(dtype))
    batches = [sample_tokens(rng, BATCH, SETTING, dtype=dtype) for _ in range(20)]

    params = {k: v.copy() for k, v in p0.items()}
    opt = Adam(params, 1e-3)

    def np_steps(sample=False):
        r = np.random.default_rng(1)
        for t in range(steps):
            b = sample_tokens(r, BATCH, SETTING, dtype=dtype) if sample else batches[t % 20]
            _, g = loss_and_grad(params, b)
            opt.step(params, g)

    model = make_torch_model(p0, "softmax", dtype)
    topt = torch.optim.Adam(model.parameters(), lr=1e-3)
    tb = [(torch.from_numpy(np.ascontiguousarray(b.full)), torch.from_numpy(b.yq)) for b in batches]

    def torch_steps(sample=False):
        r = np.random.default_rng(1)
        for t in range(steps):
            if sample:
                b = sample_tokens(r, BATCH, SETTING, dtype=dtype)
                full, yq = torch.from_numpy(b.full), torch.from_numpy(b.yq)
            else:
                full, yq = tb[t % 20]
            topt.zero_grad(set_to_none=True)
            loss = torch.mean((model(full) - yq) ** 2)
            loss.backward()
            topt.step()

    out = {"dtype": dtype, "threads": threads, "steps": steps}
    for label, sample in (("step", False), ("step+sampling", True)):
        t_np = _best(lambda: np_steps(sample), repeat)
        t_th = _best(lambda: torch_steps(sample), repeat)
        out[label] = {"numpy_steps_per_s": steps / t_np, "torch_steps_per_s": steps / t_th,
                      "ratio_numpy_over_torch_speed": t_th / t_np,
                      "numpy_100k_steps_s": 1e5 * t_np / steps,
                      "torch_100k_steps_s": 1e5 * t_th / steps}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    a = ap.parse_args(argv)
    print(f"batch {BATCH}, d={SETTING.d}, L={SETTING.L}, H={H}; {a.steps} steps, best of "
          f"{a.repeat}; threads={a.threads} (numpy OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']})")
    for dtype in ("float64", "float32"):
        r = bench(a.steps, a.repeat, dtype, a.threads)
        for label in ("step", "step+sampling"):
            s = r[label]
            print(f"{dtype:8s} {label:14s} numpy {s['numpy_steps_per_s']:7.0f} steps/s | torch "
                  f"{s['torch_steps_per_s']:7.0f} steps/s | numpy/torch speed "
                  f"{s['ratio_numpy_over_torch_speed']:.2f}x | 100k steps: numpy "
                  f"{s['numpy_100k_steps_s']:.0f} s, torch {s['torch_100k_steps_s']:.0f} s")


if __name__ == "__main__":
    main()
