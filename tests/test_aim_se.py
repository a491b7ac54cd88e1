"""aim.* numerics: free-probability prior, state evolution, rho -> 0 limit, CLI contract.

References are computed independently of the code under test: the spectral density by the
subordination equation ``G = G_S(z - Delta G)`` with the Marchenko-Pastur quadratic (instead of
the R-transform cubic) and adaptive ``scipy.integrate.quad``; the hardmax channel by 2-D adaptive
quadrature of the unsplit integrand; the softmax SE by the authors' damped iteration.
"""

import json
import math

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.stats import multivariate_normal

import icl_companion.numerics.aim_free_prob as fp
from icl_companion.numerics.aim_channels import HardmaxChannel, bvn_cdf
import icl_companion.numerics.aim_se as se
from icl_companion.theory.registry import get


# ------------------------------------------------------------------ independent references
def _ref_density(rho, delta):
    """Density of S + sqrt(Delta) Z from subordination with the MP quadratic (no cubic)."""
    y, s = 1 / rho, math.sqrt(rho)

    def GX(w):  # MP (ratio y) Stieltjes transform: y w G^2 - (w - 1 + y) G + 1 = 0, Nevanlinna root
        r = np.roots([y * w, -(w - 1 + y), 1])
        return r[np.argmin(np.sign(w.imag) * r.imag)]

    GS = lambda w: GX(w / s) / s

    def dens(x):
        G = fp.stieltjes_roots(x, delta, rho)          # only a starting point for Newton
        g0 = complex(G[np.argmax(abs(G.imag))])
        g0 = g0.real + 1j * (abs(g0.imag) + 1e-3)
        g = optimize.newton(lambda g: g - GS(x - delta * g), g0, tol=1e-14, rtol=1e-14,
                            maxiter=100)
        return abs(g.imag) / math.pi

    return dens


def _ref_cube_integral(rho, delta):
    d = _ref_density(rho, delta)
    e, n = fp.edges(delta, rho)
    e = e[np.isfinite(e)]
    ivs = [(e[0], e[1])] if n == 1 else [(e[0], e[1]), (e[2], e[3])]
    return sum(integrate.quad(lambda x: d(x) ** 3, lo, hi, epsabs=1e-14, epsrel=1e-12,
                              limit=400)[0] for lo, hi in ivs)


# ------------------------------------------------------------------ free probability
@pytest.mark.parametrize("rho,delta", [(2.0, 0.5), pytest.param(0.2, 0.01, marks=pytest.mark.slow)])
def test_cube_integral_vs_subordination_reference(rho, delta):
    ref = _ref_cube_integral(rho, delta)
    assert float(fp.cube_integral(delta, rho)) == pytest.approx(ref, rel=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("rho,delta", [(0.5, 0.3), (0.5, 0.0187), (0.2, 0.38), (1.0, 1e-3),
                                       (0.1, 3.0)])
def test_cube_integral_vs_reference_hard_cases(rho, delta):
    """Near the merge of the two intervals and at the rho = 1 hard edge."""
    ref = _ref_cube_integral(rho, delta)
    assert float(fp.cube_integral(delta, rho)) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.8, 1.0, 2.0])
def test_density_moments_exact(rho):
    """Free convolution: mass 1, mean sqrt(rho), second moment Q0 + Delta (variances add)."""
    d = np.geomspace(1e-5, 1e3, 41)
    x, wt = fp._support_nodes(d, rho)
    mu = fp.density(x, d[:, None, None], rho)
    m0 = np.sum(wt * mu, axis=(-2, -1))
    m1 = np.sum(wt * mu * x, axis=(-2, -1))
    m2 = np.sum(wt * mu * x * x, axis=(-2, -1))
    assert np.max(np.abs(m0 - 1)) < 1e-9
    assert np.max(np.abs(m1 - math.sqrt(rho))) < 1e-9
    assert np.max(np.abs(m2 / (1 + rho + d) - 1)) < 1e-9


def test_two_intervals_for_small_rho_and_delta():
    _, n = fp.edges(np.array([1e-4, 10.0]), 0.3)
    assert n.tolist() == [2, 1]
    _, n = fp.edges(np.array([1e-4]), 2.0)
    assert n.tolist() == [1]


