"""A small on-disk cache for expensive intermediate results (figure tables, SE grids).

Entries are keyed by a SHA-256 hash of everything that determines them: the caller's key (inputs,
sizes, seed), the package version, and the source code of the module that computes them, so that
editing the code invalidates its cached values.  Entries are pickles written atomically; a corrupt
or unreadable entry is recomputed.  Location: ``$ICLC_CACHE_DIR`` or ``~/.cache/icl-companion``;
``ICLC_CACHE=0`` disables caching.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import pickle
from pathlib import Path
from typing import Any, Callable

from icl_companion.numerics.io import atomic_write
from icl_companion.theory._meta import version

__all__ = ["cache_dir", "cache_key", "cached", "source_hash"]


def cache_dir() -> Path:
    return Path(os.environ.get("ICLC_CACHE_DIR", Path.home() / ".cache" / "icl-companion"))


@functools.lru_cache(maxsize=None)
def _file_hash(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "nosource"


def source_hash(obj: Any) -> str:
    """Hash of the source file defining ``obj`` (a function, class or module)."""
    try:
        return _file_hash(inspect.getsourcefile(obj) or "")
    except TypeError:
        return "nosource"


@functools.lru_cache(maxsize=None)
def project_source_hash() -> str:
    """Hash of every ``.py`` file of the four layers: any code change invalidates cached values."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for pkg in ("theory", "numerics", "validation", "figures"):
        for p in sorted((root / pkg).rglob("*.py")):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cache_key(key: Any, code: Any = None) -> str:
    """Stable SHA-256 hash (hex) of ``key`` (JSON, sorted keys), the version and the code.

    ``code=None`` keys on the whole project source (:func:`project_source_hash`); an object keys on
    its own source file only.
    """
    blob = json.dumps({"key": key, "version": version(),
                       "code": source_hash(code) if code is not None else project_source_hash()},
                      sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


def cached(kind: str, key: Any, compute: Callable[[], Any], code: Any = None,
           refresh: bool = False) -> Any:
    """Return the cached value for ``(kind, key)``, computing and storing it on a miss.

    ``code`` is an object whose source file enters the key; by default the whole project source.
    """
    if os.environ.get("ICLC_CACHE", "1") == "0":
        return compute()
    path = cache_dir() / kind / f"{cache_key(key, code)}.pkl"
    if path.exists() and not refresh:
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception:  # corrupt entry: fall through and recompute
            pass
    value = compute()
    with atomic_write(path, "wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    return value
