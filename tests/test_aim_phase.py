"""Figure aim-phase: grids through the sweep machinery, both starts, non-converged cells kept."""

import numpy as np

from icl_companion.figures import aim_phase
from icl_companion.figures.registry import FigureData


def _cols():
    return {k: [] for k in ("panel", "variant", "x", "y", "mmse", "mmse_informed", "status",
                            "converged", "hysteresis")}


def test_grid_rows_from_both_starts():
    """One row of panel (a) from each start (the figure's work unit): the sweep machinery's
    statuses, the prior mean at alpha = 0, and the two starts agree (no hysteresis here)."""
    rows = {init: aim_phase.grid_row("aim.mmse", {"T": 2, "channel": "softmax", "rho": 0.2},
                                     ["alpha", 0.0, 0.3, 3, False], init)
            for init in aim_phase.STARTS}
    assert len(rows) == 2
    (u, i) = rows.values()
    assert u["x"] == i["x"] == [0.0, 0.15, 0.3]
    assert all(s == "ok" for r in rows.values() for s in r["status"])
    assert u["mmse"][0] == 1.0                               # alpha = 0: prior mean
    assert np.allclose(u["mmse"], i["mmse"], atol=1e-6)


def test_plot_marks_nonconverged_and_hysteresis_cells():
    cols = _cols()
    for panel in "abcd":
        for i, x in enumerate((0.1, 0.2, 0.3)):
            for j, y in enumerate((2.0, 3.0) if panel == "b" else (0.1, 1.0)):
                bad = panel == "a" and i == 1 and j == 0
                for k, v in (("panel", panel), ("variant", ""), ("x", x), ("y", y),
                             ("mmse", np.nan if bad else 0.5), ("mmse_informed", 0.5),
                             ("status", "not-converged" if bad else "ok"),
                             ("converged", not bad), ("hysteresis", panel == "c" and i == 2)):
                    cols[k].append(v)
    grids = {p: {"cells": 6, "not_converged": int(p == "a"), "hysteresis_cells": int(p == "c")}
             for p in "abcd"}
    t = {"slope_active": -4.0, "order": 2}
    meta = {"mode": "test", "grids": grids, "rho_T_panel": 0.5,
            "weak_recovery": {"correct": 0.40, "paper": 0.56},
            "transition": {"softmax rho=0.5 T=2": t}}
    fig = aim_phase.plot(FigureData(cols, meta))
    text = " ".join(fig._supxlabel.get_text().split())  # the caption, wrapped
    assert "not converged (hatched grey): 1;" in text and "(red outline): 1." in text
    import matplotlib.pyplot as plt

    plt.close(fig)
