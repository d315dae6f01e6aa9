"""Training throughput: sub-images per second (forward + backward + Adam step, batch 128, 33x33
inputs, valid convolutions) for 9-1-5 and 9-5-5: our SRCNN module stepped as ``srcnn train``
steps it (on a CPU, the batch in parts sized to the caches: ``srcnn.train.step_parts``), our module
on the whole batch at once, and a plain nn.Sequential of the same layers on the whole batch, in one
run. Prints a table and JSON.

    python benchmarks/train_speed.py [--threads 2] [--seconds 10] [--size 64]

On a GPU, ``--amp`` also times our module under mixed precision as ``srcnn train --amp`` runs it
(``tf32`` = float32 with TensorFloat-32 convolutions and matmuls, PyTorch's cuDNN default; ``fp32``
= strict float32), e.g. the zoo's setting:

    python benchmarks/train_speed.py --device cuda --size 64 --amp fp32 tf32 fp16 bf16

``--channels-last`` times each precision in both memory layouts (NCHW, and NHWC as ``srcnn train
--channels-last`` runs it: the model and each batch in ``torch.channels_last``), e.g. before a GPU zoo:

    python benchmarks/train_speed.py --device cuda --size 64 --seconds 3 --amp tf32 bf16 --channels-last
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from srcnn.model import SRCNN, config_for
from srcnn.train import TrainConfig, step_parts


def plain(arch: str) -> nn.Module:
    f1, f2, f3 = (int(v) for v in arch.split("-"))
    return nn.Sequential(nn.Conv2d(1, 64, f1), nn.ReLU(), nn.Conv2d(64, 32, f2), nn.ReLU(), nn.Conv2d(32, 1, f3))


def measure(model: nn.Module, batch: int, size: int, seconds: float, device: str = "cpu",
            amp: str = "off", parts: int = 1, channels_last: bool = False) -> float:
    """Sub-images per second; ``amp``: off (as configured), fp32, tf32, fp16 or bf16; ``parts``: the
    batch runs forward and backward in that many parts, the gradients adding up, as in ``srcnn train``;
    ``channels_last``: the model and the batch in NHWC memory layout."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, 1, size, size, device=device).contiguous(memory_format=fmt)
    with torch.no_grad():
        y = torch.rand_like(model(x))
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cudnn.benchmark = True
        tf32 = amp != "fp32"
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp)
    scaler = torch.amp.GradScaler(torch.device(device).type, enabled=amp == "fp16")

    def step() -> None:
        opt.zero_grad()
        for xp, yp in zip(x.tensor_split(parts), y.tensor_split(parts), strict=True):
            with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
                out = model(xp)
            scaler.scale(nn.functional.mse_loss(out.float(), yp) * (len(xp) / batch)).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(3):  # warm-up
        step()
    if cuda:
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
        if cuda and n % 20 == 0:
            torch.cuda.synchronize()
    if cuda:
        torch.cuda.synchronize()
    return n * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=33, help="input crop side (the GPU zoo trains on 64)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", nargs="+", default=None, choices=["fp32", "tf32", "fp16", "bf16"],
                    help="time our module in these precisions instead of ours vs Sequential")
    ap.add_argument("--arch", nargs="+", default=["9-1-5", "9-5-5"], choices=["9-1-5", "9-3-5", "9-5-5"],
                    help="the architectures to time (default 9-1-5 and 9-5-5)")
    ap.add_argument("--channels-last", action="store_true",
                    help="with --amp: time each precision in NCHW and in NHWC (channels_last) layout")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.amp:
        print(f"{'arch':<7} {'precision':<9} {'layout':<6} {'sub-images/s':>13} {'steps/s':>8}")
        out = []
        for arch in args.arch:
            for amp in args.amp:
                for layout in ("nchw", "nhwc") if args.channels_last else ("nchw",):
                    r = measure(SRCNN(config_for(arch, padding="valid")), args.batch, args.size, args.seconds,
                                args.device, amp, channels_last=layout == "nhwc")
                    out.append({"arch": arch, "precision": amp, "layout": layout, "subimages_per_s": round(r, 1)})
                    print(f"{arch:<7} {amp:<9} {layout:<6} {r:>13.1f} {r / args.batch:>8.1f}", flush=True)
        print(json.dumps({"device": args.device, "batch": args.batch, "size": args.size, "results": out}))
        return
    rows = []
    for arch in args.arch:
        parts = step_parts(args.batch, args.size, TrainConfig(arch=arch), torch.device(args.device).type == "cpu")
        ours = measure(SRCNN(config_for(arch, padding="valid")), args.batch, args.size, args.seconds, args.device,
                       parts=parts)
        whole = measure(SRCNN(config_for(arch, padding="valid")), args.batch, args.size, args.seconds, args.device)
        ref = measure(plain(arch), args.batch, args.size, args.seconds, args.device)
        rows.append({"arch": arch, "parts": parts, "srcnn_subimages_per_s": round(ours, 1),
                     "srcnn_whole_batch_subimages_per_s": round(whole, 1),
                     "sequential_subimages_per_s": round(ref, 1), "ratio": round(ours / ref, 3),
                     "hours_for_8e8_backprops": round(8e8 / ours / 3600, 1)})
    print(f"{'arch':<7} {'parts':>5} {'srcnn /s':>10} {'whole batch /s':>15} {'Sequential /s':>14} {'ratio':>6} "
          f"{'h for 8e8':>10}")
    for r in rows:
        print(f"{r['arch']:<7} {r['parts']:>5} {r['srcnn_subimages_per_s']:>10} "
              f"{r['srcnn_whole_batch_subimages_per_s']:>15} {r['sequential_subimages_per_s']:>14} "
              f"{r['ratio']:>6} {r['hours_for_8e8_backprops']:>10}")
    print(json.dumps({"threads": args.threads, "batch": args.batch, "size": args.size, "results": rows}))


if __name__ == "__main__":
    main()
