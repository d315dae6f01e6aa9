"""Training SRCNN: the paper's recipe and a fast one; step-based, checkpointed, resumable, DDP.

Recipes
-------
``paper``: the paper's grid of 33x33 sub-images (stride 14) in shuffled epochs, valid convolutions,
Gaussian init (std 0.001) and zero biases, SGD with momentum 0.9, learning rates 1e-4 (layers 1
and 2) and 1e-5 (layer 3), biases x0.1 (the released Caffe solver's ``lr_mult``), batch 128, and the
loss of Caffe's EuclideanLoss (sum / 2N), so that step sizes mean what the paper's mean.

``fast``: the same network and data, Adam (lr 1e-3 for layers 1-2 of 9-1-5, 3e-4 for the wider
mapping layers of 9-3-5 / 9-5-5, which also warm up linearly over the first 500 steps; a tenth
of it for layer 3), cosine decay to 1 % over the run, mean-squared error, batch 32 of random crops with random
flips/rotations.
Choices and measurements: see ``TrainConfig`` defaults and the README. The cosine runs over ``--max-steps`` (or
``--epochs``); when only ``--max-minutes`` bounds a run, it runs over the wall-clock budget instead
(progress = elapsed / budget, the elapsed time being checkpointed), so a run of a fixed duration
always ends with a decayed learning rate whatever the machine's speed.

Scale-conditioned multi-scale runs (``scale_poly`` or ``scale_knots``, see
:class:`~srcnn.model.ScaleConditionedSRCNN`): each step draws one scale and cuts its crops from that
scale's pairs; every parameter of a polynomial model learns at ``1 / (degree + 1)`` of the base rate
(``coef_lr``; piecewise linear: the full rate), and ``balance_scales`` optionally divides each
scale's loss by its bicubic error on the training pairs. ``init_from`` starts from trained weights;
``distill_from`` mixes the labels with a teacher's 8-view self-ensemble (:func:`distill_labels`).
A resumed run may change options; those that shape the training are reported (:func:`changed_options`).

Files in the run folder (written by rank 0 only, each atomically): ``checkpoint.pt`` (model,
optimiser, step, RNG state, elapsed time, config: plain tensors and builtins, loadable with
``torch.load(weights_only=True)``), ``metrics.csv``, ``best.safetensors`` (best monitoring PSNR; the file
records the set it was picked on, ``picked_on`` in its metadata, so that ``srcnn evaluate`` can say when a
figure on that set is not a fair test) and ``last.safetensors``, and TensorBoard events when tensorboard is
installed.

The batch drawn at step ``t`` is a pure function of (seed, t), so a resumed run sees exactly the
batches an unbroken one would, and under ``torchrun`` the global batch is split between ranks:
``--batch-size`` is the *effective* (global) batch whatever the number of processes.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .data import (
    CHANNEL_MODES,
    Pair,
    PairConfig,
    PatchSource,
    build_pairs,
    cache_dir,
    grid_positions,
    random_positions,
    save_cache_arrays,
)
from .datasets import list_images, resolve_set
from .errors import ConfigError, DataError, TrainingError
from .evaluate import check_eval_size, evaluate_image, load_ground_truth
from .fileio import atomic_write_bytes, check_output_folder
from .model import SRCNN, ScaleConditionedSRCNN, ScalePoly, SRCNNConfig, config_for, inference_padding, linear_through
from .symmetry import dihedral
from .weights import Weights, load_weights, save_weights

RECIPES = ("paper", "fast")
CKPT_VERSION = 1
#: Without ``micro_batch``, a CPU runs a step's batch forward and backward in parts whose
#: first-layer activations hold at most this many values, the gradients adding up over the parts
#: (the same step: the loss of each part is weighted by its share of the batch). Large batches of
#: large crops then run in the caches: batch 128 of 64x64 crops (8 parts) trains at 204 / 110
#: sub-images per second for 9-1-5 / 9-5-5 on 2 cores against 71 / 57 in one part
#: (benchmarks/train_speed.py --size 64); batch 32 of 33x33 (the fast recipe's default) stays one
#: part, batch 128 of 33x33 makes two (9-1-5 +24 %, 9-5-5 -5 %: within noise).
CPU_PART_VALUES = 3_500_000


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; saved in its checkpoint."""

    arch: str = "9-1-5"
    channels: str = "y"
    scales: tuple[float, ...] = (3.0,)
    train_sets: tuple[str, ...] = ("T91",)
    val_set: str = "Set5"
    data_root: str | None = None
    recipe: str = "fast"
    out: str = "runs/srcnn"
    max_steps: int | None = None
    epochs: float | None = None
    max_minutes: float | None = None
    batch_size: int | None = None
    micro_batch: int | None = None
    lr: float | None = None
    size: int | None = None
    stride: int = 14
    augment: bool | None = None
    downscales: tuple[float, ...] = ()
    train_padding: str = "valid"
    init: str | None = None
    init_from: str | None = None
    distill_from: str | None = None
    distill_weight: float = 0.5
    warmup: int | None = None
    scale_poly: int = 0
    scale_knots: tuple[float, ...] = ()
    balance_scales: bool = False
    coef_lr: float | None = None
    amp: str = "off"
    channels_last: bool = False
    eval_every: int = 500
    ckpt_every: int = 250
    seed: int = 0
    device: str = "cpu"
    strict: bool = False

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")
        if self.channels not in CHANNEL_MODES:
            raise ConfigError(f"channels must be one of {CHANNEL_MODES}, got {self.channels!r}")
        if self.train_padding not in ("valid", "replicate", "zeros"):
            raise ConfigError(f"train padding must be valid, replicate or zeros, got {self.train_padding!r}")
        if self.init not in (None, "paper", "default", "identity"):
            raise ConfigError(f"init must be paper, default or identity, got {self.init!r}")
        config_for(self.arch)
        if self.amp not in ("off", "fp16", "bf16"):
            raise ConfigError(f"amp must be off, fp16 or bf16, got {self.amp!r}")
        if self.amp == "fp16" and not str(self.device).startswith("cuda"):
            raise ConfigError("--amp fp16 needs a CUDA device (on the CPU use --amp bf16)")
        if self.init is not None and self.init_from is not None:
            raise ConfigError("give --init or --init-from, not both")
        if not (math.isfinite(self.distill_weight) and 0 < self.distill_weight <= 1):
            raise ConfigError(f"distill-weight must be in (0, 1], got {self.distill_weight}")
        if self.warmup is not None and self.warmup < 0:
            raise ConfigError(f"warmup must be 0 or more steps, got {self.warmup}")
        for name in ("batch_size", "micro_batch", "max_steps", "size", "eval_every", "ckpt_every", "stride"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise ConfigError(f"{name.replace('_', '-')} must be a whole number, got {v!r}")
            if v is not None and v < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be positive, got {v}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be a whole number from 0 to {2**32 - 1}, got {self.seed!r}")
        for name in ("epochs", "max_minutes", "lr"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{name.replace('_', '-')} must be a positive number, got {v}")
        if not isinstance(self.scales, tuple | list):
            raise ConfigError(f"scales is a tuple of numbers, e.g. (3.0,) or (2.0, 3.0, 4.0); got {self.scales!r}")
        if not isinstance(self.train_sets, tuple | list) or not all(isinstance(t, str) for t in self.train_sets):
            raise ConfigError(f"train_sets is a tuple of set names or folders, e.g. ('T91',); got {self.train_sets!r}")
        if not isinstance(self.val_set, str) or not self.val_set:
            raise ConfigError(f"val_set is a set name or folder, e.g. 'Set5'; got {self.val_set!r}")
        if not self.scales:
            raise ConfigError("give at least one scale")
        for k in self.scales:  # the CLI checks its --scale; a TrainConfig built in Python is checked here
            if isinstance(k, bool) or not isinstance(k, int | float) or not (math.isfinite(k) and 1 < k <= 16):
                raise ConfigError(f"training scales must be numbers above 1 (at most 16), got {k!r}")
        if self.size is not None and self.size <= 2 * self.label_crop:
            raise ConfigError(f"size must be more than {2 * self.label_crop} for {self.arch} with valid convolutions "
                              f"(its label is the crop minus {self.label_crop} pixels on each side), got {self.size}")
        if self.scale_poly < 0:
            raise ConfigError(f"scale-poly must be 0 (off) or a degree >= 1, got {self.scale_poly}")
        if self.coef_lr is not None and not (0 < self.coef_lr <= 10):
            raise ConfigError(f"coef-lr must be in (0, 10], got {self.coef_lr}")
        if self.scale_poly and self.scale_knots:
            raise ConfigError("give --scale-poly or --scale-knots, not both")
        if self.scale_knots:
            ScalePoly.linear(self.scale_knots)  # validates the knots
            if min(self.scales) < self.scale_knots[0] or max(self.scales) > self.scale_knots[-1]:
                raise ConfigError(f"the knots {list(self.scale_knots)} must span the training scales "
                                  f"{sorted(set(self.scales))}")
            ks = list(self.scale_knots)
            for i, k in enumerate(ks):  # a knot no training scale reaches would keep its starting weights
                lo = ks[i - 1] if i > 0 else -math.inf
                hi = ks[i + 1] if i + 1 < len(ks) else math.inf
                if not any(lo < s < hi for s in self.scales):
                    raise ConfigError(f"knot x{k:g} would never be trained: no training scale lies between its "
                                      f"neighbours; add a --scale in ({lo:g}, {hi:g}) or drop the knot")
        if self.distill_from is None and self.distill_weight != 0.5:
            raise ConfigError("distill-weight sets how much of the label a teacher gives: add --distill-from "
                              "(a shipped model name or weights file)")
        if self.coef_lr is not None and not self.conditioned:
            raise ConfigError("coef-lr sets the learning rate of a scale-conditioned run's coefficients: add "
                              "--scale-poly or --scale-knots")
        if self.balance_scales and not self.conditioned:
            raise ConfigError("balance-scales weighs the scales of a scale-conditioned run: add --scale-poly "
                              "or --scale-knots")
        if self.scale_poly and len(set(self.scales)) <= self.scale_poly:
            raise ConfigError(f"a degree-{self.scale_poly} scale polynomial needs at least "
                              f"{self.scale_poly + 1} different training scales, got {len(set(self.scales))}")

    # Recipe defaults, resolved here so the checkpoint records the values actually used.
    @property
    def batch(self) -> int:
        # fast: 32. On 2 CPU cores throughput per sub-image was flat from 16 to 128 (~510/s), so a
        # smaller batch buys more Adam steps: 20 minutes at batch 32 reached 32.38 dB on Set5 against
        # 32.27 at 128. On a GPU pass a larger one (e.g. 128 of 64x64 crops).
        return self.batch_size or (128 if self.recipe == "paper" else 32)

    @property
    def base_lr(self) -> float:
        # fast, 9-5-5: Adam's first steps move every weight by about +-lr, and a 5x5x64 mapping
        # filter sums 1600 of them, so at 1e-3 most mapping channels died (ReLU never active
        # again): the session-2 9-5-5 models kept 4 of 32 mapping channels and were no better
        # than 9-1-5 (tools/dead_channels.py). On a batch of T91 x3 crops in short CPU runs:
        # lr 1e-3, no warm-up: 27 of 32 mapping channels dead by step 250; 1e-3 with a 500-step
        # warm-up: 21 of 64 extraction channels die once the rate peaks; 3e-4 with the warm-up:
        # 0 mapping and 4 extraction dead at step 2000. The 1x1 layer of 9-1-5 sums only 64.
        if self.lr is not None:
            return self.lr
        if self.recipe == "paper":
            return 1e-4
        return 1e-3 if config_for(self.arch).f2 == 1 else 3e-4

    @property
    def warmup_steps(self) -> int:
        # fast, 9-3-5 / 9-5-5 only: the 1x1 mapping layer of 9-1-5 kept all 32 channels alive
        # without warm-up (its measured results were made so, and stay reproducible)
        if self.warmup is not None:
            return self.warmup
        return 500 if self.recipe == "fast" and config_for(self.arch).f2 > 1 else 0

    @property
    def patch(self) -> int:
        return self.size or 33

    @property
    def init_scheme(self) -> str:
        return self.init or ("paper" if self.recipe == "paper" else "identity")

    @property
    def use_augment(self) -> bool:
        return self.augment if self.augment is not None else self.recipe == "fast"

    @property
    def model_config(self) -> SRCNNConfig:
        return config_for(self.arch, channels=1 if self.channels == "y" else 3,
                          padding=self.train_padding)  # type: ignore[arg-type]

    @property
    def coef_lr_factor(self) -> float:
        # Adam moves W0, W1 and W2 by about lr each per step, so W(t) = W0 + t W1 + t^2 W2 moves
        # by up to (1 + |t| + t^2) lr: 3x at the ends of the range for degree 2, as unstable as a
        # 3x learning rate (a 9-1-5 at 1e-3 fell below bicubic early on). 1 / (degree + 1) bounds
        # the move by the plain model's.
        # Piecewise linear: the two weights of W(s) = (1 - u) W_i + u W_(i+1) sum to 1, so the folded
        # weights move no faster than a plain model's: the full rate by default.
        if not self.conditioned:
            return 1.0
        if self.coef_lr is not None:
            return self.coef_lr
        return 1.0 if self.scale_knots else 1.0 / (self.scale_poly + 1)

    @property
    def conditioned(self) -> bool:
        """A scale-conditioned run (``--scale-poly`` or ``--scale-knots``)."""
        return bool(self.scale_poly or self.scale_knots)

    @property
    def poly(self) -> ScalePoly | None:
        if self.scale_knots:
            return ScalePoly.linear(self.scale_knots)
        return ScalePoly(min(self.scales), max(self.scales), self.scale_poly) if self.scale_poly else None

    @property
    def label_crop(self) -> int:
        return self.model_config.radius if self.train_padding == "valid" else 0

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


# ------------------------------------------------------------------------------- optimisation
def init_paper(model: SRCNN) -> None:
    """The paper's initialisation: weights ~ N(0, 0.001^2), biases 0."""
    with torch.no_grad():
        for conv in (model.conv1, model.conv2, model.conv3):
            conv.weight.normal_(0.0, 1e-3)
            if conv.bias is not None:
                conv.bias.zero_()


def init_identity(model: SRCNN) -> None:
    """Start from the identity map: the network's first output is its (bicubic) input.

    Filter 0 of each layer passes the input through (a centred delta; ReLU keeps the
    non-negative image), the other filters keep PyTorch's default init, and the reconstruction
    weights of the other channels start at zero. Training then only has to learn the detail that
    bicubic misses, instead of first rediscovering the image (tens of thousands of steps for the
    paper's init): measured, see README "Training".
    """
    c = model.config
    with torch.no_grad():
        for conv in (model.conv1, model.conv2, model.conv3):
            if conv.bias is not None:
                conv.bias.zero_()
        for ch in range(c.channels):
            model.conv1.weight[ch].zero_()
            model.conv1.weight[ch, ch, c.f1 // 2, c.f1 // 2] = 1.0
        model.conv2.weight[: c.channels].zero_()
        model.conv3.weight.zero_()
        for ch in range(c.channels):
            model.conv2.weight[ch, ch, c.f2 // 2, c.f2 // 2] = 1.0
            model.conv3.weight[ch, ch, c.f3 // 2, c.f3 // 2] = 1.0


def init_from_weights(model: SRCNN | ScaleConditionedSRCNN, w: Weights, scale: float) -> None:
    """Start ``model`` from trained weights ``w`` (fine-tuning) instead of a random init.

    A plain source fills a plain model, or ``W_0`` of a scale-conditioned one (its higher
    coefficients stay zero: every scale starts as the source network). A scale-conditioned source
    fills a scale-conditioned model with the same polynomial, or a plain model with its weights
    folded at ``scale``. A piecewise-linear model takes each knot's network from the source folded
    at that knot (any source that serves the knots). The architecture and channels must match; the
    padding may differ.
    """
    c, wc = model.config, w.config
    if (c.f1, c.f2, c.f3, c.n1, c.n2, c.channels) != (wc.f1, wc.f2, wc.f3, wc.n1, wc.n2, wc.channels):
        raise ConfigError(f"--init-from: weights {w.name or ''} are {wc.f1}-{wc.f2}-{wc.f3} "
                          f"(n1={wc.n1}, n2={wc.n2}, {wc.channels} channel(s)); this run trains "
                          f"{c.f1}-{c.f2}-{c.f3} (n1={c.n1}, n2={c.n2}, {c.channels} channel(s))")
    with torch.no_grad():
        if isinstance(model, SRCNN):
            model.load_state_dict({k: v.clone() for k, v in w.plain_state(scale).items()})
        elif w.scale_poly is None:
            model.net.load_state_dict({k: v.clone() for k, v in w.plain_state().items()})
            model.start_from_net()
        elif w.scale_poly == model.poly:
            model.load_poly_tensors(w.state_dict)
        elif model.poly.knots:
            if not all(w.supports_scale(k) for k in model.poly.knots):
                raise ConfigError(f"--init-from: weights {w.name or ''} serve x{w.scale_poly.lo:g} to "
                                  f"x{w.scale_poly.hi:g}, not every knot of {list(model.poly.knots)}")
            model.load_poly_tensors(linear_through({k: w.plain_state(k) for k in model.poly.knots})[1])
        else:
            raise ConfigError(f"--init-from: weights {w.name or ''} are a different scale polynomial "
                              f"({w.scale_poly}) than this run's ({model.poly})")


Params = list[torch.nn.Parameter]


def _layer(model: SRCNN | ScaleConditionedSRCNN, name: str) -> tuple[Params, Params]:
    """(weights, biases) of one convolution, a scale-conditioned model's coefficients included."""
    if isinstance(model, ScaleConditionedSRCNN):
        ps = model.layer_parameters(name)
        return [p for p in ps if p.dim() > 1], [p for p in ps if p.dim() == 1]
    conv = getattr(model, name)
    return [conv.weight], [conv.bias]


def make_optimizer(model: SRCNN | ScaleConditionedSRCNN, cfg: TrainConfig) -> torch.optim.Optimizer:
    base = cfg.base_lr * cfg.coef_lr_factor
    if cfg.recipe == "paper":
        groups: list[dict[str, Any]] = []
        for name, lr in (("conv1", base), ("conv2", base), ("conv3", base / 10)):
            ws, bs = _layer(model, name)
            groups.append({"params": ws, "lr": lr, "base_lr": lr})
            groups.append({"params": bs, "lr": lr * 0.1, "base_lr": lr * 0.1})
        return torch.optim.SGD(groups, momentum=0.9)
    front = [p for name in ("conv1", "conv2") for part in _layer(model, name) for p in part]
    groups = [
        {"params": front, "lr": base, "base_lr": base},
        {"params": [p for part in _layer(model, "conv3") for p in part], "lr": base / 10, "base_lr": base / 10},
    ]
    return torch.optim.Adam(groups)


def lr_factor(cfg: TrainConfig, progress: float, step: int | None = None) -> float:
    """Learning-rate multiplier at ``progress`` (0 to 1 through the run): constant for ``paper``,
    cosine to 1 % for ``fast``; times a linear warm-up over the first ``warmup_steps`` steps
    (``step`` counts from 0)."""
    warm = 1.0 if step is None or step >= cfg.warmup_steps else (step + 1) / cfg.warmup_steps
    if cfg.recipe == "paper":
        return warm
    t = min(max(progress, 0.0), 1.0)
    return warm * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def distill_labels(pairs: list[Pair], teacher: Weights, weight: float, channels: str,
                   device: str | torch.device = "cpu",
                   progress: Callable[[int, int], None] | None = None) -> list[Pair]:
    """Pairs whose labels mix the ground truth with a teacher: ``(1 - weight) * gt + weight * T``,
    where ``T`` is the teacher's self-ensemble (the mean over the 8 flips and rotations, replicate
    padding, on the whole bicubic image) at each pair's scale. The ensemble is a better target than
    the teacher alone (+0.04 to +0.3 dB, README "Self-ensemble"), and a student trained towards it
    keeps some of that in a single pass: no gain in a 950-step CPU pilot, +0.0065 / +0.0092 dB on 15
    held-out images at x3 / x4 after 48k / 53k steps on a GPU (README "Training"; srcnn-915-x3 and -x4
    were made so). Labels stay in [0, 1]. ``progress(done, total)`` after each pair.
    cuDNN's autotuner is off during the pass (and restored after): every image size comes once or twice."""
    from .infer import resolve_model, run_model

    nets: dict[float, SRCNN] = {}
    out: list[Pair] = []
    autotune = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False  # timing kernels for a size met once cannot pay back, and each timing
    # synchronises with a GPU that other processes may hold (benchmarks/teacher_labels.py --busy)
    try:
        for p in pairs:
            if p.scale not in nets:
                net, mode = resolve_model(teacher, p.scale, device=device)
                if mode != channels:
                    raise ConfigError(f"the teacher works on {mode!r} channels, this run on {channels!r}")
                nets[p.scale] = net
            x = torch.from_numpy(p.bicubic)[None].to(device)
            t = run_model(nets[p.scale], x, self_ensemble=True)[0].cpu().numpy()
            mixed = np.clip((1.0 - weight) * p.gt + weight * t, 0.0, 1.0).astype(np.float32)
            out.append(Pair(p.bicubic, mixed, p.scale, p.name))
            if progress is not None:
                progress(len(out), len(pairs))
    finally:
        torch.backends.cudnn.benchmark = autotune
    return out


def _labels_key(pairs: list[Pair], teacher: Weights, weight: float, channels: str) -> str:
    """Identifies the labels :func:`distill_labels` makes: the teacher's tensors and scales, the mix, and
    every pair's name, scale and pixels."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"labels-v1\n{weight!r}\n{channels}\n{teacher.config.name}\n{list(teacher.scales)}\n".encode())
    for name in sorted(teacher.state_dict):
        t = teacher.state_dict[name].detach().to("cpu", torch.float32).contiguous()
        h.update(f"{name}:{tuple(t.shape)}\n".encode())
        h.update(t.numpy().tobytes())
    for p in pairs:
        h.update(f"{p.name}@{p.scale!r}:{p.bicubic.shape}:{p.gt.shape}\n".encode())
        h.update(np.ascontiguousarray(p.bicubic).data)
        h.update(np.ascontiguousarray(p.gt).data)
    return h.hexdigest()


def cached_distill_labels(pairs: list[Pair], teacher: Weights, weight: float, channels: str,
                          device: str | torch.device = "cpu",
                          progress: Callable[[int, int], None] | None = None) -> tuple[list[Pair], bool]:
    """:func:`distill_labels`, kept in the cache folder (:func:`srcnn.data.cache_dir`) under a key of the
    teacher, the mix and the pairs, so that a resumed run (or another run with the same teacher and data)
    trains on the very labels of its first start without the teacher's pass again. Returns the pairs and
    whether they came from the cache; a damaged or mismatched cache file is recomputed and replaced."""
    path = cache_dir() / f"labels-{_labels_key(pairs, teacher, weight, channels)}.npz"
    if path.is_file():
        try:
            with np.load(path) as z:
                labels = [z[f"l{i}"] for i in range(len(pairs))]
        except (OSError, ValueError, KeyError, EOFError):
            pass  # rebuilt below
        else:
            if all(lab.shape == p.gt.shape and lab.dtype == np.float32 for lab, p in zip(labels, pairs, strict=True)):
                return [Pair(p.bicubic, lab, p.scale, p.name) for p, lab in zip(pairs, labels, strict=True)], True
    out = distill_labels(pairs, teacher, weight, channels, device, progress=progress)
    with contextlib.suppress(Exception):  # a cache that cannot be written costs the next start the teacher's pass
        save_cache_arrays(path, {f"l{i}": p.gt for i, p in enumerate(out)})
    return out, False


def step_parts(n: int, side: int, cfg: TrainConfig, on_cpu: bool) -> int:
    """In how many parts a step runs a (per-process) batch of ``n`` crops of ``side`` pixels: parts of
    ``cfg.micro_batch`` crops when given, else on a CPU parts within ``CPU_PART_VALUES``, else 1."""
    if cfg.micro_batch is not None:
        return math.ceil(n / min(n, cfg.micro_batch))
    if not on_cpu:
        return 1
    mc = cfg.model_config
    per_crop = mc.n1 * max(1, side - mc.f1 + 1) ** 2
    return max(1, min(n, math.ceil(n * per_crop / CPU_PART_VALUES)))


def loss_fn(out: torch.Tensor, label: torch.Tensor, recipe: str) -> torch.Tensor:
    if recipe == "paper":  # Caffe EuclideanLoss: sum of squares / (2 N)
        return ((out - label) ** 2).sum() / (2 * out.shape[0])
    return F.mse_loss(out, label)


# --------------------------------------------------------------------------------------- data
def bicubic_mse(pairs: list[Pair], crop: int = 0) -> float:
    """Mean squared error of the bicubic inputs against the ground truth over ``pairs`` (``crop``
    pixels off each side, the part the valid network's labels cover)."""
    se, n = 0.0, 0
    for p in pairs:
        h, w = p.gt.shape[1:]
        d = p.bicubic[:, crop:h - crop, crop:w - crop].astype(np.float64) - p.gt[:, crop:h - crop, crop:w - crop]
        se, n = se + float((d * d).sum()), n + d.size
    return se / max(n, 1)


class Batches:
    """The batch of step ``t`` as a pure function of (seed, t): resumable and shardable."""

    def __init__(self, pairs: list[Pair], cfg: TrainConfig, device: str = "cpu") -> None:
        self.pairs, self.cfg = pairs, cfg
        self.source = PatchSource(pairs, device)  # batches are cut where the model runs
        self.grid = grid_positions(pairs, cfg.patch, cfg.stride) if cfg.recipe == "paper" else None
        self.n = len(self.grid) if self.grid is not None else int(
            sum(len(range(0, p.gt.shape[1] - cfg.patch + 1, cfg.stride))
                * len(range(0, p.gt.shape[2] - cfg.patch + 1, cfg.stride)) for p in pairs))
        self.steps_per_epoch = max(1, self.n // cfg.batch)
        # scale-conditioned training: each step is one scale (one set of folded weights), drawn
        # uniformly; its crops come from that scale's pairs only
        self.scales = sorted({p.scale for p in pairs}) if cfg.conditioned else []
        self.by_scale = {s: np.array([i for i, p in enumerate(pairs) if p.scale == s]) for s in self.scales}
        self._scale_pairs = {s: [pairs[i] for i in idx] for s, idx in self.by_scale.items()}  # built once
        # --balance-scales: each scale's loss divided by its bicubic MSE on the training pairs, so
        # that every scale weighs by its relative (dB-like) error: unweighted, x4's large errors
        # dominate the gradient and the low scales lag behind
        self.loss_weight = {s: 1.0 for s in self.scales}
        if cfg.balance_scales:
            for s in self.scales:
                mse = bicubic_mse(self._scale_pairs[s], cfg.label_crop)
                self.loss_weight[s] = 1.0 / max(mse, 1e-12)
            mean_w = sum(self.loss_weight.values()) / len(self.scales)
            self.loss_weight = {s: w / mean_w for s, w in self.loss_weight.items()}  # mean weight 1

    def step_scale(self, step: int) -> float:
        """The scale of step ``step``'s batch (a scale-conditioned run); the first scale otherwise."""
        if not self.scales:
            return self.cfg.scales[0]
        # a pure function of the step (the batch and the loop both ask; a draw costs ~10 us)
        g = torch.Generator().manual_seed(self.cfg.seed * 104_729 + 3 * step + 2)
        return float(self.scales[int(torch.randint(0, len(self.scales), (1,), generator=g))])

    def global_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        if self.scales:
            if self.grid is not None:
                raise ConfigError("scale-conditioned training needs the fast recipe (random crops)")
            g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + 7 * step + 1)
            s = self.step_scale(step)
            rows = random_positions(self._scale_pairs[s], cfg.batch, cfg.patch, g)
            rows[:, 0] = self.by_scale[s][rows[:, 0]]
        elif self.grid is not None:
            epoch, pos = divmod(step, self.steps_per_epoch)
            g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
            perm = torch.randperm(self.n, generator=g)[pos * cfg.batch:(pos + 1) * cfg.batch]
            rows = self.grid[perm.numpy()]
        else:
            g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + 7 * step + 1)
            rows = random_positions(self.pairs, cfg.batch, cfg.patch, g)
        x, y = self.source.take(rows, cfg.patch, cfg.label_crop)
        if cfg.use_augment:
            k = int(torch.randint(0, 8, (1,), generator=torch.Generator().manual_seed(
                cfg.seed * 7919 + step)))
            x, y = dihedral(x, k), dihedral(y, k)
        return x, y

    def batch(self, step: int, rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.global_batch(step)
        return x[rank::world].contiguous(), y[rank::world].contiguous()


# ----------------------------------------------------------------------------------- the loop
def _dist() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup_distributed(device: str) -> tuple[int, int, str]:
    """Initialise the process group when run under torchrun; returns (rank, world, device). ``device`` is
    checked first (``auto`` picks one; one this PyTorch cannot use is a :class:`ConfigError`)."""
    from .infer import check_device

    device = check_device(device)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2:
        return 0, 1, device
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    return rank, world, device


@torch.no_grad()
def validate(model: SRCNN, images: list[np.ndarray], scale: float, channels: str, device: str) -> tuple[float, float]:
    """Mean Y-PSNR (model, bicubic) on ground-truth images, the papers' protocol."""
    same = SRCNN(model.config.with_padding(inference_padding(model.config.padding))).to(device)
    same.load_state_dict(model.state_dict())
    same.eval()
    rs = [evaluate_image(g, scale, same, channels, device=device) for g in images]
    return (float(np.mean([r["psnr_model"] for r in rs])),
            float(np.mean([r["psnr_bicubic"] for r in rs])))


def _validation_images(cfg: TrainConfig) -> list[np.ndarray]:
    """The validation set's images, checked before training starts (a bad one would otherwise
    stop the run at its first log row)."""
    folder = resolve_set(cfg.val_set, cfg.data_root)
    files = list_images(folder)
    if not files:
        raise DataError(f"validation set {cfg.val_set!r} has no images in {folder}")
    imgs = [load_ground_truth(f) for f in files]
    for f, g in zip(files, imgs, strict=True):
        try:
            check_eval_size(g.shape, cfg.scales[0])
        except DataError as e:
            raise DataError(f"{f}: validation {e}; remove it or choose another --val-set") from None
    return imgs


#: Files a run writes into --out besides checkpoint.pt: a new run there would replace them.
_RUN_FILES = ("last.safetensors", "best.safetensors", "metrics.csv")


#: Options that a resumed run is expected to change (how long, where, how often to log/save), or that
#: only matter at the start (the initialisation; a resumed run starts from its checkpoint).
_RESUME_FREE = {"max_steps", "epochs", "max_minutes", "out", "data_root", "device", "eval_every", "ckpt_every",
                "strict", "init", "init_from", "micro_batch", "channels_last"}


#: Options a resumed run must keep: they define the network, what it learns, or the optimiser's groups.
_RESUME_FIXED = ("arch", "channels", "scales", "scale_poly", "scale_knots", "recipe")


def _resume_refused(out: Path, why: str) -> ConfigError:
    return ConfigError(f"--resume: {out} holds a run with other options ({why}): architecture, channels, scales "
                       "and recipe cannot change on resume; resume with the run's own options, or start a new "
                       "run (another --out, --init-from its last.safetensors)")


def changed_options(saved: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """One line per option whose value differs from the checkpoint's (``saved``: its config), for a
    resumed run to report: a forgotten ``--downscale`` or a new ``--lr`` should not pass unnoticed.
    Changing options on resume is allowed (e.g. adding data to a converged run)."""
    now = cfg.to_dict()
    lines = []
    for k in sorted(now):
        if k not in saved or k in _RESUME_FREE or saved[k] == now[k]:
            continue
        was, new = repr(saved[k]), repr(now[k])
        if k in _RESOLVED:  # an option left to the recipe: say what it meant, and skip it when that is unchanged
            try:
                before = getattr(replace(cfg, **{k: saved[k]}), _RESOLVED[k])
            except (ConfigError, TypeError, ValueError):
                before = None
            after = getattr(cfg, _RESOLVED[k])
            if before is not None and before == after:
                continue
            was += f" (the default, {before!r})" if saved[k] is None and before is not None else ""
            new += f" (the default, {after!r})" if now[k] is None else ""
        lines.append(f"resumed with a changed option: {k.replace('_', '-')} {was} -> {new}")
    return lines


#: Options whose ``None`` means "the recipe's default", and the property that resolves them.
_RESOLVED = {"batch_size": "batch", "lr": "base_lr", "warmup": "warmup_steps", "size": "patch",
             "augment": "use_augment"}


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``: a pickle that would run code is refused."""
    from .errors import WeightsError

    try:
        ck = torch.load(path, weights_only=True, map_location=map_location)
    except Exception as e:  # UnpicklingError for anything that is not plain data
        why = (str(e).splitlines() or [type(e).__name__])[0]  # an empty file's error has no message
        if "Weights only load failed" in why:  # not torch's advice to load it unsafely: srcnn never does
            why = "it holds Python objects besides tensors and numbers, which srcnn never unpickles"
        raise WeightsError(f"{path}: not a loadable srcnn checkpoint ({why})") from None
    if not isinstance(ck, dict) or ck.get("version") != CKPT_VERSION:
        raise WeightsError(f"{path}: not an srcnn checkpoint (version {CKPT_VERSION})")
    return ck


def train(cfg: TrainConfig, *, resume: bool = False,
          progress: Callable[[dict[str, Any]], None] | None = None,
          log: Callable[[str], None] | None = None,
          stage_progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Train until ``max_steps`` / ``epochs`` / ``max_minutes``; see the module docstring.
    ``stage_progress(stage, done, total)`` reports the stages before the first step that can take
    minutes: ``"training pairs"`` (images read, when not cached) and ``"teacher labels"``
    (``distill_from``, pairs done)."""
    rank, world, device = setup_distributed(cfg.device)
    if cfg.batch % world:
        raise ConfigError(f"batch size {cfg.batch} must be divisible by the {world} processes")

    def stage(name: str) -> Callable[[int, int], None] | None:
        if stage_progress is None or rank != 0:
            return None
        return lambda done, total: stage_progress(name, done, total)
    out = Path(cfg.out)
    ckpt_path = out / "checkpoint.pt"
    init_w = load_weights(cfg.init_from) if cfg.init_from is not None and not resume else None  # before any file
    teacher_w = load_weights(cfg.distill_from) if cfg.distill_from is not None else None
    if teacher_w is not None:  # a teacher for another scale is refused now, not after the pairs are built
        missing = [k for k in sorted(set(cfg.scales)) if not teacher_w.supports_scale(k)]
        if missing:
            raise ConfigError(f"--distill-from {cfg.distill_from} was trained for "
                              + "/".join(f"x{k:g}" for k in teacher_w.scales) + ", and this run trains "
                              + "/".join(f"x{k:g}" for k in missing) + ": give a teacher for every training scale")
    if rank == 0:
        check_output_folder(out, create=True)  # made once the data is ready, just before the first file
    torch.manual_seed(cfg.seed)
    poly = cfg.poly
    model: SRCNN | ScaleConditionedSRCNN = (SRCNN(cfg.model_config) if poly is None
                                            else ScaleConditionedSRCNN(cfg.model_config, poly))
    net = model if isinstance(model, SRCNN) else model.net  # W_0; start_from_net sets the rest
    if init_w is not None:
        init_from_weights(model, init_w, cfg.scales[0])
    else:
        if cfg.init_scheme == "paper":
            init_paper(net)
        elif cfg.init_scheme == "identity":
            init_identity(net)
        if isinstance(model, ScaleConditionedSRCNN):
            model.start_from_net()
    model.to(device)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    if cfg.channels_last:  # NHWC convolutions: the same function, a memory layout some GPUs run faster
        model.to(memory_format=layout)  # type: ignore[call-overload]  # (torch stubs omit it)
    if str(device).startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN pick its fastest kernels
    opt = make_optimizer(model, cfg)
    # --amp: the forward pass under autocast (fp16 with a loss scaler, or bf16); weights, Adam's
    # state and the loss stay float32
    dev_type = torch.device(device).type
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(cfg.amp)
    scaler = torch.amp.GradScaler(dev_type, enabled=cfg.amp == "fp16")

    def autocast() -> contextlib.AbstractContextManager[Any]:
        return torch.autocast(dev_type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()
    step, best, elapsed0 = 0, -math.inf, 0.0
    loss_sum0, loss_n0 = 0.0, 0
    if resume:
        if not ckpt_path.is_file():
            raise ConfigError(f"--resume: no checkpoint in {out}; run without --resume to start there, or give the "
                              "--out of the run to continue")
        ck = load_checkpoint(ckpt_path, map_location=device)
        ck_cfg, run_cfg = ck.get("config", {}), cfg.to_dict()
        fixed = [f"{k.replace('_', '-')} {ck_cfg[k]!r} -> {run_cfg[k]!r}" for k in _RESUME_FIXED
                 if k in ck_cfg and ck_cfg[k] != run_cfg[k]]
        if fixed:  # e.g. an x2 run resumed without --scale (default 3) would silently become an x3 run
            raise _resume_refused(out, "; ".join(fixed))
        try:
            model.load_state_dict(ck["model"])
            fresh = [g["base_lr"] for g in opt.param_groups]
            opt.load_state_dict(ck["optimizer"])  # this brings back the saved learning rates too:
            for g, lr in zip(opt.param_groups, fresh, strict=True):  # a changed --lr applies from here
                g["base_lr"] = lr
            if ck.get("scaler"):
                scaler.load_state_dict(ck["scaler"])
        except (RuntimeError, ValueError, KeyError) as e:  # a checkpoint without a config whose network differs
            raise _resume_refused(out, (str(e).splitlines() or [repr(e)])[0]) from None
        step, best, elapsed0 = int(ck["step"]), float(ck["best"]), float(ck["elapsed"])
        loss_sum0, loss_n0 = float(ck.get("loss_sum", 0.0)), int(ck.get("loss_n", 0))
        torch.set_rng_state(ck["rng"].cpu())  # map_location may have moved it
        if log and rank == 0:
            for line in changed_options(ck.get("config", {}), cfg):
                log(line)
    elif rank == 0 and ckpt_path.exists():
        raise ConfigError(f"{out} already holds a run; pass --resume to go on, or choose another --out")
    elif rank == 0 and (kept := [n for n in _RUN_FILES if (out / n).exists()]):
        # a run folder whose checkpoint was deleted, or weights put there: a new run would replace them
        raise ConfigError(f"{out} holds {', '.join(kept)} of an earlier run but no checkpoint.pt to resume from; a "
                          "new run would replace them: choose another --out (--init-from can start from them), or "
                          "delete them to start over there")
    pairs = build_pairs(PairConfig(cfg.train_sets, cfg.scales, cfg.channels, cfg.downscales),
                        cfg.data_root, strict=cfg.strict,
                        on_skip=(lambda f, why: log(f"skipped {why}")) if log and rank == 0 else None,
                        progress=stage("training pairs"))
    if teacher_w is not None:
        if log and rank == 0:
            log(f"labels: {1 - cfg.distill_weight:g} x ground truth + {cfg.distill_weight:g} x the 8-view "
                f"self-ensemble of {cfg.distill_from}")
        pairs, from_cache = cached_distill_labels(pairs, teacher_w, cfg.distill_weight, cfg.channels, device,
                                                  progress=stage("teacher labels"))
        if from_cache and log and rank == 0:
            log("teacher labels: from the cache (computed by an earlier start with this teacher and data)")
    batches = Batches(pairs, cfg, device)
    if cfg.max_steps is not None:
        total = cfg.max_steps
    elif cfg.epochs is not None:
        total = max(1, round(cfg.epochs * batches.steps_per_epoch))
    else:
        total = 1_000_000_000 if cfg.max_minutes is not None else 10 * batches.steps_per_epoch
    timed = cfg.max_steps is None and cfg.epochs is None and cfg.max_minutes is not None
    val_imgs = _validation_images(cfg)
    ddp: torch.nn.Module = model
    no_sync: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        no_sync = ddp.no_sync
    made = [p for p in (out, out / "tb") if not p.exists()]  # what a run that fails before its first step removes
    if rank == 0:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create the output folder {out}: {e.strerror or e}; choose another "
                              "--out") from None
    writer = _MetricsWriter(out / "metrics.csv", append=resume) if rank == 0 else None
    tb = _tensorboard(out) if rank == 0 else None
    t_start = time.time()
    last_val: float | None = None
    # The running loss since the last log row is checkpointed too, so that a resumed run logs
    # exactly what an unbroken one would.
    loss_sum, loss_n = loss_sum0, loss_n0
    # Step losses are summed on the device (float64: exact for these sums, so where the sum is
    # folded into ``loss_sum`` does not change it) and read back only for log rows and
    # checkpoints: a ``.item()`` per step would stall a GPU's queue every step.
    loss_acc = torch.zeros((), dtype=torch.float64, device=device)
    on_cpu = torch.device(device).type == "cpu"
    n_parts = step_parts(cfg.batch // world, cfg.patch, cfg, on_cpu)  # every step's batch has this shape
    row_step, clock_stop = -1, False
    interrupted = diverged = False

    def elapsed() -> float:
        return elapsed0 + time.time() - t_start

    def fold() -> None:
        nonlocal loss_sum
        loss_sum += float(loss_acc)
        loss_acc.zero_()

    def check_finite() -> None:
        """Stop a diverged run (weights no longer finite, e.g. a learning rate far too high) before
        its weights are validated or saved: nothing of it reaches best/last or the checkpoint. Checked
        where the run reads back from the device anyway (log rows and checkpoints)."""
        nonlocal diverged
        if all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            return
        diverged = True
        kept = "nothing was kept" if not ckpt_path.is_file() else \
            f"{ckpt_path} and the weights files keep the last finite state"
        raise TrainingError(f"training diverged by step {step}: the weights are no longer finite numbers (the "
                            f"learning rate is probably too high: try a lower --lr); {kept}")

    def log_row() -> None:
        nonlocal last_val, best, loss_sum, loss_n, row_step
        check_finite()
        plain = model if isinstance(model, SRCNN) else model.at_scale(cfg.scales[0])
        last_val, bic = validate(plain, val_imgs, cfg.scales[0], cfg.channels, device)
        fold()
        mean_loss = loss_sum / max(1, loss_n)
        assert writer is not None
        writer.row(step, step * cfg.batch, mean_loss, last_val, bic, elapsed())
        if tb is not None:
            tb.add_scalar("loss", mean_loss, step)
            tb.add_scalar("val_psnr", last_val, step)
        loss_sum, loss_n, row_step = 0.0, 0, step
        if last_val > best:
            best = last_val
            _save_weights(model, cfg, step, out / "best.safetensors", f"{out.name}-best",
                          picked_on=val_set_label(cfg.val_set))

    def save() -> None:
        if rank != 0 or diverged:
            return
        check_finite()
        fold()
        state = {"version": CKPT_VERSION, "model": model.state_dict(), "optimizer": opt.state_dict(),
                 "step": step, "best": best, "elapsed": elapsed(), "rng": torch.get_rng_state(),
                 "loss_sum": loss_sum, "loss_n": loss_n, "scaler": scaler.state_dict(),
                 "config": cfg.to_dict()}
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(ckpt_path, buf.getvalue(), overwrite=True)
        _save_weights(model, cfg, step, out / "last.safetensors", f"{out.name}-last")

    try:
        ddp.train()
        while step < total:
            now = elapsed()
            stop = cfg.max_minutes is not None and now > cfg.max_minutes * 60
            frac = now / (cfg.max_minutes * 60) if timed and cfg.max_minutes else step / total
            if world > 1:  # every rank must agree on stopping and on the learning rate
                flag = torch.tensor([1.0 if stop else 0.0, frac], device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                stop, frac = bool(flag[0].item() > 0), float(flag[1].item())
            if stop:
                clock_stop = True
                break
            x, y = batches.batch(step, rank, world)  # already on the device
            if cfg.channels_last:
                x = x.contiguous(memory_format=layout)
            f = lr_factor(cfg, frac, step)
            for gr in opt.param_groups:
                gr["lr"] = gr["base_lr"] * f
            opt.zero_grad(set_to_none=True)
            s_step = batches.step_scale(step) if poly is not None else None
            part_losses: list[torch.Tensor] = []
            for i, (xp, yp) in enumerate(zip(x.tensor_split(n_parts), y.tensor_split(n_parts), strict=True)):
                # DDP averages the gradients across ranks once, after the last part
                sync = no_sync() if world > 1 and i < n_parts - 1 else contextlib.nullcontext()
                with sync:
                    with autocast():
                        out_p = ddp(xp) if s_step is None else ddp(xp, s_step)
                    # the loss in float32 whatever the convolutions; each part weighs its share of the batch
                    loss_p = loss_fn(out_p.float(), yp, cfg.recipe) * (len(xp) / len(x))
                    if s_step is not None:
                        loss_p = loss_p * batches.loss_weight[s_step]
                    scaler.scale(loss_p).backward()  # type: ignore[no-untyped-call]
                part_losses.append(loss_p.detach())
            loss = part_losses[0] if n_parts == 1 else torch.stack(part_losses).sum()
            scaler.step(opt)
            scaler.update()
            step += 1
            loss_acc += loss.detach()
            loss_n += 1
            if rank == 0 and (step % cfg.eval_every == 0 or step == total):
                log_row()
            if step % cfg.ckpt_every == 0:
                save()
            if progress and rank == 0 and (on_cpu or step % 20 == 0 or step == total):
                progress({"step": step, "total": total, "loss": loss.item(), "val_psnr": last_val,
                          "elapsed_s": elapsed()})
        if rank == 0 and clock_stop and row_step != step:  # stopped by the clock: log where it ended
            log_row()
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if step > 0:  # a run that never took a step has nothing to keep: no checkpoint
            save()
        if writer is not None:
            writer.close()
        if tb is not None:
            tb.close()
        # failed or stopped before its first step, or diverged before its first checkpoint: leave no "run"
        if rank == 0 and not resume and (step == 0 or (diverged and not ckpt_path.is_file())):
            _remove_unstarted_run(out, made)
        if world > 1 and not interrupted and not diverged and dist.is_initialized():  # a diverged rank 0 just exits
            dist.barrier()
    return {"step": step, "total": total, "best_val_psnr": best, "last_val_psnr": last_val,
            "out": str(out), "elapsed_s": elapsed(), "subimages": batches.n, "rank": rank, "world": world}


def val_set_label(val_set: str) -> str:
    """The name a monitoring set goes by (a folder's own name for a path: ``/data/Set5`` -> ``Set5``)."""
    return Path(val_set).name or val_set


def _save_weights(model: SRCNN | ScaleConditionedSRCNN, cfg: TrainConfig, step: int, path: Path, name: str,
                  picked_on: str = "") -> None:
    """Save the model as weights; ``picked_on`` names the set whose PSNR chose this step (best.safetensors)."""
    tensors = model.state_dict() if isinstance(model, SRCNN) else \
        {k: v.detach() for k, v in model.poly_tensors().items()}
    w = Weights(config=model.config.with_padding(inference_padding(model.config.padding)), state_dict=tensors,
                scales=tuple(sorted(set(cfg.scales))) if cfg.conditioned else cfg.scales,
                channels_mode=cfg.channels, scale_poly=cfg.poly,
                provenance=f"srcnn train: recipe={cfg.recipe} arch={cfg.arch}"
                           f"{f' scale-poly={cfg.scale_poly}' if cfg.scale_poly else ''}"
                           f"{' scale-knots=' + ','.join(f'{k:g}' for k in cfg.scale_knots) if cfg.scale_knots else ''}"
                           f" sets={'+'.join(cfg.train_sets)} "
                           f"step={step}{f' picked by its PSNR on {picked_on}' if picked_on else ''}",
                name=name, extra={"picked_on": picked_on} if picked_on else {})
    save_weights(w, path, overwrite=True)


class _MetricsWriter:
    HEADER = ("step", "backprops", "loss", "val_psnr", "val_bicubic", "wall_s")

    def __init__(self, path: Path, append: bool) -> None:
        fresh = not (append and path.exists())
        if not fresh:
            # Drop rows past the checkpoint's step? Rows are written only at evaluation steps,
            # which always precede or equal the next checkpoint, so rows after it are replayed
            # identically on resume; keep the file and skip duplicates by step.
            self.seen = {int(r["step"]) for r in csv.DictReader(path.open())}
        else:
            self.seen = set()
        self.f = path.open("w" if fresh else "a", newline="")
        self.w = csv.writer(self.f)
        if fresh:
            self.w.writerow(self.HEADER)

    def row(self, step: int, backprops: int, loss: float, val: float, bic: float, wall: float) -> None:
        if step in self.seen:
            return
        self.w.writerow([step, backprops, f"{loss:.6g}", f"{val:.4f}", f"{bic:.4f}", f"{wall:.1f}"])
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def _remove_unstarted_run(out: Path, made: list[Path]) -> None:
    """Remove what a fresh run wrote before its first step (``metrics.csv``, and the folders in ``made``,
    which it created), so that the same command can simply be run again."""
    import shutil

    with contextlib.suppress(OSError):
        (out / "metrics.csv").unlink(missing_ok=True)
    for p in reversed(made):  # tb/ before the run folder
        if p == out:
            with contextlib.suppress(OSError):
                p.rmdir()  # only when empty: nothing of the user's is touched
        else:
            shutil.rmtree(p, ignore_errors=True)


def _tensorboard(out: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:
        return None
    return SummaryWriter(str(out / "tb"))


#: The columns a metrics.csv must have to be read (all that srcnn train writes; a plot needs them).
_METRICS_COLUMNS = set(_MetricsWriter.HEADER)


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, float]]:
    """Rows of ``metrics.csv`` as floats."""
    p = Path(run_dir) / "metrics.csv"
    if not p.is_file():
        raise ConfigError(f"no metrics.csv in {run_dir}")
    try:
        with p.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is not None and not set(reader.fieldnames) >= _METRICS_COLUMNS:
                raise ConfigError(f"{p} is not srcnn's metrics.csv (its header is {','.join(reader.fieldnames)!r})")
            return [{k: float(v) if v else math.nan for k, v in r.items() if k is not None}
                    for r in reader]
    except (UnicodeDecodeError, ValueError, csv.Error) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{p} is damaged and cannot be read as srcnn's metrics.csv ({e})") from None
    except OSError as e:
        raise ConfigError(f"cannot read {p}: {e.strerror or e}") from None
