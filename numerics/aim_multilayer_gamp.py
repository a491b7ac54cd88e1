"""GAMP-RIE for the multi-layer AIM: one RIE denoiser per layer, the joint output function.

The single-layer algorithm (:func:`icl_companion.numerics.aim_gamp.gamp_rie`; Boncoraglio et al.
2025, arXiv:2506.01582) with one estimate ``S_hat_l`` per layer.  All layers share the design (the
same tokens ``X``): ``h^(l) = <Phi, S_l>`` with the factorised design of
:class:`icl_companion.numerics.aim_gamp.FactorisedDesign`.  One iteration:

1. ``h_l = forward(S_hat_l)``, ``V_l = c_hat_l``, ``omega_l = h_l - c_ab V_l g_l^prev`` (Onsager,
   per layer), ``(V, omega)`` damped;
2. ``g_l = g_out^(l)(y, omega_1..omega_L, V)``: the joint output function
   (:meth:`icl_companion.numerics.aim_multilayer_channel.MultilayerChannel.gout`);
3. ``A_l = (1/d) sum_mu sum_{a<=b} c_ab g_l,ab^2``, ``R_l = S_hat_l + adjoint(g_l) / A_l``,
   ``Delta_l = d / (2 A_l)``;
4. ``S_hat_l = RIE_{rho_l}(R_l, Delta_l)``, ``c_hat_l = mmse_{rho_l}(Delta_l)``.

The off-diagonal ``A_12 = (1/d) sum c_ab g_1,ab g_2,ab`` is not used by the per-layer denoisers
(the decoupled prior, derivation ``docs/derivations/aim_multilayer.md#cross-terms``); its normalised
size ``A_12 / sqrt(A_11 A_22)`` is recorded per iteration.

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, arXiv:2506.01582 (GAMP-RIE, single layer;
   multilayer construction Eqs. 4-5).
.. [2] S. Rangan, "Generalized approximate message passing for estimation with random linear
   mixing", ISIT 2011.
"""

from __future__ import annotations

import math
import time

import numpy as np

from icl_companion.numerics.aim_data import as_observations
from icl_companion.numerics.aim_free_prob import mmse_rho, rie_denoise
from icl_companion.numerics.aim_gamp import FactorisedDesign, c_matrix, check_iteration_controls
from icl_companion.numerics.aim_multilayer import check_beta, check_layers, check_noise, check_skip
from icl_companion.numerics.aim_multilayer_channel import (DEFAULT_RULE, MultilayerChannel,
                                                           QuadratureRule)
from icl_companion.numerics.record import SolverRecord, make_record

__all__ = ["MultilayerGAMPResult", "gamp_rie_multilayer"]


class MultilayerGAMPResult(SolverRecord):
    """``S_hat`` (L, d, d), ``mse`` (L,) (nan without the teacher), ``c_hat`` (L,), ``success``,
    ``status``, ``message``, ``nit``, ``residual`` (the last
    ``max_l ||S_hat_l^{t+1} - S_hat_l^t||^2/d``),
    ``history`` (per iteration: ``residual``, ``V`` (L,), ``delta`` (L,), ``c_hat`` (L,), ``mse``
    (L,), ``error_cov`` (L, L) ``Tr((S_hat_l - S_l)(S_hat_l' - S_l'))/d``, ``cross`` (normalised
    ``A_12``), ``seconds``)."""


