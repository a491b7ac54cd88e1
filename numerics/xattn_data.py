"""Sampler of the (reconstructed) multi-modal latent factor model of Barnfield, Sen & Sur.

Reconstructed model (``docs/derivations/xattn.md#latent-factor-model``; not confirmed against the
paper body). A *task* is a loading ``Gamma = [Gamma_bar; Gamma_tilde]`` (``d x k``, ``d = d1 + d2``:
the two modalities are stacked) and a response loading ``beta`` (``k``).  Given the task, examples
are ``u ~ N(0, I_k)``, ``x = Gamma u + sqrt(tau2) eps``, ``y = beta^T u + sqrt(sigma2) e``, so
``Sigma = tau2 I + Gamma Gamma^T``, ``s = Gamma beta``, ``w = Sigma^-1 s`` and the per-task Bayes
risk is ``sigma2 + tau2 beta^T (tau2 I + Gamma^T Gamma)^-1 beta``
(:func:`icl_companion.theory.xattn.bayes_risk`).

Task families (:class:`TaskFamily`):

``fixed_direction``
    ``k = 1``, ``Gamma = g v`` with ``v = (1, ..., 1)/sqrt(d)`` (both modalities equally loaded),
    ``beta = 1``; the signal strength ``g2 = g^2`` follows ``dist`` on ``[m_lo, m_hi]``.  The
    family of ``xattn.lsa_gap`` (``docs/derivations/xattn.md#single-layer-lsa-gap``).
``random_loadings``
    ``Gamma = U diag(sqrt(m)) V^T`` with Haar ``U`` (``d x k``), Haar ``V`` (``k x k``) and the ``k``
    eigenvalues ``m`` of ``Gamma^T Gamma`` i.i.d. from ``dist`` on ``[m_lo, m_hi]``;
    ``beta ~ N(0, I_k)``.  Covariate statistics vary across prompts in strength and orientation.

``dist`` is ``uniform`` (on ``[m_lo, m_hi]``) or ``two_point`` (``m_lo`` w.p. ``p``, else ``m_hi``).

At ``L = inf`` the task expectation is taken either by quadrature (:func:`population_tasks`, exact
to quadrature precision for ``fixed_direction``) or over a fixed sample of tasks (exact per task).
At finite ``L`` the sufficient statistics ``Sigma_hat = X^T X/L``, ``s_hat = X^T y/L`` are drawn
exactly from their Wishart law by the Bartlett decomposition (:func:`sample_moments`), so the cost
does not grow with ``L``; :func:`sample_prompts` draws the raw tokens for token-level models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icl_companion.numerics.quadrature import legendre_rule

__all__ = ["TaskFamily", "Tasks", "sample_tasks", "population_tasks", "Prompts", "sample_prompts",
           "sample_moments"]

KINDS = ("fixed_direction", "random_loadings")
DISTS = ("uniform", "two_point")


@dataclass(frozen=True)
class TaskFamily:
    """Law of the task ``(Gamma, beta)``; every reconstruction choice is a field.

    Parameters
    ----------
    kind : {"fixed_direction", "random_loadings"}
    d1, d2 : int
        Dimensions of the two modalities.
    k : int
        Latent dimension (forced to 1 for ``fixed_direction``).
    m_lo, m_hi : float
        Spectral interval of ``Gamma^T Gamma`` (``0 <= m_lo <= m_hi``).
    dist : {"uniform", "two_point"}
    p : float
        ``two_point``: probability of ``m_lo``.
    tau2 : float
        View-noise variance (reconstruction choice; ``alpha*`` has ``2 tau2`` in place of 2).
    sigma2 : float
        Response noise variance.
    """

    kind: str = "fixed_direction"
    d1: int = 1
    d2: int = 1
    k: int = 1
    m_lo: float = 1.0
    m_hi: float = 3.0
    dist: str = "uniform"
    p: float = 0.5
    tau2: float = 1.0
    sigma2: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind = {self.kind!r} is not allowed; choose one of {KINDS}")
        if self.dist not in DISTS:
            raise ValueError(f"dist = {self.dist!r} is not allowed; choose one of {DISTS}")
        if self.d1 < 1 or self.d2 < 0 or self.k < 1:
            raise ValueError(f"need d1 >= 1, d2 >= 0, k >= 1; got d1={self.d1}, d2={self.d2}, "
                             f"k={self.k}")
        if self.kind == "random_loadings" and self.k > self.d1 + self.d2:
            raise ValueError(f"k = {self.k} must be <= d = {self.d1 + self.d2}")
        if not 0 <= self.m_lo <= self.m_hi:
            raise ValueError(f"need 0 <= m_lo <= m_hi; got m_lo={self.m_lo}, m_hi={self.m_hi}")
        if not 0 <= self.p <= 1:
            raise ValueError(f"p = {self.p} is outside the allowed range [0, 1]")
        if self.tau2 <= 0 or self.sigma2 < 0:
            raise ValueError(f"need tau2 > 0 and sigma2 >= 0; got tau2={self.tau2}, "
                             f"sigma2={self.sigma2}")
        if self.kind == "fixed_direction" and self.k != 1:
            object.__setattr__(self, "k", 1)

    @property
    def d(self) -> int:
        return self.d1 + self.d2

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass
class Tasks:
    """A weighted set of tasks and their exact per-task moments."""

    Gamma: np.ndarray   # (n, d, k)
    beta: np.ndarray    # (n, k)
    weight: np.ndarray  # (n,), sums to 1
    tau2: float
    sigma2: float

    def __post_init__(self):
        G, b = self.Gamma, self.beta
        d, k = G.shape[1], G.shape[2]
        self.Sigma = self.tau2 * np.eye(d) + np.einsum("ndk,nek->nde", G, G)
        self.s = np.einsum("ndk,nk->nd", G, b)
        self.vary = self.sigma2 + np.einsum("nk,nk->n", b, b)
        K = self.tau2 * np.eye(k) + np.einsum("ndk,ndl->nkl", G, G)
        Kb = np.linalg.solve(K, b[..., None])[..., 0]
        self.w = np.einsum("ndk,nk->nd", G, Kb)          # push-through form, k x k solves
        self.bayes = self.sigma2 + self.tau2 * np.einsum("nk,nk->n", b, Kb)

    @property
    def n(self) -> int:
        return self.Gamma.shape[0]

    @property
    def d(self) -> int:
        return self.Gamma.shape[1]

    def bayes_risk(self) -> float:
        """Task-averaged infinite-context Bayes risk ``E_pi R_j``."""
        return float(self.weight @ self.bayes)

    def eigen(self) -> tuple[np.ndarray, np.ndarray]:
        """Excited eigenvalues ``lambda_{j,i}`` of ``Sigma_j`` and weights ``c_{j,i} = (u^T s)^2/lambda``.

        The excess risk of any predictor ``x^T q(Sigma) s`` is ``sum_i c_i (1 - lambda_i q_i)^2``
        per task (``docs/derivations/xattn.md#excess-risk-per-eigen-direction``): everything a CA
        layer does commutes with ``Sigma`` at ``L = inf``.
        """
        # Through the SVD Gamma = U S V^T: the excited eigenvectors of Sigma are U with eigenvalues
        # tau2 + S^2 and u^T s = S (V^T beta); directions orthogonal to range(Gamma) carry no signal
        # and are left out (an eigh of Sigma would give them weights ~1e-32 instead of exactly 0,
        # which dominate the excess at large depth).
        U, S, Vt = np.linalg.svd(self.Gamma, full_matrices=False)
        lam = self.tau2 + S**2
        proj = S * np.einsum("nkl,nl->nk", Vt, self.beta)
        return lam, proj**2 / lam

    def subset(self, idx) -> "Tasks":
        w = self.weight[idx]
        return Tasks(self.Gamma[idx], self.beta[idx], w / w.sum(), self.tau2, self.sigma2)


def _strengths(fam: TaskFamily, rng: np.random.Generator, size) -> np.ndarray:
    if fam.dist == "uniform":
        return rng.uniform(fam.m_lo, fam.m_hi, size)
    return np.where(rng.random(size) < fam.p, fam.m_lo, fam.m_hi)


def _haar(rng: np.random.Generator, n: int, d: int, k: int) -> np.ndarray:
    """``n`` Haar-distributed ``d x k`` matrices with orthonormal columns (QR with sign fix)."""
    Z = rng.standard_normal((n, d, k))
    Q, Rm = np.linalg.qr(Z)
    sgn = np.sign(np.diagonal(Rm, axis1=1, axis2=2))
    sgn[sgn == 0] = 1.0
    return Q * sgn[:, None, :]


def _fixed_direction(fam: TaskFamily, g2: np.ndarray, weight: np.ndarray) -> Tasks:
    v = np.ones(fam.d) / np.sqrt(fam.d)
    G = np.sqrt(g2)[:, None, None] * v[None, :, None]
    return Tasks(G, np.ones((g2.size, 1)), weight, fam.tau2, fam.sigma2)


def sample_tasks(fam: TaskFamily, rng: np.random.Generator, n: int) -> Tasks:
    """``n`` i.i.d. tasks from ``fam`` (equal weights)."""
    if n < 1:
        raise ValueError(f"n = {n} must be >= 1")
    wts = np.full(n, 1.0 / n)
    if fam.kind == "fixed_direction":
        return _fixed_direction(fam, _strengths(fam, rng, n), wts)
    m = _strengths(fam, rng, (n, fam.k))
    U = _haar(rng, n, fam.d, fam.k)
    V = _haar(rng, n, fam.k, fam.k)
    G = np.einsum("ndk,nk,nlk->ndl", U, np.sqrt(m), V)
    return Tasks(G, rng.standard_normal((n, fam.k)), wts, fam.tau2, fam.sigma2)


def population_tasks(fam: TaskFamily, n_nodes: int = 96, rng: np.random.Generator | None = None,
                     n_mc: int = 4000) -> Tasks:
    """Weighted tasks representing the task law for ``L = inf`` (population) computations.

    ``fixed_direction``: Gauss-Legendre nodes in ``g2`` on ``[m_lo, m_hi]`` (``uniform``) or the two
    atoms (``two_point``) -- exact expectations up to quadrature error.  ``random_loadings`` has no
    low-dimensional quadrature here: ``n_mc`` tasks sampled with ``rng`` (exact per task).
    """
    if fam.kind == "fixed_direction":
        if fam.dist == "two_point":
            return _fixed_direction(fam, np.array([fam.m_lo, fam.m_hi]),
                                    np.array([fam.p, 1.0 - fam.p]))
        if fam.m_lo == fam.m_hi:
            return _fixed_direction(fam, np.array([fam.m_lo]), np.ones(1))
        x, w = legendre_rule(n_nodes)
        g2 = 0.5 * (fam.m_lo + fam.m_hi) + 0.5 * (fam.m_hi - fam.m_lo) * x
        return _fixed_direction(fam, g2, w / w.sum())
    if rng is None:
        raise ValueError("random_loadings population needs rng (tasks are sampled)")
    return sample_tasks(fam, rng, n_mc)


@dataclass
class Prompts:
    """Raw prompts, one per task: context ``X (n, L, d)``, ``y (n, L)``; query ``xq (n, d)``, ``yq``."""

    X: np.ndarray
    y: np.ndarray
    xq: np.ndarray
    yq: np.ndarray


def sample_prompts(rng: np.random.Generator, tasks: Tasks, L: int) -> Prompts:
    """One prompt of ``L`` examples plus a query for each task."""
    if L < 1:
        raise ValueError(f"L = {L} must be >= 1")
    n, d, k = tasks.Gamma.shape
    tau, sig = np.sqrt(tasks.tau2), np.sqrt(tasks.sigma2)
    u = rng.standard_normal((n, L + 1, k))
    X = np.einsum("ndk,nlk->nld", tasks.Gamma, u) + tau * rng.standard_normal((n, L + 1, d))
    y = np.einsum("nk,nlk->nl", tasks.beta, u) + sig * rng.standard_normal((n, L + 1))
    return Prompts(X[:, :L], y[:, :L], X[:, L], y[:, L])


def sample_moments(rng: np.random.Generator, tasks: Tasks, L: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Exact draw of ``(Sigma_hat, s_hat) = (X^T X/L, X^T y/L)`` for one prompt per task.

    ``(x, y)`` is Gaussian with covariance ``C = [[Sigma, s], [s^T, Var y]]``, so the scatter matrix is
    Wishart(``L``, ``C``); it is drawn by the Bartlett decomposition ``W = Lc A A^T Lc^T`` with ``Lc``
    the Cholesky factor of ``C``, ``A`` lower triangular, ``A_ii^2 ~ chi2(L - i)``
    (``i = 0..d``), ``A_ij ~ N(0, 1)`` below the diagonal.  Needs ``L >= d + 1``.

    References
    ----------
    Bartlett (1933); Anderson, An Introduction to Multivariate Statistical Analysis, Cor. 7.2.1.
    """
    n, d = tasks.s.shape
    if L < d + 1:
        raise ValueError(f"L = {L} must be >= d + 1 = {d + 1} for the Wishart draw")
    C = np.empty((n, d + 1, d + 1))
    C[:, :d, :d] = tasks.Sigma
    C[:, :d, d] = C[:, d, :d] = tasks.s
    C[:, d, d] = tasks.vary
    Lc = np.linalg.cholesky(C)
    Am = np.tril(rng.standard_normal((n, d + 1, d + 1)), -1)
    diag = np.sqrt(rng.chisquare(L - np.arange(d + 1), size=(n, d + 1)))
    Am[:, np.arange(d + 1), np.arange(d + 1)] = diag
    LA = Lc @ Am
    W = LA @ np.swapaxes(LA, 1, 2) / L
    return W[:, :d, :d], W[:, :d, d]
