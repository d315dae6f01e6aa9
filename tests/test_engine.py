"""The fast inference engine (srcnn.engine): exact against the reference network, exact tiling,
stripe-wise resize and colour, bounded-memory upscale path, ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srcnn.cli import main
from srcnn.color import rgb_to_ycbcr, ycbcr_to_rgb
from srcnn.engine import Engine, check_onnx, export_onnx, tile_for_memory
from srcnn.errors import ConfigError
from srcnn.images import Picture, to_pil
from srcnn.infer import convert_in_stripes, run_model, upscale_picture
from srcnn.model import SRCNN, config_for
from srcnn.resize import imresize, imresize_rows, source_rows
from srcnn.weights import save_weights

from .conftest import identity_weights, random_weights

TOL = 1e-5


def _model(arch: str, channels: int = 1, padding: str = "replicate", seed: int = 0) -> SRCNN:
    torch.manual_seed(seed)
    m = SRCNN(config_for(arch, channels=channels, padding=padding))  # type: ignore[arg-type]
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(0.5)
    return m.eval()


def _ref(model: SRCNN, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("arch", ["9-1-5", "9-3-5", "9-5-5"])
@pytest.mark.parametrize("channels", [1, 3])
def test_engine_equals_reference(arch: str, channels: int) -> None:
    model = _model(arch, channels)
    eng = Engine(model)
    g = torch.Generator().manual_seed(1)
    for h, w in [(1, 1), (1, 9), (9, 1), (2, 3), (17, 29), (40, 33)]:
        x = torch.rand(2, channels, h, w, generator=g)
        ref = _ref(model, x)
        assert (eng(x) - ref).abs().max().item() <= TOL, (h, w)
        assert (eng(x, tile=7) - ref).abs().max().item() <= TOL, (h, w)


@pytest.mark.parametrize("arch", ["9-1-5", "9-5-5"])
@pytest.mark.parametrize("padding", ["zeros", "symmetric"])
def test_other_padding_models(arch: str, padding: str) -> None:
    model = _model(arch, 1, padding=padding)
    g = torch.Generator().manual_seed(3)
    for h, w in [(23, 31), (1, 1), (3, 5), (9, 2)]:  # symmetric: images smaller than the radius too
        x = torch.rand(1, 1, h, w, generator=g)
        ref = _ref(model, x)
        for tile in (None, 1, 5, 12):
            assert (Engine(model)(x, tile=tile) - ref).abs().max().item() <= TOL, (h, w, tile)


def test_trained_weights_and_identity() -> None:
    model = random_weights("9-5-5").build()
    x = torch.rand(1, 1, 31, 45)
    assert (run_model(model, x, tile=None) - _ref(model, x)).abs().max().item() <= TOL
    ident = identity_weights().build()
    assert (run_model(ident, x, tile=8) - x).abs().max().item() <= TOL


@pytest.mark.parametrize("arch", ["9-1-5", "9-5-5"])
def test_tiled_equals_untiled(arch: str) -> None:
    model = _model(arch)
    eng = Engine(model)
    x = torch.rand(1, 1, 61, 77)
    full = eng(x)
    for tile in (3, 6, 8, 16, 25, (9, 40), (64, 5)):
        assert (eng(x, tile=tile) - full).abs().max().item() <= TOL, tile
    small = x[:, :, :9, :13]
    assert (eng(small, tile=1) - eng(small)).abs().max().item() <= TOL


@pytest.mark.parametrize("padding", ["replicate", "symmetric"])
def test_run_rows_on_a_stripe(padding: str) -> None:
    model = _model("9-5-5", padding=padding)
    eng = Engine(model)
    x = torch.rand(1, 1, 50, 37)
    full = eng(x)
    r = model.config.radius
    for a, b in [(0, 10), (10, 30), (30, 50), (0, 50), (20, 21)]:
        lo, hi = max(0, a - r), min(50, b + r)
        part = eng.run_rows(x[:, :, lo:hi], (a, b), row0=lo, height=50, tile=(8, 16))
        assert (part - full[:, :, a:b]).abs().max().item() <= TOL
    with pytest.raises(ValueError):
        eng.run_rows(x[:, :, 5:20], (10, 20), row0=5, height=50)  # too little context above


@pytest.mark.parametrize("arch", ["9-1-5", "9-3-5", "9-5-5"])
@pytest.mark.parametrize("padding", ["replicate", "zeros", "symmetric"])
def test_conv_backend_equals_reference(arch: str, padding: str) -> None:
    """The library-convolution backend (the default off the CPU), forced here on the CPU: exact at
    image borders, for tiles smaller than the radius, and on stripes."""
    model = _model(arch, 3 if arch == "9-3-5" else 1, padding=padding)
    eng = Engine(model, backend="conv")
    assert eng.backend == "conv"
    g = torch.Generator().manual_seed(2)
    for h, w in [(1, 1), (2, 9), (17, 29), (61, 40), (100, 90)]:
        x = torch.rand(1, model.config.channels, h, w, generator=g)
        ref = _ref(model, x)
        tiles = (None, 1, 5, (7, 30), 16) if h * w < 5000 else (None, 16, 40)  # 40: interior tiles too
        for tile in tiles:
            assert (eng(x, tile=tile) - ref).abs().max().item() <= TOL, (h, w, tile)
    x = torch.rand(1, model.config.channels, 50, 37, generator=g)
    r, full = model.config.radius, _ref(model, x)
    for a, b in [(0, 10), (10, 30), (30, 50)]:
        lo, hi = max(0, a - r), min(50, b + r)
        part = eng.run_rows(x[:, :, lo:hi], (a, b), row0=lo, height=50, tile=(8, 16))
        assert (part - full[:, :, a:b]).abs().max().item() <= TOL


def test_backend_choice() -> None:
    model = _model("9-1-5")
    assert Engine(model).backend == "gemm"  # on the CPU the GEMM formulation wins (README)
    with pytest.raises(ConfigError, match="backend"):
        Engine(model, backend="fastest")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("arch", ["9-1-5", "9-5-5"])
def test_cuda_engine_equals_reference(arch: str) -> None:
    model = _model(arch).cuda()
    eng = Engine(model)
    assert eng.backend == "conv"
    x = torch.rand(1, 1, 301, 257, device="cuda")
    ref = _ref(model, x)
    for tile in (None, 64):
        assert (eng(x, tile=tile) - ref).abs().max().item() <= 1e-4


def test_tile_for_memory_grows_with_budget() -> None:
    m = _model("9-1-5")
    small, big = tile_for_memory(m, 16 << 20), tile_for_memory(m, 256 << 20)
    assert 16 <= small < big
    assert tile_for_memory(m, 1) == 16


@pytest.mark.parametrize(("h", "w", "scale", "size"), [
    (20, 30, 3.0, (60, 90)), (17, 9, 2.5, (43, 23)), (1, 1, 3.0, (3, 3)),
    (10, 12, (2.0, 3.0), None), (10, 12, (3.0, 2.0), None), (31, 7, None, (50, 20)),
])
def test_resize_stripes_equal_whole(h: int, w: int, scale: object, size: tuple[int, int] | None) -> None:
    x = torch.rand(3, h, w, dtype=torch.float64)
    full = imresize(x, scale=scale, size=size)  # type: ignore[arg-type]
    oh = full.shape[-2]
    for step in (1, 4, max(1, oh // 3), oh):
        for a in range(0, oh, step):
            b = min(oh, a + step)
            lo, hi = source_rows(h, w, (a, b), scale, size)  # type: ignore[arg-type]
            part = imresize_rows(x[:, lo:hi], (a, b), scale, size, row0=lo, height=h)  # type: ignore[arg-type]
            assert (part - full[:, a:b]).abs().max().item() <= 1e-12


def test_colour_stripes_equal_whole() -> None:
    x = torch.rand(3, 37, 11)
    for fn in (rgb_to_ycbcr, ycbcr_to_rgb):
        whole = fn(x)
        for rows in (1, 5, 36, 37, 100):
            assert (convert_in_stripes(fn, x, rows=rows) - whole).abs().max().item() <= TOL


def _old_path(pic: Picture, scale: float, model: SRCNN) -> np.ndarray:
    """The upscale path done on whole images (no stripes, no tiles), as a reference."""
    planes = torch.from_numpy(np.ascontiguousarray(pic.color_planes.transpose(2, 0, 1)))
    h, w = planes.shape[1:]
    oh, ow = int(np.floor(h * scale + 0.5)), int(np.floor(w * scale + 0.5))
    big = imresize(rgb_to_ycbcr(planes), scale=scale, size=(oh, ow))
    y = _ref(model, big[None, :1])[0]
    out = ycbcr_to_rgb(torch.cat([y, big[1:]])).clamp(0, 1)
    if pic.has_alpha:
        a = torch.from_numpy(np.ascontiguousarray(pic.alpha.transpose(2, 0, 1)))  # type: ignore[union-attr]
        out = torch.cat([out, imresize(a, scale=scale, size=(oh, ow)).clamp(0, 1)])
    arr: np.ndarray = out.permute(1, 2, 0).numpy()
    return arr


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_striped_upscale_equals_whole_image(mode: str) -> None:
    rng = np.random.default_rng(0)
    pic = Picture(rng.random((23, 31, len(mode)), dtype=np.float32), mode)
    model = random_weights("9-1-5").build()
    ref = _old_path(pic, 3.0, model)
    for tile, mem in [(None, None), (16, None), (7, None), (None, 1 << 20)]:
        res = upscale_picture(pic, 3.0, model, tile=tile, max_memory=mem)
        assert res.data.shape == ref.shape
        assert np.abs(res.data - ref).max() <= TOL, (tile, mem)
        img = upscale_picture(pic, 3.0, model, tile=tile, max_memory=mem, as_pil=True)
        assert np.array_equal(np.asarray(img), np.asarray(to_pil(res)))


def test_as_pil_sixteen_bit_gray() -> None:
    rng = np.random.default_rng(1)
    pic = Picture(rng.random((9, 14, 1), dtype=np.float32), "L", 16)
    model = random_weights("9-1-5").build()
    img = upscale_picture(pic, 2.0, model, tile=5, as_pil=True)
    ref = to_pil(upscale_picture(pic, 2.0, model, tile=None))
    assert img.mode == ref.mode and np.array_equal(np.asarray(img), np.asarray(ref))


def test_cli_upscale_tile_and_memory_options(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             photo: np.ndarray, weights_file: Path) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    outs = []
    for extra in (["--tile", "0"], ["--tile", "17", "--threads", "1"], ["--max-memory", "1M"], []):
        out = tmp_path / f"o{len(outs)}.png"
        code = main(["upscale", str(src), "-s", "3", "-w", str(weights_file), "-o", str(out), "-q", *extra])
        assert code == 0, capsys.readouterr().err
        outs.append(np.asarray(Image.open(out)))
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])
    assert main(["upscale", str(src), "-s", "3", "-w", str(weights_file), "-o", str(tmp_path / "x.png"),
                 "--max-memory", "lots"]) == 2


@pytest.mark.parametrize("arch", ["9-1-5", "9-5-5"])
@pytest.mark.parametrize("padding", ["replicate", "symmetric"])
def test_onnx_export_equals_engine(arch: str, padding: str) -> None:
    pytest.importorskip("onnx", reason="ONNX export needs the onnx package (pip install onnx)")
    pytest.importorskip("onnxruntime", reason="checking the export needs onnxruntime (pip install onnxruntime)")
    model = _model(arch, padding=padding)
    diff = check_onnx(export_onnx(model), model, sizes=((37, 53), (96, 64), (1, 1), (3, 5)))
    assert diff is not None and diff <= 1e-4


def test_cli_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="ONNX export needs the onnx package (pip install onnx)")
    ort = pytest.importorskip("onnxruntime", reason="checking the export needs onnxruntime")
    wf = tmp_path / "w.safetensors"
    save_weights(random_weights("9-5-5"), wf)
    out = tmp_path / "m.onnx"
    code = main(["export", "--weights", str(wf), "--format", "onnx", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "onnxruntime output equals" in captured.out
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.rand(1, 1, 21, 34)
    got = sess.run(None, {"input": x.numpy()})[0]
    ref = Engine(random_weights("9-5-5").build())(x).numpy()
    assert np.abs(got - ref).max() <= 1e-4
    # No clobbering without --overwrite; a listed failure leaves no file behind.
    stamp = out.read_bytes()
    assert main(["export", "-w", str(wf), "-o", str(out)]) == 1
    assert out.read_bytes() == stamp
    assert main(["export", "-w", str(wf), "-o", str(out), "--overwrite", "--no-check"]) == 0
    assert main(["export", "-w", str(tmp_path / "nope.safetensors"), "-o", str(tmp_path / "n.onnx")]) == 1
    assert not (tmp_path / "n.onnx").exists()


def test_cli_upscale_padding_option(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    photo: np.ndarray, weights_file: Path) -> None:
    """--padding changes only the pixels within the receptive-field radius of the border."""
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    outs = {}
    for pad in ("replicate", "symmetric", "zeros"):
        out = tmp_path / f"{pad}.png"
        code = main(["upscale", str(src), "-s", "3", "-w", str(weights_file), "-o", str(out), "-q", "--padding", pad])
        assert code == 0, capsys.readouterr().err
        outs[pad] = np.asarray(Image.open(out)).astype(int)
    r = random_weights("9-1-5").config.radius
    for pad in ("symmetric", "zeros"):
        assert np.array_equal(outs[pad][r:-r, r:-r], outs["replicate"][r:-r, r:-r]), pad
        assert np.abs(outs[pad] - outs["replicate"]).max() > 0, pad
    assert main(["upscale", str(src), "-s", "2", "-o", str(tmp_path / "x.png"), "--padding", "mirror"]) == 2
    assert "invalid choice: 'mirror'" in capsys.readouterr().err
