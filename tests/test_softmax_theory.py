"""softmax.* closed forms: SymPy identities, limits, reductions, mpmath references, gradients, the
reduced ODE, catalogue and CLI contract, and the checks' power to fail."""

import json

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import icl_companion.theory.linear as tl
import icl_companion.theory.softmax as ts
from icl_companion.numerics.linear import sample_prompts
from icl_companion.numerics.softmax_reduced import (dgd_gamma2_coefficient, dgd_predict, integrate_reduced_ode,
                                      mc_reduced_risk, reduced_predict)
from icl_companion.cli import main as cli_main
from icl_companion.theory.registry import evaluate, get
from icl_companion.validation import softmax_theory as vs
from icl_companion.validation.checks import load_checks, run_one

mp.mp.dps = 40


# ------------------------------------------------------------------ reduced predictor expansion
@pytest.mark.parametrize("n", [2, 3])
def test_pair_series_is_debiased_gd_plus_gamma2(n):
    c0, c1, c2 = ts.pair_series(n)
    assert sp.simplify(c0 - ts.dgd_predictor_expr(n)) == 0   # Theorem 1(1): gamma -> 0 is DGD
    assert c1 == 0                                           # odd pair: no O(gamma) term
    assert sp.simplify(c2 - ts.ETA * ts.nw_cumulant_coefficients(n)[1]) == 0


@pytest.mark.parametrize("n", [2, 3])
def test_cumulant_form_equals_taylor_series(n):
    c = ts.taylor_coefficients(ts.nw_head_expr(n), ts.W, 3)
    c1, c3 = ts.nw_cumulant_coefficients(n)
    assert sp.simplify(c[0] - sum(ts._prompt_symbols(n)[0]) / n) == 0
    assert sp.simplify(c[1] - c1) == 0 and sp.simplify(c[3] - c3) == 0


def test_multihead_first_order_has_bias_term():
    n, H = 3, 2
    y, _ = ts._prompt_symbols(n)
    om, mu = ts.omega_symbols(H), ts.mu_symbols(H)
    expect = (sum(m * w for m, w in zip(mu, om)) * ts.dgd_predictor_expr(n, 1)
              + sum(mu) * sum(y) / n)
    assert sp.simplify(ts.multihead_first_order_expr(n, H) - expect) == 0


def test_numeric_gamma2_coefficient_matches_series():
    """The vectorised eta c_3 equals the SymPy gamma^2 coefficient, and the predictor gap is O(gamma^4)."""
    rng = np.random.default_rng(3)
    P = sample_prompts(rng, 4, 2, 3, 0.2)
    eta = 0.7
    y, s = ts._prompt_symbols(3)
    sv = np.einsum("nld,nd->nl", P.X, P.xq)
    c2 = ts.pair_series(3)[2]
    for i in range(4):
        sub = {**dict(zip(y, P.y[i])), **dict(zip(s, sv[i])), ts.ETA: eta}
        assert float(c2.subs(sub)) == pytest.approx(dgd_gamma2_coefficient(P, eta)[i], rel=1e-10)
    rem = []
    for g in (0.02, 0.04):
        yg = reduced_predict(P, [g, -g], [eta / (2 * g), -eta / (2 * g)])
        rem.append(np.max(np.abs(yg - dgd_predict(P, eta) - dgd_gamma2_coefficient(P, eta) * g**2)))
    assert rem[1] / rem[0] == pytest.approx(16, rel=0.05)     # O(gamma^4) remainder


def test_reduced_predictor_single_head_limits():
    rng = np.random.default_rng(0)
    P = sample_prompts(rng, 5, 3, 7, 0.1)
    # omega = 0: every head averages the responses
    assert np.allclose(reduced_predict(P, [0.0], [2.0]), 2 * P.y.mean(axis=1))
    # very large omega: the head picks the token maximising x_l^T x_q (no overflow)
    s = np.einsum("nld,nd->nl", P.X, P.xq)
    pick = P.y[np.arange(5), np.argmax(s, axis=1)]
    assert np.allclose(reduced_predict(P, [1e6], [1.0]), pick)


