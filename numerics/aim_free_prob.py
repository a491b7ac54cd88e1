"""Free probability of the AIM prior: density of ``mu_rho boxplus semicircle_Delta``, mmse, MI, RIE.

Setting (``docs/derivations/aim.md#stieltjes-cubic-of-the-noisy-prior``):
``Y = S + sqrt(Delta) Z``, ``S = W W^T / sqrt(r d)`` (``rho = r/d``), ``Z`` GOE
with semicircle on ``[-2, 2]``.  The Stieltjes transform ``G`` of the spectral law of ``Y`` solves
the cubic of :func:`icl_companion.theory.aim.stieltjes_cubic`; its coefficients are lambdified from SymPy, never
retyped.  Numerically the cubic is solved for ``w = 1/G`` (reversed coefficients): the equation is
then monic with O(1) coefficients even as ``Delta -> 0``, where the cubic in ``G`` degenerates.
The three roots of all grid points are found at once by Cardano's formula in complex arithmetic,
polished by two Newton steps (no Python loop over points).  The density is
``mu(x) = max_k |Im G_k(x)| / pi``.

Edges are the real roots of the discriminant quartic (:func:`icl_companion.theory.aim.edge_quartic`), found for
all ``Delta`` at once from batched companion matrices; two real roots give one interval, four give
two (for ``rho < 1`` and small ``Delta``, a bump from the ``(1 - rho) d`` zero eigenvalues).
``int mu^3`` is a Gauss-Legendre sum per interval after ``x = m + h sin(theta)``, which makes the
square-root edges smooth (spectral convergence).

* :func:`mmse_rho` -- ``mmse_rho(Delta) = Delta - (4 pi^2/3) Delta^2 int mu^3``
  (``docs/derivations/aim.md#denoising-mmse-and-the-rie``);
* :func:`mutual_information` -- ``I_rho(Delta) = Sigma(mu)/2 - log(Delta)/4 + 1/8`` per ``d^2``
  (``docs/derivations/aim.md#mutual-information-of-the-denoising-channel``), with ``Sigma`` from
  the log-potential ``U' = Re G``;
* :func:`rie_denoise` -- the rotationally invariant estimator ``lambda - 2 Delta Re G(lambda)``.

>>> round(float(mmse_rho(1.0, 1e6)), 5) == round(1 / 2, 5)   # rho -> inf: Delta/(1 + Delta)
True
"""

from __future__ import annotations

import functools
import math

import numpy as np

from icl_companion.numerics.quadrature import legendre_rule

__all__ = ["cubic_roots_w", "stieltjes_roots", "density", "edges", "cube_integral", "mmse_rho",
           "mmse_over_delta", "mutual_information", "rie_denoise", "rie_shrink",
           "stieltjes_real"]

N_NODES = None  # nodes per panel of the graded rule (None: PANEL_NODES)


@functools.lru_cache(maxsize=None)
def _coeff_funcs():
    from icl_companion.theory.precompute import derived

    # c3 G^3 + c2 G^2 + c1 G + c0 in (z, Delta, a), and the edge quartic's coefficients in
    # (Delta, a): theory.aim.cubic_coeffs / edge_quartic, generated (theory.precompute)
    return derived("aim.cubic_coeffs"), derived("aim.edge_quartic_coeffs")


def _check(delta, rho):
    delta = np.asarray(delta, dtype=float)
    if np.any(~np.isfinite(delta)) or np.any(delta <= 0):
        raise ValueError(f"delta must be finite and > 0, got {delta.ravel()[:5].tolist()}")
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"rho = {rho} is outside the allowed domain: a real number in (0, inf)")
    return delta, float(rho)


