"""Benchmark of the AIM channel object: GAMP-RIE per iteration, and a 2-D phase grid.

    OMP_NUM_THREADS=1 python benchmarks/aim_channels.py [--quick]

1. GAMP-RIE per-iteration time with the channel object
   (:class:`icl_companion.numerics.aim_channels.SoftmaxChannel` / ``HardmaxChannel``, the code path
   of ``gamp_rie`` since the channel refactor) against the code before it: a verbatim copy of the
   previous per-iteration ``g_out`` functions (``_old_softmax_gout``, ``_old_hardmax_gout`` below,
   with the previous bivariate-CDF routine), run through the same ``gamp_rie`` loop in the same
   process on the same data.  Reported: mean seconds per iteration (iterations after the first,
   median of ``repeats`` runs, interleaved) and the ratio new / old (target <= 1.2), and the same
   for the ``g_out`` call alone.
2. The 2-D phase grid of figure ``aim-phase`` panel (a): ``aim.mmse`` (softmax, ``T = 2``) swept
   over 64 ``alpha`` x 32 ``rho`` by :func:`icl_companion.numerics.sweep.run_sweep` (two axes,
   both starts: uninformed and informed), with 2 worker processes; wall time and time per cell.
   Plus a 16 x 8 hardmax grid (``aim.mmse_bar``, ``variant=correct``) for the per-cell cost.
Timings on a shared machine are noisy: the ratios of part 1 are the quantity to read.
"""

from __future__ import annotations

import argparse
import math
import time
import timeit

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import log_ndtr, ndtr, owens_t

from icl_companion.numerics.aim_channels import Channel, HardmaxChannel, SoftmaxChannel
from icl_companion.numerics.aim_data import sample_aim
from icl_companion.numerics.aim_gamp import gamp_rie

RHO = 0.5


# ------------------------------------------------------------------ the code before the refactor
def _old_c_matrix(T):
    return np.ones((T, T)) + np.eye(T)


def _old_softmax_gout(y, omega, V, beta=1.0):
    if not V > 0:
        raise ValueError(f"V must be > 0, got {V}")
    T = y.shape[-1]
    ly = np.log(y)
    phi = (ly - ly[..., -1:]) / beta
    h0 = phi + np.swapaxes(phi[..., -1:, :], -1, -2)
    iu = np.triu_indices(T)
    h0 = np.triu(h0) + np.swapaxes(np.triu(h0, 1), -1, -2)
    c = _old_c_matrix(T)
    r = h0 - omega
    t = (2.0 / T**2) * np.sum((r / c)[..., iu[0], iu[1]], axis=-1)
    return (r - t[..., None, None]) / (c * V)


_GL_X, _GL_W = leggauss(96)
_LOG_2PI_HALF = 0.5 * math.log(2 * math.pi)


def _old_log_bvn_tail(k1, k2, r):
    s = np.sqrt(1 - r * r)
    b = (k2 - r * k1) / s
    lam = np.exp(-0.5 * b * b - _LOG_2PI_HALF - log_ndtr(b))
    slope = -k1 - r / s * lam
    L = np.where(slope > 4.0, 48.0 / np.maximum(slope, 4.0), 12.0 + np.maximum(-slope, 0.0))
    t = 0.5 * L[..., None] * (_GL_X + 1.0)
    x = k1[..., None] - t
    ell = -0.5 * x * x - _LOG_2PI_HALF + log_ndtr((k2[..., None] - r[..., None] * x) / s[..., None])
    m = ell.max(axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.sum(0.5 * L[..., None] * _GL_W * np.exp(ell - m), axis=-1))


def _old_log_bvn_cdf(k1, k2, r):
    k1, k2, r = np.broadcast_arrays(np.asarray(k1, float), np.asarray(k2, float),
                                    np.asarray(r, float))
    h = np.where(k1 == 0, 1e-300, k1)
    k = np.where(k2 == 0, 1e-300, k2)
    s = np.sqrt(1 - r * r)
    with np.errstate(over="ignore"):
        ah = (k - r * h) / (h * s)
        ak = (h - r * k) / (k * s)
    corr = np.where((h * k < 0) | ((h * k == 0) & (h + k < 0)), 0.5, 0.0)
    p = 0.5 * (ndtr(h) + ndtr(k)) - owens_t(h, ah) - owens_t(k, ak) - corr
    out = np.empty(p.shape)
    good = p > 1e-4
    out[good] = np.log(p[good])
    bad = ~good
    if np.any(bad):
        a, b, rr = k1[bad], k2[bad], r[bad]
        out[bad] = _old_log_bvn_tail(np.minimum(a, b), np.maximum(a, b), rr)
    return out


