"""The ``srcnn`` command line: parses, calls the library, prints; ``main(argv) -> exit code``.

Exit codes: 0 success, 1 a failure while working (unreadable input, corrupt weights, ...), 2 a
usage error (bad option or value), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import os
import shutil
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, SRCNNError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
#: ``srcnn upscale -`` reads standard input, ``-o -`` writes standard output; the names messages use.
STDIO, STDIN_NAME, STDOUT_NAME = "-", "<stdin>", "<stdout>"
#: The smallest ``upscale --tile``: each tile also computes its neighbours' border (8 pixels for 9-5-5).
MIN_TILE = 16
#: srcnn.model.SAME_PADDINGS (not imported here: the CLI starts without torch)
_PADDINGS = ("symmetric", "replicate", "zeros")
_PADDING_HELP = ("how the network sees past the image border: symmetric (the input mirrored; our models' own), "
                 "replicate (every layer padded by edge replication: the authors' demo_SR.m, and their "
                 "converted models' own) or zeros (default: the weights' own)")
_DEVICE_HELP = "torch device: cpu (default), cuda, cuda:1, mps, or auto (a GPU when there is one)"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() controls messages and exit codes."""

    def error(self, message: str) -> Any:
        raise _UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


class _UsageError(Exception):
    pass


def _non_negative_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}")
    return v


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {s!r}")
    return v


