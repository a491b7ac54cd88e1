"""Closed-form reference levels of the mmicl classification task (prefix ``mmicl``).

Huang, Roth, Bouniot, Xu, Akata, "Dissecting multimodal in-context learning" (arXiv 2601.20796;
section numbers not known); task of Reddy (2023).  The task is read from the authors' public code
(github.com/YiranHuangIrene/multimodal-icl); the reference levels are derived in
``docs/derivations/mmicl.md#reference-levels-of-bursty-uniform-label-sequences``.

These are the baselines a trained model's accuracies are read against.  In a *bursty* sequence
``m = N/B`` base classes are drawn i.i.d. and each is tiled ``B`` times; the query is the class of a
uniformly random slot, i.e. one of the ``m`` draws.  When the class law is uniform over a multiple
of ``L`` classes (the novel-class ICL set; ``alpha = 0``) the ``m`` labels are i.i.d. uniform on
``L`` values, and:

* a uniform guess over the ``L`` labels lands on *some* context label with probability
  ``E[D]/L = 1 - (1 - 1/L)^m`` (``D`` = number of distinct context labels): the CLA of chance;
* copying the label of a uniformly random context slot is right with probability
  ``E|M|/N = 1/m + (1 - 1/m)/L`` (the query's ``B`` copies plus ``B`` per other draw sharing its
  label): :func:`copy_slot_uniform_expr`;
* an ideal induction head (all query attention on the matching label slots) has
  ``TILA = IndStrength = 1/|M|``, in expectation ``(L/N)(1 - (1 - 1/L)^m)``: :func:`ideal_tila_expr`;
* picking uniformly among the *distinct* context labels is right with probability
  ``E[1/D] = sum_d C(L, d) d! S(m, d) / (d L^m)`` (occupancy law with Stirling numbers of the
  second kind ``S``): :func:`distinct_label_accuracy` (roughly ``B/N``, here exactly).

The Zipf-law generalisations (trained classes, mixtures of bursty / non-bursty / novel sequences)
are in :mod:`icl_companion.numerics.mmicl_data`.

>>> sp.simplify(random_guess_cla_expr().subs({N_: 8, B_: 2, L_: 32}) - (1 - sp.Rational(31, 32)**4))
0
>>> distinct_label_accuracy(2, 2)  # labels {a, a} (prob 1/2) -> 1; {a, b} -> 1/2
Fraction(3, 4)
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import sympy as sp

from icl_companion.theory.closed_form import register_closed_form
from icl_companion.theory.registry import (NOT_NUMBERED, Reference, Result, choice, integer,
                              register)

__all__ = ["distinct_label_law_float", "COUNT_MAX", "check_burstiness", "random_guess_cla_expr", "copy_slot_uniform_expr",
           "ideal_tila_expr", "distinct_label_accuracy", "distinct_label_law", "novel_m2_classes",
           "POSITIONAL_SCHEMES", "model_width", "param_count"]

L_, N_, B_ = sp.symbols("L N B", positive=True, integer=True)
#: The authors' public code, from which the task, the model and the metrics are read (only the
#: abstract of the paper was available: its section and equation numbers are not known).
AUTHORS_CODE = "Huang et al., code github.com/YiranHuangIrene/multimodal-icl"


def _ref(anchor: str, *cites: str) -> Reference:
    """Not numbered in the sources; derived on ``docs/derivations/mmicl.md#<anchor>``."""
    return Reference("mmicl", NOT_NUMBERED, f"docs/derivations/mmicl.md#{anchor}", cites)


def check_burstiness(N: int, B: int, name: str = "B") -> None:
    """``B = 0`` (non-bursty) or a divisor of ``N`` with ``1 <= B < N`` (the authors' sampler); else
    ``ValueError`` naming the parameter and the allowed values."""
    allowed = f"allowed: 0 for non-bursty, or a divisor of N in [1, {N - 1}]"
    if B < 0 or (B != 0 and B >= N):
        raise ValueError(f"{name} = {B} must be smaller than N = {N} ({allowed})")
    if B != 0 and N % B:
        raise ValueError(f"N = {N} is not divisible by {name} = {B} ({allowed})")


