"""Figure ``xattn-ablation``: CA without re-injection of the covariates (multi-layer LSA).

Reconstructed model (``docs/derivations/xattn.md#ablation-without-re-injection``).  The ablation is
the plain multi-layer LSA with isotropic value/key maps: the covariate part of every token is
updated by the same attention, so the kernel drifts with the residual.  At ``L = inf`` its error
ratio per eigen-direction obeys ``e <- e - alpha lambda e^3`` (algebraic decay) against CA's
``e <- (1 - alpha lambda) e`` (geometric).  Both are trained (shared step) by GD on the population
loss; points: token-level Monte Carlo of both trained networks at finite ``L`` on raw prompts.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.figures.xattn_common import FIXED_UNI, RECON_NOTE, caption, col, family_text
from icl_companion.numerics.xattn_data import population_tasks, sample_prompts, sample_tasks
from icl_companion.numerics.xattn_models import (CAParam, lsa_excess, lsa_optimal_G, token_forward,
                                   train_ca_population, train_noreinject_population)
from icl_companion.theory.registry import NOT_NUMBERED, Reference


MODELS = ("CA (re-injected X)", "multi-layer LSA (no re-injection)")
T_MC = (1, 2, 4, 8, 16)


def _depths(quick: bool) -> list[int]:
    return [1, 2, 4, 8, 16, 32, 64] if quick else [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128]


def _mc_size(quick: bool) -> tuple[int, int]:
    return (100, 1000) if quick else (400, 10000)


def depth_point(model: str, T: int, L: int, n: int, seed: int) -> dict:
    """Work unit: train ``model`` (shared step) at depth ``T`` on the population; for ``T`` in
    ``T_MC``, token-level Monte Carlo of the trained network on ``n`` raw prompts of length ``L``
    (the same prompts for every unit: stream ``Generator(seed)``)."""
    fam = FIXED_UNI
    pop = population_tasks(fam)
    reinject = model == MODELS[0]
    r = train_ca_population(pop, CAParam(T)) if reinject else train_noreinject_population(pop, T)
    a = float(r.x[0])
    em, se = np.nan, np.nan
    if T in T_MC and r.success:
        rng = np.random.default_rng(seed)
        mc = sample_tasks(fam, rng, n)
        P = sample_prompts(rng, mc, L)
        # the prediction is linear in x_q: read the effective coefficient off basis queries
        basis = np.broadcast_to(np.eye(fam.d), (n, fam.d, fam.d))
        v = token_forward(P.X, P.y, basis, np.full(T, a), np.full(T, -a), reinject=reinject)
        dv = v - mc.w
        per = np.einsum("nd,nde,ne->n", dv, mc.Sigma, dv)  # exact query risk - R_j
        em, se = float(per.mean()), float(per.std(ddof=1) / np.sqrt(n))
    return {"alpha": a, "excess_inf": float(r.fun) if r.success else np.nan,
            "success": bool(r.success), "excess_mc": em, "se": se}


def units(quick: bool, seed: int) -> list[Unit]:
    L, n = _mc_size(quick)
    return [Unit(f"{model}/T={T}", depth_point, {"model": model, "T": T, "L": L, "n": n,
                                                 "seed": seed},
                 fields=("alpha", "excess_inf", "success", "excess_mc", "se"),
                 cost=0.02 * T + (0.5 if T in T_MC else 0.0))
            for T in _depths(quick) for model in MODELS]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    fam = FIXED_UNI
    L, n = _mc_size(quick)
    pop = population_tasks(fam)
    G = lsa_optimal_G(pop.s, pop.Sigma, pop.w, pop.weight)
    lsa = lsa_excess(G, pop.s, pop.Sigma, pop.w, pop.weight, grad=False)
    cols = {k: [] for k in ("model", "T", "alpha", "excess_inf", "success", "excess_mc", "se")}
    n_bad = 0
    for T in _depths(quick):
        for model in MODELS:
            r = results[f"{model}/T={T}"]
            n_bad += not r["success"]
            for k, v in (("model", model), ("T", T), ("alpha", r["alpha"]),
                         ("excess_inf", r["excess_inf"]), ("success", r["success"]),
                         ("excess_mc", r["excess_mc"]), ("se", r["se"])):
                cols[k].append(v)
    meta = {"note": RECON_NOTE, "family": fam.as_dict(), "lsa_1layer_excess": lsa,
            "L_mc": L, "prompts_mc": n, "seed": seed, "training_not_converged": n_bad,
            "mode": f"quick (T <= 64, MC L={L}, {n} prompts)" if quick else "full"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    from icl_companion.numerics.xattn_data import TaskFamily

    m = data.meta
    model, T = col(data, "model"), col(data, "T")
    fig, (ax1, ax2) = plt.subplots(1, 2)
    for i, name in enumerate(dict.fromkeys(model)):
        s = model == name
        ax1.loglog(T[s], col(data, "excess_inf")[s], "o-", ms=3, color=f"C{i}",
                   label=f"{name}, L = inf")
        ok = s & np.isfinite(col(data, "excess_mc"))
        ax1.errorbar(T[ok], col(data, "excess_mc")[ok], yerr=col(data, "se")[ok], fmt="s",
                     mfc="none", color=f"C{i}", label=f"{name}, MC L = {m['L_mc']}")
        ax2.semilogx(T[s], col(data, "alpha")[s], "o-", ms=3, color=f"C{i}", label=name)
    ax1.axhline(m["lsa_1layer_excess"], color="0.4", ls=":", label="best 1-layer LSA (matrix G)")
    ax1.set(xlabel="depth T", ylabel="excess risk over Bayes", ylim=(1e-12, 0.1),
            title="re-injection makes depth pay off")
    ax1.legend(fontsize=6)
    ax2.set(xlabel="depth T", ylabel="trained shared step", title="trained step")
    ax2.legend(fontsize=6)
    fig.suptitle("xattn-ablation (reconstructed model): CA vs CA without re-injection "
                 "(multi-layer LSA)", fontsize=9)
    caption(fig, f"{family_text(TaskFamily(**m['family']))}. Both networks trained by GD at L = inf "
                 f"(shared step). MC: token-level forward passes on raw prompts, "
                 f"{m['prompts_mc']} prompts, +-1 s.e.; MC excess = (v - w)^T Sigma (v - w) with the network's effective query coefficient v. "
                 f"Non-converged runs omitted: {m['training_not_converged']}. {m['mode']}.")
    return fig


figure("xattn-ablation", "[reconstructed model] CA without re-injection (multi-layer LSA) vs CA",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("xattn", NOT_NUMBERED,
                           "docs/derivations/xattn.md#ablation-without-re-injection"))
