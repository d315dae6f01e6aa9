import numpy as np
import pytest
import torch

from srcnn.resize import contributions, cubic, imresize, output_size


def test_cubic_kernel_values() -> None:
    x = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5])
    # Keys a = -0.5, derived by hand.
    expected = [1.0, 0.8671875, 0.5625, 0.2265625, 0.0, -0.0703125, -0.0625, -0.0234375, 0.0, 0.0]
    assert np.allclose(cubic(x), expected)
    assert np.allclose(cubic(-x), expected)


def test_upscale_x2_first_sample_by_hand() -> None:
    # Output pixel 1 maps to u = 1/2 + 0.25 = 0.75; taps at 1-based positions -1, 0, 1, 2 with
    # weights cubic(1.75), cubic(0.75), cubic(0.25), cubic(1.25); symmetric padding maps -1 -> 2
    # and 0 -> 1. So out[0] = (0.2265625 + 0.8671875) * x1 + (-0.0234375 - 0.0703125) * x2.
    x = torch.tensor([[10.0, 20.0, 40.0, 80.0]], dtype=torch.float64)
    out = imresize(x, scale=(1.0, 2.0))
    assert out.shape == (1, 8)
    assert out[0, 0].item() == pytest.approx(1.09375 * 10 - 0.09375 * 20)  # 9.0625
    # Interior sample 4 (u = 2.25): taps 1..4 at distances 1.25, 0.25, 0.75, 1.75.
    exp = -0.0703125 * 10 + 0.8671875 * 20 + 0.2265625 * 40 - 0.0234375 * 80
    assert out[0, 3].item() == pytest.approx(exp)


def test_downscale_antialiasing_kernel_by_hand() -> None:
    idx, w = contributions(8, 4, 0.5)
    # Output 1 maps to u = 2 + 0.5 * (1 - 2) = 1.5; the kernel is widened to 8 taps:
    # h(d) = 0.5 * cubic(0.5 * d) at d = u - j.
    d = 1.5 - np.arange(-3, 6)
    raw = 0.5 * cubic(0.5 * d)
    raw = raw / raw.sum()
    # Fold the mirrored taps onto the image pixels 1..8 (symmetric: 0 -> 1, -1 -> 2, -2 -> 3).
    folded = np.zeros(8)
    for j, wt in zip(range(-3, 6), raw, strict=True):
        k = j if j >= 1 else 1 - j
        folded[k - 1] += wt
    got = np.zeros(8)
    np.add.at(got, idx[0], w[0])
    assert np.allclose(got, folded)
    assert np.allclose(w.sum(axis=1), 1.0)


def test_output_size_is_matlab_ceil() -> None:
    assert output_size(255, 1 / 3) == 85
    assert output_size(85, 3) == 255
    assert output_size(10, 0.25) == 3
    assert output_size(7, 2.5) == 18  # ceil(17.5)
    t = imresize(torch.zeros(1, 1, 255, 256), scale=1 / 3)
    assert t.shape == (1, 1, 85, 86)


def test_constant_and_linear_preserved() -> None:
    c = torch.full((1, 1, 20, 30), 0.3, dtype=torch.float64)
    for s in (0.5, 1 / 3, 2.0, 2.5, 3.0):
        assert torch.allclose(imresize(c, scale=s), torch.full_like(imresize(c, scale=s), 0.3))
    # Cubic convolution reproduces linear functions away from the borders.
    ramp = torch.arange(40, dtype=torch.float64)[None, :].repeat(3, 1)
    up = imresize(ramp, scale=(1.0, 2.0))
    u = torch.arange(1, 81, dtype=torch.float64) / 2 + 0.25 - 1  # 0-based input coordinate
    assert torch.allclose(up[1, 4:-4], u[4:-4], atol=1e-12)


def test_batched_equals_single_and_rows_first() -> None:
    x = torch.rand(2, 3, 17, 23)
    y = imresize(x, scale=1 / 3)
    assert y.shape == (2, 3, 6, 8)
    assert torch.allclose(y[1, 2], imresize(x[1, 2], scale=1 / 3))
    # Separable: resizing rows then columns equals resizing both at once.
    rows = imresize(x, scale=(1 / 3, 1.0))
    assert torch.allclose(imresize(rows, scale=(1.0, 1 / 3)), y, atol=1e-6)


def test_round_trip_no_clipping_and_dtype() -> None:
    x = torch.zeros(1, 1, 12, 12)
    x[..., 6, 6] = 1.0
    y = imresize(x, scale=2.0)
    assert y.dtype == torch.float32
    assert y.min() < 0  # negative lobes are kept (no clipping between passes)


def test_size_argument_and_errors() -> None:
    x = torch.rand(1, 10, 10)
    assert imresize(x, size=(25, 25)).shape == (1, 25, 25)
    with pytest.raises(ValueError):
        imresize(x, scale=0)
    with pytest.raises(ValueError):
        imresize(x, scale=float("nan"))
    with pytest.raises(TypeError):
        imresize(torch.zeros(4, 4, dtype=torch.uint8), scale=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    x = torch.rand(2, 1, 33, 40)
    assert torch.allclose(imresize(x.cuda(), scale=1 / 3).cpu(), imresize(x, scale=1 / 3), atol=1e-6)
