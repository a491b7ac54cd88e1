import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from icl_companion.figures.annotate import annotate_cells  # noqa: E402


def test_annotate_cells_text_and_contrast():
    M = np.array([[3.0, -0.5], [0.0, -2.9]])
    fig, ax = plt.subplots()
    try:
        ax.imshow(M, cmap="RdBu_r", vmin=-3, vmax=3)
        annotate_cells(ax, M, "{:.1f}", vmax=3.0)
        got = {(t.get_position(), t.get_text()): t.get_color() for t in ax.texts}
    finally:
        plt.close(fig)
    # one label per cell at (column, row); white only where the colour is saturated
    assert got == {((0, 0), "3.0"): "white", ((1, 0), "-0.5"): "black",
                   ((0, 1), "0.0"): "black", ((1, 1), "-2.9"): "white"}
