"""Precomputed outputs of the SymPy derivations (the pattern of ``scipy/special/_precompute``).

The derivations in ``theory/<paper>.py`` are the specification; some take seconds (the AIM
support-edge quartic is a discriminant, about 4 s) and SymPy itself takes a third of a second to
import.  Their outputs are therefore generated once and committed next to them, in
``theory/_generated/<paper>.py``:

* ``EXPRESSIONS``: every catalogue expression (what ``iclc show`` prints) and every derived
  expression the numerics use, as :func:`sympy.srepr` text (parsed only when shown);
* ``FUNCTIONS`` / ``MPMATH``: the same expressions printed as Python source by SymPy's code
  printers (float64 through NumPy/SciPy, the printer :func:`sympy.lambdify` would use, and
  arbitrary precision through mpmath);
* ``CONSTANTS``: numbers the numerics need from a derivation (correctly rounded by SymPy);
* ``INDEX`` and ``DECLARATIONS``: each result's id, status, summary and registering module, and the
  full declaration of the plain symbolic results, so that ``iclc list`` and ``iclc eval`` of a
  closed form import neither the paper's modules nor SymPy.

Each generated module records the SHA-256 of the source files it was generated from; when one of
them changes the outputs are not used (everything is derived again, slowly but correctly) until
``python -m icl_companion.theory.precompute`` regenerates them, and ``tests/test_precompute.py``
fails, naming that command.  The test also re-derives every output and compares it with the
committed one, so that the two cannot drift.

This module is imported at run time (lookups only, no SymPy); the generator part imports SymPy.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import keyword
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Callable

__all__ = ["Derived", "DERIVED", "generated", "function", "mpmath_function", "constant",
           "expression", "index", "stub", "generate", "main"]

GENERATED = "icl_companion.theory._generated"


# ------------------------------------------------------------------------------ specification
@dataclass(frozen=True)
class Derived:
    """A derivation output the numerics evaluate (besides the catalogue's own expressions).

    ``build()`` (imports SymPy) returns ``(args, expr)``: the argument symbols and an expression,
    or a (nested) list / dict of expressions, giving the same structure of functions; with
    ``vector`` a list of expressions gives one function returning the list.  ``printer`` is
    ``numpy``, ``math``, ``mpmath`` or ``float`` (a number, correctly rounded: ``args`` is then
    empty).
    """

    key: str
    build: Callable[[], tuple]
    printer: str = "numpy"
    vector: bool = False

    @property
    def prefix(self) -> str:
        return self.key.partition(".")[0]


def _aim_cubic():
    from icl_companion.theory import aim

    return (aim.Z, aim.DELTA, aim.A), list(aim.cubic_coeffs())


def _aim_quartic():
    import sympy as sp

    from icl_companion.theory import aim

    return (aim.DELTA, aim.A), sp.Poly(aim.edge_quartic(), aim.Z).all_coeffs()


def _aim_E0(variant):
    def build():
        from icl_companion.theory import aim

        return (), aim.hardmax_E0_expr(variant)
    return build


def _softmax_pair():
    import sympy as sp

    from icl_companion.theory import softmax as ts

    T = ts.pair_term_expr()
    first, second = (ts.WA, ts.MA), (ts.WB, ts.MB)
    return ((ts.WA, ts.WB, ts.MA, ts.MB, ts.D, ts.L, ts.SIGMA2),
            {"T": T, "d1": [sp.diff(T, u) for u in first],
             "d11": [[sp.diff(T, u, v) for v in first] for u in first],
             "d12": [[sp.diff(T, u, v) for v in second] for u in first]})


def _softmax_manifold():
    from icl_companion.theory import softmax as ts

    return (ts.D, ts.L, ts.SIGMA2, ts.GAMMA), [ts.mu_gamma_expr(), ts.profile_loss_expr()]


def _softmax_ratio():
    from icl_companion.theory import softmax as ts

    return (ts.XI, ts.SIGMA2), [ts.ratio_expr(), ts.ratio_bound_expr(), ts.dgd_risk_asym_expr(),
                                ts.bayes_risk_expr()]


def _softmax_single_head():
    import sympy as sp

    from icl_companion.theory import softmax as ts

    w, mu = ts.single_head_optimum_expr()
    risk = ts.single_head_profile_expr().subs(ts.OMEGA, w)
    return (ts.D, ts.L, ts.SIGMA2), [w, mu, sp.simplify(risk)]


def _xattn_lsa_gap():
    from icl_companion.theory import xattn as tx

    return (tx.MLO, tx.MHI, tx.P), tx.lsa_fixed_direction_exprs()


#: Derivation outputs used by numerical code paths (the catalogue's expressions are added to the
#: generated modules automatically).
DERIVED = (
    Derived("aim.cubic_coeffs", _aim_cubic, vector=True),
    Derived("aim.edge_quartic_coeffs", _aim_quartic, vector=True),
    Derived("aim.hardmax_E0_correct", _aim_E0("correct"), "float"),
    Derived("aim.hardmax_E0_paper", _aim_E0("paper"), "float"),
    Derived("softmax.pair_term", _softmax_pair),
    Derived("softmax.manifold", _softmax_manifold),
    Derived("softmax.ratio", _softmax_ratio),
    Derived("softmax.single_head", _softmax_single_head),
    Derived("xattn.lsa_fixed_direction", _xattn_lsa_gap, "mpmath"),
)


# ------------------------------------------------------------------------------------ run time
def _file_hash(module: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None
    with open(spec.origin, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _fresh(sources: dict) -> bool:
    return all(_file_hash(m) == h for m, h in sources.items())


@functools.lru_cache(maxsize=None)
def _module(prefix: str):
    if os.environ.get("ICL_COMPANION_NO_PRECOMPUTED"):
        return None
    try:
        return importlib.import_module(f"{GENERATED}.{prefix}")
    except ModuleNotFoundError:
        return None


@functools.lru_cache(maxsize=None)
def generated(prefix: str, part: str = "derivations"):
    """The generated module of paper ``prefix`` if its ``part`` (``derivations`` or ``catalogue``)
    is up to date with the sources, else None."""
    mod = _module(prefix)
    if mod is None:
        return None
    sources = mod.DERIVATION_SOURCES if part == "derivations" else mod.CATALOGUE_SOURCES
    return mod if _fresh(sources) else None


def _lookup(table: str, key: str):
    mod = generated(key.partition(".")[0])
    return None if mod is None else getattr(mod, table).get(key)


def function(key: str):
    """The generated float64 function (or nested structure of functions) ``key``, or None."""
    return _lookup("FUNCTIONS", key)


def mpmath_function(key: str):
    """The generated mpmath function of the symbolic result ``key``, or None."""
    return _lookup("MPMATH", key)


def interval_function(key: str):
    """The generated mpmath function of ``key`` evaluated in :mod:`mpmath.iv` interval arithmetic
    (the function of :func:`icl_companion.theory.closed_form.interval_function`), or None."""
    import builtins
    import types

    f = mpmath_function(key)
    if f is None:
        return None
    from icl_companion.theory.closed_form import _namespace

    return types.FunctionType(f.__code__, {"mpmath": _namespace()["mpmath"],
                                           "__builtins__": builtins}, f.__name__)


def constant(key: str):
    """The generated constant ``key`` (a float), or None."""
    return _lookup("CONSTANTS", key)


def expression(key: str):
    """The committed SymPy expression ``key`` (parsed from its srepr; imports SymPy), or None."""
    text = _lookup("EXPRESSIONS", key)
    if text is None:
        return None
    return _parse(text)


def _parse(text: str):
    return eval(text, _srepr_namespace())  # committed srepr text of this package (trusted)


@functools.lru_cache(maxsize=None)
def _srepr_namespace() -> dict:
    """SymPy's names plus every Basic subclass (srepr also names e.g. ``ExprCondPair``)."""
    import sympy

    ns = dict(vars(sympy))
    todo = [sympy.Basic]
    while todo:
        cls = todo.pop()
        ns.setdefault(cls.__name__, cls)
        todo += cls.__subclasses__()
    return ns


def lambdified(key: str, build: Callable[[], tuple], printer: str = "numpy",
               vector: bool = False):
    """``function(key)`` when fresh, else ``build()`` lambdified now (the slow, exact path)."""
    f = function(key)
    if f is not None:
        return f
    args, expr = build()
    return _lambdify_nested(args, expr, printer, vector)


def derived(key: str):
    """The generated output of the :data:`DERIVED` entry ``key`` (derived now when stale)."""
    spec = next(d for d in DERIVED if d.key == key)
    if spec.printer == "float":
        c = constant(key)
        return c if c is not None else float(spec.build()[1])
    return lambdified(key, spec.build, spec.printer, spec.vector)


def index(prefix: str) -> dict | None:
    """``{id: (module, status, summary)}`` of paper ``prefix``'s results, or None if stale."""
    mod = generated(prefix, "catalogue")
    return None if mod is None else mod.INDEX


def stub(id: str):
    """A :class:`~icl_companion.theory.registry.Result` for the plain symbolic result ``id``, built
    from its generated declaration and functions without importing its module, or None."""
    prefix = id.partition(".")[0]
    cat = generated(prefix, "catalogue")
    if cat is None or id not in cat.DECLARATIONS:
        return None
    f, mp = function(id), mpmath_function(id)
    if f is None or mp is None:
        return None
    from icl_companion.theory.registry import Result, symbolic_func

    try:
        decl = cat.DECLARATIONS[id]()
        params = decl.pop("params")
        names = [p.name for p in params]
        if cat.EVALUATORS.get(id) == "interval":  # a certified closed form (theory.closed_form)
            from icl_companion.theory.closed_form import closed_form_func

            func = closed_form_func(id, names, functools.partial(_symbols_of, id, names),
                                    functools.partial(expression, id))
        else:
            func = symbolic_func(id, params, lambda: f)
        return Result(id=id, params=params, func=func,
                      expression=functools.partial(expression, id), symbolic=True,
                      module=cat.INDEX[id][0], **decl)
    except (TypeError, ValueError):  # the registry's types changed since generation: import
        return None


def _symbols_of(id: str, names) -> list:
    """The argument symbols of ``id``'s committed expression, in the order of its inputs."""
    expr = expression(id)
    by_name = {s.name: s for s in expr.free_symbols}
    return [by_name[n] for n in names]


# ---------------------------------------------------------------------------------- generation
_PRINTERS = {"numpy": "NumPyPrinter", "scipy": "SciPyPrinter", "mpmath": "MpmathPrinter",
             "math": "PythonCodePrinter"}


def _printer(kind: str):
    npp = importlib.import_module("sympy.printing.numpy")
    pycode = importlib.import_module("sympy.printing.pycode")
    cls = getattr(npp, _PRINTERS[kind], None) or getattr(pycode, _PRINTERS[kind])
    # lambdify's settings, but with module-qualified names (the generated code has no namespace)
    return cls({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": True,
                "user_functions": {}})


def _lambdify_nested(args, expr, printer: str, vector: bool = False):
    import sympy as sp

    modules = {"numpy": "numpy", "scipy": ["scipy", "numpy"], "mpmath": "mpmath",
               "math": "math"}[printer]
    if isinstance(expr, dict):
        return {k: _lambdify_nested(args, v, printer, vector) for k, v in expr.items()}
    if isinstance(expr, (list, tuple)) and not (vector and not _nested(expr)):
        return [_lambdify_nested(args, v, printer, vector) for v in expr]
    return sp.lambdify(tuple(args), list(expr) if vector else expr, modules=modules)


def _nested(expr) -> bool:
    return any(isinstance(v, (list, tuple, dict)) for v in expr)


def _ident(name: str) -> str:
    s = re.sub(r"\W", "_", name)
    if not s or s[0].isdigit():
        s = "x_" + s
    return s + "_" if keyword.iskeyword(s) else s


def _source(fname: str, args, names, expr, printer: str) -> str:
    """Python source of ``def fname(names): return <expr>`` printed by SymPy's ``printer``."""
    import sympy as sp

    new = [sp.Symbol(n, **a.assumptions0) for n, a in zip(names, args)]
    sub = dict(zip(args, new))
    e = [x.xreplace(sub) for x in expr] if isinstance(expr, list) else expr.xreplace(sub)
    p = _printer(printer)
    body = p.doprint(e)
    mods = sorted({m.split(".")[0] for m in p.module_imports} | _used_modules(body))
    # mpmath is a module-level name of the generated file, so that a closed form's function can
    # be re-bound to mpmath.iv (interval_function); the others are imported where used
    imports = "".join(f"    import {m}\n" for m in mods if m not in ("math", "mpmath"))
    if "scipy" in mods:
        imports = imports.replace("    import scipy\n", "    import scipy.special\n")
    return f"def {fname}({', '.join(names)}):\n{imports}    return {body}\n"


def _used_modules(body: str) -> set:
    return {m for m in ("numpy", "scipy", "mpmath", "math") if re.search(rf"\b{m}\.", body)}


def _nested_sources(base: str, args, expr, printer: str, out: list, vector: bool) -> str:
    """Append function definitions for every leaf of ``expr``; return the structure's source
    (the structure of :func:`_lambdify_nested`)."""
    names = [_ident(a.name) for a in args]
    if isinstance(expr, dict):
        return "{" + ", ".join(f"{k!r}: " + _nested_sources(f"{base}_{_ident(k)}", args, v,
                                                            printer, out, vector)
                               for k, v in expr.items()) + "}"
    if isinstance(expr, (list, tuple)) and not (vector and not _nested(expr)):
        return "[" + ", ".join(_nested_sources(f"{base}_{i}", args, v, printer, out, vector)
                               for i, v in enumerate(expr)) + "]"
    out.append(_source(base, args, names, list(expr) if vector else expr, printer))
    return base


def _srepr(expr) -> str:
    import sympy as sp

    if isinstance(expr, dict):
        return "{" + ", ".join(f"{k!r}: {_srepr(v)}" for k, v in expr.items()) + "}"
    if isinstance(expr, (list, tuple)):
        return "[" + ", ".join(_srepr(v) for v in expr) + "]"
    return sp.srepr(expr)


def _paper_sources(prefix: str) -> tuple[dict, dict]:
    """Source modules the derivations, and the catalogue entries, of ``prefix`` come from."""
    from icl_companion.theory.papers import paper

    p = paper(prefix)
    theory = p.modules("theory")
    deps = set(theory)
    for m in theory:  # theory modules of other papers that a derivation builds on
        spec = importlib.util.find_spec(m)
        with open(spec.origin) as f:
            deps |= {f"icl_companion.theory.{n}" for n in
                     re.findall(r"icl_companion\.theory(?:\.| import )(\w+)", f.read())
                     if n not in ("registry", "papers", "_meta", "precompute")}
    deriv = sorted(deps | {"icl_companion.theory.precompute"})
    cat = sorted(deps | set(p.modules("numerics")))
    return ({m: _file_hash(m) for m in deriv}, {m: _file_hash(m) for m in cat})


def _declaration_source(r) -> str | None:
    """Source of a function returning ``r``'s declaration (keyword arguments of Result)."""
    from icl_companion.theory import registry as R

    if not r.symbolic or r.check is not None or r.warm_start or (
            callable(r.bounds) and not isinstance(r.bounds, R.RiskBounds)):
        return None
    fields = dict(summary=r.summary, params=r.params, reference=r.reference, status=r.status,
                  status_note=r.status_note, outputs=r.outputs, definition=r.definition,
                  bounds=r.bounds)
    return "lambda: dict(" + ", ".join(f"{k}={_py(v)}" for k, v in fields.items()) + ")"


def _py(v) -> str:
    """Python source for a declaration value (Param, Interval, Reference, tuples, numbers)."""
    from icl_companion.theory import registry as R

    if isinstance(v, R.Param):
        default = "REQUIRED" if v.required else _py(v.default)
        return (f"Param({v.name!r}, {v.kind!r}, {_py(v.domain)}, {v.doc!r}, {default}, "
                f"{v.min_len!r})")
    if isinstance(v, R.Interval):
        return f"Interval({_py(v.lo)}, {_py(v.hi)}, {v.lo_open!r}, {v.hi_open!r})"
    if isinstance(v, R.Reference):
        return f"Reference({v.paper!r}, {v.where!r}, {v.derivation!r}, {_py(v.cites)})"
    if isinstance(v, R.RiskBounds):
        return f"RiskBounds({_py(v.hi_above_noise)})"
    if isinstance(v, R.Bound):
        return f"Bound({_py(v.lo)}, {_py(v.hi)}, {v.infinite!r})"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, tuple):
        return "(" + "".join(_py(x) + ", " for x in v) + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_py(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (int, float, str, bool)) or v is None:
        return repr(v)
    raise TypeError(f"cannot write {type(v).__name__} into a generated declaration")


