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

from icl_companion.figures.registry import Column, FigureData, Unit, figure
from icl_companion.figures.xattn_common import FIXED_UNI, RECON_NOTE, col, plot_caption
from icl_companion.numerics.xattn_data import population_tasks
from icl_companion.numerics.xattn_models import CAParam, ca_eigen_excess, ca_two_param_optimum, train_gd
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.validation.xattn_figures import check_two_param

INITS = [(0.05, 0.0), (0.05, -0.3), (0.4, 0.0)]



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
            "mode": (f"quick mode: {iters} GD iterations, T in {Ts}" if quick
                     else f"full mode: {iters} GD iterations, T in {Ts}")}
    return FigureData(cols, meta)


def plot(data: FigureData):
    from icl_companion.figures.layout import legend_below, new_figure

    m = data.meta
    kind, T, a, b = col(data, "kind"), col(data, "T"), col(data, "alpha"), col(data, "beta")
    init, it = col(data, "init"), col(data, "iteration")
    fig, (ax1, ax2) = new_figure(height=3.2, ncols=2, legend_row=True)
    x = np.linspace(0, 0.45, 10)
    ax1.plot(x, -x, color="k", ls=":", label=r"$\beta = -\alpha$")
    styles = ["-", "--", "-."]
    for i, TT in enumerate(m["depths"]):
        for k in range(len(m["inits"])):
            s = (kind == "trajectory") & (T == TT) & (init == k)
            ax1.plot(a[s], b[s], styles[k], color=f"C{i}", lw=1)
            ax1.plot(a[s][-1:], b[s][-1:], "o", color=f"C{i}", ms=3)
            s2 = s & (it > 0)
            ax2.loglog(it[s2], np.abs(a[s2] + b[s2]) / a[s2], styles[k], color=f"C{i}", lw=1)
        so = (kind == "optimum") & (T == TT)
        ax1.plot(a[so], b[so], "*", color=f"C{i}", ms=9, mec="k", mew=0.5)
        ax2.axhline(abs(a[so][0] + b[so][0]) / a[so][0], color=f"C{i}", lw=2.5, alpha=0.3)
        ax1.plot([], [], "-", color=f"C{i}", label=f"$T = {TT}$")
    for k, (a0, b0) in enumerate(m["inits"]):
        ax1.plot([], [], styles[k], color="0.3",
                 label=rf"start $(\alpha, \beta) = ({a0:g}, {b0:g})$")
    ax1.plot([], [], "*", color="0.5", ms=9, mec="k", mew=0.5, label="optimum")
    ax2.plot([], [], color="0.5", lw=2.5, alpha=0.3, label="optimum's distance")
    ax1.set(xlabel=r"$\alpha$", ylabel=r"$\beta$", title="GD trajectories (dots: the ends)")
    ax2.set(xlabel="GD iteration", ylabel=r"$|\alpha + \beta| / \alpha$",
            title=r"distance to the line $\beta = -\alpha$")
    legend_below(fig, ncol=4)
    plot_caption(fig, r"Uniform signal strength $g_2$ on [1, 3] along a fixed direction, "
                      r"$L = \infty$. GD on the log population excess reaches the valley "
                      rf"$\beta \approx -\alpha$ quickly, then moves slowly along it. {m['mode']}.")
    return fig


COLUMNS = {
    "kind": Column("row type: a GD iterate ('trajectory') or the exact optimum ('optimum')",
                   kind="text"),
    "T": Column("depth (number of CA layers)", "T", kind="int"),
    "init": Column("index of the initialisation in meta 'inits'", kind="int",
                   sentinels="-1: optimum row"),
    "iteration": Column("GD iteration of the iterate", kind="int",
                        sentinels="-1: optimum row"),
    "alpha": Column("step on the cross term s_hat", "α"),
    "beta": Column("step on the covariance term Sigma_hat", "β"),
    "excess": Column("population (L = inf) excess risk over Bayes", unit="E(yhat - y_q)^2 - "
                     "E R_j"),
}

figure("xattn-two-param", "[reconstructed model] (alpha, beta) GD trajectories approaching "
       "beta = -alpha", plot=plot, units=units, reduce=reduce,
       reference=Reference("xattn", NOT_NUMBERED,
                           "docs/derivations/xattn.md#two-parameter-layers"),
       claim="Gradient descent on the two-parameter cross-attention layers (α, β) reaches the "
             "Bayes-consistent line β = −α from every start, and the exact optimum moves onto "
             "that line as the depth T grows.",
       columns=COLUMNS, check=check_two_param)
