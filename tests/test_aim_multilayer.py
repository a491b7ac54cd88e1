"""aim multilayer: SymPy derivations, the model's gauge coordinates, the joint channel, the SE and
its reductions, GAMP-RIE, GD gradients, bad inputs, and the quick check (with its power)."""

import functools
import math

import numpy as np
import pytest
import sympy as sp

import icl_companion.theory.aim_multilayer as tm
from icl_companion.numerics import aim_multilayer as ml
from icl_companion.numerics.aim_data import indices
from icl_companion.numerics.aim_gamp import softmax_gout
from icl_companion.numerics.aim_multilayer_channel import MultilayerChannel, QuadratureRule
from icl_companion.numerics.aim_multilayer_gamp import gamp_rie_multilayer
from icl_companion.numerics.aim_multilayer_gd import multilayer_loss_and_grad
from icl_companion.numerics.aim_multilayer_se import (information, linearized_split, se_multilayer,
                                                      teacher_points)
from icl_companion.numerics.aim_se import se_softmax
from icl_companion.theory.registry import get
from icl_companion.validation.aim_multilayer import (finite_size_fit, gamp_settings, judge, measure,
                                                     se_theory)
from icl_companion.validation.checks import load_checks, run_one


# ------------------------------------------------------------------ theory (SymPy)
@pytest.mark.parametrize("d", [2, 3])
def test_wick_covariances_of_indices(d):
    assert all(v == 0 for v in tm.quadratic_form_covariances(d).values())


def test_free_cumulants_and_layer_covariance():
    k1, k2, k3 = tm.free_cumulants(3)
    assert sp.simplify(k1 - sp.sqrt(tm.RHO)) == 0 and k2 == 1 and sp.simplify(k3 * k1 - 1) == 0
    G = tm.index_covariance()
    assert sp.simplify(G - sp.Matrix([[1 + tm.RHO1, sp.sqrt(tm.RHO1 * tm.RHO2)],
                                      [sp.sqrt(tm.RHO1 * tm.RHO2), 1 + tm.RHO2]])) == sp.zeros(2)


def test_index_covariance_matches_sampled_teachers():
    """Tr(S_1 S_2)/d and Tr(S_l^2)/d of sampled teachers against Gamma (d = 400, 3 draws)."""
    rng = np.random.default_rng(1)
    d = 400
    vals = []
    for _ in range(3):
        D = ml.sample_multilayer(rng, d, (0.5, 0.3), 2, L=2, n=1)
        vals.append([np.trace(D.S[0] @ D.S[1]) / d, np.trace(D.S[0] @ D.S[0]) / d,
                     np.trace(D.S[1] @ D.S[1]) / d])
    m = np.mean(vals, axis=0)
    G = np.array(tm.index_covariance().subs({tm.RHO1: 0.5, tm.RHO2: 0.3}), dtype=float)
    assert m == pytest.approx([G[0, 1], G[0, 0], G[1, 1]], abs=0.02)


@pytest.mark.parametrize("T", [2, 3])
def test_gauge_identity(T):
    assert tm.gauge_identity(T) == sp.zeros(T, T)


def test_congruence_determinant():
    lhs, rhs = tm.congruence_determinant(2)
    assert sp.expand(lhs - rhs) == 0
    A3 = sp.Matrix([[sp.Rational(3, 2), sp.Rational(1, 3), 0], [sp.Rational(1, 5), 2, 1],
                    [sp.Rational(-1, 2), sp.Rational(1, 7), sp.Rational(4, 3)]])
    lhs, rhs = tm.congruence_determinant(3, A3)
    assert lhs == rhs


