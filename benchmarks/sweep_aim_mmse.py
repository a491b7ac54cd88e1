"""A 1,024-point ``iclc sweep aim.mmse`` (rho = 0.5, T = 2) against a previous revision.

    python benchmarks/sweep_aim_mmse.py [--baseline REV] [--points 1024] [--runs 1]

Times the whole command (CPU = user + sys of the process and its workers) with ``--workers 1`` and
``--workers 2``, for this revision and the baseline (default: the commit this branch started
from), alternating, in the same run.  Checks that both revisions write the same CSV bytes.
Targets (issue 18): at least 3x less CPU than the baseline; ``--workers 2`` faster (wall) than
``--workers 1``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from _baseline import baseline_python, compare, default_baseline, load_note


def main():
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--points", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    old_py, sha = baseline_python(a.baseline or default_baseline())
    out = Path(tempfile.mkdtemp(prefix="iclc-sweep-bench-"))
    env = dict(os.environ, MPLBACKEND="Agg")
    grid = ["sweep", "aim.mmse", f"alpha=0.0001:0.18:{a.points}", "rho=0.5", "T=2"]
    print(f"baseline {sha[:10]}; {a.points} points; {load_note()}")
    res = {}
    # --overwrite: every timed run after the warm-up writes over the same file (revisions from
    # before the output-safety work overwrote silently and do not know the flag)
    # the console script: revisions before icl_companion/__main__.py have no `python -m` entry
    old_cli = [str(Path(old_py).with_name("iclc"))]
    old_help = subprocess.run([*old_cli, "sweep", "--help"],
                              capture_output=True, text=True, env=env).stdout
    old_over = ["--overwrite"] if "--overwrite" in old_help else []
    for w in (1, 2):
        new = [sys.executable, "-m", "icl_companion", *grid, "--workers", str(w), "--overwrite",
               "--out", str(out / f"new{w}.csv")]
        old = [*old_cli, *grid, "--workers", str(w), *old_over,
               "--out", str(out / f"old{w}.csv")]
        res[w] = r = compare(new, old, a.runs, env)
        print(f"--workers {w}: new {r['new_wall']:.2f} s wall / {r['new_cpu']:.2f} s CPU; "
              f"old {r['old_wall']:.2f} s wall / {r['old_cpu']:.2f} s CPU; "
              f"CPU old/new = {1 / r['cpu_ratio']:.2f}x, wall old/new = {1 / r['wall_ratio']:.2f}x")
    same = {w: (out / f"new{w}.csv").read_bytes() == (out / f"old{w}.csv").read_bytes()
            for w in (1, 2)}
    print(f"same CSV bytes as the baseline: {same}; workers 1 vs 2 identical: "
          f"{(out / 'new1.csv').read_bytes() == (out / 'new2.csv').read_bytes()}")
    print(f"this revision: --workers 2 / --workers 1 wall = "
          f"{res[2]['new_wall'] / res[1]['new_wall']:.2f} (baseline: "
          f"{res[2]['old_wall'] / res[1]['old_wall']:.2f})")
    print(load_note())


if __name__ == "__main__":
    main()
