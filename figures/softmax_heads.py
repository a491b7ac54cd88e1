"""Figure ``softmax-heads``: risk vs test prompt length of trained H = 1, 2, 4, 8 softmax attention.

He, Pan, Chen, Yang (2025), blog Figures 2.4 and 2.5.  Models trained at L = 40 (d = 5,
sigma2 = 0.1; NumPy trainer, Adam 1e-3, batch 256) and evaluated by Monte Carlo (all models on the
same fresh prompts at each test length, +-1 s.e.) at L' = 10 ... 100, next to:

* debiased GD and vanilla one-step GD with the step ``eta*(L_train = 40)`` held fixed (what a
  trained multi-head model implements: softmax self-normalises, so ``eta_eff`` does not change with
  L'), exact finite-(d, L') risks ``softmax.dgd_risk`` / ``softmax.gd_risk``;
* the single-head optimum of the approximate loss (``omega = 1/sqrt(d)``, its ``mu`` at L = 40,
  ``theory.softmax.single_head_optimum``) as a reduced Nadaraya-Watson predictor, Monte Carlo
  ``softmax.reduced_risk``;
* the Bayes risk (ridge, ``softmax.bayes_risk`` at ``xi = d/L'``, asymptotic).

Expected: H = 2, 4, 8 nearly coincide with debiased GD; H = 1 clearly worse (close to the
single-head curve); all decrease in L'.  Risks include the noise sigma2 once.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.figures.softmax_common import record, training_unit
from icl_companion.numerics.softmax_attention import forward
from icl_companion.numerics.softmax_data import sample_tokens
from icl_companion.numerics.softmax_patterns import head_patterns
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.theory.softmax import BLOG, single_head_optimum
from icl_companion.validation.softmax_training import SETTING, figure_config

HS = (1, 2, 4, 8)


def test_lengths(quick: bool) -> list[int]:
    return list(range(10, 101, 10 if quick else 5))


def _prompts(quick: bool) -> int:
    return 4000 if quick else 20_000


def at_length(L: int, i: int, n: int, seed: int, **models) -> dict:
    """Work unit: every trained model (``models``: ``H<h>`` -> trained record data) and the
    reference predictors at test length ``L`` on the same ``n`` fresh prompts (stream
    ``(seed, L)``); ``i`` is the length's index (the reduced-predictor Monte Carlo's seed)."""
    st = SETTING
    rows = []

    def add(method, r, se):
        rows.append([method, int(L), float(r), float(se)])

    b = sample_tokens(np.random.default_rng([seed, L]), n, st, L=L)
    for H in HS:
        params = models[f"H{H}"]["record"]["params"]
        e = np.mean((forward(params, b)[:, :1] - b.yq) ** 2, axis=1)
        add(f"trained H={H}", e.mean(), e.std(ddof=1) / np.sqrt(n))
    eta = evaluate("softmax.eta_star", d=st.d, L=st.L, sigma2=st.sigma2).value
    w1, m1 = single_head_optimum(st.d, st.L, st.sigma2)
    add("debiased GD, eta*(40)",
        evaluate("softmax.dgd_risk", d=st.d, L=L, sigma2=st.sigma2, eta=eta).value, 0.0)
    add("GD, eta*(40)", evaluate("softmax.gd_risk", d=st.d, L=L, sigma2=st.sigma2, eta=eta).value,
        0.0)
    sh = evaluate("softmax.reduced_risk", d=st.d, L=L, sigma2=st.sigma2, omega=[w1], mu=[m1],
                  n_prompts=n, seed=seed * 1000 + i).value
    add("single-head optimum (1/sqrt(d))", sh["value"], sh["stderr"])
    add("Bayes (ridge, xi = d/L)", evaluate("softmax.bayes_risk", xi=st.d / L,
                                            sigma2=st.sigma2).value, 0.0)
    return {"rows": rows}


def units(quick: bool, seed: int) -> list:
    n = _prompts(quick)
    out = [training_unit(f"train/H={H}", figure_config(H, quick), seed) for H in HS]
    out += [Unit(f"L={L}", at_length, {"L": L, "i": i, "n": n, "seed": seed},
                 needs={f"H{H}": f"train/H={H}" for H in HS}, fields=("rows",), cost=1.0)
            for i, L in enumerate(test_lengths(quick))]
    return out


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = SETTING
    n = _prompts(quick)
    meta_models, notes = {}, []
    for H in HS:
        rec, nt = record(results[f"train/H={H}"], figure_config(H, quick))
        notes += nt
        pat = head_patterns(rec.log["KQ"][-1], rec.log["OV"][-1])
        meta_models[str(H)] = {"seed": rec.seed, "steps": rec.steps_done,
                               "success": rec.success, "configuration": pat.configuration,
                               "eta_eff": pat.eta_eff}
    eta = evaluate("softmax.eta_star", d=st.d, L=st.L, sigma2=st.sigma2).value
    w1, m1 = single_head_optimum(st.d, st.L, st.sigma2)
    cols = {k: [] for k in ("method", "L", "risk", "se")}
    for L in test_lengths(quick):
        for row in results[f"L={L}"]["rows"]:
            for k, v in zip(cols, row):
                cols[k].append(v)
    meta = {"d": st.d, "L_train": st.L, "sigma2": st.sigma2, "eta_star_40": eta,
            "single_head": {"omega": w1, "mu": m1}, "prompts_per_point": n, "models": meta_models,
            "notes": notes, "training": figure_config(2, quick).as_dict(),
            "mode": (f"quick: {figure_config(2, True).steps} Adam steps per model, {n} test prompts"
                     if quick else f"full: 500k Adam steps per model, {n} test prompts")}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for method in dict.fromkeys(c["method"]):
        s = c["method"] == method
        if method.startswith("trained"):
            ax.errorbar(c["L"][s], c["risk"][s], yerr=c["se"][s], marker="o", ms=3, lw=1,
                        capsize=2, label=method)
        elif method.startswith("single"):
            ax.errorbar(c["L"][s], c["risk"][s], yerr=c["se"][s], ls="--", color="0.4",
                        label=method + " (MC)")
        else:
            ls = {"debiased GD, eta*(40)": "-", "GD, eta*(40)": "-.",
                  "Bayes (ridge, xi = d/L)": ":"}[method]
            ax.plot(c["L"][s], c["risk"][s], ls=ls, color="k", lw=1, label=method + " (exact)"
                    if "GD" in method else method + " (asymptotic)")
    ax.axvline(m["L_train"], color="0.7", lw=0.6)
    ax.set(xlabel="test prompt length L'", ylabel="risk E(yhat - y_q)^2 (incl. noise)",
           yscale="log",
           title=f"Trained at L={m['L_train']}: $d={m['d']}$, $\\sigma^2={m['sigma2']}$\n{m['mode']}")
    ax.legend(fontsize=7)
    if m["notes"]:
        fig.text(0.01, 0.005, "\n".join(m["notes"]), fontsize=6, va="bottom")
    fig.tight_layout(rect=(0, 0.05 if m["notes"] else 0, 1, 1))
    return fig


figure("softmax-heads", "risk vs test L of trained H=1,2,4,8 softmax attention with DGD, GD, "
       "single-head and Bayes curves", plot=plot, units=units, reduce=reduce,
       reference=Reference("softmax", NOT_NUMBERED,
                           "docs/derivations/softmax.md#figures",
                           (BLOG + ", Figures 2.4-2.5",)))
