"""mmicl data: determinism, layout, burstiness, label swaps, Zipf law, multimodal pairing, bad input."""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from icl_companion.numerics import mmicl_data as md
from icl_companion.theory import mmicl as tm
from icl_companion.theory.registry import get


def _uni(**kw):
    base = dict(K=256, L=8, N=8, D=5, B=2, p_B=0.6, p_C=0.3, alpha=1.0, K_c=16, ape=20)
    base.update(kw)
    return md.GMMTask(md.GMMConfig(**base), seed=3)


def _mm(**kw):
    base = dict(K1=256, K2=64, L1=8, L2=4, N=8, D1=6, D2=5, B=2, p_B=0.6, p_C=0.3, alpha1=1.0,
                alpha2=0.5, K_c1=16, ape=30)
    base.update(kw)
    return md.MMTask(md.MMConfig(**base), seed=4)


# ----------------------------------------------------------------------------- determinism
def test_same_seed_same_batch_and_different_seed_differs():
    t = _uni()
    a, b = (t.sample(64, np.random.default_rng(11)) for _ in range(2))
    for f in ("tokens", "target", "labels", "classes", "novel", "bursty", "shift"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    c = t.sample(64, np.random.default_rng(12))
    assert not np.array_equal(a.tokens, c.tokens)
    # the task itself is a function of its seed
    assert np.array_equal(_uni().mu, t.mu) and np.array_equal(_uni().lam, t.lam)
    m = _mm()
    x, y = (m.sample(32, np.random.default_rng(5)) for _ in range(2))
    for f in ("x1", "x2", "label_tokens", "target", "labels", "classes1", "classes2", "onehot"):
        assert np.array_equal(getattr(x, f), getattr(y, f)), f
    s1, s2 = t.eval_sets(50, seed=2), t.eval_sets(50, seed=2)
    assert all(np.array_equal(s1[k].tokens, s2[k].tokens) for k in md.EVAL_SETS)


# ---------------------------------------------------------------------------------- layout
def test_unimodal_layout_and_token_contents():
    t = _uni(eps=0.0, p_C=0.0)
    b = t.sample(40, np.random.default_rng(0))
    c, lay = t.config, b.layout
    assert b.tokens.shape == (40, 2 * c.N + 1, c.ape + c.D) and b.tokens.dtype == np.float32
    assert lay.item_pos.tolist() == list(range(0, 16, 2)) and lay.query_pos == 16
    P = c.ape
    # eps = 0: items are exactly the prototypes, labels exactly the label vectors
    np.testing.assert_array_equal(b.tokens[:, lay.item_pos, P:], t.mu[b.classes[:, :-1]])
    np.testing.assert_array_equal(b.tokens[:, lay.query_pos, P:], t.mu[b.classes[:, -1]])
    np.testing.assert_array_equal(b.tokens[:, lay.label_pos, P:], t.lam[b.labels])
    np.testing.assert_array_equal(b.labels, b.classes[:, :-1] % c.L)
    np.testing.assert_array_equal(b.target, b.classes[:, -1] % c.L)
    # APE: one-hot e_{shift + t}, shift in [0, P - T]
    oh = b.tokens[:, :, :P]
    assert np.all(oh.sum(-1) == 1)
    np.testing.assert_array_equal(oh.argmax(-1), b.shift[:, None] + np.arange(c.T))
    assert b.shift.min() >= 0 and b.shift.max() <= P - c.T
    # no APE: the feature sequence only
    b0 = _uni(ape=0).sample(3, np.random.default_rng(0))
    assert b0.tokens.shape == (3, 17, 5) and b0.shift is None


def test_item_noise_scale():
    """x = (mu + eps eta)/sqrt(1 + eps^2), eta ~ N(0, I/D): per-coordinate residual variance."""
    t = _uni(D=40, eps=0.5, p_C=0.0, p_B=1.0, ape=0, dtype="float64")
    b = t.sample(500, np.random.default_rng(1))
    x = b.tokens[:, b.layout.item_pos]
    r = x * np.sqrt(1.25) - t.mu[b.classes[:, :-1]]
    v = r.var()  # 500*8*40 = 160000 samples of N(0, eps^2/D)
    se = 0.25 / 40 * np.sqrt(2 / r.size)
    assert abs(v - 0.25 / 40) < 4 * se


# ------------------------------------------------------------------------------ burstiness
def test_burstiness_counts_and_kinds():
    t = _uni(B=4, p_B=0.5, p_C=0.25)
    b = t.sample(400, np.random.default_rng(2))
    N, K = t.config.N, t.config.K
    assert abs(b.novel.mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 400)
    for i in range(len(b)):
        cls, cnt = np.unique(b.classes[i, :N], return_counts=True)
        if b.bursty[i]:
            assert np.all(cnt % 4 == 0), (i, cnt)      # each base draw tiled B times
            assert b.classes[i, N] in cls               # query from a context slot
        if b.novel[i]:
            assert np.all(b.classes[i] >= K) and b.bursty[i]
        else:
            assert np.all(b.classes[i] < K)
    # B = 0: non-bursty training, novel sequences use B = N/2
    t0 = _uni(B=0, p_B=1.0, p_C=0.5)
    b0 = t0.sample(200, np.random.default_rng(3))
    assert not np.any(b0.bursty & ~b0.novel)
    for row in b0.classes[b0.novel]:
        assert np.all(np.unique(row[:N], return_counts=True)[1] % 4 == 0)
    ic2 = t0.eval_set("IC2", 50, np.random.default_rng(4))  # swapped set stays bursty (B = N/2)
    assert ic2.bursty.all() and not ic2.novel.any()
    for row in ic2.classes:
        assert np.all(np.unique(row[:N], return_counts=True)[1] % 4 == 0)


def test_eval_sets_kinds_and_swapped_labels():
    t = _uni()
    L, N = t.config.L, t.config.N
    s = t.eval_sets(300, seed=5)
    assert s["IC"].novel.all() and s["IC"].bursty.all()
    assert not s["IC2"].novel.any() and s["IC2"].bursty.all()
    assert not s["IW"].novel.any() and not s["IW"].bursty.any()
    # swapped-label set: every label shifted by one, target included; classes untouched
    ic2 = s["IC2"]
    np.testing.assert_array_equal(ic2.labels, (ic2.classes[:, :N] % L + 1) % L)
    np.testing.assert_array_equal(ic2.target, (ic2.classes[:, N] % L + 1) % L)
    np.testing.assert_array_equal(ic2.tokens[:, ic2.layout.label_pos, t.config.ape:],
                                  t.lam[ic2.labels])
    assert ic2.match.any(1).all()  # bursty: the (shifted) target label is in context
    for nm in ("IC", "IW", "test"):
        np.testing.assert_array_equal(s[nm].labels, s[nm].classes[:, :N] % L)
    with pytest.raises(ValueError, match="eval set 'XX' is unknown"):
        t.eval_set("XX", 3, np.random.default_rng(0))


# ---------------------------------------------------------------------------------- Zipf
def _within_4se(counts, p):
    n = counts.sum()
    f = counts / n
    se = np.sqrt(p * (1 - p) / n)
    return np.abs(f - p) <= 4 * se


def test_zipf_class_frequencies_match_law():
    t = _uni(K=32, L=4, alpha=1.3, B=0, p_C=0.0)
    b = t.sample(20000, np.random.default_rng(6))
    counts = np.bincount(b.classes.ravel(), minlength=32)
    assert _within_4se(counts, md.zipf_probs(32, 1.3)).all()
    assert not _within_4se(counts, md.zipf_probs(32, 1.2)).all()  # the test can fail
    # bursty base draws follow the same law (each is tiled B = 2 times)
    tb = _uni(K=32, L=4, alpha=1.3, B=2, p_B=1.0, p_C=0.0)
    bb = tb.sample(20000, np.random.default_rng(7))
    counts = np.bincount(bb.classes[:, :-1].ravel(), minlength=32) // 2
    assert _within_4se(counts, md.zipf_probs(32, 1.3)).all()


def test_conditional_pairing_law():
    """M1 partner of an M2 class with label l: P(k1 | l) ∝ P1(k1) on {k1 = l mod L1}."""
    m = _mm(K1=32, L1=4, L2=2, K2=8, alpha1=1.5, p_B=1.0, p_C=0.0, B=4)
    b = m.sample(20000, np.random.default_rng(8))
    k1, k2 = b.classes1[:, :-1], b.classes2[:, :-1]
    np.testing.assert_array_equal(k1 % 4, k2 % 2)
    np.testing.assert_array_equal(b.labels, k2 % 2)
    P1 = md.zipf_probs(32, 1.5)
    for lab in range(2):
        # every base pair is tiled exactly B = 4 times: counts / 4 are the base-draw counts
        counts = np.bincount(k1[(k2 % 2) == lab], minlength=32)[lab::4] // 4
        p = P1[lab::4] / P1[lab::4].sum()
        assert _within_4se(counts, p).all(), lab
        q = md.zipf_probs(32, 1.0)[lab::4]  # a wrong exponent is detected
        assert not _within_4se(counts, q / q.sum()).all()


# ---------------------------------------------------------------------------- multimodal
def test_multimodal_layout_labels_and_assembly():
    m = _mm(eps1=0.0, eps2=0.0)
    c = m.config
    b = m.sample(64, np.random.default_rng(9))
    N = c.N
    assert b.x1.shape == (64, N + 1, 6) and b.x2.shape == (64, N + 1, 5)
    assert b.label_tokens.shape == (64, N, 6) and b.onehot.shape == (64, 3 * N + 2, 30)
    lay = b.layout
    assert lay.T == 26 and lay.query_pos == 25 and lay.query1_pos == 24
    assert lay.item_pos.tolist() == [0, 3, 6, 9, 12, 15, 18, 21]
    assert lay.item2_pos.tolist() == [1, 4, 7, 10, 13, 16, 19, 22]
    assert lay.label_pos.tolist() == [2, 5, 8, 11, 14, 17, 20, 23]
    np.testing.assert_array_equal(b.labels, b.classes2[:, :N] % c.L2)  # shared labels
    np.testing.assert_array_equal(b.target, b.classes2[:, N] % c.L2)
    br = b.bursty  # bursty pairs share the label; queries are a context pair
    np.testing.assert_array_equal(b.classes1[br] % c.L1, b.classes2[br] % c.L2)
    for i in np.flatnonzero(br):
        pairs = set(zip(b.classes1[i, :N], b.classes2[i, :N]))
        assert (b.classes1[i, N], b.classes2[i, N]) in pairs
    np.testing.assert_array_equal(b.x1[~b.novel], m.mu1[b.classes1[~b.novel]])
    np.testing.assert_array_equal(b.x2[~b.novel], m.nu[b.classes2[~b.novel]])
    assert np.all(b.classes1[b.novel] >= c.K1) and np.all(b.classes2[b.novel] >= c.K2)
    proj = np.ones((64, N + 1, 6), np.float32)
    tok = b.tokens(proj)
    assert tok.shape == (64, 26, 36)
    np.testing.assert_array_equal(tok[:, lay.item2_pos, 30:], 1.0)
    np.testing.assert_array_equal(tok[:, 25, 30:], 1.0)
    np.testing.assert_array_equal(tok[:, lay.item_pos, 30:], b.x1[:, :N])
    np.testing.assert_array_equal(tok[:, 24, 30:], b.x1[:, N])
    np.testing.assert_array_equal(tok[:, lay.label_pos, 30:], m.lam[b.labels])
    np.testing.assert_array_equal(tok[:, :, :30], b.onehot)
    with pytest.raises(ValueError, match="project M2 to D1 = 6"):
        b.tokens()
    # swapped labels stay within the L2 secondary labels
    s = m.eval_set("IC2", 200, np.random.default_rng(1))
    np.testing.assert_array_equal(s.labels, (s.classes2[:, :N] % c.L2 + 1) % c.L2)


def test_joint_label_control_and_stage1_coupling():
    m = _mm(joint=True, L1=8, L2=4, K1=64, K2=32, K_c1=8, p_C=0.3)
    b = m.sample(200, np.random.default_rng(10))
    g1, g2 = b.classes1 % 2, b.classes2 % 4
    np.testing.assert_array_equal(np.concatenate([b.labels, b.target[:, None]], 1), g1 * 4 + g2)
    # the two modalities are independent in the joint control: both groups vary freely
    assert len(set(zip(g1.ravel(), g2.ravel()))) == 8
    # M1 prototypes and labels are bit-identical to the stage-1 task with the same seed
    sh = _mm()
    st1 = md.GMMTask(sh.config.unimodal(), seed=4)
    assert np.array_equal(sh.mu1, st1.mu) and np.array_equal(sh.lam, st1.lam)
    assert md.MMConfig().K_c2 == 16 == tm.novel_m2_classes(8192, 256, 16)


# ---------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kw,msg", [
    (dict(K=100, L=32), "K = 100 must be a positive multiple of L = 32"),
    (dict(N=8, B=3), "N = 8 is not divisible by B = 3"),
    (dict(N=8, B=8), "B = 8 must be smaller than N = 8"),
    (dict(p_B=1.5), r"p_B = 1.5 is outside the allowed range \[0, 1\]"),
    (dict(p_C=-0.1), r"p_C = -0.1 is outside the allowed range \[0, 1\]"),
    (dict(eps=-1.0), r"eps = -1.0 is outside the allowed range \[0, inf\)"),
    (dict(ape=10), "ape = 10 is too short for T = 2N\\+1 = 17"),
    (dict(N=2.5), "N = 2.5 must be an integer"),
])
def test_config_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        md.GMMConfig(**kw)


