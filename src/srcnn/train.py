"""Training SRCNN: the paper's recipe and a fast one, step-based, checkpointed and resumable.

Recipes
-------
``paper``: valid convolutions on 33x33 sub-images, Gaussian init (std 0.001), zero biases, SGD
with momentum 0.9, learning rates 1e-4 (layers 1, 2) and 1e-5 (layer 3), biases x0.1 as in the
released Caffe solver, batch 128, loss as Caffe's Euclidean loss (sum / 2N).

``fast``: the same data and network, Adam (lr 1e-3 for layers 1-2, 1e-4 for layer 3, cosine
decay to 1% of it), MSE loss, random flips/rotations of each batch, PyTorch's default init.
Adam reaches in minutes what SGD at 1e-4 needs days for (measured: see the closing notes of the
training issue).

A checkpoint (``checkpoint.pt``) holds model, optimiser, step, RNG state and config as plain
tensors and builtins, written atomically, loadable with ``torch.load(weights_only=True)``. The data
order is a function of (seed, epoch), so a resumed run sees the same batches as an unbroken one.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .data import SubImageConfig, build_subimages, dihedral
from .datasets import list_images, resolve_set
from .errors import ConfigError
from .evaluate import evaluate_image, load_ground_truth
from .fileio import atomic_write_bytes
from .model import SRCNN, config_for
from .weights import Weights, save_weights

RECIPES = ("paper", "fast")


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "9-1-5"
    scales: tuple[float, ...] = (3.0,)
    train_sets: tuple[str, ...] = ("T91",)
    val_set: str = "Set5"
    data_root: str | None = None
    recipe: str = "fast"
    batch_size: int = 128
    max_steps: int = 100_000
    max_minutes: float | None = None
    eval_every: int = 1000
    ckpt_every: int = 1000
    seed: int = 0
    device: str = "cpu"
    stride: int = 14
    size: int = 33
    lr: float | None = None
    out: str = "runs/srcnn"
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")
        config_for(self.arch)
        if self.batch_size < 1 or self.max_steps < 1:
            raise ConfigError("batch size and max steps must be positive")


def _init_paper(model: SRCNN) -> None:
    with torch.no_grad():
        for conv in (model.conv1, model.conv2, model.conv3):
            conv.weight.normal_(0.0, 1e-3)
            if conv.bias is not None:
                conv.bias.zero_()


def make_optimizer(model: SRCNN, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.recipe == "paper":
        base = cfg.lr or 1e-4
        groups = []
        for conv, lr in ((model.conv1, base), (model.conv2, base), (model.conv3, base / 10)):
            groups.append({"params": [conv.weight], "lr": lr, "base_lr": lr})
            groups.append({"params": [conv.bias], "lr": lr * 0.1, "base_lr": lr * 0.1})
        return torch.optim.SGD(groups, momentum=0.9)
    base = cfg.lr or 1e-3
    groups = [
        {"params": list(model.conv1.parameters()) + list(model.conv2.parameters()),
         "lr": base, "base_lr": base},
        {"params": list(model.conv3.parameters()), "lr": base / 10, "base_lr": base / 10},
    ]
    return torch.optim.Adam(groups)


def _set_lr(opt: torch.optim.Optimizer, cfg: TrainConfig, step: int) -> None:
    if cfg.recipe == "paper":
        return
    f = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, cfg.max_steps) / cfg.max_steps))
    for g in opt.param_groups:
        g["lr"] = g["base_lr"] * f


def loss_fn(out: torch.Tensor, label: torch.Tensor, recipe: str) -> torch.Tensor:
    if recipe == "paper":  # Caffe EuclideanLoss: sum of squares / (2 N)
        return ((out - label) ** 2).sum() / (2 * out.shape[0])
    return F.mse_loss(out, label)


@torch.no_grad()
def validate(model: SRCNN, images: list[np.ndarray], scale: float) -> tuple[float, float]:
    """Mean Y-PSNR (model, bicubic) on ground-truth images, the papers' protocol."""
    same = SRCNN(model.config.with_padding("replicate"))
    same.load_state_dict(model.state_dict())
    same.eval()
    rs = [evaluate_image(g, scale, same) for g in images]
    return float(np.mean([r["psnr_model"] for r in rs])), float(np.mean([r["psnr_bicubic"] for r in rs]))


