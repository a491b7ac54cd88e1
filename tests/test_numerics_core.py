"""Quadrature, fixed points and roots against scipy and mpmath references, plus properties."""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate, optimize, stats

from icl_companion.numerics.fixed_point import fixed_point
from icl_companion.numerics.quadrature import (gauss_hermite_expect, gauss_legendre, gaussian_expect_mv,
                                 hermite_e_rule)
from icl_companion.numerics.roots import BracketError, find_root, find_roots_vectorized, find_threshold

mp.mp.dps = 30


def _mp_gauss_expect(f, mu=0, sd=1):
    return mp.quad(lambda z: f(z) * mp.npdf(z, mu, sd), [-mp.inf, mu, mp.inf])


# ------------------------------------------------------------------------------ Gauss-Hermite
@pytest.mark.parametrize("f_np,f_mp", [(np.tanh, mp.tanh),
                                        (lambda z: np.log1p(np.exp(z)), lambda z: mp.log(1 + mp.exp(z))),
                                        (lambda z: 1 / (1 + z**2), lambda z: 1 / (1 + z**2))])
@pytest.mark.parametrize("mu,sd", [(0.0, 1.0), (0.7, 0.3), (-1.0, 0.8)])
def test_gauss_hermite_matches_mpmath(f_np, f_mp, mu, sd):
    """Integrands with complex poles (tanh at i pi/2, 1/(1+z^2) at i): the rule converges like
    exp(-c sqrt(n) * pole distance / sd), so wide Gaussians (sd >~ 2) need far more nodes."""
    ref = float(_mp_gauss_expect(f_mp, mu, sd))
    got = float(gauss_hermite_expect(f_np, 120, mean=mu, std=sd))
    assert got == pytest.approx(ref, rel=1e-7, abs=1e-12)


def test_gauss_hermite_entire_integrand_wide_gaussian():
    ref = float(_mp_gauss_expect(lambda z: z**3 * mp.cos(z), -1.0, 2.0))
    got = float(gauss_hermite_expect(lambda z: z**3 * np.cos(z), 80, mean=-1.0, std=2.0))
    assert got == pytest.approx(ref, rel=1e-13)


def test_gauss_hermite_batched_means():
    mus = np.linspace(-2, 2, 7)
    got = gauss_hermite_expect(np.cos, 60, mean=mus, std=0.5)
    assert np.allclose(got, np.cos(mus) * np.exp(-0.125), rtol=0, atol=1e-14)


@given(st.integers(1, 30), st.integers(0, 59))
def test_gauss_hermite_exact_for_polynomials(n, k):
    """E Z^k = (k - 1)!! for even k, 0 for odd k, exactly for k <= 2n - 1."""
    if k > 2 * n - 1:
        return
    x, w = hermite_e_rule(n)
    exact = 0.0 if k % 2 else float(math.prod(range(k - 1, 0, -2)))
    scale = float(np.sum(w * np.abs(x) ** k))  # rounding error of the sum is relative to this
    assert abs(float(np.sum(w * x**k)) - exact) <= 1e-12 * max(scale, 1.0)


@pytest.mark.parametrize("c,eps", [(0.0, 1e-3), (2.5, 1e-4), (-1.0, 3e-2)])
def test_narrow_integrand_needs_change_of_variables(c, eps):
    """A bump of width eps << 1: the plain rule misses it, the shifted rule is exact to 1e-10."""
    bump = lambda z: np.exp(-(z - c) ** 2 / (2 * eps**2))
    ref = float(_mp_gauss_expect(lambda z: mp.exp(-(z - c) ** 2 / (2 * eps**2))) if False else
                mp.quad(lambda z: mp.exp(-(z - c) ** 2 / (2 * eps**2)) * mp.npdf(z),
                        [c - 40 * eps, c, c + 40 * eps]))
    plain = float(gauss_hermite_expect(bump, 60))
    shifted = float(gauss_hermite_expect(bump, 60, center=c, scale=eps))
    assert shifted == pytest.approx(ref, rel=1e-10)
    assert abs(plain / ref - 1) > 1e-2  # the reason the change of variables exists


