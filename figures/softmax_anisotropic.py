"""Figure ``softmax-anisotropic``: learned KQ block of a 2-head model on AR(1) covariates.

He, Pan, Chen, Yang (2025), blog Figure 3.1 (paper figure number not known;
``docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates``): with
``x ~ N(0, Sigma)``, ``Sigma_ij = rho^|i-j|`` (rho = 0.5, d = 5, L = 40, sigma2 = 0.1) a trained
2-head model keeps the last-entry OV and the +/- signs, while the KQ x-block becomes
``+-gamma Omega`` with ``Omega`` close to ``Sigma^-1`` (preconditioned debiased GD); the optimal
one-step linear-TF preconditioner ``Gamma* = ((1 + 1/L) Sigma + (tr Sigma + sigma2 d)/L I)^-1``
(``softmax.preconditioner``) is the paper's "Optimal KQ (LinTF)" panel.  Panels: each head's
``sign(omega_h) KQ^h_{1:d,1:d}`` and ``Sigma^-1``, ``Gamma*``, all divided by their mean diagonal
(the scale gamma is not identified by the pattern); the titles give the relative Frobenius
distances.
"""

from __future__ import annotations

import numpy as np

from icl_companion.figures.annotate import annotate_cells
from icl_companion.figures.registry import Column, FigureData, figure
from icl_companion.figures.softmax_common import record, training_unit
from icl_companion.numerics.softmax_data import Setting, ar1_covariance
from icl_companion.numerics.softmax_patterns import head_patterns
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.theory.softmax import BLOG
from icl_companion.validation.softmax_figures import check_anisotropic
from icl_companion.validation.softmax_training import figure_config

RHO = 0.5
SETTING = Setting("ar1", 5, 40, 0.1, rho=RHO)
QUICK_STEPS = 20_000  # the individual heads reach the ±γ Σ⁻¹ shape after ~16k steps


def _unit_diag(M):
    return M / np.mean(np.diag(M))


def _config(quick: bool):
    return figure_config(2, quick, setting=SETTING, quick_steps_=QUICK_STEPS)


def units(quick: bool, seed: int) -> list:
    return [training_unit("train/H=2", _config(quick), seed)]


#: panels: key -> (title, scale group); "shape" panels are divided by their mean diagonal
PANELS = {
    "head1_shape": (r"head 1: sign($\omega_1$) KQ$_1$", "shape"),
    "head2_shape": (r"head 2: sign($\omega_2$) KQ$_2$", "shape"),
    "sigma_inv_shape": (r"$\Sigma^{-1}$", "shape"),
    "effective": (r"$P = \sum_h \mu_h\,$KQ$_h$ (trained)", "scale"),
    "gamma_star": (r"$\Gamma^*$ (optimal preconditioner)", "scale"),
    "difference": (r"$P - \Gamma^*$", "scale"),
}


def reduce(quick: bool, seed: int, results: dict) -> FigureData:
    st = SETTING
    d = st.d
    cfg = _config(quick)
    rec, notes = record(results["train/H=2"], cfg)
    KQ, OV = rec.log["KQ"][-1], rec.log["OV"][-1]
    pat = head_patterns(KQ, OV)
    Sinv = np.linalg.inv(ar1_covariance(d, RHO))
    G = np.asarray(evaluate("softmax.preconditioner", d=d, L=st.L, sigma2=st.sigma2,
                            rho=RHO).value, dtype=float)
    # first order, the model predicts x_q^T P (1/L) sum_l x_l y_l (debiased): P is the
    # preconditioner it implements, to be compared with the optimal one, Gamma*
    P = sum(pat.mu[h] * KQ[h, :d, :d] for h in range(2))
    mats = {"head1_shape": _unit_diag(np.sign(pat.omega[0]) * KQ[0, :d, :d]),
            "head2_shape": _unit_diag(np.sign(pat.omega[1]) * KQ[1, :d, :d]),
            "sigma_inv_shape": _unit_diag(Sinv), "effective": P, "gamma_star": G,
            "difference": P - G}

    def rel(a, b):
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    dist = {"effective P vs Gamma*": rel(P, G),
            "head 1 shape vs Sigma^-1 shape": rel(mats["head1_shape"], mats["sigma_inv_shape"]),
            "head 2 shape vs Sigma^-1 shape": rel(mats["head2_shape"], mats["sigma_inv_shape"]),
            "Gamma* shape vs Sigma^-1 shape": rel(_unit_diag(G), mats["sigma_inv_shape"]),
            "effective P shape vs identity (the isotropic pattern)": rel(_unit_diag(P),
                                                                        np.eye(d))}
    cols = {k: [] for k in ("panel", "row", "col", "value")}
    for name, M in mats.items():
        for (i, j), v in np.ndenumerate(M):
            cols["panel"].append(name)
            cols["row"].append(i)
            cols["col"].append(j)
            cols["value"].append(float(v))
    meta = {"d": d, "L": st.L, "sigma2": st.sigma2, "rho": RHO, "seed": rec.seed,
            "patterns": pat.as_dict(), "relative_distances": dist, "notes": notes,
            "training": cfg.as_dict(),
            "training_record": {"success": rec.success, "status": rec.status,
                                "message": f"{rec.message}: {rec.steps_done} Adam steps, a fixed "
                                           f"budget (not a convergence test)"},
            "mode": (f"Quick mode: {cfg.steps} Adam steps (the paper: 500k)" if quick
                     else "Full mode: 500k Adam steps")}
    return FigureData(cols, meta)


