"""tools/refit_last_layer.py: the least-squares conv3 is the optimum of the network's own forward pass."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from srcnn.data import make_pair
from srcnn.errors import SRCNNError
from srcnn.evaluate import load_ground_truth
from srcnn.weights import load_weights, save_weights

from .conftest import load_tool


def _photos(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for name, img in (("a.png", skdata.astronaut()[100:160, 180:250]), ("b.png", skdata.camera()[200:254, 240:300]),
                      ("c.png", skdata.chelsea()[60:117, 120:183])):
        Image.fromarray(img).save(folder / name)
        paths.append(folder / name)
    return paths


def _mse_and_grad(w, files: list[Path], scale: float,  # type: ignore[no-untyped-def]
                  mean_psnr: bool = False) -> tuple[float, float]:
    """MSE over the shaved pixels by the network's forward pass itself, and the norm of its gradient in conv3; with
    ``mean_psnr``, minus the mean of the images' PSNRs (dB) and its gradient instead."""
    net = w.build()
    b = math.ceil(scale)
    err, n = torch.zeros((), dtype=torch.float64), 0
    loss = torch.zeros((), dtype=torch.float64)
    for f in files:
        p = make_pair(load_ground_truth(f), scale, "y", f.name)
        out = net(torch.from_numpy(p.bicubic)[None])[0, 0, b:-b, b:-b]
        gt = torch.from_numpy(p.gt)[0, b:-b, b:-b]
        sq = ((out.double() - gt.double()) ** 2).sum()
        err = err + sq
        n += gt.numel()
        loss = loss + 10 * torch.log10(sq / gt.numel()) / len(files)
    if not mean_psnr:
        loss = err / n
    gw, gb = torch.autograd.grad(loss, [net.conv3.weight, net.conv3.bias])
    return float(loss.detach()), float(torch.cat([gw.reshape(-1), gb]).norm())


@pytest.mark.parametrize("padding", ["symmetric", "replicate"])
def test_refit_is_the_least_squares_optimum_of_the_forward_pass(tmp_path: Path, padding: str) -> None:
    tool = load_tool("refit_last_layer")
    files = _photos(tmp_path / "set")
    w = load_weights("srcnn-915-x3")
    w = replace(w, config=w.config.with_padding(padding))  # type: ignore[arg-type]
    src = tmp_path / "in.safetensors"
    save_weights(w, src)
    out = tmp_path / "refit.safetensors"
    assert tool.main([str(src), str(out), "--scale", "3", "--train-set", str(tmp_path / "set")]) == 0
    r = load_weights(out)
    for k in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"):
        assert torch.equal(r.state_dict[k], w.state_dict[k]), k
    assert not torch.equal(r.state_dict["conv3.weight"], w.state_dict["conv3.weight"])
    assert r.config.padding == padding and "least squares" in r.provenance
    before, g_before = _mse_and_grad(w, files, 3)
    after, g_after = _mse_and_grad(r, files, 3)
    # fitted to 3 small images, so it must fit them better, and sit where the gradient of the real forward pass
    # (other code than the tool's features and unfold) in conv3 vanishes
    assert after < before * 0.99, (before, after)
    assert g_after < 1e-3 * g_before, (g_before, g_after)


def test_refit_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("refit_last_layer")
    _photos(tmp_path / "set")
    out = tmp_path / "o.safetensors"
    with pytest.raises(SystemExit) as e:
        tool.main(["srcnn-915-x3", str(out), "--scale", "3", "--train-set", str(tmp_path / "set"), "--fraction", "0"])
    assert e.value.code == 2
    assert tool.main(["srcnn-955-ms", str(out), "--scale", "3", "--train-set", str(tmp_path / "set")]) == 1
    assert "single-scale" in capsys.readouterr().err
    out.write_bytes(b"keep")
    assert tool.main(["srcnn-915-x3", str(out), "--scale", "3", "--train-set", str(tmp_path / "set")]) == 1
    assert out.read_bytes() == b"keep"  # never overwritten
    assert "exists" in capsys.readouterr().err


def test_sampled_fit_and_reported_errors(tmp_path: Path) -> None:
    tool = load_tool("refit_last_layer")
    files = _photos(tmp_path / "set")
    w = load_weights("srcnn-915-x3")
    full, fit = tool.refit(w, 3, files)
    half, fit_half = tool.refit(w, 3, files, fraction=0.5, seed=1)
    before, after, n = fit.mse_before, fit.mse_after, fit.pixels
    after_half, n_half = fit_half.mse_after, fit_half.pixels
    assert 0.4 * n < n_half < 0.6 * n
    assert after < before and after_half < before
    # the full fit is the optimum over all the pixels, so the half-sample fit can only be worse there (with 801
    # unknowns and ~5k pixels it overfits its half); the MSE the tool reports is the forward pass's
    assert np.isclose(_mse_and_grad(full, files, 3)[0], after, rtol=1e-4)
    assert _mse_and_grad(half, files, 3)[0] > after


def test_refit_leaves_out_the_val15_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the 15 images tools/val15.py scores (the first 15 BSDS200 files by name) are not fitted on, so val15 stays fair
    tool = load_tool("refit_last_layer")
    (tmp_path / "BSDS200").mkdir()
    photo = skdata.astronaut()
    for i in range(17):
        crop = np.ascontiguousarray(photo[i * 20:i * 20 + 40, 100:140])
        Image.fromarray(crop).save(tmp_path / "BSDS200" / f"{i:02d}.png")
    args = ["srcnn-915-x3", "--scale", "3", "--train-set", "BSDS200", "--data-root", str(tmp_path)]
    assert tool.main([args[0], str(tmp_path / "a.safetensors"), *args[1:]]) == 0
    assert capsys.readouterr().out.startswith("2 images")
    assert tool.main([args[0], str(tmp_path / "b.safetensors"), *args[1:], "--keep-val15"]) == 0
    assert capsys.readouterr().out.startswith("17 images")


def test_mean_psnr_refit_is_the_optimum_of_the_mean_of_the_images_psnrs(tmp_path: Path) -> None:
    # --objective mean-psnr: where the gradient of minus the mean per-image PSNR (by the forward pass) vanishes;
    # it must beat the pooled fit on that figure and lose to it on the pooled MSE (each is the other's optimum)
    tool = load_tool("refit_last_layer")
    files = _photos(tmp_path / "set")
    w = load_weights("srcnn-915-x3")
    pooled, fit_pooled = tool.refit(w, 3, files)
    per_image, fit = tool.refit(w, 3, files, objective="mean-psnr")
    assert fit_pooled.steps == 1 and 1 < fit.steps < 100
    loss_w, g_w = _mse_and_grad(w, files, 3, mean_psnr=True)
    loss_pooled, _ = _mse_and_grad(pooled, files, 3, mean_psnr=True)
    loss, g = _mse_and_grad(per_image, files, 3, mean_psnr=True)
    assert loss < loss_pooled < loss_w
    assert g < 1e-3 * g_w, (g_w, g)
    # the gains the tool reports are the forward pass's (mean PSNR in dB; pooled MSE)
    assert np.isclose(fit.mean_psnr_gain, loss_w - loss, atol=2e-4)
    assert np.isclose(fit_pooled.mean_psnr_gain, loss_w - loss_pooled, atol=2e-4)
    assert fit.mse_after > fit_pooled.mse_after and np.isclose(fit.mse_before, fit_pooled.mse_before)
    assert "mean per-image PSNR" in per_image.provenance
    with pytest.raises(SRCNNError, match="objective"):
        tool.refit(w, 3, files, objective="psnr")
