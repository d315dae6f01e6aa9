"""Matlab-compatible ``imresize(..., 'bicubic')`` in PyTorch (batched, CPU and CUDA).

Semantics, following Matlab's ``imresize.m``:

* cubic kernel with a = -0.5 (Keys), support 4;
* when shrinking (scale < 1) the kernel is widened by 1/scale (antialiasing);
* output coordinate ``x`` (1-based) maps to input ``u = x / scale + 0.5 * (1 - 1 / scale)``;
* borders are handled by symmetric (mirror, edge pixel repeated) index reflection;
* weights of each output sample are normalised to sum to 1; taps that are zero for all
  outputs are dropped;
* output size is ``ceil(n * scale)`` unless given;
* the two axes are resized one after another, the axis with the smaller scale first (rows
  first when equal);
* float in, float out: nothing is rounded or clipped between the two passes.

``imresize`` takes ``(..., H, W)`` float tensors, so ``(N, C, H, W)`` batches work as they are.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from .errors import ConfigError

_KERNEL_WIDTH = 4.0


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic kernel with a = -0.5 (Matlab's ``cubic``), evaluated elementwise."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    ) * ((ax > 1) & (ax <= 2))


def output_size(n: int, scale: float) -> int:
    """Matlab's output length ``ceil(n * scale)``, robust to float noise (255 * (1/3) -> 85)."""
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    v = n * scale
    r = round(v)
    # 1e-9 relative slack: ceil(84.99999999999999) must be 85, as Matlab gets it.
    if abs(v - r) <= 1e-9 * max(1.0, abs(v)):
        return max(1, int(r))
    return max(1, math.ceil(v))