def test_mmse_limits():
    for rho in (0.3, 0.7, 1.5):
        d = np.geomspace(1e-4, 1e4, 60)
        m = fp.mmse_rho(d, rho)
        assert np.all(m <= d * (1 + 1e-12)) and np.all(np.diff(m) > 0)
        assert np.all(m < 1) and m[-1] == pytest.approx(1 - 1 / d[-1], abs=2e-8 * 1e4 / d[-1] + 1e-7)
        slope = 2 * rho - rho**2 if rho < 1 else 1.0
        assert float(fp.mmse_over_delta(1e-7, rho)) == pytest.approx(slope, abs=2e-3)
    assert float(fp.mmse_rho(np.inf, 0.5)) == 1.0
    # GOE prior limit: Delta/(1 + Delta)
    assert float(fp.mmse_rho(0.7, 1e7)) == pytest.approx(0.7 / 1.7, abs=1e-5)
    with pytest.raises(ValueError, match="rho"):
        fp.mmse_rho(0.5, -1.0)
    with pytest.raises(ValueError, match="delta"):
        fp.mmse_rho(-0.5, 1.0)


@pytest.mark.parametrize("rho,delta", [(0.5, 0.05), (0.2, 1.0), (2.0, 0.3)])
def test_i_mmse_relation(rho, delta):
    """dI/d(1/Delta) = mmse/4 by a central difference (step 1e-4 relative)."""
    s, h = 1 / delta, 1e-4 / delta
    dI = (fp.mutual_information(1 / (s + h), rho) - fp.mutual_information(1 / (s - h), rho)) / (2 * h)
    assert dI == pytest.approx(float(fp.mmse_rho(delta, rho)) / 4, rel=1e-7)


def test_mutual_information_goe_limit_and_registry():
    assert fp.mutual_information(0.5, 1e7) == pytest.approx(0.25 * math.log(3), abs=1e-6)
    assert get("aim.denoising_mi")(rho=0.5, delta=0.3) == pytest.approx(
        fp.mutual_information(0.3, 0.5), rel=1e-14)


def test_denoising_rie_check_quick_passes_and_can_fail(monkeypatch):
    """The quick `iclc verify aim.denoising_rie` passes, and fails against a theory 10% off
    (the quick tolerance at rho=0.5, Delta=0.4 is ~4% of the value)."""
    from icl_companion.validation.checks import load_checks, run_one

    c = load_checks()["aim.denoising_rie"]
    rep = run_one(c, quick=True, seed=0)
    assert rep.status == "passed", rep.text()
    import icl_companion.validation.aim_denoising as vd
    r = get("aim.denoising_mmse")
    orig = r.func
    monkeypatch.setattr(r, "func", lambda rho, delta: {
        **(v := orig(rho=rho, delta=delta)), "value": 1.10 * v["value"]})
    bad = vd.denoising_outcome(True, 0, configs=[(0.5, 0.4)])
    assert not bad.ok()


# ------------------------------------------------------------------ softmax SE
def test_softmax_endpoints_exact():
    for rho, T in [(0.5, 2), (0.2, 3), (2.0, 4), (1.0, 2)]:
        apr = se.alpha_pr(rho, T)
        r = se.se_softmax(np.array([0.0, apr, 1.5 * apr]), rho, T)
        assert r.mmse.tolist() == [1.0, 0.0, 0.0]
        assert r.success.all()
        near = se.se_softmax(apr * (1 - 1e-6), rho, T)
        assert 0 < near.mmse < 1e-4 and near.success


def test_softmax_curve_monotone_and_solves_the_equation():
    rho, T = 0.3, 2
    a = np.linspace(0, se.alpha_pr(rho, T), 64)[1:-1]
    r = se.se_softmax(a, rho, T)
    assert r.success.all() and np.all(np.diff(r.mmse) < 0)
    K = T * T + T - 2
    lhs = fp.mmse_over_delta(r.delta, rho)
    assert np.max(np.abs(lhs - K * a)) < 1e-10
    # small alpha: MMSE ~ 1 - K alpha
    assert se.se_softmax(1e-5, rho, T).mmse == pytest.approx(1 - K * 1e-5, abs=1e-8)


def test_softmax_T_universality_and_rho_infinity():
    a2 = np.array([0.01, 0.05, 0.1])
    r2 = se.se_softmax(a2, 0.5, 2)
    r4 = se.se_softmax(a2 * 4 / 18, 0.5, 4)   # same K alpha
    np.testing.assert_allclose(r2.mmse, r4.mmse, rtol=1e-10)
    inf = se.se_softmax(a2, 1e7, 2)
    np.testing.assert_allclose(inf.mmse, 1 - 4 * a2, atol=1e-5)


