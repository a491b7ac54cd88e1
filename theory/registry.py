"""The results catalogue and the one registry type behind results, checks and figures.

A :class:`Result` declares its inputs (:class:`Param`), what it returns, where it comes from
(:class:`Reference`) and how much to trust it (``status``).  Symbolic results carry the SymPy
expression they are evaluated from, so that ``iclc show`` prints the very formula that
``iclc eval`` computes (the callable is produced by :func:`sympy.lambdify`, never typed twice).
Each result's ``__doc__`` (numpydoc, with a References section) is generated from its declaration.

Input validation lives here, once, for every result: :meth:`Result.validate` converts and checks
each input against its domain and raises :class:`ValueError` naming the parameter, the value
received and the allowed domain.  Evaluating a result gives an :class:`Evaluation`, which keeps the
value(s) (``ev.value``) apart from the solver diagnostics (``ev.info``: ``success``, ``status``,
``message``, ``nit``, ``residual``, the vocabulary of :class:`scipy.optimize.OptimizeResult`).

:class:`Registry` is the one registry type: results (:data:`RESULTS`), verification checks and
figures are entries with identifiers ``<prefix>.<name>``, where the prefix is a paper declared in
:mod:`icl_companion.theory.papers`; each registry imports the paper's modules of its layers on
first use (only the paper asked for).

This module is plain data: it imports no numerics, torch or matplotlib (SymPy only where a formula
is shown or compiled), so that every layer may register into it.

>>> r = get("linear.gd_risk")
>>> r.status
'exact'
>>> round(evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1, eta=0.9).value, 6)
0.241625
>>> evaluate("linear.gd_risk", d=5, L=40, sigma2=-1, eta=0.9)
Traceback (most recent call last):
...
ValueError: linear.gd_risk: sigma2 = -1 is outside the allowed domain: a real number in [0, inf)
"""

from __future__ import annotations

import functools
import importlib
import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar

from icl_companion.theory.papers import Paper, UnknownPaperError, paper, papers

__all__ = [
    "Interval", "Param", "Reference", "Result", "Evaluation", "Registry", "RESULTS", "CATALOGUE",
    "STATUSES", "SOLVER_STATUS", "INFO_KEYS", "NOT_NUMBERED", "register", "register_symbolic", "get", "evaluate",
    "results", "real", "integer", "vector", "matrix", "choice", "UnknownResultError", "PAPERS",
    "Paper", "paper", "papers", "REQUIRED", "Bound", "RiskBounds", "symbolic_func", "listing",
    "DPS_RANGE",
]

STATUSES = ("exact", "asymptotic", "numerical", "reconstructed", "monte-carlo")

#: ``status`` codes of solver records and evaluations (``message`` defaults to the description).
SOLVER_STATUS = {0: "converged", 1: "iteration cap reached", 2: "non-finite value",
                 3: "time cap reached", 4: "did not converge",
                 5: "value outside its declared range", 6: "no success flag reported"}

class _Required:
    """Marks a :class:`Param` without a default (a named sentinel, so that it can be written out)."""

    def __repr__(self):
        return "REQUIRED"


_REQUIRED = REQUIRED = _Required()


