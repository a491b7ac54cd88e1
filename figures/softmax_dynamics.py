"""Figure ``softmax-dynamics``: omega_h, mu_h of a trained 2-head model vs step, next to the reduced ODE.

He, Pan, Chen, Yang (2025), blog Figure 2.3 (average KQ diagonal and last OV entry vs step) and the
reduced-model flows of the authors' code (``gradient_flow``, plots ``Dynamic_approx_*``;
``docs/derivations/softmax.md#taylor-form-and-gradient-flow``).  Left: the NumPy-trained 2-head
model (d = 5, L = 40, sigma2 = 0.1, Adam 1e-3, batch 256), per head ``omega_h`` (mean of the KQ
x-block diagonal), ``mu_h`` (last OV entry), ``sum_h mu_h`` and the effective step
``<mu, omega>`` against ``eta*``.  Right: the gradient flow on the approximate loss
(:func:`icl_companion.numerics.softmax_reduced.integrate_reduced_ode`) started from
the authors' reduced-model initialisation ``omega = mu = (1e-3, -1e-3)``; its time is gradient-flow time, not Adam steps (Adam rescales the
coordinates), so the two panels share the shapes (jump, overshoot and slow decay of omega,
monotone growth of mu, zero sum), not the time axis.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.registry import FigureData, Unit, figure
from icl_companion.figures.softmax_common import record, training_unit
from icl_companion.numerics.softmax_patterns import omega_mu_history
from icl_companion.numerics.softmax_reduced import integrate_reduced_ode
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.theory.softmax import BLOG
from icl_companion.validation.softmax_training import SETTING, figure_config


T_MAX = 2000.0
#: the authors' reduced-model initialisation omega = mu = (1e-3, -1e-3)
INIT = [1e-3, -1e-3]


def _t_eval(n: int) -> np.ndarray:
    return np.geomspace(1e-2, T_MAX, n)


def reduced_flow(omega0: list, mu0: list, n_eval: int) -> dict:
    """Work unit: the reduced gradient flow of the approximate loss from ``(omega0, mu0)``."""
    st = SETTING
    ode = integrate_reduced_ode(st.d, st.L, st.sigma2, omega0, mu0, T_MAX, t_eval=_t_eval(n_eval))
    return {"success": bool(ode.success), "message": str(ode.message), "t": ode.t,
            "omega": ode.omega, "mu": ode.mu, "t_stage1": float(ode.t_stage1)}


def flow_from_trained(train: dict, n_eval: int) -> dict:
    """Work unit: the same flow started from the trained model's first logged ``(omega, mu)``."""
    log = train["record"]["log"]
    om, mu = omega_mu_history(log["KQ"], log["OV"])
    return reduced_flow(om[0].tolist(), mu[0].tolist(), n_eval)


