"""Training data: (bicubic, ground truth) pairs from folders of HR images, and sub-images of them.

For each HR image (and each extra downscaled copy of it, e.g. 0.9 ... 0.6, made with Matlab
bicubic): the channels (Y of Matlab ``rgb2ycbcr`` by default, grayscale as is; or RGB / YCbCr
for 3-channel models), modcrop by the scale, ``/255`` as float, Matlab-bicubic down by 1/k and up
by k (no rounding), giving a pair (bicubic input, ground truth) of the same size.

Sub-images are then cut from the pairs: the paper's grid (33x33 with stride 14, each with the label
the network's valid output covers, the centre ``33 - s`` square, ``s = f1 + f2 + f3 - 3``: 21x21 for
9-1-5), or random crops of any size. The pairs are built once and cached in
``$XDG_CACHE_HOME/srcnn`` (``~/.cache/srcnn``), keyed by every parameter and by the names and sizes
of the source files; nothing is written into a data root.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .color import rgb_to_ycbcr
from .datasets import list_images, resolve_set, xdg_dir
from .errors import ConfigError, DataError, ImageReadError
from .evaluate import load_ground_truth, scale_modulo
from .fileio import atomic_write_bytes
from .resize import imresize

CHANNEL_MODES = ("y", "rgb", "ycbcr")


@dataclass(frozen=True)
class PairConfig:
    """Which (bicubic, ground-truth) pairs to build."""

    sets: tuple[str, ...] = ("T91",)
    scales: tuple[float, ...] = (3.0,)
    channels: str = "y"
    downscales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.channels not in CHANNEL_MODES:
            raise ConfigError(f"channels must be one of {CHANNEL_MODES}, got {self.channels!r}")
        for d in self.downscales:
            if not 0.1 <= d < 1:
                raise ConfigError(f"downscale factors must be in [0.1, 1), got {d}")


@dataclass
class Pair:
    """One training pair: ``bicubic`` and ``gt`` float32 ``(C, H, W)`` in [0, 1], and its scale."""

    bicubic: np.ndarray
    gt: np.ndarray
    scale: float
    name: str


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/srcnn`` (an absolute path), else ``~/.cache/srcnn``."""
    return xdg_dir("XDG_CACHE_HOME", ".cache") / "srcnn"


#: What srcnn keeps in :func:`cache_dir`, by kind: file patterns (``partial``: the temporary files of
#: writes that were killed before their rename).
CACHE_PATTERNS: dict[str, tuple[str, ...]] = {
    "training pairs": ("pairs-*.npz",),
    "teacher labels": ("labels-*.npz",),
    "partial writes": (".pairs-*.tmp", ".labels-*.tmp"),
}


def cache_files() -> dict[str, list[Path]]:
    """The files srcnn keeps in :func:`cache_dir`, by kind (:data:`CACHE_PATTERNS`); nothing else there is
    listed. All of them are rebuilt when needed, so deleting them only costs time."""
    folder = cache_dir()
    return {kind: sorted(f for pat in pats for f in folder.glob(pat) if f.is_file()) if folder.is_dir() else []
            for kind, pats in CACHE_PATTERNS.items()}


def clear_cache() -> tuple[int, int]:
    """Delete the files of :func:`cache_files` (and only those); returns (files, bytes) removed. A file that
    another process removed meanwhile is skipped; any other failure raises ``OSError``."""
    n = size = 0
    for files in cache_files().values():
        for f in files:
            try:
                b = f.stat().st_size
                f.unlink()
            except FileNotFoundError:
                continue
            n, size = n + 1, size + b
    return n, size


def _planes(gt: np.ndarray, channels: str) -> np.ndarray:
    """uint8 HR image -> float32 (C, H, W) on the [0, 255] scale, as the model's channels."""
    from .color import y_uint8

    if channels == "y":
        return y_uint8(gt).astype(np.float32)[None]
    rgb = gt if gt.ndim == 3 else np.repeat(gt[:, :, None], 3, axis=2)
    planes = rgb.transpose(2, 0, 1).astype(np.float32)
    if channels == "ycbcr":
        planes = (rgb_to_ycbcr(torch.from_numpy(planes / 255.0)) * 255.0).numpy()
    return planes


