"""Closed-form reference levels of the mmicl task vs its sampler (``iclc verify mmicl.data``).

Theory values come from the catalogue (:func:`icl_companion.theory.registry.evaluate`), measurements from
:mod:`icl_companion.numerics.mmicl_data` batches, so a wrong formula *or* a wrong sampler fails the check
(tests/test_mmicl_data.py perturbs the catalogue and sees it fail).  Tolerance: 4 Monte Carlo
standard errors of the per-sequence mean (sample standard deviation / sqrt(n)).
NumPy only; the feature dimension is kept tiny because only the class/label bookkeeping matters.
"""

from __future__ import annotations

import numpy as np

from icl_companion.numerics.linear import mc_mean
from icl_companion.numerics import mmicl_metrics as mmet
from icl_companion.numerics.mmicl_data import GMMConfig, GMMTask, MMConfig, MMTask
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.validation.checks import Outcome, check, compare

# (K, L, N, alpha, B, p_B, p_C): IW-like, Zipf mixture, uniform bursty+novel, B = 0 with novel
UNI_CONFIGS = [(64, 8, 8, 1.0, 0, 1.0, 0.0), (256, 16, 8, 1.0, 2, 0.5, 0.2),
               (4096, 32, 8, 0.0, 4, 0.7, 0.3), (128, 32, 6, 0.5, 0, 1.0, 0.4)]


def _query_in_context(classes: np.ndarray) -> np.ndarray:
    return (classes[:, :-1] == classes[:, -1:]).any(1).astype(float)


def _sizes(quick: bool) -> int:
    return 20_000 if quick else 400_000


def _batches(sampler, n: int, chunk: int = 20_000):
    """Generate ``n`` sequences in chunks (novel prototypes are redrawn per chunk, as per batch)."""
    left = n
    while left > 0:
        m = min(chunk, left)
        yield sampler(m)
        left -= m


@check("mmicl.data.query_in_context", "P(query class in context) over the training mixture "
       "(Zipf, B, p_B, p_C): finite-sum formula vs the sampler",
       reference=Reference("mmicl", NOT_NUMBERED,
                           "docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture"))