def test_visible_matrix_t2_symbolic_and_numeric():
    M = tm.visible_matrix_t2()
    lam = tm.CSKIP + tm.P1 + tm.P2 - 1
    assert sp.factor(M.det() - (tm.CSKIP + 1) * lam**3) == 0
    f = sp.lambdify((tm.P1, tm.P2, tm.CSKIP), M, "numpy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2))
    for c in (0.0, 0.7, 2.0):
        Mn = ml.visible_matrix([x], 2, c, 1.0)
        S = ml.attention(ml.gauge(2).matrix(x), 0.0, 1.0)
        for i in range(6):
            assert np.allclose(Mn[i], np.array(f(S[i, 0, 0], S[i, 1, 1], c), dtype=float),
                               atol=1e-13)


def test_hidden_preimages_t2_recover_the_attention():
    """Given z = M(p) D and D, the two roots lam = +-sqrt(a.z / b.D) give back p (one of them),
    and for c >= 1 the negative root is inadmissible (p1 + p2 outside (0, 2))."""
    lam2, (p1e, p2e) = tm.hidden_preimages_t2()
    sym = sp.symbols("z0 z1 D0 D1")
    lam = sp.Symbol("lam")
    f2 = sp.lambdify(sym, lam2)
    fp = sp.lambdify(sym + (lam, tm.CSKIP), [p1e, p2e])
    rng = np.random.default_rng(3)
    for c in (0.3, 1.0, 2.5):
        x = rng.standard_normal(2)
        Dv = rng.standard_normal(2)
        z = ml.visible_matrix([x], 2, c, 1.0) @ Dv
        S = ml.attention(ml.gauge(2).matrix(x), 0.0, 1.0)
        p = np.array([S[0, 0], S[1, 1]])
        r = math.sqrt(f2(*z, *Dv))
        cands = [np.array(fp(*z, *Dv, s * r, c)) for s in (1.0, -1.0)]
        assert min(np.abs(cd - p).max() for cd in cands) < 1e-10
        if c >= 1:
            neg = cands[1]
            assert not (0 < neg.sum() < 2 and np.all((neg > 0) & (neg < 1)))


@pytest.mark.parametrize("T", [2, 3])
def test_constraint_rank(T):
    r = tm.constraint_rank(T)
    m = T * (T + 1) // 2
    assert r["rank"] == m - 1 and r["n_unknowns"] == 2 * m
    assert r["kernel_has_e"] and r["curved"]


def test_alpha_pr_multilayer_registered():
    f = get("aim.alpha_pr_multilayer")
    assert f(rho1=0.5, rho2=0.5, T=2) == pytest.approx(1.5 / 4, rel=1e-14)
    assert f(rho1=2.0, rho2=0.3, T=3) == pytest.approx((1 + 0.51) / 10, rel=1e-14)
    # reduction: equals the sum of the single-layer thresholds
    a1 = get("aim.alpha_pr")(rho=0.2, T=3)
    a2 = get("aim.alpha_pr")(rho=0.7, T=3)
    assert f(rho1=0.2, rho2=0.7, T=3) == pytest.approx(a1 + a2, rel=1e-14)


# ------------------------------------------------------------------ model and gauge
@pytest.mark.parametrize("T,L,c", [(2, 2, 1.0), (3, 2, 0.3), (2, 3, 0.5), (3, 1, 1.0)])
def test_output_coordinates_are_linear_in_the_last_layer(T, L, c):
    """observe(y) of the sampled model equals M(delta_hidden) delta_L from the coordinates only."""
    D = ml.sample_multilayer(np.random.default_rng(2), 12, 0.5, T, L=L, n=20, c=c, beta=1.4)
    g = ml.gauge(T)
    z = ml.observe(D.y, 1.4)
    z2 = ml.outputs_coords([g.coords(D.h[lay]) for lay in range(L)], T, c, 1.4)
    assert np.allclose(z, z2, atol=1e-9)


def test_visible_matrix_general_T_against_einsum():
    for T in (2, 3, 4):
        g = ml.gauge(T)
        x = np.random.default_rng(T).standard_normal((4, g.k))
        Bm = ml.attention(g.matrix(x), 0.7, 1.3)
        BE = np.einsum("...ab,jbc,...dc->...jad", Bm, g.basis, Bm)
        ref = np.swapaxes(g.coords(BE), -1, -2)
        assert np.allclose(ml.visible_matrix([x], T, 0.7, 1.3), ref, atol=1e-14)


def test_single_layer_channel_is_the_softmax_gout():
    """L = 1: the joint g_out equals the single-layer gauge construction (aim_gamp.softmax_gout)."""
    rng = np.random.default_rng(0)
    for T in (2, 3):
        h = rng.standard_normal((7, T, T))
        h = h + np.swapaxes(h, 1, 2)
        y = ml.outputs_from_indices([h], 1.0, 1.0)
        om = rng.standard_normal((7, T, T))
        om = om + np.swapaxes(om, 1, 2)
        ch = MultilayerChannel(T, 1, 1.0, 1.0, 0.0)
        g, _ = ch.gout(y, om[None], [0.6])
        assert np.allclose(g[0], softmax_gout(y, om, 0.6), atol=1e-10)


def test_fast_t2_path_equals_generic_path():
    rng = np.random.default_rng(0)
    for delta in (0.0, 0.05):
        ch = MultilayerChannel(2, 2, 0.7, 1.0, delta)
        x = rng.standard_normal((4, 7, 2))
        z = rng.standard_normal((4, 1, 2))
        mus = [rng.standard_normal((4, 1, 2)) for _ in range(2)]
        a = ch._conditional(x, z, mus, np.array([0.4, 0.3]), True)
        ch.fast_k2 = False
        b = ch._conditional(x, z, mus, np.array([0.4, 0.3]), True)
        for u, v in zip(a, b):
            assert np.allclose(u, v, rtol=1e-7, atol=1e-8)


# ------------------------------------------------------------------ joint channel
def _brute(ch, z, mu, V, n=701, width=8.0):
    """Posterior moments of one point on a fine trapezoid grid in prior-whitened coordinates."""
    t = np.linspace(-width, width, n)
    X1, X2 = np.meshgrid(t, t, indexing="ij")
    x = np.stack([X1.ravel(), X2.ravel()], -1)[None]
    mus = [mu[None, lay, None, :] for lay in range(2)]
    logl, ED, CD = ch._conditional(x, z[None, None, :], mus, V, True)
    lp = logl[0] - 0.5 * np.sum(x[0] ** 2, -1)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    hid = mu[0] + math.sqrt(V[0]) * x[0] @ ch.g.chol.T
    full = np.concatenate([hid, ED[0]], -1)
    m = w @ full
    dd = full - m
    cov = np.einsum("g,gi,gj->ij", w, dd, dd)
    cov[2:, 2:] += np.einsum("g,gij->ij", w, CD[0])
    return m, cov


@pytest.mark.parametrize("c,delta,V", [(1.0, 0.0, (0.5, 0.5)), (1.0, 0.0, (0.8, 0.1)),
                                       (3.0, 0.0, (0.5, 0.2)), (0.0, 0.1, (0.5, 0.5))])
def test_posterior_against_brute_force_grid(c, delta, V):
    """Adaptive Gauss-Hermite posterior vs a 701 x 701 grid: the quantity entering the SE,
    nu_l = tr(Sigma^-1 Cov_ll)/V_l (in [0, 2]), to 0.05 at every point and 0.01 on average."""
    g = ml.gauge(2)
    rng = np.random.default_rng(7)
    N = 8
    V = np.array(V)
    g0 = rng.standard_normal((N, 2)) @ g.chol.T
    mu = np.stack([math.sqrt(0.5) * g0 + math.sqrt(1 - V[lay]) * rng.standard_normal((N, 2))
                   @ g.chol.T for lay in range(2)], 1)
    dh = [mu[:, lay] + math.sqrt(V[lay]) * rng.standard_normal((N, 2)) @ g.chol.T
          for lay in range(2)]
    z = ml.outputs_coords(dh, 2, c, 1.0) + math.sqrt(delta) * rng.standard_normal((N, 2)) @ g.chol.T
    ch = MultilayerChannel(2, 2, c, 1.0, delta, QuadratureRule(n_final=24))
    post = ch.posterior(z, mu, V)
    errs = []
    for i in range(N):
        m, cov = _brute(ch, z[i], mu[i], V)
        for lay in range(2):
            nu = lambda C: np.trace(g.Sigma_inv @ C[2 * lay:2 * lay + 2, 2 * lay:2 * lay + 2]) / V[lay]  # noqa
            errs.append(nu(post.cov[i]) - nu(cov))
        assert np.allclose(post.mean[i].ravel(), m, atol=0.05 * math.sqrt(V.max()))
    errs = np.array(errs)
    assert np.abs(errs).max() < 0.05 and abs(errs.mean()) < 0.01


def test_known_hidden_layer_gives_single_layer_information():
    """V_1 = 0 (S_1 known): kappa_2 = k exactly; V_1 = 1e-6: kappa_2 -> k (quadrature path)."""
    pts = teacher_points(2, 2, False, 7, 2, seed=5)
    for c in (0.5, 1.0):
        ch = MultilayerChannel(2, 2, c, 1.0, 0.0)
        inf0 = information(ch, pts, (0.5, 0.5), [0.0, 0.4])
        # 1e-7: cancellation in V Sigma - V^2 Sigma M^T S^-1 M Sigma
        assert inf0["kappa"][1] == pytest.approx(2.0, abs=1e-7)
    ch = MultilayerChannel(2, 2, 1.0, 1.0, 0.0)
    inf = information(ch, pts, (0.5, 0.5), [1e-6, 0.4])
    assert inf["kappa"][1] == pytest.approx(2.0, abs=2e-3)


def test_nishimori_identity_on_the_se_law():
    """Outer-product and posterior-covariance Fisher estimators agree within 4 RQMC s.e."""
    pts = teacher_points(2, 2, False, 9, 4, seed=11)
    ch = MultilayerChannel(2, 2, 1.0, 1.0, 0.0)
    inf = information(ch, pts, (0.5, 0.5), [0.6, 0.4])
    ps = inf["per_scrambling"]
    diff = ps["fisher_outer"] - ps["fisher"]
    se = diff.std(axis=0, ddof=1) / math.sqrt(diff.shape[0])
    assert np.all(np.abs(diff.mean(0)) <= 4 * se + 1e-3)


def test_linearized_split_sums_to_k():
    for c in (0.0, 1.0):
        r = linearized_split(2.0, (0.5, 0.3), 2, c, n=6)
        assert r["kappa"].sum() == pytest.approx(2.0, abs=1e-6)
        assert np.all(r["kappa"] > 0)


# ------------------------------------------------------------------ state evolution
@pytest.mark.parametrize("T,alpha,rho", [(2, 0.1, 0.5), (2, 0.03, 1.5), (3, 0.05, 0.3)])
def test_known_first_layer_reproduces_single_layer_mmse(T, alpha, rho):
    """Acceptance: L = 2 with S_1 known reproduces aim.mmse (softmax) to the solver tolerance."""
    r = se_multilayer(alpha, (0.4, rho), T, c=1.0, known=(1,), log2_points=6, scramblings=2)
    ref = se_softmax(alpha, rho, T).mmse
    assert r.success and r.mmse[0] == 0.0
    assert r.mmse[1] == pytest.approx(ref, abs=1e-7)
    ev = get("aim.mmse_multilayer").evaluate(alpha=alpha, rho1=0.4, rho2=rho, T=T,
                                             known="layer1")
    assert ev.info["success"] and ev.value["mmse1"] == 0.0
    assert ev.value["mmse2"] == pytest.approx(get("aim.mmse")(alpha=alpha, rho=rho, T=T)["mmse"],
                                              abs=1e-7)


@pytest.mark.parametrize("T,alpha,rho", [(2, 0.1, 0.5), (3, 0.05, 0.3), (2, 0.03, 1.5)])
def test_one_layer_is_the_single_layer_se(T, alpha, rho):
    """L = 1: kappa = k exactly (the posterior is a point) and V solves the single-layer softmax
    SE; measured difference ~1e-11, asserted at the solver tolerance 1e-7."""
    r = se_multilayer(alpha, rho, T, L=1, log2_points=6, scramblings=2)
    assert r.success and r.kappa[0] == pytest.approx((T * T + T - 2) / 2, abs=1e-12)
    assert r.mmse[0] == pytest.approx(se_softmax(alpha, rho, T).mmse, abs=1e-7)


def test_se_alpha_zero_and_records():
    r = se_multilayer(0.0, 0.5, 2)
    assert r.success and np.all(r.mmse == 1.0)
    r = se_multilayer(0.08, (0.5, 0.5), 2, c=1.0, log2_points=6, scramblings=3)
    for key in ("success", "status", "message", "nit", "residual", "history"):
        assert key in r
    assert r.success and np.all((r.mmse > 0) & (r.mmse < 1))
    assert np.all(r.mmse_se > 0) and np.all(np.isfinite(r.mmse_se))
    # the layer behind the output is the better estimated one, and below the single layer error
    assert r.mmse[1] < r.mmse[0]
    assert r.mmse[1] > se_softmax(0.08, 0.5, 2).mmse


def test_se_above_alpha_pr_cycling_towards_zero_is_perfect_recovery():
    """Warm-started above alpha_PR = 0.375 (rho = 0.5, T = 2), the iteration in log V used to
    alternate between (6e-9, 1.1e-6) and (1.7e-6, 4e-9) until maxiter (60 map evaluations, ~20 s,
    reported as not converged); the linear-regime rule ends it as perfect recovery.  Below
    alpha_PR the rule does not apply (V > 0)."""
    from icl_companion.numerics.aim_multilayer_se import PR_TAIL, alpha_pr_multilayer

    assert alpha_pr_multilayer((0.5, 0.5), 2) == pytest.approx(0.375)
    r = se_multilayer(0.4, (0.5, 0.5), 2, c=1.0, log2_points=6, scramblings=2,
                      warm=(0.0987, 0.0129))
    assert r.success and r.status == 0 and np.all(r.mmse == 0)
    assert "alpha_PR" in r.message and r.nit < 60 - PR_TAIL
    r = se_multilayer(0.3, (0.5, 0.5), 2, c=1.0, log2_points=6, scramblings=2)
    assert r.success and np.all(r.mmse > 1e-4)


@pytest.mark.parametrize("kw,match", [
    (dict(L=0), "L = 0"), (dict(rho=(0.5, 0.5, 0.5)), "rho has 3 entries"),
    (dict(c=-0.1), "c = -0.1"), (dict(beta=0.0), "beta = 0.0"), (dict(delta=-1e-3), "Delta"),
    (dict(rho=(0.5, -1.0)), "rho"), (dict(T=1), "T = 1"), (dict(known=(2,)), "known")])
def test_se_bad_inputs(kw, match):
    args = dict(alpha=0.1, rho=(0.5, 0.5), T=2)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        se_multilayer(**args)


@pytest.mark.parametrize("argv,name", [
    (["c=-1"], "c"), (["beta=0"], "beta"), (["Delta=-0.1"], "Delta"), (["c=0.5"], "c"),
    (["T=5"], "T"), (["L=0"], "L"), (["L=3"], "L"), (["L=1"], "L")])
def test_cli_bad_inputs_exit_2(iclc, argv, name):
    """Bad input of the issue (L < 1, per-layer inputs not matching L, c < 0, beta <= 0,
    Delta < 0) and the catalogue's own domain: one ``error:`` line naming the parameter, exit 2."""
    base = [a for a in ("alpha=0.1", "rho1=0.5", "rho2=0.5", "T=2")
            if a.split("=")[0] not in {x.split("=")[0] for x in argv}]
    r = iclc("eval", "aim.mmse_multilayer", *base, *argv)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr
    assert f"{name} = " in lines[0] or f"{name}=" in lines[0] or f"'{name}'" in lines[0], lines[0]


def test_sampler_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="L = 0"):
        ml.sample_multilayer(rng, 8, 0.5, 2, L=0, n=3)
    with pytest.raises(ValueError, match="rho has 2 entries but L = 3"):
        ml.sample_multilayer(rng, 8, (0.5, 0.5), 2, L=3, n=3)
    with pytest.raises(ValueError, match="c = -1"):
        ml.sample_multilayer(rng, 8, 0.5, 2, n=3, c=-1.0)
    with pytest.raises(ValueError, match="Delta"):
        ml.sample_multilayer(rng, 8, 0.5, 2, n=3, delta=-0.5)


