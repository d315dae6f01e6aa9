import numpy as np
import torch

from srcnn.color import (
    rgb2ycbcr_uint8,
    rgb_to_ycbcr,
    round_uint8,
    ycbcr2rgb_uint8,
    ycbcr_to_rgb,
)


def test_known_values_uint8() -> None:
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]],
                   dtype=np.uint8)
    ycc = rgb2ycbcr_uint8(rgb)
    # Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, rounded.
    assert ycc[0, :, 0].tolist() == [16, 235, 81, 145, 41]
    # Cb = 128 + (-37.797 R - 74.203 G + 112 B)/255 ; Cr = 128 + (112 R - 93.786 G - 18.214 B)/255
    assert ycc[0, 2, 1:].tolist() == [90, 240]  # red: 128-37.797=90.2, 128+112=240
    assert ycc[0, 4, 1:].tolist() == [240, 110]  # blue: 240, 128-18.214=109.8
    assert ycc[0, 0, 1:].tolist() == [128, 128]


def test_matlab_rounding_half_away_from_zero() -> None:
    assert round_uint8(np.array([0.5, 1.5, 2.5, -0.4, 255.6])).tolist() == [1, 2, 3, 0, 255]


def test_float_roundtrip_is_exact() -> None:
    x = torch.rand(2, 3, 7, 5, dtype=torch.float64)
    back = ycbcr_to_rgb(rgb_to_ycbcr(x))
    assert torch.allclose(back, x, atol=1e-12)
    y = rgb_to_ycbcr(torch.ones(3, 1, 1, dtype=torch.float64))
    assert torch.allclose(y.flatten(), torch.tensor([235 / 255, 128 / 255, 128 / 255], dtype=torch.float64))


def test_uint8_roundtrip_within_one_level() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    back = ycbcr2rgb_uint8(rgb2ycbcr_uint8(rgb))
    # Quantising YCbCr to 8 bits loses up to ~1.5 levels in RGB (Matlab behaves the same).
    assert np.abs(back.astype(int) - rgb.astype(int)).max() <= 3
    assert np.abs(back.astype(int) - rgb.astype(int)).mean() < 0.8
