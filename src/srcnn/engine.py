"""Fast, exact SRCNN inference: the engine behind :func:`srcnn.infer.run_model` and ``srcnn upscale``.

Written as ``nn.Conv2d`` layers (what peers do), SRCNN on a CPU spends much of its time outside the
arithmetic: a one-channel 9x9 convolution is a poor fit for PyTorch's convolution kernels, every
layer writes a 64-channel activation to main memory and reads it back, replicate padding copies
the activations once more per layer, and small element-wise ops pay for thread start-up. This
engine turns the layers into plain matrix multiplies (MKL ``sgemm``) on a *flat padded frame*:

* A tile of output pixels plus ``radius`` pixels of context on each side is a *frame* of
  ``Hf x Wf`` pixels, stored channel-first and flattened: pixel ``(y, x)`` of channel ``c`` is
  element ``c * stride + y * Wf + x``. A tap ``(ky, kx)`` of a convolution is then a constant
  *flat offset* ``(ky - r) * Wf + (kx - r)``: the input of that tap for a run of consecutive
  positions is a contiguous slice, an ordinary BLAS matrix (leading dimension = channel stride).
  Positions whose taps wrap around a frame row are computed too (a few per cent extra) and ignored.
* conv1 (``c -> n1``, 9x9): a ``[c*81 + 1, Q]`` im2col block of a chunk of ``Q`` positions is
  built with one strided copy; its last row is ones, so the bias is a column of the weight matrix.
* conv3 (``n2 -> c``, 5x5): one GEMM ``[25c, n2] @ [n2, Q]`` gives every tap's contribution ``T``
  per position, fused into the pass that makes conv2's output (so the 32-channel activation never
  leaves the cache); padding T's margins equals padding conv2's output since T is a per-position
  map of it. The output is then the sum of the 25 shifted planes of T: for each ``ky`` the taps
  ``kx`` form one strided matrix, so one ``bmm`` with ones and one ``mm`` do the sum (5x faster
  than ``torch.sum`` over a strided view).
* conv2 1x1 (9-1-5): fused with conv1 and conv3's GEMM chunk by chunk: per chunk of 2048
  positions, im2col -> GEMM -> ReLU -> GEMM -> ReLU -> GEMM, all in cache.
* conv2 3x3 / 5x5 (9-3-5, 9-5-5): 1-D Winograd F(4, f2) along x, direct along y. Per 4-pixel tile
  the conv1 output is transformed once (``V = B^T d``, 8 values for 5x5; two batched GEMMs on
  strided views of conv1's output, K = 4 each), stored point-major as
  ``(point, frame row, channel, tile)``; then for each of the 8 transformed points one GEMM
  ``[n2, f2*n1] @ [f2*n1, tiles]`` per output row (the f2 input rows' channels form one matrix with
  a single leading dimension; a ``bmm`` does a chunk of rows), and ``A^T M`` gives 4 outputs: 2
  instead of 5 multiply-adds per output, tap row and channel pair. (Five accumulating ``[n2, n1]``
  GEMMs per point on a tile-major layout, as before, ran the same products 15-20 % slower.) Its
  fp32 rounding error measured the same as direct convolution's (~4e-7 on unit-scale
  data; F(6, 5) was 10x worse and is not used). Other f2 use one GEMM per tap.
* Parallelism: our own worker threads (the ``torch.get_num_threads()`` count) take chunks from a
  shared counter, each running single-threaded kernels on its own cache-sized buffers. With
  PyTorch's intra-op threads instead, every small op pays a parallel-region start and the ReLU /
  copy kernels ran up to 100x slower when the other core was busy; the hot loops make few Python
  calls so the GIL is rarely contended.

Padding follows the authors' semantics exactly (every layer "same", replicate): after each layer,
on the frame sides that are real image borders, the pixels beyond the border are overwritten with
the edge pixel (zeros for a ``zeros``-padded model); on the other sides the frame carries real
context and the valid area shrinks by the layer's radius. A ``symmetric`` model instead gathers its
input frame mirrored at real borders (the padding of its input, done once) and pads no layer: at a
border the frame is context like anywhere else. Results equal ``model(x)`` up to float rounding
(max abs difference ~1e-6 in fp32).

Measured with ``benchmarks/inference.py`` on the 2-core AMD EPYC (Zen 1) machine, 2 threads, fp32:
see the README's "Speed" section for the table against onnxruntime, a plain ``nn.Sequential`` and
the matrix-multiply ceiling.

On a GPU the GEMM formulation loses: on an H200 (``benchmarks/inference.py --device cuda``) it ran
at 0.42x / 1.16x the plain cuDNN stack for 9-1-5 at 512^2 / 2048^2 and 0.29x / 0.36x for 9-5-5
(cuDNN's implicit-GEMM convolutions need no im2col copy and fuse better). So off the CPU
(``backend="auto"``) each tile runs as three cuDNN convolutions instead. A first version padded each
layer's activation (replicate) where its window touched the image border: on the H200 it ran at
0.46x / 0.82x the plain stack for 9-1-5 at 512^2 / 2048^2 and 0.57x / 0.79x for 9-5-5 (fp32; fp16
1.02x to 1.11x the plain stack's fp32), the padding copies of 64-channel activations costing what
the convolutions do. Now the tile runs as the plain stack's zero-padded convolutions (padding
inside the kernel), and only the pixels within ``radius`` of an image border, the only ones where
zero and replicate padding differ, are recomputed exactly on thin strips with per-layer replicate
padding: the same exact-tiling semantics for a few per cent of extra work. Timed on the H200 it
did not pay: 0.33x / 0.83x the plain stack for 9-1-5 at 512^2 / 2048^2 and 0.55x / 0.77x for
9-5-5 (fp32), the strips' many small kernel launches costing more than the padding copies saved.
So an image that fits in one tile now runs as the plain stack itself (untimed on a GPU since).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import ConfigError, SRCNNError
from .model import SRCNN, SRCNNConfig, mirror_index
from .symmetry import DIHEDRAL_ORDER, dihedral, dihedral_inverse

#: Positions per GEMM chunk on CPU (per worker: im2col ``[82, Q]``, activations ``[65, Q]`` and
#: ``[32, Q]``). Sweep for 9-1-5, 512x512, 2 workers (MP/s): 1024: 1.57, 2048: 2.86, 4096: 2.80
#: (smaller chunks pay per-call overhead, larger ones spill the 512 KiB L2); for 9-5-5 4096 was
#: best (0.47 against 0.42 at 2048, before Winograd). On CUDA one chunk per frame.
CPU_CHUNK = 2048
CPU_CHUNK_WIDE = 4096  # for f2 > 1
#: Winograd tiles (of 4 outputs) per conv2 chunk, rounded to whole output rows: 9-5-5 512x512, 2 workers:
#: 1024 tiles 0.60 MP/s, 2048 tiles 0.65 MP/s, 4096 tiles 0.64 MP/s (session 3); with the row-stacked products
#: of 2026-11-27, 1024 / 2048 / 4096 / 8192 tiles within this machine's noise of each other.
WINO_TILES = 2048
GPU_CHUNK = 1 << 22


@dataclass(frozen=True)
class _Frame:
    """Geometry of one tile's frame, in image coordinates."""

    y0: int  # first output row of the tile (image coordinates)
    x0: int
    th: int  # tile height and width (output pixels)
    tw: int
    hf: int  # frame height, width: tile + 2 * radius
    wf: int
    top: int  # frame row / column of the image's first/last row / column (may lie outside)
    bottom: int
    left: int
    right: int