@pytest.mark.parametrize("kw,msg", [
    (dict(L1=32, L2=5), "L2 = 5 must divide L1 = 32"),
    (dict(K2=100), "K2 = 100 must be a positive multiple of L2 = 16"),
    (dict(B=3), "N = 8 is not divisible by B = 3"),
    (dict(p_B=2.0), r"p_B = 2.0 is outside the allowed range \[0, 1\]"),
    (dict(K_c1=100), "K_c1 = 100 must be a positive multiple of L1 = 32"),
])
def test_mm_config_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        md.MMConfig(**kw)


def test_bad_input_via_console_script(iclc):
    """Cross-input constraint (registry ``check=``) and a declared domain, via the real script."""
    for args, frag in [
            (["K=100", "L=32", "N=8"], "K = 100 must be a positive multiple of L = 32"),
            (["K=128", "L=32", "N=8", "p_B=1.5"], "p_B = 1.5 is outside the allowed domain")]:
        r = iclc("eval", "mmicl.p_query_in_context", *args)
        assert r.returncode == 2, (r.stdout, r.stderr)
        line = r.stderr.strip()
        assert line.startswith("error: ") and "\n" not in line and frag in line, line
        assert r.stdout == ""


@pytest.mark.parametrize("rid, args, frag", [
    ("mmicl.copy_slot_accuracy", ["K=128", "N=8", "B=3"], "N = 8 is not divisible by B = 3"),
    ("mmicl.copy_slot_accuracy", ["K=128", "N=8", "B=8"], "B = 8 must be smaller than N = 8"),
    ("mmicl.copy_slot_accuracy", ["K=128", "N=8", "p_C=-0.5"], "p_C = -0.5 is outside"),
    ("mmicl.param_count", ["D=64", "L=32", "positional=bogus"],
     "positional = bogus is outside the allowed domain: one of ape, rope, rope_repo, alibi"),
])
def test_issue_bad_inputs_exit_2(iclc, rid, args, frag):
    """The issue's bad-input cases (N not divisible by B, B >= N, a probability outside [0, 1],
    an unknown positional scheme) through the real console script: one ``error:`` line, exit 2."""
    r = iclc("eval", rid, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    line = r.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and frag in line, line
    assert r.stdout == ""


@pytest.mark.parametrize("rid,kw,frag", [
    ("mmicl.p_query_in_context", dict(K=128, N=8, B=3), "N = 8 is not divisible by B = 3"),
    ("mmicl.copy_slot_accuracy", dict(K=128, N=8, B=8), "B = 8 must be smaller than N = 8"),
    ("mmicl.copy_slot_accuracy", dict(K=128, N=8, p_C=-0.5), "p_C = -0.5 is outside"),
    ("mmicl.distinct_label_accuracy", dict(L=8, N=8, B=0), "B = 0 is outside"),
    ("mmicl.random_guess_cla", dict(L=8, N=8, B=3), "N = 8 is not divisible by B = 3"),
    ("mmicl.novel_m2_classes", dict(K1=64, K2=100, L2=16), "K2 = 100 must be a multiple"),
])
def test_bad_input_in_catalogue(rid, kw, frag):
    """The same validation the CLI turns into ``error: ...`` and exit 2."""
    with pytest.raises(ValueError, match=frag) as e:
        get(rid).evaluate(**kw)
    assert str(e.value).startswith(rid + ": ")


# -------------------------------------------------------------------- closed forms, exactly
def _enumerate_bursty(L, m):
    """Brute force over all L^m label tuples of the m base draws (query = draw 0 by symmetry)."""
    acc_d = acc_slot = cla = inv_m = Fraction(0)
    for tup in itertools.product(range(L), repeat=m):
        D = len(set(tup))
        acc_d += Fraction(1, D)
        acc_slot += Fraction(sum(t == tup[0] for t in tup), m)
        cla += Fraction(D, L)
        inv_m += Fraction(1, sum(t == tup[0] for t in tup))  # B |M| = matches among draws
    n = L ** m
    return acc_d / n, acc_slot / n, cla / n, inv_m / n


@pytest.mark.parametrize("L,N,B", [(3, 4, 1), (4, 6, 2), (5, 8, 2), (2, 9, 3)])
def test_uniform_reference_levels_vs_enumeration(L, N, B):
    m = N // B
    acc_d, acc_slot, cla, inv_m = _enumerate_bursty(L, m)
    # ideal induction head: E[1/|M|] with |M| = B x (draws sharing the query's label)
    assert get("mmicl.ideal_tila")(L=L, N=N, B=B) == pytest.approx(float(inv_m / B), rel=1e-14)
    assert inv_m / B == cla * L / N  # E[1/|M|] = E[D]/N, exactly
    assert tm.distinct_label_accuracy(L, m) == acc_d
    r = get("mmicl.distinct_label_accuracy")(L=L, N=N, B=B)
    assert r["accuracy"] == pytest.approx(float(acc_d), rel=1e-14)
    assert r["expected_distinct"] == pytest.approx(float(cla * L), rel=1e-14)
    assert get("mmicl.copy_slot_uniform")(L=L, N=N, B=B) == pytest.approx(float(acc_slot), 1e-14)
    assert get("mmicl.random_guess_cla")(L=L, N=N, B=B) == pytest.approx(float(cla), rel=1e-14)
    # the Zipf-law form reduces to the uniform one at alpha = 0 (bursty and novel branches)
    zs = md.copy_slot_accuracy(K=4 * L, L=L, N=N, alpha=0.0, B=B, p_B=1.0, p_C=0.0, K_c=L)
    assert zs["value"] == pytest.approx(float(acc_slot), rel=1e-13)
    assert zs["novel"] == pytest.approx(float(acc_slot), rel=1e-13)


def test_p_query_in_context_vs_enumeration():
    K, N, alpha = 4, 3, 1.0
    P = md.zipf_probs(K, alpha)
    r = sum(P[q] * np.prod([P[k] for k in ctx]) for q in range(K)
            for ctx in itertools.product(range(K), repeat=N) if q in ctx)
    got = md.p_query_in_context(K, N, alpha, B=0, p_B=1.0, p_C=0.2)
    assert got["nonbursty"] == pytest.approx(r, rel=1e-13)
    assert got["value"] == pytest.approx(0.2 + 0.8 * r, rel=1e-13)  # B = 0 forces p_B' = 0
    # degenerate laws: one class, or all mass on class 0 -> the query is always in context
    assert md.p_query_in_context(1, 3, 0.0, 0, 1.0, 0.0)["nonbursty"] == 1.0
    assert md.p_query_in_context(64, 3, 5000.0, 0, 1.0, 0.0)["nonbursty"] == 1.0


# ------------------------------------------------------------ Monte Carlo checks (verify)
def test_data_checks_pass_quick():
    from icl_companion.validation.checks import load_checks, run_one
    for cid in ("mmicl.data.query_in_context", "mmicl.data.copy_slot",
                "mmicl.data.distinct_labels", "mmicl.data.ideal_induction"):
        rep = run_one(load_checks()[cid], quick=True, seed=1)
        assert rep.status == "passed", rep.text()


@pytest.mark.parametrize("rid,cid,key,delta", [
    ("mmicl.p_query_in_context", "mmicl.data.query_in_context", "value", 0.02),
    ("mmicl.distinct_label_accuracy", "mmicl.data.distinct_labels", "accuracy", 0.005),
    ("mmicl.ideal_tila", "mmicl.data.ideal_induction", None, 0.02)])
def test_data_checks_fail_on_perturbed_theory(monkeypatch, rid, cid, key, delta):
    """A formula that is off by ``delta`` (a few quick-mode tolerances) is caught."""
    from icl_companion.validation.checks import load_checks, run_one
    res = get(rid)
    orig = res.func

    def perturbed(**kw):
        if key is None:
            return orig(**kw) + delta
        v = dict(orig(**kw))
        v[key] += delta
        return v

    monkeypatch.setattr(res, "func", perturbed)
    rep = run_one(load_checks()[cid], quick=True, seed=1)
    assert rep.status == "failed", rep.text()


# ---------------------------------------------------------------- properties over configs
from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def _uni_configs(draw):
    L = draw(st.integers(1, 6))
    N = draw(st.integers(1, 9))
    B = draw(st.sampled_from([0] + [d for d in range(1, N) if N % d == 0]))
    return md.GMMConfig(K=L * draw(st.integers(1, 5)), L=L, N=N, D=draw(st.integers(1, 3)), B=B,
                        alpha=draw(st.sampled_from([0.0, 1.0])), p_B=draw(st.sampled_from([0, .5, 1])),
                        p_C=draw(st.sampled_from([0, .5, 1])), K_c=draw(st.integers(1, 7)),
                        ape=draw(st.sampled_from([0, 2 * N + 1, 2 * N + 4])))


@settings(max_examples=40, deadline=None)
@given(_uni_configs(), st.integers(0, 2**32 - 1))
def test_unimodal_invariants_over_configs(c, seed):
    t = md.GMMTask(c, seed=1)
    b = t.sample(7, np.random.default_rng(seed))
    N, K, L = c.N, c.K, c.L
    assert b.tokens.shape == (7, 2 * N + 1, c.ape + c.D) and np.isfinite(b.tokens).all()
    np.testing.assert_array_equal(b.labels, b.classes[:, :N] % L)
    assert ((b.classes < K) | b.novel[:, None]).all() and (b.classes[b.novel] >= K).all()
    for i in np.flatnonzero(b.bursty):
        Bb = c.B_novel if (b.novel[i] or c.B == 0) else c.B
        assert np.all(np.unique(b.classes[i, :N], return_counts=True)[1] % Bb == 0)
        assert b.classes[i, N] in b.classes[i, :N]
    for nm in md.EVAL_SETS:
        assert len(t.eval_set(nm, 3, np.random.default_rng(seed))) == 3


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 8), st.booleans(),
       st.sampled_from([0.0, 1.0]), st.integers(0, 2**32 - 1))
