"""Attention-indexed models (AIM, prefix ``aim``): symbolic layer.

Boncoraglio, Troiani, Erba, Zdeborova, *Bayes optimal learning of attention-indexed models*
(arXiv:2506.01582).  The paper body was not available (its equation numbers are not known); the
model and the state-evolution equations are read from the authors' public code
(github.com/FabrizioBoncoraglio/BO_ExtensiveRankAttention) and re-derived here as code.  The steps
are written out in ``docs/derivations/aim.md``.

Conventions (``docs/derivations/aim.md#model-and-normalisations``).  ``S = W W^T / sqrt(r d)`` with
``W`` a ``d x r`` standard Gaussian matrix, ``rho = r/d``, ``a = 1/rho``; ``Q0 = Tr S^2 / d = 1 + rho``;
the estimation error is ``MSE = ||S_hat - S||_F^2 / d``, equal to 1 for the prior mean
``sqrt(rho) I`` (alpha = 0).
Matrix denoising ``Y = S + sqrt(Delta) Z`` with ``Z`` a GOE matrix (semicircle on [-2, 2]).

Derived here, as SymPy code:

* :func:`stieltjes_cubic` -- the cubic satisfied by the Stieltjes transform ``G`` of
  ``mu_rho boxplus semicircle_Delta``, from the Marchenko-Pastur equation (shared with
  :mod:`icl_companion.theory.linear`) -> R-transform -> free additive convolution;
* :func:`edge_quartic` -- the support-edge quartic as the cubic's discriminant;
* :func:`small_delta_slope` -- ``lim mmse/Delta`` at ``Delta -> 0`` (``2 rho - rho^2`` / 1);
* :func:`softmax_directions` -- ``K = T^2 + T - 2`` directions revealed by a softmax output;
* :func:`alpha_pr_expr` -- the perfect-recovery threshold ``alpha_PR(rho, T)``;
* :func:`rho_infinity_mmse_expr` -- the ``rho = infinity`` (GOE prior) line ``1 - K alpha``;
* :func:`bbp_mmse_expr` -- the ``rho -> 0`` spiked denoising error ``Db (2 - Db)``;
* :func:`hardmax_E0_expr`, :func:`weak_recovery_expr` -- the hardmax weak-recovery threshold
  ``2 alpha_bar_c E0 = 1`` with ``E0`` in closed form for both variants;
* :func:`maillard_mapping` -- the ``T = 1`` reduction to Maillard et al. (2024) and the exact
  error mapping between the two normalisations.

>>> sp.factor(edge_quartic() - edge_quartic_authors())
0
>>> alpha_pr_expr().subs({RHO: sp.Rational(1, 2), T_: 2})
3/16
"""

from __future__ import annotations

import functools

import sympy as sp

from icl_companion.theory.linear import mp_stieltjes_equation
from icl_companion.theory.papers import paper
from icl_companion.theory.registry import NOT_NUMBERED, Reference, integer, real, register_symbolic

__all__ = ["RHO", "DELTA", "A", "G", "Z", "T_", "ALPHA", "ALPHA_BAR", "DBAR", "DELTA_OUT", "mp_r_transform",
           "wishart_r_transform", "stieltjes_cubic", "cubic_coeffs", "edge_quartic",
           "edge_quartic_authors", "small_delta_slope", "softmax_directions", "alpha_pr_expr",
           "rho_infinity_mmse_expr", "semicircle_prior_mmse_expr", "bbp_mmse_expr",
           "bivariate_partial_identity", "hardmax_E0_expr", "weak_recovery_expr",
           "maillard_mapping", "mmse_from_cube_integral"]

RHO = sp.Symbol("rho", positive=True)
DELTA = sp.Symbol("Delta", positive=True)
A = sp.Symbol("a", positive=True)          # a = 1/rho = d/r
G = sp.Symbol("G")                         # Stieltjes transform value
Z = sp.Symbol("z")                         # spectral variable
T_ = sp.Symbol("T", positive=True, integer=True)
ALPHA = sp.Symbol("alpha", nonnegative=True)
ALPHA_BAR = sp.Symbol("alphabar", positive=True)   # n/(d r) = alpha/rho
DBAR = sp.Symbol("Deltabar", positive=True)        # rho * Delta, per-spike noise
DELTA_OUT = sp.Symbol("Delta_out", nonnegative=True)  # output-noise variance of a channel
_g = sp.Symbol("g")