# ------------------------------------------------------------------------------- Winograd
#: Output pixels per 1-D Winograd tile along x, for conv2 (see ``_winograd``).
WINO_M = 4
_H = 0.5
#: Interpolation points and B^T of F(4, r) (Toom-Cook, the point at infinity last), derived
#: exactly with rationals; A^T and G follow from the points.
_WINO: dict[int, tuple[tuple[float, ...], tuple[tuple[float, ...], ...]]] = {
    3: ((0.0, 1.0, -1.0, _H, -_H), (
        (0.25, 0.0, -1.25, 0.0, 1.0, 0.0),
        (0.0, -0.25, -0.25, 1.0, 1.0, 0.0),
        (0.0, 0.25, -0.25, -1.0, 1.0, 0.0),
        (0.0, -0.5, -1.0, 0.5, 1.0, 0.0),
        (0.0, 0.5, -1.0, -0.5, 1.0, 0.0),
        (0.0, 0.25, 0.0, -1.25, 0.0, 1.0))),
    5: ((0.0, 1.0, -1.0, 2.0, -2.0, _H, -_H), (
        (-1.0, 0.0, 5.25, 0.0, -5.25, 0.0, 1.0, 0.0),
        (0.0, 1.0, 1.0, -4.25, -4.25, 1.0, 1.0, 0.0),
        (0.0, -1.0, 1.0, 4.25, -4.25, -1.0, 1.0, 0.0),
        (0.0, 0.5, 0.25, -2.5, -1.25, 2.0, 1.0, 0.0),
        (0.0, -0.5, 0.25, 2.5, -1.25, -2.0, 1.0, 0.0),
        (0.0, 2.0, 4.0, -2.5, -5.0, 0.5, 1.0, 0.0),
        (0.0, -2.0, 4.0, 2.5, -5.0, -0.5, 1.0, 0.0),
        (0.0, -1.0, 0.0, 5.25, 0.0, -5.25, 0.0, 1.0))),
}


def _winograd(r: int, m: int = WINO_M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A^T, G, B^T)`` of the 1-D Winograd algorithm F(m, r): for ``d`` of length
    ``a = m + r - 1`` and a filter ``g`` of length ``r``, ``A^T @ ((G @ g) * (B^T @ d))`` is the
    correlation ``y[i] = sum_j d[i + j] g[j]``, ``i < m``, with ``a`` multiplications instead of
    ``m * r``."""
    pts, bt = _WINO[r]
    a = m + r - 1
    at = np.zeros((m, a))
    g = np.zeros((a, r))
    for k, pk in enumerate(pts):
        at[:, k] = [pk**i for i in range(m)]
        f = math.prod(pk - pl for pl in pts if pl != pk)
        g[k] = [pk**j / f for j in range(r)]
    at[m - 1, a - 1] = 1.0
    g[a - 1, r - 1] = 1.0
    return at, g, np.array(bt)


class _Scratch:
    """One worker's buffers for a chunk of ``q`` positions, with the views the hot loop uses."""

    def __init__(self, cfg: SRCNNConfig, q: int, dtype: torch.dtype, device: torch.device) -> None:
        k1 = cfg.channels * cfg.f1 * cfg.f1
        self.q = q
        self.col = torch.zeros(k1 + 1, q, dtype=dtype, device=device)  # im2col + a row of ones
        self.col[k1].fill_(1.0)
        self.colv = self.col[:k1].view(cfg.channels, cfg.f1, cfg.f1, q)
        self.act = torch.zeros(cfg.n1 + 1, q, dtype=dtype, device=device)  # conv1 out + ones
        self.act[cfg.n1].fill_(1.0)
        self.h1 = self.act[:cfg.n1]
        self.h2 = torch.zeros(cfg.n2, q, dtype=dtype, device=device)
        self.extra: dict[str, Tensor] = {}

    def get(self, name: str, *shape: int) -> Tensor:
        """An extra buffer of ``shape`` (allocated on first use)."""
        b = self.extra.get(name)
        if b is None or b.shape != shape:
            b = self.extra[name] = torch.empty(shape, dtype=self.h2.dtype, device=self.h2.device)
        return b


def bytes_per_frame_pixel(model: SRCNN) -> int:
    """Bytes of engine buffers per frame pixel (the whole-frame activations; chunk buffers and
    the per-tile input copies are small beside them)."""
    c = model.config
    per = c.channels * (1 + c.f3 * c.f3)
    if c.f2 in _WINO:
        per += c.n1 * (WINO_M + c.f2 - 1) // WINO_M  # Winograd-transformed conv1 output
    elif c.f2 > 1:
        per += c.n1 + 1
    return 4 * per + 16


