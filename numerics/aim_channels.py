"""Output channels of the attention-indexed model: one object drives sampling, GAMP and SE.

A channel is the conditional law ``P(y | h)`` of the output ``y`` (``T x T``) given the symmetric
index matrix ``h`` (``T x T``, entries ``h_ab`` for ``a <= b``).  As in tramp (Baker, Aubin, Krzakala,
Zdeborova, "TRAMP: compositional inference with tree approximate message passing", 2020), the
same definition serves every algorithm:

* :meth:`Channel.sample` -- ``y`` for a batch of index matrices ``h`` of shape ``(n, T, T)``
  (the data sampler :func:`icl_companion.numerics.aim_data.sample_aim`);
* :meth:`Channel.gout` -- the GAMP output function
  ``g_ab(y, omega, V) = d log Z_out / d omega_ab``, ``Z_out = E_{h ~ N(omega, c V)} P(y | h)``
  with independent coordinates ``h_ab ~ N(omega_ab, c_ab V)``, ``c_aa = 2``, ``c_ab = 1``
  (:func:`icl_companion.numerics.aim_gamp.gamp_rie`), and :meth:`Channel.gout_deriv` its
  derivative ``d g_ab / d omega_ab``;
* :meth:`Channel.information` -- the SE output information
  ``E_{omega, y}[sum_{a<=b} c_ab g_ab(y, omega, V)^2]`` at overlap ``q`` (``omega_ab ~ N(0,
  c_ab q)``), computed from the same :meth:`gout` by deterministic quadrature
  (:func:`information_quadrature`); the SE then reads ``hat q = 2 alpha information(q, V)``
  (:func:`icl_companion.numerics.aim_se.se_channel`).  Channels with a closed form override it
  (softmax ``K / (2 V)``, identity ``2 / (2 V + Delta)``); the generic path is tested against it.

Instances: :class:`SoftmaxChannel` (any ``T``, noiseless), :class:`HardmaxChannel` (``T = 2``,
variants ``correct``/``paper``), :class:`LinearChannel` (``T = 1``, ``y = h_11 + sqrt(Delta) z``),
:class:`SoftmaxNoisyChannel` (``T = 2``, ``y = softmax(h) + sqrt(Delta) Z``) and
:class:`GaussianNoiseChannel` (any Python callable ``g``, ``T <= 2``, ``y = g(h) + sqrt(Delta) Z``).
:func:`make_channel` builds one from a name (the catalogue's ``channel=...``).

Several index matrices.  The quadrature of :func:`information_quadrature` runs over *blocks* of
index coordinates, one block per Gaussian index matrix (here one); a joint channel over ``L``
independent index matrices ``h^(1..L)`` with their own ``(q_l, V_l)`` (multi-layer AIM) is the same
code with ``L`` blocks and an information per block.

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborova, "Bayes optimal learning of
   attention-indexed models", arXiv:2506.01582 (channels, GAMP-RIE, SE).
.. [2] S. Rangan, "Generalized approximate message passing for estimation with random linear
   mixing", ISIT 2011 (``g_out``).
.. [3] D. B. Owen, "Tables for computing bivariate normal probabilities", Ann. Math. Stat. 27 (1956).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import expit, log_ndtr, ndtr, owens_t

from icl_companion.numerics.aim_data import hardmax_t2, softmax_rows
from icl_companion.numerics.quadrature import hermite_e_rule

__all__ = ["c_matrix", "upper", "log_bvn_cdf", "bvn_cdf", "Channel", "SoftmaxChannel",
           "HardmaxChannel", "LinearChannel", "SoftmaxNoisyChannel", "GaussianNoiseChannel",
           "make_channel", "information_quadrature", "CHANNELS", "VARIANTS", "LABELS"]

CHANNELS = ("softmax", "hardmax", "linear", "softmax_noisy")
VARIANTS = ("correct", "paper")
LABELS = ("model", "sqrt2")
_LOG_2PI_HALF = 0.5 * math.log(2 * math.pi)


def c_matrix(T: int) -> np.ndarray:
    """``c_aa = 2``, ``c_ab = 1``: variance factors of the indices ``h_ab``."""
    return np.ones((T, T)) + np.eye(T)


def upper(T: int):
    """Row and column indices of the ``T (T + 1) / 2`` coordinates ``a <= b``."""
    return np.triu_indices(T)


def _symmetric(coords: np.ndarray, T: int) -> np.ndarray:
    """``(..., P)`` upper-triangle coordinates -> symmetric ``(..., T, T)`` matrices."""
    iu = upper(T)
    out = np.zeros(coords.shape[:-1] + (T, T))
    out[..., iu[0], iu[1]] = coords
    out[..., iu[1], iu[0]] = coords
    return out


def _csum(g: np.ndarray) -> np.ndarray:
    """``sum_{a<=b} c_ab g_ab^2`` for symmetric ``g`` of shape ``(..., T, T)``."""
    return 2.0 * np.sum(np.diagonal(g, axis1=-2, axis2=-1) ** 2, axis=-1) + np.sum(
        np.triu(g, 1) ** 2, axis=(-2, -1))


# ------------------------------------------------------------------ bivariate normal CDF
_GL_X, _GL_W = leggauss(96)


def _log_bvn_tail(k1, k2, r):
    """``log Phi_2(k1, k2; r)`` for ``k1 <= k2``, ``k1`` far in the lower tail, by Gauss-Legendre.

    ``Phi_2 = int_{-inf}^{k1} phi(x) Phi((k2 - r x)/sqrt(1 - r^2)) dx``; the log-integrand is concave
    with curvature <= -1, its maximum on ``(-inf, k1]`` at ``k1`` when the slope there is positive:
    integrating ``t = k1 - x`` over ``[0, L]``, ``L = min(12, 48 / slope)``, loses < e^-40
    (``L = 12 - slope`` when the slope is negative: the maximum is then within ``-slope`` of ``k1``).
    """
    s = np.sqrt(1 - r * r)
    b = (k2 - r * k1) / s
    lam = np.exp(-0.5 * b * b - _LOG_2PI_HALF - log_ndtr(b))       # phi(b) / Phi(b)
    slope = -k1 - r / s * lam
    L = np.where(slope > 4.0, 48.0 / np.maximum(slope, 4.0), 12.0 + np.maximum(-slope, 0.0))
    t = 0.5 * L[..., None] * (_GL_X + 1.0)
    x = k1[..., None] - t
    ell = -0.5 * x * x - _LOG_2PI_HALF + log_ndtr((k2[..., None] - r[..., None] * x) / s[..., None])
    m = ell.max(axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.sum(0.5 * L[..., None] * _GL_W * np.exp(ell - m), axis=-1))


#: Owen's formula is used where ``Phi_2`` exceeds this (relative error < ~1e-12 there).
OWEN_MIN = 1e-4


def log_bvn_cdf(k1, k2, r, tail: bool = True) -> np.ndarray:
    """``log Phi_2(k1, k2; r)``, the standard bivariate normal CDF with correlation ``|r| < 1``.

    The one bivariate normal CDF of the AIM code (GAMP, SE, tests).  Owen's T-function formula
    (Owen 1956, eq. 2.1) where ``Phi_2 > 1e-4``; below, a log-space Gauss-Legendre integral of the
    conditional form over the smaller argument (Owen's formula is a difference of O(1) terms: its
    relative error is ~1e-16 / Phi_2).  ``+inf`` arguments give the univariate limit.
    ``tail=False`` skips the integral and returns ``-inf`` where ``Phi_2 <= 1e-12`` (Owen's formula
    down to 1e-12): for expectations weighted by ``Phi_2`` whose integrands are O(1) there.

    >>> p = float(np.exp(log_bvn_cdf(0.0, 0.0, 1/3)))   # orthant probability 1/4 + asin(r)/(2 pi)
    >>> abs(p - (0.25 + math.asin(1/3) / (2 * math.pi))) < 1e-14
    True
    """
    k1, k2, r = np.broadcast_arrays(np.asarray(k1, float), np.asarray(k2, float),
                                    np.asarray(r, float))
    if np.any(np.abs(r) >= 1):
        raise ValueError("correlation r must satisfy |r| < 1")
    if np.any(np.isnan(k1) | np.isnan(k2)):
        raise ValueError("log_bvn_cdf: nan argument")
    out = np.empty(k1.shape)
    inf1, inf2 = np.isposinf(k1), np.isposinf(k2)
    out[inf1] = log_ndtr(k2[inf1])
    out[inf2 & ~inf1] = log_ndtr(k1[inf2 & ~inf1])
    fin = ~(inf1 | inf2)
    if not np.any(fin):
        return out
    a0, b0, rr0 = k1[fin], k2[fin], r[fin]
    h = np.where(a0 == 0, 1e-300, a0)
    k = np.where(b0 == 0, 1e-300, b0)
    s = np.sqrt(1 - rr0 * rr0)
    with np.errstate(over="ignore", invalid="ignore"):
        ah = (k - rr0 * h) / (h * s)
        ak = (h - rr0 * k) / (k * s)
    corr = np.where((h * k < 0) | ((h * k == 0) & (h + k < 0)), 0.5, 0.0)
    p = 0.5 * (ndtr(h) + ndtr(k)) - owens_t(h, ah) - owens_t(k, ak) - corr
    res = np.empty(p.shape)
    good = p > (OWEN_MIN if tail else 1e-12)
    res[good] = np.log(p[good])
    bad = ~good
    if not tail:
        res[bad] = -np.inf
    elif np.any(bad):
        a, b, rr = a0[bad], b0[bad], rr0[bad]
        res[bad] = _log_bvn_tail(np.minimum(a, b), np.maximum(a, b), rr)  # symmetric in (k1, k2)
    out[fin] = res
    return out


def bvn_cdf(k1, k2, r) -> np.ndarray:
    """``Phi_2(k1, k2; r)`` (:func:`log_bvn_cdf`, exponentiated).

    >>> round(float(bvn_cdf(0.3, -0.2, 0.5)), 12)   # scipy.stats.multivariate_normal agrees (tests)
    0.336198437016
    """
    return np.exp(log_bvn_cdf(k1, k2, r))


# ------------------------------------------------------------------ base class
class Channel:
    """Output channel ``P(y | h)`` of the AIM (see the module docstring).

    Subclasses set ``name``, ``T``, ``Delta`` and implement :meth:`output` and :meth:`gout`;
    channels with finitely many outputs also implement :meth:`outputs` and :meth:`log_zout` (the
    generic SE information then sums over ``y`` with the Nishimori weights ``Z_out``).
    """

    name = "channel"
    T = 2
    Delta = 0.0
    #: Number of Gaussian index matrices the channel reads (1 here; see the module docstring).
    n_index = 1

    # -- sampling
    def output(self, h: np.ndarray) -> np.ndarray:
        """Noise-free output ``g(h)`` for ``h`` of shape ``(n, T, T)``."""
        raise NotImplementedError

    def sample(self, h: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """``y | h``: :meth:`output` plus ``sqrt(Delta)`` times i.i.d. standard normals."""
        h = self._check_h(h)
        y = self.output(h)
        if self.Delta > 0:
            if rng is None:
                raise ValueError(f"channel {self.name}: sampling with output noise needs rng")
            y = y + math.sqrt(self.Delta) * rng.standard_normal(y.shape)
        return y

    def _check_h(self, h):
        h = np.asarray(h, dtype=float)
        if h.ndim != 3 or h.shape[1:] != (self.T, self.T):
            raise ValueError(f"channel {self.name}: h must have shape (n, {self.T}, {self.T}), "
                             f"got {h.shape}")
        return h

    # -- GAMP
    def gout(self, y: np.ndarray, omega: np.ndarray, V: float) -> np.ndarray:
        """``g_ab = d log Z_out(y, omega, V) / d omega_ab``, symmetric ``(n, T, T)``."""
        raise NotImplementedError

    def gout_deriv(self, y: np.ndarray, omega: np.ndarray, V: float, eps: float = 1e-5
                   ) -> np.ndarray:
        """``d g_ab / d omega_ab`` (same shape as ``g``).  Generic: central differences with step
        ``eps sqrt(c_ab V)``; closed forms override it."""
        T = self.T
        c = c_matrix(T)
        out = np.zeros(np.shape(omega))
        for a, b in zip(*upper(T)):
            step = eps * math.sqrt(c[a, b] * V)
            e = np.zeros((T, T))
            e[a, b] = e[b, a] = step
            gp = self.gout(y, omega + e, V)[..., a, b]
            gm = self.gout(y, omega - e, V)[..., a, b]
            out[..., a, b] = out[..., b, a] = (gp - gm) / (2 * step)
        return out

    def _check_gout_args(self, y, omega, V):
        y = np.asarray(y, dtype=float)
        omega = np.asarray(omega, dtype=float)
        if not (np.isfinite(V) and V > 0):
            raise ValueError(f"channel {self.name}: V must be a finite real > 0, got {V}")
        if y.shape[-2:] != (self.T, self.T) or omega.shape != y.shape:
            raise ValueError(f"channel {self.name}: y and omega must both have shape "
                             f"(n, {self.T}, {self.T}), got {y.shape} and {omega.shape}")
        return y, omega, float(V)

    # -- finite output sets (optional)
    def outputs(self):
        """The finitely many outputs ``y`` as an array ``(m, T, T)``, or ``None``."""
        return None

    def log_zout(self, y, omega, V):
        raise NotImplementedError

    # -- state evolution
    def information(self, q: float, V: float) -> float:
        """``E_{omega, y}[sum_{a<=b} c_ab g_ab^2]`` at overlap ``q`` and variance ``V``."""
        return information_quadrature(self, q, V).value

    # -- gradient descent student
    def output_vjp(self, h: np.ndarray, G: np.ndarray) -> np.ndarray:
        """``sum_cd G_cd d g_cd / d h_ab`` for the GD student (differentiable channels only)."""
        raise ValueError(f"channel {self.name}: the GD student needs a differentiable output "
                         f"g(h); this channel does not provide its derivative")

    # -- description
    def params(self) -> dict:
        return {"channel": self.name, "T": self.T, "Delta": self.Delta}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items() if k != "channel")
        return f"{type(self).__name__}({args})"


# ------------------------------------------------------------------ generic SE information
class InformationEstimate:
    """Value of the SE information and its error estimate (``stderr`` of RQMC, 0 for tensor
    Gauss-Hermite), with the rule used."""

    def __init__(self, value, stderr, rule):
        self.value, self.stderr, self.rule = float(value), float(stderr), rule

    def __repr__(self):
        return f"InformationEstimate({self.value!r}, stderr={self.stderr!r}, rule={self.rule!r})"


#: Tensor Gauss-Hermite is used while it has at most this many nodes; randomized QMC beyond.
TENSOR_MAX_NODES = 2_000_000
#: Frozen randomized-QMC rule of the generic information: 2^log2 scrambled Sobol points
#: (fixed seed: the SE map stays deterministic and smooth), ``scramblings`` copies for the error.
#: ``2^10 x 4`` points: relative standard error ~1e-3 for the noisy channels (measured).
RQMC = {"log2": 10, "scramblings": 4, "seed": 20260213}


def _blocks(channel, q, V):
    """Per index matrix: standard deviations of ``omega`` and of ``h - omega`` per coordinate."""
    T = channel.T
    c = c_matrix(T)[upper(T)]
    q = np.atleast_1d(np.asarray(q, dtype=float))
    V = np.atleast_1d(np.asarray(V, dtype=float))
    return [(np.sqrt(c * max(qq, 0.0)), np.sqrt(c * vv)) for qq, vv in zip(q, V)]


def _default_nodes(channel, finite):
    """Gauss-Hermite nodes per dimension: 3 for noiseless continuous outputs (exact for the
    softmax's quadratic integrand), 32 for finite outputs, 16 for noisy outputs."""
    if finite is not None:
        return 32
    return 16 if channel.Delta > 0 else 3


def information_quadrature(channel: Channel, q, V, n: int | None = None, rule: str | None = None,
                           chunk: int = 4096) -> InformationEstimate:
    """Generic SE information ``E[sum_{a<=b} c_ab g_ab(y, omega, V)^2]`` from ``channel.gout``.

    ``omega_ab = sqrt(c_ab q) eta_ab``, ``h_ab = omega_ab + sqrt(c_ab V) xi_ab`` and
    ``y = channel.sample(h)``; the expectation runs over:

    * channels with finitely many outputs (:meth:`Channel.outputs`): ``eta`` only, with
      ``E_{y | omega} F = sum_y Z_out(y | omega) F(y)`` (Nishimori);
    * noiseless channels: ``(eta, xi)``;
    * noisy channels (``Delta > 0``): ``(eta, xi, z)`` with the output noise ``z``.

    ``rule="tensor"`` (default when it has at most :data:`TENSOR_MAX_NODES` nodes): probabilists'
    Gauss-Hermite with ``n`` nodes per dimension (default 3 for noiseless continuous channels --
    exact for polynomial integrands of degree <= 5, such as the softmax's quadratic one -- 32 for
    finite outputs, 16 for noisy ones),
    error estimate 0.  ``rule="rqmc"``: the frozen scrambled-Sobol rule :data:`RQMC` (``2^11``
    points by default, or ``2^n`` when ``n`` is given), value = mean over the scramblings, error =
    their standard error.

    Returns an :class:`InformationEstimate`.
    """
    from scipy.special import ndtri
    from scipy.stats import qmc

    T = channel.T
    P = T * (T + 1) // 2
    blocks = _blocks(channel, q, V)
    V0 = float(np.atleast_1d(V)[0])
    finite = channel.outputs()
    dims_eta, dims_xi = P * len(blocks), (0 if finite is not None else P * len(blocks))
    dims_z = T * T if (finite is None and channel.Delta > 0) else 0
    dims = dims_eta + dims_xi + dims_z
    if rule is None:
        nn = n or _default_nodes(channel, finite)
        rule = "tensor" if nn ** dims <= TENSOR_MAX_NODES else "rqmc"
    if rule not in ("tensor", "rqmc"):
        raise ValueError(f"rule must be 'tensor' or 'rqmc', got {rule!r}")

    def integrand(Z):
        """Z: (N, dims) standard normals -> (N,) values."""
        eta = Z[:, :dims_eta]
        sd_om, sd_h = blocks[0]
        om = _symmetric(eta[:, :P] * sd_om, T)
        if finite is not None:
            tot = np.zeros(Z.shape[0])
            for yv in finite:
                y = np.broadcast_to(yv, om.shape)
                lz = channel.log_zout(y, om, V0)
                tot += np.exp(lz) * _csum(channel.gout(y, om, V0))
            return tot
        xi = Z[:, dims_eta:dims_eta + dims_xi]
        h = om + _symmetric(xi[:, :P] * sd_h, T)
        y = channel.output(h)
        if dims_z:
            y = y + math.sqrt(channel.Delta) * Z[:, dims_eta + dims_xi:].reshape(y.shape)
        return _csum(channel.gout(y, om, V0))

    def run(Z, w):
        tot = 0.0
        for s in range(0, Z.shape[0], chunk):
            tot += float(np.sum(w[s:s + chunk] * integrand(Z[s:s + chunk])))
        return tot

    if rule == "tensor":
        nn = n or _default_nodes(channel, finite)
        x, w = hermite_e_rule(nn)
        grids = np.meshgrid(*([np.arange(nn)] * dims), indexing="ij")
        idx = np.stack([g.ravel() for g in grids], axis=-1)
        Z = x[idx]
        W = np.prod(w[idx], axis=-1)
        return InformationEstimate(run(Z, W), 0.0, f"tensor Gauss-Hermite {nn}^{dims}")
    m = n or RQMC["log2"]
    vals = []
    for child in np.random.SeedSequence(RQMC["seed"]).spawn(RQMC["scramblings"]):
        u = qmc.Sobol(dims, scramble=True, seed=np.random.default_rng(child)).random_base2(m)
        Z = ndtri(np.clip(u, np.finfo(float).tiny, 1 - 2**-53))
        vals.append(run(Z, np.full(Z.shape[0], 1.0 / Z.shape[0])))
    vals = np.array(vals)
    return InformationEstimate(vals.mean(), vals.std(ddof=1) / math.sqrt(vals.size),
                               f"RQMC 2^{m} x {vals.size} scramblings, {dims} dims")


# ------------------------------------------------------------------ softmax
class SoftmaxChannel(Channel):
    """Noiseless row-wise softmax ``y_ab = exp(beta h_ab) / sum_c exp(beta h_ac)``, any ``T >= 2``.

    ``g_out`` by the gauge construction: ``y`` fixes ``h`` up to ``h + t 1 1^T``; with
    ``h0_ab = log(y_ab / y_aT)/beta + log(y_Ta / y_TT)/beta`` and
    ``t = (2 / T^2) sum_{a<=b} (h0_ab - omega_ab) / c_ab``, ``g_ab = (h0_ab - omega_ab - t) /
    (c_ab V)``.  Closed-form information ``K / (2 V)``, ``K = T^2 + T - 2`` (the channel observes
    ``K/2`` normalised directions noiselessly; the SE reduces to a scalar equation,
    :func:`icl_companion.numerics.aim_se.se_softmax`).
    """

    name = "softmax"

    def __init__(self, T: int, beta: float = 1.0):
        if isinstance(T, bool) or int(T) != T or T < 2:
            raise ValueError(f"channel softmax: T = {T} is not allowed: the softmax channel needs "
                             f"an integer T >= 2 (a softmax over one token is constant)")
        beta = float(beta)
        if not math.isfinite(beta) or beta == 0:
            raise ValueError(f"channel softmax: beta must be a finite nonzero real, got {beta!r}")
        self.T, self.beta = int(T), beta

    @property
    def K(self) -> int:
        return self.T * self.T + self.T - 2

    def output(self, h):
        return softmax_rows(h, self.beta)

    def gout(self, y, omega, V):
        y, omega, V = self._check_gout_args(y, omega, V)
        T = self.T
        ly = np.log(y)
        phi = (ly - ly[..., -1:]) / self.beta                  # h_ab - h_aT
        h0 = phi + np.swapaxes(phi[..., -1:, :], -1, -2)        # h_ab - h_TT (uses phi_Ta)
        iu = upper(T)
        h0 = np.triu(h0) + np.swapaxes(np.triu(h0, 1), -1, -2)  # symmetric from the upper triangle
        c = c_matrix(T)
        r = h0 - omega
        t = (2.0 / T**2) * np.sum((r / c)[..., iu[0], iu[1]], axis=-1)
        return (r - t[..., None, None]) / (c * V)

    def gout_deriv(self, y, omega, V, eps=None):
        """``d g_ab / d omega_ab = (2 / (T^2 c_ab) - 1) / (c_ab V)`` (``t`` moves with ``omega``)."""
        y, omega, V = self._check_gout_args(y, omega, V)
        c = c_matrix(self.T)
        return np.broadcast_to((2.0 / (self.T**2 * c) - 1.0) / (c * V), omega.shape).copy()

    def information(self, q, V):
        return self.K / (2.0 * V)

    def output_vjp(self, h, G):
        yh = self.output(h)
        return self.beta * yh * (G - np.sum(G * yh, axis=-1, keepdims=True))

    def params(self):
        return {"channel": self.name, "T": self.T, "beta": self.beta}


# ------------------------------------------------------------------ hardmax T = 2
class HardmaxChannel(Channel):
    """Hardmax, ``T = 2``: one-hot rows ``y_11 = 1[h_11 > k h_12]``, ``y_22 = 1[h_22 > k h_12]``.

    ``u_i = h_ii - k h_12`` (``k = 1``; ``k = sqrt(2)`` for the authors' AMP labels,
    ``labels="sqrt2"``), ``sigma^2 = (2 + k^2) V``, ``r = s1 s2 k^2 / (2 + k^2)``,
    ``Z_out = Phi_2(k_1, k_2; r)`` with ``k_i = s_i (omega_ii - k omega_12) / sigma`` and ``s_i = +-1``
    from ``y``; ``g_ii = (s_i / sigma) D_i / Phi_2``, ``g_12 = -k (g_11 + g_22)``, where ``D_i`` is
    ``d Phi_2 / d k_i = phi(k_i) Phi((k_j - r k_i)/sqrt(1 - r^2))`` (``variant="correct"``,
    Bayes-optimal) or the bivariate density ``phi_2(k_1, k_2; r)`` (``variant="paper"``, the
    authors' code; not a derivative of ``log Z_out``).
    """

    name = "hardmax"

    def __init__(self, variant: str = "correct", labels: str = "model", T: int = 2):
        if T != 2:
            raise ValueError(f"channel hardmax: T = {T} is not allowed: hardmax requires T = 2")
        if variant not in VARIANTS:
            raise ValueError(f"channel hardmax: variant = {variant!r} is not one of "
                             f"{', '.join(VARIANTS)}")
        if labels not in LABELS:
            raise ValueError(f"channel hardmax: labels = {labels!r} is not one of "
                             f"{', '.join(LABELS)}")
        self.T, self.variant, self.labels = 2, variant, labels
        self.kappa = 1.0 if labels == "model" else math.sqrt(2.0)

    def output(self, h):
        h = np.asarray(h, dtype=float)
        return hardmax_t2(h.reshape(-1, 2, 2), self.labels).reshape(h.shape)

    def outputs(self):
        out = []
        for s1 in (True, False):
            for s2 in (True, False):
                out.append(self.output(np.array([[[1.0 if s1 else -1.0, 0.0],
                                                  [0.0, 1.0 if s2 else -1.0]]]))[0])
        return np.array(out)

    def _kernel(self, y, omega, V):
        """``(s1, s2, sigma, k1, k2, r)`` of each sample."""
        kap = self.kappa
        sig = math.sqrt((2 + kap**2) * V)
        s1 = np.where(y[..., 0, 0] > 0.5, 1.0, -1.0)
        s2 = np.where(y[..., 1, 1] > 0.5, 1.0, -1.0)
        r = s1 * s2 * kap**2 / (2 + kap**2)
        k1 = s1 * (omega[..., 0, 0] - kap * omega[..., 0, 1]) / sig
        k2 = s2 * (omega[..., 1, 1] - kap * omega[..., 0, 1]) / sig
        return s1, s2, sig, k1, k2, r

    def log_zout(self, y, omega, V):
        y, omega, V = self._check_gout_args(y, omega, V)
        _, _, _, k1, k2, r = self._kernel(y, omega, V)
        return log_bvn_cdf(k1, k2, r)

    def gout(self, y, omega, V):
        y, omega, V = self._check_gout_args(y, omega, V)
        return self._gout_logz(y, omega, V)[0]

    def _gout_logz(self, y, omega, V, tail=True):
        """``(g, log Z_out)``; with ``tail=False``, ``g = 0`` where ``Z_out <= 1e-12``."""
        s1, s2, sig, k1, k2, r = self._kernel(y, omega, V)
        lZ = log_bvn_cdf(k1, k2, r, tail)
        if not tail:
            lZ_ = np.where(np.isfinite(lZ), lZ, np.inf)   # exp(l - inf) = 0: dropped patterns
        else:
            lZ_ = lZ
        q = np.sqrt(1 - r * r)
        if self.variant == "correct":
            l1 = -0.5 * k1**2 - _LOG_2PI_HALF + log_ndtr((k2 - r * k1) / q)
            l2 = -0.5 * k2**2 - _LOG_2PI_HALF + log_ndtr((k1 - r * k2) / q)
        else:
            l1 = (-(k1**2 - 2 * r * k1 * k2 + k2**2) / (2 * q**2) - math.log(2 * math.pi)
                  - np.log(q))
            l2 = l1
        g = np.empty(omega.shape)
        g[..., 0, 0] = s1 / sig * np.exp(l1 - lZ_)
        g[..., 1, 1] = s2 / sig * np.exp(l2 - lZ_)
        g[..., 0, 1] = g[..., 1, 0] = -self.kappa * (g[..., 0, 0] + g[..., 1, 1])
        return g, lZ

    # -- SE fast path: the same gout, integrated with the structure of the channel
    def expected_fisher(self, m1, m2, V):
        """``F(m) = sum_y Z_out(y | omega) sum_{a<=b} c_ab g_ab^2`` at ``omega_ii - k omega_12 =
        m_i`` (the only combinations ``Z_out`` and ``g`` depend on), from :meth:`gout`."""
        m1, m2 = np.broadcast_arrays(np.asarray(m1, float), np.asarray(m2, float))
        om = np.zeros(m1.shape + (2, 2))
        om[..., 0, 0], om[..., 1, 1] = m1, m2
        om = om.reshape(-1, 2, 2)
        tot = np.zeros(om.shape[0])
        for yv in self.outputs():
            y = np.broadcast_to(yv, om.shape)
            g, lZ = self._gout_logz(y, om, V, tail=False)
            # patterns with Z_out <= 1e-12 are dropped: their term Z |g|^2 ~ Z (1 + k^2) is
            # below ~1e-9 of the O(1) total even at |k| = 30
            tot += np.exp(lZ) * _csum(g)
        return tot.reshape(m1.shape)

    def information(self, q, V, n1: int = 96, n2: int = 48):
        """SE information, with the channel's structure (``model`` labels).

        Only ``m_i = omega_ii - omega_12`` enter, ``(m1, m2) ~ N(0, q [[3, 1], [1, 3]])``.  The
        integrand :meth:`expected_fisher` varies on the scale ``sqrt(3V)`` in ``m``, much narrower
        than the Gaussian of ``m`` when ``V << q``, and (``correct``) it has ridges: far from one
        threshold it tends to the one-threshold term ``f1(m_i) = F(m_i, +inf)``.  So
        ``E F = 2 E f1(m1) + E[F - f1(m1) - f1(m2)]``: the first by a 1-D Gauss-Hermite rescaled by
        ``2 sqrt(V/q)``, the localised remainder by a 2-D Gauss-Hermite rescaled by
        ``1.5 sqrt(V/q)`` (factors capped at 1).  For ``paper`` the ridge term vanishes.
        """
        if self.labels != "model":
            return information_quadrature(self, q, V).value
        if not V > 0:
            raise ValueError(f"channel hardmax: V = {V} must be > 0")
        q = max(float(q), 0.0)
        x1, w1 = hermite_e_rule(n1)
        x2, w2 = hermite_e_rule(n2)
        ratio = math.sqrt(V / q) if q > 0 else math.inf
        big = 60.0 * math.sqrt(3 * V)  # F(m, +-big) = f1(m) up to exp(-600)
        s2 = min(1.0, 1.5 * ratio)
        v1, v2 = np.meshgrid(x2, x2, indexing="ij")
        W = np.outer(w2, w2)
        jac2 = s2 * s2 * np.exp(-0.5 * (s2 * s2 - 1) * (v1 * v1 + v2 * v2))
        sq = math.sqrt(q)
        m1 = sq * math.sqrt(3) * s2 * v1
        m2 = sq * s2 * (v1 / math.sqrt(3) + math.sqrt(8.0 / 3.0) * v2)
        F = self.expected_fisher(m1, m2, V)
        if self.variant == "correct":
            F = F - self.expected_fisher(m1, big, V) - self.expected_fisher(m2, big, V)
            s1 = min(1.0, 2.0 * ratio)
            jac1 = s1 * np.exp(-0.5 * (s1 * s1 - 1) * x1 * x1)
            one_d = 2.0 * np.sum(w1 * jac1 * self.expected_fisher(
                math.sqrt(3 * q) * s1 * x1, big, V))
        else:
            one_d = 0.0
        return float(one_d + np.sum(W * jac2 * F))

    def params(self):
        return {"channel": self.name, "T": 2, "variant": self.variant, "labels": self.labels}


# ------------------------------------------------------------------ identity, T = 1
class LinearChannel(Channel):
    """Identity output at ``T = 1`` with Gaussian noise: ``y = h_11 + sqrt(Delta) z``, ``Delta >= 0``.

    The extensive-width quadratic network of Maillard, Troiani, Martin, Krzakala, Zdeborova (2024,
    arXiv:2408.03733): ``Z_out = N(y; omega, 2V + Delta)``, ``g = (y - omega)/(2V + Delta)``,
    information ``2/(2V + Delta)``, so ``hat q = 2 alpha / (V + Delta/2)``.
    """

    name = "linear"

    def __init__(self, Delta: float = 0.0, T: int = 1):
        if T != 1:
            raise ValueError(f"channel linear: T = {T} is not allowed: the identity channel is "
                             f"defined for T = 1")
        Delta = float(Delta)
        if not (math.isfinite(Delta) and Delta >= 0):
            raise ValueError(f"channel linear: Delta = {Delta} is outside the allowed domain: a "
                             f"finite real >= 0")
        self.T, self.Delta = 1, Delta

    def output(self, h):
        return np.asarray(h, dtype=float).copy()

    def gout(self, y, omega, V):
        y, omega, V = self._check_gout_args(y, omega, V)
        return (y - omega) / (2 * V + self.Delta)

    def gout_deriv(self, y, omega, V, eps=None):
        y, omega, V = self._check_gout_args(y, omega, V)
        return np.full(omega.shape, -1.0 / (2 * V + self.Delta))

    def information(self, q, V):
        return 2.0 / (2.0 * V + self.Delta)

    def output_vjp(self, h, G):
        return np.asarray(G, dtype=float)


# ------------------------------------------------------------------ Gaussian-noise channels
def _gauss_hermite_tensor(dim: int, n: int):
    x, w = hermite_e_rule(n)
    grids = np.meshgrid(*([np.arange(n)] * dim), indexing="ij")
    idx = np.stack([g.ravel() for g in grids], axis=-1)
    return x[idx], np.log(np.prod(w[idx], axis=-1))


class GaussianNoiseChannel(Channel):
    """``y = g(h) + sqrt(Delta) Z`` for a user-supplied output function ``g`` (``T <= 2``, ``Delta > 0``).

    ``g`` maps index matrices of shape ``(n, T, T)`` to outputs of the same shape (vectorised).
    ``Z_out(y, omega, V) = E_{h ~ N(omega, c V)} N(y; g(h), Delta I)`` and ``g_out = E[(h -
    omega)/(c V) | y]`` are computed by a ``n_inner^P``-node Gauss-Hermite rule centred on the prior
    of ``h`` (``P = T (T + 1)/2``), in log space.  The rule resolves the posterior while the output
    noise is not much smaller than the variation of ``g`` over the prior width ``sqrt(c V)``; the SE
    (:func:`icl_companion.numerics.aim_se.se_channel`) reports the quadrature's error estimate, and
    ``success=False`` when it is too large.  Cost per ``g_out`` call: ``n * n_inner^P`` evaluations
    of ``g``.

    Parameters
    ----------
    g : callable
        Output function, ``(n, T, T) -> (n, T, T)``; checked on random inputs (shape, finiteness).
    T : int, 1 or 2
    Delta : float > 0
    name : str
    n_inner : int
        Gauss-Hermite nodes per index coordinate (default 24 for ``T = 1``, 8 for ``T = 2``).
    """

    def __init__(self, g: Callable, T: int, Delta: float, name: str = "user",
                 n_inner: int | None = None):
        if not callable(g):
            raise ValueError(f"channel {name}: g must be a callable (n, T, T) -> (n, T, T)")
        if isinstance(T, bool) or int(T) != T or T not in (1, 2):
            raise ValueError(f"channel {name}: T = {T} is not allowed: a user-defined channel "
                             f"supports T = 1 or 2 (its g_out is a T(T+1)/2-dimensional "
                             f"quadrature)")
        Delta = float(Delta)
        if not (math.isfinite(Delta) and Delta > 0):
            raise ValueError(f"channel {name}: Delta = {Delta} is outside the allowed domain: a "
                             f"finite real > 0 (the output noise variance)")
        self.g, self.T, self.Delta, self.name = g, int(T), Delta, name
        self.n_inner = int(n_inner or (24 if self.T == 1 else 8))
        self._validate_g()

    def _validate_g(self):
        rng = np.random.default_rng(0)
        h = rng.standard_normal((7, self.T, self.T)) * 3.0
        h = 0.5 * (h + np.swapaxes(h, 1, 2))
        try:
            y = np.asarray(self.g(h), dtype=float)
        except Exception as e:  # the user's function failed on valid input
            raise ValueError(f"channel {self.name}: g raised {type(e).__name__}: {e} on index "
                             f"matrices of shape {h.shape}") from None
        if y.shape != h.shape:
            raise ValueError(f"channel {self.name}: g returned shape {y.shape} for input of shape "
                             f"{h.shape}; it must return one T x T output per index matrix")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"channel {self.name}: g returned non-finite values on finite input")

    def output(self, h):
        y = np.asarray(self.g(np.asarray(h, dtype=float)), dtype=float)
        if y.shape != np.shape(h) or not np.all(np.isfinite(y)):
            raise ValueError(f"channel {self.name}: g returned shape {y.shape} or non-finite "
                             f"values for input of shape {np.shape(h)}")
        return y

    def _posterior(self, y, omega, V, stat):
        """``log Z_out`` (up to a y-independent constant) and ``E[stat | y]`` by the inner rule."""
        T, P = self.T, self.T * (self.T + 1) // 2
        xi, lw = _gauss_hermite_tensor(P, self.n_inner)                 # (N, P)
        sd = np.sqrt(c_matrix(T)[upper(T)] * V)
        dh = _symmetric(xi * sd, T)                                      # (N, T, T)
        n = y.shape[0]
        h = omega[:, None] + dh[None]                                    # (n, N, T, T)
        gy = self.output(h.reshape(-1, T, T)).reshape(h.shape)
        ll = -np.sum((y[:, None] - gy) ** 2, axis=(-2, -1)) / (2 * self.Delta) + lw[None]
        m = ll.max(axis=1, keepdims=True)
        wts = np.exp(ll - m)
        Z = wts.sum(axis=1)
        logZ = m[:, 0] + np.log(Z) - 0.5 * T * T * math.log(2 * math.pi * self.Delta)
        st = stat(xi, sd)
        return logZ, np.einsum("nj,j...->n...", wts, st) / Z.reshape((n,) + (1,) * (st.ndim - 1))

    def log_zout(self, y, omega, V):
        y, omega, V = self._check_gout_args(y, omega, V)
        return self._posterior(y, omega, V, lambda xi, sd: xi[:, :1] * 0)[0]

    def gout(self, y, omega, V, chunk: int = 256):
        y, omega, V = self._check_gout_args(y, omega, V)
        T = self.T
        c = c_matrix(T)[upper(T)]

        def stat(xi, sd):  # (h - omega)_ab / (c_ab V)
            return _symmetric(xi * sd / (c * V), T)

        out = np.empty(y.shape)
        for s in range(0, y.shape[0], chunk):
            out[s:s + chunk] = self._posterior(y[s:s + chunk], omega[s:s + chunk], V, stat)[1]
        return out

    def information(self, q, V):
        return information_quadrature(self, q, V, rule="rqmc").value

    def refined(self) -> "GaussianNoiseChannel":
        """The same channel with a 1.5x finer inner rule (error estimate of the inner quadrature)."""
        return GaussianNoiseChannel(self.g, self.T, self.Delta, self.name,
                                    int(math.ceil(1.5 * self.n_inner)))

    def params(self):
        return {"channel": self.name, "T": self.T, "Delta": self.Delta, "n_inner": self.n_inner}


