"""Training of the mmicl decoder: stage 1 (unimodal), stage 2 (projector + decoder, multimodal).

Stage 1 trains :class:`icl_companion.validation.mmicl_model.Decoder` on bursty unimodal sequences of
:class:`icl_companion.numerics.mmicl_data.GMMTask`; stage 2 trains :class:`~icl_companion.validation.mmicl_model.MultimodalDecoder`
(projector + decoder) on :class:`icl_companion.numerics.mmicl_data.MMTask` triplet sequences, starting either from
a stage-1 decoder (``init=`` a stage-1 :class:`RunResult`) or from scratch (early fusion).  Loss:
cross-entropy of the last-token logits against the target label (the authors' ``main_stage1.py``,
``main_stage2.py``).

Optimisers: plain SGD (the paper: lr 1e-3, weight decay 1e-6, batch 128, 300k / 80k iterations)
or Adam (the reduced CPU runs).  Every eval step records the accuracies on the
fixed evaluation sets (``IC`` novel-class ICL, ``IC2`` swapped-label ICL, ``IW`` in-weights,
``test``) and the circuit metrics of :mod:`icl_companion.numerics.mmicl_metrics` computed from the attention of
the ``IC`` set; the log is rewritten atomically (``numerics.io``) and, when ``out_dir`` is given, a
checkpoint is written at each eval step.

Seeding: ``seed`` fixes the model initialisation (a local ``torch.random.fork_rng`` block, so the
caller's global torch state is untouched) and the stream of training batches (a NumPy ``Generator``
from ``SeedSequence([seed, 1])``); the task (prototypes and labels) comes from ``task_seed`` and the
evaluation sets from ``eval_seed``.  The same arguments give bit-identical runs (one thread).

:func:`stage1` and :func:`stage2` cache finished runs on disk (:func:`icl_companion.numerics.cache.cached`, keyed by
every argument and the source of the model, training, data and metric modules) so that checks and
figures that need the same trained model train it once.

References
----------
Huang, Roth, Bouniot, Xu, Akata, arXiv:2601.20796 (2026; section numbers not known), the authors'
``main_stage1.py`` and ``main_stage2.py`` (tasks, evaluation sets, training configurations);
``docs/derivations/mmicl.md#trained-decoders``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from icl_companion.numerics.cache import cached, source_hash
from icl_companion.numerics.io import atomic_write, write_json
from icl_companion.numerics.mmicl_data import GMMConfig, GMMTask, MMConfig, MMTask
from icl_companion.validation.mmicl_model import Decoder, DecoderConfig, MultimodalDecoder

__all__ = ["TrainConfig", "RunResult", "train_stage1", "train_stage2", "stage1", "stage2",
           "evaluate", "accuracy_se", "build_model", "threads", "projector_decoder_rates",
           "check_device", "default_device", "DEVICES"]

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and logging settings.

    ``optimizer="sgd"`` with ``lr=1e-3, weight_decay=1e-6, batch=128`` is the paper's (the authors'
    scripts);
    ``"adam"`` with ``lr=1e-3`` is used for the reduced CPU runs.  ``eval_size`` is ``S`` (sequences
    per evaluation set), ``eval_every`` the interval in steps (the final step is always evaluated).
    ``snapshots``: keep the model state at every eval step in the result (for attention maps over
    training).  ``proj_lr_scale`` multiplies the learning rate of the stage-2 projector (1: one
    learning rate for every parameter, as in the paper).  It matters with Adam: Adam moves every
    parameter at about ``lr`` per step whatever its gradient, so the small-init projector learns
    far faster *relative to the pretrained decoder* than under the paper's SGD, where its update
    is proportional to its (small) gradient; :func:`projector_decoder_rates` measures both.
    """

    steps: int = 3000
    batch: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    eval_every: int = 250
    eval_size: int = 1000
    eval_seed: int = 1
    snapshots: bool = False
    proj_lr_scale: float = 1.0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
        for name in ("steps", "batch", "eval_every", "eval_size"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name}={v!r} must be an integer >= 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr={self.lr!r} must be a finite number > 0")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay={self.weight_decay!r} must be >= 0")
        if not (self.proj_lr_scale > 0 and math.isfinite(self.proj_lr_scale)):
            raise ValueError(f"proj_lr_scale={self.proj_lr_scale!r} must be a finite number > 0")


