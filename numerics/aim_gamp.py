"""GAMP-RIE for the single-layer attention-indexed model, on data kept as ``(n, T, d)``.

Generalised approximate message passing with a rotation-invariant (RIE) denoiser for the matrix
prior (Boncoraglio et al. 2025, the authors' ``AMP_softmax.py``, ``AMP_hardmax.py``; steps in
``docs/derivations/aim.md#gamp-rie``).  The design never exists as a tensor:
for each sample ``mu`` and pair ``a <= b`` the index is ``h_ab = <Phi^mu_ab, S>`` with

    Phi_aa = (x_a x_a^T - I) / sqrt(d),      Phi_ab = (x_a x_b^T + x_b x_a^T) / (2 sqrt(d)),

and both products the algorithm needs are batched matrix products on ``X``:

* forward  ``h = X S X^T / sqrt(d) - Tr S / sqrt(d) I``  (``O(n T d^2)``),
* adjoint  ``M = sum_mu sum_{a<=b} g_ab Phi_ab = [X^T Gt X - (sum tr g) I] / sqrt(d)``, stacking
  the ``n T`` tokens as one ``(n T, d)`` matrix (``O(n T d^2)``; ``Gt_aa = g_aa``,
  ``Gt_ab = g_ab / 2``).

Memory is ``O(n T d + d^2)``.  :class:`DenseDesign` builds the ``n x T x T x d x d`` tensor (the
authors' formulation) for small reference runs, tests and the benchmark.

One iteration: ``V = c_hat``; ``omega = h(S_hat) - c_ab V g_prev`` (Onsager),
``(V, omega)`` damped; ``g = g_out(y, omega, V)``; ``A = (1/d) sum c_ab g_ab^2``;
``R = S_hat + M / A`` is ``S + sqrt(Delta) GOE`` with ``Delta = d / (2 A)``; the RIE denoiser of
``mu_rho [+] semicircle_Delta`` gives ``S_hat``, and ``c_hat = mmse_rho(Delta)``.

Output channels ``g_out = d log Z_out / d omega`` (with ``c_aa = 2``, ``c_ab = 1``):

* softmax, any ``T`` (``docs/derivations/aim.md#softmax-channel``): ``y`` fixes ``h`` up to
  ``h + t 11^T``; with the gauge ``h0_ab = log(y_ab / y_aT)/beta + log(y_Ta / y_TT)/beta`` and
  ``t = (2 / T^2) sum_{a<=b} (h0_ab - omega_ab) / c_ab``, ``g_ab = (h0_ab - omega_ab - t) / (c_ab V)``;
* hardmax, ``T = 2`` (``docs/derivations/aim.md#hardmax-channel-and-its-corrected-derivative``):
  ``u_i = h_ii - k h_12`` (``k = 1``, or ``sqrt(2)`` for
  the authors' label convention), ``sigma^2 = (2 + k^2) V``, correlation ``r = s1 s2 k^2 / (2 + k^2)``,
  ``Z_out = Phi_2(k_1, k_2; r)`` with ``k_i = s_i (omega_ii - k omega_12) / sigma``;
  ``g_ii = (s_i / sigma) D_i / Phi_2``, ``g_12 = -k (g_11 + g_22)``, where ``D_i = d Phi_2 / d k_i``
  (``variant="correct"``) or the bivariate density ``phi_2`` (``variant="paper"``, the authors' code).

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, "Bayes optimal learning of
   attention-indexed models", NeurIPS 2025, arXiv:2506.01582 (GAMP-RIE; code ``AMP_softmax.py``,
   ``AMP_hardmax.py``).
.. [2] S. Rangan, "Generalized approximate message passing for estimation with random linear
   mixing", ISIT 2011.
.. [3] D. B. Owen, "Tables for computing bivariate normal probabilities", Ann. Math. Stat. 27 (1956).
"""

from __future__ import annotations

import math
import time

import numpy as np

from icl_companion.numerics.record import SolverRecord, make_record

from icl_companion.numerics.aim_channels import (VARIANTS, Channel, HardmaxChannel,
                                                 SoftmaxChannel, c_matrix, log_bvn_cdf,
                                                 make_channel)
from icl_companion.numerics.aim_data import as_observations

__all__ = ["GAMPResult", "FactorisedDesign", "DenseDesign", "softmax_gout", "hardmax_gout",
           "log_bvn_cdf", "gamp_rie", "c_matrix", "VARIANTS"]

