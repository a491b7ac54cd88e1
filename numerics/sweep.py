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
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from icl_companion.numerics.executor import open_backend
from icl_companion.theory.registry import Result, get

__all__ = ["Axis", "parse_axis", "grid_points", "SweepResult", "run_sweep", "write_sweep"]

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


def _evaluate_chunk(result_id: str, points: list[dict]) -> list[dict]:
    """Evaluate consecutive points, warm-starting each from the previous one (worker side)."""
    r = get(result_id)
    rows, warm = [], None
    for p in points:
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
        except (ValueError, ArithmeticError, RuntimeError) as e:
            warm = None
            row.update({o: math.nan for o in r.outputs})
            row["status"] = f"error: {type(e).__name__}: {e}"
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return rows


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


def run_sweep(result_id: str, fixed: dict, axes: Sequence[Axis], workers: int | None = None,
              scheduler: str | None = None, chunk: int = 8, progress: bool | None = None
              ) -> SweepResult:
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
    """
    from tqdm.auto import tqdm

    r = get(result_id)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if not axes:
        raise ValueError("a sweep needs at least one range name=start:stop:num")
    points = grid_points(r, fixed, axes)
    line = axes[-1].num
    spans = _chunks(len(points), line, chunk)
    if progress is None:
        progress = sys.stderr.isatty()
    t0 = time.time()
    results: list = [None] * len(spans)
    backend = open_backend(workers, scheduler, n_tasks=len(spans))
    executor = backend.executor
    try:
        bar = tqdm(total=len(points), disable=not progress, desc=result_id, unit="pt")
        if executor is None:
            for k, (a, b) in enumerate(spans):
                results[k] = _evaluate_chunk(result_id, points[a:b])
                bar.update(b - a)
        else:
            futs = {executor.submit(_evaluate_chunk, result_id, points[a:b]): k
                    for k, (a, b) in enumerate(spans)}
            for f in cf.as_completed(futs):
                k = futs[f]
                results[k] = f.result()
                bar.update(spans[k][1] - spans[k][0])
        bar.close()
    finally:
        backend.close()
    rows = []
    for (a, b), chunk_rows in zip(spans, results):
        for p, out in zip(points[a:b], chunk_rows):
            rows.append({**p, **out})
    meta = {"result": result_id, "status": r.status, "reference": str(r.reference),
            "fixed": {k: v for k, v in points[0].items() if k not in {a.name for a in axes}},
            "axes": [vars(a) for a in axes], "chunk": chunk, "backend": backend.name,
            "points": len(points), "failed_or_not_converged": sum(
                row["status"] != "ok" for row in rows), "wall_seconds": round(time.time() - t0, 3)}
    return SweepResult(result_id, rows, meta)


def write_sweep(sweep: SweepResult, path) -> tuple[str, str]:
    """Write the tidy CSV and its JSON sidecar (provenance, grid, status counts) atomically.

    The CSV carries no timings so that the same sweep gives byte-identical files on any backend;
    per-point times and the wall time are in the sidecar.
    """
    from pathlib import Path

    from icl_companion.numerics.io import write_csv, write_json
    from icl_companion.theory._meta import provenance

    path = Path(path)
    r = get(sweep.result_id)
    inputs = [p.name for p in r.params]
    outputs = []
    for row in sweep.rows:
        outputs += [k for k in row if k not in inputs and k not in outputs
                    and k not in ("status", "seconds")]
    write_csv(path, sweep.rows, inputs + outputs + ["status"])
    side = path.with_suffix(".json")
    meta = dict(sweep.meta)
    meta["point_seconds"] = [round(row["seconds"], 6) for row in sweep.rows]
    write_json(side, provenance(**meta))
    return str(path), str(side)
