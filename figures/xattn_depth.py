"""Figure ``xattn-depth``: test risk versus depth -- single-layer LSA is flat, CA decays to Bayes.

Reconstructed model (``docs/derivations/xattn.md#figures``).  Multi-modal random-loadings family
(``d1 = 3``, ``d2 = 2``, ``k = 2``, spectrum of ``Gamma^T Gamma`` uniform on [1, 3], ``sigma2 = 0.25``).
Lines: population (``L = inf``) risks over a fixed sample of tasks, exact per task -- Bayes
``E R_j``, the best single-layer LSA (normal equations), CA with the GD-trained shared step
``alpha_T`` and CA at the minimax ``alpha*``.  Points: finite-``L`` Monte Carlo of the trained CA
and LSA on Wishart-sampled prompts (exact query expectation given the task), +-1 s.e.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.figures.xattn_common import MULTI, RECON_NOTE, caption, col, family_text
from icl_companion.numerics.xattn_data import population_tasks, sample_moments, sample_tasks
from icl_companion.numerics.xattn_models import (CAParam, ca_eigen_excess, ca_forward, lsa_excess, lsa_optimal_G,
                                   train_ca_population)
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.theory.xattn import chebyshev_steps


T_PERLAYER = {True: 12, False: 24}  # quick, full


L_MC = 2000
COLUMNS = ("T", "bayes", "lsa_inf", "ca_trained_inf", "ca_star_inf", "lsa_excess_inf",
           "ca_trained_excess_inf", "ca_star_excess_inf", "ca_perlayer_excess_inf",
           "cheb_excess_inf", "alpha_T", "success", "ca_mc_excess", "ca_mc_se", "lsa_mc_excess",
           "lsa_mc_se")


def _sizes(quick: bool) -> dict:
    return {"n_pop": 1000 if quick else 8000, "n_mc": 2000 if quick else 20000}


def _depths(quick: bool) -> list[int]:
    return [1, 2, 3, 4, 6, 8, 12, 16, 24, 32] if quick else list(range(1, 49))


def _setup(seed: int, n_pop: int, n_mc: int):
    """The population tasks, the Monte Carlo tasks and their prompts' moments at ``L_MC``: the
    same for every depth (one stream, ``Generator(seed)``)."""
    rng = np.random.default_rng(seed)
    pop = population_tasks(MULTI, rng=rng, n_mc=n_pop)
    mc_t = sample_tasks(MULTI, rng, n_mc)
    Sh, sh = sample_moments(rng, mc_t, L_MC)
    return pop, mc_t, Sh, sh


def _lsa(pop):
    G = lsa_optimal_G(pop.s, pop.Sigma, pop.w, pop.weight)
    return G, pop.bayes_risk() + lsa_excess(G, pop.s, pop.Sigma, pop.w, pop.weight, grad=False)


def baselines(seed: int, n_pop: int, n_mc: int) -> dict:
    """Work unit: Bayes, the best one-layer LSA (population and Monte Carlo at ``L_MC``)."""
    pop, mc_t, Sh, sh = _setup(seed, n_pop, n_mc)
    G, lsa_inf = _lsa(pop)
    dl = np.einsum("de,ne->nd", G, sh) - mc_t.w
    lsa_mc = np.einsum("nd,nde,ne->n", dl, mc_t.Sigma, dl)  # per-prompt excess over R_j
    return {"bayes": float(pop.bayes_risk()), "lsa_inf": float(lsa_inf),
            "lsa_mc_excess": float(lsa_mc.mean()),
            "lsa_mc_se": float(lsa_mc.std(ddof=1) / np.sqrt(n_mc)),
            "ols_excess_at_L_mc": float(mc_t.bayes.mean()) * MULTI.d / (L_MC - MULTI.d - 1)}


def depth_point(T: int, seed: int, n_pop: int, n_mc: int, perlayer: bool) -> dict:
    """Work unit: depth ``T``: train the shared step (and, if ``perlayer``, per-layer steps from
    a 5%-perturbed alpha*, stream ``(seed, T)``), their population excess and the Monte Carlo
    excess of the trained CA at ``L_MC``."""
    fam = MULTI
    pop, mc_t, Sh, sh = _setup(seed, n_pop, n_mc)
    lam, c = pop.eigen()
    a_star = evaluate("xattn.alpha_star", m_lo=fam.m_lo, m_hi=fam.m_hi, tau2=fam.tau2).value
    r = train_ca_population(pop, CAParam(T))
    n_bad = int(not r.success)
    a = float(r.x[0])
    ex_star = ca_eigen_excess(np.full(T, a_star), np.full(T, -a_star), lam, c, pop.weight, False)
    wT = ca_forward(Sh, sh, np.full(T, a), np.full(T, -a))
    dw = wT - mc_t.w
    per = np.einsum("nd,nde,ne->n", dw, mc_t.Sigma, dw)
    ex_tr = r.fun if r.success else np.nan
    # per-layer steps: GD from a slightly perturbed shared init (a tied init stays tied, since
    # the layers commute at L = inf); and the Chebyshev schedule of theory.xattn
    ex_pl = np.nan
    if perlayer:
        init = a_star * (1 + 0.05 * np.random.default_rng([seed, T]).standard_normal(T))
        rp = train_ca_population(pop, CAParam(T, shared=False), theta0=init, max_iter=5000)
        n_bad += not rp.success
        ex_pl = rp.fun if rp.success else np.nan
    ch = chebyshev_steps(fam.m_lo, fam.m_hi, T, fam.tau2)
    ex_ch = ca_eigen_excess(ch, -ch, lam, c, pop.weight, False)
    return {"alpha_T": a, "success": bool(r.success), "ca_trained_excess_inf": float(ex_tr),
            "ca_star_excess_inf": float(ex_star), "ca_perlayer_excess_inf": float(ex_pl),
            "cheb_excess_inf": float(ex_ch), "ca_mc_excess": float(per.mean()),
            "ca_mc_se": float(per.std(ddof=1) / np.sqrt(n_mc)), "not_converged": n_bad}


def units(quick: bool, seed: int) -> list[Unit]:
    sz = _sizes(quick)
    out = [Unit("baselines", baselines, {"seed": seed, **sz}, fields=("bayes", "lsa_inf"),
                cost=0.1)]
    out += [Unit(f"T={T}", depth_point, {"T": T, "seed": seed, **sz,
                                         "perlayer": T <= T_PERLAYER[quick]},
                 fields=("alpha_T", "success"), cost=0.05 * T) for T in _depths(quick)]
    return out


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    fam = MULTI
    sz = _sizes(quick)
    base = results["baselines"]
    bayes, lsa_inf = base["bayes"], base["lsa_inf"]
    a_star = evaluate("xattn.alpha_star", m_lo=fam.m_lo, m_hi=fam.m_hi, tau2=fam.tau2).value
    rho = evaluate("xattn.rho_star", m_lo=fam.m_lo, m_hi=fam.m_hi, tau2=fam.tau2).value
    cols = {k: [] for k in COLUMNS}
    n_bad = 0
    for T in _depths(quick):
        r = results[f"T={T}"]
        n_bad += r["not_converged"]
        ex_tr, ex_star = r["ca_trained_excess_inf"], r["ca_star_excess_inf"]
        for k, v in (("T", T), ("bayes", bayes), ("lsa_inf", lsa_inf),
                     ("ca_trained_inf", bayes + ex_tr), ("ca_star_inf", bayes + ex_star),
                     ("lsa_excess_inf", lsa_inf - bayes), ("ca_trained_excess_inf", ex_tr),
                     ("ca_star_excess_inf", ex_star),
                     ("ca_perlayer_excess_inf", r["ca_perlayer_excess_inf"]),
                     ("cheb_excess_inf", r["cheb_excess_inf"]), ("alpha_T", r["alpha_T"]),
                     ("success", r["success"]), ("ca_mc_excess", r["ca_mc_excess"]),
                     ("ca_mc_se", r["ca_mc_se"]), ("lsa_mc_excess", base["lsa_mc_excess"]),
                     ("lsa_mc_se", base["lsa_mc_se"])):
            cols[k].append(float(v) if not isinstance(v, bool) else v)
    meta = {"note": RECON_NOTE, "family": fam.as_dict(), "population_tasks": sz["n_pop"],
            "mc_prompts": sz["n_mc"], "L_mc": L_MC,
            "ols_excess_at_L_mc": base["ols_excess_at_L_mc"], "seed": seed,
            "alpha_star": a_star, "rho_star": rho, "training_not_converged": n_bad,
            "perlayer_max_T": T_PERLAYER[quick],
            "mode": "quick (fewer depths, 1k population tasks, 2k MC prompts)" if quick else "full"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    m = data.meta
    T = col(data, "T")
    fig, (ax1, ax2) = plt.subplots(1, 2)
    ax1.plot(T, col(data, "bayes"), color="k", ls=":", label="Bayes E R_j")
    ax1.plot(T, col(data, "lsa_inf"), label="best 1-layer LSA")
    ax1.plot(T, col(data, "ca_trained_inf"), marker="o", ms=3, label="CA, trained alpha_T")
    ax1.set(xscale="log", xlabel="depth T (CA layers)", ylabel="test risk E(yhat - y_q)^2",
            title="population risk (L = inf)")
    ax1.legend()
    ax2.semilogy(T, col(data, "lsa_excess_inf"), label="best 1-layer LSA, L = inf")
    ax2.semilogy(T, col(data, "ca_trained_excess_inf"), marker="o", ms=3,
                 label="CA trained alpha_T, L = inf")
    ax2.semilogy(T, col(data, "ca_star_excess_inf"), ls="--", label="CA at alpha*, L = inf")
    ax2.semilogy(T, col(data, "ca_perlayer_excess_inf"), marker="^", ms=3, lw=0.8,
                 label="CA per-layer alpha_t trained, L = inf")
    ax2.semilogy(T, col(data, "cheb_excess_inf"), ls=":", color="C4",
                 label="CA Chebyshev steps, L = inf")
    rho = m["rho_star"]
    ref = col(data, "ca_star_excess_inf")[0] * rho ** (2 * (T - T[0]))
    ax2.semilogy(T, ref, color="0.5", lw=0.8, ls=":", label="slope rho*^(2T)")
    ax2.errorbar(T, col(data, "ca_mc_excess"), yerr=col(data, "ca_mc_se"), fmt="o", mfc="none",
                 color="C1", label=f"CA trained, MC L = {m['L_mc']}")
    ax2.errorbar(T, col(data, "lsa_mc_excess"), yerr=col(data, "lsa_mc_se"), fmt="s", mfc="none",
                 color="C0", label=f"LSA, MC L = {m['L_mc']}")
    ax2.axhline(m["ols_excess_at_L_mc"], color="C1", lw=0.8, ls="-.",
                label="OLS excess E[R] d/(L-d-1)")
    ax2.set(xlabel="depth T", ylabel="excess risk over Bayes", ylim=(1e-30, 1),
            title=f"excess; $\\alpha^* = {m['alpha_star']:.4f}$, $\\rho^* = {rho:.4f}$")
    ax2.legend(fontsize=6, loc="lower left")
    fig.suptitle("xattn-depth (reconstructed model): LSA is flat in depth, CA decays to Bayes",
                 fontsize=9)
    caption(fig, f"{family_text_meta(m)}. Lines: population risk over {m['population_tasks']} "
                 f"sampled tasks (exact per task). Points: Monte Carlo, {m['mc_prompts']} prompts, "
                 f"+-1 s.e. Per-layer steps trained for T <= {m['perlayer_max_T']} from a "
                 f"5%-perturbed alpha* "
                 f"(a tied start stays tied). Training runs not converged: "
                 f"{m['training_not_converged']} (omitted). "
                 f"{m['mode']}.")
    return fig


def family_text_meta(m) -> str:
    from icl_companion.numerics.xattn_data import TaskFamily

    return family_text(TaskFamily(**m["family"]))


figure("xattn-depth", "[reconstructed model] test risk vs depth: LSA flat, CA decaying to Bayes",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("xattn", NOT_NUMBERED,
                           "docs/derivations/xattn.md#figures"))
