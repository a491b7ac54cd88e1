"""Figure registry and runner: work units (cached, on a pool or a cluster) -> reduce -> plot -> files.

A figure declares its computation as independent **work units** and a **reduce** step:

* ``units(quick: bool, seed: int) -> list[Unit]``: each :class:`Unit` is a module-level function
  called with explicit inputs only (``Unit.args``; plus, for a unit that ``needs`` others, their
  results): one state-evolution curve, one GAMP instance, one training run of one seed...  It
  returns plain data (a dict of numbers, strings, lists and NumPy arrays) and never plots.
* ``reduce(quick, seed, results) -> FigureData``: assembles the tidy table (``columns``: name ->
  equal-length sequence) and ``meta`` from ``results`` (unit name -> result).  It must be cheap.
* ``plot(data: FigureData) -> matplotlib.figure.Figure``: only drawing, from ``data``.

A figure written with today's single ``compute(quick, seed) -> FigureData`` still registers with
``figure(name, description, compute, plot)``: it runs as one unit.

:func:`make_figures` runs the units of one or several figures through
:mod:`icl_companion.numerics.executor` (a local process pool, ``workers`` processes, or a Dask
cluster), longest expected chain first, each unit cached on its own (:mod:`icl_companion.numerics.cache`:
data only, checksummed) under a key made of its function, its inputs, the keys of the units it
needs, the device of a torch unit, the package version and a hash of the code of the modules it
imports (:func:`icl_companion.numerics.cache.module_closure_hash`): editing one paper's module leaves
every other paper's cached units valid, and a run killed at any moment recomputes only the units
that had not finished.  The cached value is what the reduce step sees, on a hit as on a miss, so
the CSV is the same bytes whatever the backend and the worker count.  Each unit's wall time is
stored with it (and in a timing log) for :func:`dry_run`'s estimates.  Then ``NAME.png``,
``NAME.pdf``, ``NAME.csv`` (the plotted data) and ``NAME.json`` (meta + provenance, backend,
device, unit counts) are written atomically into the output folder.

Each figure states its **claim** (one sentence, shown as the figure's title, by ``iclc figure
list`` and in the docs tables), declares the **columns** of its CSV (:class:`Column`: meaning,
symbol, unit or normalisation, sentinel values, and whether the cells are numbers or labels; written
to ``NAME.json`` under ``columns``), and may declare a **check**: a function of the figure's own
data that asserts the claim numerically (``check(data, quick) -> Outcome``), run when the figure is
written (its result goes to ``NAME.json``) and registered in ``iclc verify`` as
``<prefix>.figure.<name>``.  Every CSV cell of a numeric column is a plain number (``nan``/``inf``
spelled so), every drawn figure passes :func:`icl_companion.figures.layout.audit` (no legend over
data, no plain-text Greek, legible fonts, one- or two-column width; problems are printed as
warnings and recorded), and the JSON records the provenance: git commit, source hash, library
versions, command line, wall and CPU time, threads per unit, device.

Figures live in the one registry type (:class:`icl_companion.theory.registry.Registry`, layer
``figures``) under the id ``<prefix>.<name>``; their file names (and the name shown by
``iclc figure list``) write the first dot as a dash, ``<prefix>-<name>``, and either form is
accepted.  A paper adds a figure by defining it in a module ``figures/<prefix>_<name>.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from icl_companion.theory.registry import Reference, Registry

__all__ = ["FigureData", "Figure", "Unit", "Column", "FIGURES", "REGISTRY", "figure",
           "load_figures", "get_figure", "make", "make_figures", "figure_data", "dry_run",
           "estimate_seconds", "format_seconds", "render", "style_path", "NONCONVERGED_NOTE", "UNITS_KIND", "COLUMN_KINDS"]
NONCONVERGED_NOTE = "points whose solver did not converge are omitted and counted in the caption"
UNITS_KIND = "units"          # cache folder of the work units
_TIMES = "unit-times.json"    # last measured wall time of each unit, whatever the code version


@dataclass
class FigureData:
    """The data behind a figure: a tidy table and its metadata."""

    columns: dict
    meta: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        from icl_companion.numerics.io import table_rows

        return table_rows(self.columns)


COLUMN_KINDS = ("float", "int", "flag", "text")


@dataclass(frozen=True)
class Column:
    """One column of a figure's CSV.

    Attributes
    ----------
    meaning : str
        What the column holds, in words (``"state-evolution MMSE"``).
    symbol : str
        Its symbol in the paper's notation (Unicode or mathtext), if any.
    unit : str
        Unit or normalisation (``"relative to E||S||^2"``, ``"Adam steps"``), if any.
    sentinels : str
        Values with a special meaning (``"-1: not a trajectory row"``, ``"nan: divergent"``).
    kind : str
        ``"float"`` (written as a float), ``"int"``, ``"flag"`` (``1``/``0``) or ``"text"`` (a
        label: panel, method, series).
    """

    meaning: str
    symbol: str = ""
    unit: str = ""
    sentinels: str = ""
    kind: str = "float"

    def __post_init__(self):
        if self.kind not in COLUMN_KINDS:
            raise ValueError(f"column kind must be one of {', '.join(COLUMN_KINDS)}, "
                             f"got {self.kind!r}")
        if not self.meaning:
            raise ValueError("a column needs its meaning")

    def as_dict(self) -> dict:
        return {"meaning": self.meaning, "symbol": self.symbol, "unit": self.unit,
                "sentinels": self.sentinels, "type": self.kind}


def _cell_text(name: str, kind: str, v: Any) -> str:
    """The CSV text of one cell of a column of ``kind`` (``TypeError`` for anything else)."""
    import numbers

    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        v = v.item()
    if kind == "text":
        if not isinstance(v, str):
            raise TypeError(f"column {name!r} (text): cell {v!r} is not a string")
        return v
    if isinstance(v, bool):
        if kind != "flag":
            raise TypeError(f"column {name!r} ({kind}): cell {v!r} is a flag")
        return "1" if v else "0"
    if not isinstance(v, numbers.Real):
        raise TypeError(f"column {name!r} ({kind}): cell {v!r} is not a number")
    if kind == "flag":
        if v not in (0, 1):
            raise TypeError(f"column {name!r} (flag): cell {v!r} is not 0 or 1")
        return str(int(v))
    if kind == "int":
        if not float(v).is_integer():
            raise TypeError(f"column {name!r} (int): cell {v!r} is not an integer")
        return str(int(v))
    f = float(v)
    return "nan" if math.isnan(f) else repr(f)


def _infer_kind(values: Sequence[Any]) -> str:
    import numbers

    vals = [v.item() if hasattr(v, "item") and getattr(v, "ndim", 1) == 0 else v for v in values]
    if vals and all(isinstance(v, bool) for v in vals):
        return "flag"
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in vals):
        return "float"
    return "text"


def table_csv(columns: Mapping[str, Sequence[Any]], declared: Mapping[str, Column] | None
              ) -> tuple[str, dict]:
    """The CSV text of a figure's table and the JSON description of its columns.

    With ``declared`` columns, the table must have exactly those columns and each cell must be of
    its column's kind (``ValueError``/``TypeError`` otherwise: a bug of the figure).  A figure that
    declares none (a plug-in written before columns were declared) gets inferred kinds and
    ``"meaning": "not documented"``.
    """
    import csv

    names = list(columns)
    if declared:
        missing = [n for n in declared if n not in columns]
        extra = [n for n in names if n not in declared]
        if missing or extra:
            raise ValueError(f"table columns do not match the declaration: missing {missing}, "
                             f"undeclared {extra}")
        kinds = {n: declared[n].kind for n in names}
        doc = {n: declared[n].as_dict() for n in names}
    else:
        kinds = {n: _infer_kind(columns[n]) for n in names}
        doc = {n: Column("not documented", kind=kinds[n]).as_dict() for n in names}
    lengths = {len(columns[n]) for n in names}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: { {n: len(columns[n]) for n in names} }")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for i in range(lengths.pop() if lengths else 0):
        w.writerow([_cell_text(n, kinds[n], columns[n][i]) for n in names])
    return buf.getvalue(), doc


@dataclass(frozen=True)
class Unit:
    """One independent piece of a figure's computation: ``func(**args, **needed)``.

    Attributes
    ----------
    name : str
        Unique within the figure, e.g. ``"gd/T=2/abar=0.1/rep=0"``; the part before the first
        ``=`` is the unit's group (used by the cost estimates).
    func : callable
        A module-level function (workers import it by name); a pure function of its arguments.
    args : dict
        Explicit JSON inputs (numbers, strings, lists, dicts).
    needs : dict
        ``argument name -> name of another unit of the figure`` whose result is passed as that
        argument (e.g. a stage-2 training run needs the stage-1 decoder).
    fields : tuple of str
        Keys the result dict must have: a cached value without them is recomputed.
    torch : bool
        The unit trains or evaluates torch models: it receives ``device=`` (``--device``).
    cost : float
        A-priori cost in seconds (quick mode, one core), used only to order the work (longest
        chains first) and for estimates until a measured time exists.
    code : str, optional
        Module whose import closure keys the unit (default: ``func``'s module).
    """

    name: str
    func: Callable
    args: Mapping = field(default_factory=dict)
    needs: Mapping = field(default_factory=dict)
    fields: tuple = ()
    torch: bool = False
    cost: float = 1.0
    code: str | None = None

    @property
    def group(self) -> str:
        """The name up to its first ``=``: units that differ only in a value (``gd/T=2/...``,
        ``gd/T=3/...``) share a group, whose median time estimates its unmeasured units."""
        return self.name.partition("=")[0]


@dataclass(eq=False)
class Figure:
    id: str  # <prefix>.<name>
    description: str
    compute: Callable[[bool, int], FigureData] | None
    plot: Callable[[FigureData], Any]
    requires: tuple = ()
    reference: Reference | None = None
    units: Callable[[bool, int], list] | None = None
    reduce: Callable[[bool, int, dict], FigureData] | None = None
    claim: str = ""
    columns: Mapping[str, Column] | None = None
    check: Callable[[FigureData, bool], Any] | None = None

    def __post_init__(self):
        if self.reference is None:
            self.reference = Reference(self.id.partition(".")[0])
        if self.columns is not None:
            bad = [k for k, v in self.columns.items() if not isinstance(v, Column)]
            if bad:
                raise TypeError(f"figure {self.id}: columns {bad} must be Column(...)")
        if (self.units is None) != (self.reduce is None) or \
                (self.units is None) == (self.compute is None):
            raise ValueError(f"figure {self.id}: give either compute, or units and reduce")

    @property
    def name(self) -> str:
        """File name stem and CLI name: the id with its first dot written as a dash."""
        return figure_name(self.id)

    @property
    def reproduces(self) -> str:
        """The paper figure this reproduces, from its reference: the cited figure numbers where
        the sources give them, else what the reference says."""
        import re

        ref = self.reference
        figs = [c for c in (ref.where, *ref.cites) if re.search(r"\bFig(ure)?s?\b|\bfigure", c)]
        if figs:  # the paper's own figure numbers (ref.where) get the paper's name
            return "; ".join(f"{ref.source.short}, {c}" if c == ref.where else c for c in figs)
        if ref.where:
            return f"{ref.source.short}, {ref.where}"
        return f"new figure ({ref.derivation or ref.source.short})"

    @property
    def check_id(self) -> str:
        """Identifier of the claim check in ``iclc verify``: ``<prefix>.figure.<name>``."""
        prefix, _, rest = self.id.partition(".")
        return f"{prefix}.figure.{rest}"

    def work(self, quick: bool, seed: int) -> list[Unit]:
        """The figure's units (one ``compute`` unit for a figure without declared units)."""
        if self.units is None:
            return [Unit("compute", _whole_figure, {"figure": self.id, "quick": quick,
                                                   "seed": seed},
                         fields=("columns", "meta"), torch="torch" in self.requires,
                         code=self.compute.__module__)]
        units = list(self.units(quick, seed))
        names = [u.name for u in units]
        if len(set(names)) != len(names):
            raise ValueError(f"figure {self.id}: duplicate unit names")
        for u in units:
            missing = [n for n in u.needs.values() if n not in names]
            if missing:
                raise ValueError(f"figure {self.id}: unit {u.name} needs unknown {missing}")
        return units

    def assemble(self, quick: bool, seed: int, results: dict) -> FigureData:
        if self.reduce is None:
            r = results["compute"]
            return FigureData(r["columns"], r["meta"])
        return self.reduce(quick, seed, results)


def _whole_figure(figure: str, quick: bool, seed: int, device: str | None = None) -> dict:
    """The single unit of a figure that declares one monolithic ``compute``."""
    from icl_companion.numerics.io import _json_default

    data = get_figure(figure).compute(quick, seed)
    cols = {k: [x.item() if hasattr(x, "item") else x for x in v]
            for k, v in data.columns.items()}
    return {"columns": cols, "meta": json.loads(json.dumps(data.meta, default=_json_default))}


def figure_id(name: str) -> str:
    """``aim-softmax`` or ``aim.softmax`` -> ``aim.softmax``."""
    return name if "." in name else name.replace("-", ".", 1)


def figure_name(id: str) -> str:
    return id.replace(".", "-", 1)


REGISTRY: Registry[Figure] = Registry("figure", ("figures",), "iclc figure list")
FIGURES = REGISTRY.entries  # id -> Figure (filled as papers are loaded)


def figure(name: str, description: str, compute: Callable | None = None,
           plot: Callable | None = None, requires: Sequence[str] = (),
           reference: Reference | None = None, *, units: Callable | None = None,
           reduce: Callable | None = None, claim: str = "",
           columns: Mapping[str, Column] | None = None,
           check: Callable[[FigureData, bool], Any] | None = None) -> Figure:
    """Register a figure named ``<prefix>-<name>`` (id ``<prefix>.<name>``): either
    ``compute`` (one unit) or ``units`` and ``reduce``; and ``plot``.

    ``claim``: the one sentence the figure shows; ``columns``: its CSV columns (:class:`Column`);
    ``check(data, quick) -> Outcome``: asserts the claim on the figure's data (registered in
    ``iclc verify`` as ``<prefix>.figure.<name>``).
    """
    if plot is None:
        raise ValueError(f"figure {name}: plot is required")
    fig = REGISTRY.add(Figure(figure_id(name), description, compute, plot, tuple(requires),
                              reference, units, reduce, claim, columns, check))
    if check is not None:
        _register_check(fig)
    return fig


def _register_check(fig: Figure) -> None:
    """The figure's claim check as an ``iclc verify`` check (validation's registry)."""
    from icl_companion.validation.checks import REGISTRY as CHECKS, Check

    def run(quick: bool, seed: int):
        return fig.check(figure_data(fig.name, quick=quick, seed=seed), quick)

    run.__name__ = f"claim_{fig.name.replace('-', '_')}"
    CHECKS.add(Check(fig.check_id, f"figure {fig.name}: {fig.claim or fig.description}", run,
                     fig.requires, True, fig.reference))


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


# ------------------------------------------------------------------------------------- planning
@dataclass
class _Job:
    """A unit of one figure with its cache key (``key_hash``); equal key_hashes are computed once."""

    figure: str
    unit: Unit
    key_hash: str
    timing_key: str
    kwargs: dict
    needs: dict  # argument -> key_hash


def _func_name(f: Callable) -> str:
    return f"{f.__module__}:{f.__qualname__}"


def _plan(fig: Figure, quick: bool, seed: int, device: str | None,
          units: list[Unit] | None = None) -> list[_Job]:
    from icl_companion.numerics.cache import cache_key, module_closure_hash

    units = fig.work(quick, seed) if units is None else units
    by_name = {u.name: u for u in units}
    key_hashes: dict[str, str] = {}

    def key_hash(u: Unit) -> str:
        if u.name not in key_hashes:
            key = {"func": _func_name(u.func), "args": dict(u.args),
                   "needs": {a: key_hash(by_name[n]) for a, n in sorted(u.needs.items())},
                   "device": device if u.torch else None}
            key_hashes[u.name] = cache_key(key, code=module_closure_hash(u.code or u.func.__module__))
        return key_hashes[u.name]

    jobs = []
    for u in units:
        tkey = json.dumps({"func": _func_name(u.func), "args": dict(u.args),
                           "needs": dict(u.needs), "device": device if u.torch else None},
                          sort_keys=True, default=repr)
        kwargs = dict(u.args)
        if u.torch:
            kwargs["device"] = device
        jobs.append(_Job(fig.name, u, key_hash(u), hashlib.sha256(tkey.encode()).hexdigest()[:24],
                         kwargs, {a: key_hash(by_name[n]) for a, n in u.needs.items()}))
    return jobs


def _check_result(unit: Unit, value: Any) -> Any:
    if not isinstance(value, dict):
        raise TypeError(f"unit {unit.name}: expected a dict, got {type(value).__name__}")
    missing = [k for k in unit.fields if k not in value]
    if missing:
        raise KeyError(f"unit {unit.name}: missing {missing}")
    return value


def _times_path() -> Path:
    from icl_companion.numerics.cache import cache_dir

    return cache_dir() / _TIMES


def _read_times() -> dict:
    try:
        t = json.loads(_times_path().read_text())
        return {k: float(v) for k, v in t.items() if isinstance(v, (int, float))} \
            if isinstance(t, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_times(new: dict) -> None:
    from icl_companion.numerics.cache import enabled
    from icl_companion.numerics.io import write_json

    if not new or not enabled():
        return
    t = _read_times()
    t.update({k: round(v, 4) for k, v in new.items()})
    try:
        write_json(_times_path(), t)
    except OSError:  # timings only feed estimates: never fail a run for them
        pass


def _estimates(jobs: Sequence[_Job], times: dict) -> dict[str, tuple[float, str]]:
    """``timing_key -> (seconds, how)``: measured, the median of the unit's measured group, or
    the unit's a-priori cost."""
    groups: dict = {}
    for j in jobs:
        if j.timing_key in times:
            groups.setdefault((j.figure, j.unit.group), []).append(times[j.timing_key])
    out = {}
    for j in jobs:
        if j.timing_key in times:
            out[j.timing_key] = (times[j.timing_key], "measured")
        elif (j.figure, j.unit.group) in groups:
            out[j.timing_key] = (statistics.median(groups[(j.figure, j.unit.group)]),
                                 "group median")
        else:
            out[j.timing_key] = (float(j.unit.cost), "a-priori")
    return out


# ------------------------------------------------------------------------------------ execution
def _resolve_device(device: str | None, needed: bool, remote: bool = False) -> str | None:
    """The device of the torch units: checked here for local execution; on a Dask cluster the
    workers check it (this machine may have no GPU when they do), and the default is the CPU."""
    if device is not None and device not in ("cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda, got {device!r}")
    if not needed:
        return device
    if remote:
        return device or "cpu"
    try:
        from icl_companion.validation.mmicl_train import check_device, default_device
    except ImportError:
        if device == "cuda":
            raise ValueError("--device cuda needs torch: pip install "
                             "'icl-companion[validation]'") from None
        return device or "cpu"
    return check_device(device) if device is not None else default_device()


class _Runner:
    """Runs jobs on a backend, longest chain first, storing each result as it arrives."""

    def __init__(self, jobs: Sequence[_Job], refresh: bool, progress: bool, desc: str):
        from icl_companion.numerics import cache

        self.cache = cache
        self.jobs = {}
        for j in jobs:  # one job per key_hash (figures share units)
            self.jobs.setdefault(j.key_hash, j)
        self.refresh = refresh
        self.results: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.from_cache: set[str] = set()
        self.new_times: dict[str, float] = {}
        self.progress, self.desc = progress, desc
        self._times_written = time.monotonic()

    def load_cached(self) -> None:
        if not self.cache.enabled():
            return
        # temporary files of writes that a kill interrupted (an hour old: not a live writer's)
        for part in (self.cache.cache_dir() / UNITS_KIND).glob(".*.part"):
            try:
                if time.time() - part.stat().st_mtime > 3600:
                    part.unlink()
            except OSError:
                pass
        if self.refresh:
            return
        for d, j in self.jobs.items():
            hit, value, meta = self.cache.load(
                UNITS_KIND, d, decode=lambda v, u=j.unit: _check_result(u, v),
                what=f"{j.figure}: unit {j.unit.name}")
            if hit:
                self.results[d] = value
                self.from_cache.add(d)
                s, c = meta.get("seconds"), meta.get("cpu_seconds")
                self.seconds[d] = float(s) if isinstance(s, (int, float)) else math.nan
                self.cpu[d] = float(c) if isinstance(c, (int, float)) else math.nan

    def _store(self, job: _Job, value: Any, secs: float, cpu: float, device: str | None
               ) -> None:
        meta = {"figure": job.figure, "unit": job.unit.name, "func": _func_name(job.unit.func),
                "seconds": secs, "cpu_seconds": cpu,
                "device": device if job.unit.torch else None,
                "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            if self.cache.enabled():
                data = self.cache.store(UNITS_KIND, job.key_hash, value, meta)
            else:  # the same round trip, so that the reduce step sees the same values
                data = self.cache.store_roundtrip(value)
        except TypeError as e:
            raise TypeError(f"unit {job.figure}: {job.unit.name} returned data the cache cannot "
                            f"hold: {e}") from None
        self.results[job.key_hash] = _check_result(job.unit, data)
        self.seconds[job.key_hash] = secs
        self.cpu[job.key_hash] = cpu
        self.new_times[job.timing_key] = secs

    def run(self, backend, device: str | None, on_result: Callable[[str], None]) -> None:
        import concurrent.futures as cf

        from tqdm.auto import tqdm

        from icl_companion.numerics.executor import timed_call

        todo = [d for d in self.jobs if d not in self.results]
        est = _estimates(list(self.jobs.values()), _read_times())
        children: dict[str, list] = {d: [] for d in self.jobs}
        for d in todo:
            for up in self.jobs[d].needs.values():
                children[up].append(d)
        path: dict[str, float] = {}

        def chain(d):  # expected seconds from the start of d to the end of its longest chain
            if d not in path:
                path[d] = est[self.jobs[d].timing_key][0] + max(
                    (chain(c) for c in children[d]), default=0.0)
            return path[d]

        waiting = set(todo)
        for d in list(self.results):
            on_result(d)
        bar = tqdm(total=len(todo), disable=not self.progress, desc=self.desc, unit="unit",
                   smoothing=0.05)
        running: dict = {}

        def ready():
            r = [d for d in waiting if all(u in self.results for u in self.jobs[d].needs.values())]
            return sorted(r, key=lambda d: (-chain(d), d))

        def kwargs(d):
            j = self.jobs[d]
            return {**j.kwargs, **{a: self.results[u] for a, u in j.needs.items()}}

        try:
            while waiting or running:
                if backend.executor is None:
                    d = ready()[0]
                    waiting.discard(d)
                    value, secs, cpu = timed_call(self.jobs[d].unit.func, kwargs(d))
                    self._finish(d, value, secs, cpu, device, on_result, bar)
                    continue
                for d in ready()[:max(0, backend.slots - len(running))]:
                    waiting.discard(d)
                    running[backend.executor.submit(timed_call, self.jobs[d].unit.func,
                                                    kwargs(d))] = d
                if not running:
                    raise RuntimeError("work units wait for each other (a cycle in 'needs')")
                done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
                for f in done:
                    d = running.pop(f)
                    value, secs, cpu = f.result()
                    self._finish(d, value, secs, cpu, device, on_result, bar)
        except BaseException:
            for f in running:
                f.cancel()
            raise
        finally:
            bar.close()
            _write_times(self.new_times)

    def _finish(self, d, value, secs, cpu, device, on_result, bar) -> None:
        self._store(self.jobs[d], value, secs, cpu, device)
        bar.update(1)
        if time.monotonic() - self._times_written > 30:  # a killed run keeps most timings
            _write_times(self.new_times)
            self._times_written = time.monotonic()
        on_result(d)


def render(fig: Figure, data: FigureData) -> tuple[dict, list]:
    """Draw ``data`` in the project style, with the figure's claim as its title; return the PNG
    and PDF bytes and the readability problems found by
    :func:`icl_companion.figures.layout.audit` (empty when none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from icl_companion.figures.layout import audit, headline

    with plt.style.context(str(style_path())):
        mfig = fig.plot(data)
        try:
            if fig.claim:
                headline(mfig, fig.claim)
            files = {}
            for ext in ("png", "pdf"):
                buf = io.BytesIO()
                with _quiet_font_subsetting():
                    mfig.savefig(buf, format=ext, metadata=_file_metadata(ext))
                files[ext] = buf.getvalue()
            problems = audit(mfig)
        finally:
            plt.close(mfig)
    return files, problems


@contextlib.contextmanager
def _quiet_font_subsetting():
    """fontTools' warnings while the PDF backend subsets fonts, held back.

    Subsetting some of matplotlib's bundled fonts logs "'created' timestamp seems very low" (a
    font header dated before 1970, which fontTools then reads as a Unix time): it says nothing
    about the figure, and printed it interleaves with ``iclc figure``'s own output.  Errors still
    pass.
    """
    log = logging.getLogger("fontTools")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _file_metadata(ext: str) -> dict:
    # no creation date in the files: the same data gives the same bytes
    return {"Software": None} if ext == "png" else {"Creator": None, "Producer": None,
                                                      "CreationDate": None}


def run_claim_check(fig: Figure, data: FigureData, quick: bool) -> dict | None:
    """The figure's claim check on its data, as a JSON record (``None`` if it declares none)."""
    if fig.check is None:
        return None
    try:
        out = fig.check(data, quick)
    except Exception as e:  # a crashing check is a failed check, with its reason
        return {"id": fig.check_id, "status": "error", "comparisons": [],
                "notes": [f"{type(e).__name__}: {e}"]}
    return {"id": fig.check_id, "status": "passed" if out.ok() else "failed",
            "comparisons": [c.line() for c in out.comparisons],
            "facts": json.loads(json.dumps(out.facts, default=str)), "notes": list(out.notes)}


def _write_outputs(fig: Figure, data: FigureData, out: Path, meta_extra: dict,
                   quick: bool) -> list[str]:
    """Write ``NAME.png, .pdf, .csv, .json``; return the problems to report (readability, a
    failed claim check)."""
    from icl_companion.numerics.io import atomic_write, write_json, write_text
    from icl_companion.theory._meta import provenance

    c0 = time.process_time()
    csv_text, columns_doc = table_csv(data.columns, fig.columns)
    files, problems = render(fig, data)
    claim = run_claim_check(fig, data, quick)
    if claim is not None and claim["status"] != "passed":
        problems = problems + [f"claim check {claim['id']} {claim['status']}: "
                               + "; ".join([c for c in claim["comparisons"]
                                            if c.startswith("FAIL")] + claim["notes"])]
    for ext, content in files.items():
        with atomic_write(out / f"{fig.name}.{ext}", "wb") as f:
            f.write(content)
    write_text(out / f"{fig.name}.csv", csv_text)
    meta = {"claim": fig.claim, "reproduces": fig.reproduces, "reference": str(fig.reference)}
    meta.update(data.meta)
    meta["columns"] = columns_doc
    meta["claim_check"] = claim
    meta["readability_problems"] = problems
    extra = dict(meta_extra)
    extra["cpu_seconds"] = dict(extra.get("cpu_seconds", {}),
                                this_process_reduce_plot=round(time.process_time() - c0, 3))
    meta.update(provenance(**extra))
    write_json(out / f"{fig.name}.json", meta)
    return problems


def make_figures(names: Sequence[str], quick: bool = False, out_dir: str | Path = "out/figures",
                 seed: int = 0, use_cache: bool = True, workers: int | None = None,
                 scheduler: str | None = None, device: str | None = None,
                 progress: bool | None = None, report: Callable[[dict], None] | None = None,
                 write: bool = True) -> list[dict]:
    """Compute (or load) the units of several figures on one backend, then reduce, plot and write
    each figure as soon as its units are done; return one summary record per figure.

    ``workers``: local processes (default: all cores; ``1``: serially in this process);
    ``scheduler``: a Dask scheduler address (overrides ``workers``); ``device``: ``"cpu"`` or
    ``"cuda"`` for the torch units (default: cuda when available; NumPy units ignore it);
    ``use_cache=False`` recomputes every unit (and overwrites its cache entry); ``report`` is
    called with each figure's record when its files are written.  ``write=False``: no files; each
    record holds the figure's ``data`` (:func:`figure_data`).  A record's ``problems`` lists the
    readability problems of the drawn figure and a failed claim check (none for a good figure).
    """
    import concurrent.futures as cf
    import threading

    from icl_companion.numerics.executor import check_workers, open_backend

    check_workers(workers)
    figs = []
    for n in names:
        fig = get_figure(n)
        missing = _missing(fig)
        if missing:
            raise ModuleNotFoundError(f"figure {fig.name} needs {', '.join(missing)}: "
                                      f"pip install 'icl-companion[validation]'")
        figs.append(fig)
    t0, c0 = time.perf_counter(), time.process_time()
    plans = {}
    for fig in figs:
        plans[fig.name] = fig.work(quick, seed)
    needs_torch = any(u.torch for units in plans.values() for u in units)
    dev = _resolve_device(device, needs_torch, remote=bool(scheduler))
    jobs = {fig.name: _plan(fig, quick, seed, dev, plans[fig.name]) for fig in figs}
    all_jobs = [j for js in jobs.values() for j in js]
    if progress is None:
        progress = sys.stderr.isatty()
    runner = _Runner(all_jobs, refresh=not use_cache, progress=progress,
                     desc="figures" if len(figs) > 1 else figs[0].name)
    runner.load_cached()
    n_todo = len({j.key_hash for j in all_jobs} - set(runner.results))
    out = _writable_dir(out_dir)
    records: dict[str, tuple] = {}   # name -> (record, future of its drawing or None)
    remaining = {name: {j.key_hash for j in js} for name, js in jobs.items()}
    run_info = {"backend": "cache", "workers": 0, "t0": t0, "c0": c0}
    lock = threading.Lock()

    def written(rec: dict, fut) -> None:
        # runs where the drawing finished (a pool's result thread, or the drawing thread); a
        # failed drawing is re-raised by _done
        if fut.cancelled() or fut.exception() is not None:
            return
        rec["problems"] = fut.result()
        rec["seconds"] = time.perf_counter() - run_info["t0"]
        if report is not None:
            with lock:
                report(rec)

    def on_result(d: str) -> None:
        for fig in figs:
            left = remaining.get(fig.name)
            if left is None or d not in left:
                continue
            left.discard(d)
            if left:
                continue
            del remaining[fig.name]
            rec, data, extra = _finish_figure(fig, jobs[fig.name], runner, quick, seed, out,
                                              dev, run_info, write)
            if not write:
                records[fig.name] = (rec, None)
                continue
            # drawing (a few seconds a figure) runs on the local workers when there are any, so
            # that the figures finishing together at the end are drawn in parallel, else on one
            # background thread; this thread goes on handing out units meanwhile
            ex = draw_pool[0] if draw_pool else drawer
            fut = ex.submit(_draw_and_write, fig.name, data, out, extra, quick)
            fut.add_done_callback(lambda f, rec=rec: written(rec, f))
            records[fig.name] = (rec, fut)

    draw_pool: list = []
    with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="iclc-draw") as drawer:
        try:
            # several figures are drawn on the local pool (those finishing together at the end
            # in parallel); one figure is drawn here, where matplotlib is already loaded
            n_draw = len(figs) if write and len(figs) > 1 else 0
            if n_draw:
                # forked workers inherit matplotlib and the drawing helpers instead of each
                # importing them
                import matplotlib

                matplotlib.use("Agg")
                import matplotlib.pyplot  # noqa: F401

                import icl_companion.figures.layout  # noqa: F401
            if n_todo:
                # the local pool also draws: sized for the units or the figures, whichever more
                backend = open_backend(workers, scheduler, n_tasks=max(n_todo, n_draw))
                run_info.update(backend=backend.name, workers=backend.slots)
            else:  # everything cached: only drawing
                backend = open_backend(workers, None, n_tasks=n_draw or 1)
            if n_draw and backend.name.startswith("processes"):
                draw_pool.append(backend.executor)
            with backend:
                if n_todo:
                    runner.run(backend, dev, on_result)
                else:
                    for d in list(runner.results):
                        on_result(d)
                _wait_drawn(records)
        except BaseException:
            drawer.shutdown(wait=True, cancel_futures=True)
            raise
    return [_done(records[f.name]) for f in figs]


def _done(item: tuple) -> dict:
    """The record of ``(record, future of its drawing or None)``, after the drawing (whose
    failure it re-raises)."""
    rec, fut = item
    if fut is not None:
        fut.result()
    return rec


def _wait_drawn(records: dict) -> None:
    import concurrent.futures as cf

    futs = [fut for _, fut in records.values() if fut is not None]
    for f in cf.as_completed(futs):
        f.result()


def _draw_and_write(name: str, data: FigureData, out: Path, extra: dict, quick: bool) -> list:
    """Draw and write one figure (:func:`_write_outputs`); a module-level function, so that a
    worker process can run it.  Returns the problems to report."""
    return _write_outputs(get_figure(name), data, out, extra, quick)


def _finish_figure(fig: Figure, jobs: list, runner: _Runner, quick: bool, seed: int, out: Path,
                   device: str | None, run_info: dict, write: bool) -> tuple:
    """``(record, data, extra)`` of a figure whose units are done: its table (the reduce step)
    and the metadata :func:`_write_outputs` adds to its JSON."""
    from icl_companion.numerics.executor import THREADS_PER_UNIT

    results = {j.unit.name: runner.results[j.key_hash] for j in jobs}
    data = fig.assemble(quick, seed, results)
    n_cached = sum(j.key_hash in runner.from_cache for j in jobs)
    torch_units = any(j.unit.torch for j in jobs)
    rec = {"figure": fig.name, "out": str(out), "units": len(jobs), "from_cache": n_cached,
           "device": device if torch_units else "cpu", "problems": []}
    if not write:
        rec.update(data=data, seconds=time.perf_counter() - run_info["t0"])
        return rec, data, None

    def total(values):
        v = [x for x in values if math.isfinite(x)]
        return round(math.fsum(v), 3), len(values) - len(v)

    secs, _ = total([runner.seconds.get(j.key_hash, math.nan) for j in jobs])
    cpu_all, cpu_unknown = total([runner.cpu.get(j.key_hash, math.nan) for j in jobs])
    cpu_new, _ = total([runner.cpu.get(j.key_hash, math.nan) for j in jobs
                        if j.key_hash not in runner.from_cache])
    extra = {"figure": fig.name, "quick": quick, "seed": seed, "device": rec["device"],
             "backend": run_info["backend"] if n_cached < len(jobs) else "cache",
             "units": {"total": len(jobs), "from_cache": n_cached,
                       "computed": len(jobs) - n_cached, "unit_seconds_sum": secs},
             # wall time from the start of the run to this figure's last unit (with several
             # figures on one backend, they finish at different times)
             "wall_seconds": round(time.perf_counter() - run_info["t0"], 3),
             "cpu_seconds": {"units_computed_in_this_run": cpu_new,
                             "all_units_when_computed": cpu_all,
                             "units_without_a_cpu_time": cpu_unknown,
                             "this_process_so_far": round(time.process_time() - run_info["c0"],
                                                          3)},
             "threads": {"per_unit": THREADS_PER_UNIT,
                         "what": "BLAS/OpenMP and torch intra-op threads of each unit",
                         "workers": run_info["workers"]},
             **({"torch_deterministic": True} if torch_units else {})}
    return rec, data, extra


def figure_data(name: str, quick: bool = True, seed: int = 0, workers: int | None = None,
                scheduler: str | None = None, device: str | None = None,
                progress: bool | None = False) -> FigureData:
    """The data of figure ``name`` (its units from the cache, or computed), without drawing or
    writing anything: what its claim check reads."""
    return make_figures([name], quick, seed=seed, workers=workers, scheduler=scheduler,
                        device=device, progress=progress, write=False)[0]["data"]


def _writable_dir(out_dir: str | Path) -> Path:
    """``out_dir``, created if missing; refused with ``ValueError`` (before any computation) when
    it cannot be created or written, so that a bad ``--out`` costs nothing."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise ValueError(f"--out must be a writable folder; cannot write to {out}: "
                         f"{e.strerror or e}") from None
    return out


def make(name: str, quick: bool = False, out_dir: str | Path = "out/figures", seed: int = 0,
         use_cache: bool = True, workers: int | None = None, scheduler: str | None = None,
         device: str | None = None, progress: bool | None = None) -> dict:
    """Compute (or load from the cache), plot and write one figure; return a summary record."""
    return make_figures([name], quick, out_dir, seed, use_cache, workers, scheduler, device,
                        progress)[0]


# -------------------------------------------------------------------------------------- dry run
def dry_run(names: Sequence[str], quick: bool = False, seed: int = 0, device: str | None = None,
            workers: int | None = None, scheduler: str | None = None) -> str:
    """What :func:`make_figures` would do: every unit, whether it is cached, and the estimated
    cost of the missing ones (measured unit times where known)."""
    from icl_companion.numerics.executor import check_workers, default_workers

    check_workers(workers)
    figs = [get_figure(n) for n in names]
    plans = {f.name: f.work(quick, seed) for f in figs}
    needs_torch = any(u.torch for units in plans.values() for u in units)
    dev = _resolve_device(device, needs_torch, remote=bool(scheduler))
    planned, metas, times = _planned(figs, plans, quick, seed, dev)
    lines = []
    slots = workers or default_workers()
    tot_missing, tot_units, tot_secs = 0, 0, 0.0
    seen: set = set()
    for fig in figs:
        jobs = planned[fig.name]
        est = _estimates(jobs, times)
        rows, n_cached, secs, how = [], 0, 0.0, {}
        for j in jobs:
            meta = metas[j.key_hash]
            if meta is not None:
                n_cached += 1
                s = meta.get("seconds")
                rows.append(f"  cached   {j.unit.name:<44} "
                            + (f"{s:9.2f} s" if isinstance(s, (int, float)) else ""))
                continue
            s, h = est[j.timing_key]
            if j.key_hash in seen:
                h = "shared: counted above"
            else:
                secs += s
            how[h] = how.get(h, 0) + 1
            seen.add(j.key_hash)
            rows.append(f"  missing  {j.unit.name:<44} {s:9.2f} s  ({h})")
        n = len(jobs)
        tot_missing += n - n_cached
        tot_units += n
        tot_secs += secs
        basis = ", ".join(f"{v} {k}" for k, v in how.items()) or "nothing to compute"
        dev_txt = f", device {dev}" if any(u.torch for u in plans[fig.name]) else ""
        lines.append(f"{fig.name} ({'quick' if quick else 'full'}, seed {seed}{dev_txt}): {n} "
                     f"units, {n_cached} cached, {n - n_cached} to compute; estimated "
                     f"{format_seconds(secs)} of unit time ({basis})")
        lines += rows
    if len(figs) > 1:
        lines.append(f"total: {tot_units} units, {tot_missing} to compute, estimated "
                     f"{format_seconds(tot_secs)} of unit time")
    if scheduler:
        lines.append(f"estimated wall time: {format_seconds(tot_secs)} divided by the number of "
                     f"threads of the cluster at {scheduler} (at best)")
    else:
        lines.append(f"estimated wall time on {slots} local worker(s): about "
                     f"{format_seconds(tot_secs / slots)} (at best)")
    return "\n".join(lines)


def _planned(figs: Sequence[Figure], plans: dict, quick: bool, seed: int, dev: str | None):
    """``(jobs per figure, cache metadata per key_hash, unit times)``: the measured times of the
    timing log, completed by those stored with cached entries."""
    from icl_companion.numerics import cache

    times = _read_times()
    metas = {}
    planned = {fig.name: _plan(fig, quick, seed, dev, plans[fig.name]) for fig in figs}
    for fig in figs:  # cached entries carry their measured times: they inform the estimates
        for j in planned[fig.name]:
            meta = cache.peek_meta(UNITS_KIND, j.key_hash) if cache.enabled() else None
            metas[j.key_hash] = meta
            if meta is not None and isinstance(meta.get("seconds"), (int, float)):
                times.setdefault(j.timing_key, float(meta["seconds"]))
    return planned, metas, times


def estimate_seconds(name: str, quick: bool, seed: int = 0, device: str | None = None) -> dict:
    """Estimated unit time of a figure (the dry run's estimates), one core: ``total`` (every
    unit), ``remaining`` (units not cached), ``basis`` (how many units are measured, estimated
    from their group or a-priori).  ``device`` defaults to the CPU (no torch import)."""
    fig = get_figure(name)
    plans = {fig.name: fig.work(quick, seed)}
    dev = device or ("cpu" if any(u.torch for u in plans[fig.name]) else None)
    planned, metas, times = _planned([fig], plans, quick, seed, dev)
    jobs = planned[fig.name]
    est = _estimates(jobs, times)
    total = remaining = 0.0
    basis: dict = {}
    for j in {j.key_hash: j for j in jobs}.values():
        secs, how = est[j.timing_key]
        total += secs
        basis[how] = basis.get(how, 0) + 1
        if metas[j.key_hash] is None:
            remaining += secs
    return {"total": total, "remaining": remaining, "units": len(jobs), "basis": basis}


def format_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"
