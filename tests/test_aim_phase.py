"""Figure aim-phase: grids through the sweep machinery, both starts, non-converged cells kept."""

import numpy as np

from icl_companion.figures import aim_phase
from icl_companion.figures.registry import FigureData
from icl_companion.numerics.sweep import Axis


def _cols():
    return {k: [] for k in ("panel", "variant", "x", "y", "mmse", "mmse_informed", "status",
                            "converged", "hysteresis")}


def test_grid_rows_from_both_starts(monkeypatch):
    monkeypatch.setattr(aim_phase, "_workers", lambda: 1)
    cols = _cols()
    info = aim_phase._grid("aim.mmse", {"T": 2, "channel": "softmax"},
                           [Axis("rho", 0.2, 2.0, 2, log=True), Axis("alpha", 0.0, 0.3, 3)],
                           "alpha", "rho", "a", cols)
    assert info["cells"] == 6 and info["not_converged"] == 0 and info["hysteresis_cells"] == 0
    m, mi = np.array(cols["mmse"]), np.array(cols["mmse_informed"])
    assert np.allclose(m, mi, atol=1e-6) and m[0] == 1.0      # alpha = 0: prior mean
    assert all(s == "ok" for s in cols["status"])


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
    assert "not converged (hatched): 1" in fig._suptitle.get_text()
    import matplotlib.pyplot as plt

    plt.close(fig)
