"""Parameter sweeps of catalogue results: grids, warm starts, executors, tidy output.

A sweep evaluates one result on the Cartesian product of 1-D grids.  The grid is cut into
*lines* along the last swept input and each line into chunks of ``chunk`` consecutive points; a
chunk is evaluated in order, each point warm-started from the previous one when the result supports
it (``Result.warm_start``).  Chunks are the unit of parallel work, and the chunking depends only on
the grid, never on the executor, so that a local process pool, a single process and a Dask cluster
give identical numbers.

Executors follow :mod:`concurrent.futures` (:mod:`icl_companion.numerics.executor`, shared with
the figures): a ``ProcessPoolExecutor`` by default, or the ``Client.get_executor()`` of a
``dask.distributed`` cluster when a scheduler address is given.
Every point keeps its own status with the solver's ``success``, ``nit`` and ``residual``:
``ok`` only when the solver reported success (results computed by a solver must report it) and
every output is finite and inside its declared range; ``not-converged`` when the solver says so;
``invalid: ...`` for a value that is non-finite, out of range or unflagged; ``error: ...`` for an
exception.  Nothing is dropped.

Limits (checked before anything is allocated or started): at most :data:`MAX_POINTS` grid points
(``force=True``: :data:`MAX_POINTS_FORCED`); never more worker processes than work units; a Dask
scheduler that does not complete the connection within
:data:`icl_companion.numerics.executor.SCHEDULER_TIMEOUT` (a port where something else listens, a
TLS address without certificates) is an error, not a hang.

Output: :func:`check_output` validates the destination before the computation (a CSV file name
whose sidecar ``NAME.json`` is a different file, in a writable folder, not overwriting an existing
result unless asked); :func:`write_sweep` writes the CSV and the sidecar as a pair, the sidecar
last and holding the CSV's SHA-256, so that :func:`read_sweep` detects a CSV that does not belong
to its sidecar (a run killed between the two renames).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from icl_companion.numerics.executor import open_backend
from icl_companion.theory.registry import Result, get

__all__ = ["Axis", "parse_axis", "grid_points", "SweepResult", "run_sweep", "write_sweep",
           "read_sweep", "check_output", "sidecar_path", "MAX_POINTS", "MAX_POINTS_FORCED"]

#: Grid points of one sweep without ``force`` (rows are kept in memory: about 1 kB each).
MAX_POINTS = 100_000
#: Grid points with ``force`` (``iclc sweep --force``): a hard ceiling, about 2 GB of rows.
MAX_POINTS_FORCED = 2_000_000

#: Diagnostics written as CSV columns (``Evaluation.info``); the full record is in the sidecar.
_INFO_COLUMNS = ("success", "nit", "residual")


@dataclass(frozen=True)
class Axis:
    """One swept input: ``num`` points from ``start`` to ``stop`` (inclusive), linear or log."""

    name: str
    start: float
    stop: float
    num: int
    log: bool = False

    def values(self) -> np.ndarray:
        if self.log:
            return np.geomspace(self.start, self.stop, self.num)
        return np.linspace(self.start, self.stop, self.num)


def parse_axis(name: str, spec: str) -> Axis:
    """Parse ``start:stop:num`` or ``start:stop:num:log``.

    >>> parse_axis("alpha", "0:1:5").values().tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> parse_axis("alpha", "1:100:3:log").values().round(6).tolist()
    [1.0, 10.0, 100.0]
    """
    parts = spec.split(":")
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("log", "lin")):
        raise ValueError(f"sweep range for {name} must be start:stop:num or start:stop:num:log, "
                         f"got {spec!r}")
    try:
        start, stop = float(parts[0]), float(parts[1])
        num = float(parts[2])
    except ValueError:
        raise ValueError(f"sweep range for {name}: {spec!r} has a non-numeric field") from None
    if not num.is_integer() or num < 1:
        raise ValueError(f"sweep range for {name}: num must be an integer >= 1, got {parts[2]!r}")
    if num > MAX_POINTS_FORCED:  # before any array of that length exists
        raise ValueError(f"sweep range for {name}: num = {parts[2]} exceeds the largest grid "
                         f"({MAX_POINTS_FORCED} points with --force, {MAX_POINTS} without)")
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ValueError(f"sweep range for {name}: start and stop must be finite numbers")
    log = len(parts) == 4 and parts[3] == "log"
    if log and (start <= 0 or stop <= 0):
        raise ValueError(f"sweep range for {name}: a log grid needs start, stop > 0")
    return Axis(name, start, stop, int(num), log)


def grid_points(result: Result, fixed: dict, axes: Sequence[Axis]) -> list[dict]:
    """All grid points as *validated* input dicts, last axis fastest.

    Every point is validated up front so that a bad grid fails before any work starts.
    """
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise ValueError(f"an input is swept twice: {names}")
    for n in names:
        if n in fixed:
            raise ValueError(f"{n} is given both as a fixed value and as a sweep range")
        p = result.param(n)
        if p.kind not in ("real", "integer"):
            raise ValueError(f"{result.id}: input {n} is a {p.kind}; only real and integer inputs "
                             f"can be swept")
    grids = []
    for a in axes:
        v = a.values()
        if result.param(a.name).kind == "integer":
            if not np.allclose(v, np.round(v)):
                raise ValueError(f"{result.id}: integer input {a.name} gets non-integer grid "
                                 f"values {v[:4].tolist()}...; choose start, stop, num accordingly")
            v = np.round(v).astype(int)
        grids.append(v.tolist())
    mesh = np.array(np.meshgrid(*[np.arange(len(g)) for g in grids], indexing="ij"))
    idx = mesh.reshape(len(axes), -1).T
    return [result.validate({**fixed, **{a.name: grids[k][i] for k, (a, i) in
                                         enumerate(zip(axes, row))}}) for row in idx]


def _chunks(n_points: int, line: int, chunk: int) -> list[tuple[int, int]]:
    """Contiguous index ranges; chunks never cross the end of a grid line."""
    out = []
    for start in range(0, n_points, line):
        stop = min(start + line, n_points)
        out += [(s, min(s + chunk, stop)) for s in range(start, stop, chunk)]
    return out


def _row_status(ev) -> str:
    if ev.success:
        return "ok"
    code = ev.info.get("status")
    if code in (None, 1, 3, 4):  # iteration or time cap, or no convergence: the solver said so
        return "not-converged"
    return f"invalid: {ev.info.get('message', 'unknown')}"


def _evaluate_chunk(result_id: str, points: list[dict], cuts: Sequence[int] = ()) -> list[dict]:
    """Evaluate consecutive points, warm-starting each from the previous one (worker side).

    A result with a batched path (``Result.batch``) evaluates all the points at once when it can
    (the values are those of the point-by-point path, bit for bit).  ``cuts``: offsets where a
    new chunk starts (cold) when a work unit groups several chunks.  Numerical warnings are
    silenced (a worker's stderr is the user's terminal; every row carries its own status); any
    exception becomes that point's ``error: ...`` status.
    """
    import warnings

    _pin_threads()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # e.g. scipy integrators; rows keep status
        return _evaluate_points(result_id, points, cuts)


def _evaluate_points(result_id: str, points: list[dict], cuts: Sequence[int] = ()) -> list[dict]:
    r = get(result_id)
    if r.batch is not None:
        rows = _evaluate_batch(r, points)
        if rows is not None:
            return rows
    rows, warm = [], None
    for i, p in enumerate(points):
        if i in cuts:
            warm = None
        t0 = time.perf_counter()
        row: dict[str, Any] = {}
        try:
            value = r.func(**p, warm=warm) if (r.warm_start and warm is not None) else r.func(**p)
            warm = value.get("_warm") if isinstance(value, dict) else None
            ev = r.wrap(p, value)
            row.update(ev.value if isinstance(ev.value, dict) else {"value": ev.value})
            row.update({k: ev.info[k] for k in _INFO_COLUMNS if k in ev.info})
            row["status"] = _row_status(ev)
            if row["status"] != "ok":
                warm = None  # never continue from a point that is not a trusted solution
        except Exception as e:  # noqa: BLE001 - kept as this point's status, the sweep goes on
            warm = None
            row.update({o: math.nan for o in r.outputs})
            row["status"] = f"error: {type(e).__name__}: {e}"
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return rows


def _evaluate_batch(r: Result, points: list[dict]) -> list[dict] | None:
    t0 = time.perf_counter()
    try:
        values = r.batch(points)
    except (ValueError, ArithmeticError, RuntimeError):
        return None  # the point-by-point path reports each point's own error
    if values is None:
        return None
    seconds = (time.perf_counter() - t0) / max(len(points), 1)
    rows = []
    for p, value in zip(points, values):
        ev = r.wrap(p, value)
        row: dict[str, Any] = dict(ev.value if isinstance(ev.value, dict) else {"value": ev.value})
        row.update({k: ev.info[k] for k in _INFO_COLUMNS if k in ev.info})
        row["status"] = _row_status(ev)
        row["seconds"] = seconds
        rows.append(row)
    return rows


#: Environment variables that size the thread pools of BLAS / OpenMP / torch.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_PINNED = {"pid": None}


def _pin_threads() -> None:
    """One BLAS / OpenMP / torch thread in a worker process (once per process).

    Sweep points are small linear algebra: several threads per worker only oversubscribe the
    cores that the other workers use.  Applies to processes started by ``multiprocessing``: the
    local pool's workers and the worker processes a Dask nanny starts; the calling process (the
    serial path, or an in-process Dask cluster) is left alone.
    """
    import multiprocessing as mp
    import os

    if _PINNED["pid"] == os.getpid() or mp.parent_process() is None:
        return
    _PINNED["pid"] = os.getpid()
    for v in _THREAD_VARS:  # libraries loaded later in this process read these
        os.environ[v] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        pass
    else:
        threadpool_limits(1)  # BLAS / OpenMP pools already loaded (inherited from the parent)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _work_units(r: Result, n_points: int, line: int, chunk: int, workers: int | None
                ) -> list[tuple[int, int, tuple]]:
    """Index ranges evaluated as one task: the chunks, or for a batched result (whose values do
    not depend on how points are grouped) one group of whole chunks per worker, so that the
    batched solver amortises its per-iteration overhead over as many points as possible."""
    import os

    spans = _chunks(n_points, line, chunk)
    if r.batch is None or len(spans) <= 1:
        return [(a, b, ()) for a, b in spans]
    n_units = workers or os.cpu_count() or 1
    per = max(1, math.ceil(len(spans) / n_units))
    return [(spans[i][0], spans[min(i + per, len(spans)) - 1][1],
             tuple(a - spans[i][0] for a, _ in spans[i + 1:i + per]))
            for i in range(0, len(spans), per)]


@dataclass
class SweepResult:
    """Rows (inputs + outputs + status) of a sweep and its metadata."""

    result_id: str
    rows: list
    meta: dict = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        return sum(r["status"] != "ok" for r in self.rows)

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])

    # -- as data
    @property
    def axes(self) -> list[str]:
        """Names of the swept inputs (slowest first)."""
        return [a["name"] for a in self.meta.get("axes", [])]

    def columns(self) -> list[str]:
        """Inputs, outputs, diagnostics and status: the CSV's columns, in its order."""
        r = get(self.result_id)
        inputs = [p.name for p in r.params]
        out = [k for k in inputs if self.rows and k in self.rows[0]]
        for row in self.rows:
            out += [k for k in row if k not in out and k not in ("status", "seconds")]
        return out + ["status"]

    def outputs(self) -> list[str]:
        """The result's outputs present in the rows (numbers: plottable)."""
        r = get(self.result_id)
        names = [o for o in r.outputs if self.rows and o in self.rows[0]]
        return names or [k for k in self.columns() if k == "value"]

    def to_pandas(self):
        """A ``pandas.DataFrame``, one row per point (the CSV's columns; ``notebook`` extra)."""
        from icl_companion.theory.display import require

        pd = require("pandas", "sweep.to_pandas()")
        cols = self.columns()
        return pd.DataFrame([{k: row.get(k) for k in cols} for row in self.rows], columns=cols)

    def to_xarray(self):
        """An ``xarray.Dataset`` indexed by the swept inputs: a 2-D sweep gives 2-D arrays.

        Data variables: the outputs, ``success``/``nit``/``residual`` when reported, and
        ``status`` (strings); the fixed inputs and the provenance are attributes.
        """
        from icl_companion.theory.display import require

        xr = require("xarray", "sweep.to_xarray()")
        axes = self.axes
        coords = {}
        for a in axes:  # grid values in order (integer inputs already rounded by the grid)
            seen: list = []
            for row in self.rows:
                if row[a] not in seen:
                    seen.append(row[a])
            coords[a] = seen
        shape = tuple(len(coords[a]) for a in axes)
        data = {}
        for k in self.columns():
            if k in axes or k in self.meta.get("fixed", {}):
                continue
            vals = [row.get(k, math.nan) for row in self.rows]
            arr = np.array(vals, dtype=object if k == "status" or any(
                isinstance(v, (list, str)) for v in vals) else None)
            data[k] = (axes, arr.reshape(shape))
        attrs = {"result": self.result_id, **{f"fixed_{k}": v for k, v in
                                              self.meta.get("fixed", {}).items()
                                              if isinstance(v, (int, float, str))}}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def plot(self, y: str | None = None, ax=None):
        """Plot output ``y`` (default: the first) against one swept input (a line, failed points
        marked) or two (a heat map); returns the matplotlib Axes.  Drawn by
        :func:`icl_companion.figures.sweep_plot.plot_sweep`."""
        from icl_companion.figures.sweep_plot import plot_sweep

        return plot_sweep(self, y=y, ax=ax)

    def __repr__(self) -> str:
        return (f"SweepResult({self.result_id!r}: {len(self.rows)} points over "
                f"{', '.join(self.axes) or '-'}, {self.n_failed} failed or not converged)")

    def _repr_html_(self) -> str:
        """A table of the points (and a small plot when one input is swept)."""
        from icl_companion.theory.display import esc, fmt_number, status_badge, table_html

        cols = self.columns()
        rows = [[fmt_number(row.get(k, "")) for k in cols] for row in self.rows]
        ok = self.n_failed == 0
        head = (f"<div><b><code>{esc(self.result_id)}</code></b> sweep over "
                f"{esc(', '.join(self.axes))}: {len(self.rows)} points "
                + status_badge(ok, "all ok" if ok else f"{self.n_failed} failed") + "</div>")
        img = ""
        if len(self.axes) == 1 and self.rows:
            from icl_companion.figures.sweep_plot import png_base64

            img = f'<img src="data:image/png;base64,{png_base64(self)}"/>'
        return head + img + table_html(cols, rows, max_rows=20)


