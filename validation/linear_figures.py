"""Claim checks of the ``linear-*`` figures: each asserts the figure's claim on its own data.

A check is a function ``check(data, quick) -> Outcome`` of the figure's table (``data.columns``)
and metadata (``data.meta``), declared with the figure (``figure(..., check=...)``), run when the
figure is written and by ``iclc verify linear.figure.<name>``.  Tolerances are Monte Carlo standard
errors (4 of them), as in :mod:`icl_companion.validation.linear`.
"""

from __future__ import annotations

import math

import numpy as np

from icl_companion.validation.checks import Outcome, bound, compare

__all__ = ["check_linear_baselines"]


def check_linear_baselines(data, quick: bool) -> Outcome:
    """Exact risks (GD at eta*, ZFB LSA in both settings) within 4 MC standard errors of the Monte
    Carlo points; the Bayes ridge Monte Carlo risk below that of GD at eta* at every L (by more
    than 4 standard errors of the difference, independent streams)."""
    c = {k: np.asarray(v) for k, v in data.columns.items()}
    out = Outcome(facts={"prompts_per_point": data.meta["prompts_per_point"]})
    exact = ("GD at eta*", "ZFB LSA (trained noiseless)", "ZFB LSA, anisotropic")
    for i in np.flatnonzero(np.isin(c["method"], exact)):
        out.comparisons.append(compare(f"{c['method'][i]}, L={int(c['L'][i])}: exact vs MC",
                                       c["theory"][i], c["mc"][i], c["mc_se"][i]))
    bayes = (c["panel"] == "noisy") & (c["method"] == "Bayes (ridge)")
    gd = (c["panel"] == "noisy") & (c["method"] == "GD at eta*")
    for L in c["L"][bayes]:
        b, g = bayes & (c["L"] == L), gd & (c["L"] == L)
        gap = float(c["mc"][g][0] - c["mc"][b][0])
        se = math.hypot(c["mc_se"][g][0], c["mc_se"][b][0])
        out.comparisons.append(bound(
            f"L={int(L)}: MC risk of GD at eta* minus Bayes ridge", gap, "ge", 4 * se,
            f"4 standard errors of the difference ({se:.2g})"))
    return out
