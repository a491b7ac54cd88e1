"""NumPy multi-head softmax/linear attention (He, Pan, Chen, Yang 2025): gradients, forward pass,
reproducibility, samplers, pattern metrics, bad inputs, and the trained-model checks."""

import math

import numpy as np
import pytest

from icl_companion.numerics.linear import Prompts
from icl_companion.numerics.softmax_attention import (Adam, TrainConfig, forward, init_params, kq_circuits,
                                        loss_and_grad, ov_circuits, train)
from icl_companion.numerics.softmax_data import (Setting, ar1_covariance, default_supports, embed_prompts,
                                   sample_tokens)
from icl_companion.numerics.softmax_patterns import (extract_omega_mu, head_patterns, multitask_omega_mu,
                                       omega_mu_history)

ISO = Setting("isotropic", 4, 7, 0.3)
AR1 = Setting("ar1", 4, 7, 0.3, rho=0.6)
MT = Setting("multitask", 6, 7, 0.1, supports=default_supports(6))
MT_CODE = Setting("multitask", 6, 7, 0.1, supports=default_supports(6), variant="code")


def _fd_grad(params, batch, kind, eps=1e-6):
    num = {}
    for k, v in params.items():
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            for sgn in (1, -1):
                q = {kk: vv.copy() for kk, vv in params.items()}
                q[k][idx] += sgn * eps
                g[idx] += sgn * loss_and_grad(q, batch, kind)[0]
        num[k] = g / (2 * eps)
    return num


@pytest.mark.parametrize("setting", [ISO, AR1, MT], ids=["iso", "ar1", "multitask"])
@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_gradients_match_finite_differences(setting, kind):
    rng = np.random.default_rng(3)
    b = sample_tokens(rng, 5, setting)
    p = {k: 2 * v for k, v in init_params(rng, setting.D, 2, setting.n_out).items()}
    _, g = loss_and_grad(p, b, kind)
    num = _fd_grad(p, b, kind)
    scale = max(np.abs(v).max() for v in g.values())
    for k in g:  # central differences: error O(eps^2 * third derivative) + O(1e-16/eps)
        assert np.abs(g[k] - num[k]).max() <= 1e-7 * scale, k


def _naive_forward(params, batch, kind):
    """Loop over prompts and heads, the paper's formula term by term."""
    WK, WQ, WV, WO = (params[k] for k in ("WK", "WQ", "WV", "WO"))
    H, D = WK.shape[:2]
    n, L = batch.n, batch.L
    out = np.zeros((n, WO.shape[1]))
    for i in range(n):
        toks = batch.full[i] if kind == "linear" else batch.full[i, :L]
        zq = batch.full[i, L]
        for h in range(H):
            logits = np.array([(WK[h] @ z) @ (WQ[h] @ zq) / math.sqrt(D) for z in toks])
            if kind == "softmax":
                a = np.exp(logits - logits.max())
                a /= a.sum()
            else:
                a = logits / L
            out[i] += WO[h] @ sum(a[j] * (WV[h] @ toks[j]) for j in range(len(toks)))
    return out


@pytest.mark.parametrize("setting", [ISO, MT], ids=["iso", "multitask"])
@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_forward_equals_naive_loop(setting, kind):
    rng = np.random.default_rng(4)
    b = sample_tokens(rng, 6, setting)
    p = init_params(rng, setting.D, 3, setting.n_out)
    np.testing.assert_allclose(forward(p, b, kind), _naive_forward(p, b, kind), rtol=1e-12,
                               atol=1e-14)


def test_softmax_is_stable_for_huge_logits():
    rng = np.random.default_rng(0)
    b = sample_tokens(rng, 4, ISO)
    p = {k: 300 * v for k, v in init_params(rng, ISO.D, 2).items()}
    loss, g = loss_and_grad(p, b)
    assert np.isfinite(loss) and all(np.all(np.isfinite(v)) for v in g.values())


