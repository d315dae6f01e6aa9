"""tools/device_zoo.sh: one lent-GPU call of tools/train_zoo.sh that always brings its runs back.

The training processes are played by a stub (``PY``): it answers the import check, and as ``-m srcnn
train`` it writes its --out folder, then waits; on SIGTERM it "saves" (a file) and exits 143 as
``srcnn train`` does. So the deadline, the stop and the tarball are tested in seconds, without torch.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
STUB = """#!/bin/bash
[ "$1" = "-c" ] && exit 0
out=""; while [ $# -gt 0 ]; do [ "$1" = "--out" ] && out=$2; shift; done
mkdir -p "$out"; echo started > "$out/started"
sleep "${STUB_SECONDS:-60}" & nap=$!
trap 'kill $nap 2>/dev/null; echo saved > "$out/checkpoint.pt"; exit 143' TERM
wait $nap
echo done > "$out/last.safetensors"
"""


def _run(tmp_path: Path, deadline: int, stub_seconds: int) -> tuple[subprocess.CompletedProcess[str], float]:
    stub = tmp_path / "py"
    stub.write_text(STUB)
    stub.chmod(0o755)
    (tmp_path / "data").mkdir(exist_ok=True)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    env = {**os.environ, "PY": str(stub), "OUT": str(out), "DATA": str(tmp_path / "data"),
           "RUNS": str(tmp_path / "runs"), "ONLY": "915-x2 955-x2", "DEADLINE": str(deadline),
           "STUB_SECONDS": str(stub_seconds), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "tools" / "device_zoo.sh")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - t0


def _members(tmp_path: Path) -> set[str]:
    with tarfile.open(tmp_path / "out" / "zoo.tgz") as tar:
        return {Path(m.name).relative_to(str(tmp_path / "runs").lstrip("/")).as_posix() for m in tar.getmembers()}


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_deadline_stops_every_run_cleanly_and_packs_them(tmp_path: Path) -> None:
    proc, took = _run(tmp_path, deadline=2, stub_seconds=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the runs were stopped, as the zoo reports
    assert took < 15, took  # the deadline, not the runs' 60 s
    assert "deadline (2 s) reached" in proc.stdout
    names = _members(tmp_path)
    for run in ("915-x2", "955-x2"):  # both runs "saved" on SIGTERM, and the tarball holds it
        assert {f"{run}.log", f"{run}/started", f"{run}/checkpoint.pt"} <= names, names
        assert (tmp_path / "runs" / run / "checkpoint.pt").read_text().strip() == "saved"
    assert not any(n.endswith("last.safetensors") for n in names)


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_runs_that_end_in_time_are_packed_whole(tmp_path: Path) -> None:
    proc, took = _run(tmp_path, deadline=30, stub_seconds=1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert took < 15 and "deadline" not in proc.stdout
    names = _members(tmp_path)
    assert {"915-x2/last.safetensors", "955-x2/last.safetensors"} <= names, names


def test_a_missing_data_root_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "DATA": str(tmp_path / "nowhere")}
    proc = subprocess.run(["bash", str(ROOT / "tools" / "device_zoo.sh")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "no data root" in proc.stderr and "carry it" in proc.stderr
    assert not (out / "zoo.tgz").exists()


LAYOUT_STUB = """#!/bin/bash
if [ "$1" = "-c" ]; then [ "$#" -gt 2 ] && exec python3 "$@"; exit 0; fi
case "$1" in *train_speed.py)
  echo timed >> "$STUB_LOG"
  echo 'timing... (the last line is the JSON)'
  echo '{"results": [{"layout": "nchw", "subimages_per_s": 100}, {"layout": "nhwc", "subimages_per_s": '"$STUB_NHWC}]}"
  exit 0;;
esac
out=""; for a in "$@"; do [ "$prev" = "--out" ] && out=$a; prev=$a; done
mkdir -p "$out"; echo "$@" > "$out/args"; echo done > "$out/last.safetensors"
"""


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
@pytest.mark.parametrize(("nhwc", "picked"), [(120.0, "nhwc"), (103.0, "nchw")])
def test_layout_auto_times_once_and_passes_channels_last(tmp_path: Path, nhwc: float, picked: str) -> None:
    # LAYOUT=auto: NHWC is used only when it is at least 5 % faster, and a resume reuses the choice untimed
    stub = tmp_path / "py"
    stub.write_text(LAYOUT_STUB)
    stub.chmod(0o755)
    (tmp_path / "data").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PY": str(stub), "OUT": str(out), "DATA": str(tmp_path / "data"), "LAYOUT": "auto",
           "RUNS": str(tmp_path / "runs"), "ONLY": "955-x2", "DEADLINE": "30", "STUB_NHWC": str(nhwc),
           "STUB_LOG": str(tmp_path / "timed"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for _ in range(2):
        proc = subprocess.run(["bash", str(ROOT / "tools" / "device_zoo.sh")], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"layout {picked}" in proc.stdout
    assert (tmp_path / "timed").read_text().splitlines() == ["timed"]  # once: the resume read RUNS/layout
    assert (tmp_path / "runs" / "layout").read_text().strip() == picked
    args = (tmp_path / "runs" / "955-x2" / "args").read_text().split()
    assert ("--channels-last" in args) == (picked == "nhwc")
    assert "layout" in _members(tmp_path)
