"""End to end: the real `iclc` console script in a subprocess (contract of DESIGN.md)."""

import json

import pytest


def _one_line_error(r, *fragments):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_eval_json_contract(iclc):
    r = iclc("eval", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0.9", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out) == ["id", "inputs", "value", "status", "reference", "info"]
    assert out["info"] == {}  # a closed form has no solver diagnostics
    assert out["id"] == "linear.gd_risk" and out["status"] == "exact"
    assert out["inputs"] == {"d": 5, "L": 40, "sigma2": 0.1, "eta": 0.9}
    # 1 + sigma2 - 2 eta + eta^2 (1 + (d + 1 + d sigma2)/L)
    assert out["value"] == pytest.approx(1.1 - 1.8 + 0.81 * (1 + 6.5 / 40), rel=1e-14)
    assert "2503.12734" in out["reference"]


def test_eval_plain_and_vector(iclc):
    r = iclc("eval", "linear.lsa_zfb_risk", "lambdas=1,1,1", "N=10", "M=10")
    assert r.returncode == 0 and r.stdout.startswith("linear.lsa_zfb_risk = ")
    assert float(r.stdout.split("=")[1].split()[0]) == pytest.approx(3 * 4 / 14, rel=1e-11)


@pytest.mark.parametrize("args,frags", [
    (["eval", "linear.gd_risk", "d=5", "L=40", "sigma2=-1", "eta=0.9"],
     ["linear.gd_risk", "sigma2 = -1", "[0, inf)"]),
    (["eval", "linear.gd_risk", "d=5", "L=abc", "sigma2=1", "eta=0.9"],
     ["L = 'abc' is not an integer"]),
    (["eval", "linear.nothing", "x=1"], ["unknown result id 'linear.nothing'"]),
    (["eval", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1"], ["missing input eta"]),
    (["eval", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=1", "zeta=2"],
     ["unknown input 'zeta'"]),
    (["eval", "linear.gd_risk", "d=5", "L=40", "sigma2", "eta=1"], ["expected name=value"]),
    (["eval", "linear.lsa_zfb_risk", "lambdas=1,x", "N=3", "M=3"], ["lambdas = '1,x'"]),
    (["eval", "linear.gd_risk", "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
    (["frobnicate"], ["invalid choice"]),
    (["list", "--paper", "nope"], ["unknown paper prefix 'nope'"]),
    (["show", "nope.x"], ["unknown result id"]),
    (["verify", "nope"], ["no verification check matches 'nope'"]),
    (["figure", "nope"], ["unknown figure 'nope'"]),
    (["figure", "linear-baselines", "--quick", "--out", "/proc/no-such-folder"],
     ["--out must be a writable folder", "/proc/no-such-folder"]),
    (["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:1"], ["sweep range for eta"]),
    (["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0:1:3", "--workers", "0"],
     ["--workers must be >= 1"]),
])
def test_bad_input_is_one_line_exit_2(iclc, args, frags):
    _one_line_error(iclc(*args), *frags)


def test_list_show_and_version(iclc):
    r = iclc("list", "--paper", "linear")
    assert r.returncode == 0
    ids = [line.split()[0] for line in r.stdout.splitlines()]
    assert "linear.gd_risk" in ids and all(i.startswith("linear.") for i in ids)
    r = iclc("show", "linear.ridge_bayes_risk_asym")
    assert r.returncode == 0 and "asymptotic" in r.stdout and "sigma2" in r.stdout
    r = iclc("show", "linear.gd_risk", "--latex")
    assert r.returncode == 0 and "\\frac" in r.stdout
    r = iclc("--version")
    assert r.returncode == 0 and r.stdout.startswith("icl-companion ")


def test_verify_linear_quick_json(iclc):
    r = iclc("verify", "linear.gd_risk", "--quick", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["passed"] and out["reports"][0]["status"] == "passed"
    assert all(c["passed"] for c in out["reports"][0]["comparisons"])


def test_figure_linear_baselines_quick(iclc, tmp_path):
    r = iclc("figure", "linear-baselines", "--quick", "--out", tmp_path / "figs")
    assert r.returncode == 0, r.stderr
    for ext in ("png", "pdf", "csv", "json"):
        f = tmp_path / "figs" / f"linear-baselines.{ext}"
        assert f.exists() and f.stat().st_size > 200
    rows = (tmp_path / "figs" / "linear-baselines.csv").read_text().splitlines()
    assert rows[0] == "panel,method,L,theory,mc,mc_se" and len(rows) > 20
    meta = json.loads((tmp_path / "figs" / "linear-baselines.json").read_text())
    assert meta["quick"] is True and meta["seed"] == 0 and meta["version"]
    assert not list((tmp_path / "figs").glob("*.part"))
    r = iclc("figure", "list")
    assert r.returncode == 0 and "linear-baselines" in r.stdout


@pytest.mark.slow
def test_figure_all_quick(iclc, tmp_path):
    """The README's main job."""
    r = iclc("figure", "all", "--quick", "--out", tmp_path / "figs", timeout=3600)
    assert r.returncode == 0, r.stderr


def test_closed_pipe_is_quiet():
    """`iclc list | head -1`: the reader goes away; no traceback, the status of a SIGPIPE'd writer."""
    import subprocess

    from conftest import _iclc_command

    p = subprocess.Popen(_iclc_command() + ["list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # closed before the child writes: its first write fails with EPIPE
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141, err
    assert "Traceback" not in err and err == ""