def _old_hardmax_gout(y, omega, V, variant="correct"):
    kap = 1.0
    sig = math.sqrt((2 + kap**2) * V)
    s1 = np.where(y[:, 0, 0] > 0.5, 1.0, -1.0)
    s2 = np.where(y[:, 1, 1] > 0.5, 1.0, -1.0)
    r = s1 * s2 * kap**2 / (2 + kap**2)
    k1 = s1 * (omega[:, 0, 0] - kap * omega[:, 0, 1]) / sig
    k2 = s2 * (omega[:, 1, 1] - kap * omega[:, 0, 1]) / sig
    lZ = _old_log_bvn_cdf(k1, k2, r)
    q = np.sqrt(1 - r * r)
    if variant == "correct":
        l1 = -0.5 * k1**2 - _LOG_2PI_HALF + log_ndtr((k2 - r * k1) / q)
        l2 = -0.5 * k2**2 - _LOG_2PI_HALF + log_ndtr((k1 - r * k2) / q)
    else:
        l1 = (-(k1**2 - 2 * r * k1 * k2 + k2**2) / (2 * q**2) - math.log(2 * math.pi)
              - np.log(q))
        l2 = l1
    g = np.empty_like(omega)
    g[:, 0, 0] = s1 / sig * np.exp(l1 - lZ)
    g[:, 1, 1] = s2 / sig * np.exp(l2 - lZ)
    g[:, 0, 1] = g[:, 1, 0] = -kap * (g[:, 0, 0] + g[:, 1, 1])
    return g


class _OldPath(Channel):
    """Adapter: the previous module-level g_out inside the same gamp_rie loop."""

    def __init__(self, name, T, fn):
        self.name, self.T, self._fn = name, T, fn

    def gout(self, y, omega, V):
        return self._fn(y, omega, V)


# ------------------------------------------------------------------ part 1
def gamp_ratio(channel: str, d: int, alpha: float, iters: int, repeats: int) -> dict:
    T = 3 if channel == "softmax" else 2
    D = sample_aim(np.random.default_rng(d), d, RHO, T, alpha=alpha, channel=channel)
    new = SoftmaxChannel(T) if channel == "softmax" else HardmaxChannel("correct")
    old = _OldPath(channel, T, _old_softmax_gout if channel == "softmax" else _old_hardmax_gout)
    kw = dict(max_iter=iters, tol=1e-300, track_se=False)
    per = {"new": [], "old": []}
    g_per = {"new": [], "old": []}
    om = D.h + 0.3 * np.random.default_rng(1).standard_normal(D.h.shape)
    om = 0.5 * (om + np.swapaxes(om, 1, 2))
    for _ in range(repeats):  # interleaved, so that load drifts hit both alike
        for key, ch in (("new", new), ("old", old)):
            r = gamp_rie(D.X, D.y, RHO, channel=ch, **kw)
            per[key].append(float(np.mean(r.history["seconds"][1:])))
            ch.gout(D.y, om, 0.4)  # warm-up (first-call costs are not per-iteration costs)
            g_per[key].append(timeit.timeit(lambda: ch.gout(D.y, om, 0.4), number=20) / 20)
        assert np.allclose(new.gout(D.y, om, 0.4), old.gout(D.y, om, 0.4), rtol=1e-12, atol=0)
    med = {k: float(np.median(v)) for k, v in per.items()}
    gmed = {k: float(np.median(v)) for k, v in g_per.items()}
    return {"channel": channel, "d": d, "n": D.n, "T": T, "s_per_iter_new": med["new"],
            "s_per_iter_old": med["old"], "ratio": med["new"] / med["old"],
            "gout_new": gmed["new"], "gout_old": gmed["old"],
            "gout_ratio": gmed["new"] / gmed["old"]}


