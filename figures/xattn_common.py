"""Shared settings of the ``xattn-*`` figures (reconstructed model of arXiv:2602.04872).

Not a figure itself: it holds the task families, the caption note every figure must carry, and
small helpers used by several figures (population training over depths).
"""

from __future__ import annotations

import numpy as np

from icl_companion.numerics.xattn_data import TaskFamily

RECON_NOTE = ("reconstructed model: latent-factor ICL and linearized CA rebuilt from the abstract "
              "and summaries of Barnfield, Sen, Sur (arXiv:2602.04872); not the paper's own figure")
M_LO, M_HI = 1.0, 3.0
MULTI = TaskFamily("random_loadings", d1=3, d2=2, k=2, m_lo=M_LO, m_hi=M_HI, sigma2=0.25)
FIXED_UNI = TaskFamily("fixed_direction", m_lo=M_LO, m_hi=M_HI)
FIXED_TWO = TaskFamily("fixed_direction", m_lo=M_LO, m_hi=M_HI, dist="two_point")


def family_text(fam: TaskFamily) -> str:
    """The task family in words and mathtext (for captions)."""
    if fam.kind == "fixed_direction":
        return (f"fixed direction, $d_1 = d_2 = {fam.d1}$, $g_2$ {fam.dist} on "
                f"[{fam.m_lo:g}, {fam.m_hi:g}], $\\tau^2 = {fam.tau2:g}$, "
                f"$\\sigma^2 = {fam.sigma2:g}$")
    return (f"random loadings, $d_1 = {fam.d1}$, $d_2 = {fam.d2}$, $k = {fam.k}$, spectrum of "
            f"$\\Gamma^\\top\\Gamma$ {fam.dist} on [{fam.m_lo:g}, {fam.m_hi:g}], "
            f"$\\tau^2 = {fam.tau2:g}$, $\\sigma^2 = {fam.sigma2:g}$")


def plot_caption(fig, text: str) -> None:
    """Caption under the panels, always ending with the reconstructed-model note (a ``plot*``
    helper: not part of the work units' cache keys)."""
    from icl_companion.figures.layout import caption

    caption(fig, text + " Reconstructed model: latent-factor ICL and linearized CA rebuilt from "
                        "the abstract of arXiv:2602.04872, not the paper's own figure.")


def col(data, name):
    return np.asarray(data.columns[name])