def test_multivariate_against_scipy():
    mean = np.array([0.3, -0.2, 1.0])
    A = np.array([[1.0, 0.4, 0.1], [0.4, 0.8, -0.2], [0.1, -0.2, 0.5]])
    # E max(X1, 0) * X2^2 * exp(-X3^2): compare with scipy's cubature of the same integrand
    g = lambda x: np.maximum(x[:, 0], 0) * x[:, 1] ** 2 * np.exp(-x[:, 2] ** 2)
    got = float(gaussian_expect_mv(g, mean, A, n=40))
    mvn = stats.multivariate_normal(mean, A)
    rng = np.random.default_rng(3)
    X = mvn.rvs(size=2_000_000, random_state=rng)
    vals = g(X)
    se = vals.std() / math.sqrt(len(vals))
    assert abs(got - vals.mean()) < 4 * se
    # and exactly for a quadratic form: E X^T B X = tr(B A) + m^T B m
    B = np.diag([1.0, 2.0, 3.0])
    q = float(gaussian_expect_mv(lambda x: np.einsum("ni,ij,nj->n", x, B, x), mean, A, n=4))
    assert q == pytest.approx(np.trace(B @ A) + mean @ B @ mean, rel=1e-13)


def test_multivariate_singular_covariance_and_errors():
    cov = np.array([[1.0, 1.0], [1.0, 1.0]])  # X1 = X2
    got = float(gaussian_expect_mv(lambda x: x[:, 0] * x[:, 1], [0, 0], cov, n=6))
    assert got == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        gaussian_expect_mv(lambda x: x[:, 0], [0, 0], np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        gaussian_expect_mv(lambda x: x[:, 0], [0, 0], np.eye(3))


# ---------------------------------------------------------------------------- Gauss-Legendre
def test_legendre_against_quad_batched():
    a = np.array([0.0, 1.0, -3.0])
    b = np.array([1.0, 4.0, 2.0])
    got = gauss_legendre(lambda x: np.exp(-x**2) * np.cos(3 * x), a, b, 60)
    ref = [integrate.quad(lambda x: math.exp(-x**2) * math.cos(3 * x), lo, hi,
                          epsabs=1e-13, epsrel=1e-13)[0] for lo, hi in zip(a, b)]
    assert np.allclose(got, ref, rtol=1e-13, atol=1e-15)


def test_sqrt_endpoint_substitution_for_semicircle_moments():
    """int x^2 rho_sc(x)^3 dx vs mpmath: the sqrt substitution converges fast, plain does not."""
    rho = lambda x: np.sqrt(np.clip(4 - x**2, 0, None)) / (2 * np.pi)
    ref = float(mp.quad(lambda x: x**2 * (mp.sqrt(4 - x**2) / (2 * mp.pi)) ** 3, [-2, 2]))
    sq = float(gauss_legendre(lambda x: x**2 * rho(x) ** 3, -2.0, 2.0, 40, endpoint="sqrt"))
    plain = float(gauss_legendre(lambda x: x**2 * rho(x) ** 3, -2.0, 2.0, 40))
    assert sq == pytest.approx(ref, rel=1e-14)
    assert abs(plain / ref - 1) > 1e-8


def test_legendre_errors():
    with pytest.raises(ValueError, match="a <= b"):
        gauss_legendre(np.sin, 1.0, 0.0)
    with pytest.raises(ValueError, match="endpoint"):
        gauss_legendre(np.sin, 0.0, 1.0, endpoint="log")
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        hermite_e_rule(0)


# ------------------------------------------------------------------------------- fixed points
def test_fixed_point_record_and_reference():
    ref = optimize.fixed_point(np.cos, 1.0, xtol=1e-14)
    for method in ("damped", "anderson"):
        r = fixed_point(np.cos, 1.0, damping=0.7, tol=1e-13, method=method)
        assert r.success and r.x == pytest.approx(float(ref), abs=1e-12)
        assert r.residual <= 1e-12 and r.nit == len(r.history["residual"])
        assert r.history["x"].shape[0] == r.nit


def test_fixed_point_vector_and_nonconvergence_reported():
    A = np.array([[0.5, 0.2], [0.1, 0.3]])
    b = np.array([1.0, -1.0])
    r = fixed_point(lambda x: A @ x + b, np.zeros(2), damping=1.0, tol=1e-14)
    assert r.success and np.allclose(r.x, np.linalg.solve(np.eye(2) - A, b), atol=1e-12)
    bad = fixed_point(lambda x: 3 * x + 1, np.array([0.1]), damping=1.0, maxiter=50)
    assert not bad.success and not bad.success and bad.nit <= 50
    with pytest.raises(ValueError, match="damping"):
        fixed_point(np.cos, 1.0, damping=0.0)
    with pytest.raises(ValueError, match="method"):
        fixed_point(np.cos, 1.0, method="newton")
    with pytest.raises(ValueError, match="maxfev"):
        fixed_point(np.cos, 1.0, maxfev=0)


@pytest.mark.parametrize("method", ["damped", "anderson"])
def test_fixed_point_evaluation_cap(method):
    """``maxfev`` caps the map evaluations (Anderson's line search makes several per iteration) and
    is reported as non-convergence; a cap that is not reached changes nothing."""
    calls = []

    def F(x):
        calls.append(1)
        return 3 * x + 1   # repelling: never converges

    r = fixed_point(F, np.array([0.1]), damping=0.5, maxiter=500, method=method, maxfev=7)
    assert not r.success and r.status == 1 and "maxfev=7" in r.message and len(calls) == 7
    free = fixed_point(np.cos, 1.0, damping=0.7, tol=1e-13, method=method)
    capped = fixed_point(np.cos, 1.0, damping=0.7, tol=1e-13, method=method, maxfev=10_000)
    assert capped.success and capped.x == free.x and capped.nit == free.nit


@given(st.floats(0.05, 0.95), st.floats(-5, 5))
@settings(max_examples=40, deadline=None)
def test_fixed_point_contraction_property(a, b):
    """For F(x) = a x + b the damped iteration converges to x* = b / (1 - a).

    The stopping rule bounds the residual, |F(x) - x| = (1 - a)|x - x*| <= tol max(1, |x|), and the
    returned iterate F(x) has error a |x - x*| = a/(1 - a) |F(x) - x|: exactly that (plus rounding
    of a problem with condition number 1/(1 - a)), not a fixed absolute number.
    """
    tol = 1e-13
    r = fixed_point(lambda x: a * x + b, 0.0, damping=0.9, tol=tol, maxiter=5000)
    xstar = b / (1 - a)
    assert r.success and r.residual <= tol * max(1.0, abs(r.history["x"][-1]))
    rounding = 8 * np.finfo(float).eps * max(1.0, abs(xstar)) / (1 - a)
    assert abs(r.x - xstar) <= a / (1 - a) * r.residual + rounding


# ---------------------------------------------------------------------------------------- roots
def test_find_root_matches_mpmath():
    f = lambda x: math.exp(-x) - x
    ref = float(mp.findroot(lambda x: mp.exp(-x) - x, 0.5))
    r = find_root(f, 0, 1)
    assert r.success and r.root == pytest.approx(ref, abs=1e-15) and r.residual < 1e-15


def test_find_root_bracket_error_and_expansion():
    with pytest.raises(BracketError, match=r"no sign change of f on \[2, 3\]"):
        find_root(lambda x: x - 10, 2, 3)
    r = find_root(lambda x: x - 10, 2, 3, expand=True)
    assert r.root == pytest.approx(10)
    with pytest.raises(ValueError, match="lo < hi"):
        find_root(lambda x: x, 1, 0)
    assert issubclass(BracketError, ValueError)


@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=20))
@settings(max_examples=30, deadline=None)
def test_vectorized_roots_match_scalar(cs):
    c = np.array(cs)
    f = lambda x, c: np.log(x) + x - c  # increasing, one root
    r = find_roots_vectorized(f, 1e-8, 200.0, args=(c,))
    assert r.success.all()
    scalar = [optimize.brentq(lambda x: math.log(x) + x - ci, 1e-8, 200.0, xtol=1e-14)
              for ci in cs]
    assert np.allclose(r.root, scalar, rtol=1e-10, atol=1e-12)


def test_vectorized_reports_missing_sign_change():
    r = find_roots_vectorized(lambda x, c: x**2 - c, 0.0, 1.0, args=(np.array([0.25, 4.0]),))
    assert r.success.tolist() == [True, False] and np.isnan(r.root[1])
    r = find_roots_vectorized(lambda x, c: x**2 - c, 0.0, 1.0, args=(np.array([0.25, 4.0]),),
                              expand=True)
    assert np.allclose(r.root, [0.5, 2.0])


def test_threshold_on_continuous_indicator():
    # order parameter m(a) = max(0, 1 - 1/a) ... crosses 0.5 at a = 2
    r = find_threshold(lambda a: max(0.0, 1 - 1 / a), 1.0, 5.0, level=0.5)
    assert r.root == pytest.approx(2.0, abs=1e-12)
