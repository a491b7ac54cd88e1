"""Multi-layer attention-indexed model (AIM, ``L`` layers): symbolic layer.

The construction is the paper's (Boncoraglio, Troiani, Erba, Zdeborová, arXiv:2506.01582,
Eqs. 4-5); its state evolution is derived in this repository
(docs/derivations/aim_multilayer.md).  Derived here, as SymPy code:

* :func:`gaussian_moment` / :func:`quadratic_form_covariances` -- Wick's theorem for the indices
  ``x_a^T S x_b / sqrt(d)``: covariance ``c_ab Tr(S S') / d`` between the same pair, 0 otherwise;
* :func:`free_cumulants` / :func:`index_covariance` -- with the free cumulants of the prior
  (``kappa_1 = sqrt(rho)``, ``kappa_2 = 1``) and freeness of independent layers, the indices of
  layers ``l, l'`` have covariance ``c_ab (delta_ll' + sqrt(rho_l rho_l'))``: correlated through the
  identity part ``sqrt(rho_l) I`` of every ``S_l``;
* :func:`gauge_identity` -- ``A 1 1^T A^T = (c + 1)^2 1 1^T`` for ``A = c I + softmax(.)``: every
  layer's pre-activation modulo ``1 1^T`` depends on the indices modulo ``1 1^T``;
* :func:`congruence_determinant` -- ``det(h -> A h A^T on Sym_T) = det(A)^(T + 1)``;
* :func:`visible_matrix_t2` -- ``T = 2``: ``z = M(p) delta_2`` with
  ``det M = (c + 1)(c + p1 + p2 - 1)^3`` (a fold ``c + p1 + p2 = 1`` only for ``c < 1``) and the
  invariant ``a^T M = (c + p1 + p2 - 1)^2 b^T`` that gives at most two preimages of the hidden
  layer, one for ``c >= 1``
  (:func:`hidden_preimages_t2`);
* :func:`constraint_rank` -- the output reveals ``T(T+1)/2 - 1`` directions of the ``L T(T+1)/2``
  index entries (exact rank at a rational point), affine in the last layer, curved jointly;
* :func:`alpha_pr_expr` -- the counting threshold ``sum_l slope(rho_l) / (T^2 + T - 2)``.
"""

from __future__ import annotations

import functools
import itertools
import random

import sympy as sp

from icl_companion.theory.aim import (A, RHO, T_, small_delta_slope, softmax_directions,
                                      wishart_r_transform)
from icl_companion.theory.registry import Reference, integer, real, register_symbolic

__all__ = ["RHO1", "RHO2", "CSKIP", "P1", "P2", "gaussian_moment", "quadratic_form_covariances",
           "free_cumulants", "index_covariance", "gauge_identity", "congruence_determinant",
           "visible_matrix_t2", "fold_invariant_t2", "hidden_preimages_t2", "constraint_rank",
           "alpha_pr_expr"]

RHO1, RHO2 = sp.symbols("rho1 rho2", positive=True)
CSKIP = sp.Symbol("c", nonnegative=True)
P1, P2 = sp.symbols("p1 p2", positive=True)     # attention weights softmax(h)_11, softmax(h)_22


# ------------------------------------------------------------------ Wick's theorem
def gaussian_moment(poly, variables) -> sp.Expr:
    """``E[poly]`` for independent standard normal ``variables`` (Isserlis / Wick).

    Expands ``poly`` and replaces every monomial ``prod x_i^{n_i}`` by ``prod (n_i - 1)!!`` (0 if
    some ``n_i`` is odd).
    """
    P = sp.Poly(sp.expand(poly), *variables)
    total = sp.Integer(0)
    for exps, coeff in P.terms():
        m = sp.Integer(1)
        for e in exps:
            if e % 2:
                m = sp.Integer(0)
                break
            m *= sp.factorial2(e - 1)
        total += coeff * m
    return sp.expand(total)


def _sym_matrix(name: str, d: int) -> sp.Matrix:
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{min(i, j)}{max(i, j)}"))