def test_softmax_vs_authors_damped_iteration():
    """The authors' scheme (their SE_softmax.py): damped iteration of hat q = K alpha/(Q0 - q)."""
    rho, T, alpha = 0.5, 3, 0.04
    K, Q0 = 10, 1.5
    q = 0.3
    for _ in range(3000):
        qh = K * alpha / (Q0 - q)
        q_new = Q0 - float(fp.mmse_rho(1 / qh, rho))
        if abs(q_new - q) < 1e-14:
            break
        q = 0.5 * q_new + 0.5 * q
    assert se.se_softmax(alpha, rho, T).mmse == pytest.approx(Q0 - q, abs=1e-10)


def test_T1_maillard_mapping():
    """MMSE_AIM(alpha; rho, T) = rho err_M(alpha_M = K alpha/2; kappa = rho), with err_M solved
    in Maillard's normalisation S_M = W W^T/r from an independent density (subordination)."""
    rho, T, alpha = 0.5, 2, 0.08
    K = T * T + T - 2
    aM = K * alpha / 2
    r = se.se_softmax(alpha, rho, T)
    # Maillard: (4 pi^2/3) Delta_M int mu_M^3 = 1 - 2 alpha_M, err_M = 2 alpha_M Delta_M;
    # mu_M is the law of S_M + sqrt(Delta_M) Z = (S + sqrt(rho Delta_M) Z)/sqrt(rho)
    dM = r.delta / rho
    I3M = _ref_cube_integral(rho, rho * dM) * rho     # int mu_M^3 = rho int mu^3 (scaling)
    assert (4 * math.pi**2 / 3) * dM * I3M == pytest.approx(1 - 2 * aM, abs=1e-9)
    assert r.mmse == pytest.approx(rho * 2 * aM * dM, rel=1e-12)
    # T = 1 identity channel solver gives the same curve at alpha_M
    assert se.se_linear_T1(aM, rho).mmse == pytest.approx(r.mmse, rel=1e-10)


# ------------------------------------------------------------------ hardmax SE
def _ref_channel_info(q, V, variant):
    """E over (m1, m2) ~ N(0, q [[3,1],[1,3]]) of the 4-pattern sum, adaptive 2-D quadrature."""
    cov = q * np.array([[3.0, 1.0], [1.0, 3.0]])
    p = multivariate_normal([0, 0], cov)

    ch = HardmaxChannel(variant)

    def f(m2, m1):
        return p.pdf([m1, m2]) * float(ch.expected_fisher(m1, m2, V))

    L = 9 * math.sqrt(3 * q)
    return integrate.dblquad(f, -L, L, -L, L, epsabs=1e-10, epsrel=1e-9)[0]


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["correct", "paper"])
def test_hardmax_channel_info_vs_adaptive_quadrature(variant):
    q, V = 1.1, 0.4
    ref = _ref_channel_info(q, V, variant)
    assert se.hardmax_channel_info(q, V, variant) == pytest.approx(ref, rel=1e-7)


def _trapezoid_channel_info(q, V, variant, n=801, nsd=9.0):
    """Unsplit integrand on a dense (m1, m2) grid, trapezoid rule (spectral for this smooth,
    rapidly decaying integrand); no change of variables, no Gauss-Hermite."""
    L = nsd * math.sqrt(3 * q)
    m = np.linspace(-L, L, n)
    h = m[1] - m[0]
    M1, M2 = np.meshgrid(m, m, indexing="ij")
    det = q * q * 8.0
    quad = (3 * M1 * M1 - 2 * M1 * M2 + 3 * M2 * M2) / (q * 8.0)
    pdf = np.exp(-0.5 * quad) / (2 * math.pi * math.sqrt(det))
    F = HardmaxChannel(variant).expected_fisher(M1, M2, V)
    return float(np.sum(pdf * F) * h * h)


@pytest.mark.parametrize("q,V", [(1.1, 0.4), pytest.param(1.45, 0.05, marks=pytest.mark.slow),
                                 pytest.param(1.499, 0.001, marks=pytest.mark.slow)])
