"""Self-ensemble: the model averaged over the 8 flips and rotations of its input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srcnn.cli import main
from srcnn.engine import Engine
from srcnn.evaluate import evaluate_image
from srcnn.images import Picture
from srcnn.infer import run_model, upscale, upscale_picture
from srcnn.model import SRCNN
from srcnn.symmetry import DIHEDRAL_ORDER, dihedral, dihedral_inverse

from .conftest import random_weights


def _reference(model: SRCNN, x: torch.Tensor) -> torch.Tensor:
    """The definition, with the plain module: mean over k of T_k^-1 model(T_k x)."""
    with torch.no_grad():
        return sum(dihedral_inverse(model(dihedral(x, k)), k) for k in range(DIHEDRAL_ORDER)) / DIHEDRAL_ORDER


def _symmetrised(model: SRCNN) -> SRCNN:
    """The same network with every kernel averaged over the 8 symmetries: an equivariant network."""
    with torch.no_grad():
        for conv in (model.conv1, model.conv2, model.conv3):
            w = conv.weight
            w.copy_(sum(dihedral(w, k) for k in range(DIHEDRAL_ORDER)) / DIHEDRAL_ORDER)
    return model


def test_dihedral_inverse_undoes_each_view() -> None:
    x = torch.arange(12.0).reshape(1, 3, 4)
    views = [dihedral(x, k) for k in range(DIHEDRAL_ORDER)]
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8  # eight different views
    assert [tuple(v.shape[-2:]) for v in views] == [(3, 4), (4, 3)] * 4  # odd k swap height and width
    for k, v in enumerate(views):
        assert torch.equal(dihedral_inverse(v, k), x)


@pytest.mark.parametrize("tile", [None, 16, 40])
@pytest.mark.parametrize(("arch", "padding"), [("9-1-5", "replicate"), ("9-5-5", "replicate"), ("9-5-5", "symmetric")])
def test_self_ensemble_is_the_mean_over_the_eight_views(arch: str, padding: str, tile: int | None) -> None:
    model = random_weights(arch, seed=3).build(padding=padding)
    x = torch.rand(1, 1, 37, 53)  # not square: odd views are transposed
    ens = run_model(model, x, tile=tile, self_ensemble=True)
    assert ens.shape == x.shape
    assert (ens - _reference(model, x)).abs().max().item() <= 1e-5
    # Not vacuous: the random network is far from symmetric.
    assert (ens - run_model(model, x, tile=tile)).abs().max().item() > 1e-3


def test_self_ensemble_of_a_symmetric_network_is_the_network() -> None:
    model = _symmetrised(random_weights("9-5-5", seed=5).build())
    x = torch.rand(1, 1, 30, 41)
    single = run_model(model, x, tile=None)
    assert (run_model(model, x, tile=None, self_ensemble=True) - single).abs().max().item() <= 1e-5


def test_ensemble_rows_need_the_context() -> None:
    engine = Engine(random_weights("9-1-5").build())
    x = torch.rand(1, 1, 20, 30)
    r = engine.radius
    # Rows 10..14 of a 40-row image from a slice that starts at row 8: less than the radius above.
    with pytest.raises(ValueError, match="context"):
        engine.run_rows(x, (10, 14), row0=8, height=40, self_ensemble=True)
    # With the context the slice gives the whole-image result on those rows.
    full = torch.rand(1, 1, 40, 30)
    part = engine.run_rows(full[..., 10 - r:14 + r, :], (10, 14), row0=10 - r, height=40, self_ensemble=True)
    whole = engine(full, self_ensemble=True)
    assert (part - whole[..., 10:14, :]).abs().max().item() <= 1e-5


def test_stripes_and_tiles_keep_the_ensemble_exact(photo: np.ndarray) -> None:
    model = random_weights("9-5-5", seed=2).build()
    pic = Picture(photo.astype(np.float32) / 255, "RGB", 8)
    whole = upscale_picture(pic, 2.5, model, tile=None, self_ensemble=True).data
    # 24-pixel tiles and a budget small enough to force several stripes.
    striped = upscale_picture(pic, 2.5, model, tile=24, max_memory=2 << 20, self_ensemble=True).data
    assert whole.shape == (240, 280, 3)
    assert np.abs(whole - striped).max() <= 1e-5
    plain = upscale_picture(pic, 2.5, model, tile=None).data
    assert np.abs(whole - plain).max() > 1e-3


def test_self_ensemble_raises_psnr_on_a_real_photo() -> None:
    from srcnn.demo import sample_photo
    from srcnn.pretrained import load_shipped

    model = load_shipped("srcnn-915-x3").build(scale=3)
    gt = sample_photo("astronaut")
    one = evaluate_image(gt, 3, model)
    ens = evaluate_image(gt, 3, model, self_ensemble=True)
    assert one["psnr_bicubic"] == ens["psnr_bicubic"]
    # Measured: 30.603 -> 30.702 dB (+0.10).
    assert ens["psnr_model"] > one["psnr_model"] + 0.05, (one, ens)  # type: ignore[operator]


def test_cli_upscale_and_evaluate_self_ensemble(tmp_path: Path, photo: np.ndarray,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    assert main(["upscale", str(src), "--scale", "3", "-o", str(tmp_path / "one.png"), "-q"]) == 0
    assert main(["upscale", str(src), "--scale", "3", "-o", str(tmp_path / "ens.png"), "-q",
                 "--self-ensemble"]) == 0
    ens = np.asarray(Image.open(tmp_path / "ens.png"))
    one = np.asarray(Image.open(tmp_path / "one.png"))
    api = upscale(photo, 3, self_ensemble=True)
    assert ens.shape == one.shape == (288, 336, 3)
    assert np.array_equal(ens, api)  # the CLI's stripes give the API's result
    assert np.abs(ens.astype(int) - one.astype(int)).max() > 0
    # evaluate on a one-image "set" (a folder): the JSON records the option, the numbers move.
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(photo).save(folder / "p.png")
    docs = []
    for extra in ([], ["--self-ensemble"]):
        out = tmp_path / f"r{len(extra)}.json"
        assert main(["evaluate", "-w", "srcnn-915-x3", "--sets", str(folder), "-q", "--json", str(out),
                     *extra]) == 0
        docs.append(json.loads(out.read_text()))
    assert [d["self_ensemble"] for d in docs] == [False, True]
    p = [d["sets"][0]["images"][0] for d in docs]
    assert p[0]["psnr_bicubic"] == p[1]["psnr_bicubic"] and p[0]["psnr_model"] != p[1]["psnr_model"]
    assert "self-ensemble" in capsys.readouterr().out


def test_progress_reports_output_rows(tmp_path: Path, photo: np.ndarray, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    model = random_weights("9-1-5").build()
    pic = Picture(photo.astype(np.float32) / 255, "RGB", 8)
    calls: list[tuple[int, int]] = []
    upscale_picture(pic, 3, model, tile=40, max_memory=1 << 20, progress=lambda d, t: calls.append((d, t)))
    done = [d for d, _ in calls]
    assert len(calls) > 2 and done == sorted(done) and calls[-1] == (288, 288)  # stripe by stripe
    # A single image on the command line: a bar in output rows on stderr; -q hides it. (The bar waits
    # cli.ROWS_BAR_DELAY seconds before it shows, and this job may take less: shown at once here.)
    monkeypatch.setattr("srcnn.cli.ROWS_BAR_DELAY", 0.0)
    monkeypatch.setattr("srcnn.cli._stderr_is_terminal", lambda: True)  # bars are drawn on terminals only
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    capsys.readouterr()
    assert main(["upscale", str(src), "-s", "3", "-o", str(tmp_path / "o.png"), "--max-memory", "1M"]) == 0
    cap = capsys.readouterr()
    assert "288/288" in cap.err and "row" in cap.err and "->" in cap.out
    assert main(["upscale", str(src), "-s", "3", "-o", str(tmp_path / "q.png"), "--max-memory", "1M", "-q"]) == 0
    assert capsys.readouterr().err == ""
