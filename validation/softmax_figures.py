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

__all__ = ["check_anisotropic", "SHAPE_MARGIN", "SIGN_MIN"]

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