# ------------------------------------------------------------------ GAMP-RIE and GD
def test_gamp_multilayer_runs_records_and_is_reproducible():
    D = ml.sample_multilayer(np.random.default_rng(4), 24, 0.5, 2, L=2, alpha=0.15, c=1.0)
    kw = dict(c=1.0, S_true=D.S, max_iter=8, rule=QuadratureRule(n_final=10))
    r1 = gamp_rie_multilayer(D.X, D.y, (0.5, 0.5), **kw)
    r2 = gamp_rie_multilayer(D.X, D.y, (0.5, 0.5), **kw)
    assert np.array_equal(r1.S_hat, r2.S_hat)
    for key in ("success", "status", "message", "nit", "residual", "history"):
        assert key in r1
    assert r1.history["mse"].shape == (r1.nit, 2) and np.all(np.isfinite(r1.mse))
    # it learns: both layers below the prior-mean error 1 (d = 24 is small: a loose bound)
    assert np.all(r1.mse < 1.0)
    # the known-layer variant keeps S_1
    r3 = gamp_rie_multilayer(D.X, D.y, (0.5, 0.5), known={1: D.S[0]}, **kw)
    assert np.array_equal(r3.S_hat[0], D.S[0]) and r3.mse[0] == 0.0


def test_gamp_multilayer_without_skip_needs_the_heavier_damping():
    """c = 0 (noisy output, folded channel): on this teacher the check's former iteration (damping
    0.5, no estimate damping) oscillates through 60 iterations; ``gamp_settings(0, ...)`` (0.8 on
    (V, omega), 0.5 on S_hat) converges, to errors below the prior's (both layers < 1)."""
    rng = np.random.default_rng(1001)
    D = ml.sample_multilayer(rng, 20, (0.5, 0.5), 2, L=2, alpha=0.15, c=0.0, delta=0.05)
    kw = dict(c=0.0, delta=0.05, S_true=D.S, tol=1e-6)
    old = gamp_rie_multilayer(D.X, D.y, (0.5, 0.5), damping=0.5, damp_S=0.0, max_iter=60, **kw)
    new = gamp_rie_multilayer(D.X, D.y, (0.5, 0.5), **gamp_settings(0.0, 60), **kw)
    assert not old.success and old.nit == 60
    assert new.success and new.nit < 200 and np.all(new.mse < 1.0)
    assert gamp_settings(1.0, 60) == {"damping": 0.5, "damp_S": 0.0, "max_iter": 60}


