"""Atomic writes and the on-disk cache."""

import pytest

from icl_companion.numerics import cache
from icl_companion.numerics.io import atomic_write, read_csv, write_csv


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    p = tmp_path / "out.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(p) as f:
            f.write("half")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == "old" and list(tmp_path.iterdir()) == [p]


def test_csv_roundtrip_full_precision(tmp_path):
    rows = [{"a": 0.1 + 0.2, "b": "x", "v": [1.5, 2.0]}, {"a": float("nan"), "b": "y"}]
    write_csv(tmp_path / "t.csv", rows)
    back = read_csv(tmp_path / "t.csv")
    assert float(back[0]["a"]) == 0.1 + 0.2 and back[0]["v"] == "1.5,2.0"
    assert back[1]["a"] == "nan" and back[1]["v"] == ""


def test_cache_hit_miss_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("ICLC_CACHE_DIR", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"x": len(calls)}

    assert cache.cached("t", {"a": 1}, compute) == {"x": 1}
    assert cache.cached("t", {"a": 1}, compute) == {"x": 1} and len(calls) == 1
    assert cache.cached("t", {"a": 2}, compute) == {"x": 2}
    assert cache.cached("t", {"a": 1}, compute, refresh=True) == {"x": 3}
    # a corrupt entry is recomputed, not trusted
    for p in (tmp_path / "t").iterdir():
        p.write_bytes(b"garbage")
    assert cache.cached("t", {"a": 1}, compute) == {"x": 4}
    monkeypatch.setenv("ICLC_CACHE", "0")
    assert cache.cached("t", {"a": 1}, compute) == {"x": 5}


def test_cache_key_depends_on_code_and_version(monkeypatch):
    k1 = cache.cache_key({"a": 1})
    assert k1 == cache.cache_key({"a": 1}) and k1 != cache.cache_key({"a": 2})
    assert cache.cache_key({"a": 1}, code=cache) != k1
    monkeypatch.setattr(cache, "version", lambda: "999")
    assert cache.cache_key({"a": 1}) != k1


def test_provenance_names_commit_source_libraries_and_command():
    from icl_companion.theory._meta import provenance

    rec = provenance(seed=3)
    assert rec["version"] and rec["seed"] == 3
    assert rec["git_commit"] == "not a git checkout" or len(rec["git_commit"].split("+")[0]) == 40
    assert len(rec["source_hash"]) == 16
    for lib in ("numpy", "scipy", "sympy", "mpmath", "matplotlib", "torch"):
        assert lib in rec["libraries"]
    assert isinstance(rec["command"], list)