# ------------------------------------------------------------------ free probability, prior
@functools.lru_cache(maxsize=None)
def mp_r_transform():
    """R-transform of ``X = W W^T / r`` (Marchenko-Pastur, ratio ``a = d/r``), derived.

    The Marchenko-Pastur equation of :func:`icl_companion.theory.linear.mp_stieltjes_equation` is written for
    ``m(z) = E 1/(t - z) = -G(z)`` with ``xi = d/L``; here ``L = r`` and ``xi = a``.  It is linear in
    ``z``, so the functional inverse ``z = K(G)`` is explicit and ``R(g) = K(g) - 1/g``
    (Voiculescu; Mingo & Speicher 2017, §2.4).

    >>> mp_r_transform()
    -1/(a*g - 1)
    """
    eq = mp_stieltjes_equation(xi=A, z=Z, m=-_g)
    (K,) = sp.solve(eq, Z)
    return sp.simplify(K - 1 / _g)


@functools.lru_cache(maxsize=None)
def wishart_r_transform():
    """R-transform of the AIM prior ``S = W W^T/sqrt(r d) = a^{-1/2} X``: ``R_{sX}(g) = s R_X(s g)``.

    >>> sp.simplify(wishart_r_transform() - 1/(sp.sqrt(A) - A*_g))
    0
    """
    s = 1 / sp.sqrt(A)
    return sp.simplify(s * mp_r_transform().subs(_g, s * _g))


@functools.lru_cache(maxsize=None)
def stieltjes_cubic():
    """Cubic polynomial in ``G`` whose root is the Stieltjes transform of ``S + sqrt(Delta) Z``.

    Free additive convolution adds R-transforms: ``R_Y = R_S + Delta g`` (the semicircle of variance
    ``Delta`` has ``R = Delta g``).  The inverse relation ``z = R_Y(G) + 1/G`` is cleared of its
    denominators; normalised to the sign of the authors' code (leading coefficient
    ``sqrt(a) Delta``).

    References
    ----------
    ``docs/derivations/aim.md#stieltjes-cubic-of-the-noisy-prior`` (the same polynomial as the
    authors' free-probability code); Voiculescu's R-transform, Mingo & Speicher (2017).
    """
    RY = wishart_r_transform() + DELTA * _g
    expr = sp.together(RY.subs(_g, G) + 1 / G - Z)
    num = sp.expand(sp.numer(expr))
    poly = sp.Poly(num, G)
    lead = poly.LC()
    target = sp.sqrt(A) * DELTA
    return sp.expand(num * sp.simplify(target / lead))


@functools.lru_cache(maxsize=None)
def cubic_coeffs():
    """Coefficients ``(c3, c2, c1, c0)`` of :func:`stieltjes_cubic` in powers of ``G``."""
    return tuple(sp.simplify(c) for c in sp.Poly(stieltjes_cubic(), G).all_coeffs())


@functools.lru_cache(maxsize=None)
def edge_quartic():
    """Support-edge polynomial: the discriminant of :func:`stieltjes_cubic` in ``G``, in ``z``.

    Edges of the support are where two roots of the cubic merge (a complex-conjugate pair becomes
    real), i.e. zeros of the discriminant.  Normalised to leading coefficient ``a`` in ``z``.
    """
    disc = sp.discriminant(stieltjes_cubic(), G)
    poly = sp.Poly(sp.expand(disc), Z)
    return sp.expand(sp.simplify(disc * A / poly.LC()))