@pytest.mark.parametrize("variant", ["correct", "paper"])
def test_hardmax_channel_info_vs_dense_trapezoid(q, V, variant):
    """Including V << q, where the integrand is much narrower than the Gaussian of m.
    Even grid sizes (no node exactly on m_i = 0; see the notes on odd grids)."""
    n = 400 if V > 0.3 else 1200 if V > 0.01 else 2000
    ref = _trapezoid_channel_info(q, V, variant, n=n)
    assert se.hardmax_channel_info(q, V, variant) == pytest.approx(ref, rel=1e-9)


def test_hardmax_pattern_terms_match_finite_differences_of_bvn():
    """g_out of the correct variant = d log Phi_2 / d omega (finite differences of Owen's T)."""
    k1, k2, r, h = 0.4, -0.9, 1 / 3, 1e-6
    Z = lambda a, b: float(bvn_cdf(a, b, r))
    d1 = (Z(k1 + h, k2) - Z(k1 - h, k2)) / (2 * h)
    phi = math.exp(-k1 * k1 / 2) / math.sqrt(2 * math.pi)
    ana = phi * math.erfc(-((k2 - r * k1) / math.sqrt(1 - r * r)) / math.sqrt(2)) / 2
    assert d1 == pytest.approx(ana, rel=1e-7)
    ref = multivariate_normal([0, 0], [[1, r], [r, 1]]).cdf([k1, k2])
    assert float(Z(k1, k2)) == pytest.approx(ref, rel=1e-7)


def test_hardmax_q0_is_the_closed_form_E0():
    for v in ("correct", "paper"):
        assert se.hardmax_channel_info(0.0, 1.0, v) == pytest.approx(se._E0(v), rel=1e-13)


def test_hardmax_se_fixed_point_and_variants():
    rho = 0.5
    rc = se.se_hardmax(1.0, rho, "correct")
    rp = se.se_hardmax(1.0, rho, "paper")
    assert rc.success and rp.success
    for r, v in ((rc, "correct"), (rp, "paper")):
        qh = 2 * 1.0 * se.hardmax_channel_info(1 + rho - r.mmse, r.mmse, v)
        assert r.mmse == pytest.approx(float(fp.mmse_rho(1 / qh, rho)), abs=1e-10)
    assert rc.mmse < rp.mmse        # the corrected g_out extracts more information
    damped = se.se_hardmax(1.0, rho, "correct", method="damped")
    assert damped.success and damped.mmse == pytest.approx(rc.mmse, abs=1e-9)
    warm = se.se_hardmax(1.1, rho, "correct", warm=rc.mmse, method="damped")
    cold = se.se_hardmax(1.1, rho, "correct", method="damped")
    assert warm.mmse == pytest.approx(cold.mmse, abs=1e-9) and warm.nit < cold.nit
    assert se.se_hardmax(0.0, rho).mmse == 1.0
    m = [se.se_hardmax(a, rho).mmse for a in (0.05, 0.3, 2.0)]
    assert m[0] > m[1] > m[2] > 0


# ------------------------------------------------------------------ rho -> 0, trajectories
def test_rho0_limit_threshold_and_small_rho():
    for v in ("correct", "paper"):
        ac = se.weak_recovery(v)
        assert se.mmse_rho0(0.99 * ac, v).mmse == 1.0
        above = se.mmse_rho0(1.05 * ac, v)
        assert above.success and 0.5 < above.mmse < 1.0
    # finite small rho approaches the rho = 0 curve at fixed alpha/rho
    ab = 2.0
    r0 = se.mmse_rho0(ab).mmse
    errs = [abs(se.se_hardmax(rho * ab, rho).mmse - r0) for rho in (0.1, 0.02)]
    assert errs[1] < errs[0] and errs[1] < 0.05


def test_trajectory_reaches_the_fixed_point():
    tr = se.se_trajectory(0.1, 0.5, 2, n_iter=300, damping=0.5)
    assert tr[0] == 1.0 and tr[-1] == pytest.approx(se.se_softmax(0.1, 0.5, 2).mmse, abs=1e-9)
    trh = se.se_trajectory(0.5, 0.5, 2, "hardmax", "correct", n_iter=150, damping=0.3)
    assert trh[-1] == pytest.approx(se.se_hardmax(0.5, 0.5).mmse, abs=1e-8)
    with pytest.raises(ValueError, match="hardmax requires T = 2"):
        se.se_trajectory(0.5, 0.5, 3, "hardmax")