@functools.lru_cache(maxsize=None)
def quadratic_form_covariances(d: int = 2) -> dict:
    """Covariances of ``x_a^T S x_b`` for generic symmetric ``S, S'`` of size ``d`` (exact).

    Returns the differences from the claimed forms (all 0): ``same_offdiag`` =
    ``E[(x_a^T S x_b)(x_a^T S' x_b)] - Tr(S S')``, ``same_diag`` = ``Cov(x^T S x, x^T S' x) -
    2 Tr(S S')``, ``mixed`` = ``E[(x_a^T S x_a - Tr S)(x_a^T S' x_b)]`` and ``disjoint`` =
    ``E[(x_a^T S x_b)(x_a^T S' x_c)]`` (two different pairs).
    """
    S, Sp = _sym_matrix("s", d), _sym_matrix("t", d)
    xa = sp.Matrix(sp.symbols(f"xa0:{d}"))
    xb = sp.Matrix(sp.symbols(f"xb0:{d}"))
    xc = sp.Matrix(sp.symbols(f"xc0:{d}"))
    var = list(xa) + list(xb) + list(xc)
    q = lambda u, M, v: (u.T * M * v)[0, 0]  # noqa: E731
    tr = (S * Sp).trace()
    E = lambda p: gaussian_moment(p, var)   # noqa: E731
    return {
        "same_offdiag": sp.expand(E(q(xa, S, xb) * q(xa, Sp, xb)) - tr),
        "same_diag": sp.expand(E((q(xa, S, xa) - S.trace()) * (q(xa, Sp, xa) - Sp.trace()))
                               - 2 * tr),
        "mixed": sp.expand(E((q(xa, S, xa) - S.trace()) * q(xa, Sp, xb))),
        "disjoint": sp.expand(E(q(xa, S, xb) * q(xa, Sp, xc))),
    }


# ------------------------------------------------------------------ free cumulants
@functools.lru_cache(maxsize=None)
def free_cumulants(n: int = 3) -> tuple:
    """Free cumulants ``kappa_1..kappa_n`` of ``S = W W^T / sqrt(r d)`` in terms of ``rho``.

    ``R(g) = sum_j kappa_{j+1} g^j`` (the R-transform of :func:`icl_companion.theory.aim.
    wishart_r_transform`, ``a = 1/rho``).

    >>> free_cumulants(2)
    (sqrt(rho), 1)
    """
    g = sp.Symbol("g")
    R = wishart_r_transform().subs(sp.Symbol("g"), g)
    ser = sp.series(R, g, 0, n).removeO()
    return tuple(sp.simplify(ser.coeff(g, j).subs(A, 1 / RHO)) for j in range(n))


@functools.lru_cache(maxsize=None)
def index_covariance():
    """``Gamma_ll' = lim Tr(S_l S_l') / d`` for two independent layers: ``[[1 + rho1, sqrt(rho1
    rho2)], [sqrt(rho1 rho2), 1 + rho2]]``.

    Same layer: ``tau(S^2) = kappa_2 + kappa_1^2``.  Independent rotation-invariant layers are
    asymptotically free, so ``tau(S_1 S_2) = tau(S_1) tau(S_2) = kappa_1(rho1) kappa_1(rho2)``.
    With :func:`quadratic_form_covariances`, ``Cov(h^(l)_ab, h^(l')_ab) = c_ab Gamma_ll'``
    (``c_aa = 2``, ``c_ab = 1``), distinct pairs uncorrelated.
    """
    k1, k2 = free_cumulants(2)
    k1a, k1b = k1.subs(RHO, RHO1), k1.subs(RHO, RHO2)
    return sp.Matrix([[k2 + k1a**2, k1a * k1b], [k1a * k1b, k2 + k1b**2]])


# ------------------------------------------------------------------ gauge and congruence
def _stochastic(T: int, name: str = "s") -> sp.Matrix:
    """A generic row-stochastic ``T x T`` matrix (last column = 1 - the others)."""
    rows = []
    for a in range(T):
        free = [sp.Symbol(f"{name}_{a}{b}") for b in range(T - 1)]
        rows.append(free + [1 - sum(free)])
    return sp.Matrix(rows)


def gauge_identity(T: int = 3) -> sp.Matrix:
    """``A e A^T - (c + 1)^2 e`` for ``A = c I + sigma``, ``sigma`` row-stochastic, ``e = 1 1^T``
    (identically zero)."""
    Am = CSKIP * sp.eye(T) + _stochastic(T)
    e = sp.ones(T, T)
    return sp.simplify(Am * e * Am.T - (CSKIP + 1) ** 2 * e)


def _sym_basis(T: int):
    pairs = [(a, b) for a in range(T) for b in range(a, T)]
    mats = []
    for (a, b) in pairs:
        E = sp.zeros(T, T)
        E[a, b] = E[b, a] = 1
        mats.append(E)
    return pairs, mats


def congruence_determinant(T: int = 2, Am: sp.Matrix | None = None):
    """``(det L_A, det(A)^(T+1))`` for the map ``L_A: h -> A h A^T`` on symmetric ``T x T``
    matrices (coordinates: the upper triangle).  For ``T = 2`` with a generic symbolic ``A``."""
    if Am is None:
        Am = sp.Matrix(T, T, lambda i, j: sp.Symbol(f"A_{i}{j}"))
    pairs, mats = _sym_basis(T)
    cols = [[(Am * E * Am.T)[a, b] for (a, b) in pairs] for E in mats]
    Lmat = sp.Matrix(cols).T
    return sp.factor(Lmat.det()), sp.factor(Am.det() ** (T + 1))


