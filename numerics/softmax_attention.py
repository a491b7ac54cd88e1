"""One-layer multi-head softmax (and linear) attention with hand-written gradients, Adam, a trainer.

The model of He, Pan, Chen, Yang (2025), as trained in the authors' code (``src/models.py``): per
head ``h`` bias-free maps ``W_K^h, W_Q^h, W_V^h`` of the ``D = d + N`` dimensional tokens (head
dimension ``D``) and an output map ``W_O^h`` to the ``N`` responses; the query ``z_q = [x_q; 0]``
attends to the ``L`` context tokens only; no residual (irrelevant: the read-out entry of ``z_q`` is
0), layer norm, MLP or positional encoding:

    yhat_q = sum_h W_O^h sum_l softmax_l( (W_K^h z_l)^T (W_Q^h z_q) / sqrt(D) ) W_V^h z_l .

Only the effective circuits matter: ``KQ^h = W_K^hT W_Q^h / sqrt(D)`` (rows: key coordinates,
columns: query coordinates) and ``OV^h = W_V^hT W_O^hT`` (``D x N``), so the forward pass computes
``u = KQ z_q``, the logits ``z_l^T u``, the attention-weighted token mean ``zbar`` and
``yhat = sum_h OV^hT zbar^h``.  Linear attention (``kind="linear"``) replaces the softmax by
``logit / L`` and, as in the paper's ``LinTF`` (no mask), also sums over the query token.

The backward pass is written out by hand (chain rule through ``OV``, ``zbar``, the softmax Jacobian
``A (dA - <A, dA>)``, ``u`` and ``KQ``); ``tests/test_softmax_model.py`` checks it against finite
differences and ``validation/softmax_training.py`` against torch autograd.  Everything is batched
with ``matmul`` (no loop over prompts or heads); the softmax subtracts the row maximum.

References
----------
He, Pan, Chen, Yang, "In-Context Linear Regression Demystified", ICML 2025, arXiv:2503.12734 (not
numbered in the sources; ``TF_theta`` and ``LinTF_theta`` as defined in the authors' blog post); code ``XintianPan/ICL_linear`` ``src/models.py``
(``MultiHeadAttention``), PyTorch ``nn.Linear`` default initialisation
(``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``); Kingma & Ba (2015) for Adam.
"""

from __future__ import annotations

import math

import time
from dataclasses import dataclass, field

import numpy as np

from icl_companion.numerics.softmax_data import Setting, TokenBatch, sample_tokens

__all__ = ["init_params", "kq_circuits", "ov_circuits", "forward", "loss_and_grad", "Adam",
           "TrainConfig", "TrainRecord", "train", "train_paired", "train_paired_cached", "predict",
           "mc_model_risk", "PARAM_NAMES"]

PARAM_NAMES = ("WK", "WQ", "WV", "WO")
_KINDS = ("softmax", "linear")


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")


def init_params(rng: np.random.Generator, D: int, H: int, n_out: int = 1,
                dtype=np.float64) -> dict:
    """PyTorch-default-like initialisation of the four maps of ``H`` heads.

    ``W_K, W_Q, W_V`` come from ``nn.Linear(D, D H)`` (``U(+-1/sqrt(D))``), ``W_O`` from
    ``nn.Linear(D H, N)`` (``U(+-1/sqrt(D H))``), as in the authors' code.

    Returns ``{"WK": (H,D,D), "WQ": (H,D,D), "WV": (H,D,D), "WO": (H,N,D)}``; head ``h``'s map
    ``W^h`` acts as ``W^h @ z``.
    """
    for name, v, lo in (("D", D, 2), ("H", H, 1), ("n_out", n_out, 1)):
        if int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {name}={v}")
    b1, b2 = 1 / np.sqrt(D), 1 / np.sqrt(D * H)
    p = {k: rng.uniform(-b1, b1, (H, D, D)) for k in ("WK", "WQ", "WV")}
    p["WO"] = rng.uniform(-b2, b2, (H, n_out, D))
    return {k: v.astype(dtype) for k, v in p.items()}


def kq_circuits(params: dict) -> np.ndarray:
    """``KQ^h = W_K^hT W_Q^h / sqrt(D)``, shape ``(H, D, D)`` (rows key, columns query coordinate)."""
    D = params["WK"].shape[-1]
    return np.matmul(params["WK"].transpose(0, 2, 1), params["WQ"]) / np.sqrt(D)