def edge_quartic_authors():
    """The edge quartic as coded by the authors (``edges_rho``), for the identity test
    (``docs/derivations/aim.md#support-edges``)."""
    a, R = A, DELTA
    s = sp.sqrt(a)
    c4 = a
    c3 = -2 * s - 2 * a ** sp.Rational(3, 2) - 2 * s * R
    c2 = 1 - 2 * a + a**2 + 8 * R - 2 * a * R + R**2
    c1 = -10 * R / s + 2 * s * R + 8 * a ** sp.Rational(3, 2) * R - 2 * R**2 / s + 8 * s * R**2
    c0 = -12 * R + 4 * R / a + 12 * a * R - 4 * a**2 * R - 20 * R**2 + R**2 / a - 8 * a * R**2 \
        - 4 * R**3
    return sp.expand(c4 * Z**4 + c3 * Z**3 + c2 * Z**2 + c1 * Z + c0)


def mmse_from_cube_integral(delta=DELTA, cube_integral=sp.Symbol("I3", positive=True)):
    """``mmse_rho(Delta) = Delta - (4 pi^2/3) Delta^2 int mu^3`` (RIE, Bun et al. 2016;
    ``docs/derivations/aim.md#denoising-mmse-and-the-rie``)."""
    return delta - sp.Rational(4, 3) * sp.pi**2 * delta**2 * cube_integral


@functools.lru_cache(maxsize=None)
def semicircle_prior_mmse_expr():
    """``rho = infinity`` (GOE prior): ``mmse = Delta/(1 + Delta)``, from the cube integral.

    ``mu_Y`` is then a semicircle of variance ``1 + Delta``; its ``int mu^3`` is computed by SymPy.
    """
    x = sp.Symbol("x", real=True)
    s2 = 1 + DELTA
    dens = sp.sqrt(4 * s2 - x**2) / (2 * sp.pi * s2)
    I3 = sp.integrate(dens**3, (x, -2 * sp.sqrt(s2), 2 * sp.sqrt(s2)))
    return sp.simplify(mmse_from_cube_integral(DELTA, sp.simplify(I3)))


def small_delta_slope(rho=RHO):
    """``lim_{Delta -> 0} mmse_rho(Delta)/Delta``: degrees of freedom of the prior per ``d^2/2``.

    A rank-``r`` PSD matrix has ``d r - r(r - 1)/2`` free parameters; per ``d^2/2`` this is
    ``2 rho - rho^2`` for ``rho < 1`` and 1 (all of a symmetric matrix) for ``rho >= 1``: at small
    noise the MMSE is ``Delta`` times the fraction of noise directions that survive the projection
    on the tangent space of the prior (``docs/derivations/aim.md#limits-of-the-denoising-mmse``).
    """
    r = sp.Symbol("r", positive=True)
    d = sp.Symbol("d", positive=True)
    dof = d * r - r * (r - 1) / 2
    frac = sp.limit((dof / (d**2 / 2)).subs(r, rho * d), d, sp.oo)
    return sp.Piecewise((sp.expand(frac), rho < 1), (1, True))