def grid_size(axes: Sequence[Axis]) -> int:
    """Number of grid points (product of the axis lengths), computed without building the grid."""
    return math.prod(a.num for a in axes)


def run_sweep(result_id: str, fixed: dict, axes: Sequence[Axis], workers: int | None = None,
              scheduler: str | None = None, chunk: int = 8, progress: bool | None = None,
              force: bool = False) -> SweepResult:
    """Evaluate ``result_id`` on the grid; see the module docstring for the execution model.

    Parameters
    ----------
    fixed : dict
        Inputs held fixed (raw or typed values; validated here).
    axes : sequence of Axis
        Swept inputs; the last one varies fastest and carries the warm start.
    workers : int, optional
        Local processes (default ``os.cpu_count()``); ``1`` runs in this process.
    scheduler : str, optional
        Address of a ``dask.distributed`` scheduler; overrides ``workers``.
    chunk : int
        Points per work unit (warm-started in order).  Part of the sweep's definition: results do
        not depend on ``workers`` or ``scheduler``, but may (within solver tolerance) on ``chunk``.
    progress : bool, optional
        tqdm progress bar; default: only when stderr is a terminal.
    force : bool
        Allow up to :data:`MAX_POINTS_FORCED` points instead of :data:`MAX_POINTS`.
    """
    from tqdm.auto import tqdm

    r = get(result_id)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if not axes:
        raise ValueError("a sweep needs at least one range name=start:stop:num")
    n = grid_size(axes)
    limit = MAX_POINTS_FORCED if force else MAX_POINTS
    if n > limit:
        raise ValueError(f"the grid has {n:.3g} points, more than the limit of {limit} "
                         + ("(the hard ceiling)" if force else
                            f"(--force raises it to {MAX_POINTS_FORCED})"))
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    points = grid_points(r, fixed, axes)
    line = axes[-1].num
    spans = _work_units(r, len(points), line, chunk, None if scheduler else workers)
    if progress is None:
        progress = sys.stderr.isatty()
    t0 = time.time()
    results: list = [None] * len(spans)
    backend = open_backend(workers, scheduler, n_tasks=len(spans))
    executor = backend.executor
    try:
        bar = tqdm(total=len(points), disable=not progress, desc=result_id, unit="pt")
        if executor is None:
            for k, (a, b, cuts) in enumerate(spans):
                results[k] = _evaluate_chunk(result_id, points[a:b], cuts)
                bar.update(b - a)
        else:
            futs = {executor.submit(_evaluate_chunk, result_id, points[a:b], cuts): k
                    for k, (a, b, cuts) in enumerate(spans)}
            for f in cf.as_completed(futs):
                k = futs[f]
                results[k] = f.result()
                bar.update(spans[k][1] - spans[k][0])
        bar.close()
    finally:
        backend.close()
    rows = []
    for (a, b, _), chunk_rows in zip(spans, results):
        for p, out in zip(points[a:b], chunk_rows):
            rows.append({**p, **out})
    meta = {"result": result_id, "status": r.status, "reference": str(r.reference),
            "fixed": {k: v for k, v in points[0].items() if k not in {a.name for a in axes}},
            "axes": [vars(a) for a in axes], "chunk": chunk, "backend": backend.name,
            "points": len(points), "failed_or_not_converged": sum(
                row["status"] != "ok" for row in rows), "wall_seconds": round(time.time() - t0, 3)}
    return SweepResult(result_id, rows, meta)


