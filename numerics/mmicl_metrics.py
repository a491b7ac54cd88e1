"""Circuit metrics of the mmicl testbed, from attention matrices (NumPy, model-agnostic).

Definitions of Huang, Roth, Bouniot, Xu, Akata, "Dissecting multimodal in-context learning" (arXiv
2601.20796; section numbers not known) as in the authors' analysis code
(``docs/derivations/mmicl.md#circuit-metrics``), with the TLA slot quirk of the authors' unimodal
code *fixed* (all ``N`` label slots; the quirk is available as an explicit flag).

Conventions
-----------
``A`` is a layer's attention, an array ``(..., H, T, T)``: row = attending (query) position,
column = attended position, rows sum to 1 over the causal past.  The leading axes ``...`` are the
sequences (usually ``(S,)``); per-sequence metrics have shape ``(..., H)`` and
:func:`circuit_metrics` averages them over the sequences (the expectation ``E`` of the
definitions).
``match`` is the boolean ``(..., N)`` array ``y_i == y_q`` (the set ``M``: a *label* match, not a
class match; :attr:`icl_companion.numerics.mmicl_data.UniBatch.match`).  Positions come from a layout
(:func:`icl_companion.numerics.mmicl_data.unimodal_layout` / ``multimodal_layout``): label slots ``p_i``
(``2i+1`` unimodal, ``3i+2`` multimodal), item slots (``2i``; ``3i`` M1, ``3i+1`` M2) and the readout
position ``q = T - 1``.  Mean-over-an-empty-set terms are 0.

>>> T = 5; A = np.tril(np.ones((1, T, T))) / np.arange(1, T + 1)[:, None]  # uniform causal
>>> previous_token_strength(A).round(4).tolist()   # mean of 1/2, 1/3, 1/4, 1/5
[0.3208]
>>> tla(A, label_pos=[1, 3]).tolist()              # the query row gives 1/5 to each of 2 labels
[0.4]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["previous_token_strength", "label_to_item", "tila", "tiia", "induction_strength",
           "tla", "cla", "accuracy", "circuit_metrics", "METRIC_NAMES"]

METRIC_NAMES = ("prev1", "prev2", "ila", "tila", "tiia", "tiia2", "ind", "tla")


# ---------------------------------------------------------------------------------- checks
def _attn(A) -> np.ndarray:
    A = np.asarray(A, dtype=float)
    if A.ndim < 3 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"attention has shape {A.shape}; expected (..., heads, T, T) with "
                         f"square last two axes")
    return A


def _positions(pos, T: int, name: str) -> np.ndarray:
    p = np.asarray(pos)
    if p.ndim != 1 or p.size == 0 or not np.issubdtype(p.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty 1-d array of integer positions, got {pos!r}")
    if p.min() < -T or p.max() >= T:
        raise ValueError(f"{name} = {p.tolist()} has positions outside [0, {T - 1}] (T = {T})")
    return p % T


def _query(q: int, T: int) -> int:
    q = int(q)
    if not -T <= q < T:
        raise ValueError(f"query_pos = {q} is outside [0, {T - 1}] (T = {T})")
    return q % T


def _match(match, n_slots: int, lead: tuple) -> np.ndarray:
    m = np.asarray(match)
    if m.dtype != bool:
        raise ValueError(f"match must be a boolean array (labels == target), got dtype {m.dtype}")
    if m.shape[-1:] != (n_slots,):
        raise ValueError(f"match has shape {m.shape}; its last axis must be the {n_slots} slots")
    try:
        np.broadcast_shapes(m.shape[:-1], lead)
    except ValueError:
        raise ValueError(f"match leading shape {m.shape[:-1]} does not broadcast with the "
                         f"attention's sequence axes {lead}") from None
    return m[..., None, :]  # (..., 1, N): broadcast over heads


def _masked_mean(vals: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of ``vals (..., H, N)`` over the slots where ``mask (..., 1, N)``; 0 if none."""
    cnt = mask.sum(-1)
    s = np.where(mask, vals, 0.0).sum(-1)
    return np.where(cnt > 0, s / np.maximum(cnt, 1), 0.0)


