"""The results catalogue: every quantity a user can evaluate, with typed, checked inputs.

A :class:`Result` declares its inputs (:class:`Param`), what it returns, where it comes from
(:class:`Reference`) and how much to trust it (``status``).  Symbolic results carry the SymPy
expression they are evaluated from, so that ``iclc show`` prints the very formula that
``iclc eval`` computes (the callable is produced by :func:`sympy.lambdify`, never typed twice).

Input validation lives here, once, for every result: :meth:`Result.validate` converts and checks
each input against its domain and raises :class:`ValueError` naming the parameter, the value
received and the allowed domain.

This module is plain data plus SymPy: it imports no numerics, torch or matplotlib, so that every
layer may register into the same :data:`CATALOGUE`.

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
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import sympy as sp

__all__ = [
    "Interval", "Param", "Reference", "Result", "Evaluation", "CATALOGUE", "STATUSES",
    "register", "register_symbolic", "get", "evaluate", "results", "real", "integer",
    "vector", "matrix", "choice", "UnknownResultError",
]

STATUSES = ("exact", "asymptotic", "numerical", "reconstructed", "monte-carlo")

_REQUIRED = object()


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
                return float(text)
            if self.kind == "integer":
                return _parse_int(text)
            if self.kind == "vector":
                return [float(t) for t in text.split(",")]
            if self.kind == "matrix":
                return [[float(t) for t in row.split(",")] for row in text.split(";")]
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


def _parse_int(text: str) -> int:
    v = float(text)
    if not v.is_integer():
        raise ValueError(text)
    return int(v)


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
@dataclass(frozen=True)
class Reference:
    """Where a result comes from: paper (prefix or citation), and the equation/section/figure."""

    paper: str
    where: str
    arxiv: str = ""

    def __str__(self) -> str:
        s = f"{self.paper}, {self.where}"
        return s + (f" (arXiv:{self.arxiv})" if self.arxiv else "")


PAPERS = {
    "linear": Reference("Shared linear-attention / ridge baselines", "see each result"),
    "aim": Reference("Boncoraglio, Troiani, Erba, Zdeborova, Bayes optimal learning of "
                     "attention-indexed models", "", "2506.01582"),
    "softmax": Reference("He, Pan, Chen, Yang, In-context linear regression demystified", "",
                         "2503.12734"),
    "xattn": Reference("Barnfield, Sen, Sur, Multi-layer cross-attention is provably optimal for "
                       "multi-modal in-context learning (RECONSTRUCTED model)", "", "2602.04872"),
    "mmicl": Reference("Huang, Roth, Bouniot, Xu, Akata, Dissecting multimodal in-context learning",
                       "", "2601.20796"),
}


# ----------------------------------------------------------------------------------------- results
@dataclass
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
        ``func(**inputs)`` returns a number or a ``dict`` of named outputs.  Numerical results may
        include ``converged``, ``iterations`` and ``residual`` keys; they are reported by sweeps.
        When the result has ``warm_start`` set, ``func`` also accepts ``warm=<state>`` and a
        returned key ``"_warm"`` is passed to the next grid point of a sweep (never shown).
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

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"{self.id}: status {self.status!r} not in {STATUSES}")
        if "." not in self.id:
            raise ValueError(f"result id {self.id!r} must look like <prefix>.<name>")
        self.params = tuple(self.params)
        self.outputs = tuple(self.outputs)

    @property
    def prefix(self) -> str:
        return self.id.split(".", 1)[0]

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
                raise ValueError(f"{self.id}: {e}") from None
        return out

    def __call__(self, **raw) -> Any:
        """Evaluate and return the bare value (number or dict)."""
        return self.evaluate(**raw).value

    def evaluate(self, **raw) -> "Evaluation":
        inputs = self.validate(raw)
        value = self.func(**inputs)
        if isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if not k.startswith("_")}
        return Evaluation(self, inputs, _plain(value))

    # -- display
    def sympy_expr(self):
        return _expr_cache(self.expression) if self.expression is not None else None

    def formula(self, latex: bool = False) -> str:
        """The SymPy expression (pretty or LaTeX), followed by ``definition`` as its legend."""
        expr = self.sympy_expr()
        if expr is None:
            return self.definition
        text = sp.latex(expr) if latex else sp.pretty(expr, use_unicode=False)
        return text + (f"\n\n{self.definition}" if self.definition else "")

    def describe(self, latex: bool = False) -> str:
        lines = [f"{self.id}  [{self.status}{': ' + self.status_note if self.status_note else ''}]",
                 self.summary, ""]
        lines.append(self.formula(latex))
        lines.append("")
        lines.append("inputs:")
        for p in self.params:
            d = "" if p.required else f" (default {p.default})"
            lines.append(f"  {p.name}: {p.describe_domain()}{d}" + (f" -- {p.doc}" if p.doc else ""))
        lines.append("outputs: " + ", ".join(self.outputs))
        lines.append(f"reference: {self.reference}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:  # Jupyter
        expr = self.sympy_expr()
        body = f"$${sp.latex(expr)}$$" if expr is not None else f"```\n{self.definition}\n```"
        rows = "\n".join(f"| `{p.name}` | {p.describe_domain()} | {p.doc} |" for p in self.params)
        return (f"**{self.id}** ({self.status}) {self.summary}\n\n{body}\n\n| input | domain | |\n"
                f"|---|---|---|\n{rows}\n\n*{self.reference}*")


@functools.lru_cache(maxsize=None)
def _expr_cache(factory):
    return factory()


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
    """The outcome of evaluating a result: inputs as validated, the value, and provenance."""

    result: Result
    inputs: dict
    value: Any

    def to_dict(self) -> dict:
        return {"id": self.result.id, "inputs": dict(self.inputs), "value": self.value,
                "status": self.result.status, "reference": str(self.result.reference)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.inputs.items())
        return f"{self.result.id}({args}) = {self.value!r}  [{self.result.status}]"

    def _repr_markdown_(self) -> str:
        return f"`{self!r}`  \n*{self.result.reference}*"


# ---------------------------------------------------------------------------------------- registry
CATALOGUE: dict[str, Result] = {}


class UnknownResultError(ValueError):
    """Raised for an identifier that is not in the catalogue."""


def register(result: Result) -> Result:
    """Add ``result`` to the catalogue (re-registering the same id replaces it)."""
    CATALOGUE[result.id] = result
    return result


def register_symbolic(id: str, summary: str, params: Sequence[Param],
                      expression: Callable[[], Any], symbols: Callable[[], Sequence[Any]],
                      reference: Reference, status: str = "exact", status_note: str = "",
                      check: Callable[[dict], None] | None = None,
                      modules: Sequence[Any] = ("scipy", "numpy")) -> Result:
    """Register a result evaluated from a SymPy expression via :func:`sympy.lambdify`.

    ``expression`` and ``symbols`` are zero-argument factories (evaluated once, lazily) returning
    the expression and the SymPy symbols in the order of ``params``.
    """

    @functools.lru_cache(maxsize=None)
    def compiled():
        return sp.lambdify(tuple(symbols()), _expr_cache(expression), modules=list(modules))

    names = [p.name for p in params]

    def func(**inputs):
        return float(compiled()(*[inputs[n] for n in names]))

    func.__name__ = id.replace(".", "_")
    return register(Result(id, summary, tuple(params), func, reference, status, status_note,
                           expression=expression, check=check))


_PROVIDER_PACKAGES = ("icl_companion.theory", "icl_companion.numerics")


def provider_modules() -> list[str]:
    """Modules of the ``theory`` and ``numerics`` layers (private ones, ``_*``, excluded)."""
    import importlib
    import pkgutil

    names = []
    for pkg in _PROVIDER_PACKAGES:
        mod = importlib.import_module(pkg)
        names += [f"{pkg}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)
                  if not m.name.startswith("_")]
    return sorted(names)


@functools.lru_cache(maxsize=None)
def load_catalogue() -> dict[str, Result]:
    """Import every module of ``theory`` and ``numerics`` once; return the complete catalogue.

    A paper registers its results simply by defining them in a module of one of these layers.
    """
    import importlib

    for m in provider_modules():
        importlib.import_module(m)
    return CATALOGUE


def get(id: str) -> Result:
    """The result with identifier ``id`` (loads the catalogue on first use)."""
    cat = load_catalogue()
    if id not in cat:
        close = [k for k in cat if k.split(".", 1)[-1] == id.split(".", 1)[-1]] or \
            sorted(k for k in cat if k.startswith(id.split(".", 1)[0] + "."))[:6]
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `iclc list`"
        raise UnknownResultError(f"unknown result id {id!r}{hint}")
    return cat[id]


def results(paper: str | None = None) -> list[Result]:
    """All results, optionally of one paper prefix, sorted by id."""
    cat = load_catalogue()
    if paper is not None and paper not in PAPERS:
        raise ValueError(f"unknown paper prefix {paper!r}; allowed: {', '.join(PAPERS)}")
    return sorted((r for r in cat.values() if paper is None or r.prefix == paper),
                  key=lambda r: r.id)


def evaluate(id: str, **inputs) -> Evaluation:
    """Evaluate result ``id`` on validated inputs.

    >>> evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1, eta=0.9).to_dict()["status"]
    'exact'
    """
    return get(id).evaluate(**inputs)