def test_multimodal_invariants_over_configs(L2, G1, N, joint, alpha, seed):
    B = max([d for d in range(1, N) if N % d == 0] or [0])
    c = md.MMConfig(K1=2 * L2 * G1, K2=3 * L2, L1=L2 * G1, L2=L2, N=N, D1=2, D2=3, B=B,
                    alpha1=alpha, alpha2=alpha, p_B=0.5, p_C=0.5, K_c1=L2 * G1, joint=joint)
    t = md.MMTask(c, seed=2)
    b = t.sample(6, np.random.default_rng(seed))
    assert b.x1.shape == (6, N + 1, 2) and b.x2.shape == (6, N + 1, 3)
    all_lab = np.concatenate([b.labels, b.target[:, None]], 1)
    np.testing.assert_array_equal(all_lab, t.label_of(b.classes1, b.classes2))
    assert all_lab.max() < (c.L1 if joint else c.L2)
    if not joint:
        br = b.bursty
        np.testing.assert_array_equal(b.classes1[br] % c.L1, b.classes2[br] % c.L2)


def test_extreme_zipf_exponent_is_finite_and_conditional_law_defined():
    """alpha = 2000 underflows k^-alpha for k >= 2; the laws stay finite and normalised."""
    p = md.zipf_probs(64, 2000.0)
    assert p[0] == 1.0 and np.isfinite(p).all()
    m = _mm(K1=64, L1=8, L2=4, K2=16, alpha1=2000.0, alpha2=2000.0, p_B=1.0, p_C=0.0)
    b = m.sample(50, np.random.default_rng(0))
    # every M2 draw is class 0 (label 0); its M1 partner is the most likely class of label 0
    assert (b.classes2 == 0).all() and (b.classes1 == 0).all()
    s = md._ClassSampler(64, 8, 2000.0)
    k = s.draw_given_label(np.random.default_rng(1), np.arange(8).repeat(5))
    np.testing.assert_array_equal(k, np.arange(8).repeat(5))  # smallest class of each label


