"""The teacher's pass of ``srcnn train --distill-from`` (``train.distill_labels``): the 8-view self-ensemble of a
9-1-5 over many images of different sizes, as T91 with downscaled copies gives it, with cuDNN's autotuner
(``torch.backends.cudnn.benchmark``, which train turns on) off and on. Synthetic images (seeded): no data needed.

    python benchmarks/teacher_labels.py [--device cuda] [--images 120] [--json out.json]

Measured in session 10 on an idle H100 (torch 2.11, 120 images of 120..320 px): 1.33 s with the autotuner off (the
first pass, which also pays the lazy loading of kernels), 0.25 s on, 0.33 s for ``distill_labels`` itself. So the
pass is about a second for T91, and the autotuner does not hurt it. In that session's GPU call, two distillation
runs still spent about 8 minutes before their first step while 10 other runs trained on the same GPU; a
latency-bound pass (one sync per image) under time-slicing is the likely cause (not measured). On a CPU the flag
does nothing.

Session 11: on an H200 shared by 6 runs, the teacher's pass took 4.1 to 4.7 minutes of every start (resumes
included; since then the labels are cached, so only the first start pays). A guess to test: the autotuner times
several algorithms per new shape, each trial synchronised, and under time-slicing every synchronisation waits for
the other processes' slices. ``--busy N`` runs N training-like loads (9-5-5, batch 128 of 64x64) on the same GPU
while the passes are timed, each pass on images of new sizes, so that the flag is compared under contention.
Since session 11, ``distill_labels`` itself turns the autotuner off for the pass (and restores it), so its row
shows the pass as train now runs it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from typing import Any

import numpy as np
import torch

from srcnn.data import Pair
from srcnn.infer import run_model
from srcnn.model import SRCNN, config_for
from srcnn.train import distill_labels
from srcnn.weights import Weights


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--images", type=int, default=120, help="images of random size 120..320 x 120..320 px")
    ap.add_argument("--arch", default="9-1-5")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="N processes training a 9-5-5 on the same device while the passes are timed (CUDA only)")
    args = ap.parse_args(argv)
    if args.busy and not args.device.startswith("cuda"):
        ap.error("--busy needs a CUDA device")
    rng = np.random.default_rng(0)

    def new_pairs() -> list[Pair]:  # fresh sizes for every pass: the autotuner meets new shapes each time
        return [Pair(rng.random((1, h, w), dtype=np.float32), rng.random((1, h, w), dtype=np.float32), 3.0, f"{i}")
                for i, (h, w) in enumerate(rng.integers(120, 321, size=(args.images, 2)))]
    torch.manual_seed(0)
    net = SRCNN(config_for(args.arch)).eval()
    teacher = Weights(config=net.config, state_dict=dict(net.state_dict()), scales=(3.0,), name="random")
    model = teacher.build(device=args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    torch.backends.cudnn.benchmark = False
    run_model(model, torch.rand(1, 1, 64, 64, device=args.device), self_ensemble=True)  # CUDA start-up: not timed
    sync()
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    loads = [ctx.Process(target=_busy, args=(args.device, stop), daemon=True) for _ in range(args.busy)]
    for proc in loads:
        proc.start()
    if loads:
        time.sleep(20)  # let them start and reach their training loop
    rows = {}
    try:
        for label, bench in (("autotuner off", False), ("autotuner on", True)):
            torch.backends.cudnn.benchmark = bench
            pairs = new_pairs()
            t0 = time.perf_counter()
            for p in pairs:
                run_model(model, torch.from_numpy(p.bicubic)[None].to(args.device), self_ensemble=True)
            sync()
            rows[label] = time.perf_counter() - t0
        torch.backends.cudnn.benchmark = True  # as train had it before the pass (distill_labels turns it off)
        pairs = new_pairs()
        t0 = time.perf_counter()
        distill_labels(pairs, teacher, 0.5, "y", args.device)
        sync()
        rows["distill_labels (as train calls it)"] = time.perf_counter() - t0
    finally:
        stop.set()
        for proc in loads:
            proc.join(30)
    busy = f", {args.busy} training loads beside it" if args.busy else ""
    print(f"{args.images} images, {args.arch} 8-view ensemble on {args.device} ({torch.__version__}){busy}:")
    for label, s in rows.items():
        print(f"  {label:<36} {s:7.2f} s  ({args.images / s:6.1f} images/s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "images": args.images, "arch": args.arch, "busy": args.busy,
                       "seconds": rows}, f, indent=2)
    return 0


def _busy(device: str, stop: Any) -> None:
    """A training-like load: 9-5-5 steps on batches of 128 64x64 crops until ``stop`` is set."""
    torch.backends.cudnn.benchmark = True
    net = SRCNN(config_for("9-5-5")).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.rand(128, 1, 64, 64, device=device)
    while not stop.is_set():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(net(x), x)
        loss.backward()
        opt.step()


if __name__ == "__main__":
    sys.exit(main())
