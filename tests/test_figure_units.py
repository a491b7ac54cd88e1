"""Figures as work units: resumable after a kill, per-unit cache keys, backends give the same CSV."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import _iclc_command
from icl_companion.figures import registry as reg
from icl_companion.numerics import cache

FIG = "xattn-two-param"  # 12 units of 0.05-1 s: the cheapest figure with several units
N_UNITS = 12
#: figures still declared with one ``compute`` (the compatibility path), to be split into units
MONOLITHIC = {"aim-phase"}


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("ICLC_CACHE_DIR", str(d))
    monkeypatch.delenv("ICLC_CACHE", raising=False)
    return d


def _units_dir(cache_root: Path) -> Path:
    return cache_root / reg.UNITS_KIND


def _entries(cache_root: Path) -> dict:
    d = _units_dir(cache_root)
    return {p.name: p.stat().st_mtime_ns for p in d.glob("*.npz")} if d.exists() else {}


def _run(args, cache_root, **kw):
    env = dict(os.environ, ICLC_CACHE_DIR=str(cache_root))
    return subprocess.run(_iclc_command() + [str(a) for a in args], capture_output=True, text=True,
                          env=env, timeout=600, **kw)


def test_units_declared_for_every_figure():
    figs = reg.load_figures()
    assert len(figs) >= 18
    for name, fig in figs.items():
        for quick in (True, False):
            units = fig.work(quick, 0)
            assert units and all(callable(u.func) and "." not in u.func.__qualname__
                                 for u in units), name  # module-level: workers import them
            json.dumps([u.args for u in units])  # explicit JSON inputs only
        if name not in MONOLITHIC:
            assert fig.units is not None, f"{name} runs as one monolithic unit"


def test_kill_and_resume_recomputes_only_missing_units(tmp_path):
    """SIGKILL a figure run after some units are cached; the rerun computes only the others and
    gives the same CSV as an uninterrupted run."""
    ref_cache, cut_cache = tmp_path / "ref-cache", tmp_path / "cut-cache"
    r = _run(["figure", FIG, "--quick", "--workers", "1", "--out", tmp_path / "ref"], ref_cache)
    assert r.returncode == 0, r.stderr
    n_units = len(_entries(ref_cache))
    assert n_units == N_UNITS
    env = dict(os.environ, ICLC_CACHE_DIR=str(cut_cache))
    p = subprocess.Popen(_iclc_command() + ["figure", FIG, "--quick", "--workers", "1", "--out",
                                            str(tmp_path / "cut")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + 300
    while len(_entries(cut_cache)) < 1 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.01)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    done = _entries(cut_cache)
    assert 1 <= len(done) < n_units, f"kill came too late: {len(done)} of {n_units} cached"
    assert not (tmp_path / "cut" / f"{FIG}.csv").exists()
    r = _run(["figure", FIG, "--quick", "--workers", "2", "--out", tmp_path / "cut"], cut_cache)
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "cut" / f"{FIG}.json").read_text())
    assert meta["units"] == {**meta["units"], "total": n_units, "from_cache": len(done),
                             "computed": n_units - len(done)}
    after = _entries(cut_cache)
    assert all(after[k] == v for k, v in done.items())  # the finished units were not rewritten
    assert len(after) == n_units
    assert (tmp_path / "cut" / f"{FIG}.csv").read_bytes() == \
        (tmp_path / "ref" / f"{FIG}.csv").read_bytes()


def test_editing_one_papers_module_keeps_other_papers_units(fresh_cache, tmp_path, monkeypatch):
    out = tmp_path / "out"
    rec = reg.make(FIG, quick=True, out_dir=out, workers=1, progress=False)
    assert rec["from_cache"] == 0
    # an edit of the AIM state evolution (as seen by the cache key): the linear units stay valid
    real = cache._code_hash
    monkeypatch.setattr(cache, "_code_hash",
                        lambda m: "edited" if m.endswith(".aim_se") else real(m))
    keep = {f: [j.key_hash for j in reg._plan(reg.get_figure(f), True, 0, "cpu")]
            for f in (FIG, "linear-baselines", "mmicl-pe", "softmax-heads")}
    rec = reg.make(FIG, quick=True, out_dir=out, workers=1, progress=False)
    assert rec["from_cache"] == rec["units"] == N_UNITS
    changed = {j.key_hash for j in reg._plan(reg.get_figure("aim-softmax"), True, 0, None)}
    monkeypatch.undo()
    monkeypatch.setenv("ICLC_CACHE_DIR", str(fresh_cache))
    unchanged = {j.key_hash for j in reg._plan(reg.get_figure("aim-softmax"), True, 0, None)}
    assert not changed & unchanged  # every AIM unit depends on aim_se, so every key moved
    for f, key_hashes in keep.items():
        assert key_hashes == [j.key_hash for j in reg._plan(reg.get_figure(f), True, 0, "cpu")], f


def test_dask_local_cluster_gives_the_same_csv_as_the_process_pool(tmp_path, monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    fig = "xattn-two-param"
    monkeypatch.setenv("ICLC_CACHE_DIR", str(tmp_path / "pool-cache"))
    reg.make(fig, quick=True, out_dir=tmp_path / "pool", workers=2, progress=False)
    monkeypatch.setenv("ICLC_CACHE_DIR", str(tmp_path / "dask-cache"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        rec = reg.make(fig, quick=True, out_dir=tmp_path / "dask",
                       scheduler=cluster.scheduler_address, progress=False)
    assert rec["from_cache"] == 0
    meta = json.loads((tmp_path / "dask" / f"{fig}.json").read_text())
    assert meta["backend"].startswith("dask:tcp://127.0.0.1:")
    assert (tmp_path / "dask" / f"{fig}.csv").read_bytes() == \
        (tmp_path / "pool" / f"{fig}.csv").read_bytes()


def test_monolithic_compute_still_registers_as_one_unit(fresh_cache, tmp_path):
    """The compatibility path for a figure written with today's ``figure(name, desc, compute,
    plot)``: one unit, cached, the same table."""
    import numpy as np

    def compute(quick, seed):
        x = np.arange(4.0) + seed
        return reg.FigureData({"x": x, "y": x ** 2}, {"note": ("a", 1), "seed": seed})

    def draw(data):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(data.columns["x"], data.columns["y"])
        return fig

    f = reg.figure("linear-legacy-test", "monolithic", compute, draw)
    try:
        assert [u.name for u in f.work(True, 3)] == ["compute"]
        r1 = reg.make("linear-legacy-test", quick=True, out_dir=tmp_path, seed=3, workers=1,
                      progress=False)
        r2 = reg.make("linear-legacy-test", quick=True, out_dir=tmp_path, seed=3, workers=1,
                      progress=False)
        assert (r1["from_cache"], r2["from_cache"]) == (0, 1)
        assert (tmp_path / "linear-legacy-test.csv").read_text().splitlines() == [
            "x,y", "3.0,9.0", "4.0,16.0", "5.0,25.0", "6.0,36.0"]
    finally:
        reg.REGISTRY.entries.pop("linear.legacy-test", None)


def test_dry_run_lists_units_cached_and_estimates(fresh_cache, tmp_path):
    r = _run(["figure", FIG, "--quick", "--dry-run"], fresh_cache)
    assert r.returncode == 0, r.stderr
    assert f"{FIG} (quick, seed 0): 12 units, 0 cached, 12 to compute" in r.stdout
    assert r.stdout.count("  missing  gd/T=") == 9 and "a-priori" in r.stdout
    reg.make(FIG, quick=True, out_dir=tmp_path, workers=1, progress=False)
    # one entry removed: the dry run says 7 cached and estimates the missing one from its time
    victim = sorted(_units_dir(fresh_cache).glob("*.npz"))[0]
    victim.unlink()
    r = _run(["figure", FIG, "--quick", "--dry-run"], fresh_cache)
    assert "12 units, 11 cached, 1 to compute" in r.stdout, r.stdout
    assert r.stdout.count("  cached   ") == 11 and "(measured)" in r.stdout


def test_tampered_unit_entry_is_recomputed_with_one_warning(fresh_cache, tmp_path):
    import pickle

    from test_cache_data import _Evil

    r = _run(["figure", FIG, "--quick", "--out", tmp_path / "a"], fresh_cache)
    assert r.returncode == 0, r.stderr
    entries = sorted(_units_dir(fresh_cache).glob("*.npz"))
    marker = tmp_path / "pwned"
    entries[0].write_bytes(pickle.dumps(_Evil(marker)))
    r = _run(["figure", FIG, "--quick", "--out", tmp_path / "b"], fresh_cache)
    assert r.returncode == 0 and not marker.exists()
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warnings) == 1 and "recomputing" in warnings[0], r.stderr
    assert (tmp_path / "a" / f"{FIG}.csv").read_bytes() == (tmp_path / "b" / f"{FIG}.csv").read_bytes()


@pytest.mark.parametrize("args, msg", [
    (["--workers", "0"], "--workers must be an integer >= 1"),
    (["--workers", "-3"], "--workers must be an integer >= 1"),
    (["--device", "tpu"], "invalid choice: 'tpu'"),
])
def test_bad_figure_options_are_one_error_line(args, msg, fresh_cache, tmp_path):
    r = _run(["figure", FIG, "--quick", "--out", tmp_path, *args], fresh_cache)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and msg in r.stderr


def test_cuda_without_a_gpu_is_a_user_error(fresh_cache, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    r = _run(["figure", "mmicl-pe", "--quick", "--device", "cuda", "--dry-run"], fresh_cache)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no CUDA GPU" in r.stderr


def _silent_listener():
    """A TCP listener that accepts connections and never answers (not a Dask scheduler)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns, stop = [], threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, stop, conns


def test_unreachable_or_silent_scheduler_fails_fast(fresh_cache, tmp_path):
    srv, stop, conns = _silent_listener()
    try:
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()  # nothing listens there any more
        for addr in (f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{srv.getsockname()[1]}"):
            t0 = time.monotonic()
            r = _run(["figure", FIG, "--quick", "--no-cache", "--out", tmp_path,
                      "--scheduler", addr], fresh_cache)
            elapsed = time.monotonic() - t0
            assert r.returncode == 2, r.stderr
            assert r.stderr.count("\n") == 1 and "cannot reach the dask scheduler" in r.stderr
            assert "8 s" in r.stderr or "7.5 s" in r.stderr
            # no hang: the connection gives up after 8 s (a bound on the wall time of a whole
            # subprocess would be a timing assertion on a shared machine; this one only
            # separates "gave up" from "hung until the test's 600 s timeout")
            assert elapsed < 120
    finally:
        stop.set()
        srv.close()
        for c in conns:
            c.close()