def sidecar_path(path):
    """The JSON sidecar of a sweep CSV: ``NAME.json`` beside ``NAME.csv``."""
    from pathlib import Path

    return Path(path).with_suffix(".json")


def check_output(path, overwrite: bool = False) -> tuple:
    """Validate a sweep's destination before computing; return ``(csv_path, sidecar_path)``.

    Refused with ``ValueError``: an empty name, a folder, a name whose sidecar would be the CSV
    itself (``res.json``), a folder that cannot be created or written, and an existing CSV or
    sidecar unless ``overwrite``.
    """
    from pathlib import Path

    if path is None or not str(path).strip():
        raise ValueError("--out needs a file name (FILE.csv); got an empty string")
    p = Path(path)
    if p.is_dir() or str(path).endswith(("/", os.sep)) or not p.name:
        raise ValueError(f"--out {path} is a folder; give a file name such as {p / 'sweep.csv'}")
    side = sidecar_path(p)
    if side.resolve() == p.resolve():
        raise ValueError(f"--out {path}: its JSON sidecar would have the same name and overwrite "
                         f"it; use a name ending in .csv")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"--out {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: the folder {parent} is not writable")
    for f in (p, side):
        if f.is_dir():
            raise ValueError(f"--out {path}: {f} is a folder")
        if f.exists() and not overwrite:
            raise ValueError(f"--out {path}: {f} exists; pass --overwrite to replace it")
        if f.exists() and not os.access(f, os.W_OK):
            raise ValueError(f"--out {path}: {f} is not writable")
    return p, side