def cubic_roots_w(z, delta, rho):
    """All three roots ``w = 1/G`` of the Stieltjes cubic at (complex or real) ``z``, batched.

    Returns a complex array of shape ``broadcast(z, delta) + (3,)``.
    """
    cubic, _ = _coeff_funcs()
    a = 1.0 / rho
    z = np.asarray(z)
    delta = np.asarray(delta, dtype=float)
    z, delta = np.broadcast_arrays(z, delta)
    one = np.ones(z.shape)
    c3, c2, c1, c0 = (np.asarray(c) * one for c in cubic(z, delta, a))
    # w-polynomial: c0 w^3 + c1 w^2 + c2 w + c3 = 0; c0 = -1 -> monic
    p2, p1, p0 = c1 / c0, c2 / c0, c3 / c0
    p2 = p2.astype(complex)
    p1 = p1.astype(complex)
    p0 = p0.astype(complex)
    # depressed cubic y^3 + P y + Q = 0, w = y - p2/3
    P = p1 - p2**2 / 3
    Q = 2 * p2**3 / 27 - p2 * p1 / 3 + p0
    D = np.sqrt((Q / 2) ** 2 + (P / 3) ** 3)
    A1 = -Q / 2 + D
    A2 = -Q / 2 - D
    Au = np.where(np.abs(A1) >= np.abs(A2), A1, A2)  # larger modulus: no cancellation
    u = Au ** (1.0 / 3.0)
    safe = np.abs(u) > 0
    v = np.where(safe, -P / (3 * np.where(safe, u, 1.0)), 0.0)
    om = np.exp(2j * np.pi / 3)
    y = np.stack([u + v, om * u + v / om, u / om + om * v], axis=-1)
    w = y - (p2 / 3)[..., None]
    # Newton polish on the monic polynomial (Cardano loses digits near multiple roots)
    for _ in range(2):
        f = ((w + p2[..., None]) * w + p1[..., None]) * w + p0[..., None]
        fp = (3 * w + 2 * p2[..., None]) * w + p1[..., None]
        ok = np.abs(fp) > 1e-14 * (1 + np.abs(w) ** 2)
        step = np.where(ok, f / np.where(ok, fp, 1.0), 0.0)
        w = w - step
    return w


def stieltjes_roots(z, delta, rho):
    """The three roots ``G`` of the cubic (``G = 1/w``), shape ``broadcast(z, delta) + (3,)``."""
    w = cubic_roots_w(z, delta, rho)
    tiny = np.abs(w) < 1e-300
    return np.where(tiny, np.inf, 1.0 / np.where(tiny, 1.0, w))


def _pair_w(x, delta, rho):
    """Complex-pair root ``w = 1/G`` of the cubic at real ``x``, in real arithmetic.

    For real ``x`` the monic ``w``-cubic has real coefficients; inside the support it has one real
    root and a complex-conjugate pair (discriminant ``D > 0`` of the depressed cubic), outside three
    real roots.  Cardano with real cube roots (``u`` chosen without cancellation, ``v = -P/(3u)``)
    gives the pair as ``-(u + v)/2 - p2/3 +- i sqrt(3)/2 (u - v)``; one complex Newton step
    polishes it.  Returns ``(Re w, |Im w|)``, with ``|Im w| = 0`` outside the support.
    """
    cubic, _ = _coeff_funcs()
    x = np.asarray(x, dtype=float)
    delta = np.asarray(delta, dtype=float)
    c3, c2, c1, c0 = cubic(x, delta, 1.0 / rho)
    p2, p1, p0 = c1 / c0, c2 / c0, c3 / c0
    P = p1 - p2 * p2 / 3
    Q = 2 * p2**3 / 27 - p2 * p1 / 3 + p0
    D = (Q / 2) ** 2 + (P / 3) ** 3
    inside = D > 0
    sD = np.sqrt(np.where(inside, D, 0.0))
    u = np.cbrt(-Q / 2 - np.where(Q >= 0, 1.0, -1.0) * sD)
    ok = inside & (u != 0)
    v = np.where(ok, -P / (3 * np.where(ok, u, 1.0)), 0.0)
    w = (-(u + v) / 2 - p2 / 3) + 1j * (np.sqrt(3) / 2) * np.abs(u - v)
    f = ((w + p2) * w + p1) * w + p0
    fp = (3 * w + 2 * p2) * w + p1
    good = ok & (np.abs(fp) > 1e-14 * (1 + np.abs(w) ** 2))
    w = np.where(good, w - f / np.where(good, fp, 1.0), w)
    return w.real, np.where(ok, np.abs(w.imag), 0.0)


