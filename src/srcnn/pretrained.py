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

    def results(self) -> dict[float, dict[str, float]]:
        """The measured results per scale: ``{scale: {"set5_psnr": ..., ...}}``."""
        per_scale = self.meta.get("per_scale")
        if per_scale:
            return {float(s): r for s, r in per_scale.items()}
        return {self.scales[0]: self.meta}


# Filled by training runs with tools/ship_model.py; the numbers are `srcnn evaluate` (the papers'
# protocol) on the test sets, never used to choose the weights (the last step of a run is shipped).
# Order: best first per scale (`best_for_scale` takes the first exact match, then a range).
_RECIPE_915 = ("srcnn train --arch 9-1-5 --scale {k} --recipe fast --size 64 --batch-size 128 --downscale 0.9 "
               "--downscale 0.8 --downscale 0.7 --downscale 0.6 --max-minutes 6.8, then --resume "
               "--max-minutes {total} (T91 only, with downscaled copies; on one H200 shared by 6-7 runs)")
_RECIPE_955 = ("tools/train_zoo.sh run 955-x{k}: srcnn train --arch 9-5-5 --scale {k} --recipe fast --size 64 "
               "--batch-size 128 --train-set T91 --train-set BSDS200 --train-set General100 --max-minutes 7, "
               "then --resume --max-minutes 11.3, then 18.3 (Adam lr 3e-4, 500-step warm-up; "
               "one H200 shared by 6 runs)")
_RECIPE_MS = ("piecewise linear over knots x1.5, 2, 2.5, 3, 3.5, 4 (tools/ms_from_anchors.py --linear); knots x1.5, "
              "2.5, 3, 3.5 and 4: the previous srcnn-955-ms (sha256 421d29e5..., weights quadratic in the scale: "
              "srcnn train --arch 9-5-5 --scale 3 --scale 1.5 --scale 2 --scale 2.5 --scale 3.5 --scale 4 "
              "--scale-poly 2 --init-from srcnn-955-x3 (its 11.3-minute weights, sha256 176cc372...) --recipe fast "
              "--size 64 --batch-size 128 --train-set T91 --train-set BSDS200 --train-set General100 --max-minutes 7 "
              "(one H200 shared by 6 runs), then --resume --balance-scales --max-minutes 9.6 (alone)) folded there; "
              "knot x2: that model folded at x2 and fine-tuned at x2 (srcnn train --arch 9-5-5 --scale 2 --init-from "
              "srcnn-955-ms --recipe fast --size 64 --batch-size 16 --lr 1e-4 --warmup 50 --train-set T91 --train-set "
              "BSDS200 --train-set General100 --max-minutes 20, then --resume --max-minutes 44; 2 CPU cores)")


def _results(set5: tuple[float, float], set14: tuple[float, float], bsd100: tuple[float, float]) -> dict[str, Any]:
    """Mean (Y-PSNR dB, SSIM) per test set, as ``srcnn evaluate`` printed them."""
    return {f"{name}_{q}": v for name, pair in (("set5", set5), ("set14", set14), ("bsd100", bsd100))
            for q, v in zip(("psnr", "ssim"), pair, strict=True)}


def _ours(arch: str, k: int, sha256: str, meta: dict[str, Any], recipe: str) -> ModelInfo:
    tag = arch.replace("-", "")
    return ModelInfo(name=f"srcnn-{tag}-x{k}", file=f"srcnn-{tag}-x{k}.safetensors", sha256=sha256, arch=arch,
                     scales=(float(k),), channels_mode="y", recipe=recipe, meta=meta)


REGISTRY: tuple[ModelInfo, ...] = (
    _ours("9-5-5", 2, "dc32cf540a402b9a7660bf9a4f795c6a04c1d535b24b5002743a1f01f8d1252e",
          _results(set5=(36.81, 0.9552), set14=(32.51, 0.9079), bsd100=(31.44, 0.8898)), _RECIPE_955.format(k=2)),
    _ours("9-1-5", 2, "197bc1c461a355d1be5059ac73c4174d915f4fc31c4e7b4664016492f1f4c1e0",
          _results(set5=(36.60, 0.9536), set14=(32.33, 0.9055), bsd100=(31.25, 0.8864)),
          _RECIPE_915.format(k=2, total=11)),
    _ours("9-5-5", 3, "faefde6bf69b7dd333e448151a02f65d0d34776b88ef503539df9fbc9b293dd2",
          _results(set5=(32.78, 0.9105), set14=(29.28, 0.8216), bsd100=(28.43, 0.7875)), _RECIPE_955.format(k=3)),
    _ours("9-1-5", 3, "a4b34730cb5e1876f41aa15e8b7137a5ac2d86d44632719f12e55c0598d82aa0",
          _results(set5=(32.63, 0.9078), set14=(29.13, 0.8179), bsd100=(28.30, 0.7830)),
          _RECIPE_915.format(k=3, total="11, then 22.3, then 29.3")),
    _ours("9-5-5", 4, "64601774607be62f158750f998de7a7bc209776d5c0d5396222779fe5ab7272f",
          _results(set5=(30.46, 0.8635), set14=(27.46, 0.7520), bsd100=(26.91, 0.7123)), _RECIPE_955.format(k=4)),
    _ours("9-1-5", 4, "6e82da95b81e37b5681277e6f9ceab7a940d6f5ab5876abe56a0e413ce4dda7d",
          _results(set5=(30.27, 0.8577), set14=(27.32, 0.7467), bsd100=(26.79, 0.7065)),
          _RECIPE_915.format(k=4, total="11, then 22.3, then 29.3")),
    # One network for every scale from 1.5 to 4 (weights piecewise linear in the scale, folded per scale).
    ModelInfo(name="srcnn-955-ms", file="srcnn-955-ms.safetensors",
              sha256="5a8a3f66e9559a660ac985de3992f8ef3fad771ecbec980bc5951a32a37d8870", arch="9-5-5",
              scales=(1.5, 2.0, 2.5, 3.0, 3.5, 4.0), channels_mode="y", recipe=_RECIPE_MS,
              meta={"per_scale": {
                  "1.5": _results(set5=(39.76, 0.9744), set14=(35.50, 0.9510), bsd100=(34.44, 0.9452)),
                  "2": _results(set5=(36.56, 0.9536), set14=(32.31, 0.9058), bsd100=(31.29, 0.8873)),
                  "2.5": _results(set5=(34.34, 0.9317), set14=(30.52, 0.8611), bsd100=(29.54, 0.8331)),
                  "3": _results(set5=(32.76, 0.9104), set14=(29.27, 0.8215), bsd100=(28.42, 0.7872)),
                  "3.5": _results(set5=(31.56, 0.8879), set14=(28.27, 0.7845), bsd100=(27.56, 0.7474)),
                  "4": _results(set5=(30.44, 0.8634), set14=(27.47, 0.7526), bsd100=(26.92, 0.7127)),
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
