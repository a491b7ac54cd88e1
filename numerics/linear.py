"""NumPy simulator of in-context linear regression and its linear baselines (prefix ``linear``).

The same setting as :mod:`icl_companion.theory.linear`: prompts of ``L`` pairs with ``x ~ N(0, I_d)`` (or
``N(0, diag(lambdas))``), ``y = x^T beta + eps``.  Predictors act on whole batches of prompts
(arrays ``X: (n, L, d)``, ``y: (n, L)``, ``xq: (n, d)``) so that a Monte Carlo estimate is a few
vectorised operations.  :func:`mc_risk` returns the mean squared error and its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Prompts", "sample_prompts", "gd_predict", "ridge_predict", "zfb_predict",
           "bayes_conditional_risk", "MCEstimate", "mc_risk", "mc_mean"]


@dataclass
class Prompts:
    """A batch of in-context regression prompts and the query targets."""

    X: np.ndarray      # (n, L, d) context covariates
    y: np.ndarray      # (n, L) context responses
    xq: np.ndarray     # (n, d) query covariates
    yq: np.ndarray     # (n,) query responses (with noise)
    beta: np.ndarray   # (n, d) task vectors
    fq: np.ndarray     # (n,) noiseless query target x_q^T beta


def sample_prompts(rng: np.random.Generator, n: int, d: int, L: int, sigma2: float = 0.0,
                   lambdas=None, beta_scale: float | None = None) -> Prompts:
    """Sample ``n`` prompts.

    Parameters
    ----------
    rng : numpy.random.Generator
    n, d, L : int
        Prompts, dimension, context length.
    sigma2 : float
        Noise variance of every response (context and query).
    lambdas : array_like, optional
        Covariance eigenvalues, ``x ~ N(0, diag(lambdas))``; default identity.
    beta_scale : float, optional
        ``beta ~ N(0, beta_scale^2 I)``; default ``1/sqrt(d)`` (He et al.'s ``N(0, I/d)``).  ZFB uses 1.
    """
    if n < 1 or d < 1 or L < 1:
        raise ValueError(f"n, d, L must be >= 1, got n={n}, d={d}, L={L}")
    if sigma2 < 0:
        raise ValueError(f"sigma2 must be >= 0, got {sigma2}")
    sd = np.ones(d) if lambdas is None else np.sqrt(np.asarray(lambdas, dtype=float))
    if sd.shape != (d,):
        raise ValueError(f"lambdas must have length d={d}")
    bs = 1.0 / np.sqrt(d) if beta_scale is None else float(beta_scale)
    beta = bs * rng.standard_normal((n, d))
    X = rng.standard_normal((n, L, d)) * sd
    xq = rng.standard_normal((n, d)) * sd
    noise = np.sqrt(sigma2)
    y = np.einsum("nld,nd->nl", X, beta) + noise * rng.standard_normal((n, L))
    fq = np.einsum("nd,nd->n", xq, beta)
    yq = fq + noise * rng.standard_normal(n)
    return Prompts(X, y, xq, yq, beta, fq)


def gd_predict(P: Prompts, eta: float) -> np.ndarray:
    """One step of GD from zero on the in-context least squares: ``(eta/L) sum_l y_l x_l^T x_q``."""
    L = P.X.shape[1]
    g = np.einsum("nl,nld->nd", P.y, P.X) / L
    return eta * np.einsum("nd,nd->n", g, P.xq)


def ridge_predict(P: Prompts, lam: float) -> np.ndarray:
    """Ridge ``x_q^T (X^T X + lam I)^-1 X^T y``; ``lam = sigma2 d`` is the Bayes posterior mean."""
    d = P.X.shape[2]
    A = np.einsum("nld,nle->nde", P.X, P.X) + lam * np.eye(d)
    b = np.einsum("nld,nl->nd", P.X, P.y)
    w = np.linalg.solve(A, b[..., None])[..., 0]
    return np.einsum("nd,nd->n", w, P.xq)


def zfb_predict(P: Prompts, lambdas, N: int) -> np.ndarray:
    """ZFB LSA optimum trained at length ``N``: ``x_q^T Gamma^-1 (1/M) sum_i y_i x_i``
    with ``Gamma = (1 + 1/N) Lambda + tr(Lambda)/N I`` (Zhang, Frei, Bartlett 2024, Thm 4.1)."""
    lam = np.asarray(lambdas, dtype=float)
    gamma = (1 + 1 / N) * lam + lam.sum() / N
    M = P.X.shape[1]
    g = np.einsum("nl,nld->nd", P.y, P.X) / M
    return np.einsum("nd,nd->n", g / gamma, P.xq)


def bayes_conditional_risk(rng: np.random.Generator, n: int, d: int, L: int, sigma2: float
                           ) -> np.ndarray:
    """Per-prompt Bayes risk given ``X``: ``sigma2 + sigma2 tr((X^T X + sigma2 d I)^-1)``.

    Exact conditional expectation over ``beta``, the noise and ``x_q`` (the posterior of ``beta``
    is Gaussian with covariance ``sigma2 (X^T X + sigma2 d I)^-1``), so only ``X`` is sampled:
    a low-variance estimator of the finite-size Bayes risk.  Eigenvalues by ``eigh``.
    """
    X = rng.standard_normal((n, L, d))
    ev = np.linalg.eigvalsh(np.einsum("nld,nle->nde", X, X))
    return sigma2 + sigma2 * np.sum(1.0 / (ev + sigma2 * d), axis=-1)


@dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo mean with its standard error and sample count."""

    mean: float
    stderr: float
    n: int

    def as_dict(self) -> dict:
        return {"value": self.mean, "stderr": self.stderr, "n": self.n}


def mc_mean(samples: np.ndarray) -> MCEstimate:
    """Mean and standard error ``std(ddof=1)/sqrt(n)`` of i.i.d. samples."""
    s = np.asarray(samples, dtype=float).ravel()
    if s.size < 2:
        raise ValueError("need at least 2 samples for a standard error")
    top = float(np.max(np.abs(s)))
    scale = top if math.isfinite(top) and top > 0 else 1.0  # squares of 1e200 would overflow
    z = s / scale
    return MCEstimate(float(z.mean() * scale), float(z.std(ddof=1) / np.sqrt(s.size) * scale),
                      int(s.size))


def mc_risk(predict, rng: np.random.Generator, n: int, d: int, L: int, sigma2: float = 0.0,
            target: str = "noisy", batch: int = 20000, **sample_kw) -> MCEstimate:
    """Monte Carlo ``E (predict(P) - target)^2`` over ``n`` prompts, in batches.

    ``target="noisy"`` compares with ``y_q`` (He et al.'s risk, noise included); ``"clean"`` with
    ``x_q^T beta`` (ZFB's error).
    """
    if target not in ("noisy", "clean"):
        raise ValueError(f"target must be 'noisy' or 'clean', got {target!r}")
    errs = []
    left = n
    while left > 0:
        m = min(batch, left)
        P = sample_prompts(rng, m, d, L, sigma2, **sample_kw)
        t = P.yq if target == "noisy" else P.fq
        errs.append((predict(P) - t) ** 2)
        left -= m
    return mc_mean(np.concatenate(errs))
