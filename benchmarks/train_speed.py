"""Training throughput: sub-images per second (forward + backward + Adam step, batch 128, 33x33
inputs, valid convolutions) for 9-1-5 and 9-5-5, our SRCNN module next to a plain nn.Sequential
of the same layers, in one run. Prints a table and JSON.

    python benchmarks/train_speed.py [--threads 2] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from srcnn.model import SRCNN, config_for


def plain(arch: str) -> nn.Module:
    f1, f2, f3 = (int(v) for v in arch.split("-"))
    return nn.Sequential(nn.Conv2d(1, 64, f1), nn.ReLU(), nn.Conv2d(64, 32, f2), nn.ReLU(), nn.Conv2d(32, 1, f3))


def measure(model: nn.Module, batch: int, size: int, seconds: float) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, 1, size, size)
    with torch.no_grad():
        y = torch.rand_like(model(x))
    for _ in range(3):  # warm-up
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for arch in ("9-1-5", "9-5-5"):
        ours = measure(SRCNN(config_for(arch, padding="valid")), args.batch, 33, args.seconds)
        ref = measure(plain(arch), args.batch, 33, args.seconds)
        rows.append({"arch": arch, "srcnn_subimages_per_s": round(ours, 1),
                     "sequential_subimages_per_s": round(ref, 1), "ratio": round(ours / ref, 3),
                     "hours_for_8e8_backprops": round(8e8 / ours / 3600, 1)})
    print(f"{'arch':<7} {'srcnn /s':>10} {'Sequential /s':>14} {'ratio':>6} {'h for 8e8':>10}")
    for r in rows:
        print(f"{r['arch']:<7} {r['srcnn_subimages_per_s']:>10} {r['sequential_subimages_per_s']:>14} "
              f"{r['ratio']:>6} {r['hours_for_8e8_backprops']:>10}")
    print(json.dumps({"threads": args.threads, "batch": args.batch, "results": rows}))


if __name__ == "__main__":
    main()