# --------------------------------------------------------------------------------- exact risks
def test_gd_is_the_linear_expression_and_the_rank_L_projection():
    assert ts.gd_risk_expr() is tl.gd_risk_expr()
    assert sp.simplify(ts.projected_gd_risk_expr(tl.L) - tl.gd_risk_expr()) == 0
    assert get("softmax.gd_risk").sympy_expr() == get("linear.gd_risk").sympy_expr()
    assert get("softmax.bayes_risk").sympy_expr() == get("linear.ridge_bayes_risk_asym").sympy_expr()


def test_dgd_risk_closed_form_and_gd_reduction():
    d, L, s2, eta = tl.D, tl.L, tl.SIGMA2, tl.ETA
    e = ts.dgd_risk_expr()
    assert sp.simplify(e - (1 + s2 - 2 * eta * (1 - 1 / L)
                            + eta**2 * (1 - 1 / L) * (1 + d * (1 + s2) / L))) == 0
    # distributional identity: DGD at length L = vanilla GD at length L-1 with step eta (L-1)/L
    gd_shift = tl.gd_risk_expr().subs({eta: eta * (L - 1) / L, L: L - 1}, simultaneous=True)
    assert sp.simplify(e - gd_shift) == 0
    assert sp.simplify(ts.eta_star_expr() - 1 / (1 + (1 + s2) * d / L)) == 0
    assert sp.simplify(ts.dgd_min_risk_expr() - (1 + s2 - (1 - 1 / L) / (1 + (1 + s2) * d / L))) == 0
    assert sp.simplify(ts.gd_min_risk_expr() - (1 + s2 - tl.gd_eta_star_expr())) == 0
    # L = 1: the debiased predictor is zero
    assert sp.simplify(e.subs(L, 1) - (1 + s2)) == 0


def test_eta_star_vs_mpmath_minimisation():
    f = sp.lambdify(tl.ETA, ts.dgd_risk_expr().subs({tl.D: 5, tl.L: 40, tl.SIGMA2: sp.Rational(1, 10)}),
                    "mpmath")
    root = mp.findroot(lambda x: mp.diff(f, x), 0.5)
    assert float(root) == pytest.approx(get("softmax.eta_star")(d=5, L=40, sigma2=0.1), abs=1e-25)


def test_dgd_asymptote_and_bayes_identity():
    xi, s2 = tl.XI, tl.SIGMA2
    assert sp.simplify(ts.dgd_risk_asym_expr() - (s2 + xi * (1 + s2) / (1 + xi * (1 + s2)))) == 0
    # profile loss at gamma -> 0+ is the L -> oo optimal risk 1 + sigma2 - eta*
    lim = sp.limit(ts.profile_loss_expr(), ts.GAMMA, 0, "+")
    assert sp.simplify(lim - (1 + s2 - ts.eta_star_expr())) == 0


# ------------------------------------------------------------------------- approximate loss
def _matrix_loss(d, L, s2, om, mu):
    om, mu = np.asarray(om), np.asarray(mu)
    A = np.outer(om, om) + (1 + s2) / L * np.exp(d * np.outer(om, om))
    return 1 + s2 - 2 * mu @ om + mu @ A @ mu


def test_approx_loss_vs_matrix_form_and_mpmath():
    rng = np.random.default_rng(1)
    for H in (1, 2, 4):
        om, mu = rng.normal(0, 0.3, H), rng.normal(0, 2, H)
        assert ts.approx_loss(5, 40, 0.1, om, mu) == pytest.approx(_matrix_loss(5, 40, 0.1, om, mu),
                                                                   rel=1e-13)
    om, mu = [0.31, -0.2, 0.05], [1.3, -2.2, 0.4]
    f = sp.lambdify([list(ts.omega_symbols(3)), list(ts.mu_symbols(3)), tl.D, tl.L, tl.SIGMA2],
                    ts.approx_loss_expr(3), "mpmath")
    ref = f([mp.mpf(v) for v in om], [mp.mpf(v) for v in mu], 5, 40, mp.mpf("0.1"))
    assert ts.approx_loss(5, 40, 0.1, om, mu) == pytest.approx(float(ref), rel=1e-13)