# --------------------------------------------------------------------------------- metrics
def previous_token_strength(A, offset: int = 1) -> np.ndarray:
    """``PHStrength^(o) = 1/(T-o) sum_{t=o}^{T-1} A_{t, t-o}``, per sequence and head.

    ``offset = 1`` is the previous-token head of the unimodal circuit (`prev_1_attn`);
    ``offset = 2`` (`prev_2_attn`) is used in the multimodal analysis because the label sits two
    positions after its M1 item.

    References
    ----------
    arXiv 2601.20796 (authors' code ``prev_1_attn``, ``prev_2_attn``);
    ``docs/derivations/mmicl.md#circuit-metrics``.
    """
    A = _attn(A)
    T = A.shape[-1]
    if not 1 <= int(offset) < T:
        raise ValueError(f"offset = {offset} is outside [1, {T - 1}] (T = {T})")
    t = np.arange(int(offset), T)
    return A[..., t, t - int(offset)].mean(-1)


def label_to_item(A, label_pos, item_pos) -> np.ndarray:
    """``ILA = 1/N sum_i A_{p_i, x_i}``: each label slot's attention to its own exemplar item.

    Reddy's layer-1 "item-label association" (``ILA_1`` rises with the ICL transition);
    for ``item_pos = label_pos - 1`` it is the previous-token strength restricted to label rows.

    References
    ----------
    Reddy (ICLR 2024), arXiv 2312.03002; arXiv 2601.20796;
    ``docs/derivations/mmicl.md#circuit-metrics``.
    """
    A = _attn(A)
    T = A.shape[-1]
    p = _positions(label_pos, T, "label_pos")
    x = _positions(item_pos, T, "item_pos")
    if p.shape != x.shape:
        raise ValueError(f"label_pos and item_pos must have the same length, got {p.size} and "
                         f"{x.size}")
    return A[..., p, x].mean(-1)


def tila(A, match, label_pos, query_pos: int = -1) -> np.ndarray:
    """Target -> correct labels: ``TILA = 1/|M| sum_{i in M} A_{q, p_i}`` (0 if ``M`` is empty).

    References
    ----------
    arXiv 2601.20796 (Reddy's target-item-label association);
    ``docs/derivations/mmicl.md#circuit-metrics``.
    """
    A = _attn(A)
    T = A.shape[-1]
    p = _positions(label_pos, T, "label_pos")
    m = _match(match, p.size, A.shape[:-3])
    return _masked_mean(A[..., _query(query_pos, T), p], m)


def tiia(A, match, item_pos, query_pos: int = -1) -> np.ndarray:
    """Target -> items whose label is correct: ``1/|M| sum_{i in M} A_{q, x_i}``.

    For the multimodal format pass the M1 (``3i``) or the M2 (``3i+1``) item positions.

    References
    ----------
    arXiv 2601.20796; ``docs/derivations/mmicl.md#circuit-metrics``.
    """
    A = _attn(A)
    T = A.shape[-1]
    x = _positions(item_pos, T, "item_pos")
    m = _match(match, x.size, A.shape[:-3])
    return _masked_mean(A[..., _query(query_pos, T), x], m)


def induction_strength(A, match, label_pos, query_pos: int = -1) -> np.ndarray:
    """``IndStrength = mean_{i in M} A_{q,p_i} - mean_{i not in M} A_{q,p_i}``; empty means are 0.

    References
    ----------
    arXiv 2601.20796 (authors' code ``IH_strength``); ``docs/derivations/mmicl.md#circuit-metrics``.
    """
    A = _attn(A)
    T = A.shape[-1]
    p = _positions(label_pos, T, "label_pos")
    m = _match(match, p.size, A.shape[:-3])
    row = A[..., _query(query_pos, T), p]
    return _masked_mean(row, m) - _masked_mean(row, ~m)