# ----------------------------------------------------------------------------------------- domains
@dataclass(frozen=True)
class Interval:
    """A real interval with open or closed ends; ``math.inf`` for unbounded sides."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, x: float) -> bool:
        if not math.isfinite(x):  # inf and nan are never valid inputs; "inf" only marks no bound
            return False
        above = x > self.lo if self.lo_open else x >= self.lo
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below

    def __str__(self) -> str:
        def fmt(v: float) -> str:
            return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:g}"

        left = "(" if self.lo_open or self.lo == -math.inf else "["
        right = ")" if self.hi_open or self.hi == math.inf else "]"
        return f"{left}{fmt(self.lo)}, {fmt(self.hi)}{right}"


# ------------------------------------------------------------------------------------------ params
@dataclass(frozen=True)
class Param:
    """One declared input of a result.

    ``kind`` is one of ``real``, ``integer``, ``vector`` (of reals), ``matrix`` (of reals, rows
    separated by ``;`` on the command line) or ``choice`` (a finite set of strings).  ``domain`` is an
    :class:`Interval` for numbers (applied elementwise to vectors and matrices) or the tuple of
    allowed strings for ``choice``.
    """

    name: str
    kind: str
    domain: Any
    doc: str = ""
    default: Any = _REQUIRED
    min_len: int = 1

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def describe_domain(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.domain)
        what = {"real": "a real number", "integer": "an integer",
                "vector": f"a comma list of >= {self.min_len} reals, each",
                "matrix": "a matrix (rows separated by ';', entries by ','), entries"}[self.kind]
        return f"{what} in {self.domain}"

    # -- conversion from command-line text
    def parse(self, text: str) -> Any:
        """Convert command-line text to a Python value (no domain check yet)."""
        text = text.strip()
        try:
            if self.kind == "real":
                return _parse_float(text)
            if self.kind == "integer":
                return _parse_int(text)
            if self.kind == "vector":
                return [_parse_float(t) for t in text.split(",")]
            if self.kind == "matrix":
                return [[_parse_float(t) for t in row.split(",")] for row in text.split(";")]
        except _TooLarge:
            raise ValueError(f"{self.name} = {text!r} is beyond the double-precision range "
                             f"(|x| <= 1.8e308); expected {self.describe_domain()}") from None
        except ValueError:
            raise ValueError(f"{self.name} = {text!r} is not {self._noun()}; "
                             f"expected {self.describe_domain()}") from None
        return text

    def _noun(self) -> str:
        return {"real": "a number", "integer": "an integer", "vector": "a comma list of numbers",
                "matrix": "a matrix of numbers", "choice": "a string"}[self.kind]

    # -- validation of Python values
    def validate(self, value: Any, owner: str) -> Any:
        """Return ``value`` converted to the canonical type, or raise ``ValueError``."""

        def bad(shown: Any) -> ValueError:
            return ValueError(f"{owner}: {self.name} = {shown} is outside the allowed domain: "
                              f"{self.describe_domain()}")

        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.domain:
                raise bad(repr(value) if not isinstance(value, str) else value)
            return value
        if self.kind in ("real", "integer"):
            if isinstance(value, str):
                value = self.parse(value)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{owner}: {self.name} = {value!r} is not {self._noun()}; "
                                 f"expected {self.describe_domain()}")
            if self.kind == "integer":
                if isinstance(value, numbers.Integral) and abs(value) > 1.7976931348623157e308:
                    raise bad(f"{str(value)[:12]}...({len(str(value))} digits)")
                if not float(value).is_integer():
                    raise ValueError(f"{owner}: {self.name} = {value!r} is not an integer; "
                                     f"expected {self.describe_domain()}")
                value = int(value)
            else:
                value = float(value)
            if value not in self.domain:
                raise bad(_show(value))
            return value
        # vector / matrix
        if isinstance(value, str):
            value = self.parse(value)
        try:
            import numpy as np  # numpy is a declared dependency; used only for shape checks

            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: {self.name} = {value!r} is not {self._noun()}") from None
        want = 1 if self.kind == "vector" else 2
        if arr.ndim != want or arr.size < self.min_len:
            raise ValueError(f"{owner}: {self.name} has shape {arr.shape}; expected "
                             f"{self.describe_domain()}")
        for x in arr.ravel():
            if float(x) not in self.domain:
                raise bad(f"{value!r} (entry {_show(float(x))})")
        return arr.tolist()


class _TooLarge(ValueError):
    """A number written in full that no double can hold (``1e400``, 400 digits)."""


def _parse_float(text: str) -> float:
    v = float(text)
    if math.isinf(v) and "inf" not in text.lower():
        raise _TooLarge(text)
    return v


def _parse_int(text: str) -> int:
    try:
        n = int(text)  # exact for integers written in full, any length
    except ValueError:
        v = _parse_float(text)
        if not v.is_integer():
            raise ValueError(text) from None
        return int(v)
    if abs(n) > 1.7976931348623157e308:  # compared as ints: no float conversion
        raise _TooLarge(text)
    return n


def _show(v: float) -> str:
    return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def real(name: str, lo=-math.inf, hi=math.inf, *, lo_open=False, hi_open=False, doc="",
         default=_REQUIRED) -> Param:
    """A real input in the interval between ``lo`` and ``hi``."""
    return Param(name, "real", Interval(lo, hi, lo_open, hi_open), doc, default)


def integer(name: str, lo=-math.inf, hi=math.inf, *, doc="", default=_REQUIRED) -> Param:
    """An integer input in ``[lo, hi]``."""
    return Param(name, "integer", Interval(lo, hi), doc, default)


def vector(name: str, lo=-math.inf, hi=math.inf, *, lo_open=False, hi_open=False, doc="",
           default=_REQUIRED, min_len=1) -> Param:
    """A vector of reals, each entry in the interval."""
    return Param(name, "vector", Interval(lo, hi, lo_open, hi_open), doc, default, min_len)


def matrix(name: str, lo=-math.inf, hi=math.inf, *, doc="", default=_REQUIRED) -> Param:
    """A real matrix; entries in ``[lo, hi]``."""
    return Param(name, "matrix", Interval(lo, hi), doc, default)


def choice(name: str, options: Sequence[str], *, doc="", default=_REQUIRED) -> Param:
    """One string out of a finite set."""
    return Param(name, "choice", tuple(options), doc, default)




# ------------------------------------------------------------------------------------- provenance
#: Use as ``Reference.where`` when the paper's own numbering of a statement is not known.
NOT_NUMBERED = "not numbered in the sources"


@dataclass(frozen=True)
class Reference:
    """Where a result, check or figure comes from.

    Parameters
    ----------
    paper : str
        Prefix of a declared :class:`~icl_companion.theory.papers.Paper`.
    where : str
        Theorem / equation / section / figure in that paper, as precise as known, or
        :data:`NOT_NUMBERED`.
    derivation : str
        A derivation page inside this repository, ``docs/derivations/<page>.md#<anchor>``, with the
        steps the code implements (for what is derived here rather than read from the paper).
    cites : tuple of str
        Other published works the statement relies on (authors, year, venue or arXiv id).
    """

    paper: str
    where: str = ""
    derivation: str = ""
    cites: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "cites", tuple(self.cites))

    @property
    def source(self) -> Paper:
        return paper(self.paper)

    def __str__(self) -> str:
        p = self.source
        head = p.short + (f", arXiv:{p.arxiv}" if p.arxiv else "")
        parts = [f"{head}, {self.where}" if self.where else head]
        parts += list(self.cites)
        if self.derivation:
            parts.append(f"derivation: {self.derivation}")
        return "; ".join(parts)

    def numpydoc(self) -> list[str]:
        """Entries for a numpydoc References section."""
        p = self.source
        where = self.where[:1].upper() + self.where[1:]  # a sentence after the citation
        first = p.citation() + (f" {where}." if where else "")
        out = [first] + [c if c.endswith(".") else c + "." for c in self.cites]
        if self.derivation:
            out.append(f"Derivation in this repository: {self.derivation}.")
        return out


# ---------------------------------------------------------------------------------------- registry
E = TypeVar("E")


class UnknownResultError(ValueError):
    """Raised for an identifier that is not in a registry."""


class Registry(Generic[E]):
    """Entries with identifiers ``<prefix>.<name>`` contributed by the papers' modules.

    One type serves results (layers ``theory`` and ``numerics``), verification checks
    (``validation``) and figures (``figures``).  :meth:`add` refuses an identifier whose prefix is
    not a declared paper; :meth:`load` imports a paper's modules of this registry's layers (once);
    :meth:`get` and :meth:`select` load only the papers they need.
    """

    def __init__(self, kind: str, layers: Sequence[str], listing: str = "iclc list",
                 index: Callable[[str], Mapping | None] | None = None,
                 stub: Callable[[str], E | None] | None = None):
        self.kind = kind
        self.layers = tuple(layers)
        self.listing = listing  # the command that lists the entries, named in error messages
        self.entries: dict[str, E] = {}
        self._loaded: set[str] = set()
        # Optional generated index of a paper's entries, ``{id: (module, status, summary)}``, and
        # a builder of an entry from its generated declaration: they let ``get`` import only the
        # module that registers an id (or none) and ``rows`` list entries without imports.
        self.index = index
        self.stub = stub

    # -- identifiers
    @staticmethod
    def split(id: str) -> tuple[str, str]:
        prefix, dot, name = id.partition(".")
        if not dot or not prefix or not name:
            raise ValueError(f"identifier {id!r} must look like <prefix>.<name>")
        return prefix, name

    def add(self, entry: E) -> E:
        """Register ``entry`` (it has an ``id``); re-registering an id replaces the entry."""
        prefix, _ = self.split(entry.id)
        paper(prefix)  # raises for a prefix that no paper declares
        self.entries[entry.id] = entry
        return entry

    # -- discovery
    def load(self, prefix: str | None = None) -> None:
        """Import the modules of one paper (or of every paper) for this registry's layers."""
        todo = list(papers()) if prefix is None else [prefix]
        for pre in todo:
            if pre in self._loaded:
                continue
            paper(pre).load(self.layers)
            self._loaded.add(pre)

    def get(self, id: str) -> E:
        """The entry ``id``, loading its paper's modules; a clear error with suggestions."""
        if id in self.entries:
            return self.entries[id]
        prefix = id.partition(".")[0]
        found = self._indexed(prefix, id)
        if found is not None:
            return found
        try:
            self.load(prefix)
        except UnknownPaperError:
            self.load()
        if id not in self.entries:
            self.load()
            close = [k for k in self.entries if k.partition(".")[2] == id.partition(".")[2]] or \
                sorted(k for k in self.entries if k.startswith(prefix + "."))[:6]
            hint = f"; did you mean {', '.join(close)}?" if close else f"; see `{self.listing}`"
            raise UnknownResultError(f"unknown {self.kind} id {id!r}{hint}")
        return self.entries[id]

    def _indexed(self, prefix: str, id: str) -> E | None:
        """``id`` from the generated index: a stub, or the one module that registers it."""
        if self.index is None or prefix in self._loaded or prefix not in papers():
            return None
        idx = self.index(prefix)
        if not idx or id not in idx:
            return None
        entry = self.stub(id) if self.stub is not None else None
        if entry is not None:
            self.entries[id] = entry
            return entry
        importlib.import_module(idx[id][0])
        return self.entries.get(id)

    def rows(self, prefix: str | None = None) -> list[tuple[str, str, str]]:
        """``(id, status, summary)`` of every entry (of one paper), sorted by id.

        Read from the generated indexes when they are up to date (no module is imported), else
        from the loaded entries.
        """
        todo = list(papers()) if prefix is None else [paper(prefix).prefix]
        out = []
        for pre in todo:
            idx = self.index(pre) if self.index is not None and pre not in self._loaded else None
            if idx is None:
                out += [(e.id, e.status, e.summary) for e in self.all(pre)]
            else:
                out += [(k, v[1], v[2]) for k, v in idx.items()]
        return sorted(out)

    def all(self, prefix: str | None = None) -> list[E]:
        """Every entry (of one paper), sorted by id."""
        if prefix is not None:
            paper(prefix)
        self.load(prefix)
        return sorted((e for k, e in self.entries.items()
                       if prefix is None or k.partition(".")[0] == prefix), key=lambda e: e.id)

    def select(self, selectors: Iterable[str] = ()) -> list[E]:
        """Entries whose id equals a selector or starts with ``selector + '.'``; all when empty."""
        selectors = list(selectors)
        if not selectors:
            return self.all()
        out: list[E] = []
        for s in selectors:
            prefix = s.partition(".")[0]
            if prefix in papers():
                self.load(prefix)
            hit = [self.entries[k] for k in sorted(self.entries) if k == s or k.startswith(s + ".")]
            if not hit:
                self.load()
                known = sorted({k.partition(".")[0] for k in self.entries})
                raise ValueError(f"no {self.kind} matches {s!r}; known prefixes: "
                                 f"{', '.join(known)}")
            out += [e for e in hit if e not in out]
        return out

    def __contains__(self, id: str) -> bool:
        try:
            self.get(id)
        except UnknownResultError:
            return False
        return True