def density(x, delta, rho):
    """Spectral density of ``Y = S + sqrt(Delta) Z`` at real ``x``: ``|Im G| / pi`` of the
    complex root pair (0 outside the support).

    >>> x = np.linspace(-1.9, 1.9, 5)   # rho large: semicircle of variance 1 + Delta, shifted by sqrt(rho)
    >>> sc = np.sqrt(4 * 1.5 - x**2) / (2 * np.pi * 1.5)
    >>> bool(np.allclose(density(x + np.sqrt(1e8), 0.5, 1e8), sc, atol=1e-3))
    True
    """
    rw, iw = _pair_w(x, delta, rho)
    return iw / np.maximum(rw * rw + iw * iw, 1e-300) / np.pi


def _quartic_roots(delta, rho):
    """All four roots of the edge quartic for each ``Delta`` (batched companion matrices)."""
    _, quart = _coeff_funcs()
    a = 1.0 / rho
    d = delta.ravel()
    coef = np.stack([np.asarray(c, dtype=float) * np.ones_like(d) for c in quart(d, a)], axis=-1)
    coef = coef / coef[:, :1]
    comp = np.zeros((d.size, 4, 4))
    comp[:, 1:, :-1] = np.eye(3)
    comp[:, :, -1] = -coef[:, :0:-1]
    return np.linalg.eigvals(comp)


def _edges_and_roots(delta, rho):
    """Sorted real quartic roots (NaN-padded), number of intervals, and one complex root (if any)."""
    r = _quartic_roots(delta, rho)
    real = np.abs(r.imag) <= 1e-7 * (1 + np.abs(r))
    nreal = real.sum(axis=-1)
    vals = np.sort(np.where(real, r.real, np.nan), axis=-1)  # NaNs last
    if np.any((nreal != 2) & (nreal != 4)):
        bad = delta.ravel()[(nreal != 2) & (nreal != 4)]
        raise RuntimeError(f"edge quartic has {nreal.tolist()} real roots at Delta={bad[:3]}, "
                           f"rho={rho}; expected 2 or 4")
    k = np.argmin(real, axis=-1)  # first non-real root (any, when all are real)
    c = np.take_along_axis(r, k[:, None], -1)[:, 0]
    c = np.where(nreal == 2, c, np.nan)
    return vals, nreal // 2, c


def edges(delta, rho):
    """Support edges for each ``Delta``: array ``(..., 4)``, NaN-padded when there is one interval.

    Real roots of the discriminant quartic, sorted; returns ``(e, n_intervals)``.
    """
    delta, rho = _check(delta, rho)
    vals, nint, _ = _edges_and_roots(delta, rho)
    return vals.reshape(delta.shape + (4,)), nint.reshape(delta.shape)


def _segments(delta, rho):
    """``(lo, hi, mask)`` of shape ``(..., 2)``: up to two integration segments per Delta.

    Two support intervals give two segments.  One interval is split at the real part of the
    quartic's complex roots when they lie over the interval close to the axis: just after two
    intervals merge, the density has a sharp dip there (a near-singularity)."""
    vals, nint, c = _edges_and_roots(delta, rho)
    two = nint == 2
    e1, e2 = vals[:, 0], vals[:, 1]
    with np.errstate(invalid="ignore"):
        split = (~two) & (c.real > e1) & (c.real < e2) & (np.abs(c.imag) < 0.5 * (e2 - e1))
    mid = np.where(split, c.real, e2)
    lo = np.stack([e1, np.where(two, vals[:, 2], mid)], axis=-1)
    hi = np.stack([np.where(two, e2, mid), np.where(two, vals[:, 3], e2)], axis=-1)
    mask = np.stack([np.ones_like(two), two | split], axis=-1)
    lo = np.where(mask, lo, 0.0)
    hi = np.where(mask, hi, 0.0)
    shp = delta.shape + (2,)
    return lo.reshape(shp), hi.reshape(shp), mask.reshape(shp)


GRADE_RATIO = 0.2    # geometric grading of panels towards both ends of a segment
GRADE_LEVELS = 8     # smallest end panel: GRADE_RATIO**GRADE_LEVELS / 2 of the segment
PANEL_NODES = 14     # Gauss-Legendre nodes per panel (max error of mmse/Delta ~4e-11, tests)


