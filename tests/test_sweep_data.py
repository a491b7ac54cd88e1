"""Sweeps as data: pandas / xarray views, plots, --plot, the batched path and worker start-up."""

import sys

import numpy as np
import pytest

from icl_companion.cli import main
from icl_companion.numerics.sweep import Axis, run_sweep, write_sweep
from icl_companion.theory.registry import get


@pytest.fixture(scope="module")
def sweep2d():
    return run_sweep("linear.gd_risk", {"d": 5, "sigma2": 0.1},
                     [Axis("L", 10, 40, 4), Axis("eta", 0, 2, 5)], workers=1)


def test_to_pandas_has_the_csv_columns(sweep2d):
    pytest.importorskip("pandas")
    df = sweep2d.to_pandas()
    assert list(df.columns) == ["d", "L", "sigma2", "eta", "value", "status"]
    assert len(df) == 20 and (df["status"] == "ok").all()


def test_to_xarray_is_indexed_by_the_swept_axes(sweep2d):
    pytest.importorskip("xarray")
    ds = sweep2d.to_xarray()
    assert ds["value"].dims == ("L", "eta") and ds["value"].shape == (4, 5)
    assert ds["L"].values.tolist() == [10, 20, 30, 40]
    v = ds["value"].sel(L=30, eta=1.0).item()
    assert v == get("linear.gd_risk")(d=5, L=30, sigma2=0.1, eta=1.0)
    assert ds.attrs["fixed_d"] == 5


def test_missing_optional_dependency_names_the_extra(sweep2d, monkeypatch, capsys):
    from icl_companion.theory.display import MissingExtraError

    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'icl-companion\[notebook\]'"):
        sweep2d.to_pandas()
    with pytest.raises(MissingExtraError, match="to_xarray"):
        sweep2d.to_xarray()


def test_plot_one_and_two_axes_and_refuses_three(sweep2d, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    ax = sweep2d.plot()
    assert ax.get_xlabel() == r"$\eta$" and ax.get_ylabel() == "$L$"
    sw1 = run_sweep("linear.gd_risk", {"d": 5, "L": 40, "eta": 0.9}, [Axis("sigma2", 0, 1, 5)],
                    workers=1)
    assert sw1.plot().get_xlabel() == r"$\sigma^2$"
    assert "<img src=\"data:image/png;base64," in sw1._repr_html_()
    sw3 = run_sweep("linear.gd_risk", {"sigma2": 0.1},
                    [Axis("d", 2, 3, 2), Axis("L", 10, 20, 2), Axis("eta", 0, 1, 2)], workers=1)
    with pytest.raises(ValueError, match="one or two swept inputs"):
        sw3.plot()


def test_cli_plot_writes_a_png_and_refuses_three_axes(tmp_path, capsys):
    out = tmp_path / "g.csv"
    assert main(["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:2:9",
                 "--workers", "1", "--out", str(out), "--plot"]) == 0
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["sweep", "linear.gd_risk", "d=2:3:2", "L=10:20:2", "sigma2=0.1", "eta=0:1:2",
                 "--out", str(tmp_path / "h.csv"), "--plot"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --plot shows one or two swept inputs") and \
        not (tmp_path / "h.csv").exists()


def _mmse(axes, workers):
    return run_sweep("aim.mmse", {"rho": 0.5, "T": 2}, axes, workers=workers)


def test_batched_path_writes_the_same_csv_bytes(tmp_path, monkeypatch):
    r = get("aim.mmse")
    assert r.batch is not None
    axes = [Axis("alpha", 0.001, 0.2, 40)]
    a = write_sweep(_mmse(axes, 1), tmp_path / "a.csv")
    monkeypatch.setattr(r, "batch", None)
    b = write_sweep(_mmse(axes, 1), tmp_path / "b.csv")
    assert open(a[0], "rb").read() == open(b[0], "rb").read()


def test_process_pool_with_batches_equals_serial(tmp_path):
    axes = [Axis("alpha", 0.001, 0.2, 33)]
    a = write_sweep(_mmse(axes, 1), tmp_path / "a.csv")
    b = write_sweep(_mmse(axes, 2), tmp_path / "b.csv")
    assert open(a[0], "rb").read() == open(b[0], "rb").read()


def test_hardmax_falls_back_to_warm_started_chunks():
    """The batch declines hardmax points: chunks stay the warm-start unit (cold at each start)."""
    sw = run_sweep("aim.mmse", {"rho": 0.5, "T": 2, "channel": "hardmax"},
                   [Axis("alpha", 0.05, 0.3, 6)], workers=1, chunk=3)
    assert sw.n_failed == 0 and np.all(np.diff(sw.column("mmse")) <= 1e-9)


def test_workers_pin_blas_threads():
    from icl_companion.numerics import sweep

    code = ("import os\n"
            "from icl_companion.numerics.sweep import _pin_threads\n"
            "_pin_threads()\n"
            "from threadpoolctl import threadpool_info\n"
            "print(max([p['num_threads'] for p in threadpool_info()] or [1]), "
            "os.environ['OMP_NUM_THREADS'])\n")
    import concurrent.futures as cf

    with cf.ProcessPoolExecutor(1) as ex:
        n, omp = ex.submit(_child, code).result()
    assert n == 1 and omp == "1"
    assert sweep._PINNED["pid"] is None  # the calling process is left alone


def _child(code):
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        exec(code, {})
    n, omp = buf.getvalue().split()
    return int(n), omp
