"""Bursty Gaussian-mixture classification sequences of the mmicl testbed (prefix ``mmicl``).

NumPy only (no torch): any model, ours in :mod:`icl_companion.validation` or a user's, can be fed and measured.
Setup of Huang, Roth, Bouniot, Xu, Akata, "Dissecting multimodal in-context learning"
(arXiv 2601.20796; section numbers not known), following the Reddy (2023) task, as coded in the
authors' ``dataset.py``; ``docs/derivations/mmicl.md#task`` (the task) and
``docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture`` (the derived quantities).

Generative model
----------------
Prototypes ``mu_k ~ N(0, I_D/D)`` (``k = 0..K-1``), label vectors ``lambda_l ~ N(0, I_D/D)``
(``l = 0..L-1``), class ``k`` carries label ``k mod L`` (``K`` a multiple of ``L``).  An item of class
``k`` is ``x = (mu_k + eps eta) / sqrt(1 + eps^2)`` with ``eta ~ N(0, I_D/D)``; a label token is the
noise-free ``lambda_l``.  Classes are drawn from the Zipf law ``P(k) ∝ (k+1)^-alpha``.

A sequence is

* *novel* with probability ``p_C``: bursty construction over ``K_c`` fresh prototypes drawn for
  the batch (uniform classes, labels ``j mod L``);
* otherwise *bursty* with probability ``p_B``: ``N/B`` classes i.i.d. from ``P``, each tiled ``B``
  times, shuffled; the query is the class of a uniformly random context slot;
* otherwise *non-bursty*: ``N`` context classes and the query class i.i.d. from ``P``.

``B = 0`` means non-bursty (``p_B`` is treated as 0); novel sequences, and the bursty
swapped-label ``IC2`` set, then use ``B = N/2`` (:func:`novel_burstiness` for odd ``N``).

Unimodal token layout (what :class:`UniBatch` holds)
----------------------------------------------------
``T = 2N + 1`` tokens, ``tokens.shape == (batch, T, P + D)``, dtype from the config (float32):

=========================  ================================================================
position ``t``             content of ``tokens[:, t, P:]`` (the feature block, width ``D``)
=========================  ================================================================
``2i``     (i = 0..N-1)    context item ``x_i``                       (``layout.item_pos``)
``2i + 1`` (i = 0..N-1)    label vector ``lambda_{y_i}``              (``layout.label_pos``)
``2N``                     query item ``x_q``; loss / readout here    (``layout.query_pos``)
=========================  ================================================================

``tokens[:, t, :P]`` is the APE block (``docs/derivations/mmicl.md#positional-schemes``): the
one-hot ``e_{s+t}`` of length ``P = config.ape`` with a random per-sequence shift ``s ~ U{0..P-T}``
(``batch.shift``), concatenated, not added.  With ``ape = 0`` (RoPE / ALiBi models) the block is
absent and ``tokens`` is the ``(batch, T, D)`` feature sequence.  The target is ``batch.target``
(``int64`` in ``[0, L)``), read out from the last position.

Multimodal layout (what :class:`MMBatch` holds)
-----------------------------------------------
``T = 3N + 2`` tokens.  M2 items live in their own space (``D2``) and are mapped to the model width by
the model's projector, so the batch keeps the pieces apart: ``x1 (batch, N+1, D1)`` (M1 items, query
last), ``x2 (batch, N+1, D2)`` (raw M2 items, query last), ``label_tokens (batch, N, D1)``.  The
sequence is ``[x1_0, P(x2_0), lambda_0, ..., x1_{N-1}, P(x2_{N-1}), lambda_{N-1}, x1_q, P(x2_q)]``:

=========================  ========================================
``3i``     (i = 0..N)      M1 item (``layout.item_pos``; ``i = N``: M1 query)
``3i + 1`` (i = 0..N)      projected M2 item (``layout.item2_pos``; ``i = N``: M2 query)
``3i + 2`` (i = 0..N-1)    label vector (``layout.label_pos``)
``3N + 1``                 readout position (``layout.query_pos``, the projected M2 query)
=========================  ========================================

:meth:`MMBatch.tokens` assembles the ``(batch, T, P + D1)`` array for a given projection of
``x2`` (NumPy; a torch model does the same with index assignment at these positions), with the same
optional APE block (``batch.onehot (batch, T, P)``, ``batch.shift``).  Labels: ``k2 mod L2`` of the
pair's M2 class (shared labels; ``lambda`` from M1's label table, output head of size ``L1``), or
``(k1 mod G1) L2 + k2 mod L2`` in the joint-label control.  The target is the query pair's label;
the swapped-label set shifts labels modulo ``L2`` (shared) or ``L1`` (joint).

Integer bookkeeping for the metrics (:mod:`icl_companion.numerics.mmicl_metrics`): ``labels (batch, N)`` context
labels, ``target (batch,)``, ``match = labels == target[:, None]`` (the set ``M``, a *label* match),
``classes (batch, N+1)`` class ids (query last) in a combined index space where ids ``>= K`` are the
batch's novel classes (novel ``j`` has id ``K + j``), ``novel`` and ``bursty`` flags per sequence.

Evaluation sets (the authors' ``main_stage1.py``): ``"IC"`` (novel classes, bursty: ICL on unseen
classes), ``"IC2"`` (trained classes, bursty, every label shifted ``l -> l+1``: ICL that must
override in-weights knowledge), ``"IW"`` (non-bursty, trained classes: memorisation) and ``"test"``
(the training law).

Every batch is a pure function of the task seed and the ``Generator`` state: no global RNG.

>>> task = GMMTask(GMMConfig(K=64, L=8, N=4, D=6, B=2, ape=9), seed=0)
>>> b = task.sample(3, np.random.default_rng(1))
>>> b.tokens.shape, b.target.shape, b.layout.label_pos.tolist()
((3, 9, 15), (3,), [1, 3, 5, 7])
>>> bool((b.tokens[:, :, :9].sum(-1) == 1).all())
True
>>> GMMConfig(K=100, L=32)
Traceback (most recent call last):
...
ValueError: K = 100 must be a positive multiple of L = 32 (each label is shared by K/L classes)

References
----------
Huang, Roth, Bouniot, Xu, Akata (2026), arXiv 2601.20796, and the authors' ``dataset.py``
(``ICLDataset``, ``MMDataset``, ``get_mm_mus_label_class[_joint]``),
github.com/YiranHuangIrene/multimodal-icl; ``docs/derivations/mmicl.md#task``; Reddy (2023), arXiv
2312.03002 (the unimodal task).
"""