@dataclass
class RunResult:
    """A finished run: its configuration, the log of every eval step, and the trained weights."""

    stage: str                 # "stage1" | "stage2-pretrained" | "stage2-scratch"
    task: dict                 # GMMConfig / MMConfig fields
    model: dict                # DecoderConfig fields (+ "d2" for stage 2)
    train: dict                # TrainConfig fields
    seed: int
    task_seed: int
    history: list              # one dict per eval step
    state: dict                # final state_dict (CPU tensors)
    seconds: float
    snapshots: dict = field(default_factory=dict)  # step -> state_dict (if requested)
    init: dict | None = None   # summary of the stage-1 run a stage-2 run started from

    def final(self) -> dict:
        return self.history[-1]

    # the shared record vocabulary (numerics.record); a fixed step budget has no residual
    @property
    def success(self) -> bool:
        return bool(self.history) and all(math.isfinite(h.get("loss", 0.0)) for h in self.history)

    @property
    def status(self) -> int:
        return 0 if self.success else 2

    @property
    def message(self) -> str:
        return "trained" if self.success else "non-finite training loss"

    @property
    def nit(self) -> int:
        return int(self.history[-1].get("step", 0)) if self.history else 0

    @property
    def residual(self) -> float:
        return math.nan

    def series(self, key: str) -> np.ndarray:
        return np.array([h[key] for h in self.history], dtype=float)

    def model_config(self) -> DecoderConfig:
        return DecoderConfig(**{k: v for k, v in self.model.items() if k != "d2"})

    def load(self, step: int | None = None):
        """The trained model (eval mode, on the CPU); ``step`` picks a snapshot."""
        state = self.state if step is None else self.snapshots[step]
        dec = Decoder(self.model_config())
        model = dec if self.stage == "stage1" else MultimodalDecoder(dec, self.model["d2"])
        model.load_state_dict(state)
        return model.eval()

    def to_data(self) -> dict:
        """The run as plain data for the on-disk cache: configurations, log and the weights as
        NumPy arrays (never a pickle; :meth:`from_data` rebuilds the tensors)."""
        def weights(state):
            return {k: v.detach().cpu().numpy() for k, v in state.items()}

        return {"stage": self.stage, "task": _plain(self.task), "model": _plain(self.model),
                "train": _plain(self.train), "seed": int(self.seed),
                "task_seed": int(self.task_seed), "history": _plain(self.history),
                "state": weights(self.state), "seconds": float(self.seconds),
                "snapshots": {str(k): weights(v) for k, v in self.snapshots.items()},
                "init": _plain(self.init)}

    @classmethod
    def from_data(cls, data: dict) -> "RunResult":
        """Inverse of :meth:`to_data`; ``KeyError``/``TypeError``/``ValueError`` if ``data`` is
        not a run."""
        def tensors(state):
            if not isinstance(state, dict) or not all(
                    isinstance(v, np.ndarray) and v.dtype.kind in "iufb" for v in state.values()):
                raise TypeError("weights must be numeric arrays")
            return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}

        if data["stage"] not in ("stage1", "stage2-pretrained", "stage2-scratch"):
            raise ValueError(f"unknown stage {data['stage']!r}")
        if not isinstance(data["history"], list) or not all(
                isinstance(h, dict) for h in data["history"]):
            raise TypeError("history must be a list of records")
        return cls(data["stage"], dict(data["task"]), dict(data["model"]), dict(data["train"]),
                   int(data["seed"]), int(data["task_seed"]), data["history"],
                   tensors(data["state"]), float(data["seconds"]),
                   {int(k): tensors(v) for k, v in data["snapshots"].items()}, data["init"])


