import math

import numpy as np
import pytest

from srcnn.metrics import modcrop, psnr, shave, ssim


def test_psnr_known_values() -> None:
    a = np.full((10, 10), 100, dtype=np.uint8)
    b = a + 1
    assert psnr(a, b) == pytest.approx(20 * math.log10(255))  # 48.1308 dB
    c = a.copy()
    c[0, 0] = 110  # mse = 100 / 100 = 1
    assert psnr(a, c) == pytest.approx(48.1308036)
    assert psnr(a, a) == math.inf


def test_psnr_rgb_uses_y() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    from srcnn.color import y_uint8

    assert psnr(a, a[::-1]) == pytest.approx(psnr(y_uint8(a), y_uint8(a[::-1])))


def test_ssim_matches_scikit_image_gaussian() -> None:
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (60, 50)).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255)
    assert ssim(a, b) == pytest.approx(ref, abs=1e-9)
    assert ssim(a, a) == pytest.approx(1.0)
    assert 0.5 < ssim(a, b) < 0.99


def test_shave_modcrop() -> None:
    x = np.arange(11 * 13).reshape(11, 13)
    assert modcrop(x, 3).shape == (9, 12)
    assert shave(x, 3).shape == (5, 7)
    assert shave(x, 3)[0, 0] == x[3, 3]
    with pytest.raises(ValueError):
        shave(x, 6)
