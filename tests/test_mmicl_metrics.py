"""mmicl circuit metrics on hand-built attention matrices
(docs/derivations/mmicl.md#circuit-metrics)."""

import numpy as np
import pytest

from icl_companion.numerics import mmicl_metrics as mm
from icl_companion.numerics.mmicl_data import GMMConfig, GMMTask, multimodal_layout, unimodal_layout

N = 8
LAY = unimodal_layout(N)
T = LAY.T  # 17


def _uniform_causal(T, lead=()):
    A = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    return np.broadcast_to(A, lead + (T, T)).copy()


def _prev_token(T, offset=1):
    """Every row t >= offset attends fully to t - offset; earlier rows to themselves."""
    A = np.zeros((T, T))
    for t in range(T):
        A[t, t - offset if t >= offset else t] = 1.0
    return A


def _induction(T, match, label_pos, weight=1.0):
    """Causal-uniform rows, except the query row: ``weight`` spread over the matching label slots,
    the rest uniform over all T positions."""
    A = _uniform_causal(T)
    A[-1] = (1 - weight) / T
    A[-1, label_pos[match]] += weight / match.sum()
    return A


def test_previous_token_head():
    A = np.stack([_prev_token(T, 1), _prev_token(T, 2)])[None]  # (1, H=2, T, T)
    np.testing.assert_allclose(mm.previous_token_strength(A, 1), [[1.0, 0.0]])
    np.testing.assert_allclose(mm.previous_token_strength(A, 2), [[0.0, 1.0]])
    # uniform causal attention: mean over t = 1..T-1 of 1/(t+1)
    U = _uniform_causal(T, (3, 1))
    ref = np.mean(1.0 / np.arange(2, T + 1))
    np.testing.assert_allclose(mm.previous_token_strength(U, 1), np.full((3, 1), ref))
    ref2 = np.mean(1.0 / np.arange(3, T + 1))
    np.testing.assert_allclose(mm.previous_token_strength(U, 2), np.full((3, 1), ref2))
    # ILA: a previous-token head has every label slot on its item
    np.testing.assert_allclose(mm.label_to_item(A, LAY.label_pos, LAY.item_pos), [[1.0, 0.0]])


def test_induction_head_metrics():
    match = np.zeros(N, bool)
    match[[1, 5]] = True
    A = _induction(T, match, LAY.label_pos, weight=0.6)[None, None]  # (S=1, H=1, T, T)
    m = match[None]
    # matched slots: 0.3 + 0.4/17 each; unmatched: 0.4/17
    base = 0.4 / T
    np.testing.assert_allclose(mm.tila(A, m, LAY.label_pos), [[0.3 + base]])
    np.testing.assert_allclose(mm.induction_strength(A, m, LAY.label_pos), [[0.3]])
    np.testing.assert_allclose(mm.tla(A, LAY.label_pos), [[0.6 + N * base]])
    np.testing.assert_allclose(mm.tiia(A, m, LAY.item_pos), [[base]])
    # the authors' unimodal quirk sums only the first floor(16/3) = 5 label slots
    np.testing.assert_allclose(mm.tla(A, LAY.label_pos, authors_unimodal_quirk=True),
                               [[0.3 + 5 * base]])
    # uniform attention carries no induction signal
    U = _uniform_causal(T, (1, 1))
    np.testing.assert_allclose(mm.induction_strength(U, m, LAY.label_pos), [[0.0]], atol=1e-15)
    np.testing.assert_allclose(mm.tla(U, LAY.label_pos), [[N / T]])


def test_empty_sets_give_zero_terms():
    A = _uniform_causal(T, (2, 1))
    m = np.array([[False] * N, [True] * N])
    np.testing.assert_allclose(mm.tila(A, m, LAY.label_pos)[:, 0], [0.0, 1 / T])
    # all unmatched: IndStrength = 0 - mean; all matched: mean - 0
    np.testing.assert_allclose(mm.induction_strength(A, m, LAY.label_pos)[:, 0], [-1 / T, 1 / T])


def test_per_sequence_per_head_broadcasting():
    """Metrics are per (sequence, head); match broadcasts over heads."""
    S, H = 4, 3
    rng = np.random.default_rng(0)
    match = rng.random((S, N)) < 0.4
    match[:, 0] = True
    A = np.empty((S, H, T, T))
    for s in range(S):
        A[s, 0] = _induction(T, match[s], LAY.label_pos, 1.0)
        A[s, 1] = _prev_token(T)
        A[s, 2] = _uniform_causal(T)
    ind = mm.induction_strength(A, match, LAY.label_pos)
    assert ind.shape == (S, H)
    np.testing.assert_allclose(ind[:, 0], 1.0 / match.sum(1))
    # the previous-token head's query row sits on the last label slot (i = N-1)
    last = match[:, -1]
    np.testing.assert_allclose(ind[:, 1], np.where(last, 1 / match.sum(1), -1 / (~match).sum(1)))
    np.testing.assert_allclose(ind[:, 2], 0.0, atol=1e-15)
    np.testing.assert_allclose(mm.tla(A, LAY.label_pos)[:, 0], 1.0)
    # leading axes beyond the sequences, e.g. (steps, S, H, T, T)
    ind2 = mm.induction_strength(np.stack([A, A]), match, LAY.label_pos)
    np.testing.assert_allclose(ind2, np.stack([ind, ind]))