@pytest.mark.parametrize("H", [1, 2, 3])
def test_pair_assembly_equals_full_sympy_derivatives(H):
    rng = np.random.default_rng(H)
    om, mu = rng.normal(0, 0.3, H), rng.normal(0, 1.5, H)
    a = (list(om), list(mu), 5, 40, 0.1)
    assert ts.approx_loss(5, 40, 0.1, om, mu) == pytest.approx(ts.full_lambdified("loss", H)(*a),
                                                               rel=1e-13)
    assert np.allclose(np.r_[ts.approx_loss_grad(5, 40, 0.1, om, mu)],
                       np.asarray(ts.full_lambdified("grad", H)(*a), float), rtol=1e-12, atol=1e-14)
    assert np.allclose(ts.approx_loss_hessian(5, 40, 0.1, om, mu),
                       np.asarray(ts.full_lambdified("hess", H)(*a), float), rtol=1e-12, atol=1e-14)
    A, b = ts.mu_quadratic_form_expr(H)
    sub = dict(zip(ts.omega_symbols(H), om)) | {tl.D: 5, tl.L: 40, tl.SIGMA2: 0.1}
    assert np.allclose(ts.approx_loss_hessian(5, 40, 0.1, om, mu)[H:, H:] / 2,
                       np.asarray(A.subs(sub), float), rtol=1e-12)
    assert np.allclose(np.asarray(b.subs(sub), float).ravel(), om)


def test_gradient_and_hessian_vs_finite_differences_and_closed_form():
    rng = np.random.default_rng(2)
    H, d, L, s2 = 3, 5, 40, 0.1
    om, mu = rng.normal(0, 0.3, H), rng.normal(0, 1.5, H)
    x = np.r_[om, mu]
    g = np.r_[ts.approx_loss_grad(d, L, s2, om, mu)]
    h = 1e-6
    fd = np.array([(ts.approx_loss(d, L, s2, *np.split(x + h * e, 2))
                    - ts.approx_loss(d, L, s2, *np.split(x - h * e, 2))) / (2 * h)
                   for e in np.eye(2 * H)])
    assert np.allclose(g, fd, rtol=1e-7, atol=1e-8)
    # the closed gradients (the authors' ``gradients`` returns half of them)
    c, E = (1 + s2) / L, np.exp(d * np.outer(om, om))
    g_mu = -2 * om + 2 * (np.outer(om, om) + c * E) @ mu
    g_om = -2 * mu + 2 * (mu @ om) * mu + 2 * d * c * (E * np.outer(mu, mu)) @ om
    assert np.allclose(g, np.r_[g_om, g_mu], rtol=1e-12)
    Hs = ts.approx_loss_hessian(d, L, s2, om, mu)
    fdh = np.array([(np.r_[ts.approx_loss_grad(d, L, s2, *np.split(x + h * e, 2))]
                     - np.r_[ts.approx_loss_grad(d, L, s2, *np.split(x - h * e, 2))]) / (2 * h)
                    for e in np.eye(2 * H)])
    assert np.allclose(Hs, fdh, rtol=1e-6, atol=1e-7) and np.allclose(Hs, Hs.T)


def test_taylor_form_and_series_flow():
    H, K = 2, 4
    om, mu = ts.omega_symbols(H), ts.mu_symbols(H)
    # replacing exp(a) by its K-th Taylor polynomial turns L~ into the Taylor form, exactly
    trunc = ts.approx_loss_expr(H).replace(
        sp.exp, lambda a: sum(a**k / sp.factorial(k) for k in range(K + 1)))
    assert sp.expand(trunc - ts.taylor_form_expr(H, K)) == 0
    # and the Taylor form converges to L~ (mpmath reference, K = 40)
    pt = {om[0]: sp.Rational(3, 10), om[1]: -sp.Rational(1, 5), mu[0]: 2, mu[1]: -sp.Rational(3, 2),
          tl.D: 5, tl.L: 40, tl.SIGMA2: sp.Rational(1, 10)}
    assert abs(sp.N(ts.taylor_form_expr(H, 40).subs(pt) - ts.approx_loss_expr(H).subs(pt), 30)) < 1e-25
    # numerically the truncated series flow converges to -grad L~
    f = sp.lambdify([list(om), list(mu), tl.D, tl.L, tl.SIGMA2], ts.series_flow_expr(H, 25))
    pt = ([0.2, -0.15], [1.1, -0.7])
    g = np.r_[ts.approx_loss_grad(5, 40, 0.1, *pt)]
    assert np.allclose(np.asarray(f(*pt, 5, 40, 0.1), float), -g, rtol=1e-12, atol=1e-14)


