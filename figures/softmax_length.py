"""Figure ``softmax-length``: linear vs softmax attention trained at L = 40, tested at L' = 10 ... 100.

He, Pan, Chen, Yang (2025), blog Figure 4.1 (``Lin_smax_comparison``);
``docs/derivations/softmax.md#linear-attention-length-generalisation``.
Trained by the NumPy trainer (d = 5, sigma2 = 0.1, Adam 1e-3, batch 256):

* one-head linear attention ``LinTF`` (``(1/L) sum_h OV^h Z Z^T KQ^h z_q``, no softmax, no mask),
  evaluated with the ``1/L`` factor hard-coded to the training length 40 (the paper's model), and
  the exact theory ``softmax.linear_length_risk(d, L_train = 40, L_test, sigma2)`` (one-step GD at
  ``eta*_gd(40)`` whose effective step grows like ``L'/40``);
* the same trained linear model with the factor renormalised to ``1/L'`` (for contrast: then it is
  GD with a fixed step);
* trained 2-head and 1-head softmax attention (the shared models of ``softmax-heads``), which
  self-normalise and keep improving with L'.

Monte Carlo points: all models on the same fresh prompts at each L', +-1 s.e.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.figures.softmax_common import record, training_unit
from icl_companion.numerics.softmax_attention import forward
from icl_companion.numerics.softmax_data import sample_tokens
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.theory.softmax import BLOG
from icl_companion.validation.softmax_training import SETTING, figure_config


def _configs(quick: bool) -> dict:
    return {"linear": figure_config(1, quick, kind="linear"), "sm2": figure_config(2, quick),
            "sm1": figure_config(1, quick)}


def _prompts(quick: bool) -> int:
    return 4000 if quick else 20_000


def at_length(L: int, n: int, seed: int, linear: dict, sm2: dict, sm1: dict) -> dict:
    """Work unit: the three trained models at test length ``L`` on the same ``n`` fresh prompts
    (stream ``(seed, L)``), and the linear-attention theory."""
    st = SETTING
    rows = []

    def add(method, e):
        se = float(np.std(e, ddof=1) / np.sqrt(e.size)) if np.size(e) > 1 else 0.0
        rows.append([method, int(L), float(np.mean(e)), se])

    b = sample_tokens(np.random.default_rng([seed, L]), n, st, L=L)
    err = lambda yh: (yh[:, 0] - b.yq[:, 0]) ** 2  # noqa: E731
    lin = linear["record"]["params"]
    add("linear attention (1/40 hard-coded)", err(forward(lin, b, "linear", norm_L=st.L)))
    add("linear attention renormalised 1/L'", err(forward(lin, b, "linear")))
    add("softmax attention H=2", err(forward(sm2["record"]["params"], b)))
    add("softmax attention H=1", err(forward(sm1["record"]["params"], b)))
    add("theory: linear, L_train=40", np.array([evaluate(
        "softmax.linear_length_risk", d=st.d, L_train=st.L, L_test=L, sigma2=st.sigma2).value]))
    return {"rows": rows}


def _lengths(quick: bool) -> list[int]:
    return list(range(10, 101, 10 if quick else 5))


def units(quick: bool, seed: int) -> list:
    out = [training_unit(f"train/{k}", c, seed) for k, c in _configs(quick).items()]
    out += [Unit(f"L={L}", at_length, {"L": L, "n": _prompts(quick), "seed": seed},
                 needs={k: f"train/{k}" for k in _configs(quick)}, fields=("rows",), cost=0.5)
            for L in _lengths(quick)]
    return out


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = SETTING
    n = _prompts(quick)
    cfgs = _configs(quick)
    lin, _ = record(results["train/linear"], cfgs["linear"])
    sm2, notes = record(results["train/sm2"], cfgs["sm2"])
    sm1, _ = record(results["train/sm1"], cfgs["sm1"])
    cols = {k: [] for k in ("method", "L", "risk", "se")}
    for L in _lengths(quick):
        for row in results[f"L={L}"]["rows"]:
            for k, v in zip(cols, row):
                cols[k].append(v)
    meta = {"d": st.d, "L_train": st.L, "sigma2": st.sigma2, "prompts_per_point": n,
            "seeds": {"linear": lin.seed, "softmax H=2": sm2.seed, "softmax H=1": sm1.seed},
            "linear_final_train_loss": lin.final_loss(), "success": {
                "linear": lin.success, "softmax H=2": sm2.success, "softmax H=1": sm1.success},
            "notes": notes, "training": cfgs["linear"].as_dict(),
            "mode": (f"quick: {cfgs['linear'].steps} Adam steps per model, {n} test prompts"
                     if quick else f"full: 500k Adam steps per model, {n} test prompts")}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for method in dict.fromkeys(c["method"]):
        s = c["method"] == method
        if method.startswith("theory"):
            ax.plot(c["L"][s], c["risk"][s], color="k", lw=1, label=method + " (exact)")
        else:
            ax.errorbar(c["L"][s], c["risk"][s], yerr=c["se"][s], marker="o", ms=3, lw=1,
                        capsize=2, ls="--" if "renormalised" in method else "-",
                        label=method + " (trained, MC)")
    ax.axvline(m["L_train"], color="0.7", lw=0.6)
    ax.axhline(m["sigma2"], color="0.7", lw=0.6, ls=":")
    ax.set(xlabel="test prompt length L'", ylabel="risk E(yhat - y_q)^2 (incl. noise)",
           yscale="log", title=f"Length generalisation, trained at L={m['L_train']}: d={m['d']}, "
                               f"sigma2={m['sigma2']}\n{m['mode']}")
    ax.legend(fontsize=7)
    if m["notes"]:
        fig.text(0.01, 0.005, "\n".join(m["notes"]), fontsize=6, va="bottom")
    fig.tight_layout(rect=(0, 0.05 if m["notes"] else 0, 1, 1))
    return fig


figure("softmax-length", "linear vs softmax attention trained at L=40, tested at L=10..100",
       plot=plot, units=units, reduce=reduce,
       reference=Reference("softmax", NOT_NUMBERED,
                           "docs/derivations/softmax.md#linear-attention-length-generalisation",
                           (BLOG + ", Figure 4.1",)))