def test_training_is_reproducible_and_seed_dependent():
    cfg = TrainConfig(setting=ISO, H=2, steps=30, batch=16, log_every=10)
    r1, r2, r3 = train(cfg, 7), train(cfg, 7), train(cfg, 8)
    for k in r1.params:
        np.testing.assert_array_equal(r1.params[k], r2.params[k])
    np.testing.assert_array_equal(r1.log["loss"], r2.log["loss"])
    assert not np.allclose(r1.params["WK"], r3.params["WK"])
    assert r1.success and r1.log["KQ"].shape == (3, 2, ISO.D, ISO.D)
    assert r1.log["OV"].shape == (3, 2, ISO.D, 1) and list(r1.log["step"]) == [10, 20, 30]


def test_adam_matches_the_reference_update():
    """One Adam step from zero moments moves every parameter by lr * sign(g) (up to eps)."""
    p = {"w": np.array([1.0, -2.0, 3.0])}
    g = {"w": np.array([0.5, -4.0, 1e-3])}
    Adam(p, lr=0.1).step(p, g)
    np.testing.assert_allclose(p["w"], [0.9, -1.9, 2.9], atol=1e-5)


def test_training_reduces_the_loss():
    cfg = TrainConfig(setting=Setting("isotropic", 5, 40, 0.1), H=2, steps=400, batch=64,
                      log_every=100, lr=3e-3)
    r = train(cfg, 0)
    assert r.log["loss"][-1] < 0.8 * r.log["loss"][0]


def _mc_cov(a):
    a = a.reshape(-1, a.shape[-1])
    return np.cov(a.T), a.shape[0]


def test_isotropic_and_ar1_covariances():
    rng = np.random.default_rng(1)
    for st in (Setting("isotropic", 4, 20, 0.3), Setting("ar1", 4, 20, 0.3, rho=0.6)):
        b = sample_tokens(rng, 20_000, st)
        C, n = _mc_cov(b.X)
        Sigma = np.eye(4) if st.kind == "isotropic" else ar1_covariance(4, 0.6)
        # SE of a Gaussian sample covariance: sqrt((S_ij^2 + S_ii S_jj)/n); prompts share beta but
        # x is independent of beta, so the rows are independent
        se = np.sqrt((Sigma ** 2 + np.outer(np.diag(Sigma), np.diag(Sigma))) / n)
        assert np.all(np.abs(C - Sigma) <= 5 * se)
        # E y^2 = E beta^T Sigma beta + sigma2 = tr(Sigma)/d + sigma2, for context and query
        for y in (b.y[..., 0].ravel(), b.yq[:, 0]):
            m, s = np.mean(y ** 2), np.std(y ** 2) / np.sqrt(y.size)
            assert abs(m - (1 + 0.3)) <= 6 * s  # rows share beta: 6 naive SE is a loose bound
        assert np.all(b.zq[:, -1] == 0)


def test_multitask_sampler_moments():
    rng = np.random.default_rng(2)
    b = sample_tokens(rng, 40_000, Setting("multitask", 6, 3, 0.1, supports=default_supports(6)))
    yq = b.yq  # independent prompts: exact i.i.d. samples
    # blog: shared beta ~ N(0, I/6): var y_k = 4/6 + 0.1, cov(y_1, y_2) = |S*|/6 = 2/6
    C = np.cov(yq.T)
    se = np.sqrt((C ** 2 + np.outer(np.diag(C), np.diag(C))) / yq.shape[0])
    np.testing.assert_array_less(np.abs(C - [[4 / 6 + 0.1, 2 / 6], [2 / 6, 4 / 6 + 0.1]]), 5 * se)
    b = sample_tokens(rng, 40_000, Setting("multitask", 6, 3, 0.1, supports=default_supports(6),
                                           variant="code"))
    C = np.cov(b.yq.T)  # code: separate beta_k ~ N(0, I_4), clean query: var 4, cov 0
    se = np.sqrt((C ** 2 + np.outer(np.diag(C), np.diag(C))) / b.n)
    np.testing.assert_array_less(np.abs(C - [[4.0, 0.0], [0.0, 4.0]]), 5 * se)
    v = np.var(b.y[:, 0, 0])  # context: 4 + sigma2 * d_k = 4.4
    assert abs(v - 4.4) <= 5 * 4.4 * np.sqrt(2 / b.n)
    assert b.full.shape == (40_000, 4, 8) and np.all(b.zq[:, 6:] == 0)