# ----------------------------------------------------------------------------------------- results
#: Diagnostic keys a result function may return next to its outputs; they go to ``Evaluation.info``.
INFO_KEYS = ("success", "status", "message", "nit", "residual")

#: Statuses whose evaluations come from a solver and must report ``success`` (Monte Carlo results
#: report their standard error as an output instead, and it must be finite).
_MEASURED = ("numerical",)


@dataclass(frozen=True)
class Bound:
    """Allowed range of an output: ``lo <= value <= hi`` (``inf`` itself allowed if ``infinite``)."""

    lo: float = -math.inf
    hi: float = math.inf
    infinite: bool = False

    def violation(self, name: str, v: Any) -> str | None:
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            return None
        v = float(v)
        if math.isnan(v):
            return f"{name} is nan"
        if math.isinf(v) and not self.infinite:
            return f"{name} = {v} is not finite"
        if not self.lo <= v <= self.hi:
            return f"{name} = {v:.6g} is outside its range [{self.lo:g}, {self.hi:g}]"
        return None


@dataclass(frozen=True)
class RiskBounds:
    """``bounds`` of a risk that includes the noise: ``value >= sigma2`` and, when
    ``hi_above_noise`` is given, ``<= sigma2 + hi_above_noise`` (``1`` for a predictor at least as
    good as predicting 0, whose risk is ``1 + sigma2`` since ``E (x^T beta)^2 = 1``).  The upper
    end carries a few ulps of slack for the rounding of ``sigma2 + 1`` itself.  A declared value
    (not a closure), so that generated declarations can carry it."""

    hi_above_noise: float | None = None

    def __call__(self, inputs: Mapping[str, Any]) -> dict:
        s2 = inputs["sigma2"]
        hi = math.inf if self.hi_above_noise is None else \
            (s2 + self.hi_above_noise) * (1 + 4e-16)
        return {"value": (s2, hi)}


