"""Inference speed: srcnn's engine against a plain ``nn.Sequential`` (zero padding, as peers write
it), onnxruntime on our exported model (replicate padding, the same semantics as ours), and the
machine's measured fp32 matrix-multiply throughput turned into a ceiling, for 9-1-5 and 9-5-5 at
512x512 and 2048x2048 outputs, in one run on the same random input and weights. Prints a table and
JSON (with ratios).

    python benchmarks/inference.py [--threads 2] [--sizes 512 2048] [--device cpu] [--json out.json]
    python benchmarks/inference.py --sizes 512 1024 --padding symmetric   # our shipped models' padding

Ceiling: FLOPs per output pixel = 2 * (81*64 + 64*32*f2^2 + 32*25) (the network's multiply-adds,
nothing else), divided into the best fp32 ``torch.mm`` rate measured on square matrices of 1024,
2048 and 4096 with the same threads: the speed a perfect GEMM-bound implementation would have.
Times are the median of ``--repeat`` runs after one warm-up run; ours and onnxruntime run in turns
(ABAB...) so that the machine's speed drifts hit both alike. The plain stack is timed apart (one
run after the warm-up when the warm-up took over 5 s; the warm-up itself when over 30 s: minutes
at 2048x2048).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from srcnn.engine import Engine, export_onnx
from srcnn.infer import tile_for
from srcnn.model import SAME_PADDINGS, SRCNN, config_for

DEFAULT_MAX_MEMORY = 512 << 20  # what `srcnn upscale` uses by default (--max-memory 512M)


def flops_per_pixel(f1: int, f2: int, f3: int, n1: int = 64, n2: int = 32, c: int = 1) -> int:
    return 2 * (c * f1 * f1 * n1 + n1 * n2 * f2 * f2 + n2 * f3 * f3 * c)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timeit(fn: Callable[[], Any], repeat: int, device: str, what: str = "") -> float:
    t0 = time.perf_counter()
    fn()  # warm-up
    sync(device)
    warm = time.perf_counter() - t0
    if warm > 5.0:  # slow baselines at 2048x2048: one timed run after the warm-up
        repeat = 1
    times = []
    if warm > 30.0:  # the plain stack at 2048x2048 (minutes): its first run is the measurement
        repeat, times = 0, [warm]
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    if what:
        print(f"  {what}: {statistics.median(times):.3f} s", file=sys.stderr, flush=True)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int, device: str, what: str) -> dict[str, float]:
    """Median time of each function, run in turns (one warm-up each first)."""
    for fn in fns.values():
        fn()
    sync(device)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            # A pause first: onnxruntime's pool threads spin-wait for a while after each run, and
            # would otherwise eat the CPU of whatever runs next (measured: ours 1.15x instead of
            # 1.5x onnxruntime at 512x512 without it).
            time.sleep(0.2)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {what} {k}: {v:.3f} s", file=sys.stderr, flush=True)
    return med


def matmul_gflops(device: str, dtype: torch.dtype = torch.float32) -> float:
    best = 0.0
    for n in (1024, 2048, 4096):
        a = torch.rand(n, n, device=device, dtype=dtype)
        b = torch.rand(n, n, device=device, dtype=dtype)
        c = torch.empty(n, n, device=device, dtype=dtype)
        reps = 3 if n < 4096 else 1
        t = timeit(lambda a=a, b=b, c=c: torch.mm(a, b, out=c), reps, device)
        best = max(best, 2 * n**3 / t / 1e9)
    return best


def plain(model: SRCNN) -> nn.Module:
    """The stack peers write: nn.Conv2d layers with zero padding, same weights."""
    c = model.config
    seq = nn.Sequential(nn.Conv2d(c.channels, c.n1, c.f1, padding=c.f1 // 2), nn.ReLU(),
                        nn.Conv2d(c.n1, c.n2, c.f2, padding=c.f2 // 2), nn.ReLU(),
                        nn.Conv2d(c.n2, c.channels, c.f3, padding=c.f3 // 2))
    seq.load_state_dict({"0.weight": model.conv1.weight, "0.bias": model.conv1.bias,
                         "2.weight": model.conv2.weight, "2.bias": model.conv2.bias,
                         "4.weight": model.conv3.weight, "4.bias": model.conv3.bias})
    return seq.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 2048])
    ap.add_argument("--archs", nargs="+", default=["9-1-5", "9-5-5"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--half", action="store_true", help="CUDA: also time our engine in float16")
    ap.add_argument("--json", default=None, help="also write the JSON here")
    ap.add_argument("--padding", default="replicate", choices=SAME_PADDINGS,
                    help="the network's padding for ours and onnxruntime (default replicate, the README's table)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = args.device
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
        print("onnxruntime not installed: its column is skipped (pip install onnxruntime)", file=sys.stderr)

    gflops = matmul_gflops(dev)
    rows: list[dict[str, Any]] = []
    for arch in args.archs:
        torch.manual_seed(0)
        model = SRCNN(config_for(arch, padding=args.padding)).to(dev).eval()
        f1, f2, f3 = (int(v) for v in arch.split("-"))
        fpp = flops_per_pixel(f1, f2, f3)
        ceiling = gflops * 1e9 / fpp / 1e6
        seq = plain(model).to(dev)
        eng = Engine(model)
        sess = None
        if ort is not None and dev == "cpu":
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(export_onnx(model), opts, providers=["CPUExecutionProvider"])
        for size in args.sizes:
            g = torch.Generator().manual_seed(size)
            x = torch.rand(1, 1, size, size, generator=g).to(dev)
            mp = size * size / 1e6
            tile = tile_for(model, None, DEFAULT_MAX_MEMORY)
            tiles = (tile, tile) if tile else None
            with torch.inference_mode():
                t0 = time.perf_counter()
                ref = model(x)
                print(f"  {arch} {size} reference: {time.perf_counter() - t0:.3f} s", file=sys.stderr, flush=True)
                ours_out = eng(x, tile=tiles)
                fns: dict[str, Callable[[], Any]] = {"ours": partial(eng, x, tile=tiles)}
                xn = x.cpu().numpy()
                if sess is not None:
                    fns["onnxruntime"] = partial(sess.run, None, {"input": xn})
                # Ours and onnxruntime alternate run by run, so that drifts of the machine's speed
                # (turbo, neighbours) hit both alike; the ratio is the ratio of the medians.
                times = interleaved(fns, args.repeat, dev, f"{arch} {size}")
                t_ours = times["ours"]
                t_plain = timeit(partial(seq, x), args.repeat, dev, f"{arch} {size} plain")
            row: dict[str, Any] = {
                "arch": arch, "size": size, "device": dev, "threads": args.threads, "tile": tile,
                "ours_mps": mp / t_ours, "plain_mps": mp / t_plain, "ceiling_mps": ceiling,
                "matmul_gflops": gflops,
                "ours_vs_reference_maxdiff": float((ours_out - ref).abs().max()),
            }
            if sess is not None:
                ort_out = sess.run(None, {"input": xn})[0]
                row["ort_mps"] = mp / times["onnxruntime"]
                row["ours_vs_ort_maxdiff"] = float(np.abs(ort_out - ours_out.cpu().numpy()).max())
                row["ours_over_ort"] = row["ours_mps"] / row["ort_mps"]
            if args.half and dev.startswith("cuda"):
                eng16 = Engine(model.half())
                model.float()
                t16 = timeit(partial(eng16, x.half(), tile=tiles), args.repeat, dev)
                row["ours_fp16_mps"] = mp / t16
            row["ours_over_plain"] = row["ours_mps"] / row["plain_mps"]
            row["ours_of_ceiling"] = row["ours_mps"] / ceiling
            rows.append(row)
            del ref, ours_out

    print(f"fp32 matmul: {gflops:.1f} GFLOP/s on {args.threads} thread(s), device {dev}")
    head = (f"{'arch':<6} {'size':>5} {'ours MP/s':>10} {'plain':>8} {'onnxrt':>8} {'ceiling':>8} "
            f"{'xORT':>6} {'xplain':>7} {'%ceil':>6} {'maxdiff':>8}")
    print(head)
    for r in rows:
        ort_s = f"{r['ort_mps']:8.3f}" if "ort_mps" in r else f"{'-':>8}"
        xo = f"{r['ours_over_ort']:6.2f}" if "ours_over_ort" in r else f"{'-':>6}"
        print(f"{r['arch']:<6} {r['size']:>5} {r['ours_mps']:10.3f} {r['plain_mps']:8.3f} {ort_s} "
              f"{r['ceiling_mps']:8.3f} {xo} {r['ours_over_plain']:7.2f} {100 * r['ours_of_ceiling']:5.1f}% "
              f"{max(r['ours_vs_reference_maxdiff'], r.get('ours_vs_ort_maxdiff', 0.0)):8.1e}")
    out = {"matmul_gflops": gflops, "threads": args.threads, "device": dev, "padding": args.padding,
           "torch": torch.__version__, "results": rows}
    if ort is not None:
        out["onnxruntime"] = ort.__version__
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
