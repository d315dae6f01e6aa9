"""Comparison and filter figures (srcnn.figures) and the `srcnn compare` / `srcnn filters` commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srcnn.cli import main
from srcnn.color import round_uint8, y_uint8
from srcnn.errors import ConfigError
from srcnn.figures import (
    GAP,
    MARGIN,
    TEXT_H,
    compare,
    compare_figure,
    comparison_size,
    filters_figure,
    panel_width,
    pick_crop,
    render_comparison,
)
from srcnn.infer import upscale
from srcnn.metrics import modcrop, psnr, shave
from srcnn.model import srcnn
from srcnn.pretrained import best_for_scale
from srcnn.resize import imresize
from srcnn.weights import save_weights

from .conftest import identity_weights, random_weights


def _bicubic_reference(gt: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The low-resolution uint8 image and the bicubic uint8 result, computed here step by step."""
    x = torch.from_numpy(gt.transpose(2, 0, 1).astype(np.float32) / 255.0)
    lr = round_uint8(imresize(x, scale=1.0 / scale) * 255.0)
    up = imresize(torch.from_numpy(lr.astype(np.float32) / 255.0), scale=scale, size=gt.shape[:2])
    return lr.transpose(1, 2, 0), round_uint8(up.clamp(0, 1) * 255.0).transpose(1, 2, 0)


def test_compare_psnr_equals_metrics(photo: np.ndarray) -> None:
    w = random_weights("9-1-5", seed=3)
    c = compare(photo, 3, [w])
    gt = modcrop(photo, 3)
    assert c.ground_truth.shape == gt.shape == (96, 111, 3)
    lr, bic = _bicubic_reference(gt, 3)
    np.testing.assert_array_equal(c.low_res, lr)
    np.testing.assert_array_equal(c.columns[0].image, bic)
    # The SRCNN column is what the public upscale API makes of the uint8 low-resolution image.
    np.testing.assert_array_equal(c.columns[1].image, upscale(lr, 3, w))
    b = 3  # ceil(scale)
    y_gt = shave(y_uint8(gt), b)
    assert c.border == b
    assert c.table == [("bicubic", psnr(y_gt, shave(y_uint8(bic), b))),
                       (w.name, psnr(y_gt, shave(y_uint8(c.columns[1].image), b)))]
    assert 20 < c.table[0][1] < 40


def test_identity_model_matches_bicubic(photo: np.ndarray) -> None:
    c = compare(photo, 3, [identity_weights()])
    # Only rounding differs between bicubic in RGB and bicubic of Y through an identity network.
    assert abs(c.table[1][1] - c.table[0][1]) < 0.1
    assert np.abs(c.columns[1].image.astype(int) - c.columns[0].image.astype(int)).max() <= 2


def test_figure_size_and_columns(photo: np.ndarray) -> None:
    w1, w2 = random_weights("9-1-5", seed=1), random_weights("9-1-5", seed=2)
    fig1, table1 = compare_figure(photo, 3, [w1])
    fig2, table2 = compare_figure(photo, 3, [w1, w2], crop=(10, 20, 24, 24))
    h, w = 96, 111
    pw = panel_width(w)
    assert pw == 200  # small images are drawn at the minimum panel width
    ph = round(h * pw / w)
    assert fig1.size == comparison_size(h, w, compare(photo, 3, [w1]).crop, 3)
    assert fig2.size == (2 * MARGIN + 4 * pw + 3 * GAP, 2 * MARGIN + 2 * TEXT_H + 2 * GAP + ph + pw + TEXT_H)
    assert fig2.width - fig1.width == pw + GAP
    assert [r[0] for r in table2] == ["bicubic", w1.name, f"{w2.name} (2)"]  # same names kept apart
    assert table2[:2] == table1[:2]


def test_zoom_panel_is_the_crop(photo: np.ndarray) -> None:
    crop = (30, 40, 20, 25)
    c = compare(photo, 2, [random_weights(scales=(2.0,))], crop=crop)
    fig = render_comparison(c)
    h, w = c.ground_truth.shape[:2]
    pw = panel_width(w)
    ph, zh = round(h * pw / w), round(25 * pw / 20)
    top = MARGIN + TEXT_H + GAP + TEXT_H + ph + GAP
    for i, col in enumerate([c.ground_truth, c.columns[0].image, c.columns[1].image]):
        left = MARGIN + i * (pw + GAP)
        got = np.asarray(fig)[top + 1:top + zh - 1, left + 1:left + pw - 1]  # inside the red outline
        want = np.asarray(Image.fromarray(col[40:65, 30:50]).resize((pw, zh), Image.Resampling.NEAREST))
        np.testing.assert_array_equal(got, want[1:-1, 1:-1])


def test_pick_crop_finds_the_largest_difference() -> None:
    diff = np.zeros((60, 80))
    diff[30:38, 41:49] = 1.0
    diff[5:9, 5:9] = 3.0  # larger values but a smaller total, and inside the border
    assert pick_crop(diff, (8, 8), border=3) == (41, 30, 8, 8)
    assert pick_crop(np.zeros((20, 20)), (8, 8), border=3) == (3, 3, 8, 8)


