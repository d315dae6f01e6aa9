"""Shipped models: every one loads, its hash is checked, and it beats bicubic on a real photo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from srcnn.cli import main
from srcnn.color import round_uint8, y_uint8
from srcnn.errors import WeightsError
from srcnn.metrics import modcrop, psnr, shave
from srcnn.pretrained import REGISTRY, best_for_scale, get_info, load_shipped, model_path
from srcnn.resize import imresize


def test_registry_not_empty() -> None:
    assert REGISTRY, "at least one shipped model"
    assert best_for_scale(3.0) is not None


@pytest.mark.parametrize("info", REGISTRY, ids=lambda m: m.name)
def test_shipped_model_loads_and_beats_bicubic(info: object) -> None:
    from srcnn.demo import sample_photo
    from srcnn.evaluate import scale_modulo
    from srcnn.infer import run_model

    w = load_shipped(info.name)  # type: ignore[attr-defined]
    assert w.config.name == info.arch  # type: ignore[attr-defined]
    for scale in info.scales:  # type: ignore[attr-defined]
        model = w.build(scale=scale)  # a scale-conditioned model folds its weights for the scale
        gt = y_uint8(modcrop(sample_photo("astronaut"), scale_modulo(scale)))
        x = torch.from_numpy(gt.astype(np.float32) / 255)
        bic = imresize(imresize(x, scale=1 / scale), size=gt.shape)
        out = run_model(model, bic[None, None])[0, 0]
        b = int(np.ceil(scale))
        p_bic = psnr(shave(gt, b), shave(round_uint8(bic * 255), b))
        p_sr = psnr(shave(gt, b), shave(round_uint8(out * 255), b))
        assert p_sr > p_bic + 0.5, (info.name, scale, p_bic, p_sr)  # type: ignore[attr-defined]


@pytest.mark.parametrize("k", [2, 3, 4])
def test_per_scale_models_continue_the_multiscale_knots(k: int) -> None:
    # srcnn-955-ms's knots x2 and x3 are srcnn-955-x2 and -x3 at 10 minutes; the shipped srcnn-955-x2 trained 16.3
    # minutes more, -x3 27.5 (README, Pretrained models). So x2 stays close to the knot at its own scale (measured
    # 11.6 % relative L2) and at least twice as far from the multi-scale network a quarter scale away (41 % or more);
    # x3 moved far in its last 11.2 minutes (measured 43 %), yet its own knot stays the nearest. The x4 knot
    # (srcnn-955-x4 at 26.3 minutes, fine-tuned twice towards the per-scale model's self-ensemble) and srcnn-955-x4
    # (the 37.5-minute model distilled into itself three times) went on from one ancestor on two paths: measured 34 %
    # apart (21 % before srcnn-955-x4's third round, 27 % after the first round of each), 69 % from the knot at x3.75.
    ms, per = load_shipped("srcnn-955-ms"), load_shipped(f"srcnn-955-x{k}")
    plain = per.plain_state()
    norm = sum(float((t**2).sum()) for t in plain.values()) ** 0.5

    def rel(scale: float) -> float:
        folded = ms.plain_state(scale)
        return sum(float(((folded[n] - t) ** 2).sum()) for n, t in plain.items()) ** 0.5 / norm

    near = rel(float(k))
    if k == 2:
        assert 0.05 < near < 0.13, near
    elif k == 3:
        assert 0.3 < near < 0.5, (k, near)
    else:
        assert 0.2 < near < 0.45, (k, near)
    for s in (k - 0.25, k + 0.25):
        if 1.5 <= s <= 4:
            assert rel(s) > max(0.25, (2 if k == 2 else 1.15) * near), (k, s)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_multiscale_model_within_005_db_of_the_per_scale_model(k: int) -> None:
    # Done-means 2 of #4, on the registry's Set5 figures (which test_shipped_model_results_hold_on_set5 measures):
    # the multi-scale model is within 0.05 dB of the per-scale model (measured: 0.024 / 0.049 / 0.036 at x2 / 3 / 4).
    ms_claim = get_info("srcnn-955-ms").results()[float(k)]["set5_psnr"]
    per_claim = get_info(f"srcnn-955-x{k}").results()[float(k)]["set5_psnr"]
    assert abs(ms_claim - per_claim) <= 0.05, (k, ms_claim, per_claim)


def test_corrupted_shipped_file_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    info = REGISTRY[0]
    bad = tmp_path / info.file
    raw = bytearray(model_path(info).read_bytes())
    raw[-3] ^= 0x01
    bad.write_bytes(bytes(raw))
    monkeypatch.setattr("srcnn.pretrained.model_path", lambda _info: bad)
    with pytest.raises(WeightsError, match="corrupt"):
        load_shipped(info.name)


def test_demo_and_default_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.png"
    assert main(["demo", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    from PIL import Image

    with Image.open(out) as im:
        assert im.size[0] > 3 * 500
    bic = float(text.split("bicubic")[1].split("dB")[0])
    sr = float(text.split("SRCNN")[1].split("dB")[0])
    assert sr > bic + 0.5
    # upscale without --weights picks the shipped model for the scale.
    from PIL import Image as PImage
    from skimage import data

    src = tmp_path / "small.png"
    PImage.fromarray(data.astronaut()[::4, ::4]).save(src)
    assert main(["upscale", str(src), "--scale", "3", "-o", str(tmp_path / "big.png"), "-q"]) == 0
    with PImage.open(tmp_path / "big.png") as im:
        assert im.size == (384, 384)
    assert main(["models"]) == 0
    assert REGISTRY[0].name in capsys.readouterr().out


@pytest.mark.parametrize("info", REGISTRY, ids=lambda m: m.name)
def test_shipped_model_results_hold_on_set5(info: object, data_root: Path) -> None:
    """The Set5 PSNR and SSIM that the registry (and so `srcnn models` and the README) claim for each
    shipped model and scale are what `srcnn evaluate` measures, to the thousandth (PSNR) and ten-thousandth (SSIM)."""
    from srcnn.evaluate import EvalConfig, evaluate

    w = load_shipped(info.name)  # type: ignore[attr-defined]
    claims = info.results()  # type: ignore[attr-defined]
    assert set(claims) == set(info.scales)  # type: ignore[attr-defined]
    for scale, claim in claims.items():
        (res,) = evaluate(EvalConfig(sets=("Set5",), scale=scale, data_root=str(data_root)), w.build(scale=scale))
        assert len(res.images) == 5
        assert res.mean("psnr_model") == pytest.approx(claim["set5_psnr"], abs=0.00051), (info.name, scale)
        assert res.mean("ssim_model") == pytest.approx(claim["set5_ssim"], abs=0.00051), (info.name, scale)


def test_border_padding_of_the_shipped_models(data_root: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Our models run with symmetric padding (README, "Border handling"); `--padding replicate` gives the authors'
    per-layer padding back. Set14's foreman, whose frame has a dark line along the border, shows the difference
    most: 0.45 dB at x2 with srcnn-955-x2 (measured 37.03 against 36.59; bicubic 34.14)."""
    assert all(load_shipped(m.name).config.padding == "symmetric" for m in REGISTRY)
    one = tmp_path / "foreman"
    one.mkdir()
    shutil.copy(data_root / "Set14" / "foreman.bmp", one / "foreman.bmp")
    psnr = {}
    for pad in ("symmetric", "replicate", None):
        out = tmp_path / f"{pad}.json"
        argv = ["evaluate", "-w", "srcnn-955-x2", "--sets", str(one), "-q", "--json", str(out)]
        assert main(argv + (["--padding", pad] if pad else [])) == 0, capsys.readouterr().err
        doc = json.loads(out.read_text())
        assert doc["padding"] == (pad or "symmetric")
        psnr[pad] = doc["sets"][0]["mean"]["psnr_model"]
    assert psnr[None] == psnr["symmetric"]
    assert psnr["symmetric"] - psnr["replicate"] == pytest.approx(0.446, abs=0.01)
    assert main(["evaluate", "--padding", "zeros", "--sets", "Set5"]) == 2  # the shipped table takes no --padding
    assert "--padding applies with --weights" in capsys.readouterr().err