# ------------------------------------------------------------------------------------ designs
class FactorisedDesign:
    """The AIM design applied through ``X`` only: memory ``O(n T d)`` (plus ``O(d^2)`` outputs)."""

    def __init__(self, X: np.ndarray):
        X = np.asarray(X, dtype=float)
        if X.ndim != 3:
            raise ValueError(f"X must have shape (n, T, d), got {X.shape}")
        self.X = X
        self.n, self.T, self.d = X.shape
        self._sd = math.sqrt(self.d)

    def forward(self, S: np.ndarray) -> np.ndarray:
        """``h_ab = x_a^T S x_b / sqrt(d) - delta_ab Tr S / sqrt(d)``, shape ``(n, T, T)``."""
        h = np.matmul(self.X @ S, np.swapaxes(self.X, 1, 2)) / self._sd
        i = np.arange(self.T)
        h[:, i, i] -= np.trace(S) / self._sd
        return h

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        """``sum_mu sum_{a<=b} g_ab Phi_ab`` for symmetric ``g`` of shape ``(n, T, T)``."""
        Gt = g * (0.5 * (np.ones((self.T, self.T)) + np.eye(self.T)))  # g_aa, g_ab / 2
        GX = np.matmul(Gt, self.X).reshape(-1, self.d)
        M = self.X.reshape(-1, self.d).T @ GX
        M = 0.5 * (M + M.T)
        M[np.diag_indices(self.d)] -= np.trace(g, axis1=1, axis2=2).sum()
        return M / self._sd


class DenseDesign:
    """Reference: the full ``(n, T, T, d, d)`` design tensor ``Phi^mu_ab`` (small sizes only)."""

    def __init__(self, X: np.ndarray, max_bytes: float = 2e9):
        X = np.asarray(X, dtype=float)
        if X.ndim != 3:
            raise ValueError(f"X must have shape (n, T, d), got {X.shape}")
        self.n, self.T, self.d = X.shape
        size = 8.0 * self.n * self.T**2 * self.d**2
        if size > max_bytes:
            raise ValueError(f"the dense design would take {size / 1e9:.2g} GB > max_bytes="
                             f"{max_bytes / 1e9:.2g} GB; use FactorisedDesign")
        outer = np.einsum("nai,nbj->nabij", X, X)
        Phi = 0.5 * (outer + np.swapaxes(outer, 3, 4))
        i = np.arange(self.T)
        Phi[:, i, i] -= np.eye(self.d)
        self.Phi = Phi / math.sqrt(self.d)
        w = 0.5 * (np.ones((self.T, self.T)) + np.eye(self.T))
        self._w = w  # sum over a <= b == sum over all (a, b) with off-diagonal weight 1/2

    def forward(self, S: np.ndarray) -> np.ndarray:
        return np.einsum("nabij,ij->nab", self.Phi, S)

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        return np.einsum("nab,nabij->ij", g * self._w, self.Phi)


# ------------------------------------------------------------------------------ output channels
def softmax_gout(y: np.ndarray, omega: np.ndarray, V: float, beta: float = 1.0) -> np.ndarray:
    """``g_out`` of the noiseless softmax channel, any ``T``
    (:meth:`icl_companion.numerics.aim_channels.SoftmaxChannel.gout`; gauge construction,
    ``docs/derivations/aim.md#softmax-channel``).

    ``E sum_{a<=b} c_ab g_ab^2 = (T^2 + T - 2) / (2 V)``.
    """
    if not V > 0:
        raise ValueError(f"V must be > 0, got {V}")
    return SoftmaxChannel(np.shape(y)[-1], beta).gout(y, omega, V)


def hardmax_gout(y: np.ndarray, omega: np.ndarray, V: float, variant: str = "correct",
                 labels: str = "model") -> np.ndarray:
    """``g_out`` of the ``T = 2`` hardmax channel
    (:meth:`icl_companion.numerics.aim_channels.HardmaxChannel.gout`; variants ``correct`` /
    ``paper``, ``docs/derivations/aim.md#hardmax-channel-and-its-corrected-derivative``; labels
    ``model`` / ``sqrt2``, ``docs/derivations/aim.md#gamp-rie``)."""
    if np.shape(y)[1:] != (2, 2):
        raise ValueError(f"the hardmax channel needs T = 2, got y of shape {np.shape(y)}")
    if not V > 0:
        raise ValueError(f"V must be > 0, got {V}")
    return HardmaxChannel(variant, labels).gout(y, omega, V)