from __future__ import annotations

import math
from fractions import Fraction
from dataclasses import dataclass

import numpy as np

from icl_companion.theory.mmicl import check_burstiness, novel_m2_classes
from icl_companion.theory.registry import NOT_NUMBERED, Reference, Result, integer, real, register

__all__ = ["GMMConfig", "MMConfig", "Layout", "unimodal_layout", "multimodal_layout", "GMMTask",
           "MMTask", "UniBatch", "MMBatch", "zipf_probs", "novel_m2_classes", "EVAL_SETS",
           "label_probs", "novel_burstiness", "p_query_in_context", "copy_slot_accuracy",
           "ape_onehot", "step_rng", "bursty_label_stats"]

EVAL_SETS = ("IC", "IC2", "IW", "test")


# ----------------------------------------------------------------------------- validation helpers
def _check_int(name: str, value, lo: int, hi: float = math.inf) -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{name} = {value!r} must be an integer in [{lo}, {_fmt(hi)}]")
    v = int(value)
    if not (lo <= v <= hi):
        raise ValueError(f"{name} = {v} is outside the allowed range [{lo}, {_fmt(hi)}]")
    return v


def _check_prob(name: str, value) -> float:
    v = float(value)
    if not (0.0 <= v <= 1.0):  # also rejects nan
        raise ValueError(f"{name} = {value!r} is outside the allowed range [0, 1]")
    return v


def _check_real(name: str, value, lo: float = 0.0) -> float:
    v = float(value)
    if not (math.isfinite(v) and v >= lo):
        raise ValueError(f"{name} = {value!r} is outside the allowed range [{_fmt(lo)}, inf)")
    return v


def _fmt(v) -> str:
    return "inf" if v == math.inf else f"{v:g}"


def _check_mixture_and_tokens(cfg, T_formula: str) -> None:
    """Validate (and canonicalise, on a frozen config) the fields every task config shares: the
    sequence-mixture fractions ``p_B``, ``p_C``, the APE one-hot length (0 or at least the sequence
    length ``cfg.T``, given as ``T_formula`` in messages) and the dtype."""
    s = object.__setattr__
    s(cfg, "p_B", _check_prob("p_B", cfg.p_B))
    s(cfg, "p_C", _check_prob("p_C", cfg.p_C))
    s(cfg, "ape", _check_int("ape", cfg.ape, 0))
    if 0 < cfg.ape < cfg.T:
        raise ValueError(f"ape = {cfg.ape} is too short for T = {T_formula} = {cfg.T} tokens "
                         f"(allowed: 0 for no one-hot block, or an integer >= {cfg.T})")
    if cfg.dtype not in ("float32", "float64"):
        raise ValueError(f"dtype = {cfg.dtype!r} is not allowed (float32 or float64)")


def novel_burstiness(N: int, B: int) -> int:
    """Burstiness of the bursty sequences of a ``B = 0`` config (novel and swapped-label sets).

    The authors use ``N/2``; for odd ``N`` (where ``N/2`` does not tile) the largest
    divisor of ``N`` not above ``N/2`` is used (1 for prime ``N``; 1 for ``N = 1``).

    >>> [novel_burstiness(N, B) for N, B in ((8, 0), (8, 2), (9, 0), (7, 0))]
    [4, 2, 3, 1]
    """
    if B:
        return B
    if N < 2:
        return 1
    # N / (smallest prime factor of N) is the largest proper divisor: trial division up to sqrt(N)
    p = 2
    while p * p <= N:
        if N % p == 0:
            return N // p
        if p > NOVEL_MAX_FACTOR:
            raise ValueError(f"N = {N}: the novel-sequence burstiness needs the smallest prime "
                             f"factor of N, not found below {NOVEL_MAX_FACTOR}; allowed with "
                             f"B = 0: N <= {NOVEL_MAX_FACTOR ** 2:.0e}")
        p += 1 if p == 2 else 2
    return 1  # N is prime


#: Trial divisors tried by :func:`novel_burstiness` (every N <= 1e12 is decided, in < 0.5 s).
NOVEL_MAX_FACTOR = 10**6


# ------------------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class GMMConfig:
    """Unimodal bursty Gaussian-mixture task (``docs/derivations/mmicl.md#task``; defaults are the
    paper's except ``K``).

    Parameters
    ----------
    K : int
        Number of classes; a multiple of ``L``.
    L : int
        Number of labels (output classes).
    N : int
        Exemplar-label pairs in context; sequence length ``T = 2N + 1``.
    D : int
        Item / label dimension.
    eps : float
        Within-class noise ``>= 0``.
    B : int
        Burstiness: copies of each context class, ``0`` (non-bursty) or a divisor of ``N``, ``< N``.
    alpha : float
        Zipf exponent ``>= 0`` of the class law.
    p_B, p_C : float in [0, 1]
        Fractions of bursty and of novel-class training sequences.
    K_c : int
        Fresh prototypes per novel batch (paper: 128).
    ape : int
        Length ``P`` of the concatenated one-hot position block; ``0`` for none; else ``P >= T``
        (paper: ``2 N_max + 1 = 65``; reduced CPU runs: ``2N + 1``).
    dtype : str
        Dtype of the float arrays (``"float32"`` for torch, or ``"float64"``).
    """

    K: int = 4096
    L: int = 32
    N: int = 8
    D: int = 63
    eps: float = 0.1
    B: int = 2
    alpha: float = 0.0
    p_B: float = 1.0
    p_C: float = 0.0
    K_c: int = 128
    ape: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        s = object.__setattr__
        for name, lo in (("L", 1), ("N", 1), ("D", 1), ("K_c", 1)):
            s(self, name, _check_int(name, getattr(self, name), lo))
        s(self, "K", _check_int("K", self.K, 1))
        if self.K % self.L:
            raise ValueError(f"K = {self.K} must be a positive multiple of L = {self.L} "
                             f"(each label is shared by K/L classes)")
        s(self, "B", _check_int("B", self.B, 0, self.N))
        check_burstiness(self.N, self.B)
        s(self, "eps", _check_real("eps", self.eps))
        s(self, "alpha", _check_real("alpha", self.alpha))
        _check_mixture_and_tokens(self, "2N+1")

    @property
    def T(self) -> int:
        """Sequence length ``2N + 1``."""
        return 2 * self.N + 1

    @property
    def width(self) -> int:
        """Token width ``P + D``."""
        return self.ape + self.D

    @property
    def p_bursty(self) -> float:
        """Effective bursty fraction: ``p_B``, or 0 when ``B = 0``."""
        return 0.0 if self.B == 0 else self.p_B

    @property
    def B_novel(self) -> int:
        """Burstiness of novel sequences: ``B``, or :func:`novel_burstiness` when ``B = 0``."""
        return novel_burstiness(self.N, self.B)


