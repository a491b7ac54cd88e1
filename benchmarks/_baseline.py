"""A previous revision of the package installed beside this one, to time both in the same run.

``baseline_python(rev)`` checks ``rev`` out into a temporary git worktree, creates a virtual
environment for it whose dependencies come from the running interpreter's site-packages (a
``.pth`` file: no download) and installs the checkout there in editable mode (``--no-deps``).
It returns the interpreter of that environment; the worktree is removed at exit.
"""

from __future__ import annotations

import atexit
import os
import resource
import shutil
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def default_baseline() -> str:
    """The commit this branch started from (merge base with ``main``), else ``HEAD~1``."""
    for ref in ("main", "origin/main"):
        r = subprocess.run(["git", "merge-base", "HEAD", ref], cwd=ROOT, capture_output=True,
                           text=True)
        if r.returncode == 0 and r.stdout.strip() != _head():
            return r.stdout.strip()
    return "HEAD~1"


def _head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()


def baseline_python(rev: str) -> tuple[str, str]:
    """``(python, sha)`` of an environment with revision ``rev`` of the package installed."""
    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="iclc-baseline-"))
    wt = tmp / "src"
    subprocess.run(["git", "worktree", "add", "--detach", str(wt), sha], cwd=ROOT, check=True,
                   capture_output=True)

    def cleanup():
        subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT,
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(cleanup)
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True,
                             check=True).stdout.strip()
    # the dependencies: this interpreter's site-packages, after the new environment's own
    deps = [p for p in site.getsitepackages() if os.path.isdir(p)]
    Path(purelib, "zz_deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "-e", str(wt)], check=True, capture_output=True)
    return str(py), sha


def run_timed(argv, env=None) -> tuple[float, float]:
    """Wall and CPU (user + sys of the child) seconds of one run of ``argv``.

    A run that exits with 2 or more (a refused or crashed command) raises: timing a one-line
    refusal instead of the computation would report a meaningless speed-up."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       env=env)
    wall = time.perf_counter() - t0
    if r.returncode >= 2:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {r.returncode}: "
                           f"{r.stderr.strip()[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def compare(new, old, runs: int, env=None) -> dict:
    """Alternate ``new`` and ``old`` (one warm-up each, then ``runs`` pairs); medians and the
    median of the per-pair ratios new/old."""
    run_timed(new, env), run_timed(old, env)
    pairs = [(run_timed(new, env), run_timed(old, env)) for _ in range(runs)]
    med = statistics.median
    return {"new_wall": med(p[0][0] for p in pairs), "old_wall": med(p[1][0] for p in pairs),
            "new_cpu": med(p[0][1] for p in pairs), "old_cpu": med(p[1][1] for p in pairs),
            "wall_ratio": med(p[0][0] / p[1][0] for p in pairs),
            "cpu_ratio": med(p[0][1] / p[1][1] for p in pairs)}


def load_note() -> str:
    la = os.getloadavg()
    return (f"load average {la[0]:.2f} on {os.cpu_count()} cores"
            + ("  (MEASURED UNDER LOAD: ratios are indicative)" if la[0] > 0.5 * (os.cpu_count()
                                                                                   or 1) else ""))