def softmax_directions(T=T_):
    """``K = T^2 + T - 2``: twice the number of directions of ``h`` a noiseless softmax reveals.

    ``h`` is symmetric ``T x T``: ``T (T + 1)/2`` free entries.  ``y = softmax(h)`` row-wise reveals
    every difference ``h_ab - h_aT``; the only invisible direction is ``h -> h + t 1 1^T``.  So
    ``m = T (T + 1)/2 - 1`` normalised directions are observed noiselessly, and the channel term of
    the SE is ``hat q = 2 alpha m / V = K alpha / V`` with ``K = 2 m``
    (``docs/derivations/aim.md#softmax-channel``).

    >>> softmax_directions(2), softmax_directions(3)
    (4, 10)
    """
    return sp.factor(2 * (T * (T + 1) / 2 - 1)) if isinstance(T, sp.Basic) \
        else int(2 * (T * (T + 1) // 2 - 1))


@functools.lru_cache(maxsize=None)
def alpha_pr_expr():
    """Perfect-recovery threshold ``alpha_PR(rho, T) = slope(rho) / K(T)``
    (``docs/derivations/aim.md#perfect-recovery-threshold``).

    The softmax SE reduces to ``mmse_rho(Delta)/Delta = K alpha``; ``mmse/Delta`` decreases from
    :func:`small_delta_slope` at ``Delta = 0`` to 0, so the error reaches 0 exactly when
    ``K alpha`` reaches the slope.
    """
    # written rho (2 - rho): the numeric evaluation computes both branches, and rho**2 overflows
    # (OverflowError) for rho ~ 1e200 where the other branch applies
    return sp.Piecewise((RHO * (2 - RHO) / (T_**2 + T_ - 2), RHO < 1),
                        (1 / (T_**2 + T_ - 2), True))


@functools.lru_cache(maxsize=None)
def rho_infinity_mmse_expr():
    """``rho = infinity`` line: solving ``mmse/Delta = 1/(1 + Delta) = K alpha`` gives
    ``MMSE = K alpha Delta* = 1 - K alpha`` (clipped at 0 for ``alpha >= 1/K``),
    ``docs/derivations/aim.md#the-goe-prior-line``."""
    K = softmax_directions()
    slope = sp.simplify(semicircle_prior_mmse_expr() / DELTA)
    (dstar,) = sp.solve(sp.Eq(slope, K * ALPHA), DELTA)
    return sp.Piecewise((sp.simplify(K * ALPHA * dstar), ALPHA < 1 / K), (0, True))


@functools.lru_cache(maxsize=None)
def bbp_mmse_expr():
    """``rho -> 0`` denoising error per spike, ``Db = rho Delta``
    (``docs/derivations/aim.md#small-rank-limit``).

    Rank-one spiked Wigner ``Y = v v^T + sqrt(Db) Z`` with ``|v| = 1``: above the BBP threshold
    (``Db < 1``) the top eigenvector has squared overlap ``1 - Db`` and the outlier eigenvalue is
    ``1 + Db``; optimal shrinkage ``(1 - Db)`` of ``u u^T`` gives error ``1 - (1 - Db)^2``.
    """
    overlap2 = 1 - DBAR
    err = 1 - overlap2**2
    return sp.Piecewise((sp.factor(err), DBAR < 1), (1, True))


# ------------------------------------------------------------------ hardmax, weak recovery
_K1, _K2 = sp.symbols("k1 k2", real=True)
_R = sp.Symbol("r", real=True)


def _phi(x):
    return sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)


def _Phi(x):
    return (1 + sp.erf(x / sp.sqrt(2))) / 2


def bivariate_partial_identity():
    """Return ``(first_partial, mixed_second, phi2)`` for the bivariate normal CDF ``Phi_2``.

    ``Phi_2(k1, k2; r) = int_{-inf}^{k1} phi(t) Phi((k2 - r t)/sqrt(1 - r^2)) dt``, hence
    ``d_1 Phi_2 = phi(k1) Phi((k2 - r k1)/sqrt(1 - r^2))`` (the ``"correct"`` variant) and
    ``d_2 d_1 Phi_2 = phi_2(k1, k2; r)``, the bivariate density (what the authors' code uses in
    place of the first partial, the ``"paper"`` variant;
    ``docs/derivations/aim.md#hardmax-channel-and-its-corrected-derivative``).
    """
    s = sp.sqrt(1 - _R**2)
    d1 = _phi(_K1) * _Phi((_K2 - _R * _K1) / s)
    d12 = sp.diff(d1, _K2)
    phi2 = sp.exp(-(_K1**2 - 2 * _R * _K1 * _K2 + _K2**2) / (2 * (1 - _R**2))) / (2 * sp.pi * s)
    return d1, d12, phi2


@functools.lru_cache(maxsize=None)
def hardmax_E0_expr(variant: str = "correct"):
    """``E0 = E[sum_{a<=b} c_ab g_ab^2]`` at ``q = 0``, ``V = Q0 = 1`` for hardmax ``T = 2``.

    At ``q = 0`` all ``omega = 0``, so ``k1 = k2 = 0`` and ``Z_out = Phi_2(0, 0; s1 s2/3)``
    (Sheppard: ``1/4 + arcsin(r)/(2 pi)``), ``p_s`` for equal, ``p_o`` for opposite signs.  With
    ``g_ii = s_i D_i / (sqrt(3V) Z)``, ``g_12 = -(g_11 + g_22)`` and the Nishimori weight ``Z`` of
    each of the 4 sign patterns, ``E0 = sum_s (2 D1^2 + 2 D2^2 + (s1 D1 + s2 D2)^2) / (3 Z_s)``.
    ``D_i`` is the first partial (correct) or the bivariate density (paper).
    ``docs/derivations/aim.md#weak-recovery-threshold``.
    """
    d1, _, phi2 = bivariate_partial_identity()
    total = 0
    for s1 in (1, -1):
        for s2 in (1, -1):
            r = sp.Rational(s1 * s2, 3)
            Zs = sp.Rational(1, 4) + sp.asin(r) / (2 * sp.pi)
            if variant == "correct":
                D = d1.subs({_K1: 0, _K2: 0, _R: r})
            elif variant == "paper":
                D = phi2.subs({_K1: 0, _K2: 0, _R: r})
            else:
                raise ValueError(f"variant = {variant!r} is not one of correct, paper")
            D1 = D2 = sp.simplify(D)
            total += (2 * D1**2 + 2 * D2**2 + (s1 * D1 + s2 * D2) ** 2) / (3 * Zs)
    return sp.simplify(total)


@functools.lru_cache(maxsize=None)
def weak_recovery_expr(variant: str = "correct"):
    """``alpha_bar_c = 1 / (2 E0)``: the ``rho -> 0`` hardmax weak-recovery threshold in ``n/(d r)``.

    At ``q = 0`` the rescaled noise is ``Db = 1/(2 alpha_bar E0)`` and the BBP error
    (:func:`bbp_mmse_expr`) leaves 1 exactly when ``Db < 1``
    (``docs/derivations/aim.md#weak-recovery-threshold``).
    """
    (sol,) = sp.solve(sp.Eq(2 * ALPHA_BAR * hardmax_E0_expr(variant), 1), ALPHA_BAR)
    return sp.simplify(sol)


# ------------------------------------------------------------------ T = 1: Maillard et al.
def maillard_mapping():
    """``T = 1`` reduction and the error map to Maillard et al. (2024, arXiv:2408.03733)
    (``docs/derivations/aim.md#one-token-and-the-quadratic-network``).

    Returns a dict of SymPy objects:
    ``alpha_M`` -- Maillard's sample ratio for the AIM softmax problem at ``(alpha, T)``;
    ``K1`` -- the channel constant at ``T = 1`` (identity output ``y = h_11``: one normalised direction,
    ``hat q = 2 alpha / V``);
    ``error_factor`` -- ``MMSE_AIM = rho * err_M``: Maillard normalise ``S_M = S_AIM/sqrt(rho)``,
    so squared errors scale by ``1/rho``;
    ``alpha_pr_M`` -- Maillard's perfect-recovery ratio ``kappa - kappa^2/2``;
    ``delta_M`` -- Maillard's output-noise variance for the AIM identity channel ``y = h_11 +
    sqrt(Delta_out) z`` at ``T = 1``: their outputs are ``h / sqrt(rho)``, so ``Delta_M =
    Delta_out / rho`` (with ``alpha_M = alpha``, ``kappa = rho`` and the same ``error_factor``).
    """
    K = softmax_directions()
    return {"alpha_M": K * ALPHA / 2, "K1": sp.Integer(2), "error_factor": RHO,
            "alpha_pr_M": sp.Piecewise((RHO - RHO**2 / 2, RHO < 1), (sp.Rational(1, 2), True)),
            "delta_M": DELTA_OUT / RHO}


# ------------------------------------------------------------------ registry
#: The authors' public code, from which the model and the state evolution are read (the paper body
#: was
#: not available: its equation and figure numbers are not known).
AUTHORS_CODE = paper("aim").code_citation()  # declared once, in theory.papers (SymPy-free)


def _ref(anchor, *cites):
    """Not numbered in the sources; derived on ``docs/derivations/aim.md#<anchor>``."""
    return Reference("aim", NOT_NUMBERED, f"docs/derivations/aim.md#{anchor}", cites)


register_symbolic(
    "aim.alpha_pr",
    "Perfect-recovery threshold alpha_PR(rho, T) = (2 rho - rho^2)/(T^2+T-2), 1/(T^2+T-2) if rho>=1",
    [real("rho", 0, lo_open=True, doc="r/d"), integer("T", 2, 10**6, doc="sequence length")],
    alpha_pr_expr, lambda: (RHO, T_),
    _ref("perfect-recovery-threshold", AUTHORS_CODE + ", SE_softmax.py (alpha_max)"),
    status="asymptotic", status_note="d -> inf, n = alpha d^2, r = rho d",
    bounds={"value": (0.0, 0.25)})

register_symbolic(
    "aim.rho_inf_mmse",
    "Softmax Bayes error for a GOE prior (rho = infinity line): 1 - (T^2+T-2) alpha, clipped at 0",
    [real("alpha", 0, doc="n/d^2"), integer("T", 2, 10**6, doc="sequence length")],
    rho_infinity_mmse_expr, lambda: (ALPHA, T_), _ref("the-goe-prior-line"),
    status="asymptotic", status_note="d -> inf, then rho -> inf", bounds={"value": (0.0, 1.0)})

register_symbolic(
    "aim.bbp_mmse",
    "rho -> 0 denoising error per spike, Db (2 - Db) for Db = rho Delta < 1, else 1",
    [real("Deltabar", 0, lo_open=True, doc="rho * Delta")],
    bbp_mmse_expr, lambda: (DBAR,),
    _ref("small-rank-limit", AUTHORS_CODE + ", SE_hardmax_rho=0.py",
         "Baik, Ben Arous, Péché (2005), Ann. Probab. 33, 1643"),
    status="asymptotic", status_note="rho -> 0 at fixed rho Delta", bounds={"value": (0.0, 1.0)})


# ------------------------------------------------------------------ derivation helpers for tests
def softmax_visible_rank(T: int) -> int:
    """Rank of ``h -> (h_ab - h_aT)_{a, b < T}`` on symmetric ``T x T`` matrices (SymPy Jacobian).

    Equals ``T (T + 1)/2 - 1`` (only ``h + t 1 1^T`` is invisible), so ``K = 2 rank``.
    """
    T = int(T)
    hs = {}
    for i in range(T):
        for j in range(i, T):
            hs[(i, j)] = hs[(j, i)] = sp.Symbol(f"h_{i}{j}")
    free = [hs[(i, j)] for i in range(T) for j in range(i, T)]
    obs = [hs[(a, b)] - hs[(a, T - 1)] for a in range(T) for b in range(T - 1)]
    if not obs:  # T = 1: a softmax over one token is constant
        return 0
    return int(sp.Matrix(obs).jacobian(free).rank())


@functools.lru_cache(maxsize=None)
def maillard_cubic():
    """Stieltjes cubic in Maillard et al.'s normalisation ``S_M = W W^T / r`` (``= S/sqrt(rho)``).

    ``z = R_M(G) + Delta_M G + 1/G`` with ``R_M`` = :func:`mp_r_transform`; cleared of denominators.
    """
    RY = mp_r_transform() + DELTA * _g
    return sp.expand(sp.numer(sp.together(RY.subs(_g, G) + 1 / G - Z)))


def maillard_scaling_residual():
    """Substitute ``G = G_M/sqrt(rho)``, ``z = sqrt(rho) z_M``, ``Delta = rho Delta_M`` (with
    ``a = 1/rho``) into :func:`stieltjes_cubic` and divide by :func:`maillard_cubic` in
    ``(G_M, z_M, Delta_M)``: the ratio is free of ``G_M`` and ``z_M`` iff the spectral laws map as
    ``mu_M(x) = sqrt(rho) mu(sqrt(rho) x)``, hence ``int mu_M^3 = rho int mu^3`` and
    ``mmse_M(Delta_M) = mmse_rho(rho Delta_M)/rho``
    (``docs/derivations/aim.md#one-token-and-the-quadratic-network``)."""
    gm, zm, dm = sp.symbols("G_M z_M Delta_M")
    aim_sub = stieltjes_cubic().subs(A, 1 / RHO).subs({G: gm / sp.sqrt(RHO), Z: sp.sqrt(RHO) * zm,
                                                       DELTA: RHO * dm})
    m = maillard_cubic().subs(A, 1 / RHO).subs({G: gm, Z: zm, DELTA: dm})
    ratio = sp.simplify(aim_sub / m)
    return ratio, (gm, zm, dm)