@dataclass(frozen=True)
class MMConfig:
    """Multimodal task (``docs/derivations/mmicl.md#task``): primary M1 and secondary M2 with their
    own prototypes.

    ``joint=False`` (paper default): M2 class ``k2`` has label ``k2 mod L2``, the M2 labels are the
    first ``L2`` labels of M1 (``L2 <= L1``, ``L2`` divides ``L1``), and each M2 class in a bursty
    sequence is paired with an M1 class of the same label drawn with probability ``∝ P1``.

    ``joint=True`` (the joint-label control of the authors' ``main_stage2_joint_label.py``): M1 and
    M2 classes are drawn independently and the label is ``g1 * G2 + g2`` with ``g1 = k1 mod G1``,
    ``g2 = k2 mod G2``, where ``G2 = L2`` and ``G1 = L1 / L2`` (so ``L1 = G1 G2`` output labels);
    both modalities are then needed to name the label.

    ``K_c2 = None`` uses the paper's ``max(L2, floor(128 K2 / (K1 L2)) L2)`` (:func:`novel_m2_classes`).
    """

    K1: int = 8192
    K2: int = 256
    L1: int = 32
    L2: int = 16
    N: int = 8
    D1: int = 64
    D2: int = 64
    eps1: float = 0.1
    eps2: float = 0.1
    alpha1: float = 0.0
    alpha2: float = 0.0
    B: int = 4
    p_B: float = 1.0
    p_C: float = 0.0
    K_c1: int = 128
    K_c2: int | None = None
    joint: bool = False
    ape: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        s = object.__setattr__
        for name in ("L1", "L2", "N", "D1", "D2", "K_c1", "K1", "K2"):
            s(self, name, _check_int(name, getattr(self, name), 1))
        if self.L1 % self.L2:
            raise ValueError(f"L2 = {self.L2} must divide L1 = {self.L1} (allowed: a divisor "
                             f"of L1; the M2 labels are the first L2 labels of M1)")
        G1 = self.L1 // self.L2 if self.joint else self.L1
        if self.K1 % G1:
            raise ValueError(f"K1 = {self.K1} must be a positive multiple of "
                             f"{'G1 = L1/L2' if self.joint else 'L1'} = {G1}")
        if self.K2 % self.L2:
            raise ValueError(f"K2 = {self.K2} must be a positive multiple of L2 = {self.L2}")
        if self.K_c1 % G1:
            raise ValueError(f"K_c1 = {self.K_c1} must be a positive multiple of "
                             f"{'G1 = L1/L2' if self.joint else 'L1'} = {G1} (every label needs "
                             f"novel M1 classes)")
        if self.K_c2 is None:
            s(self, "K_c2", novel_m2_classes(self.K1, self.K2, self.L2, self.K_c1))
        s(self, "K_c2", _check_int("K_c2", self.K_c2, 1))
        if self.K_c2 % self.L2:
            raise ValueError(f"K_c2 = {self.K_c2} must be a positive multiple of L2 = {self.L2}")
        s(self, "B", _check_int("B", self.B, 0, self.N))
        check_burstiness(self.N, self.B)
        for name in ("eps1", "eps2", "alpha1", "alpha2"):
            s(self, name, _check_real(name, getattr(self, name)))
        _check_mixture_and_tokens(self, "3N+2")
        s(self, "joint", bool(self.joint))

    @property
    def T(self) -> int:
        """Sequence length ``3N + 2``."""
        return 3 * self.N + 2

    @property
    def p_bursty(self) -> float:
        return 0.0 if self.B == 0 else self.p_B

    @property
    def B_novel(self) -> int:
        return novel_burstiness(self.N, self.B)

    @property
    def n_labels(self) -> int:
        """Size of the output head: ``L1`` (the label table is M1's)."""
        return self.L1

    def unimodal(self) -> GMMConfig:
        """The stage-1 config whose task shares this task's M1 prototypes and labels."""
        return GMMConfig(K=self.K1, L=self.L1, N=self.N, D=self.D1, eps=self.eps1, B=self.B,
                         alpha=self.alpha1, p_B=self.p_B, p_C=self.p_C, K_c=self.K_c1,
                         ape=0, dtype=self.dtype)


# ------------------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class Layout:
    """Token positions of one sequence format (arrays of ints; see the module docstring)."""

    T: int
    N: int
    item_pos: np.ndarray    # (N,) context items (M1 items in the multimodal format)
    label_pos: np.ndarray   # (N,) label tokens
    query_pos: int          # readout position (last token)
    item2_pos: np.ndarray | None = None  # (N,) M2 context items (multimodal only)
    query1_pos: int | None = None        # M1 query (multimodal only)


def unimodal_layout(N: int) -> Layout:
    """``[x_0, l_0, ..., x_{N-1}, l_{N-1}, x_q]``: items ``2i``, labels ``2i+1``, query ``2N``."""
    i = np.arange(N)
    return Layout(2 * N + 1, N, 2 * i, 2 * i + 1, 2 * N)


def multimodal_layout(N: int) -> Layout:
    """Triplets ``[x1_i, x2_i, l_i]``: M1 ``3i``, M2 ``3i+1``, labels ``3i+2``; queries ``3N, 3N+1``."""
    i = np.arange(N)
    return Layout(3 * N + 2, N, 3 * i, 3 * i + 2, 3 * N + 1, 3 * i + 1, 3 * N)


