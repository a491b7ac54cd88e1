"""The results catalogue: typed inputs, domains, messages, symbolic evaluation."""

import math

import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from icl_companion.theory import registry as R
from icl_companion.theory.registry import evaluate, get, integer, real, results, vector


def test_catalogue_has_the_linear_baselines():
    ids = {r.id for r in results("linear")}
    assert {"linear.ridge_bayes_risk_asym", "linear.lsa_zfb_risk", "linear.gd_risk"} <= ids
    for r in results():
        assert r.status in R.STATUSES
        assert r.reference.where or r.reference.paper


def test_unknown_id_and_prefix():
    with pytest.raises(R.UnknownResultError, match="unknown result id 'linear.nope'"):
        get("linear.nope")
    with pytest.raises(ValueError, match="unknown paper prefix"):
        results("nope")


def test_missing_and_unknown_inputs_are_named():
    with pytest.raises(ValueError, match="missing input eta"):
        evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1)
    with pytest.raises(ValueError, match="unknown input 'etaa'.*inputs are d, L, sigma2, eta"):
        evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1, eta=1, etaa=2)


def test_integer_input_rejects_fractions_and_bools():
    with pytest.raises(ValueError, match="L = 2.5 is not an integer"):
        evaluate("linear.gd_risk", d=5, L=2.5, sigma2=0.1, eta=1)
    with pytest.raises(ValueError, match="L = True is not an integer"):
        evaluate("linear.gd_risk", d=5, L=True, sigma2=0.1, eta=1)


def test_vector_domain_elementwise():
    with pytest.raises(ValueError, match=r"lambdas = .*entry -1.*\(0, inf\)"):
        evaluate("linear.lsa_zfb_risk", lambdas=[1, -1], N=3, M=3)
    assert evaluate("linear.lsa_zfb_risk", lambdas="1,2", N=3, M=3).inputs["lambdas"] == [1.0, 2.0]


@pytest.mark.parametrize("rid", ["linear.gd_risk", "linear.ridge_bayes_risk_asym",
                                 "linear.gd_eta_star"])
def test_eval_is_the_shown_expression(rid):
    """`iclc show` prints the expression `iclc eval` computes: substitute and compare exactly."""
    r = get(rid)
    expr = r.sympy_expr()
    vals = {"d": 7, "L": 23, "sigma2": 0.3, "eta": 0.8, "xi": 0.4}
    inputs = {p.name: vals[p.name] for p in r.params}
    subs = {s: inputs[s.name] for s in expr.free_symbols}
    assert math.isclose(float(expr.subs(subs)), r(**inputs), rel_tol=1e-13)
    assert str(r.formula()) and "inputs:" in r.describe()
    assert sp.latex(expr) == r.formula(latex=True).split("\n")[0]


def test_evaluation_record_is_json_ready():
    ev = evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1, eta=0.9)
    d = ev.to_dict()
    assert set(d) == {"id", "inputs", "value", "status", "reference", "info"}
    assert type(d["value"]) is float and type(d["inputs"]["d"]) is int
    assert "linear.gd_risk" in repr(ev) and "exact" in ev._repr_html_()
    assert "$$" in get("linear.gd_risk")._repr_html_()


# ---------------------------------------------------------------- property tests (hypothesis)
P_REAL = real("x", 0.0, 1.0, lo_open=True)
P_INT = integer("n", 2, 10)
P_VEC = vector("v", -1.0, 1.0, min_len=2)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_real_domain_membership(x):
    inside = 0.0 < x <= 1.0
    if inside:
        assert P_REAL.validate(x, "t") == x
    else:
        with pytest.raises(ValueError, match=r"t: x = .* outside the allowed domain.*\(0, 1\]"):
            P_REAL.validate(x, "t")


@given(st.integers(-100, 100))
def test_integer_domain_membership(n):
    if 2 <= n <= 10:
        assert P_INT.validate(n, "t") == n and P_INT.validate(float(n), "t") == n
        assert P_INT.parse(str(n)) == n
    else:
        with pytest.raises(ValueError, match=r"n = -?\d+ is outside.*\[2, 10\]"):
            P_INT.validate(n, "t")


@given(st.lists(st.floats(-2, 2, allow_nan=False), min_size=0, max_size=6))
def test_vector_parse_roundtrip_and_domain(v):
    text = ",".join(repr(x) for x in v)
    if len(v) < 2:
        with pytest.raises(ValueError):
            P_VEC.validate(text if v else "", "t")
        return
    assert P_VEC.parse(text) == v
    if all(-1 <= x <= 1 for x in v):
        assert P_VEC.validate(text, "t") == v
    else:
        with pytest.raises(ValueError, match="outside the allowed domain"):
            P_VEC.validate(v, "t")


@given(st.text(min_size=1, max_size=8).filter(lambda s: s.strip() not in ("",)))
@settings(max_examples=60)
def test_real_parse_garbage_is_a_clear_error(text):
    try:
        float(text)
    except ValueError:
        with pytest.raises(ValueError, match="x = .* is not a number"):
            P_REAL.parse(text)


def test_interval_str_and_nonfinite():
    assert str(R.Interval(0, math.inf, lo_open=True)) == "(0, inf)"
    assert math.nan not in R.Interval()
    assert math.inf not in R.Interval(0, math.inf) and -math.inf not in R.Interval()
    assert 1e300 in R.Interval(0, math.inf)
    with pytest.raises(ValueError, match="xi = inf is outside"):
        evaluate("linear.ridge_bayes_risk_asym", xi="inf", sigma2=1)
