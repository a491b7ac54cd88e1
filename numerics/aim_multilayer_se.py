"""State evolution of the multi-layer AIM (decoupled prior, joint output channel), and its limits.

Equations (docs/derivations/aim_multilayer.md#state-evolution).  One pair ``(q_l, hat q_l)`` per
layer, ``V_l = Q0_l - q_l`` (``Q0_l = 1 + rho_l``), ``K = T^2 + T - 2 = 2 k``:

    hat q_l = 2 alpha E[ sum_{a<=b} c_ab (g_out^(l)_ab)^2 ] = 2 alpha kappa_l(V) / V_l,
    V_l = mmse_{rho_l}(1 / hat q_l),

``kappa_l = V_l E[...] in [0, k]`` the number of gauge directions of layer ``l`` the output
effectively reveals (``kappa_L = k`` exactly when the hidden layers are known: the single-layer
softmax SE).  The expectation is over the teacher law of the state evolution:

    delta(omega_l) = mu_l = sqrt(rho_l) g0 + sqrt(1 - V_l) eta_l,
    delta(h_l) = mu_l + sqrt(V_l) xi_l,
    z = M(delta(h_1..h_{L-1})) delta(h_L) + sqrt(Delta) zeta,

``g0, eta_l, xi_l, zeta`` independent ``N(0, Sigma)`` (``g0``: the part ``sqrt(rho_l) G0`` of every
index that the prior mean ``sqrt(rho_l) I`` already explains and that all layers share).  The
``L x L`` Fisher matrix of the joint channel has off-diagonal entries that the decoupled prior
equations neglect; they are returned (``cross``) as a diagnostic (derivation ``#cross-terms``).

Numerics.  Outer expectation: randomised quasi-Monte Carlo, ``2^log2_points`` scrambled Sobol points
in ``(2 L + 1) k`` (``+ k`` with noise) normal coordinates per scrambling, ``scramblings``
independent scramblings, fixed seed (a deterministic map of ``V``: common random numbers across
iterations).  Inner integral: adaptive Gauss-Hermite
(:class:`icl_companion.numerics.aim_multilayer_channel.MultilayerChannel`).  Fixed point: with
``kappa`` frozen, each layer's equation ``mmse_rho(Delta)/Delta = 2 alpha kappa_l`` is the scalar
softmax equation (bracketed root in ``log Delta``); the outer fixed point ``V = G(V)`` is solved by
Anderson mixing (damped iteration as a fallback).  Standard errors: the spread of ``G`` over the
scramblings at the solution, propagated through ``(I - dG/dV)^{-1}`` (finite differences).

References
----------
.. [1] L. Boncoraglio, E. Troiani, V. Erba, L. Zdeborová, arXiv:2506.01582 (model: Eqs. 4-5;
   single-layer state evolution: not numbered in the sources).
.. [2] Derivation in this repository: docs/derivations/aim_multilayer.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri
from scipy.stats import qmc

from icl_companion.numerics.aim_free_prob import mmse_over_delta
from icl_companion.numerics.aim_multilayer import (check_beta, check_layers, check_noise,
                                                   check_skip, gauge, outputs_coords)
from icl_companion.numerics.aim_multilayer_channel import (DEFAULT_RULE, MultilayerChannel,
                                                           QuadratureRule, tensor_rule)
from icl_companion.numerics.aim_se import alpha_pr
from icl_companion.numerics.fixed_point import fixed_point
from icl_companion.numerics.record import SolverRecord, make_record
from icl_companion.numerics.roots import find_root

__all__ = ["MultilayerSEResult", "RQMC", "V_MIN", "TeacherPoints", "teacher_points",
           "information", "frozen_solve", "se_multilayer", "alpha_pr_multilayer",
           "linearized_split", "threshold_ratio"]

RQMC = {"log2_points": 10, "scramblings": 4, "seed": 20250614}
V_MIN = 1e-9          # both V_l below this: perfect recovery (reported as 0)
V_LINEAR = 1e-4       # above alpha_PR, iterates this small are in the linear regime of V -> 0
PR_TAIL = 6           # ... for this many map evaluations in a row: perfect recovery
DELTA_MIN = 1e-12     # scalar equation: noise below this counts as perfect recovery


class MultilayerSEResult(SolverRecord):
    """``mmse`` (L,), ``mmse_se`` (L,), ``q``, ``qhat``, ``kappa``, ``kappa_se``, ``fisher`` (L, L),
    ``cross`` (normalised off-diagonal Fisher), ``nishimori_gap`` (L,) and its ``_se``, ``ess_min``,
    ``failed_points``, plus ``success, status, message, nit, residual, history``."""


# ------------------------------------------------------------------------------------ teacher law
@dataclass
class TeacherPoints:
    """Standard normals of the outer expectation, one block per scrambling: ``g0`` (R, N, k),
    ``eta``, ``xi`` (L, R, N, k), ``zeta`` (R, N, k) or None (all ``N(0, Sigma)`` after
    multiplying by the Cholesky factor of ``Sigma``)."""

    g0: np.ndarray
    eta: np.ndarray
    xi: np.ndarray
    zeta: np.ndarray | None

    @property
    def R(self) -> int:
        return self.g0.shape[0]

    @property
    def N(self) -> int:
        return self.g0.shape[1]


def teacher_points(T: int, L: int, noisy: bool, log2_points: int = RQMC["log2_points"],
                   scramblings: int = RQMC["scramblings"], seed: int = RQMC["seed"]
                   ) -> TeacherPoints:
    """Scrambled Sobol points mapped to ``N(0, Sigma)`` vectors (Owen scrambling,
    :class:`scipy.stats.qmc.Sobol`; independent scramblings from one seed)."""
    g = gauge(T)
    k = g.k
    D = (2 * L + 1 + int(noisy)) * k
    blocks = []
    tiny = np.finfo(float).tiny
    for child in np.random.SeedSequence(seed).spawn(int(scramblings)):
        u = qmc.Sobol(D, scramble=True, seed=np.random.default_rng(child)).random_base2(
            int(log2_points))
        zn = ndtri(np.clip(u, tiny, 1.0 - 2**-53)).reshape(u.shape[0], -1, k) @ g.chol.T
        blocks.append(zn)
    Z = np.stack(blocks)                                     # (R, N, D/k, k)
    g0 = Z[:, :, 0]
    eta = np.moveaxis(Z[:, :, 1:1 + L], 2, 0)
    xi = np.moveaxis(Z[:, :, 1 + L:1 + 2 * L], 2, 0)
    zeta = Z[:, :, 1 + 2 * L] if noisy else None
    return TeacherPoints(g0, eta, xi, zeta)


def _outer(pts: TeacherPoints, rho, V, channel: MultilayerChannel):
    """``(z, mu)`` of all points, flattened over scramblings: ``(R N, k)``, ``(R N, L, k)``."""
    L = channel.L
    mu = [math.sqrt(rho[lay]) * pts.g0 + math.sqrt(max(1.0 - V[lay], 0.0)) * pts.eta[lay]
          for lay in range(L)]
    dh = [mu[lay] + math.sqrt(V[lay]) * pts.xi[lay] for lay in range(L)]
    z = outputs_coords(dh, channel.T, channel.c, channel.beta)
    if pts.zeta is not None:
        z = z + math.sqrt(channel.delta) * pts.zeta
    k = channel.k
    return z.reshape(-1, k), np.stack(mu, axis=2).reshape(-1, L, k)


def information(channel: MultilayerChannel, pts: TeacherPoints, rho, V) -> dict:
    """SE information at ``V``: the joint channel's Fisher matrix averaged over the teacher law.

    Returns ``fisher`` (L, L) (posterior-covariance estimator), ``fisher_outer`` (L, L) (outer-
    product estimator, same mean by the Nishimori identity), ``kappa`` (L,) ``= V_l fisher_ll``,
    ``per_scrambling`` dict of the same per scrambling (R, ...), ``ess_min``, ``failed``.
    """
    V = np.asarray(V, dtype=float)
    z, mu = _outer(pts, rho, V, channel)
    post = channel.posterior(z, mu, V)
    F = channel.fisher(post, mu, V)
    R = pts.R
    Fp = F["posterior"].reshape(R, -1, channel.L, channel.L).mean(axis=1)
    Fo = F["outer"].reshape(R, -1, channel.L, channel.L).mean(axis=1)
    kap = Fp[:, np.arange(channel.L), np.arange(channel.L)] * V
    return {"fisher": Fp.mean(0), "fisher_outer": Fo.mean(0), "kappa": kap.mean(0),
            "per_scrambling": {"fisher": Fp, "fisher_outer": Fo, "kappa": kap},
            "ess_min": float(post.ess.min()), "failed": int(post.failed.sum())}


# ------------------------------------------------------------------------------------ fixed point
def _slope(rho):
    return 2 * rho - rho * rho if rho < 1 else 1.0


def frozen_solve(alpha: float, rho, kappa, xtol: float = 1e-13) -> np.ndarray:
    """``V_l = 2 alpha kappa_l Delta`` with ``mmse_{rho_l}(Delta)/Delta = 2 alpha kappa_l``.

    With ``kappa`` held fixed this is the single-layer softmax equation with ``K = 2 kappa_l``
    (:func:`icl_companion.numerics.aim_se.se_softmax`): 1 for ``alpha kappa_l = 0``, 0 when
    ``2 alpha kappa_l >= slope(rho_l)`` (perfect recovery).
    """
    out = np.empty(len(rho))
    for lay, (r, kap) in enumerate(zip(rho, kappa)):
        t = 2.0 * alpha * float(kap)
        if not t > 0:
            out[lay] = 1.0
            continue
        if t >= _slope(r):
            out[lay] = 0.0
            continue
        lo, hi = math.log(DELTA_MIN), math.log(2.0 / t)
        f = lambda u: float(mmse_over_delta(math.exp(u), r)) - t  # noqa: E731
        if f(lo) <= 0:
            out[lay] = 0.0
            continue
        root = find_root(f, lo, hi, xtol=xtol).root
        out[lay] = t * math.exp(root)
    return out


def _check_known(known, L, delta):
    known = tuple(sorted(set(int(x) for x in known)))
    for x in known:
        if not 1 <= x <= L:
            raise ValueError(f"known = {known} is outside the allowed domain: layer numbers in "
                             f"1..{L}")
    if L in known and delta == 0:
        raise ValueError(f"known = {known}: the last layer cannot be known with Delta = 0 "
                         f"(the output would then determine the hidden layers exactly)")
    if len(known) == L:
        raise ValueError("known: at least one layer must be unknown")
    return known


def se_multilayer(alpha: float, rho, T: int, c: float = 1.0, beta: float = 1.0,
                  delta: float = 0.0, L: int = 2, known=(), log2_points: int = RQMC["log2_points"],
                  scramblings: int = RQMC["scramblings"], seed: int = RQMC["seed"],
                  rule: QuadratureRule = DEFAULT_RULE, tol: float = 1e-7, maxiter: int = 60,
                  warm=None, standard_errors: bool = True) -> MultilayerSEResult:
    """Solve the multi-layer SE (module docstring) at one ``alpha``.

    Parameters
    ----------
    alpha : float >= 0
        ``n / d^2``.
    rho : float or sequence of ``L`` floats > 0
        ``r_l / d`` per layer.
    T : int >= 2
    c : float >= 0
        Skip strength.
    beta : float > 0
    delta : float >= 0
        Output-noise variance (derivation ``#output-noise``).
    L : int >= 1
    known : sequence of layer numbers (1-based)
        Layers whose ``S_l`` is given to the statistician (``V_l = 0``).
    log2_points, scramblings, seed : RQMC of the outer expectation.
    rule : QuadratureRule
        Inner adaptive Gauss-Hermite.
    tol, maxiter : fixed-point tolerance (on ``V``, max-norm) and cap.
    warm : sequence of ``L`` floats, optional
        Starting ``V`` (default 1: the uninformed start ``q_l = rho_l``).
    standard_errors : bool
        Propagate the RQMC spread to ``mmse_se`` (costs ``L`` extra map evaluations).

    Returns
    -------
    MultilayerSEResult
    """
    L, rho = check_layers(L, rho)
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha = {alpha!r} is outside the allowed domain: a real number in "
                         f"[0, inf)")
    c, beta, delta = check_skip(c), check_beta(beta), check_noise(delta)
    if isinstance(T, bool) or int(T) != T or T < 2:
        raise ValueError(f"T = {T!r} is outside the allowed domain: an integer >= 2")
    T = int(T)
    known = _check_known(known, L, delta)
    unknown = np.array([lay + 1 not in known for lay in range(L)])
    channel = MultilayerChannel(T, L, c, beta, delta, rule)
    common = dict(alpha=alpha, rho=rho, T=T, c=c, beta=beta, delta=delta, L=L, known=known,
                  rqmc={"log2_points": log2_points, "scramblings": scramblings, "seed": seed},
                  rule=rule)
    if alpha == 0:
        V = np.where(unknown, 1.0, 0.0)
        return make_record(MultilayerSEResult, success=True, nit=0, residual=0.0,
                           message="alpha = 0: prior mean", mmse=V, mmse_se=np.zeros(L),
                           q=np.array(rho) + 1 - V, qhat=np.zeros(L), kappa=np.zeros(L),
                           kappa_se=np.zeros(L), fisher=np.zeros((L, L)), cross=0.0,
                           nishimori_gap=np.zeros(L), nishimori_gap_se=np.zeros(L),
                           ess_min=math.nan, failed_points=0, history={}, **common)
    pts = teacher_points(T, L, delta > 0, log2_points, scramblings, seed)
    hist = {"V": [], "kappa": []}
    cache = {}

    def info(Vu):
        key = tuple(np.round(Vu, 15))
        if key not in cache:
            Vf = np.zeros(L)
            Vf[unknown] = Vu
            cache[key] = information(channel, pts, rho, Vf)
        return cache[key]

    a_pr = sum(alpha_pr(rl, T) for rl, u in zip(rho, unknown) if u)   # of the unknown layers
    linear = {"run": 0}   # map evaluations in a row with every V below V_LINEAR, above alpha_PR

    def G(Vu):
        Vu = np.clip(np.asarray(Vu, dtype=float), 1e-14, 1.0)
        if np.all(Vu < V_MIN):
            return np.zeros_like(Vu)
        if delta == 0 and alpha > a_pr:
            # Above the counting threshold the noiseless SE's fixed point is V = 0, approached
            # along the ratio V_1 / V_2 of threshold_ratio; started elsewhere the iteration in
            # log V can cycle while every V shrinks (the layer that gets the information
            # alternates, derivation #perfect-recovery), which no tolerance on log V accepts:
            # PR_TAIL evaluations in a row in the linear regime count as perfect recovery
            linear["run"] = linear["run"] + 1 if np.all(Vu < V_LINEAR) else 0
            if linear["run"] >= PR_TAIL:
                return np.zeros_like(Vu)
        inf = info(Vu)
        kap = inf["kappa"][unknown]
        out = frozen_solve(alpha, [r for r, u in zip(rho, unknown) if u], kap)
        hist["V"].append(Vu.copy())
        hist["kappa"].append(kap.copy())
        return out

    x0 = np.ones(unknown.sum()) if warm is None else np.clip(
        np.asarray(warm, dtype=float)[unknown], 1e-6, 1.0)
    r = _solve(G, x0, tol, maxiter)
    Vu = np.clip(np.asarray(r.x, dtype=float), 0.0, 1.0)
    perfect = bool(np.all(Vu < V_MIN))
    message = "perfect recovery (every V below %g)" % V_MIN if perfect else r.message
    if perfect and linear["run"] >= PR_TAIL:
        message = (f"perfect recovery: alpha > alpha_PR = {a_pr:.4g} and {PR_TAIL} iterates in a "
                   f"row with every V below {V_LINEAR:g} (the linear regime of V -> 0)")
    if perfect:
        Vu = np.zeros_like(Vu)
    V = np.zeros(L)
    V[unknown] = Vu
    out = dict(mmse=V, mmse_se=np.zeros(L), kappa=np.zeros(L), kappa_se=np.zeros(L),
               fisher=np.zeros((L, L)), cross=math.nan, nishimori_gap=np.zeros(L),
               nishimori_gap_se=np.zeros(L), ess_min=math.nan, failed_points=0)
    if not perfect:
        inf = info(np.clip(Vu, 1e-14, 1.0))
        ps = inf["per_scrambling"]
        R = pts.R
        F = inf["fisher"]
        out["fisher"] = F
        out["kappa"] = np.where(unknown, inf["kappa"], 0.0)
        out["kappa_se"] = ps["kappa"].std(axis=0, ddof=1) / math.sqrt(R) if R > 1 else \
            np.full(L, math.nan)
        d = np.sqrt(np.maximum(np.diag(F), 1e-300))
        if L >= 2 and np.sum(unknown) >= 2:
            out["cross"] = float(F[0, 1] / (d[0] * d[1]))
        gap = ps["fisher_outer"] - ps["fisher"]
        gdiag = gap[:, np.arange(L), np.arange(L)] * V
        out["nishimori_gap"] = gdiag.mean(0)
        out["nishimori_gap_se"] = gdiag.std(0, ddof=1) / math.sqrt(R) if R > 1 else \
            np.full(L, math.nan)
        out["ess_min"] = inf["ess_min"]
        out["failed_points"] = inf["failed"]
        if standard_errors and R > 1:
            out["mmse_se"] = _propagated_se(alpha, rho, unknown, ps["kappa"], Vu, G, inf)
    qhat = np.where(V > 0, 2 * alpha * np.asarray(out["kappa"]) / np.where(V > 0, V, 1.0),
                    np.inf)
    qhat[~unknown] = np.inf
    return make_record(MultilayerSEResult, success=bool(r.success), status=r.status,
                       message=message, nit=r.nit, residual=r.residual,
                       q=np.array(rho) + 1 - V, qhat=qhat,
                       history={"V": np.array(hist["V"]), "kappa": np.array(hist["kappa"]),
                                "residual": r.history["residual"]},
                       **out, **common)


def _solve(G, x0, tol, maxiter):
    """Fixed point ``V = G(V)`` in ``u = log V`` (errors spanning decades near the threshold):
    Anderson mixing, then Powell's hybrid method on ``log G(e^u) - u``, then a damped iteration.
    Returns a record with ``x`` = ``V``."""
    from scipy.optimize import root

    floor = 1e-14

    def Gu(u):
        return np.log(np.maximum(np.asarray(G(np.exp(u)), dtype=float), floor))

    def ok(r):
        return bool(r.success) and np.all(np.isfinite(np.asarray(r.x)))

    u0 = np.log(x0)
    # Anderson's line search can spend several map evaluations per iteration where it stalls
    # (near alpha_PR the map oscillates): cap the evaluations, the fallbacks take over sooner
    r = fixed_point(Gu, u0, damping=0.7, tol=tol, maxiter=min(maxiter, 40), method="anderson",
                    maxfev=min(maxiter, 40))
    if not ok(r):
        sol = root(lambda u: Gu(u) - u, u0, method="hybr", options={"xtol": tol,
                                                                  "maxfev": maxiter})
        res = float(np.max(np.abs(Gu(sol.x) - sol.x))) if np.all(np.isfinite(sol.x)) else np.inf
        if np.isfinite(res) and res <= 10 * tol:
            r = make_record(SolverRecord, x=sol.x, success=True, nit=int(sol.nfev), residual=res,
                            message=f"hybr: {sol.message}", history={"residual": np.array([res])})
        else:
            start = np.asarray(sol.x if np.all(np.isfinite(sol.x)) else u0, dtype=float)
            r = fixed_point(Gu, np.minimum(start, 0.0), damping=0.3, tol=tol, maxiter=maxiter,
                            method="damped")
    x = np.exp(np.asarray(r.x, dtype=float))
    x = np.where(x <= 1.01 * floor, 0.0, x)
    return make_record(SolverRecord, x=x, success=ok(r), status=r.status, nit=r.nit,
                       residual=r.residual, message=r.message, history=r.history)


def _propagated_se(alpha, rho, unknown, kap_r, Vu, G, inf):
    """``s.e.(V*) = sqrt(diag((I - J) ^-1 Cov_G (I - J)^-T))``, ``Cov_G`` the covariance of the
    frozen-kappa solution over scramblings / R, ``J = dG/dV`` by forward differences."""
    rho_u = [r for r, u in zip(rho, unknown) if u]
    Gr = np.array([frozen_solve(alpha, rho_u, kr[unknown]) for kr in kap_r])
    R = Gr.shape[0]
    cov = np.atleast_2d(np.cov(Gr, rowvar=False)) / R
    G0 = np.asarray(G(Vu))
    n = Vu.size
    J = np.zeros((n, n))
    for j in range(n):
        h = 1e-3 * max(Vu[j], 1e-6)
        e = Vu.copy()
        e[j] += h
        J[:, j] = (np.asarray(G(e)) - G0) / h
    try:
        A = np.linalg.inv(np.eye(n) - J)
    except np.linalg.LinAlgError:
        return np.full(len(unknown), math.nan)
    se_u = np.sqrt(np.maximum(np.diag(A @ cov @ A.T), 0.0))
    out = np.zeros(len(unknown))
    out[unknown] = se_u
    return out


# ------------------------------------------------------------------------------------ thresholds
def alpha_pr_multilayer(rho, T: int) -> float:
    """Counting threshold ``sum_l slope(rho_l) / (T^2 + T - 2)`` (derivation ``#perfect-recovery``;
    the SymPy form is :func:`icl_companion.theory.aim_multilayer.alpha_pr_expr`)."""
    _, rho = check_layers(len(np.atleast_1d(rho)), rho)
    return float(sum(alpha_pr(r, T) for r in rho))


def linearized_split(kappa_ratio, rho, T: int, c: float = 1.0, beta: float = 1.0,
                     n: int = 8) -> dict:
    """``V -> 0`` limit of the SE information of ``L = 2`` at ``V_1 / V_2 = kappa_ratio``.

    As ``V -> 0`` the channel is the linear observation ``z ~ J1 d1 + J2 d2`` of the residuals
    (``J1 = dz/d delta_1``, ``J2 = M(delta_1)`` at the teacher's indices) with prior covariance
    ``diag(V1 Sigma, V2 Sigma)``: ``kappa_l = tr(Sigma^{-1} [P]_ll) / V_l`` with
    ``P = Sigma_V J^T (J Sigma_V J^T)^{-1} J Sigma_V``, so that ``kappa_1 + kappa_2 = k`` (the rank
    of ``J``).  The expectation over the teacher's indices ``delta(h_l) = sqrt(rho_l) g0 +
    eta_l`` (all ``N(0, Sigma)``) is a ``3 k``-dimensional tensor Gauss-Hermite sum (``n`` nodes per
    axis; ``T = 2`` only, ``3 k = 6``).  Returns ``kappa`` (2,), ``cross`` (normalised off-diagonal
    Fisher entry).
    """
    if int(T) != 2:
        raise ValueError(f"T = {T!r} is outside the allowed domain: linearized_split computes "
                         f"the tensor rule for T = 2 only")
    _, rho = check_layers(2, rho)
    c, beta = check_skip(c), check_beta(beta)
    g = gauge(2)
    k = g.k
    u, lw = tensor_rule(n, 3 * k)
    w = np.exp(lw)
    Z = u.reshape(-1, 3, k) @ g.chol.T
    d1 = math.sqrt(rho[0]) * Z[:, 0] + Z[:, 1]
    d2 = math.sqrt(rho[1]) * Z[:, 0] + Z[:, 2]
    J2 = outputs_jac_last(d1, T, c, beta)
    eps = 1e-6
    J1 = np.stack([(outputs_coords([d1 + eps * np.eye(k)[j], d2], T, c, beta)
                    - outputs_coords([d1 - eps * np.eye(k)[j], d2], T, c, beta)) / (2 * eps)
                   for j in range(k)], axis=-1)
    kr = float(kappa_ratio)
    Sv = np.zeros((2 * k, 2 * k))
    Sv[:k, :k] = kr * g.Sigma
    Sv[k:, k:] = g.Sigma
    J = np.concatenate([J1, J2], axis=-1)                       # (G, k, 2k)
    JS = J @ Sv
    JSJ = JS @ np.swapaxes(J, -1, -2)
    # c < 1: J vanishes on the fold c + s = 0 (measure zero, but a node can sit on it)
    ridge = 1e-12 * np.trace(JSJ, axis1=-2, axis2=-1) + 1e-300
    Mi = np.linalg.inv(JSJ + ridge[:, None, None] * np.eye(k))
    P = np.swapaxes(JS, -1, -2) @ Mi @ JS                       # (G, 2k, 2k)
    Si = g.Sigma_inv
    Vs = np.array([kr, 1.0])
    ident = np.zeros((2, 2))
    for a in range(2):
        for b in range(2):
            blk = P[:, a * k:(a + 1) * k, b * k:(b + 1) * k]
            ident[a, b] = float(np.sum(w * np.einsum("ij,gji->g", Si, blk))) / (Vs[a] * Vs[b])
    kap = np.diag(ident) * Vs
    return {"kappa": kap, "cross": float(ident[0, 1] / math.sqrt(ident[0, 0] * ident[1, 1])),
            "fisher": ident}


def outputs_jac_last(d1, T, c, beta):
    """``dz / d delta_L = M(delta_1)`` (the output is linear in the last layer)."""
    from icl_companion.numerics.aim_multilayer import visible_matrix

    return visible_matrix([d1], T, c, beta)


def threshold_ratio(rho, T: int = 2, c: float = 1.0, beta: float = 1.0, n: int = 8) -> dict:
    """Error ratio ``V_1 / V_2`` at which both layers reach perfect recovery together.

    Near ``V = 0`` the SE reads ``V_l' = slope(rho_l) V_l / (2 alpha kappa_l(V_1/V_2))``; the ray
    with ``kappa_1 / kappa_2 = slope(rho_1) / slope(rho_2)`` is attracting and contracts iff
    ``alpha > alpha_PR = (slope_1 + slope_2) / K`` (derivation ``#perfect-recovery``).  Solved by
    Brent's method in ``log(V_1/V_2)`` on :func:`linearized_split`.  Returns ``ratio``,
    ``kappa`` (at the ratio), ``cross`` and ``alpha_pr``.
    """
    _, rho = check_layers(2, rho)
    target = _slope(rho[0]) / _slope(rho[1])

    def f(t):
        kap = linearized_split(math.exp(t), rho, T, c, beta, n)["kappa"]
        return math.log(kap[0] / kap[1]) - math.log(target)

    r = find_root(f, -12.0, 12.0, xtol=1e-10, expand=True)
    ls = linearized_split(math.exp(r.root), rho, T, c, beta, n)
    return {"ratio": math.exp(r.root), "kappa": ls["kappa"], "cross": ls["cross"],
            "alpha_pr": alpha_pr_multilayer(rho, T), "success": bool(r.success)}


# ------------------------------------------------------------------------------------ catalogue
def _register():
    from icl_companion.numerics.record import diagnostics
    from icl_companion.theory.registry import (Bound, Reference, Result, choice, integer, real,
                                               register)

    def _mmse(alpha, rho1, rho2, T, c, beta, Delta, known, L=2, warm=None):
        r = se_multilayer(alpha, (rho1, rho2), T, c, beta, Delta, L=L,
                          known=(1,) if known == "layer1" else (), warm=warm)
        V = [float(v) for v in r.mmse]
        # cross is defined only where both layers have finite information (not at perfect
        # recovery, nor with a known layer): 0 there, the decoupled equations being exact
        cross = float(r.cross) if math.isfinite(r.cross) else 0.0
        return {"mmse1": V[0], "mmse2": V[1], "mmse1_se": float(r.mmse_se[0]),
                "mmse2_se": float(r.mmse_se[1]), "kappa1": float(r.kappa[0]),
                "kappa2": float(r.kappa[1]), "cross": cross,
                "alpha_pr": alpha_pr_multilayer((rho1, rho2), T), **diagnostics(r),
                "_warm": [max(v, 1e-6) for v in V]}

    def _check(inp):
        if inp["L"] != 2:
            raise ValueError(f"L = {inp['L']} does not match the per-layer inputs: two rank ratios "
                             f"(rho1, rho2) are given, so L = 2 (numerics.aim_multilayer_se."
                             f"se_multilayer solves any L >= 1 from a sequence rho)")
        if inp["Delta"] == 0 and inp["c"] < 1 and inp["known"] == "none":
            raise ValueError(f"c = {inp['c']} with Delta = 0 is outside the allowed domain: for "
                             f"c < 1 the noiseless output folds (two preimages, a singular "
                             f"posterior ridge the quadrature does not resolve); give Delta > 0 "
                             f"(e.g. Delta=0.05) or c >= 1")
        if inp["T"] > 3:
            raise ValueError(f"T = {inp['T']} is outside the allowed domain: T in {{2, 3}} (the "
                             f"inner quadrature has T(T+1)/2 - 1 dimensions)")

    unit = Bound(0.0, 1.0)
    register(Result(
        "aim.mmse_multilayer",
        "Two-layer AIM: per-layer Bayes error (1/d)||S_hat_l - S_l||^2 from the decoupled state "
        "evolution with the joint output channel",
        (real("alpha", 0, doc="n/d^2"),
         real("rho1", 0, lo_open=True, doc="r_1/d, first (hidden) layer"),
         real("rho2", 0, lo_open=True, doc="r_2/d, second (output) layer"),
         integer("T", 2, doc="sequence length (2 or 3)"),
         real("c", 0, default=1.0, doc="skip strength of the hidden layer"),
         real("beta", 0, lo_open=True, default=1.0, doc="inverse temperature of the softmax"),
         real("Delta", 0, default=0.0, doc="variance of a Gaussian output noise (0: noiseless)"),
         choice("known", ("none", "layer1"), default="none",
                doc="layer1: S_1 given (the single-layer SE of layer 2 when Delta = 0)"),
         integer("L", 1, default=2, doc="number of layers; must match the per-layer inputs "
                                        "(rho1, rho2): 2")),
        _mmse,
        Reference("aim", "Eqs. 4-5 (multilayer construction); its state evolution is derived "
                  "here", derivation="docs/derivations/aim_multilayer.md#state-evolution"),
        status="numerical",
        status_note="outer expectation by randomised QMC (2^10 scrambled Sobol points x 4, fixed "
                    "seed; standard errors mmse*_se), inner by adaptive Gauss-Hermite; Anderson "
                    "fixed point, tol 1e-7; prior equations decoupled (cross Fisher term 'cross' "
                    "neglected, reported)",
        outputs=("mmse1", "mmse2", "mmse1_se", "mmse2_se", "kappa1", "kappa2", "cross",
                 "alpha_pr"),
        definition="V_l = mmse_{rho_l}(1/hat q_l), hat q_l = 2 alpha E[sum_{a<=b} c_ab "
                   "(g_out^(l)_ab)^2] = 2 alpha kappa_l(V_1, V_2)/V_l;\n"
                   "g_out^(l) = d log Z_out/d omega_l, Z_out = int N(h1; omega_1, V_1 c) "
                   "N(h2; omega_2, V_2 c) delta(y - softmax(A(h1) h2 A(h1)^T)) dh1 dh2,\n"
                   "A(h1) = c I + softmax_beta(h1); omega_l = sqrt(rho_l) G0 + sqrt(1 - V_l) eta_l",
        check=_check, warm_start=True,
        bounds={"mmse1": unit, "mmse2": unit, "kappa1": Bound(0.0, 10.0),
                "kappa2": Bound(0.0, 10.0), "cross": Bound(-1.0, 1.0)}))


_register()
