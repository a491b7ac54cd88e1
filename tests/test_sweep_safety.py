"""Sweeps tell the truth, stay within limits, never hang on a wrong address, and write safely."""

import json
import math
import os
import socket
import threading
import time

import pytest

from icl_companion.cli import main
from icl_companion.numerics.sweep import (MAX_POINTS, Axis, check_output, read_sweep, run_sweep,
                                          write_sweep)
from icl_companion.theory.registry import CATALOGUE, Reference, Result, real, register


def _one_line_error(capsys, code, *fragments):
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture
def temp_result():
    """Register throw-away results in the live catalogue (serial sweeps see them)."""
    made = []

    def make(name, func, status="exact", outputs=("value",), bounds=None):
        r = register(Result(f"linear.test_{name}", "test only", (real("a", -10, 10),), func,
                            Reference("linear", "test only"), status, outputs=outputs,
                            bounds=bounds))
        made.append(r.id)
        return r

    yield make
    for rid in made:
        CATALOGUE.pop(rid, None)


def test_nan_negative_and_unflagged_rows_are_never_ok(temp_result, tmp_path, capsys):
    temp_result("nan", lambda a: math.nan if a > 0 else 1.0)
    temp_result("neg", lambda a: a, bounds={"value": (0, math.inf)})
    temp_result("noflag", lambda a: {"value": a * a}, status="numerical")
    temp_result("flagged", lambda a: {"value": a * a, "success": True, "residual": 0.0},
                status="numerical")
    axis = [Axis("a", -1.0, 1.0, 5)]
    st = {rid: [r["status"] for r in run_sweep(f"linear.test_{rid}", {}, axis, workers=1).rows]
          for rid in ("nan", "neg", "noflag", "flagged")}
    assert st["nan"][:3] == ["ok"] * 3 and all(s.startswith("invalid: value is nan")
                                               for s in st["nan"][3:])
    assert st["neg"][:2] == ["invalid: value = -1 is outside its range [0, inf]",
                             "invalid: value = -0.5 is outside its range [0, inf]"]
    assert st["neg"][2:] == ["ok"] * 3
    assert all(s == "invalid: the solver reported no success flag" for s in st["noflag"])
    assert st["flagged"] == ["ok"] * 5
    # the CLI exits 1 and says so; the rows are all written
    code = main(["sweep", "linear.test_nan", "a=-1:1:5", "--workers", "1",
                 "--out", str(tmp_path / "n.csv")])
    out, err = capsys.readouterr()
    assert code == 1 and "2 of 5 points failed" in err
    rows, meta = read_sweep(tmp_path / "n.csv")
    assert [r["status"] for r in rows][3:] == ["invalid: value is nan"] * 2
    assert meta["failed_or_not_converged"] == 2


def test_exceptions_of_any_type_stay_in_their_row(temp_result):
    def boom(a):
        if a > 0:
            raise TypeError("boom")
        return 1.0

    temp_result("boom", boom)
    rows = run_sweep("linear.test_boom", {}, [Axis("a", -1.0, 1.0, 3)], workers=1).rows
    assert [r["status"] for r in rows] == ["ok", "ok", "error: TypeError: boom"]


def test_grid_limits_refused_before_allocation(capsys):
    t0 = time.perf_counter()
    code = main(["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:1:1000000000"])
    _one_line_error(capsys, code, "num = 1000000000 exceeds the largest grid")
    code = main(["sweep", "linear.gd_risk", "d=5", "L=1:1000:1000", "sigma2=0.1",
                 "eta=0:1:1000"])
    _one_line_error(capsys, code, f"1e+06 points, more than the limit of {MAX_POINTS}",
                    "--force")
    assert time.perf_counter() - t0 < 10  # nothing of that size was built


