"""How results, evaluations, sweeps and check reports look in Jupyter, and the symbols they use.

Names of inputs and outputs are plain identifiers (``sigma2``, ``eta_star``, ``alpha_bar``);
:func:`symbol_latex` turns them into the paper's notation (``\\sigma^2``, ``\\eta^*``,
``\\bar{\\alpha}``), for LaTeX in a notebook and for matplotlib mathtext in figure labels
(:func:`mathtext`).  SymPy prints a symbol named ``sigma2`` as ``\\sigma_{2}``; :func:`latex`
prints an expression with these symbols instead.

The HTML builders here are plain string functions (no numerics, no SymPy unless a formula is
shown), used by the ``_repr_html_`` / ``_repr_latex_`` methods of
:class:`~icl_companion.theory.registry.Result`, :class:`~icl_companion.theory.registry.Evaluation`,
:class:`~icl_companion.numerics.sweep.SweepResult` and the verification reports.

>>> symbol_latex("sigma2"), symbol_latex("eta_star"), symbol_latex("alpha_bar")
('\\\\sigma^2', '\\\\eta^*', '\\\\bar{\\\\alpha}')
>>> symbol_latex("rho"), symbol_latex("m_lo"), symbol_latex("Deltabar"), symbol_latex("d")
('\\\\rho', 'm_{\\\\mathrm{lo}}', '\\\\bar{\\\\Delta}', 'd')
>>> mathtext("alpha_bar_c")
'$\\\\bar{\\\\alpha}_{c}$'
"""

from __future__ import annotations

import html
import math
import re
from typing import Any, Iterable, Sequence

__all__ = ["symbol_latex", "mathtext", "latex", "table_html", "status_badge", "fmt_number",
           "esc", "require", "MissingExtraError", "EXTRAS"]

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
         "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi",
         "Psi", "Omega"}

#: Names whose trailing digit is a power, not an index (variances).
_SQUARED = {"sigma2", "tau2", "g2"}
#: Whole names with a conventional notation.
_SPECIAL = {"mmse": r"\mathrm{MMSE}", "delta": r"\Delta", "mse": r"\mathrm{MSE}",
            "T_Lambda": r"\mathrm{tr}\,\Lambda", "epsilon": r"\varepsilon", "eps": r"\varepsilon",
            "lambdas": r"\lambda_i"}


def _base(name: str) -> str:
    if name in GREEK:
        return "\\" + name
    if len(name) == 1:
        return name
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def symbol_latex(name: str) -> str:
    """LaTeX for an input / output name in the papers' notation (see the module docstring)."""
    if name in _SPECIAL:
        return _SPECIAL[name]
    if name in _SQUARED:
        return _base(name[:-1]) + "^2"
    head, _, rest = name.partition("_")
    subs = [t for t in rest.split("_") if t] if rest else []
    star = "star" in subs
    bar = "bar" in subs
    subs = [t for t in subs if t not in ("star", "bar")]
    if head.endswith("bar") and head[:-3] in GREEK | {c for c in "abcdefghijklmnopqrstuvwxyz"}:
        head, bar = head[:-3], True
    m = re.fullmatch(r"([A-Za-z]+?)(\d+)", head)
    if m and (m.group(1) in GREEK or len(m.group(1)) == 1):
        head, subs = m.group(1), [m.group(2)] + subs
    if head not in GREEK and len(head) > 1:
        return _base(name)
    out = _base(head)
    if bar:
        out = r"\bar{" + out + "}"
    if subs:
        sub = ",".join(t if len(t) == 1 or t.isdigit() else (
            "\\" + t if t in GREEK else r"\mathrm{" + t + "}") for t in subs)
        out += "_{" + sub + "}"
    if star:
        out += "^*"
    return out


def mathtext(name: str) -> str:
    """A figure label for ``name`` (matplotlib mathtext): ``$\\sigma^2$``."""
    return f"${symbol_latex(name)}$"


def latex(expr) -> str:
    """``sympy.latex`` with the symbols named in the papers' notation (``sigma2`` -> sigma^2)."""
    import sympy as sp

    parts = list(expr.values()) if isinstance(expr, dict) else \
        list(expr) if isinstance(expr, (list, tuple)) else [expr]
    free = set().union(*(sp.sympify(p).free_symbols for p in parts))
    names = {s: symbol_latex(s.name) for s in free if isinstance(s, sp.Symbol)}
    return sp.latex(expr, symbol_names=names)


#: Optional dependencies and the extra that installs them.
EXTRAS = {"pandas": "notebook", "xarray": "notebook", "argcomplete": "notebook",
          "nbclient": "notebook", "dask": "dask", "torch": "validation"}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, feature: str):
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS.get(module, "notebook")
        raise MissingExtraError(f"{feature} needs {module}, which is not installed: "
                                f"pip install 'icl-companion[{extra}]'") from None


def fmt_number(v: Any, digits: int = 6) -> str:
    """A compact number for tables (``nan`` and ``inf`` spelled out, lists joined)."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.{digits}g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt_number(x, digits) for x in v) + "]"
    return str(v)


def esc(v: Any) -> str:
    return html.escape(str(v))


def status_badge(ok: bool, text: str) -> str:
    color = "#1a7f37" if ok else "#cf222e"
    return (f'<span style="color:white;background:{color};border-radius:3px;padding:0 4px;'
            f'font-size:90%">{esc(text)}</span>')


def table_html(header: Sequence[str], rows: Iterable[Sequence[Any]], raw: bool = False,
               max_rows: int | None = None) -> str:
    """An HTML table; cells are escaped unless ``raw`` (already HTML)."""
    rows = list(rows)
    shown = rows if max_rows is None or len(rows) <= max_rows else \
        rows[: max_rows // 2] + [["&vellip;"] * len(header)] + rows[-(max_rows // 2):]
    cell = (lambda x: str(x)) if raw else esc
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{x if x == '&vellip;' else cell(x)}</td>" for x in r)
                   + "</tr>" for r in shown)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
