"""Figure ``xattn-alpha``: the GD-trained shared CA step ``alpha_T`` versus depth, converging to
``alpha* = 2/(2 + m_lo + m_hi)``.

Reconstructed model (``docs/derivations/xattn.md#trained-step-for-a-two-point-spectrum``).
Population (``L = inf``) training by gradient descent for three task laws with the same spectral
interval [1, 3]: two-point signal strength (with the exact closed form ``xattn.alpha_T`` as a line),
uniform signal strength along a fixed direction, and multi-modal random loadings.  Right:
``|alpha_T - alpha*|`` with a ``1/T`` guide.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.figures.xattn_common import FIXED_TWO, FIXED_UNI, MULTI, RECON_NOTE, caption, col
from icl_companion.numerics.xattn_data import TaskFamily, population_tasks
from icl_companion.numerics.xattn_models import CAParam, train_ca_population
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate


LAWS = {"two-point g2 in {1, 3}": FIXED_TWO, "uniform g2 on [1, 3]": FIXED_UNI,
        "random loadings (d=5, k=2)": MULTI}


def _depths(quick: bool) -> list[int]:
    return [1, 2, 4, 8, 16, 32, 64] if quick else [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128]


def _tasks(family: dict, seed: int, n_mc: int):
    """The population of a law: quadrature for a fixed direction, ``n_mc`` tasks sampled from
    ``Generator(seed)`` for random loadings (the same tasks at every depth)."""
    return population_tasks(TaskFamily(**family), rng=np.random.default_rng(seed), n_mc=n_mc)


def train_depth(family: dict, T: int, seed: int, n_mc: int) -> dict:
    """Work unit: GD-train the shared CA step at depth ``T`` on the law's population."""
    r = train_ca_population(_tasks(family, seed, n_mc), CAParam(T))
    return {"alpha": float(r.x[0]) if r.success else np.nan, "success": bool(r.success)}


def units(quick: bool, seed: int) -> list[Unit]:
    n_mc = 1000 if quick else 8000
    return [Unit(f"{name}/T={T}", train_depth, {"family": fam.as_dict(), "T": T, "seed": seed,
                                                "n_mc": n_mc}, fields=("alpha", "success"),
                 cost=0.02 * T) for name, fam in LAWS.items() for T in _depths(quick)]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    Ts = _depths(quick)
    a_star = evaluate("xattn.alpha_star", m_lo=1.0, m_hi=3.0).value
    two = population_tasks(FIXED_TWO)
    lam, c = two.eigen()
    cols = {k: [] for k in ("law", "T", "alpha_T", "success", "closed_form")}
    n_bad = 0
    for name in LAWS:
        for T in Ts:
            r = results[f"{name}/T={T}"]
            n_bad += not r["success"]
            cf = (evaluate("xattn.alpha_T", lambda1=lam[0, 0], lambda2=lam[1, 0],
                           w1=two.weight[0] * c[0, 0], w2=two.weight[1] * c[1, 0], T=T).value
                  if LAWS[name] is FIXED_TWO else np.nan)
            cols["law"].append(name)
            cols["T"].append(T)
            cols["alpha_T"].append(r["alpha"])
            cols["success"].append(r["success"])
            cols["closed_form"].append(float(cf))
    meta = {"note": RECON_NOTE, "alpha_star": a_star, "depths": Ts, "seed": seed,
            "training_not_converged": n_bad, "training": "GD on log population excess (train_gd)",
            "mode": "quick (T <= 64, 1k random-loading tasks)" if quick else "full"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    m = data.meta
    law, T, a = col(data, "law"), col(data, "T"), col(data, "alpha_T")
    fig, (ax1, ax2) = plt.subplots(1, 2)
    for i, name in enumerate(dict.fromkeys(law)):
        s = law == name
        ax1.plot(T[s], a[s], "o", mfc="none", color=f"C{i}", label=f"GD-trained, {name}")
        ax2.loglog(T[s], np.abs(a[s] - m["alpha_star"]), "o-", mfc="none", color=f"C{i}", label=name)
        cf = col(data, "closed_form")[s]
        if np.isfinite(cf).any():
            ax1.plot(T[s], cf, "-", color=f"C{i}", lw=0.9, label="exact alpha_T (two-point)")
    ax1.axhline(m["alpha_star"], color="k", ls=":", label="alpha* = 2/(2 + m_lo + m_hi)")
    ax1.set(xscale="log", xlabel="depth $T$", ylabel=r"trained shared step $\alpha_T$",
            title=r"trained $\alpha_T \to \alpha^*$")
    ax1.legend()
    Tg = np.asarray(sorted(set(T)), float)
    ax2.loglog(Tg, 0.05 / Tg, color="0.5", ls=":", lw=0.8, label="1/T guide")
    ax2.set(xlabel="depth $T$", ylabel=r"$|\alpha_T - \alpha^*|$", title="approach rate")
    ax2.legend()
    fig.suptitle("xattn-alpha (reconstructed model): trained CA step converges to alpha*",
                 fontsize=9)
    caption(fig, f"Spectrum of Gamma^T Gamma in [1, 3], tau2 = 1, L = inf (exact task expectation). "
                 f"Non-converged training runs omitted: {m['training_not_converged']}. {m['mode']}.")
    return fig


figure("xattn-alpha", "[reconstructed model] trained alpha_T vs depth converging to alpha*",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("xattn", NOT_NUMBERED,
                           "docs/derivations/xattn.md#trained-step-for-a-two-point-spectrum"))
