"""Joint output channel of the multi-layer AIM: posterior of the indices, ``g_out`` per layer.

Setting (docs/derivations/aim_multilayer.md#joint-channel).  Given the estimates ``omega_l`` and
variances ``V_l`` of the ``L`` index matrices, ``h^(l) ~ N(omega_l, V_l c_ab)`` independently,
and the noiseless (or noisy, ``Delta > 0``) softmax output ``y``.  In the gauge coordinates of
:class:`icl_companion.numerics.aim_multilayer.Gauge` (``delta = h_ab - h_TT``, ``k = T(T+1)/2 - 1``
numbers per layer, prior ``delta_l ~ N(mu_l, V_l Sigma)``, ``mu_l = delta(omega_l)``) the output is

    z = M(delta_1, ..., delta_{L-1}) delta_L + sqrt(Delta) zeta,     zeta ~ N(0, Sigma),

linear in the last layer.  Hence, given the hidden layers, ``z`` is Gaussian,
``N(M mu_L, V_L M Sigma M^T + Delta Sigma)``, and the last layer's posterior given the hidden ones
is Gaussian in closed form; only the ``(L - 1) k`` hidden coordinates need a numerical integral:

    Z_out ~ int prod_{l<L} N(delta_l; mu_l, V_l Sigma) N(z; M mu_L, S(delta_<L)) d delta_<L.

(``Delta = 0``: a point mass in the last layer given the hidden ones, ``delta_L = M^{-1} z``; the
density above is then the Jacobian-weighted density of that point, still a smooth integrand while
``V_L > 0``.)

Numerical integral (no Monte Carlo): adaptive Gauss-Hermite.  In coordinates whitened by the prior
(``x ~ N(0, I)``):

1. a tensor Gauss-Hermite grid of the prior (``n_coarse`` nodes per axis) locates the local maxima
   of the posterior density on the grid; the ``starts`` highest are kept (a posterior may be
   bimodal: for ``T = 2``, ``c < 1`` the output has two preimages, derivation page
   ``#two-preimages``);
2. from each, damped Newton ascent of the log posterior density (central finite differences,
   Levenberg-regularised, backtracking): the mode and the Laplace covariance ``(-Hessian)^{-1}``
   (posteriors are typically thin in the direction that sets the overall scale of ``z`` and long in
   the others, with two lobes when the output has two preimages);
3. a final rule on the mixture of the Gaussians found (inflated by ``inflate``), combined by the
   balance heuristic (a partition of unity: ``int f = sum_j int q_j [pi_j f / sum_i pi_i q_i]``,
   each term by ``n_final``-point Gauss-Hermite under ``q_j``): deterministic, exact for a Gaussian
   posterior, and it resolves two separated modes.

The effective sample size of the final weights is returned per point as a diagnostic.

This is the object a generic "channel" would need (sampling: :func:`icl_companion.numerics.
aim_multilayer.outputs_from_indices`; GAMP: :meth:`MultilayerChannel.gout`; state evolution:
:meth:`MultilayerChannel.fisher` averaged over the teacher law, :mod:`icl_companion.numerics.
aim_multilayer_se`).

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, arXiv:2506.01582, Eqs. 4-5 (model);
   derivation in this repository: docs/derivations/aim_multilayer.md#joint-channel.
.. [2] Q. Liu, D. A. Pierce, "A note on Gauss-Hermite quadrature", Biometrika 81 (1994)
   (adaptive Gauss-Hermite); E. Veach, L. Guibas, "Optimally combining sampling techniques for
   Monte Carlo rendering", SIGGRAPH 1995 (balance heuristic).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from icl_companion.numerics.aim_multilayer import (check_beta, check_noise, check_skip, gauge,
                                                   observe, visible_matrix)
from icl_companion.numerics.quadrature import hermite_e_rule

__all__ = ["QuadratureRule", "Posterior", "MultilayerChannel", "tensor_rule", "DEFAULT_RULE"]



@dataclass(frozen=True)
class QuadratureRule:
    """Node counts of the adaptive Gauss-Hermite integral over the hidden layers (module doc)."""

    n_coarse: int = 14
    starts: int = 3
    newton_steps: int = 14
    fd_step: float = 1e-4
    n_final: int = 24
    inflate: float = 1.5
    chunk_nodes: int = 1_200_000   # nodes x points per batch (memory)

    def scaled(self, dim: int) -> "QuadratureRule":
        """Fewer nodes per axis in higher dimension (``dim = (L - 1) k``): ~``n^dim`` nodes."""
        if dim <= 2:
            return self
        per = {3: (8, 8), 4: (6, 6), 5: (4, 5)}.get(dim, (3, 3))
        return QuadratureRule(per[0], self.starts, self.newton_steps, self.fd_step, per[1],
                              self.inflate, self.chunk_nodes)


DEFAULT_RULE = QuadratureRule()


@functools.lru_cache(maxsize=32)
def tensor_rule(n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor probabilists' Gauss-Hermite rule: nodes ``(n^dim, dim)``, log-weights ``(n^dim,)``."""
    x, w = hermite_e_rule(n)
    nodes = np.array(list(itertools.product(x, repeat=dim))).reshape(-1, dim)
    logw = np.sum(np.log(np.array(list(itertools.product(w, repeat=dim)))), axis=-1)
    nodes.setflags(write=False)
    logw.setflags(write=False)
    return nodes, logw


