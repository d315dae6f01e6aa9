import re

import numpy as np
import pytest
import torch
from PIL import Image

from srcnn.errors import ConfigError, WeightsError
from srcnn.infer import check_scale, output_size_for, resolve_model, run_model, upscale
from srcnn.resize import imresize

from .conftest import identity_weights, random_weights


@pytest.mark.parametrize("tile", [5, 16, 37, 64])
@pytest.mark.parametrize("arch", ["9-1-5", "9-5-5"])
def test_tiled_equals_untiled(tile: int, arch: str) -> None:
    model = random_weights(arch).build()
    x = torch.rand(1, 1, 70, 101)
    full = run_model(model, x, tile=None)
    tiled = run_model(model, x, tile=tile)
    assert (full - tiled).abs().max().item() <= 1e-5
    with torch.no_grad():
        assert (model(x) - full).abs().max().item() <= 1e-5


def test_output_size_rule() -> None:
    assert output_size_for(85, 86, 3) == (255, 258)
    assert output_size_for(7, 9, 2.5) == (18, 23)  # round(17.5) = 18, round(22.5) = 23
    assert output_size_for(3, 3, 1.5) == (5, 5)


@pytest.mark.parametrize("bad", [0, -2, 1, 0.5, float("nan"), float("inf"), 17, "x"])
def test_check_scale_rejects(bad: object) -> None:
    with pytest.raises(ConfigError):
        check_scale(bad)  # type: ignore[arg-type]


