"""Figure ``softmax-anisotropic``: learned KQ block of a 2-head model on AR(1) covariates.

He, Pan, Chen, Yang (2025), blog Figure 3.1 (paper figure number not known;
``docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates``): with
``x ~ N(0, Sigma)``, ``Sigma_ij = rho^|i-j|`` (rho = 0.5, d = 5, L = 40, sigma2 = 0.1) a trained
2-head model keeps the last-entry OV and the +/- signs, while the KQ x-block becomes
``+-gamma Omega`` with ``Omega`` close to ``Sigma^-1`` (preconditioned debiased GD); the optimal
one-step linear-TF preconditioner ``Gamma* = ((1 + 1/L) Sigma + (tr Sigma + sigma2 d)/L I)^-1``
(``softmax.preconditioner``) is the paper's "Optimal KQ (LinTF)" panel.  Panels: each head's
``sign(omega_h) KQ^h_{1:d,1:d}`` and ``Sigma^-1``, ``Gamma*``, all divided by their mean diagonal
(the scale gamma is not identified by the pattern); the titles give the relative Frobenius
distances.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.annotate import annotate_cells
from icl_companion.figures.registry import FigureData, figure
from icl_companion.figures.softmax_common import record, training_unit
from icl_companion.numerics.softmax_data import Setting, ar1_covariance
from icl_companion.numerics.softmax_patterns import head_patterns
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.theory.softmax import BLOG
from icl_companion.validation.softmax_training import figure_config

RHO = 0.5
SETTING = Setting("ar1", 5, 40, 0.1, rho=RHO)
QUICK_STEPS = 6000


def _unit_diag(M):
    return M / np.mean(np.diag(M))


def _config(quick: bool):
    return figure_config(2, quick, setting=SETTING, quick_steps_=QUICK_STEPS)


def units(quick: bool, seed: int) -> list:
    return [training_unit("train/H=2", _config(quick), seed)]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = SETTING
    d = st.d
    cfg = _config(quick)
    rec, notes = record(results["train/H=2"], cfg)
    KQ, OV = rec.log["KQ"][-1], rec.log["OV"][-1]
    pat = head_patterns(KQ, OV)
    Sinv = np.linalg.inv(ar1_covariance(d, RHO))
    G = np.asarray(evaluate("softmax.preconditioner", d=d, L=st.L, sigma2=st.sigma2,
                            rho=RHO).value, dtype=float)
    panels = {f"head {h + 1}: sign(omega) KQ": _unit_diag(np.sign(pat.omega[h]) * KQ[h, :d, :d])
              for h in range(2)}
    learned = _unit_diag(sum(panels.values()))
    panels["Sigma^-1"] = _unit_diag(Sinv)
    panels["Gamma* (linear-TF optimum)"] = _unit_diag(G)
    dist = {}
    for name in ("Sigma^-1", "Gamma* (linear-TF optimum)"):
        ref = panels[name]
        dist[name] = float(np.linalg.norm(learned - ref) / np.linalg.norm(ref))
    dist["identity (isotropic pattern)"] = float(np.linalg.norm(learned - np.eye(d))
                                                 / np.linalg.norm(np.eye(d)))
    cols = {k: [] for k in ("panel", "row", "col", "value")}
    for name, M in panels.items():
        for (i, j), v in np.ndenumerate(M):
            cols["panel"].append(name)
            cols["row"].append(i)
            cols["col"].append(j)
            cols["value"].append(float(v))
    meta = {"d": d, "L": st.L, "sigma2": st.sigma2, "rho": RHO, "seed": rec.seed,
            "patterns": pat.as_dict(), "relative_distance_of_mean_learned_block": dist,
            "notes": notes, "training": cfg.as_dict(), "success": rec.success,
            "mode": (f"quick: {cfg.steps} Adam steps (the paper: 500k)" if quick
                     else "full: 500k Adam steps")}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    names = list(dict.fromkeys(c["panel"]))
    d = m["d"]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.6))
    lim = np.abs(c["value"]).max()
    for ax, name in zip(axes, names):
        s = c["panel"] == name
        M = np.zeros((d, d))
        M[c["row"][s], c["col"][s]] = c["value"][s]
        im = ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim)
        annotate_cells(ax, M, "{:.2f}", lim)
        title = name
        if name in m["relative_distance_of_mean_learned_block"]:
            title += f"\n||learned - this|| / ||this|| = " \
                     f"{m['relative_distance_of_mean_learned_block'][name]:.2f}"
        ax.set_title(title, fontsize=8)
        ax.set_xticks(range(d))
        ax.set_yticks(range(d))
    fig.colorbar(im, ax=list(axes), shrink=0.7)
    p = m["patterns"]
    dist_id = m["relative_distance_of_mean_learned_block"]["identity (isotropic pattern)"]
    fig.suptitle(f"AR(1) covariates rho={m['rho']}, d={d}, L={m['L']}, sigma2={m['sigma2']}: "
                 f"KQ x-blocks / mean diagonal (seed {m['seed']}, {p['configuration']}, "
                 f"omega={np.round(p['omega'], 3).tolist()}, mu={np.round(p['mu'], 3).tolist()}; "
                 f"distance of the learned mean block to I: {dist_id:.2f})\n{m['mode']}"
                 + ("\n" + "; ".join(m["notes"]) if m["notes"] else ""), fontsize=8)
    return fig


figure("softmax-anisotropic", "learned KQ block of a 2-head model on AR(1) covariates vs "
       "Sigma^-1 vs the linear-TF optimal preconditioner", plot=plot, units=units, reduce=reduce,
       reference=Reference(
           "softmax", NOT_NUMBERED,
           "docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates",
           (BLOG + ", Figure 3.1",)))
