"""``iclc``: the command-line interface (contract in the README).

Exit statuses: 0 success; 1 a result that did not converge or left its range (``eval``,
``sweep``), or a failing check (``verify``); 2 a user error (unknown id, missing or out-of-domain
input, malformed value, unknown option), printed as one line ``error: ...`` on stderr; 3 an
internal error (a bug), printed as one line naming it, with ``--debug`` giving the traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from typing import Sequence

USAGE_ERROR = 2
INTERNAL_ERROR = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print the usage too)
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


class _UsageError(Exception):
    pass


def _split_assignments(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for it in items:
        if "=" not in it:
            raise _UsageError(f"expected name=value, got {it!r}")
        k, v = it.split("=", 1)
        k = k.strip()
        if not k:
            raise _UsageError(f"expected name=value, got {it!r}")
        if k in out:
            raise _UsageError(f"input {k} given twice")
        out[k] = v
    return out


def _parse_inputs(result, assignments: dict[str, str]) -> dict:
    try:
        return {k: result.param(k).parse(v) for k, v in assignments.items()}
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(result.id) else f"{result.id}: {msg}") from None


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.12g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _json_dump(obj) -> str:
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None if math.isnan(o) else ("inf" if o > 0 else "-inf")
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj))


# ------------------------------------------------------------------------------------ commands
def cmd_list(a) -> int:
    from icl_companion.theory.registry import listing

    if a.markdown:
        from icl_companion.docs import results_table

        print(results_table(a.paper))
        return 0
    rows = listing(a.paper)
    width = max((len(i) for i, _, _ in rows), default=10)
    for id, status, summary in rows:
        print(f"{id:<{width}}  {status:<13}  {summary}")
    return 0


def cmd_show(a) -> int:
    from icl_companion.theory.registry import get

    print(get(a.id).describe(latex=a.latex))
    return 0


def cmd_eval(a) -> int:
    from icl_companion.theory.registry import get

    r = get(a.id)
    assignments = _split_assignments(a.inputs)
    if a.dps is None:
        ev = r.evaluate(**_parse_inputs(r, assignments))
    else:  # the inputs as written: 0.1 is the decimal 1/10 at any precision
        _parse_inputs(r, assignments)
        ev = r.evaluate(dps=a.dps, **assignments)
    if a.json:
        print(_json_dump(ev.to_dict()))
    elif isinstance(ev.value, dict):
        print(f"{r.id}  [{r.status}]")
        for k, v in ev.value.items():
            print(f"  {k} = {_fmt(v)}")
    else:
        print(f"{r.id} = {ev.value_text()}  [{r.status}]")
    if not ev.success:
        print(f"warning: {r.id} did not give a trusted value: {ev.info.get('message', '')} "
              f"(status {ev.info.get('status')})", file=sys.stderr)
        return 1
    return 0


def cmd_sweep(a) -> int:
    from icl_companion.numerics.sweep import check_output, parse_axis, run_sweep, write_sweep
    from icl_companion.theory.registry import get

    r = get(a.id)
    assign = _split_assignments(a.inputs)
    axes, fixed = [], {}
    for k, v in assign.items():
        p = r.param(k)
        if ":" in v and p.kind in ("real", "integer"):
            axes.append(parse_axis(k, v))
        else:
            fixed.update(_parse_inputs(r, {k: v}))
    if a.workers is not None and a.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {a.workers}")
    if a.chunk < 1:
        raise ValueError(f"--chunk must be >= 1, got {a.chunk}")
    if a.plot and len(axes) > 2:  # refused before any work
        raise ValueError(f"--plot shows one or two swept inputs; this sweep has {len(axes)} "
                         f"({', '.join(ax.name for ax in axes)}): fix all but two, or plot "
                         f"slices from the CSV")
    # the destination is checked before any work: a bad --out must not cost the computation
    out, side = check_output(f"out/sweeps/{a.id}.csv" if a.out is None else a.out, a.overwrite)
    sw = run_sweep(a.id, fixed, axes, workers=a.workers, scheduler=a.scheduler, chunk=a.chunk,
                   force=a.force)
    try:
        csv_path, side = write_sweep(sw, out)
    except OSError as e:
        raise ValueError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"wrote {csv_path} ({len(sw.rows)} points) and {side}")
    if a.plot:
        from pathlib import Path

        from icl_companion.figures.sweep_plot import save_sweep_plot

        print(f"wrote {save_sweep_plot(sw, Path(csv_path).with_suffix('.png'))}")
    if sw.n_failed:
        print(f"warning: {sw.n_failed} of {len(sw.rows)} points failed or did not converge; "
              f"see the status column", file=sys.stderr)
        return 1
    return 0


def cmd_verify(a) -> int:
    from icl_companion.validation.checks import FAILING, OUTCOMES, run, select

    if a.list:
        for c in select(a.ids):
            mode = "quick+full" if c.quick else "full only"
            exp = "  [declared not-reproduced]" if c.expect == "not-reproduced" else ""
            print(f"{c.id:<40} {mode:<10}  {c.description}{exp}")
        return 0
    selected = select(a.ids)
    if a.quick:
        selected = [c for c in selected if c.quick]
    reports = run([c.id for c in selected], quick=a.quick, seed=a.seed,
                  progress=None if a.json else lambda rep: print(rep.text(), flush=True))
    failing = [r for r in reports if r.status in FAILING]
    if a.json:
        print(_json_dump({"passed": not failing, "reports": [r.to_dict() for r in reports]}))
    else:
        counts = {s: sum(r.status == s for r in reports) for s in OUTCOMES}
        print(", ".join(f"{v} {k}" for k, v in counts.items() if v or k in ("passed", "failed")))
        for r in reports:
            if r.status == "not-reproduced":
                print(f"not reproduced (declared): {r.id}; see {r.docs}")
            elif r.status == "unexpected-pass":
                print(f"unexpected pass: {r.id} was declared not-reproduced and now passes; "
                      f"revisit {r.docs}")
    return 1 if failing else 0


def cmd_figure(a) -> int:
    from icl_companion.figures.registry import (_missing, dry_run, get_figure, load_figures,
                                                make_figures)
    from icl_companion.numerics.executor import check_workers

    if a.name == "list":
        for n, f in load_figures().items():
            print(f"{n:<24} {f.description}")
        return 0
    check_workers(a.workers)
    names = list(load_figures()) if a.name == "all" else [get_figure(a.name).name]
    skipped = []
    for n in names:
        missing = _missing(get_figure(n))
        if missing:
            print(f"skipped {n}: needs {', '.join(missing)}: pip install "
                  f"'icl-companion[validation]'", file=sys.stderr)
            skipped.append(n)
    names = [n for n in names if n not in skipped]
    if a.dry_run:
        if names:
            print(dry_run(names, quick=a.quick, seed=a.seed, device=a.device, workers=a.workers,
                          scheduler=a.scheduler))
        return 1 if skipped else 0

    def report(rec):
        print(f"wrote {a.out}/{rec['figure']}.png, .pdf, .csv, .json ({rec['seconds']:.1f} s; "
              f"{rec['units']} units, {rec['from_cache']} from the cache)", flush=True)

    if names:
        make_figures(names, quick=a.quick, out_dir=a.out, seed=a.seed, use_cache=not a.no_cache,
                     workers=a.workers, scheduler=a.scheduler, device=a.device, report=report)
    return 1 if skipped else 0


# --------------------------------------------------------------------------------------- parser
_EXAMPLES = {
    None: ["iclc eval softmax.eta_star d=5 L=40 sigma2=0.1",
           "iclc sweep aim.mmse alpha=0:0.2:41 rho=0.5 T=2 --out mmse.csv",
           "iclc verify linear --quick"],
    "list": ["iclc list --paper aim", "iclc list --paper softmax --markdown"],
    "show": ["iclc show aim.alpha_pr", "iclc show linear.gd_risk --latex"],
    "eval": ["iclc eval aim.mmse alpha=0.05 rho=0.5 T=2",
             "iclc eval linear.lsa_zfb_risk lambdas=1,2,0.5 N=10 M=20 --json",
             "iclc eval softmax.eta_star d=5 L=40 sigma2=0.1 --dps 40"],
    "sweep": ["iclc sweep linear.gd_risk d=5 L=40 sigma2=0.1 eta=0:2:50 --workers 2",
              "iclc sweep linear.ridge_bayes_risk_asym sigma2=0.5 xi=0.01:10:200:log "
              "--out ridge.csv --overwrite",
              "iclc sweep aim.mmse alpha=0:0.2:41 rho=0.5 T=2 --out mmse.csv --plot"],
    "verify": ["iclc verify --list", "iclc verify aim --quick", "iclc verify softmax.eta_star"],
    "figure": ["iclc figure list", "iclc figure linear-baselines --quick --out out/figures",
               "iclc figure aim-softmax --dry-run",
               "iclc figure all --quick --workers 2",
               "iclc figure mmicl-pe --scheduler tcp://host:8786 --device cuda"],
}


def _epilog(cmd: str | None) -> str:
    return "examples:\n" + "\n".join(f"  {e}" for e in _EXAMPLES[cmd])


def build_parser() -> argparse.ArgumentParser:
    from icl_companion.completion import complete_id, complete_inputs
    from icl_companion.theory._meta import version
    from icl_companion.theory.papers import papers

    known = papers()
    fmt = argparse.RawDescriptionHelpFormatter
    p = _Parser(prog="iclc", formatter_class=fmt, epilog=_epilog(None),
                description="icl-companion: evaluate, sweep and verify the closed forms of "
                            "in-context-learning papers, and regenerate their figures.\npapers: "
                            + "; ".join(f"{k} ({v.short})" if v.authors else f"{k} ({v.title})"
                                        for k, v in known.items()))
    p.add_argument("--version", action="version", version=f"icl-companion {version()}")
    p.add_argument("--debug", action="store_true",
                   help="show the traceback of an internal error (and numerical warnings)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name, help):
        return sub.add_parser(name, help=help, epilog=_epilog(name), formatter_class=fmt)

    s = add("list", "list results: id, status, one-line description")
    s.add_argument("--paper", metavar="PREFIX", help=", ".join(known))
    s.add_argument("--markdown", action="store_true",
                   help="a Markdown table (id, status, description, reference)")
    s.set_defaults(func=cmd_list)

    s = add("show", "formula, inputs and domains, reference")
    s.add_argument("id").completer = complete_id
    s.add_argument("--latex", action="store_true")
    s.set_defaults(func=cmd_show)

    s = add("eval", "evaluate a result: iclc eval ID name=value ...")
    s.add_argument("id").completer = complete_id
    s.add_argument("inputs", nargs="*", metavar="name=value").completer = complete_inputs
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--dps", type=int, metavar="N",
                   help="closed forms only: N significant decimal digits (15 to 10000, mpmath); "
                        "inputs are read as the decimals written; with --json the value is a "
                        "string")
    s.set_defaults(func=cmd_eval)

    s = add("sweep", "evaluate on a grid: name=start:stop:num[:log] ...")
    s.add_argument("id").completer = complete_id
    s.add_argument("inputs", nargs="+", metavar="name=value|name=start:stop:num[:log]"
                   ).completer = complete_inputs
    s.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    s.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler address")
    s.add_argument("--out", metavar="FILE.csv",
                   help="default out/sweeps/ID.csv; the sidecar is FILE.json")
    s.add_argument("--overwrite", action="store_true",
                   help="replace an existing FILE.csv / FILE.json (refused otherwise)")
    s.add_argument("--force", action="store_true",
                   help="allow grids beyond 100,000 points (up to 2,000,000)")
    s.add_argument("--chunk", type=int, default=8, help="points per warm-started work unit")
    s.add_argument("--plot", action="store_true",
                   help="also write FILE.png next to the CSV (one or two swept inputs)")
    s.set_defaults(func=cmd_sweep)

    s = add("verify", "theory vs simulation; exit 1 if a check fails")
    s.add_argument("ids", nargs="*", metavar="ID_OR_PREFIX")
    s.add_argument("--quick", action="store_true", help="small sizes (the default test suite's)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--list", action="store_true", help="list the checks and exit")
    s.set_defaults(func=cmd_verify)

    s = add("figure", "iclc figure list | iclc figure NAME|all")
    s.add_argument("name", metavar="list|NAME|all")
    s.add_argument("--quick", action="store_true", help="reduced sizes (minutes on 2 cores)")
    s.add_argument("--out", default="out/figures", metavar="DIR")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-cache", action="store_true",
                   help="recompute every work unit (and overwrite its cache entry)")
    s.add_argument("--workers", type=int, default=None,
                   help="local processes for the work units (default: all cores; 1: serially)")
    s.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the work units on a dask.distributed scheduler (tcp://host:8786)")
    s.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="device of the torch units (default: cuda when available); NumPy units "
                        "ignore it")
    s.add_argument("--dry-run", action="store_true",
                   help="list the work units, how many are cached, and the estimated cost")
    s.set_defaults(func=cmd_figure)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        if "_ARGCOMPLETE" in os.environ:  # shell completion (argcomplete, `notebook` extra)
            try:
                import argcomplete
            except ImportError:
                return USAGE_ERROR
            argcomplete.autocomplete(parser)
        a = parser.parse_args(argv)
        with warnings.catch_warnings():
            if not debug:  # numerical warnings are noise on a terminal; results carry diagnostics
                warnings.simplefilter("ignore", RuntimeWarning)
            return a.func(a)
    except _UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR
    except ImportError as e:  # an optional dependency: the message names the extra
        from icl_companion.theory.display import MissingExtraError

        if not isinstance(e, MissingExtraError):
            raise
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR
    except ValueError as e:  # bad input anywhere: unknown id, domain, malformed value
        msg = " ".join(str(e).split())
        print(f"error: {msg}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`iclc show ID | head`): stop quietly, as a shell tool does.  Point
        # stdout at /dev/null so that the interpreter's final flush cannot raise a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # 128 + SIGPIPE, the status a shell reports for a killed writer
    except Exception as e:  # a bug, not a user error: say so, never as a traceback by default
        if debug:
            raise
        msg = " ".join(str(e).split())[:300]
        print(f"error: internal error {type(e).__name__}: {msg} (this is a bug in icl-companion; "
              f"rerun with --debug for the traceback)", file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