@functools.lru_cache(maxsize=8)
def _graded_rule(levels=GRADE_LEVELS, ratio=GRADE_RATIO, n=PANEL_NODES):
    """Composite rule on ``[0, 1]`` with panels graded geometrically towards both ends.

    Each panel uses the sine substitution ``x = m + h sin(theta)`` (square-root ends become
    smooth), so true edges, the nearby edge of the other interval and merge dips are resolved.
    """
    half = [0.0] + [0.5 * ratio**k for k in range(levels, 0, -1)] + [0.5]
    b = np.array(half + [1 - h for h in half[-2::-1]])
    t, w = legendre_rule(n)
    th = 0.5 * np.pi * t
    lo, hi = b[:-1, None], b[1:, None]
    m, h = 0.5 * (lo + hi), 0.5 * (hi - lo)
    u = (m + h * np.sin(th)).ravel()
    wu = (w * h * np.cos(th) * 0.5 * np.pi).ravel()
    u.setflags(write=False)
    wu.setflags(write=False)
    return u, wu


def _support_nodes(delta, rho, n=None):
    """Quadrature nodes ``x`` and weights on the support, shape ``delta.shape + (2, N)``;
    weight 0 on absent segments.  ``n`` (optional) = nodes per panel."""
    lo, hi, mask = _segments(np.asarray(delta, dtype=float), rho)
    u, wu = _graded_rule(GRADE_LEVELS, GRADE_RATIO, n or PANEL_NODES)
    x = lo[..., None] + (hi - lo)[..., None] * u
    wt = (hi - lo)[..., None] * wu * mask[..., None]
    return x, wt

def cube_integral(delta, rho, n=N_NODES):
    """``int mu_{rho, Delta}(x)^3 dx``, batched over ``delta``."""
    delta, rho = _check(delta, rho)
    lo, hi, mask = _segments(delta, rho)
    u, wu = _graded_rule(GRADE_LEVELS, GRADE_RATIO, n or PANEL_NODES)
    # only the segments that exist (most Delta have one): no work on masked ones
    dd = np.broadcast_to(delta[..., None], mask.shape)[mask]
    a, b = lo[mask], hi[mask]
    x = a[:, None] + (b - a)[:, None] * u
    part = (b - a) * np.sum(wu * density(x, dd[:, None], rho) ** 3, axis=-1)
    out = np.zeros(mask.shape)
    out[mask] = part
    return out.sum(axis=-1)


#: ``mmse_over_delta`` switches from ``1 - (4 pi^2/3) Delta int mu^3`` to the variance-split form
#: (:func:`_mmse_over_delta_split`) at this ``Delta``: both agree to ~1e-12 relative on
#: ``[1, 30]`` against a 40-digit mpmath reference (tests), and the direct form loses
#: ``~5e-14 Delta`` absolute by cancellation above.
DELTA_SPLIT = 10.0
#: Beyond ``DELTA_FLOOR * max(1, sqrt(1/rho))`` the free-Fisher remainder ``Delta C`` is below
#: ``1e-24`` relative to ``1/(1 + Delta)`` (it is ``~ (1/rho) Delta^-3``, measured), so
#: ``mmse/Delta = 1/(1 + Delta)`` is returned; the quartic of the edges would overflow near
#: ``Delta ~ 1e100`` otherwise.
DELTA_FLOOR = 1e12


def _mmse_over_delta_direct(delta, rho, n=N_NODES):
    return 1.0 - (4 * np.pi**2 / 3) * delta * cube_integral(delta, rho, n)


def _mmse_over_delta_split(delta, rho, n=None):
    """``mmse/Delta = 1/(1 + Delta) - Delta C``, ``C = int (J(x) - (x - sqrt rho)/(1 + Delta))^2 mu``.

    ``J = 2 Re G`` is the free score of ``mu = mu_{rho, Delta}`` and ``(4 pi^2/3) int mu^3 =
    int J^2 dmu`` is its free Fisher information (Voiculescu 1998); the free Stein identity
    ``int J(x) (x - m) dmu = 1`` with mean ``m = sqrt(rho)`` and variance ``1 + Delta`` splits it as
    ``1/(1 + Delta) + C`` (free Cramer-Rao).  For large ``Delta`` the remainder ``Delta C`` is small
    and computed from a small integrand, so nothing cancels: the relative error stays ~1e-15
    where ``1 - (4 pi^2/3) Delta int mu^3`` loses ``5e-14 Delta`` (``mmse_rho(1e14, 0.5)`` was
    -3.69).  Derivation: docs/aim.md#large-noise-denoising-error.
    """
    lo, hi, mask = _segments(delta, rho)
    u, wu = _graded_rule(GRADE_LEVELS, GRADE_RATIO, n or PANEL_NODES)
    dd = np.broadcast_to(delta[..., None], mask.shape)[mask]
    a, b = lo[mask], hi[mask]
    x = a[:, None] + (b - a)[:, None] * u
    rw, iw = _pair_w(x, dd[:, None], rho)
    den2 = np.maximum(rw * rw + iw * iw, 1e-300)
    mu = iw / den2 / np.pi
    J = 2 * rw / den2
    lin = (x - math.sqrt(rho)) / (1 + dd[:, None])
    part = (b - a) * np.sum(wu * (J - lin) ** 2 * mu, axis=-1)
    out = np.zeros(mask.shape)
    out[mask] = part
    return 1.0 / (1.0 + delta) - delta * out.sum(axis=-1)


