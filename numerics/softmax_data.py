"""Prompt samplers for He, Pan, Chen, Yang (2025), multi-head softmax attention (prefix ``softmax``).

Three settings, all with a fresh batch per training step (the authors' online training):

* ``isotropic``: ``x ~ N(0, I_d)``, ``beta ~ N(0, I_d/d)``, ``y = beta^T x + eps``,
  ``eps ~ N(0, sigma2)``, noisy query target (``docs/derivations/softmax.md#setting``);
* ``ar1``: the same with ``x ~ N(0, Sigma)``, ``Sigma_ij = rho^|i-j|`` (the authors'
  ``generate_covariance_matrix``);
* ``multitask``: ``N`` tasks with supports ``S_n`` of ``[d]``, ``y_n = beta_{S_n}^T x_{S_n} + eps_n``
  with one shared ``beta ~ N(0, I_d/d)`` (the blog's version, ``variant="blog"``), or the authors'
  code version (``variant="code"``: separate ``beta_n ~ N(0, I_{d_n})``, noise variance
  ``sigma2 d_n`` per task, noiseless query target).

A prompt is embedded as tokens ``z_l = [x_l; y_l]`` in ``R^(d+N)`` and the query ``z_q = [x_q; 0]``.
Everything is batched: ``Z`` has shape ``(n, L, d+N)``, ``zq`` ``(n, d+N)``, targets ``(n, N)``.

References
----------
He, Pan, Chen, Yang, "In-Context Linear Regression Demystified: Training Dynamics and Mechanistic
Interpretability of Multi-Head Softmax Attention", ICML 2025, arXiv:2503.12734 (not numbered in the
sources; data model and embedding ``Z_ebd`` as in the authors' blog post); code ``XintianPan/ICL_linear``, ``utils/data_utils.py``
(``LinearReg``, ``MultiTaskLinearReg``, ``generate_covariance_matrix``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Setting", "TokenBatch", "ar1_covariance", "sample_tokens", "embed_prompts",
           "default_supports"]

_KINDS = ("isotropic", "ar1", "multitask")


def ar1_covariance(d: int, rho: float) -> np.ndarray:
    """The AR(1) covariance ``Sigma_ij = rho^|i-j|`` (He et al., anisotropic experiment).

    >>> ar1_covariance(3, 0.5)
    array([[1.  , 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 1.  ]])
    """
    if int(d) != d or d < 1:
        raise ValueError(f"d must be an integer >= 1, got d={d}")
    if not (-1.0 < rho < 1.0):
        raise ValueError(f"rho must lie in (-1, 1) for a positive definite AR(1) matrix, got rho={rho}")
    i = np.arange(int(d))
    return float(rho) ** np.abs(i[:, None] - i[None, :])


def default_supports(d: int = 6) -> tuple:
    """He et al.'s two overlapping supports ``S_1 = {1,2,3,4}``, ``S_2 = {3,4,5,6}`` (0-based)."""
    if d != 6:
        raise ValueError(f"the default supports are defined for d=6, got d={d}")
    return ((0, 1, 2, 3), (2, 3, 4, 5))


