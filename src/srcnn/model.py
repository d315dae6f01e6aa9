"""The SRCNN network (Dong et al., ECCV 2014 / TPAMI 2016) as a pure ``nn.Module``.

Three convolutions, each with its own job:

1. patch extraction and representation: ``f1 x f1`` conv, ``c -> n1`` channels, ReLU;
2. non-linear mapping: ``f2 x f2`` conv, ``n1 -> n2``, ReLU;
3. reconstruction: ``f3 x f3`` conv, ``n2 -> c``.

The input is the bicubic-upscaled image. Padding mode:

* ``replicate``: every layer keeps the size, padding by edge replication, as the authors'
  Matlab test code does (``imfilter(..., 'same', 'replicate')``);
* ``zeros``: every layer keeps the size, zero padding (what most re-implementations do);
* ``symmetric``: the input is mirrored once by the receptive-field radius (Matlab's
  ``padarray(..., 'symmetric')``, the edge pixel repeated: ``c b a | a b c``), then every layer is
  valid; the output keeps the size. Past the border the network sees what bicubic upscaling of the
  mirrored low-resolution image would give (``imresize`` pads that way), so a model trained on
  valid sub-images meets image-like context there; our shipped models use it (measured in the
  README's "Border handling");
* ``valid``: no padding; the output shrinks by ``f1 + f2 + f3 - 3`` (training on sub-images).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from itertools import pairwise
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError

Padding = Literal["replicate", "zeros", "symmetric", "valid"]
PADDINGS: tuple[str, ...] = ("replicate", "zeros", "symmetric", "valid")
#: The padding modes that keep the image size (what inference needs).
SAME_PADDINGS: tuple[str, ...] = ("replicate", "zeros", "symmetric")


def mirror_index(start: int, stop: int, n: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Indices ``start .. stop - 1`` into an axis of length ``n`` with Matlab-symmetric padding
    (half-sample mirror, the edge pixel repeated): ``-1 -> 0``, ``-2 -> 1``, ``n -> n - 1``. It
    repeats with period ``2 n``, so it holds however far past the border (e.g. a 3-pixel image
    padded by 8)."""
    i = torch.arange(start, stop, device=device).remainder_(2 * n)
    return torch.where(i >= n, 2 * n - 1 - i, i)


def inference_padding(train_padding: str) -> Padding:
    """The same-size padding to run a model trained with ``train_padding``: a model trained on
    valid sub-images never saw a border, so it runs ``symmetric`` (measured better than
    ``replicate`` for every one of our shipped models on the non-test images: README, "Border
    handling"); one trained padded keeps its padding."""
    return "symmetric" if train_padding == "valid" else train_padding  # type: ignore[return-value]


def pad_symmetric(x: torch.Tensor, r: int) -> torch.Tensor:
    """``x`` (..., H, W) padded by ``r`` on every side, Matlab-symmetric (see :func:`mirror_index`)."""
    if r == 0:
        return x
    h, w = x.shape[-2:]
    rows = mirror_index(-r, h + r, h, device=x.device)
    cols = mirror_index(-r, w + r, w, device=x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


@dataclass(frozen=True)
class SRCNNConfig:
    """Architecture of one SRCNN. Defaults are the paper's base model 9-1-5 on Y."""

    f1: int = 9
    f2: int = 1
    f3: int = 5
    n1: int = 64
    n2: int = 32
    channels: int = 1
    padding: Padding = "replicate"

    def __post_init__(self) -> None:
        for name in ("f1", "f2", "f3"):
            f = getattr(self, name)
            if isinstance(f, bool) or not isinstance(f, int) or f < 1 or f % 2 == 0:
                raise ConfigError(f"{name} must be a positive odd integer, got {f!r}")
        for name in ("n1", "n2", "channels"):
            n = getattr(self, name)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"{name} must be a positive integer, got {n!r}")
        if self.padding not in PADDINGS:
            raise ConfigError(f"padding must be one of {PADDINGS}, got {self.padding!r}")

    @property
    def name(self) -> str:
        """The paper's name for the filter sizes, e.g. ``9-5-5``."""
        return f"{self.f1}-{self.f2}-{self.f3}"

    @property
    def shrink(self) -> int:
        """How many pixels a valid-padded forward pass removes from each dimension."""
        return self.f1 + self.f2 + self.f3 - 3

    @property
    def radius(self) -> int:
        """Receptive-field radius: an output pixel depends on inputs this far away."""
        return self.shrink // 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SRCNNConfig:
        known = {k: d[k] for k in ("f1", "f2", "f3", "n1", "n2", "channels", "padding") if k in d}
        return cls(**known)

    def with_padding(self, padding: Padding) -> SRCNNConfig:
        return replace(self, padding=padding)


