"""Readable value labels on heatmap cells (shared by the heatmap figures)."""
from __future__ import annotations

import numpy as np


def annotate_cells(ax, M, fmt="{:.2f}", vmax: float | None = None, fontsize: float = 6,
                   dark: float = 0.6) -> None:
    """Write each entry of ``M`` at its cell of an ``imshow`` on a diverging map centred at 0.

    Cells whose colour is saturated (``|v| > dark * vmax``) get white text, the others black, so
    the numbers stay legible on the dark ends of ``RdBu_r``.  ``fmt`` is a format string or a
    callable ``v -> str``.
    """
    M = np.asarray(M, dtype=float)
    vmax = float(np.abs(M).max()) if vmax is None else float(vmax)
    label = fmt if callable(fmt) else fmt.format
    for (i, j), v in np.ndenumerate(M):
        ax.text(j, i, label(v), ha="center", va="center", fontsize=fontsize,
                color="white" if vmax > 0 and abs(v) > dark * vmax else "black")