@dataclass(frozen=True)
class Setting:
    """What a prompt distribution is: kind, sizes, noise, and the kind's own parameters."""

    kind: str = "isotropic"
    d: int = 5
    L: int = 40
    sigma2: float = 0.1
    rho: float = 0.5                      # ar1 only
    supports: tuple = field(default=())   # multitask only: tuple of index tuples
    variant: str = "blog"                 # multitask only: "blog" or "code"

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        for name in ("d", "L"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {name}={v}")
        if not (self.sigma2 >= 0 and np.isfinite(self.sigma2)):
            raise ValueError(f"sigma2 must be finite and >= 0, got sigma2={self.sigma2}")
        if self.kind == "ar1":
            ar1_covariance(self.d, self.rho)  # validates rho
        if self.kind == "multitask":
            if not self.supports:
                raise ValueError("multitask needs supports, e.g. default_supports(6)")
            for s in self.supports:
                if len(s) == 0 or min(s) < 0 or max(s) >= self.d or len(set(s)) != len(s):
                    raise ValueError(f"each support must be a non-empty set of distinct indices in "
                                     f"[0, {self.d - 1}], got {s}")
            if self.variant not in ("blog", "code"):
                raise ValueError(f"variant must be 'blog' or 'code', got {self.variant!r}")

    @property
    def n_out(self) -> int:
        """Number of responses per token (``N`` tasks, 1 otherwise)."""
        return len(self.supports) if self.kind == "multitask" else 1

    @property
    def D(self) -> int:
        """Token dimension ``d + N``."""
        return self.d + self.n_out

    def as_dict(self) -> dict:
        return {"kind": self.kind, "d": self.d, "L": self.L, "sigma2": self.sigma2,
                "rho": self.rho if self.kind == "ar1" else None,
                "supports": [list(s) for s in self.supports] or None,
                "variant": self.variant if self.kind == "multitask" else None}


@dataclass
class TokenBatch:
    """Embedded prompts: ``full`` holds the ``L`` context tokens followed by the query token.

    ``Z = full[:, :L]`` (tokens ``[x_l; y_l]``), ``zq = full[:, L]`` (``[x_q; 0]``) are views;
    ``yq`` are the query targets, shape ``(n, N)``.
    """

    full: np.ndarray  # (n, L+1, D)
    yq: np.ndarray    # (n, N)

    @property
    def Z(self) -> np.ndarray:
        return self.full[:, :-1]

    @property
    def zq(self) -> np.ndarray:
        return self.full[:, -1]

    @property
    def n(self) -> int:
        return self.full.shape[0]

    @property
    def L(self) -> int:
        return self.full.shape[1] - 1

    @property
    def N(self) -> int:
        return self.yq.shape[1]

    @property
    def X(self) -> np.ndarray:
        return self.full[:, :-1, :-self.N]

    @property
    def y(self) -> np.ndarray:
        return self.full[:, :-1, -self.N:]

    @property
    def xq(self) -> np.ndarray:
        return self.full[:, -1, :-self.N]


def embed_prompts(X: np.ndarray, y: np.ndarray, xq: np.ndarray, yq: np.ndarray,
                  dtype=np.float64) -> TokenBatch:
    """Embed ``X (n,L,d)``, ``y (n,L[,N])``, ``xq (n,d)``, ``yq (n[,N])`` as tokens (He et al. Z_ebd)."""
    X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim == 2:
        y = y[..., None]
    yq = np.asarray(yq)
    if yq.ndim == 1:
        yq = yq[:, None]
    n, L, d = X.shape
    N = y.shape[-1]
    full = np.zeros((n, L + 1, d + N), dtype=dtype)
    full[:, :L, :d] = X
    full[:, :L, d:] = y
    full[:, L, :d] = xq
    return TokenBatch(full, np.asarray(yq, dtype=dtype))


def sample_tokens(rng: np.random.Generator, n: int, setting: Setting,
                  L: int | None = None, dtype=np.float64) -> TokenBatch:
    """Sample ``n`` embedded prompts of ``setting`` (context length ``L``, default ``setting.L``).

    One standard-normal array of the token shape ``(n, L+1, d+N)`` supplies the covariates (first
    ``d`` coordinates) and the noises (last ``N``), which are then overwritten with the responses:
    no copies, which matters because sampling is a large part of a training step.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness: the same seed gives the same batch.
    n : int
        Number of prompts (batch size).
    setting : Setting
    L : int, optional
        Context length (for evaluation at test lengths different from training).
    dtype : numpy dtype
        Token dtype (float64 or float32).

    References
    ----------
    He et al. (2025), the blog post's isotropic setting, "Non-Isotropic Covariates" and "In-Context
    Multi-Task Regression" experiments; code
    ``utils/data_utils.py``.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got n={n}")
    L = setting.L if L is None else L
    if int(L) != L or L < 1:
        raise ValueError(f"L must be an integer >= 1, got L={L}")
    n, L, d, s2, N = int(n), int(L), setting.d, setting.sigma2, setting.n_out
    dtype = np.dtype(dtype)
    full = rng.standard_normal((n, L + 1, d + N), dtype=dtype)
    X = full[..., :d]                     # covariates of the L context tokens and the query
    if setting.kind == "ar1":
        X[...] = X @ np.linalg.cholesky(ar1_covariance(d, setting.rho)).T.astype(dtype)
    if setting.kind == "multitask":
        masks = np.zeros((N, d), dtype=dtype)
        for k, s in enumerate(setting.supports):
            masks[k, list(s)] = 1.0
        if setting.variant == "blog":     # one shared beta ~ N(0, I/d), restricted to S_k
            beta = rng.standard_normal((n, 1, d), dtype=dtype) / np.sqrt(d)
            B = beta * masks[None]        # (n, N, d)
            noise_sd = np.full(N, np.sqrt(s2), dtype=dtype)
            query_noise = True
        else:  # the authors' code: beta_k ~ N(0, I_{d_k}), noise var sigma2 d_k, clean query
            B = rng.standard_normal((n, N, d), dtype=dtype) * masks[None]
            noise_sd = np.sqrt(s2 * masks.sum(1)).astype(dtype)
            query_noise = False
    else:
        B = rng.standard_normal((n, 1, d), dtype=dtype) / np.sqrt(d)   # beta ~ N(0, I/d)
        noise_sd = np.full(1, np.sqrt(s2), dtype=dtype)
        query_noise = True
    f = np.matmul(X, B.transpose(0, 2, 1))          # (n, L+1, N) noiseless responses
    noise = full[..., d:]
    noise *= noise_sd
    if not query_noise:
        noise[:, L] = 0.0
    noise += f                                      # responses, written into the tokens
    yq = noise[:, L].copy()
    full[:, L, d:] = 0.0                            # query token [x_q; 0]
    return TokenBatch(full, yq)
