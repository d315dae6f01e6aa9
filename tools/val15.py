"""The rule that picks shipped weights: mean Y-PSNR on 15 BSDS200 images, never a test set.

    python tools/val15.py --data-root ../shared/data srcnn-955-x4=runs/zoo/955-x4/last.safetensors
    python tools/val15.py srcnn-915-x4=a.safetensors srcnn-915-x4=b.safetensors --min-gain 0.003
    python tools/val15.py srcnn-955-ms=ms.safetensors -s 1.5 -s 1.75 -s 2 ... -s 4

The 15 images are the first 15 files of BSDS200 by name (``100075.png`` to ``113016.png``): held
out from every 9-1-5 model (T91 only), part of the 9-5-5 models' training data. Each score is
``srcnn evaluate``'s (the papers' protocol: Y channel, modcrop, Matlab bicubic, ``scale`` pixels
shaved). ``SHIPPED=CANDIDATE`` compares a candidate with the weights it would replace, at the
shipped model's scales (or each ``-s``): the verdict is ``ship`` when the candidate scores at least
``--min-gain`` dB more at every scale (the rules fixed before the GPU runs: 0.003 for 9-1-5 and for
averages, 0 for the 9-5-5 runs of session 10 and 11), else ``keep``. A bare weights spec is
scored alone. Exit status 0 whatever the verdicts, 1 on bad input.

Each weights file runs with its own padding (``symmetric`` for the shipped models and what
``srcnn train`` writes; files written before 2026-11-27 record ``replicate``); ``--padding`` runs
every one the same way. The README's figures before the border handling are ``--padding replicate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from srcnn.datasets import list_images, resolve_set
from srcnn.errors import SRCNNError
from srcnn.evaluate import evaluate_image, load_ground_truth
from srcnn.infer import resolve_model
from srcnn.model import SAME_PADDINGS
from srcnn.weights import Weights, load_weights

N_IMAGES = 15


def val_images(data_root: str | None) -> list[Path]:
    """The first 15 BSDS200 files by name."""
    files = sorted(list_images(resolve_set("BSDS200", data_root)), key=lambda p: p.name)
    if not files:
        raise SRCNNError("no BSDS200 images in the data root: give --data-root (srcnn data fetch BSDS200 gets them)")
    return files[:N_IMAGES]


def score(w: Weights, scale: float, images: list[np.ndarray], padding: str | None = None) -> float:
    """Mean Y-PSNR of ``w`` at ``scale`` over the ground truths ``images`` (the papers' protocol), with
    ``padding`` or the weights' own."""
    model, _ = resolve_model(w, scale, strict_scale=False, padding=padding)
    return float(np.mean([evaluate_image(gt, scale, model, w.channels_mode)["psnr_model"] for gt in images]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", nargs="+", metavar="[SHIPPED=]CANDIDATE",
                    help="weights (shipped model names or .safetensors files)")
    ap.add_argument("-s", "--scale", type=float, action="append", dest="scales",
                    help="scale(s) to score at (default: the first weights' trained scales)")
    ap.add_argument("--min-gain", type=float, default=0.003, help="dB a candidate must gain at every scale")
    ap.add_argument("--data-root", default=None, help="holds BSDS200 (default: $SRCNN_DATA)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--padding", choices=SAME_PADDINGS, default=None,
                    help="run every weights with this padding (default: each its own)")
    args = ap.parse_intermixed_args(argv)  # names after options too: srcnn-955-ms -s 4 srcnn-955-x4
    try:
        images = val_images(args.data_root)
        gts = [load_ground_truth(f) for f in images]
        scores: dict[tuple[str, float], float] = {}  # a spec compared with several candidates is scored once

        def score_of(spec: str, w: Weights, k: float) -> float:
            if (spec, k) not in scores:
                scores[spec, k] = score(w, k, gts, args.padding)
            return scores[spec, k]

        rows = []
        for spec in args.pairs:
            shipped_spec, _, cand_spec = spec.rpartition("=")
            cand = load_weights(cand_spec)
            shipped = load_weights(shipped_spec) if shipped_spec else None
            scales = args.scales or list((shipped or cand).scales)
            if not scales:
                raise SRCNNError(f"{cand_spec}: no trained scale recorded; give -s")
            for w, what in ((cand, cand_spec), (shipped, shipped_spec)):
                bad = [k for k in scales if w is not None and not w.supports_scale(k)]
                if bad:
                    raise SRCNNError(f"{what} does not serve x{bad[0]:g}")
            row: dict[str, object] = {"candidate": cand_spec, "shipped": shipped_spec or None, "scales": {}}
            gains = []
            for k in scales:
                c = score_of(cand_spec, cand, k)
                s = score_of(shipped_spec, shipped, k) if shipped is not None else None
                row["scales"][f"{k:g}"] = {"candidate": c, "shipped": s}  # type: ignore[index]
                if s is not None:
                    gains.append(c - s)
            if shipped is not None:
                row["verdict"] = "ship" if min(gains) >= args.min_gain - 1e-12 else "keep"
            rows.append(row)
    except (SRCNNError, OSError, ValueError) as e:
        print(f"val15: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"images": [f.name for f in images], "min_gain": args.min_gain, "results": rows}, indent=1))
        return 0
    print(f"{len(images)} BSDS200 images ({images[0].name} to {images[-1].name}); mean Y-PSNR, dB")
    for row in rows:
        for k, v in row["scales"].items():  # type: ignore[attr-defined]
            c, s = v["candidate"], v["shipped"]
            line = f"x{k:<5} {row['candidate']}: {c:.4f}"
            if s is not None:
                line += f"   {row['shipped']}: {s:.4f}   gain {c - s:+.4f}"
            print(line)
        if "verdict" in row:
            print(f"  -> {row['verdict']} (rule: at least {args.min_gain:+.4f} dB at every scale)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