def _save_ckpt(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue(), overwrite=True)


def train(cfg: TrainConfig, *, resume: bool = False,
          progress: Callable[[int, float, float | None], None] | None = None) -> dict[str, Any]:
    """Train until ``max_steps`` or ``max_minutes``. Writes checkpoint, metrics.csv, best/last
    weights into ``cfg.out``. ``progress(step, loss, last_val_psnr)`` is called every step."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    arch_cfg = config_for(cfg.arch, padding="valid")
    torch.manual_seed(cfg.seed)
    model = SRCNN(arch_cfg)
    if cfg.recipe == "paper":
        _init_paper(model)
    model.to(cfg.device)
    opt = make_optimizer(model, cfg)
    step, best = 0, -math.inf
    if resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, weights_only=True, map_location=cfg.device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, best = int(ck["step"]), float(ck["best"])
    sub = SubImageConfig(sets=cfg.train_sets, scales=cfg.scales, size=cfg.size, stride=cfg.stride,
                         shrink=arch_cfg.shrink)
    inputs, labels, _skipped = build_subimages(sub, cfg.data_root)
    n = inputs.shape[0]
    val_imgs = [load_ground_truth(f) for f in list_images(resolve_set(cfg.val_set, cfg.data_root))]
    metrics = out / "metrics.csv"
    new_file = not metrics.exists() or not resume
    mf = open(metrics, "w" if new_file else "a", newline="")  # noqa: SIM115 - closed in finally
    writer = csv.writer(mf)
    if new_file:
        writer.writerow(["step", "backprops", "loss", "val_psnr", "val_bicubic", "wall_s"])
    t0, last_val = time.time(), None
    steps_per_epoch = max(1, n // cfg.batch_size)
    loss_acc, loss_n = 0.0, 0

    def save(final: bool = False) -> None:
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                 "best": best, "config": {k: (list(v) if isinstance(v, tuple) else v)
                                          for k, v in asdict(cfg).items() if k != "tags"}}
        _save_ckpt(ckpt_path, state)
        w = Weights(config=arch_cfg.with_padding("replicate"), state_dict=model.state_dict(),
                    scales=cfg.scales, provenance=f"srcnn train recipe={cfg.recipe} step={step} "
                    f"sets={','.join(cfg.train_sets)}", name=f"{out.name}-last")
        save_weights(w, out / "last.safetensors", overwrite=True)

    try:
        model.train()
        while step < cfg.max_steps:
            if cfg.max_minutes is not None and time.time() - t0 > cfg.max_minutes * 60:
                break
            epoch, pos = divmod(step, steps_per_epoch)
            g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            perm = torch.randperm(n, generator=g)
            idx = perm[pos * cfg.batch_size:(pos + 1) * cfg.batch_size]
            x, y = inputs[idx].to(cfg.device), labels[idx].to(cfg.device)
            if cfg.recipe == "fast":
                k = int(torch.randint(0, 8, (1,), generator=g.manual_seed(cfg.seed + 7919 * step)))
                x, y = dihedral(x, k), dihedral(y, k)
            _set_lr(opt, cfg, step)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y, cfg.recipe)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            step += 1
            loss_acc += loss.item()
            loss_n += 1
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                psnr_m, psnr_b = validate(model, val_imgs, cfg.scales[0])
                last_val = psnr_m
                writer.writerow([step, step * cfg.batch_size, f"{loss_acc / loss_n:.6g}",
                                 f"{psnr_m:.4f}", f"{psnr_b:.4f}", f"{time.time() - t0:.1f}"])
                mf.flush()
                loss_acc, loss_n = 0.0, 0
                if psnr_m > best:
                    best = psnr_m
                    w = Weights(config=arch_cfg.with_padding("replicate"),
                                state_dict=model.state_dict(), scales=cfg.scales,
                                provenance=f"srcnn train recipe={cfg.recipe} step={step} (best val)",
                                name=f"{out.name}-best")
                    save_weights(w, out / "best.safetensors", overwrite=True)
            if step % cfg.ckpt_every == 0:
                save()
            if progress:
                progress(step, loss.item(), last_val)
    finally:
        save(final=True)
        mf.close()
    return {"step": step, "best_val_psnr": best, "last_val_psnr": last_val, "out": str(out)}
