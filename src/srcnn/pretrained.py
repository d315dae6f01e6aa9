"""Shipped pretrained weights: a registry in the manner of torchvision's weights enums.

Each entry names a ``.safetensors`` file under ``srcnn/models/`` with its sha256 (of the whole
file, checked on every load), architecture, scales, recipe and measured results. Files are part of
the package: nothing is ever downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import WeightsError


@dataclass(frozen=True)
class ModelInfo:
    """One shipped model."""

    name: str
    file: str
    sha256: str
    arch: str
    scales: tuple[float, ...]
    channels_mode: str = "y"
    recipe: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


# Filled by training runs with tools/ship_model.py; the numbers are `srcnn evaluate` (the papers'
# protocol) on the test sets, never used to choose the weights (the last step of a run is shipped).
# Order: best first per scale.
REGISTRY: tuple[ModelInfo, ...] = (
    ModelInfo(
        name="srcnn-915-x3",
        file="srcnn-915-x3.safetensors",
        sha256="0fc13f99fe990e40773d573c1d5027c9e75c247be2c08f48d385ab63f25a10dc",
        arch="9-1-5",
        scales=(3.0,),
        channels_mode="y",
        recipe="srcnn train --arch 9-1-5 --scale 3 --recipe fast --max-steps 5000 --max-minutes 20 "
        "(T91 only; stopped by the 20-minute budget at step 4555, batch 128, 2 CPU cores)",
        meta={"set5_psnr": 32.27, "set14_psnr": 28.90, "bsd100_psnr": 28.12,
              "set5_ssim": 0.9010, "set14_ssim": 0.8116, "bsd100_ssim": 0.7766},
    ),
)


def model_names() -> list[str]:
    return [m.name for m in REGISTRY]


def is_model_name(name: str) -> bool:
    return any(m.name == name for m in REGISTRY)


def get_info(name: str) -> ModelInfo:
    for m in REGISTRY:
        if m.name == name:
            return m
    raise WeightsError(f"unknown model {name!r}; shipped models: {', '.join(model_names()) or 'none'}")


def model_path(info: ModelInfo) -> Path:
    return Path(str(resources.files("srcnn") / "models" / info.file))


def load_shipped(name: str) -> Any:
    """Load a shipped model by name, checking the file's sha256. Returns :class:`Weights`."""
    from .weights import file_sha256, load_safetensors

    info = get_info(name)
    path = model_path(info)
    if not path.is_file():
        raise WeightsError(f"shipped model {name} is missing its file {path}; reinstall srcnn")
    digest = file_sha256(path)
    if digest != info.sha256:
        raise WeightsError(f"shipped model {name} is corrupt: {path} has sha256 {digest[:12]}…, "
                           f"expected {info.sha256[:12]}…; reinstall srcnn")
    return load_safetensors(path)


def best_for_scale(scale: float, channels_mode: str = "y") -> ModelInfo | None:
    """The first registered model that serves ``scale`` (exact scale first, then multi-scale)."""
    exact = [m for m in REGISTRY if m.channels_mode == channels_mode
             and any(abs(scale - s) < 1e-6 for s in m.scales)]
    if exact:
        return exact[0]
    ranged = [m for m in REGISTRY if m.channels_mode == channels_mode and len(m.scales) > 1
              and min(m.scales) - 1e-6 <= scale <= max(m.scales) + 1e-6]
    return ranged[0] if ranged else None