def test_multimodal_positions():
    lay = multimodal_layout(N)
    A = np.zeros((lay.T, lay.T))
    A[np.arange(lay.T), np.maximum(np.arange(lay.T) - 2, 0)] = 1.0  # offset-2 head
    A[-1] = 0
    A[-1, lay.item2_pos[3]] = 1.0  # query -> M2 item of slot 3
    match = np.zeros((1, N), bool)
    match[0, 3] = True
    A = A[None, None]
    assert mm.previous_token_strength(A, 2)[0, 0] == pytest.approx((lay.T - 3) / (lay.T - 2))
    assert mm.tiia(A, match, lay.item2_pos, lay.query_pos)[0, 0] == 1.0
    assert mm.tiia(A, match, lay.item_pos, lay.query_pos)[0, 0] == 0.0
    assert mm.label_to_item(A, lay.label_pos, lay.item_pos)[0, 0] == 1.0  # label 3i+2 -> M1 3i
    out = mm.circuit_metrics([A], match, lay)  # one layer, (S=1, H=1, T, T)
    assert out["tiia2"][0, 0] == 1.0 and out["tiia"][0, 0] == 0.0 and out["ila"][0, 0] == 1.0
    assert out["tla"][0, 0] == 0.0 and out["ind"][0, 0] == 0.0


def test_cla_and_accuracy():
    labels = np.array([[1, 2, 3], [4, 4, 4], [0, 1, 0]])
    pred = np.array([3, 1, 0])
    target = np.array([3, 4, 1])
    np.testing.assert_array_equal(mm.cla(pred, labels), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(mm.accuracy(pred, target), [1.0, 0.0, 0.0])


def test_circuit_metrics_on_a_batch():
    task = GMMTask(GMMConfig(K=64, L=8, N=N, D=4, B=2), seed=0)
    b = task.eval_set("IC", 50, np.random.default_rng(0))
    l1 = np.broadcast_to(_prev_token(T), (50, 1, T, T))
    l2 = np.stack([_induction(T, b.match[s], b.layout.label_pos, 1.0) for s in range(50)])[:, None]
    logits = np.eye(8)[b.target] + 0.1 * np.eye(8)[(b.target + 1) % 8]
    out = mm.circuit_metrics([l1, l2], b.match, b.layout, logits, b.labels, b.target)
    assert out["prev1"].shape == (2, 1) and out["prev1"][0, 0] == 1.0
    assert out["tla"][1, 0] == pytest.approx(1.0)
    assert out["ind"][1, 0] == pytest.approx(np.mean(1.0 / b.match.sum(1)))
    assert out["acc"] == 1.0 and out["cla"] == 1.0
    assert "tiia2" not in out


@pytest.mark.parametrize("call,msg", [
    (lambda: mm.previous_token_strength(np.zeros((2, 3, 4))), "square last two axes"),
    (lambda: mm.previous_token_strength(np.zeros((1, 5, 5)), offset=5), r"offset = 5 is outside"),
    (lambda: mm.tla(np.zeros((1, 5, 5)), [1, 7]), r"label_pos = \[1, 7\] has positions outside"),
    (lambda: mm.tila(np.zeros((2, 1, 5, 5)), np.ones((2, 3), bool), [1, 3]), "last axis must be"),
    (lambda: mm.tila(np.zeros((2, 1, 5, 5)), np.ones((3, 2), bool), [1, 3]), "does not broadcast"),
    (lambda: mm.tila(np.zeros((1, 1, 5, 5)), np.ones((1, 2)), [1, 3]), "must be a boolean"),
    (lambda: mm.tla(np.zeros((1, 5, 5)), [1, 3], query_pos=9), "query_pos = 9 is outside"),
    (lambda: mm.circuit_metrics([np.zeros((1, 17, 17))], np.ones((4, 8), bool), LAY),
     r"layer 1: attention has shape \(1, 17, 17\); expected \(S, heads, T, T\) with S = 4"),
])
def test_bad_inputs(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_identities_on_random_causal_attention():
    """Random softmax attention: bounds, and TLA = |M| TILA + |M^c| (TILA - IndStrength)."""
    rng = np.random.default_rng(3)
    S, H = 200, 2
    logits = rng.normal(size=(S, H, T, T)) * 2
    logits = np.where(np.tril(np.ones((T, T), bool)), logits, -np.inf)
    A = np.exp(logits - logits.max(-1, keepdims=True))
    A /= A.sum(-1, keepdims=True)
    match = rng.random((S, N)) < 0.3
    match[0] = True  # an all-matched sequence: M^c empty
    ti = mm.tila(A, match, LAY.label_pos)
    ind = mm.induction_strength(A, match, LAY.label_pos)
    tl = mm.tla(A, LAY.label_pos)
    k = match.sum(1)[:, None]
    both = (k > 0) & (k < N)
    np.testing.assert_allclose(np.where(both, k * ti + (N - k) * (ti - ind), tl), tl, rtol=1e-12)
    assert np.all((0 <= ti) & (ti <= 1) & (0 <= tl) & (tl <= 1 + 1e-12) & (np.abs(ind) <= 1))
    np.testing.assert_allclose(ind[0], ti[0])  # empty complement contributes 0
    pt = mm.previous_token_strength(A)
    assert pt.shape == (S, H) and np.all((pt > 0) & (pt < 1))