# ------------------------------------------------------------------------------- class laws
def zipf_probs(K: int, alpha: float) -> np.ndarray:
    """Class law ``P(k) = (k+1)^-alpha / sum_j j^-alpha``, ``k = 0..K-1``
    (``docs/derivations/mmicl.md#task``).

    >>> zipf_probs(3, 1.0).round(4).tolist()
    [0.5455, 0.2727, 0.1818]
    """
    w = _zipf_weights(K, alpha)
    return w / w.sum()


def _zipf_weights(K: int, alpha: float) -> np.ndarray:
    """``(k/k_0)^-alpha`` for ``k = 1..K``, rescaled by any positive constant; computed in logs
    so that large ``alpha`` cannot underflow a whole row to zero."""
    logw = -float(alpha) * np.log(np.arange(1, K + 1, dtype=float))
    return np.exp(logw - logw.max())


def label_probs(K: int, L: int, alpha: float) -> np.ndarray:
    """Law of the label ``k mod L`` of a Zipf class: ``q_l = sum_{k = l mod L} P(k)``."""
    return zipf_probs(K, alpha).reshape(K // L, L).sum(0)


class _ClassSampler:
    """Vectorised draws from ``P`` (Zipf) and from ``P`` conditioned on the label ``k mod G``.

    Conditional draws use one ``searchsorted`` on row-offset CDFs: row ``l`` of the table holds
    ``l + CDF_l(j)`` for the classes ``k = l + G j``, so ``searchsorted(flat, l + u)`` lands in row
    ``l`` without a Python loop over labels.
    """

    def __init__(self, K: int, G: int, alpha: float):
        self.K, self.G, self.alpha = K, G, alpha
        self.uniform = alpha == 0
        p = zipf_probs(K, alpha)
        self.cdf = np.cumsum(p)
        self.cdf[-1] = 1.0
        # (G, K/G): row l holds P(l + G j) up to a row constant; rescaled per row in logs so a
        # row whose probabilities all underflow (huge alpha) still has its own conditional law
        logw = -float(alpha) * np.log(np.arange(1, K + 1, dtype=float))
        per = logw.reshape(K // G, G).T
        per = np.exp(per - per.max(1, keepdims=True))
        c = np.cumsum(per / per.sum(1, keepdims=True), axis=1)
        c[:, -1] = 1.0
        self.flat = (c + np.arange(G)[:, None]).ravel()
        self.per_label = K // G

    def draw(self, rng: np.random.Generator, size) -> np.ndarray:
        if self.uniform:
            return rng.integers(0, self.K, size=size)
        k = np.searchsorted(self.cdf, rng.random(size), side="right")
        return np.minimum(k, self.K - 1)

    def draw_given_label(self, rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
        """A class ``k`` with ``k mod G == labels`` (elementwise), probability ``∝ P(k)``."""
        if self.uniform:
            j = rng.integers(0, self.per_label, size=labels.shape)
        else:
            u = rng.random(labels.shape)
            pos = np.searchsorted(self.flat, labels + u, side="right") - labels * self.per_label
            j = np.clip(pos, 0, self.per_label - 1)
        return labels + self.G * j


def _tile_shuffle(rng: np.random.Generator, base: np.ndarray, B: int, *others: np.ndarray):
    """Tile each of the ``m`` columns ``B`` times, shuffle each row (the same permutation for
    ``others``, so pairs stay pairs), and pick the query at a uniformly random slot."""
    n, m = base.shape
    N = m * B
    perm = np.argsort(rng.random((n, N)), axis=1)
    slot = rng.integers(0, N, size=n)
    rows = np.arange(n)
    out = []
    for a in (base,) + others:
        ctx = np.take_along_axis(np.repeat(a, B, axis=1), perm, axis=1)
        out.append((ctx, ctx[rows, slot]))
    return out


def _items(rng, protos: np.ndarray, classes: np.ndarray, eps: float, dtype) -> np.ndarray:
    """``(mu_k + eps eta) / sqrt(1 + eps^2)`` with ``eta ~ N(0, I/D)``, for an array of classes."""
    D = protos.shape[1]
    eta = rng.standard_normal(classes.shape + (D,), dtype=dtype)
    x = protos[classes]
    x += (eps / math.sqrt(D)) * eta
    x *= 1.0 / math.sqrt(1.0 + eps * eps)
    return x


def ape_onehot(rng: np.random.Generator, n: int, T: int, P: int, dtype="float32"):
    """Concatenated APE block: ``onehot[b, t, shift[b] + t] = 1``, ``shift ~ U{0..P-T}``.

    Returns ``(onehot (n, T, P), shift (n,))``; ``docs/derivations/mmicl.md#positional-schemes``.
    """
    if P < T:
        raise ValueError(f"ape = {P} is too short for T = {T} tokens (allowed: >= {T})")
    shift = rng.integers(0, P - T + 1, size=n)
    oh = np.zeros((n, T, P), dtype=dtype)
    t = np.arange(T)
    oh[np.arange(n)[:, None], t[None, :], shift[:, None] + t[None, :]] = 1
    return oh, shift


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator of training step ``step`` of a run with data seed ``seed``.

    ``default_rng(SeedSequence([seed, step]))``: the batch of every step is a pure function of
    ``(seed, step)``, so a run resumed from a checkpoint at step ``t`` sees exactly the batches of
    an uninterrupted run, without storing generator state.

    >>> t = GMMTask(GMMConfig(K=8, L=4, N=4, D=2), seed=0)
    >>> bool((t.sample(2, step_rng(5, 10)).tokens == t.sample(2, step_rng(5, 10)).tokens).all())
    True
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(step)]))


def _kinds(rng, n: int, p_B: float, p_C: float):
    """Per-sequence kind: novel (prob ``p_C``), else bursty (prob ``p_B``), else non-bursty."""
    novel = rng.random(n) < p_C
    bursty = ~novel & (rng.random(n) < p_B)
    return novel, bursty


