"""xattn.* (reconstructed model of arXiv:2602.04872): SymPy proofs, independent references,
hand-written gradients, sampler, CLI bad input, and the verification checks' power to fail."""


import mpmath as mp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import icl_companion.theory.xattn as tx
from icl_companion.numerics.xattn_data import (TaskFamily, population_tasks, sample_moments, sample_prompts,
                                 sample_tasks)
from icl_companion.numerics.xattn_models import (CAParam, ca_eigen_excess, ca_forward, ca_matrix_excess,
                                   divergence_report, lsa_excess, lsa_optimal_G,
                                   noreinject_eigen_excess, token_forward, train_ca_population)
from icl_companion.theory.registry import evaluate, get
from icl_companion.validation.checks import load_checks, run_one

MULTI = TaskFamily("random_loadings", d1=3, d2=2, k=2, m_lo=1, m_hi=3, sigma2=0.25)


# ------------------------------------------------------------------------------- SymPy layer
@pytest.mark.parametrize("name", ["push_through_check", "bayes_risk_form_check", "neumann_check",
                                  "ca_recursion_check", "alpha_T_foc_check",
                                  "lsa_normal_equation_check", "isotropic_one_layer_check",
                                  "no_shift_gap_check", "chebyshev_residual_check"])
def test_sympy_identities(name):
    assert getattr(tx, name)() is True


def test_catalogue_is_reconstructed():
    for rid in ("xattn.alpha_star", "xattn.rho_star", "xattn.layers_needed", "xattn.alpha_T",
                "xattn.lsa_gap", "xattn.bayes_risk"):
        r = get(rid)
        assert r.status == "reconstructed" and "reconstructed" in r.status_note


def test_show_formulas():
    for r in ("alpha_star", "rho_star", "layers_needed", "alpha_T", "lsa_gap", "bayes_risk"):
        res = get(f"xattn.{r}")
        assert res.describe() and res.describe(latex=True)
        assert "reconstructed" in res.describe()


def test_alpha_star_rho_star_minimax():
    """alpha* minimises max |1 - alpha lambda| over the interval (brute force), rho* is the value."""
    for m_lo, m_hi, tau2 in [(1, 3, 1), (0.2, 5, 1), (0.5, 0.5, 1), (1, 4, 0.3)]:
        a = evaluate("xattn.alpha_star", m_lo=m_lo, m_hi=m_hi, tau2=tau2).value
        rho = evaluate("xattn.rho_star", m_lo=m_lo, m_hi=m_hi, tau2=tau2).value
        worst = lambda al: max(abs(1 - al * (tau2 + m_lo)), abs(1 - al * (tau2 + m_hi)))
        ref = minimize_scalar(worst, bounds=(0, 2 / (tau2 + m_lo)), method="bounded",
                              options={"xatol": 1e-12})
        assert a == pytest.approx(ref.x, abs=1e-7) and rho == pytest.approx(ref.fun, abs=1e-7)
    assert evaluate("xattn.alpha_star", m_lo=1, m_hi=3).value == pytest.approx(2 / 6)


def test_layers_needed():
    assert evaluate("xattn.layers_needed", m_lo=1, m_hi=3, eps=1 / 9).value == 2  # rho* = 1/3
    assert evaluate("xattn.layers_needed", m_lo=2, m_hi=2, eps=1e-9).value == 1   # isotropic
    for m_lo, m_hi, eps in [(1, 3, 1e-3), (0, 10, 1e-6), (2, 2.5, 0.3)]:
        rho = (m_hi - m_lo) / (2 + m_lo + m_hi)
        T = evaluate("xattn.layers_needed", m_lo=m_lo, m_hi=m_hi, eps=eps).value
        assert rho**T <= eps * (1 + 1e-12) and (T == 1 or rho ** (T - 1) > eps)