def tile_for_memory(model: SRCNN, budget_bytes: int) -> int:
    """The largest square tile (output pixels per side) whose engine buffers fit ``budget_bytes``
    (at least 16)."""
    per = bytes_per_frame_pixel(model)
    side = math.isqrt(max(1, budget_bytes // per)) - 2 * model.config.radius
    return max(16, side)


class Engine:
    """A same-padded SRCNN prepared for fast inference (weights reshaped into GEMM matrices).

    ``engine(x, tile=...)`` equals ``model(x)`` for ``x`` of shape ``(N, C, H, W)``. The engine
    keeps its work buffers between calls (not thread-safe: use one engine per thread).
    """

    def __init__(self, model: SRCNN, *, chunk: int | None = None, threads: int | None = None,
                 backend: str = "auto") -> None:
        cfg = model.config
        if cfg.padding == "valid":
            raise ConfigError("the engine needs a same-size model (padding 'replicate', 'zeros' or 'symmetric')")
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
            raise ConfigError(f"engine chunk must be a positive number of positions, got {chunk!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"engine threads must be a positive integer, got {threads!r}")
        if backend not in ("auto", "gemm", "conv"):
            raise ConfigError(f"engine backend must be auto, gemm or conv, got {backend!r}")
        self.config = cfg
        #: ``gemm``: the flat-frame GEMM formulation (CPU default); ``conv``: per-tile library
        #: convolutions with border-only padding (default off the CPU, see the module notes).
        self.backend = backend if backend != "auto" else \
            ("gemm" if model.conv1.weight.device.type == "cpu" else "conv")
        self._convs = [(m.weight.detach(), m.bias.detach(), m.kernel_size[0] // 2)  # type: ignore[union-attr]
                       for m in (model.conv1, model.conv2, model.conv3)]
        self.replicate = cfg.padding == "replicate"
        #: ``symmetric``: the input frame is gathered mirrored at image borders and every layer
        #: then treats the frame as real context (no per-layer padding at all).
        self.mirror = cfg.padding == "symmetric"
        p = model.conv1.weight
        self.device, self.dtype = p.device, p.dtype
        cpu_chunk = CPU_CHUNK if cfg.f2 == 1 else CPU_CHUNK_WIDE
        self.chunk = chunk or (cpu_chunk if self.device.type == "cpu" else GPU_CHUNK)
        c, n1, n2 = cfg.channels, cfg.n1, cfg.n2
        self.r1, self.r2, self.r3 = cfg.f1 // 2, cfg.f2 // 2, cfg.f3 // 2
        self.radius = cfg.radius
        with torch.no_grad():
            w1 = model.conv1.weight.detach().reshape(n1, c * cfg.f1 * cfg.f1)  # (c, ky, kx) order
            b1 = model.conv1.bias.detach()  # type: ignore[union-attr]
            self.w1 = torch.cat([w1, b1[:, None]], 1).contiguous()  # [n1, K1 + 1]
            w2 = model.conv2.weight.detach()  # (n2, n1, f2, f2)
            b2 = model.conv2.bias.detach()  # type: ignore[union-attr]
            taps = w2.permute(2, 3, 0, 1).reshape(cfg.f2 * cfg.f2, n2, n1)
            zeros = torch.zeros(cfg.f2 * cfg.f2, n2, 1, dtype=w2.dtype, device=w2.device)
            self.w2 = torch.cat([taps, zeros], 2).contiguous()  # [f2*f2, n2, n1 + 1]
            self.w2[(cfg.f2 * cfg.f2) // 2, :, n1] = b2  # bias on the centre tap (ones row of A1)
            w3 = model.conv3.weight.detach()  # (c, n2, f3, f3)
            self.w3 = w3.permute(2, 3, 0, 1).reshape(cfg.f3 * cfg.f3 * c, n2).contiguous()
            self.b3 = model.conv3.bias.detach().clone().view(c, 1, 1)  # type: ignore[union-attr]
            self._ones_b = torch.ones(cfg.f3, 1, cfg.f3, dtype=self.dtype, device=self.device)
            # conv2 by 1-D Winograd F(4, f2) along x (direct along y), on CPU in fp32/fp64: 2.5x
            # fewer multiply-adds for 5x5 (2 instead of 5 per output and tap row), measured 1.8x
            # faster for 9-5-5 overall; its rounding error equals direct fp32's (~4e-7 here).
            self.wino = cfg.f2 in _WINO and self.device.type == "cpu" and \
                self.dtype in (torch.float32, torch.float64)
            if self.wino:
                at, g, bt = _winograd(cfg.f2)
                self.alpha = WINO_M + cfg.f2 - 1
                self.at = torch.tensor(at, dtype=self.dtype)
                # B^T split at column m, broadcast over the n1 channels (batched GEMMs of pass 1)
                bt_t = torch.tensor(bt, dtype=self.dtype)
                self.bt_lo = bt_t[:, :WINO_M].contiguous().expand(n1, self.alpha, WINO_M)
                self.bt_hi = bt_t[:, WINO_M:].contiguous().expand(n1, self.alpha, self.alpha - WINO_M)
                # U[ky, xi] = sum_kx G[xi, kx] * W2[:, :, ky, kx]: (f2, alpha, n2, n1)
                u = torch.einsum("xk,oiyk->yxoi", torch.tensor(g), w2.to("cpu", torch.float64))
                # stacked over the tap rows per transformed point, UK[xi] = [U[0, xi] | ... | U[f2-1, xi]]
                # (alpha, n2, f2*n1): one GEMM with K = f2*n1 per point and output row (see pass 2)
                self.uk = u.to(self.dtype).permute(1, 2, 0, 3).reshape(self.alpha, n2, cfg.f2 * n1).contiguous()
                self.b2 = b2.clone().view(n2, 1, 1, 1)
            self._ones_m = torch.ones(1, cfg.f3, dtype=self.dtype, device=self.device)
        self._buffers: dict[str, Tensor] = {}
        #: CPU worker threads (default: ``torch.get_num_threads()`` at each call).
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._scratches: dict[tuple[int, str], _Scratch] = {}
        self._workers = 1
        self.wino_tiles = WINO_TILES if self.device.type == "cpu" else 0  # 0: chunk / 4

    # ------------------------------------------------------------------------------ buffers
    def _buf(self, name: str, rows: int, cols: int, ones_row: bool = False) -> Tensor:
        """A zero-initialised ``[rows, stride]`` buffer with ``stride >= cols`` (reused while big
        enough). The stride is padded to an odd multiple of 16 floats, so that channel rows do not
        alias in the cache (a power-of-two stride made MKL's packing of the shifted slices slow)."""
        stride = -(-cols // 16) * 16
        if (stride // 16) % 2 == 0:
            stride += 16
        b = self._buffers.get(name)
        if b is None or b.shape[0] != rows or b.shape[1] < stride:
            b = torch.zeros(rows, stride, dtype=self.dtype, device=self.device)
            if ones_row:
                b[-1].fill_(1.0)
            self._buffers[name] = b
        return b

    def _scratch(self, wid: int, q: int, tag: str) -> _Scratch:
        """Worker ``wid``'s chunk buffers for ``q`` positions, one set per ``tag`` (a pass, full or
        last chunk), reallocated only when ``q`` changes."""
        key = (wid, tag)
        sc = self._scratches.get(key)
        if sc is None or sc.q != q:
            sc = _Scratch(self.config, q, self.dtype, self.device)
            self._scratches[key] = sc
        return sc

    # ------------------------------------------------------------------------------ padding
    def _index(self, start: int, stop: int, n: int, device: torch.device) -> Tensor:
        """Image indices ``start .. stop - 1`` along an axis of ``n`` pixels for gathering a window
        of the input: those past the border mirrored (``symmetric`` model) or clamped to the edge
        (the others: replicate, which :meth:`_fill` then overwrites for a ``zeros`` model)."""
        if self.mirror:
            return mirror_index(start, stop, n, device=device)
        return torch.arange(start, stop, device=device).clamp_(0, n - 1)

    def _fill(self, buf: Tensor, ch: int, fr: _Frame, s: int, base: int) -> None:
        """Apply the model's padding to the first ``ch`` channels of a layer output stored in
        ``buf`` (frame at flat offset ``base``): beyond the image borders that lie in the frame,
        set pixels to the edge pixel (replicate) or 0 (zeros). Only rows and columns ``s`` and
        more from the frame sides are touched (the rest is never read by a needed position)."""
        v = buf[:ch, base:base + fr.hf * fr.wf].view(ch, fr.hf, fr.wf)
        if s < fr.hf - s:
            self._fill_cols(v[:, s:fr.hf - s], fr, s)
        self._fill_rows(v, fr, s)

    def _fill_cols(self, v: Tensor, fr: _Frame, s: int) -> None:
        """The left/right part of :meth:`_fill` on some frame rows ``v`` (ch, rows, wf)."""
        self._fill_span(v, 2, s, fr.wf - s, fr.left, fr.right)

    def _fill_rows(self, v: Tensor, fr: _Frame, s: int) -> None:
        """The top/bottom part of :meth:`_fill` on a whole frame ``v`` (ch, hf, cols)."""
        self._fill_span(v, 1, s, fr.hf - s, fr.top, fr.bottom)

    def _fill_span(self, v: Tensor, dim: int, a0: int, a1: int, first: int, last: int) -> None:
        """Along ``dim``, within ``[a0, a1)``: indices before ``first`` and after ``last`` (the
        image's first and last pixel in frame coordinates) get the edge value, or 0. Nothing for a
        ``symmetric`` model: its input frame is already mirrored, the layers need no padding."""
        if a0 >= a1 or self.mirror:
            return
        spans = []
        if first > a0:
            e = min(first, a1 - 1)
            spans.append((a0, e, e))  # (start, stop, edge index)
        if last < a1 - 1:
            e = max(last, a0)
            spans.append((e + 1, a1, e))
        for lo, hi, e in spans:
            dst = v.narrow(dim, lo, hi - lo)
            if self.replicate:
                dst.copy_(v.narrow(dim, e, 1).expand_as(dst))
            else:
                dst.zero_()

    # ------------------------------------------------------------------------------ one frame
    def _parallel(self, n: int, fn: Callable[[int, int], None]) -> None:
        """Call ``fn(worker, i)`` for ``i in range(n)`` on the engine's workers. Work is handed
        out dynamically (a shared counter), so a core busy with something else slows the run
        down gracefully instead of stalling a static split."""
        pool = self._pool
        if pool is None or n <= 1:
            for i in range(n):
                fn(0, i)
            return
        counter = itertools.count()
        stop = threading.Event()

        def work(wid: int) -> None:
            with torch.inference_mode():  # thread-local: the pool's threads enter it too
                while not stop.is_set() and (i := next(counter)) < n:
                    fn(wid, i)

        futures = [pool.submit(work, k) for k in range(1, self._workers)]
        try:
            work(0)
        except BaseException:
            stop.set()  # an error or Ctrl-C: let the other workers finish their current item only
            raise
        finally:
            for f in futures:
                f.result()

    def _run_frame(self, x: Tensor, fr: _Frame, row0: int, height: int, width: int,
                   out: Tensor) -> None:
        """Compute one tile. ``x`` (C, rows, W) holds image rows ``row0 ..``; ``out`` (C, th, tw)
        receives the tile."""
        cfg = self.config
        c, n1 = cfg.channels, cfg.n1
        f1, f2, f3 = cfg.f1, cfg.f2, cfg.f3
        r1, r2, r3, R = self.r1, self.r2, self.r3, self.radius
        hf, wf = fr.hf, fr.wf
        nf = hf * wf
        slack = r1 + r2 + r3 + 1
        base = slack  # the frame starts here in every flat buffer
        total = base + nf + slack
        dev = x.device

        # Input frame: clamped gathers give replicate padding at real borders (mirrored ones the
        # symmetric padding of a ``symmetric`` model).
        rows = self._index(fr.y0 - R, fr.y0 - R + hf, height, dev) - row0
        cols = self._index(fr.x0 - R, fr.x0 - R + wf, width, dev)
        xin = self._buf("x", c, total)
        xin[:, base:base + nf].view(c, hf, wf).copy_(x.index_select(1, rows).index_select(2, cols))
        if not self.replicate:
            self._fill(xin, c, fr, 0, base)
        xs = xin.stride(0)
        kk = f3 * f3 * c
        # T: for every frame position, the contribution of each conv3 tap (W3 @ A2); it is a
        # per-position map of A2, so padding T's margins equals padding A2's.
        tf = self._buf("t", kk, total)
        a1 = self._buf("a1", n1 + 1, total, ones_row=True) if f2 > 1 and not self.wino else None
        q_chunk = self.chunk
        s1, s2 = r1, r1 + r2  # layers 1 and 2 are needed on frame rows s .. hf - s

        w1, w2_1x1, w3 = self.w1, self.w2[0], self.w3
        mm = torch.mm

        # Pass 1: conv1 (+ the 1x1 conv2 and the conv3 taps of 9-1-5, fused), chunk by chunk.
        # The hot loop makes few Python calls (views prepared once per worker): with two worker
        # threads the interpreter's share of the time is what limits scaling.
        q_start, q_end = s1 * wf, (hf - s1) * wf

        def conv1(wid: int, i: int) -> None:
            q0 = q_start + i * q_chunk
            q = min(q_chunk, q_end - q0)
            sc = self._scratch(wid, q, "p1" if q == q_chunk else "p1t")
            sc.colv.copy_(xin.as_strided((c, f1, f1, q), (xs, wf, 1, 1), base + q0 - r1 * wf - r1))
            if a1 is None:
                mm(w1, sc.col, out=sc.h1)
                sc.h1.relu_()
                mm(w2_1x1, sc.act, out=sc.h2)
                sc.h2.relu_()
                mm(w3, sc.h2, out=tf[:, base + q0:base + q0 + q])
            else:
                h = a1[:n1, base + q0:base + q0 + q]
                mm(w1, sc.col, out=h)
                h.relu_()

        if self.wino:
            self._winograd_conv12(xin, tf, fr, base)
        else:
            self._parallel(-(-(q_end - q_start) // q_chunk), conv1)

        if a1 is not None:  # Pass 2: conv2 f2 x f2, one accumulating GEMM per tap on shifted slices
            self._fill(a1, n1, fr, s1, base)
            q_start2, q_end2 = s2 * wf, (hf - s2) * wf
            centre = (f2 * f2) // 2
            order = [centre] + [k for k in range(f2 * f2) if k != centre]  # centre first: bias

            def conv2(wid: int, i: int) -> None:
                assert a1 is not None
                q0 = q_start2 + i * q_chunk
                q = min(q_chunk, q_end2 - q0)
                h2 = self._scratch(wid, q, "p2" if q == q_chunk else "p2t").h2
                for j, k in enumerate(order):
                    ky, kx = divmod(k, f2)
                    off = base + q0 + (ky - r2) * wf + (kx - r2)
                    if j == 0:
                        mm(self.w2[k], a1[:, off:off + q], out=h2)
                    else:
                        h2.addmm_(self.w2[k], a1[:, off:off + q])
                h2.relu_()
                mm(w3, h2, out=tf[:, base + q0:base + q0 + q])

            self._parallel(-(-(q_end2 - q_start2) // q_chunk), conv2)
        self._fill(tf, kk, fr, s2, base)

        # Pass 3: conv3 output = bias + the sum of the f3 x f3 shifted tap planes of T, in bands
        # of about 4 chunks (no halo is recomputed, so bands only need to amortise the calls).
        band = max(1, 4 * q_chunk // wf)
        ts = tf.stride(0)

        def conv3(wid: int, i: int) -> None:
            a = R + i * band
            b = min(R + fr.th, a + band)
            n = (b - a) * wf
            acc = torch.empty((c, n), dtype=self.dtype, device=dev)
            part = torch.empty((f3, 1, n), dtype=self.dtype, device=dev)
            first = base + a * wf - r3 * wf - r3
            for ch in range(c):
                # Tap (ky, kx) of channel ch: row (ky*f3 + kx)*c + ch of T, column offset
                # ky*wf + kx. For each ky the f3 taps kx form a strided matrix (row stride ts*c + 1):
                # one bmm with ones sums over kx for every ky, one mm sums over ky. 5x faster
                # than torch.sum over a 4-d strided view (28 vs 152 us per band, 1 thread).
                shifted = tf.as_strided((f3, f3, n), (f3 * c * ts + wf, c * ts + 1, 1), ch * ts + first)
                torch.bmm(self._ones_b, shifted, out=part)
                torch.mm(self._ones_m, part.view(f3, n), out=acc[ch:ch + 1])
            res = acc.view(c, b - a, wf)[:, :, R:R + fr.tw]
            torch.add(res, self.b3, out=out[:, a - R:b - R])

        self._parallel(-(-fr.th // band), conv3)

    def _winograd_conv12(self, xin: Tensor, tf: Tensor, fr: _Frame, base: int) -> None:
        """conv1 and conv2 (by Winograd F(4, f2) along x) of a frame; writes conv3's tap
        contributions T into ``tf`` (frame rows ``s2 .. hf - s2``).

        Pass 1, in chunks of whole frame rows (so that conv1's left/right padding can be applied
        to the chunk): conv1, ReLU, padding, then the Winograd input transform ``V = B^T d`` of
        every 4-pixel tile, kept for the frame as ``(alpha, frame rows, n1, tiles per row)``; the
        top/bottom padding is applied to V's rows (V of a row depends on that row only). Pass 2, in
        chunks of whole output rows: for each transformed point ``xi`` and output row ``y``,
        ``M_xi = sum_ky U[ky, xi] @ V_xi[row y + ky - r2]`` is one GEMM ``[n2, f2*n1] @ [f2*n1,
        tiles]``: in this layout the f2 input rows' channels are one matrix with a single leading
        dimension, and consecutive output rows are a constant stride apart, so one ``bmm`` per point
        does a chunk (measured 8-30 % faster on one core than f2 accumulating ``[n2, n1]`` GEMMs per
        point on a tile-major layout). Then ``A^T M``, bias, ReLU, and conv3's tap GEMM."""
        cfg = self.config
        c, n1, n2, f1, f2 = cfg.channels, cfg.n1, cfg.n2, cfg.f1, cfg.f2
        r1, r2 = self.r1, self.r2
        hf, wf = fr.hf, fr.wf
        m, al = WINO_M, self.alpha
        tpr = wf // m  # tiles per frame row
        row = n1 * tpr  # V values per point and frame row
        vf = self._buf("v", 1, al * hf * row)[0, :al * hf * row].view(al, hf, n1, tpr)
        xs = xin.stride(0)
        s1, s2 = r1, r1 + r2
        mm = torch.mm
        rows_per = max(1, self.chunk // wf)

        def pass1(wid: int, i: int) -> None:
            y0 = s1 + i * rows_per
            y1 = min(hf - s1, y0 + rows_per)
            k = y1 - y0
            n = k * wf + 2 * r2  # conv1 outputs: these rows and r2 positions either side
            sc = self._scratch(wid, n, "w1" if k == rows_per else "w1t")
            sc.colv.copy_(xin.as_strided((c, f1, f1, n), (xs, wf, 1, 1), base + y0 * wf - r2 - r1 * wf - r1))
            mm(self.w1, sc.col, out=sc.h1)
            sc.h1.relu_()
            self._fill_cols(sc.h1[:, r2:r2 + k * wf].view(n1, k, wf), fr, s1)
            # V[ch, xi, t] = sum_p B^T[xi, p] * conv1 output at position m*t + p, p < alpha. For p < m
            # (and again for m <= p < alpha, one tile on) the outputs of a channel form a [m, tiles]
            # matrix with strides (1, m), a transposed one BLAS takes as it is: two batched GEMMs over
            # the channels, K = m and alpha - m (alone on one core: 0.3-0.4 ms per 3120 positions,
            # against 3.0-3.7 ms for F.conv1d with stride m, which the engine used before, and 2.3 ms
            # for a matmul on a (tiles, alpha) view with overlapping rows; in the engine, pass 1 took
            # 25-35 % less time).
            nt, st, off = k * tpr, sc.act.stride(0), sc.act.storage_offset()
            vt = sc.get("vt", n1, al, nt)
            torch.bmm(self.bt_lo, sc.act.as_strided((n1, m, nt), (st, 1, m), off), out=vt)
            vt.baddbmm_(self.bt_hi, sc.act.as_strided((n1, al - m, nt), (st, 1, m), off + m))
            vf[:, y0:y1].copy_(vt.view(n1, al, k, tpr).permute(1, 2, 0, 3))

        self._parallel(-(-(hf - 2 * s1) // rows_per), pass1)
        self._fill_rows(vf.view(al, hf, row), fr, s1)

        per = max(1, round((self.wino_tiles or self.chunk // m) / tpr))  # output rows per chunk
        k_in = f2 * n1

        def pass2(wid: int, i: int) -> None:
            y0 = s2 + i * per
            k = min(per, hf - s2 - y0)
            sc = self._scratch(wid, k * wf, "w2" if k == per else "w2t")
            mb = sc.get("m", al, k, n2, tpr)
            for xi in range(al):
                v_xi = vf[xi]  # rows (ky, ch) of output row y0 + b: V row y0 + b + ky - r2
                rhs = v_xi.as_strided((k, k_in, tpr), (row, tpr, 1), v_xi.storage_offset() + (y0 - r2) * row)
                torch.bmm(self.uk[xi].expand(k, n2, k_in), rhs, out=mb[xi])
            y = mm(self.at, mb.view(al, k * n2 * tpr)).view(m, k, n2, tpr)
            torch.add(y.permute(2, 1, 3, 0), self.b2, out=sc.h2.view(n2, k, tpr, m))
            sc.h2.relu_()
            mm(self.w3, sc.h2, out=tf[:, base + y0 * wf:base + (y0 + k) * wf])

        self._parallel(-(-(hf - 2 * s2) // per), pass2)

    # ------------------------------------------------------------------------------ public
    def run_rows(self, x: Tensor, rows: tuple[int, int], *, row0: int = 0, height: int | None = None,
                 tile: int | tuple[int, int] | None = None, out: Tensor | None = None,
                 self_ensemble: bool = False) -> Tensor:
        """Output rows ``rows = (a, b)`` of the model applied to an image of ``height`` rows (default:
        ``row0 + x.shape[-2]``) of which ``x`` (N, C, h, W) holds rows ``row0 .. row0 + h``. ``x``
        must hold ``radius`` rows of context above ``a`` and below ``b`` (or reach the image's
        border). ``tile``: output pixels per tile side (or ``(th, tw)``); ``None``: one tile.
        ``self_ensemble``: the mean over the 8 flips/rotations of ``x`` (:meth:`_ensemble_rows`)."""
        n, c, h, w = x.shape
        if c != self.config.channels:
            raise ConfigError(f"the model takes {self.config.channels} channel(s), got {c}")
        height = row0 + h if height is None else height
        a, b = rows
        R = self.radius
        if not (0 <= a <= b <= height) or (a - R < row0 and row0 > 0) or \
                (b + R > row0 + h and row0 + h < height):
            raise ValueError("run_rows: x does not hold the context the rows need")
        if self_ensemble:
            return self._ensemble_rows(x, (a - row0, b - row0), tile, out)
        if out is None:
            out = torch.empty((n, c, b - a, w), dtype=x.dtype, device=x.device)
        if isinstance(tile, tuple):
            th, tw = tile
        elif tile:
            th = tw = tile
        else:  # whole region
            th, tw = b - a, w
        th, tw = max(1, th), max(1, tw)
        xf = x if x.dtype == self.dtype else x.to(self.dtype)
        # CPU: our own worker threads, each running single-threaded kernels (see the module notes).
        workers = self.threads or torch.get_num_threads()
        cpu_parallel = self.backend == "gemm" and self.device.type == "cpu" and workers > 1
        saved = torch.get_num_threads()
        with contextlib.ExitStack() as stack:
            if cpu_parallel:
                self._workers = workers
                self._pool = stack.enter_context(ThreadPoolExecutor(workers - 1, "srcnn-engine"))
                torch.set_num_threads(1)
                stack.callback(torch.set_num_threads, saved)
            stack.callback(self._drop_pool)
            stack.enter_context(torch.inference_mode())
            for i in range(n):
                for y0 in range(a, b, th):
                    y1 = min(b, y0 + th)
                    for x0 in range(0, w, tw):
                        x1 = min(w, x0 + tw)
                        if self.backend == "conv":
                            out[i, :, y0 - a:y1 - a, x0:x1] = self._conv_tile(xf[i], row0, height, w,
                                                                              (y0, y1, x0, x1))
                            continue
                        wf = x1 - x0 + 2 * R
                        if self.wino:  # whole Winograd tiles per frame row
                            wf = -(-wf // WINO_M) * WINO_M
                        fr = _Frame(y0=y0, x0=x0, th=y1 - y0, tw=x1 - x0, hf=y1 - y0 + 2 * R,
                                    wf=wf, top=R - y0, bottom=height - 1 - y0 + R,
                                    left=R - x0, right=w - 1 - x0 + R)
                        dst = out[i, :, y0 - a:y1 - a, x0:x1]
                        if dst.dtype == self.dtype:
                            self._run_frame(xf[i], fr, row0, height, w, dst)
                        else:
                            tmp = torch.empty(dst.shape, dtype=self.dtype, device=dst.device)
                            self._run_frame(xf[i], fr, row0, height, w, tmp)
                            dst.copy_(tmp)
        return out

    def _ensemble_rows(self, x: Tensor, rows: tuple[int, int], tile: int | tuple[int, int] | None,
                       out: Tensor | None) -> Tensor:
        """Rows ``rows`` of ``x``'s self-ensemble: each of the 8 dihedral views of ``x`` runs whole
        (tiles turned with the view), is mapped back, and the rows are averaged; 8 times the work.
        Exact: a view's edges are the image's real borders or cut edges that :meth:`run_rows` has
        checked lie at least the radius away from the rows, so the padding there never reaches them."""
        a, b = rows
        th, tw = tile if isinstance(tile, tuple) else (tile or 0, tile or 0)
        acc: Tensor | None = None
        for k in range(DIHEDRAL_ORDER):
            v = dihedral(x, k).contiguous()
            t = None if not tile else ((tw, th) if k % 2 else (th, tw))  # odd k swap height and width
            y = dihedral_inverse(self.run_rows(v, (0, v.shape[-2]), tile=t), k)[..., a:b, :]
            acc = y.clone() if acc is None else acc.add_(y)
        assert acc is not None
        acc.div_(DIHEDRAL_ORDER)
        return acc if out is None else out.copy_(acc)

    def _conv_tile(self, x: Tensor, row0: int, height: int, width: int,
                   box: tuple[int, int, int, int]) -> Tensor:
        """Output pixels ``box = (y0, y1, x0, x1)`` by library convolutions: the tile as three
        zero-padded convolutions (the library pads inside the kernel: the plain stack's speed), then
        the pixels within ``radius`` of an image border, the only ones where zero and replicate
        padding differ (layer k's outputs differ within r1 + ... + rk of the border), recomputed
        exactly by :meth:`_conv_exact` on thin strips. Away from image borders the window has
        ``radius`` pixels of real context, so its own zero-padded edges never reach the tile."""
        y0, y1, x0, x1 = box
        if self.mirror:  # the window with mirrored context, then valid convolutions: exact
            R = self.radius
            rows = self._index(y0 - R, y1 + R, height, x.device) - row0
            t = x.index_select(1, rows).index_select(2, self._index(x0 - R, x1 + R, width, x.device))[None]
            for k, (wt, bias, _r) in enumerate(self._convs):
                t = F.conv2d(t, wt, bias)
                if k < 2:
                    t = F.relu_(t)
            return t[0]
        if self.replicate and y1 - y0 == height and x1 - x0 == width:
            # the whole image in one tile: the plain stack itself (padding each layer once); the
            # strips below would add ~30 small kernel launches, which dominate below ~1 MP
            # (measured at 0.33x the plain stack for 9-1-5 at 512^2 on an H200)
            return self._conv_exact(x, row0, height, width, box)
        R = self.radius
        ya, yb, xa, xb = max(0, y0 - R), min(height, y1 + R), max(0, x0 - R), min(width, x1 + R)
        t = x[None, :, ya - row0:yb - row0, xa:xb]
        for k, (wt, bias, r) in enumerate(self._convs):
            t = F.conv2d(t, wt, bias, padding=r)
            if k < 2:
                t = F.relu_(t)
        out = t[0, :, y0 - ya:y1 - ya, x0 - xa:x1 - xa]
        if not self.replicate:  # zero padding is the model's own: exact already
            return out
        strips = []
        if y0 < R:
            strips.append((y0, min(y1, R), x0, x1))
        if y1 > height - R:
            strips.append((max(y0, height - R), y1, x0, x1))
        if x0 < R:
            strips.append((y0, y1, x0, min(x1, R)))
        if x1 > width - R:
            strips.append((y0, y1, max(x0, width - R), x1))
        for sy0, sy1, sx0, sx1 in strips:
            out[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = self._conv_exact(x, row0, height, width,
                                                                             (sy0, sy1, sx0, sx1))
        return out

    def _conv_exact(self, x: Tensor, row0: int, height: int, width: int,
                    box: tuple[int, int, int, int]) -> Tensor:
        """Output pixels ``box = (y0, y1, x0, x1)`` by three library convolutions. Each layer's
        window ``[ya, yb) x [xa, xb)`` (image coordinates) is padded by the layer's radius only on
        sides at the image border (where that padding is the authors' replicate padding of the
        whole activation); on other sides the window shrinks by the radius."""
        y0, y1, x0, x1 = box
        R = self.radius
        ya, yb, xa, xb = max(0, y0 - R), min(height, y1 + R), max(0, x0 - R), min(width, x1 + R)
        t = x[None, :, ya - row0:yb - row0, xa:xb]
        mode = "replicate" if self.replicate else "constant"
        for k, (wt, bias, r) in enumerate(self._convs):
            pads = (r if xa == 0 else 0, r if xb == width else 0, r if ya == 0 else 0, r if yb == height else 0)
            if any(pads):
                t = F.pad(t, pads, mode=mode)
            t = F.conv2d(t, wt, bias)
            if k < 2:
                t = F.relu_(t)
            ya, yb = ya + r - pads[2], yb - r + pads[3]
            xa, xb = xa + r - pads[0], xb - r + pads[1]
        return t[0, :, y0 - ya:y1 - ya, x0 - xa:x1 - xa]

    def _drop_pool(self) -> None:
        self._pool = None
        self._workers = 1

    def __call__(self, x: Tensor, *, tile: int | tuple[int, int] | None = None,
                 self_ensemble: bool = False) -> Tensor:
        """The model applied to ``x`` (N, C, H, W), in tiles of ``tile`` output pixels per side
        (averaged over the 8 flips/rotations of ``x`` with ``self_ensemble``)."""
        return self.run_rows(x, (0, x.shape[-2]), tile=tile, self_ensemble=self_ensemble)


# ------------------------------------------------------------------------------------ ONNX
ONNX_OPSET = 17
#: The oldest opset the exported graph is valid in (Pad with its pads as an input).
ONNX_MIN_OPSET = 11


def export_onnx(model: SRCNN, *, metadata: dict[str, str] | None = None, opset: int = ONNX_OPSET) -> bytes:
    """The model as a serialized ONNX graph: input ``input`` and output ``output`` of shape
    ``(batch, channels, height, width)`` with dynamic batch, height and width; each layer is a
    ``Pad`` (mode ``edge`` = replicate, or ``constant`` 0 for a ``zeros`` model) then ``Conv``
    (then ``Relu``), so that the graph has the authors' same-size semantics; a ``symmetric`` model
    mirrors its input once (two ``Gather`` of computed indices, any image size) and pads no layer.
    Built directly with ``onnx.helper`` (no tracing), so it needs only the ``onnx`` package."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError("ONNX export needs the onnx package: pip install 'srcnn[onnx]' (or pip install onnx "
                          "onnxruntime)") from None
    newest = int(onnx.defs.onnx_opset_version())
    if not ONNX_MIN_OPSET <= opset <= newest:
        raise ConfigError(f"opset must be from {ONNX_MIN_OPSET} (Pad takes its pads as an input from there) "
                          f"to {newest} (the newest this onnx {onnx.__version__} knows), got {opset}")
    cfg = model.config
    if cfg.padding == "valid":
        raise ConfigError("export a same-size model (padding 'replicate', 'zeros' or 'symmetric')")
    mode = "edge" if cfg.padding == "replicate" else "constant"
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    cur = "input"
    mirror = cfg.padding == "symmetric"
    if mirror:
        cur = _onnx_mirror(cur, cfg.radius, inits, nodes)
    convs = (model.conv1, model.conv2, model.conv3)
    for i, conv in enumerate(convs, start=1):
        w = conv.weight.detach().to("cpu", torch.float32).numpy()
        b = conv.bias.detach().to("cpu", torch.float32).numpy()  # type: ignore[union-attr]
        inits += [numpy_helper.from_array(w, f"conv{i}.weight"), numpy_helper.from_array(b, f"conv{i}.bias")]
        k = int(w.shape[-1])
        r = k // 2
        if r and not mirror:
            pads = numpy_helper.from_array(np.array([0, 0, r, r, 0, 0, r, r], dtype=np.int64), f"pads{i}")
            inits.append(pads)
            nodes.append(helper.make_node("Pad", [cur, f"pads{i}"], [f"padded{i}"], mode=mode,
                                          name=f"pad{i}"))
            cur = f"padded{i}"
        out = "output" if i == 3 else f"conv{i}"
        nodes.append(helper.make_node("Conv", [cur, f"conv{i}.weight", f"conv{i}.bias"], [out],
                                      kernel_shape=[k, k], name=f"conv{i}"))
        cur = out
        if i < 3:
            nodes.append(helper.make_node("Relu", [cur], [f"relu{i}"], name=f"relu{i}"))
            cur = f"relu{i}"
    shape: list[str | int | None] = ["batch", cfg.channels, "height", "width"]
    graph = helper.make_graph(
        nodes, f"srcnn_{cfg.name}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
        initializer=inits)
    m = helper.make_model(graph, producer_name="srcnn", opset_imports=[helper.make_opsetid("", opset)],
                          doc_string=f"SRCNN {cfg.name}, {cfg.channels} channel(s), "
                          + ("the input padded symmetric once" if mirror else f"{cfg.padding} padding at every layer")
                          + "; input and output on the [0, 1] scale")
    m.ir_version = 8
    props = {"srcnn.config": json.dumps(cfg.to_dict()), **(metadata or {})}
    helper.set_model_props(m, props)
    onnx.checker.check_model(m)
    data: bytes = m.SerializeToString()
    return data


def _onnx_mirror(cur: str, r: int, inits: list[Any], nodes: list[Any]) -> str:
    """Append to ``nodes`` an ONNX subgraph padding ``cur`` (N, C, H, W) by ``r`` on every side,
    Matlab-symmetric, for any H and W (as :func:`srcnn.model.mirror_index`): for each axis the
    indices ``i = -r .. n + r - 1`` become ``j = i mod 2n``, then ``2n - 1 - j`` where ``j >= n``,
    and one ``Gather`` takes them. Returns the padded tensor's name."""
    from onnx import helper, numpy_helper

    def const(name: str, v: int) -> str:
        inits.append(numpy_helper.from_array(np.array(v, dtype=np.int64), name))
        return name

    node = helper.make_node
    nodes.append(node("Shape", [cur], ["in_shape"], name="in_shape"))
    neg_r, r_ = const("mirror_neg_r", -r), const("mirror_r", r)
    one, two = const("mirror_one", 1), const("mirror_two", 2)
    for axis in (2, 3):
        a = f"mirror{axis}_"
        nodes += [
            node("Gather", ["in_shape", const(a + "axis", axis)], [a + "n"], axis=0, name=a + "n"),
            node("Add", [a + "n", r_], [a + "stop"], name=a + "stop"),
            node("Range", [neg_r, a + "stop", one], [a + "i"], name=a + "i"),
            node("Mul", [a + "n", two], [a + "2n"], name=a + "2n"),
            node("Mod", [a + "i", a + "2n"], [a + "j"], fmod=0, name=a + "j"),
            node("Sub", [a + "2n", one], [a + "2n1"], name=a + "2n1"),
            node("Sub", [a + "2n1", a + "j"], [a + "back"], name=a + "back"),
            node("Less", [a + "j", a + "n"], [a + "inside"], name=a + "inside"),
            node("Where", [a + "inside", a + "j", a + "back"], [a + "idx"], name=a + "idx"),
            node("Gather", [cur, a + "idx"], [a + "out"], axis=axis, name=a + "gather"),
        ]
        cur = a + "out"
    return cur


def check_onnx(data: bytes, model: SRCNN, *, sizes: tuple[tuple[int, int], ...] = ((37, 53), (96, 64)),
               threads: int = 2, seed: int = 0) -> float | None:
    """Run an exported model with onnxruntime on random images of ``sizes`` and return the max abs
    difference from this engine's output (``inf`` where either output is not finite); ``None`` when
    onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    try:
        sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # e.g. an opset newer than this onnxruntime runs
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SRCNNError(f"onnxruntime {ort.__version__} cannot load the exported model ({first[:300]}); "
                         "try an older --opset, or --no-check to write it unchecked") from None
    eng = Engine(model.to("cpu").float())
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for h, w in sizes:
        x = torch.rand(1, model.config.channels, h, w, generator=g)
        got = sess.run(None, {"input": x.numpy()})[0]
        ref = eng(x).numpy()
        d = float(np.abs(got - ref).max())
        worst = max(worst, d if math.isfinite(d) else math.inf)  # NaN (max() would drop it) counts as a mismatch
    return worst