@lru_cache(maxsize=256)
def contributions(
    in_length: int, out_length: int, scale: float, antialiasing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (0-based, int64) and weights (float64), both ``(out_length, P)``.

    A port of Matlab's ``contributions`` sub-function of ``imresize``.
    """
    if in_length < 1 or out_length < 1:
        raise ValueError(f"lengths must be >= 1, got in={in_length}, out={out_length}")
    kernel_width = _KERNEL_WIDTH
    if scale < 1 and antialiasing:
        def h(x: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * x)

        kernel_width = kernel_width / scale
    else:
        h = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    p = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(p, dtype=np.float64)[None, :]  # 1-based
    weights = h(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric padding: 1..n, n..1, repeated.
    aux = np.concatenate([np.arange(1, in_length + 1), np.arange(in_length, 0, -1)])
    idx = aux[np.mod(indices.astype(np.int64) - 1, aux.size)] - 1
    keep = np.any(weights != 0, axis=0)
    weights = np.ascontiguousarray(weights[:, keep])
    idx = np.ascontiguousarray(idx[:, keep].astype(np.int64))
    # The result is cached and shared: make it read-only.
    weights.setflags(write=False)
    idx.setflags(write=False)
    return idx, weights


def _resize_last_axis(x: torch.Tensor, out_length: int, scale: float,
                      antialiasing: bool) -> torch.Tensor:
    in_length = x.shape[-1]
    idx_np, w_np = contributions(in_length, out_length, float(scale), antialiasing)
    idx = torch.tensor(idx_np, device=x.device)
    w = torch.tensor(w_np, device=x.device, dtype=x.dtype)
    # One gather per tap keeps memory at a few times the output size (a dense (out, in)
    # matrix would not scale to 64-megapixel images).
    out = x[..., idx[:, 0]] * w[:, 0]
    for p in range(1, idx.shape[1]):
        out.addcmul_(x[..., idx[:, p]], w[:, p])
    return out


def _check(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"imresize takes a float torch tensor, got {type(x).__name__} (torch.from_numpy(a).float() "
                        "converts a numpy array)")
    if not x.is_floating_point():
        raise TypeError(f"imresize needs a float tensor, got {x.dtype}")
    if x.ndim < 2:
        raise ConfigError(f"expected (..., H, W), got shape {tuple(x.shape)}")
    if x.shape[-1] < 1 or x.shape[-2] < 1:
        raise ConfigError(f"the image is empty: shape {tuple(x.shape)}")


def _size_pair(size: Any) -> tuple[int, int]:
    """``size`` as two whole numbers (ints, numpy ints, whole floats), else :class:`ConfigError`."""
    try:
        pair = tuple(size)
        if len(pair) != 2 or any(isinstance(v, bool | str) for v in pair):
            raise ValueError
        vals = tuple(float(v) for v in pair)
    except (TypeError, ValueError):
        raise ConfigError(f"size must be (height, width), two whole numbers, got {size!r}") from None
    if not all(math.isfinite(v) and v.is_integer() for v in vals):
        raise ConfigError(f"size must be (height, width), two whole numbers, got {size!r}")
    return int(vals[0]), int(vals[1])


def _plan(h: int, w: int, scale: float | tuple[float, float] | None,
          size: tuple[int, int] | None) -> tuple[int, int, float, float]:
    """The output size and per-axis scales of :func:`imresize`: ``(oh, ow, row_scale, col_scale)``."""
    if scale is None and size is None:
        raise ConfigError("give scale or size")
    if scale is not None:
        try:
            pair: tuple[Any, ...] = (scale, scale) if np.ndim(scale) == 0 else tuple(scale)  # type: ignore[arg-type]
            sh, sw = (float(v) for v in pair)  # numbers, numpy and 0-d torch scalars
        except (TypeError, ValueError):
            raise ConfigError(f"scale must be a number or a (row, column) pair of numbers, got {scale!r}") from None
        for s in (sh, sw):
            if not (s > 0 and math.isfinite(s)):
                raise ConfigError(f"scale must be a positive finite number, got {s!r}")
    if size is None:
        size = (output_size(h, sh), output_size(w, sw))
    oh, ow = _size_pair(size)
    if oh < 1 or ow < 1:
        raise ConfigError(f"output size must be >= 1, got {size}")
    if scale is None:
        sh, sw = oh / h, ow / w
    return oh, ow, sh, sw


def imresize(
    x: torch.Tensor,
    scale: float | tuple[float, float] | None = None,
    size: tuple[int, int] | None = None,
    antialiasing: bool = True,
) -> torch.Tensor:
    """Resize ``(..., H, W)`` float tensor like Matlab ``imresize(x, scale|size, 'bicubic')``.

    Give ``scale`` (one number or (row, col)), ``size`` (out H, W) or both. With ``size`` alone
    the scale of each axis is ``out / in``; with ``scale`` alone the size is ``ceil(in * scale)``.
    Values are not clipped. Returns the same dtype and device as ``x``.
    """
    _check(x)
    oh, ow, sh, sw = _plan(x.shape[-2], x.shape[-1], scale, size)
    # Matlab resizes the axis with the smaller scale first (rows first on a tie).
    if sh <= sw:
        y = _resize_last_axis(x.transpose(-1, -2), oh, sh, antialiasing).transpose(-1, -2)
        y = _resize_last_axis(y, ow, sw, antialiasing)
    else:
        y = _resize_last_axis(x, ow, sw, antialiasing)
        y = _resize_last_axis(y.transpose(-1, -2), oh, sh, antialiasing).transpose(-1, -2)
    return y.contiguous()


def _resize_rows(x: torch.Tensor, idx: np.ndarray, w: np.ndarray) -> torch.Tensor:
    """Resize along dim -2 with given contributions (rows ``idx``, weights ``w``, both (n, P))."""
    it = torch.as_tensor(idx, device=x.device)
    wt = torch.tensor(w, device=x.device, dtype=x.dtype)
    out = x[..., it[:, 0], :] * wt[:, 0, None]
    for p in range(1, it.shape[1]):
        out.addcmul_(x[..., it[:, p], :], wt[:, p, None])
    return out


def source_rows(height: int, width: int, rows: tuple[int, int],
                scale: float | tuple[float, float] | None = None, size: tuple[int, int] | None = None,
                antialiasing: bool = True) -> tuple[int, int]:
    """Input rows ``(lo, hi)`` (``hi`` exclusive) that output rows ``rows = (a, b)`` of
    ``imresize`` of a ``height x width`` image (same ``scale`` / ``size``) read: the stripe that
    :func:`imresize_rows` needs."""
    oh, _ow, sh, _sw = _plan(height, width, scale, size)
    idx, _ = contributions(height, oh, float(sh), antialiasing)
    part = idx[rows[0]:rows[1]]
    return int(part.min()), int(part.max()) + 1


def imresize_rows(
    x: torch.Tensor,
    rows: tuple[int, int],
    scale: float | tuple[float, float] | None = None,
    size: tuple[int, int] | None = None,
    antialiasing: bool = True,
    *,
    row0: int = 0,
    height: int | None = None,
) -> torch.Tensor:
    """Output rows ``rows = (a, b)`` of ``imresize(image, scale, size)``, computed from a horizontal
    stripe of the input: ``x`` holds input rows ``row0 .. row0 + x.shape[-2]`` of an image of
    ``height`` rows (default: ``x`` is the whole image). The stripe must hold the rows that
    :func:`source_rows` names. Equal to slicing the whole-image result (the same taps, weights and
    order), so a large image can be resized stripe by stripe in bounded memory.
    """
    _check(x)
    h = x.shape[-2] if height is None else int(height)
    oh, ow, sh, sw = _plan(h, x.shape[-1], scale, size)
    a, b = rows
    if not 0 <= a < b <= oh:
        raise ValueError(f"rows must satisfy 0 <= a < b <= {oh}, got {rows}")
    idx, w = contributions(h, oh, float(sh), antialiasing)
    idx = idx[a:b] - row0
    if idx.min() < 0 or idx.max() >= x.shape[-2]:
        raise ValueError("imresize_rows: the stripe does not hold the input rows these outputs need")
    w = w[a:b]
    if sh <= sw:
        return _resize_last_axis(_resize_rows(x, idx, w), ow, sw, antialiasing)
    lo, hi = int(idx.min()), int(idx.max()) + 1
    y = _resize_last_axis(x[..., lo:hi, :], ow, sw, antialiasing)
    return _resize_rows(y, idx - lo, w)
