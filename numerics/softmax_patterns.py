"""Pattern metrics of a trained one-layer multi-head attention (He, Pan, Chen, Yang 2025).

The paper's Finding 1 is that every head's circuits take the form

    KQ^h = [[omega_h I_d, *], [0, *]],      OV^h = [[*], [mu_h]]   (last entry only),

with ``sign(omega_h) = sign(mu_h)``; Finding 2 (``H >= 2``) that ``|omega_h|`` is the same ``gamma``
for every non-dummy head and that ``sum_h mu_h = 0`` (zero-sum OV).  The predictor is then
approximately debiased GD with the effective step ``eta_eff = sum_h mu_h omega_h``.

This module measures these statements on the circuits ``KQ (H, D, D)``, ``OV (H, D, N)`` returned
by :func:`icl_companion.numerics.softmax_attention.kq_circuits` / ``ov_circuits`` (or logged by the trainer):

* ``diag_ratio`` ``||diag KQ_{1:d,1:d}|| / ||KQ_{1:d,1:d}||_F`` (1 for a diagonal block),
* ``diag_var`` ``var(diag) / mean(diag)^2`` (0 for a multiple of the identity),
* ``ov_last_ratio`` ``|OV_{d+1}| / ||OV||`` (1 for last-entry-only),
* ``omega_h`` (mean of the diagonal), ``mu_h`` (last OV entry), sign matching, dummy heads,
  zero-sum ``|sum mu| / sum |mu|``, homogeneity of ``|omega|``, effective step.

The three ratio metrics are those of the authors' ``Metrics_pattern`` bar plot (code
``plots.ipynb``).

References
----------
He, Pan, Chen, Yang, "In-Context Linear Regression Demystified", ICML 2025, arXiv:2503.12734,
Key Findings 1-2 of the authors' blog post, Theorem 1(1) (``eta_eff = <mu, omega>``); code
``XintianPan/ICL_linear`` ``plots.ipynb`` (``Metrics_pattern``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["extract_omega_mu", "HeadPatterns", "head_patterns", "omega_mu_history",
           "multitask_omega_mu"]


def _check(KQ: np.ndarray, OV: np.ndarray, n_out: int):
    KQ = np.asarray(KQ, dtype=float)
    OV = np.asarray(OV, dtype=float)
    if OV.ndim == 2:
        OV = OV[..., None]
    if KQ.ndim != 3 or KQ.shape[1] != KQ.shape[2]:
        raise ValueError(f"KQ must have shape (H, D, D), got {KQ.shape}")
    if OV.ndim != 3 or OV.shape[:2] != KQ.shape[:2]:
        raise ValueError(f"OV must have shape (H, D, N) with KQ's (H, D) = {KQ.shape[:2]}, "
                         f"got {OV.shape}")
    if not 1 <= n_out < KQ.shape[1]:
        raise ValueError(f"n_out must lie in [1, D-1] = [1, {KQ.shape[1] - 1}], got {n_out}")
    return KQ, OV


def extract_omega_mu(KQ: np.ndarray, OV: np.ndarray):
    """Per-head ``omega_h`` (mean of the ``x``-block diagonal of ``KQ^h``) and ``mu_h`` (last entry
    of ``OV^h``) of a single-output model.  Returns two arrays of shape ``(H,)``.

    >>> KQ = np.zeros((2, 3, 3)); KQ[0, :2, :2] = 0.1 * np.eye(2); KQ[1, :2, :2] = -0.1 * np.eye(2)
    >>> OV = np.zeros((2, 3, 1)); OV[0, 2] = 5.0; OV[1, 2] = -5.0
    >>> extract_omega_mu(KQ, OV)
    (array([ 0.1, -0.1]), array([ 5., -5.]))
    """
    KQ, OV = _check(KQ, OV, 1)
    d = KQ.shape[1] - 1
    omega = np.einsum("hii->h", KQ[:, :d, :d]) / d
    return omega, OV[:, d, 0].copy()


def omega_mu_history(KQ_log: np.ndarray, OV_log: np.ndarray):
    """``omega``, ``mu`` of shape ``(T, H)`` from the trainer's snapshots ``(T, H, D, D)``,
    ``(T, H, D, 1)``."""
    KQ_log = np.asarray(KQ_log)
    d = KQ_log.shape[-1] - 1
    omega = np.einsum("thii->th", KQ_log[:, :, :d, :d]) / d
    return omega, np.asarray(OV_log)[:, :, d, 0].copy()


def multitask_omega_mu(KQ: np.ndarray, OV: np.ndarray, n_out: int):
    """Multi-task circuits (``docs/derivations/softmax.md#multi-task-separate-debiased-gd``):
    ``omega_h`` = the diagonal of the ``x`` block of ``KQ^h`` (shape ``(H, d)``), ``mu_h`` = the
    diagonal of the ``y`` block of ``OV^h`` (``(H, N)``: head ``h``'s weight of response ``k`` in
    output ``k``)."""
    KQ, OV = _check(KQ, OV, n_out)
    d = KQ.shape[1] - n_out
    omega = np.einsum("hii->hi", KQ[:, :d, :d])
    mu = np.einsum("hkk->hk", OV[:, d:, :])
    return omega, mu


@dataclass
class HeadPatterns:
    """Pattern metrics of a single-output model (arrays are per head)."""

    omega: np.ndarray
    mu: np.ndarray
    diag_ratio: np.ndarray
    diag_var: np.ndarray
    ov_last_ratio: np.ndarray
    dummy: np.ndarray          # heads whose contribution |mu_h omega_h| is negligible
    sign_match: np.ndarray     # sign(omega_h) == sign(mu_h) (True for dummy heads by convention)
    eta_eff: float             # sum_h mu_h omega_h
    zero_sum: float            # |sum_h mu_h| / sum_h |mu_h| over non-dummy heads
    omega_spread: float        # (max - min) / mean of |omega_h| over non-dummy heads
    configuration: str         # "single" | "plus-minus" | "same-sign"

    def as_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


def head_patterns(KQ: np.ndarray, OV: np.ndarray, dummy_tol: float = 0.05) -> HeadPatterns:
    """All pattern metrics of a single-output model.

    Parameters
    ----------
    KQ, OV : ndarray
        Circuits ``(H, D, D)`` and ``(H, D, 1)`` (or ``(H, D)``).
    dummy_tol : float
        A head is a dummy if ``|mu_h omega_h| < dummy_tol * sum_h |mu_h omega_h|``.

    Notes
    -----
    ``configuration`` is ``"single"`` for one active head, ``"plus-minus"`` when the active heads
    have both signs (the paper's debiased-GD solution) and ``"same-sign"`` when all active heads
    share one sign (a Nadaraya-Watson-like configuration that some seeds visit for a long time).

    References
    ----------
    He et al. (2025), Findings 1-2; code ``plots.ipynb`` ``Metrics_pattern``.
    """
    if not 0 <= dummy_tol < 1:
        raise ValueError(f"dummy_tol must lie in [0, 1), got {dummy_tol}")
    KQ, OV = _check(KQ, OV, 1)
    d = KQ.shape[1] - 1
    B = KQ[:, :d, :d]
    diag = np.einsum("hii->hi", B)
    omega, mu = extract_omega_mu(KQ, OV)
    with np.errstate(divide="ignore", invalid="ignore"):
        diag_ratio = np.linalg.norm(diag, axis=1) / np.linalg.norm(B, axis=(1, 2))
        diag_var = diag.var(axis=1) / diag.mean(axis=1) ** 2
        ov_last = np.abs(OV[:, d, 0]) / np.linalg.norm(OV[:, :, 0], axis=1)
    contrib = np.abs(mu * omega)
    dummy = contrib < dummy_tol * contrib.sum()
    act = ~dummy
    sign_match = np.where(dummy, True, np.sign(omega) == np.sign(mu))
    abs_mu = np.abs(mu[act])
    zero_sum = float(abs(mu[act].sum()) / abs_mu.sum()) if abs_mu.sum() > 0 else float("nan")
    w = np.abs(omega[act])
    spread = float((w.max() - w.min()) / w.mean()) if w.size else float("nan")
    signs = set(np.sign(omega[act]).tolist())
    if act.sum() == 1:
        conf = "single"
    elif len(signs) > 1:
        conf = "plus-minus"
    else:
        conf = "same-sign"
    return HeadPatterns(omega, mu, diag_ratio, diag_var, ov_last, dummy, sign_match,
                        float(np.sum(mu * omega)), zero_sum, spread, conf)
