"""aim.* symbolic layer: SymPy derivations against independent references and limits."""

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import icl_companion.theory.aim as ta
from icl_companion.theory.registry import get


def test_r_transforms_from_marchenko_pastur():
    g = sp.Symbol("g")
    assert sp.simplify(ta.mp_r_transform() - 1 / (1 - ta.A * g)) == 0
    assert sp.simplify(ta.wishart_r_transform() - 1 / (sp.sqrt(ta.A) - ta.A * g)) == 0


def test_cubic_matches_the_authors_form():
    a, z, D, G = ta.A, ta.Z, ta.DELTA, ta.G
    s = sp.sqrt(a)
    authors = s * D * G**3 - (s * z + D) * G**2 + (z + s - 1 / s) * G - 1
    assert sp.simplify(ta.stieltjes_cubic() - authors) == 0


def test_cubic_root_is_stieltjes_transform_of_the_free_convolution():
    """At a complex z, the cubic has a root equal to the subordination solution
    G = G_S(z - Delta G) with G_S the Marchenko-Pastur transform computed by mpmath quadrature."""
    rho, delta, z = mp.mpf("0.5"), mp.mpf("0.3"), mp.mpc("0.7", "-0.4")
    a = 1 / rho
    s = mp.sqrt(rho)
    lo, hi = (1 - mp.sqrt(a)) ** 2, (1 + mp.sqrt(a)) ** 2
    dens = lambda t: mp.sqrt((hi - t) * (t - lo)) / (2 * mp.pi * a * t)   # continuous part of X

    def GS(w):
        return (1 - rho) / w + mp.quad(lambda t: dens(t) / (w - s * t), [lo, hi])

    G = mp.findroot(lambda g: g - GS(z - delta * g), mp.mpc(0.5, 0.5))
    c = [complex(sp.N(ci.subs({ta.A: 2, ta.DELTA: sp.Rational(3, 10), ta.Z: complex(z)})))
         for ci in ta.cubic_coeffs()]
    roots = np.roots(c)
    assert min(abs(roots - complex(G))) < 1e-12


def test_edge_quartic_is_the_discriminant_and_matches_the_authors():
    assert sp.expand(ta.edge_quartic() - ta.edge_quartic_authors()) == 0
    disc = sp.discriminant(ta.stieltjes_cubic(), ta.G)
    assert sp.simplify(disc / ta.edge_quartic()).free_symbols <= {ta.A, ta.DELTA}


def test_small_delta_slope_and_alpha_pr():
    sl = ta.small_delta_slope()
    assert sl.subs(ta.RHO, sp.Rational(1, 2)) == sp.Rational(3, 4)
    assert sl.subs(ta.RHO, 3) == 1
    # continuity at rho = 1
    assert sp.limit(sl.args[0][0], ta.RHO, 1) == 1
    apr = get("aim.alpha_pr")
    assert apr(rho=0.5, T=2) == pytest.approx(0.75 / 4, rel=1e-15)
    assert apr(rho=2.0, T=3) == pytest.approx(1 / 10, rel=1e-15)
    assert apr(rho=0.3, T=4) == pytest.approx((0.6 - 0.09) / 18, rel=1e-15)


@pytest.mark.parametrize("T", [2, 3, 4, 5])
def test_softmax_directions_from_the_jacobian_rank(T):
    rank = ta.softmax_visible_rank(T)
    assert rank == T * (T + 1) // 2 - 1
    assert ta.softmax_directions(T) == 2 * rank == T * T + T - 2


def test_goe_prior_mmse_and_rho_infinity_line():
    assert sp.simplify(ta.semicircle_prior_mmse_expr() - ta.DELTA / (1 + ta.DELTA)) == 0
    line = get("aim.rho_inf_mmse")
    assert line(alpha=0.0, T=2) == 1.0
    assert line(alpha=0.1, T=2) == pytest.approx(0.6, rel=1e-14)
    assert line(alpha=0.25, T=2) == 0.0 and line(alpha=0.3, T=2) == 0.0


def test_bbp_mmse_from_spiked_overlap():
    e = ta.bbp_mmse_expr()
    assert sp.expand(e.args[0][0] - ta.DBAR * (2 - ta.DBAR)) == 0
    assert get("aim.bbp_mmse")(Deltabar=1.5) == 1.0
    assert get("aim.bbp_mmse")(Deltabar=0.5) == 0.75


def test_bivariate_first_partial_and_paper_density():
    d1, d12, phi2 = ta.bivariate_partial_identity()
    assert sp.simplify(d12 - phi2) == 0
    # first partial against mpmath differentiation of the bivariate CDF (numerical integral form)
    k1, k2, r = mp.mpf("0.3"), mp.mpf("-0.7"), mp.mpf(1) / 3
    s = mp.sqrt(1 - r * r)
    Phi2 = lambda a: mp.quad(lambda t: mp.npdf(t) * mp.ncdf((k2 - r * t) / s), [-mp.inf, a])
    num = mp.diff(Phi2, k1)
    ana = d1.subs({sp.Symbol("k1", real=True): 0.3, sp.Symbol("k2", real=True): -0.7,
                   sp.Symbol("r", real=True): sp.Rational(1, 3)})
    assert abs(float(num) - float(ana)) < 1e-12


def test_weak_recovery_closed_forms():
    ps = 0.25 + math.asin(1 / 3) / (2 * math.pi)
    po = 0.25 - math.asin(1 / 3) / (2 * math.pi)
    E_correct = 2 / (3 * math.pi * ps) + 1 / (3 * math.pi * po)
    E_paper = 3 / (2 * math.pi**2 * ps) + 3 / (4 * math.pi**2 * po)
    assert float(ta.hardmax_E0_expr("correct")) == pytest.approx(E_correct, rel=1e-14)
    assert float(ta.hardmax_E0_expr("paper")) == pytest.approx(E_paper, rel=1e-14)
    assert float(ta.weak_recovery_expr("correct")) == pytest.approx(1 / (2 * E_correct), rel=1e-14)
    assert get("aim.weak_recovery")(variant="paper") == pytest.approx(1 / (2 * E_paper), rel=1e-12)
    # the correct (larger) Fisher information gives the earlier threshold
    assert get("aim.weak_recovery")(variant="correct") < get("aim.weak_recovery")(variant="paper")


def test_maillard_reduction_identities():
    ratio, _ = ta.maillard_scaling_residual()
    assert not ratio.free_symbols - {ta.RHO}     # the two cubics are proportional
    m = ta.maillard_mapping()
    # T = 1 identity channel: K1 = 2 (one normalised direction), alpha_M = K alpha / 2
    assert m["K1"] == 2
    assert sp.simplify(m["alpha_M"] - (ta.T_**2 + ta.T_ - 2) * ta.ALPHA / 2) == 0
    # Maillard's perfect recovery alpha_M = kappa - kappa^2/2 maps to alpha_PR(rho, T)
    apr = ta.alpha_pr_expr().args[0][0]
    assert sp.simplify(m["alpha_M"].subs(ta.ALPHA, apr) - m["alpha_pr_M"].args[0][0]) == 0