# ------------------------------------------------------------------------------------ algorithm
class GAMPResult(SolverRecord):
    """Result of :func:`gamp_rie`.

    Attributes
    ----------
    S_hat : ndarray (d, d)
        Final estimate (posterior-mean approximation).
    success : bool
        ``||S_hat^{t+1} - S_hat^t||_F^2 / d < tol`` was reached (or perfect recovery).
    status : int
        0 converged, 1 ``max_iter`` reached, 2 non-finite value (:data:`numerics.record.STATUS`).
    message : str
    nit : int
    residual : float
        The last ``||S_hat^{t+1} - S_hat^t||_F^2 / d``.
    history : dict of arrays, one entry per iteration
        ``residual``; ``V`` (damped variance used); ``delta`` (effective RIE noise ``1/q_hat``);
        ``c_hat`` (the algorithm's own error prediction ``mmse_rho(delta)``); ``mse`` (measured
        ``||S_hat - S||_F^2 / d``, when ``S_true`` is given); ``se_mse`` (the state-evolution
        prediction of the same iteration, when ``track_se``); ``seconds``.
    mse : float
        Final measured error (nan without ``S_true``).
    """


def _default_denoiser():
    from icl_companion.numerics.aim_free_prob import mmse_rho, rie_denoise

    return rie_denoise, mmse_rho


def check_iteration_controls(damping, damp_S, tol, max_iter) -> None:
    """``ValueError`` naming the parameter unless ``damping, damp_S`` are in ``[0, 1)``,
    ``tol > 0`` and ``max_iter`` is an integer ``>= 1`` (the GAMP-RIE loops' controls)."""
    for name, v in (("damping", damping), ("damp_S", damp_S)):
        if not 0 <= v < 1:
            raise ValueError(f"{name} = {v!r} is outside the allowed domain: [0, 1)")
    if not tol > 0:
        raise ValueError(f"tol = {tol!r} is outside the allowed domain: (0, inf)")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter = {max_iter!r} is outside the allowed domain: an integer >= 1")