class _GeneratedDoc:
    """``__doc__`` of :class:`Result`: the class docstring on the class, numpydoc on instances."""

    def __init__(self, class_doc: str):
        self.class_doc = class_doc

    def __get__(self, obj, objtype=None):
        return self.class_doc if obj is None else obj.numpydoc()


@dataclass(eq=False)
class Result:
    """A catalogue entry.

    Parameters
    ----------
    id : str
        Stable identifier ``<prefix>.<name>``.
    summary : str
        One line for ``iclc list``.
    params : sequence of Param
        Declared inputs, validated by :meth:`validate`.
    func : callable
        ``func(**inputs)`` returns a number or a ``dict`` of named outputs, possibly with the
        diagnostic keys :data:`INFO_KEYS` (they go to :attr:`Evaluation.info`).  When the result has
        ``warm_start`` set, ``func`` also accepts ``warm=<state>`` and a returned key ``"_warm"`` is
        passed to the next grid point of a sweep (never shown).
    reference : Reference
    status : str
        One of :data:`STATUSES`; ``status_note`` names the limit, solver and tolerance.
    outputs : sequence of str
        Names of the outputs (``("value",)`` for a plain number).
    expression : callable returning a SymPy expression, optional
        For symbolic results; ``show`` prints it.  Called lazily (derivations can take a second).
    definition : str
        For non-symbolic results: the defining equations, as text shown by ``show``.
    check : callable, optional
        Cross-input constraints, ``check(inputs)``; raises ``ValueError`` with a clear message.
    bounds : dict or callable, optional
        Allowed range of each output, ``{name: (lo, hi)}`` or :class:`Bound`, or a callable
        ``bounds(inputs)`` returning such a dict (e.g. an MMSE in ``[0, Q0]``).  Outputs without a
        bound must be finite.  A value outside its range is reported (``info["success"]`` False),
        never passed off as a result.
    symbolic : bool
        Evaluated from its SymPy expression (:func:`register_symbolic`): such a result can also be
        evaluated at any precision (``evaluate(..., dps=50)``, mpmath).  ``symbols`` is then the
        factory of the expression's argument symbols, in the order of ``params``.
    module : str
        The module that registers the result (filled in by :func:`register`).
    batch : callable, optional
        ``batch(points)`` evaluates a list of validated input dicts at once and returns what
        ``func`` returns for each (bit for bit), or None when it cannot (then sweeps go point by
        point).  Used by sweeps for solvers that are vectorised.
    """

    id: str
    summary: str
    params: tuple
    func: Callable[..., Any]
    reference: Reference
    status: str = "exact"
    status_note: str = ""
    outputs: tuple = ("value",)
    expression: Callable[[], Any] | None = None
    definition: str = ""
    check: Callable[[dict], None] | None = None
    warm_start: bool = False
    bounds: Any = None
    symbolic: bool = False
    symbols: Callable[[], Sequence[Any]] | None = field(default=None, repr=False)
    module: str = ""
    batch: Callable[[list], list | None] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"{self.id}: status {self.status!r} not in {STATUSES}")
        Registry.split(self.id)
        if not isinstance(self.reference, Reference):
            raise TypeError(f"{self.id}: reference must be a Reference, got "
                            f"{type(self.reference).__name__}")
        self.params = tuple(self.params)
        self.outputs = tuple(self.outputs)
        clash = set(self.outputs) & set(INFO_KEYS)
        if clash:
            raise ValueError(f"{self.id}: outputs {sorted(clash)} are diagnostic keys; they are "
                             f"returned in Evaluation.info, not declared as outputs")

    @property
    def prefix(self) -> str:
        return self.id.partition(".")[0]

    @property
    def paper(self) -> Paper:
        return paper(self.prefix)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ValueError(f"{self.id}: unknown input {name!r}; inputs are "
                         f"{', '.join(p.name for p in self.params)}")

    def validate(self, raw: Mapping[str, Any]) -> dict:
        """Check names, presence and domains of the inputs; return canonical values."""
        names = {p.name for p in self.params}
        for k in raw:
            if k not in names:
                self.param(k)  # raises with the list of inputs
        out = {}
        for p in self.params:
            if p.name in raw:
                out[p.name] = p.validate(raw[p.name], self.id)
            elif p.required:
                raise ValueError(f"{self.id}: missing input {p.name} ({p.describe_domain()})")
            else:
                out[p.name] = p.default
        if self.check is not None:
            try:
                self.check(out)
            except ValueError as e:
                msg = str(e)
                raise ValueError(msg if msg.startswith(self.id) else f"{self.id}: {msg}") from None
        return out

    def __call__(self, **raw) -> Any:
        """Evaluate and return the bare value (number or dict)."""
        return self.evaluate(**raw).value

    def evaluate(self, dps: int | None = None, **raw) -> "Evaluation":
        """Evaluate on validated inputs; ``dps`` (15 to 10000) evaluates a symbolic result with
        that many significant decimal digits (mpmath) instead of in float64."""
        inputs = self.validate(raw)
        if dps is None:
            return self.wrap(inputs, self.func(**inputs))
        return self._evaluate_mp(inputs, raw, dps)

    def _evaluate_mp(self, inputs: dict, raw: Mapping[str, Any], dps: int) -> "Evaluation":
        check_dps(dps)
        if not self.symbolic:
            raise ValueError(f"{self.id} cannot honour dps = {dps}: it is computed by a "
                             f"{'solver' if self.status in _MEASURED else 'numerical routine'} "
                             f"in float64 ({self.status}); any precision is available for the "
                             f"closed forms (`iclc list` marks them exact/asymptotic; e.g. "
                             f"softmax.eta_star)")
        import mpmath

        f = _mp_function(self)
        names = [p.name for p in self.params]
        with mpmath.workdps(dps + 10):  # guard digits, then rounded to dps below
            args = [_mp_input(raw.get(n, inputs[n]), inputs[n]) for n in names]
            v = f(*args)
        if isinstance(v, mpmath.mpc) or not isinstance(v, (mpmath.mpf, int)):
            raise ValueError(f"{self.id}: the mpmath evaluation gave {v!r}, not a real number")
        with mpmath.workdps(dps):
            v = +mpmath.mpf(v)  # round to dps digits
        problems = self._violations(inputs, float(v))
        info = {} if not problems else {"success": False, "status": 5,
                                        "message": "; ".join(problems)}
        return Evaluation(self, inputs, v, info, dps=dps)

    def wrap(self, inputs: dict, raw_value: Any) -> "Evaluation":
        """Split a function's return into value and diagnostics, and check the value's range."""
        info: dict = {}
        if isinstance(raw_value, Mapping):
            value = {k: v for k, v in raw_value.items()
                     if not k.startswith("_") and k not in INFO_KEYS}
            info = {k: raw_value[k] for k in INFO_KEYS if k in raw_value}
            if set(value) == {"value"}:  # a single unnamed output with diagnostics: a number
                value = value["value"]
        else:
            value = raw_value
        value, info = _plain(value), _plain(info)
        problems = self._violations(inputs, value)
        if problems:
            said = [info["message"]] if info.get("message") and info.get("success") is False else []
            info = dict(info, success=False, status=info.get("status") or 5,
                        message="; ".join(said + problems))
        elif self.status in _MEASURED and "success" not in info:
            info = dict(info, success=False, status=6,
                        message="the solver reported no success flag")
        return Evaluation(self, inputs, value, info)

    def _violations(self, inputs: dict, value: Any) -> list[str]:
        bounds = self.bounds(inputs) if callable(self.bounds) else (self.bounds or {})
        items = value.items() if isinstance(value, dict) else [("value", value)]
        out = []
        for name, v in items:
            b = bounds.get(name, Bound())
            if isinstance(b, tuple):
                b = Bound(*b)
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, list):
                    continue  # matrices: entries are checked by the result itself
                msg = b.violation(name, x)
                if msg:
                    out.append(msg)
                    break
        return out

    # -- display
    def sympy_expr(self, live: bool = False):
        """The SymPy expression shown for this result (the committed, generated one unless
        ``live``, which derives it now), or None."""
        if self.expression is None:
            return None
        if not live:
            from icl_companion.theory import precompute

            e = precompute.expression(self.id)
            if e is not None:
                return e
        return _expr_cache(self.expression)

    def formula(self, latex: bool = False) -> str:
        """The SymPy expression (pretty or LaTeX), followed by ``definition`` as its legend."""
        expr = self.sympy_expr()
        if expr is None:
            return self.definition
        import sympy as sp

        text = sp.latex(expr) if latex else sp.pretty(expr, use_unicode=False)
        return text + (f"\n\n{self.definition}" if self.definition else "")

    def status_line(self) -> str:
        note = f": {self.status_note}" if self.status_note else ""
        recon = "; reconstructed model" if self.paper.reconstructed and \
            self.status != "reconstructed" else ""
        return f"{self.status}{note}{recon}"

    def describe(self, latex: bool = False) -> str:
        lines = [f"{self.id}  [{self.status_line()}]", self.summary, ""]
        lines.append(self.formula(latex))
        lines.append("")
        lines.append("inputs:")
        for p in self.params:
            d = "" if p.required else f" (default {p.default})"
            lines.append(f"  {p.name}: {p.describe_domain()}{d}" + (f" -- {p.doc}" if p.doc else ""))
        lines.append("outputs: " + ", ".join(self.outputs))
        lines.append(f"reference: {self.reference}")
        return "\n".join(lines)

    def numpydoc(self) -> str:
        """The result's docstring (numpydoc), generated from its declaration."""
        lines = [f"{self.summary}.".replace("..", "."), "",
                 f"Catalogue id ``{self.id}``; status: {self.status_line()}."]
        if self.definition:
            lines += ["", "Defined by::", ""] + ["    " + t for t in self.definition.splitlines()]
        lines += ["", "Parameters", "----------"]
        for p in self.params:
            d = "" if p.required else f", default {p.default!r}"
            lines.append(f"{p.name} : {p.describe_domain()}{d}")
            if p.doc:
                lines.append(f"    {p.doc}")
        lines += ["", "Returns", "-------"]
        if self.outputs == ("value",):
            lines.append("value : float")
        else:
            lines.append("dict with keys " + ", ".join(f"``{o}``" for o in self.outputs))
        if self.status in _MEASURED:
            lines += ["", "Notes", "-----",
                      "Evaluations carry solver diagnostics in ``Evaluation.info`` (``success``, "
                      "``status``, ``message``, ``nit``, ``residual``)."]
        lines += ["", "References", "----------"]
        lines += [f".. [{i}] {t}" for i, t in enumerate(self.reference.numpydoc(), 1)]
        return "\n".join(lines) + "\n"

    # -- Jupyter
    def latex(self) -> str | None:
        """The formula in LaTeX with the papers' symbols, ``f(inputs) = expression``, or None."""
        expr = self.sympy_expr()
        if expr is None:
            return None
        from icl_companion.theory import display

        args = ", ".join(display.symbol_latex(p.name) for p in self.params)
        name = r"\mathrm{" + self.id.partition(".")[2].replace("_", r"\_") + "}"
        return f"{name}({args}) = {display.latex(expr)}"

    def _repr_latex_(self) -> str | None:
        tex = self.latex()
        return None if tex is None else f"$${tex}$$"

    def _repr_html_(self) -> str:
        """Formula (or defining equations), inputs with symbols and domains, outputs, reference."""
        from icl_companion.theory.display import esc, status_badge, symbol_latex, table_html

        tex = self.latex()
        formula = f"<p>$${tex}$$</p>" if tex is not None else ""
        if self.definition:
            formula += f"<pre>{esc(self.definition)}</pre>"
        rows = [(f"<code>{esc(p.name)}</code>", f"\\({symbol_latex(p.name)}\\)",
                 esc(p.describe_domain()), "" if p.required else esc(p.default), esc(p.doc))
                for p in self.params]
        link = f' <a href="{self.paper.url}">{esc(self.paper.url)}</a>' if self.paper.url else ""
        return (f"<div><b><code>{esc(self.id)}</code></b> {status_badge(True, self.status)} "
                f"{esc(self.summary)}{formula}"
                + table_html(("input", "symbol", "domain", "default", ""), rows, raw=True)
                + f"<p>outputs: {', '.join(f'<code>{esc(o)}</code>' for o in self.outputs)}"
                f"<br>status: {esc(self.status_line())}"
                f"<br>reference: <i>{esc(self.reference)}</i>{link}</p></div>")


