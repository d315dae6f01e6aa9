"""`srcnn upscale` end to end: the time of a 12-megapixel output (decode, colour, bicubic, network,
encode), phase by phase in-process and as a whole through the command line, and the peak resident
memory of a 64-megapixel output (2700x2700 input at x3) measured by ``/usr/bin/time -v``.

    python benchmarks/upscale_e2e.py [--threads 2] [--weights W] [--skip-64mp] [--json out.json]

Inputs are a real photo (scikit-image's astronaut) enlarged with Pillow to the input size and
saved as PNG. Without ``--weights`` random 9-1-5 weights are used (speed does not depend on the
values). ``/usr/bin/time`` comes from the ``time`` package (``apt-get install time``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def make_input(path: Path, side: int) -> None:
    from skimage import data

    Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.LANCZOS).save(path)


def weights_file(tmp: Path, arch: str) -> str:
    import torch

    from srcnn.model import SRCNN, config_for
    from srcnn.weights import Weights, save_weights

    torch.manual_seed(0)
    m = SRCNN(config_for(arch))
    p = tmp / f"random-{arch}.safetensors"
    save_weights(Weights(config=m.config, state_dict=dict(m.state_dict()), scales=(3.0,),
                         provenance="random benchmark weights", name=f"random-{arch}"), p)
    return str(p)


def phases(src: Path, dst: Path, weights: str, threads: int) -> dict[str, float]:
    """In-process timing of each step of the upscale path (what cmd_upscale does)."""
    import torch

    from srcnn.cli import _save_image
    from srcnn.engine import Engine
    from srcnn.fileio import atomic_write_with
    from srcnn.images import read_image, save_params
    from srcnn.infer import resolve_model, upscale_picture

    torch.set_num_threads(threads)
    model, mode = resolve_model(weights, 3.0)
    net = [0.0]
    real_run_rows = Engine.run_rows

    def run_rows(self: Engine, *a: Any, **k: Any) -> Any:  # time spent in the network
        t = time.perf_counter()
        try:
            return real_run_rows(self, *a, **k)
        finally:
            net[0] += time.perf_counter() - t

    Engine.run_rows = run_rows  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        pic = read_image(src)
        t1 = time.perf_counter()
        img = upscale_picture(pic, 3.0, model, mode, tile=None, max_memory=512 << 20, as_pil=True)
        t2 = time.perf_counter()
    finally:
        Engine.run_rows = real_run_rows  # type: ignore[method-assign]
    params, _ = save_params(pic, "PNG", img.size)  # as `srcnn upscale` writes it (ICC profile, text)
    atomic_write_with(dst, lambda f: _save_image(img, f, "PNG", params), overwrite=True)
    t3 = time.perf_counter()
    return {"decode_s": t1 - t0, "network_s": net[0], "colour_bicubic_s": t2 - t1 - net[0],
            "encode_s": t3 - t2, "total_s": t3 - t0, "output_mp": img.size[0] * img.size[1] / 1e6}


def run_cli(args: list[str], timed: bool) -> tuple[float, int | None, str]:
    """Run `python -m srcnn ...`; returns wall seconds, peak RSS in bytes (with /usr/bin/time) and
    stderr."""
    cmd = [sys.executable, "-m", "srcnn", *args]
    gnu_time = shutil.which("time", path="/usr/bin")
    if timed and gnu_time:
        cmd = [gnu_time, "-v", *cmd]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"srcnn failed ({p.returncode}): {p.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return wall, (int(m.group(1)) * 1024 if m else None), p.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", default=None, help="weights (default: random 9-1-5)")
    ap.add_argument("--arch", default="9-1-5", help="architecture of the random weights")
    ap.add_argument("--max-memory", default="512M", help="--max-memory for the CLI runs")
    ap.add_argument("--skip-64mp", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if not shutil.which("time", path="/usr/bin"):
        print("note: /usr/bin/time missing (apt-get install time): no peak-memory figure", file=sys.stderr)
    res: dict[str, Any] = {"threads": args.threads, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        w = args.weights or weights_file(tmp, args.arch)
        res["weights"] = args.weights or f"random {args.arch}"
        src12 = tmp / "in12.png"
        make_input(src12, 1155)  # x3 -> 3465 x 3465 = 12.0 MP
        res["12mp_phases"] = phases(src12, tmp / "out12_inproc.png", w, args.threads)
        base = ["upscale", "-s", "3", "-w", w, "--threads", str(args.threads), "--max-memory",
                args.max_memory, "--overwrite", "-q"]
        wall, rss, _ = run_cli([*base, str(src12), "-o", str(tmp / "out12.png")], timed=True)
        res["12mp_cli"] = {"wall_s": wall, "peak_rss_bytes": rss, "mp_per_s": 3465 * 3465 / 1e6 / wall}
        if not args.skip_64mp:
            src64 = tmp / "in64.png"
            make_input(src64, 2700)  # x3 -> 8100 x 8100 = 65.6 MP
            wall, rss, _ = run_cli([*base, str(src64), "-o", str(tmp / "out64.png")], timed=True)
            with Image.open(tmp / "out64.png") as im:
                size = im.size
            res["64mp_cli"] = {"wall_s": wall, "peak_rss_bytes": rss, "output": list(size),
                               "output_mp": size[0] * size[1] / 1e6}
    p = res["12mp_phases"]
    print(f"12 MP output ({p['output_mp']:.1f} MP), {args.threads} threads, in-process: decode "
          f"{p['decode_s']:.2f} s, colour+bicubic {p['colour_bicubic_s']:.2f} s, network "
          f"{p['network_s']:.2f} s, encode PNG {p['encode_s']:.2f} s, total {p['total_s']:.2f} s")
    c = res["12mp_cli"]
    rss12 = f"{c['peak_rss_bytes'] / 2**20:.0f} MiB" if c["peak_rss_bytes"] else "n/a"
    print(f"12 MP through `srcnn upscale`: {c['wall_s']:.2f} s wall (incl. start-up), peak RSS {rss12}")
    if "64mp_cli" in res:
        c = res["64mp_cli"]
        rss = f"{c['peak_rss_bytes'] / 2**20:.0f} MiB" if c["peak_rss_bytes"] else "n/a"
        print(f"64 MP ({c['output'][0]}x{c['output'][1]}) through `srcnn upscale`: {c['wall_s']:.1f} s, "
              f"peak RSS {rss}")
    text = json.dumps(res, indent=2, default=lambda o: float(o) if isinstance(o, np.floating) else str(o))
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
