"""The reduced (omega, mu) model of multi-head softmax attention: gradient flow and Monte Carlo risk.

He, Pan, Chen, Yang (2025), arXiv:2503.12734 (not numbered in the sources; the authors' blog post
and code; ``docs/derivations/softmax.md#reduced-predictor``, ``#taylor-form-and-gradient-flow``).
The reduced model keeps, per head ``h``, a KQ scale ``omega_h`` (``KQ = omega_h I_d`` on the
covariate block) and an OV last entry ``mu_h``; its predictor is the sum of Nadaraya-Watson heads

    ``yhat_q = sum_h mu_h sum_l y_l softmax_l(omega_h x_l^T x_q)``.

Public API (signatures used by the figures)::

    integrate_reduced_ode(d, L, sigma2, omega0, mu0, t_max, t_eval=None, n_eval=400,
                          method="LSODA", rtol=1e-8, atol=1e-10, half_loss=False,
                          stage_tol=0.05) -> ReducedODEResult
        fields: t (n_t,), omega (n_t, H), mu (n_t, H), loss (n_t,), effective_step (n_t,)
        = sum_h mu_h omega_h, mu_sum (n_t,), eta_star (the gamma -> 0 optimum of the effective
        step), t_stage1 (first t with |effective_step - eta_star| <= stage_tol eta_star, or nan),
        success (integration reached t_max with finite values), status, message,
        nfev, njev, nit (= nfev), residual (|grad L~| at t_max), history, params.
    reduced_predict(P, omega, mu) -> ndarray (n,)          # P: numerics.linear.Prompts
    dgd_predict(P, eta) -> ndarray (n,)
    dgd_gamma2_coefficient(P, eta) -> ndarray (n,)          # gamma^2 term of the 2-head predictor
    mc_reduced_risk(d, L, sigma2, omega, mu, n_prompts, seed, batch=None) -> MCEstimate

Time convention: ``d(omega, mu)/dt = -grad L~`` (the paper's loss).  The authors' code runs GD on
``L~/2`` with learning rate ``lr`` and plots ``T = step * lr``; that is ``half_loss=True`` (or
``t = T/2`` here).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from icl_companion.numerics.record import SolverRecord, diagnostics
from scipy.integrate import solve_ivp
from scipy.special import softmax

from icl_companion.numerics.linear import MCEstimate, Prompts, mc_mean, sample_prompts
from icl_companion.theory import softmax as ts
from icl_companion.theory.registry import (NOT_NUMBERED, Reference, Result, integer, real, register,
                                           vector)

__all__ = ["ReducedODEResult", "integrate_reduced_ode", "reduced_predict", "dgd_predict",
           "dgd_gamma2_coefficient", "mc_reduced_risk", "support_dgd_predict"]


class ReducedODEResult(SolverRecord):
    """Gradient-flow trajectory of the reduced model (see the module docstring for the fields)."""


#: Caps of one integration: right-hand-side evaluations and wall-clock seconds.  Reaching one stops
#: the integrator and is reported (status 1 or 3), never returned as a converged state.
MAX_RHS_EVALS = 200_000
MAX_SECONDS = 60.0


class _Cap(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def integrate_reduced_ode(d, L, sigma2, omega0, mu0, t_max, t_eval=None, n_eval: int = 400,
                          method: str = "LSODA", rtol: float = 1e-8, atol: float = 1e-10,
                          half_loss: bool = False, stage_tol: float = 0.05,
                          max_rhs_evals: int = MAX_RHS_EVALS,
                          max_seconds: float = MAX_SECONDS) -> ReducedODEResult:
    """Integrate the gradient flow ``(omega, mu)' = -grad L~(omega, mu)`` with :func:`scipy.integrate.solve_ivp`.

    Parameters
    ----------
    d, L, sigma2 : float
        Dimension, prompt length, noise variance of the approximate loss :func:`icl_companion.theory.softmax.approx_loss_expr`.
    omega0, mu0 : sequence of float, same length H
        Initial KQ scales and OV entries.
    t_max : float
        Final time (> 0).
    t_eval : array_like, optional
        Output times in ``[0, t_max]``; default ``n_eval`` equispaced points.
    method : str
        ``solve_ivp`` method; the flow is stiff along the solution manifold (the Hessian in the
        ``omega`` directions grows like ``mu^2``), so an implicit or switching method with the exact
        Jacobian (the SymPy-derived Hessian, :func:`icl_companion.theory.softmax.approx_loss_hessian`) is used.
    half_loss : bool
        Use the authors' code convention (flow of ``L~/2``): time runs twice slower.
    stage_tol : float
        Relative tolerance defining the end of stage I (effective step within ``stage_tol`` of eta*).
    max_rhs_evals, max_seconds : int, float
        Caps on gradient evaluations and wall-clock time; reaching one gives ``success=False``
        with ``status`` 1 (evaluations) or 3 (time) and the state reached so far is not returned.

    Returns
    -------
    ReducedODEResult
        ``success`` is False (and ``message`` says why) when the integrator stops early or the
        state becomes non-finite; such trajectories must not be plotted as converged.

    References
    ----------
    He et al. (2025), GD on the approximate loss and its two stages (the authors' blog post);
    ``docs/derivations/softmax.md#taylor-form-and-gradient-flow``.

    Examples
    --------
    >>> r = integrate_reduced_ode(5, 40, 0.1, [1e-3, -1e-3], [1e-3, -1e-3], 50.0, n_eval=5)
    >>> bool(r.success), r.omega.shape
    (True, (5, 2))
    >>> bool(abs(r.effective_step[-1] - r.eta_star) < 0.05 * r.eta_star)
    True
    """
    ts._check_dls(d, L, sigma2)
    om0, m0 = ts._heads(omega0, mu0)
    if not (np.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max = {t_max} is outside the allowed domain: (0, inf)")
    if not np.all(np.isfinite(np.r_[om0, m0])):
        raise ValueError("omega0 and mu0 must be finite")
    H = om0.size
    scale = 0.5 if half_loss else 1.0
    args = (float(d), float(L), float(sigma2))

    import time

    t_start, calls = time.monotonic(), [0]

    def rhs(t, y):
        calls[0] += 1
        if calls[0] > max_rhs_evals:
            raise _Cap(1, f"iteration cap reached: {max_rhs_evals} gradient evaluations")
        if calls[0] % 64 == 0 and time.monotonic() - t_start > max_seconds:
            raise _Cap(3, f"time cap reached: {max_seconds:g} s")
        return -scale * np.concatenate(ts.approx_loss_grad(*args, y[:H], y[H:]))

    def jac(t, y):
        return -scale * ts.approx_loss_hessian(*args, y[:H], y[H:])

    if t_eval is None:
        t_eval = np.linspace(0.0, float(t_max), int(n_eval))
    t_eval = np.asarray(t_eval, dtype=float)
    if t_eval.ndim != 1 or t_eval.size < 1 or t_eval.min() < 0 or t_eval.max() > t_max or \
            np.any(np.diff(t_eval) <= 0):
        raise ValueError("t_eval must be increasing times in [0, t_max]")
    y0 = np.r_[om0, m0]
    kw = {"jac": jac} if method in ("Radau", "BDF", "LSODA") else {}
    status = 2
    with np.errstate(over="raise", invalid="raise"):
        try:
            short = _short_time_step(rhs, jac, y0, t_eval, rtol)
            with warnings.catch_warnings(record=True) as said:  # kept in the message instead
                warnings.simplefilter("always")
                sol = short if short is not None else solve_ivp(
                    rhs, (0.0, float(t_max)), y0, method=method, t_eval=t_eval, rtol=rtol,
                    atol=atol, **kw)
            err = None
        except FloatingPointError as e:  # overflow of exp(d omega omega^T): diverging flow
            sol, err = None, f"floating-point error: {e}"
        except _Cap as e:
            sol, err, status = None, str(e), e.status
    if sol is None:
        nan = np.full((t_eval.size, H), np.nan)
        return ReducedODEResult(t=t_eval, omega=nan, mu=nan.copy(), loss=np.full(t_eval.size, np.nan),
                                effective_step=np.full(t_eval.size, np.nan),
                                mu_sum=np.full(t_eval.size, np.nan), eta_star=np.nan,
                                t_stage1=np.nan, success=False, status=status,
                                message=err, nfev=calls[0], njev=0,
                                nit=calls[0], residual=np.nan, history={}, params={})
    omega, mu = sol.y[:H].T, sol.y[H:].T
    finite = bool(np.all(np.isfinite(sol.y)))
    reached = sol.t.size == t_eval.size
    loss = np.array([ts.approx_loss(*args, w, m) for w, m in zip(omega, mu)])
    eff = np.sum(omega * mu, axis=1)
    eta_star = 1.0 / (1.0 + (1.0 + sigma2) * d / L)  # gamma -> 0 optimum of <mu, omega>
    hit = np.nonzero(np.abs(eff - eta_star) <= stage_tol * eta_star)[0]
    grad_end = rhs(sol.t[-1], sol.y[:, -1]) / scale if sol.t.size else np.full(2 * H, np.nan)
    notes = sorted({" ".join(str(w.message).split()) for w in said})
    ok = bool(sol.success and finite and reached and not notes)
    msg = "; ".join([sol.message] + notes + ([] if finite else ["non-finite state"]))
    return ReducedODEResult(
        t=sol.t, omega=omega, mu=mu, loss=loss, effective_step=eff, mu_sum=mu.sum(axis=1),
        eta_star=eta_star, t_stage1=float(sol.t[hit[0]]) if hit.size else np.nan,
        success=ok, status=0 if ok else (2 if not finite else 4), message=msg, nfev=int(sol.nfev),
        njev=int(sol.njev), nit=int(sol.nfev), residual=float(np.linalg.norm(grad_end)),
        history={"t": sol.t, "loss": loss},
        params={"d": d, "L": L, "sigma2": sigma2, "omega0": om0.tolist(), "mu0": m0.tolist(),
                "t_max": float(t_max), "method": method, "rtol": rtol, "atol": atol,
                "half_loss": half_loss})


def _short_time_step(rhs, jac, y0, t_eval, rtol):
    """The flow over a time too short for an adaptive integrator, or None.

    When ``t_max |J| <= 1e-4`` (``J`` the Jacobian at ``y0``) the second-order Taylor step
    ``y0 + t f + t^2/2 J f`` has a relative truncation error below ``(t |J|)^3/6 < rtol``; LSODA
    itself never returns for ``t_max`` near the double resolution (``t_max = 1e-160``).
    """
    from types import SimpleNamespace

    t_max = float(t_eval[-1])
    f0, J = rhs(0.0, y0), jac(0.0, y0)
    norm_j = float(np.linalg.norm(J, 2)) if J.size else 0.0
    if not (np.all(np.isfinite(J)) and t_max * norm_j <= 1e-4):
        return None
    if (t_max * norm_j) ** 3 / 6 > rtol:
        return None
    Jf = J @ f0
    ys = np.stack([y0 + t * f0 + t * t / 2 * Jf for t in t_eval], axis=1)
    return SimpleNamespace(t=np.asarray(t_eval, float), y=ys, success=True, nfev=1, njev=1,
                           message="second-order Taylor step (t_max |J| <= 1e-4)")


# --------------------------------------------------------------------------------- predictors
def reduced_predict(P: Prompts, omega, mu) -> np.ndarray:
    """``sum_h mu_h sum_l y_l softmax_l(omega_h x_l^T x_q)`` (stable softmax, batched over prompts).

    References
    ----------
    He et al. (2025), reduced predictor ``TFEst.Est``;
    ``docs/derivations/softmax.md#reduced-predictor``.
    """
    om, m = ts._heads(omega, mu)
    s = np.einsum("nld,nd->nl", P.X, P.xq)                 # (n, L) scores x_l^T x_q
    w = softmax(om[None, :, None] * s[:, None, :], axis=2)  # (n, H, L), max-subtracted internally
    return np.einsum("h,nhl,nl->n", m, w, P.y)


def dgd_predict(P: Prompts, eta: float) -> np.ndarray:
    """Debiased one-step GD ``(eta/L) sum_l y_l (x_l - xbar)^T x_q`` (the authors'
    ``TFEst.DGDEst``)."""
    L = P.X.shape[1]
    s = np.einsum("nld,nd->nl", P.X, P.xq)          # x_l^T x_q; (x_l - xbar)^T x_q = s_l - sbar
    return eta / L * np.einsum("nl,nl->n", P.y, s - s.mean(axis=1, keepdims=True))


def support_dgd_predict(X: np.ndarray, y: np.ndarray, xq: np.ndarray, supports,
                        etas) -> np.ndarray:
    """One debiased one-step GD per task on its own support (multi-task setting,
    ``docs/derivations/softmax.md#multi-task-separate-debiased-gd``).

    ``yhat_n = (eta_n/L) sum_l y_{l,n} (x_{l,S_n} - xbar_{S_n})^T x_{q,S_n}``: the "N separate debiased
    GD predictors" that multi-head softmax attention learns for ``H >= 3`` heads and ``N = 2`` tasks
    (He et al. 2025, multi-task experiment).  ``X (n, L, d)``, ``y (n, L, N)``, ``xq (n, d)``;
    ``supports`` are ``N`` index sequences and ``etas`` ``N`` steps (a support of all ``d``
    coordinates gives one DGD over all coordinates).  Returns ``(n, N)``.

    >>> rng = np.random.default_rng(0)
    >>> X, y, xq = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 1)), rng.normal(size=(3, 2))
    >>> P = Prompts(X, y[..., 0], xq, None, None, None)
    >>> bool(np.allclose(support_dgd_predict(X, y, xq, [(0, 1)], [0.7])[:, 0], dgd_predict(P, 0.7)))
    True
    """
    X, y, xq = np.asarray(X), np.asarray(y), np.asarray(xq)
    if y.ndim != 3 or len(supports) != y.shape[2] or len(etas) != y.shape[2]:
        raise ValueError(f"need one support and one step per task: y has shape {y.shape}, "
                         f"got {len(supports)} supports and {len(etas)} steps")
    L = X.shape[1]
    out = np.empty((X.shape[0], y.shape[2]))
    for k, (S, eta) in enumerate(zip(supports, etas)):   # N tasks: a short loop
        S = list(S)
        s = np.einsum("nld,nd->nl", X[:, :, S], xq[:, S])
        out[:, k] = eta / L * np.einsum("nl,nl->n", y[:, :, k], s - s.mean(axis=1, keepdims=True))
    return out


def dgd_gamma2_coefficient(P: Prompts, eta: float) -> np.ndarray:
    """Per-prompt ``gamma^2`` coefficient ``eta c_3`` of the 2-head predictor at fixed step ``eta``.

    ``yhat_gamma = yhat_dgd + eta c_3 gamma^2 + O(gamma^4)`` for ``omega = (gamma, -gamma)``,
    ``mu = +-eta/(2 gamma)``, with ``c_3 = kappa(y, s, s, s)/6`` the fourth joint cumulant under the
    uniform law on the context (:func:`icl_companion.theory.softmax.nw_cumulant_coefficients`, whose equality with
    the SymPy Taylor series is tested).
    """
    s = np.einsum("nld,nd->nl", P.X, P.xq)
    sc = s - s.mean(axis=1, keepdims=True)
    yc = P.y - P.y.mean(axis=1, keepdims=True)
    c1 = np.mean(yc * sc, axis=1)
    c3 = (np.mean(yc * sc**3, axis=1) - 3 * c1 * np.mean(sc**2, axis=1)) / 6
    return eta * c3


def mc_reduced_risk(d, L, sigma2, omega, mu, n_prompts: int, seed: int,
                    batch: int | None = None) -> MCEstimate:
    """Monte Carlo ``E (yhat_q(omega, mu) - y_q)^2`` over ``n_prompts`` fresh prompts, with its SE.

    Uses :func:`icl_companion.numerics.linear.sample_prompts` (``beta ~ N(0, I/d)``, noisy ``y_q``) and a
    :class:`numpy.random.Generator` seeded by ``seed``.  Batches keep the ``(n, H, L)`` weights small.
    """
    om, m = ts._heads(omega, mu)
    if int(n_prompts) < 2:
        raise ValueError(f"n_prompts = {n_prompts} is outside the allowed domain: >= 2")
    rng = np.random.default_rng(seed)
    per = int(L) * (om.size + int(d))  # numbers per prompt
    # 1000 prompts per batch at least (the batching defines the random stream: kept as it was),
    # unless that exceeds 5e7 numbers (400 MB): long prompts go in smaller batches
    batch = batch or (max(1000, 2_000_000 // per) if 1000 * per <= 50_000_000
                      else max(1, 50_000_000 // per))
    errs, left = [], int(n_prompts)
    while left > 0:
        k = min(batch, left)
        P = sample_prompts(rng, k, int(d), int(L), float(sigma2))
        errs.append((reduced_predict(P, om, m) - P.yq) ** 2)
        left -= k
    return mc_mean(np.concatenate(errs))


# ----------------------------------------------------------------------------------- registry


#: Limits of ``softmax.reduced_risk``: ``n_prompts L (d + H)`` sampled or weighted numbers (about
#: ten seconds on one core at the limit) and ``L (d + H)`` per prompt (memory of one prompt).
MC_MAX_WORK = 3 * 10**8
MC_MAX_PROMPT = 25 * 10**6


def _approx(n: int) -> str:
    """A count for a message: ``3.21e+09``, or ``~1e+400`` beyond the double range."""
    return f"{n:.3g}" if n < 1e300 else f"~1e+{len(str(n)) - 1}"


def _mc_cost_check(inputs: dict) -> None:
    ts.same_length()(inputs)
    per_prompt = inputs["L"] * (inputs["d"] + len(inputs["omega"]))
    work = inputs["n_prompts"] * per_prompt
    if per_prompt > MC_MAX_PROMPT or work > MC_MAX_WORK:
        raise ValueError(f"n_prompts L (d + H) = {_approx(work)} numbers ({_approx(per_prompt)} "
                         f"per prompt) "
                         f"exceed the Monte Carlo limits: allowed n_prompts L (d + H) <= "
                         f"{MC_MAX_WORK:.0e} and L (d + H) <= {MC_MAX_PROMPT:.1e}; reduce "
                         f"n_prompts, L or d")


def _mc_result(d, L, sigma2, omega, mu, n_prompts, seed):
    with np.errstate(all="ignore"):
        est = mc_reduced_risk(d, L, sigma2, omega, mu, n_prompts, seed)
    if not (math.isfinite(est.mean) and math.isfinite(est.stderr)):
        raise ValueError("softmax.reduced_risk: the squared errors leave the double-precision "
                         "range at these inputs (sigma2, |mu| or |omega| too large)")
    return est.as_dict()


register(Result(
    "softmax.reduced_risk",
    "Monte Carlo risk of the reduced multi-head predictor sum_h mu_h NW_{omega_h}, with its SE",
    (integer("d", 1, doc="dimension"), integer("L", 1, doc="prompt length"),
     real("sigma2", 0, doc="noise variance"), vector("omega", doc="KQ scales, one per head"),
     vector("mu", doc="OV last entries, one per head"),
     integer("n_prompts", 2, 10**8, doc="Monte Carlo prompts", default=100_000),
     integer("seed", 0, doc="RNG seed", default=0)),
    _mc_result,
    Reference("softmax", NOT_NUMBERED, "docs/derivations/softmax.md#reduced-predictor",
              (ts.BLOG + ", Key Findings 1-2", ts.AUTHORS_CODE + ", TFEst.Est")),
    status="monte-carlo", status_note="mean over fresh prompts; stderr = sd/sqrt(n)",
    outputs=("value", "stderr", "n"),
    definition="E (sum_h mu_h sum_l y_l softmax_l(omega_h x_l^T x_q) - y_q)^2, x ~ N(0, I_d), "
               "beta ~ N(0, I/d), noise sigma2; same seed -> same value.",
    check=_mc_cost_check, bounds={"value": (0, math.inf), "stderr": (0, math.inf)}))


#: Heads of ``softmax.reduced_flow`` (the Jacobian is 2H x 2H, factorised at every implicit step).
FLOW_MAX_HEADS = 64
#: Caps of one ``softmax.reduced_flow`` evaluation (reported as status 1 / 3 when reached).
FLOW_MAX_EVALS = 20_000
FLOW_MAX_SECONDS = 10.0


def _flow_check(inputs: dict) -> None:
    ts.same_length("omega0", "mu0", max_heads=FLOW_MAX_HEADS)(inputs)
    ts._exp_exponent_check(inputs["d"], np.asarray(inputs["omega0"], float))


def risk_bounds_loss(inputs: dict) -> dict:
    return {"loss": (inputs["sigma2"], math.inf)}


def _flow_result(d, L, sigma2, omega0, mu0, t_max):
    r = integrate_reduced_ode(d, L, sigma2, omega0, mu0, t_max, n_eval=2,
                              max_rhs_evals=FLOW_MAX_EVALS, max_seconds=FLOW_MAX_SECONDS)
    return {"omega": r.omega[-1].tolist(), "mu": r.mu[-1].tolist(), "loss": float(r.loss[-1]),
            "effective_step": float(r.effective_step[-1]), **diagnostics(r)}


register(Result(
    "softmax.reduced_flow",
    "State at t_max of the gradient flow on L~(omega, mu) (scipy solve_ivp, LSODA + exact Jacobian)",
    (integer("d", 1, doc="dimension"), integer("L", 1, doc="prompt length"),
     real("sigma2", 0, doc="noise variance"), vector("omega0", doc="initial KQ scales"),
     vector("mu0", doc="initial OV entries"),
     real("t_max", 0, 1e7, lo_open=True, doc="flow time (paper convention, full L~)")),
    _flow_result,
    Reference("softmax", NOT_NUMBERED, "docs/derivations/softmax.md#taylor-form-and-gradient-flow",
              (ts.BLOG + ", section 'Training Dynamics, Emerged Patterns, and Solution Manifold'",
               ts.AUTHORS_CODE + ", gradients, gradient_flow (on L~/2)")),
    status="numerical", status_note="solve_ivp LSODA, rtol 1e-8, atol 1e-10",
    outputs=("omega", "mu", "loss", "effective_step"),
    definition="d(omega, mu)/dt = -grad L~(omega, mu) from (omega0, mu0); see softmax.approx_loss.",
    check=_flow_check, bounds=risk_bounds_loss))
