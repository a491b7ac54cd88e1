"""Teacher data of the single-layer attention-indexed model (AIM), kept as ``(n, T, d)`` arrays.

The model (Boncoraglio, Troiani, Erba, Zdeborová 2025, as coded in the authors' scripts; section
numbers not known; ``docs/derivations/aim.md#model-and-normalisations``):

* tokens ``X^mu in R^{T x d}`` with i.i.d. ``N(0, 1)`` entries, ``n = floor(alpha d^2)`` samples;
* tied weights ``S = W W^T / sqrt(r d)``, ``W in R^{d x r}`` i.i.d. ``N(0, 1)``, ``r = rho d``
  (a scaled Wishart matrix: ``Tr S / d -> sqrt(rho)``, ``Tr S^2 / d -> 1 + rho``);
* indices with the trace subtracted,
  ``h_ab = x_a^T S x_b / sqrt(d) - delta_ab Tr S / sqrt(d)`` (a symmetric ``T x T`` matrix);
* outputs ``y = softmax_beta(h)`` row by row (any ``T``), or for ``T = 2`` the hardmax
  ``y_11 = 1[h_11 > h_12]``, ``y_22 = 1[h_22 > h_12]`` (one-hot rows).

The hardmax option ``labels="sqrt2"`` reproduces the authors' AMP script, which builds its labels from
a symmetrised design tensor and therefore compares ``h_aa`` with ``sqrt(2) h_12``
(``docs/derivations/aim.md#gamp-rie``);
the default ``labels="model"`` is the model as stated.

Nothing here forms a ``d x d`` matrix per sample: the indices are ``(X S) X^T`` batched over samples,
``O(n T d^2)`` time and ``O(n T d + d^2)`` memory.

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, "Bayes optimal learning of
   attention-indexed models", NeurIPS 2025, arXiv:2506.01582 (not numbered in the sources),
   authors' code ``GD_softmax_averaged.py`` (teacher of the GD experiment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["AIMData", "as_observations", "CHANNELS", "LABELS", "n_samples", "rank", "sample_weights",
           "sample_tokens", "indices", "softmax_rows", "hardmax_t2", "outputs", "sample_aim",
           "estimation_error"]

CHANNELS = ("softmax", "hardmax")
LABELS = ("model", "sqrt2")


class TokenShape:
    """``n``, ``T``, ``d`` and ``alpha = n / d^2`` of a data set whose tokens ``X`` are
    ``(n, T, d)`` (shared by the single- and multi-layer samplers)."""

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def T(self) -> int:
        return self.X.shape[1]

    @property
    def d(self) -> int:
        return self.X.shape[2]

    @property
    def alpha(self) -> float:
        """Sample complexity ``n / d^2``."""
        return self.n / self.d**2


@dataclass
class AIMData(TokenShape):
    """One draw of the AIM teacher and its ``n`` samples.

    Attributes
    ----------
    X : ndarray (n, T, d)
        Tokens.
    y : ndarray (n, T, T)
        Outputs (softmax rows, or one-hot hardmax rows).
    h : ndarray (n, T, T)
        The teacher's indices (kept for diagnostics; a learner must not use them).
    S : ndarray (d, d)
        Teacher matrix ``W W^T / sqrt(r d)``.
    W : ndarray (d, r)
    rho, channel, beta, labels :
        The generating parameters.
    """

    X: np.ndarray
    y: np.ndarray
    h: np.ndarray
    S: np.ndarray
    W: np.ndarray
    rho: float
    channel: str
    beta: float = 1.0
    labels: str = "model"


def _check_pos_int(name: str, v, lo: int = 1) -> int:
    if isinstance(v, bool) or int(v) != v or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _check_real(name: str, v, lo: float, lo_open: bool = False) -> float:
    v = float(v)
    bad = not math.isfinite(v) or (v <= lo if lo_open else v < lo)
    if bad:
        rng = f"({lo:g}, inf)" if lo_open else f"[{lo:g}, inf)"
        raise ValueError(f"{name} must be a finite real in {rng}, got {v!r}")
    return v


def n_samples(alpha: float, d: int) -> int:
    """``n = floor(alpha d^2)``, the paper's sample count (``GD_softmax_averaged.py``).

    >>> n_samples(0.2, 100)
    2000
    """
    alpha = _check_real("alpha", alpha, 0.0)
    d = _check_pos_int("d", d)
    return int(math.floor(alpha * d * d + 1e-9))


def rank(rho: float, d: int) -> int:
    """Width ``r = round(rho d)`` (at least 1) of the teacher ``W in R^{d x r}``.

    >>> rank(0.5, 200)
    100
    """
    rho = _check_real("rho", rho, 0.0, lo_open=True)
    d = _check_pos_int("d", d)
    return max(1, int(round(rho * d)))


def sample_weights(rng: np.random.Generator, d: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Teacher ``(W, S)``: ``W in R^{d x r}`` i.i.d. ``N(0, 1)``, ``S = W W^T / sqrt(r d)``.

    Normalisation of the paper (``docs/derivations/aim.md#model-and-normalisations``):
    ``Tr S / d ~ sqrt(rho)``, ``Tr S^2 / d ~ 1 + rho``.
    """
    r = rank(rho, d)
    W = rng.standard_normal((d, r))
    S = (W @ W.T) / math.sqrt(r * d)
    return W, S


