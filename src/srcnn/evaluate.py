"""The papers' evaluation protocol (``demo_SR.m``) over named test sets.

For each ground-truth image: Y of ``rgb2ycbcr`` (uint8; grayscale used as is), modcrop by the
scale, ``/ 255`` as float, Matlab-bicubic down by 1/scale and up by scale (no rounding in
between), the model (with its own padding: replicate for the authors' models, as ``demo_SR.m``;
symmetric for ours), ``uint8(x * 255)``, ``scale`` pixels shaved on every side,
PSNR and SSIM against the ground truth; bicubic is the baseline.

Non-integer scales (e.g. 2.5 = 5/2): the image is modcropped to a multiple of the scale's
numerator (for 2.5, to a multiple of 5) so that the low-resolution size is an integer and the
round trip returns to the ground-truth size; the shaved border is ``ceil(scale)`` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .color import rgb_to_ycbcr, round_uint8, y_uint8, ycbcr_to_rgb
from .datasets import list_images, resolve_set
from .errors import ConfigError, DataError, ImageReadError
from .images import from_pil
from .infer import run_model
from .metrics import modcrop, psnr, shave, ssim
from .model import SRCNN
from .resize import imresize


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate: sets (names or folders), one scale, where the data is; ``self_ensemble``
    averages the model over the 8 flips and rotations (not the papers' protocol: 8 times the work)."""

    sets: tuple[str, ...] = ("Set5", "Set14")
    scale: float = 3.0
    data_root: str | None = None
    device: str = "cpu"
    tile: int | None = 512
    self_ensemble: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.sets, str):  # EvalConfig(sets="Set5") would loop over its letters
            raise ConfigError(f"sets is a tuple of set names or folders, e.g. ({self.sets!r},)")
        scale_modulo(self.scale)  # a bad scale fails here, not inside the evaluation


@dataclass
class ImageResult:
    name: str
    width: int
    height: int
    psnr_bicubic: float
    psnr_model: float
    ssim_bicubic: float
    ssim_model: float
    psnr_rgb_bicubic: float | None = None
    psnr_rgb_model: float | None = None


@dataclass
class SetResult:
    name: str
    folder: str
    images: list[ImageResult] = field(default_factory=list)

    def mean(self, attr: str) -> float:
        vals = [getattr(r, attr) for r in self.images if getattr(r, attr) is not None]
        return float(np.mean(vals)) if vals else math.nan

    def to_dict(self) -> dict[str, object]:
        keys = ["psnr_bicubic", "psnr_model", "ssim_bicubic", "ssim_model"]
        if any(r.psnr_rgb_model is not None for r in self.images):
            keys += ["psnr_rgb_bicubic", "psnr_rgb_model"]
        return {"name": self.name, "folder": self.folder,
                "mean": {k: self.mean(k) for k in keys},
                "images": [asdict(r) for r in self.images]}


def scale_modulo(scale: float) -> int:
    """The modcrop factor for a scale: the numerator of the scale as a small fraction."""
    try:
        scale = float(scale)  # numpy and 0-d torch scalars too
    except (TypeError, ValueError):
        raise ConfigError(f"scale must be a number, got {scale!r}") from None
    if not (math.isfinite(scale) and scale > 0):
        raise ConfigError(f"scale must be a positive finite number, got {scale}")
    frac = Fraction(scale).limit_denominator(16)
    if abs(float(frac) - scale) > 1e-9:
        raise ValueError(f"scale {scale} is not a simple fraction (numerator/denominator <= 16)")
    return frac.numerator


def shave_border(scale: float) -> int:
    return math.ceil(scale - 1e-9)


SSIM_WINDOW = 11