def test_gamp_multilayer_bad_inputs():
    D = ml.sample_multilayer(np.random.default_rng(4), 10, 0.5, 2, L=2, n=20)
    with pytest.raises(ValueError, match="c = -1"):
        gamp_rie_multilayer(D.X, D.y, (0.5, 0.5), c=-1.0)
    with pytest.raises(ValueError, match="damping"):
        gamp_rie_multilayer(D.X, D.y, (0.5, 0.5), damping=1.0)
    with pytest.raises(ValueError, match="known"):
        gamp_rie_multilayer(D.X, D.y, (0.5, 0.5), known={3: D.S[0]})


@pytest.mark.parametrize("L,T,c", [(2, 2, 1.0), (2, 3, 0.0), (3, 2, 0.5)])
def test_gd_gradient_finite_differences_and_forward(L, T, c):
    rng = np.random.default_rng(L + T)
    D = ml.sample_multilayer(rng, 6, 0.5, T, L=L, n=5, c=c, beta=1.3)
    Ws = [rng.standard_normal((6, 3)) for _ in range(L)]
    Ss = [W @ W.T / math.sqrt(18) for W in Ws]
    yh = ml.outputs_from_indices([indices(D.X, S) for S in Ss], c, 1.3)
    loss, gs = multilayer_loss_and_grad(Ws, D.X, D.y, c, 1.3)
    assert loss == pytest.approx(np.sum((yh - D.y) ** 2) / 6, rel=1e-12)
    e = 1e-6
    for lay in range(L):
        for i, j in [(0, 0), (3, 2), (5, 1)]:
            Wp = [w.copy() for w in Ws]
            Wm = [w.copy() for w in Ws]
            Wp[lay][i, j] += e
            Wm[lay][i, j] -= e
            fd = (multilayer_loss_and_grad(Wp, D.X, D.y, c, 1.3)[0]
                  - multilayer_loss_and_grad(Wm, D.X, D.y, c, 1.3)[0]) / (2 * e)
            assert gs[lay][i, j] == pytest.approx(fd, rel=1e-5, abs=1e-9)


