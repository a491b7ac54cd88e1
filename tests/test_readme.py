"""The README's two opening commands stay true (and .ci/run runs the second one)."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _first_block():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"```bash\n(.*?)```", text, re.S)
    return [line for line in m.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands():
    text = (ROOT / "README.md").read_text()
    assert text.index("```bash") < text.index("## ")  # before any section
    main, tests = _first_block()
    assert "pip install" in main and main.endswith("iclc figure all --quick")
    assert "pip install" in tests and '".[test,validation' in tests and tests.endswith("pytest")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci and "sed -n 2p" in ci


def test_every_extra_in_readme_exists_in_setup_cfg():
    cfg = (ROOT / "setup.cfg").read_text()
    for line in _first_block():
        for extra in re.findall(r'\.\[([a-z,]+)\]', line)[0].split(","):
            assert f"\n{extra} =" in cfg, extra
    assert "torch==2.13.0" in cfg