def _size(s: str) -> int:
    """A byte count: ``1000000``, ``512K``, ``256M``, ``1.5G`` (powers of 1024)."""
    t = s.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    if mult > 1:
        t = t[:-1]
    try:
        v = float(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 512M or 2G, got {s!r}") from None
    if not (1 << 20 <= v < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a size of at least 1M, got {s!r}")
    return int(v)


def _nonempty(s: str) -> str:
    """A file, folder or model name: an empty one (``-o ""``, say, from an unset shell variable) is refused rather
    than read as the current folder or as "not given"."""
    if s == "":
        raise argparse.ArgumentTypeError("empty; give a file, folder or model name")
    return s


def _float(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None


def _floats(s: str) -> tuple[float, ...]:
    """A comma-separated list of numbers (``1.5,2,3,4``)."""
    return tuple(_float(x.strip()) for x in s.split(","))


# --------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="srcnn", description="SRCNN single-image super-resolution (Dong et al.).",
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="Run `srcnn COMMAND --help` for the options of each command.")
    p.add_argument("--version", action="version", version=f"srcnn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    up = sub.add_parser("upscale", help="enlarge images with SRCNN",
                        description="Enlarge images: each INPUT is the low-resolution image. "
                        "Colour images are converted to YCbCr; Y goes through SRCNN, Cb/Cr and "
                        "alpha are enlarged by bicubic. Output size = round(scale x input size), or the "
                        "--width/--height asked for. The ICC colour profile and EXIF are kept. "
                        "With --out-dir, folders are processed image by image: a bad file is "
                        "reported and skipped, a summary ends the run, and the exit code is 0 only "
                        "when every image succeeded (1 when some failed, 2 on usage errors).")
    up.add_argument("inputs", type=_nonempty, nargs="+", metavar="INPUT",
                    help="image files or folders; '-' reads one image from standard input (name a "
                    "file called '-' as ./-)")
    size = up.add_mutually_exclusive_group(required=True)
    size.add_argument("-s", "--scale", type=_float,
                      help="upscaling factor, > 1 and <= 16 (e.g. 2, 3, 2.5); the shipped models (the "
                      "default weights) serve 1.5 to 4, other factors need --weights")
    size.add_argument("--width", type=_positive_int, metavar="PIXELS",
                      help="instead of --scale: enlarge each image to this width (the height in "
                      "proportion; the factor is width / input width, served by the multi-scale model "
                      "when it is not 2, 3 or 4: 1.5 to 4 without --weights)")
    size.add_argument("--height", type=_positive_int, metavar="PIXELS",
                      help="instead of --scale: enlarge each image to this height (the width in proportion)")
    up.add_argument("-w", "--weights", type=_nonempty, default=None,
                    help="a shipped model name, our .safetensors file or an authors' .mat file "
                    "(default: the best shipped model for the scale); pickles (.pt, .pth, .pkl) "
                    "are refused")
    up.add_argument("--padding", default=None, choices=_PADDINGS, help=_PADDING_HELP)
    out = up.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", type=_nonempty, help="output file (one input image only); '-' writes the "
                     "image to standard output, as --ext says (default png)")
    out.add_argument("--out-dir", type=_nonempty, help="output folder (any number of inputs; folder structure kept, "
                     "created when needed)")
    up.add_argument("--ext", default=None,
                    help="output type for --out-dir and -o -: png (default), jpg, tif, bmp, webp (also gif, ppm, "
                    "tga, jp2), or 'same' to keep each input's type; with -o FILE the file name's extension "
                    "gives the type instead")
    up.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    exist = up.add_mutually_exclusive_group()
    exist.add_argument("--overwrite", action="store_true", help="replace existing output files")
    exist.add_argument("--skip-existing", action="store_true",
                       help="skip inputs whose output already exists (counted as skipped)")
    up.add_argument("--allow-scale-mismatch", action="store_true",
                    help="use weights trained for another scale anyway")
    up.add_argument("--strip-metadata", action="store_true",
                    help="do not copy the input's EXIF (camera, date, GPS, ...) to the output; by "
                    "default it is copied into JPEG, PNG and WebP outputs. The ICC colour profile is "
                    "always kept: without it the colours of a wide-gamut photo would change")
    up.add_argument("--max-pixels", type=_non_negative_int, default=None,
                    help="refuse input images with more pixels than this, checked on the header "
                    "before decoding (default 100000000)")
    up.add_argument("--tile", type=_non_negative_int, default=None,
                    help="run the network in tiles of this many output pixels per side (exact: "
                    "tiles overlap by the receptive field); 0 = whole image, else at least 16; "
                    "default: the largest tile that fits --max-memory")
    up.add_argument("--max-memory", type=_size, default="512M", metavar="SIZE",
                    help="working-memory budget beyond the input and output images, e.g. 256M or "
                    "2G (default 512M): the output is made in stripes and the network in tiles "
                    "sized to fit it, so huge outputs (64 megapixels and more) fit in a little RAM")
    up.add_argument("--threads", type=_non_negative_int, default=None,
                    help="CPU threads for the network (default, or 0: torch's, one per core)")
    up.add_argument("--self-ensemble", action="store_true",
                    help="run the network on the 8 flips and rotations of the image and average "
                    "them: 0.02 to 0.21 dB higher PSNR on Set5/Set14/BSD100 with the shipped models, 7 to 8.5 "
                    "times slower")
    up.add_argument("--stretch", action="store_true",
                    help="map each image's darkest..brightest value to the full range before the network and "
                    "back after it: for images that fill a small part of their range (very dark, or 10/12-bit "
                    "data in 16-bit files), which the shipped models (trained on 8-bit photos) otherwise make "
                    "worse than bicubic; off by default (the papers take images as they are)")
    up.add_argument("--device", default="cpu", help=_DEVICE_HELP)
    up.add_argument("-q", "--quiet", action="store_true",
                    help="no progress bar, notes or summary (errors are still printed)")

    ev = sub.add_parser("evaluate", help="PSNR/SSIM on test sets, the papers' protocol",
                        description="Evaluate as demo_SR.m does: Y channel, modcrop, Matlab "
                        "bicubic down and up, the model, uint8 rounding, `scale` pixels shaved, "
                        "PSNR and SSIM; bicubic is the baseline. Without --weights: the papers' table "
                        "for the shipped models, at x2, x3 and x4 (or each --scale), next to bicubic "
                        "and the authors' released model of the same architecture.")
    ev.add_argument("-w", "--weights", type=_nonempty, default=None,
                    help="a shipped model name, our .safetensors file or an authors' .mat file "
                    "(default: the shipped models that srcnn upscale uses, one per scale, in a table)")
    ev.add_argument("-s", "--scale", type=_float, action="append", dest="scales", default=None,
                    help="scale factor (with --weights: the one they were trained for by default; "
                    "without: 2, 3 and 4 by default, and the option may be repeated)")
    ev.add_argument("--arch", default=None, choices=["9-1-5", "9-5-5"],
                    help="without --weights: the shipped models of this architecture (default: the "
                    "ones srcnn upscale uses, 9-5-5)")
    ev.add_argument("--sets", type=_nonempty, nargs="+", default=["Set5", "Set14"], metavar="SET",
                    help="set names in the data root (Set5, Set14, BSD100) or folders "
                    "(default: Set5 Set14)")
    ev.add_argument("--data-root", default=None,
                    help="folder holding the sets (default: $SRCNN_DATA, else "
                    "~/.local/share/srcnn/data)")
    ev.add_argument("--json", type=_nonempty, default=None, metavar="FILE", help="also write the numbers as JSON")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    ev.add_argument("--per-image", action=argparse.BooleanOptionalAction, default=None,
                    help="print the per-image table (default: on with --weights, off without)")
    ev.add_argument("--self-ensemble", action="store_true",
                    help="average the model over the 8 flips and rotations of each image (not the "
                    "papers' protocol; 7 to 8.5 times slower)")
    ev.add_argument("--padding", default=None, choices=_PADDINGS,
                    help=_PADDING_HELP + "; with --weights only")
    ev.add_argument("--device", default="cpu", help=_DEVICE_HELP)
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    cv = sub.add_parser("convert", help="convert the authors' .mat weights to our format",
                        description="Read an SRCNN Matlab model (SRCNN_v1/model/*/xN.mat) and write "
                        "our safetensors weights with architecture, scale and provenance.")
    cv.add_argument("mat", type=_nonempty, metavar="PATH.mat", help="the authors' Matlab model file")
    cv.add_argument("-o", "--output", type=_nonempty, required=True, metavar="PATH.safetensors",
                    help="the weights file to write (safetensors with the model's metadata)")
    cv.add_argument("-s", "--scale", type=_float, default=None,
                    help="the scale the model is for (default: from an xN file name)")
    cv.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    inf = sub.add_parser("info", help="show what a weights file or model name holds",
                         description="Print as JSON what weights hold: name, architecture, scale(s), channels, "
                         "padding, parameters, provenance and, for a shipped model, its sha256, recipe and results. "
                         "Reads a shipped model name, our .safetensors file or an authors' .mat file.")
    inf.add_argument("weights", type=_nonempty, help="a shipped model name, .safetensors or .mat file")

    sub.add_parser("models", help="list the shipped pretrained models",
                   description="List the pretrained models shipped in the package: name, architecture, "
                               "scales, measured Y-PSNR on Set5 / Set14 / BSD100 (and the margin over the "
                               "authors' model), sha256 and training recipe. `srcnn upscale` without --weights "
                               "uses the best of them for the requested scale.")

    ex = sub.add_parser("export", help="export weights as an ONNX model",
                        description="Write the network as ONNX: input 'input' and output 'output' of "
                        "shape (batch, channels, height, width), dynamic batch/height/width, with the "
                        "weights' own padding: each layer padded by edge replication before its "
                        "convolution (the authors' semantics), or for our models the input mirrored "
                        "once (symmetric). The input is what the network takes in srcnn upscale: the "
                        "bicubic-enlarged Y (or RGB/YCbCr) planes on the [0, 1] scale.")
    ex.add_argument("-w", "--weights", type=_nonempty, required=True,
                    help="a shipped model name, our .safetensors file or an authors' .mat file")
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="output format (onnx)")
    ex.add_argument("-o", "--output", type=_nonempty, required=True, metavar="MODEL.onnx",
                    help="the ONNX file to write")
    ex.add_argument("--opset", type=_non_negative_int, default=17, help="ONNX opset (default 17)")
    ex.add_argument("-s", "--scale", type=_float, default=None,
                    help="for a scale-conditioned (multi-scale) model: the scale to export its "
                    "network for (its weights depend on the scale); ignored otherwise")
    ex.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                    help="run the exported model with onnxruntime (when installed) on two random "
                    "images and compare with srcnn's engine (default: on)")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    # --- see the results (issue 8): compare, filters, serve
    cmp = sub.add_parser("compare", help="figure: ground truth | bicubic | SRCNN with a zoomed crop",
                         description="Treat IMAGE as the ground truth: crop it to a multiple of the "
                         "scale, shrink it by Matlab bicubic (rounded to 8 bits: a real low-resolution "
                         "image), enlarge that with bicubic and with SRCNN, and draw them side by side "
                         "with a zoomed crop and the Y-PSNR of each (ceil(scale) pixels shaved), as in "
                         "the paper's figures. The PSNR table is printed too.")
    cmp.add_argument("image", type=_nonempty, metavar="IMAGE", help="the ground-truth (high-resolution) image")
    cmp.add_argument("-s", "--scale", type=_float, required=True, help="scale factor, e.g. 3")
    cmp.add_argument("-w", "--weights", type=_nonempty, action="append", default=None, metavar="W",
                     help="a shipped model name, .safetensors or .mat file; repeat for one column "
                     "each (default: the best shipped model for the scale)")
    cmp.add_argument("--crop", default=None, metavar="X,Y,W,H",
                     help="the zoomed region in ground-truth pixels (default: where SRCNN differs "
                     "most from bicubic)")
    cmp.add_argument("-o", "--output", type=_nonempty, required=True, metavar="FIG.png", help="the figure to write")
    cmp.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    cmp.add_argument("--allow-scale-mismatch", action="store_true",
                     help="use weights trained for another scale anyway")
    cmp.add_argument("--device", default="cpu", help=_DEVICE_HELP)
    cmp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    flt = sub.add_parser("filters", help="figure: the learned filters of a model",
                         description="Draw the first-layer filters as a grid of tiles (each scaled to "
                         "its own min..max), as the paper shows them, and the second layer's "
                         "kernels when f2 > 1.")
    flt.add_argument("weights", type=_nonempty, metavar="W", help="a shipped model name, .safetensors or .mat file")
    flt.add_argument("-o", "--output", type=_nonempty, required=True, metavar="FIG.png", help="the figure to write")
    flt.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    srv = sub.add_parser("serve", help="a local web page: drop an image, see SRCNN next to bicubic",
                         description="Serve a web page where you drop or pick an image, choose the "
                         "scale and model, compare the result with bicubic (before/after slider, "
                         "zoom) and download the PNG. Listens on 127.0.0.1 (this computer only) "
                         "unless --host says otherwise; uploads are decoded in a temporary folder "
                         "and nothing is kept.")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=_non_negative_int, default=8000, help="port (default 8000)")
    srv.add_argument("-w", "--weights", type=_nonempty, action="append", default=None, metavar="FILE",
                     help="weights to offer besides the shipped models (.safetensors or .mat); "
                     "repeatable; the page starts on the first one")
    srv.add_argument("--max-upload-mb", type=_float, default=20.0,
                     help="largest upload in MB (default 20)")
    srv.add_argument("--max-pixels", type=_non_negative_int, default=16_000_000,
                     help="largest result image in pixels (default 16000000); larger requests are "
                     "refused before decoding")
    srv.add_argument("--device", default="cpu", help=_DEVICE_HELP)

    tr = sub.add_parser("train", help="train SRCNN on folders of high-resolution images",
                        description="Train SRCNN on sub-images cut from HR images (Y channel, modcrop, "
                        "Matlab bicubic down and up), as the paper does. Writes checkpoint.pt, "
                        "metrics.csv, best.safetensors and last.safetensors into --out; --resume goes "
                        "on where the checkpoint stopped (same steps, schedule and data order; options "
                        "that differ from the checkpoint's are reported); "
                        "Ctrl-C saves a checkpoint first. Under torchrun it trains with "
                        "DistributedDataParallel (gloo on CPU, nccl on GPU); --batch-size is the "
                        "global batch, split between processes.",
                        epilog="recipes: paper = SGD momentum 0.9, lr 1e-4/1e-4/1e-5, biases x0.1, "
                        "N(0, 0.001) init, batch 128, 33x33 grid stride 14, Caffe loss sum/2N; "
                        "fast = Adam lr 1e-3 for 9-1-5, 3e-4 with a 500-step linear warm-up for 9-3-5/9-5-5 (a "
                        "tenth for the last layer), cosine decay (over the steps, or over "
                        "the clock when only --max-minutes is given), batch 32, random crops with "
                        "flips/rotations, identity init, MSE.")
    tr.add_argument("--arch", default="9-1-5", choices=["9-1-5", "9-3-5", "9-5-5"],
                    help="filter sizes f1-f2-f3 (default 9-1-5)")
    tr.add_argument("--channels", default="y", choices=["y", "rgb", "ycbcr"],
                    help="y: luma only (the paper's default); rgb / ycbcr: all three channels, c = 3")
    tr.add_argument("-s", "--scale", type=_float, action="append", dest="scales",
                    help="scale factor k; repeat for a multi-scale set (default 3)")
    tr.add_argument("--train-set", type=_nonempty, action="append", dest="train_sets", metavar="NAME_OR_DIR",
                    help="training set name in the data root or a folder; repeatable (default T91)")
    tr.add_argument("--val-set", type=_nonempty, default="Set5",
                    help="set to monitor PSNR on (default Set5, as the paper's convergence curves); "
                    "best.safetensors is the step that scored best on it, so with a test set "
                    "report last.safetensors (never used to pick shipped weights)")
    tr.add_argument("--data-root", default=None, help="data root (default: $SRCNN_DATA, else "
                    "~/.local/share/srcnn/data)")
    tr.add_argument("--recipe", default="fast", choices=["paper", "fast"], help="training recipe "
                    "(default fast; see below)")
    tr.add_argument("--out", type=_nonempty, default="runs/srcnn", help="run folder (default runs/srcnn)")
    stop = tr.add_argument_group("stopping (the first reached wins; default: 10 epochs)")
    stop.add_argument("--max-steps", type=_non_negative_int, default=None, help="optimiser steps")
    stop.add_argument("--epochs", type=_float, default=None,
                      help="epochs of the sub-image grid (stride --stride)")
    stop.add_argument("--max-minutes", type=_float, default=None, help="wall time, across resumes")
    tr.add_argument("--batch-size", type=_non_negative_int, default=None,
                    help="global mini-batch (default: 128 for paper, 32 for fast)")
    tr.add_argument("--micro-batch", type=_positive_int, default=None, metavar="N",
                    help="run each step's batch (each process's share) forward and backward in parts "
                    "of N crops, adding up the gradients: the same step in less memory (default: on a "
                    "CPU, parts sized to its caches, which is faster for large crops; elsewhere the "
                    "whole batch at once)")
    tr.add_argument("--lr", type=_float, default=None,
                    help="base learning rate (paper 1e-4; fast 1e-3 for 9-1-5, 3e-4 for 9-3-5 and "
                    "9-5-5, whose wider mapping layer loses channels to dead ReLUs at 1e-3)")
    tr.add_argument("--scale-poly", type=_non_negative_int, default=0, metavar="DEGREE",
                    help="multi-scale only: make every weight a degree-DEGREE polynomial of the "
                    "scale factor (one network whose filters follow the scale; serves any scale "
                    "between the smallest and largest -s; inference cost unchanged). 0 = off "
                    "(default): one set of filters for all scales")
    tr.add_argument("--scale-knots", type=_floats, default=(), metavar="K1,K2,...",
                    help="multi-scale, instead of --scale-poly: a network per knot scale (e.g. "
                    "1.5,2,3,4), weights interpolated linearly between knots; at a knot the model is "
                    "exactly that knot's network. Start it with --init-from (a plain network: every "
                    "knot starts as it; a multi-scale one: each knot as its network at that scale)")
    tr.add_argument("--balance-scales", action="store_true",
                    help="with --scale-poly or --scale-knots: divide each scale's loss by its bicubic error on the "
                    "training pairs, so that low scales (small errors) weigh as much as high ones")
    tr.add_argument("--coef-lr", type=_float, default=None, metavar="FACTOR",
                    help="with --scale-poly: learning-rate factor for all its parameters (default "
                    "1/(DEGREE+1), so that the folded weights move no faster than a plain model's; "
                    "1 = the base rate for every coefficient); with --scale-knots: default 1")
    tr.add_argument("--amp", default="off", choices=["off", "fp16", "bf16"],
                    help="mixed precision for the forward pass: fp16 (CUDA, with loss scaling) or "
                    "bf16; weights, optimiser and loss stay float32 (default off). For GPUs: on a "
                    "CPU without bfloat16 units bf16 runs 4-8x slower (benchmarks/train_speed.py --amp)")
    tr.add_argument("--channels-last", action="store_true",
                    help="run the convolutions in NHWC memory layout (torch.channels_last): the same training up "
                    "to float rounding, faster or slower by device (time it first: benchmarks/train_speed.py "
                    "--device cuda --amp tf32 --channels-last); no faster on CPUs")
    tr.add_argument("--warmup", type=_non_negative_int, default=None,
                    help="steps of linear learning-rate warm-up (default: 500 for fast 9-3-5 and "
                    "9-5-5, else 0)")
    tr.add_argument("--size", type=_non_negative_int, default=None,
                    help="sub-image size (default 33)")
    tr.add_argument("--stride", type=_non_negative_int, default=14,
                    help="sub-image grid stride (default 14)")
    tr.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                    help="random flips/rotations (default: on for fast, off for paper)")
    tr.add_argument("--downscale", type=_float, action="append", dest="downscales", default=None,
                    help="also train on copies of each HR image scaled by this factor (e.g. 0.9); "
                    "repeatable")
    tr.add_argument("--train-padding", default="valid", choices=["valid", "replicate", "zeros"],
                    help="valid: labels are the centre the network covers (the paper); replicate / "
                    "zeros: same-size output, whole patch as label")
    tr.add_argument("--init", default=None, choices=["paper", "default", "identity"],
                    help="paper: N(0, 0.001); default: PyTorch's; identity: start as the identity "
                    "map (default: paper for the paper recipe, identity for fast)")
    tr.add_argument("--init-from", type=_nonempty, default=None, metavar="WEIGHTS",
                    help="fine-tune: start from these weights (a .safetensors file or a shipped model "
                    "name; same architecture) instead of --init; a --scale-poly run starts every "
                    "scale as this network")
    tr.add_argument("--distill-from", type=_nonempty, default=None, metavar="WEIGHTS",
                    help="self-ensemble distillation: train towards labels that mix the ground truth "
                    "with the 8-view self-ensemble of these weights (e.g. the model being fine-tuned, "
                    "given to --init-from too), computed at the first start and cached in ~/.cache/srcnn, so "
                    "that --resume trains on the same labels without the teacher's pass")
    tr.add_argument("--distill-weight", type=_float, default=0.5, metavar="W",
                    help="with --distill-from: label = (1 - W) x ground truth + W x teacher, W in (0, 1] "
                    "(default 0.5)")
    tr.add_argument("--eval-every", type=_non_negative_int, default=500,
                    help="validate and log every N steps (default 500)")
    tr.add_argument("--ckpt-every", type=_non_negative_int, default=250,
                    help="checkpoint every N steps (default 250)")
    tr.add_argument("--resume", action="store_true",
                    help="continue from --out/checkpoint.pt (Ctrl-C and SIGTERM save it on the way "
                    "out; it is also saved every --ckpt-every steps)")
    tr.add_argument("--strict", action="store_true",
                    help="stop on an unreadable training image instead of skipping it")
    tr.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    tr.add_argument("--device", default="cpu", help=_DEVICE_HELP)
    tr.add_argument("-q", "--quiet", action="store_true",
                    help="no progress bars or notes (the warning that best.safetensors was picked on a test set "
                    "still prints); the last line (step, PSNR, training and setup time) still prints")

    pl = sub.add_parser("plot", help="draw a run's convergence curve (PSNR vs backprops)",
                        description="Plot test PSNR against the number of backprops from RUN_DIR/"
                        "metrics.csv, with bicubic as a dashed line, as the paper's figures do.")
    pl.add_argument("run_dirs", type=_nonempty, nargs="+", metavar="RUN_DIR", help="run folders (one curve each)")
    pl.add_argument("-o", "--output", type=_nonempty, default=None,
                    help="output PNG (default: the first RUN_DIR's convergence.png)")
    pl.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    dm = sub.add_parser("demo", help="before/after picture of a shipped photo, no download",
                        description="Shrink a sample photo that scikit-image ships by --scale with "
                        "Matlab bicubic, enlarge it back with bicubic and with SRCNN, and write a "
                        "side-by-side PNG with a zoomed crop; prints both PSNRs.")
    dm.add_argument("-o", "--output", type=_nonempty, default="srcnn-demo.png",
                    help="output PNG (default srcnn-demo.png)")
    dm.add_argument("-s", "--scale", type=_float, default=3.0, help="scale factor (default 3)")
    dm.add_argument("-w", "--weights", type=_nonempty, default=None,
                    help="weights (default: the best shipped model for the scale)")
    dm.add_argument("--sample", default="astronaut",
                    choices=["astronaut", "chelsea", "coffee", "rocket"],
                    help="which scikit-image photo (default astronaut)")
    dm.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    try:
        from .cli_data import add_data_parser
    except ImportError:  # pragma: no cover - cli_data is part of the package
        pass
    else:
        add_data_parser(sub)  # type: ignore[arg-type]
    return p