# ------------------------------------------------------------------ the check
def test_finite_size_fit():
    ds = (40, 60, 80)
    m = np.array([[0.5 + 2.0 / d, 0.3 - 1.0 / d] for d in ds])
    f = finite_size_fit(ds, m, np.full((3, 2), 0.01))
    assert np.allclose(f["m_inf"], [0.5, 0.3]) and np.allclose(f["b"], [2.0, -1.0])
    assert np.allclose(f["allowance"], (np.abs(f["b"]) + 2 * f["b_se"]) / 80)
    f2 = finite_size_fit((20, 40), m[:2], np.full((2, 2), 0.01))
    assert np.allclose(f2["allowance"], np.abs(f2["b"]) / 40)


def test_check_multilayer_quick_passes_and_can_fail():
    """The quick check passes against the SE and fails against wrong theories on the same runs:
    no learning (the prior-mean error 1 for both layers) or the two layers' errors exchanged."""
    measured = measure(True, 0)
    se = functools.lru_cache(maxsize=None)(se_theory(True))
    assert judge(True, measured, se).ok()
    th = se(0.15, 1.0, 0.0)[0]
    for wrong in ((1.0, 1.0), (th[1], th[0])):
        out = judge(True, measured, lambda a, c, d, w=wrong: (np.array(w), np.zeros(2), 0.0))
        assert not out.ok()
    # the same runs with GAMP-RIE converged on one teacher only: not judged, a failure
    short = {k: {d: {**r, "converged": 1} for d, r in v.items()} for k, v in measured.items()}
    out = judge(True, short, se)
    assert not out.ok() and out.notes and all(c.passed for c in out.comparisons)


