"""Multi-layer attention-indexed model (AIM): the model, its gauge coordinates and a sampler.

The construction (Boncoraglio, Troiani, Erba, Zdeborová 2025, arXiv:2506.01582, Eqs. 4-5):

    X_0 = X,   X_l = [c I_T + softmax_beta(X_{l-1} S_l X_{l-1}^T / sqrt(d))] X_{l-1}   (l < L),
    y = softmax_beta(X_{L-1} S_L X_{L-1}^T / sqrt(d)),

rows of every softmax at inverse temperature ``beta``, ``c >= 0`` the skip strength,
``S_l = W_l W_l^T / sqrt(r_l d)`` with ``W_l`` a ``d x r_l`` standard Gaussian matrix (``rho_l =
r_l / d``).  Since ``X_l = B_l X`` with a ``T x T`` matrix ``B_l``, every pre-activation is
``P_l = B_{l-1} (X S_l X^T / sqrt(d)) B_{l-1}^T``.  As in the single-layer model the trace term
``Tr S_l / sqrt(d) ~ sqrt(rho_l d)`` of the diagonal is removed, i.e. the indices are

    h^(l)_ab = x_a^T S_l x_b / sqrt(d) - delta_ab Tr S_l / sqrt(d),
    P_l = B_{l-1} h^(l) B_{l-1}^T,

(convention of this package; the paper's Eqs. 4-5 write the bilinear form without it, which for
``L = 1`` is not the model the paper analyses: an ``O(sqrt(d))`` diagonal makes every softmax
one-hot as ``d -> inf``; docs/derivations/aim_multilayer.md#model).

Gauge coordinates.  A softmax row is unchanged by adding a constant to the row; for a symmetric
``P`` the only change invisible in ``softmax(P)`` is ``P -> P + t 1 1^T`` (``e = 1 1^T``).  Because
``A = c I + softmax(.)`` has ``A 1 = (c + 1) 1``, ``A e A^T = (c + 1)^2 e``: every ``P_l`` modulo
``e`` depends on ``h^(1..l)`` modulo ``e`` only.  :class:`Gauge` holds the coordinates
``delta_i = h_{p_i} - h_TT`` of ``Sym_T / e`` (``p_i`` the ``m - 1`` pairs ``a <= b`` other than
``(T, T)``, ``m = T (T + 1) / 2``), the same gauge as the single-layer softmax ``g_out``
(:func:`icl_companion.numerics.aim_gamp.softmax_gout`).  In these coordinates the output is

    z = delta(P_L) = M(delta^(1), ..., delta^(L-1)) delta^(L)      (linear in the last layer),

with ``z`` read off ``y`` exactly (``z_i = log(y_{a b}/y_{a T})/beta + log(y_{T a}/y_{T T})/beta``).

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, "Bayes optimal learning of
   attention-indexed models", NeurIPS 2025, arXiv:2506.01582, Eqs. 4-5 (multilayer construction).
.. [2] Derivation in this repository: docs/derivations/aim_multilayer.md.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from icl_companion.numerics.aim_data import (TokenShape, _check_pos_int, indices, n_samples,
                                             sample_tokens, sample_weights, softmax_rows)

__all__ = ["Gauge", "gauge", "check_layers", "check_skip", "check_beta", "check_noise",
           "attention", "visible_matrix", "outputs_coords", "forward_pre_activations",
           "outputs_from_indices", "observe", "MultilayerData", "sample_multilayer"]


# ------------------------------------------------------------------------------------ input checks
def check_layers(L, rho) -> tuple[int, tuple[float, ...]]:
    """``L >= 1`` and one ``rho_l > 0`` per layer; returns ``(L, rho)``.  ``rho`` may be a scalar
    (the same for every layer) or a sequence of length ``L``."""
    if isinstance(L, bool) or int(L) != L or L < 1:
        raise ValueError(f"L = {L!r} is outside the allowed domain: an integer >= 1")
    L = int(L)
    r = np.atleast_1d(np.asarray(rho, dtype=float))
    if r.ndim != 1:
        raise ValueError(f"rho must be a number or a sequence of L = {L} numbers, got {rho!r}")
    if r.size == 1:
        r = np.repeat(r, L)
    if r.size != L:
        raise ValueError(f"rho has {r.size} entries but L = {L}: give one rank ratio per layer")
    if np.any(~np.isfinite(r)) or np.any(r <= 0):
        raise ValueError(f"rho = {r.tolist()} is outside the allowed domain: each rho_l in "
                         f"(0, inf)")
    return L, tuple(float(v) for v in r)


def check_skip(c) -> float:
    """Skip strength ``c`` in ``[0, inf)``."""
    c = float(c)
    if not (math.isfinite(c) and c >= 0):
        raise ValueError(f"c = {c!r} is outside the allowed domain: a real number in [0, inf)")
    return c


def check_beta(beta) -> float:
    """Inverse temperature ``beta`` in ``(0, inf)``."""
    beta = float(beta)
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta = {beta!r} is outside the allowed domain: a real number in "
                         f"(0, inf)")
    return beta


def check_noise(delta) -> float:
    """Output-noise variance ``Delta`` in ``[0, inf)``."""
    delta = float(delta)
    if not (math.isfinite(delta) and delta >= 0):
        raise ValueError(f"Delta = {delta!r} is outside the allowed domain: a real number in "
                         f"[0, inf)")
    return delta


# ------------------------------------------------------------------------------------ gauge
@dataclass(frozen=True)
class Gauge:
    """Coordinates of symmetric ``T x T`` matrices modulo ``e = 1 1^T``.

    ``pairs`` are the ``m = T (T + 1)/2`` index pairs ``a <= b`` in ``numpy.triu_indices`` order
    (the last one is ``(T-1, T-1)``); ``k = m - 1``.  ``B`` (``k x m``) maps the upper-triangle
    vector of ``h`` to ``delta_i = h_{p_i} - h_TT``; ``Sigma = B diag(c_ab) B^T`` is the covariance
    of ``delta(h)`` when ``h`` has independent entries of variance ``c_ab`` (2 on the diagonal,
    1 off it); ``basis[j]`` is the symmetric matrix with ``delta = e_j`` and ``h_TT = 0``.
    """

    T: int
    k: int
    rows: np.ndarray
    cols: np.ndarray
    cvec: np.ndarray
    B: np.ndarray
    Sigma: np.ndarray
    chol: np.ndarray
    Sigma_inv: np.ndarray
    basis: np.ndarray

    def coords(self, h: np.ndarray) -> np.ndarray:
        """``delta(h)``, shape ``h.shape[:-2] + (k,)``."""
        h = np.asarray(h, dtype=float)
        return h[..., self.rows[:-1], self.cols[:-1]] - h[..., -1, -1][..., None]

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The symmetric representative with ``delta = x`` and ``h_TT = 0``."""
        x = np.asarray(x, dtype=float)
        h = np.zeros(x.shape[:-1] + (self.T, self.T))
        h[..., self.rows[:-1], self.cols[:-1]] = x
        h[..., self.cols[:-1], self.rows[:-1]] = x
        return h

    def omega_gradient(self, g_delta: np.ndarray) -> np.ndarray:
        """``d log Z / d omega_ab`` (symmetric ``T x T``) from ``d log Z / d delta``: ``B^T g``.

        ``Z`` depends on ``omega`` only through ``delta(omega)``, so the gradient with respect to
        the ``m`` free entries ``omega_ab`` (``a <= b``) is ``B^T g_delta``, returned as the
        symmetric matrix used by the GAMP adjoint (:mod:`icl_companion.numerics.aim_gamp`).
        """
        g_delta = np.asarray(g_delta, dtype=float)
        vec = np.concatenate([g_delta, -g_delta.sum(axis=-1, keepdims=True)], axis=-1)
        out = np.zeros(g_delta.shape[:-1] + (self.T, self.T))
        out[..., self.rows, self.cols] = vec
        out[..., self.cols, self.rows] = vec
        return out


