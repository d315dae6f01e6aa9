"""BT.601 studio-range colour conversion, exactly as Matlab's ``rgb2ycbcr`` / ``ycbcr2rgb``.

Matlab defines (for R, G, B in 0..255)::

    Y  =  16 + ( 65.481 R + 128.553 G +  24.966 B) / 255
    Cb = 128 + (-37.797 R -  74.203 G + 112.000 B) / 255
    Cr = 128 + (112.000 R -  93.786 G -  18.214 B) / 255

On uint8 input the results are rounded (half away from zero) and saturated to uint8. On float
input in [0, 1] the same map is applied with offsets 16/255 and 128/255 and nothing is rounded.

Functions take channel-first tensors ``(..., 3, H, W)`` (float, any device) or channel-last
numpy arrays ``(H, W, 3)``; see each function.
"""

from __future__ import annotations

import numpy as np
import torch

# Matlab's origT and origOffset (rgb2ycbcr.m), for R, G, B in [0, 1] and Y, Cb, Cr in [0, 255].
_T = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=np.float64,
)
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)
_T_INV = np.linalg.inv(_T)


def _apply(mat: np.ndarray, x: torch.Tensor, offset_before: np.ndarray | None,
           offset_after: np.ndarray | None) -> torch.Tensor:
    """Apply a 3x3 matrix over the channel dim (-3) of ``x``, in float64 maths."""
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"expected (..., 3, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():  # an integer tensor is 0..255 and would come out on mixed scales
        raise ValueError(f"expected a float tensor in [0, 1], got {x.dtype}; divide a uint8 tensor by 255 "
                         "(or use the numpy functions, which take uint8 as Matlab does)")
    dtype = x.dtype
    m = torch.as_tensor(mat, dtype=torch.float64, device=x.device)
    xd = x.to(torch.float64)
    if offset_before is not None:
        xd = xd - torch.as_tensor(offset_before, dtype=torch.float64, device=x.device).view(3, 1, 1)
    out = torch.einsum("ij,...jhw->...ihw", m, xd)
    if offset_after is not None:
        out = out + torch.as_tensor(offset_after, dtype=torch.float64, device=x.device).view(3, 1, 1)
    return out.to(dtype)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """RGB ``(..., 3, H, W)`` float in [0, 1] -> YCbCr float in [0, 1] (Y in [16/255, 235/255]).

    Matlab ``rgb2ycbcr`` on double input. No rounding, no clipping.
    """
    return _apply(_T / 255.0, rgb, None, _OFFSET / 255.0)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """YCbCr ``(..., 3, H, W)`` float in [0, 1] -> RGB float (not clipped).

    Matlab ``ycbcr2rgb`` on double input: ``rgb = inv(T) * (255 * ycbcr - offset)``.
    """
    return _apply(_T_INV * 255.0, ycbcr, _OFFSET / 255.0, None)


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """Y channel only: ``(..., 3, H, W)`` float in [0, 1] -> ``(..., 1, H, W)`` float in [0, 1]."""
    return rgb_to_ycbcr(rgb)[..., :1, :, :]


def round_uint8(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Matlab ``uint8(x)`` for values on the 0..255 scale: round half away from zero, saturate."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    a = a.astype(np.float64)
    # np.round rounds half to even; Matlab rounds half away from zero.
    r = np.sign(a) * np.floor(np.abs(a) + 0.5)
    return np.clip(r, 0, 255).astype(np.uint8)


def rgb2ycbcr_uint8(rgb: np.ndarray) -> np.ndarray:
    """Matlab ``rgb2ycbcr`` on a uint8 ``(H, W, 3)`` array -> uint8 ``(H, W, 3)`` YCbCr."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    ycc = rgb.astype(np.float64) @ (_T / 255.0).T + _OFFSET
    return round_uint8(ycc)


def ycbcr2rgb_uint8(ycbcr: np.ndarray) -> np.ndarray:
    """Matlab ``ycbcr2rgb`` on a uint8 ``(H, W, 3)`` array -> uint8 ``(H, W, 3)`` RGB."""
    if ycbcr.dtype != np.uint8 or ycbcr.ndim != 3 or ycbcr.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {ycbcr.dtype} {ycbcr.shape}")
    rgb = (ycbcr.astype(np.float64) - _OFFSET) @ (_T_INV * 255.0).T
    return round_uint8(rgb)


def y_uint8(rgb: np.ndarray) -> np.ndarray:
    """The Y plane of Matlab ``rgb2ycbcr`` on uint8 ``(H, W, 3)``, or a grayscale ``(H, W)`` as is."""
    if rgb.ndim == 2:
        if rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8, got {rgb.dtype}")
        return rgb
    return rgb2ycbcr_uint8(rgb)[:, :, 0]