# -------------------------------------------------------------------------------- unimodal
@dataclass
class UniBatch:
    """A batch of unimodal sequences (layout in the module docstring)."""

    tokens: np.ndarray    # (n, T, P + D)
    target: np.ndarray    # (n,) int64 in [0, L)
    labels: np.ndarray    # (n, N) int64 context labels
    classes: np.ndarray   # (n, N + 1) class ids, query last; ids >= K are novel
    novel: np.ndarray     # (n,) bool
    bursty: np.ndarray    # (n,) bool (novel sequences are bursty too)
    shift: np.ndarray | None  # (n,) APE shift, None without APE
    layout: Layout
    name: str = "train"

    @property
    def match(self) -> np.ndarray:
        """``(n, N)`` bool: context label equals the target (the set ``M`` of
        ``docs/derivations/mmicl.md#circuit-metrics``)."""
        return self.labels == self.target[:, None]

    def __len__(self) -> int:
        return self.target.shape[0]


class _EvalSets:
    """The paper's four evaluation sets, for any task whose ``sample`` takes ``p_B``, ``p_C``,
    ``swap`` and ``name`` (``docs/derivations/mmicl.md#task``): ``IC`` novel classes, bursty;
    ``IC2`` trained classes with swapped labels; ``IW`` non-bursty (memorisation); ``test`` the
    training distribution."""

    _SETS = {"IC": dict(p_B=1.0, p_C=1.0), "IC2": dict(p_B=1.0, p_C=0.0, swap=True),
             "IW": dict(p_B=0.0, p_C=0.0), "test": {}}

    def eval_set(self, name: str, S: int, rng: np.random.Generator):
        """One evaluation set of ``S`` sequences drawn with ``rng``."""
        if name not in self._SETS:
            raise ValueError(f"eval set {name!r} is unknown; allowed: {', '.join(EVAL_SETS)}")
        return self.sample(S, rng, name=name, **self._SETS[name])

    def eval_sets(self, S: int = 1000, seed: int = 1) -> dict:
        """The four fixed evaluation sets, each from its own child of ``SeedSequence(seed)``."""
        kids = np.random.SeedSequence(seed).spawn(len(EVAL_SETS))
        return {nm: self.eval_set(nm, S, np.random.default_rng(k))
                for nm, k in zip(EVAL_SETS, kids)}


