"""Write 14 photos that scikit-image ships, as PNGs, for a check on images no model trained on.

    python tools/photos14.py /tmp/photos14
    srcnn evaluate -w srcnn-955-x3 -s 3 --sets /tmp/photos14 --json new.json

These are the "14 scikit-image photos" of the README's checks since 2026-11-27 (earlier sessions
used 14 of the same collection without recording which): natural photos and micrographs, no
drawings or text, none in T91, BSDS200, General100 or a test set. They are a check made after a
choice, never the rule that makes it (that is tools/val15.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PHOTOS = ("astronaut", "brick", "camera", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
          "hubble_deep_field", "immunohistochemistry", "moon", "retina", "rocket")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="folder to write NAME.png into (created; existing files are kept)")
    args = ap.parse_args(argv)
    from PIL import Image
    from skimage import data

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"photos14: cannot create {out}: {e.strerror}", file=sys.stderr)
        return 1
    for name in PHOTOS:
        path = out / f"{name}.png"
        if path.exists():
            continue
        tmp = path.with_suffix(".png.tmp")
        Image.fromarray(getattr(data, name)()).save(tmp, format="PNG")
        tmp.replace(path)
    print(f"{len(PHOTOS)} photos in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