# ------------------------------------------------------------------ generalisation error
def test_gen_error_closed_form_and_quadrature():
    q, Q0 = 1.1, 1.5
    # hardmax: 4 E[Phi(k) Phi(-k)] by adaptive quadrature
    s = math.sqrt(q / (Q0 - q))
    from scipy.stats import norm
    ref = 4 * integrate.quad(lambda z: norm.pdf(z) * norm.cdf(s * z) * norm.sf(s * z),
                             -np.inf, np.inf, epsabs=1e-13)[0]
    assert se.hardmax_gen_error(q, Q0) == pytest.approx(ref, rel=1e-10)
    # softmax T = 2: 4 E_m Var(sigmoid(u) | m) on a dense trapezoid grid (not Gauss-Hermite)
    V = Q0 - q
    z = np.linspace(-10, 10, 1601)
    w = norm.pdf(z) * (z[1] - z[0])
    sig = 0.5 * (1 + np.tanh(0.5 * (math.sqrt(3 * q) * z[:, None] + math.sqrt(3 * V) * z[None, :])))
    e1, e2 = sig @ w, (sig**2) @ w
    ref = 4 * np.sum(w * (e2 - e1 * e1))
    assert se.softmax_gen_error_T2(q, Q0) == pytest.approx(ref, rel=1e-10)
    # general-T tensor rule at T = 2 equals the specialised difference-variable rule
    assert se.softmax_gen_error(q, Q0, 2) == pytest.approx(se.softmax_gen_error_T2(q, Q0), rel=1e-12)
    g = se.gen_error(0.0, 0.5, 2, "softmax")
    assert g["normalised"] == 1.0
    assert se.gen_error(se.alpha_pr(0.5, 2), 0.5, 2, "softmax")["gen_error"] == 0.0


def test_gen_error_rqmc_vs_quadrature():
    """RQMC (any T) against the deterministic quadrature at T = 2, 3: within 4 standard errors
    (standard error from the spread of the 16 independent scramblings)."""
    Q0 = 1.5
    for T, qs, quad in ((2, np.array([0.5, 1.1, 1.45]), lambda q: se.softmax_gen_error_T2(q, Q0)),
                        (3, np.array([0.5, 1.45]), lambda q: se.softmax_gen_error(q, Q0, 3))):
        m, per = se.softmax_gen_error_rqmc(qs, Q0, T, log2_points=12)
        sem = per.std(ddof=1, axis=0) / math.sqrt(per.shape[0])
        ref = np.array([quad(q) for q in qs])
        assert np.all(np.abs(m - ref) < 4 * sem), (T, m, ref, sem)
        # precision: measured 8e-4 (q = 0.5) to 2.2e-3 (q = 1.45) relative; plain MC with the same
        # 2^16 normals gives 4e-3 to 5.8e-3
        assert np.all(sem < 4e-3 * ref)
    # fixed seed: deterministic; perfect recovery: 0 exactly
    a, _ = se.softmax_gen_error_rqmc(0.7, Q0, 4, log2_points=8, scramblings=4)
    b, _ = se.softmax_gen_error_rqmc(0.7, Q0, 4, log2_points=8, scramblings=4)
    assert a[0] == b[0]
    assert se.softmax_gen_error_rqmc(Q0, Q0, 4, log2_points=8, scramblings=4)[0][0] == 0.0