def _gauge_coords(P: sp.Matrix, T: int):
    """``delta_i = P_{p_i} - P_TT`` for the pairs ``a <= b`` other than ``(T, T)`` (as numerics)."""
    pairs = [(a, b) for a in range(T) for b in range(a, T)][:-1]
    return [P[a, b] - P[T - 1, T - 1] for (a, b) in pairs]


def _rep(x, T: int) -> sp.Matrix:
    pairs = [(a, b) for a in range(T) for b in range(a, T)][:-1]
    h = sp.zeros(T, T)
    for v, (a, b) in zip(x, pairs):
        h[a, b] = h[b, a] = v
    return h


@functools.lru_cache(maxsize=None)
def visible_matrix_t2() -> sp.Matrix:
    """``M(p)`` of ``z = M delta_2`` for ``T = 2``, ``L = 2``, gauge coordinates
    ``delta = (h_11 - h_22, h_12 - h_22)``; attention rows ``(p1, 1 - p1)``, ``(1 - p2, p2)``.

    ``det M = (c + 1)(c + p1 + p2 - 1)^3`` (tested): the fold ``c + p1 + p2 = 1`` exists only for
    ``c < 1``; ``c + p1 + p2 - 1`` is the eigenvalue of ``A`` other than ``c + 1``.
    """
    Am = CSKIP * sp.eye(2) + sp.Matrix([[P1, 1 - P1], [1 - P2, P2]])
    x = sp.symbols("x0 x1")
    z = _gauge_coords(Am * _rep(x, 2) * Am.T, 2)
    return sp.Matrix(z).jacobian(x).applyfunc(sp.expand)


@functools.lru_cache(maxsize=None)
def fold_invariant_t2() -> tuple:
    """Row vectors ``a, b`` with ``a^T M(p) = (c + p1 + p2 - 1)^2 b^T`` for every ``p`` (T = 2).

    Solved as a polynomial identity in ``(p1, p2, c)`` (linear equations for the entries of
    ``a, b``, normalised by ``a_0 = 1``).

    >>> fold_invariant_t2()
    (Matrix([[1, -2]]), Matrix([[1, -2]]))
    """
    M = visible_matrix_t2()
    a1, b0, b1 = sp.symbols("a1 b0 b1")
    a, b = sp.Matrix([[1, a1]]), sp.Matrix([[b0, b1]])
    lam = CSKIP + P1 + P2 - 1
    ident = a * M - lam**2 * b
    eqs = []
    for e in ident:
        eqs += sp.Poly(sp.expand(e), P1, P2, CSKIP).coeffs()
    (sol,) = sp.solve(eqs, [a1, b0, b1], dict=True)
    return a.subs(sol), b.subs(sol)


def hidden_preimages_t2():
    """Hidden-layer attention ``p`` solving ``z = M(p) D`` for known ``z, D`` (T = 2, L = 2).

    With :func:`fold_invariant_t2`, ``lam^2 = a^T z / b^T D``, ``lam = c + p1 + p2 - 1``: two
    candidates ``lam = +-sqrt(.)``; for each, ``z = M(p) D`` is linear in ``p1`` on the line
    ``p1 + p2 = lam + 1 - c``.  Since ``p1 + p2 in (0, 2)``, ``lam in (c - 1, c + 1)``: for
    ``c >= 1`` only ``lam > 0`` is admissible (one preimage), for ``c < 1`` both signs can be (two
    preimages, derivation ``#two-preimages``).  Returns ``(lam^2, (p1, p2))``, ``p`` as functions of
    the symbol ``lam``.
    """
    a, b = fold_invariant_t2()
    z = sp.Matrix(sp.symbols("z0 z1"))
    D = sp.Matrix(sp.symbols("D0 D1"))
    lam2 = sp.simplify((a * z)[0] / (b * D)[0])
    lam = sp.Symbol("lam")
    M = visible_matrix_t2()
    eq = (M * D - z)[0].subs(P2, lam - CSKIP + 1 - P1)
    (p1,) = sp.solve(sp.expand(eq).subs(sp.Symbol("dummy"), 0), P1)
    return lam2, (sp.simplify(p1), sp.simplify(lam - CSKIP + 1 - p1))