#: For ``rho < 1`` the ``(1 - rho) d`` zero eigenvalues of ``S`` spread, under noise ``Delta``, into a
#: semicircle of width ``O(sqrt(Delta))`` that the edge quartic resolves in double precision only
#: while ``Delta rho >= DELTA_RESOLVE`` (measured: below it the direct rule drifts, e.g. 30% wrong at
#: ``rho = 0.5, Delta = 1e-20``); there :func:`_mmse_over_delta_small` takes over.
DELTA_RESOLVE = 1e-12


def _small_noise_anchor(rho, n=N_NODES):
    """``(s, Delta_a, c_a, c_b)``: the exact slope ``s = 2 rho - rho^2``, the anchor
    ``Delta_a = 1000 DELTA_RESOLVE / rho`` and the correction slopes ``(mmse/Delta - s)/Delta`` of
    the direct rule at ``Delta_a`` and ``10 Delta_a``."""
    d_a = 1e3 * DELTA_RESOLVE / rho
    r = _mmse_over_delta_direct(np.array([d_a, 10 * d_a]), rho, n)
    s = 2.0 * rho - rho * rho
    return s, d_a, (float(r[0]) - s) / d_a, (float(r[1]) - s) / (10 * d_a)


def _mmse_over_delta_small(delta, rho, n=N_NODES):
    """``mmse/Delta = s + c Delta`` for ``rho < 1`` below the resolution of the direct rule.

    ``s = 2 rho - rho^2`` is the exact ``Delta -> 0`` slope
    (:func:`icl_companion.theory.aim.small_delta_slope`) and ``c`` the first-order correction read
    off the direct rule at the anchor ``Delta_a`` (three decades above the resolution limit, where
    the rule is accurate).  The same slope read at ``10 Delta_a`` measures how far the correction
    is from linear; :func:`small_noise_error` turns the difference into the error bound.
    Derivation: docs/derivations/aim.md#small-noise-denoising-error.
    """
    s, _, c_a, _ = _small_noise_anchor(rho, n)
    return s + c_a * np.asarray(delta, dtype=float)


def small_noise_error(delta: float, rho: float) -> float:
    """Relative error bound of :func:`mmse_over_delta` where the small-noise form is used (0
    elsewhere, where the quadrature's own estimate applies): the change of the correction slope
    over one decade, applied at the anchor, ``|c_a - c_b| Delta_a / s``, plus rounding."""
    if rho >= 1 or delta * rho >= DELTA_RESOLVE:
        return 0.0
    s, d_a, c_a, c_b = _small_noise_anchor(rho)
    return abs(c_a - c_b) * d_a / s + 4e-16


def mmse_over_delta(delta, rho, n=N_NODES):
    """``mmse_rho(Delta)/Delta = 1 - (4 pi^2/3) Delta int mu^3`` (the softmax SE function).

    Computed directly for ``Delta < DELTA_SPLIT``, by the cancellation-free split of
    :func:`_mmse_over_delta_split` above, and as ``1/(1 + Delta)`` beyond
    ``DELTA_FLOOR * max(1, rho^-1/2)`` (relative remainder below 1e-24); for ``rho < 1`` and
    ``Delta rho < DELTA_RESOLVE`` by the small-noise form :func:`_mmse_over_delta_small`.
    """
    delta, rho = _check(delta, rho)
    out = np.empty(delta.shape)
    floor = DELTA_FLOOR * max(1.0, 1.0 / math.sqrt(rho))
    tiny = (delta * rho < DELTA_RESOLVE) if rho < 1 else np.zeros(delta.shape, dtype=bool)
    small = (delta < DELTA_SPLIT) & ~tiny
    huge = delta >= floor
    mid = ~small & ~huge & ~tiny
    if np.any(tiny):
        out[tiny] = _mmse_over_delta_small(delta[tiny], rho, n)
    if np.any(small):
        out[small] = _mmse_over_delta_direct(delta[small], rho, n)
    if np.any(mid):
        out[mid] = _mmse_over_delta_split(delta[mid], rho, n)
    out[huge] = 1.0 / (1.0 + delta[huge])
    return out if out.ndim else out[()]


