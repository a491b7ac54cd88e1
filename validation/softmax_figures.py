"""Claim checks of the ``softmax-*`` figures (He, Pan, Chen, Yang 2025).

Each ``check_<figure>(data, quick) -> Outcome`` asserts the figure's one-sentence claim on the
figure's own table and metadata; the figure declares it (``figure(..., check=...)``), so it runs
when the figure is written and as ``iclc verify softmax.figure.<name>``.  The trained models are
single seeds at a fixed Adam budget, so the distances are compared with stated acceptance margins
(what "has the shape of" means on the figure), not with standard errors; the convergence of the
training to the theory is the job of the checks ``softmax.trained_two_head`` and
``softmax.multitask``.
"""

from __future__ import annotations

import numpy as np

from icl_companion.validation.checks import Outcome, bound

__all__ = ["check_anisotropic", "check_multitask", "check_patterns", "check_dynamics", "check_heads", "check_length", "DIAG_MIN", "SHAPE_MARGIN", "SIGN_MIN", "E_MARGIN"]

#: a head's KQ block "has the shape of Sigma^-1" when its relative Frobenius distance to it (both
#: divided by their mean diagonal) is below this margin; Sigma^-1 and the identity (the isotropic
#: pattern) are 0.57 apart at rho = 0.5, d = 5, so the margin separates the two patterns
SHAPE_MARGIN = 0.2
#: entries of the normalised Sigma^-1 at least this large in magnitude carry its sign pattern
#: (the diagonal and the first off-diagonal of the tridiagonal AR(1) precision; the rest is 0)
SIGN_MIN = 0.1


def _matrices(data) -> dict:
    c = {k: np.asarray(v) for k, v in data.columns.items()}
    d = int(data.meta["d"])
    out = {}
    for name in dict.fromkeys(c["panel"].tolist()):
        s = c["panel"] == name
        M = np.zeros((d, d))
        M[c["row"][s].astype(int), c["col"][s].astype(int)] = c["value"][s]
        out[name] = M
    return out


def _rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def check_anisotropic(data, quick: bool) -> Outcome:
    """The heads form a +/- pair; each head's normalised KQ block and their mean are within
    :data:`SHAPE_MARGIN` of the normalised Sigma^-1 and closer to it than to the identity; each
    head has Sigma^-1's sign on every entry where |Sigma^-1| >= :data:`SIGN_MIN` (mean diagonal
    1); the effective preconditioner is within :data:`SHAPE_MARGIN` of Gamma*."""
    M = _matrices(data)
    S = M["sigma_inv_shape"]
    eye = np.eye(S.shape[0])
    pat = data.meta["patterns"]
    out = Outcome(facts={"configuration": pat["configuration"],
                         "relative_distances": data.meta["relative_distances"]})
    out.comparisons.append(bound("heads in the +/- configuration (1 = yes)",
                                 float(pat["configuration"] == "plus-minus"), "ge", 1.0,
                                 "the paper's pattern"))
    heads = [M["head1_shape"], M["head2_shape"]]
    mean = sum(heads) / 2
    strong = np.abs(S) >= SIGN_MIN
    for name, B in (("head 1", heads[0]), ("head 2", heads[1]), ("mean of the heads", mean)):
        out.comparisons.append(bound(f"{name}: distance to Sigma^-1 (normalised)", _rel(B, S),
                                     "le", SHAPE_MARGIN, "acceptance margin of the shape"))
        out.comparisons.append(bound(f"{name}: distance to Sigma^-1 minus distance to I",
                                     _rel(B, S) - _rel(B, eye), "le", 0.0,
                                     "closer to Sigma^-1 than to the isotropic pattern"))
        if name != "mean of the heads":
            wrong = int(np.sum(strong & (np.sign(B) != np.sign(S))))
            out.comparisons.append(bound(f"{name}: entries with the wrong sign (of "
                                         f"{int(strong.sum())} with |Sigma^-1| >= {SIGN_MIN})",
                                         float(wrong), "le", 0.0, "Sigma^-1's sign pattern"))
    P, G = M["effective"], M["gamma_star"]
    out.comparisons.append(bound("effective P: distance to Gamma*", _rel(P, G), "le",
                                 SHAPE_MARGIN, "acceptance margin of the preconditioner"))
    return out


#: trained effective steps within this distance of separate debiased GD (eta* ~ 0.92 on the
#: task's support, 0 off it) count as "implements separate GD"; measured at 10k Adam steps (seed 0):
#: at most 0.05 for H = 3 and 4
E_MARGIN = 0.1


