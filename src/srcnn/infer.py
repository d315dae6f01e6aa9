"""Upscaling with SRCNN: the real user path, from a low-resolution image to a larger one.

The given image *is* the low-resolution image (it is never shrunk first). For a Y-channel model:
RGB -> YCbCr (float, BT.601 studio range), all channels enlarged by Matlab bicubic to
``round(scale * size)``, the model run on Y, bicubic Cb/Cr kept, back to RGB, clipped; an alpha
channel is enlarged by bicubic, and the (never shown) colour of fully transparent pixels is first replaced
by the visible colour next to them, so that it does not bleed into the edges; grayscale is used as Y
directly. Models trained on three channels (``rgb`` or ``ycbcr``) run on all of them.

The model is run by :mod:`srcnn.engine` in tiles whose results equal the untiled result: each tile
carries the receptive field radius of context from its neighbours, and the model's padding is
applied only on the sides that are real image borders: layer by layer for ``replicate``, as the
authors' code does on the whole image, or by mirroring the input for ``symmetric`` (our models).

Memory is bounded: the output is produced in horizontal stripes. For each stripe only the input
rows its bicubic taps and the network's receptive field need are colour-converted and resized
(:func:`srcnn.resize.imresize_rows`), the network runs on the stripe tile by tile, and the result
is converted back and written into the preallocated output (float32, or straight into an 8/16-bit
PIL image with ``as_pil``). Working memory is then a few stripes, whatever the image size: a
64-megapixel output is made in well under 1.5 GB (see ``benchmarks/upscale_e2e.py``).
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Callable
from typing import Literal, overload

import numpy as np
import torch
from PIL import Image

from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .engine import Engine, tile_for_memory
from .errors import ConfigError, WeightsError
from .images import Picture, from_pil, quantize
from .model import SAME_PADDINGS, SRCNN, inference_padding
from .resize import imresize_rows, source_rows
from .weights import Weights, load_weights

MAX_SCALE = 16.0
#: BT.601 luma weights of full-range R, G, B (a grey image that went through a colour model comes back so).
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
DEFAULT_TILE = 512
#: Rows per stripe for colour conversion of the (small) input image.
COLOR_STRIPE_ROWS = 256


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


def check_device(device: str | torch.device) -> str:
    """Validate a torch device (``cpu``, ``cuda``, ``cuda:N``, ``mps``) and return it as a string;
    ``auto`` picks the first of CUDA, MPS and the CPU that this PyTorch can use. Raises
    :class:`ConfigError` saying what to use instead (a CPU-only PyTorch asked for ``cuda``, a GPU
    index that does not exist, an unknown name)."""
    spec = str(device).strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps_ok else "cpu"
    try:
        d = torch.device(spec)
    except (RuntimeError, ValueError):
        raise ConfigError(f"unknown device {str(device)!r}; use cpu, cuda, cuda:N, mps or auto") from None
    if d.type == "cuda":
        if not torch.cuda.is_available():
            why = "this PyTorch is a CPU-only build" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ConfigError(f"device {spec!r}: {why}; use cpu (or auto, which takes a GPU when there is one)")
        n = torch.cuda.device_count()
        if d.index is not None and d.index >= n:
            raise ConfigError(f"device {spec!r}: this machine has {n} CUDA device(s), cuda:0 to cuda:{n - 1}")
    elif d.type == "mps":
        if not mps_ok:
            raise ConfigError(f"device {spec!r}: Apple's MPS is not available here; use cpu or auto")
    elif d.type != "cpu":
        raise ConfigError(f"device {spec!r}: srcnn runs on cpu, cuda or mps (or auto)")
    return spec


def scale_for_size(width: int, height: int, *, target_width: int | None = None,
                   target_height: int | None = None) -> float:
    """The factor that makes a ``width`` x ``height`` image ``target_width`` wide (or
    ``target_height`` high; exactly one is given): :func:`output_size_for` then gives exactly that
    side, and the other in proportion. Raises :class:`ConfigError` when it is not an upscale."""
    if (target_width is None) == (target_height is None):
        raise ConfigError("give exactly one of target_width and target_height")
    side, target, what = (width, target_width, "width") if target_width is not None else (height, target_height,
                                                                                            "height")
    assert target is not None
    if target <= side:
        raise ConfigError(f"the target {what} {target} is not larger than the image's {what} {side}: "
                          "srcnn only enlarges")
    s = target / side
    if s > MAX_SCALE:
        raise ConfigError(f"the target {what} {target} is {s:.3g} times the image's {what} {side}, above the "
                          f"maximum factor of {MAX_SCALE:g}")
    return s


def output_size_for(height: int, width: int, scale: float) -> tuple[int, int]:
    """Output (H, W) of :func:`upscale`: ``round(scale * size)``, at least 1."""
    return max(1, math.floor(height * scale + 0.5)), max(1, math.floor(width * scale + 0.5))


# ------------------------------------------------------------------------------- model running
@torch.inference_mode()
def run_model(model: SRCNN, x: torch.Tensor, *, tile: int | None = DEFAULT_TILE,
              self_ensemble: bool = False) -> torch.Tensor:
    """Apply a same-padded SRCNN to ``x`` (N, C, H, W) in tiles of at most ``tile`` x ``tile``
    output pixels (``None`` or 0: whole image), with :class:`srcnn.engine.Engine`. Equal to
    ``model(x)`` up to float rounding (max abs difference ~1e-6 in fp32).

    ``self_ensemble``: the mean of the model's outputs over the 8 flips and rotations of ``x``,
    each mapped back (:meth:`srcnn.engine.Engine.run_rows`); 8 times the work."""
    if model.config.padding == "valid":
        raise ConfigError("run_model needs a same-size model (padding 'replicate', 'zeros' or 'symmetric')")
    _n, _c, h, w = x.shape
    return Engine(model)(x, tile=(tile, tile) if tile else (max(1, h), max(1, w)), self_ensemble=self_ensemble)


def tile_for(model: SRCNN, tile: int | None, max_memory: int | None) -> int | None:
    """The tile side to use: ``tile`` when given (0 or ``None`` with no ``max_memory``: whole
    image), else the largest tile whose engine buffers fit ``max_memory`` bytes (half of it: the
    other half is left for the stripe's resize and colour buffers)."""
    if tile:
        return int(tile)
    if max_memory:
        return tile_for_memory(model, int(max_memory) // 2)
    return None


def convert_in_stripes(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                       rows: int = COLOR_STRIPE_ROWS) -> torch.Tensor:
    """``fn(x)`` for a per-pixel map ``fn`` on ``(C, H, W)``, computed ``rows`` rows at a time into a
    float32 result, so that ``fn``'s float64 temporaries stay small."""
    first = fn(x[:, :min(rows, x.shape[1])])
    out = torch.empty((first.shape[0], *x.shape[1:]), dtype=first.dtype, device=x.device)
    out[:, :first.shape[1]] = first
    for a in range(first.shape[1], x.shape[1], rows):
        out[:, a:a + rows] = fn(x[:, a:a + rows])
    return out


# ------------------------------------------------------------------------------- weights helper
def resolve_model(weights: Weights | SRCNN | str | None, scale: float, *,
                  device: str | torch.device = "cpu", strict_scale: bool = True,
                  padding: str | None = None) -> tuple[SRCNN, str]:
    """An eval-mode same-size model and its channels mode from any accepted weights spec.

    ``None`` picks the best shipped model for ``scale``. With ``strict_scale``, weights trained for
    other scales are refused. ``padding`` (``replicate``, ``zeros``, ``symmetric``) overrides the
    weights' own; a ``valid`` model runs ``symmetric`` (:func:`srcnn.model.inference_padding`).
    """
    if padding is not None and padding not in SAME_PADDINGS:
        raise ConfigError(f"padding must be one of {', '.join(SAME_PADDINGS)}, got {padding!r}")
    if isinstance(weights, SRCNN):
        model = weights
        want = padding or inference_padding(model.config.padding)
        if model.config.padding != want:
            model = _copy_with_padding(model, want)
        elif model.training or model.conv1.weight.device != torch.device(device):
            # the caller's own module is never switched to eval mode or moved: a copy is (it is small)
            model = _copy_with_padding(model, model.config.padding)
        mode = "y" if model.config.channels == 1 else "rgb"
        return model.to(device).eval(), mode
    if weights is None:
        from .pretrained import best_for_scale, load_shipped, no_model_message

        info = best_for_scale(scale)
        if info is None:
            raise WeightsError(no_model_message(scale))
        w = load_shipped(info.name)
    elif isinstance(weights, Weights):
        w = weights
    else:
        w = load_weights(weights)
    if w.scale_poly is not None and not w.supports_scale(scale):  # no strict_scale=False past a range's ends:
        w.plain_state(scale)  # raises "serve x1.5 to x4 (scale-conditioned), not x5" (it would be extrapolated)
    if strict_scale and not w.supports_scale(scale):
        trained = ", ".join(f"x{s:g}" for s in w.scales)
        raise WeightsError(f"weights {w.name or ''} were trained for {trained}, not x{scale:g}; "
                           "choose weights for this scale, or pass --allow-scale-mismatch "
                           "(strict_scale=False) to use them anyway")
    _check_channels(w.config.channels, w.channels_mode, w.name)
    model = w.build(padding=padding or inference_padding(w.config.padding), device=device, scale=scale)
    return model, w.channels_mode


def _check_channels(channels: int, mode: str, name: str) -> None:
    """Refuse weights whose input planes are not ones :func:`upscale_picture` can feed."""
    ok = (channels == 1 and mode == "y") or (channels == 3 and mode in ("rgb", "ycbcr"))
    if not ok:
        raise WeightsError(f"weights {name or ''} take {channels} channel(s) of kind {mode!r}; "
                           "supported: 1 channel 'y', or 3 channels 'rgb' or 'ycbcr'")


def _copy_with_padding(model: SRCNN, padding: str) -> SRCNN:
    m = SRCNN(model.config.with_padding(padding))  # type: ignore[arg-type]
    m.load_state_dict(model.state_dict())
    p = model.conv1.weight
    return m.to(device=p.device, dtype=p.dtype)  # the same network in another padding: same device and dtype


# ----------------------------------------------------------------------------------- the path
#: Bytes of stripe buffers per output pixel (resized planes, the float64 colour conversion of the
#: stripe, the network's input and output): about 160 for an RGB picture, measured with
#: tracemalloc-like accounting of the tensors alive at the peak.
STRIPE_BYTES_PER_PIXEL = 160
#: Stripe budget when no ``max_memory`` is given.
DEFAULT_STRIPE_BUDGET = 256 << 20


def stripe_rows_for(tile: int | None, height: int, width: int, max_memory: int | None = None) -> int:
    """Output rows per stripe: the tile height (the whole image when untiled), fewer when a stripe
    that tall and ``width`` wide would need more than half of ``max_memory`` (default budget
    :data:`DEFAULT_STRIPE_BUDGET`)."""
    if not tile and not max_memory:
        return max(1, height)
    budget = int(max_memory) // 2 if max_memory else DEFAULT_STRIPE_BUDGET
    rows = max(1, budget // (STRIPE_BYTES_PER_PIXEL * max(1, width)))
    return max(1, min(height, rows, tile or height))


def physical_memory() -> int | None:
    """This machine's physical memory in bytes, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_output_fits(height: int, width: int, channels: int, bytes_per_value: int) -> None:
    """Raise :class:`MemoryError` with a clear message when an output image of that size alone would need
    more than this machine's physical memory: refused before any work, rather than swapping or being
    killed by the system halfway through."""
    need = height * width * channels * bytes_per_value
    total = physical_memory()
    if total is not None and need > total:
        unit = "byte" if bytes_per_value == 1 else "bytes"
        raise MemoryError(f"an output of {width}x{height} with {channels} channels needs {need / 2**30:.1f} GiB "
                          f"({bytes_per_value} {unit} a value) while it is made, more than this machine's "
                          f"{total / 2**30:.1f} GiB of memory; ask for a smaller scale or size")


@overload
def upscale_picture(pic: Picture, scale: float, model: SRCNN, channels_mode: str = ..., *,
                    tile: int | None = ..., device: str | torch.device = ...,
                    max_memory: int | None = ..., as_pil: Literal[False] = ...,
                    bit_depth: int | None = ..., self_ensemble: bool = ..., stretch: bool = ...,
                    progress: Callable[[int, int], None] | None = ...) -> Picture: ...
@overload
def upscale_picture(pic: Picture, scale: float, model: SRCNN, channels_mode: str = ..., *,
                    tile: int | None = ..., device: str | torch.device = ...,
                    max_memory: int | None = ..., as_pil: Literal[True],
                    bit_depth: int | None = ..., self_ensemble: bool = ..., stretch: bool = ...,
                    progress: Callable[[int, int], None] | None = ...) -> Image.Image: ...
@torch.inference_mode()
def upscale_picture(pic: Picture, scale: float, model: SRCNN, channels_mode: str = "y", *,
                    tile: int | None = DEFAULT_TILE, device: str | torch.device = "cpu",
                    max_memory: int | None = None, as_pil: bool = False,
                    bit_depth: int | None = None, self_ensemble: bool = False, stretch: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> Picture | Image.Image:
    """Upscale a :class:`Picture` (the low-resolution image) by ``scale``. Returns a new Picture
    with the same mode and bit depth, values clipped to [0, 1].

    The work is done in stripes of output rows (see the module notes): ``tile`` output pixels
    per side for the network (``None``: whole image), or, when ``tile`` is ``None``/0 and
    ``max_memory`` (bytes) is given, the tile that fits that working-memory budget.

    ``as_pil=True`` returns instead the PIL image that ``images.to_pil(result, bit_depth=...)``
    would give (same rounding), filled stripe by stripe without a float32 copy of the output:
    what ``srcnn upscale`` uses to keep huge outputs in bounded memory.

    ``self_ensemble=True`` runs the network on the 8 flips and rotations of each stripe and
    averages the results mapped back (:meth:`srcnn.engine.Engine.run_rows`): 8 times the network's work, +0.02 to
    +0.21 dB on the test sets for the shipped models (README, "Self-ensemble").

    ``stretch=True`` maps the image's darkest..brightest value (its colour channels, over the pixels
    that are not fully transparent) to 0..1 before the model and back after it: for images that fill a
    small part of their range (very dark, or 10/12-bit data in 16 bits), which the shipped models, trained
    on 8-bit photos, otherwise make worse than bicubic. Off by default: the papers' protocol takes images
    as they are.

    ``progress(done, total)`` is called after each stripe with the output rows done so far.
    """
    h, w = pic.data.shape[:2]
    oh, ow = output_size_for(h, w, scale)
    depth = pic.bit_depth if bit_depth is None else bit_depth
    sixteen = depth == 16 and pic.mode == "L"
    n_out = pic.data.shape[2]
    check_output_fits(oh, ow, n_out, (2 if sixteen else 1) if as_pil else 4)  # before any work
    mc = model.config.channels
    if mc not in (1, 3):
        raise ConfigError(f"models with {mc} channels are not supported")
    planes = torch.from_numpy(np.ascontiguousarray(pic.color_planes.transpose(2, 0, 1)))
    planes = planes.to(device=device, dtype=torch.float32)  # (C, H, W)
    alpha = None
    if pic.has_alpha:
        alpha = torch.from_numpy(np.ascontiguousarray(pic.alpha.transpose(2, 0, 1)))  # type: ignore[union-attr]
        alpha = alpha.to(device=device, dtype=torch.float32)
    darkest, span = 0.0, 1.0  # stretch: the (visible) values' own range, mapped to 0..1 for the network
    if stretch:
        shown = planes if alpha is None else planes[:, alpha[0] > 0]  # what transparent pixels hide does not count
        if shown.numel():
            darkest, brightest = float(shown.min()), float(shown.max())
            if brightest > darkest:
                span = brightest - darkest
                planes = (planes - darkest) / span
    if alpha is not None:  # the hidden colour of fully transparent pixels must not bleed into the edges
        # carried beyond the network's reach (its radius in output pixels, over the scale) and bicubic's taps
        planes = _bleed_hidden_colour(planes, alpha, math.ceil(model.config.radius / scale) + 3)
    is_rgb = planes.shape[0] == 3
    # What is resized: the input, colour-converted stripe by stripe (its float64 maths stays small).
    if mc == 1:
        src = convert_in_stripes(rgb_to_ycbcr, planes) if is_rgb else planes
    else:
        src = planes if is_rgb else planes.expand(3, -1, -1)
        if channels_mode == "ycbcr":
            src = convert_in_stripes(rgb_to_ycbcr, src)
    del planes  # only ``src`` is needed from here on (the same tensor when no conversion)
    engine = Engine(model)
    t = tile_for(model, tile, max_memory)
    step = stripe_rows_for(t, oh, ow, max_memory)
    tiles = (step, t) if t else None  # network tiles: a stripe's height, t wide (None: whole stripe)
    rad = model.config.radius
    size = (oh, ow)

    canvas: Image.Image | None = None
    data: np.ndarray | None = None
    if as_pil:
        canvas = Image.new("I;16" if sixteen else pic.mode, (ow, oh))
    else:
        data = np.empty((oh, ow, n_out), dtype=np.float32)
    for a in range(0, oh, step):
        b = min(oh, a + step)
        ca, cb = max(0, a - rad), min(oh, b + rad)  # the network's context rows
        lo, hi = source_rows(h, w, (ca, cb), scale, size)
        big = imresize_rows(src[:, lo:hi], (ca, cb), scale, size, row0=lo, height=h)  # (C, cb-ca, ow)
        if mc == 1:
            y = engine.run_rows(big[None, :1], (a, b), row0=ca, height=oh, tile=tiles,
                                self_ensemble=self_ensemble)[0]
            stripe = torch.cat([y, big[1:, a - ca:b - ca]], dim=0)
            out = ycbcr_to_rgb(stripe) if is_rgb else stripe
        else:
            res = engine.run_rows(big[None], (a, b), row0=ca, height=oh, tile=tiles, self_ensemble=self_ensemble)[0]
            out = ycbcr_to_rgb(res) if channels_mode == "ycbcr" else res
            if not is_rgb:  # grayscale through a colour model: back to one full-range grey plane (BT.601 weights;
                # the studio-range Y of rgb_to_ycbcr would squeeze black to 16 and white to 235)
                out = (_LUMA.to(out) * out.clamp(0, 1)).sum(dim=0, keepdim=True)
        al = None
        if alpha is not None:
            alo, ahi = source_rows(h, w, (a, b), scale, size)
            al = imresize_rows(alpha[:, alo:ahi], (a, b), scale, size, row0=alo, height=h).clamp(0.0, 1.0)
        if span != 1.0:  # back to the image's own range (a flat image is left as it was)
            out = out.clamp(0.0, 1.0) * span + darkest
        out = out.clamp(0.0, 1.0)
        if al is not None:
            out = torch.cat([out, al], dim=0)
        part = out.permute(1, 2, 0).cpu().numpy().astype(np.float32)  # (b - a, ow, n_out)
        if canvas is not None:
            canvas.paste(_quantize(part, sixteen), (0, a))
        else:
            assert data is not None
            data[a:b] = part
        if progress is not None:
            progress(b, oh)
    if canvas is not None:
        if pic.icc_profile:
            canvas.info["icc_profile"] = pic.icc_profile
        return canvas
    assert data is not None
    return Picture(data, pic.mode, pic.bit_depth, list(pic.notes), icc_profile=pic.icc_profile, exif=pic.exif)


def _bleed_hidden_colour(planes: torch.Tensor, alpha: torch.Tensor, radius: int) -> torch.Tensor:
    """``planes`` (C, H, W) with the colour of fully transparent pixels (``alpha`` 0) replaced, up to ``radius``
    pixels from a visible one, by the mean colour of their filled neighbours, grown ring by ring. A transparent
    pixel's colour is arbitrary (often black) and never shown, but bicubic and the network mix it into the
    visible edge: a white logo on transparent black came out with a dark ring. Pixels with any alpha keep
    their colour; an image with no fully transparent pixel is returned as it was."""
    have = (alpha > 0).to(planes.dtype)  # (1, H, W)
    if bool(have.all()) or not bool(have.any()):
        return planes
    filled = planes * have
    for _ in range(radius):
        total = torch.nn.functional.avg_pool2d(filled[None], 3, stride=1, padding=1, count_include_pad=False)[0]
        count = torch.nn.functional.avg_pool2d(have[None], 3, stride=1, padding=1, count_include_pad=False)[0]
        new = (count > 0) & (have == 0)
        if not bool(new.any()):
            break
        filled = torch.where(new, total / count.clamp_min(1e-12), filled)
        have = torch.where(new, torch.ones_like(have), have)
    return torch.where(have > 0, filled, planes)


def _quantize(part: np.ndarray, sixteen: bool) -> Image.Image:
    """A stripe (rows, W, C) float32 in [0, 1] as a PIL image, rounded as ``images.to_pil`` does."""
    if sixteen:
        return Image.fromarray(quantize(part[:, :, 0], np.uint16))
    a = quantize(part, np.uint8)
    return Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a)


ImageLike = Image.Image | np.ndarray | torch.Tensor


_W = Weights | SRCNN | str | None


@overload
def upscale(image: Image.Image, scale: float, weights: _W = ..., *, device: str | torch.device = ...,
            tile: int | None = ..., strict_scale: bool = ..., self_ensemble: bool = ...,
            stretch: bool = ...) -> Image.Image: ...
@overload
def upscale(image: np.ndarray, scale: float, weights: _W = ..., *, device: str | torch.device = ...,
            tile: int | None = ..., strict_scale: bool = ..., self_ensemble: bool = ...,
            stretch: bool = ...) -> np.ndarray: ...
@overload
def upscale(image: torch.Tensor, scale: float, weights: _W = ..., *, device: str | torch.device = ...,
            tile: int | None = ..., strict_scale: bool = ..., self_ensemble: bool = ...,
            stretch: bool = ...) -> torch.Tensor: ...
def upscale(image: ImageLike, scale: float, weights: Weights | SRCNN | str | None = None, *,
            device: str | torch.device = "cpu", tile: int | None = DEFAULT_TILE,
            strict_scale: bool = True, self_ensemble: bool = False, stretch: bool = False) -> ImageLike:
    """Upscale an image by ``scale`` with SRCNN; returns the same kind of object.

    * PIL image: any mode; returns L, LA, RGB or RGBA (palette images come back as RGB/RGBA), or
      ``I;16`` for 16-bit grayscale (``I;16`` / ``I`` input).
    * numpy array: ``(H, W)`` or ``(H, W, C)`` with C in {1, 2, 3, 4} (gray, gray+alpha, RGB, RGBA);
      uint8 -> uint8, uint16 -> uint16, float (in [0, 1]; values outside are clipped) -> float32.
    * torch tensor: ``(C, H, W)`` or ``(N, C, H, W)``, float in [0, 1], uint8 or uint16 -> same layout and dtype.

    NaN or infinite values and empty images raise :class:`ConfigError` (a PIL float image holding NaN
    raises :class:`ImageReadError`, as reading such a file does); so do a ``tile`` that is not a
    whole number >= 0, an empty batch, a sparse tensor and a PIL image whose file was closed unread.

    ``scale``: > 1 and <= 16 (a number or a string holding one); the output is ``round(scale x size)`` on
    each side, halves rounded up (7 rows of 9 pixels at x2.5 give 18 rows of 23). The output is returned
    whole (an array or tensor is made in float32 first, a PIL image straight in 8/16 bits): one that alone
    needs more than the machine's physical memory raises :class:`MemoryError` before any work.

    ``weights``: a shipped model name, a ``.safetensors`` / ``.mat`` path, a :class:`Weights`, an
    :class:`SRCNN` (one with 3 channels is run on RGB; give :class:`Weights` with ``channels_mode="ycbcr"``
    for a model trained on YCbCr), or ``None`` for the best shipped model for ``scale`` (they serve x1.5 to
    x4; another scale raises :class:`WeightsError` saying what to do). Weights trained for another scale
    raise :class:`WeightsError` too, unless ``strict_scale=False`` (the CLI's ``--allow-scale-mismatch``);
    a scale-conditioned model's range is never stretched so (outside it its weights would be extrapolated).

    The shipped models were trained on 8-bit photos, whose luma spans 16..235 of 255. An image whose
    values fill only a small part of the range (very dark, or 10/12-bit data in uint16) can come out worse
    than bicubic, near-black lifted a little: ``stretch=True`` maps its darkest..brightest value to the
    full range for the model and back (:func:`upscale_picture`). Grayscale is used as Y directly, as the
    papers' ``demo_SR.m`` does.

    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"`` (:func:`check_device`).
    ``tile``: the network runs in tiles of this many output pixels per side (default 512), which overlap
    by its receptive field, so the result is the same as in one piece; ``0`` or ``None``: the whole image
    at once. Small tiles are slow (the CLI's ``--tile`` takes at least 16).

    ``self_ensemble=True`` averages the model over the 8 flips and rotations of the image: the network
    does 8 times the work (7 to 8.5 times its time; end to end about 4.5 to 7 times slower, less for the
    cheap 9-1-5 models), 0.02 to 0.21 dB higher PSNR with the shipped models (see
    :func:`srcnn.infer.upscale_picture`).
    """
    s = check_scale(scale)
    device = check_device(device)
    if tile is not None:
        try:
            t = -1 if isinstance(tile, bool) else operator.index(tile)  # ints, numpy ints; not floats or pairs
        except TypeError:
            t = -1
        if t < 0:
            raise ConfigError(f"tile must be a positive whole number of pixels, or 0 / None for no tiling; "
                              f"got {tile!r}")
        tile = t
    model, mode = resolve_model(weights, s, device=device, strict_scale=strict_scale)
    if isinstance(image, Image.Image):
        if image.width < 1 or image.height < 1:
            raise ConfigError(f"the image has no pixels ({image.width}x{image.height})")
        try:
            image.load()
        except (ValueError, AttributeError, AssertionError, OSError) as e:  # e.g. its file was closed
            raise ConfigError(f"cannot read the PIL image's pixels ({str(e) or type(e).__name__}); load it before "
                              "its file is closed (Image.open(...) then .load() or .copy())") from None
        pic = from_pil(image)  # the result straight into the 8/16-bit image, as to_pil(...) would give it
        return upscale_picture(pic, s, model, mode, tile=tile, device=device, self_ensemble=self_ensemble,
                               stretch=stretch, as_pil=True)
    if isinstance(image, np.ndarray):
        return _upscale_numpy(image, s, model, mode, tile, device, self_ensemble, stretch)
    if isinstance(image, torch.Tensor):
        if image.layout != torch.strided:
            raise ConfigError(f"expected a dense tensor, got layout {image.layout}; call .to_dense() first")
        if image.ndim == 4:
            if image.shape[0] == 0:
                raise ConfigError(f"the batch is empty (shape {tuple(image.shape)})")
            return torch.stack([upscale(t, s, model, device=device, tile=tile, self_ensemble=self_ensemble,
                                        stretch=stretch)
                                for t in image])
        if image.ndim != 3 or image.shape[0] not in (1, 2, 3, 4):
            raise ConfigError(f"expected a (C, H, W) or (N, C, H, W) tensor with C in 1..4, "
                              f"got shape {tuple(image.shape)}")
        if image.device.type == "meta":
            raise ConfigError("the tensor is on the 'meta' device and holds no values; pass one with data")
        if image.shape[1] < 1 or image.shape[2] < 1:
            raise ConfigError(f"the image has no pixels (shape {tuple(image.shape)})")
        if image.dtype in (torch.uint8, torch.uint16):  # 0..255 / 0..65535, as numpy arrays of them would be
            arr = image.detach().cpu().permute(1, 2, 0).numpy()
        elif image.is_floating_point():
            arr = image.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
        else:
            raise ConfigError(f"unsupported tensor dtype {image.dtype}; use a float tensor in [0, 1], uint8 or uint16")
        res = _upscale_numpy(arr, s, model, mode, tile, device, self_ensemble, stretch)
        return torch.from_numpy(res).permute(2, 0, 1).to(image.device, image.dtype)
    raise ConfigError(f"cannot upscale an object of type {type(image).__name__}; "
                      "pass a PIL image, a numpy array or a torch tensor")


_MODES_BY_C = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _upscale_numpy(a: np.ndarray, s: float, model: SRCNN, mode: str, tile: int | None,
                   device: str | torch.device, self_ensemble: bool = False, stretch: bool = False) -> np.ndarray:
    a = np.asarray(a)  # a subclass (np.matrix is always 2-D) would break the indexing below
    squeeze = a.ndim == 2
    arr = a[:, :, None] if squeeze else a
    if arr.ndim != 3 or arr.shape[2] not in _MODES_BY_C:
        raise ConfigError(f"expected (H, W) or (H, W, C) with C in 1..4, got shape {a.shape}")
    if not arr.dtype.isnative:  # big-endian data (FITS files, raw buffers): the same values in this machine's order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ConfigError(f"the image has no pixels (shape {a.shape})")
    if arr.dtype == np.uint8:
        data, depth = arr.astype(np.float32) / 255.0, 8
    elif arr.dtype == np.uint16:
        data, depth = arr.astype(np.float32) / 65535.0, 16
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ConfigError("the image holds NaN or infinite values")
        data, depth = np.clip(arr.astype(np.float32), 0.0, 1.0), 0
    else:
        raise ConfigError(f"unsupported array dtype {arr.dtype}; use uint8, uint16 or float")
    pic = Picture(data, _MODES_BY_C[arr.shape[2]], 16 if depth == 16 else 8)
    oh, ow = output_size_for(arr.shape[0], arr.shape[1], s)
    check_output_fits(oh, ow, arr.shape[2], 4 + depth // 8)  # the float32 output, then the 8/16-bit result
    out = upscale_picture(pic, s, model, mode, tile=tile, device=device, self_ensemble=self_ensemble,
                          stretch=stretch).data
    res: np.ndarray = quantize(out, np.uint8) if depth == 8 else quantize(out, np.uint16) if depth == 16 else out
    return res[:, :, 0] if squeeze else res