def make_pair(gt: np.ndarray, scale: float, channels: str = "y", name: str = "") -> Pair:
    """The pair of one uint8 HR image, following the evaluation protocol."""
    planes = _planes(gt, channels)
    mod = scale_modulo(scale)
    planes = planes[:, : planes.shape[1] - planes.shape[1] % mod, : planes.shape[2] - planes.shape[2] % mod]
    if planes.shape[1] < mod or planes.shape[2] < mod:
        raise DataError(f"{name}: image too small for scale {scale}")
    if channels == "y":  # the Y plane is uint8-rounded, as rgb2ycbcr gives it
        planes = np.floor(planes + 0.5)
    x = torch.from_numpy(np.ascontiguousarray(planes) / 255.0)
    bic = imresize(imresize(x, scale=1.0 / scale), size=(x.shape[1], x.shape[2]))
    return Pair(bic.numpy().astype(np.float32), x.numpy().astype(np.float32), float(scale), name)


def _key(cfg: PairConfig, files: list[Path]) -> str:
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    h.update(b"pairs-v2\n")
    for f in files:
        h.update(f"{f.parent.name}/{f.name}:{f.stat().st_size}\n".encode())
    return h.hexdigest()[:20]


def training_files(sets: tuple[str, ...], data_root: str | None) -> list[Path]:
    files: list[Path] = []
    for s in sets:
        folder = resolve_set(s, data_root)
        found = list_images(folder)
        if not found:
            raise DataError(f"training set {s!r} has no images in {folder}")
        files.extend(found)
    return files


def build_pairs(cfg: PairConfig, data_root: str | None = None, *, strict: bool = False,
                use_cache: bool = True,
                on_skip: Callable[[Path, str], None] | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[Pair]:
    """All pairs of ``cfg``. Unreadable images are skipped (reported through ``on_skip``), or
    raise with ``strict``. Cached on disk; an empty result is an error. ``progress(done, total)``
    after each source image when the pairs are built (not when they come from the cache)."""
    files = training_files(cfg.sets, data_root)
    path = cache_dir() / f"pairs-{_key(cfg, files)}.npz"
    if use_cache and path.is_file():
        try:
            cached, skipped = _load_cache(path)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt
        else:
            for name, why in skipped:  # unreadable files are reported on every run
                if strict:
                    raise ImageReadError(why)
                if on_skip:
                    on_skip(Path(name), why)
            return cached
    pairs: list[Pair] = []
    skipped_files: list[tuple[str, str]] = []

    def one(f: Path) -> tuple[list[Pair], list[str], str | None]:
        try:
            gt = load_ground_truth(f)
        except ImageReadError as e:
            return [], [], str(e)
        made, notes = [], []
        copies = [gt] + [_downscaled(gt, d) for d in cfg.downscales]
        for i, img in enumerate(copies):
            for k in cfg.scales:
                try:
                    made.append(make_pair(img, k, cfg.channels, f"{f.name}#{i}@x{k:g}"))
                except DataError as e:
                    notes.append(str(e))
        return made, notes, None

    # Images are independent and torch/numpy release the GIL in the resizes, so threads scale
    # with the cores; results are taken in file order, so the pairs do not depend on timing.
    workers = max(1, min(16, os.cpu_count() or 1, len(files)))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for i, (f, (made, notes, unreadable)) in enumerate(zip(files, pool.map(one, files), strict=True)):
            if progress is not None:
                progress(i + 1, len(files))
            if unreadable is not None:
                if strict:
                    raise ImageReadError(unreadable)
                skipped_files.append((str(f), unreadable))
                if on_skip:
                    on_skip(f, unreadable)
                continue
            pairs.extend(made)
            for note in notes:
                if on_skip:
                    on_skip(f, note)
    if not pairs:
        raise DataError(f"no usable training images in {', '.join(cfg.sets)}")
    if use_cache:
        with contextlib.suppress(Exception):
            _save_cache(path, pairs, skipped_files)
    return pairs


def _downscaled(gt: np.ndarray, factor: float) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(gt, dtype=np.float32))
    x = x[None] if x.ndim == 2 else x.permute(2, 0, 1)
    y = imresize(x, scale=factor).clamp(0, 255)
    out = np.floor(y.numpy() + 0.5).astype(np.uint8)
    return out[0] if gt.ndim == 2 else out.transpose(1, 2, 0)


def save_cache_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as one ``.npz`` file of the cache folder, atomically (a killed write leaves a
    ``.NAME.*.tmp`` file, which :func:`cache_files` lists as a partial write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    atomic_write_bytes(path, buf.getvalue(), overwrite=True)


def _save_cache(path: Path, pairs: list[Pair], skipped: list[tuple[str, str]]) -> None:
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps([[p.scale, p.name] for p in pairs])),
        "skipped": np.array(json.dumps(skipped)),
    }
    for i, p in enumerate(pairs):
        arrays[f"b{i}"] = p.bicubic
        arrays[f"g{i}"] = p.gt
    save_cache_arrays(path, arrays)