def test_auto_crop_lies_where_srcnn_differs_from_bicubic(photo: np.ndarray) -> None:
    c = compare(photo, 3, [random_weights(seed=5)])
    x, y, cw, ch = c.crop
    assert (cw, ch) == (24, 24)  # a quarter of the shorter side
    d = np.abs(y_uint8(c.columns[1].image).astype(float) - y_uint8(c.columns[0].image).astype(float))
    inside = d[y:y + ch, x:x + cw].sum()
    assert inside >= d[3:3 + ch, 3:3 + cw].sum() and inside > 0


def test_grayscale_and_fractional_scale(photo: np.ndarray) -> None:
    gray = y_uint8(photo)
    c = compare(gray, 2.5, [identity_weights()])
    assert c.ground_truth.shape == (95, 110)  # multiples of 5 for x2.5
    assert c.low_res.shape == (38, 44)
    assert c.columns[1].image.shape == (95, 110)
    assert c.border == 3


def test_compare_refuses_bad_input(photo: np.ndarray) -> None:
    w = random_weights()
    with pytest.raises(ConfigError, match="does not fit"):
        compare(photo, 3, [w], crop=(100, 0, 20, 20))
    with pytest.raises(ConfigError, match="scale"):
        compare(photo, 0.5, [w])
    with pytest.raises(ConfigError, match="uint8"):
        compare(photo.astype(np.float32), 3, [w])


def test_filters_grid_915_identity() -> None:
    fig = filters_figure(identity_weights())
    grid = 8 * 9 * 6 + 7 * 2  # 8 columns of 9x9 tiles shown 6x, 2 px gaps
    assert fig.size == (2 * MARGIN + grid, 2 * MARGIN + TEXT_H + grid)
    a = np.asarray(fig)
    top = MARGIN + TEXT_H
    tile0 = a[top:top + 54, MARGIN:MARGIN + 54, 0]
    assert (tile0[24:30, 24:30] == 255).all()  # the single tap in the middle, scaled to white
    assert tile0.sum() == 36 * 255
    assert (a[top:top + 54, MARGIN + 56:MARGIN + 110] == 128).all()  # an all-zero filter: gray
    assert (a[top:top + 54, MARGIN + 54:MARGIN + 56] == 255).all()  # the gap


def test_filters_grid_955_has_second_layer() -> None:
    w = random_weights("9-5-5")
    fig = filters_figure(w)
    g1 = 8 * 54 + 7 * 2
    g2_w, g2_h = 64 * 15 + 63 * 1, 8 * 15 + 7 * 1  # first 8 outputs x 64 inputs, 5x5 shown 3x
    assert fig.size == (2 * MARGIN + max(g1, g2_w), 2 * MARGIN + TEXT_H + g1 + GAP + TEXT_H + g2_h)
    # 9-1-5 has no second-layer figure; a colour (3-channel) model draws colour tiles.
    small = filters_figure(srcnn("9-1-5", channels=3), columns=16, zoom=2)
    assert small.size == (2 * MARGIN + 16 * 18 + 15 * 2, 2 * MARGIN + TEXT_H + 4 * 18 + 3 * 2)
    tiles = np.asarray(small)[MARGIN + TEXT_H:, MARGIN:MARGIN + 16 * 18]
    assert (tiles[..., 0] != tiles[..., 1]).any()


def test_cli_compare_and_filters(tmp_path: Path, photo: np.ndarray, weights_file: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "gt.png"
    Image.fromarray(photo).save(img)
    out = tmp_path / "fig.png"
    w2 = tmp_path / "w2.safetensors"
    save_weights(random_weights("9-5-5", seed=4), w2)
    assert main(["compare", str(img), "--scale", "3", "--weights", str(weights_file), "--weights",
                 str(w2), "--crop", "5,6,30,20", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "bicubic" in text and "random-9-5-5" in text and "zoom: x=5, y=6, 30x20" in text
    assert Image.open(out).size == comparison_size(96, 111, (5, 6, 30, 20), 4)
    assert main(["compare", str(img), "--scale", "3", "-w", str(weights_file), "-o", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["compare", str(img), "-s", "3", "-w", str(weights_file), "--crop", "1,2", "-o",
                 str(tmp_path / "c.png")]) == 2
    assert "X,Y,W,H" in capsys.readouterr().err
    # a grey photo is read back as a read-only array: compared without torch's warning about it (torch warns once
    # per process, so in a fresh one)
    gray = tmp_path / "gray.png"
    Image.fromarray(np.ascontiguousarray(photo[:, :111, 0])).save(gray)  # 96x111: modcrop at x3 copies nothing
    run = subprocess.run([sys.executable, "-m", "srcnn", "compare", str(gray), "-s", "3", "-w", str(weights_file),
                          "-o", str(tmp_path / "g.png"), "-q"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "Warning" not in run.stderr, run.stderr
    fig = tmp_path / "filters.png"
    assert main(["filters", str(w2), "-o", str(fig)]) == 0
    assert Image.open(fig).size == filters_figure(random_weights("9-5-5", seed=4)).size


def test_cli_compare_without_weights_says_pass_weights(tmp_path: Path, photo: np.ndarray,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    if best_for_scale(7.0) is not None:  # pragma: no cover - depends on the shipped models
        pytest.skip("a shipped model serves x7")
    img = tmp_path / "gt.png"
    Image.fromarray(photo).save(img)
    assert main(["compare", str(img), "-s", "7", "-o", str(tmp_path / "f.png")]) == 1
    assert "pass --weights" in capsys.readouterr().err
    assert not (tmp_path / "f.png").exists()
