"""PSNR and SSIM as the SRCNN papers compute them (``demo_SR.m`` / ``compute_psnr.m``).

Both take uint8 images (the caller rounds with Matlab's ``uint8(x * 255)``) of the Y channel,
``(H, W)``, after the border is shaved (:func:`shave`). 3-channel RGB input is first reduced to the
Y of ``rgb2ycbcr``, as ``compute_psnr.m`` does.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .color import y_uint8


def shave(img: np.ndarray, border: int) -> np.ndarray:
    """Remove ``border`` pixels on every side (Matlab ``shave``); ``(H, W, ...)``."""
    if border <= 0:
        return img
    if img.shape[0] <= 2 * border or img.shape[1] <= 2 * border:
        raise ValueError(f"image {img.shape[:2]} too small to shave {border} pixels per side")
    return img[border:-border, border:-border]


def modcrop(img: np.ndarray, modulo: int) -> np.ndarray:
    """Crop bottom/right so height and width are multiples of ``modulo`` (Matlab ``modcrop``)."""
    h, w = img.shape[:2]
    return img[: h - h % modulo, : w - w % modulo]


def _as_y(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3 and img.shape[2] == 3:
        return y_uint8(img.astype(np.uint8))
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    return img


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two images on the 0..255 scale (``compute_psnr.m``). Equal -> ``inf``."""
    a, b = _as_y(np.asarray(a)), _as_y(np.asarray(b))
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(d * d))
    if mse == 0:
        return math.inf
    return 20.0 * math.log10(peak / math.sqrt(mse))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    # Matlab fspecial('gaussian', size, sigma)
    r = (size - 1) / 2.0
    x = torch.arange(size, dtype=torch.float64) - r
    g = torch.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma * sigma))
    return g / g.sum()


def ssim(a: np.ndarray, b: np.ndarray, *, peak: float = 255.0, k1: float = 0.01,
         k2: float = 0.03, window: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004, ``ssim_index.m``): Gaussian 11x11 window, sigma 1.5,
    K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering, no downsampling. Inputs on 0..255."""
    a, b = _as_y(np.asarray(a)), _as_y(np.asarray(b))
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.shape[0] < window or a.shape[1] < window:
        raise ValueError(f"image {a.shape} smaller than the {window}x{window} SSIM window")
    x = torch.from_numpy(a.astype(np.float64))[None, None]
    y = torch.from_numpy(b.astype(np.float64))[None, None]
    w = _gaussian_window(window, sigma)[None, None]
    c1, c2 = (k1 * peak) ** 2, (k2 * peak) ** 2
    mu1, mu2 = F.conv2d(x, w), F.conv2d(y, w)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = F.conv2d(x * x, w) - mu1_sq
    s2 = F.conv2d(y * y, w) - mu2_sq
    s12 = F.conv2d(x * y, w) - mu12
    m = ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    return float(m.mean())