def test_sampler_is_seeded():
    a = sample_tokens(np.random.default_rng(5), 3, AR1)
    b = sample_tokens(np.random.default_rng(5), 3, AR1)
    np.testing.assert_array_equal(a.full, b.full)
    np.testing.assert_array_equal(a.yq, b.yq)


def _hand_built(omega, mu, d):
    """Weights whose circuits are exactly KQ^h = omega_h [I_d 0; 0 0], OV^h = mu_h e_{d+1}."""
    H, D = len(omega), d + 1
    P = np.zeros((D, D))
    P[:d, :d] = np.eye(d)
    WK = np.stack([np.eye(D)] * H)
    WQ = np.stack([w * math.sqrt(D) * P for w in omega])
    WV = np.stack([np.eye(D)] * H)
    WO = np.zeros((H, 1, D))
    WO[:, 0, d] = mu
    return {"WK": WK, "WQ": WQ, "WV": WV, "WO": WO}


def test_hand_built_weights_are_the_reduced_predictor():
    from icl_companion.numerics.softmax_reduced import reduced_predict

    omega, mu = [0.2, -0.2, 0.05], [2.0, -2.2, 0.01]
    p = _hand_built(omega, mu, 5)
    b = sample_tokens(np.random.default_rng(0), 50, Setting("isotropic", 5, 40, 0.1))
    P = Prompts(b.X, b.y[..., 0], b.xq, b.yq[:, 0], None, None)
    np.testing.assert_allclose(forward(p, b)[:, 0], reduced_predict(P, omega, mu), rtol=1e-12)
    pat = head_patterns(kq_circuits(p), ov_circuits(p))
    np.testing.assert_allclose(pat.omega, omega)
    np.testing.assert_allclose(pat.mu, mu)
    np.testing.assert_allclose(pat.diag_ratio, 1.0)
    np.testing.assert_allclose(pat.diag_var, 0.0, atol=1e-20)
    np.testing.assert_allclose(pat.ov_last_ratio, 1.0)
    assert pat.dummy.tolist() == [False, False, True] and pat.configuration == "plus-minus"
    assert pat.sign_match.all()
    assert pat.eta_eff == pytest.approx(0.4 + 0.44 + 0.0005)
    assert pat.zero_sum == pytest.approx(0.2 / 4.2)
    assert pat.omega_spread == pytest.approx(0.0, abs=1e-15)


def test_pattern_metrics_detect_broken_patterns():
    p = _hand_built([0.3, 0.25], [1.0, 0.5], 4)
    KQ, OV = kq_circuits(p), ov_circuits(p)
    pat = head_patterns(KQ, OV)
    assert pat.configuration == "same-sign" and pat.zero_sum == pytest.approx(1.0)
    assert pat.omega_spread == pytest.approx(0.05 / 0.275)
    KQ[0, 0, 1] = 0.3  # an off-diagonal entry, a non-constant diagonal, an x-entry of OV
    KQ[1, 2, 2] = 0.5
    OV[0, 0, 0] = 1.0
    OV[1, 4, 0] = -0.5  # mu of head 1 flips sign: sign mismatch
    pat = head_patterns(KQ, OV)
    assert pat.diag_ratio[0] == pytest.approx(np.sqrt(4 * 0.09) / np.sqrt(5 * 0.09))
    assert pat.diag_var[1] > 0 and pat.ov_last_ratio[0] == pytest.approx(1 / np.sqrt(2))
    assert pat.sign_match.tolist() == [True, False]
    one = head_patterns(KQ[:1], OV[:1])
    assert one.configuration == "single"


