"""srcnn: SRCNN single-image super-resolution (Dong, Loy, He, Tang; ECCV 2014 / TPAMI 2016).

Quick use::

    import srcnn
    big = srcnn.upscale(pil_image, 3)                     # the best shipped model for x3
    big = srcnn.upscale(pil_image, 3, weights="path/to/x3.mat")

The names below that need PyTorch are imported on first use, so that ``import srcnn.errors`` (and
``srcnn --help``, ``srcnn models``, ``srcnn data ...``) do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import (
    ConfigError,
    DataError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    SRCNNError,
    TrainingError,
    WeightsError,
)

if TYPE_CHECKING:
    from .infer import upscale
    from .model import ARCHITECTURES, SRCNN, SRCNNConfig, srcnn
    from .resize import imresize
    from .weights import Weights, load_weights, save_weights

#: public name -> the module that defines it (imported on first access)
_LAZY = {
    "upscale": "infer",
    "ARCHITECTURES": "model", "SRCNN": "model", "SRCNNConfig": "model", "srcnn": "model",
    "imresize": "resize",
    "Weights": "weights", "load_weights": "weights", "save_weights": "weights",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'srcnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ARCHITECTURES",
    "SRCNN",
    "ConfigError",
    "DataError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "SRCNNConfig",
    "SRCNNError",
    "TrainingError",
    "Weights",
    "WeightsError",
    "__version__",
    "imresize",
    "load_weights",
    "save_weights",
    "srcnn",
    "upscale",
]
