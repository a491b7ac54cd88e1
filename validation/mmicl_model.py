"""The small decoder of Huang et al. (2026) for bursty in-context classification (torch).

The model has no token embedding: each input token *is* its feature vector (an item, a label, or a
projected secondary-modality item), optionally concatenated with a shifted one-hot position.  Blocks
are pre-RMSNorm, ``h = x + Attn(RMSNorm(x))``, ``x' = h + MLP(RMSNorm(h))``; the MLP is the paper's
unusual gated form ``W3 SiLU((W1 x + b1) * (W2 x + b2)) + b3`` (SiLU *after* the product, not SwiGLU);
the logits over the L labels are read out from the last token only, after a final RMSNorm.

Positional schemes (``pos``):

``"ape"``
    Reddy-style absolute positions: a one-hot ``e_{s+t}`` of length ``ape_len`` (``2 Nmax + 1`` in
    the paper, 65) is *concatenated* in front of the feature, with a random shift ``s`` per sequence
    drawn uniformly from ``{0, ..., ape_len - T}``; the model width is ``ape_len + D``.
``"rope"``
    Standard rotary embedding (Su et al. 2021) in the half-split layout, applied to queries and keys
    at positions ``0..T-1``; a true rotation, so ``<R_t q, R_s k>`` depends only on ``t - s``.
``"rope_repo"``
    The authors' released variant: half-split cos/sin tables with an *interleaved* rotate-half.  The
    map is **not a rotation** (it changes norms, and scores are not functions of ``t - s`` alone),
    so it carries partly absolute position information
    (``docs/derivations/mmicl.md#positional-schemes``).  Kept only to compare with the released
    code.
``"alibi"``
    Linear distance biases with the Press et al. (2022) head slopes; features only.

Anything else raises ``ValueError``.  Inference-time interventions: ``capture`` (attention matrices
for the circuit metrics of :mod:`icl_companion.numerics.mmicl_metrics`), ``knockout`` (zero the output of given
``(layer, head)`` pairs before the output projection) and, in :class:`MultimodalDecoder`, modality
zeroing.

References
----------
Y. Huang, K. Roth, Q. Bouniot, W. Xu, Z. Akata, "Dissecting multimodal in-context learning: modality
asymmetries and circuit dynamics in modern transformers", arXiv:2601.20796 (2026; section numbers
not known), the authors' ``model.py`` (github.com/YiranHuangIrene/multimodal-icl);
``docs/derivations/mmicl.md#decoder-and-parameter-count``, ``#positional-schemes``.
G. Reddy, "The mechanistic basis of data dependence and abrupt learning in an in-context
classification task", ICLR 2024 (arXiv:2312.03002): the shifted one-hot APE.
J. Su et al., "RoFormer: enhanced transformer with rotary position embedding", arXiv:2104.09864.
O. Press, N. Smith, M. Lewis, "Train short, test long: attention with linear biases", ICLR 2022.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["POS_SCHEMES", "DecoderConfig", "Decoder", "MultimodalDecoder", "Projector",
           "ape_inputs", "rope_tables", "apply_rope", "alibi_slopes", "count_parameters"]

POS_SCHEMES = ("ape", "rope", "rope_repo", "alibi")


@dataclass(frozen=True)
class DecoderConfig:
    """Shape and positional scheme of the decoder
    (``docs/derivations/mmicl.md#decoder-and-parameter-count``).

    Parameters
    ----------
    d_feat : feature dimension D of items and labels (the paper: 64; Reddy: 63).
    n_labels : number of output labels L (logits).
    n_layers, n_heads : depth and number of heads; the head dimension is ``d_model / n_heads``.
    pos : positional scheme, one of :data:`POS_SCHEMES`.
    ape_len : length of the concatenated one-hot (``2 Nmax + 1``; 65 in the paper).  Must be at
        least the longest sequence the model will see (``3N + 2`` for multimodal use).
    rope_theta : RoPE base.
    norm_eps : RMSNorm epsilon (1e-5 as in the authors' runs).
    mlp : include the gated MLP (the paper's blocks do).
    mlp_init : ``"torch"`` keeps PyTorch's default Linear init for the MLP, which is what the
        authors' runs effectively used (their ``_init_weights`` is never called); ``"normal"`` uses
        N(0, 0.02^2) weights and zero biases.
    """

    d_feat: int
    n_labels: int
    n_layers: int = 2
    n_heads: int = 1
    pos: str = "ape"
    ape_len: int = 65
    rope_theta: float = 1e4
    norm_eps: float = 1e-5
    mlp: bool = True
    mlp_init: str = "torch"

    def __post_init__(self):
        if self.pos not in POS_SCHEMES:
            raise ValueError(f"pos={self.pos!r} is not a positional scheme; allowed: "
                             f"{', '.join(POS_SCHEMES)}")
        for name in ("d_feat", "n_labels", "n_layers", "n_heads"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name}={v!r} must be an integer >= 1")
        if self.pos == "ape" and not (isinstance(self.ape_len, int) and self.ape_len >= 2):
            raise ValueError(f"ape_len={self.ape_len!r} must be an integer >= 2 for pos='ape'")
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads={self.n_heads} must divide the model width "
                             f"d_model={self.d_model}")
        if self.pos.startswith("rope") and (self.d_model // self.n_heads) % 2:
            raise ValueError(f"RoPE needs an even head dimension; got d_model/n_heads = "
                             f"{self.d_model}/{self.n_heads}")
        if self.mlp_init not in ("torch", "normal"):
            raise ValueError(f"mlp_init={self.mlp_init!r}; allowed: 'torch', 'normal'")
        if not self.rope_theta > 0:
            raise ValueError(f"rope_theta={self.rope_theta!r} must be > 0")

    @property
    def d_model(self) -> int:
        """Model width: ``ape_len + D`` for APE, ``D`` otherwise (no token embedding)."""
        return self.d_feat + (self.ape_len if self.pos == "ape" else 0)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- positions
def ape_inputs(feats: torch.Tensor, shift: torch.Tensor, ape_len: int) -> torch.Tensor:
    """Concatenate the shifted one-hot positions in front of the features (Reddy 2024, sec. 2).

    Token ``t`` of sequence ``b`` becomes ``[e_{shift_b + t}; feats[b, t]]`` with ``e`` the standard
    basis of R^ape_len.  ``shift`` is an integer tensor of shape ``(B,)`` with
    ``0 <= shift <= ape_len - T``.
    """
    b, t, _ = feats.shape
    if t > ape_len:
        raise ValueError(f"sequence length T={t} exceeds the APE one-hot length ape_len={ape_len}")
    shift = torch.as_tensor(shift, device=feats.device).long().reshape(-1).expand(b)
    if bool((shift < 0).any()) or bool((shift > ape_len - t).any()):
        raise ValueError(f"APE shift must lie in [0, ape_len - T] = [0, {ape_len - t}]")
    idx = shift[:, None] + torch.arange(t, device=feats.device)[None, :]
    onehot = F.one_hot(idx, ape_len).to(feats.dtype)
    return torch.cat([onehot, feats], dim=-1)


def rope_tables(seq_len: int, head_dim: int, theta: float, dtype=torch.float32):
    """cos/sin tables ``(T, head_dim)`` in the half-split layout: frequency ``i`` sits at columns
    ``i`` and ``i + head_dim/2``, ``omega_i = theta^(-2i/head_dim)`` (Su et al. 2021, eq. 15)."""
    inv = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(seq_len, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def _rotate_half_interleaved(x: torch.Tensor) -> torch.Tensor:
    # the released code's rotate_half: even/odd split, concatenated (inconsistent with the tables)
    return torch.cat([-x[..., 1::2], x[..., 0::2]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
               variant: str = "rope") -> torch.Tensor:
    """Apply RoPE to ``x`` of shape ``(..., T, head_dim)``.

    ``variant="rope"`` pairs column ``i`` with ``i + head_dim/2`` (a rotation by ``t omega_i`` in each
    pair); ``"rope_repo"`` reproduces the authors' mismatch of half-split tables and an interleaved
    rotate-half, which is not orthogonal.
    """
    if variant == "rope":
        return x * cos + _rotate_half(x) * sin
    if variant == "rope_repo":
        return x * cos + _rotate_half_interleaved(x) * sin
    raise ValueError(f"variant={variant!r}; allowed: 'rope', 'rope_repo'")


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Press et al. (2022) head slopes: geometric ``2^(-8 i / n)`` for a power-of-two ``n``, with the
    interleaved extension of the next power of two otherwise."""

    def pow2(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    m = 2 ** int(math.floor(math.log2(n_heads)))
    s = pow2(m)
    if m < n_heads:
        s += pow2(2 * m)[0::2][: n_heads - m]
    return torch.tensor(s)


# ----------------------------------------------------------------------------- blocks
class GatedMLP(nn.Module):
    """``W3 SiLU((W1 x + b1) * (W2 x + b2)) + b3`` with three ``d x d`` layers (the authors'
    ``model.py``)."""

    def __init__(self, d: int, init: str):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = (nn.Linear(d, d) for _ in range(3))
        if init == "normal":
            for lin in (self.fc1, self.fc2, self.fc3):
                nn.init.normal_(lin.weight, std=0.02)
                nn.init.zeros_(lin.bias)

    def forward(self, x):
        return self.fc3(F.silu(self.fc1(x) * self.fc2(x)))


class Attention(nn.Module):
    """Causal multi-head attention, bias-free ``W_Q, W_K, W_V`` (and ``W_O`` when ``h > 1``)."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.wq, self.wk, self.wv = (nn.Linear(d, d, bias=False) for _ in range(3))
        self.wo = nn.Linear(d, d, bias=False) if cfg.n_heads > 1 else None
        for lin in (self.wq, self.wk, self.wv) + ((self.wo,) if self.wo is not None else ()):
            nn.init.normal_(lin.weight, std=0.02)
        if cfg.pos == "alibi":
            self.register_buffer("slopes", alibi_slopes(cfg.n_heads), persistent=False)

    def forward(self, x, knock: Sequence[int] = (), capture: list | None = None,
                last_only: bool = False):
        """Attention of every position (``last_only=False``) or of the last query only (the
        last layer when only the last token's logits are read: the same numbers for that row,
        about a third fewer products in the layer)."""
        b, t, d = x.shape
        h, hd = self.cfg.n_heads, self.cfg.head_dim
        tq = 1 if last_only else t
        xq = x[:, t - tq:]
        q = self.wq(xq).view(b, tq, h, hd).transpose(1, 2)
        k, v = (w(x).view(b, t, h, hd).transpose(1, 2) for w in (self.wk, self.wv))
        if self.cfg.pos.startswith("rope"):
            cos, sin = (a.to(x.device) for a in rope_tables(t, hd, self.cfg.rope_theta, x.dtype))
            q = apply_rope(q, cos[t - tq:], sin[t - tq:], self.cfg.pos)
            k = apply_rope(k, cos, sin, self.cfg.pos)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        pos = torch.arange(t, device=x.device)
        dist = (pos[t - tq:, None] - pos[None, :]).to(x.dtype)  # query minus key
        if self.cfg.pos == "alibi":
            scores = scores - self.slopes.to(x.dtype)[:, None, None] * dist.clamp_min(0)
        scores = scores.masked_fill(dist < 0, float("-inf"))
        attn = torch.softmax(scores, dim=-1)  # stable: max-subtracted internally
        if capture is not None:
            capture.append(attn.detach())
        out = attn @ v  # (b, h, tq, hd)
        if knock:
            keep = torch.ones(h, dtype=x.dtype, device=x.device)
            keep[list(knock)] = 0.0
            out = out * keep[None, :, None, None]
        out = out.transpose(1, 2).reshape(b, tq, d)
        return self.wo(out) if self.wo is not None else out


class Block(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.attn_norm = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp = GatedMLP(cfg.d_model, cfg.mlp_init) if cfg.mlp else None
        self.mlp_norm = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps) if cfg.mlp else None

    def forward(self, x, knock=(), capture=None, last_only=False):
        a = self.attn(self.attn_norm(x), knock, capture, last_only)
        x = (x[:, -1:] if last_only else x) + a
        if self.mlp is not None:
            x = x + self.mlp(self.mlp_norm(x))
        return x


def _knock_map(knockout: Iterable, cfg: DecoderConfig) -> dict[int, list[int]]:
    per: dict[int, list[int]] = {}
    for item in knockout:
        try:
            layer, head = (int(v) for v in item)
        except (TypeError, ValueError):
            raise ValueError(f"knockout entries must be (layer, head) pairs; got {item!r}") from None
        if not (0 <= layer < cfg.n_layers and 0 <= head < cfg.n_heads):
            raise ValueError(f"knockout (layer={layer}, head={head}) outside layers "
                             f"0..{cfg.n_layers - 1}, heads 0..{cfg.n_heads - 1}")
        per.setdefault(layer, []).append(head)
    return per


class Decoder(nn.Module):
    """The paper's decoder (``docs/derivations/mmicl.md#decoder-and-parameter-count``), reading
    tokens that are already feature vectors.

    ``forward(feats, shift=None, generator=None, knockout=(), capture=None)``:

    * ``feats``: ``(B, T, D)`` token features;
    * ``shift``: APE shifts ``(B,)`` (or an int); when ``None`` they are drawn uniformly from
      ``{0..ape_len-T}`` with ``generator`` (training and evaluation as in the paper), or set to 0
      when no generator is given (deterministic inference);
    * ``knockout``: ``(layer, head)`` pairs whose attention output is zeroed;
    * ``capture``: a list that receives each layer's attention ``(B, h, T, T)`` (detached);
    * ``all_positions``: return ``(B, T, L)`` logits at every position instead.

    Returns the ``(B, L)`` logits of the last token.
    """

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
        self.out = nn.Linear(cfg.d_model, cfg.n_labels, bias=False)
        nn.init.normal_(self.out.weight, std=0.02)

    def embed(self, feats, shift=None, generator=None):
        """Token features -> model inputs (the APE concatenation, or the features themselves)."""
        if feats.shape[-1] != self.cfg.d_feat:
            raise ValueError(f"feature dimension {feats.shape[-1]} != d_feat={self.cfg.d_feat}")
        if self.cfg.pos != "ape":
            return feats
        b, t, _ = feats.shape
        if shift is None:
            if t > self.cfg.ape_len:
                raise ValueError(f"sequence length T={t} exceeds ape_len={self.cfg.ape_len}")
            if generator is None:
                shift = torch.zeros(b, dtype=torch.long)
            else:
                shift = torch.randint(0, self.cfg.ape_len - t + 1, (b,), generator=generator)
        return ape_inputs(feats, shift, self.cfg.ape_len)

    def forward(self, feats, shift=None, generator=None, knockout=(), capture=None,
                all_positions=False):
        x = self.embed(feats, shift, generator)
        knocks = _knock_map(knockout, self.cfg)
        # the paper reads out the last token only, so the last layer needs only the last query
        # (its keys and values still come from every position); all_positions exposes every
        # position (tests), and a capture needs every layer's full attention matrix
        prune = not all_positions and capture is None
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x, knocks.get(i, ()), capture, last_only=prune and i == last)
        return self.out(self.norm(x if all_positions else x[:, -1]))


class Projector(nn.Module):
    """Stage-2 projector ``W_b GELU(W_a z)``, bias-free, N(0, 0.02^2) init (the authors'
    ``model.py``)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_out, bias=False)
        self.fc2 = nn.Linear(d_out, d_out, bias=False)
        for lin in (self.fc1, self.fc2):
            nn.init.normal_(lin.weight, std=0.02)

    def forward(self, z):
        return self.fc2(F.gelu(self.fc1(z)))


class MultimodalDecoder(nn.Module):
    """Projector + decoder on triplet sequences (``docs/derivations/mmicl.md#task``).

    ``forward(x1, x2, lab, ...)`` takes the primary items ``x1 (B, N+1, D1)`` and the raw secondary
    items ``x2 (B, N+1, D2)`` (context items, then the query) and the label tokens
    ``lab (B, N, D1)``, i.e. the pieces of :class:`icl_companion.numerics.mmicl_data.MMBatch`, and builds
    ``[x1_0, Proj(x2_0), lab_0, ..., x1_{N-1}, Proj(x2_{N-1}), lab_{N-1}, x1_q, Proj(x2_q)]``
    (M1 at ``3i``, M2 at ``3i+1``, labels at ``3i+2``); the readout is the projected M2 query.

    ``zero="m1"`` zeroes the primary items (context and query; labels and positions are kept),
    ``zero="m2"`` the secondary items (before the bias-free projector, so the projected tokens are
    zero as well).  Other arguments as in :class:`Decoder`.
    """

    def __init__(self, decoder: Decoder, d2: int):
        super().__init__()
        self.decoder = decoder
        self.projector = Projector(d2, decoder.cfg.d_feat)

    @property
    def cfg(self) -> DecoderConfig:
        return self.decoder.cfg

    def tokens(self, x1, x2, lab, zero=None):
        """The ``(B, 3N+2, D1)`` feature sequence (before the APE block)."""
        b, n1, d1 = x1.shape
        n = n1 - 1
        if x2.shape[:2] != (b, n + 1) or lab.shape != (b, n, d1):
            raise ValueError(f"expected x1 (B, N+1, D1), x2 (B, N+1, D2), lab (B, N, D1); got "
                             f"{tuple(x1.shape)}, {tuple(x2.shape)}, {tuple(lab.shape)}")
        if zero not in (None, "m1", "m2"):
            raise ValueError(f"zero={zero!r}; allowed: None, 'm1', 'm2'")
        if zero == "m1":
            x1 = torch.zeros_like(x1)
        if zero == "m2":
            x2 = torch.zeros_like(x2)
        z = self.projector(x2)
        # interleave: (x1_i, z_i, lab_i) for i < N, then (x1_q, z_q)
        trip = torch.stack([x1[:, :n], z[:, :n], lab], dim=2).reshape(b, 3 * n, d1)
        return torch.cat([trip, x1[:, n:], z[:, n:]], dim=1)

    def forward(self, x1, x2, lab, shift=None, generator=None, knockout=(), capture=None,
                zero=None):
        return self.decoder(self.tokens(x1, x2, lab, zero), shift, generator, knockout, capture)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters; for one head and ``n`` layers the decoder has
    ``n (6 d^2 + 5 d) + d + d L`` (``docs/derivations/mmicl.md#decoder-and-parameter-count``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
