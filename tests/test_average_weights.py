"""tools/average_weights.py: weighted means of weights of one architecture; refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srcnn.weights import load_weights

from .conftest import load_tool


def test_average_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("average_weights")
    out = tmp_path / "avg.safetensors"
    assert tool.main([str(out), "3:srcnn-915-x3", "srcnn-915-x4"]) == 0
    a, b, avg = load_weights("srcnn-915-x3"), load_weights("srcnn-915-x4"), load_weights(out)
    for k in a.state_dict:
        assert torch.allclose(avg.state_dict[k], 0.75 * a.state_dict[k] + 0.25 * b.state_dict[k], atol=1e-7)
    assert avg.config == a.config and avg.scales == a.scales
    assert avg.provenance == "weight average: 0.75 x srcnn-915-x3 + 0.25 x srcnn-915-x4"
    assert tool.main([str(out), "srcnn-915-x3"]) == 1  # never overwritten
    assert "exists" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    assert tool.main([str(bad), "srcnn-915-x3", "srcnn-955-x3"]) == 1
    assert "different architectures" in capsys.readouterr().err
    assert tool.main([str(bad), "0:srcnn-915-x3"]) == 1
    assert "positive" in capsys.readouterr().err
    assert tool.main([str(bad), str(tmp_path / "missing.safetensors")]) == 1
    assert not bad.exists()