# ------------------------------------------------------------------------------------- commands
def _err(msg: str) -> None:
    print(f"srcnn: error: {msg}", file=sys.stderr)


def _note(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"srcnn: {msg}", file=sys.stderr)


def cmd_convert(args: argparse.Namespace) -> int:
    from .fileio import check_output_path
    from .infer import check_scale
    from .weights import load_mat, save_weights

    if args.scale is not None:
        check_scale(args.scale)
    out = check_output_path(args.output, overwrite=args.overwrite, inputs=(Path(args.mat),))
    if out.suffix.lower() != ".safetensors":
        raise ConfigError(f"output {out} should end in .safetensors")
    w = load_mat(args.mat, scale=args.scale)
    digest = save_weights(w, out, overwrite=args.overwrite)
    scales = ", ".join(f"x{s:g}" for s in w.scales) or "unknown scale"
    print(f"wrote {out}: SRCNN {w.config.name}, {scales}, tensors sha256 {digest}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from .pretrained import AUTHORS, get_info, is_model_name, vs_authors
    from .weights import load_weights, weights_to_dict

    doc = weights_to_dict(load_weights(args.weights))
    if is_model_name(args.weights):  # a shipped model: the registry's record too
        m = get_info(args.weights)
        results = m.results()
        doc["shipped"] = {"file": m.file, "sha256": m.sha256, "recipe": m.recipe,
                          "results": {f"x{k:g}": r for k, r in results.items()}}
        margins = {k: d for k in results if (d := vs_authors(m, k)) is not None}
        if margins:
            doc["shipped"]["authors_model"] = AUTHORS[m.arch][0]
            doc["shipped"]["vs_authors"] = {f"x{k:g}": {key: round(v, 4) for key, v in d.items()}
                                            for k, d in margins.items()}
    print(_json_text(doc))
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from .pretrained import REGISTRY, best_for_scale, vs_authors

    if not REGISTRY:
        print("no shipped models in this version; use --weights with a .safetensors or .mat file")
        return EXIT_OK
    keys = ("set5_psnr", "set14_psnr", "bsd100_psnr")

    def psnrs(meta: dict[str, Any]) -> str:  # the registry's 3 decimals: rounded again to 2, a measured 32.56546
        return " / ".join(f"{meta.get(k, float('nan')):.3f}" for k in keys)  # (32.565) printed 32.56

    def margins(m: Any, scale: float) -> str:
        d = vs_authors(m, scale)
        return " / ".join(f"{d[k]:+.3f}" for k in keys) if d else "-"

    def scale_cell(m: Any, scale: float) -> str:  # "x3*": srcnn upscale's choice at that scale
        default = best_for_scale(scale, m.channels_mode)
        return f"x{scale:g}" + ("*" if default is not None and default.name == m.name else "")

    width = _text_width()
    print(f"{'name':<16} {'arch':<6} {'scales':<8} {'Y-PSNR Set5 / Set14 / BSD100':<28} "
          f"{'vs authors':<25} sha256")
    for m in REGISTRY:
        per_scale = m.meta.get("per_scale")
        if per_scale:  # one network for a range of scales: a row of results per scale
            scales = f"x{min(m.scales):g}-{max(m.scales):g}"
            print(f"{m.name:<16} {m.arch:<6} {scales:<8} {'(per scale, below)':<28} {'':<25} {m.sha256[:12]}…")
            for s, meta in per_scale.items():
                print(f"{'':<16} {'':<6} {scale_cell(m, float(s)):<8} {psnrs(meta):<28} "
                      f"{margins(m, float(s))}")
        else:
            scales = ",".join(scale_cell(m, s) for s in m.scales)
            print(f"{m.name:<16} {m.arch:<6} {scales:<8} {psnrs(m.meta):<28} "
                  f"{margins(m, m.scales[0]):<25} {m.sha256[:12]}…")
        print(textwrap.fill(m.recipe, width, initial_indent=" " * 17 + "recipe: ", subsequent_indent=" " * 25,
                            break_on_hyphens=False))
    print("\n" + textwrap.fill("Y-PSNR in dB (srcnn evaluate, the papers' protocol); vs authors: minus the "
                              "authors' released model of the same architecture at that scale (9-1-5: 91 "
                              "images; 9-5-5: ImageNet); `srcnn evaluate` measures them anew. *: the model that "
                              "srcnn upscale and srcnn demo use at that scale when no --weights is given (between "
                              "the listed scales, the multi-scale model)", width))
    return EXIT_OK


def _weights_input(spec: str | None) -> list[Path]:
    """``[the weights file]`` when ``spec`` names a file (a shipped model's name is not a path)."""
    return [Path(spec)] if spec and Path(spec).expanduser().is_file() else []


def _eval_inputs(sets: Sequence[str], data_root: str | None, weights: str | None) -> Any:
    """What ``srcnn evaluate`` reads (every image of the sets, and the weights file), so that its
    ``--json`` can never replace one of them."""
    from .datasets import list_images, resolve_set
    from .fileio import PathSet

    ins = PathSet(_weights_input(weights))
    for s in sets:
        with contextlib.suppress(SRCNNError):  # a missing set is reported by the evaluation itself
            for f in list_images(resolve_set(s, data_root)):
                ins.add(f)
    return ins


def _check_json_path(path: str) -> None:
    if path == STDIO:
        raise ConfigError("--json takes a file name: '-' (standard output) is not supported, the table goes there")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import EvalConfig, count_images, evaluate
    from .fileio import atomic_write_bytes, check_output_path
    from .infer import check_scale, resolve_model
    from .weights import Weights, load_weights

    if args.weights is None:
        if args.padding is not None:
            raise ConfigError("--padding applies with --weights (the table without it measures the shipped models "
                              "as shipped)")
        return _evaluate_shipped(args)
    if args.arch is not None:
        raise ConfigError("--arch picks shipped models when --weights is not given; drop one of them")
    if args.scales and len(args.scales) > 1:
        raise ConfigError("--weights takes one --scale; without --weights, --scale may be repeated")
    w: Weights = load_weights(args.weights)
    if not args.scales:
        if len(w.scales) != 1:
            raise ConfigError("the weights do not name one scale; pass --scale")
        scale = w.scales[0]
    else:
        scale = check_scale(args.scales[0])
    if args.json:
        _check_json_path(args.json)
        check_output_path(args.json, overwrite=args.overwrite,
                          inputs=_eval_inputs(args.sets, args.data_root, args.weights))
    cfg = EvalConfig(sets=tuple(args.sets), scale=scale, data_root=args.data_root,
                     device=args.device, self_ensemble=args.self_ensemble)
    model, mode = resolve_model(w, scale, device=args.device, strict_scale=False, padding=args.padding)
    total = count_images(cfg.sets, cfg.data_root)
    _note_sets_unlike_registry(cfg.sets, cfg.data_root)
    bar = _bar(total, "evaluate", args.quiet, unit="img")
    try:
        results = evaluate(cfg, model, mode,
                           progress=(lambda s, f: bar.update(1)) if bar else None)
    finally:
        if bar:
            bar.close()
    ens = ", self-ensemble of 8 flips/rotations" if args.self_ensemble else ""
    if not w.supports_scale(scale):  # allowed (a research question), but said in the header
        ens += ", trained for " + "/".join(f"x{s:g}" for s in w.scales)
    if args.padding is not None:
        ens += f", {args.padding} padding"
    print(f"SRCNN {w.config.name} ({w.name}{ens}), scale x{scale:g}: Y-PSNR (dB) / SSIM, "
          f"border {int(-(-scale // 1))} px shaved")
    rgb = any(r.psnr_rgb_model is not None for s in results for r in s.images)
    if args.per_image is not False:
        _print_per_image(results, rgb)
    print(f"\n{'set':<10} {'images':>6}  {'bicubic PSNR':>12} {'SSIM':>7}  {'SRCNN PSNR':>10} "
          f"{'SSIM':>7}  {'gain':>6}" + ("  RGB-PSNR bic / SR" if rgb else ""))
    for s in results:
        pb, pm = s.mean("psnr_bicubic"), s.mean("psnr_model")
        line = (f"{s.name:<10} {len(s.images):>6}  {pb:12.2f} {s.mean('ssim_bicubic'):7.4f}  "
                f"{pm:10.2f} {s.mean('ssim_model'):7.4f}  {pm - pb:+6.2f}")
        if rgb:
            line += f"  {s.mean('psnr_rgb_bicubic'):.2f} / {s.mean('psnr_rgb_model'):.2f}"
        print(line)
    _note_exact_images(results)
    picked_on = w.extra.get("picked_on", "")
    if picked_on in {s.name for s in results}:
        _note(f"note: these weights are the training step that scored best on {picked_on} (srcnn train's "
              f"best.safetensors), so their {picked_on} figure is not a fair test; evaluate last.safetensors")
    if args.json:
        doc = {"weights": args.weights, "model": w.name, "arch": w.config.name, "scale": scale,
               "channels_mode": mode, "self_ensemble": args.self_ensemble, "padding": model.config.padding,
               "sets": [s.to_dict() for s in results], **({"picked_on": picked_on} if picked_on else {})}
        atomic_write_bytes(args.json, (_json_text(doc) + "\n").encode(), overwrite=args.overwrite)
        print(f"\nwrote {args.json}")
    return EXIT_OK


def _json_text(doc: Any) -> str:
    """``doc`` as strict JSON (indented): a value that is not a finite number (an image reproduced exactly
    has an infinite PSNR; a set without images a NaN mean) is written as null, since JSON has no Infinity
    or NaN and many readers refuse them."""
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(doc), indent=2, allow_nan=False)


