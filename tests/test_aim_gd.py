"""AIM data sampler and NumPy GD student: normalisation, reproducibility, gradient, bad inputs."""

import math

import numpy as np
import pytest

from icl_companion.numerics.aim_data import (hardmax_t2, indices, n_samples, sample_aim, sample_weights,
                               softmax_rows)
from icl_companion.numerics.aim_gd import adam, ensemble_errors, gd_estimate, loss_and_grad, train_student


def test_teacher_normalisation():
    """Tr S / d -> sqrt(rho), Tr S^2 / d -> 1 + rho (docs/derivations/aim.md); at d = 400 the fluctuations of
    these traces are O(1/d) (Wishart), so 0.02 is > 4 standard deviations."""
    rng = np.random.default_rng(3)
    for rho in (0.25, 1.0, 2.0):
        _, S = sample_weights(rng, 400, rho)
        assert np.trace(S) / 400 == pytest.approx(math.sqrt(rho), abs=0.02)
        assert np.sum(S * S) / 400 == pytest.approx(1 + rho, abs=0.03 * (1 + rho))


def test_index_variances():
    """Var h_aa = 2 Q0, Var h_ab = Q0 with Q0 = Tr S^2 / d (given S; docs/derivations/aim.md)."""
    rng = np.random.default_rng(4)
    D = sample_aim(rng, 60, 0.5, 3, n=40000)
    Q0 = np.sum(D.S**2) / 60
    diag = D.h[:, [0, 1, 2], [0, 1, 2]].ravel()
    off = D.h[:, [0, 0, 1], [1, 2, 2]].ravel()
    # sample variance of N ~ 1.2e5 Gaussians: relative s.e. sqrt(2/N) ~ 0.4 %; allow 2 %
    assert np.var(diag) / (2 * Q0) == pytest.approx(1, abs=0.02)
    assert np.var(off) / Q0 == pytest.approx(1, abs=0.02)
    assert abs(np.mean(diag)) < 0.05


def test_indices_match_gd_form():
    """h via S equals the GD script's form Z Z^T / sqrt(r) - ||W||^2 / (d sqrt(r)) I, Z = X W / sqrt(d)."""
    rng = np.random.default_rng(5)
    D = sample_aim(rng, 16, 0.5, 3, n=7)
    r = D.W.shape[1]
    Z = D.X @ D.W / math.sqrt(16)
    H = Z @ np.swapaxes(Z, 1, 2) / math.sqrt(r) - np.sum(D.W**2) / (16 * math.sqrt(r)) * np.eye(3)
    np.testing.assert_allclose(D.h, H, atol=1e-12)
    np.testing.assert_allclose(D.y.sum(-1), 1.0, atol=1e-14)


def test_softmax_stable_and_hardmax_labels():
    h = np.array([[[800.0, 0.0], [0.0, -800.0]]])
    y = softmax_rows(h)
    assert np.all(np.isfinite(y)) and y[0, 0, 0] == 1.0
    h = np.array([[[1.0, 0.8], [0.8, 1.0]]])
    assert hardmax_t2(h, "model")[0, 0, 0] == 1.0          # 1 > 0.8
    assert hardmax_t2(h, "sqrt2")[0, 0, 0] == 0.0          # 1 < sqrt(2) * 0.8


def test_sampler_seeded():
    a = sample_aim(np.random.default_rng(7), 20, 0.5, 2, alpha=0.1, channel="hardmax")
    b = sample_aim(np.random.default_rng(7), 20, 0.5, 2, alpha=0.1, channel="hardmax")
    assert a.n == n_samples(0.1, 20) == 40
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)


@pytest.mark.parametrize("kw,match", [
    (dict(d=10, rho=0.0, T=2, alpha=0.1), "rho"),
    (dict(d=10, rho=0.5, T=0, alpha=0.1), "T"),
    (dict(d=10, rho=0.5, T=3, alpha=0.1, channel="hardmax"), "requires T = 2"),
    (dict(d=10, rho=0.5, T=2, alpha=-0.1), "alpha"),
    (dict(d=10, rho=0.5, T=2, alpha=0.1, channel="relu"), "channel"),
    (dict(d=10, rho=0.5, T=2), "exactly one"),
])
def test_sampler_bad_inputs(kw, match):
    with pytest.raises(ValueError, match=match):
        sample_aim(np.random.default_rng(0), **kw)


@pytest.mark.parametrize("T,beta", [(2, 1.0), (3, 1.0), (4, 2.5)])
def test_gradient_vs_finite_differences(T, beta):
    """Central differences along random directions, step 1e-5: truncation O(1e-10)."""
    rng = np.random.default_rng(T)
    D = sample_aim(rng, 10, 0.5, T, alpha=0.4, beta=beta)
    W = rng.standard_normal((10, 5))
    _, g = loss_and_grad(W, D.X, D.y, beta)
    for _ in range(3):
        E = rng.standard_normal(W.shape)
        eps = 1e-5
        fd = (loss_and_grad(W + eps * E, D.X, D.y, beta)[0]
              - loss_and_grad(W - eps * E, D.X, D.y, beta)[0]) / (2 * eps)
        assert np.sum(g * E) == pytest.approx(fd, rel=1e-7, abs=1e-10)


