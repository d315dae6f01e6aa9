"""torch.hub entry points for srcnn's shipped models (no download beyond the repository itself).

    import torch
    net = torch.hub.load("<owner>/srcnn", "srcnn_955_x3")            # from GitHub
    net = torch.hub.load("path/to/srcnn", "srcnn_955_x3", source="local")
    net = torch.hub.load("path/to/srcnn", "srcnn", name="srcnn-955-ms", scale=2.5, source="local")

Each returns the network (:class:`srcnn.SRCNN`, eval mode, the weights' own padding: symmetric for
every shipped model): it maps the bicubic-enlarged Y channel, ``(N, 1, H, W)`` float in [0, 1],
to the restored Y of the same size. For whole photos (colour, alpha, any size, tiles) use ``srcnn.upscale`` instead.
"""

from __future__ import annotations

import os as _os
import sys as _sys
import typing as _typing

dependencies = ["torch", "numpy", "safetensors", "PIL", "scipy"]

_SRC = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "src")
if _SRC not in _sys.path:
    _sys.path.insert(0, _SRC)

import srcnn.pretrained as _pretrained  # noqa: E402


def srcnn(name: str = "srcnn-955-x3", *, scale: float | None = None, padding: str | None = None) -> _typing.Any:
    """A shipped model as a torch module (names: ``srcnn models``). ``scale`` is needed for the
    multi-scale ``srcnn-955-ms`` (any scale from 1.5 to 4); ``padding``: the model's own (None:
    symmetric for our models), replicate, zeros, symmetric or valid. Errors are srcnn's own
    (:class:`srcnn.SRCNNError`): a scale the model is not trained for is a ``ConfigError``."""
    from srcnn.errors import ConfigError

    w = _pretrained.load_shipped(name)
    if w.scale_poly is None and scale is not None and not w.supports_scale(scale):  # a scale not a number: WeightsError
        raise ConfigError(f"{name} is trained for x{w.scales[0]:g}, not x{float(scale):g}")  # (a ValueError too)
    return w.build(padding=padding, scale=scale)


def _entry(name: str) -> _typing.Any:
    def load(**kwargs: _typing.Any) -> _typing.Any:
        return srcnn(name, **kwargs)

    load.__name__ = name.replace("-", "_")
    load.__doc__ = f"The shipped model {name} (see `srcnn` in this file for the keywords)."
    return load


for _m in _pretrained.REGISTRY:
    globals()[_m.name.replace("-", "_")] = _entry(_m.name)
