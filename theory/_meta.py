"""Package version and run provenance, recorded in every output the project writes."""

from __future__ import annotations

import datetime as _dt
import functools
import platform


@functools.lru_cache(maxsize=None)
def version() -> str:
    """The installed ``icl-companion`` version (the source tree's ``setup.cfg`` as a fallback)."""
    try:
        from importlib.metadata import PackageNotFoundError, version as _v

        return _v("icl-companion")
    except PackageNotFoundError:  # running from a source checkout that is not installed
        import configparser
        import pathlib

        cfg = configparser.ConfigParser()
        cfg.read(pathlib.Path(__file__).resolve().parents[1] / "setup.cfg")
        return cfg.get("metadata", "version", fallback="0+unknown")


def provenance(**extra) -> dict:
    """A JSON-ready record: package version, Python and library versions, UTC time, and ``extra``."""
    import numpy
    import scipy
    import sympy

    rec = {"package": "icl-companion", "version": version(), "python": platform.python_version(),
           "numpy": numpy.__version__, "scipy": scipy.__version__, "sympy": sympy.__version__,
           "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    rec.update(extra)
    return rec