def test_teacher_is_a_global_minimum():
    D = sample_aim(np.random.default_rng(1), 12, 0.5, 3, alpha=0.3)
    loss, g = loss_and_grad(D.W, D.X, D.y)
    assert loss < 1e-28 and np.abs(g).max() < 1e-14


def test_adam_on_quadratic():
    x, losses = adam(lambda x: (float(np.sum((x - 3) ** 2)), 2 * (x - 3)), np.zeros(3), 500, 0.1)
    np.testing.assert_allclose(x, 3.0, atol=1e-3)
    assert losses[-1] < losses[0]


def test_student_reproducible_and_fits():
    D = sample_aim(np.random.default_rng(2), 16, 0.5, 2, alpha=0.5)
    a = train_student(D.X, D.y, 8, np.random.default_rng(9), steps=300)
    b = train_student(D.X, D.y, 8, np.random.default_rng(9), steps=300)
    np.testing.assert_array_equal(a.W, b.W)
    assert a.final_loss < 1e-2 * a.loss[0]
    est = gd_estimate(D.X, D.y, D.S, 8, np.random.default_rng(9), k=3, steps=300)
    assert est.single.shape == (3,) and est.single[0] == pytest.approx(
        np.sum((a.S - D.S) ** 2) / 16)
    # averaging students cannot be worse than their mean error (convexity of the squared error)
    assert est.averaged <= est.single.mean() + 1e-12
    # E_k - s^2/k = mean E_1 - s^2 (algebraic identity behind the E_inf estimator)
    assert est.inf_average == pytest.approx(est.single.mean() - est.spread, rel=1e-12)


def test_infinite_average_estimator_unbiased():
    """Synthetic students S_i = m + sigma G_i (G_i symmetric Gaussian): the estimate
    E_k - s^2/k of E_inf = ||m - S*||^2/d is unbiased, while E_k itself is biased by v/k.
    2000 repetitions: tolerance 4 standard errors of the mean."""
    rng = np.random.default_rng(21)
    d, k, reps = 12, 4, 2000
    S_true = rng.standard_normal((d, d))
    m = S_true + 0.3 * rng.standard_normal((d, d))
    e_inf = np.sum((m - S_true) ** 2) / d
    est, ek = np.empty(reps), np.empty(reps)
    for i in range(reps):
        G = rng.standard_normal((k, d, d))
        _, ek[i], s2 = ensemble_errors(m + 0.5 * (G + G.transpose(0, 2, 1)) / 2, S_true)
        est[i] = ek[i] - s2 / k
    se = est.std(ddof=1) / math.sqrt(reps)
    assert abs(est.mean() - e_inf) < 4 * se
    assert ek.mean() - e_inf > 10 * se          # the naive k-average is visibly biased
    with pytest.raises(ValueError, match="Ss must"):
        ensemble_errors(np.zeros((2, 3, 3)), np.zeros((4, 4)))


@pytest.mark.parametrize("kw,match", [(dict(r=0), "r must"), (dict(r=4, steps=0), "steps"),
                                      (dict(r=4, lr=-1.0), "lr")])
def test_student_bad_inputs(kw, match):
    D = sample_aim(np.random.default_rng(2), 8, 0.5, 2, alpha=0.5)
    with pytest.raises(ValueError, match=match):
        train_student(D.X, D.y, rng=np.random.default_rng(0), **kw)


def test_gradient_shape_errors():
    X = np.zeros((3, 2, 5))
    with pytest.raises(ValueError, match="y must"):
        loss_and_grad(np.zeros((5, 2)), X, np.zeros((3, 2, 3)))
    with pytest.raises(ValueError, match="W must"):
        loss_and_grad(np.zeros((4, 2)), X, np.zeros((3, 2, 2)))


def test_indices_shape_error():
    with pytest.raises(ValueError, match="S must"):
        indices(np.zeros((2, 2, 3)), np.eye(4))


@pytest.mark.validation
def test_gradient_vs_torch_autograd():
    """The hand-written gradient equals torch autograd of the same loss (float64)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    D = sample_aim(np.random.default_rng(11), 12, 0.5, 3, alpha=0.3, beta=1.7)
    W = np.random.default_rng(12).standard_normal((12, 6))
    loss, g = loss_and_grad(W, D.X, D.y, 1.7)
    Wt = torch.tensor(W, requires_grad=True)
    X, y = torch.tensor(D.X), torch.tensor(D.y)
    d, r = 12, 6
    S = Wt @ Wt.T / math.sqrt(r * d)
    H = X @ S @ X.transpose(1, 2) / math.sqrt(d) - torch.trace(S) / math.sqrt(d) * torch.eye(3,
                                                                                           dtype=X.dtype)
    lt = ((torch.softmax(1.7 * H, dim=-1) - y) ** 2).sum() / d
    lt.backward()
    assert lt.item() == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(Wt.grad.numpy(), g, rtol=1e-10, atol=1e-13)