class GMMTask(_EvalSets):
    """A unimodal task: fixed prototypes and labels (from ``seed``) and a batch sampler.

    The prototypes ``mu (K, D)`` are drawn first and the labels ``lam (L, D)`` second from
    ``default_rng(seed)``; :class:`MMTask` repeats these calls so that its M1 space equals the
    stage-1 task's when ``K1 = K``, ``D1 = D`` and the seeds agree (as in the authors' code, where
    both stages seed the same generator).
    """

    def __init__(self, config: GMMConfig, seed: int = 0):
        self.config = config
        self.seed = int(seed)
        c = config
        rng = np.random.default_rng(self.seed)
        dt = np.dtype(c.dtype)
        self.mu = (rng.standard_normal((c.K, c.D)) / math.sqrt(c.D)).astype(dt)
        self.lam = (rng.standard_normal((c.L, c.D)) / math.sqrt(c.D)).astype(dt)
        self.sampler = _ClassSampler(c.K, c.L, c.alpha)
        self.layout = unimodal_layout(c.N)

    def sample(self, n: int, rng: np.random.Generator, *, p_B: float | None = None,
               p_C: float | None = None, swap: bool = False, name: str = "train") -> UniBatch:
        """``n`` sequences of the training law (or with ``p_B`` / ``p_C`` overridden).

        ``swap=True`` shifts every context label and the target ``l -> (l + 1) mod L``
        (the swapped-label set).  Vectorised over the batch: no loop over sequences.
        """
        c = self.config
        n = _check_int("n", n, 1)
        pB = c.p_bursty if p_B is None else _check_prob("p_B", p_B)
        pC = c.p_C if p_C is None else _check_prob("p_C", p_C)
        N, K, L, dt = c.N, c.K, c.L, np.dtype(c.dtype)
        novel, bursty = _kinds(rng, n, pB, pC)
        classes = np.empty((n, N + 1), dtype=np.int64)
        # trained bursty
        ib = np.flatnonzero(bursty)
        if ib.size:
            Bb = c.B or c.B_novel  # an explicit p_B > 0 with B = 0 uses N/2, like novel sequences
            (ctx, q), = _tile_shuffle(rng, self.sampler.draw(rng, (ib.size, N // Bb)), Bb)
            classes[ib, :N], classes[ib, N] = ctx, q
        # trained non-bursty
        inb = np.flatnonzero(~bursty & ~novel)
        if inb.size:
            classes[inb] = self.sampler.draw(rng, (inb.size, N + 1))
        # novel: fresh prototypes for this batch, uniform classes, bursty
        inv = np.flatnonzero(novel)
        protos = self.mu
        if inv.size:
            fresh = (rng.standard_normal((c.K_c, c.D)) / math.sqrt(c.D)).astype(dt)
            protos = np.concatenate([self.mu, fresh])
            Bn = c.B_novel
            (ctx, q), = _tile_shuffle(rng, rng.integers(0, c.K_c, (inv.size, N // Bn)), Bn)
            classes[inv, :N], classes[inv, N] = ctx + K, q + K
        bursty = bursty | novel
        # K is a multiple of L, so the novel id K + j has label j mod L = (K + j) mod L
        lab = classes % L
        if swap:
            lab = (lab + 1) % L
        x = _items(rng, protos, classes, c.eps, dt)
        tokens = np.empty((n, c.T, c.width), dtype=dt)
        P = c.ape
        lay = self.layout
        tokens[:, lay.item_pos, P:] = x[:, :N]
        tokens[:, lay.label_pos, P:] = self.lam[lab[:, :N]]
        tokens[:, lay.query_pos, P:] = x[:, N]
        shift = None
        if P:
            tokens[:, :, :P], shift = ape_onehot(rng, n, c.T, P, dt)
        return UniBatch(tokens, lab[:, N].copy(), lab[:, :N].copy(), classes, novel, bursty,
                        shift, lay, name)



# ------------------------------------------------------------------------------- multimodal
@dataclass
class MMBatch:
    """A batch of multimodal triplet sequences (layout in the module docstring)."""

    x1: np.ndarray            # (n, N + 1, D1) M1 items, query last
    x2: np.ndarray            # (n, N + 1, D2) raw M2 items, query last
    label_tokens: np.ndarray  # (n, N, D1)
    target: np.ndarray        # (n,)
    labels: np.ndarray        # (n, N)
    classes1: np.ndarray      # (n, N + 1), ids >= K1 are novel
    classes2: np.ndarray      # (n, N + 1), ids >= K2 are novel
    novel: np.ndarray
    bursty: np.ndarray
    onehot: np.ndarray | None  # (n, T, P) APE block or None
    shift: np.ndarray | None
    layout: Layout
    name: str = "train"

    @property
    def match(self) -> np.ndarray:
        return self.labels == self.target[:, None]

    def __len__(self) -> int:
        return self.target.shape[0]

    def tokens(self, x2_projected: np.ndarray | None = None) -> np.ndarray:
        """Assemble ``(n, T, P + D1)`` tokens; ``x2_projected (n, N+1, D1)`` defaults to ``x2``
        (which then must have ``D2 = D1``).  Zero the M1 or M2 slots for modality zeroing."""
        z = self.x2 if x2_projected is None else np.asarray(x2_projected)
        D1 = self.x1.shape[-1]
        if z.shape != self.x1.shape:
            raise ValueError(f"x2_projected has shape {z.shape}; expected {self.x1.shape} "
                             f"(project M2 to D1 = {D1} first)")
        n, lay = len(self), self.layout
        P = 0 if self.onehot is None else self.onehot.shape[-1]
        out = np.empty((n, lay.T, P + D1), dtype=self.x1.dtype)
        m1 = np.append(lay.item_pos, lay.query1_pos)
        m2 = np.append(lay.item2_pos, lay.query_pos)
        out[:, m1, P:] = self.x1
        out[:, m2, P:] = z
        out[:, lay.label_pos, P:] = self.label_tokens
        if P:
            out[:, :, :P] = self.onehot
        return out


class MMTask(_EvalSets):
    """A multimodal task: M1 prototypes/labels (shared with stage 1), M2 prototypes, a sampler.

    From ``default_rng(seed)``: ``mu1 (K1, D1)`` then ``lam (L1, D1)`` (exactly the calls of
    :class:`GMMTask`), then ``nu (K2, D2)``.
    """

    def __init__(self, config: MMConfig, seed: int = 0):
        self.config = c = config
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        dt = np.dtype(c.dtype)
        self.mu1 = (rng.standard_normal((c.K1, c.D1)) / math.sqrt(c.D1)).astype(dt)
        self.lam = (rng.standard_normal((c.L1, c.D1)) / math.sqrt(c.D1)).astype(dt)
        self.nu = (rng.standard_normal((c.K2, c.D2)) / math.sqrt(c.D2)).astype(dt)
        self.G1 = c.L1 // c.L2 if c.joint else c.L1
        self.s1 = _ClassSampler(c.K1, self.G1, c.alpha1)
        self.s2 = _ClassSampler(c.K2, c.L2, c.alpha2)
        self.layout = multimodal_layout(c.N)

    def label_of(self, k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
        """Label of a pair: ``k2 mod L2`` (shared), or ``(k1 mod G1) L2 + k2 mod L2`` (joint).

        Novel ids ``K + j`` give the same residues as ``j`` since ``K1 = 0 mod G1``, ``K2 = 0 mod L2``.
        """
        c = self.config
        if c.joint:
            return (k1 % self.G1) * c.L2 + k2 % c.L2
        return k2 % c.L2

    def sample(self, n: int, rng: np.random.Generator, *, p_B: float | None = None,
               p_C: float | None = None, swap: bool = False, name: str = "train") -> MMBatch:
        """``n`` triplet sequences; ``swap`` shifts labels ``l -> l+1`` modulo the label set of
        the task (``L2`` shared, ``L1`` joint) so the swapped target stays a reachable M2 label."""
        c = self.config
        n = _check_int("n", n, 1)
        pB = c.p_bursty if p_B is None else _check_prob("p_B", p_B)
        pC = c.p_C if p_C is None else _check_prob("p_C", p_C)
        N, dt = c.N, np.dtype(c.dtype)
        novel, bursty = _kinds(rng, n, pB, pC)
        k1 = np.empty((n, N + 1), dtype=np.int64)
        k2 = np.empty((n, N + 1), dtype=np.int64)

        def pairs(m_rows, m, draw2, draw1_given, draw1):
            b2 = draw2((m_rows, m))
            b1 = draw1((m_rows, m)) if c.joint else draw1_given(b2 % c.L2)
            return b1, b2

        ib = np.flatnonzero(bursty)
        if ib.size:
            Bb = c.B or c.B_novel
            b1, b2 = pairs(ib.size, N // Bb, lambda s: self.s2.draw(rng, s),
                           lambda lab: self.s1.draw_given_label(rng, lab),
                           lambda s: self.s1.draw(rng, s))
            (c2, q2), (c1, q1) = _tile_shuffle(rng, b2, Bb, b1)
            k1[ib, :N], k1[ib, N], k2[ib, :N], k2[ib, N] = c1, q1, c2, q2
        inb = np.flatnonzero(~bursty & ~novel)
        if inb.size:  # M1 and M2 independent, no within-exemplar label consistency
            k1[inb] = self.s1.draw(rng, (inb.size, N + 1))
            k2[inb] = self.s2.draw(rng, (inb.size, N + 1))
        inv = np.flatnonzero(novel)
        P1, P2 = self.mu1, self.nu
        if inv.size:
            f1 = (rng.standard_normal((c.K_c1, c.D1)) / math.sqrt(c.D1)).astype(dt)
            f2 = (rng.standard_normal((c.K_c2, c.D2)) / math.sqrt(c.D2)).astype(dt)
            P1, P2 = np.concatenate([self.mu1, f1]), np.concatenate([self.nu, f2])
            Bn = c.B_novel
            per1 = c.K_c1 // self.G1
            b1, b2 = pairs(inv.size, N // Bn, lambda s: rng.integers(0, c.K_c2, s),
                           lambda lab: lab + self.G1 * rng.integers(0, per1, lab.shape),
                           lambda s: rng.integers(0, c.K_c1, s))
            (c2, q2), (c1, q1) = _tile_shuffle(rng, b2, Bn, b1)
            k1[inv, :N], k1[inv, N] = c1 + c.K1, q1 + c.K1
            k2[inv, :N], k2[inv, N] = c2 + c.K2, q2 + c.K2
        bursty = bursty | novel
        lab = self.label_of(k1, k2)
        if swap:
            lab = (lab + 1) % (c.L1 if c.joint else c.L2)
        x1 = _items(rng, P1, k1, c.eps1, dt)
        x2 = _items(rng, P2, k2, c.eps2, dt)
        onehot = shift = None
        if c.ape:
            onehot, shift = ape_onehot(rng, n, c.T, c.ape, dt)
        return MMBatch(x1, x2, self.lam[lab[:, :N]], lab[:, N].copy(), lab[:, :N].copy(), k1, k2,
                       novel, bursty, onehot, shift, self.layout, name)



# ------------------------------------------------------------------------ derived closed forms
def p_query_in_context(K: int, N: int, alpha: float, B: int, p_B: float, p_C: float) -> dict:
    """Probability that the query's class appears among the context classes
    (``docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture``).

    Bursty and novel sequences always contain it; a non-bursty sequence draws ``N`` context classes
    and the query i.i.d. from ``P``, so it does with probability
    ``r = sum_k P(k) (1 - (1 - P(k))^N)``.  Over the training mixture:
    ``p_C + (1 - p_C) (p_B' + (1 - p_B') r)`` with ``p_B' = 0`` when ``B = 0``.  ``r`` is the
    fraction of the in-weights set ``IW`` that copying could solve (its "contamination").

    References
    ----------
    arXiv 2601.20796 (sampling, ``IW`` set);
    ``docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture``.

    >>> round(p_query_in_context(4, 2, 0.0, 0, 1.0, 0.0)["nonbursty"], 6)  # 1 - (3/4)^2
    0.4375
    """
    if alpha == 0:  # uniform classes: r = 1 - (1 - 1/K)^N, in O(1) time and memory
        r = 1.0 if K == 1 else -math.expm1(N * math.log1p(-1 / K))
    else:
        P = zipf_probs(K, alpha)
        with np.errstate(divide="ignore"):  # P(k) = 1 (huge alpha): log1p(-1) = -inf, term = 1
            r = float(np.sum(P * -np.expm1(N * np.log1p(-P))))
    pb = 0.0 if B == 0 else p_B
    return {"value": p_C + (1 - p_C) * (pb + (1 - pb) * r), "nonbursty": r}


def _sum_sq_novel_labels(K_c: int, L: int) -> float:
    """``sum_l q_l^2`` for labels ``j mod L`` of ``K_c`` uniform novel classes: ``r = K_c mod L``
    labels carry ``q + 1`` classes and ``L - r`` carry ``q = K_c // L`` (exact integer sums, no
    array of length ``K_c``)."""
    q, r = divmod(K_c, L)
    return float(Fraction(r * (q + 1) ** 2 + (L - r) * q * q, K_c * K_c))


def _sum_sq_labels(K: int, L: int, alpha: float) -> float:
    """``S2 = sum_l q_l^2`` of the label law; ``1/L`` for uniform classes (K a multiple of L)."""
    if alpha == 0:
        return 1.0 / L
    return float(np.sum(label_probs(K, L, alpha) ** 2))


def copy_slot_accuracy(K: int, L: int, N: int, alpha: float, B: int, p_B: float, p_C: float,
                       K_c: int = 128) -> dict:
    """Accuracy ``E|M|/N`` of copying the label of a uniformly random context slot.

    With label law ``q_l = sum_{k = l mod L} P(k)`` and ``S2 = sum_l q_l^2`` (the probability that
    two independent labels agree):

    * bursty (``m = N/B`` base draws, the query is one of them): ``1/m + (1 - 1/m) S2``;
    * non-bursty (context independent of the query): ``S2``;
    * novel (``m_c = N / B_novel`` uniform draws over ``K_c`` classes): ``1/m_c + (1 - 1/m_c) S2c``;

    mixed with weights ``p_C``, ``(1 - p_C) p_B'``, ``(1 - p_C)(1 - p_B')``.  For uniform labels it
    reduces to :func:`icl_companion.theory.mmicl.copy_slot_uniform_expr`.  ``E|M|`` is also the mean size of the
    match set ``M`` of the induction metrics (``docs/derivations/mmicl.md#circuit-metrics``).

    References
    ----------
    arXiv 2601.20796; ``docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture``.
    """
    S2 = _sum_sq_labels(K, L, alpha)
    S2c = _sum_sq_novel_labels(K_c, L)
    pb = 0.0 if B == 0 else p_B
    Bn = novel_burstiness(N, B)
    bursty = (B / N + (1 - B / N) * S2) if B else S2
    novel = Bn / N + (1 - Bn / N) * S2c
    return {"value": p_C * novel + (1 - p_C) * (pb * bursty + (1 - pb) * S2),
            "bursty": bursty, "nonbursty": S2, "novel": novel}


def bursty_label_stats(K: int, L: int, N: int, alpha: float, B: int) -> dict:
    """Label statistics of bursty sequences of trained Zipf classes (``IC2``, bursty training).

    With ``m = N/B`` i.i.d. base draws of label law ``q`` (:func:`label_probs`), the number of
    distinct context labels has ``E[D] = sum_l (1 - (1 - q_l)^m)``.  Given the query's label
    ``l``, ``|M| = B (1 + X)`` with ``X ~ Binomial(m - 1, q_l)``, and
    ``E[1/(1+X)] = (1 - (1 - q_l)^m)/(m q_l)``, so the expected TILA of an ideal induction head is
    ``E[1/|M|] = sum_l q_l (1 - (1-q_l)^m)/(B m q_l) = E[D]/N``.  Also returned: the CLA of a
    uniform guess ``E[D]/L`` and the copy-a-random-slot accuracy ``1/m + (1 - 1/m) sum_l q_l^2``.
    At ``alpha = 0`` these are :func:`icl_companion.theory.mmicl.ideal_tila_expr`,
    :func:`icl_companion.theory.mmicl.random_guess_cla_expr` and :func:`icl_companion.theory.mmicl.copy_slot_uniform_expr`.

    References
    ----------
    arXiv 2601.20796; ``docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture``.
    """
    m = N // B
    if alpha == 0:  # uniform labels: E[D] = L (1 - (1 - 1/L)^m), S2 = 1/L
        ED = 1.0 if L == 1 else -L * math.expm1(m * math.log1p(-1 / L))
        S2 = 1.0 / L
    else:
        q = label_probs(K, L, alpha)
        with np.errstate(divide="ignore"):  # q_l = 1: log1p(-1) = -inf, term = 1
            ED = float(np.sum(-np.expm1(m * np.log1p(-q))))
        S2 = float(np.sum(q * q))
    return {"expected_distinct": ED, "ideal_tila": ED / N, "random_guess_cla": ED / L,
            "copy_slot": 1 / m + (1 - 1 / m) * S2}


def _bursty_check(inputs: dict) -> None:
    _config_check(inputs)
    if inputs["B"] == 0:
        raise ValueError(f"B = 0 (non-bursty) has no bursty statistics; allowed: a divisor of N "
                         f"in [1, {inputs['N'] - 1}]")


#: Largest number of Zipf classes (``alpha > 0``) of the closed forms below: the class law is an
#: array of ``K`` doubles (80 MB at the limit, about a second).  Uniform classes (``alpha = 0``)
#: have O(1) closed forms and no limit.
MAX_ZIPF_CLASSES = 10**7


def _config_check(inputs: dict) -> None:
    GMMConfig(**{k: v for k, v in inputs.items() if k in GMMConfig.__dataclass_fields__})
    if inputs.get("B") == 0 and "K_c" in inputs and inputs["N"] > NOVEL_MAX_FACTOR ** 2:
        raise ValueError(f"N = {inputs['N']} with B = 0 exceeds the limit {NOVEL_MAX_FACTOR ** 2:.0e} "
                         f"(the novel sequences' burstiness needs the smallest prime factor of N)")
    if inputs.get("alpha", 0) > 0 and inputs["K"] > MAX_ZIPF_CLASSES:
        raise ValueError(f"K = {inputs['K']} Zipf classes (alpha > 0) exceeds the limit "
                         f"{MAX_ZIPF_CLASSES:.0e} (the class law is summed term by term); "
                         f"allowed: K <= {MAX_ZIPF_CLASSES:.0e}, or alpha = 0 for any K")


_SEQ_PARAMS = (
    integer("K", 1, doc="classes (a multiple of L)"),
    integer("N", 2, doc="context pairs"),
    real("alpha", 0, doc="Zipf exponent", default=0.0),
    integer("B", 0, doc="burstiness: 0 (non-bursty) or a divisor of N below N", default=2),
    real("p_B", 0, 1, doc="bursty fraction", default=1.0),
    real("p_C", 0, 1, doc="novel-class fraction", default=0.0),
)

register(Result(
    "mmicl.p_query_in_context", "probability that the query class appears in context "
    "(training mixture; 'nonbursty' = the IW set)",
    _SEQ_PARAMS[:1] + (integer("L", 1, doc="labels (K must be a multiple)", default=32),)
    + _SEQ_PARAMS[1:],
    lambda K, L, N, alpha, B, p_B, p_C: p_query_in_context(K, N, alpha, B, p_B, p_C),
    Reference("mmicl", NOT_NUMBERED,
              "docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture"),
    "exact", "finite sum over the K classes (O(1) for alpha = 0)",
    outputs=("value", "nonbursty"), bounds={"value": (0, 1), "nonbursty": (0, 1)},
    definition="nonbursty r = sum_k P(k) (1 - (1 - P(k))^N),  P(k) = (k+1)^-alpha / H_K(alpha)\n"
               "value = p_C + (1 - p_C) (p_B' + (1 - p_B') r),  p_B' = 0 if B = 0 else p_B",
    check=_config_check))

register(Result(
    "mmicl.copy_slot_accuracy", "accuracy of copying a random context slot's label (= E|M|/N), "
    "Zipf classes, bursty/non-bursty/novel mixture",
    _SEQ_PARAMS[:1] + (integer("L", 1, doc="labels (K must be a multiple)", default=32),)
    + _SEQ_PARAMS[1:] + (integer("K_c", 1, doc="novel classes per batch", default=128),),
    copy_slot_accuracy,
    Reference("mmicl", NOT_NUMBERED,
              "docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture"), "exact",
    "finite sums over the K classes and L labels",
    outputs=("value", "bursty", "nonbursty", "novel"),
    bounds={k: (0, 1) for k in ("value", "bursty", "nonbursty", "novel")},
    definition="q_l = sum_{k = l mod L} P(k),  S2 = sum_l q_l^2,  m = N/B\n"
               "bursty = 1/m + (1 - 1/m) S2,  nonbursty = S2,  novel = same as bursty with "
               "m_c = N/B_novel and the labels j mod L of K_c uniform classes\n"
               "value = p_C novel + (1 - p_C) (p_B' bursty + (1 - p_B') nonbursty)",
    check=_config_check))

register(Result(
    "mmicl.bursty_label_stats", "bursty sequences of trained Zipf classes: E[# distinct labels], "
    "ideal induction-head TILA E[1/|M|], uniform-guess CLA, copy-slot accuracy",
    _SEQ_PARAMS[:1] + (integer("L", 1, doc="labels (K must be a multiple)", default=32),)
    + _SEQ_PARAMS[1:4],
    bursty_label_stats,
    Reference("mmicl", NOT_NUMBERED,
              "docs/derivations/mmicl.md#zipf-classes-and-the-training-mixture"), "exact",
    "finite sums over the L labels",
    outputs=("expected_distinct", "ideal_tila", "random_guess_cla", "copy_slot"),
    bounds=lambda inp: {"expected_distinct": (1, inp["L"]), "ideal_tila": (0, 1),
                        "random_guess_cla": (0, 1), "copy_slot": (0, 1)},
    definition="q_l = sum_{k = l mod L} P(k),  m = N/B\n"
               "expected_distinct = E[D] = sum_l (1 - (1 - q_l)^m)\n"
               "ideal_tila = E[1/|M|] = E[D]/N,  random_guess_cla = E[D]/L\n"
               "copy_slot = 1/m + (1 - 1/m) sum_l q_l^2",
    check=_bursty_check))
