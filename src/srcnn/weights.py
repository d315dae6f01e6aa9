"""Weights: our safetensors format, the authors' Matlab files, and shipped model names.

Our format is a ``.safetensors`` file holding ``conv{1,2,3}.{weight,bias}`` (float32) and string
metadata:

* ``format``: ``srcnn-weights/1``;
* ``config``: the :class:`~srcnn.model.SRCNNConfig` as JSON (padding is an inference default);
* ``scales``: JSON list of the scale factors the weights were trained for (``[3]``, or
  ``[2, 3, 4]`` for a multi-scale model);
* ``channels_mode``: ``y``, ``rgb`` or ``ycbcr``: what the ``channels`` input planes are;
* ``provenance``: free text (where the weights came from);
* ``scale_poly`` (scale-conditioned models only): JSON ``{"lo", "hi", "degree"}`` (a polynomial),
  plus ``"knots"`` for a piecewise-linear model; the file then also holds the coefficients
  ``conv1.weight.p1`` ... (see :class:`~srcnn.model.ScalePoly`), and :meth:`Weights.build` folds
  them for the requested scale;
* ``sha256``: digest of the tensors (names, dtypes, shapes and bytes, in name order), checked on
  every load so that a damaged file is refused instead of giving silently wrong pictures.

Safetensors never executes code on load, unlike pickles.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import WeightsError
from .fileio import atomic_write_bytes
from .model import SRCNN, WEIGHT_KEYS, ScalePoly, SRCNNConfig, fold_poly

FORMAT = "srcnn-weights/1"
_KEYS = WEIGHT_KEYS


@dataclass(frozen=True)
class Weights:
    """A set of SRCNN weights with what they are for."""

    config: SRCNNConfig
    state_dict: Mapping[str, torch.Tensor]
    scales: tuple[float, ...] = ()
    channels_mode: str = "y"
    provenance: str = ""
    name: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    scale_poly: ScalePoly | None = None

    def __post_init__(self) -> None:
        # Misuse gets one clear WeightsError here, not an AttributeError or TypeError deep in build / save_weights.
        if not isinstance(self.config, SRCNNConfig):
            raise WeightsError(f"config must be an SRCNNConfig (e.g. srcnn.ARCHITECTURES['9-1-5']), got "
                               f"{type(self.config).__name__} {self.config!r}")
        if not isinstance(self.state_dict, Mapping):
            raise WeightsError("state_dict must be a mapping of names to tensors, got "
                               f"{type(self.state_dict).__name__}")
        for k, v in self.state_dict.items():
            if not isinstance(v, torch.Tensor):
                raise WeightsError(f"state_dict[{k!r}] is a {type(v).__name__}, not a torch tensor"
                                   + (" (torch.from_numpy(...) makes one)" if isinstance(v, np.ndarray) else ""))
        scales = self.scales
        if (isinstance(scales, int | float | np.number) or (isinstance(scales, torch.Tensor) and scales.ndim == 0)
                or not hasattr(scales, "__iter__")):
            scales = (scales,)  # type: ignore[assignment]  # one scale given bare: scales=3
        out: list[float] = []
        for item in scales:
            if isinstance(item, bool | str) or (isinstance(item, torch.Tensor) and item.numel() != 1):
                raise WeightsError(f"scales must be numbers, got {item!r}")
            try:
                out.append(float(item))  # numpy and 0-d torch numbers too, stored as plain floats
            except (TypeError, ValueError):
                raise WeightsError(f"scales must be numbers, got {item!r}") from None
        object.__setattr__(self, "scales", tuple(out))

    def build(self, *, padding: str | None = None, device: str | torch.device = "cpu",
              scale: float | None = None) -> SRCNN:
        """An :class:`SRCNN` in eval mode holding these weights (for a scale-conditioned model,
        its weights at ``scale``, which is then required). A device this PyTorch cannot use raises
        :class:`ConfigError` (see :func:`srcnn.infer.check_device`)."""
        from .infer import check_device

        device = check_device(device)
        cfg = self.config if padding is None else self.config.with_padding(padding)  # type: ignore[arg-type]
        model = SRCNN(cfg)
        model.load_state_dict({k: v.clone() for k, v in self.plain_state(scale).items()})
        return model.to(device).eval()

    def plain_state(self, scale: float | None = None) -> dict[str, torch.Tensor]:
        """The six tensors of a plain SRCNN (folded at ``scale`` for a scale-conditioned model)."""
        if self.scale_poly is None:
            return {k: self.state_dict[k] for k in _KEYS}
        lo, hi = self.scale_poly.lo, self.scale_poly.hi
        if scale is None:
            raise WeightsError(f"weights {self.name} are scale-conditioned (x{lo:g} to x{hi:g}): give a scale")
        try:
            k = float(scale)
        except (TypeError, ValueError):
            k = math.nan
        if not (math.isfinite(k) and self.scale_poly.covers(k)):
            # outside its range the polynomial in the scale extrapolates: weights no training ever saw
            raise WeightsError(f"weights {self.name} serve x{lo:g} to x{hi:g} (scale-conditioned), not x{scale}; "
                               "use a per-scale model for other scales")
        return fold_poly(self.state_dict, self.scale_poly, k)

    def supports_scale(self, scale: float, tol: float = 1e-6) -> bool:
        """True when ``scale`` is one the weights were trained for (or within a multi-scale range)."""
        try:
            scale = float(scale)
        except (TypeError, ValueError):
            raise WeightsError(f"scale must be a number, got {scale!r}") from None
        if self.scale_poly is not None:
            return self.scale_poly.covers(scale, tol)
        if not self.scales:
            return True
        if len(self.scales) > 1 and min(self.scales) - tol <= scale <= max(self.scales) + tol:
            return True
        return any(abs(scale - s) <= tol for s in self.scales)


def tensors_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes of the tensors, in name order."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------- our format
def save_weights(weights: Weights, path: str | os.PathLike[str], *, overwrite: bool = False) -> str:
    """Write ``weights`` to ``path`` atomically in our format. Returns the tensors' sha256.

    Refuses (:class:`WeightsError`) what :func:`load_weights` would refuse to read back: a path not
    ending in ``.safetensors``, missing tensors, shapes that do not fit the config, NaN or infinite
    values, an unknown ``channels_mode``."""
    from safetensors.torch import save

    if not isinstance(weights, Weights):
        raise WeightsError(f"save_weights takes a srcnn.Weights, got {type(weights).__name__} (for a module: "
                           "Weights(config=model.config, state_dict=model.state_dict(), scales=(3.0,)))")
    keys = list(_KEYS)
    if weights.scale_poly is not None:
        keys += [ck for _, ck in weights.scale_poly.coef_keys()]
    _check_savable(weights, keys, path)
    tensors = {k: weights.state_dict[k].detach().cpu().to(torch.float32).contiguous() for k in keys}
    digest = tensors_digest(tensors)
    meta = {
        "format": FORMAT,
        "config": json.dumps(weights.config.to_dict()),
        "scales": json.dumps(list(weights.scales)),
        "channels_mode": weights.channels_mode,
        "provenance": weights.provenance,
        "name": weights.name,
        "sha256": digest,
    }
    if weights.scale_poly is not None:
        meta["scale_poly"] = json.dumps(weights.scale_poly.to_dict())
    for k, v in weights.extra.items():
        meta.setdefault(k, v)
    if not overwrite and os.path.lexists(path):
        raise WeightsError(f"{path} exists; pass overwrite=True to replace it")
    atomic_write_bytes(path, save(tensors, metadata=meta), overwrite=overwrite)
    return digest


def _check_savable(weights: Weights, keys: list[str], path: str | os.PathLike[str]) -> None:
    from .data import CHANNEL_MODES

    if Path(path).suffix.lower() != ".safetensors":
        raise WeightsError(f"{path}: srcnn weights files end in .safetensors (the only kind load_weights reads "
                           "besides the authors' .mat)")
    missing = [k for k in keys if k not in weights.state_dict]
    if missing:
        raise WeightsError(f"cannot save weights without the tensors {missing}")
    if weights.channels_mode not in CHANNEL_MODES:
        raise WeightsError(f"channels_mode must be one of {CHANNEL_MODES}, got {weights.channels_mode!r}")
    for k in weights.scales:  # floats already (Weights checks them when made); scales only upscale
        if not (math.isfinite(k) and k > 1):
            raise WeightsError(f"cannot save to {path}: scales must be numbers above 1, got {k!r}")
    texts = {"provenance": weights.provenance, "name": weights.name, **weights.extra}
    bad = [k for k, v in texts.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise WeightsError(f"cannot save to {path}: metadata must be text, not {bad}")
    _check_shapes({k: weights.state_dict[k] for k in keys}, weights.config, f"cannot save to {path}")


def _check_file(p: Path) -> None:
    if p.is_dir():
        raise WeightsError(f"{p} is a folder, not a weights file; give a .safetensors or .mat file inside it")
    if not p.is_file():
        raise WeightsError(f"weights file not found: {p}")


def load_safetensors(path: str | os.PathLike[str]) -> Weights:
    """Read our format, checking the stored sha256. Raises :class:`WeightsError`."""
    from safetensors import safe_open

    p = Path(path)
    _check_file(p)
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except Exception as e:  # safetensors raises several types for a damaged header
        raise WeightsError(f"{p}: corrupt or not a safetensors weights file ({e})") from None
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{p}: not an srcnn weights file (metadata 'format' is "
                           f"{meta.get('format')!r}, expected {FORMAT!r})")
    missing = [k for k in _KEYS if k not in tensors]
    if missing:
        raise WeightsError(f"{p}: missing tensors {missing}")
    digest = tensors_digest(tensors)
    if "sha256" not in meta:
        raise WeightsError(f"{p}: no sha256 recorded in its metadata, so its integrity cannot be checked; write it "
                           "with srcnn.save_weights (or srcnn convert for the authors' .mat files)")
    if digest != meta.get("sha256"):
        raise WeightsError(f"{p}: weights are corrupt (sha256 of tensors {digest[:12]}… does not "
                           f"match the recorded {str(meta.get('sha256'))[:12]}…)")
    try:
        config = SRCNNConfig.from_dict(json.loads(meta["config"]))
        scales = tuple(float(s) for s in json.loads(meta.get("scales", "[]")))
        poly = ScalePoly.from_dict(json.loads(meta["scale_poly"])) if "scale_poly" in meta else None
    except Exception as e:
        raise WeightsError(f"{p}: bad metadata ({e})") from None
    _check_shapes(tensors, config, str(p))
    if poly is not None:
        for k, ck in poly.coef_keys():
            c = tensors.get(ck)
            if c is None or c.shape != tensors[k].shape:
                raise WeightsError(f"{p}: scale-conditioned weights lack a {tuple(tensors[k].shape)} tensor {ck}")
    known = {"format", "config", "scales", "channels_mode", "provenance", "name", "sha256", "scale_poly"}
    return Weights(
        config=config,
        state_dict=tensors,
        scales=scales,
        channels_mode=meta.get("channels_mode", "y"),
        provenance=meta.get("provenance", ""),
        name=meta.get("name", "") or p.stem,
        extra={k: v for k, v in meta.items() if k not in known},
        scale_poly=poly,
    )


def _check_shapes(tensors: Mapping[str, torch.Tensor], c: SRCNNConfig, where: str) -> None:
    """Refuse tensors whose shapes do not fit ``c``, or that hold NaN or infinity (a diverged
    training's weights would make every output black)."""
    expected = {
        "conv1.weight": (c.n1, c.channels, c.f1, c.f1),
        "conv1.bias": (c.n1,),
        "conv2.weight": (c.n2, c.n1, c.f2, c.f2),
        "conv2.bias": (c.n2,),
        "conv3.weight": (c.channels, c.n2, c.f3, c.f3),
        "conv3.bias": (c.channels,),
    }
    for k, shape in expected.items():
        if tuple(tensors[k].shape) != shape:
            raise WeightsError(f"{where}: tensor {k} has shape {tuple(tensors[k].shape)}, "
                               f"config {c.name} expects {shape}")
    for k, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise WeightsError(f"{where}: tensor {k} holds NaN or infinite values (weights of a diverged "
                               "training?); these weights cannot be used")


# ------------------------------------------------------------------------ the authors' .mat files
def load_mat(path: str | os.PathLike[str], *, scale: float | None = None) -> Weights:
    """Read the authors' released Matlab model (``SRCNN_v1/model/*/xN.mat``).

    Layout (Matlab is column-major; ``imfilter`` is correlation, like ``torch.conv2d``):
    ``weights_conv1`` [f1² x n1], ``weights_conv2`` [n1 x f2² x n2], ``weights_conv3`` [n2 x f3²],
    biases as columns. The scale is taken from a ``xN`` file name unless given.
    """
    import scipy.io

    p = Path(path)
    _check_file(p)
    try:
        m = scipy.io.loadmat(str(p))
    except Exception as e:
        raise WeightsError(f"{p}: not a readable Matlab .mat file ({e})") from None
    need = ("weights_conv1", "biases_conv1", "weights_conv2", "biases_conv2",
            "weights_conv3", "biases_conv3")
    missing = [k for k in need if k not in m]
    if missing:
        raise WeightsError(f"{p}: not an SRCNN model, missing variables {missing}")
    try:
        w1 = np.asarray(m["weights_conv1"], dtype=np.float64)
        w2 = np.asarray(m["weights_conv2"], dtype=np.float64)
        w3 = np.asarray(m["weights_conv3"], dtype=np.float64)
        b1 = np.asarray(m["biases_conv1"], dtype=np.float64).reshape(-1)
        b2 = np.asarray(m["biases_conv2"], dtype=np.float64).reshape(-1)
        b3 = np.asarray(m["biases_conv3"], dtype=np.float64).reshape(-1)
        f1 = _side(w1.shape[0], f"{p}: weights_conv1")
        n1 = w1.shape[1]
        if w2.ndim == 2:  # Matlab drops a trailing singleton; [n1 x n2] means f2 = 1
            w2 = w2[:, None, :]
        f2 = _side(w2.shape[1], f"{p}: weights_conv2")
        n2 = w2.shape[2]
        f3 = _side(w3.shape[1], f"{p}: weights_conv3")
        if w2.shape[0] != n1 or w3.shape[0] != n2 or b1.size != n1 or b2.size != n2 or b3.size != 1:
            raise WeightsError(f"{p}: inconsistent layer shapes")
        # conv1 filter i = reshape(weights_conv1(:, i), f1, f1), column-major.
        t1 = np.stack([w1[:, i].reshape(f1, f1, order="F") for i in range(n1)])[:, None]
        # conv2 filter j -> i = reshape(weights_conv2(j, :, i), f2, f2).
        t2 = np.stack([np.stack([w2[j, :, i].reshape(f2, f2, order="F") for j in range(n1)])
                       for i in range(n2)])
        # conv3 filter i -> 1 = reshape(weights_conv3(i, :), f3, f3).
        t3 = np.stack([w3[i, :].reshape(f3, f3, order="F") for i in range(n2)])[None]
    except WeightsError:
        raise
    except Exception as e:
        raise WeightsError(f"{p}: unexpected layout of SRCNN variables ({e})") from None
    config = SRCNNConfig(f1=f1, f2=f2, f3=f3, n1=n1, n2=n2, channels=1)
    sd = {
        "conv1.weight": torch.tensor(t1, dtype=torch.float32),
        "conv1.bias": torch.tensor(b1, dtype=torch.float32),
        "conv2.weight": torch.tensor(t2, dtype=torch.float32),
        "conv2.bias": torch.tensor(b2, dtype=torch.float32),
        "conv3.weight": torch.tensor(t3, dtype=torch.float32),
        "conv3.bias": torch.tensor(b3, dtype=torch.float32),
    }
    _check_shapes(sd, config, str(p))  # also refuses NaN or infinite weights, as our own files' loader does
    if scale is None:
        mt = re.fullmatch(r"x(\d+(?:\.\d+)?)", p.stem)
        scale = float(mt.group(1)) if mt else None
    parent = p.parent.name
    return Weights(
        config=config,
        state_dict=sd,
        scales=(scale,) if scale is not None else (),
        channels_mode="y",
        provenance=f"Dong et al. SRCNN Matlab release: {parent}/{p.name} "
                   f"(file sha256 {file_sha256(p)})",
        # their folders are named by architecture ("9-5-5(ImageNet)"): not "authors-9-5-5-9-5-5(ImageNet)-x3"
        name="authors-" + (parent if parent.startswith(config.name) else
                           config.name + (f"-{parent}" if parent else "")) + f"-{p.stem}",
    )


def _side(n: int, what: str) -> int:
    f = math.isqrt(n)
    if f * f != n:
        raise WeightsError(f"{what} has {n} taps per filter, not a square")
    return f


# ------------------------------------------------------------------------------------ resolving
#: Suffixes of pickle-based files (PyTorch, joblib, ...): loading one can run arbitrary code.
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar", ".joblib"})


def load_weights(spec: str | os.PathLike[str]) -> Weights:
    """Weights from a shipped model name, one of our ``.safetensors`` files or an authors' ``.mat``.

    Raises :class:`WeightsError` with a message that says what was tried. Pickle-based files
    (``.pt``, ``.pth``, ``.pkl``, ...) are refused without being opened: unpickling can run code.
    """
    s = str(spec)
    from . import pretrained

    if pretrained.is_model_name(s):
        shipped: Weights = pretrained.load_shipped(s)
        return shipped
    p = Path(s).expanduser()
    if p.is_dir():
        _check_file(p)  # "is a folder, not a weights file", whatever its name ends in
    if p.suffix.lower() == ".mat":
        return load_mat(p)
    if p.suffix.lower() == ".safetensors":
        return load_safetensors(p)
    if p.suffix.lower() in PICKLE_SUFFIXES:
        raise WeightsError(f"{p}: refusing to load a {p.suffix} file (unknown weights file type): it is "
                           "a Python pickle, which can run code when loaded; weights must be "
                           ".safetensors (training writes best.safetensors) or an authors' .mat file")
    if p.exists():
        raise WeightsError(f"{p}: unknown weights file type (expected .safetensors or .mat)")
    names = ", ".join(pretrained.model_names()) or "none shipped yet"
    raise WeightsError(f"unknown weights {s!r}: not a file and not a shipped model name "
                       f"(shipped: {names}; see `srcnn models`)")


def weights_to_dict(w: Weights) -> dict[str, Any]:
    """A JSON-able summary (no tensors)."""
    return {
        "name": w.name,
        "arch": w.config.name,
        "config": w.config.to_dict(),
        "scales": list(w.scales),
        "channels_mode": w.channels_mode,
        "provenance": w.provenance,
        "parameters": int(sum(t.numel() for t in w.state_dict.values())),
        "scale_poly": w.scale_poly.to_dict() if w.scale_poly is not None else None,
    }
