"""Sweeps: grids, warm starts, per-point status, identical output across executors."""

import json

import numpy as np
import pytest

from icl_companion.numerics.sweep import Axis, grid_points, parse_axis, run_sweep, write_sweep
from icl_companion.theory.registry import CATALOGUE, Reference, Result, get, real, register


def test_parse_axis_errors():
    for bad in ("1:2", "a:2:3", "0:1:2.5", "0:1:0", "0:1:3:cubic", "0:1:3:log"):
        with pytest.raises(ValueError, match="sweep range for x"):
            parse_axis("x", bad)


def test_grid_is_validated_up_front():
    r = get("linear.gd_risk")
    with pytest.raises(ValueError, match="sigma2 = -0.5 is outside"):
        grid_points(r, {"d": 5, "L": 40, "eta": 1.0}, [Axis("sigma2", -0.5, 1.0, 4)])
    with pytest.raises(ValueError, match="integer input L gets non-integer grid"):
        grid_points(r, {"d": 5, "sigma2": 0.1, "eta": 1.0}, [Axis("L", 1, 10, 5)])
    with pytest.raises(ValueError, match="only real and integer inputs can be swept"):
        grid_points(get("linear.lsa_zfb_risk"), {"N": 3, "M": 3}, [Axis("lambdas", 1, 2, 3)])
    with pytest.raises(ValueError, match="both as a fixed value and as a sweep range"):
        grid_points(r, {"d": 5, "L": 40, "sigma2": 0.1, "eta": 1}, [Axis("eta", 0, 1, 3)])
    pts = grid_points(r, {"d": 5, "sigma2": 0.1}, [Axis("L", 10, 40, 4), Axis("eta", 0, 1, 3)])
    assert len(pts) == 12 and pts[1] == {"d": 5, "L": 10, "sigma2": 0.1, "eta": 0.5}


# A numerical result with warm start: Newton for x^3 = a from the previous point's root.
def _cube_root(a, warm=None):
    x = 1.0 if warm is None else warm
    for it in range(1, 200):
        step = (x**3 - a) / (3 * x**2)
        x -= step
        if abs(step) < 1e-14 * max(1.0, abs(x)):
            break
    return {"root": x, "success": abs(x**3 - a) < 1e-9 * max(a, 1), "nit": it,
            "residual": abs(x**3 - a), "_warm": x}


@pytest.fixture
def cube_root_result():
    r = register(Result("linear.test_cube_root", "test only", (real("a", 0.5, 1e6),), _cube_root,
                        Reference("linear", "test only"), "numerical", outputs=("root",), warm_start=True))
    yield r
    CATALOGUE.pop(r.id, None)


def test_warm_start_reduces_iterations_and_chunks_restart_cold(cube_root_result):
    axis = [Axis("a", 1.0, 1000.0, 40)]
    warm = run_sweep(cube_root_result.id, {}, axis, workers=1, chunk=40)
    cold_chunks = run_sweep(cube_root_result.id, {}, axis, workers=1, chunk=1)
    assert warm.n_failed == 0 and cold_chunks.n_failed == 0
    assert np.allclose(warm.column("root") ** 3, warm.column("a"), rtol=1e-12)
    it_w, it_c = warm.column("nit"), cold_chunks.column("nit")
    assert it_w[0] == it_c[0]  # first point of a chunk starts cold
    assert it_w[1:].sum() < it_c[1:].sum()


def test_errors_and_nonconvergence_are_kept_per_point(cube_root_result, tmp_path):
    def flaky(a, warm=None):
        if a > 500:
            raise ValueError("a too large for this test")
        return {"root": a, "success": a < 100, "nit": 1, "residual": 0.0}

    cube_root_result.func = flaky
    sw = run_sweep(cube_root_result.id, {}, [Axis("a", 1.0, 1000.0, 10)], workers=1)
    status = [r["status"] for r in sw.rows]
    assert status[0] == "ok" and "not-converged" in status
    assert any(s.startswith("error: ValueError: a too large") for s in status)
    assert sw.n_failed == sum(s != "ok" for s in status)
    csv_path, side = write_sweep(sw, tmp_path / "s.csv")
    meta = json.loads(open(side).read())
    assert meta["failed_or_not_converged"] == sw.n_failed and meta["version"]


def test_process_pool_equals_serial(cube_root_result):
    axis = [Axis("a", 1.0, 1000.0, 30)]
    a = run_sweep(cube_root_result.id, {}, axis, workers=1, chunk=7)
    b = run_sweep(cube_root_result.id, {}, axis, workers=2, chunk=7)
    assert [r["root"] for r in a.rows] == [r["root"] for r in b.rows]


def test_cli_sweep_workers_and_dask_give_identical_csv(iclc, tmp_path):
    """The acceptance test: 50 points, --workers 2 vs a loopback dask LocalCluster."""
    distributed = pytest.importorskip("dask.distributed")
    args = ["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:2:50"]
    r1 = iclc(*args, "--workers", "2", "--out", tmp_path / "w.csv")
    assert r1.returncode == 0, r1.stderr
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        r2 = iclc(*args, "--scheduler", cluster.scheduler_address, "--out", tmp_path / "d.csv")
    assert r2.returncode == 0, r2.stderr
    w, d = (tmp_path / "w.csv").read_text(), (tmp_path / "d.csv").read_text()
    assert w == d and len(w.strip().splitlines()) == 51
    side = json.loads((tmp_path / "d.json").read_text())
    assert side["backend"].startswith("dask:tcp://127.0.0.1") and side["points"] == 50
    assert side["version"] and "time_utc" in side
    # The CSV holds every input, the output and the status, one row per point
    header = w.splitlines()[0].split(",")
    assert header == ["d", "L", "sigma2", "eta", "value", "status"]


def test_cli_sweep_bad_scheduler_is_one_line(iclc, tmp_path):
    pytest.importorskip("dask.distributed")
    r = iclc("sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:1:3",
             "--scheduler", "tcp://127.0.0.1:1", "--out", tmp_path / "x.csv", timeout=120)
    assert r.returncode == 2 and not (tmp_path / "x.csv").exists()
    assert r.stderr.startswith("error: cannot reach the dask scheduler at tcp://127.0.0.1:1")
    assert len(r.stderr.strip().splitlines()) == 1
