"""Benchmark of the AIM state evolution against a straightforward scipy implementation.

    OMP_NUM_THREADS=1 python benchmarks/aim_se.py

1. Softmax SE curve, 256 alpha points, rho = 0.5, T = 2: ``numerics.aim_se.se_softmax`` (one
   batched root solve; the density from a vectorised Cardano solution of the Stieltjes cubic,
   graded Gauss-Legendre) versus the straightforward way: for every alpha a ``brentq`` in
   ``log Delta``, each ``mmse(Delta)`` by ``scipy.integrate.quad`` of ``mu^3`` per support interval,
   each density value from ``np.roots`` of the cubic at ``x - 1e-8 i`` (as the authors' code).
   The baseline is timed on every 8th alpha (32 points) and scaled to 256 (it is linear in the
   number of points); the maximal disagreement is measured on those points.
2. One hardmax SE point (alpha = 1, rho = 0.5, correct variant): ``se_hardmax`` versus the same
   Anderson iteration with the channel expectation by ``scipy.integrate.dblquad`` and ``mmse`` by
   the quad + np.roots baseline.  The baseline cost per SE-map evaluation is measured on one
   evaluation and multiplied by the number of evaluations the solve needs.
Targets (issue): curve < 2 s, hardmax point < 0.2 s.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy import integrate, optimize

from icl_companion.numerics import aim_se as se


# ------------------------------------------------------------------ straightforward baseline
def _base_density(x, delta, rho):
    a = 1 / rho
    s = math.sqrt(a)
    z = x - 1e-8j
    r = np.roots([s * delta, -(s * z + delta), z + s - 1 / s, -1])
    return float(np.max(np.abs(r.imag))) / math.pi


def _base_edges(delta, rho):
    a, R = 1 / rho, delta
    s = math.sqrt(a)
    c = [a, -2 * s - 2 * a**1.5 - 2 * s * R, 1 - 2 * a + a * a + 8 * R - 2 * a * R + R * R,
         -10 * R / s + 2 * s * R + 8 * a**1.5 * R - 2 * R * R / s + 8 * s * R * R,
         -12 * R + 4 * R / a + 12 * a * R - 4 * a * a * R - 20 * R * R + R * R / a
         - 8 * a * R * R - 4 * R**3]
    r = np.roots(c)
    return np.sort(r[np.abs(r.imag) < 1e-7].real)


def base_mmse(delta, rho):
    e = _base_edges(delta, rho)
    ivs = [(e[0], e[1])] if len(e) == 2 else [(e[0], e[1]), (e[2], e[3])]
    I3 = sum(integrate.quad(lambda x: _base_density(x, delta, rho) ** 3, lo, hi,
                            epsabs=1e-12, epsrel=1e-10, limit=200)[0] for lo, hi in ivs)
    return delta - 4 * math.pi**2 / 3 * delta**2 * I3


def base_softmax(alpha, rho, T):
    K = T * T + T - 2
    f = lambda u: base_mmse(math.exp(u), rho) / math.exp(u) - K * alpha
    u = optimize.brentq(f, math.log(1e-8), math.log(2 / (K * alpha)), xtol=1e-12)
    return K * alpha * math.exp(u)


def base_channel_info(q, V, variant):
    cov_inv = np.linalg.inv(q * np.array([[3.0, 1.0], [1.0, 3.0]]))
    norm = 1 / (2 * math.pi * math.sqrt(8 * q * q))
    c = math.sqrt(3 * V)

    def f(m2, m1):
        p = norm * math.exp(-0.5 * (m1 * (cov_inv[0, 0] * m1 + cov_inv[0, 1] * m2)
                                    + m2 * (cov_inv[1, 0] * m1 + cov_inv[1, 1] * m2)))
        return p * float(se._pattern_terms(np.array(m1 / c), np.array(m2 / c), V, variant))

    L = 9 * math.sqrt(3 * q)
    return integrate.dblquad(f, -L, L, -L, L, epsabs=1e-10, epsrel=1e-8)[0]


def _best(f, repeat=3):
    """Best wall time of ``repeat`` runs (the machine may be shared; CPU time in ``_cpu``)."""
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _cpu(f):
    t0 = time.process_time()
    f()
    return time.process_time() - t0


def bench_softmax(rho=0.5, T=2, n=256, stride=8):
    alphas = np.linspace(0, se.alpha_pr(rho, T), n + 2)[1:-1]
    se.se_softmax(alphas[:2], rho, T)  # warm-up: SymPy derivation + lambdify, once per process
    t_ours, r = _best(lambda: se.se_softmax(alphas, rho, T))
    cpu_ours = _cpu(lambda: se.se_softmax(alphas, rho, T))
    sub = alphas[::stride]
    t0 = time.perf_counter()
    c0 = time.process_time()
    ref = np.array([base_softmax(a, rho, T) for a in sub])
    t_sub = time.perf_counter() - t0
    c_sub = time.process_time() - c0
    t_base = t_sub * n / sub.size
    return {"points": n, "ours_s": t_ours, "ours_cpu_s": cpu_ours,
            "baseline_s_scaled": t_base, "baseline_cpu_s_scaled": c_sub * n / sub.size,
            "baseline_points_timed": int(sub.size), "ratio": t_base / t_ours,
            "cpu_ratio": c_sub * n / sub.size / cpu_ours,
            "max_abs_diff": float(np.max(np.abs(r.mmse[::stride] - ref))),
            "all_converged": bool(np.all(r.success))}


def bench_hardmax(alpha=1.0, rho=0.5, variant="correct"):
    se.se_hardmax(alpha, rho, variant)
    t_ours, r = _best(lambda: se.se_hardmax(alpha, rho, variant), repeat=5)
    cpu_ours = _cpu(lambda: se.se_hardmax(alpha, rho, variant))
    # baseline: one SE-map evaluation at the fixed point, times the number of evaluations
    V = r.mmse
    t0 = time.perf_counter()
    c0 = time.process_time()
    E = base_channel_info(1 + rho - V, V, variant)
    m = base_mmse(1 / (2 * alpha * E), rho)
    t_eval = time.perf_counter() - t0
    c_eval = time.process_time() - c0
    n_eval = r.nit + 1
    return {"ours_s": t_ours, "ours_cpu_s": cpu_ours, "nit": int(r.nit),
            "baseline_cpu_s_estimated": c_eval * n_eval,
            "baseline_s_per_map_eval": t_eval, "baseline_s_estimated": t_eval * n_eval,
            "ratio": t_eval * n_eval / t_ours, "cpu_ratio": c_eval * n_eval / cpu_ours,
            "map_residual_of_ours_under_baseline": abs(m - V), "success": bool(r.success)}


if __name__ == "__main__":
    for name, fn in (("softmax SE curve (256 alphas)", bench_softmax),
                     ("hardmax SE point", bench_hardmax)):
        res = fn()
        print(f"{name}: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in res.items()))
