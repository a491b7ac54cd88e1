"""Claim checks of the ``xattn-*`` figures (reconstructed model of arXiv:2602.04872).

Each function ``check_<figure>(data, quick) -> Outcome`` asserts the figure's one-sentence claim on
the figure's own table (``data.columns``) and metadata (``data.meta``); the figure declares it
(``figure(..., check=...)``), which runs it when the figure is written and registers it in
``iclc verify`` as ``xattn.figure.<name>``.  Population quantities (``L = inf``) are exact up to
the training's stopping rule; Monte Carlo quantities are compared within 4 standard errors.  The
thresholds that encode a qualitative word of the claim ("geometric", "levels off") are stated in
each comparison.
"""

from __future__ import annotations

import numpy as np

from icl_companion.validation.checks import Outcome, bound, compare

__all__ = ["check_alpha", "check_context", "check_ablation", "check_depth", "check_two_param"]


def _cols(data) -> dict:
    return {k: np.asarray(v) for k, v in data.columns.items()}


def check_alpha(data, quick: bool) -> Outcome:
    """Two-point law: trained step = exact ``alpha_T``; every law: ``|alpha_T - alpha*|``
    decreasing in ``T`` and ``T |alpha_T - alpha*|`` constant within 10% over the last doubling
    of the depth (a ``1/T`` rate)."""
    c = _cols(data)
    a_star = data.meta["alpha_star"]
    out = Outcome(facts={"alpha_star": a_star})
    for law in dict.fromkeys(c["law"].tolist()):
        s = (c["law"] == law) & c["success"].astype(bool)
        T, a = c["T"][s], c["alpha_T"][s]
        gap = np.abs(a - a_star)
        cf = c["closed_form"][s]
        for t, x, y in zip(T, a, cf):
            if np.isfinite(y):
                out.comparisons.append(compare(f"{law}, T={t}: trained alpha_T vs exact", y, x,
                                               0.0, allowance=1e-6, allowance_rule=(
                                                   "well above GD's stopping distance "
                                                   "(|grad log f| <= 1e-10)")))
        out.comparisons.append(bound(f"{law}: largest increase of |alpha_T - alpha*| from one "
                                     f"depth to the next", float(np.max(np.diff(gap))), "le",
                                     0.0, "monotone approach"))
        r = T[-1] * gap[-1] / (T[-2] * gap[-2])
        out.comparisons.append(compare(f"{law}: T|alpha_T - alpha*| at T={T[-1]} over T={T[-2]}",
                                       1.0, r, 0.0, allowance=0.1,
                                       allowance_rule="1/T rate: constant within 10%"))
        out.facts[f"{law}: T |alpha_T - alpha*|"] = np.round(T * gap, 4).tolist()
    return out


def check_context(data, quick: bool) -> Outcome:
    """``T = 16``: Monte Carlo excess = OLS excess within 4 SE at every length; ``T = 4``: below
    the OLS excess by more than 4 SE wherever its ``L = inf`` excess is under 5% of the OLS
    excess; ``T = 1, 2``: at the largest length, within the OLS excess (+4 SE) of their
    ``L = inf`` excess."""
    c = _cols(data)
    ok = np.isfinite(c["excess_mc"])
    out = Outcome(facts={"cells omitted (divergent)": int((~ok).sum())})
    for i in np.flatnonzero(ok & (c["T"] == 16)):
        out.comparisons.append(compare(f"T=16, L={c['L'][i]}: excess vs OLS excess",
                                       c["ols_excess"][i], c["excess_mc"][i], c["se"][i]))
    for i in np.flatnonzero(ok & (c["T"] == 4) & (c["excess_inf"] < 0.05 * c["ols_excess"])):
        out.comparisons.append(bound(f"T=4, L={c['L'][i]}: excess below the OLS excess",
                                     c["excess_mc"][i], "le",
                                     c["ols_excess"][i] - 4 * c["se"][i],
                                     f"OLS excess - 4 standard errors ({c['se'][i]:.2g})"))
    for T in (1, 2):
        s = np.flatnonzero(ok & (c["T"] == T))
        i = s[np.argmax(c["L"][s])]
        out.comparisons.append(compare(f"T={T}, L={c['L'][i]}: excess vs its L = inf excess",
                                       c["excess_inf"][i], c["excess_mc"][i], c["se"][i],
                                       allowance=c["ols_excess"][i],
                                       allowance_rule="+ the OLS excess at this L"))
    return out


