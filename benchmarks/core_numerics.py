"""Benchmark of the numerics core against straightforward scipy loops, measured in the same run.

    python benchmarks/core_numerics.py

1. Batched roots (``find_roots_vectorized``) vs a Python loop of ``scipy.optimize.brentq``, for
   ``n`` independent scalar problems.
2. Gauss-Hermite expectations, batched over means, vs a loop of ``scipy.integrate.quad``.
Prints times and ratios (baseline / ours) and the maximal disagreement between the two.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy import integrate, optimize

from icl_companion.numerics.quadrature import gauss_hermite_expect
from icl_companion.numerics.roots import find_roots_vectorized


def _best(f, repeat=3):
    best = math.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_roots(n=2000):
    c = np.linspace(0.1, 50, n)
    f = lambda x, c: np.log(x) + x**3 - c
    t_vec, r = _best(lambda: find_roots_vectorized(f, 1e-6, 10.0, args=(c,)).root)
    t_loop, ref = _best(lambda: np.array([optimize.brentq(lambda x: math.log(x) + x**3 - ci,
                                                          1e-6, 10.0, xtol=1e-14) for ci in c]))
    return {"problems": n, "vectorized_s": t_vec, "brentq_loop_s": t_loop,
            "ratio": t_loop / t_vec, "max_abs_diff": float(np.max(np.abs(r - ref)))}


def bench_gauss(n=500):
    mus = np.linspace(-2, 2, n)
    g = lambda z: np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)  # stable softplus
    t_gh, v = _best(lambda: gauss_hermite_expect(g, 80, mean=mus, std=0.7))
    pdf = lambda z, m: math.exp(-0.5 * ((z - m) / 0.7) ** 2) / (0.7 * math.sqrt(2 * math.pi))
    gs = lambda z: math.log1p(math.exp(-abs(z))) + max(z, 0.0)
    t_q, ref = _best(lambda: np.array([integrate.quad(lambda z: gs(z) * pdf(z, m), -np.inf,
                                                      np.inf, epsabs=1e-13)[0] for m in mus]),
                     repeat=1)
    return {"expectations": n, "gauss_hermite_s": t_gh, "quad_loop_s": t_q, "ratio": t_q / t_gh,
            "max_abs_diff": float(np.max(np.abs(v - ref)))}


if __name__ == "__main__":
    for name, fn in (("roots", bench_roots), ("gaussian expectations", bench_gauss)):
        res = fn()
        print(f"{name}: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in res.items()))