def _plain(obj):
    """JSON-shaped copy: tuples as lists, NumPy scalars as numbers (what the cache gives back)."""
    import json

    from icl_companion.numerics.io import _json_default

    return json.loads(json.dumps(obj, default=_json_default))


# ----------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def threads(n: int | None):
    """Torch's intra-op thread count set to ``n`` (``None``: left as it is) and deterministic
    algorithms on, both restored afterwards.

    Why both: on the CPU a run's floating-point reductions, hence its weights and accuracies, depend
    on how many threads split them; with a fixed thread count and deterministic algorithms (an op
    without a deterministic implementation raises instead of running) the same seed gives the same
    bits.  The figures' work units run with one thread (``numerics.executor.THREADS_PER_UNIT``,
    recorded in each figure's JSON).
    """
    old = torch.get_num_threads()
    # the debug-mode interface sets the same flag as use_deterministic_algorithms (2: on, raise;
    # 1: on, warn; 0: off) without importing the compiler's configuration, which that one also
    # sets and which costs ~1.4 s of imports in every worker process (nothing here is compiled)
    old_mode = torch.get_deterministic_debug_mode()
    if n is not None:
        torch.set_num_threads(int(n))
    # CUDA's deterministic matrix products need this workspace setting (read when cuBLAS starts)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_deterministic_debug_mode("error")
    try:
        yield
    finally:
        torch.set_deterministic_debug_mode(old_mode)
        torch.set_num_threads(old)


def accuracy_se(p: float, n: int) -> float:
    """Binomial standard error ``sqrt(p (1 - p) / n)`` of an accuracy measured on ``n`` sequences."""
    return math.sqrt(max(p * (1 - p), 0.0) / n)


def build_model(cfg: DecoderConfig, seed: int, d2: int | None = None):
    """Initialise a decoder (or projector + decoder when ``d2`` is given) from ``seed`` without
    touching the caller's global torch RNG state (on the CPU, so that the initial weights do not
    depend on the device the model is trained on)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dec = Decoder(cfg)
        return dec if d2 is None else MultimodalDecoder(dec, d2)


DEVICES = ("cpu", "cuda")


def check_device(device: str) -> str:
    """``device`` if it is usable: ``"cpu"``, or ``"cuda"`` with a GPU; else ``ValueError``."""
    if device not in DEVICES:
        raise ValueError(f"device={device!r}; allowed: {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda requested but torch sees no CUDA GPU; use --device cpu")
    return device


def default_device() -> str:
    """``"cuda"`` when a GPU is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _optimizer(model, tc: TrainConfig):
    params = model.parameters()
    if isinstance(model, MultimodalDecoder) and tc.proj_lr_scale != 1.0:
        params = [{"params": model.decoder.parameters()},
                  {"params": model.projector.parameters(), "lr": tc.lr * tc.proj_lr_scale}]
    if tc.optimizer == "sgd":
        return torch.optim.SGD(params, lr=tc.lr, weight_decay=tc.weight_decay)
    return torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay)


def _uni_inputs(batch, P: int):
    """Model inputs of a unimodal batch: the features and the APE shift (None without APE)."""
    feats = torch.from_numpy(np.ascontiguousarray(batch.tokens[..., P:]))
    shift = None if batch.shift is None else torch.from_numpy(batch.shift)
    return (feats,), shift


def _mm_inputs(batch):
    x = tuple(torch.from_numpy(a) for a in (batch.x1, batch.x2, batch.label_tokens))
    shift = None if batch.shift is None else torch.from_numpy(batch.shift)
    return x, shift


def _inputs(batch, P: int, device=None):
    x, shift = _mm_inputs(batch) if hasattr(batch, "x1") else _uni_inputs(batch, P)
    if device is not None and torch.device(device).type != "cpu":
        x = tuple(t.to(device) for t in x)
        shift = None if shift is None else shift.to(device)
    return x, shift