def gamp_rie(X: np.ndarray, y: np.ndarray, rho: float, channel="softmax",
             variant: str = "correct", labels: str = "model", beta: float = 1.0,
             damping: float = 0.5, damp_S: float = 0.0, tol: float = 1e-5, max_iter: int = 100,
             S_true: np.ndarray | None = None, track_se: bool = True, init: str = "prior-mean",
             seed: int | None = None, dense: bool = False, denoiser=None) -> GAMPResult:
    """GAMP-RIE estimate of ``S`` from AIM data (``docs/derivations/aim.md#gamp-rie``).

    Parameters
    ----------
    X : ndarray (n, T, d)
        Tokens.
    y : ndarray (n, T, T)
        Outputs (softmax rows; or hardmax one-hot rows, ``T = 2``).
    rho : float > 0
        Rank ratio of the prior ``S = W W^T / sqrt(r d)``.
    channel : {"softmax", "hardmax"} or Channel
        Output channel: a name (with ``variant``, ``labels``, ``beta``) or any
        :class:`~icl_companion.numerics.aim_channels.Channel` (its :meth:`gout` is used).
    variant : {"correct", "paper"}
        Hardmax ``g_out`` (ignored for the softmax).
    labels : {"model", "sqrt2"}
        Hardmax label convention of the data (see :func:`hardmax_gout`).
    beta : float
        Softmax inverse temperature of the data.
    damping : float in [0, 1)
        Weight of the *old* value when damping ``(V, omega)`` (the authors' convention; 0.5).
    damp_S : float in [0, 1)
        Same for ``S_hat`` (0: undamped, as the authors; > 0 stabilises small runs, where GAMP with
        the correct hardmax ``g_out`` can turn over-confident).
    tol : float > 0
        Stop when ``||S_hat^{t+1} - S_hat^t||_F^2 / d < tol``.
    max_iter : int >= 1
    S_true : ndarray (d, d), optional
        Teacher, to record the measured error per iteration.
    track_se : bool
        Record the state-evolution prediction per iteration (``numerics.aim_se.se_trajectory`` at
        ``alpha = n / d^2``, same damping).
    init : {"prior-mean", "random"}
        ``S_hat^0 = sqrt(rho) I`` with ``c_hat^0 = 1`` (deterministic), or a random Wishart draw as the
        authors (``seed`` then required).
    seed : int, optional
        Seed of the random initialisation.
    dense : bool
        Use the dense ``(n, T, T, d, d)`` design (reference implementation; small sizes only).
    denoiser : (rie, mmse), optional
        Replace the RIE denoiser ``rie(Y, delta, rho)`` and ``mmse(delta, rho)`` (tests).

    Returns
    -------
    GAMPResult

    References
    ----------
    Boncoraglio et al. 2025 (arXiv:2506.01582), GAMP-RIE (not numbered in the sources; the authors'
    ``AMP_softmax.py``, ``AMP_hardmax.py``); ``docs/derivations/aim.md#gamp-rie`` (algorithm and the
    differences from
    the authors' code).
    """
    X, y = as_observations(X, y)
    n, T, d = X.shape
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite real in (0, inf), got {rho!r}")
    if isinstance(channel, Channel):
        ch = channel
    elif channel in ("softmax", "hardmax"):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if channel == "hardmax" and T != 2:
            raise ValueError(f"T = {T} is not allowed for the hardmax channel: it requires T = 2")
        if channel == "softmax" and T < 2:
            raise ValueError(f"T = {T} is not allowed for the softmax channel: it requires T >= 2")
        ch = make_channel(channel, T, variant, beta=beta, labels=labels)
    else:
        raise ValueError(f"channel must be 'softmax', 'hardmax' or a Channel, got {channel!r}")
    if ch.T != T:
        raise ValueError(f"channel {ch.name} has T = {ch.T} but the data have T = {T}")
    check_iteration_controls(damping, damp_S, tol, max_iter)
    if init not in ("prior-mean", "random"):
        raise ValueError(f"init must be 'prior-mean' or 'random', got {init!r}")
    if S_true is not None and np.shape(S_true) != (d, d):
        raise ValueError(f"S_true must have shape ({d}, {d}), got {np.shape(S_true)}")
    rie, mmse = denoiser if denoiser is not None else _default_denoiser()
    design = DenseDesign(X) if dense else FactorisedDesign(X)
    c = c_matrix(T)

    gout = lambda om, V: ch.gout(y, om, V)  # noqa: E731

    if init == "prior-mean":
        S_hat = math.sqrt(rho) * np.eye(d)
    else:
        if seed is None:
            raise ValueError("init='random' needs a seed")
        from icl_companion.numerics.aim_data import sample_weights

        S_hat = sample_weights(np.random.default_rng(seed), d, rho)[1]
    c_hat = 1.0
    g_prev = np.zeros((n, T, T))
    V_old = om_old = None
    hist = {k: [] for k in ("residual", "V", "delta", "c_hat", "mse", "seconds")}
    converged, status, message, res = False, 1, f"max_iter={max_iter} reached", math.inf
    it = 0
    for it in range(1, int(max_iter) + 1):
        t0 = time.perf_counter()
        h = design.forward(S_hat)
        V = c_hat
        om = h - c * V * g_prev                                   # Onsager correction
        if V_old is not None and damping > 0:
            V = (1 - damping) * V + damping * V_old
            om = (1 - damping) * om + damping * om_old
        g = gout(om, V)
        A = (np.sum(np.diagonal(g, axis1=1, axis2=2) ** 2) * 2
             + np.sum(np.triu(g, 1) ** 2)) / d                    # (1/d) sum_{a<=b} c_ab g_ab^2
        if not (math.isfinite(A) and A > 0):
            status, message = 2, f"non-finite or zero precision A = {A} at iteration {it}"
            break
        delta = d / (2 * A)
        R = S_hat + design.adjoint(g) / A
        S_new = rie(R, delta, rho)
        if damp_S > 0:
            S_new = (1 - damp_S) * S_new + damp_S * S_hat
        c_hat = float(mmse(delta, rho))
        res = float(np.sum((S_new - S_hat) ** 2) / d)
        hist["residual"].append(res)
        hist["V"].append(V)
        hist["delta"].append(delta)
        hist["c_hat"].append(c_hat)
        hist["mse"].append(float(np.sum((S_new - S_true) ** 2) / d) if S_true is not None
                           else math.nan)
        hist["seconds"].append(time.perf_counter() - t0)
        S_hat, g_prev, V_old, om_old = S_new, g, V, om
        if not math.isfinite(res):
            status, message = 2, f"non-finite residual at iteration {it}"
            break
        if res < tol:
            converged, status, message = True, 0, "converged"
            break
        if not c_hat > 0:  # perfect recovery within float precision: the variance is exhausted
            converged, status, message = True, 0, f"c_hat = {c_hat:g}: perfect recovery reached"
            break
    history = {k: np.asarray(v) for k, v in hist.items()}
    if track_se:
        from icl_companion.numerics.aim_se import se_trajectory

        # se_trajectory returns [1, e^1, ..., e^it]; e^t is the predicted error of S_hat^t,
        # recorded here at iteration t (index t - 1)
        traj = se_trajectory(n / d**2, rho, T, ch, variant, it, damping)
        history["se_mse"] = np.asarray(traj, dtype=float)[1:it + 1]
    return make_record(GAMPResult, S_hat=S_hat, success=converged, nit=it, status=status,
                      residual=res, history=history, message=message,
                      mse=history["mse"][-1] if len(history["mse"]) else math.nan,
                      c_hat=c_hat, n=n, T=T, d=d, alpha=n / d**2, rho=rho, channel=ch.name,
                      channel_params=ch.params(), variant=variant, labels=labels,
                      damping=damping, damp_S=damp_S, dense=dense)
