"""hubconf.py: torch.hub entry points for every shipped model (loaded here from the local tree)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from srcnn.errors import SRCNNError
from srcnn.pretrained import REGISTRY, load_shipped

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_model_has_an_entry_point() -> None:
    spec = importlib.util.spec_from_file_location("srcnn_hubconf", ROOT / "hubconf.py")
    assert spec is not None and spec.loader is not None
    hub = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hub)
    public = sorted(n for n in dir(hub) if callable(getattr(hub, n)) and not n.startswith("_"))
    assert public == sorted(["srcnn"] + [m.name.replace("-", "_") for m in REGISTRY])  # what torch.hub.list shows


def test_hub_load_gives_the_shipped_network() -> None:
    net = torch.hub.load(str(ROOT), "srcnn_915_x3", source="local")
    ref = load_shipped("srcnn-915-x3").build()
    assert net.config == ref.config and net.config.padding == "symmetric" and not net.training
    x = torch.rand(1, 1, 40, 52)
    with torch.no_grad():
        assert torch.equal(net(x), ref(x))
    ms = torch.hub.load(str(ROOT), "srcnn", name="srcnn-955-ms", scale=2.5, source="local")
    ref_ms = load_shipped("srcnn-955-ms").build(scale=2.5)
    for k, v in ref_ms.state_dict().items():
        assert torch.equal(ms.state_dict()[k], v)
    with pytest.raises(ValueError, match="trained for x3, not x2") as e:  # a ConfigError: a ValueError too
        torch.hub.load(str(ROOT), "srcnn_915_x3", scale=2, source="local")
    assert isinstance(e.value, SRCNNError)
    with pytest.raises(SRCNNError, match="scale must be a number, got 'abc'"):  # was a TypeError deep inside
        torch.hub.load(str(ROOT), "srcnn_915_x3", scale="abc", source="local")
    with pytest.raises(SRCNNError, match="not xabc"):
        torch.hub.load(str(ROOT), "srcnn_955_ms", scale="abc", source="local")
