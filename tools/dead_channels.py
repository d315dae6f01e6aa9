"""Count dead ReLU channels of SRCNN weights: channels of layer 1 (extraction) and layer 2 (mapping)
that are zero on every pixel of some real images (bicubic inputs at the weights' scale).

    python tools/dead_channels.py runs/955-x3/last.safetensors srcnn-915-x3 --set Set14 --images 6

A dead channel never gets a gradient again, so it is capacity lost for good. This is how the
session-2 9-5-5 models were found to keep only 4 of their 32 mapping channels (lr 1e-3; see the
README, "Training").
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from srcnn.color import y_uint8
from srcnn.datasets import list_images, resolve_set
from srcnn.evaluate import load_ground_truth
from srcnn.resize import imresize
from srcnn.weights import load_weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="+", help="weights files or shipped model names")
    ap.add_argument("--set", default="Set14", help="image set (default Set14)")
    ap.add_argument("--images", type=int, default=6, help="how many of its images (default 6)")
    ap.add_argument("--scale", type=float, default=None, help="scale (default: the weights' first)")
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args()
    files = list_images(resolve_set(args.set, args.data_root))[: args.images]
    for spec in args.weights:
        w = load_weights(spec)
        scale = args.scale or (w.scales[0] if w.scales else 3.0)
        m = w.build(padding="replicate", scale=scale)
        if m.config.channels != 1:
            raise SystemExit(f"{spec}: only 1-channel (Y) models are supported here")
        alive1 = torch.zeros(m.config.n1, dtype=torch.bool)
        alive2 = torch.zeros(m.config.n2, dtype=torch.bool)
        for f in files:
            y = torch.from_numpy(y_uint8(load_ground_truth(f)).astype(np.float32) / 255)[None]
            x = imresize(imresize(y, scale=1 / scale), size=(y.shape[1], y.shape[2]))[None]
            with torch.no_grad():
                r1, r2 = m.config.f1 // 2, m.config.f2 // 2
                h1 = F.relu(m.conv1(F.pad(x, (r1,) * 4, mode="replicate")))
                h2 = F.relu(m.conv2(F.pad(h1, (r2,) * 4, mode="replicate")))
            alive1 |= h1.amax(dim=(0, 2, 3)) > 0
            alive2 |= h2.amax(dim=(0, 2, 3)) > 0
        print(f"{spec}: x{scale:g}, {len(files)} {args.set} images: extraction {int((~alive1).sum())} of "
              f"{m.config.n1} dead, mapping {int((~alive2).sum())} of {m.config.n2} dead")


if __name__ == "__main__":
    main()