def mmse_rho(delta, rho, n=N_NODES):
    """Bayes-optimal matrix-denoising error ``(1/d) E||S - E[S|Y]||_F^2``, vectorised over ``delta``.

    ``mmse_rho(Delta) = Delta - (4 pi^2/3) Delta^2 int mu_{rho,Delta}^3`` (Bun, Allez, Bouchaud,
    Potters 2016 for the RIE; Maillard et al. 2024 for the AIM/quadratic-network use).  Limits:
    ``<= Delta``, ``-> 1`` as ``Delta -> inf``, ``~ (2 rho - rho^2) Delta`` as
    ``Delta -> 0`` (``rho < 1``).  ``delta = inf`` returns 1 exactly.

    Parameters
    ----------
    delta : float or array, > 0 (``inf`` allowed)
    rho : float > 0

    References
    ----------
    Boncoraglio et al. 2025 (arXiv:2506.01582), not numbered in the sources;
    ``docs/derivations/aim.md#denoising-mmse-and-the-rie``.
    """
    delta = np.asarray(delta, dtype=float)
    inf = np.isinf(delta) & (delta > 0)
    d = np.where(inf, 1.0, delta)
    out = d * mmse_over_delta(d, rho, n)
    return np.where(inf, 1.0, out)


# ------------------------------------------------------------------ RIE denoiser
def stieltjes_real(x, delta, rho):
    """``Re G(x)`` on the real axis, with ``x`` clamped into the support.

    Inside the support the cubic has a complex-conjugate pair; both have the same real part.
    Finite-``d`` eigenvalues just outside the support (by ``O(d^{-2/3})``) are clamped to the nearest
    edge, where the pair merges into a double root (the mean of the two closest roots).
    """
    delta, rho = _check(delta, rho)
    if delta.ndim != 0:
        raise ValueError("stieltjes_real takes a scalar delta")
    e, nint = edges(delta, rho)
    x = np.asarray(x, dtype=float)
    e = e[np.isfinite(e)]
    if nint == 2:
        lo1, hi1, lo2, hi2 = e
        gap_mid = 0.5 * (hi1 + lo2)
        xc = np.where(x < gap_mid, np.clip(x, lo1, hi1), np.clip(x, lo2, hi2))
    else:
        xc = np.clip(x, e[0], e[1])
    G = stieltjes_roots(xc, delta, rho)
    im = np.abs(G.imag)
    k = np.argmax(im, axis=-1)
    pair_re = np.take_along_axis(G.real, k[..., None], -1)[..., 0]
    # nearest pair of roots (double root at an edge)
    Gr = G.real
    d01 = np.abs(Gr[..., 0] - Gr[..., 1])
    d02 = np.abs(Gr[..., 0] - Gr[..., 2])
    d12 = np.abs(Gr[..., 1] - Gr[..., 2])
    m01 = 0.5 * (Gr[..., 0] + Gr[..., 1])
    m02 = 0.5 * (Gr[..., 0] + Gr[..., 2])
    m12 = 0.5 * (Gr[..., 1] + Gr[..., 2])
    dbl = np.where((d01 <= d02) & (d01 <= d12), m01, np.where(d02 <= d12, m02, m12))
    has_pair = np.max(im, axis=-1) > 1e-10 * (1 + np.abs(pair_re))
    return np.where(has_pair, pair_re, dbl)


def rie_shrink(lam, delta, rho):
    """Optimal RIE eigenvalue map ``lambda -> lambda - 2 Delta Re G(lambda)``
    (``docs/derivations/aim.md#denoising-mmse-and-the-rie``)."""
    return np.asarray(lam, dtype=float) - 2 * float(delta) * stieltjes_real(lam, delta, rho)