def plot(data: FigureData):
    from icl_companion.figures.layout import caption, new_figure

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    m = data.meta
    d = m["d"]
    fig, axes = new_figure(height=5.0, nrows=2, ncols=3)
    mats = {}
    for name in PANELS:
        s = c["panel"] == name
        M = np.zeros((d, d))
        M[c["row"][s], c["col"][s]] = c["value"][s]
        mats[name] = M
    lims = {g: max(np.abs(M).max() for n, M in mats.items() if PANELS[n][1] == g)
            for g in ("shape", "scale")}
    dist = m["relative_distances"]
    notes = {"head1_shape": dist["head 1 shape vs Sigma^-1 shape"],
             "head2_shape": dist["head 2 shape vs Sigma^-1 shape"],
             "difference": dist["effective P vs Gamma*"]}
    ims = {}
    for ax, (name, (title, group)) in zip(axes.ravel(), PANELS.items()):
        M = mats[name]
        ims[group] = ax.imshow(M, cmap="RdBu_r", vmin=-lims[group], vmax=lims[group])
        annotate_cells(ax, M, "{:.2f}", lims[group], fontsize=6)
        if name in notes:
            what = r"$\Sigma^{-1}$" if "shape" in name else r"$\Gamma^*$"
            title += f"\ndistance to {what}: {notes[name]:.2f}"
        ax.set_title(title, fontsize=7.5)
        ax.set_xticks(range(d), [f"{j + 1}" for j in range(d)])
        ax.set_yticks(range(d), [f"{j + 1}" for j in range(d)])
        ax.grid(False)
    cb = fig.colorbar(ims["shape"], ax=axes[0], shrink=0.85)
    cb.set_label("divided by the mean diagonal")
    cb = fig.colorbar(ims["scale"], ax=axes[1], shrink=0.85)
    cb.set_label("actual scale")
    p = m["patterns"]
    caption(fig, rf"AR(1) covariates $\Sigma_{{ij}} = {m['rho']}^{{|i-j|}}$, $d = {d}$, "
                 rf"$L = {m['L']}$, $\sigma^2 = {m['sigma2']}$; seed {m['seed']}, "
                 rf"{p['configuration']} pair, $\omega$ = {np.round(p['omega'], 3).tolist()}, "
                 rf"$\mu$ = {np.round(p['mu'], 2).tolist()}. Top: the $x$-block of each head's "
                 r"KQ with the head's sign, and $\Sigma^{-1}$, divided by their mean diagonal "
                 r"(distances: relative Frobenius). Bottom: the preconditioner the model "
                 r"implements to first order against $\Gamma^* = ((1 + 1/L)\Sigma + "
                 r"(\mathrm{tr}\,\Sigma + \sigma^2 d)/L\, I)^{-1}$. " + m["mode"] + "."
                 + (" " + "; ".join(m["notes"]) if m["notes"] else ""))
    return fig


COLUMNS = {
    "panel": Column("matrix: 'head1_shape', 'head2_shape' (sign(omega_h) times the x-block of "
                    "KQ^h), 'sigma_inv_shape' (Sigma^-1), each divided by its mean diagonal; "
                    "'effective' (P = sum_h mu_h KQ^h x-block), 'gamma_star' (the optimal "
                    "one-step preconditioner Gamma*), 'difference' (P - Gamma*) at their actual "
                    "scale", kind="text"),
    "row": Column("row index of the entry (0-based coordinate of x)", kind="int"),
    "col": Column("column index of the entry (0-based)", kind="int"),
    "value": Column("matrix entry", unit="'*_shape': divided by the matrix's mean diagonal; "
                    "the others: as in the model (KQ includes 1/sqrt(d+1))"),
}

figure("softmax-anisotropic", "learned KQ block of a 2-head model on AR(1) covariates vs "
       "Sigma^-1 vs the linear-TF optimal preconditioner", plot=plot, units=units, reduce=reduce,
       reference=Reference(
           "softmax", NOT_NUMBERED,
           "docs/derivations/softmax.md#optimal-preconditioner-for-anisotropic-covariates",
           (BLOG + ", Figure 3.1",)),
       claim="On AR(1) covariates the two trained heads form a ± pair whose effective "
             "preconditioner Σₕ μₕ KQₕ matches the optimal one-step preconditioner Γ* ≈ Σ⁻¹ "
             "entry by entry, and each head's KQ block takes the shape ±γ Σ⁻¹.",
       columns=COLUMNS, check=check_anisotropic)
