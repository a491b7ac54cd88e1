"""The committed outputs of the derivations (theory/_generated) against the derivations themselves.

Every expression is re-derived by SymPy and compared with the committed srepr; the generated
module's text (index, declarations, printed functions) is regenerated and compared when the SymPy
version is the one that wrote it.  A failure means a derivation (or a declaration) changed: run
``python -m icl_companion.theory.precompute`` and review the diff.
"""

import os
import subprocess
import sys

import pytest
import sympy as sp

from icl_companion.theory import precompute
from icl_companion.theory.papers import builtin_papers
from sample_inputs import sample_inputs

PREFIXES = [p.prefix for p in builtin_papers()]
REGENERATE = "run `python -m icl_companion.theory.precompute` and review the diff"


def _committed(prefix):
    mod = precompute._module(prefix)
    assert mod is not None, f"theory/_generated/{prefix}.py is missing: {REGENERATE}"
    return mod


@pytest.mark.parametrize("prefix", PREFIXES)
def test_generated_outputs_are_up_to_date_with_their_sources(prefix):
    mod = _committed(prefix)
    for part, sources in (("derivations", mod.DERIVATION_SOURCES),
                          ("catalogue", mod.CATALOGUE_SOURCES)):
        stale = [m for m, h in sources.items() if precompute._file_hash(m) != h]
        assert not stale, (f"theory/_generated/{prefix}.py ({part}) was generated from other "
                           f"versions of {stale}; they are not used until regenerated: "
                           f"{REGENERATE}")


def _same(committed, fresh) -> bool:
    if isinstance(fresh, dict):
        return isinstance(committed, dict) and committed.keys() == fresh.keys() and all(
            _same(committed[k], fresh[k]) for k in fresh)
    if isinstance(fresh, (list, tuple)):
        return isinstance(committed, (list, tuple)) and len(committed) == len(fresh) and all(
            _same(a, b) for a, b in zip(committed, fresh))
    if committed == fresh:
        return True
    try:  # a SymPy upgrade may reorder a canonical form: the difference must still vanish
        return sp.simplify(committed - fresh) == 0
    except TypeError:
        return False


def fresh_outputs(prefix):
    """Every expression of paper ``prefix``, derived now: catalogue and DERIVED entries."""
    from icl_companion.theory.registry import RESULTS

    RESULTS.load(prefix)
    out = {r.id: r.sympy_expr(live=True) for r in RESULTS.all(prefix) if r.expression}
    for d in precompute.DERIVED:
        if d.prefix == prefix:
            out[d.key] = d.build()[1]
    return out


@pytest.mark.parametrize("prefix", PREFIXES)
def test_rederived_expressions_equal_the_committed_ones(prefix):
    mod = _committed(prefix)
    fresh = fresh_outputs(prefix)
    assert set(fresh) == set(mod.EXPRESSIONS), (
        f"expressions added {sorted(set(fresh) - set(mod.EXPRESSIONS))} or removed "
        f"{sorted(set(mod.EXPRESSIONS) - set(fresh))}: {REGENERATE}")
    differ = [k for k, e in fresh.items() if not _same(precompute._parse(mod.EXPRESSIONS[k]), e)]
    assert not differ, f"derivations {differ} no longer give the committed output: {REGENERATE}"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """The generator's text for every paper, written by a fresh process (as the command does:
    derived from the sources only, SymPy's cache empty)."""
    out = tmp_path_factory.mktemp("generated")
    code = ("import os, sys\n"
            "os.environ['ICL_COMPANION_NO_PRECOMPUTED'] = '1'\n"
            "from icl_companion.theory import precompute\n"
            "for p in sys.argv[2:]:\n"
            "    text = precompute.generate_text(p)\n"
            "    open(os.path.join(sys.argv[1], p + '.py'), 'w').write(text)\n")
    subprocess.run([sys.executable, "-c", code, str(out), *PREFIXES], check=True)
    return out


