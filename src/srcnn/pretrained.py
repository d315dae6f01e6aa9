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
# Order: best first per scale (`best_for_scale` takes the first exact match, then a range).
_RECIPE_915 = ("srcnn train --arch 9-1-5 --scale {k} --recipe fast --size 64 --batch-size 128 --downscale 0.9 "
               "--downscale 0.8 --downscale 0.7 --downscale 0.6 --max-minutes 6.8, then --resume "
               "--max-minutes {total} (T91 only, with downscaled copies; on one H200 shared by 6-7 runs)")
_RECIPE_955 = ("tools/train_zoo.sh run 955-x{k}: srcnn train --arch 9-5-5 --scale {k} --recipe fast --size 64 "
               "--batch-size 128 --train-set T91 --train-set BSDS200 --train-set General100 --max-minutes 7, "
               "then --resume --max-minutes 11.3 (Adam lr 3e-4, 500-step warm-up; one H200 shared by 6 runs)")
_RECIPE_MS = ("tools/train_zoo.sh run 955-ms: srcnn train --arch 9-5-5 --scale 3 --scale 1.5 --scale 2 "
              "--scale 2.5 --scale 3.5 --scale 4 --scale-poly 2 --coef-lr 1 --recipe fast --size 64 --batch-size 128 "
              "--train-set T91 --train-set BSDS200 --train-set General100 --max-minutes 7, then --resume "
              "--max-minutes 11.3 (one H200 shared by 6 runs)")


def _results(set5: tuple[float, float], set14: tuple[float, float], bsd100: tuple[float, float]) -> dict[str, Any]:
    """Mean (Y-PSNR dB, SSIM) per test set, as ``srcnn evaluate`` printed them."""
    return {f"{name}_{q}": v for name, pair in (("set5", set5), ("set14", set14), ("bsd100", bsd100))
            for q, v in zip(("psnr", "ssim"), pair, strict=True)}


def _ours(arch: str, k: int, sha256: str, meta: dict[str, Any], recipe: str) -> ModelInfo:
    tag = arch.replace("-", "")
    return ModelInfo(name=f"srcnn-{tag}-x{k}", file=f"srcnn-{tag}-x{k}.safetensors", sha256=sha256, arch=arch,
                     scales=(float(k),), channels_mode="y", recipe=recipe, meta=meta)


REGISTRY: tuple[ModelInfo, ...] = (
    _ours("9-5-5", 2, "b6a4a9f0131cf800a45f75e5cac1a564e33b70145c3775e03e1e20aa216cee61",
          _results(set5=(36.79, 0.9551), set14=(32.49, 0.9078), bsd100=(31.43, 0.8895)), _RECIPE_955.format(k=2)),
    _ours("9-1-5", 2, "197bc1c461a355d1be5059ac73c4174d915f4fc31c4e7b4664016492f1f4c1e0",
          _results(set5=(36.60, 0.9536), set14=(32.33, 0.9055), bsd100=(31.25, 0.8864)),
          _RECIPE_915.format(k=2, total=11)),
    _ours("9-5-5", 3, "176cc3721d6990dbdc87a7bc13fcdc821342d894427d32492fd7a0513144bebe",
          _results(set5=(32.76, 0.9101), set14=(29.26, 0.8213), bsd100=(28.42, 0.7871)), _RECIPE_955.format(k=3)),
    _ours("9-1-5", 3, "f3b155a6d4375003f71a7de1b94527e7bd1968b4ed3efd45406e96998247cb02",
          _results(set5=(32.62, 0.9076), set14=(29.13, 0.8177), bsd100=(28.30, 0.7827)),
          _RECIPE_915.format(k=3, total="11, then 22.3")),
    _ours("9-5-5", 4, "70bcce22a302c06b3eb102b2889e4a9f85f265c9d29d80910eb9214eff1c485c",
          _results(set5=(30.45, 0.8629), set14=(27.45, 0.7516), bsd100=(26.90, 0.7119)), _RECIPE_955.format(k=4)),
    _ours("9-1-5", 4, "9c048c6241fae0299a4345350d14bc65078f5034a801cc06e507b0f42a361135",
          _results(set5=(30.26, 0.8575), set14=(27.31, 0.7465), bsd100=(26.79, 0.7063)),
          _RECIPE_915.format(k=4, total="11, then 22.3")),
    # One network for every scale from 1.5 to 4 (weights quadratic in the scale, folded per scale).
    ModelInfo(name="srcnn-955-ms", file="srcnn-955-ms.safetensors",
              sha256="1f75698d98a91f8c7afb716607ab4d476b7ebdc3af4c2b8b312d46d77703f029", arch="9-5-5",
              scales=(1.5, 2.0, 2.5, 3.0, 3.5, 4.0), channels_mode="y", recipe=_RECIPE_MS,
              meta={"per_scale": {
                  "1.5": _results(set5=(39.47, 0.9734), set14=(35.17, 0.9493), bsd100=(34.18, 0.9432)),
                  "2": _results(set5=(36.18, 0.9510), set14=(32.07, 0.9024), bsd100=(31.07, 0.8834)),
                  "2.5": _results(set5=(34.02, 0.9282), set14=(30.31, 0.8573), bsd100=(29.37, 0.8292)),
                  "3": _results(set5=(32.45, 0.9050), set14=(29.06, 0.8167), bsd100=(28.27, 0.7825)),
                  "3.5": _results(set5=(31.33, 0.8826), set14=(28.11, 0.7796), bsd100=(27.45, 0.7431)),
                  "4": _results(set5=(30.29, 0.8583), set14=(27.35, 0.7474), bsd100=(26.84, 0.7089)),
              }}),
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