class SoftmaxNoisyChannel(GaussianNoiseChannel):
    """Noisy softmax at ``T = 2``: ``y = softmax_beta(h) + sqrt(Delta) Z``, ``Delta > 0``.

    Reduced exactly to two coordinates: row ``i`` of ``softmax(h)`` is ``(sigma(beta u_i),
    1 - sigma(beta u_i))`` up to order, ``u_i = h_ii - h_12``, so ``y`` enters the likelihood only
    through ``s_i = (y_ii - y_i,other + 1)/2 = sigma(beta u_i) + N(0, Delta/2)`` (the row sum is pure
    noise), and ``u ~ N(m, V [[3, 1], [1, 3]])`` given ``m_i = omega_ii - omega_12``.  Hence
    ``g_ii = d log Z / d m_i``, ``g_12 = -(g_11 + g_22)``, with ``d log Z / d m = E[Sigma^-1 (u - m)
    / V | s]`` by a 2-D Gauss-Hermite rule (``n_inner^2`` nodes) centred on the
    prior of ``u`` (``n_inner = 24``).  ``Delta -> 0`` tends to the noiseless softmax (tested on the SE).
    """

    name = "softmax_noisy"
    _SIG = np.array([[3.0, 1.0], [1.0, 3.0]])

    def __init__(self, Delta: float, T: int = 2, beta: float = 1.0, n_inner: int = 24):
        if isinstance(T, bool) or T != 2:
            raise ValueError(f"channel softmax_noisy: T = {T} is not allowed: the noisy softmax "
                             f"channel is implemented for T = 2")
        Delta = float(Delta)
        if not (math.isfinite(Delta) and Delta > 0):
            raise ValueError(f"channel softmax_noisy: Delta = {Delta} is outside the allowed "
                             f"domain: a finite real > 0 (Delta = 0 is channel=softmax)")
        beta = float(beta)
        if not math.isfinite(beta) or beta == 0:
            raise ValueError(f"channel softmax_noisy: beta must be a finite nonzero real, got "
                             f"{beta!r}")
        self.T, self.Delta, self.beta, self.n_inner = 2, Delta, beta, int(n_inner)
        self._soft = SoftmaxChannel(2, beta)
        self.g = self._soft.output
        self._L = np.linalg.cholesky(self._SIG)

    def output(self, h):
        return self._soft.output(h)

    def _stats(self, y, omega):
        s = np.stack([(y[..., 0, 0] - y[..., 0, 1] + 1) / 2, (y[..., 1, 1] - y[..., 1, 0] + 1) / 2],
                     axis=-1)
        m = np.stack([omega[..., 0, 0] - omega[..., 0, 1], omega[..., 1, 1] - omega[..., 0, 1]],
                     axis=-1)
        return s, m

    def _post(self, y, omega, V):
        s, m = self._stats(y, omega)
        xi, lw = _gauss_hermite_tensor(2, self.n_inner)                  # (N, 2)
        du = math.sqrt(V) * xi @ self._L.T                               # u - m
        u = m[:, None, :] + du[None]                                     # (n, N, 2)
        sig = expit(self.beta * u)
        ll = -np.sum((s[:, None, :] - sig) ** 2, axis=-1) / self.Delta + lw[None]
        mx = ll.max(axis=1, keepdims=True)
        wts = np.exp(ll - mx)
        Z = wts.sum(axis=1)
        score = np.linalg.solve(self._SIG, du.T).T / V                  # Sigma^-1 (u - m) / V
        gm = (wts @ score) / Z[:, None]
        logZ = mx[:, 0] + np.log(Z) - math.log(math.pi * self.Delta)    # two N(., Delta/2)
        return logZ, gm

    def log_zout(self, y, omega, V):
        """``log`` of the density of the sufficient statistics ``s`` (up to the density of the
        uninformative row sums)."""
        y, omega, V = self._check_gout_args(y, omega, V)
        return self._post(y, omega, V)[0]

    def gout(self, y, omega, V, chunk: int = 512):
        y, omega, V = self._check_gout_args(y, omega, V)
        g = np.empty(y.shape)
        for st in range(0, y.shape[0], chunk):
            gm = self._post(y[st:st + chunk], omega[st:st + chunk], V)[1]
            sl = slice(st, st + chunk)
            g[sl, 0, 0], g[sl, 1, 1] = gm[:, 0], gm[:, 1]
            g[sl, 0, 1] = g[sl, 1, 0] = -(gm[:, 0] + gm[:, 1])
        return g

    def output_vjp(self, h, G):
        return self._soft.output_vjp(h, G)

    def refined(self) -> "SoftmaxNoisyChannel":
        """The same channel with a 1.5x finer inner rule (error estimate of the inner quadrature)."""
        return SoftmaxNoisyChannel(self.Delta, 2, self.beta, int(math.ceil(1.5 * self.n_inner)))

    def information(self, q, V, log2: int | None = None):
        """SE information in the reduced variables: ``m ~ N(0, q Sigma)``, ``u | m ~ N(m, V Sigma)``,
        ``s = sigma(beta u) + N(0, Delta/2)`` (6 dimensions instead of the generic 10), by the
        frozen randomized-QMC rule of :func:`information_quadrature` applied to :meth:`gout`."""
        return self.information_estimate(q, V, log2).value

    def information_estimate(self, q, V, log2: int | None = None) -> "InformationEstimate":
        from scipy.special import ndtri
        from scipy.stats import qmc

        q = max(float(q), 0.0)
        m2 = log2 or RQMC["log2"]
        vals = []
        for child in np.random.SeedSequence(RQMC["seed"]).spawn(RQMC["scramblings"]):
            u01 = qmc.Sobol(6, scramble=True, seed=np.random.default_rng(child)).random_base2(m2)
            Z = ndtri(np.clip(u01, np.finfo(float).tiny, 1 - 2**-53))
            m = math.sqrt(q) * Z[:, :2] @ self._L.T
            u = m + math.sqrt(V) * Z[:, 2:4] @ self._L.T
            sv = expit(self.beta * u) + math.sqrt(self.Delta / 2) * Z[:, 4:]
            # an output with these statistics: row i = ((1 + d_i)/2, (1 - d_i)/2) in its own order
            y = np.empty((m.shape[0], 2, 2))
            y[:, 0, 0], y[:, 0, 1] = sv[:, 0], 1 - sv[:, 0]
            y[:, 1, 1], y[:, 1, 0] = sv[:, 1], 1 - sv[:, 1]
            om = np.zeros_like(y)
            om[:, 0, 0], om[:, 1, 1] = m[:, 0], m[:, 1]
            vals.append(float(np.mean(_csum(self.gout(y, om, V)))))
        vals = np.array(vals)
        return InformationEstimate(vals.mean(), vals.std(ddof=1) / math.sqrt(vals.size),
                                   f"RQMC 2^{m2} x {vals.size} scramblings, 6 dims (reduced)")

    def params(self):
        return {"channel": self.name, "T": 2, "Delta": self.Delta, "beta": self.beta,
                "n_inner": self.n_inner}


