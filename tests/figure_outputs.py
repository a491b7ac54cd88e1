"""What every written figure must satisfy (issue 17), as one function the tests call on a folder.

:func:`check_outputs` reads ``NAME.csv`` and ``NAME.json`` of a written figure and asserts: the CSV
parses with the ``csv`` module, every cell of a column declared numeric (``float``, ``int``,
``flag``) is a number (``nan``/``inf`` spelled so; never ``np.float64(...)``), the JSON documents
every CSV column (meaning, symbol, unit, sentinels, type) and records the provenance (git commit or
"not a git checkout", source hash, library versions including torch and matplotlib, command line,
wall and CPU time, threads), and the files carry the permissions the umask allows.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import stat
from pathlib import Path

NUMERIC = ("float", "int", "flag")
PROVENANCE = ("git_commit", "source_hash", "libraries", "command", "wall_seconds", "cpu_seconds",
              "threads", "version", "time_utc")


def check_outputs(out: Path, name: str, umask: int | None = None) -> dict:
    """Assert the issue-17 contract for figure ``name`` written into ``out``; return its JSON."""
    meta = json.loads((out / f"{name}.json").read_text())
    text = (out / f"{name}.csv").read_text()
    assert "np." not in text and "float64" not in text, f"{name}: numpy repr in the CSV"
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    assert body, f"{name}: empty table"
    assert all(len(r) == len(header) for r in body), f"{name}: ragged CSV"
    cols = meta["columns"]
    assert list(cols) == header, f"{name}: JSON columns {list(cols)} vs CSV header {header}"
    for j, col in enumerate(header):
        doc = cols[col]
        assert doc["meaning"] and doc["meaning"] != "not documented", f"{name}.{col}: no meaning"
        assert set(doc) >= {"meaning", "symbol", "unit", "sentinels", "type"}, (name, col)
        if doc["type"] in NUMERIC:
            values = [float(r[j]) for r in body]   # ValueError on anything but a number
            if doc["type"] == "int":
                assert all(v.is_integer() for v in values if math.isfinite(v)), (name, col)
            if doc["type"] == "flag":
                assert set(values) <= {0.0, 1.0}, (name, col)
    commit = meta["git_commit"]
    assert commit == "not a git checkout" or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", commit)
    assert re.fullmatch(r"[0-9a-f]{16}", meta["source_hash"])
    for lib in ("numpy", "scipy", "matplotlib", "torch"):
        assert lib in meta["libraries"], f"{name}: no {lib} version"
    for key in PROVENANCE:
        assert key in meta, f"{name}: provenance lacks {key}"
    assert isinstance(meta["command"], list) and meta["command"]
    assert meta["wall_seconds"] >= 0 and meta["cpu_seconds"]["this_process_so_far"] >= 0
    assert meta["threads"]["per_unit"] >= 1
    assert meta["claim"] and meta["reproduces"]
    if umask is not None:
        want = 0o666 & ~umask
        for ext in ("png", "pdf", "csv", "json"):
            mode = stat.S_IMODE(os.stat(out / f"{name}.{ext}").st_mode)
            assert mode == want, f"{name}.{ext}: mode {oct(mode)}, umask {oct(umask)} allows {oct(want)}"
    return meta
