"""Figure ``xattn-context``: CA excess risk versus test context length ``L`` at several depths.

Reconstructed model (``docs/derivations/xattn.md#finite-context``).  Random-loadings family,
shared step ``alpha*``; Monte Carlo over tasks and Wishart-sampled prompts, with the query risk
exact given the task.  Dashed: the ``L = inf`` excess of depth ``T`` (population); dash-dot: the
exact OLS excess ``E[R_j] d/(L - d - 1)``, the ``T -> inf`` limit at finite ``L``.  Cells in which
some prompt has ``alpha* > 2/lambda_max(Sigma_hat)`` (divergent layers) are not plotted: they are
counted in the caption (divergence guard).
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.figures.xattn_common import MULTI, RECON_NOTE, caption, col, family_text
from icl_companion.numerics.xattn_data import population_tasks, sample_moments, sample_tasks
from icl_companion.numerics.xattn_models import ca_eigen_excess, ca_forward, divergence_report
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate


DEPTHS = (1, 2, 4, 8, 16)


def _lengths(quick: bool) -> list[int]:
    return [int(L) for L in np.unique(np.geomspace(10, 20000, 10 if quick else 20).astype(int))]


def _alpha() -> float:
    return evaluate("xattn.alpha_star", m_lo=MULTI.m_lo, m_hi=MULTI.m_hi, tau2=MULTI.tau2).value


def length_point(L: int, n: int, seed: int) -> dict:
    """Work unit: at test length ``L``, ``n`` tasks and Wishart-sampled prompts (stream
    ``(seed, L)``); the CA excess at alpha* for every depth, and the OLS excess."""
    fam = MULTI
    rng = np.random.default_rng([seed, L])
    a = _alpha()
    tasks = sample_tasks(fam, rng, n)
    Sh, sh = sample_moments(rng, tasks, L)
    out = {"ols_excess": float(tasks.bayes.mean()) * fam.d / (L - fam.d - 1), "depths": []}
    for T in DEPTHS:
        div = divergence_report(Sh, np.full(T, -a))
        dw = ca_forward(Sh, sh, np.full(T, a), np.full(T, -a)) - tasks.w
        ex = np.einsum("nd,nde,ne->n", dw, tasks.Sigma, dw)
        bad = div["n_divergent"] > 0
        out["depths"].append({"T": T, "excess_mc": np.nan if bad else float(ex.mean()),
                              "se": np.nan if bad else float(ex.std(ddof=1) / np.sqrt(n)),
                              "n_divergent": int(div["n_divergent"])})
    return out


def units(quick: bool, seed: int) -> list[Unit]:
    n = 2000 if quick else 20000
    return [Unit(f"L={L}", length_point, {"L": L, "n": n, "seed": seed},
                 fields=("ols_excess", "depths"), cost=0.0005 * L * (n / 2000) ** 0.5 + 0.2)
            for L in _lengths(quick)]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    fam = MULTI
    n = 2000 if quick else 20000
    a = _alpha()
    pop = population_tasks(fam, rng=np.random.default_rng(seed), n_mc=2000)
    lam, c = pop.eigen()
    inf = {T: ca_eigen_excess(np.full(T, a), np.full(T, -a), lam, c, pop.weight, False)
           for T in DEPTHS}
    cols = {k: [] for k in ("T", "L", "excess_mc", "se", "n_divergent", "excess_inf", "ols_excess")}
    for L in _lengths(quick):
        r = results[f"L={L}"]
        for d in r["depths"]:
            cols["T"].append(d["T"])
            cols["L"].append(L)
            cols["excess_mc"].append(d["excess_mc"])
            cols["se"].append(d["se"])
            cols["n_divergent"].append(d["n_divergent"])
            cols["excess_inf"].append(inf[d["T"]])
            cols["ols_excess"].append(r["ols_excess"])
    n_cells = int(sum(1 for v in cols["n_divergent"] if v > 0))
    meta = {"note": RECON_NOTE, "family": fam.as_dict(), "alpha": a, "prompts_per_cell": n,
            "seed": seed, "divergent_cells_omitted": n_cells,
            "random_streams": "population: Generator(seed); each length L: Generator([seed, L])",
            "mode": "quick (10 lengths, 2k prompts)" if quick else "full (20 lengths, 20k prompts)"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    from icl_companion.numerics.xattn_data import TaskFamily

    m = data.meta
    T, L = col(data, "T"), col(data, "L")
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for i, TT in enumerate(sorted(set(T))):
        s = T == TT
        ok = s & np.isfinite(col(data, "excess_mc"))
        ax.errorbar(L[ok], col(data, "excess_mc")[ok], yerr=col(data, "se")[ok], fmt="o-",
                    mfc="none", color=f"C{i}", label=f"T = {TT} (MC)")
        ax.plot(L[s], col(data, "excess_inf")[s], ls="--", lw=0.8, color=f"C{i}")
    s = T == T[0]
    ax.plot(L[s], col(data, "ols_excess")[s], "k-.", lw=1, label="OLS: E[R] d/(L-d-1)")
    ax.set(xscale="log", yscale="log", xlabel="test context length L",
           ylabel="excess risk over Bayes", title="CA at alpha* vs context length "
                                                  "(dashed: L = inf level of each T)")
    ax.legend(fontsize=6)
    fig.suptitle("xattn-context (reconstructed model)", fontsize=9)
    caption(fig, f"{family_text(TaskFamily(**m['family']))}; alpha = alpha* = {m['alpha']:.4f}; "
                 f"{m['prompts_per_cell']} prompts per cell, +-1 s.e. Divergence guard: "
                 f"{m['divergent_cells_omitted']} (T, L) cells with prompts where alpha* > "
                 f"2/lambda_max(Sigma_hat) are omitted. {m['mode']}.")
    return fig


figure("xattn-context", "[reconstructed model] CA risk vs test context length at several depths",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("xattn", NOT_NUMBERED,
                           "docs/derivations/xattn.md#finite-context"))
