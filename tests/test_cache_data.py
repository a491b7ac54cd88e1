"""The on-disk cache holds data, never code (issue 16.1): the three tampering cases and the format."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from icl_companion.numerics import cache


class _Evil:
    """Unpickling this object creates a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ICLC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ICLC_CACHE", raising=False)
    return tmp_path / "cache"


def _entry(kind, key):
    return cache.entry_path(kind, cache.cache_key(key, "c"))


def _counter(value):
    calls = []

    def compute():
        calls.append(1)
        return value

    return compute, calls


def test_round_trip_of_data_types(cache_dir):
    value = {"a": 1, "b": 2.5, "nan": float("nan"), "inf": -np.inf, "s": "x", "none": None,
             "flag": True, "list": [1, (2, 3)], "arr": np.arange(6.0).reshape(2, 3),
             "ints": np.array([1, 2], dtype=np.int32), "bools": np.array([True, False]),
             "np_scalar": np.float64(0.1), "nested": {"k": [np.ones(2)]}}
    compute, calls = _counter(value)
    first = cache.cached("t", {"k": 1}, compute, code="c")
    second = cache.cached("t", {"k": 1}, compute, code="c")
    assert len(calls) == 1
    for got in (first, second):
        assert got["a"] == 1 and got["b"] == 2.5 and np.isnan(got["nan"]) and got["inf"] == -np.inf
        assert got["list"] == [1, [2, 3]] and got["s"] == "x" and got["none"] is None
        assert got["arr"].dtype == np.float64 and np.array_equal(got["arr"], value["arr"])
        assert got["ints"].dtype == np.int32 and got["bools"].dtype == bool
        assert got["np_scalar"] == 0.1 and type(got["np_scalar"]) is float
    with pytest.raises(TypeError, match="data only"):
        cache.cached("t", {"k": 2}, lambda: {"f": object()}, code="c")
    with pytest.raises(TypeError, match="strings"):
        cache.cached("t", {"k": 3}, lambda: {1: 2}, code="c")


def test_tampering_a_pickle_that_would_run_code_runs_nothing(cache_dir, tmp_path, capsys):
    marker = tmp_path / "pwned"
    compute, calls = _counter({"x": np.arange(3.0)})
    cache.cached("t", {"k": 1}, compute, code="c")
    path = _entry("t", {"k": 1})
    path.write_bytes(pickle.dumps(_Evil(marker)))          # a plain pickle in place of the entry
    got = cache.cached("t", {"k": 1}, compute, code="c")
    assert not marker.exists() and len(calls) == 2 and np.array_equal(got["x"], np.arange(3.0))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "recomputing" in err[0]
    # an .npz whose arrays are pickled objects (allow_pickle would run them): refused as well
    with open(path, "wb") as f:
        np.savez(f, __entry__=np.array([_Evil(marker)], dtype=object))
    got = cache.cached("t", {"k": 1}, compute, code="c")
    assert not marker.exists() and len(calls) == 3
    assert capsys.readouterr().err.count("warning: ") == 1
    # the entry is rewritten as data and trusted again
    cache.cached("t", {"k": 1}, compute, code="c")
    assert len(calls) == 3 and capsys.readouterr().err == ""