def test_mu_star_manifold_and_profile():
    d, L, s2 = 5, 40, 0.1
    for gamma in (0.05, 0.2, 0.5):
        m = ts.mu_star(d, L, s2, [gamma, -gamma])
        mg = ts.mu_gamma(d, L, s2, gamma)
        assert np.allclose(m, [mg, -mg], rtol=1e-12)
        assert ts.approx_loss(d, L, s2, [gamma, -gamma], m) == pytest.approx(
            ts.profile_loss(d, L, s2, gamma), rel=1e-13)
        # any split of the per-sign OV sum (4 heads) lies on S_gamma with the same loss
        om4, mu4 = [gamma, gamma, -gamma, -gamma], [0.3 * mg, 0.7 * mg, -1.4 * mg, 0.4 * mg]
        assert ts.approx_loss(d, L, s2, om4, mu4) == pytest.approx(ts.profile_loss(d, L, s2, gamma),
                                                                   rel=1e-12)
        # singular A (repeated omega): the minimum-norm minimiser reaches the same loss
        m4 = ts.mu_star(d, L, s2, om4)
        assert ts.approx_loss(d, L, s2, om4, m4) == pytest.approx(ts.profile_loss(d, L, s2, gamma),
                                                                  rel=1e-10)
        assert np.allclose(ts.approx_loss_grad(d, L, s2, om4, m4)[1], 0, atol=1e-9)
    g = np.geomspace(1e-3, 2, 200)
    prof = np.array([ts.profile_loss(d, L, s2, x) for x in g])
    assert np.all(np.diff(prof) > 0)                         # optimum at gamma -> 0+
    assert prof[0] == pytest.approx(1 + s2 - 1 / (1 + (1 + s2) * d / L), abs=1e-6)


def test_single_head_optimum_vs_mpmath():
    d, L, s2 = 5, 40, 0.1
    w, m = ts.single_head_optimum(d, L, s2)
    c = (1 + s2) / L
    prof = lambda x: 1 + s2 - x**2 / (x**2 + c * mp.e ** (d * x**2))  # noqa: E731
    root = mp.findroot(lambda x: mp.diff(prof, x), 0.4)
    assert w == pytest.approx(float(root), rel=1e-14)
    assert m == pytest.approx(np.sqrt(d) / (1 + (1 + s2) * d / L * np.e), rel=1e-14)  # the code's mu
    r = evaluate("softmax.single_head_optimum", d=d, L=L, sigma2=s2).value
    assert r["approx_loss"] == pytest.approx(1 + s2 - 1 / (1 + (1 + s2) * np.e * d / L), rel=1e-13)
    assert r["approx_loss"] == pytest.approx(ts.approx_loss(d, L, s2, [w], [m]), rel=1e-13)


# ----------------------------------------------------------- Bayes, ratio bound, length, Gamma*
def test_ratio_bound_holds_and_needs_noise_in_both_risks():
    grid = ts.ratio_bound_grid(np.geomspace(0.01, 3, 40), np.geomspace(0.01, 5, 40))
    assert grid["holds"] and grid["n_points"] > 1000
    # the bound fails if both risks exclude the noise (docs/derivations/softmax.md): the check can
    # fail
    f = ts._ratio_numeric()
    xi, s2 = np.meshgrid(np.geomspace(0.01, 3, 40), np.geomspace(0.01, 5, 40))
    ok = s2 + 1 / xi > 1
    noiseless = (f[2](xi, s2) - s2) / (f[3](xi, s2) - s2)
    assert np.any(noiseless[ok] > f[1](xi, s2)[ok])


