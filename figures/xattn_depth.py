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

from icl_companion.figures.registry import Column, FigureData, Unit, figure
from icl_companion.figures.xattn_common import MULTI, RECON_NOTE, col, family_text, plot_caption
from icl_companion.numerics.xattn_data import population_tasks, sample_moments, sample_tasks
from icl_companion.numerics.xattn_models import (CAParam, ca_eigen_excess, ca_forward, lsa_excess, lsa_optimal_G,
                                   train_ca_population)
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.theory.xattn import chebyshev_steps
from icl_companion.validation.xattn_figures import check_depth


T_PERLAYER = {True: 12, False: 24}  # quick, full


L_MC = 2000


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
            cols[k].append(v if isinstance(v, (bool, int)) else float(v))
    meta = {"note": RECON_NOTE, "family": fam.as_dict(), "population_tasks": sz["n_pop"],
            "mc_prompts": sz["n_mc"], "L_mc": L_MC,
            "ols_excess_at_L_mc": base["ols_excess_at_L_mc"], "seed": seed,
            "alpha_star": a_star, "rho_star": rho, "training_not_converged": n_bad,
            "perlayer_max_T": T_PERLAYER[quick],
            "mode": ("quick mode: 10 depths, 1000 population tasks, 2000 Monte Carlo prompts"
                     if quick else "full mode: T = 1..48, 8000 population tasks, 20000 prompts")}
    return FigureData(cols, meta)


def plot(data: FigureData):
    from icl_companion.figures.layout import legend_below, new_figure

    m = data.meta
    T = col(data, "T")
    fig, (ax1, ax2) = new_figure(height=3.7, ncols=2, legend_row=True)
    ax1.plot(T, col(data, "bayes"), color="k", ls=":", label="Bayes $E R_j$")
    ax1.plot(T, col(data, "lsa_inf"), color="C0", label="best one-layer LSA")
    ax1.plot(T, col(data, "ca_trained_inf"), marker="o", ms=3, color="C1",
             label=r"CA, trained $\alpha_T$")
    ax1.set(xscale="log", xlabel="depth $T$ (CA layers)", ylabel=r"test risk $E(\hat y - y_q)^2$",
            title=r"population risk ($L = \infty$)")
    ax2.semilogy(T, col(data, "lsa_excess_inf"), color="C0")
    ax2.semilogy(T, col(data, "ca_trained_excess_inf"), marker="o", ms=3, color="C1")
    ax2.semilogy(T, col(data, "ca_star_excess_inf"), ls="--", color="C2",
                 label=r"CA at $\alpha^*$")
    ax2.semilogy(T, col(data, "ca_perlayer_excess_inf"), marker="^", ms=3, lw=0.8, color="C3",
                 label=r"CA, per-layer steps $\alpha_t$ trained")
    ax2.semilogy(T, col(data, "cheb_excess_inf"), ls=":", color="C4",
                 label="CA, Chebyshev steps")
    rho = m["rho_star"]
    ref = col(data, "ca_star_excess_inf")[0] * rho ** (2 * (T - T[0]))
    ax2.semilogy(T, ref, color="0.5", lw=0.8, ls=(0, (1, 3)), label=r"slope $\rho^{*2T}$")
    ax2.plot(T, col(data, "ca_mc_excess"), "o", mfc="none", color="C1",
             label=f"CA trained, Monte Carlo $L = {m['L_mc']}$")
    ax2.plot(T, col(data, "lsa_mc_excess"), "s", mfc="none", color="C0",
             label=f"LSA, Monte Carlo $L = {m['L_mc']}$")
    ax2.axhline(m["ols_excess_at_L_mc"], color="C1", lw=0.8, ls="-.",
                label=rf"OLS excess at $L = {m['L_mc']}$")
    ax2.set(xlabel="depth $T$", ylabel="excess risk over Bayes", ylim=(1e-30, 1),
            title=rf"excess ($L = \infty$ lines); $\alpha^* = {m['alpha_star']:.4f}$, "
                  rf"$\rho^* = {rho:.4f}$")
    legend_below(fig, ncol=3)
    plot_caption(fig, f"{plot_family(m)}. Lines: population risk over "
                      f"{m['population_tasks']} sampled tasks (exact per task). Points: Monte "
                      f"Carlo, {m['mc_prompts']} prompts (standard errors smaller than the "
                      f"markers). Per-layer steps trained for $T \\leq {m['perlayer_max_T']}$ "
                      f"from a 5%-perturbed $\\alpha^*$ (a tied start stays tied). Training runs "
                      f"not converged (omitted): {m['training_not_converged']}. {m['mode']}.")
    return fig


def plot_family(m) -> str:
    from icl_companion.numerics.xattn_data import TaskFamily

    return family_text(TaskFamily(**m["family"]))


COLUMNS = {
    "T": Column("depth (number of CA layers)", "T", kind="int"),
    "bayes": Column("Bayes risk (population)", "E R_j", "E(yhat - y_q)^2"),
    "lsa_inf": Column("risk of the best one-layer LSA (population)", unit="E(yhat - y_q)^2"),
    "ca_trained_inf": Column("risk of CA with the GD-trained shared step (population)",
                             unit="E(yhat - y_q)^2"),
    "ca_star_inf": Column("risk of CA at the minimax step alpha* (population)",
                          unit="E(yhat - y_q)^2"),
    "lsa_excess_inf": Column("lsa_inf - bayes", unit="excess over Bayes"),
    "ca_trained_excess_inf": Column("ca_trained_inf - bayes", unit="excess over Bayes",
                                    sentinels="nan: training failed"),
    "ca_star_excess_inf": Column("ca_star_inf - bayes", unit="excess over Bayes"),
    "ca_perlayer_excess_inf": Column("excess of CA with GD-trained per-layer steps",
                                     unit="excess over Bayes",
                                     sentinels="nan: not trained at this depth (T > "
                                               "perlayer_max_T) or training failed"),
    "cheb_excess_inf": Column("excess of CA with the Chebyshev step schedule",
                              unit="excess over Bayes"),
    "alpha_T": Column("GD-trained shared step", "α_T"),
    "success": Column("the shared-step training converged", kind="flag"),
    "ca_mc_excess": Column("Monte Carlo excess of the trained CA at L = L_mc",
                           unit="excess over Bayes"),
    "ca_mc_se": Column("standard error of ca_mc_excess", unit="excess over Bayes"),
    "lsa_mc_excess": Column("Monte Carlo excess of the best one-layer LSA at L = L_mc",
                            unit="excess over Bayes"),
    "lsa_mc_se": Column("standard error of lsa_mc_excess", unit="excess over Bayes"),
}

figure("xattn-depth", "[reconstructed model] test risk vs depth: LSA flat, CA decaying to Bayes",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("xattn", NOT_NUMBERED,
                           "docs/derivations/xattn.md#figures"),
       claim="A single LSA layer keeps a fixed excess risk, while the excess of trained "
             "cross-attention decays geometrically in the depth T towards the Bayes risk, "
             "shrinking by ρ*² per layer as at the minimax step α*.",
       columns=COLUMNS, check=check_depth)
