"""The cost of ``--self-ensemble``: the network alone (``run_model``) single pass against the mean over
the 8 flips and rotations, for 9-1-5 and 9-5-5 on square outputs, on the same random input and
weights. Prints a table (seconds, megapixels per second, ratio) and JSON.

    python benchmarks/self_ensemble.py [--threads 2] [--sizes 512 1024] [--repeat 3] [--json out.json]

Times are medians of ``--repeat`` runs after one warm-up, single and ensemble in turns (ABAB...) so
that drifts in the machine's speed hit both alike. The ensemble does 8 times the network's work
plus 16 flips/rotations of the image; the ratio says what that costs here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from srcnn.infer import run_model
from srcnn.model import SRCNN, config_for


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--archs", nargs="+", default=["9-1-5", "9-5-5"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    print(f"{'arch':<6} {'output':>9} {'single s':>9} {'ensemble s':>11} {'single MP/s':>12} "
          f"{'ensemble MP/s':>14} {'ratio':>6}")
    for arch in args.archs:
        model = SRCNN(config_for(arch)).eval()
        for side in args.sizes:
            x = torch.rand(1, 1, side, side)
            times: dict[bool, list[float]] = {False: [], True: []}
            for ens in (False, True):  # warm-up
                run_model(model, x, self_ensemble=ens)
            for _ in range(args.repeat):
                for ens in (False, True):
                    t0 = time.perf_counter()
                    run_model(model, x, self_ensemble=ens)
                    times[ens].append(time.perf_counter() - t0)
            one, eight = statistics.median(times[False]), statistics.median(times[True])
            mp = side * side / 1e6
            row = {"arch": arch, "side": side, "single_s": one, "ensemble_s": eight,
                   "single_mp_s": mp / one, "ensemble_mp_s": mp / eight, "ratio": eight / one}
            rows.append(row)
            print(f"{arch:<6} {f'{side}x{side}':>9} {one:9.3f} {eight:11.3f} {mp / one:12.3f} "
                  f"{mp / eight:14.3f} {eight / one:6.2f}")
    doc = {"threads": args.threads, "torch": torch.__version__, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    json.dump(doc, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
