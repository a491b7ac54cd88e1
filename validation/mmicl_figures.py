"""Claim checks of the ``mmicl-*`` figures (Huang et al. 2026, arXiv:2601.20796).

Each ``check_<figure>(data, quick) -> Outcome`` asserts the figure's one-sentence claim on the
figure's own table and metadata; the figure declares it, so it runs when the figure is written and
as ``iclc verify mmicl.figure.<name>``.  "Reaching ICL" is the criterion of ``docs/mmicl.md``
(final ICL accuracy >= 0.5, well above the copy baseline 0.273 of L = 32, B = 2); accuracies carry
binomial standard errors (4 of them in the one-sided comparisons).
"""

from __future__ import annotations

import numpy as np

from icl_companion.validation.checks import Outcome, bound

__all__ = ["check_pe", "check_asymmetry", "check_circuits", "check_knockout", "ICL_REACHED", "HIGH_ICL"]

#: final ICL accuracy counted as "reached ICL" (as in ``mmicl.rope_threshold``)
ICL_REACHED = 0.5


def _cols(data) -> dict:
    return {k: np.asarray(v) for k, v in data.columns.items()}


def check_pe(data, quick: bool) -> Outcome:
    """For both schemes, ICL at the largest K above the copy baseline by 4 standard errors; the
    smallest K reaching ICL (>= 0.5) is larger for RoPE than for APE (RoPE's threshold is
    ``inf`` when no K of the grid reaches it)."""
    c = _cols(data)
    copy = data.meta["copy_baseline"]
    out = Outcome()
    thr = {}
    for pos in ("ape", "rope"):
        s = c["pos"] == pos
        K, ic, se = c["K"][s], c["IC"][s], c["IC_se"][s]
        i = int(np.argmax(K))
        out.comparisons.append(bound(f"{pos}: ICL at K={int(K[i])} minus the copy baseline",
                                     float(ic[i] - copy), "ge", 4 * float(se[i]),
                                     f"4 binomial standard errors ({se[i]:.2g})"))
        reached = K[ic >= ICL_REACHED]
        thr[pos] = float(reached.min()) if reached.size else float("inf")
    out.facts["smallest K with ICL >= 0.5"] = thr
    out.comparisons.append(bound("log2 K threshold: RoPE minus APE",
                                 float(np.log2(thr["rope"]) - np.log2(thr["ape"])), "ge", 1.0,
                                 "RoPE needs more classes (next grid point or beyond)"))
    return out


#: "high ICL" of the pretrained decoder at K2 = 256 (the paper's few hundred classes)
HIGH_ICL = 0.9


def check_asymmetry(data, quick: bool) -> Outcome:
    """At equal stage-2 budget: the pretrained decoder's ICL at K2 = 256 is >= 0.9 and above
    early fusion's at every K2 by 4 standard errors of the difference; at the smallest K2 early
    fusion's IWL is above the pretrained decoder's (it memorises)."""
    c = _cols(data)
    s = c["panel"] == "vs K2"
    out = Outcome()
    get = {}
    for init in ("pretrained", "early fusion"):
        t = s & (c["init"] == init)
        get[init] = {int(k): (ic, se, iw, iws) for k, ic, se, iw, iws in
                     zip(c["K2"][t], c["IC"][t], c["IC_se"][t], c["IW"][t], c["IW_se"][t])}
    pre, ef = get["pretrained"], get["early fusion"]
    if 256 in pre:
        out.comparisons.append(bound("pretrained: ICL at K2=256", float(pre[256][0]), "ge",
                                     HIGH_ICL, "high ICL at a few hundred classes"))
    for K2 in sorted(pre):
        gap = pre[K2][0] - ef[K2][0]
        se = float(np.hypot(pre[K2][1], ef[K2][1]))
        out.comparisons.append(bound(f"K2={K2}: ICL pretrained minus early fusion", float(gap),
                                     "ge", 4 * se, f"4 standard errors ({se:.2g})"))
    k0 = min(pre)
    se = float(np.hypot(pre[k0][3], ef[k0][3]))
    out.comparisons.append(bound(f"K2={k0}: IWL early fusion minus pretrained",
                                 float(ef[k0][2] - pre[k0][2]), "ge", 4 * se,
                                 f"early fusion memorises: 4 standard errors ({se:.2g})"))
    return out