@torch.no_grad()
def evaluate(model, batch, *, knockout=(), zero=None, capture=False, chunk: int = 1000):
    """Accuracy (and optionally the attention matrices) of ``model`` on a data batch.

    Returns ``{"acc", "se", "n", "pred", "attn"}`` with ``attn`` a list (one per layer) of NumPy
    arrays ``(S, h, T, T)`` when ``capture``.  ``knockout`` and ``zero`` are passed to the model.
    """
    P = model.cfg.ape_len if model.cfg.pos == "ape" else 0
    x, shift = _inputs(batch, P, next(model.parameters()).device)
    kw = {"knockout": knockout}
    if zero is not None:
        if not isinstance(model, MultimodalDecoder):
            raise ValueError("modality zeroing needs a multimodal model")
        kw["zero"] = zero
    preds, caps = [], []
    n = len(batch)
    for a in range(0, n, chunk):
        cap = [] if capture else None
        s = None if shift is None else shift[a:a + chunk]
        logits = model(*(t[a:a + chunk] for t in x), shift=s, capture=cap, **kw)
        preds.append(logits.argmax(-1))
        if capture:
            caps.append(cap)
    pred = torch.cat(preds).cpu().numpy()
    acc = float(np.mean(pred == batch.target))
    out = {"acc": acc, "se": accuracy_se(acc, n), "n": n, "pred": pred, "attn": None}
    if capture:
        out["attn"] = [np.concatenate([c[i].cpu().numpy() for c in caps])
                       for i in range(len(caps[0]))]
    return out


def _circuit_metrics(attn, batch, pred) -> dict:
    """Circuit metrics (:func:`icl_companion.numerics.mmicl_metrics.circuit_metrics`) of the ICL set, flattened
    to ``{name}_{layer}`` (layers from 1; ``_h{head}`` appended when there are several heads),
    plus ``cla`` (context-label accuracy)."""
    from icl_companion.numerics import mmicl_metrics as mm

    res = mm.circuit_metrics(attn, batch.match, batch.layout)
    flat = {}
    for name, arr in res.items():
        arr = np.asarray(arr)
        for layer in range(arr.shape[0]):
            for h in range(arr.shape[1]):
                suffix = f"_h{h}" if arr.shape[1] > 1 else ""
                flat[f"{name}_{layer + 1}{suffix}"] = float(arr[layer, h])
    flat["cla"] = float(mm.cla(pred, batch.labels).mean())
    return flat


def _eval_step(model, sets: dict, metrics: bool) -> dict:
    rec = {}
    model.eval()
    for name, b in sets.items():
        r = evaluate(model, b, capture=(metrics and name == "IC"))
        rec[name] = r["acc"]
        if r["attn"] is not None:
            rec.update(_circuit_metrics(r["attn"], b, r["pred"]))
    model.train()
    return rec


def _save_state(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())