# ------------------------------------------------------------------ counting
def constraint_rank(T: int = 2, seed: int = 0) -> dict:
    """Rank of the Jacobian of the output coordinates ``z`` with respect to ``(h^(1), h^(2))``.

    Exact rational arithmetic at a random point: with ``w_ab = exp(h1_ab)`` (``beta = 1``) the
    output is a rational function of ``(w, h2)`` and ``d/dh1_ab = w_ab d/dw_ab``, so rational
    ``w`` make the Jacobian rational.  Returns ``rank`` (= ``m - 1``,
    ``m = T(T+1)/2``), ``n_unknowns`` (``2 m``), ``kernel_has_e`` (both ``e``-directions
    invisible), ``curved`` (a second derivative of ``z`` in ``h^(1)`` is nonzero: the preimage is
    affine in ``h^(2)`` for fixed ``h^(1)`` but not jointly).
    """
    rng = random.Random(seed)
    pairs = [(a, b) for a in range(T) for b in range(a, T)]
    m = len(pairs)
    w = sp.symbols(f"w0:{m}", positive=True)      # w_ab = exp(beta h1_ab), beta = 1
    v = sp.symbols(f"v0:{m}")                     # h2 entries
    Wm, H2 = sp.zeros(T, T), sp.zeros(T, T)
    for s_, (a, b) in zip(w, pairs):
        Wm[a, b] = Wm[b, a] = s_
    for s_, (a, b) in zip(v, pairs):
        H2[a, b] = H2[b, a] = s_
    c = sp.Rational(rng.randint(0, 7), 4)
    sig = sp.Matrix(T, T, lambda a, b: Wm[a, b] / sum(Wm[a, cc] for cc in range(T)))
    z = sp.Matrix(_gauge_coords((c * sp.eye(T) + sig) * H2 * (c * sp.eye(T) + sig).T, T))
    # chain rule d/dh1_p = w_p d/dw_p: every entry is a rational function of (w, v)
    J = sp.Matrix.hstack(z.jacobian(w) * sp.diag(*w), z.jacobian(v))
    point = {s_: sp.Rational(rng.randint(1, 9), rng.randint(1, 9)) for s_ in w}
    point.update({s_: sp.Rational(rng.randint(-6, 6), 3) for s_ in v})
    Jn = J.subs(point).applyfunc(sp.cancel)          # exact rationals
    e = sp.Matrix([1] * m)
    kernel_e = all(sp.cancel(x) == 0 for x in list(Jn[:, :m] * e) + list(Jn[:, m:] * e))
    # second derivative in h1_0: (w d/dw)^2 z_0
    z0 = z[0]
    d1 = w[0] * sp.diff(z0, w[0])
    d2 = sp.simplify((w[0] * sp.diff(d1, w[0])).subs(point))
    return {"rank": int(Jn.rank()), "n_unknowns": 2 * m, "m": m, "kernel_has_e": bool(kernel_e),
            "curved": d2 != 0, "c": c}


@functools.lru_cache(maxsize=None)
def alpha_pr_expr():
    """Counting threshold of ``L = 2``: ``(slope(rho1) + slope(rho2)) / (T^2 + T - 2)``.

    ``n`` outputs reveal ``n (T(T+1)/2 - 1) = alpha d^2 K / 2`` numbers; the two priors have
    ``d^2 slope(rho_l) / 2`` degrees of freedom each (:func:`icl_companion.theory.aim.
    small_delta_slope`).  The decoupled SE reaches ``V = 0`` exactly there (derivation
    ``#perfect-recovery``): near ``V = 0`` the channel is the linearised observation of ``k``
    directions, split between the layers as ``kappa_1 + kappa_2 = k``.
    """
    K = softmax_directions()
    return sp.simplify((small_delta_slope(RHO1) + small_delta_slope(RHO2)) / K)


def _ref():
    return Reference("aim", "Eqs. 4-5 (multilayer construction); state evolution derived here",
                     derivation="docs/derivations/aim_multilayer.md#perfect-recovery")


register_symbolic(
    "aim.alpha_pr_multilayer",
    "Two-layer AIM perfect-recovery threshold (slope(rho1) + slope(rho2))/(T^2+T-2), both layers",
    [real("rho1", 0, lo_open=True, doc="r_1/d of the first (hidden) layer"),
     real("rho2", 0, lo_open=True, doc="r_2/d of the second (output) layer"),
     integer("T", 2, doc="sequence length")],
    alpha_pr_expr, lambda: (RHO1, RHO2, T_), _ref(), status="asymptotic",
    status_note="d -> inf; decoupled SE (derived here, not in the paper), counting of constraints",
    bounds={"value": (0.0, 0.5)})   # slope(rho) <= 1 per layer, T^2 + T - 2 >= 4

_ = itertools