def _bursty_check(inputs: dict) -> None:
    check_burstiness(inputs["N"], inputs["B"])
    if inputs["B"] == 0:
        raise ValueError("B = 0 (non-bursty) has no bursty reference level; allowed: a divisor "
                         f"of N in [1, {inputs['N'] - 1}]")


# ------------------------------------------------------------------------------- expressions
@functools.lru_cache(maxsize=None)
def random_guess_cla_expr():
    """CLA of a uniform label guess on a bursty uniform-label sequence: ``1 - (1 - 1/L)^(N/B)``.

    Derivation: the guess is one of ``L`` labels uniformly; it appears in context unless all
    ``m = N/B`` i.i.d. uniform base labels differ from it, probability ``(1 - 1/L)^m``.  Equals
    ``E[D]/L`` with ``D`` the number of distinct context labels.

    References
    ----------
    arXiv 2601.20796 (CLA: the authors' ``prob_icl_labels``);
    ``docs/derivations/mmicl.md#reference-levels-of-bursty-uniform-label-sequences``.
    """
    return 1 - (1 - 1 / L_) ** (N_ / B_)


@functools.lru_cache(maxsize=None)
def copy_slot_uniform_expr():
    """Accuracy of copying a uniformly random context label, bursty uniform-label sequences.

    ``E|M|/N`` with ``|M| = B (1 + #{other base draws with the query's label})``; each of the
    ``m - 1`` other draws matches with probability ``1/L``:
    ``E|M|/N = (B/N) (1 + (m - 1)/L) = 1/m + (1 - 1/m)/L``, ``m = N/B``.

    References
    ----------
    arXiv 2601.20796;
    ``docs/derivations/mmicl.md#reference-levels-of-bursty-uniform-label-sequences``.
    """
    m = N_ / B_
    return 1 / m + (1 - 1 / m) / L_


@functools.lru_cache(maxsize=None)
def ideal_tila_expr():
    """TILA (= IndStrength) of an ideal induction head on bursty uniform-label sequences.

    A head that puts all of the query's attention on the matching label slots has
    ``TILA = 1/|M|`` whatever the split, so its expected TILA is ``E[1/|M|]``: the largest value
    TILA can reach.  With ``|M| = B (1 + X)``, ``X ~ Binomial(m - 1, 1/L)`` (other base draws
    sharing the query's label) and ``E[1/(1+X)] = (1 - (1-p)^m)/(m p)``:
    ``E[1/|M|] = (L/N) (1 - (1 - 1/L)^(N/B))``, which also equals ``E[D]/N``.

    References
    ----------
    arXiv 2601.20796 (TILA, IndStrength, the label-match set M:
    ``docs/derivations/mmicl.md#circuit-metrics``);
    ``docs/derivations/mmicl.md#reference-levels-of-bursty-uniform-label-sequences``.
    """
    return L_ / N_ * (1 - (1 - 1 / L_) ** (N_ / B_))


def distinct_label_law(L: int, m: int) -> dict:
    """Exact law of the number ``D`` of distinct values among ``m`` i.i.d. uniform draws from ``L``:
    ``P(D = d) = C(L, d) d! S(m, d) / L^m`` (classical occupancy; Feller, Vol. I, chapter II).

    >>> distinct_label_law(3, 2)
    {1: Fraction(1, 3), 2: Fraction(2, 3)}
    """
    out = {}
    for d in range(1, min(m, L) + 1):
        s = int(sp.functions.combinatorial.numbers.stirling(m, d, kind=2))
        out[d] = Fraction(math.comb(L, d) * math.factorial(d) * s, L ** m)
    return out


