"""srcnn: SRCNN single-image super-resolution (Dong, Loy, He, Tang; ECCV 2014 / TPAMI 2016).

Quick use::

    import srcnn
    big = srcnn.upscale(pil_image, 3, weights="path/to/x3.mat")
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    ConfigError,
    DataError,
    ImageReadError,
    ImageWriteError,
    SRCNNError,
    WeightsError,
)
from .infer import upscale
from .model import ARCHITECTURES, SRCNN, SRCNNConfig, srcnn
from .resize import imresize
from .weights import Weights, load_weights, save_weights

__all__ = [
    "ARCHITECTURES",
    "SRCNN",
    "ConfigError",
    "DataError",
    "ImageReadError",
    "ImageWriteError",
    "SRCNNConfig",
    "SRCNNError",
    "Weights",
    "WeightsError",
    "__version__",
    "imresize",
    "load_weights",
    "save_weights",
    "srcnn",
    "upscale",
]
