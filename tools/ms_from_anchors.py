"""Build a scale-conditioned (multi-scale) weights file that passes exactly through plain networks
trained for a few anchor scales: the polynomial of degree ``n - 1`` through ``n`` anchors, per
weight, or with ``--linear`` the piecewise-linear model with a knot at each anchor.

    python tools/ms_from_anchors.py 1.5=runs/x1.5/last.safetensors 2=runs/x2/last.safetensors \\
        3=srcnn-915-x3 4=runs/x4/last.safetensors --out runs/ms-anchors.safetensors

At the anchor scales the result is the anchor network (up to float rounding); between them the
weights are interpolated, which works for networks fine-tuned from one ancestor (``srcnn train
--init-from``), not for independently trained ones (their channels do not correspond, and matching
them does not fix it: the 18-minute srcnn-955-x2 and -x3 (since replaced) with hidden channels paired by
activation correlation, rescaled to equal activation size and dead channels revived, averaged to 30.54 dB at
x2.5 on 15 BSDS200 images, below each network alone, 30.61 and 30.48; bicubic 29.96). The result
can be fine-tuned further with ``srcnn train --scale-poly DEGREE --init-from`` it (or
``--scale-knots``). A polynomial through far-apart anchors can swing between them (9-1-5 through
x1.5 / 2 / 3 / 4 siblings: x2.5 fell below bicubic); piecewise-linear cannot.

An anchor may be a multi-scale model, which stands for its network at the anchor's scale: so one knot of
a piecewise-linear model is replaced, and another added where it was linear, without changing the rest
(how srcnn-955-ms got its x3.75 knot and a new x4 one, and later its x3.875 knot and the next x4 one):

    python tools/ms_from_anchors.py --linear 1.5=OLD 2=OLD 2.5=OLD 3=OLD 3.5=OLD 3.75=OLD 3.875=OLD \\
        4=runs/zoo/955-knot-x4/last.safetensors --out ms.safetensors --name srcnn-955-ms
"""

from __future__ import annotations

import argparse
import sys

from srcnn.errors import SRCNNError
from srcnn.model import linear_through, poly_through
from srcnn.weights import Weights, load_weights, save_weights


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("anchors", nargs="+", metavar="SCALE=WEIGHTS", help="a plain network per anchor scale")
    ap.add_argument("--out", required=True, help="the .safetensors file to write (never overwritten)")
    ap.add_argument("--range", nargs=2, type=float, default=None, metavar=("LO", "HI"),
                    help="scale range of the polynomial (default: the anchors' smallest and largest)")
    ap.add_argument("--name", default="", help="model name stored in the file")
    ap.add_argument("--linear", action="store_true",
                    help="piecewise linear between the anchors (knots) instead of one polynomial")
    args = ap.parse_args(argv)
    try:
        anchors: dict[float, Weights] = {}
        for a in args.anchors:
            s, sep, spec = a.partition("=")
            if not sep:
                raise SRCNNError(f"anchor {a!r}: expected SCALE=WEIGHTS")
            w = load_weights(spec)
            k = float(s)
            if w.scale_poly is not None:  # a multi-scale model: its network at the anchor's scale
                w = Weights(w.config, w.plain_state(k), scales=(k,), channels_mode=w.channels_mode,
                            name=f"{w.name or spec} at x{k:g}", provenance=w.provenance)
            anchors[k] = w
        first = next(iter(anchors.values()))
        for spec, w in anchors.items():
            if w.config.with_padding("valid") != first.config.with_padding("valid"):
                raise SRCNNError(f"anchor x{spec:g} is {w.config.name}, the first is {first.config.name}")
        lo, hi = args.range or (min(anchors), max(anchors))
        if args.linear and args.range:
            raise SRCNNError("--linear: the range is the anchors' (the first and last knot); drop --range")
        states = {s: w.plain_state() for s, w in anchors.items()}
        poly, tensors = linear_through(states) if args.linear else poly_through(states, lo, hi)
        desc = ", ".join(f"x{s:g}: {w.name or '?'}" for s, w in sorted(anchors.items()))
        out = Weights(first.config, tensors, scales=tuple(sorted(anchors)), channels_mode=first.channels_mode,
                      provenance=f"tools/ms_from_anchors.py: {poly.describe()} through {desc}",
                      name=args.name, scale_poly=poly)
        save_weights(out, args.out)
    except (SRCNNError, OSError, ValueError) as e:
        print(f"ms_from_anchors: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {poly.describe()} through {desc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