def test_multitask_and_history_extraction():
    rng = np.random.default_rng(0)
    KQ = rng.normal(size=(3, 8, 8))
    OV = rng.normal(size=(3, 8, 2))
    om, mu = multitask_omega_mu(KQ, OV, 2)
    np.testing.assert_array_equal(om, np.einsum("hii->hi", KQ[:, :6, :6]))
    np.testing.assert_array_equal(mu[:, 1], OV[:, 7, 1])
    KQl, OVl = rng.normal(size=(4, 2, 6, 6)), rng.normal(size=(4, 2, 6, 1))
    o, m = omega_mu_history(KQl, OVl)
    o2, m2 = extract_omega_mu(KQl[2], OVl[2])
    np.testing.assert_array_equal(o[2], o2)
    np.testing.assert_array_equal(m[2], m2)


@pytest.mark.parametrize("make,frag", [
    (lambda: Setting("isotropic", 0, 40, 0.1), "d must be"),
    (lambda: Setting("isotropic", 5, 0, 0.1), "L must be"),
    (lambda: Setting("isotropic", 5, 40, -0.1), "sigma2"),
    (lambda: Setting("gaussian", 5, 40, 0.1), "kind must be"),
    (lambda: Setting("ar1", 5, 40, 0.1, rho=1.0), "rho"),
    (lambda: Setting("multitask", 6, 40, 0.1), "supports"),
    (lambda: Setting("multitask", 6, 40, 0.1, supports=((0, 7),)), "support"),
    (lambda: Setting("multitask", 6, 40, 0.1, supports=default_supports(), variant="x"), "variant"),
    (lambda: sample_tokens(np.random.default_rng(0), 0, ISO), "n must be"),
    (lambda: sample_tokens(np.random.default_rng(0), 2, ISO, L=0), "L must be"),
    (lambda: init_params(np.random.default_rng(0), 6, 0), "H must be"),
    (lambda: TrainConfig(kind="relu"), "kind must be"),
    (lambda: TrainConfig(steps=0), "steps must be"),
    (lambda: TrainConfig(lr=0.0), "lr must be"),
    (lambda: TrainConfig(dtype="float16"), "dtype"),
    (lambda: forward(init_params(np.random.default_rng(0), 5, 1), sample_tokens(
        np.random.default_rng(0), 2, ISO), kind="tanh"), "kind must be"),
    (lambda: head_patterns(np.zeros((2, 6, 6)), np.zeros((3, 6, 1))), "OV must have shape"),
    (lambda: head_patterns(np.zeros((2, 6, 5)), np.zeros((2, 6, 1))), "KQ must have shape"),
    (lambda: head_patterns(np.zeros((2, 6, 6)), np.zeros((2, 6, 1)), dummy_tol=1.0), "dummy_tol"),
    (lambda: ar1_covariance(0, 0.5), "d must be"),
    (lambda: Adam({"w": np.zeros(2)}, lr=-1), "lr must be"),
])
def test_bad_inputs_name_the_parameter(make, frag):
    with pytest.raises(ValueError, match=frag):
        make()


def test_embed_prompts_layout():
    X = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    b = embed_prompts(X, np.ones((2, 3)), np.full((2, 2), 5.0), np.zeros(2))
    assert b.full.shape == (2, 4, 3) and b.L == 3 and b.N == 1
    np.testing.assert_array_equal(b.X, X)
    np.testing.assert_array_equal(b.zq, [[5, 5, 0], [5, 5, 0]])


# ------------------------------------------------------------------------ trained-model checks
@pytest.mark.validation
def test_numpy_gradients_equal_torch_autograd():
    from icl_companion.validation.checks import load_checks, run_one

    rep = run_one(load_checks()["softmax.torch_gradients"], quick=True, seed=3)
    assert rep.status == "passed", rep.text()


def test_two_head_training_check_quick():
    """3 seeds x 3k steps (about 12 s of CPU): the check passes and reports every seed."""
    from icl_companion.validation.checks import load_checks, run_one

    rep = run_one(load_checks()["softmax.trained_two_head"], quick=True, seed=0)
    assert rep.status == "passed", rep.text()
    assert all(f"seed {s}" in rep.facts for s in (0, 1, 2))
    # seed 0 visits the same-sign configuration: reported as stuck, not hidden
    assert any("STUCK" in n for n in rep.notes) == any(
        rep.facts[f"seed {s}"]["configuration"] != "plus-minus" for s in (0, 1, 2))