# ------------------------------------------------------------------ part 2
def phase_grid(n_alpha: int, n_rho: int, workers: int = 2) -> dict:
    from icl_companion.numerics.sweep import Axis, run_sweep

    axes = [Axis("rho", 0.02, 5.0, n_rho, log=True), Axis("alpha", 0.0, 0.3, n_alpha)]
    out = {}
    for init in ("uninformed", "informed"):
        t0 = time.perf_counter()
        s = run_sweep("aim.mmse", {"T": 2, "channel": "softmax", "init": init}, axes,
                      workers=workers, chunk=1, progress=False)
        out[init] = {"wall_s": time.perf_counter() - t0, "failed": s.n_failed,
                     "mmse": s.column("mmse")}
    diff = float(np.max(np.abs(out["uninformed"]["mmse"] - out["informed"]["mmse"])))
    return {"cells": n_alpha * n_rho, "wall_uninformed_s": out["uninformed"]["wall_s"],
            "wall_informed_s": out["informed"]["wall_s"],
            "failed": out["uninformed"]["failed"] + out["informed"]["failed"],
            "max_informed_minus_uninformed": diff}


def hardmax_grid(n_abar: int, n_rho: int, workers: int = 2) -> dict:
    from icl_companion.numerics.sweep import Axis, run_sweep

    axes = [Axis("rho", 0.01, 2.0, n_rho, log=True), Axis("alpha_bar", 0.1, 20.0, n_abar, log=True)]
    t0 = time.perf_counter()
    s = run_sweep("aim.mmse_bar", {"variant": "correct"}, axes, workers=workers, chunk=1,
                  progress=False)
    return {"cells": n_abar * n_rho, "wall_s": time.perf_counter() - t0, "failed": s.n_failed}


def main(quick: bool = False, parts=(1, 2)) -> None:
    if 1 in parts:
        part1(quick)
    if 2 in parts:
        part2(quick)


def part1(quick: bool) -> None:
    print("1) GAMP-RIE per iteration: channel object vs the previous g_out (same loop, same data)")
    cases = [("softmax", 60 if quick else 120, 0.2), ("hardmax", 50 if quick else 100, 1.0)]
    for channel, d, alpha in cases:
        r = gamp_ratio(channel, d, alpha, iters=6, repeats=3 if quick else 5)
        print(f"  {channel:8s} T={r['T']} d={d} n={r['n']}: {r['s_per_iter_new'] * 1e3:8.2f} ms/it "
              f"(channel) vs {r['s_per_iter_old'] * 1e3:8.2f} ms/it (before): ratio "
              f"{r['ratio']:.3f}; g_out alone {r['gout_new'] * 1e3:.2f} vs "
              f"{r['gout_old'] * 1e3:.2f} ms, ratio {r['gout_ratio']:.3f}")


def part2(quick: bool) -> None:
    print("2) 2-D phase grid (softmax T = 2, aim.mmse over alpha x rho, run_sweep, 2 workers)")
    na, nr = (32, 16) if quick else (64, 32)
    g = phase_grid(na, nr)
    print(f"  {na} x {nr} = {g['cells']} cells: uninformed {g['wall_uninformed_s']:.1f} s "
          f"({g['wall_uninformed_s'] / g['cells'] * 1e3:.1f} ms/cell), informed "
          f"{g['wall_informed_s']:.1f} s ({g['wall_informed_s'] / g['cells'] * 1e3:.1f} ms/cell); "
          f"failed {g['failed']}; max |informed - uninformed| = "
          f"{g['max_informed_minus_uninformed']:.2g}")
    h = hardmax_grid(8 if quick else 16, 4 if quick else 8)
    print(f"  hardmax (aim.mmse_bar, correct) {h['cells']} cells: {h['wall_s']:.1f} s "
          f"({h['wall_s'] / h['cells']:.2f} s/cell), failed {h['failed']}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--part", type=int, choices=(1, 2), action="append",
                   help="run only this part (repeatable)")
    a = p.parse_args()
    main(a.quick, tuple(a.part or (1, 2)))
