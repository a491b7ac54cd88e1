"""Figure files a referee accepts (issue 17): numeric CSV cells, documented columns, provenance,
the user's umask, the same bytes from the same seed; every figure declares its claim and columns."""

import csv
import math
import os

import numpy as np
import pytest

from figure_outputs import check_outputs
from icl_companion.figures import registry as reg

FIG = "xattn-two-param"  # the cheapest figure (12 units of 0.05-1 s), with text and numeric columns


def test_every_figure_states_claim_columns_and_paper_figure():
    for name, fig in reg.load_figures().items():
        assert fig.claim and fig.claim.endswith(".") and len(fig.claim) < 400, name
        assert fig.columns, f"{name}: no CSV columns declared"
        assert all(c.meaning for c in fig.columns.values()), name
        assert fig.reproduces, name


def test_table_csv_numeric_cells_and_declared_kinds():
    cols = {"label": ["a", "b"], "x": [np.float64(1 / 3), np.float32(2.5)], "n": [np.int64(3), 4],
            "ok": [np.bool_(True), False], "y": [math.nan, math.inf]}
    declared = {"label": reg.Column("a label", kind="text"), "x": reg.Column("x"),
                "n": reg.Column("count", kind="int"), "ok": reg.Column("flag", kind="flag"),
                "y": reg.Column("y", sentinels="nan: missing")}
    text, doc = reg.table_csv(cols, declared)
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == list(cols)
    assert rows[1] == ["a", repr(1 / 3), "3", "1", "nan"]
    assert rows[2] == ["b", "2.5", "4", "0", "inf"]
    assert doc["y"]["sentinels"] == "nan: missing" and doc["n"]["type"] == "int"
    with pytest.raises(ValueError, match="undeclared"):
        reg.table_csv(dict(cols, z=[1, 2]), declared)
    with pytest.raises(TypeError, match="not a number"):
        reg.table_csv(dict(cols, x=["1", "2"]), declared)
    with pytest.raises(TypeError, match="not an integer"):
        reg.table_csv(dict(cols, n=[1.5, 2]), declared)


def test_written_figure_contract_umask_and_same_bytes(tmp_path, monkeypatch):
    """Written with umask 022: files 0644 (atomic writes must not leave mkstemp's 0600); the JSON
    documents every CSV column and the provenance; recomputed without the cache, the CSV is the
    same bytes."""
    monkeypatch.setenv("ICLC_CACHE_DIR", str(tmp_path / "cache"))
    old = os.umask(0o022)
    try:
        reg.make(FIG, quick=True, out_dir=tmp_path / "a", workers=1, progress=False)
        reg.make(FIG, quick=True, out_dir=tmp_path / "b", workers=1, progress=False,
                 use_cache=False)
    finally:
        os.umask(old)
    meta = check_outputs(tmp_path / "a", FIG, umask=0o022)
    check_outputs(tmp_path / "b", FIG, umask=0o022)
    assert meta["claim_check"]["status"] == "passed", meta["claim_check"]
    assert meta["readability_problems"] == []
    assert (tmp_path / "a" / f"{FIG}.csv").read_bytes() == (tmp_path / "b" / f"{FIG}.csv").read_bytes()
    assert meta["units"]["computed"] == meta["units"]["total"]


def test_full_mode_warns_with_its_estimate_before_running(tmp_path, monkeypatch, capsys):
    """`iclc figure NAME` without --quick: a warning with the estimated full time, printed before
    any unit starts; with --quick, none.  `--help` says the default is full mode."""
    from icl_companion import cli

    calls = []

    def fake(names, **kw):
        calls.append((names, kw["quick"], capsys.readouterr().err))
        return []

    monkeypatch.setattr(reg, "make_figures", fake)
    assert cli.main(["figure", "aim-softmax", "--out", str(tmp_path), "--workers", "2"]) == 0
    (names, quick, err_before), = calls
    assert names == ["aim-softmax"] and quick is False
    assert "warning: full (paper-size) mode: estimated" in err_before
    full = reg.estimate_seconds("aim-softmax", False)["remaining"]
    assert full > 2 * cli.FULL_RUN_WARNING and reg.format_seconds(full) in err_before
    calls.clear()
    assert cli.main(["figure", "aim-softmax", "--quick", "--out", str(tmp_path)]) == 0
    assert "warning" not in calls[0][2]
    with pytest.raises(SystemExit):
        cli.main(["figure", "--help"])
    assert "default is FULL mode" in " ".join(capsys.readouterr().out.split())


def test_figure_list_gives_paper_figure_claim_and_times(capsys):
    from icl_companion import cli

    assert cli.main(["figure", "list"]) == 0
    out = capsys.readouterr().out
    figs = reg.load_figures()
    for name, fig in figs.items():
        assert f"{name}  [reproduces: {fig.reproduces}]" in out
        assert f"claim: {fig.claim}" in out
    assert out.count("estimated unit time on one core: quick ") == len(figs)
    assert "Huang et al. (2026), Fig. 4" in out  # a paper's own figure number names the paper


def test_every_figure_claim_check_is_a_verify_check(tmp_path, monkeypatch):
    """`iclc verify` lists `<prefix>.figure.<name>` for every figure, and running one asserts the
    claim on the figure's own data (the cheapest figure here)."""
    from icl_companion.validation.checks import load_checks, run_one

    monkeypatch.setenv("ICLC_CACHE_DIR", str(tmp_path / "cache"))
    checks = load_checks()
    for fig in reg.load_figures().values():
        assert fig.check is not None, f"{fig.name}: no claim check"
        assert fig.check_id in checks and fig.claim in checks[fig.check_id].description
    rep = run_one(checks[reg.get_figure(FIG).check_id], quick=True, seed=0)
    assert rep.status == "passed", rep.render() if hasattr(rep, "render") else rep
    assert any("optimum" in c.name for c in rep.comparisons)
