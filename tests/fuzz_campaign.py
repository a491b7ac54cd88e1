"""The acceptance fuzz campaign of issue 16: thousands of CLI invocations, counted by outcome.

Run from the repository (not collected by pytest)::

    python tests/fuzz_campaign.py [--examples N] [--seed S] [--prefix aim,linear,...] [--out FILE]

Classes of invocation, as in the issue:

* ``edge``: every result, every parameter set to each of its edge values (the others typical);
* ``random``: hypothesis-generated in-domain inputs for every result;
* ``malformed``: unparsable, non-finite, out-of-domain, missing and unknown inputs;
* ``sweep``: grids, workers, chunk and --out variants (small grids; huge ones must be refused);
* ``figure``: bad names, outputs and options (nothing that would start a long computation).

Counts per class: ok (exit 0 within contract), refused (one error line, exit 2), flagged (exit 1
with one warning line for an honest solver cap), and the failures: tracebacks, hangs, internal
errors, non-finite or out-of-range values with exit 0, LAPACK output, other contract breaks.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

from fuzzing import (Outcome, eval_argv, int_edges,  # noqa: E402
                     real_edges, run_inprocess)

_TYPICAL = {"K": "64", "L": "32", "N": "8", "B": "2", "omega": "0.1,-0.1", "mu": "3,-3",
            "omega0": "0.01,-0.01", "mu0": "0.01,-0.01", "t_max": "1", "lambdas": "1,2",
            "Gamma": "1,0;0,1", "beta": "1,1", "m_lo": "0.5", "m_hi": "2", "eps": "0.1",
            "n_prompts": "1000", "T": "2", "rho": "0.5", "alpha": "0.1", "D": "64", "K1": "64",
            "K2": "64", "L2": "32", "d": "5", "sigma2": "0.1", "xi": "0.5", "eta": "0.9",
            "gamma": "0.1", "lambda1": "1", "lambda2": "2", "w1": "0.5", "w2": "0.5",
            "delta": "1", "Deltabar": "0.5", "alpha_bar": "1", "L_train": "40", "L_test": "40",
            "p": "0.5", "tau2": "1"}


def _typical(p):
    if p.name in _TYPICAL:
        return _TYPICAL[p.name]
    return {"vector": "0.5", "matrix": "1", "choice": None}.get(p.kind) or "1"


def _base(r):
    return {p.name: _typical(p) for p in r.params if p.required}


def _edge_texts(p):
    if p.kind == "real":
        return [repr(v) for v in real_edges(p.domain)]
    if p.kind == "integer":
        return [str(v) for v in int_edges(p.domain)] + ["1e20", "1e308"]
    if p.kind == "vector":
        vals = real_edges(p.domain)
        return [",".join(repr(v) for v in vals[i:i + 2]) for i in range(0, len(vals), 2)] + \
            [",".join(repr(v) for v in (vals[0], vals[-1]))]
    if p.kind == "matrix":
        vals = real_edges(p.domain)
        return [f"{vals[i]!r},0;0,{vals[-1 - i]!r}" for i in range(min(6, len(vals)))] + \
            [repr(v) for v in vals[:6]]
    return list(p.domain)


_MALFORMED = ["", "abc", "nan", "inf", "-inf", "1e400", "0x10", "1,2", "1;2", "--", "1.5.2",
              "١", " ", "1e", "True"]


def edge_invocations(r):
    base = _base(r)
    for p in r.params:
        for v in _edge_texts(p):
            inp = dict(base, **{p.name: v})
            yield ["eval", r.id] + [f"{k}={x}" for k, x in inp.items()] + ["--json"]


def malformed_invocations(r):
    base = _base(r)
    for p in r.params:
        for v in _MALFORMED:
            inp = dict(base, **{p.name: v})
            yield ["eval", r.id] + [f"{k}={x}" for k, x in inp.items()] + ["--json"]
    yield ["eval", r.id, "--json"] + [f"{k}={x}" for k, x in list(base.items())[1:]]
    yield ["eval", r.id, "--json", "zzz=1"] + [f"{k}={x}" for k, x in base.items()]
    yield ["eval", r.id + "x", "--json"]


def random_invocations(r, n, seed):
    from hypothesis import HealthCheck, Phase, given, settings

    found = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=seed is None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(argv=eval_argv(r))
    def collect(argv):
        found.append(argv)

    collect()
    return found


def sweep_invocations(tmp):
    base = ["sweep", "linear.gd_risk", "d=5", "L=40", "sigma2=0.1"]
    grids = ["eta=0:1:5", "eta=-1e200:1e200:4", "eta=0:1:0", "eta=0:1:1e9", "eta=1:2:3:log",
             "eta=0:1:3:log", "eta=nan:1:3", "eta=0:inf:3", "eta=0:1", "eta=a:b:c",
             "eta=0:1:2.5", "eta=0:1:200000", "eta=5e-324:1.7e308:5:log"]
    outs = ["", "res.json", ".", "/proc/x.csv", "a/b/c.csv", "x.csv", "x.csv"]
    for i, g in enumerate(grids):
        yield base + [g, "--workers", "1", "--out", os.path.join(tmp, f"g{i}.csv")]
    for i, o in enumerate(outs):
        yield base + ["eta=0:1:3", "--workers", "1", "--out",
                      o if not o or o.startswith(("/", ".")) else os.path.join(tmp, o)]
    for w in ("0", "-1", "48", "1", "x"):
        yield base + ["eta=0:1:16", "--workers", w, "--out", os.path.join(tmp, f"w{w}.csv")]
    for c in ("0", "1", "1000", "-3"):
        yield base + ["eta=0:1:16", "--workers", "1", "--chunk", c, "--out",
                      os.path.join(tmp, f"c{c}.csv")]
    yield ["sweep", "softmax.profile_loss", "d=5", "L=40", "sigma2=0.1",
           "gamma=1e-300:1e200:30:log", "--workers", "1", "--out", os.path.join(tmp, "p.csv")]
    yield ["sweep", "linear.ridge_bayes_risk_asym", "sigma2=0.1", "xi=5e-324:1.7e308:40:log",
           "--workers", "1", "--out", os.path.join(tmp, "r.csv")]
    yield ["sweep", "softmax.preconditioner", "d=3", "L=40", "sigma2=0.1", "rho=-0.9:0.9:3",
           "--workers", "1", "--out", os.path.join(tmp, "m.csv")]
    yield ["sweep", "mmicl.p_query_in_context", "K=64:6400:100", "N=8", "--workers", "1",
           "--out", os.path.join(tmp, "q.csv")]


def figure_invocations(tmp):
    yield ["figure", "list"]
    yield ["figure", "nope"]
    yield ["figure", "nope", "--quick"]
    yield ["figure", "linear-baselines", "--seed", "x"]
    yield ["figure", "linear-baselines", "--frobnicate"]
    yield ["figure", "linear-baselines", "--out", "/proc/nope", "--quick"]


def judge_sweep(o: Outcome) -> list[str]:
    bad = []
    if o.fd1.strip():
        bad.append(f"output on file descriptor 1: {o.fd1.strip()[:120]!r}")
    if "Traceback" in o.stderr:
        bad.append("traceback")
    lines = o.stderr.strip().splitlines()
    if o.code == "hang" or not isinstance(o.code, int):
        bad.append(str(o.code))
    elif o.code == 2 and (len(lines) != 1 or not lines[0].startswith("error: ")):
        bad.append(f"refusal is not one error line: {o.stderr[:200]!r}")
    elif o.code not in (0, 1, 2):
        bad.append(f"exit {o.code}: {o.stderr[:200]}")
    return bad


def classify(o: Outcome, problems) -> str:
    if not problems:
        return {0: "ok", 1: "flagged", 2: "refused"}.get(o.code, "ok")
    for key in ("exit 3", "hang", "output on file descriptor 1", "non-finite value",
                "exit 1 with status 5", "exit 1 with status 6", "raised"):
        if any(p.startswith(key) for p in problems):
            return "internal error (exit 3)" if key == "exit 3" else key
    if "traceback" in problems:
        return "traceback"
    return "other contract break"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=25, help="random inputs per result")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--prefix", default="", help="comma list of paper prefixes (default: all)")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--out", default=None, help="write every failure as JSON lines here")
    ap.add_argument("--options-only", action="store_true",
                    help="only the sweep and figure option classes")
    a = ap.parse_args(argv)
    from icl_companion.theory.registry import results

    prefixes = [p for p in a.prefix.split(",") if p]
    counts = collections.defaultdict(collections.Counter)
    failures = []
    tmp = tempfile.mkdtemp(prefix="iclc-fuzz-")
    t0 = time.time()

    def record(cls, o, problems):
        kind = classify(o, problems)
        counts[cls][kind] += 1
        if problems:
            failures.append({"class": cls, "argv": o.argv, "code": str(o.code),
                             "problems": problems, "stderr": o.stderr[-300:]})

    for r in results():
        if a.options_only or (prefixes and r.prefix not in prefixes):
            continue
        for cls, gen in (("edge", edge_invocations(r)), ("malformed", malformed_invocations(r)),
                         ("random", random_invocations(r, a.examples, a.seed))):
            for args in gen:
                o = run_inprocess(args, timeout=a.timeout)
                record(cls, o, o.problems)
        print(f"{time.time() - t0:7.1f}s {r.id}", file=sys.stderr, flush=True)
    if a.options_only or not prefixes:
        for cls, gen in (("sweep", sweep_invocations(tmp)), ("figure", figure_invocations(tmp))):
            for args in gen:
                o = run_inprocess(args, timeout=a.timeout)
                record(cls, o, judge_sweep(o))
    total = sum(sum(c.values()) for c in counts.values())
    print(f"{total} invocations in {time.time() - t0:.0f} s")
    for cls in sorted(counts):
        print(f"  {cls:<16} " + ", ".join(f"{k}: {v}" for k, v in sorted(counts[cls].items())))
    if a.out:
        with open(a.out, "w") as f:
            for x in failures:
                f.write(json.dumps(x) + "\n")
    print(f"failures: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