def test_bursty_label_stats_vs_enumeration_and_uniform_limit():
    K, L, N, B, alpha = 12, 3, 6, 2, 1.2
    q = md.label_probs(K, L, alpha)
    m = N // B
    ED = inv = 0.0
    for tup in itertools.product(range(L), repeat=m):  # query = draw 0
        w = np.prod(q[list(tup)])
        ED += w * len(set(tup))
        inv += w / (B * sum(t == tup[0] for t in tup))
    st_ = get("mmicl.bursty_label_stats")(K=K, L=L, N=N, alpha=alpha, B=B)
    assert st_["expected_distinct"] == pytest.approx(ED, rel=1e-13)
    assert st_["ideal_tila"] == pytest.approx(inv, rel=1e-13)
    assert st_["random_guess_cla"] == pytest.approx(ED / L, rel=1e-13)
    assert st_["copy_slot"] == pytest.approx(
        md.copy_slot_accuracy(K, L, N, alpha, B, 1.0, 0.0)["bursty"], rel=1e-14)
    u = md.bursty_label_stats(K=64, L=32, N=8, alpha=0.0, B=2)
    assert u["ideal_tila"] == pytest.approx(get("mmicl.ideal_tila")(L=32, N=8, B=2), rel=1e-13)
    assert u["random_guess_cla"] == pytest.approx(get("mmicl.random_guess_cla")(L=32, N=8, B=2),
                                                  rel=1e-13)
    assert u["copy_slot"] == pytest.approx(get("mmicl.copy_slot_uniform")(L=32, N=8, B=2),
                                           rel=1e-13)