def ov_circuits(params: dict) -> np.ndarray:
    """``OV^h = W_V^hT W_O^hT``, shape ``(H, D, N)``: maps a token to the ``N`` outputs."""
    return np.matmul(params["WV"].transpose(0, 2, 1), params["WO"].transpose(0, 2, 1))


def _tokens(batch: TokenBatch, kind: str):
    """The tokens attended to: the ``L`` context tokens (softmax: the query is masked), plus the
    query token for linear attention (the paper's unmasked ``Z_ebd Z_ebd^T``)."""
    if kind == "linear":
        return batch.full
    return batch.Z


def forward(params: dict, batch: TokenBatch, kind: str = "softmax", keep: bool = False,
            norm_L: int | None = None):
    """Predictions ``yhat`` of shape ``(n, N)``; with ``keep=True`` also the intermediates.

    ``norm_L`` (linear attention only) is the constant of the ``1/L`` factor; default the batch's
    context length.  The paper's ``LinTF`` hard-codes the training length: evaluate a model trained
    at ``L_train`` on longer prompts with ``norm_L=L_train``
    (``docs/derivations/softmax.md#linear-attention-length-generalisation``).

    References
    ----------
    He et al. (2025), ``TF_theta(Z_ebd)_{d+1, L+1}`` and ``LinTF_theta`` of the authors' blog post.
    """
    _check_kind(kind)
    T = _tokens(batch, kind)                      # (n, T, D)
    KQ = kq_circuits(params)                      # (H, D, D)
    OV = ov_circuits(params)                      # (H, D, N)
    U = np.matmul(batch.zq, KQ.transpose(0, 2, 1))  # (H, n, D): u_nh = KQ_h z_q,n
    U = U.transpose(1, 0, 2)                      # (n, H, D)
    S = np.matmul(U, T.transpose(0, 2, 1))        # (n, H, T) logits
    if kind == "softmax":
        A = S - S.max(axis=-1, keepdims=True)     # stable softmax
        np.exp(A, out=A)
        A /= A.sum(axis=-1, keepdims=True)
    else:
        if norm_L is not None and not (int(norm_L) == norm_L and norm_L >= 1):
            raise ValueError(f"norm_L must be an integer >= 1, got norm_L={norm_L}")
        A = S / (batch.L if norm_L is None else norm_L)   # the paper's 1/L
    Zbar = np.matmul(A, T)                        # (n, H, D) attention-weighted tokens
    # yhat_np = sum_h sum_a Zbar_nha OV_hap
    yhat = np.matmul(Zbar.transpose(1, 0, 2), OV).sum(axis=0)   # (n, N)
    if keep:
        return yhat, {"T": T, "KQ": KQ, "OV": OV, "U": U, "A": A, "Zbar": Zbar}
    return yhat


def predict(params: dict, batch: TokenBatch, kind: str = "softmax",
            norm_L: int | None = None) -> np.ndarray:
    """Predictions, shape ``(n, N)`` (``forward`` without intermediates)."""
    return forward(params, batch, kind, norm_L=norm_L)


def loss_and_grad(params: dict, batch: TokenBatch, kind: str = "softmax"):
    """Batch-mean squared error ``mean_{n,k} (yhat_nk - yq_nk)^2`` and its gradients (hand-written).

    Returns ``(loss, grads)`` with ``grads`` keyed like ``params``.
    """
    yhat, c = forward(params, batch, kind, keep=True)
    T, KQ, OV, U, A, Zbar = (c[k] for k in ("T", "KQ", "OV", "U", "A", "Zbar"))
    n, N = yhat.shape
    r = yhat - batch.yq
    loss = float(np.mean(r * r))
    G = (2.0 / (n * N)) * r                       # dloss/dyhat, (n, N)
    Zb_h = Zbar.transpose(1, 0, 2)                # (H, n, D)
    dOV = np.matmul(Zb_h.transpose(0, 2, 1), G)   # (H, D, N): sum_n Zbar_nha G_np
    dZbar = np.matmul(G, OV.transpose(0, 2, 1)).transpose(1, 0, 2)   # (n, H, D)
    dA = np.matmul(dZbar, T.transpose(0, 2, 1))   # (n, H, T)
    if kind == "softmax":
        dS = A * (dA - np.sum(A * dA, axis=-1, keepdims=True))
    else:
        dS = dA / batch.L
    dU = np.matmul(dS, T)                         # (n, H, D)
    dKQ = np.matmul(dU.transpose(1, 2, 0), batch.zq)   # (H, D, D): sum_n dU_nha zq_nb
    s = np.sqrt(KQ.shape[-1])
    WK, WQ, WV, WO = (params[k] for k in PARAM_NAMES)
    grads = {
        "WK": np.matmul(WQ, dKQ.transpose(0, 2, 1)) / s,   # KQ = WK^T WQ / s
        "WQ": np.matmul(WK, dKQ) / s,
        "WV": np.matmul(WO.transpose(0, 2, 1), dOV.transpose(0, 2, 1)),  # OV = WV^T WO^T
        "WO": np.matmul(dOV.transpose(0, 2, 1), WV.transpose(0, 2, 1)),
    }
    return loss, grads