@functools.lru_cache(maxsize=None)
def gauge(T: int) -> Gauge:
    """The :class:`Gauge` of sequence length ``T >= 2``."""
    if isinstance(T, bool) or int(T) != T or T < 2:
        raise ValueError(f"T = {T!r} is outside the allowed domain: an integer >= 2")
    T = int(T)
    rows, cols = np.triu_indices(T)
    m = rows.size
    k = m - 1
    cvec = np.where(rows == cols, 2.0, 1.0)
    B = np.zeros((k, m))
    B[np.arange(k), np.arange(k)] = 1.0
    B[:, -1] = -1.0
    Sigma = B @ np.diag(cvec) @ B.T
    basis = np.zeros((k, T, T))
    for j in range(k):
        basis[j, rows[j], cols[j]] = basis[j, cols[j], rows[j]] = 1.0
    for arr in (rows, cols, cvec, B, Sigma, basis):
        arr.setflags(write=False)
    chol = np.linalg.cholesky(Sigma)
    inv = np.linalg.inv(Sigma)
    chol.setflags(write=False)
    inv.setflags(write=False)
    return Gauge(T, k, rows, cols, cvec, B, Sigma, chol, inv, basis)


# ------------------------------------------------------------------------------------ forward map
def attention(P: np.ndarray, c: float, beta: float) -> np.ndarray:
    """``A = c I + softmax_beta(P)`` (rows): token mixing of a layer, skip strength ``c``."""
    T = P.shape[-1]
    return c * np.eye(T) + softmax_rows(P, beta)


