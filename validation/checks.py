"""Registry and runner of theory-versus-simulation checks (``iclc verify``).

A check is a function ``check(quick: bool, seed: int) -> Outcome`` registered with :func:`check`
under a stable id ``<prefix>.<name>``.  It compares theory with simulation through
:class:`Comparison` rows, each carrying the tolerance *and how it was computed* (a number of
Monte Carlo standard errors, a finite-size allowance), so that a report says what was measured.

Checks that need torch declare ``requires=("torch",)`` and import it inside the function; when the
dependency is missing they are reported as skipped (never as passed).

Checks live in the one registry type (:class:`icl_companion.theory.registry.Registry`, layer
``validation``): a paper adds its checks by defining them in ``validation/<prefix>[_*].py``, and
``iclc verify aim`` imports only the AIM modules.

A check may declare the outcome ``expect="not-reproduced"``: a claim of the paper that our
measurement contradicts.  Such a check still runs and reports its numbers; its failure is listed as
``not-reproduced`` (with a link to the docs section that discusses it), not as a failure, and if it
ever *passes* it is reported as ``unexpected-pass`` (a failure), so that the record is revisited.
"""

from __future__ import annotations

import importlib.util
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

from icl_companion.theory.registry import Reference, Registry

__all__ = ["Comparison", "Outcome", "Check", "CheckReport", "Reports", "CHECKS", "REGISTRY", "check",
           "compare", "load_checks", "select", "run", "run_one", "OUTCOMES", "FAILING"]

#: Report statuses.  ``not-reproduced``: a declared non-reproduction that still does not reproduce;
#: ``unexpected-pass``: a declared non-reproduction that now passes (counted as a failure).
OUTCOMES = ("passed", "failed", "error", "skipped", "not-reproduced", "unexpected-pass")
#: Statuses that make ``iclc verify`` exit 1.
FAILING = ("failed", "error", "unexpected-pass")