def test_tampering_altered_numbers_are_detected(cache_dir, capsys):
    compute, calls = _counter({"x": np.arange(3.0), "y": 7})
    cache.cached("t", {"k": 1}, compute, code="c")
    path = _entry("t", {"k": 1})
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["a0"] = arrays["a0"] * 1.0001                   # same header, other numbers
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    got = cache.cached("t", {"k": 1}, compute, code="c")
    assert len(calls) == 2 and np.array_equal(got["x"], np.arange(3.0))
    err = capsys.readouterr().err
    assert err.count("warning: ") == 1 and "checksum" in err
    # numbers in the JSON header altered (the tree), checksum left as it was: detected too
    cache.cached("t", {"k": 1}, compute, code="c")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = bytes(arrays["__entry__"]).decode().replace('\\"y\\":7', '\\"y\\":8')
    arrays["__entry__"] = np.frombuffer(header.encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    assert cache.cached("t", {"k": 1}, compute, code="c")["y"] == 7 and len(calls) == 3
    assert "checksum" in capsys.readouterr().err


def test_tampering_wrong_type_is_recomputed(cache_dir, capsys):
    def decode(v):
        if not isinstance(v, dict) or "x" not in v:
            raise TypeError("expected a dict with x")
        return v

    compute, calls = _counter({"x": 1.5})
    key_hash = cache.cache_key({"k": 1}, "c")
    # a well-formed, checksummed entry of the wrong type, as a careless writer would leave it
    cache.write_entry(cache.entry_path("t", key_hash), key_hash, ["not", "a", "record"])
    got = cache.cached("t", {"k": 1}, compute, code="c", decode=decode)
    assert got == {"x": 1.5} and len(calls) == 1
    err = capsys.readouterr().err
    assert err.count("warning: ") == 1 and "schema" in err
    assert cache.cached("t", {"k": 1}, compute, code="c", decode=decode) == {"x": 1.5}
    assert len(calls) == 1


def test_entry_of_another_key_or_schema_is_not_trusted(cache_dir, capsys):
    compute, calls = _counter({"x": 1})
    cache.cached("t", {"k": 1}, compute, code="c")
    mine = cache.entry_path("t", cache.cache_key({"k": 1}, "c"))
    other = cache.entry_path("t", cache.cache_key({"k": 2}, "c"))
    other.write_bytes(mine.read_bytes())                       # copied under another key
    cache.cached("t", {"k": 2}, compute, code="c")
    assert len(calls) == 2 and "another key" in capsys.readouterr().err
    for junk in (b"", b"garbage", b"PK\x03\x04broken zip"):
        mine.write_bytes(junk)
        cache.cached("t", {"k": 1}, compute, code="c")
        assert capsys.readouterr().err.count("warning: ") == 1
    assert len(calls) == 5


def test_closure_hash_follows_imports_not_the_whole_project(monkeypatch):
    closure = cache.module_closure("icl_companion.figures.linear_baselines")
    assert "icl_companion.numerics.linear" in closure and "icl_companion.theory.linear" in closure
    assert not any(m.split(".")[-1].startswith(("aim", "mmicl", "softmax", "xattn"))
                   for m in closure), closure
    mm = cache.module_closure("icl_companion.figures.mmicl_common")
    assert "icl_companion.validation.mmicl_train" in mm and "icl_companion.validation.mmicl_model" in mm
    mods = ("linear_baselines", "aim_softmax", "xattn_alpha")
    before = {m: cache.module_closure_hash(f"icl_companion.figures.{m}") for m in mods}
    real = cache._code_hash
    monkeypatch.setattr(cache, "_code_hash", lambda m: "edited" if m.endswith("aim_se") else real(m))
    after = {m: cache.module_closure_hash(f"icl_companion.figures.{m}") for m in mods}
    assert after["linear_baselines"] == before["linear_baselines"]
    assert after["xattn_alpha"] == before["xattn_alpha"]
    assert after["aim_softmax"] != before["aim_softmax"]


def test_figure_module_hash_ignores_plot_functions(tmp_path, monkeypatch):
    src = tmp_path / "pkgfig.py"
    body = "import numpy as np\n\ndef units(q, s):\n    return [1]\n\n"
    src.write_text(body + "def plot(data):\n    return 1\n")
    monkeypatch.setattr(cache, "_module_file", lambda name: str(src))
    h1 = cache._code_hash("icl_companion.figures.x")
    src.write_text(body + "def plot(data):\n    return 2  # a new colour\n")
    assert cache._code_hash("icl_companion.figures.x") == h1
    src.write_text(body.replace("[1]", "[2]") + "def plot(data):\n    return 2\n")
    assert cache._code_hash("icl_companion.figures.x") != h1