def _mixing(hidden: list, g: Gauge, c: float, beta: float) -> np.ndarray:
    """``B_{L-1} = A_{L-1} ... A_1`` from the hidden layers' coordinates (each ``(..., k)``)."""
    Bm = None
    for x in hidden:
        h = g.matrix(x)
        P = h if Bm is None else Bm @ h @ np.swapaxes(Bm, -1, -2)
        A = attention(P, c, beta)
        Bm = A if Bm is None else A @ Bm
    return Bm


def visible_matrix(hidden: list, T: int, c: float, beta: float) -> np.ndarray:
    """``M`` with ``z = M delta^(L)``: the last layer's coordinates mapped to the output's.

    ``hidden`` lists the coordinates ``delta^(1..L-1)`` (arrays ``(..., k)`` broadcasting
    together); for ``L = 1`` (empty list) ``M`` is the identity.  Column ``j`` is
    ``delta(B E_j B^T)`` with ``E_j`` = ``Gauge.basis[j]`` and ``B = A_{L-1} ... A_1``: for
    ``E_j = e_r e_s^T + e_s e_r^T`` (``e_r e_r^T`` if ``r = s``),
    ``(B E_j B^T)_ab = B_ar B_bs + B_as B_br`` (``B_ar B_br``).  Returns ``(..., k, k)``.
    """
    g = gauge(T)
    if not hidden:
        return np.eye(g.k)
    Bm = _mixing(list(hidden), g, c, beta)
    return _congruence_coords(Bm, g)


def _congruence_coords(Bm: np.ndarray, g: Gauge) -> np.ndarray:
    """Matrix of ``delta -> delta(Bm rep(delta) Bm^T)`` in the gauge coordinates."""
    k = g.k
    if g.T == 2:   # explicit: pairs (0,0), (0,1), (1,1); about 5 times faster than the gathers
        b00, b01, b10, b11 = Bm[..., 0, 0], Bm[..., 0, 1], Bm[..., 1, 0], Bm[..., 1, 1]
        M = np.empty(Bm.shape[:-2] + (2, 2))
        M[..., 0, 0] = b00 * b00 - b10 * b10
        M[..., 0, 1] = 2.0 * (b00 * b01 - b10 * b11)
        M[..., 1, 0] = b00 * b10 - b10 * b10
        M[..., 1, 1] = b00 * b11 + b01 * b10 - 2.0 * b10 * b11
        return M
    a, b = g.rows, g.cols                      # output pairs (all m; the last is (T, T))
    r, s = g.rows[:k], g.cols[:k]              # input pairs
    Bar = Bm[..., a[:, None], r[None, :]]
    Bbs = Bm[..., b[:, None], s[None, :]]
    Bas = Bm[..., a[:, None], s[None, :]]
    Bbr = Bm[..., b[:, None], r[None, :]]
    F = Bar * Bbs + np.where(r == s, 0.0, 1.0) * Bas * Bbr      # (..., m, k)
    return F[..., :k, :] - F[..., k:, :]


def outputs_coords(deltas: list, T: int, c: float, beta: float) -> np.ndarray:
    """``z = M(delta^(1..L-1)) delta^(L)`` for the coordinates of all ``L`` layers."""
    M = visible_matrix(list(deltas[:-1]), T, c, beta)
    return np.einsum("...ij,...j->...i", M, deltas[-1])


def forward_pre_activations(hs: list, c: float, beta: float) -> np.ndarray:
    """The last pre-activation ``P_L = B_{L-1} h^(L) B_{L-1}^T`` from the index matrices ``h^(l)``
    (each ``(..., T, T)``), with ``B_l = [c I + softmax_beta(P_l)] B_{l-1}``, ``B_0 = I``."""
    Bm = None
    P = None
    for lay, h in enumerate(hs):
        P = h if Bm is None else Bm @ h @ np.swapaxes(Bm, -1, -2)
        if lay < len(hs) - 1:
            A = attention(P, c, beta)
            Bm = A if Bm is None else A @ Bm
    return P