@pytest.mark.parametrize("l1,l2,w1,w2,T", [(2, 4, 0.25, 0.375, 1), (2, 4, 0.25, 0.375, 7),
                                           (1.5, 6, 2.0, 0.01, 3), (5, 1.2, 0.3, 0.9, 12)])
def test_alpha_T_is_the_minimiser(l1, l2, w1, w2, T):
    f = lambda a: mp.mpf(w1) * (1 - a * l1) ** (2 * T) + mp.mpf(w2) * (1 - a * l2) ** (2 * T)
    with mp.workdps(40):
        ref = mp.findroot(lambda a: mp.diff(f, a), 1 / max(l1, l2) + 1e-3 * 0)
    assert evaluate("xattn.alpha_T", lambda1=l1, lambda2=l2, w1=w1, w2=w2, T=T).value == \
        pytest.approx(float(ref), rel=1e-10)
    big = evaluate("xattn.alpha_T", lambda1=l1, lambda2=l2, w1=w1, w2=w2, T=10**6).value
    assert big == pytest.approx(2 / (l1 + l2), rel=1e-5)


def _gap_mpmath(dist, lo, hi, p=0.5):
    if dist == "uniform":
        E = lambda f: mp.quad(f, [lo, hi]) / (hi - lo)
    else:
        E = lambda f: p * f(mp.mpf(lo)) + (1 - p) * f(mp.mpf(hi))
    eg, eg2 = E(lambda g: g), E(lambda g: g * (1 + g))
    return float(E(lambda g: g / (1 + g)) - eg**2 / eg2), float(eg / eg2), float(E(lambda g: 1 / (1 + g)))


@pytest.mark.parametrize("dist,lo,hi,p", [("uniform", 1, 3, 0.5), ("uniform", 0, 9, 0.5),
                                          ("two_point", 1, 3, 0.5), ("two_point", 0.5, 4, 0.2)])
def test_lsa_gap_vs_mpmath(dist, lo, hi, p):
    v = evaluate("xattn.lsa_gap", dist=dist, m_lo=lo, m_hi=hi, p=p).value
    gap, gam, bayes = _gap_mpmath(dist, lo, hi, p)
    assert v["gap"] == pytest.approx(gap, rel=1e-12)
    assert v["gamma_star"] == pytest.approx(gam, rel=1e-12)
    assert v["bayes_risk"] == pytest.approx(bayes, rel=1e-12)
    assert v["gap"] > 0


def test_lsa_gap_degenerate_and_continuity():
    assert evaluate("xattn.lsa_gap", dist="uniform", m_lo=2, m_hi=2).value["gap"] == 0
    assert evaluate("xattn.lsa_gap", dist="two_point", m_lo=1, m_hi=3, p=1).value["gap"] == 0
    near = evaluate("xattn.lsa_gap", dist="uniform", m_lo=2, m_hi=2 + 1e-6).value["gap"]
    assert 0 <= near < 1e-12  # removable singularity handled in 50-digit arithmetic


def test_bayes_risk_push_through_and_lsa_normal_equations():
    rng = np.random.default_rng(3)
    G, b = rng.standard_normal((5, 2)), rng.standard_normal(2)
    v = evaluate("xattn.bayes_risk", Gamma=G.tolist(), beta=b.tolist(), sigma2=0.3, tau2=0.7).value
    Sigma = 0.7 * np.eye(5) + G @ G.T
    s = G @ b
    w = np.linalg.solve(Sigma, s)
    assert np.allclose(v["w"], w, atol=1e-13)
    assert v["risk"] == pytest.approx(0.3 + b @ b - s @ w, rel=1e-12)
    # no covariate shift: the optimal LSA is Sigma^-1 and the gap vanishes
    # (docs/derivations/xattn.md)
    S = np.repeat(Sigma[None], 30, axis=0)
    ss = rng.standard_normal((30, 5))
    ws = np.linalg.solve(S, ss[..., None])[..., 0]
    Gopt = lsa_optimal_G(ss, S, ws, np.full(30, 1 / 30))
    assert np.allclose(Gopt, np.linalg.inv(Sigma), atol=1e-8)
    assert lsa_excess(Gopt, ss, S, ws, np.full(30, 1 / 30), grad=False) < 1e-18


