"""Average SRCNN weights of one lineage (as stochastic weight averaging does), for a check on held-out images.

    python tools/average_weights.py OUT.safetensors 3:last.safetensors 1:previous.safetensors

Each input is ``WEIGHT:FILE`` (or a bare ``FILE``, weight 1; FILE may be a shipped model name); the
weights are normalised to sum to 1. The inputs must share the architecture (and the scale-conditioning,
if any); the first one's metadata is kept, with the average recorded in the provenance. Averages only
make sense for networks with one ancestor (fine-tuned from the same weights: their channels
correspond). Earlier shipped weights are in git history, e.g.

    git show e36bc3e:src/srcnn/models/srcnn-955-x4.safetensors > x4-10min.safetensors

README "Pretrained models" reports what averaging the shipped lineages gave (nothing).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from srcnn.errors import SRCNNError
from srcnn.weights import Weights, load_weights, save_weights


def average(parts: list[tuple[float, Weights]]) -> Weights:
    """The weighted mean of ``parts`` (weights need not sum to 1), with the first one's metadata."""
    total = sum(a for a, _ in parts)
    first = parts[0][1]
    for _, w in parts[1:]:
        if w.config != first.config or w.scale_poly != first.scale_poly or set(w.state_dict) != set(first.state_dict):
            raise SRCNNError(f"cannot average {w.name or '?'} with {first.name or '?'}: different architectures")
    tensors = {k: sum((a / total) * w.state_dict[k].double() for a, w in parts).float()  # type: ignore[union-attr]
               for k in first.state_dict}
    desc = " + ".join(f"{a / total:.4g} x {w.name or '?'}" for a, w in parts)
    return replace(first, state_dict=tensors, provenance=f"weight average: {desc}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+", metavar="[WEIGHT:]FILE")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    try:
        parts = []
        for spec in args.inputs:
            a, _, f = spec.partition(":")
            try:
                weight, path = float(a), f
            except ValueError:  # no weight given (or a path with a colon)
                weight, path = 1.0, spec
            if not weight > 0:
                raise SRCNNError(f"weights must be positive, got {spec!r}")
            parts.append((weight, load_weights(path)))
        save_weights(average(parts), args.out, overwrite=args.overwrite)
    except (SRCNNError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