def test_two_head_check_fails_for_a_wrong_eta_star(monkeypatch):
    """A 10% error in the catalogue's eta* is detected (trained models come from the cache)."""
    from icl_companion.theory.registry import get
    from icl_companion.validation.checks import load_checks, run_one

    r = get("softmax.eta_star")
    orig = r.func
    monkeypatch.setattr(r, "func", lambda **kw: 1.1 * orig(**kw))
    rep = run_one(load_checks()["softmax.trained_two_head"], quick=True, seed=0)
    assert rep.status == "failed", rep.text()


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["softmax.trained_one_head", "softmax.trained_four_head"])
def test_one_and_four_head_checks_quick(cid):
    from icl_companion.validation.checks import load_checks, run_one

    rep = run_one(load_checks()[cid], quick=True, seed=0)
    assert rep.status == "passed", rep.text()


@pytest.mark.slow
def test_multitask_check_quick():
    """2 models x 10k steps (about 1 min of CPU uncached): zero-sum, effective steps, superposition."""
    from icl_companion.validation.checks import load_checks, run_one

    rep = run_one(load_checks()["softmax.multitask"], quick=True, seed=0)
    assert rep.status == "passed", rep.text()
    assert rep.facts["H=3:"]["superposition heads"]


def test_multitask_separate_dgd_theory_and_reduced_pairs():
    """The separate-DGD reference: exact risk vs Monte Carlo, and the ideal +/- pairs at small gamma
    reduce to it (cheap: no training)."""
    from icl_companion.numerics.softmax_reduced import support_dgd_predict
    from icl_companion.validation.softmax_training import (MT_SETTING, ideal_pairs, multitask_reduced_predict,
                                             separate_dgd_theory)

    etas, risks, th = separate_dgd_theory()
    assert etas[0] == pytest.approx(1 / (1 + 4 * 1.1 / 48))
    b = sample_tokens(np.random.default_rng(4), 40_000, MT_SETTING)
    err = np.mean((support_dgd_predict(b.X, b.y, b.xq, MT_SETTING.supports, etas) - b.yq) ** 2, 1)
    assert abs(err.mean() - th) < 4 * err.std() / np.sqrt(err.size)
    om, mu = ideal_pairs(MT_SETTING, etas, 1e-3)
    np.testing.assert_allclose(multitask_reduced_predict(b, om, mu),
                               support_dgd_predict(b.X, b.y, b.xq, MT_SETTING.supports, etas),
                               atol=1e-3)
    with pytest.raises(ValueError, match="variant"):
        separate_dgd_theory(Setting("multitask", 6, 48, 0.1, supports=MT_SETTING.supports))


@pytest.mark.slow
@pytest.mark.parametrize("cid", [
    "softmax.trained_two_head", "softmax.trained_one_head",
    # 500k steps (the paper's budget), seeds 0 and 1: +/- with a dummy head in both (seed 0: two
    # positive heads mu 0.85, 2.58 against one negative -3.42; seed 1: two negative against one
    # positive), |omega| spread 0.041 / 0.023 <= 0.10.  At 100k steps seed 0 had 0.1003.
    "softmax.trained_four_head",
    # 500k steps (the paper's budget), the four models on one batch stream (38 min on one core):
    # zero-sum, effective steps E = eta* on S_n / 0 off S_n (errors <= 0.036) and the H = 3
    # superposition hold, H = 4 meets the risk criterion (+1.31%, allowance 1.82%), but the H = 3
    # risk is 2.15% above separate DGD (0.42109 vs 0.41221; allowance 1% + 4 SE = 1.51%).  With
    # one stream per model it was 1.67% (allowance 1.46%), and 2.2% at 40k steps.
    pytest.param("softmax.multitask", marks=pytest.mark.xfail(
        strict=True, reason="500k steps: H=3 risk 2.15% above N separate DGD (allowance 1.51%)")),
])
def test_training_checks_full(cid):
    from icl_companion.validation.checks import load_checks, run_one

    rep = run_one(load_checks()[cid], quick=False, seed=0)
    assert rep.status == "passed", rep.text()
