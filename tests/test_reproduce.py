"""The published numbers, reproduced with the authors' released models (real data needed).

Paper figures: ECCV 2014 Table 1 (9-1-5, 91 images) and TPAMI 2016 Tables (9-5-5 ImageNet,
9-1-5 / 9-3-5 ImageNet at x3). Tolerance: +-0.01 dB on mean Y-PSNR, +-0.001 on SSIM.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from srcnn.evaluate import EvalConfig, SetResult, evaluate
from srcnn.weights import load_mat

# (model folder, scale) -> {set: (bicubic, srcnn)}
EXPECTED: dict[tuple[str, int], dict[str, tuple[float | None, float]]] = {
    ("9-1-5(91 images)", 2): {"Set5": (33.66, 36.34), "Set14": (30.23, 32.18)},
    ("9-1-5(91 images)", 3): {"Set5": (30.39, 32.39)},
    ("9-1-5(91 images)", 4): {"Set5": (28.42, 30.08)},
    ("9-1-5(ImageNet)", 3): {"Set5": (None, 32.52)},
    ("9-3-5(ImageNet)", 3): {"Set5": (None, 32.65)},
    ("9-5-5(ImageNet)", 2): {"Set5": (None, 36.66), "Set14": (None, 32.45)},
    ("9-5-5(ImageNet)", 3): {"Set5": (None, 32.75), "Set14": (27.54, 29.30)},
    ("9-5-5(ImageNet)", 4): {"Set5": (None, 30.48), "Set14": (26.00, 27.50)},
}


@cache
def _run(authors: str, data: str, folder: str, scale: int, sets: tuple[str, ...]) -> dict[str, SetResult]:
    w = load_mat(Path(authors) / folder / f"x{scale}.mat")
    res = evaluate(EvalConfig(sets=sets, scale=float(scale), data_root=data), w.build())
    return {r.name: r for r in res}


@pytest.mark.parametrize(("folder", "scale"), sorted(EXPECTED))
def test_paper_table(authors_dir: Path, data_root: Path, folder: str, scale: int) -> None:
    exp = EXPECTED[(folder, scale)]
    got = _run(str(authors_dir), str(data_root), folder, scale, tuple(sorted(exp)))
    for set_name, (bic, sr) in exp.items():
        r = got[set_name]
        assert len(r.images) == {"Set5": 5, "Set14": 14}[set_name]
        if bic is not None:
            assert r.mean("psnr_bicubic") == pytest.approx(bic, abs=0.01), (set_name, "bicubic")
        assert r.mean("psnr_model") == pytest.approx(sr, abs=0.01), (set_name, folder, scale)


def test_ssim_set5_x3(authors_dir: Path, data_root: Path) -> None:
    r = _run(str(authors_dir), str(data_root), "9-5-5(ImageNet)", 3, ("Set14", "Set5"))["Set5"]
    assert r.mean("ssim_bicubic") == pytest.approx(0.8682, abs=0.001)
    assert r.mean("ssim_model") == pytest.approx(0.9090, abs=0.001)
    # The per-image figures of the authors' demo (butterfly is demo_SR.m's default).
    per = {i.name: i.psnr_model for i in r.images}
    assert per["butterfly_GT"] == pytest.approx(27.95, abs=0.01)
    assert per["baby_GT"] == pytest.approx(35.25, abs=0.01)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("arch", ["9-1-5", "9-5-5"])
def test_authors_figures_in_the_registry(authors_dir: Path, data_root: Path, arch: str, scale: int) -> None:
    """``srcnn evaluate``'s table compares with ``pretrained.AUTHORS``: those are these measurements."""
    from srcnn.pretrained import AUTHORS

    label, table = AUTHORS[arch]
    folder = {"9-1-5": "9-1-5(91 images)", "9-5-5": "9-5-5(ImageNet)"}[arch]
    assert label.replace(" (", "(") == folder
    got = _run(str(authors_dir), str(data_root), folder, scale, ("Set14", "Set5"))
    for name in ("Set5", "Set14"):
        key = name.lower()
        assert got[name].mean("psnr_model") == pytest.approx(table[float(scale)][f"{key}_psnr"], abs=0.0005)
        assert got[name].mean("ssim_model") == pytest.approx(table[float(scale)][f"{key}_ssim"], abs=0.00005)