ARCHITECTURES: dict[str, SRCNNConfig] = {
    "9-1-5": SRCNNConfig(f1=9, f2=1, f3=5),
    "9-3-5": SRCNNConfig(f1=9, f2=3, f3=5),
    "9-5-5": SRCNNConfig(f1=9, f2=5, f3=5),
}


def config_for(arch: str, *, channels: int = 1, padding: Padding = "replicate") -> SRCNNConfig:
    """The config of a named architecture (``9-1-5``, ``9-3-5``, ``9-5-5``)."""
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return replace(ARCHITECTURES[arch], channels=channels, padding=padding)


class SRCNN(nn.Module):
    """SRCNN. Input and output ``(N, c, H, W)`` float; values on the [0, 1] scale by convention.

    With ``replicate``, ``zeros`` or ``symmetric`` padding the output has the input's size; with ``valid`` it is
    ``(N, c, H - s, W - s)`` where ``s = f1 + f2 + f3 - 3``.
    """

    def __init__(self, config: SRCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or SRCNNConfig()
        c = self.config
        self.conv1 = nn.Conv2d(c.channels, c.n1, c.f1)
        self.conv2 = nn.Conv2d(c.n1, c.n2, c.f2)
        self.conv3 = nn.Conv2d(c.n2, c.channels, c.f3)

    def _conv(self, x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        r = conv.kernel_size[0] // 2
        if r == 0 or self.config.padding in ("valid", "symmetric"):
            return conv(x)
        if self.config.padding == "replicate":
            return conv(F.pad(x, (r, r, r, r), mode="replicate"))
        return F.conv2d(x, conv.weight, conv.bias, padding=r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # unbatched (c, H, W), as nn.Conv2d takes it
            return self.forward(x[None])[0]
        if self.config.padding == "symmetric":  # then the valid network
            x = pad_symmetric(x, self.config.radius)
        if self.config.padding in ("valid", "symmetric") and x.device.type == "cpu" \
                and x.shape[-1] >= self.config.shrink + 1 and x.shape[-2] >= self.config.shrink + 1:
            return self._valid_im2col(x)
        x = F.relu(self._conv(x, self.conv1))  # (N, n1, H, W)
        x = F.relu(self._conv(x, self.conv2))  # (N, n2, H, W)
        return self._conv(x, self.conv3)  # (N, c, H, W)

    def _valid_im2col(self, x: torch.Tensor) -> torch.Tensor:
        """The valid-padded network with its first layer as an im2col (``unfold``) product: the same
        function, faster to train on a CPU, where PyTorch's convolution handles a 1-channel 9x9
        layer poorly. Per step with Adam on 2 cores (median of 5, ms), this path / the library
        convolutions / the earlier path that also made conv2 and conv3 products: 9-1-5 batch 32 of
        33x33 31.0 / 41.7 / 40.9, of 64x64 (batch 16) 80.8 / 95.9 / 92.4; 9-5-5 of 33x33 68.9 /
        62.2 / 65.0, of 64x64 161 / 202 / 169. Off the CPU the library convolutions are used
        (cuDNN is faster)."""
        cfg = self.config
        n, _, h, w = x.shape
        b1 = self.conv1.bias
        assert b1 is not None
        a1 = torch.matmul(self.conv1.weight.view(cfg.n1, -1), F.unfold(x, cfg.f1)) + b1[:, None]
        a1 = F.relu(a1.view(n, cfg.n1, h - cfg.f1 + 1, w - cfg.f1 + 1))
        return self.conv3(F.relu(self.conv2(a1)))

    def set_padding(self, padding: Padding) -> None:
        """Switch padding mode in place (e.g. train ``valid``, infer ``replicate``)."""
        self.config = self.config.with_padding(padding)


def srcnn(arch: str = "9-1-5", *, channels: int = 1, padding: Padding = "replicate") -> SRCNN:
    """Build an untrained SRCNN of a named architecture."""
    return SRCNN(config_for(arch, channels=channels, padding=padding))


# ------------------------------------------------------------------------- scale-conditioned
#: The six weight tensors of an SRCNN, in state-dict order.
WEIGHT_KEYS: tuple[str, ...] = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                "conv3.weight", "conv3.bias")


@dataclass(frozen=True)
class ScalePoly:
    """How a scale-conditioned model's weights depend on the scale factor ``s``.

    Polynomial (``knots`` empty): every tensor is a polynomial in ``t = (2 s - lo - hi) / (hi -
    lo)`` (``t`` runs from -1 at ``lo`` to 1 at ``hi``): ``W(s) = W_0 + t W_1 + ... + t^degree
    W_degree``.

    Piecewise linear (``knots`` ``k_0 < ... < k_n``, ``lo = k_0``, ``hi = k_n``, ``degree = n``):
    ``W_j`` is the network at scale ``k_j`` and ``W(s)`` interpolates linearly between the two
    knots around ``s``. At a knot the model is exactly that knot's network; between knots the
    interpolation suits networks fine-tuned from one ancestor (their channels correspond).

    Either way ``W(s) = sum_j b_j(s) W_j`` (:meth:`basis`), and at any one scale the model is a
    plain SRCNN, so inference folds the weights once and runs the ordinary network.
    """

    lo: float
    hi: float
    degree: int = 2
    knots: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        k = self.knots
        if any(b <= a for a, b in pairwise(k)):
            raise ConfigError(f"knots must be increasing scale factors, e.g. 1.5,2,3,4; got {list(k)}")
        if not (0 < self.lo < self.hi):
            raise ConfigError(f"scale range must satisfy 0 < lo < hi, got {self.lo}..{self.hi}")
        if not isinstance(self.degree, int) or self.degree < 1:
            raise ConfigError(f"polynomial degree must be a positive integer, got {self.degree!r}")
        if k and (len(k) != self.degree + 1 or k[0] != self.lo or k[-1] != self.hi):
            raise ConfigError(f"knots must run from lo to hi, degree + 1 of them; got {list(k)} "
                              f"for {self.lo:g}..{self.hi:g}, degree {self.degree}")

    @classmethod
    def linear(cls, knots: tuple[float, ...] | list[float]) -> ScalePoly:
        """The piecewise-linear basis over ``knots`` (at least 2, increasing)."""
        k = tuple(float(x) for x in knots)
        if len(k) < 2:
            raise ConfigError(f"piecewise-linear scale conditioning needs at least 2 knots, got {list(k)}")
        return cls(k[0], k[-1], len(k) - 1, k)

    def code(self, scale: float) -> float:
        return (2.0 * scale - self.lo - self.hi) / (self.hi - self.lo)

    def basis(self, scale: float) -> list[float]:
        """``b_0(scale) ... b_degree(scale)``: ``W(scale) = sum_j b_j W_j``."""
        if not self.knots:
            t = self.code(scale)
            return [t ** j for j in range(self.degree + 1)]
        k = self.knots
        i = max(0, min(len(k) - 2, sum(1 for x in k[1:-1] if x <= scale)))
        u = (scale - k[i]) / (k[i + 1] - k[i])
        out = [0.0] * len(k)
        out[i], out[i + 1] = 1.0 - u, u
        return out

    def covers(self, scale: float, tol: float = 1e-6) -> bool:
        return self.lo - tol <= scale <= self.hi + tol

    def coef_keys(self) -> list[tuple[str, str]]:
        """``(weight key, coefficient key)`` for every coefficient ``W_1 .. W_degree`` of every tensor."""
        return [(k, poly_key(k, j)) for k in WEIGHT_KEYS for j in range(1, self.degree + 1)]

    def describe(self) -> str:
        if self.knots:
            return "piecewise linear over knots " + ", ".join(f"x{k:g}" for k in self.knots)
        return f"degree-{self.degree} polynomial over x{self.lo:g}..x{self.hi:g}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.knots:
            d["knots"] = list(self.knots)
        else:
            del d["knots"]  # polynomial files keep their original metadata
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScalePoly:
        return cls(float(d["lo"]), float(d["hi"]), int(d["degree"]), tuple(float(k) for k in d.get("knots", ())))


def poly_key(key: str, j: int) -> str:
    """Name of the degree-``j`` coefficient of weight tensor ``key`` (``conv1.weight.p1``)."""
    return f"{key}.p{j}"


def fold_poly(tensors: dict[str, torch.Tensor] | Any, poly: ScalePoly, scale: float) -> dict[str, torch.Tensor]:
    """The plain SRCNN state dict of a scale-conditioned one at ``scale``: ``sum_j b_j W_j``."""
    b = poly.basis(scale)
    out: dict[str, torch.Tensor] = {}
    for k in WEIGHT_KEYS:
        acc = tensors[k] * b[0] if b[0] != 1.0 else tensors[k]
        for j in range(1, poly.degree + 1):
            if b[j] != 0.0:
                acc = acc + b[j] * tensors[poly_key(k, j)]
        out[k] = acc
    return out


def poly_through(anchors: Mapping[float, Mapping[str, torch.Tensor]], lo: float, hi: float
                 ) -> tuple[ScalePoly, dict[str, torch.Tensor]]:
    """The scale polynomial over ``[lo, hi]`` that passes exactly through plain networks at
    ``n >= 2`` anchor scales (degree ``n - 1``, Lagrange interpolation per weight).

    Between the anchors the weights are interpolated, which makes sense for networks that share an
    ancestor (e.g. fine-tuned to each scale from one model), not for independently trained ones.
    """
    scales = sorted(float(s) for s in anchors)
    if len(scales) < 2:
        raise ConfigError("interpolating a scale polynomial needs at least 2 anchor scales")
    poly = ScalePoly(lo, hi, len(scales) - 1)
    if not all(poly.covers(s) for s in scales):
        raise ConfigError(f"anchor scales {scales} must lie within {lo:g}..{hi:g}")
    t = torch.tensor([poly.code(s) for s in scales], dtype=torch.float64)
    inv = torch.linalg.inv(torch.stack([t ** j for j in range(poly.degree + 1)], 1))  # Vandermonde
    by_scale = {float(s): v for s, v in anchors.items()}
    out: dict[str, torch.Tensor] = {}
    for k in WEIGHT_KEYS:
        stack = torch.stack([by_scale[s][k].detach().cpu().double() for s in scales])
        coefs = torch.tensordot(inv, stack, dims=1)
        out[k] = coefs[0].float()
        for j in range(1, poly.degree + 1):
            out[poly_key(k, j)] = coefs[j].float()
    return poly, out


def linear_through(anchors: Mapping[float, Mapping[str, torch.Tensor]]) -> tuple[ScalePoly, dict[str, torch.Tensor]]:
    """The piecewise-linear model with a knot at each anchor scale: ``W_j`` is the plain network at
    the ``j``-th smallest scale (the first under the plain names)."""
    poly = ScalePoly.linear(sorted(float(s) for s in anchors))
    by_scale = {float(s): v for s, v in anchors.items()}
    out = {k: by_scale[poly.knots[0]][k] for k in WEIGHT_KEYS}
    for j, knot in enumerate(poly.knots[1:], start=1):
        out.update({poly_key(k, j): by_scale[knot][k] for k in WEIGHT_KEYS})
    return poly, out


def _attr(coef_key: str) -> str:
    """A coefficient's name inside ``nn.ParameterDict`` (which refuses dots)."""
    return coef_key.replace(".", "_")


class ScaleConditionedSRCNN(nn.Module):
    """One SRCNN whose weights are polynomials of the scale factor (see :class:`ScalePoly`).

    A plain network trained on mixed scales must use one set of filters for inputs that bicubic
    blurred very differently (x1.5 is nearly sharp, x4 very soft). Here the filters follow the
    scale, for ``(degree + 1)`` times the parameters at training time and none extra at inference.
    ``net`` holds ``W_0``; :meth:`start_from_net` makes every scale start as ``net`` (higher
    polynomial coefficients zero, or every knot a copy of ``W_0``). ``forward(x, scale)`` runs
    ``net`` with the folded weights.
    """

    def __init__(self, config: SRCNNConfig, poly: ScalePoly) -> None:
        super().__init__()
        self.config, self.poly = config, poly
        self.net = SRCNN(config)
        params = dict(self.net.named_parameters())
        self.coef = nn.ParameterDict({_attr(ck): nn.Parameter(torch.zeros_like(params[k]))
                                      for k, ck in poly.coef_keys()})
        self.start_from_net()

    @torch.no_grad()
    def start_from_net(self) -> None:
        """Set the coefficients so that the model is ``net`` at every scale (call after changing
        ``net``'s weights, e.g. after an initialisation)."""
        params = dict(self.net.named_parameters())
        for k, ck in self.poly.coef_keys():
            if self.poly.knots:
                self.coef[_attr(ck)].copy_(params[k])
            else:
                self.coef[_attr(ck)].zero_()

    def layer_parameters(self, layer: str) -> list[nn.Parameter]:
        """All parameters of one convolution (``conv1``...), every coefficient included."""
        own = list(getattr(self.net, layer).parameters())
        return own + [p for k, p in self.coef.items() if k.startswith(layer + "_")]

    def poly_tensors(self) -> dict[str, torch.Tensor]:
        """``W_0`` under the plain names and ``W_j`` under ``poly_key(name, j)``."""
        out: dict[str, torch.Tensor] = dict(self.net.named_parameters())  # not state_dict: detached
        out.update({ck: self.coef[_attr(ck)] for _, ck in self.poly.coef_keys()})
        return out

    @torch.no_grad()
    def load_poly_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Copy in ``W_0`` (plain names) and every coefficient (``poly_key`` names), as a
        scale-conditioned weights file holds them."""
        self.net.load_state_dict({k: tensors[k].clone() for k in WEIGHT_KEYS})
        for _, ck in self.poly.coef_keys():
            self.coef[_attr(ck)].copy_(tensors[ck])

    def weights_at(self, scale: float) -> dict[str, torch.Tensor]:
        """The plain SRCNN weights at ``scale`` (differentiable)."""
        return fold_poly(self.poly_tensors(), self.poly, scale)

    def at_scale(self, scale: float, padding: Padding | None = None) -> SRCNN:
        """A detached plain :class:`SRCNN` for one scale."""
        m = SRCNN(self.config if padding is None else self.config.with_padding(padding))
        m.load_state_dict({k: v.detach().clone() for k, v in self.weights_at(scale).items()})
        return m.to(next(self.parameters()).device)

    def forward(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        out: torch.Tensor = torch.func.functional_call(self.net, self.weights_at(scale), (x,))
        return out