def _note_sets_unlike_registry(sets: Sequence[str], data_root: str | None) -> None:
    """A standard set named (not a folder given) whose files differ from the registry's (missing, changed or
    extra images, as `srcnn data verify` finds them; about 0.2 s for the three test sets): say so, since its
    figures are then not comparable with published ones."""
    from .datasets import STANDARD_SETS, resolve_data_root, resolve_set
    from .fetch import verify

    root = resolve_data_root(data_root)
    named = [n for n in dict.fromkeys(sets) if n in STANDARD_SETS and resolve_set(n, data_root) == root / n]
    if not named:
        return
    try:
        report = verify(root, named)
    except (SRCNNError, OSError):
        return
    for r in report.problems:
        parts = [f"{len(v)} {what}" for v, what in ((r.missing, "missing"), (r.corrupt, "changed"),
                                                    (r.extra, "extra")) if v]
        _note(f"note: {r.name} in {r.folder} is not the registered set ({', '.join(parts)} file(s)), so its figures "
              f"are not comparable with published ones; `srcnn data verify {r.name}` lists them")


def _note_exact_images(results: Sequence[Any]) -> None:
    """Say so when an image's PSNR is infinite (bicubic or the model reproduced it exactly): its set's mean
    is then infinite too, as the authors' compute_psnr.m would make it."""
    exact = [f"{s.name}/{im.name}" for s in results for im in s.images
             if any(isinstance(v, float) and math.isinf(v) for v in (im.psnr_bicubic, im.psnr_model))]
    if exact:
        _note(f"note: {len(exact)} image(s) reproduced exactly, so their PSNR and their set's mean are infinite "
              f"(e.g. {exact[0]}); a flat or tiny image says little about super-resolution: leave it out of the set")