@dataclass
class Comparison:
    """One theory-versus-measurement comparison: ``|measured - theory| <= tolerance``."""

    name: str
    theory: float
    measured: float
    tolerance: float
    rule: str  # how the tolerance was obtained, e.g. "4 x MC standard error (se=1.2e-3)"
    stderr: float = math.nan

    @property
    def passed(self) -> bool:
        return bool(abs(self.measured - self.theory) <= self.tolerance)

    def line(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        return (f"{mark} {self.name}: theory {self.theory:.6g}, measured {self.measured:.6g}, "
                f"|diff| {abs(self.measured - self.theory):.3g} <= {self.tolerance:.3g} "
                f"({self.rule})")


def compare(name: str, theory: float, measured: float, stderr: float, n_se: float = 4.0,
            allowance: float = 0.0, allowance_rule: str = "") -> Comparison:
    """A comparison whose tolerance is ``n_se`` standard errors plus a stated allowance.

    ``allowance`` is for known, *derived* finite-size effects; say where it comes from in
    ``allowance_rule``.
    """
    if not (stderr >= 0 and math.isfinite(stderr)):
        raise ValueError(f"{name}: stderr must be finite and >= 0, got {stderr}")
    tol = n_se * stderr + allowance
    rule = f"{n_se:g} x standard error ({stderr:.2g})"
    if allowance:
        rule += f" + {allowance:.2g} {allowance_rule}".rstrip()
    return Comparison(name, float(theory), float(measured), tol, rule, float(stderr))


@dataclass
class Outcome:
    """What a check returns: its comparisons, plus free-form facts (configuration, seeds, notes).

    ``passed`` defaults to "every comparison passed"; a check with qualitative criteria (e.g. a
    pattern in a trained model) may set it explicitly and explain in ``notes``.
    """

    comparisons: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    passed: bool | None = None

    def ok(self) -> bool:
        if self.passed is not None:
            return bool(self.passed) and all(c.passed for c in self.comparisons)
        return bool(self.comparisons) and all(c.passed for c in self.comparisons)


@dataclass(eq=False)
class Check:
    """A registered check.  ``expect`` is ``"pass"`` or ``"not-reproduced"`` (then ``docs`` names
    the section of the paper's docs page that records the measurement)."""

    id: str
    description: str
    func: Callable[[bool, int], Outcome]
    requires: tuple = ()
    quick: bool = True  # has a quick variant that belongs in the default test run
    reference: Reference | None = None
    expect: str = "pass"
    docs: str = ""

    def __post_init__(self):
        if self.expect not in ("pass", "not-reproduced"):
            raise ValueError(f"{self.id}: expect must be 'pass' or 'not-reproduced'")
        if self.expect == "not-reproduced" and not self.docs:
            raise ValueError(f"{self.id}: a not-reproduced check must link its docs section")
        if self.reference is None:
            self.reference = Reference(self.prefix)

    @property
    def prefix(self) -> str:
        return self.id.split(".", 1)[0]

    def missing(self) -> list[str]:
        return [m for m in self.requires if importlib.util.find_spec(m) is None]


@dataclass
class CheckReport:
    id: str
    description: str
    status: str  # one of OUTCOMES
    seconds: float
    quick: bool
    seed: int
    comparisons: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    reference: str = ""
    docs: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def failing(self) -> bool:
        """Counts against ``iclc verify`` (exit 1)."""
        return self.status in FAILING

    def to_dict(self) -> dict:
        d = asdict(self)
        d["comparisons"] = [dict(asdict(c), passed=c.passed) for c in self.comparisons]
        return d

    def text(self) -> str:
        head = f"[{self.status.upper()}] {self.id} ({self.seconds:.1f} s, " \
               f"{'quick' if self.quick else 'full'}, seed {self.seed}): {self.description}"
        lines = [head]
        lines += ["    " + c.line() for c in self.comparisons]
        lines += [f"    {k}: {v}" for k, v in self.facts.items()]
        lines += [f"    note: {n}" for n in self.notes]
        if self.docs:
            lines.append(f"    see: {self.docs}")
        return "\n".join(lines)

    # -- Jupyter
    def _repr_html_(self) -> str:
        """Status, then one row per comparison: theory, measured, |diff|, tolerance and its rule."""
        return _reports_html([self])


def _reports_html(reports) -> str:
    from icl_companion.theory.display import esc, fmt_number, status_badge, table_html

    blocks = []
    for r in reports:
        ok = r.status in ("passed", "not-reproduced", "skipped")
        head = (f"<p>{status_badge(ok, r.status)} <b><code>{esc(r.id)}</code></b> "
                f"{esc(r.description)} <small>({r.seconds:.1f} s, "
                f"{'quick' if r.quick else 'full'}, seed {r.seed})</small></p>")
        rows = [("&#10003;" if c.passed else "&#10007;", esc(c.name), fmt_number(c.theory),
                 fmt_number(c.measured), fmt_number(abs(c.measured - c.theory), 3),
                 fmt_number(c.tolerance, 3), esc(c.rule)) for c in r.comparisons]
        table = table_html(("", "comparison", "theory", "measured", "|diff|", "tolerance",
                            "tolerance rule"), rows, raw=True) if rows else ""
        notes = "".join(f"<br><small>{esc(n)}</small>" for n in r.notes)
        see = f"<br><small>see {esc(r.docs)}</small>" if r.docs else ""
        blocks.append(head + table + notes + see)
    return "<div>" + "".join(blocks) + "</div>"


class Reports(list):
    """The reports of a verification run (a list), with a summary display in Jupyter."""

    @property
    def passed(self) -> bool:
        """No report counts as a failure (declared non-reproductions do not)."""
        return not any(r.failing for r in self)

    def counts(self) -> dict:
        return {s: sum(r.status == s for r in self) for s in OUTCOMES if
                any(r.status == s for r in self)}

    def __repr__(self) -> str:
        return "Reports(" + ", ".join(f"{v} {k}" for k, v in self.counts().items()) + ")"

    def _repr_html_(self) -> str:
        summary = ", ".join(f"{v} {k}" for k, v in self.counts().items())
        return f"<p><b>{len(self)} checks</b>: {summary}</p>" + _reports_html(self)


REGISTRY: Registry[Check] = Registry("verification check", ("validation",), "iclc verify --list")
CHECKS = REGISTRY.entries  # id -> Check (filled as papers are loaded)


def check(id: str, description: str, requires: Sequence[str] = (), quick: bool = True,
          reference: Reference | None = None, expect: str = "pass", docs: str = ""):
    """Decorator registering ``func(quick, seed) -> Outcome`` as check ``id``."""

    def deco(func):
        REGISTRY.add(Check(id, description, func, tuple(requires), quick, reference, expect,
                           docs))
        return func

    return deco


def load_checks() -> dict[str, Check]:
    """Import every paper's validation modules; return the check registry."""
    REGISTRY.load()
    return CHECKS


def select(selectors: Sequence[str] = ()) -> list[Check]:
    """Checks whose id equals a selector or starts with ``selector + '.'``; all when empty."""
    try:
        return REGISTRY.select(selectors)
    except ValueError as e:
        raise ValueError(f"{e} (see `{REGISTRY.listing}`)") from None


def run_one(c: Check, quick: bool = True, seed: int = 0) -> CheckReport:
    """Run one check, catching its exceptions into an ``error`` report."""
    t0 = time.perf_counter()
    ref = str(c.reference)
    missing = c.missing()
    if missing:
        return CheckReport(c.id, c.description, "skipped", 0.0, quick, seed,
                           notes=[f"needs {', '.join(missing)} (pip install "
                                  f"'icl-companion[validation]')"], reference=ref, docs=c.docs)
    try:
        out = c.func(quick, seed)
    except Exception as e:  # a crashing check is a failed check, with its reason
        return CheckReport(c.id, c.description, "error", time.perf_counter() - t0, quick, seed,
                           notes=[f"{type(e).__name__}: {e}"], reference=ref, docs=c.docs)
    if c.expect == "not-reproduced":
        status = "unexpected-pass" if out.ok() else "not-reproduced"
    else:
        status = "passed" if out.ok() else "failed"
    return CheckReport(c.id, c.description, status, time.perf_counter() - t0, quick, seed,
                       out.comparisons, out.facts, out.notes, ref, c.docs)


def run(selectors: Sequence[str] = (), quick: bool = True, seed: int = 0,
        progress: Callable[[CheckReport], None] | None = None) -> list[CheckReport]:
    """Run the selected checks in order; ``progress`` is called after each one."""
    reports = []
    for c in select(selectors):
        r = run_one(c, quick, seed)
        reports.append(r)
        if progress is not None:
            progress(r)
    return reports
