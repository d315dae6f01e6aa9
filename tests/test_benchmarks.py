"""The benchmark scripts still run against the library (they are scripts, outside the package, and broke once
unnoticed when a function they call changed): the in-process phases of the end-to-end benchmark on a small
image, with the values they report checked for sense. Speed itself is never asserted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .conftest import load_tool


def test_upscale_e2e_phases_on_a_small_image(tmp_path: Path) -> None:
    bench = load_tool("upscale_e2e", "benchmarks")
    src, dst = tmp_path / "small.png", tmp_path / "out.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)).save(src)
    w = bench.weights_file(tmp_path, "9-1-5")
    threads = torch.get_num_threads()
    try:
        res = bench.phases(src, dst, w, 1)
    finally:
        torch.set_num_threads(threads)
    with Image.open(dst) as im:
        assert im.size == (156, 120)  # x3
    assert res["output_mp"] == 156 * 120 / 1e6
    assert all(res[k] >= 0 for k in ("decode_s", "network_s", "encode_s")) and res["network_s"] > 0
    assert abs(res["decode_s"] + res["network_s"] + res["colour_bicubic_s"] + res["encode_s"] - res["total_s"]) < 1e-6