class Adam:
    """Adam (Kingma & Ba 2015) with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, bias-corrected,
    no weight decay.  Updates the parameter arrays in place (preallocated moment buffers)."""

    def __init__(self, params: dict, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got lr={lr}")
        self.lr, (self.b1, self.b2), self.eps = float(lr), betas, float(eps)
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self._tmp = {k: np.empty_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: dict, grads: dict) -> None:
        self.t += 1
        c1 = 1 - self.b1 ** self.t
        c2 = 1 - self.b2 ** self.t
        step = self.lr / c1
        for k, p in params.items():
            g, m, v, tmp = grads[k], self.m[k], self.v[k], self._tmp[k]
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - self.b2
            v += tmp
            # p -= lr/c1 * m / (sqrt(v/c2) + eps)   (PyTorch's form)
            np.divide(v, c2, out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step
            p -= tmp


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (with the seed): the cache key of a run."""

    setting: Setting = Setting()
    H: int = 2
    kind: str = "softmax"
    steps: int = 20_000
    batch: int = 256
    lr: float = 1e-3
    log_every: int = 100
    dtype: str = "float64"

    def __post_init__(self):
        _check_kind(self.kind)
        for name, lo in (("H", 1), ("steps", 1), ("batch", 1), ("log_every", 1)):
            v = getattr(self, name)
            if int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {name}={v}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got lr={self.lr}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")

    def as_dict(self) -> dict:
        return {"setting": self.setting.as_dict(), "H": self.H, "kind": self.kind,
                "steps": self.steps, "batch": self.batch, "lr": self.lr,
                "log_every": self.log_every, "dtype": self.dtype,
                "optimizer": "Adam(0.9, 0.999, eps 1e-8)", "init": "torch nn.Linear default"}


@dataclass
class TrainRecord:
    """The outcome of :func:`train`: final parameters and a log.

    ``log`` holds, at every ``log_every`` steps: ``step``, ``loss`` (mean training loss over the
    interval), ``KQ`` ``(H, D, D)`` and ``OV`` ``(H, D, N)`` snapshots (from which
    :mod:`icl_companion.numerics.softmax_patterns` extracts ``omega_h``, ``mu_h``).  ``finite`` is False if the
    loss became non-finite (training then stops, and the record says so).
    """

    config: TrainConfig
    seed: int
    params: dict
    log: dict = field(default_factory=dict)
    finite: bool = True
    steps_done: int = 0
    seconds: float = 0.0

    # the shared record vocabulary (numerics.record): a run succeeds when it finished every step
    # with a finite loss; a fixed step budget has no stopping residual
    @property
    def success(self) -> bool:
        return self.finite and self.steps_done == self.config.steps

    @property
    def status(self) -> int:
        return 0 if self.success else (2 if not self.finite else 1)

    @property
    def message(self) -> str:
        return ("trained" if self.success else "non-finite loss" if not self.finite
                else f"stopped after {self.steps_done} of {self.config.steps} steps")

    @property
    def nit(self) -> int:
        return self.steps_done

    @property
    def residual(self) -> float:
        return math.nan

    def final_loss(self, window: int = 10) -> float:
        return float(np.mean(self.log["loss"][-window:]))

    def to_data(self) -> dict:
        """The record as plain data (arrays, numbers, strings) for the on-disk cache."""
        return {"config": self.config.as_dict(), "seed": int(self.seed),
                "params": {k: np.asarray(v) for k, v in self.params.items()},
                "log": {k: np.asarray(v) for k, v in self.log.items()},
                "finite": bool(self.finite), "steps_done": int(self.steps_done),
                "seconds": float(self.seconds)}

    @classmethod
    def from_data(cls, data: dict, config: TrainConfig) -> "TrainRecord":
        """Inverse of :meth:`to_data` for a run of ``config``; ``ValueError``/``KeyError`` if the
        data is not such a record."""
        import json

        if json.loads(json.dumps(config.as_dict())) != data["config"]:
            raise ValueError("the stored record is of another training configuration")
        params = {k: np.asarray(data["params"][k]) for k in PARAM_NAMES}
        log = {k: np.asarray(data["log"][k]) for k in ("step", "loss", "KQ", "OV")}
        if not all(v.dtype.kind in "iuf" for v in (*params.values(), *log.values())):
            raise ValueError("non-numeric arrays in a training record")
        return cls(config, int(data["seed"]), params, log, bool(data["finite"]),
                   int(data["steps_done"]), float(data["seconds"]))


class _Run:
    """One model in training: parameters, Adam state and log (the loop body of :func:`train` and
    :func:`train_paired`, so that both do the same arithmetic in the same order)."""

    def __init__(self, config: TrainConfig, params: dict):
        st = config.setting
        self.config, self.params = config, params
        self.opt = Adam(params, config.lr)
        n_log = config.steps // config.log_every
        H, D, N = config.H, st.D, st.n_out
        self.log = {"step": np.zeros(n_log, int), "loss": np.zeros(n_log),
                    "KQ": np.zeros((n_log, H, D, D)), "OV": np.zeros((n_log, H, D, N))}
        self.acc, self.done, self.finite = 0.0, 0, True

    def step(self, t: int, batch: TokenBatch, progress=None) -> bool:
        """Optimiser step ``t`` on ``batch``; False (and the run stops) on a non-finite loss."""
        c = self.config
        loss, grads = loss_and_grad(self.params, batch, c.kind)
        if not np.isfinite(loss):
            self.finite = False
            return False
        self.opt.step(self.params, grads)
        self.acc += loss
        self.done = t
        if t % c.log_every == 0:
            i = t // c.log_every - 1
            self.log["step"][i] = t
            self.log["loss"][i] = self.acc / c.log_every
            self.log["KQ"][i] = kq_circuits(self.params)
            self.log["OV"][i] = ov_circuits(self.params)
            self.acc = 0.0
            if progress is not None:
                progress(t, self.log["loss"][i])
        return True

    def record(self, seed: int, seconds: float) -> TrainRecord:
        k = self.done // self.config.log_every
        log = {key: v[:k] for key, v in self.log.items()}
        return TrainRecord(self.config, int(seed), self.params, log, self.finite, self.done,
                           seconds)


def train(config: TrainConfig, seed: int, progress=None) -> TrainRecord:
    """Train the model of ``config`` from the default initialisation with Adam on fresh batches.

    One ``numpy.random.Generator(seed)`` drives the initialisation and then every batch, so a run is
    reproducible from ``(config, seed)``.  ``progress(step, loss)`` is called at every log step.
    """
    rng = np.random.default_rng(seed)
    st = config.setting
    dtype = np.dtype(config.dtype)
    run = _Run(config, init_params(rng, st.D, config.H, st.n_out, dtype))
    t0 = time.perf_counter()
    for t in range(1, config.steps + 1):
        if not run.step(t, sample_tokens(rng, config.batch, st, dtype=dtype), progress):
            break
    return run.record(seed, time.perf_counter() - t0)


#: Spawn keys of :func:`train_paired`: the batch stream is ``SeedSequence([seed, 0])``, the
#: initialisation of an ``H``-head model ``SeedSequence([seed, 1, H])``.
PAIRED_STREAM, PAIRED_INIT = 0, 1


def _paired_seed(seed) -> int:
    """``seed`` as the entropy of a ``SeedSequence`` (``ValueError`` unless an integer >= 0)."""
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got seed={seed!r}")
    return int(seed)


def train_paired(configs, seed: int) -> list[TrainRecord]:
    """Train several models on one shared stream of batches (common random numbers).

    Every model sees the same batch at every step, drawn from ``SeedSequence([seed, 0])``; the
    model with ``H`` heads starts from ``init_params`` drawn from ``SeedSequence([seed, 1, H])``.
    So each returned record depends only on its own configuration and ``seed``, not on which other
    models were trained with it (a model trained alone, or again after the others, is the same
    model), and differences between the models are not differences of their data.  The batch is
    sampled once per step for all models: sampling is most of a step of these small models
    (``benchmarks/softmax_paired.py``).  A model whose loss becomes non-finite stops (its
    record says so); the others go on.  ``seconds`` of every record is the wall time of the whole
    paired run.

    The configurations must agree on ``setting``, ``batch``, ``dtype`` and ``steps`` (one stream).
    Not the same runs as :func:`train`, whose single generator draws the initialisation and then
    the batches.
    """
    configs = list(configs)
    if not configs:
        raise ValueError("configs must hold at least one TrainConfig")
    c0 = configs[0]
    for c in configs[1:]:
        for name in ("setting", "batch", "dtype", "steps"):
            if getattr(c, name) != getattr(c0, name):
                raise ValueError(f"paired training needs one {name} for every model; got "
                                 f"{getattr(c0, name)!r} and {getattr(c, name)!r}")
    seed = _paired_seed(seed)
    data = np.random.default_rng(np.random.SeedSequence([seed, PAIRED_STREAM]))
    st, dtype = c0.setting, np.dtype(c0.dtype)
    runs = [_Run(c, init_params(np.random.default_rng(np.random.SeedSequence(
        [seed, PAIRED_INIT, c.H])), st.D, c.H, st.n_out, dtype)) for c in configs]
    live = list(runs)
    t0 = time.perf_counter()
    for t in range(1, c0.steps + 1):
        batch = sample_tokens(data, c0.batch, st, dtype=dtype)
        live = [r for r in live if r.step(t, batch)]
        if not live:
            break
    seconds = time.perf_counter() - t0
    return [r.record(seed, seconds) for r in runs]


def mc_model_risk(params: dict, setting: Setting, kind: str, rng: np.random.Generator,
                  n: int, L: int | None = None, batch: int = 5000, norm_L: int | None = None):
    """Monte Carlo risk ``E (yhat - y_q)^2`` (mean over outputs) of a model on fresh prompts.

    Returns :class:`icl_companion.numerics.linear.MCEstimate` (mean, standard error, count).
    """
    from icl_companion.numerics.linear import mc_mean

    errs = []
    left = int(n)
    while left > 0:
        m = min(batch, left)
        b = sample_tokens(rng, m, setting, L=L)
        p64 = {k: v.astype(np.float64) for k, v in params.items()}
        errs.append(np.mean((forward(p64, b, kind, norm_L=norm_L) - b.yq) ** 2, axis=1))
        left -= m
    return mc_mean(np.concatenate(errs))


def _record_key(config: TrainConfig, seed: int, stream: str | None = None) -> dict:
    """The cache key of one trained model, shared by :func:`train_cached` (``stream=None``: the
    model's own batches) and :func:`train_paired_cached` (``stream="paired"``): its configuration,
    seed and the source of the sampler module.  One definition, so the two cannot drift apart;
    the key dictionaries are the ones these functions built before."""
    from icl_companion.numerics import softmax_data
    from icl_companion.numerics.cache import source_hash

    key = {"config": config.as_dict(), "seed": int(seed), "sampler": source_hash(softmax_data)}
    if stream is not None:
        key["stream"] = stream
    return key


def train_cached(config: TrainConfig, seed: int, refresh: bool = False) -> TrainRecord:
    """:func:`train` through the on-disk cache (:func:`icl_companion.numerics.cache.cached`), so that checks and
    figures share trained models.  The key holds the configuration, the seed and the source of this
    module and of the sampler module (editing either retrains)."""
    import sys

    from icl_companion.numerics.cache import cached

    key = _record_key(config, seed)
    return cached("softmax-train", key, lambda: train(config, seed), code=sys.modules[__name__],
                  refresh=refresh, encode=TrainRecord.to_data,
                  decode=lambda data: TrainRecord.from_data(data, config))


def train_paired_cached(configs, seed: int, refresh: bool = False) -> list[TrainRecord]:
    """:func:`train_paired` through the on-disk cache, one entry per model: the models already
    cached are loaded and only the others are trained (together).  Since a paired model does not
    depend on its companions, the result is the same whichever models were cached."""
    import sys

    from icl_companion.numerics import cache

    configs = list(configs)
    seed = _paired_seed(seed)
    hashes = [cache.cache_key(_record_key(c, seed, stream="paired"), code=sys.modules[__name__])
              for c in configs]
    out: list = [None] * len(configs)
    if cache.enabled() and not refresh:
        for i, (c, h) in enumerate(zip(configs, hashes)):
            hit, rec, _ = cache.load("softmax-train", h,
                                     lambda data, c=c: TrainRecord.from_data(data, c))
            if hit:
                out[i] = rec
    todo = [i for i, r in enumerate(out) if r is None]
    if todo:
        for i, rec in zip(todo, train_paired([configs[i] for i in todo], seed)):
            data = (cache.store("softmax-train", hashes[i], rec, encode=TrainRecord.to_data)
                    if cache.enabled() else cache.store_roundtrip(rec.to_data()))
            out[i] = TrainRecord.from_data(data, configs[i])
    return out