def write_sweep(sweep: SweepResult, path) -> tuple[str, str]:
    """Write the tidy CSV and its JSON sidecar (provenance, grid, status counts) as a pair.

    Both are written to temporaries first, then renamed, the CSV first and the sidecar last; the
    sidecar records the CSV's SHA-256 (``csv_sha256``) and a ``run_id``, checked by
    :func:`read_sweep`.  Leftover temporaries of a killed earlier run are removed.  The CSV
    carries no timings so that the same sweep gives byte-identical files on any backend;
    per-point times and the wall time are in the sidecar.
    """
    import hashlib
    import uuid
    from pathlib import Path

    from icl_companion.numerics.io import (csv_text, json_text, remove_stale_parts,
                                           write_texts_atomically)
    from icl_companion.theory._meta import provenance

    path = Path(path)
    side = sidecar_path(path)
    r = get(sweep.result_id)
    inputs = [p.name for p in r.params]
    outputs = []
    for row in sweep.rows:
        outputs += [k for k in row if k not in inputs and k not in outputs
                    and k not in ("status", "seconds")]
    text = csv_text(sweep.rows, inputs + outputs + ["status"])
    meta = dict(sweep.meta)
    meta["point_seconds"] = [round(row["seconds"], 6) for row in sweep.rows]
    meta.update(run_id=uuid.uuid4().hex, csv=path.name,
                csv_sha256=hashlib.sha256(text.encode()).hexdigest())
    for p in (path, side):
        remove_stale_parts(p)
    write_texts_atomically([(path, text), (side, json_text(provenance(**meta)))])
    return str(path), str(side)


def read_sweep(path) -> tuple[list, dict]:
    """Read a sweep CSV and its sidecar; ``ValueError`` when they are not a pair.

    Returns ``(rows, meta)`` (cells as strings).  The CSV's SHA-256 must equal the sidecar's
    ``csv_sha256``: a CSV from another run (a kill between the two renames of
    :func:`write_sweep`, or a file edited by hand) is reported, not silently combined.
    """
    import hashlib
    import json
    from pathlib import Path

    from icl_companion.numerics.io import read_csv

    path = Path(path)
    side = sidecar_path(path)
    meta = json.loads(side.read_text())
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    if meta.get("csv_sha256") != checksum:
        raise ValueError(f"{path} does not match its sidecar {side} (run {meta.get('run_id')}): "
                         f"SHA-256 {checksum[:12]}... vs {str(meta.get('csv_sha256'))[:12]}...")
    return read_csv(path), meta
