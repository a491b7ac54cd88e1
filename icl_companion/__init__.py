"""icl-companion: the Python API.

>>> import icl_companion as icl
>>> icl.evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1, eta=0.9).value  # doctest: +ELLIPSIS
0.2416...

* :func:`results`, :func:`get`, :func:`evaluate`: the results catalogue (``iclc list/show/eval``);
* :func:`sweep`: grids with warm starts and process/Dask executors (``iclc sweep``);
* :func:`verify`: theory-versus-simulation checks (``iclc verify``);
* :func:`make_figure`: regenerate a figure (``iclc figure``).
"""

from icl_companion.theory._meta import version as _version
from icl_companion.theory.registry import evaluate, get, results

__version__ = _version()
__all__ = ["evaluate", "get", "results", "sweep", "verify", "make_figure", "__version__"]


def sweep(result_id: str, fixed: dict | None = None, workers: int | None = None,
          scheduler: str | None = None, chunk: int = 8, **ranges):
    """Sweep ``result_id``; ranges as ``name="start:stop:num[:log]"`` or ``name=(start, stop, num)``.

    Returns a :class:`icl_companion.numerics.sweep.SweepResult` (``.rows``, ``.column(name)``, ``.meta``).
    """
    from icl_companion.numerics.sweep import Axis, parse_axis, run_sweep

    axes = [parse_axis(k, v) if isinstance(v, str) else Axis(k, *v) for k, v in ranges.items()]
    return run_sweep(result_id, fixed or {}, axes, workers=workers, scheduler=scheduler,
                     chunk=chunk, progress=False)


def verify(*selectors: str, quick: bool = True, seed: int = 0):
    """Run verification checks (all, a paper prefix or ids); returns a list of reports."""
    from icl_companion.validation.checks import run

    return run(selectors, quick=quick, seed=seed)


def make_figure(name: str, quick: bool = True, out_dir: str = "out/figures", seed: int = 0,
                workers: int | None = None, scheduler: str | None = None,
                device: str | None = None):
    """Regenerate figure ``name`` into ``out_dir`` (PNG, PDF, CSV, JSON).

    Its work units run on ``workers`` local processes (default: all cores; ``1``: in this
    process) or on the Dask scheduler at ``scheduler``; ``device`` (``"cpu"``/``"cuda"``) is
    used by torch units.  Finished units are cached, so an interrupted call resumes.
    """
    from icl_companion.figures.registry import make

    return make(name, quick=quick, out_dir=out_dir, seed=seed, workers=workers,
                scheduler=scheduler, device=device, progress=False)
