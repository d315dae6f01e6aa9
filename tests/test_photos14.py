"""tools/photos14.py: the 14 scikit-image photos of the README's after-the-fact checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import load_tool


def test_photos14_writes_the_fourteen_photos_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from skimage import data

    tool = load_tool("photos14")
    out = tmp_path / "p"
    assert tool.main([str(out)]) == 0
    files = sorted(out.iterdir())
    assert [f.stem for f in files] == sorted(tool.PHOTOS) and len(files) == 14
    assert all(f.suffix == ".png" for f in files)  # no temporary file left
    with Image.open(out / "retina.png") as im:
        assert im.size == (1411, 1411) and im.mode == "RGB"
    with Image.open(out / "camera.png") as im:
        assert np.array_equal(np.asarray(im), data.camera())  # lossless
    mtime = (out / "moon.png").stat().st_mtime_ns
    assert tool.main([str(out)]) == 0  # a second run keeps what is there
    assert (out / "moon.png").stat().st_mtime_ns == mtime
    assert "14 photos" in capsys.readouterr().out


def test_photos14_refuses_a_file_as_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    assert load_tool("photos14").main([str(f / "sub")]) == 1
    assert "cannot create" in capsys.readouterr().err