def _clone_state(model) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _train(model, task, tc: TrainConfig, seed: int, P: int, stage: str, out_dir, metrics: bool,
           progress, device: str = "cpu"):
    """The loop shared by both stages; returns ``(history, snapshots, seconds)``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    sets = task.eval_sets(tc.eval_size, seed=tc.eval_seed)
    opt = _optimizer(model, tc)
    history, snaps = [], {}
    t0 = time.perf_counter()
    t_data = 0.0
    losses = []
    model.train()
    for step in range(1, tc.steps + 1):
        td = time.perf_counter()
        batch = task.sample(tc.batch, rng)
        x, shift = _inputs(batch, P, device)
        y = torch.from_numpy(batch.target).to(device)
        t_data += time.perf_counter() - td
        loss = F.cross_entropy(model(*x, shift=shift), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"{stage}: non-finite training loss at step {step}")
        if step % tc.eval_every == 0 or step == tc.steps:
            rec = {"step": step, "loss": float(np.mean(losses))}
            losses = []
            rec.update(_eval_step(model, sets, metrics))
            rec["seconds"] = time.perf_counter() - t0
            rec["data_seconds"] = t_data
            history.append(rec)
            if tc.snapshots:
                snaps[step] = _clone_state(model)
            if out_dir is not None:
                out = Path(out_dir)
                write_json(out / "history.json", {"stage": stage, "seed": seed,
                                                   "history": history})
                _save_state(out / f"ckpt_{step:07d}.pt", model.state_dict())
            if progress is not None:
                progress(rec)
    return history, snaps, time.perf_counter() - t0


def _check_uni(task_cfg: GMMConfig, cfg: DecoderConfig) -> GMMConfig:
    if cfg.d_feat != task_cfg.D or cfg.n_labels != task_cfg.L:
        raise ValueError(f"model d_feat={cfg.d_feat}, n_labels={cfg.n_labels} must equal the "
                         f"task's D={task_cfg.D}, L={task_cfg.L}")
    return replace(task_cfg, ape=cfg.ape_len if cfg.pos == "ape" else 0, dtype="float32")


def _check_mm(task_cfg: MMConfig, cfg: DecoderConfig) -> MMConfig:
    if cfg.d_feat != task_cfg.D1 or cfg.n_labels != task_cfg.L1:
        raise ValueError(f"model d_feat={cfg.d_feat}, n_labels={cfg.n_labels} must equal the "
                         f"task's D1={task_cfg.D1}, L1={task_cfg.L1}")
    return replace(task_cfg, ape=cfg.ape_len if cfg.pos == "ape" else 0, dtype="float32")


# ----------------------------------------------------------------------------- stages
def train_stage1(task_cfg: GMMConfig, model_cfg: DecoderConfig, tc: TrainConfig, seed: int = 0,
                 task_seed: int | None = None, out_dir=None, metrics: bool = True,
                 progress=None, n_threads: int | None = 1, device: str = "cpu") -> RunResult:
    """Stage 1: train the decoder on the unimodal bursty task (``docs/derivations/mmicl.md#task``).

    The APE one-hot length of the data is the model's ``ape_len`` (0 for RoPE / ALiBi).
    ``task_seed`` (default ``seed``) fixes the prototypes and labels.  ``device``: ``"cpu"`` or
    ``"cuda"`` (the weights come back on the CPU either way).
    """
    task_seed = seed if task_seed is None else task_seed
    tcfg = _check_uni(task_cfg, model_cfg)
    task = GMMTask(tcfg, seed=task_seed)
    with threads(n_threads):
        model = build_model(model_cfg, seed).to(check_device(device))
        P = tcfg.ape
        hist, snaps, secs = _train(model, task, tc, seed, P, "stage1", out_dir, metrics,
                                   progress, device)
    return RunResult("stage1", asdict(tcfg), model_cfg.to_dict(), asdict(tc), seed, task_seed,
                     hist, _clone_state(model), secs, snaps)


def train_stage2(task_cfg: MMConfig, model_cfg: DecoderConfig, tc: TrainConfig, seed: int = 0,
                 init: RunResult | None = None, task_seed: int | None = None, out_dir=None,
                 metrics: bool = True, progress=None, n_threads: int | None = 1,
                 device: str = "cpu") -> RunResult:
    """Stage 2: projector + decoder on the multimodal task (``docs/derivations/mmicl.md#task``).

    ``init`` is a stage-1 run whose decoder weights start the run (pretrained); ``None`` trains
    from scratch (early fusion).  With ``init``, the decoder configuration and the task seed are
    taken from it, and ``K1 = K``, ``D1 = D`` make the M1 prototypes and labels those of stage 1.
    """
    if init is not None:
        if init.stage != "stage1":
            raise ValueError(f"init must be a stage-1 run, got {init.stage!r}")
        model_cfg = init.model_config()
        task_seed = init.task_seed if task_seed is None else task_seed
        t1 = init.task
        if (t1["K"], t1["D"], t1["L"]) != (task_cfg.K1, task_cfg.D1, task_cfg.L1) or \
                task_seed != init.task_seed:
            raise ValueError("a pretrained stage 2 needs K1 = K, D1 = D, L1 = L and the stage-1 "
                             "task seed, so that M1 is the space the decoder was trained on")
    task_seed = seed if task_seed is None else task_seed
    tcfg = _check_mm(task_cfg, model_cfg)
    task = MMTask(tcfg, seed=task_seed)
    with threads(n_threads):
        model = build_model(model_cfg, seed, d2=tcfg.D2)
        if init is not None:
            model.decoder.load_state_dict(init.state)
        model = model.to(check_device(device))
        P = tcfg.ape
        stage = "stage2-pretrained" if init is not None else "stage2-scratch"
        hist, snaps, secs = _train(model, task, tc, seed, P, stage, out_dir, metrics, progress,
                                   device)
    summary = None if init is None else {"seed": init.seed, "task": init.task,
                                         "final": init.final()}
    return RunResult(stage, asdict(tcfg), dict(model_cfg.to_dict(), d2=tcfg.D2), asdict(tc), seed,
                     task_seed, hist, _clone_state(model), secs, snaps, summary)


def _fingerprint(task, tc: TrainConfig) -> dict:
    """What a run depends on outside this module, by *behaviour*: hashes of a training batch and
    of the evaluation sets the run will draw, and of the circuit metrics on a fixed attention
    pattern of the task's layout.  Editing documentation of the data or metric modules keeps the
    cached runs; any change in what they compute invalidates them."""
    import hashlib

    from icl_companion.numerics import mmicl_metrics

    h = hashlib.sha256()
    b = task.sample(16, np.random.default_rng(12345))
    sets = task.eval_sets(tc.eval_size, seed=tc.eval_seed)
    for batch in [b] + [sets[k] for k in sorted(sets)]:
        for name in ("tokens", "x1", "x2", "label_tokens", "target", "labels", "shift"):
            a = getattr(batch, name, None)
            if a is not None and not callable(a):
                h.update(np.ascontiguousarray(a).tobytes())
    ic = sets["IC"]
    T = ic.layout.T
    A = np.tril(np.random.default_rng(0).random((len(ic), 1, T, T)))
    A /= A.sum(-1, keepdims=True)
    met = mmicl_metrics.circuit_metrics([A, A[:, :, ::-1, ::-1].copy()], ic.match, ic.layout)
    for k in sorted(met):
        h.update(k.encode() + np.round(np.asarray(met[k], float), 12).tobytes())
    return {"behaviour": h.hexdigest()[:20]}


def _code_key(task_cfg, seed_task: int, tc: TrainConfig, mm: bool) -> dict:
    """Source hash of the model module and the behaviour fingerprint of data and metrics."""
    import icl_companion.validation.mmicl_model as model
    task = (MMTask if mm else GMMTask)(task_cfg, seed=seed_task)
    return {"model": source_hash(model), **_fingerprint(task, tc)}


def _device_key(device: str) -> dict:
    # CPU runs keep the key they always had; a GPU run is another run (other rounding)
    return {} if device == "cpu" else {"device": device}


def stage1(task_cfg: GMMConfig, model_cfg: DecoderConfig, tc: TrainConfig, seed: int = 0,
           task_seed: int | None = None, use_cache: bool = True,
           device: str = "cpu") -> RunResult:
    """:func:`train_stage1`, cached on disk (shared by checks and figures)."""
    ts = seed if task_seed is None else task_seed
    key = {"stage": 1, "task": asdict(task_cfg), "model": model_cfg.to_dict(), "train": asdict(tc),
           "seed": seed, "task_seed": task_seed, **_device_key(device),
           "code": _code_key(_check_uni(task_cfg, model_cfg), ts, tc, mm=False)}
    run = lambda: train_stage1(task_cfg, model_cfg, tc, seed, task_seed,  # noqa: E731
                               device=device)
    if not use_cache:
        return run()
    return cached("mmicl-runs", key, run, code=train_stage1, encode=RunResult.to_data,
                  decode=RunResult.from_data)


def stage2(task_cfg: MMConfig, model_cfg: DecoderConfig | None, tc: TrainConfig, seed: int = 0,
           init: RunResult | None = None, task_seed: int | None = None,
           use_cache: bool = True, device: str = "cpu") -> RunResult:
    """:func:`train_stage2`, cached on disk; the key includes the stage-1 run it starts from (its
    task, model, training settings, seed and final evaluation record)."""
    init_key = None if init is None else {"task": init.task, "model": init.model,
                                          "train": init.train, "seed": init.seed,
                                          "task_seed": init.task_seed, "final": init.final()}
    if init is None and model_cfg is None:
        raise ValueError("stage 2 from scratch needs a model configuration")
    mcfg = init.model_config() if init is not None else model_cfg
    ts = (init.task_seed if init is not None else seed) if task_seed is None else task_seed
    key = {"stage": 2, "task": asdict(task_cfg),
           "model": None if model_cfg is None else model_cfg.to_dict(), "train": asdict(tc),
           "seed": seed, "task_seed": task_seed, "init": init_key, **_device_key(device),
           "code": _code_key(_check_mm(task_cfg, mcfg), ts, tc, mm=True)}
    run = lambda: train_stage2(task_cfg, model_cfg, tc, seed, init, task_seed,  # noqa: E731
                               device=device)
    if not use_cache:
        return run()
    return cached("mmicl-runs", key, run, code=train_stage2, encode=RunResult.to_data,
                  decode=RunResult.from_data)


def projector_decoder_rates(task_cfg: MMConfig, init: RunResult, lr: float = 1e-3,
                            steps: int = 10, seed: int = 0, n_threads: int | None = 1) -> dict:
    """How fast the projector moves relative to the pretrained decoder at the start of stage 2.

    For SGD and for Adam (same ``lr``, no weight decay), ``steps`` training steps from the same
    initial model (decoder from ``init``, projector from ``seed``) on the same batches; for each
    parameter group the relative update ``||theta_{t+1} - theta_t|| / ||theta_t||`` is averaged
    over the steps.  Returns ``{"sgd": {...}, "adam": {...}}`` with ``projector``, ``decoder``
    and ``ratio`` (projector / decoder) per optimiser, and ``adam_scale_matching_sgd``: the
    projector learning-rate multiplier that gives Adam the SGD ratio (to first order, an Adam
    update's size does not depend on the gradient's scale, so the ratio scales linearly).

    Why it matters: the projector starts as two N(0, 0.02^2) layers, so its gradients are tiny
    (each layer's gradient carries the other's small weights) and SGD moves it slowly, while Adam
    normalises every parameter's step.  Which modality the stage-2 model reads depends on this
    ratio (docs/mmicl.md, modality zeroing).
    """
    if init.stage != "stage1":
        raise ValueError(f"init must be a stage-1 run, got {init.stage!r}")
    cfg = init.model_config()
    tcfg = _check_mm(task_cfg, cfg)
    task = MMTask(tcfg, seed=init.task_seed)
    out = {}
    with threads(n_threads):
        for name in OPTIMIZERS:
            model = build_model(cfg, seed, d2=tcfg.D2)
            model.decoder.load_state_dict(init.state)
            groups = {"projector": list(model.projector.parameters()),
                      "decoder": list(model.decoder.parameters())}
            opt = _optimizer(model, TrainConfig(optimizer=name, lr=lr))
            rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
            rel = {g: [] for g in groups}
            for _ in range(steps):
                batch = task.sample(128, rng)
                x, shift = _inputs(batch, tcfg.ape)
                before = {g: torch.cat([p.detach().flatten() for p in ps]).clone()
                          for g, ps in groups.items()}
                loss = F.cross_entropy(model(*x, shift=shift), torch.from_numpy(batch.target))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for g, ps in groups.items():
                    after = torch.cat([p.detach().flatten() for p in ps])
                    rel[g].append(float((after - before[g]).norm() / before[g].norm()))
            r = {g: float(np.mean(v)) for g, v in rel.items()}
            r["ratio"] = r["projector"] / r["decoder"]
            out[name] = r
    out["adam_scale_matching_sgd"] = out["sgd"]["ratio"] / out["adam"]["ratio"]
    return out
