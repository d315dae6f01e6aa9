"""``srcnn demo``: a before/after picture from a photo that an installed package ships.

The photo (scikit-image's ``astronaut``, or another of its sample photos) is the ground truth: it
is shrunk by 3 with Matlab bicubic, enlarged back with bicubic and with SRCNN, and drawn side by
side (ground truth | bicubic | SRCNN) with a zoomed crop under each, with the Y-PSNR of each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from .color import round_uint8, y_uint8
from .errors import SRCNNError
from .images import Picture
from .infer import resolve_model, upscale_picture
from .metrics import modcrop, psnr, shave
from .resize import imresize
from .weights import Weights

SAMPLES = ("astronaut", "chelsea", "coffee", "rocket")


def sample_photo(name: str = "astronaut") -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` sample photo shipped inside scikit-image (no download)."""
    if name not in SAMPLES:
        raise SRCNNError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    try:
        from skimage import data
    except ImportError:
        raise SRCNNError("the demo photo comes from scikit-image: pip install scikit-image") from None
    return np.ascontiguousarray(getattr(data, name)()[:, :, :3])


@dataclass
class DemoResult:
    figure: Image.Image
    psnr_bicubic: float
    psnr_srcnn: float
    model_name: str
    size: tuple[int, int]


def _label(img: Image.Image, text: str) -> Image.Image:
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, 8 * len(text) + 10, 18), fill=(0, 0, 0))
    d.text((5, 3), text, fill=(255, 255, 255))
    return img


def run_demo(scale: float = 3.0, weights: str | Weights | None = None, sample: str = "astronaut",
             device: str = "cpu") -> DemoResult:
    from .evaluate import scale_modulo

    gt = modcrop(sample_photo(sample), scale_modulo(scale))  # the low-resolution size is then exact
    h, w = gt.shape[:2]
    model, mode = resolve_model(weights, scale, device=device)
    x = torch.from_numpy(gt.transpose(2, 0, 1).astype(np.float32) / 255.0)
    lr = imresize(x, scale=1.0 / scale).clamp(0, 1)
    lr_pic = Picture(np.ascontiguousarray(lr.permute(1, 2, 0).numpy()), "RGB")
    lr_pic.data = np.floor(lr_pic.data * 255 + 0.5) / 255  # a real LR image is 8-bit
    bic = imresize(torch.from_numpy(lr_pic.data.transpose(2, 0, 1).copy()), size=(h, w))
    bic8 = round_uint8(bic.clamp(0, 1).permute(1, 2, 0) * 255)
    sr8 = round_uint8(upscale_picture(lr_pic, scale, model, mode, device=device).data * 255)
    b = int(np.ceil(scale))
    p_bic = psnr(shave(y_uint8(gt), b), shave(y_uint8(bic8), b))
    p_sr = psnr(shave(y_uint8(gt), b), shave(y_uint8(sr8), b))
    # Zoom on the 1/4-size crop where SRCNN and bicubic differ most.
    diff = np.abs(sr8.astype(np.float32) - bic8.astype(np.float32)).mean(axis=2)
    cs = max(16, min(h, w) // 4)
    integ = diff.cumsum(0).cumsum(1)
    best, by, bx = -1.0, 0, 0
    for yy in range(0, h - cs, max(1, cs // 4)):
        for xx in range(0, w - cs, max(1, cs // 4)):
            v = integ[yy + cs - 1, xx + cs - 1] - (integ[yy - 1, xx + cs - 1] if yy else 0) \
                - (integ[yy + cs - 1, xx - 1] if xx else 0) + (integ[yy - 1, xx - 1] if yy and xx else 0)
            if v > best:
                best, by, bx = float(v), yy, xx
    panels = []
    for arr, text in ((gt, "ground truth"), (bic8, f"bicubic {p_bic:.2f} dB"),
                      (sr8, f"SRCNN {p_sr:.2f} dB")):
        full = Image.fromarray(arr)
        ImageDraw.Draw(full).rectangle((bx, by, bx + cs, by + cs), outline=(255, 0, 0), width=2)
        zoom = Image.fromarray(arr[by:by + cs, bx:bx + cs]).resize((w, w * cs // cs), Image.Resampling.NEAREST)
        col = Image.new("RGB", (w, h + zoom.height + 4), (255, 255, 255))
        col.paste(_label(full, text), (0, 0))
        col.paste(zoom, (0, h + 4))
        panels.append(col)
    fig = Image.new("RGB", (3 * w + 8, panels[0].height), (255, 255, 255))
    for i, pnl in enumerate(panels):
        fig.paste(pnl, (i * (w + 4), 0))
    if weights is None:
        from .pretrained import best_for_scale

        info = best_for_scale(scale)
        name = info.name if info is not None else "shipped default"
    elif isinstance(weights, Weights):
        name = weights.name or "the given weights"
    else:
        name = weights
    return DemoResult(fig, p_bic, p_sr, str(name), (w, h))
