"""A small on-disk cache of expensive results (figure work units, trained models, SE grids).

The cache holds *data, never code*.  An entry is one ``.npz`` file read with
``numpy.load(allow_pickle=False)``: the arrays of the value, plus a JSON header (stored as a byte
array named ``__entry__``) with the schema name and version, the entry's key, a tree of plain JSON
values (``None``, bools, numbers, strings, lists, string-keyed dicts) in which every array is a
reference into the file, free-form metadata (for a work unit: its wall time), and a SHA-256
checksum of the tree, the metadata and every array's dtype, shape and bytes.  Reading an entry
never runs code: a file that does not parse, has another schema or version, another key, a wrong
checksum, or a value the caller's ``decode`` rejects is reported with one ``warning:`` line on
stderr and recomputed.

Values are converted to that tree by :func:`to_tree` (NumPy arrays and scalars included; tuples
come back as lists); richer objects (a training record, a trained model's weights) pass explicit
``encode`` / ``decode`` functions to :func:`cached`.  The value returned is always the *decoded*
one, on a miss as on a hit, so that a fresh computation and a cached one give the same objects.

Entries are keyed by a SHA-256 hash of everything that determines them: the caller's key (inputs,
sizes, seed), the package version and the source of the code that computes them
(:func:`source_hash` of one module, or :func:`module_closure_hash` of a module and every module of
the package it imports).  Location: ``$ICLC_CACHE_DIR`` or ``~/.cache/icl-companion``;
``ICLC_CACHE=0`` disables caching.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
import io
import json
import math
import os
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from icl_companion.numerics.io import atomic_write
from icl_companion.theory._meta import version

__all__ = ["cache_dir", "cache_key", "cached", "source_hash", "module_closure",
           "module_closure_hash", "to_tree", "from_tree", "write_entry", "read_entry",
           "CacheEntryError", "SCHEMA", "SCHEMA_VERSION"]

SCHEMA = "icl-companion-cache"
SCHEMA_VERSION = 1
_HEADER = "__entry__"


class CacheEntryError(Exception):
    """A cache entry that cannot be trusted (unreadable, wrong schema, key or checksum, bad value)."""


def cache_dir() -> Path:
    return Path(os.environ.get("ICLC_CACHE_DIR", Path.home() / ".cache" / "icl-companion"))


def enabled() -> bool:
    return os.environ.get("ICLC_CACHE", "1") != "0"


def warn(message: str) -> None:
    """One ``warning:`` line on stderr (the CLI's convention for an untrusted input)."""
    print(f"warning: {' '.join(message.split())}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- source hashes
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


#: Modules that run or store work units but compute none of their numbers: editing them does not
#: invalidate cached results (the cache format has its own version, :data:`SCHEMA_VERSION`).
INFRASTRUCTURE = frozenset({"icl_companion", "icl_companion.cli", "icl_companion.docs",
                            "icl_companion.__main__", "icl_companion.figures.registry",
                            "icl_companion.numerics.cache", "icl_companion.numerics.executor",
                            "icl_companion.numerics.io", "icl_companion.theory._meta",
                            # display only formats; precompute generates code from the papers'
                            # theory modules and the registry falls back to them when stale, so
                            # the numbers follow those modules, which the closure does include
                            "icl_companion.theory.display", "icl_companion.theory.precompute"})
_PACKAGE = "icl_companion"


@functools.lru_cache(maxsize=None)
def _module_file(name: str) -> str | None:
    """Source file of module ``name`` of the package, found without importing it (only its
    parent packages are imported, and those are light)."""
    parent, _, leaf = name.rpartition(".")
    try:
        if parent in ("", _PACKAGE):  # the package and its layers (mapped folders): light
            spec = importlib.util.find_spec(name)
            return spec.origin if spec is not None else None
        pspec = importlib.util.find_spec(parent)
    except (ImportError, ValueError):
        return None
    if pspec is None or not pspec.submodule_search_locations:
        return None  # ``parent`` is a module: ``leaf`` is a name in it, not a module
    for d in pspec.submodule_search_locations:
        for cand in (Path(d) / f"{leaf}.py", Path(d) / leaf / "__init__.py"):
            if cand.is_file():
                return str(cand)
    return None


@functools.lru_cache(maxsize=None)
def _module_refs(name: str) -> tuple[frozenset, frozenset]:
    """``(modules, paper prefixes)`` that module ``name`` refers to: every ``icl_companion``
    import anywhere in its body (imports inside functions included), and the paper prefixes of
    string constants that look like registry identifiers (``"aim.mmse"``): a registry lookup loads
    that paper's ``theory`` and ``numerics`` modules."""
    path = _module_file(name)
    if path is None or not path.endswith(".py"):
        return frozenset(), frozenset()
    tree = ast.parse(Path(path).read_bytes(), filename=path)
    from icl_companion.theory.papers import papers

    prefixes = set(papers())
    mods, ids = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names if a.name.startswith(_PACKAGE))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith(_PACKAGE):
            mods.add(node.module)
            for a in node.names:  # ``from icl_companion.numerics import mmicl_metrics``
                sub = f"{node.module}.{a.name}"
                if _module_file(sub) is not None:
                    mods.add(sub)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            pre, dot, rest = node.value.partition(".")
            if dot and pre in prefixes and rest.isidentifier():
                ids.add(pre)
    parents = set()
    for m in mods:  # importing a.b.c runs a/__init__ and a/b/__init__
        parts = m.split(".")
        parents.update(".".join(parts[:k]) for k in range(1, len(parts)))
    return frozenset(mods | parents), frozenset(ids)


@functools.lru_cache(maxsize=None)
def module_closure(name: str) -> tuple[str, ...]:
    """The modules of the package that ``name`` depends on, itself included, sorted.

    Transitive closure of :func:`_module_refs` (imports, and the ``theory``/``numerics`` modules of
    the papers whose results it looks up by identifier), minus :data:`INFRASTRUCTURE`.
    """
    from icl_companion.theory.papers import paper

    seen, todo = set(), [name]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        if m in INFRASTRUCTURE:  # not followed: the runner imports every layer
            continue
        mods, prefixes = _module_refs(m)
        todo.extend(mods)
        for pre in prefixes:
            for layer in ("theory", "numerics"):
                todo.extend(paper(pre).modules(layer))
    return tuple(sorted(m for m in seen if m not in INFRASTRUCTURE and _module_file(m)))


def _code_hash(name: str) -> str:
    """Hash of one module's code: its AST for figure modules without their ``plot*`` functions
    (drawing does not change the numbers), else the file's bytes."""
    path = _module_file(name)
    if path is None:
        return "nosource"
    if not name.startswith(f"{_PACKAGE}.figures."):
        return _file_hash(path)
    tree = ast.parse(Path(path).read_bytes())
    tree.body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef)
                                               and n.name.lstrip("_").startswith("plot"))]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def module_closure_hash(name: str) -> str:
    """Hash of the code of :func:`module_closure` of ``name``: editing one paper's module leaves
    the hashes of the modules that do not depend on it unchanged."""
    h = hashlib.sha256()
    for m in module_closure(name):
        h.update(f"{m}={_code_hash(m)};".encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def project_source_hash() -> str:
    """Hash of every ``.py`` file of the four layers (for callers that depend on all of them)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for pkg in ("theory", "numerics", "validation", "figures"):
        for p in sorted((root / pkg).rglob("*.py")):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cache_key(key: Any, code: Any = None) -> str:
    """Stable SHA-256 hash (hex) of ``key`` (JSON, sorted keys), the version and the code.

    ``code=None`` keys on the whole project source (:func:`project_source_hash`); a string keys on
    that hash as given (e.g. a :func:`module_closure_hash`); any other object on its own source
    file only.
    """
    if code is None:
        code_h = project_source_hash()
    elif isinstance(code, str):
        code_h = code
    else:
        code_h = source_hash(code)
    blob = json.dumps({"key": key, "version": version(), "code": code_h}, sort_keys=True,
                      default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


# -------------------------------------------------------------------------------- data <-> tree
def to_tree(value: Any, arrays: list | None = None) -> Any:
    """Convert ``value`` into JSON values, moving every NumPy array into ``arrays``.

    Allowed: ``None``, bool, int, float (non-finite included), str, lists and tuples (both come
    back as lists), dicts with string keys, NumPy arrays of numbers, bools or fixed-size strings,
    and NumPy scalars.  Anything else raises ``TypeError``: the cache stores data only.
    """
    if arrays is None:
        raise TypeError("to_tree needs the list that collects the arrays")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic):
        if value.dtype.kind in "biuf":
            return to_tree(value.item(), arrays)
        if value.dtype.kind == "U":
            return str(value)
        raise TypeError(f"cannot store a NumPy scalar of dtype {value.dtype}")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufcU":
            raise TypeError(f"cannot store an array of dtype {value.dtype} (data only)")
        arrays.append(np.ascontiguousarray(value))
        return {"__array__": len(arrays) - 1}
    if isinstance(value, (list, tuple)):
        return [to_tree(v, arrays) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"dict keys must be strings to be cached, got {k!r}")
            if k.startswith("__") and k.endswith("__"):
                raise TypeError(f"dict key {k!r} is reserved by the cache format")
            out[k] = to_tree(v, arrays)
        return out
    raise TypeError(f"cannot store a {type(value).__name__} in the cache (data only)")


def from_tree(tree: Any, arrays: list) -> Any:
    """Inverse of :func:`to_tree`."""
    if isinstance(tree, list):
        return [from_tree(v, arrays) for v in tree]
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            i = tree["__array__"]
            if not (isinstance(i, int) and 0 <= i < len(arrays)):
                raise CacheEntryError(f"array reference {i!r} out of range")
            return arrays[i]
        if set(tree) == {"__float__"}:
            s = tree["__float__"]
            if s not in ("nan", "inf", "-inf"):
                raise CacheEntryError(f"bad float {s!r}")
            return float(s)
        return {k: from_tree(v, arrays) for k, v in tree.items()}
    return tree


# ------------------------------------------------------------------------------------ entries
def _checksum(tree_json: str, meta_json: str, arrays: Iterable[np.ndarray]) -> str:
    h = hashlib.sha256()
    h.update(tree_json.encode())
    h.update(b"\0")
    h.update(meta_json.encode())
    for a in arrays:
        h.update(f"\0{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def write_entry(path: Path, key_hash: str, value: Any, meta: dict | None = None) -> None:
    """Write ``value`` (a tree of :func:`to_tree`-able data) as a checksummed ``.npz`` entry."""
    arrays: list = []
    tree_json = _canonical(to_tree(value, arrays))
    meta_json = _canonical(to_tree(meta or {}, []))
    header = {"schema": SCHEMA, "version": SCHEMA_VERSION, "key": key_hash,
              "tree": tree_json, "meta": meta_json, "n_arrays": len(arrays),
              "checksum": _checksum(tree_json, meta_json, arrays)}
    blob = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **{_HEADER: blob}, **{f"a{i}": a for i, a in enumerate(arrays)})
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())


def read_entry(path: Path, key_hash: str) -> tuple[Any, dict]:
    """``(value, meta)`` of a verified entry; :class:`CacheEntryError` if it cannot be trusted.

    Only ``numpy.load(..., allow_pickle=False)`` touches the file: a pickle, or an ``.npz`` with
    an object array, is refused before anything in it is interpreted.
    """
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise CacheEntryError("not an .npz archive")
        with z:
            header = json.loads(bytes(z[_HEADER].astype(np.uint8)).decode())
            if not isinstance(header, dict):
                raise CacheEntryError("header is not a JSON object")
            n = header.get("n_arrays")
            if not isinstance(n, int) or n < 0 or sorted(z.files) != sorted(
                    [_HEADER] + [f"a{i}" for i in range(n)]):
                raise CacheEntryError("the arrays do not match the header")
            arrays = [z[f"a{i}"] for i in range(n)]
    except CacheEntryError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError,
            json.JSONDecodeError) as e:
        raise CacheEntryError(f"unreadable ({type(e).__name__}: {e})") from None
    if header.get("schema") != SCHEMA or header.get("version") != SCHEMA_VERSION:
        raise CacheEntryError(f"schema {header.get('schema')!r} version "
                              f"{header.get('version')!r}, expected {SCHEMA!r} {SCHEMA_VERSION}")
    if header.get("key") != key_hash:
        raise CacheEntryError("the entry belongs to another key")
    tree_json, meta_json = header.get("tree"), header.get("meta")
    if not (isinstance(tree_json, str) and isinstance(meta_json, str)):
        raise CacheEntryError("header without a value")
    if header.get("checksum") != _checksum(tree_json, meta_json, arrays):
        raise CacheEntryError("checksum mismatch (altered or damaged data)")
    try:
        value = from_tree(json.loads(tree_json), arrays)
        meta = from_tree(json.loads(meta_json), [])
    except (ValueError, RecursionError) as e:
        raise CacheEntryError(f"bad value tree ({e})") from None
    return value, meta if isinstance(meta, dict) else {}


def entry_path(kind: str, key_hash: str) -> Path:
    return cache_dir() / kind / f"{key_hash}.npz"


def load(kind: str, key_hash: str, decode: Callable[[Any], Any] | None = None,
         what: str = "") -> tuple[bool, Any, dict]:
    """``(hit, value, meta)``: a verified, decoded entry, or ``(False, None, {})`` when there is
    none or it cannot be trusted (then one ``warning:`` line names the file and the reason)."""
    path = entry_path(kind, key_hash)
    if not path.exists():
        return False, None, {}
    try:
        value, meta = read_entry(path, key_hash)
        if decode is not None:
            try:
                value = decode(value)
            except (TypeError, KeyError, ValueError, IndexError, AttributeError) as e:
                raise CacheEntryError(f"value does not match its schema "
                                      f"({type(e).__name__}: {e})") from None
    except CacheEntryError as e:
        warn(f"ignoring cache entry {path}{f' ({what})' if what else ''}: {e}; recomputing")
        return False, None, {}
    return True, value, meta


def store(kind: str, key_hash: str, value: Any, meta: dict | None = None,
          encode: Callable[[Any], Any] | None = None) -> Any:
    """Encode ``value``, write it, and return the data as it will be read back (a tree)."""
    data = encode(value) if encode is not None else value
    write_entry(entry_path(kind, key_hash), key_hash, data, meta)
    return store_roundtrip(data)


def store_roundtrip(value: Any) -> Any:
    """What :func:`store` would give back, without writing (caching disabled)."""
    arrays: list = []
    return from_tree(json.loads(_canonical(to_tree(value, arrays))), arrays)


def peek_meta(kind: str, key_hash: str) -> dict | None:
    """The metadata of an existing entry without verifying it (for listings), or ``None``."""
    path = entry_path(kind, key_hash)
    if not path.exists():
        return None
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            return None
        with z:
            header = json.loads(bytes(z[_HEADER].astype(np.uint8)).decode())
        meta = json.loads(header["meta"])
        return meta if isinstance(meta, dict) else None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # unreadable: it will be recomputed


def cached(kind: str, key: Any, compute: Callable[[], Any], code: Any = None,
           refresh: bool = False, encode: Callable[[Any], Any] | None = None,
           decode: Callable[[Any], Any] | None = None) -> Any:
    """Return the cached value for ``(kind, key)``, computing and storing it on a miss.

    ``code``: see :func:`cache_key`.  ``encode`` turns the computed value into storable data
    (default: the value itself must be :func:`to_tree`-able); ``decode`` rebuilds the object from
    that data and raises ``TypeError``/``KeyError``/``ValueError`` if it does not fit (the entry is
    then recomputed).  The returned value is always ``decode(stored data)``.
    """
    if not enabled():
        value = compute()
        if encode is None and decode is None:
            return value
        tree = store_roundtrip(encode(value) if encode is not None else value)
        return decode(tree) if decode is not None else tree
    key_hash = cache_key(key, code)
    if not refresh:
        hit, value, _ = load(kind, key_hash, decode)
        if hit:
            return value
    data = store(kind, key_hash, compute(), encode=encode)
    return decode(data) if decode is not None else data