def test_zfb_reduction():
    G = np.array([[1.0], [0.5], [0.0]])
    lam = np.linalg.eigvalsh(np.eye(3) + G @ G.T)
    for N in (10**4, 10**6):
        r = tx.zfb_no_shift_risk(G, N, N)
        assert r * N == pytest.approx((3 + 1) * lam.sum(), rel=20 / N**0.5)


def test_chebyshev_beats_stationary():
    for T in (2, 5, 9):
        steps = tx.chebyshev_steps(1, 3, T)
        lam = np.linspace(2, 4, 2001)
        resid = np.abs(np.prod(1 - steps[:, None] * lam[None], axis=0)).max()
        c, h = 3.0, 1.0
        assert resid == pytest.approx(1 / np.cosh(T * np.arccosh(c / h)), rel=1e-6)
        assert resid <= (1 / 3) ** T + 1e-15


# ------------------------------------------------------------------------------- numerics layer
def test_eigen_and_matrix_forms_agree_and_gradients():
    rng = np.random.default_rng(0)
    tk = sample_tasks(MULTI, rng, 40)
    lam, c = tk.eigen()
    a, b = np.array([0.3, 0.2, 0.35]), np.array([-0.3, -0.25, -0.4])
    f1, g1 = ca_eigen_excess(a, b, lam, c, tk.weight)
    f2, g2 = ca_matrix_excess(tk.Sigma, tk.s, tk.Sigma, tk.w, tk.weight, a, b)
    assert f1 == pytest.approx(f2, rel=1e-12)
    for x, y in zip(g1, g2):
        assert np.allclose(x, y, rtol=1e-10, atol=1e-14)
    h = 1e-6
    for i in range(3):
        e = np.eye(3)[i] * h
        fd_a = (ca_eigen_excess(a + e, b, lam, c, tk.weight, False)
                - ca_eigen_excess(a - e, b, lam, c, tk.weight, False)) / (2 * h)
        fd_b = (ca_eigen_excess(a, b + e, lam, c, tk.weight, False)
                - ca_eigen_excess(a, b - e, lam, c, tk.weight, False)) / (2 * h)
        fd_t = (ca_eigen_excess(a + e, -(a + e), lam, c, tk.weight, False)
                - ca_eigen_excess(a - e, -(a - e), lam, c, tk.weight, False)) / (2 * h)
        assert g1[0][i] == pytest.approx(fd_a, rel=1e-6)
        assert g1[1][i] == pytest.approx(fd_b, rel=1e-6)
        _, gt = ca_eigen_excess(a, -a, lam, c, tk.weight)
        assert gt[2][i] == pytest.approx(fd_t, rel=1e-6)
        fd_n = (noreinject_eigen_excess(a + e, lam, c, tk.weight, False)
                - noreinject_eigen_excess(a - e, lam, c, tk.weight, False)) / (2 * h)
        assert noreinject_eigen_excess(a, lam, c, tk.weight)[1][i] == pytest.approx(fd_n, rel=1e-6)
    G = rng.standard_normal((5, 5)) * 0.1
    f, g = lsa_excess(G, tk.s, tk.Sigma, tk.w, tk.weight)
    E = np.zeros((5, 5))
    E[1, 3] = h
    fd = (lsa_excess(G + E, tk.s, tk.Sigma, tk.w, tk.weight, False)
          - lsa_excess(G - E, tk.s, tk.Sigma, tk.w, tk.weight, False)) / (2 * h)
    assert g[1, 3] == pytest.approx(fd, rel=1e-6)