def _multitask_E(data) -> dict:
    c = {k: np.asarray(v) for k, v in data.columns.items()}
    d, N = int(data.meta["d"]), int(data.meta["N"])
    out = {}
    for H in np.unique(c["H"]):
        s = (c["H"] == H) & (c["quantity"] == "E")
        E = np.full((N, d), np.nan)
        E[c["task"][s].astype(int), c["index"][s].astype(int)] = c["value"][s]
        out[int(H)] = E
    return out


def check_multitask(data, quick: bool) -> Outcome:
    """H >= 3: every effective step ``E_{n,i}`` within :data:`E_MARGIN` of separate debiased GD
    (``eta*(d_n)`` on ``S_n``, 0 off it), and at H = 3 at least one superposition head; H = 1, 2:
    both tasks get the same step on every coordinate (within :data:`E_MARGIN`).  The paper's H = 4
    picture (one +/- pair per task, after 500k steps) is reported, not asserted (as in
    ``softmax.multitask``)."""
    m = data.meta
    Es = _multitask_E(data)
    d, N = int(m["d"]), int(m["N"])
    target = np.zeros((N, d))
    for n, S in enumerate(m["supports"]):
        target[n, list(S)] = m["eta_sep"]
    out = Outcome(facts={"eta_sep": m["eta_sep"],
                         "superposition_heads": {H: m["models"][str(H)]["superposition_heads"]
                                                 for H in Es}})
    for H, E in Es.items():
        if H >= 3:
            out.comparisons.append(bound(f"H={H}: largest |E - separate debiased GD|",
                                         float(np.max(np.abs(E - target))), "le", E_MARGIN,
                                         "acceptance margin (eta* = %.3f on S_n, 0 off)"
                                         % m["eta_sep"]))
        else:
            out.comparisons.append(bound(f"H={H}: largest |E_task1 - E_task2| (one step for "
                                         f"both tasks)", float(np.max(np.abs(E[0] - E[1]))),
                                         "le", E_MARGIN, "acceptance margin"))
    if 3 in Es:
        out.comparisons.append(bound("H=3: superposition heads", float(len(
            m["models"]["3"]["superposition_heads"])), "ge", 1.0, "at least one"))
    if 4 in Es and m["models"]["4"]["superposition_heads"]:
        out.notes.append(f"H=4: superposition heads {m['models']['4']['superposition_heads']} "
                         f"after {m['models']['4']['steps']} steps; the paper's one +/- pair per "
                         f"task comes from 500k-step runs (reported, not asserted)")
    return out


#: a KQ x-block "is diagonal" when its diagonal carries at least this share of its Frobenius norm
#: (``diag_ratio``; an isotropic random 5 x 5 block has ~0.45)
DIAG_MIN = 0.9


def check_patterns(data, quick: bool) -> Outcome:
    """Every non-dummy head: KQ x-block diagonal (``diag_ratio >= DIAG_MIN``) and
    ``sign(omega_h) = sign(mu_h)``; H = 2: the heads form a +/- pair."""
    models = data.meta["models"]
    out = Outcome(facts={H: {"configuration": v["patterns"]["configuration"],
                             "eta_eff": v["patterns"]["eta_eff"]} for H, v in models.items()})
    for H, v in models.items():
        p = v["patterns"]
        live = [h for h in range(int(H)) if not p["dummy"][h]]
        out.comparisons.append(bound(f"H={H}: smallest KQ diagonal share of a non-dummy head",
                                     float(min(p["diag_ratio"][h] for h in live)), "ge",
                                     DIAG_MIN, "a diagonal x-block"))
        out.comparisons.append(bound(f"H={H}: heads with sign(omega) != sign(mu)",
                                     float(sum(not p["sign_match"][h] for h in live)), "le", 0.0,
                                     "sign(omega_h) = sign(mu_h)"))
    if "2" in models:
        out.comparisons.append(bound("H=2: heads in the +/- configuration (1 = yes)",
                                     float(models["2"]["patterns"]["configuration"]
                                           == "plus-minus"), "ge", 1.0, "the paper's pair"))
    return out


#: "settles at eta*": the effective step at the end within this relative distance of eta*
ETA_REL = 0.05
#: "overshoot and decay": the largest |omega_h| at least this much above its final value
OVERSHOOT = 0.1