@pytest.mark.slow
def test_full_multilayer_check():
    rep = run_one(load_checks()["aim.multilayer_se_vs_gamp"], quick=False, seed=0)
    print(rep.text())
    assert rep.status == "passed", rep.text()


def test_derivation_anchors_exist():
    """Every ``docs/derivations/aim_multilayer.md#anchor`` (or ``#anchor`` in a docstring of these
    modules) names a heading of the page."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    page = (root / "docs/derivations/aim_multilayer.md").read_text()
    heads = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
             for h in re.findall(r"^#+ (.+)$", page, flags=re.M)}
    files = ["numerics/aim_multilayer.py", "numerics/aim_multilayer_channel.py",
             "numerics/aim_multilayer_se.py", "numerics/aim_multilayer_gamp.py",
             "theory/aim_multilayer.py", "validation/aim_multilayer.py",
             "figures/aim_multilayer.py", "docs/derivations/aim_multilayer.md"]
    refs = set()
    for f in files:
        text = (root / f).read_text()
        refs |= set(re.findall(r"aim_multilayer\.md#([a-z0-9-]+)", text))
        refs |= set(re.findall(r"``#([a-z0-9-]+)``", text))
        refs |= set(re.findall(r"\]\(#([a-z0-9-]+)\)", text))
    assert refs and refs <= heads, refs - heads