def rie_denoise(Y, delta, rho):
    """Rotationally invariant estimate of ``S`` from ``Y = S + sqrt(Delta) Z`` (the denoising step
    of
    GAMP-RIE).

    ``Y`` is a symmetric ``d x d`` array in the normalisation of the model (``S = W W^T/sqrt(r d)``,
    ``Z`` GOE with off-diagonal variance ``1/d``).  Eigenpairs by :func:`numpy.linalg.eigh`; the
    estimate is ``sum_i [lambda_i - 2 Delta Re G(lambda_i)] v_i v_i^T``.  Its error
    ``||S_hat - S||_F^2 / d`` concentrates on :func:`mmse_rho` as ``d -> inf``.

    References
    ----------
    Bun, Allez, Bouchaud, Potters, IEEE Trans. Inf. Theory 62 (2016), arXiv:1502.06736;
    ``docs/derivations/aim.md#denoising-mmse-and-the-rie``.
    """
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2 or Y.shape[0] != Y.shape[1]:
        raise ValueError(f"Y must be a square matrix, got shape {Y.shape}")
    lam, V = np.linalg.eigh(0.5 * (Y + Y.T))
    return (V * rie_shrink(lam, delta, rho)) @ V.T


# ------------------------------------------------------------------ mutual information
MI_SPLIT = 8.0  # mutual_information: I-MMSE integral at Delta >= MI_SPLIT (no cancellation)


def mutual_information(delta, rho):
    """``I_rho(Delta)`` per ``d^2``: ``Sigma(mu)/2 - log(Delta)/4 + 1/8``
    (``docs/derivations/aim.md#mutual-information-of-the-denoising-channel``).

    For ``Delta >= MI_SPLIT`` the three terms cancel (``I ~ 1/(4 Delta)``) and the I-MMSE
    integral ``I(Delta) = (1/4) int_0^{1/Delta} mmse_rho(1/lambda) d lambda`` (``I(inf) = 0``) is
    used instead (:func:`_mi_immse`); below, the log-potential formula of :func:`_mi_log_potential`.
    """
    delta, rho = _check(delta, rho)
    if delta.ndim != 0:
        return np.array([mutual_information(float(d), rho) for d in delta.ravel()]
                        ).reshape(delta.shape)
    if float(delta) >= MI_SPLIT:
        return _mi_immse(float(delta), rho)
    return _mi_log_potential(float(delta), rho)


def _mi_immse(delta, rho, nodes=8, halvings=48):
    """``(1/4) int_0^{1/Delta} mmse_rho(1/lambda) d lambda`` by composite Gauss-Legendre on the
    panels ``[2^-k-1, 2^-k] / Delta``, ``k < halvings``, plus ``[0, 2^-halvings / Delta]`` (the
    integrand is smooth in ``lambda`` and tends to 1 at ``lambda = 0``)."""
    t, w = legendre_rule(nodes)
    t, w = 0.5 * (t + 1.0), 0.5 * w  # on [0, 1]
    top = 1.0 / delta
    ends = top * 2.0 ** -np.arange(halvings + 1)
    lo = np.append(ends[1:], 0.0)
    hi = ends
    lam = lo[:, None] + (hi - lo)[:, None] * t
    wt = (hi - lo)[:, None] * w
    m = mmse_rho(1.0 / lam, rho)
    return float(0.25 * np.sum(wt * m))