def check_dynamics(data, quick: bool) -> Outcome:
    """For the trained model and for the reduced flow: final <mu, omega> within 5% of eta*;
    final |mu_1 + mu_2| below 5% of max |mu_h| (zero sum); each |omega_h| peaks at least 10%
    above its final value (overshoot, then decay); each |mu_h| ends within 5% of its largest
    value (growth)."""
    c = {k: np.asarray(v) for k, v in data.columns.items()}
    eta = float(data.meta["eta_star"])
    out = Outcome(facts={"eta_star": eta})
    for src in ("trained", "ode"):
        s = c["source"] == src
        if not s.any():
            out.notes.append(f"{src}: no rows (the reduced flow did not converge)")
            out.passed = False
            continue
        o = np.argsort(c["x"][s], kind="stable")
        col = {k: c[k][s][o].astype(float) for k in ("omega_1", "omega_2", "mu_1", "mu_2",
                                                      "eta_eff")}
        out.comparisons.append(bound(f"{src}: |<mu, omega> - eta*| / eta* at the end",
                                     abs(col["eta_eff"][-1] - eta) / eta, "le", ETA_REL,
                                     "settles at eta*"))
        mu_max = max(np.abs(col["mu_1"]).max(), np.abs(col["mu_2"]).max())
        out.comparisons.append(bound(f"{src}: |mu_1 + mu_2| / max |mu_h| at the end",
                                     abs(col["mu_1"][-1] + col["mu_2"][-1]) / mu_max, "le",
                                     ETA_REL, "zero sum"))
        for h in (1, 2):
            w = np.abs(col[f"omega_{h}"])
            out.comparisons.append(bound(f"{src}: head {h}: max |omega| / final |omega| - 1",
                                         w.max() / w[-1] - 1, "ge", OVERSHOOT,
                                         "overshoot, then decay"))
            mu = np.abs(col[f"mu_{h}"])
            out.comparisons.append(bound(f"{src}: head {h}: final |mu| / max |mu|",
                                         mu[-1] / mu.max(), "ge", 1 - ETA_REL, "growth"))
    return out


def check_heads(data, quick: bool) -> Outcome:
    """At every test length: each trained model with H >= 2 within 4 Monte Carlo standard errors
    of the exact debiased-GD risk at eta*(40); the trained H = 1 within 4 standard errors (of the
    difference) of the single-head optimum; every trained risk above the Bayes risk."""
    from icl_companion.validation.checks import compare

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    row = {(m, int(L)): (float(r), float(e)) for m, L, r, e in zip(c["method"], c["L"],
                                                                   c["risk"], c["se"])}
    out = Outcome()
    trained = sorted({m for m in c["method"] if m.startswith("trained")})
    for L in sorted({int(x) for x in c["L"]}):
        dgd = row[("debiased GD, eta*(40)", L)][0]
        bayes = row[("Bayes (ridge, xi = d/L)", L)][0]
        for m in trained:
            r, e = row[(m, L)]
            if m != "trained H=1":
                out.comparisons.append(compare(f"L'={L}, {m}: risk vs debiased GD (exact)",
                                               dgd, r, e))
            out.comparisons.append(bound(f"L'={L}, {m}: risk minus Bayes", r - bayes, "ge",
                                         4 * e, "above the Bayes risk (4 s.e.)"))
        r1, e1 = row[("trained H=1", L)]
        rs, es = row[("single-head optimum (1/sqrt(d))", L)]
        out.comparisons.append(compare(f"L'={L}, trained H=1 vs the single-head optimum (MC)",
                                       rs, r1, float(np.hypot(e1, es))))
    return out


def check_length(data, quick: bool) -> Outcome:
    """The trained linear attention (1/40 hard-coded) within 4 standard errors of the exact
    theory at every L'; its risk at the largest L' above its risk at L = 40 (by 4 s.e. of the
    difference); softmax attention (H = 2) at the largest L' below its risk at L = 40."""
    from icl_companion.validation.checks import compare

    c = {k: np.asarray(v) for k, v in data.columns.items()}
    row = {(m, int(L)): (float(r), float(e)) for m, L, r, e in zip(c["method"], c["L"],
                                                                   c["risk"], c["se"])}
    lin, sm, th = ("linear attention (1/40 hard-coded)", "softmax attention H=2",
                   "theory: linear, L_train=40")
    Ls = sorted({int(x) for x in c["L"]})
    L0, L1 = int(data.meta["L_train"]), Ls[-1]
    out = Outcome()
    for L in Ls:
        r, e = row[(lin, L)]
        out.comparisons.append(compare(f"L'={L}: linear attention vs exact theory",
                                       row[(th, L)][0], r, e))
    for name, side, word in ((lin, "ge", "rises again (no length generalisation)"),
                             (sm, "le", "keeps improving")):
        (r1, e1), (r0, e0) = row[(name, L1)], row[(name, L0)]
        se = float(np.hypot(e1, e0))
        out.comparisons.append(bound(f"{name}: risk at L'={L1} minus at L'={L0}", r1 - r0, side,
                                     4 * se if side == "ge" else -4 * se,
                                     f"{word}: 4 s.e. ({se:.2g})"))
    return out