def test_workers_capped_at_work_units(tmp_path):
    sw = run_sweep("linear.gd_risk", {"d": 5, "L": 40, "sigma2": 0.1}, [Axis("eta", 0, 1, 16)],
                   workers=48, chunk=8)
    assert sw.meta["backend"] == "processes:2" and sw.n_failed == 0
    sw = run_sweep("linear.gd_risk", {"d": 5, "L": 40, "sigma2": 0.1}, [Axis("eta", 0, 1, 4)],
                   workers=48, chunk=8)
    assert sw.meta["backend"] == "serial"


@pytest.mark.parametrize("out,frag", [("", "--out needs a file name"),
                                      ("res.json", "its JSON sidecar would have the same name"),
                                      (".", "is a folder")])
def test_bad_out_refused_before_computing(out, frag, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:1:3",
                 "--out", out])
    _one_line_error(capsys, code, frag)
    assert not list(tmp_path.iterdir())


def test_unwritable_out_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(ValueError, match="is not writable"):
            check_output(ro / "x.csv")
    finally:
        ro.chmod(0o700)


def test_existing_output_needs_overwrite_and_files_follow_umask(tmp_path, capsys):
    args = ["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:1:3", "--workers",
            "1", "--out", str(tmp_path / "s.csv")]
    old = os.umask(0o027)
    try:
        assert main(args) == 0
        capsys.readouterr()
        for f in ("s.csv", "s.json"):
            assert (tmp_path / f).stat().st_mode & 0o777 == 0o640  # 0o600 from mkstemp before
        code = main(args)
        _one_line_error(capsys, code, "s.csv exists; pass --overwrite")
        assert main(args + ["--overwrite"]) == 0
    finally:
        os.umask(old)


def test_csv_and_sidecar_are_a_checked_pair_and_stale_parts_go(tmp_path):
    sw = run_sweep("linear.gd_risk", {"d": 5, "L": 40, "sigma2": 0.1}, [Axis("eta", 0, 1, 4)],
                   workers=1)
    stale = tmp_path / ".s.csv.abc123.part"
    stale.write_text("half a file")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    csv_path, side = write_sweep(sw, tmp_path / "s.csv")
    assert not stale.exists() and not list(tmp_path.glob("*.part"))
    rows, meta = read_sweep(csv_path)
    assert len(rows) == 4 and meta["csv"] == "s.csv" and len(meta["run_id"]) == 32
    # a CSV from another run (a kill between the two renames) is detected
    other = run_sweep("linear.gd_risk", {"d": 5, "L": 40, "sigma2": 0.2},
                      [Axis("eta", 0, 1, 4)], workers=1)
    text = (tmp_path / "s.csv").read_text()
    write_sweep(other, tmp_path / "t.csv")
    (tmp_path / "s.csv").write_text((tmp_path / "t.csv").read_text())
    with pytest.raises(ValueError, match="does not match its sidecar"):
        read_sweep(tmp_path / "s.csv")
    (tmp_path / "s.csv").write_text(text)
    assert read_sweep(tmp_path / "s.csv")[1]["run_id"] == meta["run_id"]


@pytest.fixture
def silent_listener():
    """A TCP listener on the loopback that accepts and never speaks (not a Dask scheduler)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.5)
    stop, conns = threading.Event(), []

    def accept():
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def test_non_dask_listener_and_tls_fail_fast(iclc, silent_listener, tmp_path):
    pytest.importorskip("dask.distributed")
    base = ["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:1:3", "--out",
            tmp_path / "x.csv"]
    t0 = time.perf_counter()
    r = iclc(*base, "--scheduler", f"tcp://127.0.0.1:{silent_listener}", timeout=60)
    elapsed = time.perf_counter() - t0
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "no Dask handshake within" in r.stderr and elapsed < 20
    r = iclc(*base, "--scheduler", f"tls://127.0.0.1:{silent_listener}", timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "tls:// needs TLS certificates" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.csv").exists()


def test_sweep_json_sidecar_records_the_pair(tmp_path, capsys):
    assert main(["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:1:3",
                 "--workers", "1", "--out", str(tmp_path / "p.csv")]) == 0
    meta = json.loads((tmp_path / "p.json").read_text())
    assert meta["csv"] == "p.csv" and len(meta["csv_sha256"]) == 64