_HEADER = '''"""Generated outputs of the derivations of paper ``{prefix}``: do not edit.

Written by ``python -m icl_companion.theory.precompute`` from the modules listed in the SOURCES
below (SymPy {sympy}); :mod:`icl_companion.theory.precompute` explains what is here and when it is
used.  ``tests/test_precompute.py`` re-derives everything and compares.
"""
# flake8: noqa
# ruff: noqa
import math

import mpmath

inf = math.inf
SYMPY = {sympy!r}
DERIVATION_SOURCES = {dsrc!r}
CATALOGUE_SOURCES = {csrc!r}
'''


def generate_text(prefix: str) -> str:
    """The text of ``theory/_generated/<prefix>.py`` (derives everything: seconds to minutes)."""
    import sympy as sp

    from icl_companion.theory.registry import RESULTS

    RESULTS.load(prefix)
    results = [r for r in RESULTS.all(prefix)]
    dsrc, csrc = _paper_sources(prefix)
    out = [_HEADER.format(prefix=prefix, sympy=sp.__version__, dsrc=dsrc, csrc=csrc)]
    out.append("INDEX = {\n" + "".join(
        f"    {r.id!r}: ({r.module!r}, "
        f"{r.status!r}, {r.summary!r}),\n" for r in results) + "}\n")
    decls = [(r.id, _declaration_source(r)) for r in results]
    out.append("EVALUATORS = {\n" + "".join(
        f"    {r.id!r}: 'interval',\n" for r in results
        if r.symbolic and getattr(r.func, "__module__", "") == "icl_companion.theory.closed_form")
        + "}\n")
    out.append("\n\ndef _declarations():\n    from icl_companion.theory.registry import (Bound, "
               "Interval, Param, Reference, REQUIRED, RiskBounds)\n\n    return {\n" + "".join(
                   f"        {i!r}: {d},\n" for i, d in decls if d) + "    }\n\n\n"
               "DECLARATIONS = _declarations()\n")
    exprs, funcs, mps, consts, defs = {}, {}, {}, {}, []
    for r in results:
        e = r.sympy_expr(live=True)
        if e is not None:
            exprs[r.id] = _srepr(e)
        if r.symbolic:
            args, expr = tuple(r.symbols()), r.sympy_expr(live=True)
            names = [p.name for p in r.params]
            base = "_" + _ident(r.id)
            defs.append(_source("f" + base, args, names, expr, "scipy"))
            defs.append(_source("mp" + base, args, names, expr, "mpmath"))
            funcs[r.id], mps[r.id] = "f" + base, "mp" + base
    for d in DERIVED:
        if d.prefix != prefix:
            continue
        if d.key in exprs or d.key in funcs:
            raise ValueError(f"derived output {d.key!r} has the id of a catalogue result")
        args, expr = d.build()
        exprs[d.key] = _srepr(expr)
        if d.printer == "float":
            consts[d.key] = repr(float(expr))
        else:
            funcs[d.key] = _nested_sources("f_" + _ident(d.key), args, expr, d.printer, defs,
                                           d.vector)
    out.append("\n\n" + "\n\n".join(defs))
    for name, table in (("FUNCTIONS", funcs), ("MPMATH", mps), ("CONSTANTS", consts)):
        out.append(f"\n{name} = {{\n" + "".join(f"    {k!r}: {v},\n" for k, v in table.items())
                   + "}\n")
    out.append("\nEXPRESSIONS = {\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in exprs.items())
               + "}\n")
    return "".join(out)


def _target(prefix: str) -> str:
    pkg = importlib.import_module(GENERATED)
    return os.path.join(os.path.dirname(pkg.__file__), f"{prefix}.py")


def generate(prefixes=None) -> list[str]:
    """Regenerate ``theory/_generated/<prefix>.py`` for the built-in papers (or ``prefixes``)."""
    from icl_companion.numerics.io import write_text
    from icl_companion.theory.papers import builtin_papers

    written = []
    for prefix in prefixes or [p.prefix for p in builtin_papers()]:
        text = generate_text(prefix)
        path = _target(prefix)
        write_text(path, text)
        written.append(path)
    _module.cache_clear()
    generated.cache_clear()
    return written


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m icl_companion.theory.precompute",
                                 description="Regenerate theory/_generated/<paper>.py from the "
                                             "derivations (SymPy).")
    ap.add_argument("papers", nargs="*", help="paper prefixes (default: all built-in papers)")
    a = ap.parse_args(argv)
    os.environ["ICL_COMPANION_NO_PRECOMPUTED"] = "1"  # derive everything from the sources
    for path in generate(a.papers or None):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
