"""Gradient-descent students for the multi-layer AIM (NumPy, hand-written gradient, Adam).

The single-layer protocol of :mod:`icl_companion.numerics.aim_gd` (the authors' GD experiment,
Boncoraglio et al. 2025, arXiv:2506.01582) applied to the multi-layer construction (Eqs. 4-5): a
student of the teacher's architecture (``L`` layers, widths ``r_l = rho_l d``, the same ``c`` and
``beta``), initialised ``W_l ~ N(0, 1)``, trained by full-batch Adam on
``(1/d) sum_{mu,a,b} (y_hat - y)^2``.  Per layer, the error of one student and of the average of
``k`` students are reported, and the unbiased estimate ``E_k - s^2/k`` of the infinitely averaged
student (:func:`icl_companion.numerics.aim_gd.ensemble_errors`).

Forward, per sample (``Z_l = X W_l``, ``s_l = 1/(sqrt(r_l d) sqrt(d))``):
``h_l = s_l Z_l Z_l^T - s_l ||W_l||_F^2 I``, ``P_l = B_{l-1} h_l B_{l-1}^T``,
``B_l = [c I + softmax_beta(P_l)] B_{l-1}`` (``B_0 = I``), ``y_hat = softmax_beta(P_L)``.
Backward: ``dh_l = B_{l-1}^T dP_l B_{l-1}``; ``dB_{l-1} += (dP_l + dP_l^T) B_{l-1} h_l`` and
``+= A_l^T dB_l``; ``dA_l = dB_l B_{l-1}^T`` feeds the softmax backward
``dP_l = beta sigma (dA - rowsum(dA sigma))``;
``dW_l = X^T [s_l (D + D^T) Z_l] - 2 s_l (sum tr D) W_l``
with ``D = dh_l``.  Cost ``O(n T d sum_l r_l)`` per step.

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, arXiv:2506.01582 (GD experiment; model
   Eqs. 4-5).
.. [2] D. P. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR 2015.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from icl_companion.numerics.aim_data import as_observations, rank, softmax_rows
from icl_companion.numerics.aim_gd import adam, ensemble_errors
from icl_companion.numerics.aim_multilayer import check_beta, check_layers, check_skip

__all__ = ["multilayer_loss_and_grad", "MultilayerGDEstimate", "gd_estimate_multilayer"]


def _softmax_backward(s, G, beta):
    return beta * s * (G - np.sum(G * s, axis=-1, keepdims=True))


def multilayer_loss_and_grad(Ws: list, X: np.ndarray, y: np.ndarray, c: float = 1.0,
                             beta: float = 1.0) -> tuple[float, list]:
    """Loss ``(1/d) sum (y_hat - y)^2`` of the ``L``-layer student ``Ws`` and its gradients.

    ``Ws``: list of ``L`` arrays ``(d, r_l)``; returns ``(loss, [dL/dW_l])``.
    """
    X, y = as_observations(X, y)
    n, T, d = X.shape
    ident = np.eye(T)
    L = len(Ws)
    s = [1.0 / (math.sqrt(W.shape[1] * d) * math.sqrt(d)) for W in Ws]
    Z = [X @ W for W in Ws]
    h = []
    for j in range(L):
        hl = s[j] * np.matmul(Z[j], np.swapaxes(Z[j], 1, 2))
        hl -= s[j] * np.sum(Ws[j] * Ws[j]) * ident
        h.append(hl)
    B = [np.broadcast_to(ident, (n, T, T))]
    sig = []
    P = []
    for j in range(L):
        Pl = B[j] @ h[j] @ np.swapaxes(B[j], 1, 2)
        P.append(Pl)
        if j < L - 1:
            sl = softmax_rows(Pl, beta)
            sig.append(sl)
            B.append((c * ident + sl) @ B[j])
    yh = softmax_rows(P[-1], beta)
    diff = yh - y
    loss = float(np.sum(diff * diff) / d)
    dP = _softmax_backward(yh, (2.0 / d) * diff, beta)
    dB = np.zeros((n, T, T))          # gradient with respect to B[l] (the current one)
    grads = [None] * L
    for j in range(L - 1, -1, -1):
        if j < L - 1:
            # B[l+1] = A_l B[l], A_l = c I + sig[l]: dA = dB[l+1] B[l]^T, dB[l] += A^T dB[l+1]
            dBnext = dB
            dA = dBnext @ np.swapaxes(B[j], 1, 2)
            dB = np.swapaxes(c * ident + sig[j], 1, 2) @ dBnext
            dP = _softmax_backward(sig[j], dA, beta)
        else:
            dB = np.zeros((n, T, T))
        Bt = np.swapaxes(B[j], 1, 2)
        D = Bt @ dP @ B[j]                                   # dL/dh_l
        if j > 0:
            dB = dB + (dP + np.swapaxes(dP, 1, 2)) @ B[j] @ h[j]
        dZ = s[j] * np.matmul(D + np.swapaxes(D, 1, 2), Z[j])
        g = X.reshape(-1, d).T @ dZ.reshape(-1, Ws[j].shape[1])
        g -= 2.0 * s[j] * np.trace(D, axis1=1, axis2=2).sum() * Ws[j]
        grads[j] = g
    return loss, grads


@dataclass
class MultilayerGDEstimate:
    """Per layer: ``single`` (L, k) errors of each student, ``averaged`` (L,), ``spread`` (L,),
    ``inf_average`` (L,) ``= averaged - spread / k``; ``final_losses`` (k,)."""

    single: np.ndarray
    averaged: np.ndarray
    spread: np.ndarray
    final_losses: np.ndarray
    k: int

    @property
    def inf_average(self) -> np.ndarray:
        return self.averaged - self.spread / self.k


def gd_estimate_multilayer(X, y, S_true, rho, rng: np.random.Generator, c: float = 1.0,
                           beta: float = 1.0, k: int = 4, steps: int = 1000, lr: float = 0.1
                           ) -> MultilayerGDEstimate:
    """Train ``k`` multi-layer students on the same data (Adam, lr, steps); errors per layer.

    ``S_true`` (L, d, d) teachers; widths ``r_l = round(rho_l d)``.
    """
    X, y = as_observations(X, y)
    d = X.shape[2]
    L, rho = check_layers(len(np.atleast_1d(rho)), rho)
    c, beta = check_skip(c), check_beta(beta)
    if np.shape(S_true) != (L, d, d):
        raise ValueError(f"S_true must have shape {(L, d, d)}, got {np.shape(S_true)}")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k = {k!r} is outside the allowed domain: an integer >= 1")
    r = [rank(rl, d) for rl in rho]
    split = np.cumsum([d * rl for rl in r])[:-1]

    def unpack(v):
        return [p.reshape(d, rl) for p, rl in zip(np.split(v, split), r)]

    def fg(v):
        loss, gs = multilayer_loss_and_grad(unpack(v), X, y, c, beta)
        return loss, np.concatenate([g.ravel() for g in gs])

    Ss = [[] for _ in range(L)]
    losses = []
    for _ in range(int(k)):
        v0 = rng.standard_normal(sum(d * rl for rl in r))
        v, _ = adam(fg, v0, int(steps), lr)
        Ws = unpack(v)
        for j in range(L):
            Ss[j].append(Ws[j] @ Ws[j].T / math.sqrt(r[j] * d))
        losses.append(fg(v)[0])
    out = [ensemble_errors(Ss[j], S_true[j]) for j in range(L)]
    return MultilayerGDEstimate(single=np.array([o[0] for o in out]),
                                averaged=np.array([o[1] for o in out]),
                                spread=np.array([o[2] for o in out]),
                                final_losses=np.array(losses), k=int(k))
