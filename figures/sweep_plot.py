"""Plots of catalogue sweeps (:class:`~icl_companion.numerics.sweep.SweepResult`).

One swept input: the output against it, points that failed or did not converge marked (never
drawn as values); two: a heat map of the output over the grid (failed cells blank and counted in
the title).  Axis labels use the papers' symbols (matplotlib mathtext).
"""

from __future__ import annotations

import base64
import io

import numpy as np

from icl_companion.theory.display import mathtext

__all__ = ["plot_sweep", "save_sweep_plot", "png_base64"]


def _numeric(sweep, y):
    names = sweep.outputs()
    if y is None:
        y = names[0]
    elif y not in names:
        raise ValueError(f"y = {y!r} is not an output of {sweep.result_id}; outputs: "
                         f"{', '.join(names)}")
    vals = np.array([row.get(y, np.nan) if isinstance(row.get(y), (int, float)) else np.nan
                     for row in sweep.rows], dtype=float)
    ok = np.array([row["status"] == "ok" for row in sweep.rows])
    return y, vals, ok


def plot_sweep(sweep, y: str | None = None, ax=None):
    """Draw ``sweep`` on ``ax`` (a new figure when None); returns the Axes."""
    import matplotlib.pyplot as plt

    axes = sweep.axes
    if len(axes) not in (1, 2):
        raise ValueError(f"a sweep plot shows one or two swept inputs; {sweep.result_id} sweeps "
                         f"{len(axes)} ({', '.join(axes)}): select a slice with "
                         f"to_xarray().sel(...)")
    y, vals, ok = _numeric(sweep, y)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.2), layout="constrained")
    n_bad = int((~ok).sum())
    if len(axes) == 1:
        x = np.array([row[axes[0]] for row in sweep.rows], dtype=float)
        ax.plot(x, np.where(ok, vals, np.nan), "-", lw=1.4, color="C0",
                label=sweep.result_id)
        if n_bad:
            ax.plot(x[~ok], np.zeros(n_bad), "x", color="C3", transform=ax.get_xaxis_transform(),
                    clip_on=False, label=f"{n_bad} failed / not converged")
            ax.legend(fontsize=7)
        if sweep.meta.get("axes", [{}])[0].get("log"):
            ax.set_xscale("log")
        ax.set(xlabel=mathtext(axes[0]), ylabel=mathtext(y))
    else:
        a0 = list(dict.fromkeys(row[axes[0]] for row in sweep.rows))
        a1 = list(dict.fromkeys(row[axes[1]] for row in sweep.rows))
        grid = np.where(ok, vals, np.nan).reshape(len(a0), len(a1))
        m = ax.pcolormesh(np.asarray(a1, float), np.asarray(a0, float), grid, shading="nearest")
        ax.figure.colorbar(m, ax=ax, label=mathtext(y))
        ax.set(xlabel=mathtext(axes[1]), ylabel=mathtext(axes[0]))
    fixed = ", ".join(f"{mathtext(k)}$={v:g}$" for k, v in sweep.meta.get("fixed", {}).items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool))
    title = sweep.result_id + (f"  ({fixed})" if fixed else "")
    if n_bad and len(axes) == 2:
        title += f"  [{n_bad} failed]"
    ax.set_title(title, fontsize=8)
    return ax


def save_sweep_plot(sweep, path, y: str | None = None) -> str:
    """Write the plot of ``sweep`` as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from icl_companion.numerics.io import atomic_write

    ax = plot_sweep(sweep, y=y)
    with atomic_write(path, "wb") as f:
        ax.figure.savefig(f, format="png", dpi=150)
    plt.close(ax.figure)
    return str(path)


def png_base64(sweep, y: str | None = None) -> str:
    """A small PNG of the plot, base64-encoded (for an HTML display)."""
    import matplotlib.pyplot as plt

    ax = plot_sweep(sweep, y=y)
    ax.figure.set_size_inches(3.6, 2.5)
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=80)
    plt.close(ax.figure)
    return base64.b64encode(buf.getvalue()).decode()
