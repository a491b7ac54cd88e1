"""Arbitrary precision (``evaluate(..., dps=N)``, ``iclc eval --dps N``) of the closed forms."""

import json
from fractions import Fraction

import mpmath
import pytest
from sample_inputs import sample_inputs

import icl_companion as icl
from icl_companion.cli import main
from icl_companion.theory.registry import results


def _symbolic():
    return [r for r in results() if r.symbolic]


def test_every_closed_form_at_15_digits_matches_float64():
    rs = _symbolic()
    assert len(rs) >= 20
    for r in rs:
        inputs = sample_inputs(r)
        f = r.evaluate(**inputs).value
        ev = r.evaluate(dps=15, **inputs)
        assert isinstance(ev.value, mpmath.mpf) and ev.dps == 15
        assert float(ev.value) == pytest.approx(f, rel=1e-13, abs=1e-300), r.id


def _digits(ev, n):
    return ev.value_text().replace(".", "").lstrip("0")[:n]


def _exact(q: Fraction, n: int) -> str:
    with mpmath.workdps(n + 20):
        return mpmath.nstr(mpmath.mpf(q.numerator) / q.denominator, n,
                           strip_zeros=False).replace(".", "").lstrip("0")


# One closed form per paper against a value computed independently of its SymPy expression:
# exact rationals (Fraction) from the formula in the docs, or mpmath for an irrational one.
CASES = [
    # linear: risk = sigma2 + 1 - 2 eta + eta^2 (1 + (d + 1 + d sigma2)/L)
    ("linear.gd_risk", dict(d=5, L=40, sigma2="0.1", eta="0.9"),
     Fraction(1, 10) + 1 - 2 * Fraction(9, 10)
     + Fraction(81, 100) * (1 + (6 + 5 * Fraction(1, 10)) / 40)),
    # softmax: eta* = 1/(1 + (1 + sigma2) d/L) = 80/91
    ("softmax.eta_star", dict(d=5, L=40, sigma2="0.1"), Fraction(80, 91)),
    # aim: alpha_PR = (2 rho - rho^2)/(T^2 + T - 2)
    ("aim.alpha_pr", dict(rho="0.3", T=3), (Fraction(6, 10) - Fraction(9, 100)) / 10),
    # xattn: rho* = (m_hi - m_lo)/(2 tau2 + m_lo + m_hi)
    ("xattn.rho_star", dict(m_lo="1", m_hi="3.5", tau2="0.7"),
     Fraction(5, 2) / (Fraction(14, 10) + 1 + Fraction(7, 2))),
    # mmicl: CLA of a uniform guess = 1 - (1 - 1/L)^(N/B)
    ("mmicl.random_guess_cla", dict(L=7, N=9, B=3), 1 - Fraction(6, 7) ** 3),
]


@pytest.mark.parametrize("id, inputs, exact", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dps", [40, 120])
def test_high_precision_against_an_independent_value(id, inputs, exact, dps):
    ev = icl.evaluate(id, dps=dps, **inputs)
    assert _digits(ev, dps) == _exact(exact, dps)


def test_irrational_closed_form_against_mpmath():
    # linear.ridge_bayes_risk_asym = (sigma2 + 1 - 1/xi + sqrt((sigma2 + 1/xi - 1)^2 + 4 sigma2))/2
    ev = icl.evaluate("linear.ridge_bayes_risk_asym", xi="0.5", sigma2="0.1", dps=80)
    with mpmath.workdps(100):
        xi, s2 = mpmath.mpf("0.5"), mpmath.mpf("0.1")
        ref = (s2 + 1 - 1 / xi + mpmath.sqrt((s2 + 1 / xi - 1) ** 2 + 4 * s2)) / 2
        assert abs(ev.value - ref) < mpmath.mpf(10) ** -78 * ref


def test_cli_dps_prints_the_digits_asked(capsys):
    assert main(["eval", "softmax.eta_star", "d=5", "L=40", "sigma2=0.1", "--dps", "40"]) == 0
    out = capsys.readouterr().out
    value = out.split("=")[1].split()[0]
    assert len(value.replace("0.", "", 1)) == 40 and value.replace(".", "").lstrip("0")[:40] == \
        _exact(Fraction(80, 91), 40)
    assert main(["eval", "softmax.eta_star", "d=5", "L=40", "sigma2=0.1", "--dps", "50",
                 "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert set(obj) == {"id", "inputs", "value", "status", "reference", "info"}
    assert isinstance(obj["value"], str) and len(obj["value"]) == 52


@pytest.mark.parametrize("argv, msg", [
    (["eval", "softmax.eta_star", "d=5", "L=40", "sigma2=0.1", "--dps", "14"], "dps = 14"),
    (["eval", "softmax.eta_star", "d=5", "L=40", "sigma2=0.1", "--dps", "10001"], "dps = 10001"),
    (["eval", "aim.mmse", "alpha=0.05", "rho=0.5", "T=2", "--dps", "30"], "cannot honour"),
    (["eval", "softmax.eta_star", "d=5", "L=40", "sigma2=0.1", "--dps", "x"], "invalid int"),
])
def test_cli_dps_errors_exit_2(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and msg in err and err.count("\n") == 1
