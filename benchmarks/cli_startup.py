"""Cold wall time of the interactive ``iclc`` commands, against a previous revision in the same run.

    python benchmarks/cli_startup.py [--baseline REV] [--runs 5]

Each command runs as a new process (warm OS file cache, a warm-up run first), alternating with the
same command of the baseline revision (default: the commit this branch started from), installed
in a temporary environment (``benchmarks/_baseline.py``).  Prints medians of wall and CPU seconds,
the median of the pairwise ratios new/old, and the issue's target for each command.
"""

from __future__ import annotations

import argparse
import os

from _baseline import baseline_python, compare, default_baseline, load_note

COMMANDS = [  # (arguments, target wall seconds)
    (["eval", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1", "eta=0.9"], 0.5),
    (["eval", "aim.mmse", "alpha=0.05", "rho=0.5", "T=2"], 1.0),
    (["list"], 1.0),
    (["show", "aim.denoising_mmse"], 1.5),
    (["eval", "softmax.eta_star", "d=5", "L=40", "sigma2=0.1"], None),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=None, help="git revision to compare with")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    import sys

    old_py, sha = baseline_python(a.baseline or default_baseline())
    env = dict(os.environ, MPLBACKEND="Agg")
    print(f"baseline {sha[:10]}; {a.runs} alternating pairs per command; {load_note()}")
    print(f"{'command':<58} {'new wall':>9} {'old wall':>9} {'ratio':>6} {'new cpu':>8} "
          f"{'old cpu':>8} {'target':>7}")
    for args, target in COMMANDS:
        r = compare([sys.executable, "-m", "icl_companion", *args],
                    [old_py, "-m", "icl_companion", *args], a.runs, env)
        t = f"< {target:g} s" if target else ""
        ok = "" if target is None else ("  ok" if r["new_wall"] < target else "  MISSED")
        print(f"iclc {' '.join(args):<53} {r['new_wall']:>8.3f}s {r['old_wall']:>8.3f}s "
              f"{r['wall_ratio']:>6.3f} {r['new_cpu']:>7.3f}s {r['old_cpu']:>7.3f}s {t:>7}{ok}")
    print(load_note())


if __name__ == "__main__":
    main()