def _print_per_image(results: Sequence[Any], rgb: bool = False, title: str = "") -> None:
    """The per-image rows of ``evaluate``'s results (``SetResult``s)."""
    for s in results:
        print(f"\n{s.name}{title}  ({s.folder})")
        head = f"  {'image':<14} {'size':>9}  {'bicubic':>16}  {'SRCNN':>16}"
        print(head + (f"  {'RGB bic':>8} {'RGB SR':>8}" if rgb else ""))
        for r in s.images:
            line = (f"  {r.name:<14} {r.width:>4}x{r.height:<4}  "
                    f"{r.psnr_bicubic:7.2f} / {r.ssim_bicubic:.4f}  "
                    f"{r.psnr_model:7.2f} / {r.ssim_model:.4f}")
            if rgb:
                line += f"  {r.psnr_rgb_bicubic:8.2f} {r.psnr_rgb_model:8.2f}"
            print(line)


def _evaluate_shipped(args: argparse.Namespace) -> int:
    """``srcnn evaluate`` without --weights: the papers' table (set x scale rows: bicubic, the shipped
    model, the authors' released model of the same architecture and our margin over it)."""
    from .evaluate import EvalConfig, count_images, evaluate
    from .fileio import atomic_write_bytes, check_output_path
    from .infer import check_scale, resolve_model
    from .pretrained import AUTHORS, REGISTRY, authors_results, best_for_scale, no_model_message

    scales = list(dict.fromkeys(check_scale(s) for s in (args.scales or [2.0, 3.0, 4.0])))
    plan = []
    for k in scales:
        info = best_for_scale(k, arch=args.arch)
        if info is None:
            if args.arch is None:
                raise ConfigError(no_model_message(k))
            served = sorted({x for m in REGISTRY if m.arch == args.arch for x in m.scales})
            raise ConfigError(f"no shipped {args.arch} model serves x{k:g}; they serve "
                              + ", ".join(f"x{x:g}" for x in served))
        plan.append((k, info))
    if args.json:
        _check_json_path(args.json)
        check_output_path(args.json, overwrite=args.overwrite, inputs=_eval_inputs(args.sets, args.data_root, None))
    cfgs = [EvalConfig(sets=tuple(args.sets), scale=k, data_root=args.data_root, device=args.device,
                       self_ensemble=args.self_ensemble) for k, _ in plan]
    _note_sets_unlike_registry(cfgs[0].sets, cfgs[0].data_root)
    bar = _bar(count_images(cfgs[0].sets, cfgs[0].data_root) * len(plan), "evaluate", args.quiet, unit="img")
    runs = []
    try:
        for cfg, (k, info) in zip(cfgs, plan, strict=True):
            model, mode = resolve_model(info.name, k, device=args.device)
            runs.append((k, info, evaluate(cfg, model, mode, progress=(lambda s, f: bar.update(1)) if bar else None)))
    finally:
        if bar:
            bar.close()
    archs = sorted({info.arch for _, info, _ in runs})
    label = " and ".join(AUTHORS[a][0] for a in archs if a in AUTHORS)
    ens = ", ours as the self-ensemble of 8 flips/rotations (the authors' are single pass)" \
        if args.self_ensemble else ""
    print(f"Shipped SRCNN models against bicubic and the authors' released {label} (measured the same way"
          f"{ens}): mean Y-PSNR (dB) / SSIM, the papers' protocol, border of `scale` pixels shaved")
    if args.per_image:
        for k, info, results in runs:
            _print_per_image(results, title=f", x{k:g}, {info.name}")
        print()
    standard = {name.lower() for name in args.sets if name in ("Set5", "Set14", "BSD100")}
    print(f"\n{'set':<10} {'scale':>5}  {'model':<14} {'bicubic':>16}  {'SRCNN (ours)':>16}  "
          f"{'authors':>16}  {'ours - authors':>14}")
    doc_rows = []
    for i, name in enumerate(r.name for r in runs[0][2]):
        for k, info, results in runs:
            s = results[i]
            pb, pm = s.mean("psnr_bicubic"), s.mean("psnr_model")
            sb, sm = s.mean("ssim_bicubic"), s.mean("ssim_model")
            ref = (authors_results(info.arch, k) or {}) if name.lower() in standard else {}
            pa, sa = ref.get(f"{name.lower()}_psnr"), ref.get(f"{name.lower()}_ssim")
            authors = f"{pa:7.2f} / {sa:.4f}" if pa is not None else f"{'-':>16}"
            margin = f"{pm - pa:+14.3f}" if pa is not None else f"{'-':>14}"
            print(f"{name:<10} {'x' + format(k, 'g'):>5}  {info.name:<14} {pb:7.2f} / {sb:.4f}  "
                  f"{pm:7.2f} / {sm:.4f}  {authors}  {margin}")
            doc_rows.append({"set": name, "folder": s.folder, "scale": k, "model": info.name, "arch": info.arch,
                             "images": len(s.images), "psnr_bicubic": pb, "ssim_bicubic": sb,
                             "psnr_model": pm, "ssim_model": sm, "psnr_authors": pa, "ssim_authors": sa})
    _note_exact_images([r for _, _, results in runs for r in results])
    print("\n" + textwrap.fill(f"authors: their released {label}, evaluated with srcnn evaluate (SRCNN_v1); '-' "
                               "where they have no model or the set is not a standard one. The last column comes from "
                               "the unrounded means, so it can differ by 0.01 from the difference of the rounded "
                               "columns", _text_width()))
    if args.json:
        doc = {"self_ensemble": args.self_ensemble, "rows": doc_rows,
               "sets": [{"scale": k, "model": info.name, "sets": [r.to_dict() for r in results]}
                        for k, info, results in runs]}
        atomic_write_bytes(args.json, (_json_text(doc) + "\n").encode(), overwrite=args.overwrite)
        print(f"\nwrote {args.json}")
    return EXIT_OK


def _text_width() -> int:
    """Width for wrapped table notes: the terminal's, within 60..120 columns (80 when not a terminal)."""
    return max(60, min(shutil.get_terminal_size().columns, 120))


#: Seconds before the per-row bar of a single-image upscale shows, so that quick jobs print one line.
ROWS_BAR_DELAY = 1.0


def _stderr_is_terminal() -> bool:
    """Progress bars are drawn only on a terminal: in a log file or a pipe their redraws would be noise
    (the per-image lines, log rows and summaries still print)."""
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


def _bar(total: int, desc: str, quiet: bool, unit: str = "it", delay: float = 0.0) -> Any:
    """A tqdm bar on stderr (None when quiet, for a single step, or when stderr is not a terminal);
    ``delay``: seconds before it first shows, so that quick jobs print nothing."""
    if quiet or total <= 1 or not _stderr_is_terminal():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, delay=delay)


def _rows_progress(bar: Any) -> Callable[[int, int], None] | None:
    """An ``upscale_picture`` progress callback that moves ``bar`` to the output rows done."""
    if bar is None:
        return None

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return update


def _collect_inputs(inputs: Sequence[str], recursive: bool, exclude: Path | None = None
                    ) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Expand the command-line inputs. Returns ``(found, bad)``: ``found`` holds (file, output path
    relative to the output folder, without suffix) for every image, folders expanded (sub-folders
    kept as they are); ``bad`` holds (path, reason) for inputs that do not exist or are empty
    folders. When ``exclude`` (the output folder) lies inside an input folder, the files in it are left out
    (earlier outputs are not inputs); an output folder that holds the input folder changes nothing."""
    from .datasets import list_images

    found: list[tuple[Path, Path]] = []
    bad: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    ex = exclude.resolve() if exclude is not None else None

    def add(f: Path, rel: Path) -> None:
        key = f.resolve()
        if key not in seen:  # the same file named twice is done once
            seen.add(key)
            found.append((f, rel))

    for s in inputs:
        p = Path(s).expanduser()
        if p.is_dir():
            files = list_images(p, recursive=recursive)
            root = p.resolve()
            if ex is not None and ex != root and ex.is_relative_to(root):
                files = [f for f in files if not f.resolve().is_relative_to(ex)]
            if not files:
                bad.append((p, f"{p}: no images found in this folder"
                            + ("" if recursive else " (use --recursive for sub-folders)")))
            for f in files:
                add(f, f.relative_to(p).with_suffix(""))
        elif os.path.lexists(p):
            add(p, Path(p.stem))
        else:
            bad.append((p, f"{p}: no such file or folder"))
    return found, bad


def _plan_batch(inputs: list[tuple[Path, Path]], out_dir: Path, ext: str
                ) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """(input, output) pairs for --out-dir; inputs whose output another input already takes are
    returned as failures instead of silently overwriting each other's results."""
    jobs: list[tuple[Path, Path]] = []
    clashes: list[tuple[Path, str]] = []
    taken: dict[Path, Path] = {}
    for f, rel in inputs:
        dst = out_dir / rel.with_suffix(f.suffix if ext == "same" else f".{ext}")
        key = Path(os.path.normcase(os.path.abspath(dst)))
        if key in taken:
            differ = f.suffix.lower() != taken[key].suffix.lower() and ext != "same"  # a.png and a.jpg
            clashes.append((f, f"{f}: its output {dst} is also the output of {taken[key]}; rename one of them"
                            + (" or use --ext same" if differ else " or give them separate runs")))
            continue
        taken[key] = f
        jobs.append((f, dst))
    return jobs, clashes


def _remove_empty_folders(root: Path) -> None:
    """Remove the folders under ``root`` (and ``root``) that stayed empty: a batch that wrote
    nothing into the output folder it created leaves nothing behind."""
    import contextlib

    inner = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for d in [*inner, root]:
        with contextlib.suppress(OSError):
            d.rmdir()


