"""Docs that run: every example shown in README.md and docs/**/*.md is executed and compared.

* ``console`` blocks: each ``$ iclc ...`` line runs (in-process, through ``icl_companion.cli.main``,
  in a temporary working directory) and the lines after it, up to the next ``$`` line, are its
  expected output (stdout and stderr together).  Numbers are compared to the digits shown
  (half a unit in the last shown place), ``...`` matches anything, whitespace runs are equivalent.
  The exit status must be 0, unless the shown output has an ``error:`` line (2) or a
  ``warning:`` line (1).  A ``tcp://127.0.0.1:8786`` scheduler address is served by a local Dask
  cluster started for the test.
* ``python`` blocks: doctest examples (``>>>``), compared with the same number rule; the blocks
  of one file share a namespace, in order.
* Generated tables (``<!-- generated: ... -->``) are up to date (``python -m icl_companion.docs``).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import math
import os
import re
import shlex
from pathlib import Path

import pytest

from icl_companion import docs as gen_docs

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_NUM = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_NUM_RE = re.compile(rf"(?<![\w.]){_NUM}(?![\w.])")
DOCS_SCHEDULER = "tcp://127.0.0.1:8786"


# --------------------------------------------------------------------------- number-aware compare
def _half_ulp(shown: str) -> float:
    """Half a unit in the last place of a number as written."""
    mant, _, exp = shown.lower().partition("e")
    decimals = len(mant.split(".", 1)[1]) if "." in mant else 0
    return 0.5 * 10.0 ** (int(exp or 0) - decimals)


def output_matches(expected: str, actual: str) -> tuple[bool, str]:
    """Does ``actual`` show ``expected``, numbers to the digits shown?  Returns (ok, why)."""
    exp = re.sub(r"\s*\.\.\.\s*", "...", " ".join(expected.split()))  # "..." absorbs spaces
    act = " ".join(actual.split())
    pattern, shown = [], []
    pos = 0
    for m in re.finditer(rf"\.\.\.|{_NUM_RE.pattern}", exp):
        pattern.append(re.escape(exp[pos:m.start()]))
        if m.group() == "...":
            pattern.append(".*?")
        else:
            pattern.append(f"({_NUM})")
            shown.append(m.group())
        pos = m.end()
    pattern.append(re.escape(exp[pos:]))
    m = re.fullmatch("".join(pattern), act, re.S)
    if m is None:
        return False, f"text differs:\n  shown:  {exp}\n  actual: {act}"
    for s, a in zip(shown, m.groups()):
        if not math.isclose(float(a), float(s), rel_tol=0, abs_tol=_half_ulp(s) * (1 + 1e-12)):
            return False, f"number differs: shown {s}, actual {a}\n  actual output: {act}"
    return True, ""


class _NumberChecker(doctest.OutputChecker):
    def check_output(self, want, got, optionflags):
        return output_matches(want, got)[0] if want.strip() else not got.strip()


# ------------------------------------------------------------------------------- block extraction
def blocks(path: Path, lang: str) -> list[tuple[int, str]]:
    text = path.read_text()
    out = []
    for m in _FENCE.finditer(text):
        if m.group(1) == lang:
            out.append((text[:m.start()].count("\n") + 1, m.group(2)))
    return out


def console_examples(path: Path) -> list[tuple[str, str, str]]:
    """``(location, command, expected output)`` for every ``$ iclc`` line of console blocks."""
    out = []
    for line_no, body in blocks(path, "console"):
        cmd, expected, start = None, [], line_no
        for k, line in enumerate(body.splitlines(), 1):
            if line.startswith("$ "):
                if cmd is not None:
                    out.append((f"{path.name}:{start}", cmd, "\n".join(expected)))
                cmd, expected, start = line[2:], [], line_no + k
            elif cmd is not None:
                expected.append(line)
        if cmd is not None:
            out.append((f"{path.name}:{start}", cmd, "\n".join(expected)))
    return out


ALL_CONSOLE = [ex for f in DOC_FILES for ex in console_examples(f)]
PY_FILES = [f for f in DOC_FILES if blocks(f, "python")]


# ---------------------------------------------------------------------------------------- running
@pytest.fixture(scope="module")
def docs_scheduler():
    """A local Dask cluster for the examples that name ``DOCS_SCHEDULER`` (started on demand)."""
    state = {}

    def address():
        if "client" not in state:
            from dask.distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                   protocol="tcp", host="127.0.0.1", dashboard_address=None)
            state["cluster"], state["client"] = cluster, Client(cluster)
        return state["cluster"].scheduler_address

    yield address
    if "client" in state:
        state["client"].close()
        state["cluster"].close()


def run_iclc(cmd: str, cwd: Path, scheduler=None) -> tuple[int, str]:
    from icl_companion.cli import main

    argv = shlex.split(cmd)
    assert argv[0] == "iclc", f"only iclc commands are executed here: {cmd}"
    if scheduler is not None:
        argv = [scheduler() if a == DOCS_SCHEDULER else a for a in argv]
    buf, here = io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            code = main(argv[1:])
    finally:
        os.chdir(here)
    return code, buf.getvalue()


def expected_status(expected: str) -> int:
    lines = [line.strip() for line in expected.splitlines()]
    if any(line.startswith("error:") for line in lines):
        return 2
    if any(line.startswith("warning:") for line in lines):
        return 1
    return 0


@pytest.mark.parametrize("where,cmd,expected", ALL_CONSOLE, ids=[e[0] for e in ALL_CONSOLE])
def test_console_example(where, cmd, expected, tmp_path_factory, docs_scheduler):
    cwd = tmp_path_factory.mktemp("docs")
    code, out = run_iclc(cmd, cwd, docs_scheduler)
    assert code == expected_status(expected), f"{where}: `{cmd}` exited {code}:\n{out}"
    if expected.strip():
        ok, why = output_matches(expected, out)
        assert ok, f"{where}: `{cmd}`: {why}"


@pytest.mark.parametrize("path", PY_FILES, ids=[f.name for f in PY_FILES])
def test_python_examples(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parser, globs = doctest.DocTestParser(), {}
    runner = doctest.DocTestRunner(checker=_NumberChecker(), optionflags=doctest.ELLIPSIS)
    for line_no, body in blocks(path, "python"):
        test = parser.get_doctest(body, globs, f"{path.name}:{line_no}", str(path), line_no)
        assert test.examples, f"{path.name}:{line_no}: a python block without >>> examples"
        runner.run(test, clear_globs=False)
    assert runner.summarize(verbose=False).failed == 0


def test_every_shown_iclc_command_is_executed():
    """No ``iclc`` example hides in a block that is not executed (bash/sh/plain fences)."""
    for f in DOC_FILES:
        for lang in ("bash", "sh", "", "shell", "text"):
            for line_no, body in blocks(f, lang):
                if f.name == "README.md" and line_no == 3:
                    continue  # the two opening commands: CI runs them as they are
                bad = [ln for ln in body.splitlines() if ln.lstrip().startswith(("iclc ", "$ iclc"))]
                assert not bad, f"{f.name}:{line_no}: iclc examples must be in console blocks: {bad}"


def test_generated_tables_are_up_to_date():
    stale = gen_docs.update(ROOT, check=True)
    assert not stale, (f"generated tables out of date in {[str(p.relative_to(ROOT)) for p in stale]}"
                       f"; run `python -m icl_companion.docs`")


# ------------------------------------------------------------------------------ the compare itself
@pytest.mark.parametrize("shown,actual,ok", [
    ("x = 0.241625  [exact]", "x = 0.241625  [exact]", True),
    ("x = 0.241625  [exact]", "x = 0.241626  [exact]", False),        # one digit changed
    ("x = 0.2416", "x = 0.241625", True),                              # fewer digits shown
    ("x = 0.2417", "x = 0.241625", False),
    ("mmse = 0.392196017339\n...", "mmse = 0.392196017339\n  delta = 3.9", True),
    ("n = 205239, d = 129", "n = 205239, d = 129", True),
    ("n = 205239", "n = 205238", False),
    ("v = 1.2e-05", "v = 1.24e-05", True),
    ("v = 1.2e-05", "v = 1.26e-05", False),
    ("sigma2 = 0.1", "sigma2 = 0.1", True),
])
def test_output_matches(shown, actual, ok):
    assert output_matches(shown, actual)[0] is ok