Result.__doc__ = _GeneratedDoc(Result.__doc__)


@functools.lru_cache(maxsize=None)
def _expr_cache(factory):
    return factory()


def format_mp(v: Any, dps: int) -> str:
    """``dps`` significant digits of an mpmath number (trailing zeros kept)."""
    import mpmath

    with mpmath.workdps(dps + 5):  # at mpmath's default 15 digits mpf(v) would round v
        return mpmath.nstr(v, dps, strip_zeros=False, min_fixed=-6, max_fixed=dps)


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.12g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def _plain(v: Any) -> Any:
    """Convert numpy scalars/arrays to plain Python floats/lists (JSON-ready)."""
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "tolist"):
        return _plain(v.tolist())
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if isinstance(v, numbers.Complex):
        raise TypeError(f"complex value {v!r} returned by a result")
    return v


@dataclass
class Evaluation:
    """The outcome of evaluating a result: the validated inputs, the value(s), the diagnostics.

    ``value`` is a number or a dict of the result's outputs; ``info`` holds the solver diagnostics
    (``success``, ``status``, ``message``, ``nit``, ``residual``), empty for closed forms.
    """

    result: Result
    inputs: dict
    value: Any
    info: dict = field(default_factory=dict)
    dps: int | None = None  # set for an arbitrary-precision evaluation (value: mpmath.mpf)

    @property
    def success(self) -> bool:
        """False when the solver did not converge or the value left its declared range."""
        return bool(self.info.get("success", True))

    def value_text(self) -> str:
        """The value as printed by ``iclc eval``: 12 significant digits, or ``dps`` digits."""
        if self.dps is not None:
            return format_mp(self.value, self.dps)
        return _fmt_value(self.value)

    def to_dict(self) -> dict:
        """The ``iclc eval --json`` object; with ``dps`` the value is a decimal string of ``dps``
        significant digits (a JSON float cannot hold them)."""
        value = format_mp(self.value, self.dps) if self.dps is not None else self.value
        return {"id": self.result.id, "inputs": dict(self.inputs), "value": value,
                "status": self.result.status, "reference": str(self.result.reference),
                "info": dict(self.info)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.inputs.items())
        flag = "" if self.success else f"  (NOT CONVERGED: {self.info.get('message', '')})"
        shown = self.value_text() if self.dps is not None else repr(self.value)
        return f"{self.result.id}({args}) = {shown}  [{self.result.status}]{flag}"

    # -- Jupyter
    def _items(self) -> list[tuple[str, Any]]:
        return list(self.value.items()) if isinstance(self.value, dict) else \
            [(self.result.outputs[0], self.value)]

    def _repr_latex_(self) -> str:
        """``f(inputs) = value`` (each output on its own line)."""
        from icl_companion.theory.display import fmt_number, symbol_latex

        args = ", ".join(f"{symbol_latex(k)}={fmt_number(v, 8)}" for k, v in self.inputs.items()
                         if not isinstance(v, str))
        name = r"\mathrm{" + self.result.id.partition(".")[2].replace("_", r"\_") + "}"
        shown = self.value_text() if self.dps is not None else None
        lines = [f"{symbol_latex(k) if k != 'value' else name + '(' + args + ')'} = "
                 f"{shown or fmt_number(v, 12)}" for k, v in self._items()]
        flag = "" if self.success else r"\quad\text{(not trusted: see diagnostics)}"
        return "$$\\begin{aligned}" + r" \\ ".join(lines).replace(" = ", " &= ") + \
            "\\end{aligned}" + flag + "$$"

    def _repr_html_(self) -> str:
        """The value(s) with the result's status, the inputs and the solver diagnostics."""
        from icl_companion.theory.display import (esc, fmt_number, status_badge, symbol_latex,
                                                  table_html)

        r = self.result
        digits = self.dps or 12
        vals = [(f"\\({symbol_latex(k)}\\)", f"<code>{esc(k)}</code>",
                 esc(format_mp(v, self.dps) if self.dps else fmt_number(v, digits)))
                for k, v in self._items()]
        inputs = ", ".join(f"{esc(k)}={esc(fmt_number(v, 10))}" for k, v in self.inputs.items())
        ok = self.success
        badge = status_badge(ok, "trusted" if ok else "NOT TRUSTED")
        diag = ""
        if self.info:
            diag = "<p>diagnostics: " + ", ".join(
                f"{esc(k)} = {esc(fmt_number(self.info[k]))}" for k in INFO_KEYS
                if k in self.info) + "</p>"
        prec = f" ({self.dps} significant digits)" if self.dps else ""
        return (f"<div><b><code>{esc(r.id)}</code></b>({inputs}) {badge} "
                f"<small>{esc(r.status_line())}{prec}</small>"
                + table_html(("", "output", "value"), vals, raw=True) + diag
                + f"<p><i>{esc(r.reference)}</i></p></div>")


