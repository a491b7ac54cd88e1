"""Benchmark of the two-layer AIM joint output channel (T = 2), as ratios measured in one run.

    OMP_NUM_THREADS=1 python benchmarks/aim_multilayer.py [--quick]

1. The explicit 2 x 2 arithmetic of the ``T = 2`` likelihood against the generic batched linear
   algebra (same formulas; ``MultilayerChannel.fast_k2``).
2. The adaptive Gauss-Hermite posterior (the default rule) against a fine trapezoid grid (the
   reference of the accuracy tests), time per point and the error of ``nu_l``.
3. One GAMP-RIE iteration of the two-layer model against one of the single-layer GAMP-RIE on data
   of the same size (``n``, ``d``): the price of the joint output function.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from icl_companion.numerics.aim_data import sample_aim
from icl_companion.numerics.aim_gamp import gamp_rie
from icl_companion.numerics.aim_multilayer import gauge, outputs_coords, sample_multilayer
from icl_companion.numerics.aim_multilayer_channel import MultilayerChannel
from icl_companion.numerics.aim_multilayer_gamp import gamp_rie_multilayer

RHO, C = 0.5, 1.0


def _points(N, V, seed=0):
    g = gauge(2)
    rng = np.random.default_rng(seed)
    g0 = rng.standard_normal((N, 2)) @ g.chol.T
    mu = np.stack([math.sqrt(RHO) * g0 + math.sqrt(1 - V[j]) * rng.standard_normal((N, 2))
                   @ g.chol.T for j in range(2)], 1)
    dh = [mu[:, j] + math.sqrt(V[j]) * rng.standard_normal((N, 2)) @ g.chol.T for j in range(2)]
    return outputs_coords(dh, 2, C, 1.0), mu


def _timed(f, repeat=1):
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = f()
    return (time.perf_counter() - t0) / repeat, out


def bench_fast_path(N):
    ch = MultilayerChannel(2, 2, C, 1.0, 0.0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, 200, 2))
    z = rng.standard_normal((N, 1, 2))
    mus = [rng.standard_normal((N, 1, 2)) for _ in range(2)]
    V = np.array([0.5, 0.4])
    t_fast, _ = _timed(lambda: ch._conditional(x, z, mus, V, True), 3)
    ch.fast_k2 = False
    t_gen, _ = _timed(lambda: ch._conditional(x, z, mus, V, True), 3)
    print(f"1) likelihood + conditional moments at {N * 200} nodes: explicit 2x2 "
          f"{t_fast * 1e3:.1f} ms, generic {t_gen * 1e3:.1f} ms, ratio generic/explicit "
          f"{t_gen / t_fast:.1f}")


def bench_posterior(N, grid):
    V = np.array([0.5, 0.5])
    z, mu = _points(N, V)
    ch = MultilayerChannel(2, 2, C, 1.0, 0.0)
    g = ch.g
    t_ad, post = _timed(lambda: ch.posterior(z, mu, V))
    t = np.linspace(-8, 8, grid)
    X1, X2 = np.meshgrid(t, t, indexing="ij")
    xg = np.stack([X1.ravel(), X2.ravel()], -1)[None]
    errs = []
    t0 = time.perf_counter()
    for i in range(N):
        mus = [mu[None, i, j, None, :] for j in range(2)]
        logl, ED, CD = ch._conditional(xg, z[None, i, None, :], mus, V, True)
        lp = logl[0] - 0.5 * np.sum(xg[0] ** 2, -1)
        w = np.exp(lp - lp.max())
        w /= w.sum()
        hid = mu[i, 0] + math.sqrt(V[0]) * xg[0] @ g.chol.T
        full = np.concatenate([hid, ED[0]], -1)
        m = w @ full
        cov = np.einsum("g,gi,gj->ij", w, full - m, full - m)
        cov[2:, 2:] += np.einsum("g,gij->ij", w, CD[0])
        for j in range(2):
            blk = slice(2 * j, 2 * j + 2)
            errs.append(np.trace(g.Sigma_inv @ (post.cov[i][blk, blk] - cov[blk, blk])) / V[j])
    t_grid = time.perf_counter() - t0
    print(f"2) posterior of {N} points: adaptive Gauss-Hermite {t_ad / N * 1e3:.2f} ms/point, "
          f"{grid}x{grid} grid {t_grid / N * 1e3:.2f} ms/point (ratio {t_grid / t_ad:.1f}); "
          f"|error of nu_l| max {np.max(np.abs(errs)):.3g}, mean {np.mean(errs):+.2g}")


def bench_gamp(d, alpha):
    D2 = sample_multilayer(np.random.default_rng(3), d, RHO, 2, L=2, alpha=alpha, c=C)
    D1 = sample_aim(np.random.default_rng(3), d, RHO, 2, alpha=alpha)
    r2 = gamp_rie_multilayer(D2.X, D2.y, (RHO, RHO), c=C, max_iter=3, tol=1e-300)
    r1 = gamp_rie(D1.X, D1.y, RHO, max_iter=3, tol=1e-300, track_se=False)
    s2 = float(np.mean(r2.history["seconds"][1:]))
    s1 = float(np.mean(r1.history["seconds"][1:]))
    print(f"3) GAMP-RIE iteration, d={d}, n={D2.n}: two layers {s2:.3f} s, one layer "
          f"{s1 * 1e3:.1f} ms, ratio {s2 / s1:.0f}")


def main(quick: bool = False) -> None:
    print("two-layer AIM channel, T=2, c=1, rho=0.5 (timings of one process; ratios are what "
          "carries over between machines)")
    bench_fast_path(50 if quick else 200)
    bench_posterior(10 if quick else 40, 401 if quick else 601)
    bench_gamp(40 if quick else 80, 0.15)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