def min_eval_side(scale: float) -> int:
    """The smallest image side that can be evaluated at ``scale``: after modcrop and the border
    shave, the 11x11 SSIM window must fit."""
    mod = scale_modulo(scale)
    need = SSIM_WINDOW + 2 * shave_border(scale)
    return -(-need // mod) * mod


def check_eval_size(shape: tuple[int, ...], scale: float) -> None:
    """Raise :class:`DataError` when an image of ``shape`` (H, W) is too small to evaluate."""
    n = min_eval_side(scale)
    if min(shape[:2]) < n:
        raise DataError(f"image {shape[1]}x{shape[0]} is too small to evaluate at x{scale:g}: it needs at least "
                        f"{n}x{n} pixels (modcrop to {scale_modulo(scale)}, {shave_border(scale)}-pixel border "
                        f"shaved, {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window)")


def load_ground_truth(path: Path) -> np.ndarray:
    """uint8 ``(H, W)`` grayscale or ``(H, W, 3)`` RGB, as ``imread`` gives it (16-bit grayscale is
    brought to 8 bits by ``round(v / 257)``, as ``srcnn upscale`` reads it; Pillow's ``convert`` would
    saturate every value above 255)."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode.startswith("I;16") or img.mode == "I":
                a = np.clip(np.asarray(img, dtype=np.float64), 0, 65535)
                return np.floor(a / 257.0 + 0.5).astype(np.uint8)
            if img.mode in ("L", "1"):
                return np.asarray(img.convert("L"))
            if img.mode == "F":  # 32-bit float grayscale: 0..1 or 0..255 as srcnn upscale reads it, to 8 bits
                plane = from_pil(img).data[:, :, 0].astype(np.float64)
                return np.floor(plane * 255.0 + 0.5).astype(np.uint8)
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError, ImageReadError) as e:
        raise ImageReadError(f"{path}: cannot read ({e})") from None


def evaluate_image(gt: np.ndarray, scale: float, model: SRCNN, channels_mode: str = "y", *,
                   device: str = "cpu", tile: int | None = 512,
                   self_ensemble: bool = False) -> dict[str, float | None]:
    """Bicubic and model PSNR/SSIM of one ground-truth image (uint8 (H, W) or (H, W, 3));
    ``self_ensemble``: the model averaged over the 8 flips and rotations of its input."""
    mod = scale_modulo(scale)
    border = shave_border(scale)
    check_eval_size(gt.shape[:2], scale)
    gt = modcrop(gt, mod)
    y_gt = y_uint8(gt)
    res: dict[str, float | None] = {"psnr_rgb_bicubic": None, "psnr_rgb_model": None}
    if model.config.channels == 1:
        x = torch.from_numpy(y_gt.astype(np.float32) / 255.0).to(device)
        lr = imresize(x, scale=1.0 / scale)
        bic = imresize(lr, scale=scale, size=(y_gt.shape[0], y_gt.shape[1]))
        out = run_model(model, bic[None, None], tile=tile, self_ensemble=self_ensemble)[0, 0]
        y_bic, y_out = round_uint8(bic * 255.0), round_uint8(out * 255.0)
    else:
        rgb = gt if gt.ndim == 3 else np.repeat(gt[:, :, None], 3, axis=2)
        x = torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32) / 255.0).to(device)
        if channels_mode == "ycbcr":
            x = rgb_to_ycbcr(x)
        lr = imresize(x, scale=1.0 / scale)
        bic = imresize(lr, scale=scale, size=(y_gt.shape[0], y_gt.shape[1]))
        out = run_model(model, bic[None], tile=tile, self_ensemble=self_ensemble)[0]
        if channels_mode == "ycbcr":
            bic_rgb, out_rgb = ycbcr_to_rgb(bic), ycbcr_to_rgb(out)
        else:
            bic_rgb, out_rgb = bic, out
        b8 = round_uint8(bic_rgb.permute(1, 2, 0) * 255.0)
        o8 = round_uint8(out_rgb.permute(1, 2, 0) * 255.0)
        y_bic, y_out = y_uint8(b8), y_uint8(o8)
        res["psnr_rgb_bicubic"] = _psnr_rgb(shave(rgb, border), shave(b8, border))
        res["psnr_rgb_model"] = _psnr_rgb(shave(rgb, border), shave(o8, border))
    g, b, o = shave(y_gt, border), shave(y_bic, border), shave(y_out, border)
    res.update(psnr_bicubic=psnr(g, b), psnr_model=psnr(g, o), ssim_bicubic=ssim(g, b),
               ssim_model=ssim(g, o))
    return res


def _psnr_rgb(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(d * d))
    return math.inf if mse == 0 else 20.0 * math.log10(255.0 / math.sqrt(mse))


def evaluate(cfg: EvalConfig, model: SRCNN, channels_mode: str = "y", *,
             progress: Callable[[str, str], None] | None = None) -> list[SetResult]:
    """Evaluate ``model`` on every set of ``cfg``. ``progress(set, image)`` is called per image."""
    folders = [(s, resolve_set(s, cfg.data_root)) for s in cfg.sets]
    results: list[SetResult] = []
    model = model.to(cfg.device).eval()
    for set_name, folder in folders:
        files = list_images(folder)
        if not files:
            raise DataError(f"data set {set_name!r}: no images in {folder}")
        sr = SetResult(name=Path(set_name).name, folder=str(folder))
        for f in files:
            if progress:
                progress(sr.name, f.name)
            gt = load_ground_truth(f)
            try:
                r = evaluate_image(gt, cfg.scale, model, channels_mode, device=cfg.device, tile=cfg.tile,
                                   self_ensemble=cfg.self_ensemble)
            except DataError as e:
                raise DataError(f"{f}: {e}") from None
            h, w = gt.shape[:2]
            sr.images.append(ImageResult(name=f.stem, width=w, height=h, **r))  # type: ignore[arg-type]
        results.append(sr)
    return results


def count_images(sets: Sequence[str], data_root: str | None) -> int:
    return sum(len(list_images(resolve_set(s, data_root))) for s in sets)
