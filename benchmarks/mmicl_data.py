"""Benchmark of the vectorised mmicl batch generator against a per-sequence Python loop.

    OMP_NUM_THREADS=1 python benchmarks/mmicl_data.py

Reduced CPU configuration (as in the quick mmicl checks): unimodal ``K=4096, L=32, N=8, D=63,
B=2, eps=0.1``, APE one-hot of length ``2N+1 = 17``, batch 128; multimodal ``K1=8192, K2=256,
L1=32, L2=16, N=8, D1=64, D2=64, B=4``, batch 128.  The baseline builds every sequence in a
Python loop, the way the authors' ``ICLDataset.generate_sequence`` does (one ``choice`` / shuffle /
normal draw per sequence), with the same law.  Prints the best-of-repeats time per batch of each,
the ratio (loop / vectorised), and per-sequence microseconds.
"""

from __future__ import annotations

import math
import time

import numpy as np

from icl_companion.numerics.mmicl_data import GMMConfig, GMMTask, MMConfig, MMTask


def _best(f, repeat=5):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def loop_unimodal(task: GMMTask, n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-sequence baseline: bursty training sequences with APE, one sequence at a time."""
    c = task.config
    P, T, N = c.ape, c.T, c.N
    out = np.zeros((n, T, P + c.D), dtype=np.float32)
    p = np.diff(np.concatenate([[0.0], task.sampler.cdf]))
    for b in range(n):
        base = rng.choice(c.K, size=N // c.B, p=p)
        ctx = np.repeat(base, c.B)
        rng.shuffle(ctx)
        cls = np.append(ctx, ctx[rng.integers(N)])
        for t in range(N + 1):
            x = (task.mu[cls[t]] + c.eps * rng.standard_normal(c.D) / math.sqrt(c.D)) \
                / math.sqrt(1 + c.eps ** 2)
            out[b, 2 * t, P:] = x
            if t < N:
                out[b, 2 * t + 1, P:] = task.lam[cls[t] % c.L]
        s = rng.integers(0, P - T + 1)
        out[b, np.arange(T), s + np.arange(T)] = 1.0
    return out


def loop_multimodal(task: MMTask, n: int, rng: np.random.Generator):
    """Per-sequence baseline of the shared-label bursty multimodal sequences."""
    c = task.config
    N, m = c.N, c.N // c.B
    p1 = np.diff(np.concatenate([[0.0], task.s1.cdf]))
    x1 = np.zeros((n, N + 1, c.D1), np.float32)
    x2 = np.zeros((n, N + 1, c.D2), np.float32)
    lab = np.zeros((n, N, c.D1), np.float32)
    for b in range(n):
        k2 = rng.integers(0, c.K2, size=m)
        k1 = np.empty(m, dtype=int)
        for j in range(m):
            cand = np.arange(k2[j] % c.L2, c.K1, c.L1)
            w = p1[cand]
            k1[j] = rng.choice(cand, p=w / w.sum())
        order = rng.permutation(N)
        c1, c2 = np.repeat(k1, c.B)[order], np.repeat(k2, c.B)[order]
        q = rng.integers(N)
        c1, c2 = np.append(c1, c1[q]), np.append(c2, c2[q])
        for t in range(N + 1):
            x1[b, t] = (task.mu1[c1[t]] + c.eps1 * rng.standard_normal(c.D1) / math.sqrt(c.D1)) \
                / math.sqrt(1 + c.eps1 ** 2)
            x2[b, t] = (task.nu[c2[t]] + c.eps2 * rng.standard_normal(c.D2) / math.sqrt(c.D2)) \
                / math.sqrt(1 + c.eps2 ** 2)
            if t < N:
                lab[b, t] = task.lam[c2[t] % c.L2]
    return x1, x2, lab


def main(batch: int = 128):
    rows = []
    uni = GMMTask(GMMConfig(K=4096, L=32, N=8, D=63, B=2, eps=0.1, ape=17), seed=0)
    rng = np.random.default_rng(0)
    t_vec = _best(lambda: uni.sample(batch, rng))
    t_loop = _best(lambda: loop_unimodal(uni, batch, rng), repeat=3)
    rows.append(("unimodal K=4096 N=8 D=63+17", t_vec, t_loop))
    mmt = MMTask(MMConfig(K1=8192, K2=256, L1=32, L2=16, N=8, D1=64, D2=64, B=4), seed=0)
    t_vec = _best(lambda: mmt.sample(batch, rng))
    t_loop = _best(lambda: loop_multimodal(mmt, batch, rng), repeat=3)
    rows.append(("multimodal K1=8192 K2=256 N=8 D1=D2=64", t_vec, t_loop))
    t_ic = _best(lambda: uni.eval_set("IC", 1000, rng))
    print(f"batch = {batch} sequences (best of repeats, 1 thread)")
    for name, tv, tl in rows:
        print(f"{name}: vectorised {tv * 1e3:.2f} ms/batch ({tv / batch * 1e6:.1f} us/seq), "
              f"per-sequence loop {tl * 1e3:.1f} ms/batch, ratio loop/vectorised {tl / tv:.1f}x")
    print(f"unimodal IC evaluation set, S = 1000: {t_ic * 1e3:.1f} ms")
    return rows


if __name__ == "__main__":
    main()
