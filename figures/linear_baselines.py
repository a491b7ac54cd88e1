"""Figure ``linear-baselines``: risk versus prompt length of the linear ICL baselines.

Left (He et al. setting, ``x ~ N(0, I_d)``, ``beta ~ N(0, I/d)``, noise ``sigma2``, risk against
``y_q``): Bayes ridge (the Marchenko-Pastur limit at ``xi = d/L``, with finite-d Monte Carlo of the
ridge predictor), one-step GD at its optimal step ``eta*_gd(L)`` (exact), and the ZFB LSA optimum
trained on noiseless isotropic prompts of the same length (one GD step with ``eta = L/(L+d+1)``;
exact through ``linear.gd_risk``).  Right (ZFB setting, noiseless, anisotropic ``Lambda``,
``w ~ N(0, I)``): the exact ZFB error ``linear.lsa_zfb_risk(N = M = L)`` with Monte Carlo, and its
large-L asymptote ``(d + 1) tr(Lambda)/L``.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.numerics.linear import gd_predict, mc_risk, ridge_predict, zfb_predict
from icl_companion.theory.linear import HE_ET_AL, ZFB
from icl_companion.theory.registry import Reference, evaluate

D, SIGMA2 = 10, 0.25
D_ZFB = 6


COLUMNS = ("panel", "method", "L", "theory", "mc", "mc_se")


def _lengths(quick: bool) -> list[int]:
    return [int(L) for L in np.unique(np.geomspace(5, 100, 8 if quick else 20).round().astype(int))]


def _prompts(quick: bool) -> int:
    return 20_000 if quick else 400_000


def length_point(L: int, n: int, seed: int) -> dict:
    """Work unit: the four methods at prompt length ``L``, theory and ``n``-prompt Monte Carlo
    (its own random stream ``(seed, L)``)."""
    rng = np.random.default_rng([seed, L])
    lam = np.linspace(0.2, 3.0, D_ZFB)
    rows = []

    def add(panel, method, th, est):
        rows.append([panel, method, int(L), float(th), float(est.mean), float(est.stderr)])

    bayes = evaluate("linear.ridge_bayes_risk_asym", xi=D / L, sigma2=SIGMA2).value
    add("noisy", "Bayes (ridge)", bayes,
        mc_risk(lambda P: ridge_predict(P, SIGMA2 * D), rng, n, D, L, SIGMA2))
    eta = evaluate("linear.gd_eta_star", d=D, L=L, sigma2=SIGMA2).value
    add("noisy", "GD at eta*", evaluate("linear.gd_risk", d=D, L=L, sigma2=SIGMA2, eta=eta).value,
        mc_risk(lambda P: gd_predict(P, eta), rng, n, D, L, SIGMA2))
    eta0 = L / (L + D + 1)  # ZFB's Gamma^-1 for Lambda = I, trained noiseless at N = L
    add("noisy", "ZFB LSA (trained noiseless)",
        evaluate("linear.gd_risk", d=D, L=L, sigma2=SIGMA2, eta=eta0).value,
        mc_risk(lambda P: gd_predict(P, eta0), rng, n, D, L, SIGMA2))
    add("zfb", "ZFB LSA, anisotropic",
        evaluate("linear.lsa_zfb_risk", lambdas=lam.tolist(), N=L, M=L).value,
        mc_risk(lambda P: zfb_predict(P, lam, L), rng, n, D_ZFB, L, 0.0, target="clean",
                lambdas=lam, beta_scale=1.0))
    return {"rows": rows}


def units(quick: bool, seed: int) -> list[Unit]:
    n = _prompts(quick)
    return [Unit(f"L={L}", length_point, {"L": L, "n": n, "seed": seed}, fields=("rows",),
                 cost=0.5 if quick else 10.0) for L in _lengths(quick)]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    cols: dict[str, list] = {k: [] for k in COLUMNS}
    for L in _lengths(quick):
        for row in results[f"L={L}"]["rows"]:
            for k, v in zip(COLUMNS, row):
                cols[k].append(v)
    meta = {"d": D, "sigma2": SIGMA2, "d_zfb": D_ZFB,
            "lambdas_zfb": np.linspace(0.2, 3.0, D_ZFB).tolist(),
            "prompts_per_point": _prompts(quick), "seed": seed,
            "random_streams": "one per prompt length L: numpy Generator([seed, L])",
            "mode": "quick (fewer L, 20k prompts)" if quick else "full"}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, (ax1, ax2) = plt.subplots(1, 2)
    for method in ("Bayes (ridge)", "GD at eta*", "ZFB LSA (trained noiseless)"):
        s = (c["panel"] == "noisy") & (c["method"] == method)
        line, = ax1.plot(c["L"][s], c["theory"][s], label=method)
        ax1.errorbar(c["L"][s], c["mc"][s], yerr=c["mc_se"][s], fmt="o", ms=3,
                     color=line.get_color(), mfc="none")
    ax1.axhline(m["sigma2"], color="0.5", lw=0.8, ls=":", label="noise floor")
    ax1.set(xscale="log", yscale="log", xlabel="prompt length $L$", ylabel=r"risk $E(\hat y_q - y_q)^2$",
            title=f"He et al. setting: $d = {m['d']}$, $\\sigma^2 = {m['sigma2']}$\n"
                  "(Bayes line: Marchenko-Pastur limit at xi = d/L)")
    ax1.legend()
    s = c["panel"] == "zfb"
    L = c["L"][s]
    line, = ax2.plot(L, c["theory"][s], label="exact (ZFB optimum, N = M = L)")
    ax2.errorbar(L, c["mc"][s], yerr=c["mc_se"][s], fmt="o", ms=3, color=line.get_color(),
                 mfc="none", label="Monte Carlo")
    lam = np.asarray(m["lambdas_zfb"])
    ax2.plot(L, (m["d_zfb"] + 1) * lam.sum() / L, ls="--", color="0.4",
             label="(d+1) tr(Lambda)/L")
    ax2.set(xscale="log", yscale="log", xlabel="prompt length L = N = M",
            ylabel="error E(yhat - <w, x_q>)^2",
            title=f"ZFB setting: noiseless, w ~ N(0, I)\nLambda = diag(0.2 ... 3), d = {m['d_zfb']}")
    ax2.legend()
    fig.suptitle(f"Linear ICL baselines: lines = theory, points = Monte Carlo "
                 f"({m['prompts_per_point']} prompts, +-1 s.e.); {m['mode']}", fontsize=8, y=1.04)
    return fig


figure("linear-baselines", "risk vs L: Bayes ridge, one-step GD at eta*, ZFB LSA (theory + MC)",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("linear", "", "docs/derivations/linear.md#figures", (HE_ET_AL, ZFB)))