def distinct_label_accuracy(L: int, m: int) -> Fraction:
    """``E[1/D]``: accuracy of picking uniformly among the distinct context labels of a bursty
    uniform-label sequence with ``m = N/B`` base draws (the query's label is always present).

    References
    ----------
    arXiv 2601.20796;
    ``docs/derivations/mmicl.md#reference-levels-of-bursty-uniform-label-sequences``.
    """
    return sum((p / d for d, p in distinct_label_law(L, m).items()), Fraction(0))


def novel_m2_classes(K1: int, K2: int, L2: int, K_c1: int = 128) -> int:
    """Novel M2 classes of a multimodal ICL set: ``max(L2, floor(K_c1 K2 / (K1 L2)) L2)``.

    Integer arithmetic (no float floor).

    References
    ----------
    arXiv 2601.20796 (the authors' code, ``K_c1 = 128``);
    ``docs/derivations/mmicl.md#novel-secondary-classes``.

    >>> novel_m2_classes(8192, 256, 16), novel_m2_classes(1024, 1024, 16)
    (16, 128)
    """
    return max(L2, (K_c1 * K2) // (K1 * L2) * L2)


#: Positional schemes of the decoder (``docs/derivations/mmicl.md#positional-schemes``): the
#: concatenated shifted one-hot (``ape``), standard RoPE, the authors' non-rotational RoPE variant
#: (``rope_repo``) and ALiBi.  ``validation.mmicl_model`` implements exactly these.
POSITIONAL_SCHEMES = ("ape", "rope", "rope_repo", "alibi")


def model_width(D: int, positional: str, ape_len: int = 65) -> int:
    """Width ``d`` of the decoder: ``ape_len + D`` with the concatenated one-hot (APE), ``D`` for
    RoPE, the RoPE variant and ALiBi (no token embedding).

    References
    ----------
    arXiv 2601.20796 (the authors' ``model.py``: the one-hot is concatenated, width ``65 + D``);
    ``docs/derivations/mmicl.md#decoder-and-parameter-count``.

    >>> model_width(64, "ape"), model_width(64, "rope"), model_width(32, "ape", ape_len=26)
    (129, 64, 58)
    """
    if positional not in POSITIONAL_SCHEMES:
        raise ValueError(f"positional = {positional!r} is not a positional scheme; allowed: "
                         f"{', '.join(POSITIONAL_SCHEMES)}")
    return D + (ape_len if positional == "ape" else 0)


def param_count(D: int, L: int, n_layers: int = 2, n_heads: int = 1, positional: str = "ape",
                ape_len: int = 65) -> dict:
    """Trainable parameters of the paper's decoder
    (``docs/derivations/mmicl.md#decoder-and-parameter-count``).

    Per layer: ``3 d^2`` for the bias-free ``W_Q, W_K, W_V`` (plus ``d^2`` for ``W_O`` when
    ``n_heads > 1``), ``3 d^2 + 3 d`` for the gated MLP ``W3 SiLU((W1 x + b1)(W2 x + b2)) + b3``
    and ``2 d`` for the two RMSNorm gains; then the final RMSNorm gain ``d`` and the bias-free
    readout ``d L``:

    ``n (6 d^2 + 5 d + [h > 1] d^2) + d + d L``,  ``d`` = :func:`model_width`.

    The positional schemes add no parameters (the one-hot is fixed, RoPE and ALiBi are
    parameter-free) but APE widens the model.

    References
    ----------
    arXiv 2601.20796 (the authors' ``model.py``);
    ``docs/derivations/mmicl.md#decoder-and-parameter-count``.

    >>> param_count(64, 32, positional="rope")["parameters"]  # 2 (6*64^2 + 5*64) + 64 + 64*32
    51904
    >>> param_count(63, 32)["d_model"]                         # Reddy's 63 + 65
    128
    """
    d = model_width(D, positional, ape_len)
    per_layer = 6 * d * d + 5 * d + (d * d if n_heads > 1 else 0)
    return {"parameters": n_layers * per_layer + d + d * L, "d_model": d}


def _param_check(inputs: dict) -> None:
    d = model_width(inputs["D"], inputs["positional"], inputs["ape_len"])
    h = inputs["n_heads"]
    if d % h:
        raise ValueError(f"n_heads = {h} must divide the model width d = {d} (allowed: a "
                         f"divisor of d)")
    if inputs["positional"].startswith("rope") and (d // h) % 2:
        raise ValueError(f"positional = {inputs['positional']!r} needs an even head dimension "
                         f"d / n_heads; got {d} / {h}")


# ------------------------------------------------------------------------------- registration
#: Upper end of the count inputs of the integer-valued results (classes, labels, widths): the
#: outputs then stay far inside the double range, so JSON readers and bounds see exact numbers.
COUNT_MAX = 10**15

_LNB = (integer("L", 1, doc="number of labels"),
        integer("N", 2, doc="context pairs"),
        integer("B", 1, doc="burstiness (a divisor of N, < N)"))

register_closed_form(
    "mmicl.random_guess_cla", "CLA of a uniform label guess on bursty uniform-label sequences",
    _LNB, random_guess_cla_expr, lambda: (L_, N_, B_),
    _ref("reference-levels-of-bursty-uniform-label-sequences"),
    check=_bursty_check, bounds={"value": (0, 1)})

register_closed_form(
    "mmicl.copy_slot_uniform", "accuracy of copying a random context slot's label (bursty, "
    "uniform labels, e.g. the IC set)", _LNB, copy_slot_uniform_expr, lambda: (L_, N_, B_),
    _ref("reference-levels-of-bursty-uniform-label-sequences"),
    check=_bursty_check, bounds={"value": (0, 1)})


register_closed_form(
    "mmicl.ideal_tila", "largest expected TILA (= IndStrength): an ideal induction head on bursty "
    "uniform-label sequences, E[1/|M|]", _LNB, ideal_tila_expr, lambda: (L_, N_, B_),
    _ref("reference-levels-of-bursty-uniform-label-sequences"), check=_bursty_check,
    bounds={"value": (0, 1)})


#: ``m min(m, L)`` (``m = N/B``) up to which ``E[1/D]`` is the exact rational sum (about 0.3 s);
#: beyond it, the occupancy recursion in double precision, up to ``DISTINCT_MAX_WORK``.
DISTINCT_EXACT_WORK = 40_000
DISTINCT_MAX_WORK = 2 * 10**8
#: Largest ``m = N/B`` of the recursion (one vector update per draw: about 2 s at the limit).
DISTINCT_MAX_M = 200_000


def distinct_label_law_float(L: int, m: int):
    """``P(D = d)``, ``d = 0..min(m, L)``, by the occupancy recursion in double precision:
    ``P_{t+1}(d) = P_t(d) d/L + P_t(d-1) (L - d + 1)/L`` (each new draw repeats one of the ``d``
    labels seen or shows a new one).  Convex combinations only: no cancellation, error ``O(m eps)``.
    """
    import numpy as np

    n = min(m, L)
    d = np.arange(n + 1, dtype=float)
    stay, new = d / L, (L - d + 1) / L
    p = np.zeros(n + 1)
    p[0] = 1.0
    for _ in range(m):
        p[1:] = p[1:] * stay[1:] + p[:-1] * new[1:]
        p[0] = 0.0
    return p


def _distinct_check(inputs: dict) -> None:
    _bursty_check(inputs)
    m, L = inputs["N"] // inputs["B"], inputs["L"]
    if m > DISTINCT_MAX_M or m * min(m, L) > DISTINCT_MAX_WORK:
        raise ValueError(f"m = N/B = {m} with L = {L} exceeds the limits of the occupancy "
                         f"computation; allowed: N/B <= {DISTINCT_MAX_M} and (N/B) min(N/B, L) "
                         f"<= {DISTINCT_MAX_WORK:.0e}")


def _distinct(L, N, B):
    import numpy as np

    m = N // B
    expected = -L * math.expm1(m * math.log1p(-1 / L)) if L > 1 else 1.0  # L (1 - (1 - 1/L)^m)
    if m * min(m, L) <= DISTINCT_EXACT_WORK:
        return {"accuracy": float(distinct_label_accuracy(L, m)), "expected_distinct": expected}
    p = distinct_label_law_float(L, m)
    return {"accuracy": float(np.sum(p[1:] / np.arange(1, p.size))),
            "expected_distinct": expected}


register(Result(
    "mmicl.distinct_label_accuracy", "accuracy of picking among the distinct context labels "
    "(bursty, uniform labels) and E[# distinct labels]", _LNB, _distinct,
    _ref("reference-levels-of-bursty-uniform-label-sequences",
         "Feller, An Introduction to Probability Theory and Its Applications, Vol. I (occupancy)"),
    "exact",
    "exact rational sum for (N/B) min(N/B, L) <= 4e4, else the occupancy recursion in double "
    "precision (limit 2e8)", outputs=("accuracy", "expected_distinct"),
    definition="accuracy = E[1/D] = sum_{d=1}^{min(m,L)} C(L,d) d! S(m,d) / (d L^m),  m = N/B\n"
               "expected_distinct = E[D] = L (1 - (1 - 1/L)^m)\n"
               "S(m,d): Stirling numbers of the second kind; D: distinct labels among the m "
               "i.i.d. uniform base labels.", check=_distinct_check,
    bounds=lambda inp: {"accuracy": (0, 1), "expected_distinct": (1, inp["L"])}))


def _kc2_check(inputs: dict) -> None:
    if inputs["K2"] % inputs["L2"]:
        raise ValueError(f"K2 = {inputs['K2']} must be a multiple of L2 = {inputs['L2']}")


register(Result(
    "mmicl.novel_m2_classes", "number of novel M2 classes in a multimodal ICL set",
    (integer("K1", 1, COUNT_MAX, doc="primary classes"),
     integer("K2", 1, COUNT_MAX, doc="secondary classes"),
     integer("L2", 1, COUNT_MAX, doc="secondary labels"),
     integer("K_c1", 1, COUNT_MAX, doc="novel primary classes", default=128)),
    novel_m2_classes, _ref("novel-secondary-classes", AUTHORS_CODE),
    "exact", definition="K_c2 = max(L2, floor(K_c1 K2 / (K1 L2)) L2)", check=_kc2_check,
    bounds=lambda inp: {"value": (inp["L2"], math.inf)}))


register(Result(
    "mmicl.param_count", "trainable parameters and width of the paper's decoder, by positional "
    "scheme", (integer("D", 1, COUNT_MAX, doc="item/label feature dimension"),
               integer("L", 1, COUNT_MAX, doc="output labels"),
               integer("n_layers", 1, COUNT_MAX, doc="layers", default=2),
               integer("n_heads", 1, COUNT_MAX, doc="heads (W_O added when > 1)", default=1),
               choice("positional", POSITIONAL_SCHEMES, doc="positional scheme", default="ape"),
               integer("ape_len", 2, COUNT_MAX, doc="one-hot length with APE (2 Nmax + 1)",
                       default=65)),
    param_count, _ref("decoder-and-parameter-count", AUTHORS_CODE + ", model.py"), "exact",
    outputs=("parameters", "d_model"),
    definition="d = D + ape_len (APE), d = D (rope, rope_repo, alibi)\n"
               "parameters = n_layers (6 d^2 + 5 d + [n_heads > 1] d^2) + d + d L",
    check=_param_check, bounds={"parameters": (1, math.inf), "d_model": (1, math.inf)}))
