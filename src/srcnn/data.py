"""Training data: the paper's sub-images from folders of high-resolution images.

For each HR image: Y channel (Matlab ``rgb2ycbcr``; grayscale as is), modcrop by the scale, ``/255``
as float, Matlab-bicubic down by 1/k and up by k (no rounding), then 33x33 sub-images taken with
stride 14 from the bicubic image, each paired with the label the network's valid output covers:
the centre ``(33 - s) x (33 - s)`` of the ground truth, ``s = f1 + f2 + f3 - 3`` (21x21 for 9-1-5).

The arrays are built once and cached (``$XDG_CACHE_HOME/srcnn`` or ``~/.cache/srcnn``), keyed by
every parameter and by the names and sizes of the source files; a data root is never written to.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .datasets import list_images, resolve_set
from .errors import DataError, ImageReadError
from .evaluate import load_ground_truth, scale_modulo
from .fileio import atomic_write_bytes
from .metrics import modcrop
from .resize import imresize


@dataclass(frozen=True)
class SubImageConfig:
    """How sub-images are cut. ``shrink`` = f1 + f2 + f3 - 3 of the architecture (12 for 9-1-5)."""

    sets: tuple[str, ...] = ("T91",)
    scales: tuple[float, ...] = (3.0,)
    size: int = 33
    stride: int = 14
    shrink: int = 12

    @property
    def label_size(self) -> int:
        return self.size - self.shrink


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "srcnn"


def _key(cfg: SubImageConfig, files: list[Path]) -> str:
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    for f in files:
        h.update(f"{f.name}:{f.stat().st_size}\n".encode())
    return h.hexdigest()[:20]


def subimages_of(gt: np.ndarray, scale: float, cfg: SubImageConfig) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (n, size, size), labels (n, label, label)) float32 in [0, 1] from one uint8 HR image."""
    from .color import y_uint8

    y = modcrop(y_uint8(gt), scale_modulo(scale))
    x = torch.from_numpy(y.astype(np.float32) / 255.0)
    bic = imresize(imresize(x, scale=1.0 / scale), size=(y.shape[0], y.shape[1])).numpy()
    gtf = y.astype(np.float32) / 255.0
    s, st, pad = cfg.size, cfg.stride, cfg.shrink // 2
    ins, labs = [], []
    for r in range(0, y.shape[0] - s + 1, st):
        for c in range(0, y.shape[1] - s + 1, st):
            ins.append(bic[r:r + s, c:c + s])
            labs.append(gtf[r + pad:r + s - pad, c + pad:c + s - pad])
    if not ins:
        return np.zeros((0, s, s), np.float32), np.zeros((0, s - 2 * pad, s - 2 * pad), np.float32)
    return np.stack(ins), np.stack(labs)


def build_subimages(cfg: SubImageConfig, data_root: str | None = None, *,
                    use_cache: bool = True) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All sub-images of ``cfg`` as ``(N, 1, size, size)`` and ``(N, 1, label, label)`` float32.

    Returns also the names of unreadable files that were skipped.
    """
    files: list[Path] = []
    for s in cfg.sets:
        files.extend(list_images(resolve_set(s, data_root)))
    if not files:
        raise DataError(f"no training images in {', '.join(cfg.sets)}")
    path = cache_dir() / f"subimages-{_key(cfg, files)}.npz"
    if use_cache and path.is_file():
        try:
            with np.load(path) as z:
                return torch.from_numpy(z["inputs"]), torch.from_numpy(z["labels"]), list(z["skipped"])
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt
    ins, labs, skipped = [], [], []
    for f in files:
        try:
            gt = load_ground_truth(f)
        except ImageReadError:
            skipped.append(f.name)
            continue
        for k in cfg.scales:
            a, b = subimages_of(gt, k, cfg)
            ins.append(a)
            labs.append(b)
    if not ins or sum(len(a) for a in ins) == 0:
        raise DataError(f"no sub-images could be cut from {', '.join(cfg.sets)}")
    inputs = np.concatenate(ins)[:, None]
    labels = np.concatenate(labs)[:, None]
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            np.savez(buf, inputs=inputs, labels=labels, skipped=np.array(skipped, dtype=str))
            atomic_write_bytes(path, buf.getvalue(), overwrite=True)
        except Exception:
            pass
    return torch.from_numpy(inputs), torch.from_numpy(labels), skipped


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 flips/rotations of ``(..., H, W)`` (k in 0..7)."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))