# ----------------------------------------------------------------------------------- the catalogue
def _index(prefix: str):
    from icl_companion.theory import precompute

    return precompute.index(prefix)


def _stub(id: str):
    from icl_companion.theory import precompute

    return precompute.stub(id)


RESULTS: Registry[Result] = Registry("result", ("theory", "numerics"), index=_index, stub=_stub)
CATALOGUE = RESULTS.entries  # id -> Result (filled as papers are loaded)


def register(result: Result, _depth: int = 1) -> Result:
    """Add ``result`` to the catalogue (re-registering the same id replaces it)."""
    if not result.module:
        result.module = sys._getframe(_depth).f_globals.get("__name__", "")
    return RESULTS.add(result)


def register_symbolic(id: str, summary: str, params: Sequence[Param],
                      expression: Callable[[], Any], symbols: Callable[[], Sequence[Any]],
                      reference: Reference, status: str = "exact", status_note: str = "",
                      check: Callable[[dict], None] | None = None,
                      modules: Sequence[Any] = ("scipy", "numpy"), bounds: Any = None) -> Result:
    """Register a result evaluated from a SymPy expression via :func:`sympy.lambdify`.

    ``expression`` and ``symbols`` are zero-argument factories (evaluated once, lazily) returning
    the expression and the SymPy symbols in the order of ``params``.
    """

    def compile():
        from icl_companion.theory import precompute

        f = precompute.function(id)
        if f is not None:
            return f
        import sympy as sp

        return sp.lambdify(tuple(symbols()), _expr_cache(expression), modules=list(modules))

    return register(Result(id, summary, tuple(params), symbolic_func(id, params, compile),
                           reference, status, status_note, expression=expression, check=check,
                           bounds=bounds, symbolic=True, symbols=symbols), _depth=2)