def check_ablation(data, quick: bool) -> Outcome:
    """CA (re-injected): the population excess shrinks by a factor <= 0.2 per layer at every
    depth (geometric); multi-layer LSA: the per-layer factor at the largest depths is >= 0.9
    (tending to 1: algebraic) and the log-log slope over the last doubling is in [-2, -0.25]
    (a power law)."""
    c = _cols(data)
    out = Outcome()
    for model in dict.fromkeys(c["model"].tolist()):
        s = (c["model"] == model) & c["success"].astype(bool)
        T, ex = c["T"][s].astype(float), c["excess_inf"][s]
        q = (ex[1:] / ex[:-1]) ** (1.0 / np.diff(T))  # per-layer factor between depths
        out.facts[f"{model}: per-layer factor"] = np.round(q, 4).tolist()
        if model.startswith("CA"):
            out.comparisons.append(bound(f"{model}: largest per-layer factor", float(q.max()),
                                         "le", 0.2, "geometric decay"))
        else:
            out.comparisons.append(bound(f"{model}: per-layer factor at T={int(T[-2])}..{int(T[-1])}",
                                         float(q[-1]), "ge", 0.9, "algebraic decay (factor -> 1)"))
            slope = float(np.log(ex[-1] / ex[-2]) / np.log(T[-1] / T[-2]))
            out.comparisons.append(compare(f"{model}: log-log slope at T={int(T[-2])}..{int(T[-1])}",
                                           -1.125, slope, 0.0, allowance=0.875,
                                           allowance_rule="a power law: slope in [-2, -0.25]"))
    return out


def check_depth(data, quick: bool) -> Outcome:
    """CA at alpha*: the excess shrinks per layer by rho*^2 or faster over the depths shown
    (``(e_T2 / e_T1)^(1/(T2 - T1)) <= rho*^2 (1 + 5%)``); the trained CA's excess is below 1e-10
    of the Bayes risk at the largest depth; the LSA excess stays above 1% of the Bayes risk."""
    c = _cols(data)
    m = data.meta
    rho2 = m["rho_star"] ** 2
    T = c["T"].astype(float)
    ex = c["ca_star_excess_inf"]
    q = (ex[1:] / ex[:-1]) ** (1.0 / np.diff(T))
    out = Outcome(facts={"rho*^2": rho2, "per-layer factor at alpha*": np.round(q, 4).tolist()})
    out.comparisons.append(bound("CA at alpha*: largest per-layer factor", float(q.max()), "le",
                                 rho2 * 1.05, "rho*^2 (+5%): the minimax rate"))
    bayes = float(c["bayes"][0])
    last = c["ca_trained_excess_inf"][np.argmax(T)]
    out.comparisons.append(bound(f"trained CA at T={int(T.max())}: excess / Bayes risk",
                                 float(last / bayes), "le", 1e-10, "reaches the Bayes risk"))
    out.comparisons.append(bound("one-layer LSA: excess / Bayes risk",
                                 float(c["lsa_excess_inf"][0] / bayes), "ge", 0.01,
                                 "a fixed gap that depth does not close"))
    return out


def check_two_param(data, quick: bool) -> Outcome:
    """Every GD trajectory ends within 5% of the line ``beta = -alpha`` (relative distance
    ``|alpha + beta| / alpha``; the starts are at 1 and 5); the optimum's distance decreases with
    ``T`` and is below 1e-3 at the largest depth."""
    c = _cols(data)
    out = Outcome()
    tr = c["kind"] == "trajectory"
    for T in np.unique(c["T"]):
        for k in np.unique(c["init"][tr]):
            s = np.flatnonzero(tr & (c["T"] == T) & (c["init"] == k))
            i = s[np.argmax(c["iteration"][s])]
            d = abs(c["alpha"][i] + c["beta"][i]) / c["alpha"][i]
            out.comparisons.append(bound(f"T={T}, start {k}: final |alpha + beta| / alpha", d,
                                         "le", 0.05, "reaches the line (starts at 1 or 5)"))
    opt = np.flatnonzero(c["kind"] == "optimum")
    opt = opt[np.argsort(c["T"][opt])]
    dist = np.abs(c["alpha"][opt] + c["beta"][opt]) / c["alpha"][opt]
    out.facts["optimum |alpha + beta| / alpha by T"] = dict(zip(c["T"][opt].tolist(),
                                                                dist.tolist()))
    out.comparisons.append(bound("optimum: largest increase of the distance with T",
                                 float(np.max(np.diff(dist))), "le", 0.0, "moves onto the line"))
    out.comparisons.append(bound(f"optimum at T={c['T'][opt][-1]}: distance", float(dist[-1]),
                                 "le", 1e-3, "on the line at depth"))
    return out