class _PlainWriter:
    """A file wrapper without ``fileno``, so that Pillow writes through ``write`` (and a full disk
    raises an ``OSError`` with its errno instead of Pillow's generic encoder error)."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def write(self, b: bytes) -> int:
        return int(self._f.write(b))

    def tell(self) -> int:
        return int(self._f.tell())

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._f.seek(offset, whence))

    def flush(self) -> None:
        self._f.flush()


def _save_image(img: Any, f: Any, fmt: str, params: dict[str, object]) -> None:
    """Encode ``img`` as ``fmt`` with Pillow ``save`` keywords ``params`` (``images.save_params``)
    into the open file ``f``."""
    from .errors import ImageWriteError

    try:
        img.save(_PlainWriter(f), format=fmt, **params)
    except (ValueError, KeyError) as e:
        raise ImageWriteError(f"cannot encode image as {fmt}: {e}") from None
    except OSError as e:
        if e.errno is not None:
            raise  # a write error (full disk, ...): the atomic writer reports it
        raise ImageWriteError(f"cannot encode image as {fmt}: {e}") from None


def cmd_upscale(args: argparse.Namespace) -> int:
    from . import fileio
    from .errors import ImageReadError, ImageWriteError
    from .images import _SIXTEEN_BIT_FORMATS as SIXTEEN_BIT_FORMATS
    from .images import DEFAULT_MAX_PIXELS, drop_alpha, format_for_path, read_image, read_image_bytes, save_params
    from .infer import check_scale, output_size_for, resolve_model, scale_for_size, upscale_picture

    scale = check_scale(args.scale) if args.scale is not None else None  # else from --width/--height
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    # --tile N: tiles of N; --tile 0: whole image, unbounded; no --tile: fit --max-memory.
    if args.tile is not None and 0 < args.tile < MIN_TILE:
        raise ConfigError(f"--tile must be 0 (the whole image) or at least {MIN_TILE}, got {args.tile}: smaller "
                          "tiles repeat the network's border work many times over")
    tile = args.tile or None
    max_memory = None if args.tile == 0 else args.max_memory
    if args.max_pixels is not None and args.max_pixels < 1:
        raise ConfigError("--max-pixels must be at least 1")
    max_px = args.max_pixels if args.max_pixels is not None else DEFAULT_MAX_PIXELS
    batch = args.output is None
    out_dir = Path(args.out_dir).expanduser() if batch else None
    from_stdin, to_stdout = STDIO in args.inputs, args.output == STDIO
    if args.ext is not None and not (batch or to_stdout):
        raise ConfigError("--ext is for --out-dir and -o -; with -o FILE the file name's extension gives the "
                          "type (-o big.jpg writes a JPEG)")
    ext = (args.ext or "png").lower().lstrip(".")
    if (batch or to_stdout) and ext != "same":
        try:
            format_for_path(f"x.{ext}")
        except ImageWriteError:
            raise ConfigError(f"--ext {args.ext!r} is not an image type srcnn can write; use png, "
                              "jpg, tif, bmp, webp or same") from None
    if not batch and not to_stdout and args.output is not None:
        _check_output_type(args.output)  # found before any image is read
    if from_stdin:
        if batch or len(args.inputs) > 1:
            raise ConfigError("'-' (standard input) is one image: give it alone, with -o FILE or -o -")
        if sys.stdin is None or sys.stdin.isatty():
            raise ConfigError("'-' reads the image from standard input, which is a terminal here; "
                              "pipe or redirect an image into it (srcnn upscale - ... < photo.jpg)")
    if to_stdout:
        closed = sys.stdout is None or _closed(sys.stdout)
        if closed or sys.stdout.isatty():
            state = "closed" if closed else "a terminal"
            raise ConfigError(f"-o - writes the image to standard output, which is {state} here; "
                              "redirect it (> big.png) or pipe it to another program")
        if ext == "same" and from_stdin:
            raise ConfigError("--ext same needs an input file to take the type from; with '-' name "
                              "the type, e.g. --ext png")
    inputs, failed = ([(Path(STDIN_NAME), Path("stdin"))], []) if from_stdin else \
        _collect_inputs(args.inputs, args.recursive, exclude=out_dir)
    if not batch and (failed or len(inputs) != 1):
        if failed:
            raise ImageReadError(failed[0][1])
        raise ConfigError(f"-o takes one input image, got {len(inputs)}; use --out-dir")
    input_set = fileio.PathSet(f for f, _ in inputs)
    new_out_dir = False
    if batch:
        assert out_dir is not None
        fileio.check_output_folder(out_dir, create=True)
        new_out_dir = not out_dir.exists()
        jobs, clashes = _plan_batch(inputs, out_dir, ext)
        failed += clashes
    elif to_stdout:
        jobs = [(inputs[0][0], Path(STDOUT_NAME))]
    else:
        out = Path(args.output).expanduser()
        if args.skip_existing and os.path.lexists(out) and out not in input_set:
            _note(f"skipped {inputs[0][0]}: {out} exists", args.quiet)
            return EXIT_OK
        fileio.check_output_path(out, overwrite=args.overwrite, inputs=input_set)  # its type: checked above
        jobs = [(inputs[0][0], out)]
    # --width/--height give each image its own factor: keep a few networks (a folder of photos has
    # few distinct sizes), not one per image
    @functools.lru_cache(maxsize=8)
    def model_for(s: float) -> tuple[Any, str]:
        return resolve_model(args.weights, s, device=args.device, strict_scale=not args.allow_scale_mismatch,
                             padding=args.padding)

    if scale is not None:
        model_for(scale)  # a bad --weights or an unserved scale stops the run before any image
    bar = _bar(len(jobs), "upscale", args.quiet, unit="img")

    def say(msg: str) -> None:
        if bar is not None:
            bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr if batch or to_stdout else sys.stdout)

    def error(msg: str) -> None:
        if bar is not None:
            bar.write(f"srcnn: error: {msg}", file=sys.stderr)
        else:
            _err(msg)

    def named(src: Path, why: str) -> str:
        return why if str(src) in why else f"{src}: {why}"

    def fail(src: Path, why: str) -> None:
        failed.append((src, why))
        error(named(src, why) if batch else why)

    for _src, why in failed:  # missing inputs, empty folders, output clashes
        _err(why)
    done, skipped, not_run = 0, 0, 0
    interrupted = False
    try:
        for i, (src, dst) in enumerate(jobs):
            try:
                if to_stdout:
                    fmt = format_for_path(f"x.{ext}" if ext != "same" else src)
                else:
                    if dst in input_set:
                        raise ImageWriteError(f"refusing to write {dst}: it is also an input")
                    if os.path.lexists(dst):
                        if args.skip_existing:
                            skipped += 1
                            continue
                        if not args.overwrite:
                            raise ImageWriteError(f"{dst} exists; pass --overwrite to replace it"
                                                  + (" or --skip-existing to skip it" if batch else ""))
                    fmt = format_for_path(dst)
                pic = read_image_bytes(sys.stdin.buffer.read(), name=STDIN_NAME, max_pixels=max_px) \
                    if from_stdin else read_image(src, max_pixels=max_px)
                s = scale if scale is not None else scale_for_size(*pic.size, target_width=args.width,
                                                                   target_height=args.height)
                model, mode = model_for(s)
                if args.strip_metadata:
                    pic.exif = None
                depth = pic.bit_depth if fmt in SIXTEEN_BIT_FORMATS else 8
                enc_notes = [f"{fmt} cannot hold 16 bits; wrote 8 bits"] if pic.bit_depth == 16 and depth == 8 \
                    else []
                # Straight to an 8/16-bit PIL image, stripe by stripe: bounded memory for huge outputs.
                in_h, in_w = pic.data.shape[:2]
                rows_bar = None if batch else _bar(output_size_for(in_h, in_w, s)[0], "upscale", args.quiet,
                                                   unit="row", delay=ROWS_BAR_DELAY)
                try:
                    img = upscale_picture(pic, s, model, mode, tile=tile, max_memory=max_memory,
                                          device=args.device, as_pil=True, bit_depth=depth,
                                          self_ensemble=args.self_ensemble, stretch=args.stretch,
                                          progress=_rows_progress(rows_bar))
                finally:
                    if rows_bar:
                        rows_bar.close()
                img, alpha_notes = drop_alpha(img, fmt)
                enc_notes += alpha_notes
                params, meta_notes = save_params(pic, fmt, img.size)
                enc_notes += meta_notes
                if to_stdout:  # encoded whole first: a failed encoding writes nothing
                    buf = io.BytesIO()
                    _save_image(img, buf, fmt, params)
                    try:
                        sys.stdout.buffer.write(buf.getvalue())
                        sys.stdout.buffer.flush()
                    except BrokenPipeError:
                        raise
                    except OSError as e:  # a full disk behind '> file', a device that refuses writes
                        raise ImageWriteError(f"cannot write the image to standard output: "
                                              f"{e.strerror or e}") from None
                else:
                    if batch:
                        fileio.make_folder(dst.parent)
                    fileio.atomic_write_with(dst, functools.partial(_save_image, img, fmt=fmt, params=params),
                                             overwrite=args.overwrite)
                done += 1
                if not args.quiet:
                    notes = pic.notes + enc_notes
                    say(f"{src} ({pic.size[0]}x{pic.size[1]}) -> {dst} ({img.size[0]}x{img.size[1]})"
                        + ("; " + "; ".join(notes) if notes else ""))
            except fileio.DiskFullError as e:
                fail(src, str(e))
                not_run = len(jobs) - i - 1
                if not_run:
                    error(f"stopping: the disk is full; {not_run} image(s) not processed")
                break
            except ConfigError as e:
                if not batch:  # one image: an option it cannot take (--width 20x its width) is a usage error
                    raise
                fail(src, str(e))
            except SRCNNError as e:
                fail(src, str(e))
            except MemoryError as e:
                fail(src, f"{src}: {e or _OUT_OF_MEMORY}")
            except RuntimeError as e:  # torch: device out of memory, kernel errors
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                fail(src, f"{src}: {reason}")
            except Exception as e:  # a bug or an unforeseen file: report it, go on with the rest
                fail(src, f"{src}: unexpected {type(e).__name__}: {e}")
            except KeyboardInterrupt:  # the image was not done: the bar must not count it
                interrupted = True
                raise
            finally:
                if bar is not None and not interrupted:
                    bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if bar is not None:
            bar.close()
        if new_out_dir and out_dir is not None:
            _remove_empty_folders(out_dir)
        if batch and not args.quiet:
            line = f"done {done}, skipped {skipped}, failed {len(failed)}"
            if not_run:
                line += f", not processed {not_run} (disk full)"
            if interrupted:
                line += " (interrupted)"
            print(line, file=sys.stderr)
            for src, why in failed:
                print(f"  failed: {named(src, why)}", file=sys.stderr)
    return EXIT_OK if not failed else EXIT_FAIL


def cmd_train(args: argparse.Namespace) -> int:
    from .datasets import TEST_SETS
    from .infer import check_scale
    from .train import TrainConfig, train, val_set_label

    scales = tuple(check_scale(s) for s in (args.scales or [3.0]))
    cfg = TrainConfig(arch=args.arch, channels=args.channels, scales=scales,
                      train_sets=tuple(args.train_sets or ["T91"]), val_set=args.val_set,
                      data_root=args.data_root, recipe=args.recipe, out=args.out,
                      max_steps=args.max_steps, epochs=args.epochs, max_minutes=args.max_minutes,
                      batch_size=args.batch_size, micro_batch=args.micro_batch, lr=args.lr, size=args.size,
                      stride=args.stride,
                      augment=args.augment, downscales=tuple(args.downscales or ()),
                      train_padding=args.train_padding, init=args.init,
                      init_from=args.init_from, distill_from=args.distill_from,
                      distill_weight=args.distill_weight, warmup=args.warmup, scale_poly=args.scale_poly,
                      scale_knots=args.scale_knots, amp=args.amp, channels_last=args.channels_last,
                      balance_scales=args.balance_scales, coef_lr=args.coef_lr,
                      eval_every=args.eval_every,
                      ckpt_every=args.ckpt_every, seed=args.seed, device=args.device,
                      strict=args.strict)
    bar: Any = None
    # Setup (reading the data, building the pairs, a teacher's labels) is timed from here to the first step, so that
    # even a quiet batch job's log says where its time went.
    started, last_step, printed = time.monotonic(), 0, 0
    first_step_at: float | None = None
    terminal = _stderr_is_terminal()

    def progress(info: dict[str, Any]) -> None:
        nonlocal bar, first_step_at, last_step, printed
        if first_step_at is None:
            first_step_at = time.monotonic()
        last_step = info["step"]
        if args.quiet:
            return
        if not terminal:  # a log: one plain line per validation row instead of a bar's redraws
            every, step = args.eval_every or 1000, info["step"]
            if step // every > printed // every or step == info["total"]:
                printed = step
                of = f"/{info['total']}" if info["total"] < 1_000_000_000 else ""
                shown = "-" if info["val_psnr"] is None else f"{info['val_psnr']:.2f} dB"
                print(f"train: step {step}{of}, loss {info['loss']:.2e}, val PSNR {shown}, "
                      f"{info['elapsed_s'] / 60:.1f} min", file=sys.stderr, flush=True)
            return
        if bar is None:
            from tqdm import tqdm

            total = info["total"] if info["total"] < 1_000_000_000 else None
            bar = tqdm(total=total, initial=info["step"] - 1, desc="train", unit="step",
                       file=sys.stderr, dynamic_ncols=True)
        bar.update(info["step"] - bar.n)
        val = info["val_psnr"]
        extra = {}
        if bar.total is None and args.max_minutes is not None:  # a run bounded by the clock: time left
            left = max(0.0, args.max_minutes * 60 - info["elapsed_s"])
            extra["left"] = f"{int(left // 60)}:{int(left % 60):02d}"
        bar.set_postfix(loss=f"{info['loss']:.2e}", val_psnr="-" if val is None else f"{val:.2f}", **extra,
                        refresh=False)

    def log(msg: str) -> None:
        _note(msg, args.quiet)

    stage_bars: dict[str, Any] = {}

    def stage_progress(name: str, done: int, total: int) -> None:  # before the first step
        if name not in stage_bars:
            stage_bars[name] = _bar(total, name, args.quiet, unit="img")
        b = stage_bars[name]
        if b is not None:
            b.update(done - b.n)
            if done == total:
                b.close()

    ckpt = Path(args.out) / "checkpoint.pt"
    before = ckpt.stat().st_mtime_ns if ckpt.is_file() else None
    try:
        res = train(cfg, resume=args.resume, progress=progress, log=log, stage_progress=stage_progress)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: train() saved its checkpoint on the way out
        if bar is not None:
            bar.close()
            bar = None
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one report for all processes
            if first_step_at is None:
                _note(f"interrupted during setup, after {(time.monotonic() - started) / 60:.1f} min, before any step")
            else:
                _note(f"interrupted at step {last_step}, after {(first_step_at - started) / 60:.1f} min of setup "
                      f"and {(time.monotonic() - first_step_at) / 60:.1f} min of training")
            if ckpt.is_file() and ckpt.stat().st_mtime_ns != before:
                _note(f"checkpoint saved in {ckpt}; run the same command with --resume to continue")
        raise
    finally:
        if bar is not None:
            bar.close()
    if res["rank"] == 0:
        if first_step_at is None:  # a resume at or past the run's end: nothing was done
            _note(f"the run already stood at step {res['step']}, at or past the end this command gives it "
                  "(--max-steps / --epochs / --max-minutes): nothing to do; give a larger one to go on")
        last, best = res["last_val_psnr"], res["best_val_psnr"]
        vals = (f"last val PSNR {last:.2f} dB" if last is not None else "no validation this start") + (
            f", best {best:.2f} dB" if best is not None and math.isfinite(best) else "")
        label = val_set_label(args.val_set)
        if label in TEST_SETS:  # a warning, so also with -q; before the last line, which stays the summary
            print(f"best.safetensors is the step that scored best on {label}, a test set: its {label} figures are "
                  "not a fair test; report last.safetensors (or monitor a held-out folder with --val-set)")
        print(f"stopped at step {res['step']} of {res['total'] if res['total'] < 1e9 else '-'}; "
              f"{vals}; {res['elapsed_s'] / 60:.1f} min of training "
              f"(this start: {((first_step_at or time.monotonic()) - started) / 60:.1f} min of setup first); "
              f"files in {res['out']}")
    return EXIT_OK


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's pre-emption, ``docker stop``), raised like Ctrl-C so that the
    code on the way out runs (training saves its checkpoint)."""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; elsewhere a no-op)."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except (ValueError, AttributeError):  # not the main thread, or no SIGTERM on this platform
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def cmd_plot(args: argparse.Namespace) -> int:
    from .figures_plot import plot_runs
    from .fileio import atomic_write_bytes, check_output_path

    for d in args.run_dirs:  # before the output check, which would blame a missing run folder's "output"
        if not Path(d).is_dir():
            raise ConfigError(f"run folder {d} not found" if not os.path.lexists(d) else f"{d} is not a run folder")
    out = Path(args.output) if args.output else Path(args.run_dirs[0]) / "convergence.png"
    if out.suffix.lower() != ".png":
        raise ConfigError(f"srcnn plot writes a PNG: give an output ending in .png, not {out.name!r}")
    check_output_path(out, overwrite=args.overwrite)  # a .png: never one of the run's own files
    atomic_write_bytes(out, plot_runs(args.run_dirs), overwrite=args.overwrite)
    print(f"wrote {out}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .fileio import atomic_write_bytes, check_output_path
    from .infer import check_scale

    scale = check_scale(args.scale)
    out = check_output_path(args.output, overwrite=args.overwrite, inputs=_weights_input(args.weights))
    _check_output_type(out)  # an unknown suffix is refused before the work
    weights: Any = args.weights
    if weights is not None:
        from .weights import load_weights

        weights = load_weights(weights)
        if not weights.supports_scale(scale):
            trained = " / ".join(f"x{k:g}" for k in weights.scales)
            hint = f"; pass --scale {weights.scales[0]:g}" if weights.scales else ""
            raise ConfigError(f"weights {weights.name or args.weights} were trained for {trained}, and the demo "
                              f"runs at x{scale:g}{hint}")
    res = run_demo(scale, weights, args.sample)
    atomic_write_bytes(out, _figure_bytes(res.figure, out), overwrite=args.overwrite)
    print(f"{args.sample} ({res.size[0]}x{res.size[1]}) shrunk x{scale:g} and enlarged back with "
          f"{args.weights or res.model_name}:")
    print(f"  bicubic  {res.psnr_bicubic:6.2f} dB")
    print(f"  SRCNN    {res.psnr_srcnn:6.2f} dB  ({res.psnr_srcnn - res.psnr_bicubic:+.2f} dB)")
    print(f"wrote {out}")
    return EXIT_OK


#: What a MemoryError without a message of its own (an allocation that failed) is reported as.
_OUT_OF_MEMORY = "out of memory; try a smaller --tile or a smaller image"


def _closed(stream: Any) -> bool:
    """Whether a standard stream's file descriptor is closed (``srcnn ... >&-``); a stream with no descriptor
    (a test's capture) is not."""
    try:
        fd = stream.fileno()
    except (AttributeError, io.UnsupportedOperation):  # (before ValueError/OSError: it is both)
        return False
    except ValueError:  # the Python file object is closed
        return True
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def _check_output_type(path: str | Path) -> str:
    """The Pillow format for an output file; a type srcnn cannot write is a usage error (exit 2), found
    before any work, in every command."""
    from .errors import ImageWriteError
    from .images import format_for_path

    try:
        return format_for_path(path)
    except ImageWriteError as e:
        raise ConfigError(str(e)) from None


# --- see the results (issue 8): compare, filters, serve
def _figure_bytes(fig: Any, out: Path) -> bytes:
    from .images import format_for_path

    fmt = format_for_path(out)
    buf = io.BytesIO()
    fig.save(buf, format=fmt, **({"optimize": True} if fmt == "PNG" else {}))
    return buf.getvalue()


def cmd_compare(args: argparse.Namespace) -> int:
    import numpy as np

    from .errors import ImageReadError, WeightsError
    from .figures import compare, render_comparison
    from .fileio import atomic_write_bytes, check_output_path
    from .images import read_image, to_pil
    from .infer import check_scale
    from .pretrained import best_for_scale, no_model_message

    scale = check_scale(args.scale)
    out = check_output_path(args.output, overwrite=args.overwrite, inputs=(Path(args.image),))
    _check_output_type(out)
    crop = None
    if args.crop is not None:
        parts = args.crop.replace(" ", "").split(",")
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            raise ConfigError(f"--crop must be X,Y,W,H (four non-negative integers), got {args.crop!r}")
        x, y, w, h = (int(p) for p in parts)
        crop = (x, y, w, h)
    if not args.weights and best_for_scale(scale) is None:
        raise WeightsError(no_model_message(scale))
    pic = read_image(args.image)
    for n in pic.notes:
        _note(n)
    if pic.has_alpha:
        _note("alpha channel ignored")
    img = to_pil(pic, bit_depth=8)
    gt = np.asarray(img.convert("L" if pic.mode in ("L", "LA") else "RGB"))
    bars: list[Any] = []

    def rows(done: int, total: int) -> None:
        if not bars:
            bars.append(_bar(total, "compare", args.quiet, unit="row", delay=ROWS_BAR_DELAY))
        if bars[0] is not None:
            bars[0].update(done - bars[0].n)

    try:
        c = compare(gt, scale, args.weights or [None], crop=crop,
                    strict_scale=not args.allow_scale_mismatch, device=args.device, progress=rows)
    except ImageReadError as e:  # too small: name the file
        raise ImageReadError(f"{args.image}: {e}") from None
    finally:
        if bars and bars[0] is not None:
            bars[0].close()
    atomic_write_bytes(out, _figure_bytes(render_comparison(c), out), overwrite=args.overwrite)
    h, w = c.ground_truth.shape[:2]
    print(f"{args.image} as ground truth ({w}x{h}), x{scale:g}: Y-PSNR, {c.border} px border shaved")
    bic = c.columns[0].psnr
    width = max(len(label) for label, _ in c.table)
    for label, p in c.table:
        gain = "" if label == c.columns[0].label else f"  ({p - bic:+.2f} dB)"
        print(f"  {label:<{width}}  {p:6.2f} dB{gain}")
    x, y, cw, ch = c.crop
    print(f"zoom: x={x}, y={y}, {cw}x{ch}\nwrote {out}")
    return EXIT_OK


def cmd_filters(args: argparse.Namespace) -> int:
    from .figures import filters_figure
    from .fileio import atomic_write_bytes, check_output_path
    from .weights import load_weights

    out = check_output_path(args.output, overwrite=args.overwrite, inputs=(Path(args.weights),))
    _check_output_type(out)
    w = load_weights(args.weights)
    fig = filters_figure(w)
    atomic_write_bytes(out, _figure_bytes(fig, out), overwrite=args.overwrite)
    print(f"SRCNN {w.config.name} ({w.name or args.weights}): {fig.width}x{fig.height} figure\n"
          f"wrote {out}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import bind_socket, create_app, is_loopback, run_server

    if not 0 < args.port <= 65535:
        raise ConfigError(f"--port must be 1..65535, got {args.port}")
    if not args.max_upload_mb > 0:
        raise ConfigError(f"--max-upload-mb must be positive, got {args.max_upload_mb:g}")
    if args.max_pixels < 1:
        raise ConfigError("--max-pixels must be positive")
    app = create_app(args.weights or [], max_upload_mb=args.max_upload_mb,
                     max_pixels=args.max_pixels, device=args.device)
    sock = bind_socket(args.host, args.port)
    if not is_loopback(args.host):
        _note(f"warning: listening on {args.host}: other computers on the network can use this page")
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"srcnn: serving on http://{host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    try:
        run_server(app, sock)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM is how a server is stopped: exit 0, not 130 / 143 (README)
        pass
    finally:
        sock.close()
    print("srcnn: stopped", file=sys.stderr)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from . import fileio
    from .engine import check_onnx, export_onnx
    from .model import inference_padding
    from .weights import load_weights

    if Path(args.output).suffix.lower() != ".onnx":
        raise ConfigError(f"srcnn export writes ONNX: give an output ending in .onnx, not {Path(args.output).name!r}")
    out = fileio.check_output_path(args.output, overwrite=args.overwrite, inputs=_weights_input(args.weights))
    w = load_weights(args.weights)
    scale = None
    if w.scale_poly is not None:
        if args.scale is None:
            raise ConfigError(f"{w.name} is scale-conditioned (x{w.scale_poly.lo:g} to x{w.scale_poly.hi:g}): "
                              "its network depends on the scale; pass --scale")
        from .infer import check_scale

        scale = check_scale(args.scale)
        if not w.supports_scale(scale):
            raise ConfigError(f"{w.name} serves x{w.scale_poly.lo:g} to x{w.scale_poly.hi:g}, not x{scale:g}")
    model = w.build(padding=inference_padding(w.config.padding), scale=scale)
    meta = {"srcnn.name": w.name, "srcnn.scales": json.dumps([scale] if scale else list(w.scales)),
            "srcnn.channels_mode": w.channels_mode, "srcnn.provenance": w.provenance}
    data = export_onnx(model, metadata=meta, opset=args.opset)
    check = ""
    if args.check:
        diff = check_onnx(data, model)
        if diff is None:
            check = "; not checked (onnxruntime is not installed: pip install onnxruntime)"
        elif diff > 1e-4:
            raise SRCNNError(f"the exported model differs from srcnn's engine by {diff:.2e} (> 1e-4); "
                             "nothing written")
        else:
            check = f"; onnxruntime output equals srcnn's within {diff:.1e}"
    fileio.atomic_write_bytes(out, data, overwrite=args.overwrite)
    print(f"wrote {out} ({model.config.name}, {model.config.channels} channel(s), "
          f"{model.config.padding} padding, {len(data):,} bytes){check}")
    return EXIT_OK


COMMANDS = {
    "train": cmd_train,
    "plot": cmd_plot,
    "demo": cmd_demo,
    "upscale": cmd_upscale,
    "evaluate": cmd_evaluate,
    "convert": cmd_convert,
    "info": cmd_info,
    "models": cmd_models,
    "export": cmd_export,
    "compare": cmd_compare,
    "filters": cmd_filters,
    "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except _UsageError as e:
        print(e, file=sys.stderr)  # one line, the help to read named in it
        return EXIT_USAGE
    except SystemExit as e:  # --help / --version
        return int(e.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if getattr(args, "device", None) is not None:  # a bad --device stops before any work
            from .infer import check_device

            args.device = check_device(args.device)
        with _terminate_as_interrupt():  # SIGTERM unwinds like Ctrl-C: temporary files go, training saves
            if args.command == "data":
                from .cli_data import run_data

                return run_data(args)
            return COMMANDS[args.command](args)
    except ConfigError as e:
        _err(str(e))
        return EXIT_USAGE
    except SRCNNError as e:
        _err(str(e))
        return EXIT_FAIL
    except Terminated:
        _err("terminated")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except MemoryError as e:
        _err(str(e) or _OUT_OF_MEMORY)
        return EXIT_FAIL
    except BrokenPipeError:  # the reader of stdout went away (`srcnn models | head -1`): stop quietly
        _silence_stdout()
        return EXIT_FAIL


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured in tests)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
