"""Upscaling with SRCNN: the real user path, from a low-resolution image to a larger one.

The given image *is* the low-resolution image (it is never shrunk first). For a Y-channel model:
RGB -> YCbCr (float, BT.601 studio range), all channels enlarged by Matlab bicubic to
``round(scale * size)``, the model run on Y, bicubic Cb/Cr kept, back to RGB, clipped; an alpha
channel is enlarged by bicubic; grayscale is used as Y directly. Models trained on three channels
(``rgb`` or ``ycbcr``) run on all of them.

The model is run in tiles whose results equal the untiled result: each tile carries the receptive
field radius of context from its neighbours, and replicate padding is applied only on the sides
that are real image borders, layer by layer, as the authors' code does on the whole image.
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .errors import ConfigError, WeightsError
from .images import Picture, from_pil, to_pil
from .model import SRCNN
from .resize import imresize
from .weights import Weights, load_weights

MAX_SCALE = 16.0
DEFAULT_TILE = 512


def check_scale(scale: float | str, *, minimum: float = 1.0) -> float:
    """Validate an upscaling factor (a number, or a string holding one): finite, > ``minimum``
    (1 by default) and <= 16. Raises :class:`ConfigError`."""
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise ConfigError(f"scale must be a number, got {scale!r}") from None
    if not math.isfinite(s):
        raise ConfigError(f"scale must be a finite number, got {scale!r}")
    if s <= minimum:
        raise ConfigError(f"scale must be greater than {minimum:g} (an upscaling factor), got {s:g}")
    if s > MAX_SCALE:
        raise ConfigError(f"scale {s:g} is above the maximum of {MAX_SCALE:g}")
    return s


def output_size_for(height: int, width: int, scale: float) -> tuple[int, int]:
    """Output (H, W) of :func:`upscale`: ``round(scale * size)``, at least 1."""
    return max(1, math.floor(height * scale + 0.5)), max(1, math.floor(width * scale + 0.5))


# ------------------------------------------------------------------------------- model running
def _forward_region(model: SRCNN, x: torch.Tensor, borders: tuple[bool, bool, bool, bool]) -> torch.Tensor:
    """Run ``model`` on a tile ``x`` (N, C, h, w). ``borders`` = (top, bottom, left, right): True
    where the tile side is a real image border (replicate-pad there), False where the tile carries
    context from its neighbour (no padding: that side shrinks by each layer's radius)."""
    top, bottom, left, right = borders
    replicate = model.config.padding == "replicate"
    convs = (model.conv1, model.conv2, model.conv3)
    for i, conv in enumerate(convs):
        r = conv.kernel_size[0] // 2
        if r:
            pads = (r if left else 0, r if right else 0, r if top else 0, r if bottom else 0)
            if any(pads):
                x = F.pad(x, pads, mode="replicate" if replicate else "constant")
        x = conv(x)
        if i < 2:
            x = F.relu(x)
    return x


@torch.inference_mode()
def run_model(model: SRCNN, x: torch.Tensor, *, tile: int | None = DEFAULT_TILE) -> torch.Tensor:
    """Apply a same-padded SRCNN to ``x`` (N, C, H, W) in tiles of at most ``tile`` x ``tile``
    output pixels (``None`` or 0: whole image). Equal to ``model(x)`` up to float rounding."""
    if model.config.padding == "valid":
        raise ConfigError("run_model needs a same-size model (padding 'replicate' or 'zeros')")
    n, _c, h, w = x.shape
    if not tile or (h <= tile and w <= tile):
        return _forward_region(model, x, (True, True, True, True))
    rad = model.config.radius
    out = torch.empty((n, model.config.channels, h, w), dtype=x.dtype, device=x.device)
    for y0 in range(0, h, tile):
        y1 = min(h, y0 + tile)
        for x0 in range(0, w, tile):
            x1 = min(w, x0 + tile)
            # Context: up to `rad` pixels beyond the tile on sides that are not image borders.
            cy0, cy1 = max(0, y0 - rad), min(h, y1 + rad)
            cx0, cx1 = max(0, x0 - rad), min(w, x1 + rad)
            borders = (cy0 == 0, cy1 == h, cx0 == 0, cx1 == w)
            res = _forward_region(model, x[:, :, cy0:cy1, cx0:cx1], borders)
            # Interior sides shrank by exactly rad; a side with less context than rad is a border.
            oy, ox = y0 - cy0 - (0 if borders[0] else rad), x0 - cx0 - (0 if borders[2] else rad)
            out[:, :, y0:y1, x0:x1] = res[:, :, oy:oy + (y1 - y0), ox:ox + (x1 - x0)]
    return out


# ------------------------------------------------------------------------------- weights helper
def resolve_model(weights: Weights | SRCNN | str | None, scale: float, *,
                  device: str | torch.device = "cpu", strict_scale: bool = True) -> tuple[SRCNN, str]:
    """An eval-mode same-size model and its channels mode from any accepted weights spec.

    ``None`` picks the best shipped model for ``scale``. With ``strict_scale``, weights trained for
    other scales are refused.
    """
    if isinstance(weights, SRCNN):
        model = weights
        if model.config.padding == "valid":
            model = _copy_with_padding(model)
        mode = "y" if model.config.channels == 1 else "rgb"
        return model.to(device).eval(), mode
    if weights is None:
        from .pretrained import best_for_scale, load_shipped

        info = best_for_scale(scale)
        if info is None:
            raise WeightsError(f"no shipped model serves scale {scale:g}; pass weights "
                               "(a .safetensors file, an authors' .mat file or a model name)")
        w = load_shipped(info.name)
    elif isinstance(weights, Weights):
        w = weights
    else:
        w = load_weights(weights)
    if strict_scale and not w.supports_scale(scale):
        trained = ", ".join(f"x{s:g}" for s in w.scales)
        raise WeightsError(f"weights {w.name or ''} were trained for {trained}, not x{scale:g}; "
                           "choose weights for this scale, or pass --allow-scale-mismatch "
                           "(strict_scale=False) to use them anyway")
    _check_channels(w.config.channels, w.channels_mode, w.name)
    padding = "replicate" if w.config.padding == "valid" else w.config.padding
    return w.build(padding=padding, device=device), w.channels_mode


def _check_channels(channels: int, mode: str, name: str) -> None:
    """Refuse weights whose input planes are not ones :func:`upscale_picture` can feed."""
    ok = (channels == 1 and mode == "y") or (channels == 3 and mode in ("rgb", "ycbcr"))
    if not ok:
        raise WeightsError(f"weights {name or ''} take {channels} channel(s) of kind {mode!r}; "
                           "supported: 1 channel 'y', or 3 channels 'rgb' or 'ycbcr'")


def _copy_with_padding(model: SRCNN) -> SRCNN:
    m = SRCNN(model.config.with_padding("replicate"))
    m.load_state_dict(model.state_dict())
    return m


# ----------------------------------------------------------------------------------- the path
def upscale_picture(pic: Picture, scale: float, model: SRCNN, channels_mode: str = "y", *,
                    tile: int | None = DEFAULT_TILE, device: str | torch.device = "cpu") -> Picture:
    """Upscale a :class:`Picture` (the low-resolution image) by ``scale``. Returns a new Picture
    with the same mode and bit depth, values clipped to [0, 1]."""
    h, w = pic.data.shape[:2]
    oh, ow = output_size_for(h, w, scale)
    planes = torch.from_numpy(np.ascontiguousarray(pic.color_planes.transpose(2, 0, 1)))
    planes = planes.to(device=device, dtype=torch.float32)  # (C, H, W)
    is_rgb = planes.shape[0] == 3
    mc = model.config.channels
    if mc == 1:
        src = rgb_to_ycbcr(planes) if is_rgb else planes
        big = imresize(src, scale=scale, size=(oh, ow))  # (C, oh, ow)
        y = run_model(model, big[None, :1], tile=tile)[0]
        big = torch.cat([y, big[1:]], dim=0)
        out = ycbcr_to_rgb(big) if is_rgb else big
    elif mc == 3:
        src = planes if is_rgb else planes.expand(3, -1, -1)
        if channels_mode == "ycbcr":
            src = rgb_to_ycbcr(src)
        big = imresize(src, scale=scale, size=(oh, ow))
        res = run_model(model, big[None], tile=tile)[0]
        out = ycbcr_to_rgb(res) if channels_mode == "ycbcr" else res
        if not is_rgb:  # grayscale through a colour model: take the luma back
            out = rgb_to_ycbcr(out.clamp(0, 1))[:1]
    else:
        raise ConfigError(f"models with {mc} channels are not supported")
    out = out.clamp(0.0, 1.0)
    if pic.has_alpha:
        a = torch.from_numpy(np.ascontiguousarray(pic.alpha.transpose(2, 0, 1))).to(out)  # type: ignore[union-attr]
        out = torch.cat([out, imresize(a, scale=scale, size=(oh, ow)).clamp(0.0, 1.0)], dim=0)
    data = out.permute(1, 2, 0).cpu().numpy().astype(np.float32)
    return Picture(data, pic.mode, pic.bit_depth, list(pic.notes))


ImageLike = Image.Image | np.ndarray | torch.Tensor


_W = Weights | SRCNN | str | None


@overload
def upscale(image: Image.Image, scale: float, weights: _W = ..., *, device: str | torch.device = ...,
            tile: int | None = ..., strict_scale: bool = ...) -> Image.Image: ...
@overload
def upscale(image: np.ndarray, scale: float, weights: _W = ..., *, device: str | torch.device = ...,
            tile: int | None = ..., strict_scale: bool = ...) -> np.ndarray: ...
@overload
def upscale(image: torch.Tensor, scale: float, weights: _W = ..., *, device: str | torch.device = ...,
            tile: int | None = ..., strict_scale: bool = ...) -> torch.Tensor: ...
def upscale(image: ImageLike, scale: float, weights: Weights | SRCNN | str | None = None, *,
            device: str | torch.device = "cpu", tile: int | None = DEFAULT_TILE,
            strict_scale: bool = True) -> ImageLike:
    """Upscale an image by ``scale`` with SRCNN; returns the same kind of object.

    * PIL image: any mode; returns L, LA, RGB or RGBA (palette images come back as RGB/RGBA).
    * numpy array: ``(H, W)`` or ``(H, W, C)`` with C in {1, 2, 3, 4} (gray, gray+alpha, RGB, RGBA);
      uint8 -> uint8, uint16 -> uint16, float (in [0, 1]) -> float32.
    * torch tensor: ``(C, H, W)`` or ``(N, C, H, W)`` float in [0, 1] -> same layout, float.

    ``weights``: a shipped model name, a ``.safetensors`` / ``.mat`` path, a :class:`Weights`, an
    :class:`SRCNN`, or ``None`` for the best shipped model for ``scale``.
    """
    s = check_scale(scale)
    model, mode = resolve_model(weights, s, device=device, strict_scale=strict_scale)
    if isinstance(image, Image.Image):
        pic = from_pil(image)
        return to_pil(upscale_picture(pic, s, model, mode, tile=tile, device=device))
    if isinstance(image, np.ndarray):
        return _upscale_numpy(image, s, model, mode, tile, device)
    if isinstance(image, torch.Tensor):
        if image.ndim == 4:
            return torch.stack([upscale(t, s, model, device=device, tile=tile) for t in image])
        if image.ndim != 3 or image.shape[0] not in (1, 2, 3, 4):
            raise ConfigError(f"expected a (C, H, W) or (N, C, H, W) tensor with C in 1..4, "
                              f"got shape {tuple(image.shape)}")
        arr = image.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
        res = _upscale_numpy(arr, s, model, mode, tile, device)
        return torch.from_numpy(res).permute(2, 0, 1).to(image.device, image.dtype)
    raise ConfigError(f"cannot upscale an object of type {type(image).__name__}; "
                      "pass a PIL image, a numpy array or a torch tensor")


_MODES_BY_C = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _upscale_numpy(a: np.ndarray, s: float, model: SRCNN, mode: str, tile: int | None,
                   device: str | torch.device) -> np.ndarray:
    squeeze = a.ndim == 2
    arr = a[:, :, None] if squeeze else a
    if arr.ndim != 3 or arr.shape[2] not in _MODES_BY_C:
        raise ConfigError(f"expected (H, W) or (H, W, C) with C in 1..4, got shape {a.shape}")
    if arr.dtype == np.uint8:
        data, depth = arr.astype(np.float32) / 255.0, 8
    elif arr.dtype == np.uint16:
        data, depth = arr.astype(np.float32) / 65535.0, 16
    elif np.issubdtype(arr.dtype, np.floating):
        data, depth = np.clip(arr.astype(np.float32), 0.0, 1.0), 0
    else:
        raise ConfigError(f"unsupported array dtype {arr.dtype}; use uint8, uint16 or float")
    pic = Picture(data, _MODES_BY_C[arr.shape[2]], 16 if depth == 16 else 8)
    out = upscale_picture(pic, s, model, mode, tile=tile, device=device).data
    if depth == 8:
        res: np.ndarray = np.floor(out.astype(np.float64) * 255.0 + 0.5).astype(np.uint8)
    elif depth == 16:
        res = np.floor(out.astype(np.float64) * 65535.0 + 0.5).astype(np.uint16)
    else:
        res = out
    return res[:, :, 0] if squeeze else res
