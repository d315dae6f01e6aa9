"""Copy a trained run's weights into the package as a shipped model and print its registry entry.

    python tools/ship_model.py runs/srcnn-915-x3/last.safetensors srcnn-915-x3 --recipe "..."
    python tools/ship_model.py src/srcnn/models/srcnn-915-x3.safetensors srcnn-915-x3 --overwrite --padding symmetric

The file is re-saved in our format with the model name and provenance in its metadata, under
``src/srcnn/models/NAME.safetensors``; the printed ``ModelInfo`` goes into
``src/srcnn/pretrained.py`` together with the numbers measured by ``srcnn evaluate``.

Weights that a training run picked by their PSNR on a test set (``srcnn train``'s best.safetensors
when it monitored Set5, Set14 or BSD100: ``picked_on`` in their metadata) are refused: ship the run's
last.safetensors, or weights chosen on held-out images (tools/val15.py).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from srcnn.datasets import TEST_SETS
from srcnn.model import SAME_PADDINGS
from srcnn.weights import file_sha256, load_safetensors, save_weights

MODELS = Path(__file__).resolve().parents[1] / "src" / "srcnn" / "models"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("weights")
    ap.add_argument("name")
    ap.add_argument("--recipe", default="")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--padding", choices=SAME_PADDINGS,
                    help="the inference padding to record (default: as the file has it)")
    args = ap.parse_args(argv)
    w = load_safetensors(args.weights)
    picked_on = w.extra.get("picked_on", "")
    if picked_on in TEST_SETS:
        print(f"error: {args.weights} was picked by its PSNR on {picked_on}, a test set (srcnn train's "
              "best.safetensors); ship the run's last.safetensors or weights chosen on held-out images",
              file=sys.stderr)
        return 1
    w = replace(w, name=args.name, provenance=f"{w.provenance}; {args.recipe}".strip("; "))
    if args.padding:
        w = replace(w, config=w.config.with_padding(args.padding))
    MODELS.mkdir(parents=True, exist_ok=True)
    out = MODELS / f"{args.name}.safetensors"
    save_weights(w, out, overwrite=args.overwrite)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    print(f'    ModelInfo(name="{args.name}", file="{out.name}", sha256="{file_sha256(out)}",\n'
          f'              arch="{w.config.name}", scales={tuple(w.scales)!r}, channels_mode="{w.channels_mode}",\n'
          f'              recipe="{args.recipe}", meta={{}}),')
    return 0


if __name__ == "__main__":
    sys.exit(main())
