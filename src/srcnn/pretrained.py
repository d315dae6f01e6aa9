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
_RECIPE_915 = ("srcnn train --arch 9-1-5 --scale {k} --recipe fast --size 64 --batch-size 128 --downscale 0.9 "
               "--downscale 0.8 --downscale 0.7 --downscale 0.6 --max-minutes 6.8, then --resume "
               "--max-minutes 11 (T91 only, with downscaled copies; 11 minutes on one H200 shared by 7 runs)")


def _results(set5: tuple[float, float], set14: tuple[float, float], bsd100: tuple[float, float]) -> dict[str, Any]:
    """Mean (Y-PSNR dB, SSIM) per test set, as ``srcnn evaluate`` printed them."""
    return {f"{name}_{q}": v for name, pair in (("set5", set5), ("set14", set14), ("bsd100", bsd100))
            for q, v in zip(("psnr", "ssim"), pair, strict=True)}


def _ours_915(k: int, sha256: str, meta: dict[str, Any]) -> ModelInfo:
    return ModelInfo(name=f"srcnn-915-x{k}", file=f"srcnn-915-x{k}.safetensors", sha256=sha256, arch="9-1-5",
                     scales=(float(k),), channels_mode="y", recipe=_RECIPE_915.format(k=k), meta=meta)


REGISTRY: tuple[ModelInfo, ...] = (
    _ours_915(2, "197bc1c461a355d1be5059ac73c4174d915f4fc31c4e7b4664016492f1f4c1e0",
              _results(set5=(36.60, 0.9536), set14=(32.33, 0.9055), bsd100=(31.25, 0.8864))),
    _ours_915(3, "51ce051ac50d6f62e37dab2ec5a891fc915f93d847725238e59a1bc02376a797",
              _results(set5=(32.59, 0.9074), set14=(29.11, 0.8175), bsd100=(28.29, 0.7826))),
    _ours_915(4, "30637013761fd99741eaff1a38abb2674e0b14d158af7a138fb2286aa4f3a49f",
              _results(set5=(30.25, 0.8568), set14=(27.30, 0.7460), bsd100=(26.78, 0.7059))),
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