def _mi_log_potential(dl, rho):
    """Log-potential evaluation of ``I_rho(Delta)``.

    ``Sigma(mu) = int int log|x - y| dmu dmu = sum_j int_{I_j} mu(x) U(x) dx`` over the
    integration segments ``I_j = [lo_j, hi_j]`` of :func:`_segments` (support intervals, split at a
    merge dip), with the log-potential ``U(x) = int log|x - y| dmu(y)``:

    * at each segment's right end, ``U(hi_j) = int log|hi_j - y| mu(y) dy`` directly (the
      logarithmic singularity sits at a segment end, where the graded rule of
      :func:`_graded_rule` clusters its nodes);
    * inside, ``U(x) = U(hi_j) - int_x^{hi_j} Re G(t) dt`` (``U' = Re G``, analytic inside a
      segment), by the same graded rule on ``[x, hi_j]``.

    Satisfies ``dI/d(1/Delta) = mmse_rho(Delta)/4`` (I-MMSE; tested).
    """
    lo, hi, mask = _segments(np.asarray(dl), rho)
    segs = [(lo[j], hi[j]) for j in range(2) if mask[j]]
    u, wu = _graded_rule(GRADE_LEVELS, GRADE_RATIO, PANEL_NODES)
    xs = [a + (b - a) * u for a, b in segs]
    ws = [(b - a) * wu * density(x, dl, rho) for x, (a, b) in zip(xs, segs)]
    X = np.concatenate(xs)
    Wm = np.concatenate(ws)  # mu(x) dx weights over the whole support
    sigma = 0.0
    for (a, b), x, wm in zip(segs, xs, ws):
        U_b = np.sum(Wm * np.log(np.abs(b - X)))
        inner = x[:, None] + (b - x)[:, None] * u[None, :]
        re_g = stieltjes_real_inside(inner, dl, rho)
        Ux = U_b - (b - x) * np.sum(wu[None, :] * re_g, axis=-1)
        sigma += np.sum(wm * Ux)
    return float(0.5 * sigma - 0.25 * np.log(dl) + 0.125)


# ------------------------------------------------------------------ catalogue records
#: Relative accuracy a catalogue value must reach (estimated by a coarser rule) to be reported
#: as ``success``; the estimated error is the ``residual``.
DENOISING_RTOL = 1e-8


def _checked(value, coarse, what):
    err = abs(value - coarse)
    ok = bool(np.isfinite(value) and err <= DENOISING_RTOL * max(abs(value), 1e-300))
    msg = ("converged" if ok else
           f"{what}: the estimated quadrature error {err:.2g} exceeds {DENOISING_RTOL:g} relative "
           f"(the value is not trusted)")
    return {"success": ok, "status": 0 if ok else 4, "residual": float(err), "nit": 0,
            "message": msg}


def denoising_mmse_record(delta: float, rho: float) -> dict:
    """``mmse_rho(Delta)`` with an error estimate: the value at the default rule (14 nodes per
    panel) against a coarser one (10 nodes) is the ``residual``; ``success`` when it is below
    :data:`DENOISING_RTOL` relative."""
    v = float(mmse_rho(delta, rho))
    coarse = float(mmse_rho(delta, rho, n=PANEL_NODES - 4))
    bound = small_noise_error(float(delta), rho)
    if bound:  # the small-noise form: its error bound joins the rule-against-rule estimate
        coarse = v + max(abs(v - coarse), abs(v) * bound)
    return {"mmse": v, **_checked(v, coarse, "aim.denoising_mmse")}


def denoising_mi_record(delta: float, rho: float) -> dict:
    """``I_rho(Delta)`` with an error estimate (I-MMSE branch: 8 vs 6 nodes per panel;
    log-potential branch: against the I-MMSE value integrated down from ``Delta = 1``)."""
    v = float(mutual_information(delta, rho))
    if delta >= MI_SPLIT:
        coarse = _mi_immse(float(delta), rho, nodes=6)
    else:
        coarse = _mi_immse(MI_SPLIT, rho) + 0.25 * _integral_mmse(float(delta), MI_SPLIT, rho)
    return {"mi": v, **_checked(v, coarse, "aim.denoising_mi")}


def _integral_mmse(d_lo, d_hi, rho, nodes=24):
    """``int_{1/d_hi}^{1/d_lo} mmse_rho(1/lambda) d lambda`` (Gauss-Legendre in log lambda)."""
    t, w = legendre_rule(nodes)
    t, w = 0.5 * (t + 1.0), 0.5 * w  # on [0, 1]
    a, b = math.log(1 / d_hi), math.log(1 / d_lo)
    edges = np.linspace(a, b, max(2, int(math.ceil(b - a)) + 1))
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        s = lo + (hi - lo) * t
        lam = np.exp(s)
        total += float(np.sum((hi - lo) * w * lam * mmse_rho(1 / lam, rho)))
    return total


def stieltjes_real_inside(x, delta, rho):
    """``Re G`` at points inside the support (no clamping): real part of the complex pair."""
    rw, iw = _pair_w(x, delta, rho)
    return rw / np.maximum(rw * rw + iw * iw, 1e-300)
