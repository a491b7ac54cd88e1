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

__all__ = ["check_pe", "check_asymmetry", "ICL_REACHED", "HIGH_ICL"]

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
