"""PSNR and SSIM as the SRCNN papers compute them (``demo_SR.m`` / ``compute_psnr.m``).

Both take uint8 images (the caller rounds with Matlab's ``uint8(x * 255)``) of the Y channel,
``(H, W)``, after the border is shaved (:func:`shave`). 3-channel RGB input is first reduced to the
Y of ``rgb2ycbcr``, as ``compute_psnr.m`` does.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .color import y_uint8
from .errors import ConfigError


def shave(img: np.ndarray, border: int) -> np.ndarray:
    """Remove ``border`` pixels on every side (Matlab ``shave``); ``(H, W, ...)``."""
    if border <= 0:
        return img
    if img.shape[0] <= 2 * border or img.shape[1] <= 2 * border:
        raise ConfigError(f"image {img.shape[:2]} too small to shave {border} pixels per side")
    return img[border:-border, border:-border]


def modcrop(img: np.ndarray, modulo: int) -> np.ndarray:
    """Crop bottom/right so height and width are multiples of ``modulo`` (Matlab ``modcrop``)."""
    if isinstance(modulo, bool) or not isinstance(modulo, int | np.integer) or modulo < 1:
        raise ConfigError(f"modulo must be a positive whole number, got {modulo!r}")
    h, w = img.shape[:2]
    return img[: h - h % modulo, : w - w % modulo]


def _as_y(img: np.ndarray) -> np.ndarray:
    """The plane the metrics compare: an RGB image's Y (from uint8 RGB, as ``rgb2ycbcr`` takes it),
    a one-channel or 2-D image as it is."""
    if img.ndim == 3 and img.shape[2] == 3:
        if img.dtype != np.uint8:  # a cast would truncate floats and wrap uint16 silently
            raise ConfigError(f"an RGB image for PSNR/SSIM must be uint8 (0..255), got {img.dtype}; "
                              "round it to uint8 first, or pass its Y plane")
        return y_uint8(img)
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    if img.ndim != 2:
        raise ConfigError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {img.shape}")
    return img


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The planes two metrics inputs compare, checked: same shape, not empty, on one scale."""
    a, b = _as_y(np.asarray(a)), _as_y(np.asarray(b))
    if a.shape != b.shape:
        raise ConfigError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.size == 0:
        raise ConfigError(f"the images are empty: shape {a.shape}")
    for x in (a, b):
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise ConfigError(f"images must hold numbers on the 0..255 scale, got {x.dtype}")
    ints = [np.issubdtype(x.dtype, np.integer) for x in (a, b)]
    if ints[0] != ints[1]:  # uint8 against float 0..1 would score a few dB, silently
        f = b if ints[0] else a
        i = a if ints[0] else b
        if float(np.max(f)) <= 1.0 < float(np.max(i)):
            raise ConfigError("one image is integer 0..255 and the other float 0..1: put both on the 0..255 scale "
                              "(multiply the float one by 255)")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two images on the 0..255 scale (``compute_psnr.m``). Equal -> ``inf``.
    Raises :class:`ConfigError` for images of different shapes, empty ones, or one on 0..1 against
    one on 0..255."""
    if not (peak > 0 and math.isfinite(peak)):
        raise ConfigError(f"peak must be a positive number, got {peak!r}")
    a, b = _pair(a, b)
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(d * d))
    if mse == 0:
        return math.inf
    return 20.0 * math.log10(peak / math.sqrt(mse))


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    # Matlab's fspecial('gaussian', size, sigma) is the outer product of this normalised 1-D
    # kernel with itself, so the 2-D filter can be applied as two 1-D passes (5x faster).
    r = (size - 1) / 2.0
    x = np.arange(size, dtype=np.float64) - r
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Matlab ``filter2(g' * g, img, 'valid')`` for a symmetric 1-D kernel ``g``."""
    r = g.size // 2
    out = ndimage.correlate1d(img, g, axis=0, mode="nearest")
    out = ndimage.correlate1d(out, g, axis=1, mode="nearest")
    return out[r:img.shape[0] - r, r:img.shape[1] - r]


def ssim(a: np.ndarray, b: np.ndarray, *, peak: float = 255.0, k1: float = 0.01,
         k2: float = 0.03, window: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004, ``ssim_index.m``): Gaussian 11x11 window, sigma 1.5,
    K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering, no downsampling. Inputs on 0..255."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or not (sigma > 0 and peak > 0):
        raise ConfigError(f"window must be a positive whole number and sigma, peak positive; got {window!r}, "
                          f"{sigma!r}, {peak!r}")
    a, b = _pair(a, b)
    if a.shape[0] < window or a.shape[1] < window:
        raise ConfigError(f"image {a.shape} smaller than the {window}x{window} SSIM window")
    x, y = a.astype(np.float64), b.astype(np.float64)
    g = _gaussian_1d(window, sigma)
    c1, c2 = (k1 * peak) ** 2, (k2 * peak) ** 2
    mu1, mu2 = _filter_valid(x, g), _filter_valid(y, g)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = _filter_valid(x * x, g) - mu1_sq
    s2 = _filter_valid(y * y, g) - mu2_sq
    s12 = _filter_valid(x * y, g) - mu12
    m = ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    return float(m.mean())
