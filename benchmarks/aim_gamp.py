"""Benchmark of GAMP-RIE (AIM softmax, T = 3, alpha = 0.2): factorised vs dense design tensor.

    OMP_NUM_THREADS=1 python benchmarks/aim_gamp.py [--quick]

For d = 100, 200, 300 the factorised GAMP-RIE (data kept as (n, T, d), memory O(n T d + d^2)) is
timed per iteration (mean of the iterations after the first) and its peak Python-heap memory is
measured with tracemalloc (a separate run, since tracing slows NumPy down slightly).  The dense
implementation (the authors' formulation, an (n, T, T, d, d) design tensor) is run at sizes where it
still fits (d = 30, 40, 60), next to the factorised one at the same size: ratios are measured in the
same run.  The dense memory at d = 100..300 is reported as the size of its tensor alone
(8 n T^2 d^2 bytes), which it could not allocate here.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from icl_companion.numerics.aim_data import sample_aim
from icl_companion.numerics.aim_gamp import gamp_rie

ALPHA, T, RHO = 0.2, 3, 0.5


def run(d: int, dense: bool, iters: int = 4) -> dict:
    D = sample_aim(np.random.default_rng(d), d, RHO, T, alpha=ALPHA)
    X, y = D.X, D.y
    del D.h
    kw = dict(max_iter=iters, tol=1e-300, track_se=False, dense=dense)
    t0 = time.perf_counter()
    r = gamp_rie(X, y, RHO, **kw)
    total = time.perf_counter() - t0
    per_it = float(np.mean(r.history["seconds"][1:]))
    tracemalloc.start()
    gamp_rie(X, y, RHO, **kw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"d": d, "n": X.shape[0], "dense": dense, "s_per_iter": per_it,
            "total_s": total, "peak_MB": peak / 2**20, "X_MB": X.nbytes / 2**20,
            "dense_tensor_MB": 8.0 * X.shape[0] * T * T * d * d / 2**20}


def main(quick: bool = False) -> None:
    print(f"GAMP-RIE, softmax T={T}, alpha={ALPHA}, rho={RHO}")
    print("1) same size, factorised vs dense (ratios dense / factorised)")
    for d in ((30, 40) if quick else (30, 40, 60)):
        f, g = run(d, False), run(d, True)
        print(f"  d={d:4d} n={f['n']:6d}: factorised {f['s_per_iter'] * 1e3:8.2f} ms/it, "
              f"peak {f['peak_MB']:8.1f} MB | dense {g['s_per_iter'] * 1e3:8.2f} ms/it, "
              f"peak {g['peak_MB']:8.1f} MB | time x{g['s_per_iter'] / f['s_per_iter']:.1f}, "
              f"memory x{g['peak_MB'] / f['peak_MB']:.1f}")
    print("2) factorised at the issue's sizes (dense tensor size for comparison)")
    for d in ((100,) if quick else (100, 200, 300)):
        f = run(d, False, iters=3)
        print(f"  d={d:4d} n={f['n']:6d}: {f['s_per_iter']:.3f} s/it, peak {f['peak_MB']:.0f} MB "
              f"(X itself {f['X_MB']:.0f} MB, peak/X {f['peak_MB'] / f['X_MB']:.1f}); the dense "
              f"tensor alone would need {f['dense_tensor_MB'] / 1024:.1f} GB")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    main(p.parse_args().quick)