def test_token_level_equals_vector_recursions():
    rng = np.random.default_rng(1)
    tk = sample_tasks(MULTI, rng, 6)
    P = sample_prompts(rng, tk, 30)
    Sh = np.einsum("nld,nle->nde", P.X, P.X) / 30
    sh = np.einsum("nld,nl->nd", P.X, P.y) / 30
    a, b = np.array([0.3, 0.2, 0.1]), np.array([-0.3, -0.25, -0.05])
    wT = ca_forward(Sh, sh, a, b)
    assert np.allclose(token_forward(P.X, P.y, P.xq, a, b), np.einsum("nd,nd->n", wT, P.xq),
                       atol=1e-12)
    # ablation: w_{t+1} = w_t + alpha D_t^2 (s_hat - Sigma_hat w_t), D_{t+1} = (I - alpha D_t Sigma_hat
    # D_t) D_t (all functions of Sigma_hat); prediction x_q^T w_T
    w = np.zeros_like(sh)
    D = np.broadcast_to(np.eye(5), Sh.shape).copy()
    for at in a:
        D2 = D @ D
        w = w + at * np.einsum("nde,ne->nd", D2, sh - np.einsum("nde,ne->nd", Sh, w))
        D = (np.eye(5) - at * D @ Sh @ D) @ D
    tok = token_forward(P.X, P.y, P.xq, a, -a, reinject=False)
    assert np.allclose(tok, np.einsum("nd,nd->n", w, P.xq), atol=1e-12)


def test_wishart_moments_match_raw_prompts():
    """E Sigma_hat = Sigma and Var s_hat = (Sigma Var y + s s^T)/L (Isserlis), 4 SE."""
    rng = np.random.default_rng(2)
    tk = sample_tasks(MULTI, rng, 1)
    n, L = 20000, 20
    rep = tk.subset(np.zeros(n, dtype=int))
    Sh, sh = sample_moments(rng, rep, L)
    P = sample_prompts(rng, rep.subset(np.arange(2000)), L)
    sh_raw = np.einsum("nld,nl->nd", P.X, P.y) / L
    C = (tk.Sigma[0] * tk.vary[0] + np.outer(tk.s[0], tk.s[0])) / L
    for arr in (sh, sh_raw):
        m = len(arr)
        se = np.sqrt(np.diag(C) / m)
        assert np.all(np.abs(arr.mean(0) - tk.s[0]) <= 4 * se)
        v = arr.var(0, ddof=1)
        assert np.all(np.abs(v - np.diag(C)) <= 4 * np.diag(C) * np.sqrt(2 / m) * 1.5)
    se_S = np.sqrt((tk.Sigma[0] ** 2 + np.outer(np.diag(tk.Sigma[0]), np.diag(tk.Sigma[0]))) / L / n)
    assert np.all(np.abs(Sh.mean(0) - tk.Sigma[0]) <= 4 * se_S)


def test_divergence_guard_and_params():
    A = np.array([[[4.0, 0.0], [0.0, 1.0]]])
    assert divergence_report(A, np.full(3, -0.45))["n_divergent"] == 0   # 0.45 < 2/4
    assert divergence_report(A, np.full(3, -0.55))["n_divergent"] == 1   # 0.55 > 2/4
    with pytest.raises(ValueError, match="T = 0"):
        CAParam(0)
    p = CAParam(3, two_param=True, shared=False)
    a, b = p.unpack(np.arange(6.0))
    assert a.tolist() == [0, 1, 2] and b.tolist() == [3, 4, 5]
    with pytest.raises(ValueError, match="m_lo"):
        TaskFamily(m_lo=3, m_hi=1)
    with pytest.raises(ValueError, match="p = 1.5"):
        TaskFamily(p=1.5)


