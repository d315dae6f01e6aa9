"""tools/val15.py: the selection rule's score (15 BSDS200 images) and its verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import load_tool


def test_val15_scores_the_shipped_models_as_the_readme_says(data_root: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("val15")
    # The shipped x4 models, with their own symmetric padding: srcnn-955-x4 since 2026-11-27's fourth GPU session (its
    # third round of self-distillation) 0.0051 dB above the weights before it (28.6086), srcnn-915-x4 since the
    # second 0.0054 dB above its (28.4425) (README "Pretrained models"); with the authors' replicate padding a
    # little less.
    for padding, figures in ((["--padding", "replicate"], (28.6106, 28.4465)), ([], (28.6136, 28.4479))):
        assert tool.main(["--data-root", str(data_root), "srcnn-955-x4=srcnn-915-x4", "--json", *padding]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["images"][0] == "100075.png" and out["images"][-1] == "113016.png" and len(out["images"]) == 15
        r = out["results"][0]["scales"]["4"]
        assert (r["shipped"], r["candidate"]) == pytest.approx(figures, abs=2e-4), padding
        assert out["results"][0]["verdict"] == "keep"


def test_val15_verdicts_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from skimage import data

    tool = load_tool("val15")
    (tmp_path / "BSDS200").mkdir()
    for i, p in enumerate([data.astronaut(), data.coffee(), data.chelsea()]):
        Image.fromarray(np.ascontiguousarray(p[:120, :150, :3])).save(tmp_path / "BSDS200" / f"{i}.png")
    root = ["--data-root", str(tmp_path)]
    assert tool.main([*root, "srcnn-915-x3=srcnn-915-x3", "--json"]) == 0  # no gain: kept
    r = json.loads(capsys.readouterr().out)["results"][0]
    assert r["verdict"] == "keep" and r["scales"]["3"]["candidate"] == r["scales"]["3"]["shipped"]
    assert tool.main([*root, "srcnn-915-x3=srcnn-955-x3", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)["results"][0]
    assert (r["verdict"] == "ship") == (r["scales"]["3"]["candidate"] >= r["scales"]["3"]["shipped"] + 0.003)
    assert tool.main([*root, "srcnn-915-x3=srcnn-915-x3", "--min-gain", "0"]) == 0
    assert "-> ship" in capsys.readouterr().out
    assert tool.main([*root, "srcnn-915-x3", "-s", "3", "srcnn-955-x3"]) == 0  # weights after an option too
    assert [line.split(":")[0].split()[-1] for line in capsys.readouterr().out.splitlines()[1:]] == [
        "srcnn-915-x3", "srcnn-955-x3"]
    assert tool.main([*root, "srcnn-915-x3=srcnn-915-x4"]) == 1  # scored at x3, and x4 weights do not serve it
    assert "does not serve x3" in capsys.readouterr().err
    assert tool.main(["--data-root", str(tmp_path / "empty"), "srcnn-915-x3"]) == 1
    assert "BSDS200" in capsys.readouterr().err
