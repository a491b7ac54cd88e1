"""LSA and deep linearized cross-attention (CA) for the reconstructed multi-modal ICL model.

Reconstructed architecture (``docs/derivations/xattn.md#cross-attention-recursion``; not confirmed
against the paper body).  A scalar prediction stream ``p`` lives on the ``L + 1`` tokens; the
covariates ``x_i`` are *re-injected* unchanged as keys and queries at every layer, the values are
``y`` and the stream, and every layer has a skip connection::

    p_a <- p_a + (1/L) sum_i (x_a^T x_i) (alpha_t y_i + beta_t p_i),     p^(0) = 0,

read out at the query token.  Since ``p_a = x_a^T w_t`` this is ``w_{t+1} = (I + beta_t Sigma_hat)
w_t + alpha_t s_hat`` (:func:`ca_forward`).  One-parameter layers tie ``beta_t = -alpha_t``
(Richardson / GD on the in-context least squares); parameters are shared or per layer
(:class:`CAParam`).

The ablation "CA without re-injection" is the plain multi-layer LSA with isotropic value and key
maps (``W^PV = -alpha_t I``, ``W^KQ = I_d (+) 0``): the covariate part of every token is updated by
the same attention, ``x_a <- x_a - alpha_t (1/L) sum_i (x_a^T x_i) x_i``, so keys and queries drift.
At ``L = inf`` its error ratio per eigen-direction obeys ``e <- e - alpha lambda e^3`` (the drifting
kernel shrinks with the residual) instead of CA's ``e <- (1 - alpha lambda) e``.

Losses are risks with the query expectation taken exactly given the task:
``E[(y_q - x_q^T v)^2 | task] = R_j + (v - w_j)^T Sigma_j (v - w_j)``; the functions return the
*excess* ``(v - w)^T Sigma (v - w)`` averaged with the task weights, and its gradient by a
hand-written backward pass (checked against finite differences and torch autograd in the tests).

Training (:func:`train_gd`) is gradient descent on ``log(excess)``, a time change of the gradient
flow on the risk (same trajectory in parameter space, ``dt = dtau / excess``), with Armijo
backtracking; it returns a :class:`TrainResult` with ``success``, ``nit``, ``residual``
(the gradient norm of the log-excess) and ``history``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icl_companion.numerics.record import SolverRecord, make_record

__all__ = ["CAParam", "ca_eigen_excess", "noreinject_eigen_excess", "ca_forward", "ca_matrix_excess",
           "lsa_excess", "lsa_optimal_G", "token_forward", "divergence_report", "TrainResult",
           "train_gd", "train_ca_population", "train_ca_prompts", "ca_two_param_optimum", "train_noreinject_population", "train_lsa"]


# ------------------------------------------------------------------------------ parametrisation
@dataclass(frozen=True)
class CAParam:
    """Map between a flat parameter vector and per-layer ``(alpha_t, beta_t)``.

    ``two_param=False`` ties ``beta_t = -alpha_t``; ``shared=True`` uses one ``(alpha, beta)`` for all
    ``T`` layers.  ``theta`` is ``[alpha...]`` or ``[alpha..., beta...]``.
    """

    T: int
    two_param: bool = False
    shared: bool = True

    def __post_init__(self):
        if self.T < 1:
            raise ValueError(f"T = {self.T} is outside the allowed domain: an integer >= 1")

    @property
    def n_alpha(self) -> int:
        return 1 if self.shared else self.T

    @property
    def size(self) -> int:
        return self.n_alpha * (2 if self.two_param else 1)

    def unpack(self, theta) -> tuple[np.ndarray, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.size,):
            raise ValueError(f"theta has shape {theta.shape}, expected ({self.size},)")
        a = np.broadcast_to(theta[:self.n_alpha], (self.T,)).copy()
        b = (np.broadcast_to(theta[self.n_alpha:], (self.T,)).copy() if self.two_param else -a)
        return a, b

    def pack_grad(self, ga: np.ndarray, gb: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """Gradient in ``theta`` from per-layer gradients in alpha, beta, and the tied direction."""
        if not self.two_param:
            return np.array([gt.sum()]) if self.shared else gt
        if self.shared:
            return np.array([ga.sum(), gb.sum()])
        return np.concatenate([ga, gb])

    def init(self, alpha0: float, beta0: float | None = None) -> np.ndarray:
        a = np.full(self.n_alpha, float(alpha0))
        if not self.two_param:
            return a
        return np.concatenate([a, np.full(self.n_alpha, -alpha0 if beta0 is None else beta0)])


# -------------------------------------------------------------------------- L = inf, eigen form
def ca_eigen_excess(alphas, betas, lam, c, weight, grad: bool = True):
    """Population (``L = inf``) excess risk of depth-T CA and its gradient in ``(alpha_t, beta_t)``.

    Per eigen-direction ``q_{t+1} = (1 + beta_t lambda) q_t + alpha_t lambda`` (``q = w_t/w``,
    :func:`icl_companion.theory.xattn.ca_closed_form_expr`), excess ``sum_j weight_j sum_i c_ji (1 - q_T)^2``.
    The backward pass is hand-written (reverse-mode through the recursion).

    Parameters
    ----------
    alphas, betas : (T,) arrays
    lam, c : (n, d) arrays
        Eigenvalues of ``Sigma_j`` and weights ``(u^T s_j)^2/lambda`` (:meth:`Tasks.eigen`).
    weight : (n,) array
        Task weights (sum to 1).

    Returns
    -------
    excess : float
    (g_alpha, g_beta, g_tied) : tuple of (T,) arrays, when ``grad``
        ``g_tied`` is ``d/d alpha_t`` of ``f(alpha, beta = -alpha)``, computed directly (the
        difference ``g_alpha - g_beta`` would cancel catastrophically at large depth).
    """
    alphas, betas = np.asarray(alphas, float), np.asarray(betas, float)
    T = alphas.size
    cw = c * weight[:, None]
    # Propagate the error ratio e = 1 - q directly: e_{t+1} = (1 + beta lambda) e_t - (alpha + beta)
    # lambda.  Forming 1 - q_T would cancel catastrophically once e_T ~ 1e-8 (deep networks).
    e = np.ones((T + 1,) + lam.shape)
    for t in range(T):
        e[t + 1] = (1 + betas[t] * lam) * e[t] - (alphas[t] + betas[t]) * lam
    f = float(np.sum(cw * e[T] * e[T]))
    if not grad:
        return f
    g = 2 * cw * e[T]  # d f / d e_T
    ga, gb, gt = np.empty(T), np.empty(T), np.empty(T)
    for t in range(T - 1, -1, -1):
        ga[t] = -np.sum(g * lam)                 # d e_{t+1}/d alpha_t = -lambda
        gb[t] = -np.sum(g * lam * (1 - e[t]))    # d e_{t+1}/d beta_t = lambda e_t - lambda
        gt[t] = -np.sum(g * lam * e[t])          # tied beta_t = -alpha_t, no cancellation
        g = (1 + betas[t] * lam) * g
    return f, (ga, gb, gt)


def noreinject_eigen_excess(alphas, lam, c, weight, grad: bool = True):
    """Population excess of the ablation (multi-layer LSA, covariates not re-injected).

    Per eigen-direction the error ratio obeys ``e_{t+1} = e_t - alpha_t lambda e_t^3``, ``e_0 = 1``
    (module docstring); excess ``sum_j weight_j sum_i c_ji e_T^2``.  Returns ``f`` and
    ``d f/d alpha_t``.
    """
    alphas = np.asarray(alphas, float)
    T = alphas.size
    cw = c * weight[:, None]
    e = np.ones((T + 1,) + lam.shape)
    for t in range(T):
        e[t + 1] = e[t] - alphas[t] * lam * e[t] ** 3
    f = float(np.sum(cw * e[T] ** 2))
    if not grad:
        return f
    g = 2 * cw * e[T]
    ga = np.empty(T)
    for t in range(T - 1, -1, -1):
        ga[t] = -np.sum(g * lam * e[t] ** 3)
        g = g * (1 - 3 * alphas[t] * lam * e[t] ** 2)
    return f, ga


# ---------------------------------------------------------------------- matrix form, any L
def ca_forward(A, b, alphas, betas, history: bool = False):
    """``w_{t+1} = (I + beta_t A) w_t + alpha_t b`` from ``w_0 = 0``, batched over prompts.

    ``A = Sigma_hat`` (n, d, d), ``b = s_hat`` (n, d) at finite ``L``; ``A = Sigma``, ``b = s`` at
    ``L = inf``.  Returns ``w_T`` (n, d), or the stack ``(T + 1, n, d)`` when ``history``.
    """
    A, b = np.asarray(A, float), np.asarray(b, float)
    T = len(alphas)
    ws = np.zeros((T + 1,) + b.shape)
    for t in range(T):
        ws[t + 1] = ws[t] + betas[t] * np.einsum("nde,ne->nd", A, ws[t]) + alphas[t] * b
    return ws if history else ws[T]


def ca_matrix_excess(A, b, Sigma, w, weight, alphas, betas, grad: bool = True):
    """Excess ``sum_n weight_n (w_T - w_n)^T Sigma_n (w_T - w_n)`` and its gradient (backward pass).

    ``w_T`` from :func:`ca_forward` with ``(A, b)``; the query expectation is exact given the task
    (``Sigma``, ``w``).  Backward: ``g_T = 2 Sigma (w_T - w)``, ``d/d alpha_t = g_{t+1}^T b``,
    ``d/d beta_t = g_{t+1}^T A w_t``, ``g_t = (I + beta_t A) g_{t+1}`` (``A`` symmetric); the tied
    gradient (``beta_t = -alpha_t``) is ``g_{t+1}^T (b - A w_t)``.  Returns ``f, (ga, gb, gt)``.
    """
    ws = ca_forward(A, b, alphas, betas, history=True)
    T = len(alphas)
    diff = ws[T] - w
    Sd = np.einsum("nde,ne->nd", Sigma, diff)
    per = np.einsum("nd,nd->n", diff, Sd)
    f = float(weight @ per)
    if not grad:
        return f
    g = 2 * weight[:, None] * Sd
    ga, gb, gt = np.empty(T), np.empty(T), np.empty(T)
    for t in range(T - 1, -1, -1):
        Aw = np.einsum("nde,ne->nd", A, ws[t])
        ga[t] = np.sum(g * b)
        gb[t] = np.sum(g * Aw)
        gt[t] = np.sum(g * (b - Aw))  # tied beta_t = -alpha_t
        g = g + betas[t] * np.einsum("nde,ne->nd", A, g)
    return f, (ga, gb, gt)


def lsa_excess(G, b, Sigma, w, weight, grad: bool = True):
    """Single-layer LSA ``yhat = x_q^T G b``: excess ``E (G b - w)^T Sigma (G b - w)`` and gradient
    ``2 E[Sigma (G b - w) b^T]`` (``b = s`` at ``L = inf``, ``s_hat`` at finite ``L``;
    ``docs/derivations/xattn.md#single-layer-lsa-gap``)."""
    G = np.asarray(G, float)
    diff = np.einsum("de,ne->nd", G, b) - w
    Sd = np.einsum("nde,ne->nd", Sigma, diff)
    f = float(weight @ np.einsum("nd,nd->n", diff, Sd))
    if not grad:
        return f
    return f, 2 * np.einsum("n,nd,ne->de", weight, Sd, b)


def lsa_optimal_G(b, Sigma, w, weight) -> np.ndarray:
    """Minimum-norm solution of the normal equations ``E[b b^T (x) Sigma] vec G = vec E[Sigma w b^T]``.

    (Column-major ``vec``; at ``L = inf`` the right side is ``vec E[s s^T]`` since ``Sigma w = s``.)
    """
    d = b.shape[1]
    M = np.einsum("n,ne,nf,nij->fjei", weight, b, b, Sigma).reshape(d * d, d * d)
    rhs = np.einsum("n,nij,nj,ne->ei", weight, Sigma, w, b).reshape(d * d)
    vecG = np.linalg.lstsq(M, rhs, rcond=1e-12)[0]
    return vecG.reshape(d, d).T  # undo column-major: rows of reshape are columns of G


# ------------------------------------------------------------------------------ token level
def token_forward(X, y, xq, alphas, betas, reinject: bool = True, chunk: int = 64) -> np.ndarray:
    """Token-level forward pass on raw prompts; returns the query predictions.

    ``reinject=True``: the CA layer of the module docstring (keys/queries = raw covariates,
    values ``alpha y + beta p``).  ``reinject=False``: the multi-layer LSA ablation with tokens
    ``(x, r)``, ``r^(0) = (y, 0)``, every layer ``h_a <- h_a + beta_t (1/L) sum_i (x_a^T x_i) h_i``
    on the whole token (covariates drift); prediction ``-r_q`` (``alphas`` unused; one-parameter).

    ``xq`` is ``(n, d)`` or ``(n, m, d)`` (several query tokens per prompt; queries never act as keys,
    so they do not interact).  Batched matrix products over chunks of ``chunk`` prompts.
    Returns ``(n,)`` or ``(n, m)``.
    """
    X, y, xq = np.asarray(X, float), np.asarray(y, float), np.asarray(xq, float)
    single = xq.ndim == 2
    Q = xq[:, None, :] if single else xq
    n, L, d = X.shape
    m = Q.shape[1]
    out = np.empty((n, m))
    for lo in range(0, n, chunk):
        sl = slice(lo, lo + chunk)
        Xc, yc = X[sl], y[sl]
        H = np.concatenate([Xc, Q[sl]], axis=1)          # (c, L + m, d)
        if reinject:
            K = H @ np.swapaxes(Xc, 1, 2) / L             # fixed kernel: covariates re-injected
            p = np.zeros(H.shape[:2])
            for a_t, b_t in zip(alphas, betas):
                p = p + (K @ (a_t * yc + b_t * p[:, :L])[..., None])[..., 0]
            out[sl] = p[:, L:]
        else:
            r = np.concatenate([yc, np.zeros((yc.shape[0], m))], axis=1)
            for b_t in betas:
                K = H @ np.swapaxes(H[:, :L], 1, 2) / L   # kernel from the drifted tokens
                H, r = H + b_t * K @ H[:, :L], r + b_t * (K @ r[:, :L, None])[..., 0]
            out[sl] = -r[:, L:]
    return out[:, 0] if single else out


def divergence_report(A, betas) -> dict:
    """Finite-L divergence guard: prompts whose sample spectrum is amplified by the layers.

    For each prompt, eigenvalues ``lambda_hat`` of ``A = Sigma_hat``; a direction grows when
    ``prod_t |1 + beta_t lambda_hat| > 1`` (for shared one-parameter layers: ``alpha > 2/lambda_max``).
    Returns counts and the largest growth factor; callers report these instead of a risk.
    """
    lam = np.linalg.eigvalsh(np.asarray(A, float))
    logg = np.sum(np.log(np.abs(1 + np.asarray(betas)[:, None, None] * lam[None])), axis=0)
    worst = logg.max(axis=1)
    bad = worst > 1e-12
    return {"n_prompts": int(lam.shape[0]), "n_divergent": int(bad.sum()),
            "max_log_growth": float(worst.max()),
            "min_2_over_lambda_max": float((2.0 / lam[:, -1]).min())}


# ------------------------------------------------------------------------------------ training
class TrainResult(SolverRecord):
    """``x, fun, success, status, message, nit, residual, history`` of :func:`train_gd`."""


def train_gd(fun, theta0, lr: float = 0.05, max_iter: int = 5000, gtol: float = 1e-10,
             xtol: float = 1e-13, record_every: int = 1) -> TrainResult:
    """Gradient descent on ``log f(theta)`` with Armijo backtracking (a gradient-flow discretisation).

    ``fun(theta) -> (f, grad f)`` with ``f > 0`` (an excess risk).  Since ``grad log f = grad f / f``,
    the continuous-time limit is the gradient flow on ``f`` run with the clock ``dt = dtau/f``: same
    path, same limit point, but without the exponentially slow tail at large depth.  The Armijo
    constant 1/2 keeps accepted steps below ``1/curvature`` (no zig-zag near the minimum); the step
    grows by 1.5 after every accepted step.

    Converged when ``|grad log f| <= gtol``, or when an accepted step moves ``theta`` by at most
    ``xtol (1 + |theta|)``: the step is then ~ ``|grad|/curvature``, the Newton distance to the
    minimum, and further progress is below the rounding floor of ``log f`` (also declared when five
    accepted steps in a row change ``log f`` by less than a few ulps).
    """
    theta = np.array(theta0, dtype=float)
    f, g = fun(theta)
    if not (np.isfinite(f) and f > 0):
        raise ValueError(f"train_gd: the initial excess must be finite and > 0, got {f}")
    hist = {"theta": [theta.copy()], "excess": [f], "iteration": [0]}
    step, it, small, flat = lr, 0, False, 0
    res = float(np.linalg.norm(g / f))
    msg = "max_iter reached"
    while it < max_iter and res > gtol and not small:
        it += 1
        gl = g / f
        while True:
            cand = theta - step * gl
            with np.errstate(over="ignore", invalid="ignore"):  # trial points may blow up: rejected
                fc, gc = fun(cand)
            if np.isfinite(fc) and fc > 0 and np.log(fc) <= np.log(f) - 0.5 * step * gl @ gl:
                break
            step *= 0.5
            if step * np.linalg.norm(gl) <= 1e-3 * xtol * (1 + np.linalg.norm(theta)):
                cand = None
                break
        if cand is None:  # no decrease representable: at the rounding floor of log f
            small, msg = True, "line search at rounding floor"
            break
        small = np.linalg.norm(cand - theta) <= xtol * (1 + np.linalg.norm(theta))
        # rounding floor: accepted steps no longer change log f beyond a few ulps
        flat = flat + 1 if abs(np.log(fc) - np.log(f)) <= 8e-16 * (1 + abs(np.log(f))) else 0
        if flat >= 5:
            small, msg = True, "log-excess flat at rounding level"
        theta, f, g = cand, fc, gc
        step *= 1.5
        res = float(np.linalg.norm(g / f))
        if it % record_every == 0 or res <= gtol or small:
            hist["theta"].append(theta.copy())
            hist["excess"].append(f)
            hist["iteration"].append(it)
    conv = bool(res <= gtol or small)
    if conv and msg == "max_iter reached":
        msg = "gradient below gtol" if res <= gtol else "step below xtol"
    return make_record(TrainResult, x=theta, fun=f, success=conv, nit=it, residual=res,
                       status=0 if conv else (1 if msg == "max_iter reached" else 4),
                       history={k: np.asarray(v) for k, v in hist.items()}, message=msg)


def train_ca_population(tasks, param: CAParam, theta0=None, **kw) -> TrainResult:
    """Train CA on the population loss at ``L = inf`` (exact per-task expectation, eigen form)."""
    lam, c = tasks.eigen()
    wt = tasks.weight

    def fun(theta):
        a, b = param.unpack(theta)
        f, grads = ca_eigen_excess(a, b, lam, c, wt)
        return f, param.pack_grad(*grads)

    if theta0 is None:
        theta0 = param.init(0.05)
    return train_gd(fun, theta0, **kw)


def train_ca_prompts(Sh, sh, tasks, param: CAParam, theta0=None, **kw) -> TrainResult:
    """Train CA on sampled finite-L prompts: moments ``(Sh, sh)`` of one prompt per task in
    ``tasks``, query expectation exact given the task (:func:`ca_matrix_excess`)."""

    def fun(theta):
        a, b = param.unpack(theta)
        f, grads = ca_matrix_excess(Sh, sh, tasks.Sigma, tasks.w, tasks.weight, a, b)
        return f, param.pack_grad(*grads)

    if theta0 is None:
        theta0 = param.init(0.05)
    return train_gd(fun, theta0, **kw)


def train_noreinject_population(tasks, T: int, shared: bool = True, alpha0: float = 0.05,
                                **kw) -> TrainResult:
    """Train the ablation (multi-layer LSA without re-injection) at ``L = inf``."""
    lam, c = tasks.eigen()
    wt = tasks.weight

    def fun(theta):
        a = np.broadcast_to(theta, (T,)) if shared else theta
        f, ga = noreinject_eigen_excess(a, lam, c, wt)
        return f, np.array([ga.sum()]) if shared else ga

    return train_gd(fun, np.full(1 if shared else T, alpha0), **kw)


def ca_two_param_optimum(tasks, T: int) -> TrainResult:
    """Exact minimiser of the shared two-parameter CA population excess at depth ``T``.

    In the coordinates ``kappa = alpha/(-beta)``, ``gamma = -beta`` the error ratio is
    ``e(lambda) = (1 - kappa) + kappa (1 - gamma lambda)^T`` (:func:`icl_companion.theory.xattn.ca_closed_form_expr`),
    which removes the narrow valley around ``beta = -alpha`` (width ~ rho*^T in ``(alpha, beta)``)
    that makes plain GD crawl.  BFGS on ``log`` of the excess from the one-parameter optimum; this is
    the reference that gradient-descent trajectories in ``(alpha, beta)`` are compared with.
    """
    from scipy.optimize import minimize

    lam, c = tasks.eigen()
    cw = c * tasks.weight[:, None]
    a1 = train_ca_population(tasks, CAParam(T)).x[0]

    def obj(z):
        kappa, gam = z
        with np.errstate(over="ignore", invalid="ignore"):
            e = (1 - kappa) + kappa * (1 - gam * lam) ** T
            f = np.sum(cw * e * e)
        return np.log(f) if np.isfinite(f) and f > 0 else np.inf

    best = minimize(obj, [1.0, a1], method="Nelder-Mead",
                    options={"xatol": 1e-14, "fatol": 1e-14, "maxiter": 20000})
    kappa, gam = best.x
    return make_record(TrainResult, x=np.array([kappa * gam, -gam]), fun=float(np.exp(best.fun)),
                       success=bool(best.success), nit=int(best.nit), status=int(best.status),
                       residual=float("nan"), history={}, message=str(best.message))


def train_lsa(b, Sigma, w, weight, **kw) -> TrainResult:
    """Train a single-layer LSA matrix ``G`` from ``G = 0`` by :func:`train_gd`."""
    d = b.shape[1]

    def fun(theta):
        f, g = lsa_excess(theta.reshape(d, d), b, Sigma, w, weight)
        return f, g.ravel()

    return train_gd(fun, np.zeros(d * d), **kw)
