"""Write the Y plane of every image of some training sets as grayscale PNGs (for carrying a small
copy of the training data to another machine, e.g. a lent GPU: T91 + BSDS200 + General100 shrink
from 119 MB to 30 MB). Training on the copy gives the same pairs as on the originals: the pair
builder takes the uint8 Y plane of Matlab's rgb2ycbcr, and takes a grayscale image as that plane.

    python tools/y_planes.py --data-root ../shared/data --out /tmp/ydata T91 BSDS200 General100

Validation sets keep their colour images: copy them as they are (``--copy Set5``).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

from srcnn.color import y_uint8
from srcnn.datasets import list_images, resolve_set
from srcnn.evaluate import load_ground_truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="+", help="training set names or folders")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", required=True, help="output data root (one folder per set)")
    ap.add_argument("--copy", action="append", default=[], help="set to copy unchanged (repeatable)")
    args = ap.parse_args()
    out = Path(args.out)
    for name in args.sets:
        src = resolve_set(name, args.data_root)
        dst = out / src.name
        dst.mkdir(parents=True, exist_ok=True)
        files = list_images(src)
        for f in files:
            Image.fromarray(y_uint8(load_ground_truth(f)), mode="L").save(dst / f"{f.stem}.png", optimize=True)
        print(f"{src.name}: {len(files)} Y planes -> {dst}")
    for name in args.copy:
        src = resolve_set(name, args.data_root)
        shutil.copytree(src, out / src.name, dirs_exist_ok=True)
        print(f"{src.name}: copied -> {out / src.name}")


if __name__ == "__main__":
    main()
