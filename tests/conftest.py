"""Shared fixtures. Real-data tests need ``SRCNN_DATA`` (CI sets it to ``../shared/data``); the
authors' weights are looked for in ``SRCNN_AUTHORS_WEIGHTS`` or ``$SRCNN_DATA/../reference/
srcnn_official``. Without them those tests are skipped with the reason shown by ``pytest -ra``."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from srcnn.model import SRCNN, config_for
from srcnn.weights import Weights, save_weights


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Caches (training pairs) go to a temporary folder, never the user's cache or a data root."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


def _data_root() -> Path | None:
    v = os.environ.get("SRCNN_DATA")
    return Path(v) if v and Path(v).is_dir() else None


def _authors_dir() -> Path | None:
    v = os.environ.get("SRCNN_AUTHORS_WEIGHTS")
    if v and Path(v).is_dir():
        return Path(v)
    root = _data_root()
    if root is not None:
        cand = root.parent / "reference" / "srcnn_official"
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if root is None:
        pytest.skip("real data: set SRCNN_DATA to a folder holding Set5/Set14/T91 (CI does)")
    return root


@pytest.fixture(scope="session")
def authors_dir() -> Path:
    d = _authors_dir()
    if d is None:
        pytest.skip("authors' weights: set SRCNN_AUTHORS_WEIGHTS or SRCNN_DATA "
                    "(with ../reference/srcnn_official beside it)")
    return d


def random_weights(arch: str = "9-1-5", seed: int = 0, scales: tuple[float, ...] = (3.0,)) -> Weights:
    """Random but plausible weights: small filters, so outputs stay near the input."""
    torch.manual_seed(seed)
    m = SRCNN(config_for(arch))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(0.5)
    return Weights(config=m.config, state_dict=dict(m.state_dict()), scales=scales,
                   provenance="random test weights", name=f"random-{arch}")


def identity_weights(scales: tuple[float, ...] = (2.0, 2.5, 3.0)) -> Weights:
    """A 9-1-5 network that passes its (non-negative) input through unchanged."""
    m = SRCNN(config_for("9-1-5"))
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.conv1.weight[0, 0, 4, 4] = 1.0
        m.conv2.weight[0, 0, 0, 0] = 1.0
        m.conv3.weight[0, 0, 2, 2] = 1.0
    return Weights(config=m.config, state_dict=dict(m.state_dict()), scales=scales, name="identity")


@pytest.fixture()
def weights_file(tmp_path: Path) -> Path:
    p = tmp_path / "w.safetensors"
    save_weights(random_weights(), p)
    return p


@pytest.fixture()
def photo() -> np.ndarray:
    """A real photo (RGB uint8) that scikit-image ships, cropped small for speed."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:196, 150:262])


def sigterm_when(argv: list[str], ready: Callable[[], bool], timeout: float = 120.0) -> tuple[int, str]:
    """Run ``python -m srcnn *argv`` (one thread), send it SIGTERM once ``ready()`` holds, and return
    its exit code and stderr. Fails the test if it ends or ``timeout`` passes first."""
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "srcnn", *argv], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + timeout
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"srcnn {argv[0]} ended before the signal: {proc.communicate()[1][-500:]}")
            if time.time() > deadline:
                pytest.fail(f"srcnn {argv[0]} was not ready within {timeout:g} s")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def load_tool(name: str, folder: str = "tools") -> Any:
    """The module of ``tools/NAME.py`` (the tools are scripts, not part of the package), or of another folder's
    script (``benchmarks``)."""
    module = f"_srcnn_{folder}_{name}"  # registered, as dataclasses need their module in sys.modules
    spec = importlib.util.spec_from_file_location(module, Path(__file__).parents[1] / folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    sys.modules[module] = tool
    spec.loader.exec_module(tool)
    return tool