def symbolic_func(id: str, params: Sequence[Param], compile: Callable[[], Callable]):
    """``func(**inputs)`` of a symbolic result: the float value of ``compile()`` (called once, on
    first use: the generated function, or the expression lambdified now)."""
    names = [p.name for p in params]
    compiled = functools.lru_cache(maxsize=None)(compile)

    def func(**inputs):
        return float(compiled()(*[inputs[n] for n in names]))

    func.__name__ = id.replace(".", "_")
    return func


#: Allowed ``dps`` (significant decimal digits) of an arbitrary-precision evaluation.
DPS_RANGE = (15, 10000)


def check_dps(dps) -> int:
    """``dps`` as an int in :data:`DPS_RANGE`, or ``ValueError``."""
    if isinstance(dps, bool) or not isinstance(dps, numbers.Integral) or \
            not DPS_RANGE[0] <= dps <= DPS_RANGE[1]:
        raise ValueError(f"dps = {dps!r} is outside the allowed range: an integer in "
                         f"[{DPS_RANGE[0]}, {DPS_RANGE[1]}] (significant decimal digits)")
    return int(dps)


def _mp_function(r: Result):
    from icl_companion.theory import precompute

    f = precompute.mpmath_function(r.id)
    if f is None:
        import sympy as sp

        f = sp.lambdify(tuple(r.symbols()), r.sympy_expr(live=True), modules="mpmath")
    return f