def _inv_logdet(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of SPD ``(..., k, k)``; closed form for ``k <= 2``.

    Non-positive determinants (numerically singular ``S``) give ``logdet = nan``.
    """
    k = S.shape[-1]
    if k == 1:
        det = S[..., 0, 0]
        ok = det > 0
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)[..., None, None]
        return inv, np.where(ok, np.log(np.where(ok, det, 1.0)), np.nan)
    if k == 2:
        a, b, d = S[..., 0, 0], S[..., 0, 1], S[..., 1, 1]
        det = a * d - b * b
        ok = det > 0
        r = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        inv = np.stack([np.stack([d * r, -b * r], -1), np.stack([-b * r, a * r], -1)], -2)
        return inv, np.where(ok, np.log(np.where(ok, det, 1.0)), np.nan)
    sign, ld = np.linalg.slogdet(S)
    ok = sign > 0
    Ssafe = np.where(ok[..., None, None], S, np.eye(k))
    return np.linalg.inv(Ssafe), np.where(ok, ld, np.nan)


@dataclass
class Posterior:
    """Posterior of the ``L`` layers' coordinates given ``(z, mu, V)``, per point.

    ``mean`` (N, L, k); ``cov`` (N, L k, L k) joint covariance (blocks ordered by layer); ``ess``
    (N,) effective number of nodes of the final rule (1 for a single node); ``failed`` (N,) points
    whose likelihood vanished at every node (posterior set to the prior; counted in diagnostics).
    """

    mean: np.ndarray
    cov: np.ndarray
    ess: np.ndarray
    failed: np.ndarray


class MultilayerChannel:
    """The joint softmax output channel of the ``L``-layer AIM.

    Parameters
    ----------
    T : int >= 2
    L : int >= 1
    c : float >= 0
        Skip strength.
    beta : float > 0
        Inverse temperature of the hidden layers' softmax (the output's ``beta`` only rescales
        ``z``, which is read off ``y`` exactly, :func:`observe`).
    delta : float >= 0
        Output-noise variance (0: noiseless).
    rule : QuadratureRule
    """

    def __init__(self, T: int, L: int = 2, c: float = 1.0, beta: float = 1.0, delta: float = 0.0,
                 rule: QuadratureRule = DEFAULT_RULE):
        self.g = gauge(T)
        if isinstance(L, bool) or int(L) != L or L < 1:
            raise ValueError(f"L = {L!r} is outside the allowed domain: an integer >= 1")
        self.T, self.L = int(T), int(L)
        self.c, self.beta, self.delta = check_skip(c), check_beta(beta), check_noise(delta)
        self.k = self.g.k
        self.hid = (self.L - 1) * self.k
        self.rule = rule.scaled(self.hid)
        self.fast_k2 = True   # explicit 2 x 2 arithmetic for T = 2 (tests compare both paths)

    # ------------------------------------------------------------------ pieces
    def observe(self, y: np.ndarray) -> np.ndarray:
        """Output coordinates ``z`` from softmax rows ``y`` (inverse temperature ``beta``)."""
        return observe(y, self.beta)

    def _hidden(self, x, mu, sV):
        """Hidden coordinates ``delta_l = mu_l + sqrt(V_l) chol x_l`` (``x`` whitened)."""
        k = self.k
        out = []
        for lay in range(self.L - 1):
            xl = x[..., lay * k:(lay + 1) * k]
            out.append(mu[lay] + sV[lay] * (xl @ self.g.chol.T))
        return out

    def _conditional(self, x, z, mu, V, moments: bool):
        """Log-likelihood of the hidden nodes ``x`` (whitened, ``(N, G, hid)``) and, if asked,
        the Gaussian conditional mean ``(N, G, k)`` and covariance ``(N, G, k, k)`` of the last
        layer.

        ``mu``: list of ``L`` arrays ``(N, 1, k)``; ``z``: ``(N, 1, k)``.
        """
        g, k = self.g, self.k
        sV = np.sqrt(V)
        hidden = self._hidden(x, mu[:-1], sV[:-1])
        M = visible_matrix(hidden, self.T, self.c, self.beta)            # (N, G, k, k)
        if k == 2 and self.fast_k2:
            return self._conditional_k2(M, z, mu[-1], V[-1], moments)
        muL = mu[-1]
        r = z - np.einsum("...ij,...j->...i", M, muL)
        MS = M @ g.Sigma                                                 # M Sigma
        S = V[-1] * MS @ np.swapaxes(M, -1, -2) + self.delta * g.Sigma
        tr = np.trace(S, axis1=-2, axis2=-1)
        S = S + (1e-13 * tr)[..., None, None] * np.eye(k)                # numerical floor
        Sinv, logdet = _inv_logdet(S)
        Sr = np.einsum("...ij,...j->...i", Sinv, r)
        logl = -0.5 * np.einsum("...i,...i->...", r, Sr) - 0.5 * logdet
        logl = np.where(np.isfinite(logl), logl, -np.inf)
        if not moments:
            return logl, None, None
        SMt = np.swapaxes(MS, -1, -2)                                    # Sigma M^T
        ED = muL + V[-1] * np.einsum("...ij,...j->...i", SMt, Sr)
        CD = V[-1] * g.Sigma - V[-1] ** 2 * SMt @ Sinv @ MS
        return logl, ED, CD

    def _conditional_k2(self, M, z, muL, VL, moments):
        """:meth:`_conditional` for ``k = 2`` (``T = 2``) in explicit 2 x 2 arithmetic (the same
        formulas; about 4 times faster than batched linear algebra on 2 x 2 blocks)."""
        Sg = self.g.Sigma
        m00, m01, m10, m11 = M[..., 0, 0], M[..., 0, 1], M[..., 1, 0], M[..., 1, 1]
        u0, u1 = muL[..., 0], muL[..., 1]
        r0 = z[..., 0] - (m00 * u0 + m01 * u1)
        r1 = z[..., 1] - (m10 * u0 + m11 * u1)
        # MS = M Sigma
        a00 = m00 * Sg[0, 0] + m01 * Sg[1, 0]
        a01 = m00 * Sg[0, 1] + m01 * Sg[1, 1]
        a10 = m10 * Sg[0, 0] + m11 * Sg[1, 0]
        a11 = m10 * Sg[0, 1] + m11 * Sg[1, 1]
        D = self.delta
        s00 = VL * (a00 * m00 + a01 * m01) + D * Sg[0, 0]
        s01 = VL * (a00 * m10 + a01 * m11) + D * Sg[0, 1]
        s11 = VL * (a10 * m10 + a11 * m11) + D * Sg[1, 1]
        fl = 1e-13 * (s00 + s11)
        s00, s11 = s00 + fl, s11 + fl
        det = s00 * s11 - s01 * s01
        ok = det > 0
        idet = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        i00, i01, i11 = s11 * idet, -s01 * idet, s00 * idet
        Sr0 = i00 * r0 + i01 * r1
        Sr1 = i01 * r0 + i11 * r1
        logl = -0.5 * (r0 * Sr0 + r1 * Sr1) - 0.5 * np.log(np.where(ok, det, 1.0))
        logl = np.where(ok & np.isfinite(logl), logl, -np.inf)
        if not moments:
            return logl, None, None
        # ED = mu + V Sigma M^T S^{-1} r;  (Sigma M^T)_ij = a_ji
        ED = np.stack([u0 + VL * (a00 * Sr0 + a10 * Sr1), u1 + VL * (a01 * Sr0 + a11 * Sr1)], -1)
        # CD = V Sigma - V^2 (Sigma M^T) S^{-1} (M Sigma)
        b00 = i00 * a00 + i01 * a10
        b01 = i00 * a01 + i01 * a11
        b10 = i01 * a00 + i11 * a10
        b11 = i01 * a01 + i11 * a11
        V2 = VL * VL
        c00 = VL * Sg[0, 0] - V2 * (a00 * b00 + a10 * b10)
        c01 = VL * Sg[0, 1] - V2 * (a00 * b01 + a10 * b11)
        c11 = VL * Sg[1, 1] - V2 * (a01 * b01 + a11 * b11)
        CD = np.stack([np.stack([c00, c01], -1), np.stack([c01, c11], -1)], -2)
        return logl, ED, CD

    # ------------------------------------------------------------------ posterior
    def posterior(self, z: np.ndarray, mu: np.ndarray, V) -> Posterior:
        """Posterior moments of all layers' coordinates.

        Parameters
        ----------
        z : ndarray (N, k)
            Output coordinates (:meth:`observe`).
        mu : ndarray (N, L, k)
            Coordinates ``delta(omega_l)`` of the prior means.
        V : sequence of ``L`` floats >= 0
            Prior variances (``V_l = 0``: layer ``l`` known, ``delta_l = mu_l``).  The last layer's
            ``V_L`` must be > 0 when ``Delta = 0`` (a noiseless channel with every layer known is
            degenerate).
        """
        z = np.asarray(z, dtype=float)
        mu = np.asarray(mu, dtype=float)
        V = np.asarray(V, dtype=float).reshape(-1)
        N, k = z.shape
        if mu.shape != (N, self.L, k) or V.shape != (self.L,):
            raise ValueError(f"mu must have shape {(N, self.L, k)} and V {self.L} entries; got "
                             f"{mu.shape}, {V.shape}")
        if np.any(V < 0) or np.any(~np.isfinite(V)):
            raise ValueError(f"V = {V.tolist()} must be finite and >= 0")
        if V[-1] == 0 and self.delta == 0:
            raise ValueError("V_L = 0 with Delta = 0: the last layer is known and the output "
                             "noiseless; the hidden layers' posterior is then singular")
        if self.hid == 0 or np.all(V[:-1] == 0):
            return self._posterior_known_hidden(z, mu, V)
        rule = self.rule
        G = max(rule.n_coarse ** self.hid, rule.starts * rule.n_final ** self.hid)
        step = max(1, rule.chunk_nodes // G)
        parts = [self._posterior_chunk(z[s:s + step], mu[s:s + step], V)
                 for s in range(0, N, step)]
        return Posterior(*(np.concatenate([getattr(p, f) for p in parts])
                           for f in ("mean", "cov", "ess", "failed")))

    def _posterior_known_hidden(self, z, mu, V):
        N, k, L = z.shape[0], self.k, self.L
        x = np.zeros((N, 1, self.hid))
        mus = [mu[:, lay, None, :] for lay in range(L)]
        _, ED, CD = self._conditional(x, z[:, None, :], mus, V, True)
        mean = mu.copy()
        mean[:, -1] = ED[:, 0]
        cov = np.zeros((N, L * k, L * k))
        cov[:, -k:, -k:] = CD[:, 0]
        return Posterior(mean, cov, np.ones(N), np.zeros(N, dtype=bool))

    def _logpost(self, x, z, mus, V):
        """Log of (prior density in whitened coordinates x likelihood), ``(N, G)``."""
        logl, _, _ = self._conditional(x, z, mus, V, False)
        return logl - 0.5 * np.sum(x * x, axis=-1)

    def _posterior_chunk(self, z, mu, V):
        N, k, L, hid, rule = z.shape[0], self.k, self.L, self.hid, self.rule
        zc = z[:, None, :]
        mus = [mu[:, lay, None, :] for lay in range(L)]
        # 1. coarse grid of the prior: local maxima of the posterior density
        u0, _ = tensor_rule(rule.n_coarse, hid)
        lp0 = self._logpost(np.broadcast_to(u0, (N,) + u0.shape), zc, mus, V)
        starts = self._starts(lp0, u0, rule)                             # (N, J, hid)
        J = starts.shape[1]
        # 2. Laplace approximation at the mode reached from each start
        zJ = np.repeat(zc, J, axis=0)
        musJ = [np.repeat(a, J, axis=0) for a in mus]
        m, C, logZ = self._laplace(starts.reshape(N * J, hid), zJ, musJ, V)
        # 3. balance-heuristic mixture of the J Gaussians, inflated
        lz = logZ.reshape(N, J)
        fin = np.isfinite(lz)
        allbad = ~fin.any(axis=-1)
        lz = np.where(fin, lz, -np.inf)
        norm = logsumexp(np.where(allbad[:, None], 0.0, lz), axis=-1)
        logpi = np.where(fin, lz - norm[:, None], -np.inf)
        logpi[allbad] = -math.log(J)
        Cf = rule.inflate**2 * C.reshape(N, J, hid, hid)
        mf = m.reshape(N, J, hid)
        Lf = np.linalg.cholesky(Cf)
        uf, lwf = tensor_rule(rule.n_final, hid)
        x = mf[:, :, None, :] + np.einsum("gj,nkij->nkgi", uf, Lf)       # (N, J, Gf, hid)
        Lfi = np.linalg.inv(Lf)
        halflogdet = np.log(np.diagonal(Lf, axis1=-2, axis2=-1)).sum(-1)  # (N, J)
        # log q_i(x) for every component i at every node: (N, J, Gf, J_i)
        dxi = x[:, :, :, None, :] - mf[:, None, None, :, :]
        wi = np.einsum("nmab,nkgmb->nkgma", Lfi, dxi)
        lqi = -0.5 * np.sum(wi * wi, -1) - halflogdet[:, None, None, :]
        lmix = logsumexp(lqi + logpi[:, None, None, :], axis=-1)          # (N, J, Gf)
        Gf = uf.shape[0]
        xf = x.reshape(N, J * Gf, hid)
        logl, ED, CD = self._conditional(xf, zc, mus, V, True)
        # int p = sum_j int q_j [pi_j p / q_mix] and int q_j f = E_u f(m_j + L_j u): the weight of
        # node (j, i) is w_i pi_j p(x) / q_mix(x), p = N(x; 0, I) x likelihood (balance heuristic;
        # the (2 pi)^(-hid/2) of p and of q_mix cancel)
        lW = ((lwf[None, None, :] + logpi[:, :, None] - 0.5 * np.sum(x * x, -1) - lmix)
              .reshape(N, J * Gf) + logl)
        with np.errstate(divide="ignore"):   # all -inf (likelihood 0 at every node): failed
            lZ = logsumexp(lW, axis=-1)
        failed = ~np.isfinite(lZ)
        W = np.exp(lW - np.where(failed, 0.0, lZ)[:, None])
        W[failed] = 0.0
        ess = np.where(failed, 0.0, 1.0 / np.maximum(np.sum(W * W, -1), 1e-300))
        # moments in the original coordinates
        sV = np.sqrt(V)
        hidden = np.stack(self._hidden(xf, [mu[:, lay, None, :] for lay in range(L - 1)], sV[:-1]),
                          axis=2).reshape(N, J * Gf, hid)
        full = np.concatenate([hidden, ED], axis=-1)                     # (N, G, L k)
        mean = np.einsum("ng,ngi->ni", W, full)
        d = full - mean[:, None, :]
        cov = np.einsum("ng,ngi,ngj->nij", W, d, d)
        cov[:, -k:, -k:] += np.einsum("ng,ngij->nij", W, CD)
        if failed.any():
            prior_mean = mu.reshape(N, L * k)
            mean[failed] = prior_mean[failed]
            pc = np.kron(np.diag(V), self.g.Sigma)
            cov[failed] = pc
        return Posterior(mean.reshape(N, L, k), cov, ess, failed)

    def _laplace(self, x, z, mus, V):
        """Damped Newton ascent of the log posterior from ``x`` ``(P, hid)``; returns the modes,
        the Laplace covariances ``(-H)^{-1}`` (regularised, capped at 16 I) and the Laplace
        estimate of the log mass (the mixture weight of the component)."""
        rule, hid = self.rule, self.hid
        h = rule.fd_step
        E = np.eye(hid)
        # stencil: 0, +-e_i, and (+-e_i +-e_j) for i < j
        st = [np.zeros(hid)] + [s * E[i] for i in range(hid) for s in (1.0, -1.0)]
        pairs = [(i, j) for i in range(hid) for j in range(i + 1, hid)]
        st += [a * E[i] + b * E[j] for (i, j) in pairs for a in (1.0, -1.0) for b in (1.0, -1.0)]
        st = h * np.array(st)
        steps = np.array([1.0, 0.5, 0.25, 0.1, 0.03])

        def derivs(x):
            f = self._logpost(x[:, None, :] + st[None], z, mus, V)
            # a stencil touching a zero of the likelihood (log = -inf, e.g. a saturated attention
            # making M singular) gives no derivative: such points get grad 0, H = -I
            good = np.all(np.isfinite(f), axis=-1)
            f = np.where(good[:, None], f, 0.0)
            f0 = f[:, 0]
            fp, fm = f[:, 1:1 + 2 * hid:2], f[:, 2:2 + 2 * hid:2]
            grad = (fp - fm) / (2 * h)
            H = np.zeros((x.shape[0], hid, hid))
            H[:, np.arange(hid), np.arange(hid)] = (fp - 2 * f0[:, None] + fm) / h**2
            for q, (i, j) in enumerate(pairs):
                b = 1 + 2 * hid + 4 * q
                Hij = (f[:, b] - f[:, b + 1] - f[:, b + 2] + f[:, b + 3]) / (4 * h * h)
                H[:, i, j] = H[:, j, i] = Hij
            grad[~good] = 0.0
            H[~good] = -np.eye(hid)
            f0 = np.where(good, f0, -np.inf)
            return f0, grad, H

        def precision(H):
            A = -H
            lam, U = np.linalg.eigh(A)
            lam = np.maximum(lam, 1e-6 * np.maximum(1.0, np.abs(lam).max(-1, keepdims=True)))
            lam = np.where(np.isfinite(lam), lam, 1.0)
            return lam, U

        for _ in range(rule.newton_steps):
            f0, grad, H = derivs(x)
            lam, U = precision(H)
            dx = np.einsum("pij,pj->pi", U, np.einsum("pji,pj->pi", U, grad) / lam)
            norm = np.linalg.norm(dx, axis=-1, keepdims=True)
            dx = np.where(np.isfinite(dx), dx * np.minimum(1.0, 2.0 / np.maximum(norm, 1e-300)),
                          0.0)
            cand = x[:, None, :] + steps[None, :, None] * dx[:, None, :]
            fc = self._logpost(cand, z, mus, V)
            best = np.argmax(fc, axis=-1)
            fb = fc[np.arange(x.shape[0]), best]
            better = (fb > f0) | (np.isfinite(fb) & ~np.isfinite(f0))
            x = np.where(better[:, None], cand[np.arange(x.shape[0]), best], x)
        f0, grad, H = derivs(x)
        lam, U = precision(H)
        lam = np.maximum(lam, 1.0 / 16.0)
        C = np.einsum("pij,pj,pkj->pik", U, 1.0 / lam, U)
        logZ = f0 + 0.5 * hid * math.log(2 * math.pi) - 0.5 * np.sum(np.log(lam), -1)
        logZ = np.where(np.isfinite(logZ), logZ, -np.inf)
        return x, C, logZ

    @staticmethod
    def _starts(lp0, u0, rule):
        """The ``rule.starts`` highest local maxima of the coarse-grid log density ``(N, G)``."""
        N, G = lp0.shape
        hid = u0.shape[1]
        n = rule.n_coarse
        grid = lp0.reshape((N,) + (n,) * hid)
        is_max = np.ones(grid.shape, dtype=bool)
        for ax in range(1, hid + 1):
            for sh in (1, -1):
                nb = np.roll(grid, sh, axis=ax)
                edge = [slice(None)] * grid.ndim
                edge[ax] = 0 if sh == 1 else -1
                nb[tuple(edge)] = -np.inf
                is_max &= grid >= nb
        cand = np.where(is_max.reshape(N, G), lp0, -np.inf)
        J = min(rule.starts, G)
        top = np.argsort(-cand, axis=-1)[:, :J]
        best = np.argmax(lp0, axis=-1)
        valid = np.isfinite(np.take_along_axis(cand, top, -1))
        top = np.where(valid, top, best[:, None])
        return u0[top]

    # ------------------------------------------------------------------ outputs
    def gout_coords(self, post: Posterior, mu: np.ndarray, V) -> np.ndarray:
        """``d log Z_out / d mu_l = Sigma^{-1} (E[delta_l | z] - mu_l) / V_l``, ``(N, L, k)``;
        zero for a known layer (``V_l = 0``)."""
        V = np.asarray(V, dtype=float)
        diff = post.mean - mu
        g = np.einsum("ij,nlj->nli", self.g.Sigma_inv, diff)
        return np.where(V[None, :, None] > 0, g / np.where(V > 0, V, 1.0)[None, :, None], 0.0)

    def gout(self, y: np.ndarray, omega: np.ndarray, V) -> tuple[np.ndarray, Posterior]:
        """``g_out^(l)_ab = d log Z_out / d omega^(l)_ab`` for every layer, ``(L, n, T, T)``.

        ``y`` (n, T, T) softmax outputs, ``omega`` (L, n, T, T) symmetric prior means, ``V`` the
        ``L`` prior variances (``h^(l)_ab ~ N(omega_ab, c_ab V_l)``).  Also returns the posterior.
        """
        z = self.observe(y)
        mu = np.stack([self.g.coords(omega[lay]) for lay in range(self.L)], axis=1)
        post = self.posterior(z, mu, V)
        gd = self.gout_coords(post, mu, V)
        return np.stack([self.g.omega_gradient(gd[:, lay]) for lay in range(self.L)]), post

    def fisher(self, post: Posterior, mu: np.ndarray, V) -> dict:
        """Per-point estimates of the ``L x L`` Fisher matrix ``E[sum_{a<=b} c_ab g_l,ab g_l',ab]``.

        Two estimators with the same mean (Nishimori identity, derivation ``#state-evolution``):
        ``outer`` = ``(m_l - mu_l)^T Sigma^{-1} (m_l' - mu_l') / (V_l V_l')`` and
        ``posterior`` = ``(delta_ll' k V_l - tr(Sigma^{-1} Cov_ll')) / (V_l V_l')``, ``(N, L, L)``;
        entries of known layers are 0.
        """
        V = np.asarray(V, dtype=float)
        k, L = self.k, self.L
        Si = self.g.Sigma_inv
        diff = post.mean - mu
        outer = np.einsum("nli,ij,nmj->nlm", diff, Si, diff)
        cov = post.cov.reshape(-1, L, k, L, k)
        trc = np.einsum("ij,nljmi->nlm", Si, cov)
        prior = np.diag(k * V)
        VV = np.outer(V, V)
        ok = VV > 0
        den = np.where(ok, VV, 1.0)
        return {"outer": np.where(ok, outer / den, 0.0),
                "posterior": np.where(ok, (prior - trc) / den, 0.0)}