def test_linear_length_risk_reductions():
    e = ts.linear_length_risk_expr()
    same = e.subs(ts.L_TEST, ts.L_TRAIN).subs(ts.L_TRAIN, tl.L)
    assert sp.simplify(same - ts.gd_min_risk_expr()) == 0
    # tested far beyond L_train, the fixed 1/L_train blows the effective step up: risk ~ L_test^2
    lead = sp.limit(e / ts.L_TEST**2, ts.L_TEST, sp.oo)
    assert sp.simplify(lead - tl.gd_eta_star_expr().subs(tl.L, ts.L_TRAIN)**2 / ts.L_TRAIN**2) == 0


def test_preconditioner_closed_form_isotropic_and_optimal():
    S = ts.ar1_covariance(5, 0.5)
    G = ts.preconditioner_from_moments(S, 40, 0.1)
    assert np.allclose(G, ts.preconditioner_closed_form(S, 40, 0.1), rtol=1e-12)
    assert np.allclose(G, G.T)
    eta = get("linear.gd_eta_star")(d=5, L=40, sigma2=0.1)
    assert np.allclose(ts.preconditioner(5, 40, 0.1, 0.0), eta * np.eye(5), rtol=1e-13)
    r0 = ts.preconditioned_gd_risk(G, S, 40, 0.1)
    assert ts.preconditioned_min_risk(G, S, 0.1) == pytest.approx(r0, rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(5):
        E = rng.normal(size=(5, 5)) * 1e-2
        assert ts.preconditioned_gd_risk(G + E, S, 40, 0.1) > r0
    # isotropic exact risk equals linear.gd_risk at eta*_gd
    assert ts.preconditioned_gd_risk(eta * np.eye(5), np.eye(5), 40, 0.1) == pytest.approx(
        get("linear.gd_risk")(d=5, L=40, sigma2=0.1, eta=eta), rel=1e-13)
    # Isserlis moment E[y^2 x x^T] by Monte Carlo (the only non-trivial ingredient)
    n = 200_000
    x = rng.standard_normal((n, 5)) @ np.linalg.cholesky(S).T
    beta = rng.standard_normal((n, 5)) / np.sqrt(5)
    y = np.einsum("nd,nd->n", x, beta) + np.sqrt(0.1) * rng.standard_normal(n)
    emp = np.einsum("n,nd,ne->de", y**2, x, x) / n
    _, e_gg = ts._gd_moments_aniso(S, 1, 0.1)      # L = 1: E[g g^T] = E[y^2 x x^T]
    assert np.max(np.abs(emp - e_gg)) < 0.05


# ------------------------------------------------------------------------------- reduced ODE
def test_reduced_ode_two_stages_and_conventions():
    d, L, s2 = 5, 40, 0.1
    r = integrate_reduced_ode(d, L, s2, [1e-3, -1e-3], [1e-3, -1e-3], 200.0, n_eval=201)
    assert r.success and r.t.size == 201
    assert np.all(np.diff(r.loss) <= 1e-12)                   # gradient flow decreases L~
    assert np.allclose(r.omega[:, 0], -r.omega[:, 1]) and np.allclose(r.mu.sum(axis=1), 0)
    assert abs(r.effective_step[-1] - r.eta_star) < 0.02 * r.eta_star  # stage I reached
    assert 0 < r.t_stage1 < 200
    i = np.argmax(r.omega[:, 0])
    assert 0 < i < r.t.size - 1 and r.omega[-1, 0] < r.omega[i, 0]  # omega overshoots then decays
    assert np.all(np.diff(r.mu[:, 0]) > 0)                     # mu grows monotonically
    # stage II: the state approaches the manifold, mu -> mu_gamma(omega)
    dev = [abs(r.mu[k, 0] / ts.mu_gamma(d, L, s2, r.omega[k, 0]) - 1) for k in (100, 200)]
    assert dev[1] < dev[0] < 0.02
    # linearised early growth: omega = mu = 1e-3 e^(2t) (paper convention)
    early = integrate_reduced_ode(d, L, s2, [1e-3, -1e-3], [1e-3, -1e-3], 1.0, n_eval=2)
    assert early.omega[-1, 0] == pytest.approx(1e-3 * np.exp(2.0), rel=1e-3)
    half = integrate_reduced_ode(d, L, s2, [1e-3, -1e-3], [1e-3, -1e-3], 2.0, n_eval=2,
                                 half_loss=True)
    assert half.omega[-1, 0] == pytest.approx(early.omega[-1, 0], rel=1e-6)


def test_reduced_ode_four_heads_stage_two():
    """H = 4 from a random start: sign matching, zero-sum OV, homogeneous |omega|."""
    rng = np.random.default_rng(0)
    r = integrate_reduced_ode(5, 40, 0.01, rng.normal(0, 0.1, 4), rng.normal(0, 0.1, 4), 5000.0,
                              n_eval=50)
    assert r.success
    w, m = r.omega[-1], r.mu[-1]
    assert np.all(np.sign(w) == np.sign(m))
    assert abs(m.sum()) < 1e-6 * np.abs(m).sum()
    spread = np.ptp(np.abs(r.omega), axis=1) / np.abs(r.omega).mean(axis=1)
    assert spread[-1] < 5e-3 and spread[-1] < spread[5] < spread[0]  # KQ becomes homogeneous
    assert abs(r.effective_step[-1] - r.eta_star) < 0.01 * r.eta_star


def test_reduced_ode_reports_failure_and_bad_input():
    r = integrate_reduced_ode(5, 40, 0.1, [30.0, -30.0], [1.0, -1.0], 10.0)
    assert not r.success and "overflow" in r.message
    with pytest.raises(ValueError, match="same length"):
        integrate_reduced_ode(5, 40, 0.1, [0.1, -0.1], [1.0], 10.0)
    with pytest.raises(ValueError, match="t_max"):
        integrate_reduced_ode(5, 40, 0.1, [0.1], [1.0], -1.0)


# ---------------------------------------------------------------------------- catalogue, CLI
def test_reduced_risk_result_reproducible_and_consistent():
    a = evaluate("softmax.reduced_risk", d=5, L=40, sigma2=0.1, omega=[0.3, -0.3], mu=[1.5, -1.5],
                 n_prompts=4000, seed=7).value
    b = mc_reduced_risk(5, 40, 0.1, [0.3, -0.3], [1.5, -1.5], 4000, 7)
    assert a == {"value": b.mean, "stderr": b.stderr, "n": 4000} and a["stderr"] > 0


def test_cli_eval_values(iclc, capsys):
    r = iclc("eval", "softmax.eta_star", "d=5", "L=40", "sigma2=0.1", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["value"] == pytest.approx(1 / (1 + 1.1 * 5 / 40), rel=1e-14)

    def run(*args):
        assert cli_main(["eval", *args, "--json"]) == 0
        return json.loads(capsys.readouterr().out)["value"]

    v = run("softmax.approx_loss", "d=5", "L=40", "sigma2=0.1", "omega=0.1,-0.1", "mu=3,-3")
    assert v == pytest.approx(_matrix_loss(5, 40, 0.1, [0.1, -0.1], [3, -3]), rel=1e-13)
    G = np.array(run("softmax.preconditioner", "d=3", "L=40", "sigma2=0.1", "rho=0.5"))
    assert G.shape == (3, 3) and np.allclose(G, ts.preconditioner(3, 40, 0.1, 0.5))
    v = run("softmax.reduced_risk", "d=5", "L=40", "sigma2=0.1", "omega=0.1,-0.1", "mu=4,-4",
            "n_prompts=2000", "seed=1")
    assert set(v) == {"value", "stderr", "n"} and v["n"] == 2000


# the bad inputs through the real console script; further ones in-process (same code path)
BAD_CONSOLE = [
    (["softmax.eta_star", "d=0", "L=40", "sigma2=0.1"], ["d = 0", "[1, inf)"]),
    (["softmax.dgd_risk", "d=5", "L=0", "sigma2=0.1", "eta=1"], ["L = 0", "[1, inf)"]),
    (["softmax.gd_risk", "d=5", "L=40", "sigma2=-0.5", "eta=1"], ["sigma2 = -0.5", "[0, inf)"]),
    (["softmax.approx_loss", "d=5", "L=40", "sigma2=0.1", "omega=0.1,-0.1", "mu=1"],
     ["omega and mu must have the same length"]),
    (["softmax.linear_length_risk", "d=5", "L_train=40", "L_test=0", "sigma2=0.1"],
     ["L_test = 0", "[1, inf)"]),
]
BAD_INPROCESS = [
    (["softmax.reduced_risk", "d=5", "L=40", "sigma2=0.1", "omega=0.1", "mu=1,2"],
     ["omega and mu must have the same length"]),
    (["softmax.mu_gamma", "d=5", "L=40", "sigma2=0.1", "gamma=0"], ["gamma = 0", "(0, inf)"]),
    (["softmax.preconditioner", "d=3", "L=40", "sigma2=0.1", "rho=1"], ["rho = 1", "(-1, 1)"]),
    (["softmax.ratio_bound", "xi=4", "sigma2=0.1"], ["sigma2 + 1/xi > 1"]),
    (["softmax.ratio_bound", "xi=0.1", "sigma2=0"], ["sigma2 = 0", "(0, inf)"]),
    (["softmax.mu_star", "d=-1", "L=40", "sigma2=0.1", "omega=0.1"], ["d = -1"]),
    (["softmax.reduced_flow", "d=5", "L=40", "sigma2=0.1", "omega0=0.1", "mu0=1,1", "t_max=1"],
     ["same length"]),
    (["softmax.dgd_risk", "d=5", "L=-3", "sigma2=0.1", "eta=1"], ["L = -3"]),
]


def _one_line(code, out, err, frags):
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and out == ""
    for f in frags:
        assert f in lines[0], (f, lines[0])


@pytest.mark.parametrize("args,frags", BAD_CONSOLE)
def test_bad_input_exit_2_console(iclc, args, frags):
    r = iclc("eval", *args)
    _one_line(r.returncode, r.stdout, r.stderr, frags)


@pytest.mark.parametrize("args,frags", BAD_INPROCESS)
def test_bad_input_exit_2_inprocess(capsys, args, frags):
    code = cli_main(["eval", *args])
    cap = capsys.readouterr()
    _one_line(code, cap.out, cap.err, frags)


def test_every_softmax_result_evaluates_and_shows():
    ins = {"d": 5, "L": 40, "sigma2": 0.1, "eta": 0.8, "omega": [0.1, -0.1], "mu": [3, -3],
           "gamma": 0.1, "xi": 0.125, "L_train": 40, "L_test": 60, "rho": 0.5, "n_prompts": 500,
           "seed": 0, "omega0": [0.01, -0.01], "mu0": [0.01, -0.01], "t_max": 5.0}
    mine = ["eta_star", "dgd_risk", "dgd_min_risk", "gd_risk", "gd_eta_star", "approx_loss",
            "mu_star", "mu_gamma", "profile_loss", "bayes_risk", "dgd_risk_asym", "ratio_bound",
            "single_head_optimum", "linear_length_risk", "preconditioner", "reduced_risk",
            "reduced_flow", "approx_loss_gap"]
    for r in (get(f"softmax.{k}") for k in mine):
        ev = r.evaluate(**{p.name: ins[p.name] for p in r.params if p.name in ins})
        assert ev.value is not None
        assert r.formula()


# ------------------------------------------------------------------------ checks can fail
def test_theory_checks_pass_quick():
    for cid in ("softmax.dgd_gd_risk", "softmax.reduced_to_dgd", "softmax.preconditioner",
                "softmax.linear_length_risk", "softmax.ratio_bound", "softmax.approx_loss_gap"):
        rep = run_one(load_checks()[cid], quick=True, seed=1)
        assert rep.status == "passed", rep.text()


@pytest.mark.parametrize("rid,factor", [("softmax.dgd_risk", 1.04), ("softmax.gd_risk", 1.04)])
def test_risk_check_fails_when_formula_is_perturbed(monkeypatch, rid, factor):
    r = get(rid)
    orig = r.func
    monkeypatch.setattr(r, "func", lambda **kw: factor * orig(**kw))
    kind = rid.split(".")[1].split("_")[0]
    cs = vs.risk_comparisons([(kind, 5, 40, 0.1, None)], 100_000, np.random.default_rng(1))
    assert not cs[0].passed, cs[0].line()


def test_gamma2_check_fails_with_wrong_coefficient():
    rng = np.random.default_rng(1)
    gs = [0.02, 0.04, 0.06, 0.08]
    bad, *_ = vs.gamma2_extrapolation(5, 40, 0.1, gs, 5_000, rng,
                                      coefficient=lambda P, eta: 1.1 * dgd_gamma2_coefficient(P, eta))
    good, *_ = vs.gamma2_extrapolation(5, 40, 0.1, gs, 5_000, rng)
    assert good.passed and not bad.passed, (good.line(), bad.line())


def test_reduced_check_fails_when_eta_star_is_perturbed(monkeypatch):
    r = get("softmax.dgd_risk")
    orig = r.func
    monkeypatch.setattr(r, "func", lambda **kw: orig(**kw) + 0.02)
    c = vs.reduced_vs_dgd(5, 40, 0.1, 0.02, 60_000, np.random.default_rng(2))
    assert not c.passed, c.line()


def test_approx_loss_gap_is_the_centring_term_and_the_check_can_fail():
    # exact: E_dgd(eta) - lim_{gamma -> 0} L~ = (eta/L)(2 - eta/eta*), eta*/L at eta*
    assert sp.simplify(ts.approx_loss_centring_gap_expr()
                       - ts.ETA / ts.L * (2 - ts.ETA / ts.eta_star_expr())) == 0
    eta = get("softmax.eta_star").evaluate(d=5, L=40, sigma2=0.1).value
    gap = get("softmax.approx_loss_gap").evaluate(d=5, L=40, sigma2=0.1, eta=eta).value
    assert gap == pytest.approx(eta / 40, rel=1e-12)
    # ... and equals the L~ it is measured against (the gamma -> 0 end of the manifold)
    approx = ts.approx_loss(5, 40, 0.1, [1e-4, -1e-4], [eta / 2e-4, -eta / 2e-4])
    dgd = get("softmax.dgd_risk").evaluate(d=5, L=40, sigma2=0.1, eta=eta).value
    assert dgd - approx == pytest.approx(gap, rel=1e-6)
    # without the centring term (L~ taken as the risk) the Monte Carlo comparison fails
    bad, _ = vs.approx_gap_comparisons(5, 0.1, 0.02, (160,), 50_000, np.random.default_rng(3),
                                       gap=lambda *a: 0.0)
    assert not bad[0].passed, bad[0].line()


def test_ratio_and_preconditioner_checks_fail_when_perturbed(monkeypatch):
    f = ts._ratio_numeric()
    monkeypatch.setattr(ts, "_ratio_numeric", lambda: (f[0], lambda x, s: 0.9 * f[1](x, s), f[2], f[3]))
    assert run_one(load_checks()["softmax.ratio_bound"], quick=True, seed=0).status == "failed"
    monkeypatch.undo()
    r = get("softmax.preconditioner")
    orig = r.func
    monkeypatch.setattr(r, "func", lambda **kw: {
        **orig(**kw), "value": (1.05 * np.asarray(orig(**kw)["value"])).tolist()})
    assert run_one(load_checks()["softmax.preconditioner"], quick=True, seed=0).status == "failed"


@pytest.mark.slow
def test_theory_checks_pass_full():
    for cid in ("softmax.dgd_gd_risk", "softmax.reduced_to_dgd", "softmax.preconditioner",
                "softmax.linear_length_risk", "softmax.ratio_bound", "softmax.approx_loss_gap"):
        rep = run_one(load_checks()[cid], quick=False, seed=2)
        assert rep.status == "passed", rep.text()