def _mp_input(raw: Any, value: Any):
    """An input as an mpmath number: a decimal string as written (``0.1`` is 1/10, not the
    nearest double), a float by its shortest repr (what was typed), an integer exactly."""
    import mpmath

    if isinstance(value, str) or isinstance(value, list):
        return value
    if isinstance(raw, str):
        return mpmath.mpf(raw.strip())
    if isinstance(value, int):
        return mpmath.mpf(value)
    return mpmath.mpf(repr(float(raw)))


def load_catalogue() -> dict[str, Result]:
    """Import every paper's result modules; return the complete catalogue."""
    RESULTS.load()
    return CATALOGUE


def get(id: str) -> Result:
    """The result with identifier ``id`` (imports only its paper's modules)."""
    return RESULTS.get(id)


def listing(paper: str | None = None) -> list[tuple[str, str, str]]:
    """``(id, status, summary)`` of every result (of one paper), without importing the modules
    when the generated index is up to date (``iclc list``)."""
    return RESULTS.rows(paper)


def results(paper: str | None = None) -> list[Result]:
    """All results, optionally of one paper prefix, sorted by id."""
    return RESULTS.all(paper)


def evaluate(id: str, dps: int | None = None, **inputs) -> Evaluation:
    """Evaluate result ``id`` on validated inputs; ``dps`` digits with mpmath for closed forms.

    >>> evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1, eta=0.9).to_dict()["status"]
    'exact'
    >>> evaluate("softmax.eta_star", d=5, L=40, sigma2=0.1, dps=30).value_text()
    '0.879120879120879120879120879121'
    """
    return get(id).evaluate(dps=dps, **inputs)


class _Papers(Mapping):
    """``PAPERS[prefix]``: the declared papers (read-only view of :func:`papers`)."""

    def __getitem__(self, k):
        return paper(k)

    def __iter__(self):
        return iter(papers())

    def __len__(self):
        return len(papers())


PAPERS = _Papers()
