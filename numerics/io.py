"""Atomic file output and tidy CSV tables.

Nothing the project writes is ever left half-written: every writer goes through
:func:`atomic_write`, which writes a temporary file in the destination folder and renames it into
place (``os.replace`` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

__all__ = ["atomic_write", "write_text", "write_json", "write_csv", "read_csv", "table_rows",
           "write_texts_atomically", "remove_stale_parts", "csv_text", "json_text"]


def _new_file_mode(path: Path) -> int:
    """Permissions for a file written at ``path``: those of the file it replaces, or the usual
    ``0o666`` filtered by the process umask (``mkstemp`` creates ``0o600`` whatever the umask)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _temporary(path: Path, mode: str, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.fchmod(fd, _new_file_mode(path))
    return os.fdopen(fd, mode, **kw), tmp


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kw) -> Iterator[Any]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds.

    The file gets the permissions of the file it replaces, or ``0o666`` filtered by the umask.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_write(p) as f:
    ...     _ = f.write("hello")
    >>> p.read_text()
    'hello'
    """
    path = Path(path)
    f, tmp = _temporary(path, mode, **kw)
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_texts_atomically(items: Sequence[tuple]) -> list[Path]:
    """Write several ``(path, text)`` files as one step: every temporary is written (and synced)
    before the first rename, then they are renamed in the order given.  A failure while writing
    leaves every destination untouched; a kill between two renames leaves a mixed pair, which a
    reader detects with a checksum stored in the last file (see :mod:`.sweep`)."""
    written = []
    try:
        for path, text in items:
            path = Path(path)
            f, tmp = _temporary(path, "w")
            written.append((tmp, path))
            with f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    return [p for _, p in written]


def remove_stale_parts(path: str | os.PathLike, older_than: float = 10.0) -> list[Path]:
    """Delete temporaries ``.NAME.*.part`` left beside ``path`` by a killed writer.

    Only files of this destination name, and only those not modified in the last ``older_than``
    seconds (a writer in progress renames its temporary within milliseconds of creating it).
    """
    import time

    path = Path(path)
    now, out = time.time(), []
    if not path.parent.is_dir():
        return out
    for p in path.parent.glob(f".{path.name}.*.part"):
        with contextlib.suppress(FileNotFoundError):
            if now - p.stat().st_mtime > older_than:
                p.unlink()
                out.append(p)
    return out


def write_text(path, text: str) -> Path:
    with atomic_write(path) as f:
        f.write(text)
    return Path(path)


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def json_text(obj: Any) -> str:
    """``obj`` as indented JSON (numpy values converted)."""
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=True) + "\n"


def write_json(path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (numpy values converted), atomically."""
    return write_text(path, json_text(obj))


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return _cell(v.item())
    if isinstance(v, (list, tuple)):
        return ",".join(str(_cell(x)) for x in v)
    return v


def table_rows(columns: Mapping[str, Sequence[Any]]) -> list[dict]:
    """Turn a column mapping (equal lengths) into a list of row dicts."""
    names = list(columns)
    lengths = {len(columns[n]) for n in names}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: "
                         f"{ {n: len(columns[n]) for n in names} }")
    n = lengths.pop() if lengths else 0
    return [{k: columns[k][i] for k in names} for i in range(n)]


def csv_text(rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str] | None = None) -> str:
    """A tidy CSV (one row per record), floats with full precision."""
    if fieldnames is None:
        fieldnames = []
        for r in rows:
            fieldnames += [k for k in r if k not in fieldnames]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fieldnames), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k, "")) for k in fieldnames})
    return buf.getvalue()


def write_csv(path, rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str] | None = None
              ) -> Path:
    """Write a tidy CSV (one row per record), floats with full precision, atomically."""
    return write_text(path, csv_text(rows, fieldnames))


def read_csv(path) -> list[dict]:
    """Read a CSV written by :func:`write_csv` (all cells as strings)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
