"""The Python API's contracts under odd input, found by an exploratory run (session 15): each case
once crashed the interpreter, gave a wrong answer silently, or raised something other than srcnn's
own errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import srcnn
from srcnn.engine import Engine
from srcnn.errors import ConfigError, WeightsError
from srcnn.evaluate import EvalConfig, load_ground_truth, scale_modulo
from srcnn.metrics import modcrop, psnr, shave, ssim
from srcnn.resize import imresize
from srcnn.train import TrainConfig


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numpy's own note on np.matrix
def test_numpy_subclasses_are_plain_arrays() -> None:
    """np.matrix (always 2-D) once crashed the interpreter inside the channel indexing."""
    a = np.random.default_rng(0).integers(0, 256, (24, 30), dtype=np.uint8)
    got = srcnn.upscale(np.matrix(a), 3, weights="srcnn-915-x3")
    assert type(got) is np.ndarray
    assert np.array_equal(got, srcnn.upscale(a, 3, weights="srcnn-915-x3"))


def test_engine_refuses_a_bad_chunk_or_thread_count() -> None:
    m = srcnn.srcnn("9-1-5").eval()
    x = torch.rand(1, 1, 37, 53)
    for kw in ({"chunk": -5}, {"chunk": 0}, {"threads": 0}, {"chunk": True}):
        with pytest.raises(ConfigError):
            Engine(m, **kw)  # type: ignore[arg-type]
    assert (Engine(m, chunk=7)(x) - m(x)).abs().max().item() < 1e-5


def test_multiscale_weights_only_inside_their_range() -> None:
    w = srcnn.load_weights("srcnn-955-ms")
    for k in (1.5, 2.5, np.float32(3.0), 4):
        assert w.build(scale=k).conv1.weight.isfinite().all()  # type: ignore[arg-type]
    for k in (1.25, 5, -2, float("nan"), float("inf")):
        with pytest.raises(WeightsError, match=r"serve x1\.5 to x4"):
            w.build(scale=k)


def test_metrics_refuse_rgb_that_is_not_uint8() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert psnr(rgb, rgb) == float("inf")
    for bad in (rgb.astype(np.float64) + 0.6, rgb / 255.0, rgb.astype(np.uint16) * 257):
        with pytest.raises(ConfigError, match="must be uint8"):
            psnr(bad, rgb)
        with pytest.raises(ConfigError, match="must be uint8"):
            ssim(bad, rgb)
    with pytest.raises(ConfigError, match=r"\(H, W, 3\)"):
        psnr(np.dstack([rgb, rgb[:, :, :1]]), np.dstack([rgb, rgb[:, :, :1]]))
    g = rgb[:, :, 0]
    assert psnr(g.astype(np.float64) + 0.6, g) == pytest.approx(20 * np.log10(255 / 0.6))  # gray: exact
    # the other misuses are ConfigErrors too (ValueErrors: `except ValueError` still catches them), never a
    # silent figure: a 0..1 float against 0..255 integers scored a few dB
    for call, words in [(lambda: psnr(g / 255.0, g), "multiply the float one by 255"),
                        (lambda: ssim(g / 255.0, g), "multiply the float one by 255"),
                        (lambda: psnr(g, g[:8]), "shape mismatch"), (lambda: psnr(g[:0], g[:0]), "empty"),
                        (lambda: psnr(g, g, peak=0), "peak"), (lambda: ssim(g, g, window=0), "window"),
                        (lambda: modcrop(g, 0), "modulo"), (lambda: shave(g, 8), "too small to shave"),
                        (lambda: imresize(torch.zeros(3, 0, 5), 0.5), "empty")]:
        with pytest.raises(ConfigError, match=words):
            call()
    with pytest.raises(TypeError, match=r"torch\.from_numpy"):
        imresize(g.astype(np.float32), 0.5)  # type: ignore[arg-type]


def test_16_bit_gray_ground_truth_is_scaled_not_clipped(tmp_path: Path) -> None:
    v = (np.arange(4096).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(v).save(tmp_path / "g16.png")
    gt = load_ground_truth(tmp_path / "g16.png")
    assert gt.dtype == np.uint8
    assert np.array_equal(gt, np.floor(v / 257 + 0.5).astype(np.uint8))  # was 255 on 99.6 % of pixels


def test_upscale_leaves_the_callers_module_alone() -> None:
    m = srcnn.srcnn("9-1-5", padding="symmetric").train()
    img = np.zeros((20, 20), np.uint8)
    srcnn.upscale(img, 3, weights=m)
    assert m.training  # was switched to eval mode


def test_unbatched_input_in_every_padding() -> None:
    x = torch.rand(1, 20, 24)
    for p in ("symmetric", "replicate", "zeros", "valid"):
        m = srcnn.srcnn("9-5-5", padding=p).eval()
        assert torch.equal(m(x), m(x[None])[0]), p


def test_numeric_scalars_and_bad_values_for_scales() -> None:
    x = torch.rand(1, 20, 20)
    for k in (np.float32(0.5), np.int64(2), torch.tensor(0.5)):
        assert srcnn.imresize(x, scale=k).shape == srcnn.imresize(x, scale=float(k)).shape
    with pytest.raises(ValueError, match="scale must be a number"):
        srcnn.imresize(x, scale="a")  # type: ignore[arg-type]
    for bad_size in ((5,), 20, (None, 20), "ab", (2.7, 3), (True, 3)):  # were TypeErrors, a ValueError of int(),
        with pytest.raises(ConfigError, match=r"size must be \(height, width\)"):  # or 2.7 rows truncated to 2
            srcnn.imresize(x, size=bad_size)  # type: ignore[arg-type]
    assert srcnn.imresize(x, size=(np.int64(10), 30.0)).shape == (1, 10, 30)  # type: ignore[arg-type]
    assert scale_modulo(np.float32(3.0)) == 3  # type: ignore[arg-type]
    for bad in (0, float("nan"), -3):
        with pytest.raises(ConfigError):
            EvalConfig(scale=bad)
    with pytest.raises(ConfigError, match="tuple of set names"):
        EvalConfig(sets="Set5")  # type: ignore[arg-type]
    for bad in (0, 1.0, float("nan"), -3, "3", 17):
        with pytest.raises(ConfigError, match="training scales must be numbers above 1"):
            TrainConfig(scales=(bad,))  # type: ignore[arg-type]


def test_upscale_refuses_unusable_inputs_with_config_errors(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "z.png")
    with Image.open(tmp_path / "z.png") as closed:
        pass  # never loaded, and its file is closed now
    for image, needle in [(Image.new("RGB", (0, 5)), "no pixels"), (torch.zeros(0, 3, 8, 8), "batch is empty"),
                          (closed, "file is closed"), (torch.zeros(3, 8, 8).to_sparse(), "dense tensor")]:
        with pytest.raises(ConfigError, match=needle):
            srcnn.upscale(image, 2, weights="srcnn-915-x2")
    img = np.zeros((20, 20), np.uint8)
    for tile in ((8, 16), -5, True, 2.5):
        with pytest.raises(ConfigError, match="tile must be"):
            srcnn.upscale(img, 2, weights="srcnn-915-x2", tile=tile)  # type: ignore[arg-type]
    ref = srcnn.upscale(img, 2, weights="srcnn-915-x2", tile=None)
    assert np.array_equal(srcnn.upscale(img, 2, weights="srcnn-915-x2", tile=np.int64(8)), ref)  # type: ignore[arg-type]


def test_colour_tensors_must_be_float_and_scale_hints_keep_their_digits() -> None:
    from srcnn.color import rgb_to_ycbcr
    from srcnn.pretrained import no_model_message

    with pytest.raises(ValueError, match="float tensor in"):
        rgb_to_ycbcr(torch.full((3, 1, 1), 255, dtype=torch.uint8))  # gave [219.06, 0.502, 0.502]
    assert rgb_to_ycbcr(torch.ones(3, 1, 1)).flatten().tolist() == pytest.approx([235 / 255, 128 / 255, 128 / 255])
    assert "srcnn train --scale 1.0000001" in no_model_message(1.0000001)  # not "--scale 1"


def test_config_refuses_booleans_for_sizes() -> None:
    from srcnn.model import SRCNNConfig

    for kw in ({"f1": True}, {"channels": True}, {"n2": False}):
        with pytest.raises(ConfigError):
            SRCNNConfig(**kw)  # type: ignore[arg-type]


def test_upscale_takes_uint16_tensors_and_refuses_empty_and_meta_ones() -> None:
    import srcnn

    g16 = (np.random.default_rng(2).random((1, 20, 24)) * 65535).astype(np.uint16)
    from_tensor = srcnn.upscale(torch.from_numpy(g16), 2, "srcnn-915-x2")
    from_array = srcnn.upscale(g16[0], 2, "srcnn-915-x2")
    assert from_tensor.dtype == torch.uint16 and tuple(from_tensor.shape) == (1, 40, 48)
    assert np.array_equal(from_tensor.numpy()[0], from_array)  # as a uint16 numpy array is upscaled
    with pytest.raises(ConfigError, match=r"no pixels \(shape \(3, 0, 5\)\)"):  # the shape as given
        srcnn.upscale(torch.zeros(3, 0, 5), 2)
    with pytest.raises(ConfigError, match="'meta' device"):
        srcnn.upscale(torch.empty(3, 8, 8, device="meta"), 2)


def test_a_relative_xdg_folder_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the XDG spec: a relative $XDG_CACHE_HOME / $XDG_DATA_HOME is invalid (it would move with the working folder)
    from srcnn.data import cache_dir
    from srcnn.datasets import default_data_root

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "rel/cache")
    monkeypatch.setenv("XDG_DATA_HOME", "rel/data")
    assert cache_dir() == tmp_path / ".cache" / "srcnn"
    assert default_data_root() == tmp_path / ".local" / "share" / "srcnn" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" / "srcnn"


def test_api_errors_say_what_holds(tmp_path: Path) -> None:
    a = np.zeros((8, 8), np.uint8)
    # past a scale-conditioned model's range, strict_scale=False is not offered (it would extrapolate the weights)
    for strict in (True, False):
        with pytest.raises(srcnn.WeightsError, match=r"serve x1.5 to x4 \(scale-conditioned\), not x5") as e:
            srcnn.upscale(a, 5, "srcnn-955-ms", strict_scale=strict)
        assert "strict_scale" not in str(e.value)
    with pytest.raises(srcnn.WeightsError, match="is a folder, not a weights file"):
        srcnn.load_weights(tmp_path)  # was "unknown weights file type"
    assert issubclass(srcnn.TrainingError, srcnn.SRCNNError) and "TrainingError" in srcnn.__all__