def outputs_from_indices(hs: list, c: float, beta: float, noise=None) -> np.ndarray:
    """``y = softmax_beta(P_L [+ sqrt(Delta) Xi])`` (rows); ``noise`` is the added matrix."""
    P = forward_pre_activations(hs, c, beta)
    if noise is not None:
        P = P + noise
    return softmax_rows(P, beta)


def observe(y: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """The output coordinates ``z = delta(P_L)`` read off softmax rows ``y`` (exact inverse).

    ``log(y_ab / y_aT) / beta = P_ab - P_aT``; the gauge ``P_ab - P_TT`` is
    ``phi_ab + phi_Ta`` with ``phi_ab = log(y_ab / y_aT)/beta`` (as in the single-layer
    :func:`icl_companion.numerics.aim_gamp.softmax_gout`); the upper triangle is used.
    """
    y = np.asarray(y, dtype=float)
    T = y.shape[-1]
    ly = np.log(y)
    phi = (ly - ly[..., -1:]) / beta
    h0 = phi + np.swapaxes(phi[..., -1:, :], -1, -2)
    return gauge(T).coords(np.triu(h0) + np.swapaxes(np.triu(h0, 1), -1, -2))


# ------------------------------------------------------------------------------------ sampler
@dataclass
class MultilayerData(TokenShape):
    """One draw of the L-layer AIM teacher and its ``n`` samples.

    ``X`` (n, T, d) tokens; ``y`` (n, T, T) outputs; ``h`` (L, n, T, T) the teacher's indices
    (diagnostics only); ``S`` (L, d, d) teacher matrices; ``rho``, ``c``, ``beta``, ``delta``
    (output-noise variance) the generating parameters.
    """

    X: np.ndarray
    y: np.ndarray
    h: np.ndarray
    S: np.ndarray
    rho: tuple
    c: float
    beta: float
    delta: float

    @property
    def L(self) -> int:
        return self.S.shape[0]


def sample_multilayer(rng: np.random.Generator, d: int, rho, T: int, L: int = 2,
                      alpha: float | None = None, n: int | None = None, c: float = 1.0,
                      beta: float = 1.0, delta: float = 0.0) -> MultilayerData:
    """Draw ``L`` teachers ``S_l`` and ``n`` samples of the multi-layer AIM (module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator
        All randomness, in the order: teachers ``S_1..S_L``, tokens, output noise.
    d, T : int
    rho : float or sequence of ``L`` floats > 0
    L : int >= 1
    alpha, n : sample complexity ``n = floor(alpha d^2)`` or the count (give exactly one)
    c : float >= 0
        Skip strength.
    beta : float > 0
        Inverse temperature of every softmax.
    delta : float >= 0
        Variance of a Gaussian matrix ``sqrt(Delta) Xi`` added to the last pre-activation
        (``Xi`` symmetric, entry variances 2 on the diagonal and 1 off it); 0 = noiseless.

    References
    ----------
    Boncoraglio et al. 2025 (arXiv:2506.01582), Eqs. 4-5; docs/derivations/aim_multilayer.md#model.
    """
    d = _check_pos_int("d", d)
    T = _check_pos_int("T", T)
    if T < 2:
        raise ValueError(f"T = {T} is outside the allowed domain: an integer >= 2")
    L, rho = check_layers(L, rho)
    c, beta, delta = check_skip(c), check_beta(beta), check_noise(delta)
    if (alpha is None) == (n is None):
        raise ValueError("give exactly one of alpha (n = floor(alpha d^2)) and n")
    n = n_samples(alpha, d) if n is None else _check_pos_int("n", n, 0)
    S = np.stack([sample_weights(rng, d, r)[1] for r in rho])
    X = sample_tokens(rng, n, T, d)
    h = np.stack([indices(X, S[lay]) for lay in range(L)])
    noise = None
    if delta > 0:
        Z = rng.standard_normal((n, T, T))
        noise = math.sqrt(delta) * (Z + np.swapaxes(Z, 1, 2)) / math.sqrt(2.0)
    y = outputs_from_indices(list(h), c, beta, noise)
    return MultilayerData(X=X, y=y, h=h, S=S, rho=rho, c=c, beta=beta, delta=delta)


