"""One import namespace: the layers install only as ``icl_companion.<layer>``.

A user's own ``theory.py``, ``numerics.py`` or ``figures/`` package in the working directory must
not shadow the package's layers, for an editable install (this checkout) and for a built wheel.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

PROBE = ("import icl_companion, icl_companion.theory.registry as r, icl_companion.figures; "
         "print(icl_companion.__file__); print(len(r.results()))")


def _user_project(tmp_path: Path) -> Path:
    """A working directory holding a user's own modules with the layers' generic names."""
    work = tmp_path / "user_project"
    (work / "figures").mkdir(parents=True)
    (work / "theory.py").write_text("raise RuntimeError('the user theory.py was imported')\n")
    (work / "numerics.py").write_text("raise RuntimeError('the user numerics.py was imported')\n")
    (work / "validation.py").write_text("raise RuntimeError('the user validation.py')\n")
    (work / "figures" / "__init__.py").write_text("USER = True\n")
    return work


def _iclc_exe():
    exe = BIN / "iclc"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "icl_companion"]


def _run(args, cwd, env=None):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _check_collision_free(work: Path, env=None, expect_prefix: Path | None = None):
    r = _run([sys.executable, "-c", PROBE], work, env)
    assert r.returncode == 0, r.stderr
    where, n = r.stdout.split()
    assert int(n) >= 40
    if expect_prefix is not None:
        assert Path(where).resolve().is_relative_to(expect_prefix.resolve()), where
    r = _run(_iclc_exe() + ["list"], work, env)
    assert r.returncode == 0, r.stderr
    assert "aim.mmse" in r.stdout and "linear.gd_risk" in r.stdout
    r = _run(_iclc_exe() + ["figure", "list"], work, env)
    assert r.returncode == 0, r.stderr
    assert "aim-softmax" in r.stdout and "linear-baselines" in r.stdout
    # the user's own package is untouched and still importable as theirs
    r = _run([sys.executable, "-c", "import figures; print(figures.USER)"], work, env)
    assert r.stdout.strip() == "True", r.stderr


def test_editable_install_ignores_user_modules(tmp_path):
    _check_collision_free(_user_project(tmp_path))


def test_top_level_layer_names_are_not_importable(tmp_path):
    for name in ("theory", "numerics", "validation", "figures"):
        r = _run([sys.executable, "-c", f"import {name}"], tmp_path)
        assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr, (name, r.stderr)
    # even from the root of a source checkout, where the folders are visible on sys.path
    r = _run([sys.executable, "-c", "import theory"], ROOT)
    assert r.returncode != 0 and "import icl_companion.theory" in r.stderr, r.stderr


def test_built_wheel_ignores_user_modules(tmp_path):
    wheels = tmp_path / "wheels"
    build = tmp_path / "src"
    # build from a copy so that the checkout gets no build/ or egg-info folders
    shutil.copytree(ROOT, build, ignore=shutil.ignore_patterns(
        ".git", ".venv", "out", "build", "dist", "*.egg-info", "__pycache__", ".ci-cache"))
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
              "-w", str(wheels), str(build)], tmp_path)
    assert r.returncode == 0, r.stderr
    (whl,) = wheels.glob("icl_companion-*.whl")
    site = tmp_path / "site"
    r = _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
              str(whl)], tmp_path)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in site.iterdir())
    assert "icl_companion" in names
    assert not {"theory", "numerics", "validation", "figures"} & set(names), names
    assert (site / "icl_companion" / "figures" / "icl.mplstyle").exists()
    assert (site / "icl_companion" / "py.typed").exists()
    # the wheel comes first on sys.path (PYTHONPATH precedes the editable finder of this venv)
    env = dict(os.environ, PYTHONPATH=str(site))
    _check_collision_free(_user_project(tmp_path), env, expect_prefix=site)