def test_gen_error_T4_vs_plain_monte_carlo_of_outputs():
    """T = 4 (RQMC) against a plain Monte Carlo of teacher and Bayes-student outputs built from the
    full symmetric T x T index matrix (no row reduction): omega_ab ~ N(0, c_ab q), the teacher's
    h ~ N(omega, c_ab V), y = softmax rows; the Bayes student predicts E[y | omega], estimated by
    M fresh draws of h | omega, whose own noise inflates the squared error by exactly (1 + 1/M).
    Tolerance: 4 Monte Carlo standard errors (plus the RQMC one)."""
    from icl_companion.numerics.aim_data import softmax_rows

    T, rho, alpha = 4, 0.5, 0.02
    g = se.gen_error(alpha, rho, T)
    assert g["gen_error_se"] > 0 and g["gen_error_se"] < 1e-3 * g["gen_error"]
    Q0 = 1 + rho
    q, V = Q0 - g["mmse"], g["mmse"]
    rng = np.random.default_rng(17)
    N, M = 20000, 8
    iu = np.triu_indices(T)
    c = np.where(iu[0] == iu[1], 2.0, 1.0)

    def sym(u):                                         # (..., T(T+1)/2) -> (..., T, T)
        H = np.zeros(u.shape[:-1] + (T, T))
        H[..., iu[0], iu[1]] = u
        H[..., iu[1], iu[0]] = u
        return H

    omega = np.sqrt(c * q) * rng.standard_normal((N, c.size))
    y = softmax_rows(sym(omega + np.sqrt(c * V) * rng.standard_normal((N, c.size))))
    post = softmax_rows(sym(omega[:, None] + np.sqrt(c * V) * rng.standard_normal((N, M, c.size))))
    err = np.sum((y - post.mean(axis=1)) ** 2, axis=(-2, -1)) / (1 + 1 / M)
    mc, mc_se = err.mean(), err.std(ddof=1) / math.sqrt(N)
    assert abs(mc - g["gen_error"]) < 4 * math.hypot(mc_se, g["gen_error_se"])
    # the check can fail: the error at a wrong overlap is far outside the tolerance
    wrong, _ = se.softmax_gen_error_rqmc(q - 0.1, Q0, T, log2_points=10)
    assert abs(mc - wrong[0]) > 8 * mc_se


@pytest.mark.slow
def test_softmax_gen_error_T3_node_convergence():
    for q in (0.5, 1.45):
        a = se.softmax_gen_error(q, 1.5, 3)
        b = se.softmax_gen_error(q, 1.5, 3, nodes=(26, 16))
        assert a == pytest.approx(b, rel=3e-6)


# ------------------------------------------------------------------ catalogue and CLI
def test_registered_results():
    ev = get("aim.mmse").evaluate(alpha=0.1, rho=0.5, T=2)
    r = ev.value
    assert ev.success and ev.info["status"] == 0 and r["mmse"] == pytest.approx(se.se_softmax(0.1, 0.5, 2).mmse)
    assert get("aim.mmse")(alpha=1.0, rho=0.5, T=2)["mmse"] == 0.0
    ev = get("aim.mmse").evaluate(alpha=1.0, rho=0.5, T=2, channel="hardmax", variant="paper")
    h = ev.value
    assert ev.info["success"] and h["mmse"] == pytest.approx(se.se_hardmax(1.0, 0.5, "paper").mmse)
    assert get("aim.denoising_mmse")(rho=0.5, delta=0.3) == pytest.approx(
        float(fp.mmse_rho(0.3, 0.5)), rel=1e-14)
    assert get("aim.mmse_rho0")(alpha_bar=0.3)["mmse"] == 1.0


@pytest.mark.parametrize("args,needle", [
    (["aim.mmse", "alpha=-0.1", "rho=0.5", "T=2"], "alpha"),
    (["aim.mmse", "alpha=0.1", "rho=0", "T=2"], "rho"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=0"], "T"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=3", "channel=hardmax"], "hardmax requires T = 2"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=2", "channel=relu"], "channel"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=2", "variant=exact"], "variant"),
])
def test_cli_bad_inputs(iclc, args, needle):
    p = iclc("eval", *args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]


@pytest.mark.parametrize("rid,kw,needle", [
    ("aim.mmse", dict(alpha=0.1, rho=-1.0, T=2), "rho"),
    ("aim.mmse", dict(alpha=0.1, rho=0.5, T=1, channel="hardmax"), "T"),
    ("aim.mmse_rho0", dict(alpha_bar=-1.0), "alpha_bar"),
    ("aim.weak_recovery", dict(variant="foo"), "variant"),
    ("aim.gen_error", dict(alpha=0.1, rho=0.5, T=1), "T"),
    ("aim.gen_error", dict(alpha=0.1, rho=0.5, T=3, channel="hardmax"), "T"),
    ("aim.denoising_mmse", dict(rho=0.5, delta=0.0), "delta"),
])
def test_api_bad_inputs(rid, kw, needle):
    with pytest.raises(ValueError, match=needle):
        get(rid)(**kw)


def test_beyond_alpha_pr_is_zero_not_failure():
    from icl_companion.theory.registry import evaluate

    d = json.loads(json.dumps(evaluate("aim.mmse", alpha=0.5, rho=0.5, T=2).to_dict()))
    assert d["value"]["mmse"] == 0.0 and d["info"]["success"] is True
