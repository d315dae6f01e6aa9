"""Figures for looking at results: comparisons as in the paper's figures, and learned filters.

:func:`compare_figure` treats an image as the ground truth, makes a real low-resolution image from
it (modcrop to the scale, Matlab bicubic down, rounded to uint8) and enlarges that with bicubic and
with each set of weights; it draws ground truth | bicubic | SRCNN (one column per weights) with a
zoomed crop and the Y-PSNR of each (``border = ceil(scale)`` pixels shaved, as the evaluation does).

:func:`filters_figure` draws the first-layer filters as a grid of tiles, as the paper shows them,
and the second layer's kernels when ``f2 > 1``.

Nothing here prints or writes files; the CLI does that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .color import round_uint8, y_uint8
from .errors import ConfigError, ImageReadError
from .evaluate import scale_modulo, shave_border
from .images import Picture
from .infer import check_scale, output_size_for, resolve_model, upscale_picture
from .metrics import modcrop, psnr, shave
from .model import SRCNN
from .resize import imresize
from .weights import Weights, load_weights

WeightsSpec = Weights | SRCNN | str | None
Crop = tuple[int, int, int, int]  # x, y, width, height

# Layout of the figures, in pixels (public so that callers and tests can predict sizes).
MARGIN = 10
GAP = 8
TEXT_H = 16
MIN_PANEL = 200
MAX_PANEL = 320
CROP_COLOR = (220, 30, 30)


# ----------------------------------------------------------------------------------- bicubic
def bicubic_picture(pic: Picture, scale: float) -> Picture:
    """Enlarge a :class:`Picture` by Matlab bicubic to ``round(scale * size)`` (all planes, alpha
    included), values clipped to [0, 1]: the baseline the SRCNN result is compared with."""
    h, w = pic.data.shape[:2]
    oh, ow = output_size_for(h, w, scale)
    planes = torch.from_numpy(np.ascontiguousarray(pic.data.transpose(2, 0, 1))).float()
    big = imresize(planes, scale=scale, size=(oh, ow)).clamp(0.0, 1.0)
    data = big.permute(1, 2, 0).numpy().astype(np.float32)
    return Picture(data, pic.mode, pic.bit_depth, list(pic.notes))


def _to_uint8(data: np.ndarray) -> np.ndarray:
    """Float (H, W, C) in [0, 1] -> uint8 (H, W, C), Matlab ``uint8(x * 255)``."""
    return round_uint8(data.astype(np.float64) * 255.0)


# -------------------------------------------------------------------------------- comparison
@dataclass
class Column:
    """One enlarged image of a comparison."""

    label: str
    image: np.ndarray  # uint8 (H, W) or (H, W, 3), the ground truth's size
    psnr: float  # Y-PSNR against the ground truth, border shaved


@dataclass
class Comparison:
    """Ground truth, its low-resolution version, and the enlarged images (bicubic first)."""

    scale: float
    ground_truth: np.ndarray  # uint8, modcropped
    low_res: np.ndarray  # uint8
    columns: list[Column]
    crop: Crop
    border: int

    @property
    def table(self) -> list[tuple[str, float]]:
        """(label, Y-PSNR in dB) of bicubic and of each model, in column order."""
        return [(c.label, c.psnr) for c in self.columns]


def _label_for(spec: WeightsSpec, w: Weights | None, model: SRCNN) -> str:
    if w is not None and w.name:
        return w.name
    if isinstance(spec, str):
        return spec
    return f"SRCNN {model.config.name}"


def _check_crop(crop: Crop, h: int, w: int) -> Crop:
    x, y, cw, ch = (int(v) for v in crop)
    if cw < 1 or ch < 1 or x < 0 or y < 0 or x + cw > w or y + ch > h:
        raise ConfigError(f"crop x={x}, y={y}, w={cw}, h={ch} does not fit inside the "
                          f"{w}x{h} ground truth (after cropping to a multiple of the scale)")
    return x, y, cw, ch


def default_crop_size(h: int, w: int) -> tuple[int, int]:
    """Side of the automatic zoom crop: a quarter of the shorter side, 8 to 128 pixels."""
    side = max(8, min(128, min(h, w) // 4))
    return min(side, w), min(side, h)


def pick_crop(diff: np.ndarray, size: tuple[int, int], border: int = 0) -> Crop:
    """The ``size`` = (w, h) window with the largest sum of ``diff`` (H, W), kept ``border``
    pixels away from the edges when the image allows it; the first one on ties."""
    h, w = diff.shape
    cw, ch = size
    if w - 2 * border < cw or h - 2 * border < ch:
        border = 0
    sat = np.zeros((h + 1, w + 1), dtype=np.float64)
    sat[1:, 1:] = np.cumsum(np.cumsum(diff.astype(np.float64), axis=0), axis=1)
    sums = sat[ch:, cw:] - sat[:-ch, cw:] - sat[ch:, :-cw] + sat[:-ch, :-cw]  # (h-ch+1, w-cw+1)
    sums = sums[border:sums.shape[0] - border, border:sums.shape[1] - border]
    iy, ix = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(ix) + border, int(iy) + border, cw, ch


def _offset_rows(progress: Callable[[int, int], None] | None, offset: int, total: int
                 ) -> Callable[[int, int], None] | None:
    """An ``upscale_picture`` progress callback reporting to ``progress`` as part of ``total`` rows."""
    if progress is None:
        return None
    report = progress

    def rows(done: int, _total: int) -> None:
        report(offset + done, total)

    return rows


def compare(gt: np.ndarray, scale: float, weights_list: Sequence[WeightsSpec] = (None,), *,
            crop: Crop | None = None, labels: Sequence[str] | None = None,
            strict_scale: bool = True, device: str = "cpu",
            progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Compute a comparison (see :func:`compare_figure`) without drawing it. ``progress(done, total)``:
    output rows done, over every model's upscale."""
    s = check_scale(scale)
    gt = np.asarray(gt)
    if gt.dtype != np.uint8 or not (gt.ndim == 2 or (gt.ndim == 3 and gt.shape[2] in (1, 3))):
        raise ConfigError(f"ground truth must be uint8 (H, W) or (H, W, 3), got {gt.dtype} {gt.shape}")
    if gt.ndim == 3 and gt.shape[2] == 1:
        gt = gt[:, :, 0]
    if not weights_list:
        weights_list = [None]
    if labels is not None and len(labels) != len(weights_list):
        raise ConfigError(f"{len(labels)} labels for {len(weights_list)} weights")
    mod = scale_modulo(s)
    border = shave_border(s)
    need = -(-max(2 * border + 8, 4 * mod) // mod) * mod  # after modcrop, a multiple of mod
    if min(gt.shape[:2]) < need:
        raise ImageReadError(f"image {gt.shape[1]}x{gt.shape[0]} is too small to compare at x{s:g}: it needs at "
                             f"least {need}x{need} pixels")
    gt = np.ascontiguousarray(modcrop(gt, mod))
    h, w = gt.shape[:2]
    mode = "RGB" if gt.ndim == 3 else "L"
    gt3 = gt if gt.ndim == 3 else gt[:, :, None]

    # The real low-resolution image: Matlab bicubic down, rounded to uint8.
    x = torch.from_numpy(np.array(gt3.transpose(2, 0, 1))).float() / 255.0  # a copy: PIL's arrays are read-only
    lr = round_uint8(imresize(x, scale=1.0 / s) * 255.0).transpose(1, 2, 0)  # (h, w, C)
    lr_pic = Picture(lr.astype(np.float32) / 255.0, mode)
    if output_size_for(lr.shape[0], lr.shape[1], s) != (h, w):  # pragma: no cover - modcrop ensures it
        raise ConfigError(f"scale {s:g} does not map {lr.shape[1]}x{lr.shape[0]} back to {w}x{h}")

    def finish(label: str, data: np.ndarray) -> Column:
        u8 = _to_uint8(data)
        img = u8 if mode == "RGB" else u8[:, :, 0]
        p = psnr(shave(y_uint8(gt), border), shave(y_uint8(img), border))
        return Column(label, img, p)

    columns = [finish("bicubic", bicubic_picture(lr_pic, s).data)]
    used: set[str] = {"bicubic"}
    for i, spec in enumerate(weights_list):
        w_obj = load_weights(spec) if isinstance(spec, str) else spec
        model, channels_mode = resolve_model(w_obj, s, device=device, strict_scale=strict_scale)
        label = labels[i] if labels is not None else _label_for(
            spec, w_obj if isinstance(w_obj, Weights) else None, model)
        if spec is None and labels is None:
            from .pretrained import best_for_scale

            info = best_for_scale(s)
            label = info.name if info is not None else label
        base, n = label, 2
        while label in used:
            label, n = f"{base} ({n})", n + 1
        used.add(label)
        out = upscale_picture(lr_pic, s, model, channels_mode, device=device,
                              progress=_offset_rows(progress, i * h, h * len(weights_list)))
        columns.append(finish(label, out.data))

    if crop is None:
        y_bic = y_uint8(columns[0].image).astype(np.float64)
        diff = np.max([np.abs(y_uint8(c.image).astype(np.float64) - y_bic) for c in columns[1:]],
                      axis=0)
        crop = pick_crop(diff, default_crop_size(h, w), border)
    else:
        crop = _check_crop(crop, h, w)
    return Comparison(s, gt, lr if mode == "RGB" else lr[:, :, 0], columns, crop, border)


def panel_width(width: int) -> int:
    """Width a full image is drawn at in a comparison figure."""
    return max(MIN_PANEL, min(MAX_PANEL, width))


def comparison_size(height: int, width: int, crop: Crop, n_columns: int) -> tuple[int, int]:
    """(width, height) of the figure of a ``height`` x ``width`` ground truth with ``n_columns``
    columns (ground truth included)."""
    pw = panel_width(width)
    ph = max(1, round(height * pw / width))
    zh = max(1, round(crop[3] * pw / crop[2]))
    fig_w = 2 * MARGIN + n_columns * pw + (n_columns - 1) * GAP
    fig_h = 2 * MARGIN + TEXT_H + GAP + TEXT_H + ph + GAP + zh + TEXT_H
    return fig_w, fig_h


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int,
         font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def render_comparison(c: Comparison) -> Image.Image:
    """Draw a :class:`Comparison`: one column per image (ground truth first), each the full image
    with the crop outlined, the crop enlarged (nearest neighbour) below it, and the Y-PSNR."""
    h, w = c.ground_truth.shape[:2]
    cols: list[tuple[str, np.ndarray, str]] = [("ground truth", c.ground_truth, "Y-PSNR (dB)")]
    cols += [(col.label, col.image, f"{col.psnr:.2f} dB") for col in c.columns]
    fig_w, fig_h = comparison_size(h, w, c.crop, len(cols))
    pw = panel_width(w)
    ph = max(1, round(h * pw / w))
    x0, y0, cw, ch = c.crop
    zh = max(1, round(ch * pw / cw))
    f = pw / w
    fig = Image.new("RGB", (fig_w, fig_h), "white")
    draw = ImageDraw.Draw(fig)
    font = _font()
    lr_h, lr_w = c.low_res.shape[:2]
    title = (f"x{c.scale:g}: ground truth {w}x{h}, low resolution {lr_w}x{lr_h}; Y-PSNR with "
             f"{c.border} px border shaved; zoom on x={x0}, y={y0}, {cw}x{ch}")
    draw.text((MARGIN, MARGIN + 2), _fit(draw, title, fig_w - 2 * MARGIN, font), fill="black", font=font)
    top = MARGIN + TEXT_H + GAP
    resample = Image.Resampling.NEAREST if f >= 1 else Image.Resampling.LANCZOS
    for i, (label, arr, caption) in enumerate(cols):
        left = MARGIN + i * (pw + GAP)
        img = Image.fromarray(arr).convert("RGB")
        draw.text((left, top + 2), _fit(draw, label, pw, font), fill="black", font=font)
        full = img.resize((pw, ph), resample)
        fig.paste(full, (left, top + TEXT_H))
        rx0, ry0 = left + math.floor(x0 * f), top + TEXT_H + math.floor(y0 * f)
        rx1 = left + min(pw, math.ceil((x0 + cw) * f)) - 1
        ry1 = top + TEXT_H + min(ph, math.ceil((y0 + ch) * f)) - 1
        draw.rectangle((rx0, ry0, rx1, ry1), outline=CROP_COLOR, width=2 if pw >= 150 else 1)
        zoom = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((pw, zh), Image.Resampling.NEAREST)
        zy = top + TEXT_H + ph + GAP
        fig.paste(zoom, (left, zy))
        draw.rectangle((left, zy, left + pw - 1, zy + zh - 1), outline=CROP_COLOR, width=1)
        draw.text((left, zy + zh + 2), _fit(draw, caption, pw, font), fill="black", font=font)
    return fig


def compare_figure(gt_rgb_uint8: np.ndarray, scale: float, weights_list: Sequence[WeightsSpec] = (None,),
                   crop: Crop | None = None, *, labels: Sequence[str] | None = None,
                   strict_scale: bool = True,
                   device: str = "cpu") -> tuple[Image.Image, list[tuple[str, float]]]:
    """A paper-style comparison figure and its PSNR table.

    ``gt_rgb_uint8`` (uint8 ``(H, W, 3)`` or ``(H, W)``) is the ground truth: it is cropped to a
    multiple of the scale, shrunk by Matlab bicubic and rounded to uint8 (a real low-resolution
    image), then enlarged by bicubic and by SRCNN with each entry of ``weights_list`` (a
    :class:`Weights`, an :class:`SRCNN`, a file or model name, or ``None`` for the best shipped
    model). ``crop`` = (x, y, w, h) of the zoom, or ``None`` for the window where the SRCNN
    results differ most from bicubic. Returns the figure and ``[(label, Y-PSNR dB), ...]`` for
    bicubic and each model.
    """
    c = compare(gt_rgb_uint8, scale, weights_list, crop=crop, labels=labels,
                strict_scale=strict_scale, device=device)
    return render_comparison(c), c.table


# ----------------------------------------------------------------------------------- filters
def normalise_each(kernels: np.ndarray) -> np.ndarray:
    """Scale each kernel (first axis) to 0..255 over its own min..max (constant -> 128)."""
    k = kernels.astype(np.float64)
    axes = tuple(range(1, k.ndim))
    lo, hi = k.min(axis=axes, keepdims=True), k.max(axis=axes, keepdims=True)
    span = hi - lo
    out = np.where(span > 0, (k - lo) / np.where(span > 0, span, 1.0) * 255.0, 128.0)
    return np.floor(out + 0.5).astype(np.uint8)


def normalise_signed(kernels: np.ndarray) -> np.ndarray:
    """Scale kernels together, symmetric around zero: 0 -> 128, +max|k| -> 255, -max|k| -> 1."""
    k = kernels.astype(np.float64)
    m = float(np.abs(k).max())
    out = 128.0 + 127.0 * k / m if m > 0 else np.full(k.shape, 128.0)
    return np.floor(out + 0.5).astype(np.uint8)


def tile_grid(tiles: np.ndarray, columns: int, zoom: int, gap: int) -> Image.Image:
    """Tiles ``(N, k, k)`` (gray) or ``(N, k, k, 3)`` (colour) uint8, each enlarged ``zoom`` times
    (nearest neighbour), in rows of ``columns`` with ``gap`` white pixels between them."""
    n, kh, kw = tiles.shape[:3]
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    th, tw = kh * zoom, kw * zoom
    grid = Image.new("RGB", (columns * tw + (columns - 1) * gap, rows * th + (rows - 1) * gap), "white")
    for i in range(n):
        r, col = divmod(i, columns)
        t = Image.fromarray(np.ascontiguousarray(tiles[i])).convert("RGB")
        grid.paste(t.resize((tw, th), Image.Resampling.NEAREST), (col * (tw + gap), r * (th + gap)))
    return grid


def _as_weights(weights: Weights | SRCNN | str) -> tuple[dict[str, torch.Tensor], str]:
    if isinstance(weights, str):
        weights = load_weights(weights)
    if isinstance(weights, Weights):
        sd = {k: v.detach().cpu() for k, v in weights.state_dict.items()}
        name = f"{weights.name} " if weights.name else ""
        return sd, f"{name}(SRCNN {weights.config.name})"
    sd = {k: v.detach().cpu() for k, v in weights.state_dict().items()}
    return sd, f"SRCNN {weights.config.name}"


def filters_figure(weights: Weights | SRCNN | str, *, columns: int = 8, zoom: int = 6, gap: int = 2,
                   layer2_outputs: int = 8, layer2_zoom: int = 3) -> Image.Image:
    """The learned filters of a model.

    Layer 1: its ``n1`` filters (``f1 x f1``) in rows of ``columns``, each scaled to its own
    min..max (colour for 3-channel models), enlarged ``zoom`` times. Layer 2, when ``f2 > 1``: one
    row per output channel (the first ``layer2_outputs``), one ``f2 x f2`` tile per input channel,
    each row scaled symmetrically around zero (gray = 0).
    """
    sd, name = _as_weights(weights)
    w1 = sd["conv1.weight"].numpy()  # (n1, c, f1, f1)
    w2 = sd["conv2.weight"].numpy()  # (n2, n1, f2, f2)
    n1, c, f1 = w1.shape[0], w1.shape[1], w1.shape[2]
    n2, f2 = w2.shape[0], w2.shape[2]
    tiles1 = normalise_each(w1[:, 0] if c == 1 else w1.transpose(0, 2, 3, 1))
    grid1 = tile_grid(tiles1, columns, zoom, gap)
    sections = [(f"{name}: layer 1, {n1} filters {f1}x{f1}, each scaled to its min..max", grid1)]
    if f2 > 1 and layer2_outputs > 0:
        rows = min(layer2_outputs, n2)
        tiles2 = np.concatenate([normalise_signed(w2[j]) for j in range(rows)])  # (rows * n1, f2, f2)
        grid2 = tile_grid(tiles2, n1, layer2_zoom, max(1, gap // 2))
        sections.append((f"layer 2, {f2}x{f2} kernels: rows = output channels 1-{rows} of {n2}, "
                         f"columns = the {n1} inputs; gray = 0", grid2))
    fig_w = 2 * MARGIN + max(g.width for _, g in sections)
    fig_h = 2 * MARGIN + sum(TEXT_H + g.height for _, g in sections) + GAP * (len(sections) - 1)
    fig = Image.new("RGB", (fig_w, fig_h), "white")
    draw = ImageDraw.Draw(fig)
    font = _font()
    y = MARGIN
    for title, grid in sections:
        draw.text((MARGIN, y + 2), _fit(draw, title, fig_w - 2 * MARGIN, font), fill="black", font=font)
        fig.paste(grid, (MARGIN, y + TEXT_H))
        y += TEXT_H + grid.height + GAP
    return fig