def _load_cache(path: Path) -> tuple[list[Pair], list[tuple[str, str]]]:
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        skipped = [(str(a), str(b)) for a, b in json.loads(str(z["skipped"]))]
        return [Pair(z[f"b{i}"], z[f"g{i}"], float(s), n) for i, (s, n) in enumerate(meta)], skipped


# ----------------------------------------------------------------------------------- sub-images
def grid_positions(pairs: list[Pair], size: int = 33, stride: int = 14) -> np.ndarray:
    """``(N, 3)`` int64 rows (pair index, top, left) of the paper's sub-image grid."""
    rows = []
    for i, p in enumerate(pairs):
        h, w = p.gt.shape[1:]
        for r in range(0, h - size + 1, stride):
            for c in range(0, w - size + 1, stride):
                rows.append((i, r, c))
    if not rows:
        raise DataError(f"no training image is at least {size}x{size} pixels; use a smaller --size")
    return np.array(rows, dtype=np.int64)


def random_positions(pairs: list[Pair], n: int, size: int, g: torch.Generator) -> np.ndarray:
    """``n`` random (pair, top, left) rows, images drawn in proportion to their area."""
    hw = torch.tensor([p.gt.shape[1:] for p in pairs], dtype=torch.float64).reshape(-1, 2)
    room = (hw - size + 1).clamp_(min=0)
    areas = room[:, 0] * room[:, 1]
    if float(areas.sum()) == 0:
        raise DataError(f"no training image is at least {size}x{size} pixels; use a smaller --size")
    idx = torch.multinomial(areas, n, replacement=True, generator=g)
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    tl = (u * room[idx]).floor_().to(torch.int64)  # the same as int(u * room): u * room >= 0
    return torch.cat([idx[:, None], tl], dim=1).numpy()


def gather(pairs: list[Pair], pos: np.ndarray, size: int, label_crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(n, C, size, size)`` and labels ``(n, C, size - 2 c, size - 2 c)`` (c = label_crop)."""
    s, c = size, label_crop
    xs = np.stack([pairs[i].bicubic[:, r:r + s, q:q + s] for i, r, q in pos])
    ys = np.stack([pairs[i].gt[:, r + c:r + s - c, q + c:q + s - c] for i, r, q in pos])
    return torch.from_numpy(xs), torch.from_numpy(ys)


class PatchSource:
    """All pairs in two flat tensors on one device, so that a batch of sub-images is one indexed
    read there (no per-sample Python, no host-to-device copy on a GPU). ``take`` equals ``gather``."""

    def __init__(self, pairs: list[Pair], device: str | torch.device = "cpu") -> None:
        shapes = torch.tensor([p.gt.shape for p in pairs], dtype=torch.int64)
        sizes = shapes.prod(dim=1)
        self.offset = (torch.cumsum(sizes, 0) - sizes).to(device)
        self.width = shapes[:, 2].to(device)
        self.plane = (shapes[:, 1] * shapes[:, 2]).to(device)
        self.channels = int(shapes[0, 0])
        self.bicubic = torch.cat([torch.from_numpy(p.bicubic).reshape(-1) for p in pairs]).to(device)
        self.gt = torch.cat([torch.from_numpy(p.gt).reshape(-1) for p in pairs]).to(device)
        self.device = self.bicubic.device

    def _index(self, pos: torch.Tensor, size: int, shift: int) -> torch.Tensor:
        i, r, q = pos[:, 0], pos[:, 1] + shift, pos[:, 2] + shift
        ar = torch.arange(size, device=self.device)
        ch = torch.arange(self.channels, device=self.device)
        w = self.width[i][:, None, None, None]
        base = (self.offset[i] + r * self.width[i] + q)[:, None, None, None]
        return base + ch[None, :, None, None] * self.plane[i][:, None, None, None] + ar[:, None] * w + ar

    def take(self, pos: np.ndarray, size: int, label_crop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs ``(n, C, size, size)`` and labels ``(n, C, size - 2 c, size - 2 c)`` on the device."""
        p = torch.from_numpy(np.ascontiguousarray(pos)).to(self.device)
        x = self.bicubic[self._index(p, size, 0)]
        y = self.gt[self._index(p, size - 2 * label_crop, label_crop)]
        return x, y
