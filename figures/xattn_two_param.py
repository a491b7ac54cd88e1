"""Figure ``xattn-two-param``: GD trajectories of the two-parameter CA ``(alpha, beta)`` approach the
line ``beta = -alpha``; exact optima at each depth.

Reconstructed model (``docs/derivations/xattn.md#two-parameter-layers``):
``w_{t+1} = (I + beta Sigma_hat) w_t + alpha s_hat``, fixed point
``-(alpha/beta) Sigma_hat^-1 s_hat``, Bayes-consistent only on ``beta = -alpha``.  Population
(``L = inf``) gradient descent from several initialisations, uniform signal strength on [1, 3]; the
optima are located in ``(kappa, gamma)`` coordinates
(:func:`icl_companion.numerics.xattn_models.ca_two_param_optimum`).
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.figures.xattn_common import FIXED_UNI, RECON_NOTE, caption, col
from icl_companion.numerics.xattn_data import population_tasks
from icl_companion.numerics.xattn_models import CAParam, ca_eigen_excess, ca_two_param_optimum, train_gd
from icl_companion.theory.registry import NOT_NUMBERED, Reference

INITS = [(0.05, 0.0), (0.05, -0.3), (0.4, 0.0)]


COLUMNS = ("kind", "T", "init", "iteration", "alpha", "beta", "excess")


def _settings(quick: bool) -> tuple[list, int]:
    return ([2, 4, 8] if quick else [2, 4, 8, 16]), (600 if quick else 5000)


def trajectory(T: int, init: list, iters: int) -> dict:
    """Work unit: population GD of the two-parameter CA at depth ``T`` from ``init``; about 60
    log-spaced iterates of the trajectory (and the last)."""
    tasks = population_tasks(FIXED_UNI)
    lam, c = tasks.eigen()
    p = CAParam(T, two_param=True)

    def fun(theta):
        a, b = p.unpack(theta)
        f, grads = ca_eigen_excess(a, b, lam, c, tasks.weight)
        return f, p.pack_grad(*grads)

    h = train_gd(fun, p.init(*init), max_iter=iters).history
    keep = np.unique(np.concatenate([np.geomspace(1, len(h["iteration"]), 60).astype(int) - 1,
                                     [len(h["iteration"]) - 1]]))
    return {"iteration": [int(h["iteration"][i]) for i in keep],
            "alpha": [float(h["theta"][i][0]) for i in keep],
            "beta": [float(h["theta"][i][1]) for i in keep],
            "excess": [float(h["excess"][i]) for i in keep]}


def optimum(T: int) -> dict:
    """Work unit: the exact optimum ``(alpha, beta)`` at depth ``T``."""
    o = ca_two_param_optimum(population_tasks(FIXED_UNI), T)
    return {"x": [float(v) for v in o.x], "fun": float(o.fun)}


def units(quick: bool, seed: int) -> list[Unit]:
    Ts, iters = _settings(quick)
    out = []
    for T in Ts:
        out += [Unit(f"gd/T={T}/init={k}", trajectory, {"T": T, "init": list(init),
                                                       "iters": iters},
                     fields=("iteration", "alpha", "beta", "excess"), cost=0.001 * iters)
                for k, init in enumerate(INITS)]
        out.append(Unit(f"optimum/T={T}", optimum, {"T": T}, fields=("x", "fun"), cost=0.5))
    return out


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    Ts, iters = _settings(quick)
    cols = {k: [] for k in COLUMNS}
    opt = {}
    for T in Ts:
        for k in range(len(INITS)):
            r = results[f"gd/T={T}/init={k}"]
            m = len(r["iteration"])
            for name, v in (("kind", ["trajectory"] * m), ("T", [T] * m), ("init", [k] * m),
                            ("iteration", r["iteration"]), ("alpha", r["alpha"]),
                            ("beta", r["beta"]), ("excess", r["excess"])):
                cols[name] += list(v)
        o = results[f"optimum/T={T}"]
        opt[T] = o["x"]
        for k, v in (("kind", "optimum"), ("T", T), ("init", -1), ("iteration", -1),
                     ("alpha", o["x"][0]), ("beta", o["x"][1]), ("excess", o["fun"])):
            cols[k].append(v)
    meta = {"note": RECON_NOTE, "inits": INITS, "depths": Ts, "gd_iterations": iters,
            "optima": opt, "seed": seed,
            "mode": f"quick ({iters} GD iterations)" if quick else f"full ({iters} iterations)"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    m = data.meta
    kind, T, a, b = col(data, "kind"), col(data, "T"), col(data, "alpha"), col(data, "beta")
    init, ex = col(data, "init"), col(data, "excess")
    it = col(data, "iteration")
    fig, (ax1, ax2) = plt.subplots(1, 2)
    x = np.linspace(0, 0.45, 10)
    ax1.plot(x, -x, color="k", ls=":", label="beta = -alpha")
    styles = ["-", "--", "-."]
    for i, TT in enumerate(m["depths"]):
        for k in range(len(m["inits"])):
            s = (kind == "trajectory") & (T == TT) & (init == k)
            ax1.plot(a[s], b[s], styles[k], color=f"C{i}", lw=1,
                     label=f"T = {TT}" if k == 0 else None)
            ax1.plot(a[s][-1:], b[s][-1:], "o", color=f"C{i}", ms=3)
            s2 = s & (it > 0)
            ax2.loglog(it[s2], np.abs(a[s2] + b[s2]) / a[s2], styles[k], color=f"C{i}", lw=1,
                       label=f"T = {TT}" if k == 0 else None)
        so = (kind == "optimum") & (T == TT)
        ax1.plot(a[so], b[so], "*", color=f"C{i}", ms=9, mec="k", mew=0.5)
    ax1.set(xlabel=r"$\alpha$", ylabel=r"$\beta$", title="GD trajectories (line styles: inits), * = optimum")
    ax1.legend()
    ax2.set(xlabel="GD iteration", ylabel=r"$|\alpha + \beta| / \alpha$",
            title=r"distance to the line $\beta = -\alpha$")
    ax2.legend()
    fig.suptitle("xattn-two-param (reconstructed model): (alpha, beta) approach beta = -alpha",
                 fontsize=9)
    caption(fig, f"Uniform signal strength g2 on [1, 3] along a fixed direction, L = inf. Inits "
                 f"(alpha, beta) = {m['inits']}. GD on the log population excess; it reaches the "
                 f"valley beta ~ -alpha quickly, then moves slowly along it. {m['mode']}.")
    return fig


figure("xattn-two-param", "[reconstructed model] (alpha, beta) GD trajectories approaching "
       "beta = -alpha", plot=plot, units=units, reduce=reduce,
       reference=Reference("xattn", NOT_NUMBERED,
                           "docs/derivations/xattn.md#two-parameter-layers"))
