"""Gradient-descent student for the softmax AIM: NumPy, hand-written gradient, full-batch Adam.

The protocol of the authors' ``GD_softmax_averaged.py`` (Boncoraglio et al. 2025;
``docs/derivations/aim.md#gradient-descent-students``): a student of the teacher's architecture and
width ``r = rho d``,

    H = X S X^T / sqrt(d) - Tr S / sqrt(d) I,   S = W W^T / sqrt(r d),
    y_hat = softmax_beta(H)  (rows),

initialised with ``W ~ N(0, 1)``, trained on the loss ``(1/d) sum_{mu,a,b} (y_hat - y)^2`` (no
regularisation) by full-batch Adam (lr 0.1, 1000 steps in the paper).  A single student estimates
``S`` by its own ``S``; the "averaged" estimate averages ``S`` over ``k`` students trained from
independent initialisations on the same data (the paper uses ``k = 32``).

Gradient (with ``Z = X W``, ``c = 1 / (sqrt(r d) sqrt(d))``, so ``H = c Z Z^T - c ||W||_F^2 I``):
``G = dL/dy_hat = 2 (y_hat - y) / d``; softmax backward ``D_ab = beta y_hat_ab (G_ab - sum_e G_ae
y_hat_ae)``; ``dL/dZ = c (D + D^T) Z``; ``dL/dW = sum_mu X^T dL/dZ - 2 c (sum_mu tr D) W``.
Cost ``O(n T d r)`` per step, memory ``O(n T (d + r))``.

If GD returned a sample of the posterior (a heuristic, not assumed here), one student would have
error ``~ 2 MMSE`` and the average of ``k`` students ``~ (1 + 1/k) MMSE``.  :func:`gd_estimate` also
returns an assumption-free, unbiased estimate of the error of the *infinitely* averaged student.

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, "Bayes optimal learning of
   attention-indexed models", NeurIPS 2025, arXiv:2506.01582 (GD experiment, code
   ``GD_softmax_averaged.py``).
.. [2] D. P. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR 2015.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from icl_companion.numerics.record import SolverRecord, make_record

from icl_companion.numerics.aim_data import as_observations, softmax_rows

__all__ = ["loss_and_grad", "StudentResult", "train_student", "GDEstimate", "gd_estimate",
           "ensemble_errors", "adam"]


def _check(X, y, W):
    X, y = as_observations(X, y)
    W = np.asarray(W, dtype=float)
    d = X.shape[2]
    if W.ndim != 2 or W.shape[0] != d:
        raise ValueError(f"W must have shape (d, r) with d = {d}, got {W.shape}")
    return X, y, W


def loss_and_grad(W: np.ndarray, X: np.ndarray, y: np.ndarray, beta: float = 1.0,
                  channel=None) -> tuple[float, np.ndarray]:
    """Loss ``(1/d) sum (g(H(W)) - y)^2`` and its gradient with respect to ``W``.

    Parameters
    ----------
    W : ndarray (d, r)
    X : ndarray (n, T, d)
    y : ndarray (n, T, T)
    beta : float
        Softmax inverse temperature (when ``channel`` is None).
    channel : Channel, optional
        Output ``g = channel.output`` and its vector-Jacobian product ``channel.output_vjp``
        (default: the softmax at ``beta``; a non-differentiable channel raises ``ValueError``).

    Returns
    -------
    (float, ndarray (d, r))
    """
    X, y, W = _check(X, y, W)
    n, T, d = X.shape
    r = W.shape[1]
    c = 1.0 / (math.sqrt(r * d) * math.sqrt(d))
    Z = X @ W                                                   # (n, T, r)
    H = c * np.matmul(Z, np.swapaxes(Z, 1, 2))
    i = np.arange(T)
    H[:, i, i] -= c * np.sum(W * W)
    if channel is None:
        yh = softmax_rows(H, beta)
    else:
        yh = channel.output(H)
    diff = yh - y
    loss = float(np.sum(diff * diff) / d)
    G = (2.0 / d) * diff
    if channel is None:
        D = beta * yh * (G - np.sum(G * yh, axis=-1, keepdims=True))
    else:
        D = channel.output_vjp(H, G)
    dZ = c * np.matmul(D + np.swapaxes(D, 1, 2), Z)
    grad = X.reshape(-1, d).T @ dZ.reshape(-1, r)
    grad -= 2.0 * c * np.trace(D, axis1=1, axis2=2).sum() * W
    return loss, grad


def adam(grad_fn, x0: np.ndarray, steps: int, lr: float, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8):
    """Adam (Kingma & Ba 2015, Algorithm 1; torch's defaults) on ``grad_fn(x) -> (loss, grad)``.

    Returns ``(x, losses)`` with the loss before each step.
    """
    x = np.array(x0, dtype=float, copy=True)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    losses = np.empty(steps)
    for t in range(1, steps + 1):
        loss, g = grad_fn(x)
        losses[t - 1] = loss
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh = m / (1 - b1**t)
        vh = v / (1 - b2**t)
        x -= lr * mh / (np.sqrt(vh) + eps)
    return x, losses


class StudentResult(SolverRecord):
    """One trained student: ``W``, ``S``, ``loss`` history, ``final_loss``, ``grad_norm``.

    ``success``: every loss finite; ``nit``: Adam steps; ``residual``: the final gradient norm.
    """


def train_student(X: np.ndarray, y: np.ndarray, r: int, rng: np.random.Generator,
                  steps: int = 1000, lr: float = 0.1, beta: float = 1.0,
                  channel=None) -> StudentResult:
    """Train one matched-width student from ``W ~ N(0, 1)`` by full-batch Adam (the authors'
    protocol).

    Parameters
    ----------
    X, y : the data, shapes ``(n, T, d)`` and ``(n, T, T)``
    r : int >= 1
        Student width (matched: the teacher's ``r = rho d``).
    rng : numpy.random.Generator
        Initialisation.
    steps : int >= 1
    lr : float > 0
    beta : float
    channel : Channel, optional
        Output of the student (default: softmax at ``beta``); see :func:`loss_and_grad`.
    """
    if channel is not None:
        channel.output_vjp(np.zeros((1, channel.T, channel.T)),
                           np.zeros((1, channel.T, channel.T)))  # raises if not differentiable
    if isinstance(r, bool) or int(r) != r or r < 1:
        raise ValueError(f"r must be an integer >= 1, got {r!r}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite real in (0, inf), got {lr!r}")
    d = np.shape(X)[-1]
    W0 = rng.standard_normal((d, int(r)))
    _check(X, y, W0)
    W, losses = adam(lambda w: loss_and_grad(w, X, y, beta, channel), W0, int(steps), lr)
    final, g = loss_and_grad(W, X, y, beta, channel)
    S = (W @ W.T) / math.sqrt(r * d)
    finite = bool(np.all(np.isfinite(losses)) and np.isfinite(final))
    gn = float(np.linalg.norm(g))
    return make_record(StudentResult, W=W, S=S, loss=losses, final_loss=final, grad_norm=gn,
                       steps=int(steps), lr=lr, success=finite, nit=int(steps), residual=gn,
                       status=0 if finite else 2,
                       message="trained" if finite else "non-finite loss")


@dataclass
class GDEstimate:
    """Errors of ``k`` students trained on one data set (all errors ``||. - S_true||_F^2 / d``).

    ``single``: errors of each student (length ``k``); ``averaged``: error ``E_k`` of the mean ``S``
    of the ``k`` students; ``spread``: their sample variance ``s^2 = sum_i ||S_i - S_bar||_F^2 /
    (d (k - 1))`` (nan for ``k = 1``); ``final_losses``: training losses at the end.
    ``inf_average`` is the unbiased estimate ``E_k - s^2 / k`` of the error ``E_inf`` of the
    infinitely averaged student (see :func:`gd_estimate`).
    """

    single: np.ndarray
    averaged: float
    spread: float
    final_losses: np.ndarray
    k: int

    @property
    def inf_average(self) -> float:
        return self.averaged - self.spread / self.k


def gd_estimate(X: np.ndarray, y: np.ndarray, S_true: np.ndarray, r: int, rng: np.random.Generator,
                k: int = 1, steps: int = 1000, lr: float = 0.1, beta: float = 1.0,
                channel=None) -> GDEstimate:
    """Train ``k`` students on the same data; errors ``||S - S_true||_F^2 / d`` single and averaged.

    The infinitely averaged student.  Given the data, the students ``S_1..S_k`` are i.i.d. (only
    the initialisation is random) with mean ``m = E[S_i | data]`` and variance
    ``v = E||S_i - m||_F^2 / d``.  Their average ``S_bar`` has
    ``E||S_bar - S_true||^2 / d = E_inf + v / k`` with ``E_inf = ||m - S_true||_F^2 / d``, the error
    of the average of infinitely many students, and the sample variance ``s^2`` (``ddof = 1``) has
    ``E s^2 = v``.  Hence ``E_k - s^2 / k`` is an unbiased estimate of ``E_inf`` (equivalently
    ``mean_i E_1,i - s^2``, by ``mean_i ||S_i - S_true||^2 = ||S_bar - S_true||^2 +
    (k - 1) s^2 / k``).  It makes no assumption on how students relate to the posterior.  If they
    were posterior samples, ``m`` would be the posterior mean, ``E_inf = MMSE`` and ``v = MMSE``
    (so ``E_1 = 2 MMSE`` and ``E_k = (1 + 1/k) MMSE``); any estimator has
    ``E_inf >= MMSE`` up to finite-size fluctuations.

    References
    ----------
    Boncoraglio et al. 2025, ``GD_softmax_averaged.py`` (``averages=32``);
    ``docs/derivations/aim.md#gradient-descent-students``.
    """
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    Ss, losses = [], []
    for _ in range(int(k)):
        st = train_student(X, y, r, rng, steps, lr, beta, channel)
        Ss.append(st.S)
        losses.append(st.final_loss)
    single, averaged, spread = ensemble_errors(Ss, S_true)
    return GDEstimate(single=single, averaged=averaged, spread=spread,
                      final_losses=np.asarray(losses), k=int(k))


def ensemble_errors(Ss, S_true: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Errors of an ensemble of estimates ``S_1..S_k`` of ``S_true`` (normalised by ``d``).

    Returns ``(single, averaged, spread)``: ``single[i] = ||S_i - S_true||_F^2 / d``, ``averaged =
    ||S_bar - S_true||_F^2 / d`` and ``spread = sum_i ||S_i - S_bar||_F^2 / (d (k - 1))`` (nan for
    ``k = 1``); ``averaged - spread / k`` is unbiased for the infinitely averaged error
    (:func:`gd_estimate`).
    """
    Ss = np.asarray(Ss, dtype=float)
    if Ss.ndim != 3 or Ss.shape[1:] != np.shape(S_true):
        raise ValueError(f"Ss must have shape (k, d, d) matching S_true {np.shape(S_true)}, "
                         f"got {Ss.shape}")
    k, d = Ss.shape[0], Ss.shape[1]
    S_bar = Ss.mean(axis=0)
    single = np.sum((Ss - S_true) ** 2, axis=(1, 2)) / d
    spread = float(np.sum((Ss - S_bar) ** 2) / (d * (k - 1))) if k > 1 else math.nan
    return single, float(np.sum((S_bar - S_true) ** 2) / d), spread