# ------------------------------------------------------------------ by name
def make_channel(channel="softmax", T: int = 2, variant: str = "correct", Delta=None,
                 beta: float = 1.0, labels: str = "model") -> Channel:
    """A :class:`Channel` from the catalogue's name, or ``channel`` itself if it is one.

    ``softmax`` (``T >= 2``), ``hardmax`` (``T = 2``; ``variant``, ``labels``), ``linear``
    (``T = 1``; ``Delta >= 0``, default 0), ``softmax_noisy`` (``T = 2``; ``Delta > 0`` required).
    ``Delta`` given to a noiseless channel is an error.
    """
    if isinstance(channel, Channel):
        return channel
    if channel not in CHANNELS:
        raise ValueError(f"channel = {channel!r} is outside the allowed domain: one of "
                         f"{', '.join(CHANNELS)} (or a Channel object)")
    if channel in ("softmax", "hardmax") and Delta not in (None, 0, 0.0):
        raise ValueError(f"channel {channel}: Delta = {Delta} given, but this channel is "
                         f"noiseless (use channel=softmax_noisy for a noisy softmax)")
    if channel == "softmax":
        return SoftmaxChannel(T, beta)
    if channel == "hardmax":
        return HardmaxChannel(variant, labels, T)
    if channel == "linear":
        return LinearChannel(0.0 if Delta is None else Delta, T)
    if Delta is None:
        raise ValueError("channel softmax_noisy: Delta is missing: give the output noise "
                         "variance Delta > 0")
    return SoftmaxNoisyChannel(Delta, T, beta)