def tla(A, label_pos, query_pos: int = -1, authors_unimodal_quirk: bool = False) -> np.ndarray:
    """Target -> all labels: ``TLA = sum_{i=0}^{N-1} A_{q, p_i}``.

    ``authors_unimodal_quirk=True`` reproduces the authors' unimodal code, which sums only the
    first ``floor((T-1)/3)`` label slots (5 of 8 for ``T = 17``).  Off by
    default: the metric is defined over all ``N`` label slots.

    References
    ----------
    arXiv 2601.20796; ``docs/derivations/mmicl.md#circuit-metrics``.
    """
    A = _attn(A)
    T = A.shape[-1]
    p = _positions(label_pos, T, "label_pos")
    if authors_unimodal_quirk:
        p = p[: (T - 1) // 3]
    return A[..., _query(query_pos, T), p].sum(-1)


def cla(pred, labels) -> np.ndarray:
    """Context-label accuracy indicator ``1[yhat in {y_1..y_N}]`` per sequence (as float).

    ``pred (...)`` predicted labels (e.g. ``logits.argmax(-1)``), ``labels (..., N)``.

    References
    ----------
    arXiv 2601.20796 (authors' code ``prob_icl_labels``);
    ``docs/derivations/mmicl.md#circuit-metrics``.
    """
    pred, labels = np.asarray(pred), np.asarray(labels)
    if labels.shape[:-1] != pred.shape:
        raise ValueError(f"labels shape {labels.shape} must be pred shape {pred.shape} + (N,)")
    return (labels == pred[..., None]).any(-1).astype(float)


def accuracy(pred, target) -> np.ndarray:
    """``1[yhat == y_q]`` per sequence (as float)."""
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {pred.shape} differs from target shape {target.shape}")
    return (pred == target).astype(float)


# ----------------------------------------------------------------------------- aggregation
def circuit_metrics(attn: Sequence, match, layout, logits=None, labels=None, target=None,
                    authors_unimodal_quirk: bool = False) -> dict:
    """All metrics of every layer, averaged over the sequences.

    Parameters
    ----------
    attn : sequence of arrays ``(S, H, T, T)``
        One attention array per layer (layer 1 first).
    match : bool array ``(S, N)``
        ``labels == target`` of the evaluated batch (``batch.match``).
    layout : Layout
        ``batch.layout``: ``label_pos``, ``item_pos`` (and ``item2_pos`` for multimodal batches).
    logits, labels, target : optional
        ``logits (S, n_labels)``: adds ``acc`` and ``cla`` (needs ``labels (S, N)``, ``target (S,)``).

    Returns
    -------
    dict
        ``name -> array (n_layers, H)`` for ``prev1, prev2, ila, tila, tiia, ind, tla`` (and
        ``tiia2``, M2 items, for multimodal layouts), plus scalars ``acc``, ``cla`` if logits are
        given.  E.g. the "circuit strength" of the prose is ``ind[1]`` with ``prev1[0]``.
    """
    out = {k: [] for k in METRIC_NAMES}
    mm = getattr(layout, "item2_pos", None) is not None
    S = np.shape(match)[0] if np.ndim(match) == 2 else None
    for layer, A in enumerate(attn):
        A = _attn(A)
        if A.ndim != 4 or A.shape[0] != S:
            raise ValueError(f"layer {layer + 1}: attention has shape {A.shape}; expected "
                             f"(S, heads, T, T) with S = {S} sequences, as in match (S, N)")
        q = layout.query_pos
        out["prev1"].append(previous_token_strength(A, 1).mean(0))
        out["prev2"].append(previous_token_strength(A, 2).mean(0))
        out["ila"].append(label_to_item(A, layout.label_pos, layout.label_pos - (2 if mm else 1))
                          .mean(0))
        out["tila"].append(tila(A, match, layout.label_pos, q).mean(0))
        out["tiia"].append(tiia(A, match, layout.item_pos, q).mean(0))
        if mm:
            out["tiia2"].append(tiia(A, match, layout.item2_pos, q).mean(0))
        out["ind"].append(induction_strength(A, match, layout.label_pos, q).mean(0))
        out["tla"].append(tla(A, layout.label_pos, q, authors_unimodal_quirk).mean(0))
    res = {k: np.array(v) for k, v in out.items() if v}
    if logits is not None:
        if labels is None or target is None:
            raise ValueError("logits given without labels and target")
        pred = np.asarray(logits).argmax(-1)
        res["acc"] = float(accuracy(pred, target).mean())
        res["cla"] = float(cla(pred, labels).mean())
    return res