def units(quick: bool, seed: int) -> list:
    n = 120 if quick else 400
    return [training_unit("train/H=2", figure_config(2, quick), seed),
            Unit("ode/paper-init", reduced_flow, {"omega0": INIT, "mu0": INIT, "n_eval": n},
                 fields=("success", "t", "omega", "mu"), cost=2.0),
            Unit("ode/trained-init", flow_from_trained, {"n_eval": n},
                 needs={"train": "train/H=2"}, fields=("success", "omega"), cost=2.0)]


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = SETTING
    cfg = figure_config(2, quick)
    rec, notes = record(results["train/H=2"], cfg)
    om, mu = omega_mu_history(rec.log["KQ"], rec.log["OV"])
    steps = rec.log["step"]
    eta_star = evaluate("softmax.eta_star", d=st.d, L=st.L, sigma2=st.sigma2).value
    ode, alt = results["ode/paper-init"], results["ode/trained-init"]
    if alt["success"]:  # recorded, not plotted
        w_end = alt["omega"][-1]
        notes.append(f"the flow started from the trained step-{int(steps[0])} (omega, mu) ends at "
                     f"omega = {np.round(w_end, 3).tolist()} "
                     f"({'+/-' if w_end.max() > 0 > w_end.min() else 'same-sign'})")
    cols = {k: [] for k in ("source", "x", "omega_1", "omega_2", "mu_1", "mu_2", "eta_eff")}

    def add(src, x, o, m):
        cols["source"] += [src] * len(x)
        cols["x"] += [float(v) for v in x]
        cols["omega_1"] += o[:, 0].tolist()
        cols["omega_2"] += o[:, 1].tolist()
        cols["mu_1"] += m[:, 0].tolist()
        cols["mu_2"] += m[:, 1].tolist()
        cols["eta_eff"] += np.sum(o * m, axis=1).tolist()

    add("trained", steps, om, mu)
    if ode["success"]:
        add("ode", ode["t"], ode["omega"], ode["mu"])
    meta = {"d": st.d, "L": st.L, "sigma2": st.sigma2, "eta_star": eta_star, "seed": rec.seed,
            "notes": notes, "training": cfg.as_dict(), "trained_steps": rec.steps_done,
            "ode_converged": ode["success"], "ode_message": ode["message"],
            "ode_t_stage1": ode["t_stage1"], "ode_init": {"omega": INIT, "mu": INIT},
            "mode": (f"quick: {cfg.steps} Adam steps (the paper: 500k)" if quick
                     else "full: 500k Adam steps")}
    return FigureData(cols, meta)


def plot(data: FigureData):
    import matplotlib.pyplot as plt

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex="col")
    for col, (src, xlabel) in enumerate((("trained", "Adam step"),
                                         ("ode", "gradient-flow time t (log)"))):
        s = c["source"] == src
        axw, axm = axes[0, col], axes[1, col]
        if not s.any():
            axw.text(0.5, 0.5, "reduced ODE did not converge:\n" + m["ode_message"],
                     ha="center", transform=axw.transAxes)
            continue
        x = c["x"][s]
        for h in (1, 2):
            axw.plot(x, c[f"omega_{h}"][s], label=f"$\\omega_{h}$")
            axm.plot(x, c[f"mu_{h}"][s], label=f"$\\mu_{h}$")
        axm.plot(x, c["mu_1"][s] + c["mu_2"][s], color="0.3", ls=":", label="mu_1 + mu_2")
        axm.plot(x, c["eta_eff"][s], color="k", lw=1, label="<mu, omega>")
        axm.axhline(m["eta_star"], color="k", ls="--", lw=0.8, label=f"$\\eta^* = {m['eta_star']:.3f}$")
        axw.axhline(0, color="0.6", lw=0.5)
        axw.set_ylabel(r"$\omega_h$ (KQ diagonal)")
        axm.set_ylabel(r"$\mu_h$ (OV last entry)")
        axm.set_xlabel(xlabel)
        if src == "ode":
            axw.set_xscale("log")
            axw.set_title("reduced gradient flow on L~ from omega = mu = (1e-3, -1e-3)\n"
                          f"end of stage I (<mu, omega> within 5% of eta*) at t = "
                          f"{m['ode_t_stage1']:.3g}", fontsize=8)
        else:
            axw.set_title(f"trained 2-head model, seed {m['seed']} ({m['mode']})", fontsize=8)
        axw.legend(fontsize=7)
        axm.legend(fontsize=7)
    notes = "\n".join(m["notes"])
    fig.suptitle(f"Dynamics of omega, mu: d={m['d']}, L={m['L']}, sigma2={m['sigma2']}"
                 + (f"\n{notes}" if notes else ""), fontsize=9)
    fig.tight_layout()
    return fig


figure("softmax-dynamics", "omega_h, mu_h vs step of a trained 2-head model next to the reduced "
       "(omega, mu) gradient flow", plot=plot, units=units, reduce=reduce,
       reference=Reference("softmax", NOT_NUMBERED,
                           "docs/derivations/softmax.md#taylor-form-and-gradient-flow",
                           (BLOG + ", Figures 2.3, 2.8",)))