@pytest.mark.parametrize("prefix", PREFIXES)
def test_generated_module_text_is_what_the_generator_writes(prefix, regenerated):
    mod = _committed(prefix)
    if mod.SYMPY != sp.__version__:
        pytest.skip(f"generated with SymPy {mod.SYMPY}, running {sp.__version__}: the printed "
                    f"source may differ; expressions are compared above")
    with open(mod.__file__) as f:
        committed = f.read()
    assert (regenerated / f"{prefix}.py").read_text() == committed, (
        f"theory/_generated/{prefix}.py differs from what the generator writes now: {REGENERATE}")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_generated_float_functions_agree_with_lambdify(prefix):
    """The printed source evaluates like ``sympy.lambdify`` of the same expression."""

    from icl_companion.theory.registry import RESULTS

    mod = _committed(prefix)
    for r in RESULTS.all(prefix):
        if not r.symbolic:
            continue
        inputs = sample_inputs(r)
        args = [inputs[p.name] for p in r.params]
        live = sp.lambdify(tuple(r.symbols()), r.sympy_expr(live=True), ["scipy", "numpy"])
        assert float(mod.FUNCTIONS[r.id](*args)) == pytest.approx(float(live(*args)),
                                                                  rel=1e-14, abs=1e-300), r.id


def test_stub_results_equal_the_registered_declarations():
    """eval of a plain closed form builds its Result from the generated declaration: same fields."""
    from icl_companion.theory.registry import RESULTS

    n = 0
    for prefix in PREFIXES:
        RESULTS.load(prefix)
        for r in RESULTS.all(prefix):
            s = precompute.stub(r.id)
            if s is None:
                continue
            n += 1
            for f in ("summary", "params", "reference", "status", "status_note", "outputs",
                      "definition", "bounds", "symbolic"):
                assert getattr(s, f) == getattr(r, f), (r.id, f)
            inputs = sample_inputs(r)
            assert s.func(**inputs) == r.func(**inputs)
    assert n >= 15


def _run(code):
    env = dict(os.environ)
    env.pop("ICL_COMPANION_NO_PRECOMPUTED", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True).stdout.split()


def test_eval_and_list_import_neither_sympy_nor_the_theory_module():
    out = _run("import sys, icl_companion as icl\n"
               "v = icl.evaluate('linear.gd_risk', d=5, L=40, sigma2=0.1, eta=0.9).value\n"
               "from icl_companion.theory.registry import listing\n"
               "rows = listing()\n"
               "print('sympy' in sys.modules, 'icl_companion.theory.linear' in sys.modules,"
               " 'icl_companion.numerics.aim_se' in sys.modules, len(rows), round(v, 6))")
    assert out[:3] == ["False", "False", "False"] and int(out[3]) > 40 and out[4] == "0.241625"


def test_aim_mmse_neither_derives_nor_imports_sympy():
    out = _run("import sys, icl_companion as icl\n"
               "ev = icl.evaluate('aim.mmse', alpha=0.05, rho=0.5, T=2)\n"
               "print('sympy' in sys.modules, 'icl_companion.theory.aim' in sys.modules, "
               "ev.success, round(ev.value['mmse'], 8))")
    assert out == ["False", "False", "True", "0.72367742"]


def test_a_stale_source_falls_back_to_deriving(monkeypatch):
    """When a source file no longer matches its hash, the generated outputs are not used."""
    fresh = precompute.derived("softmax.ratio")  # generated: ratio, bound, dgd_risk_asym, bayes
    monkeypatch.setattr(precompute, "_file_hash", lambda m: "changed")
    precompute.generated.cache_clear()
    try:
        assert precompute.function("linear.gd_risk") is None
        assert precompute.index("linear") is None and precompute.stub("linear.gd_risk") is None
        live = precompute.derived("softmax.ratio")  # lambdified from the derivation now
        assert live is not fresh and len(live) == len(fresh)
        for f, g in zip(live, fresh):
            assert float(f(0.5, 0.3)) == pytest.approx(float(g(0.5, 0.3)), rel=1e-14)
    finally:
        monkeypatch.undo()
        precompute.generated.cache_clear()