def test_trained_alpha_matches_closed_form():
    tasks = population_tasks(TaskFamily("fixed_direction", m_lo=1, m_hi=3, dist="two_point"))
    lam, c = tasks.eigen()
    for T in (3, 20):
        r = train_ca_population(tasks, CAParam(T))
        th = tx.alpha_T(lam[0, 0], lam[1, 0], 0.5 * c[0, 0], 0.5 * c[1, 0], T)
        assert r.success and r.x[0] == pytest.approx(th, abs=1e-8)


# ------------------------------------------------------------------------------------ CLI
@pytest.mark.parametrize("args,needle", [
    (["xattn.alpha_star", "m_lo=3", "m_hi=1"], "m_lo = 3 must be <= m_hi = 1"),
    (["xattn.rho_star", "m_lo=-1", "m_hi=1"], "m_lo = -1 is outside the allowed domain"),
    (["xattn.layers_needed", "m_lo=1", "m_hi=3", "eps=1"], "eps = 1 is outside the allowed domain"),
    (["xattn.alpha_T", "lambda1=2", "lambda2=4", "w1=1", "w2=1", "T=0"], "T = 0 is outside"),
    (["xattn.lsa_gap", "dist=two_point", "m_lo=1", "m_hi=3", "p=1.5"], "p = 1.5 is outside"),
])
def test_cli_bad_input(iclc, args, needle):
    r = iclc("eval", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("error:") and needle in r.stderr, r.stderr


@pytest.mark.parametrize("rid,kw,needle", [
    ("xattn.layers_needed", dict(m_lo=1, m_hi=3, eps=0), "eps = 0 is outside the allowed domain"),
    ("xattn.lsa_gap", dict(dist="normal", m_lo=1, m_hi=3), "one of uniform, two_point"),
    ("xattn.lsa_gap", dict(dist="uniform", m_lo=0, m_hi=0), "m_hi = 0 must be > 0"),
    ("xattn.bayes_risk", dict(Gamma=[[1, 0], [0, 1]], beta=[1, 2, 3]), "Gamma has 2 columns"),
    ("xattn.alpha_T", dict(lambda1=2, lambda2=-4, w1=1, w2=1, T=2), "lambda2 = -4 is outside"),
    ("xattn.alpha_T", dict(lambda1=2, lambda2=4, w1=1, w2=1, T=1.5), "T = 1.5 is not an integer"),
])
def test_bad_input_python_api(rid, kw, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        evaluate(rid, **kw)


def test_cli_eval_json(iclc):
    import json

    r = iclc("eval", "xattn.alpha_T", "lambda1=2", "lambda2=4", "w1=1", "w2=1", "T=1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "reconstructed"
    assert out["value"] == pytest.approx(6 / 20, rel=1e-12)


# --------------------------------------------------------------------------- verification
XATTN_CHECKS = ["xattn.bayes_ols", "xattn.ca_alpha_T", "xattn.ca_rate", "xattn.ca_two_param",
                "xattn.lsa_gap", "xattn.finite_L"]


@pytest.mark.parametrize("cid", XATTN_CHECKS)
def test_checks_pass_quick(cid):
    rep = run_one(load_checks()[cid], quick=True, seed=1)
    assert rep.status == "passed", rep.text()


@pytest.mark.parametrize("cid,rid,key,factor", [
    ("xattn.bayes_ols", "xattn.bayes_risk", "risk", 1.03),
    ("xattn.ca_alpha_T", "xattn.alpha_T", None, 1.001),
    ("xattn.lsa_gap", "xattn.lsa_gap", "gap", 1.03),
    ("xattn.ca_rate", "xattn.rho_star", None, 1.01),
])
def test_checks_fail_when_formula_is_perturbed(monkeypatch, cid, rid, key, factor):
    r = get(rid)
    orig = r.func

    def perturbed(**kw):
        v = orig(**kw)
        if key is None:
            return factor * v
        v = dict(v)
        v[key] = factor * v[key]
        return v

    monkeypatch.setattr(r, "func", perturbed)
    rep = run_one(load_checks()[cid], quick=True, seed=1)
    assert rep.status == "failed", rep.text()