def sample_tokens(rng: np.random.Generator, n: int, T: int, d: int) -> np.ndarray:
    """``n`` token matrices ``X^mu in R^{T x d}``, i.i.d. ``N(0, 1)`` entries, shape ``(n, T, d)``."""
    n = _check_pos_int("n", n, 0)
    T = _check_pos_int("T", T)
    d = _check_pos_int("d", d)
    return rng.standard_normal((n, T, d))


def indices(X: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``h_ab = x_a^T S x_b / sqrt(d) - delta_ab Tr S / sqrt(d)`` for every sample, ``(n, T, T)``.

    Computed as ``(X S) X^T``: ``O(n T d^2)`` time, one ``(n, T, d)`` temporary.

    >>> X = np.ones((1, 2, 4)); S = np.eye(4)
    >>> indices(X, S)[0].tolist()   # x^T x / 2 = 2, minus Tr S / 2 = 2 on the diagonal
    [[0.0, 2.0], [2.0, 0.0]]
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 3:
        raise ValueError(f"X must have shape (n, T, d), got {X.shape}")
    d = X.shape[2]
    if S.shape != (d, d):
        raise ValueError(f"S must have shape ({d}, {d}), got {S.shape}")
    sd = math.sqrt(d)
    h = np.matmul(X @ S, np.swapaxes(X, 1, 2)) / sd
    idx = np.arange(X.shape[1])
    h[:, idx, idx] -= np.trace(S) / sd
    return h


def softmax_rows(h: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Row-wise softmax ``exp(beta h_ab) / sum_c exp(beta h_ac)``, computed stably (max shift)."""
    z = beta * np.asarray(h, dtype=float)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def hardmax_t2(h: np.ndarray, labels: str = "model") -> np.ndarray:
    """Hardmax output for ``T = 2``: one-hot rows, ``y_11 = 1[h_11 > k h_12]``, ``y_22 = 1[h_22 > k h_12]``.

    ``k = 1`` for ``labels="model"`` (the stated model), ``k = sqrt(2)`` for ``labels="sqrt2"`` (the
    authors' AMP labels, ``docs/derivations/aim.md#gamp-rie``).

    >>> hardmax_t2(np.array([[[1.0, 0.5], [0.5, -1.0]]]))[0].tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    """
    h = np.asarray(h, dtype=float)
    if h.ndim != 3 or h.shape[1:] != (2, 2):
        raise ValueError(f"hardmax needs T = 2, i.e. h of shape (n, 2, 2); got {h.shape}")
    if labels not in LABELS:
        raise ValueError(f"labels must be one of {LABELS}, got {labels!r}")
    k = 1.0 if labels == "model" else math.sqrt(2.0)
    s1 = h[:, 0, 0] > k * h[:, 0, 1]
    s2 = h[:, 1, 1] > k * h[:, 0, 1]
    y = np.zeros_like(h)
    y[:, 0, 0], y[:, 0, 1] = s1, ~s1
    y[:, 1, 1], y[:, 1, 0] = s2, ~s2
    return y


def outputs(h: np.ndarray, channel: str, beta: float = 1.0, labels: str = "model") -> np.ndarray:
    """The output function ``g(h)`` of the given channel (``"softmax"`` or ``"hardmax"``)."""
    if channel == "softmax":
        return softmax_rows(h, beta)
    if channel == "hardmax":
        return hardmax_t2(h, labels)
    raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")


def sample_aim(rng: np.random.Generator, d: int, rho: float, T: int, alpha: float | None = None,
               n: int | None = None, channel="softmax", beta: float = 1.0,
               labels: str = "model") -> AIMData:
    """Draw a teacher ``S`` and ``n`` samples ``(X^mu, y^mu)`` of the single-layer AIM.

    Parameters
    ----------
    rng : numpy.random.Generator
        All randomness (teacher first, then tokens): the same seed gives the same data.
    d : int >= 1
    rho : float > 0
        ``r / d``.
    T : int >= 1 (``T = 2`` for the hardmax)
    alpha : float >= 0, optional
        Sample complexity; ``n = floor(alpha d^2)``.  Give exactly one of ``alpha`` and ``n``.
    n : int >= 0, optional
    channel : {"softmax", "hardmax"} or Channel
        A name, or any :class:`~icl_companion.numerics.aim_channels.Channel`, whose
        :meth:`~icl_companion.numerics.aim_channels.Channel.sample` draws ``y | h`` (output noise
        is drawn from ``rng`` after the tokens, so noiseless channels give the same data as by
        name).
    beta : float, nonzero
        Inverse temperature of the softmax (the Bayes error does not depend on it,
        ``docs/derivations/aim.md#softmax-channel``).
    labels : {"model", "sqrt2"}
        Hardmax label convention (see :func:`hardmax_t2`).

    References
    ----------
    Boncoraglio et al. 2025 (arXiv:2506.01582), not numbered in the sources; the authors' scripts
    ``GD_softmax_averaged.py``, ``AMP_hardmax.py``;
    ``docs/derivations/aim.md#model-and-normalisations``.
    """
    from icl_companion.numerics.aim_channels import Channel

    d = _check_pos_int("d", d)
    T = _check_pos_int("T", T)
    ch = channel if isinstance(channel, Channel) else None
    if ch is None and channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS} or a Channel, got {channel!r}")
    if ch is not None and ch.T != T:
        raise ValueError(f"T = {T} is not allowed for channel {ch.name}: it has T = {ch.T}")
    if channel == "hardmax" and T != 2:
        raise ValueError(f"T = {T} is not allowed for the hardmax channel: it requires T = 2")
    if (alpha is None) == (n is None):
        raise ValueError("give exactly one of alpha (n = floor(alpha d^2)) and n")
    n = n_samples(alpha, d) if n is None else _check_pos_int("n", n, 0)
    beta = float(beta)
    if not math.isfinite(beta) or beta == 0:
        raise ValueError(f"beta must be a finite nonzero real, got {beta!r}")
    W, S = sample_weights(rng, d, rho)
    X = sample_tokens(rng, n, T, d)
    h = indices(X, S)
    y = outputs(h, channel, beta, labels) if ch is None else ch.sample(h, rng)
    return AIMData(X=X, y=y, h=h, S=S, W=W, rho=float(rho),
                   channel=channel if ch is None else ch.name, beta=beta, labels=labels)


def as_observations(X, y) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` as float arrays of the AIM layout, or ``ValueError``: tokens ``X`` of shape
    ``(n, T, d)`` with ``n >= 1`` and outputs ``y`` of shape ``(n, T, T)`` (as :func:`sample_aim`
    returns them).  Every estimator of the model (GAMP-RIE, the GD student) takes data through this.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 3:
        raise ValueError(f"X must have shape (n, T, d), got {X.shape}")
    n, T, d = X.shape
    if y.shape != (n, T, T):
        raise ValueError(f"y must have shape (n, T, T) = {(n, T, T)}, got {y.shape}")
    if n < 1:
        raise ValueError(f"need at least one sample, got n = {n}")
    return X, y


def estimation_error(S_hat: np.ndarray, S: np.ndarray) -> float:
    """The paper's estimation error ``||S_hat - S||_F^2 / d``
    (``docs/derivations/aim.md#model-and-normalisations``)."""
    S_hat = np.asarray(S_hat, dtype=float)
    if S_hat.shape != S.shape:
        raise ValueError(f"S_hat has shape {S_hat.shape}, S has {S.shape}")
    return float(np.sum((S_hat - S) ** 2) / S.shape[0])
