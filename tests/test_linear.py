"""linear.*: SymPy derivations vs independent references, and the checks' power to fail."""

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import icl_companion.theory.linear as tl
from icl_companion.theory.registry import get
from icl_companion.validation.checks import run_one, load_checks

mp.mp.dps = 30


def _mp_bayes_asym(xi, s2):
    """sigma2 + sigma2 xi int rho_MP(t)/(t + sigma2 xi) dt (+ atom at 0 for xi > 1), by mpmath."""
    xi, s2 = mp.mpf(xi), mp.mpf(s2)
    a, b = (1 - mp.sqrt(xi)) ** 2, (1 + mp.sqrt(xi)) ** 2
    dens = lambda t: mp.sqrt((b - t) * (t - a)) / (2 * mp.pi * xi * t)
    lam = s2 * xi
    m = mp.quad(lambda t: dens(t) / (t + lam), [a, b])
    if xi > 1:
        m += (1 - 1 / xi) / lam
    return float(s2 + s2 * xi * m)


@pytest.mark.parametrize("xi,s2", [(0.25, 0.1), (0.5, 1.0), (1.5, 0.3), (4.0, 2.0)])
def test_ridge_asym_vs_mpmath_density_integral(xi, s2):
    assert get("linear.ridge_bayes_risk_asym")(xi=xi, sigma2=s2) == pytest.approx(
        _mp_bayes_asym(xi, s2), rel=1e-12)


def test_ridge_asym_limits():
    e = tl.ridge_bayes_risk_expr()
    # xi -> 0 (infinitely many samples per dimension): only the noise remains
    assert sp.limit(e, tl.XI, 0, "+") == tl.SIGMA2
    # sigma2 -> 0 with xi < 1: noiseless interpolation is exact
    assert sp.simplify(sp.limit(e.subs(tl.XI, sp.Rational(1, 2)), tl.SIGMA2, 0)) == 0


def test_mp_equation_is_marchenko_pastur():
    """The Stieltjes equation's solution integrates the MP density (checked at one point)."""
    xi, z = 0.5, -0.7
    roots = sp.solve(tl.mp_stieltjes_equation(xi=sp.Rational(1, 2), z=sp.Rational(-7, 10)), tl.M_)
    a, b = (1 - mp.sqrt(xi)) ** 2, (1 + mp.sqrt(xi)) ** 2
    ref = mp.quad(lambda t: mp.sqrt((b - t) * (t - a)) / (2 * mp.pi * xi * t) / (t - z), [a, b])
    assert min(abs(float(r) - float(ref)) for r in roots) < 1e-14


def test_gd_risk_structure():
    e = tl.gd_risk_expr()
    eta_s = tl.gd_eta_star_expr()
    assert sp.simplify(eta_s - 1 / (1 + (tl.D + 1 + tl.D * tl.SIGMA2) / tl.L)) == 0
    assert sp.simplify(e.subs(tl.ETA, 0) - (1 + tl.SIGMA2)) == 0
    assert sp.simplify(sp.diff(e, tl.ETA, 2)) != 0
    assert tl.gd_moments() == (3, 1)


def test_zfb_isotropic_and_asymptote():
    assert tl.zfb_isotropic_check()
    lam = np.array([0.5, 1.0, 2.0])
    big = 10**7
    assert tl.zfb_risk(lam, big, big) * big == pytest.approx((len(lam) + 1) * lam.sum(), rel=1e-5)
    # Optimality of Gamma (docs/derivations/linear.md#zfb-lsa-risk): for M = N, rescaling the
    # preconditioner only hurts
    term = tl.zfb_term_expr()
    c = sp.Symbol("c", positive=True)
    gamma = (1 + 1 / tl.N_) * tl.LAM + tl.TR / tl.N_
    es2 = (1 - 1 / tl.MM) * tl.LAM**2 + (3 * tl.LAM**2 + tl.LAM * (tl.TR - tl.LAM)) / tl.MM
    scaled = tl.LAM * (es2 / (c * gamma) ** 2 - 2 * tl.LAM / (c * gamma) + 1)
    assert sp.simplify(scaled.subs(c, 1) - term) == 0
    stationary = sp.solve(sp.diff(scaled.subs(tl.MM, tl.N_), c), c)
    assert stationary == [1]


def test_checks_pass_quick():
    for cid in ("linear.gd_risk", "linear.lsa_zfb_risk", "linear.ridge_posterior",
                "linear.ridge_bayes_risk_asym"):
        rep = run_one(load_checks()[cid], quick=True, seed=1)
        assert rep.status == "passed", rep.text()


@pytest.mark.parametrize("cid,rid,factor", [("linear.gd_risk", "linear.gd_risk", 1.03),
                                            ("linear.lsa_zfb_risk", "linear.lsa_zfb_risk", 1.03),
                                            ("linear.ridge_bayes_risk_asym",
                                             "linear.ridge_bayes_risk_asym", 1.01)])
def test_checks_fail_when_formula_is_perturbed(monkeypatch, cid, rid, factor):
    r = get(rid)
    orig = r.func
    monkeypatch.setattr(r, "func", lambda **kw: factor * orig(**kw))
    rep = run_one(load_checks()[cid], quick=True, seed=1)
    assert rep.status == "failed", rep.text()


def test_crashing_check_is_an_error_not_a_pass(monkeypatch):
    r = get("linear.gd_risk")

    def boom(**kw):
        raise RuntimeError("broken formula")

    monkeypatch.setattr(r, "func", boom)
    rep = run_one(load_checks()["linear.gd_risk"], quick=True, seed=0)
    assert rep.status == "error" and "broken formula" in rep.notes[0]