#: attention mass that makes a head "a previous-token head" (labels on their own item) or "an
#: induction head" (query on the labels of matching items): the majority of the row
HEAD_MASS = 0.5
#: Pearson correlation of IndStrength_2 and ICL over training counted as "rising together"
CORRELATION = 0.9


def check_circuits(data, quick: bool) -> Outcome:
    """Layer 1: every label row puts on average >= 0.5 of its attention on the item just before
    it; layer 2: the query row puts >= 0.5 on the labels whose item matches the query; over
    training, Pearson r(IndStrength_2, ICL) >= 0.9."""
    c = _cols(data)
    ex = data.meta["example"]
    N = len(ex["labels"])
    T = 2 * N + 1
    A = {}
    for layer in (1, 2):
        s = (c["panel"] == "attention") & (c["layer"] == layer)
        M = np.zeros((T, T))
        M[c["row"][s].astype(int), c["col"][s].astype(int)] = c["value"][s].astype(float)
        A[layer] = M
    prev = float(np.mean([A[1][2 * i + 1, 2 * i] for i in range(N)]))
    match = [2 * i + 1 for i, hit in enumerate(ex["match"]) if hit]
    ind = float(A[2][T - 1, match].sum()) if match else float("nan")
    t = c["panel"] == "training"
    series = {n: c["value"][t & (c["name"] == n)].astype(float) for n in ("IC", "ind_2")}
    r = float(np.corrcoef(series["IC"], series["ind_2"])[0, 1])
    out = Outcome(facts={"matching labels": len(match), "Pearson r(IndStrength_2, ICL)": r})
    out.comparisons.append(bound("layer 1: mean attention of a label to its own item", prev,
                                 "ge", HEAD_MASS, "a previous-token head (majority)"))
    out.comparisons.append(bound("layer 2: query attention on the matching labels", ind, "ge",
                                 HEAD_MASS, "an induction head (majority)"))
    out.comparisons.append(bound("Pearson r(IndStrength_2, ICL) over training", r, "ge",
                                 CORRELATION, "rising together"))
    return out


def check_knockout(data, quick: bool) -> Outcome:
    """Every model: ICL with the PH or the IH knocked out at most the copy baseline + 4 standard
    errors; every stage-2 model: one zeroed modality at most the copy baseline + 4 s.e. (the
    modality it reads), the other within 0.05 + 4 s.e. of the full model (costs little)."""
    c = _cols(data)
    m = data.meta
    out = Outcome()
    for k, model in enumerate(dict.fromkeys(c["model"].tolist())):
        tag = "stage1" if k == 0 else "stage2"
        copy = m[f"copy_baseline_{tag}"]
        s = c["model"] == model
        row = {n: (float(a), float(e)) for n, a, e in zip(c["condition"][s], c["acc"][s],
                                                          c["se"][s])}
        for cond in ("PH knocked out (layer 1)", "IH knocked out (layer 2)"):
            a, e = row[cond]
            out.comparisons.append(bound(f"{model}: {cond}", a, "le", copy, "the copy "
                                         f"baseline (+4 s.e.)", 4 * e))
        if "M1 zeroed" in row:
            (a1, e1), (a2, e2) = row["M1 zeroed"], row["M2 zeroed"]
            read, other = ("M1", "M2") if a1 < a2 else ("M2", "M1")
            out.facts[f"{model}: modality read"] = read
            a, e = row[f"{read} zeroed"]
            out.comparisons.append(bound(f"{model}: {read} zeroed (the modality it reads)", a,
                                         "le", copy, "the copy baseline (+4 s.e.)", 4 * e))
            a, e = row[f"{other} zeroed"]
            full, fe = row["full"]
            out.comparisons.append(bound(f"{model}: {other} zeroed minus full", a - full, "ge",
                                         -0.05, "costs little: 0.05 (+4 s.e.)",
                                         4 * float(np.hypot(e, fe))))
    return out
