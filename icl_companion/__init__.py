"""icl-companion: the Python API.

>>> import icl_companion as icl
>>> icl.evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1, eta=0.9).value  # doctest: +ELLIPSIS
0.2416...

* :func:`results`, :func:`get`, :func:`evaluate`: the results catalogue (``iclc list/show/eval``);
  ``icl.results.aim.mmse`` and ``icl.get("aim.<TAB>")`` complete in IPython;
* :func:`sweep`: grids with warm starts and process/Dask executors (``iclc sweep``);
* :func:`verify`: theory-versus-simulation checks (``iclc verify``);
* :func:`make_figure`: regenerate a figure (``iclc figure``).
"""

from icl_companion.theory._meta import version as _version
from icl_companion.theory.registry import evaluate, get, results as _results

__version__ = _version()


class _Results:
    """``icl.results()`` (all results, or ``icl.results("aim")``), ``icl.results["aim.mmse"]`` and
    ``icl.results.aim.mmse``: the catalogue, with tab completion of ids in IPython."""

    def __init__(self):
        from icl_companion.theory.papers import builtin_papers

        for p in builtin_papers():  # real attributes: completers see them without evaluation
            setattr(self, p.prefix, _PaperResults(p.prefix))

    def __call__(self, paper: str | None = None):
        return _results(paper)

    def __getitem__(self, id: str):
        return get(id)

    def _ipython_key_completions_(self):
        from icl_companion.completion import result_ids

        return result_ids()

    def __getattr__(self, prefix: str):
        from icl_companion.theory.papers import papers

        if prefix.startswith("_") or prefix not in papers():
            raise AttributeError(prefix)
        return _PaperResults(prefix)

    def __dir__(self):
        from icl_companion.theory.papers import papers

        return list(papers())

    def __repr__(self):
        return "<icl_companion results catalogue: icl.results(), icl.results.aim.mmse>"


class _PaperResults:
    def __init__(self, prefix: str):
        self._prefix = prefix

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return get(f"{self._prefix}.{name}")
        except ValueError as e:
            raise AttributeError(str(e)) from None

    def __dir__(self):
        from icl_companion.theory.registry import listing

        return [i.partition(".")[2] for i, _, _ in listing(self._prefix)]

    def __repr__(self):
        return f"<results of paper {self._prefix!r}: {', '.join(self.__dir__())}>"


results = _Results()
try:  # tab completion of ids in get("...") when imported in IPython / Jupyter
    from icl_companion.completion import register_ipython as _register_ipython

    _register_ipython()
except Exception:  # pragma: no cover - never break the import over an editor convenience
    pass
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
    """Run verification checks (all, a paper prefix or ids); returns a list of reports
    (:class:`~icl_companion.validation.checks.Reports`, a pass/fail table in Jupyter)."""
    from icl_companion.validation.checks import Reports, run

    return Reports(run(selectors, quick=quick, seed=seed))


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
