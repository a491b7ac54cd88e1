"""Package version and run provenance, recorded in every output the project writes.

:func:`provenance` says what produced a file: the package version, the git commit of the source
checkout (or ``"not a git checkout"`` for an installed wheel) with a flag for uncommitted changes,
a hash of the package source actually imported, the versions of every library the package uses
(read from the installed distributions, without importing them), the command line, the time, and
the caller's extra fields (parameters, seed, wall and CPU time).
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["version", "provenance", "source_hash", "git_commit", "library_versions"]

# the repository root (editable install) or site-packages/icl_companion (wheel)
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_LIBRARIES = ("numpy", "scipy", "sympy", "mpmath", "matplotlib", "tqdm", "torch", "dask",
              "distributed")


@functools.lru_cache(maxsize=None)
def version() -> str:
    """The installed ``icl-companion`` version (the source tree's ``setup.cfg`` as a fallback)."""
    try:
        from importlib.metadata import PackageNotFoundError, version as _v

        return _v("icl-companion")
    except PackageNotFoundError:  # running from a source checkout that is not installed
        import configparser

        cfg = configparser.ConfigParser()
        cfg.read(_PACKAGE_ROOT / "setup.cfg")
        return cfg.get("metadata", "version", fallback="0+unknown")


def _source_files() -> list[Path]:
    """The package's modules: ``icl_companion/*.py`` and each layer's (wherever installed)."""
    import importlib

    dirs = [Path(importlib.import_module(m).__file__).resolve().parent for m in
            ("icl_companion", "icl_companion.theory", "icl_companion.numerics",
             "icl_companion.validation", "icl_companion.figures")]
    return sorted({p for d in dirs for p in d.glob("*.py")})


@functools.lru_cache(maxsize=None)
def source_hash() -> str:
    """SHA-256 (16 hex digits) of the package's Python source, file names included."""
    h = hashlib.sha256()
    for p in _source_files():
        h.update(f"{p.parent.name}/{p.name}".encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def git_commit() -> str:
    """``<sha>`` or ``<sha>+dirty`` of the source checkout, or ``"not a git checkout"``."""
    if not (_PACKAGE_ROOT / ".git").exists():
        return "not a git checkout"
    try:
        sha = subprocess.run(["git", "-C", str(_PACKAGE_ROOT), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return "not a git checkout"
        dirty = subprocess.run(["git", "-C", str(_PACKAGE_ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


@functools.lru_cache(maxsize=None)
def library_versions() -> dict:
    """Installed versions of the libraries the package uses (``None`` if not installed)."""
    from importlib.metadata import PackageNotFoundError, version as _v

    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = _v(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def provenance(**extra) -> dict:
    """A JSON-ready record of what produced an output; ``extra`` fields are added last."""
    rec = {"package": "icl-companion", "version": version(), "git_commit": git_commit(),
           "source_hash": source_hash(), "libraries": library_versions(),
           "command": [Path(sys.argv[0]).name] + sys.argv[1:] if sys.argv else [],
           "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    rec.update(extra)
    return rec
