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

Figures live in the one registry type (:class:`icl_companion.theory.registry.Registry`, layer
``figures``) under the id ``<prefix>.<name>``; their file names (and the name shown by
``iclc figure list``) write the first dot as a dash, ``<prefix>-<name>``, and either form is
accepted.  A paper adds a figure by defining it in a module ``figures/<prefix>_<name>.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from icl_companion.theory.registry import Reference, Registry

__all__ = ["FigureData", "Figure", "Unit", "FIGURES", "REGISTRY", "figure", "load_figures",
           "get_figure", "make", "make_figures", "dry_run", "style_path", "NONCONVERGED_NOTE",
           "UNITS_KIND"]
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

    def __post_init__(self):
        if self.reference is None:
            self.reference = Reference(self.id.partition(".")[0])
        if (self.units is None) != (self.reduce is None) or \
                (self.units is None) == (self.compute is None):
            raise ValueError(f"figure {self.id}: give either compute, or units and reduce")

    @property
    def name(self) -> str:
        """File name stem and CLI name: the id with its first dot written as a dash."""
        return figure_name(self.id)

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
           reduce: Callable | None = None) -> Figure:
    """Register a figure named ``<prefix>-<name>`` (id ``<prefix>.<name>``): either
    ``compute`` (one unit) or ``units`` and ``reduce``; and ``plot``."""
    if plot is None:
        raise ValueError(f"figure {name}: plot is required")
    return REGISTRY.add(Figure(figure_id(name), description, compute, plot, tuple(requires),
                               reference, units, reduce))


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
                s = meta.get("seconds")
                self.seconds[d] = float(s) if isinstance(s, (int, float)) else math.nan

    def _store(self, job: _Job, value: Any, secs: float, device: str | None) -> None:
        meta = {"figure": job.figure, "unit": job.unit.name, "func": _func_name(job.unit.func),
                "seconds": secs, "device": device if job.unit.torch else None,
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
        self.new_times[job.timing_key] = secs

    def run(self, backend, device: str | None, on_result: Callable[[str], None]) -> None:
        import concurrent.futures as cf

        from tqdm.auto import tqdm

        from icl_companion.numerics.executor import pinned_call

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
                    value, secs = pinned_call(self.jobs[d].unit.func, kwargs(d))
                    self._finish(d, value, secs, device, on_result, bar)
                    continue
                for d in ready()[:max(0, backend.slots - len(running))]:
                    waiting.discard(d)
                    running[backend.executor.submit(pinned_call, self.jobs[d].unit.func,
                                                    kwargs(d))] = d
                if not running:
                    raise RuntimeError("work units wait for each other (a cycle in 'needs')")
                done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
                for f in done:
                    d = running.pop(f)
                    value, secs = f.result()
                    self._finish(d, value, secs, device, on_result, bar)
        except BaseException:
            for f in running:
                f.cancel()
            raise
        finally:
            bar.close()
            _write_times(self.new_times)

    def _finish(self, d, value, secs, device, on_result, bar) -> None:
        self._store(self.jobs[d], value, secs, device)
        bar.update(1)
        if time.monotonic() - self._times_written > 30:  # a killed run keeps most timings
            _write_times(self.new_times)
            self._times_written = time.monotonic()
        on_result(d)


def _write_outputs(fig: Figure, data: FigureData, out: Path, meta_extra: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from icl_companion.numerics.io import atomic_write, write_csv, write_json
    from icl_companion.theory._meta import provenance

    with plt.style.context(str(style_path())):
        mfig = fig.plot(data)
        for ext in ("png", "pdf"):
            buf = io.BytesIO()
            mfig.savefig(buf, format=ext)
            with atomic_write(out / f"{fig.name}.{ext}", "wb") as f:
                f.write(buf.getvalue())
        plt.close(mfig)
    write_csv(out / f"{fig.name}.csv", data.rows())
    meta = dict(data.meta)
    meta.update(provenance(**meta_extra))
    write_json(out / f"{fig.name}.json", meta)


def make_figures(names: Sequence[str], quick: bool = False, out_dir: str | Path = "out/figures",
                 seed: int = 0, use_cache: bool = True, workers: int | None = None,
                 scheduler: str | None = None, device: str | None = None,
                 progress: bool | None = None, report: Callable[[dict], None] | None = None
                 ) -> list[dict]:
    """Compute (or load) the units of several figures on one backend, then reduce, plot and write
    each figure as soon as its units are done; return one summary record per figure.

    ``workers``: local processes (default: all cores; ``1``: serially in this process);
    ``scheduler``: a Dask scheduler address (overrides ``workers``); ``device``: ``"cpu"`` or
    ``"cuda"`` for the torch units (default: cuda when available; NumPy units ignore it);
    ``use_cache=False`` recomputes every unit (and overwrites its cache entry); ``report`` is
    called with each figure's record when its files are written.
    """
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
    t0 = time.perf_counter()
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
    records: dict[str, dict] = {}
    remaining = {name: {j.key_hash for j in js} for name, js in jobs.items()}
    backend_name = "cache"

    def on_result(d: str) -> None:
        for fig in figs:
            left = remaining.get(fig.name)
            if left is None or d not in left:
                continue
            left.discard(d)
            if not left:
                del remaining[fig.name]
                records[fig.name] = _finish_figure(fig, jobs[fig.name], runner, quick, seed, out,
                                                   dev, backend_name, t0)
                if report is not None:
                    report(records[fig.name])

    if n_todo:
        backend = open_backend(workers, scheduler, n_tasks=n_todo)
        backend_name = backend.name
        with backend:
            runner.run(backend, dev, on_result)
    else:
        for d in list(runner.results):
            on_result(d)
    return [records[f.name] for f in figs]


def _finish_figure(fig: Figure, jobs: list, runner: _Runner, quick: bool, seed: int, out: Path,
                   device: str | None, backend: str, t0: float) -> dict:
    results = {j.unit.name: runner.results[j.key_hash] for j in jobs}
    data = fig.assemble(quick, seed, results)
    n_cached = sum(j.key_hash in runner.from_cache for j in jobs)
    unit_seconds = [runner.seconds.get(j.key_hash, math.nan) for j in jobs]
    torch_units = any(j.unit.torch for j in jobs)
    extra = {"figure": fig.name, "quick": quick, "seed": seed,
             "device": device if torch_units else "cpu",
             "backend": backend if n_cached < len(jobs) else "cache",
             "units": {"total": len(jobs), "from_cache": n_cached,
                       "computed": len(jobs) - n_cached,
                       "unit_seconds_sum": round(math.fsum(s for s in unit_seconds
                                                           if math.isfinite(s)), 3)},
             # wall time from the start of the run to this figure's last unit (with several
             # figures on one backend, they finish at different times)
             "completed_after_seconds": round(time.perf_counter() - t0, 3)}
    _write_outputs(fig, data, out, extra)
    return {"figure": fig.name, "seconds": time.perf_counter() - t0, "out": str(out),
            "units": len(jobs), "from_cache": n_cached, "device": extra["device"]}


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
    from icl_companion.numerics import cache
    from icl_companion.numerics.executor import check_workers, default_workers

    check_workers(workers)
    figs = [get_figure(n) for n in names]
    plans = {f.name: f.work(quick, seed) for f in figs}
    needs_torch = any(u.torch for units in plans.values() for u in units)
    dev = _resolve_device(device, needs_torch, remote=bool(scheduler))
    times = _read_times()
    metas = {}
    planned = {fig.name: _plan(fig, quick, seed, dev, plans[fig.name]) for fig in figs}
    for fig in figs:  # cached entries carry their measured times: they inform the estimates
        for j in planned[fig.name]:
            meta = cache.peek_meta(UNITS_KIND, j.key_hash) if cache.enabled() else None
            metas[j.key_hash] = meta
            if meta is not None and isinstance(meta.get("seconds"), (int, float)):
                times.setdefault(j.timing_key, float(meta["seconds"]))
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
                     f"{_fmt_secs(secs)} of unit time ({basis})")
        lines += rows
    if len(figs) > 1:
        lines.append(f"total: {tot_units} units, {tot_missing} to compute, estimated "
                     f"{_fmt_secs(tot_secs)} of unit time")
    if scheduler:
        lines.append(f"estimated wall time: {_fmt_secs(tot_secs)} divided by the number of "
                     f"threads of the cluster at {scheduler} (at best)")
    else:
        lines.append(f"estimated wall time on {slots} local worker(s): about "
                     f"{_fmt_secs(tot_secs / slots)} (at best)")
    return "\n".join(lines)


def _fmt_secs(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"