def gamp_rie_multilayer(X: np.ndarray, y: np.ndarray, rho, c: float = 1.0, beta: float = 1.0,
                        delta: float = 0.0, known: dict | None = None, damping: float = 0.5,
                        damp_S: float = 0.0, tol: float = 1e-5, max_iter: int = 100,
                        S_true: np.ndarray | None = None, rule: QuadratureRule = DEFAULT_RULE
                        ) -> MultilayerGAMPResult:
    """GAMP-RIE estimate of the ``L`` matrices ``S_l`` from multi-layer AIM data.

    Parameters
    ----------
    X : ndarray (n, T, d)
    y : ndarray (n, T, T)
        Softmax outputs of the multi-layer model (:func:`icl_companion.numerics.aim_multilayer.
        sample_multilayer`).
    rho : sequence of ``L`` floats > 0 (``L = len(rho)``)
    c, beta, delta : skip strength, inverse temperature, output-noise variance of the data.
    known : dict {layer number (1-based): S_l}, optional
        Layers given to the algorithm (kept fixed, ``V_l = 0``).
    damping : float in [0, 1)
        Weight of the old ``(V, omega)`` (as the single-layer algorithm).
    damp_S : float in [0, 1)
        Same for ``S_hat``.
    tol, max_iter : stop when ``max_l ||S_hat_l^{t+1} - S_hat_l^t||_F^2 / d < tol``.
    S_true : ndarray (L, d, d), optional
        Teachers, to record the error per iteration.
    rule : QuadratureRule of the joint output function.
    """
    X, y = as_observations(X, y)
    n, T, d = X.shape
    rho = tuple(np.atleast_1d(np.asarray(rho, dtype=float)).tolist())
    L, rho = check_layers(len(rho), rho)
    c, beta, delta = check_skip(c), check_beta(beta), check_noise(delta)
    if T < 2:
        raise ValueError(f"T = {T} is outside the allowed domain: an integer >= 2")
    check_iteration_controls(damping, damp_S, tol, max_iter)
    known = dict(known or {})
    for j, S in known.items():
        if not (isinstance(j, int) and 1 <= j <= L) or np.shape(S) != (d, d):
            raise ValueError(f"known must map layer numbers in 1..{L} to ({d}, {d}) matrices")
    if L in known and delta == 0:
        raise ValueError("known: the last layer cannot be known with delta = 0")
    if S_true is not None and np.shape(S_true) != (L, d, d):
        raise ValueError(f"S_true must have shape {(L, d, d)}, got {np.shape(S_true)}")
    free = [j for j in range(L) if j + 1 not in known]
    design = FactorisedDesign(X)
    C = c_matrix(T)
    channel = MultilayerChannel(T, L, c, beta, delta, rule)
    S_hat = np.stack([np.asarray(known[j + 1], dtype=float) if j + 1 in known
                      else math.sqrt(rho[j]) * np.eye(d) for j in range(L)])
    c_hat = np.array([0.0 if j + 1 in known else 1.0 for j in range(L)])
    g_prev = np.zeros((L, n, T, T))
    V_old = om_old = None
    hist = {k: [] for k in ("residual", "V", "delta", "c_hat", "mse", "error_cov", "cross",
                            "seconds")}
    converged, status, message, res = False, 1, f"max_iter={max_iter} reached", math.inf
    it = 0
    for it in range(1, int(max_iter) + 1):
        t0 = time.perf_counter()
        h = np.stack([design.forward(S_hat[j]) for j in range(L)])
        V = c_hat.copy()
        om = h - C * V[:, None, None, None] * g_prev
        if V_old is not None and damping > 0:
            V = (1 - damping) * V + damping * V_old
            om = (1 - damping) * om + damping * om_old
        g, _ = channel.gout(y, om, V)
        iu = np.triu_indices(T)
        gv = g[:, :, iu[0], iu[1]] * np.sqrt(C[iu])            # sqrt(c_ab) g_ab, a <= b
        A = np.einsum("lnp,mnp->lm", gv, gv) / d                 # (L, L)
        if not np.all(np.isfinite(A)) or np.any(np.diag(A)[free] <= 0):
            status, message = 2, f"non-finite or zero precision A = {np.diag(A)} at iteration {it}"
            break
        S_new = S_hat.copy()
        dl = np.full(L, np.nan)
        for j in free:
            dl[j] = d / (2 * A[j, j])
            R = S_hat[j] + design.adjoint(g[j]) / A[j, j]
            S_new[j] = rie_denoise(R, dl[j], rho[j])
            if damp_S > 0:
                S_new[j] = (1 - damp_S) * S_new[j] + damp_S * S_hat[j]
            c_hat[j] = float(mmse_rho(dl[j], rho[j]))
        res = float(max(np.sum((S_new[j] - S_hat[j]) ** 2) / d for j in free))
        hist["residual"].append(res)
        hist["V"].append(V.copy())
        hist["delta"].append(dl)
        hist["c_hat"].append(c_hat.copy())
        if S_true is not None:
            E = (S_new - S_true).reshape(L, -1)
            hist["error_cov"].append(E @ E.T / d)
        else:
            hist["error_cov"].append(np.full((L, L), np.nan))
        hist["mse"].append(np.diag(hist["error_cov"][-1]).copy())
        hist["cross"].append(float(A[0, 1] / math.sqrt(A[0, 0] * A[1, 1]))
                             if len(free) >= 2 else math.nan)
        hist["seconds"].append(time.perf_counter() - t0)
        S_hat, g_prev, V_old, om_old = S_new, g, V, om
        if not math.isfinite(res):
            status, message = 2, f"non-finite residual at iteration {it}"
            break
        if res < tol:
            converged, status, message = True, 0, "converged"
            break
        if all(c_hat[j] <= 0 for j in free):
            converged, status, message = True, 0, "c_hat = 0: perfect recovery reached"
            break
    history = {k: np.asarray(v) for k, v in hist.items()}
    mse = history["mse"][-1] if len(history["mse"]) else np.full(L, np.nan)
    return make_record(MultilayerGAMPResult, S_hat=S_hat, success=converged, nit=it,
                       status=status, residual=res, message=message, history=history, mse=mse,
                       c_hat=c_hat, n=n, T=T, d=d, alpha=n / d**2, rho=rho, c=c, beta=beta,
                       delta=delta, known=tuple(sorted(known)))