def test_identity_model_gives_bicubic_colour(photo: np.ndarray) -> None:
    # With an identity network the whole path is linear: YCbCr -> bicubic -> RGB equals bicubic RGB.
    out = upscale(photo, 2.0, identity_weights())
    ref = imresize(torch.from_numpy(photo.transpose(2, 0, 1).astype(np.float64) / 255), scale=2.0)
    ref8 = np.floor(ref.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert out.shape == (192, 224, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - ref8.astype(int)).max() <= 1


def test_pil_modes(photo: np.ndarray) -> None:
    w = random_weights(scales=(3.0,))
    rgb = Image.fromarray(photo)
    cases = {
        "RGB": (rgb, "RGB"),
        "L": (rgb.convert("L"), "L"),
        "LA": (rgb.convert("LA"), "LA"),
        "RGBA": (rgb.convert("RGBA"), "RGBA"),
        "P": (rgb.convert("P"), "RGB"),
        "1": (rgb.convert("1"), "L"),
    }
    pt = rgb.convert("P")
    pt.info["transparency"] = 0
    cases["P+transparency"] = (pt, "RGBA")
    for name, (img, mode) in cases.items():
        out = upscale(img, 3, w)
        assert isinstance(out, Image.Image), name
        assert out.size == (336, 288), name
        assert out.mode == mode, name


def test_alpha_is_bicubic(photo: np.ndarray) -> None:
    rgba = np.dstack([photo, np.tile(np.linspace(0, 255, photo.shape[1]).astype(np.uint8),
                                     (photo.shape[0], 1))])
    out = upscale(rgba, 2.0, identity_weights())
    a = imresize(torch.from_numpy(rgba[:, :, 3].astype(np.float64) / 255), scale=2.0).clamp(0, 1)
    a8 = np.floor(a.numpy() * 255 + 0.5).astype(np.uint8)
    assert out.shape == (192, 224, 4)
    assert np.abs(out[:, :, 3].astype(int) - a8.astype(int)).max() <= 1  # float32 vs float64 rounding


def test_numpy_and_tensor_kinds(photo: np.ndarray) -> None:
    w = identity_weights()
    gray = photo[:, :, 0]
    assert upscale(gray, 2, w).shape == (192, 224)
    g16 = gray.astype(np.uint16) * 257
    o16 = upscale(g16, 2, w)
    assert o16.dtype == np.uint16 and o16.shape == (192, 224)
    # 16-bit precision is kept: values are not multiples of 257 only.
    assert np.any(o16 % 257 != 0)
    f = photo.astype(np.float32) / 255
    of = upscale(f, 2.5, w)
    assert of.dtype == np.float32 and of.shape == (240, 280, 3)
    assert of.min() >= 0 and of.max() <= 1
    t = torch.from_numpy(f).permute(2, 0, 1)
    ot = upscale(t, 2, w)
    assert isinstance(ot, torch.Tensor) and ot.shape == (3, 192, 224)
    ob = upscale(t[None].repeat(2, 1, 1, 1), 2, w)
    assert ob.shape == (2, 3, 192, 224)
    assert torch.allclose(ob[1], ot)
    with pytest.raises(ConfigError):
        upscale(np.zeros((4, 4, 5), np.uint8), 2, w)
    with pytest.raises(ConfigError):
        upscale([1, 2, 3], 2, w)  # type: ignore[call-overload]
    # A uint8 tensor is 0..255, as a uint8 array is (it used to be clipped to 0..1: a black image).
    t8 = torch.from_numpy(photo).permute(2, 0, 1)
    o8 = upscale(t8, 2, w)
    assert o8.dtype == torch.uint8 and torch.equal(o8.permute(1, 2, 0), torch.from_numpy(upscale(photo, 2, w)))
    with pytest.raises(ConfigError, match="tensor dtype"):
        upscale(t8.to(torch.int32), 2, w)
    bad = f.copy()
    bad[3, 4, 1] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        upscale(bad, 2, w)
    with pytest.raises(ConfigError, match="no pixels"):
        upscale(np.zeros((0, 10), np.uint8), 2, w)


def test_scale_mismatch_refused(photo: np.ndarray) -> None:
    w = random_weights(scales=(3.0,))
    with pytest.raises(WeightsError, match="trained for x3"):
        upscale(photo, 2, w)
    assert upscale(photo, 2, w, strict_scale=False).shape == (192, 224, 3)


def test_tiny_images() -> None:
    w = identity_weights()
    for h, wd in [(1, 1), (1, 5), (2, 3)]:
        out = upscale(np.full((h, wd, 3), 128, np.uint8), 2, w)
        assert out.shape == (2 * h, 2 * wd, 3)
        assert np.abs(out.astype(int) - 128).max() <= 1


def test_check_device() -> None:
    from srcnn.infer import check_device

    assert check_device("CPU") == "cpu" and check_device(torch.device("cpu")) == "cpu"
    assert check_device("auto") == ("cuda" if torch.cuda.is_available() else
                                    "mps" if torch.backends.mps.is_available() else "cpu")
    for bad, needle in (("foo", "unknown device 'foo'; use cpu, cuda, cuda:N, mps or auto"),
                        ("meta", "srcnn runs on cpu, cuda or mps"),
                        ("cuda:99", "cuda:99")):
        with pytest.raises(ConfigError, match=re.escape(needle)):
            check_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="use cpu"):
            check_device("cuda")


def test_resolve_model_padding() -> None:
    """The weights' own padding by default (a valid-trained network runs symmetric), or the one asked for, on the
    same network, device and dtype."""
    w = random_weights("9-1-5")
    assert resolve_model(w, 3.0)[0].config.padding == w.config.padding == "replicate"
    net = w.build(padding="valid").double()
    got, mode = resolve_model(net, 3.0)
    assert (got.config.padding, got.conv1.weight.dtype, mode) == ("symmetric", torch.float64, "y")
    assert torch.equal(got.conv3.weight, net.conv3.weight)
    for pad in ("zeros", "symmetric", "replicate"):
        assert resolve_model(w, 3.0, padding=pad)[0].config.padding == pad
        assert resolve_model(net, 3.0, padding=pad)[0].config.padding == pad
    with pytest.raises(ConfigError, match="padding must be one of"):
        resolve_model(w, 3.0, padding="valid")