def query_in_context_check(quick: bool, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    n = 2 * _sizes(quick)
    out = Outcome(facts={"sequences_per_config": n, "seed": seed, "D": 4})
    for K, L, N, a, B, pB, pC in UNI_CONFIGS:
        th = evaluate("mmicl.p_query_in_context", K=K, L=L, N=N, alpha=a, B=B, p_B=pB,
                      p_C=pC).value["value"]
        task = GMMTask(GMMConfig(K=K, L=L, N=N, D=4, B=B, alpha=a, p_B=pB, p_C=pC), seed=seed)
        hits = np.concatenate([_query_in_context(b.classes)
                               for b in _batches(lambda m: task.sample(m, rng), n)])
        est = mc_mean(hits)
        out.comparisons.append(compare(f"K={K} N={N} alpha={a} B={B} p_B={pB} p_C={pC}", th,
                                       est.mean, est.stderr))
    # multimodal IW set: M1 and M2 classes are drawn independently, each modality by its own law
    mc = MMConfig(K1=64, K2=32, L1=8, L2=4, N=6, D1=2, D2=2, B=3, alpha1=1.0, alpha2=0.3,
                  K_c1=8)
    mt = MMTask(mc, seed=seed)
    b1, b2 = [], []
    for b in _batches(lambda k: mt.eval_set("IW", k, rng), n):
        b1.append(_query_in_context(b.classes1))
        b2.append(_query_in_context(b.classes2))
    for nm, K, L, a, hits in (("M1", mc.K1, mc.L1, mc.alpha1, b1), ("M2", mc.K2, mc.L2, mc.alpha2,
                                                                       b2)):
        th = evaluate("mmicl.p_query_in_context", K=K, L=L, N=mc.N, alpha=a, B=0).value
        est = mc_mean(np.concatenate(hits))
        out.comparisons.append(compare(f"multimodal IW, {nm} K={K} N={mc.N} alpha={a}",
                                       th["nonbursty"], est.mean, est.stderr))
    return out


@check("mmicl.data.copy_slot", "copy-a-random-context-label accuracy E|M|/N: closed forms vs "
       "unimodal and multimodal sampler (IC, IC2, IW, training mixture)",
       reference=Reference("mmicl", NOT_NUMBERED,
                           "docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture"))
def copy_slot_check(quick: bool, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    n = _sizes(quick)
    out = Outcome(facts={"sequences_per_config": n, "seed": seed})

    def measure(batches):
        est = mc_mean(np.concatenate([b.match.mean(1) for b in batches]))
        return est.mean, est.stderr

    # unimodal IC set (uniform novel labels): the symbolic expression
    c = GMMConfig(K=1024, L=32, N=8, D=4, B=2)
    task = GMMTask(c, seed=seed)
    th = evaluate("mmicl.copy_slot_uniform", L=32, N=8, B=2).value
    m, se = measure(_batches(lambda k: task.eval_set("IC", k, rng), n))
    out.comparisons.append(compare("unimodal IC set, L=32 N=8 B=2", th, m, se))
    # unimodal training mixture with Zipf classes, and the swapped-label set
    for K, L, N, a, B, pB, pC in UNI_CONFIGS[1:]:
        th = evaluate("mmicl.copy_slot_accuracy", K=K, L=L, N=N, alpha=a, B=B, p_B=pB, p_C=pC,
                      K_c=128).value
        task = GMMTask(GMMConfig(K=K, L=L, N=N, D=4, B=B, alpha=a, p_B=pB, p_C=pC), seed=seed)
        m, se = measure(_batches(lambda k: task.sample(k, rng), n))
        out.comparisons.append(compare(f"train K={K} L={L} alpha={a} B={B} p_B={pB} p_C={pC}",
                                       th["value"], m, se))
    task = GMMTask(GMMConfig(K=256, L=16, N=8, D=4, B=2, alpha=1.0), seed=seed)
    th = evaluate("mmicl.copy_slot_accuracy", K=256, L=16, N=8, alpha=1.0, B=2).value
    m, se = measure(_batches(lambda k: task.eval_set("IC2", k, rng), n))
    out.comparisons.append(compare("IC2 (swapped) K=256 L=16 alpha=1 B=2", th["bursty"], m, se))
    # multimodal (shared labels): the target and context labels are l2(k2), so the same law with
    # (K2, L2, alpha2, K_c2) -- checks the pairing and the novel M2 classes
    mc = MMConfig(K1=1024, K2=128, L1=16, L2=8, N=8, D1=4, D2=3, B=4, alpha1=1.0, alpha2=0.7,
                  p_B=0.6, p_C=0.25, K_c1=32)
    mt = MMTask(mc, seed=seed)
    for name, pB, pC in (("train", mc.p_B, mc.p_C), ("IC", 1.0, 1.0), ("IW", 0.0, 0.0)):
        th = evaluate("mmicl.copy_slot_accuracy", K=mc.K2, L=mc.L2, N=mc.N, alpha=mc.alpha2,
                      B=mc.B, p_B=pB, p_C=pC, K_c=mc.K_c2).value["value"]
        if name == "train":
            gen = _batches(lambda k: mt.sample(k, rng), n)
        else:
            gen = _batches(lambda k: mt.eval_set(name, k, rng), n)
        m, se = measure(gen)
        out.comparisons.append(compare(f"multimodal {name} K2={mc.K2} L2={mc.L2} "
                                       f"alpha2={mc.alpha2} K_c2={mc.K_c2}", th, m, se))
    # joint-label control, alpha = 0: labels g1 G2 + g2 are uniform on L1 = G1 G2 values, so the
    # bursty (IC2, swapped mod L1) and novel (IC) sets follow the uniform law with L = L1
    jc = MMConfig(K1=256, K2=64, L1=16, L2=4, N=8, D1=4, D2=3, B=2, joint=True, K_c1=32)
    jt = MMTask(jc, seed=seed)
    th = evaluate("mmicl.copy_slot_uniform", L=jc.L1, N=jc.N, B=jc.B).value
    for name in ("IC", "IC2"):
        m, se = measure(_batches(lambda k: jt.eval_set(name, k, rng), n))
        out.comparisons.append(compare(f"joint-label {name} G1=4 G2=4 (L=16) B=2", th, m, se))
    return out


@check("mmicl.data.distinct_labels", "IC sets: E[1/#distinct labels] (pick-a-distinct-label "
       "accuracy), E[#distinct], CLA of a uniform guess; Zipf IC2: E[#distinct], CLA",
       reference=Reference(
           "mmicl", NOT_NUMBERED,
           "docs/derivations/mmicl.md#reference-levels-of-bursty-uniform-label-sequences"))
def distinct_labels_check(quick: bool, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    n = _sizes(quick)
    out = Outcome(facts={"sequences_per_config": n, "seed": seed})
    for L, N, B in ((32, 8, 1), (32, 8, 2), (8, 12, 3)):
        task = GMMTask(GMMConfig(K=4 * L, L=L, N=N, D=4, B=B, K_c=128), seed=seed)
        labs = np.concatenate([b.labels for b in
                               _batches(lambda k: task.eval_set("IC", k, rng), n)])
        D = 1.0 + (np.diff(np.sort(labs, axis=1), axis=1) != 0).sum(1)  # distinct labels per row
        guess = rng.integers(0, L, size=D.size)  # a uniform guess, scored by CLA
        cla_hits = (labs == guess[:, None]).any(1).astype(float)
        th = evaluate("mmicl.distinct_label_accuracy", L=L, N=N, B=B).value
        for nm, t, s in (("E[1/D]", th["accuracy"], mc_mean(1.0 / D)),
                         ("E[D]", th["expected_distinct"], mc_mean(D)),
                         ("uniform-guess CLA",
                          evaluate("mmicl.random_guess_cla", L=L, N=N, B=B).value,
                          mc_mean(cla_hits))):
            out.comparisons.append(compare(f"{nm} L={L} N={N} B={B}", t, s.mean, s.stderr))
    # trained Zipf classes (bursty IC2 set): E[D] and the uniform-guess CLA, non-uniform labels
    task = GMMTask(GMMConfig(K=256, L=16, N=8, D=4, B=2, alpha=1.0), seed=seed)
    labs = np.concatenate([b.labels for b in _batches(lambda k: task.eval_set("IC2", k, rng), n)])
    D = 1.0 + (np.diff(np.sort(labs, axis=1), axis=1) != 0).sum(1)
    guess = rng.integers(0, 16, size=D.size)
    th = evaluate("mmicl.bursty_label_stats", K=256, L=16, N=8, alpha=1.0, B=2).value
    for nm, t, e in (("E[D]", th["expected_distinct"], mc_mean(D)),
                     ("uniform-guess CLA", th["random_guess_cla"],
                      mc_mean((labs == guess[:, None]).any(1).astype(float)))):
        out.comparisons.append(compare(f"{nm} IC2 Zipf K=256 L=16 alpha=1 N=8 B=2", t, e.mean,
                                       e.stderr))
    return out


def _ideal_induction_attention(batch) -> np.ndarray:
    """``(S, 1, T, T)``: causal-uniform rows, except the query row, which is uniform over the
    matching label slots (an ideal induction head)."""
    lay = batch.layout
    S, T = len(batch), lay.T
    A = np.broadcast_to(np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None], (S, 1, T, T)).copy()
    m = batch.match.astype(float)
    A[:, 0, lay.query_pos, :] = 0.0
    A[:, 0, lay.query_pos, lay.label_pos] = m / m.sum(1, keepdims=True)
    return A


@check("mmicl.data.ideal_induction", "ideal induction head on sampled IC sets and a Zipf IC2 "
       "set: TILA and IndStrength (numerics.mmicl_metrics) vs E[1/|M|] = E[D]/N",
       reference=Reference(
           "mmicl", NOT_NUMBERED,
           "docs/derivations/mmicl.md#reference-levels-of-bursty-uniform-label-sequences"))
def ideal_induction_check(quick: bool, seed: int) -> Outcome:
    """Exercises sampler and metrics together: the match sets come from sampled IC batches
    (unimodal and multimodal), the metric values from the metric functions."""
    rng = np.random.default_rng(seed)
    n = 5_000 if quick else 100_000
    out = Outcome(facts={"sequences_per_config": n, "seed": seed})
    cases = [("unimodal", GMMTask(GMMConfig(K=1024, L=32, N=8, D=2, B=2), seed=seed), 32),
             ("unimodal", GMMTask(GMMConfig(K=64, L=8, N=12, D=2, B=3), seed=seed), 8),
             ("multimodal", MMTask(MMConfig(K1=512, K2=64, L1=16, L2=8, N=8, D1=2, D2=2, B=2,
                                            K_c1=32), seed=seed), 8)]
    # trained Zipf classes, bursty swapped-label set: the Zipf form (E[D]/N)
    cases.append(("unimodal IC2 Zipf alpha=1 K=256",
                  GMMTask(GMMConfig(K=256, L=16, N=8, D=2, B=2, alpha=1.0), seed=seed), 16))
    for kind, task, L in cases:
        c = task.config
        ti, ind, tl = [], [], []
        name = "IC2" if "IC2" in kind else "IC"
        for b in _batches(lambda k: task.eval_set(name, k, rng), n, chunk=2_500):
            A = _ideal_induction_attention(b)
            ti.append(mmet.tila(A, b.match, b.layout.label_pos, b.layout.query_pos)[:, 0])
            ind.append(mmet.induction_strength(A, b.match, b.layout.label_pos,
                                               b.layout.query_pos)[:, 0])
            tl.append(mmet.tla(A, b.layout.label_pos, b.layout.query_pos)[:, 0])
        if name == "IC2":
            th = evaluate("mmicl.bursty_label_stats", K=c.K, L=L, N=c.N, alpha=c.alpha,
                          B=c.B).value["ideal_tila"]
        else:
            th = evaluate("mmicl.ideal_tila", L=L, N=c.N, B=c.B).value
        for nm, v in (("TILA", ti), ("IndStrength", ind)):
            e = mc_mean(np.concatenate(v))
            out.comparisons.append(compare(f"{kind} {nm} L={L} N={c.N} B={c.B}", th, e.mean,
                                           e.stderr))
        dev = float(np.abs(np.concatenate(tl) - 1.0).max())
        out.comparisons.append(compare(f"{kind} max |TLA - 1| (all mass on labels)", 0.0, dev,
                                       0.0, allowance=1e-12, allowance_rule="float64 rounding"))
    return out
