"""Figure registry and runner: compute (cached table) -> plot (PNG + PDF) -> files.

A figure is two functions registered with :func:`figure`:

* ``compute(quick: bool, seed: int) -> FigureData``: all the numbers, as a tidy table
  (``columns``: name -> equal-length sequence) plus ``meta`` (parameters, sizes, notes such as
  "reconstructed model" or "quick mode: 2k steps").  It must not plot.
* ``plot(data: FigureData) -> matplotlib.figure.Figure``: only drawing, from ``data``.

:func:`make` caches ``compute`` on disk (keyed by name, mode, seed, package version and the project's
source), then writes ``NAME.png``, ``NAME.pdf``, ``NAME.csv`` (the plotted data) and
``NAME.json`` (meta + provenance) atomically into the output folder.

Figures live in the one registry type (:class:`icl_companion.theory.registry.Registry`, layer
``figures``) under the id ``<prefix>.<name>``; their file names (and the name shown by
``iclc figure list``) write the first dot as a dash, ``<prefix>-<name>``, and either form is
accepted.  A paper adds a figure by defining it in a module ``figures/<prefix>_<name>.py``.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from icl_companion.theory.registry import Reference, Registry

__all__ = ["FigureData", "Figure", "FIGURES", "REGISTRY", "figure", "load_figures", "get_figure",
           "make", "style_path", "NONCONVERGED_NOTE"]
NONCONVERGED_NOTE = "points whose solver did not converge are omitted and counted in the caption"


@dataclass
class FigureData:
    """The data behind a figure: a tidy table and its metadata."""

    columns: dict
    meta: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        from icl_companion.numerics.io import table_rows

        return table_rows(self.columns)


@dataclass(eq=False)
class Figure:
    id: str  # <prefix>.<name>
    description: str
    compute: Callable[[bool, int], FigureData]
    plot: Callable[[FigureData], Any]
    requires: tuple = ()
    reference: Reference | None = None

    def __post_init__(self):
        if self.reference is None:
            self.reference = Reference(self.id.partition(".")[0])

    @property
    def name(self) -> str:
        """File name stem and CLI name: the id with its first dot written as a dash."""
        return figure_name(self.id)


def figure_id(name: str) -> str:
    """``aim-softmax`` or ``aim.softmax`` -> ``aim.softmax``."""
    return name if "." in name else name.replace("-", ".", 1)


def figure_name(id: str) -> str:
    return id.replace(".", "-", 1)


REGISTRY: Registry[Figure] = Registry("figure", ("figures",), "iclc figure list")
FIGURES = REGISTRY.entries  # id -> Figure (filled as papers are loaded)


def figure(name: str, description: str, compute: Callable, plot: Callable,
           requires: Sequence[str] = (), reference: Reference | None = None) -> Figure:
    """Register a figure named ``<prefix>-<name>`` (id ``<prefix>.<name>``)."""
    return REGISTRY.add(Figure(figure_id(name), description, compute, plot, tuple(requires),
                               reference))


def load_figures() -> dict[str, Figure]:
    """Every paper's figures, by file name (``aim-softmax``)."""
    REGISTRY.load()
    return {f.name: f for f in REGISTRY.all()}


def get_figure(name: str) -> Figure:
    """The figure ``name`` (``aim-softmax`` or ``aim.softmax``), loading only its paper."""
    try:
        return REGISTRY.get(figure_id(name))
    except ValueError:
        avail = ", ".join(f.name for f in REGISTRY.all())
        raise ValueError(f"unknown figure {name!r}; available: {avail} or all") from None


def style_path() -> Path:
    """The project's matplotlib style file, shipped with the package."""
    return Path(__file__).with_name("icl.mplstyle")


def _missing(fig: Figure) -> list[str]:
    import importlib.util

    return [m for m in fig.requires if importlib.util.find_spec(m) is None]


def make(name: str, quick: bool = False, out_dir: str | Path = "out/figures", seed: int = 0,
         use_cache: bool = True) -> dict:
    """Compute (or load from cache), plot and write one figure; return a summary record."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from icl_companion.numerics.cache import cached
    from icl_companion.numerics.io import atomic_write, write_csv, write_json
    from icl_companion.theory._meta import provenance

    fig = get_figure(name)
    name = fig.name
    missing = _missing(fig)
    if missing:
        raise ModuleNotFoundError(f"figure {name} needs {', '.join(missing)}: "
                                  f"pip install 'icl-companion[validation]'")
    t0 = time.perf_counter()
    key = {"figure": name, "quick": quick, "seed": seed}
    if use_cache:  # keyed on the whole project source: the figure depends on every layer
        data = cached("figures", key, lambda: fig.compute(quick, seed))
    else:
        data = fig.compute(quick, seed)
    t_compute = time.perf_counter() - t0
    out = Path(out_dir)
    with plt.style.context(str(style_path())):
        mfig = fig.plot(data)
        for ext in ("png", "pdf"):
            buf = io.BytesIO()
            mfig.savefig(buf, format=ext)
            with atomic_write(out / f"{name}.{ext}", "wb") as f:
                f.write(buf.getvalue())
        plt.close(mfig)
    write_csv(out / f"{name}.csv", data.rows())
    meta = dict(data.meta)
    meta.update(provenance(figure=name, quick=quick, seed=seed,
                           compute_seconds=round(t_compute, 3)))
    write_json(out / f"{name}.json", meta)
    return {"figure": name, "seconds": time.perf_counter() - t0, "out": str(out)}
