"""Hardened I/O (issue 6): every bad input gets one clear line and the right exit code, nothing is
left half-written, inputs are never touched; batch mode goes on past bad files; weights never run
code; and property-based tests over sizes, modes and scales for decode -> resize -> model -> encode.
"""

from __future__ import annotations

import errno
import io
import math
import os
import pickle
import re
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

import srcnn.fileio as fileio
from srcnn.cli import main
from srcnn.errors import ImageReadError, ImageWriteError, WeightsError
from srcnn.images import encode_image, read_image
from srcnn.infer import output_size_for, resolve_model, upscale_picture
from srcnn.model import SRCNN, config_for
from srcnn.weights import Weights, load_weights, save_weights

from .conftest import identity_weights, random_weights

# ------------------------------------------------------------------------------------- helpers


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(err: str, *needles: str) -> str:
    """The one `srcnn: error:` line of ``err`` (asserting there is exactly one, holding every needle)."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("srcnn: error:")]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], err
    return lines[0]


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _no_temp_files(root: Path) -> None:
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def _rgb(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(path: Path, width: int, height: int, bits: int = 8, colour: int = 2) -> Path:
    """A PNG whose IHDR announces ``width`` x ``height`` (the data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))
    return path


def _png16_rgb(path: Path, a: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG written by hand (Pillow cannot write one)."""
    h, w, _ = a.shape
    raw = b"".join(b"\0" + a[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b""))
    return path


@pytest.fixture()
def ident_file(tmp_path: Path) -> Path:
    p = tmp_path / "ident.safetensors"
    save_weights(identity_weights(scales=(1.5, 2.0, 3.0, 4.0)), p)
    return p


class _OsProxy:
    """``os`` with some functions replaced, installed as ``srcnn.fileio.os`` only."""

    def __init__(self, **overrides: Any) -> None:
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name, getattr(os, name))


def _enospc(*_a: object, **_k: object) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# --------------------------------------------------------------------- bad inputs, one line each
def _missing(d: Path) -> Path:
    return d / "missing.png"


def _empty(d: Path) -> Path:
    (d / "empty.png").write_bytes(b"")
    return d / "empty.png"


def _truncated(d: Path, ext: str) -> Path:
    p = d / f"cut_{ext}.{ext}"
    Image.fromarray(_rgb(64, 64)).save(p)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return p


def _text_png(d: Path) -> Path:
    (d / "notes.png").write_text("this is not a picture\n")
    return d / "notes.png"


def _huge_header(d: Path) -> Path:
    return _png_header_only(d / "bomb.png", 30000, 30000)


def _eps(d: Path) -> Path:  # Pillow would hand EPS to Ghostscript: not opened at all
    (d / "x.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    return d / "x.png"


def _fifo(d: Path) -> Path:
    os.mkfifo(d / "pipe.png")
    return d / "pipe.png"


def _broken_link(d: Path) -> Path:
    (d / "link.png").symlink_to(d / "gone.png")
    return d / "link.png"


def _nan_tiff(d: Path) -> Path:
    a = np.full((20, 30), 0.5, np.float32)
    a[3, 4] = np.nan
    Image.fromarray(a).save(d / "nan.tif")
    return d / "nan.tif"


def _empty_folder(d: Path) -> Path:
    (d / "nothing").mkdir()
    return d / "nothing"


BAD_INPUTS: list[tuple[str, Callable[[Path], Path], tuple[str, ...]]] = [
    ("missing path", _missing, ("no such file",)),
    ("empty 0-byte file", _empty, ("empty file (0 bytes)",)),
    ("truncated PNG", lambda d: _truncated(d, "png"), ("damaged or truncated", "truncated")),
    ("truncated JPEG", lambda d: _truncated(d, "jpg"), ("damaged or truncated", "truncated")),
    ("text file named .png", _text_png, ("not an image",)),
    ("header announcing 30000x30000", _huge_header,
     ("30000x30000", "pixel limit of 100,000,000", "--max-pixels", "before decoding")),
    ("EPS named .png", _eps, ("not an image",)),
    ("named pipe", _fifo, ("not a regular file",)),
    ("broken symbolic link", _broken_link, ("broken symbolic link",)),
    ("float TIFF with a NaN", _nan_tiff, ("nan.tif", "NaN or infinite")),
    ("folder without images", _empty_folder, ("no images found",)),
]


@pytest.mark.parametrize(("make", "needles"), [(m, n) for _, m, n in BAD_INPUTS],
                         ids=[name for name, _, _ in BAD_INPUTS])
def test_bad_input_single(capsys: pytest.CaptureFixture[str], tmp_path: Path, weights_file: Path,
                          make: Callable[[Path], Path], needles: tuple[str, ...],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "in"
    d.mkdir()
    src = make(d)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = _tree(d)
    # Nothing may be decoded for a refused file: a call to load() would fail the message checks.
    real_load = ImageFile.ImageFile.load
    if src.name == "bomb.png":
        monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    code, stdout, err = _run(capsys, "upscale", str(src), "-s", "3", "-w", str(weights_file),
                             "-o", str(out_dir / "o.png"))
    monkeypatch.setattr(ImageFile.ImageFile, "load", real_load)
    assert code == 1, err
    _error_line(err, *needles)
    assert stdout == ""
    assert _tree(out_dir) == {}
    assert _tree(d) == before


def test_bad_inputs_in_a_batch(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               weights_file: Path) -> None:
    """Every bad kind of file in one folder: each fails with its reason, the good one is done."""
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(_rgb()).save(d / "good.png")
    for _, make, _ in BAD_INPUTS:
        if make not in (_missing, _empty_folder, _fifo):
            make(d)
    before = _tree(d)
    out = tmp_path / "out"
    code, _, err = _run(capsys, "upscale", str(d), str(d / "missing.png"), "-s", "3", "-w",
                        str(weights_file), "--out-dir", str(out))
    assert code == 1 and "Traceback" not in err
    # link.png is a broken symlink: listing a folder skips it; missing.png is reported.
    assert "done 1, skipped 0, failed 8" in err, err
    for needle in ("no such file", "empty file", "truncated", "not an image", "pixel limit", "NaN"):
        assert f"failed: {d}" in err and needle in err
    assert sorted(_tree(out)) == ["good.png"]
    assert _tree(d) == before


# ------------------------------------------------------------------- inputs that must just work
def _save(d: Path, name: str, img: Image.Image, **kw: Any) -> Path:
    p = d / name
    img.save(p, **kw)
    return p


def _tiff16_rgb(path: Path, a: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB TIFF (which Pillow cannot write; tifffile comes with scikit-image)."""
    import tifffile

    tifffile.imwrite(path, a, photometric="rgb")
    return path


def test_odd_images_work(capsys: pytest.CaptureFixture[str], tmp_path: Path, ident_file: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    a = _rgb(20, 30)
    frames = [Image.fromarray(np.full((20, 30, 3), (200, 30, 30), np.uint8)).convert("P"),
              Image.fromarray(np.full((20, 30, 3), (30, 30, 200), np.uint8)).convert("P")]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    pal_t = Image.fromarray(a).convert("P")
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    rgba = np.dstack([a, np.full((20, 30, 1), 128, np.uint8)])
    cases = {
        "one.png": (_save(d, "one.png", Image.new("RGB", (1, 1), (10, 200, 30))), "RGB", (3, 3), ""),
        "g16.png": (_save(d, "g16.png", Image.fromarray(a[:, :, 0].astype(np.uint16) * 257)),
                    "I;16", (90, 60), ""),
        "rgb16.png": (_png16_rgb(d / "rgb16.png", a.astype(np.uint16) * 257), "RGB", (90, 60),
                      "16-bit RGB PNG read with 8 bits per channel"),
        "rgb16.tif": (_tiff16_rgb(d / "rgb16.tif", a.astype(np.uint16) * 257), "RGB", (90, 60),
                      "16-bit RGB TIFF read with 8 bits per channel"),
        "cmyk.jpg": (_save(d, "cmyk.jpg", Image.fromarray(a).convert("CMYK")), "RGB", (90, 60),
                     "converted CMYK to RGB"),
        "pal.png": (_save(d, "pal.png", Image.fromarray(a).convert("P")), "RGB", (90, 60), ""),
        "pal_t.png": (_save(d, "pal_t.png", pal_t, transparency=int(np.asarray(pal_t)[0, 0])),
                      "RGBA", (90, 60), ""),
        "rgba.png": (_save(d, "rgba.png", Image.fromarray(rgba)), "RGBA", (90, 60), ""),
        "la.png": (_save(d, "la.png", Image.fromarray(rgba).convert("LA")), "LA", (90, 60), ""),
        "bilevel.png": (_save(d, "bilevel.png", Image.fromarray(a).convert("1")), "L", (90, 60), ""),
        "rot.jpg": (_save(d, "rot.jpg", Image.fromarray(a), exif=exif.tobytes()), "RGB", (60, 90),
                    "applied EXIF orientation 6"),
        "anim.gif": (d / "anim.gif", "RGB", (90, 60), "GIF has 2 frames; using the first"),
        # Float TIFFs: values in [0, 1] are taken as they are, anything else as 0..255; written with 16 bits
        "unit.tif": (_save(d, "unit.tif", Image.fromarray(a[:, :, 0].astype(np.float32) / 255)), "I;16", (90, 60),
                     "32-bit float image read as 0..1 grayscale"),
        "f255.tif": (_save(d, "f255.tif", Image.fromarray(a[:, :, 0].astype(np.float32) * 1.5 - 40)), "I;16",
                     (90, 60), "32-bit float image read as 0..255 grayscale; values outside it clipped"),
        # 32-bit integers beyond 16 bits are clipped, and a note says so
        "i32.tif": (_save(d, "i32.tif", Image.fromarray(a[:, :, 0].astype(np.int32) * 1000)), "I;16", (90, 60),
                    "32-bit integer image read as 0..65535 grayscale; its values (0 to 255000) outside that range "
                    "clipped"),
    }
    before = _tree(d)
    for name, (src, mode, size, note) in cases.items():
        out = tmp_path / "out" / f"{name}.png"
        out.parent.mkdir(exist_ok=True)
        code, stdout, err = _run(capsys, "upscale", str(src), "-s", "3", "-w", str(ident_file),
                                 "-o", str(out))
        assert code == 0, (name, err)
        assert note in stdout, (name, stdout)
        with Image.open(out) as im:
            assert (im.mode, im.size) == (mode, size), name
            got = np.asarray(im)
        if name == "g16.png":
            assert got.max() > 255  # 16 bits kept
        if name == "one.png":
            assert np.abs(got.astype(int) - [10, 200, 30]).max() <= 2
        if name == "rgba.png":
            assert np.abs(got[:, :, 3].astype(int) - 128).max() <= 1  # alpha kept
        if name == "pal_t.png":
            assert got[:, :, 3].min() == 0 and got[:, :, 3].max() == 255  # transparency kept
        if name == "anim.gif":
            assert got[:, :, 0].mean() > 150 and got[:, :, 2].mean() < 80  # the first (red) frame
        if name == "unit.tif":  # the identity network: the output's mean is the input's, in 0..65535
            assert abs(got.mean() / 257 - a[:, :, 0].mean()) < 2.0
        if name == "f255.tif":
            assert abs(got.mean() / 257 - np.clip(a[:, :, 0] * 1.5 - 40, 0, 255).mean()) < 2.0
    assert _tree(d) == before
    _no_temp_files(tmp_path)


# ------------------------------------------------------------------------------------- outputs
@pytest.fixture()
def src_png(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    p = d / "photo.png"
    Image.fromarray(_rgb()).save(p)
    return p


def test_unwritable_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                            weights_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    base = ["upscale", str(src_png), "-s", "3", "-w", str(weights_file)]
    cases = [
        (["-o", str(a_file / "o.png")], ("does not exist", "it is a file")),
        (["-o", str(tmp_path / "nope" / "o.png")], ("output folder", "does not exist")),
        (["--out-dir", str(a_file)], ("is a file, not a folder",)),
        (["--out-dir", str(a_file / "sub")], ("cannot create output folder", "is a file")),
    ]
    before = _tree(tmp_path)
    for extra, needles in cases:
        code, _, err = _run(capsys, *base, *extra)
        assert code == 1, (extra, err)
        _error_line(err, *needles)
        assert _tree(tmp_path) == before
    # A folder we may not write in (tests run as root, so permission bits would not stop us): the temporary
    # file cannot be created, which the output check finds (it makes and removes one) before any work.
    def denied(*_a: object, **_k: object) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied")

    class _Tmp:
        mkstemp = staticmethod(denied)

    monkeypatch.setattr(fileio, "tempfile", _Tmp)
    code, _, err = _run(capsys, *base, "-o", str(tmp_path / "o.png"))
    assert code == 1
    _error_line(err, "no file can be created in output folder", "permission denied")
    code, _, err = _run(capsys, *base, "--out-dir", str(tmp_path / "o"), "-q")
    assert code == 1
    _error_line(err, "permission denied")
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("where", ["fsync", "write"])
def test_full_disk(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                   weights_file: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    out = tmp_path / "out" / "o.png"
    out.parent.mkdir()
    out.write_bytes(b"precious old result")
    if where == "fsync":
        monkeypatch.setattr(fileio, "os", _OsProxy(fsync=_enospc))
    else:  # half the bytes reach the disk, then it is full
        real_fdopen = os.fdopen

        class _HalfFull(io.RawIOBase):
            def __init__(self, f: Any) -> None:
                self.f = f

            def write(self, b: Any) -> int:
                self.f.write(bytes(b)[: len(b) // 2])
                self.f.flush()
                _enospc()
                return 0

            def close(self) -> None:
                self.f.close()

        monkeypatch.setattr(fileio, "os", _OsProxy(fdopen=lambda fd, m: _HalfFull(real_fdopen(fd, m))))
    before = _tree(tmp_path)
    code, _, err = _run(capsys, "upscale", str(src_png), "-s", "3", "-w", str(weights_file), "-o",
                        str(out), "--overwrite")
    assert code == 1
    _error_line(err, "no space left", "disk is full", str(out))
    assert _tree(tmp_path) == before  # old output intact, no partial or temporary file


def test_full_disk_stops_a_batch(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                                 weights_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        Image.fromarray(_rgb(seed=i)).save(src_png.parent / f"more{i}.png")
    monkeypatch.setattr(fileio, "os", _OsProxy(fsync=_enospc))
    out = tmp_path / "out"
    code, _, err = _run(capsys, "upscale", str(src_png.parent), "-s", "3", "-w", str(weights_file),
                        "--out-dir", str(out))
    assert code == 1
    assert "stopping: the disk is full; 3 image(s) not processed" in err
    assert "done 0, skipped 0, failed 1, not processed 3 (disk full)" in err
    assert _tree(out) == {}


def test_output_never_replaces_an_input(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        src_png: Path, weights_file: Path) -> None:
    d = src_png.parent
    (d / "hard.png").hardlink_to(src_png)
    (d / "soft.png").symlink_to(src_png)
    Image.fromarray(_rgb(seed=5)).save(d / "other.jpg")
    before = _tree(d)
    base = ["upscale", str(src_png), "-s", "3", "-w", str(weights_file)]
    for target in (src_png, d / "hard.png", d / "soft.png", Path(os.path.relpath(src_png))):
        code, _, err = _run(capsys, *base, "-o", str(target), "--overwrite")
        assert code == 1
        _error_line(err, "also an input")
    # --out-dir is the input folder and --ext same: each file is refused, nothing crashes.
    for flags in ([], ["--overwrite"], ["--skip-existing"]):
        code, _, err = _run(capsys, "upscale", str(d), "-s", "3", "-w", str(weights_file),
                            "--out-dir", str(d), "--ext", "same", *flags)
        assert code == 1, err
        assert "Traceback" not in err and "also an input" in err
        assert "done 0, skipped 0, failed 3" in err  # hard.png, other.jpg, photo.png (= soft.png)
    assert _tree(d) == before


def test_existing_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                          weights_file: Path) -> None:
    out = tmp_path / "o.png"
    out.write_bytes(b"old")
    base = ["upscale", str(src_png), "-s", "3", "-w", str(weights_file), "-o", str(out)]
    code, _, err = _run(capsys, *base)
    assert code == 1
    _error_line(err, "exists", "--overwrite")
    assert out.read_bytes() == b"old"
    code, _, err = _run(capsys, *base, "--skip-existing")
    assert code == 0 and "skipped" in err
    assert out.read_bytes() == b"old"
    code, _, err = _run(capsys, *base, "--skip-existing", "--overwrite")
    assert code == 2 and "not allowed with" in err
    code, _, err = _run(capsys, *base, "--overwrite", "-q")
    assert code == 0, err
    with Image.open(out) as im:
        assert im.size == (96, 72)
    _no_temp_files(tmp_path)


def test_atomic_write_never_clobbers(tmp_path: Path) -> None:
    """A file that appears while we write is not replaced without overwrite."""
    p = tmp_path / "f.bin"
    with pytest.raises(ImageWriteError, match="exists"), fileio.atomic_open(p) as f:
        f.write(b"new")
        p.write_bytes(b"someone else's")
    assert p.read_bytes() == b"someone else's"
    fileio.atomic_write_bytes(p, b"new", overwrite=True)
    assert p.read_bytes() == b"new"
    with pytest.raises(KeyboardInterrupt), fileio.atomic_open(tmp_path / "g.bin") as f:
        f.write(b"half")
        raise KeyboardInterrupt
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.bin"]


# --------------------------------------------------------------------------------------- weights
class _Evil:
    """Unpickling this creates ``marker``: the kind of file that must never be unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("name", ["evil.pt", "evil.pth", "evil.pkl", "evil.ckpt", "evil.safetensors"])
def test_pickled_weights_never_run(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                                   name: str) -> None:
    marker = tmp_path / "PWNED"
    evil = tmp_path / name
    evil.write_bytes(pickle.dumps(_Evil(marker)))
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "upscale", str(src_png), "-s", "3", "-w", str(evil), "-o", str(out))
    assert code == 1
    if name.endswith(".safetensors"):
        _error_line(err, "corrupt or not a safetensors")
    else:
        _error_line(err, "refusing to load", "pickle", ".safetensors")
    assert not marker.exists()
    assert not out.exists()
    code, _, err = _run(capsys, "info", str(evil))
    assert code == 1 and not marker.exists()


def test_bad_weights(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                     weights_file: Path) -> None:
    out = tmp_path / "o.png"
    base = ["upscale", str(src_png), "-o", str(out)]
    code, _, err = _run(capsys, *base, "-s", "3", "-w", "no-such-model")
    assert code == 1
    _error_line(err, "unknown weights 'no-such-model'")
    code, _, err = _run(capsys, *base, "-s", "3", "-w", str(tmp_path / "gone.safetensors"))
    assert code == 1
    _error_line(err, "not found")
    (tmp_path / "dir.safetensors").mkdir()  # a folder is not "not found"
    code, _, err = _run(capsys, *base, "-s", "3", "-w", str(tmp_path / "dir.safetensors"))
    assert code == 1
    _error_line(err, "is a folder, not a weights file")
    # a safetensors file in our format but without its recorded sha256: said so, not "does not match None"
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(weights_file), framework="pt") as f:
        meta = {k: v for k, v in (f.metadata() or {}).items() if k != "sha256"}
    save_file(load_file(str(weights_file)), str(tmp_path / "nosha.safetensors"), metadata=meta)
    code, _, err = _run(capsys, *base, "-s", "3", "-w", str(tmp_path / "nosha.safetensors"))
    assert code == 1
    _error_line(err, "no sha256 recorded", "srcnn.save_weights")
    # an authors'-style .mat whose filters are not square: the message names the file
    import scipy.io

    bad = {"weights_conv1": np.zeros((80, 64)), "weights_conv2": np.zeros((64, 32)),
           "weights_conv3": np.zeros((32, 25)), "biases_conv1": np.zeros(64), "biases_conv2": np.zeros(32),
           "biases_conv3": np.zeros(1)}
    scipy.io.savemat(tmp_path / "x3.mat", bad)
    code, _, err = _run(capsys, *base, "-s", "3", "-w", str(tmp_path / "x3.mat"))
    assert code == 1
    _error_line(err, "x3.mat: weights_conv1 has 80 taps per filter, not a square")
    bad["weights_conv1"] = np.zeros((81, 64))
    bad["weights_conv2"][3, 7] = np.nan  # a .mat is checked as our files are: NaN weights give black images
    scipy.io.savemat(tmp_path / "x3.mat", bad)
    code, _, err = _run(capsys, *base, "-s", "3", "-w", str(tmp_path / "x3.mat"))
    assert code == 1 and not out.exists()
    _error_line(err, "x3.mat: tensor conv2.weight holds NaN or infinite values")
    # One bit flipped in the tensor data: the recorded sha256 catches it.
    data = bytearray(weights_file.read_bytes())
    data[-50] ^= 0x10
    flipped = tmp_path / "flipped.safetensors"
    flipped.write_bytes(bytes(data))
    code, _, err = _run(capsys, *base, "-s", "3", "-w", str(flipped))
    assert code == 1
    _error_line(err, "corrupt", "sha256")
    # One bit flipped in the header: not readable.
    data = bytearray(weights_file.read_bytes())
    data[20] ^= 0x04
    flipped.write_bytes(bytes(data))
    code, _, err = _run(capsys, *base, "-s", "3", "-w", str(flipped))
    assert code == 1
    _error_line(err, "corrupt")
    # x3 weights asked for x2.
    code, _, err = _run(capsys, *base, "-s", "2", "-w", str(weights_file))
    assert code == 1
    _error_line(err, "trained for x3, not x2", "--allow-scale-mismatch")
    assert not out.exists()
    code, _, err = _run(capsys, *base, "-s", "2", "-w", str(weights_file), "--allow-scale-mismatch", "-q")
    assert code == 0, err
    _no_temp_files(tmp_path)


def _save_raw(path: Path, channels: int, mode: str) -> Path:
    m = SRCNN(config_for("9-1-5", channels=channels))
    save_weights(Weights(config=m.config, state_dict=dict(m.state_dict()), scales=(3.0,),
                         channels_mode=mode, name=f"c{channels}-{mode}"), path)
    return path


def test_weights_channels(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    srcs = [_save(d, "rgb.png", Image.fromarray(_rgb())),
            _save(d, "gray.png", Image.fromarray(_rgb()).convert("L")),
            _save(d, "rgba.png", Image.fromarray(_rgb()).convert("RGBA"))]
    for mode in ("rgb", "ycbcr"):
        w = _save_raw(tmp_path / f"{mode}.safetensors", 3, mode)
        out = tmp_path / f"out-{mode}"
        code, _, err = _run(capsys, "upscale", *map(str, srcs), "-s", "3", "-w", str(w), "--out-dir",
                            str(out), "-q")
        assert code == 0, err
        for s in srcs:
            with Image.open(out / s.name) as im, Image.open(s) as orig:
                assert im.mode == orig.mode and im.size == (96, 72)
    for channels, mode in ((3, "y"), (1, "rgb"), (2, "y")):
        w = _save_raw(tmp_path / f"bad{channels}{mode}.safetensors", channels, mode)
        code, _, err = _run(capsys, "upscale", str(srcs[0]), "-s", "3", "-w", str(w), "-o",
                            str(tmp_path / "x.png"))
        assert code == 1
        _error_line(err, f"take {channels} channel(s) of kind '{mode}'", "supported")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("scale", ["0", "-2", "-0.5", "1", "nan", "-nan", "inf", "-inf", "16.01", "17",
                                   "1e309", "abc", ""])
def test_bad_scales(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                    weights_file: Path, scale: str) -> None:
    code, _, err = _run(capsys, "upscale", str(src_png), "--scale", scale, "-w", str(weights_file),
                        "-o", str(tmp_path / "o.png"))
    assert code == 2
    assert "Traceback" not in err and "scale" in err
    assert not (tmp_path / "o.png").exists()


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                      weights_file: Path) -> None:
    base = ["upscale", str(src_png), "-s", "3", "-w", str(weights_file)]
    for extra, needle in ((["--out-dir", str(tmp_path / "o"), "--ext", "xyz"], "--ext 'xyz'"),
                          (["-o", str(tmp_path / "o.png"), "--max-pixels", "0"], "--max-pixels"),
                          (["-o", str(tmp_path / "o.png"), "--max-pixels", "-3"], "--max-pixels"),
                          (["-o", str(tmp_path / "o.png"), "--out-dir", str(tmp_path)], "not allowed")):
        code, _, err = _run(capsys, *base, *extra)
        assert code == 2, (extra, err)
        assert needle in err and "Traceback" not in err
    src2 = src_png.parent / "b.png"
    Image.fromarray(_rgb(seed=3)).save(src2)
    code, _, err = _run(capsys, "upscale", str(src_png), str(src2), "-s", "3", "-w", str(weights_file),
                        "-o", str(tmp_path / "o.png"))
    assert code == 2
    _error_line(err, "-o takes one input image")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.png").exists()


def test_max_pixels_is_configurable(capsys: pytest.CaptureFixture[str], tmp_path: Path, src_png: Path,
                                    weights_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "o.png"
    base = ["upscale", str(src_png), "-s", "3", "-w", str(weights_file), "-o", str(out)]
    code, _, err = _run(capsys, *base, "--max-pixels", "500")
    assert code == 1
    _error_line(err, "32x24 = 768 pixels", "pixel limit of 500", "--max-pixels")
    assert not out.exists()
    assert _run(capsys, *base, "--max-pixels", "768", "-q")[0] == 0
    # Above Pillow's own default limit when asked to: the size check passes and decoding starts
    # (stopped here, so that no 600 MB are allocated).
    bomb = _png_header_only(tmp_path / "bomb.png", 20000, 10000)
    with pytest.raises(ImageReadError, match="20000x10000 = 200,000,000 pixels"):
        read_image(bomb)

    def no_decoding(self: Any) -> None:
        raise OSError("decoding started")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageReadError, match="decoding started"):
        read_image(bomb, max_pixels=300_000_000)


# ---------------------------------------------------------------------------------- batch mode
def test_batch_tree_summary_and_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           weights_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import srcnn.cli

    monkeypatch.setattr(srcnn.cli, "_stderr_is_terminal", lambda: True)  # bars are drawn on terminals only
    d = tmp_path / "photos"
    (d / "2023" / "june").mkdir(parents=True)
    (d / "2024").mkdir()
    Image.fromarray(_rgb(seed=1)).save(d / "a.png")
    Image.fromarray(_rgb(seed=2)).save(d / "2023" / "june" / "b.jpg")
    Image.fromarray(_rgb(seed=3)).save(d / "2024" / "c.bmp")
    Image.fromarray(_rgb(seed=4)).save(d / "2024" / "a.png")  # same name, other folder: fine
    out = tmp_path / "big"
    base = ["upscale", str(d), "-r", "-s", "3", "-w", str(weights_file), "--out-dir", str(out)]
    code, _, err = _run(capsys, *base)
    assert code == 0, err
    assert "done 4, skipped 0, failed 0" in err
    # The progress bar: count, elapsed<remaining (ETA), rate in images per second.
    assert re.search(r"4/4 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(img/s|s/img)\]", err), err
    assert sorted(_tree(out)) == ["2023/june/b.png", "2024/a.png", "2024/c.png", "a.png"]
    # In a log file or a pipe: the per-image lines and the summary, no bar redraws.
    monkeypatch.setattr(srcnn.cli, "_stderr_is_terminal", lambda: False)
    code, _, err = _run(capsys, *base, "--overwrite")
    assert code == 0 and "done 4, skipped 0, failed 0" in err
    assert "\r" not in err and "img/s" not in err and len(re.findall(r" -> ", err)) == 4
    # Not recursive: only the top folder.
    code, _, err = _run(capsys, "upscale", str(d), "-s", "3", "-w", str(weights_file), "--out-dir",
                        str(tmp_path / "flat"), "-q")
    assert code == 0 and sorted(_tree(tmp_path / "flat")) == ["a.png"]
    # A second run refuses existing outputs unless told what to do, and keeps going.
    (d / "2024" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    stamp = _tree(out)
    code, _, err = _run(capsys, *base)
    assert code == 1
    assert "done 0, skipped 0, failed 5" in err and "--skip-existing" in err
    assert _tree(out) == stamp
    code, _, err = _run(capsys, *base, "--skip-existing")
    assert code == 1
    assert "done 0, skipped 4, failed 1" in err
    assert f"failed: {d / '2024' / 'broken.png'}: damaged or truncated" in err
    (d / "2024" / "broken.png").unlink()
    code, _, err = _run(capsys, *base, "--skip-existing")
    assert code == 0 and "done 0, skipped 4, failed 0" in err
    code, _, err = _run(capsys, *base, "--overwrite", "--ext", "same", "-q")
    assert code == 0 and err == ""
    assert "2023/june/b.jpg" in _tree(out) and "2024/c.bmp" in _tree(out)
    _no_temp_files(tmp_path)


def test_batch_name_clashes_and_own_output(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           weights_file: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(_rgb(seed=1)).save(d / "x.png")
    Image.fromarray(_rgb(seed=2)).save(d / "x.jpg")
    out = d / "up"  # inside the input folder: its files are never taken as inputs
    code, _, err = _run(capsys, "upscale", str(d), str(d / "x.png"), "-r", "-s", "3", "-w",
                        str(weights_file), "--out-dir", str(out))
    assert code == 1
    assert "done 1, skipped 0, failed 1" in err  # x.png named twice is done once
    assert "also the output of" in err and "--ext same" in err  # x.png and x.jpg: keeping types tells them apart
    assert sorted(_tree(out)) == ["x.png"]
    code, _, err = _run(capsys, "upscale", str(d), "-r", "-s", "3", "-w", str(weights_file),
                        "--out-dir", str(out), "--ext", "same", "--overwrite", "-q")
    assert code == 0, err
    assert sorted(_tree(out)) == ["x.jpg", "x.png"]
    # two folders holding the same name: --ext same would not help, so it is not suggested
    (tmp_path / "other").mkdir()
    Image.fromarray(_rgb(seed=3)).save(tmp_path / "other" / "x.png")
    code, _, err = _run(capsys, "upscale", str(d / "x.png"), str(tmp_path / "other" / "x.png"), "-s", "3", "-w",
                        str(weights_file), "--out-dir", str(tmp_path / "clash"))
    assert code == 1 and "also the output of" in err and "--ext same" not in err and "separate runs" in err
    # the output folder may also hold the input folder (`srcnn upscale photos --out-dir .`): nothing is left out
    code, _, err = _run(capsys, "upscale", str(d), "-s", "3", "-w", str(weights_file), "--out-dir", str(tmp_path),
                        "--ext", "same", "-q")
    assert code == 0, err
    assert (tmp_path / "x.png").is_file() and (tmp_path / "x.jpg").is_file()


def test_batch_survives_unexpected_errors_and_ctrl_c(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     weights_file: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import srcnn.infer

    d = tmp_path / "in"
    d.mkdir()
    for i in range(4):
        Image.fromarray(_rgb(seed=i)).save(d / f"{i}.png")
    real = srcnn.infer.upscale_picture
    calls = {"n": 0}

    def flaky(*a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ZeroDivisionError("a bug")
        if calls["n"] == 3:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB\nmore details")
        return real(*a, **k)

    monkeypatch.setattr(srcnn.infer, "upscale_picture", flaky)
    out = tmp_path / "out"
    code, _, err = _run(capsys, "upscale", str(d), "-s", "3", "-w", str(weights_file), "--out-dir",
                        str(out))
    assert code == 1 and "Traceback" not in err
    assert "done 2, skipped 0, failed 2" in err
    assert "unexpected ZeroDivisionError: a bug" in err and "CUDA out of memory" in err
    assert "more details" not in err

    def interrupted(*a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(srcnn.infer, "upscale_picture", interrupted)
    out2 = tmp_path / "out2"
    code, _, err = _run(capsys, "upscale", str(d), "-s", "3", "-w", str(weights_file), "--out-dir",
                        str(out2))
    assert code == 130
    assert "done 1, skipped 0, failed 0 (interrupted)" in err and "interrupted" in err.splitlines()[-1]
    assert sorted(_tree(out2)) == ["0.png"]


def test_batch_missing_input_among_good_ones(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            src_png: Path, weights_file: Path) -> None:
    out = tmp_path / "out"
    code, _, err = _run(capsys, "upscale", str(tmp_path / "nope.png"), str(src_png), "-s", "3", "-w",
                        str(weights_file), "--out-dir", str(out))
    assert code == 1
    assert "done 1, skipped 0, failed 1" in err and "nope.png: no such file or folder" in err
    assert sorted(_tree(out)) == ["photo.png"]
    # Nothing at all to do: no output folder is created.
    code, _, err = _run(capsys, "upscale", str(tmp_path / "nope.png"), "-s", "3", "-w",
                        str(weights_file), "--out-dir", str(tmp_path / "never"))
    assert code == 1 and not (tmp_path / "never").exists()


# --------------------------------------------------------------------- library-level guarantees
def test_path_set_and_check_output_path(tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    (tmp_path / "h.png").hardlink_to(a)
    s = fileio.PathSet([a])
    assert a in s and (tmp_path / "h.png") in s and (tmp_path / "sub" / ".." / "a.png") in s
    assert (tmp_path / "b.png") not in s and 3 not in s
    with pytest.raises(ImageWriteError, match="also an input"):
        fileio.check_output_path(tmp_path / "h.png", overwrite=True, inputs=(a,))
    with pytest.raises(ImageWriteError, match="is a folder"):
        fileio.check_output_path(tmp_path)
    with pytest.raises(ImageWriteError, match="disk quota exceeded"):
        raise fileio.write_error("x", OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert isinstance(fileio.write_error("x", OSError(errno.ENOSPC, "")), fileio.DiskFullError)


def test_resolve_model_errors() -> None:
    with pytest.raises(WeightsError, match="--allow-scale-mismatch"):
        resolve_model(random_weights(scales=(3.0,)), 2.0)
    m = SRCNN(config_for("9-1-5", channels=3))
    bad = Weights(config=m.config, state_dict=dict(m.state_dict()), scales=(3.0,), channels_mode="y")
    with pytest.raises(WeightsError, match="3 channel"):
        resolve_model(bad, 3.0)
    with pytest.raises(WeightsError, match="refusing to load"):
        load_weights("model.pth")  # refused by its name even before looking for it


# ------------------------------------------------------------------- property-based: the path
_MODELS: dict[str, tuple[SRCNN, str]] = {}


def _model(kind: str) -> tuple[SRCNN, str]:
    if kind not in _MODELS:
        if kind == "identity":
            w = identity_weights()
        elif kind == "random":
            w = random_weights(seed=1)
        else:
            m = SRCNN(config_for("9-1-5", channels=3))
            w = Weights(config=m.config, state_dict=dict(m.state_dict()), channels_mode="rgb")
        _MODELS[kind] = resolve_model(w, 2.0, strict_scale=False)
    return _MODELS[kind]


# mode -> (mode of the decoded output file, number of planes in the Picture)
_EXPECTED = {"L": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA", "P": "RGB", "PT": "RGBA", "I;16": "I;16"}


def _make_image(mode: str, w: int, h: int, seed: int, constant: bool) -> Image.Image:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    if constant:
        a[:] = a[0, 0]
    if mode == "I;16":
        g = rng.integers(0, 65536, (h, w), dtype=np.uint16)
        return Image.fromarray(np.full_like(g, g[0, 0]) if constant else g)
    if mode in ("P", "PT"):
        return Image.fromarray(a[:, :, :3]).convert("P", palette=Image.Palette.ADAPTIVE)
    return Image.fromarray(a).convert(mode)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    w=st.integers(1, 64), h=st.integers(1, 64),
    mode=st.sampled_from(sorted(_EXPECTED)),
    scale=st.one_of(st.sampled_from([2.0, 3.0, 4.0]),
                    st.floats(1.5, 4.0, allow_nan=False).map(lambda s: round(s, 3))),
    seed=st.integers(0, 2**16), constant=st.booleans(),
    kind=st.sampled_from(["identity", "random", "rgb"]),
    fmt=st.sampled_from(["PNG", "TIFF"]),
    tile=st.sampled_from([0, 16, 512]),
)
def test_property_decode_resize_model_encode(w: int, h: int, mode: str, scale: float, seed: int,
                                             constant: bool, kind: str, fmt: str, tile: int) -> None:
    img = _make_image(mode, w, h, seed, constant)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.png"
        if mode == "PT":
            img.save(src, transparency=int(np.asarray(img)[0, 0]))
        else:
            img.save(src)
        pic = read_image(src)
        assert pic.size == (w, h)
        model, cmode = _model(kind)
        res = upscale_picture(pic, scale, model, cmode, tile=tile or None)
    oh, ow = output_size_for(h, w, scale)
    assert (oh, ow) == (math.floor(h * scale + 0.5), math.floor(w * scale + 0.5))
    assert res.data.shape[:2] == (oh, ow)
    assert res.mode == pic.mode and res.bit_depth == pic.bit_depth
    assert res.data.dtype == np.float32 and np.isfinite(res.data).all()
    assert res.data.min() >= 0.0 and res.data.max() <= 1.0
    if constant and kind == "identity" and np.ptp(pic.data) == 0:  # flat stays flat (identity net)
        tol = 1.5 / (65535 if pic.bit_depth == 16 else 255) + 1e-5
        assert np.abs(res.data - pic.data[:1, :1]).max() <= max(tol, 2e-3)
    data, _ = encode_image(res, fmt)
    with Image.open(io.BytesIO(data)) as back:
        assert back.size == (ow, oh)
        assert back.mode == _EXPECTED[mode], (mode, back.mode)
        arr = np.asarray(back)
        assert arr.dtype == (np.uint16 if mode == "I;16" else np.uint8)


# ------------------------------------------------------------------ evaluation sets, pipes


def test_evaluate_names_an_image_too_small_to_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from skimage import data

    from srcnn.errors import DataError
    from srcnn.evaluate import evaluate_image, min_eval_side

    # modcrop, the border shave and the 11x11 SSIM window decide the smallest side
    assert [min_eval_side(s) for s in (2, 3, 4, 2.5, 1.5)] == [16, 18, 20, 20, 15]
    model = SRCNN(config_for("9-1-5"))
    photo = data.camera()
    assert evaluate_image(photo[:18, :18], 3, model)["psnr_bicubic"] is not None  # the smallest that works
    with pytest.raises(DataError, match="17x18 is too small to evaluate at x3: it needs at least 18x18"):
        evaluate_image(photo[:18, :17], 3, model)
    folder = tmp_path / "myset"
    folder.mkdir()
    Image.fromarray(photo[:64, :64]).save(folder / "ok.png")
    Image.fromarray(photo[:1, :1]).save(folder / "dot.png")
    code, out, err = _run(capsys, "evaluate", "-w", "srcnn-915-x3", "--sets", str(folder), "-q")
    assert code == 1 and out == ""
    _error_line(err, "dot.png", "1x1 is too small to evaluate at x3")


def test_evaluate_reads_float_tiffs_and_writes_strict_json_for_exact_images(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from skimage import data

    from srcnn.evaluate import load_ground_truth

    photo = data.camera()[100:172, 200:272]
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(photo.astype(np.float32) / 255).save(folder / "unit.tif")  # 'F' mode, 0..1
    Image.fromarray(photo.astype(np.float32)).save(folder / "bytes.tif")  # 'F' mode, 0..255
    assert np.array_equal(load_ground_truth(folder / "unit.tif"), photo)  # read as upscale reads it, not 0/1
    assert np.array_equal(load_ground_truth(folder / "bytes.tif"), photo)
    Image.fromarray(np.full((40, 40), 128, np.uint8)).save(folder / "flat.png")  # bicubic reproduces it exactly
    out = tmp_path / "r.json"
    code, _, err = _run(capsys, "evaluate", "-w", "srcnn-915-x3", "--sets", str(folder), "--json", str(out), "-q")
    assert code == 0, err
    assert "1 image(s) reproduced exactly" in err and "set/flat" in err
    doc = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    imgs = {i["name"]: i for i in doc["sets"][0]["images"]}
    assert imgs["flat"]["psnr_bicubic"] is None  # infinite: null in strict JSON
    assert imgs["unit"]["psnr_model"] == pytest.approx(imgs["bytes"]["psnr_model"])
    assert imgs["unit"]["psnr_model"] > imgs["unit"]["psnr_bicubic"] > 20  # a real image, not a blank one
    assert doc["sets"][0]["mean"]["psnr_bicubic"] is None


def test_evaluate_header_says_when_the_scale_is_not_the_trained_one(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from skimage import data

    folder = tmp_path / "myset"
    folder.mkdir()
    Image.fromarray(data.camera()[:64, :64]).save(folder / "a.png")
    code, out, _ = _run(capsys, "evaluate", "-w", "srcnn-915-x3", "-s", "2.5", "--sets", str(folder), "-q")
    assert code == 0
    assert out.splitlines()[0].startswith("SRCNN 9-1-5 (srcnn-915-x3, trained for x3), scale x2.5:")
    code, out, _ = _run(capsys, "evaluate", "-w", "srcnn-915-x3", "--sets", str(folder), "-q")
    assert code == 0 and out.splitlines()[0].startswith("SRCNN 9-1-5 (srcnn-915-x3), scale x3:")


def test_train_checks_its_validation_images_before_starting(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from skimage import data

    for sub in ("train", "val", "empty"):
        (tmp_path / sub).mkdir()
    Image.fromarray(data.astronaut()[:120, :120]).save(tmp_path / "train" / "a.png")
    Image.fromarray(data.astronaut()[:10, :40]).save(tmp_path / "val" / "thin.png")
    base = ["train", "--data-root", str(tmp_path), "--train-set", "train", "-q", "--max-steps", "1",
            "--batch-size", "2"]
    code, _, err = _run(capsys, *base, "--val-set", "val", "--out", str(tmp_path / "r1"))
    assert code == 1
    _error_line(err, "thin.png", "40x10 is too small to evaluate at x3", "--val-set")
    code, _, err = _run(capsys, *base, "--val-set", "empty", "--out", str(tmp_path / "r2"))
    assert code == 1
    _error_line(err, "validation set 'empty' has no images")


def test_a_closed_stdout_pipe_ends_quietly(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`srcnn models | head -1`: the reader goes away; no traceback, exit 1."""
    import sys

    class ClosedPipe(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["models"]) == 1
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_stdout_that_cannot_be_written_or_is_closed(tmp_path: Path, src_png: Path) -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "srcnn", "upscale", str(src_png), "-s", "3", "-w", "srcnn-915-x3", "-o", "-"]
    with open("/dev/full", "wb") as full:  # a full disk behind '> file'
        r = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 1
    _error_line(r.stderr, "cannot write the image to standard output", "No space left")
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
                       preexec_fn=lambda: os.close(1))  # srcnn ... >&-
    assert r.returncode == 2
    _error_line(r.stderr, "standard output, which is closed here")


def test_compare_names_an_image_too_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from skimage import data

    for n in (14, 15):
        Image.fromarray(data.astronaut()[:n, :n]).save(tmp_path / f"s{n}.png")
    code, _, err = _run(capsys, "compare", str(tmp_path / "s14.png"), "-s", "3", "-o", str(tmp_path / "a.png"))
    assert code == 1 and not (tmp_path / "a.png").exists()
    _error_line(err, "s14.png", "14x14 is too small to compare at x3: it needs at least 15x15")
    code, out, _ = _run(capsys, "compare", str(tmp_path / "s15.png"), "-s", "3", "-o", str(tmp_path / "b.png"))
    assert code == 0 and Image.open(tmp_path / "b.png").size[0] > 15
    assert "wrote" in out


# A sweep of odd option values (session 9 found tracebacks, a hang and a left-over run among them):
# each must end in one error line with exit 1 or 2, never an uncaught exception. {png} is a small image,
# {root} a data root with train/ and val/, {tmp} a fresh folder; all fail before any real work.
ODD_OPTIONS = [
    "upscale {png} -s 2 -o {tmp}/o.png --tile 1",
    "upscale {png} -s 2 -o {tmp}/o.png --max-memory 0",
    "upscale {png} -s 2 -o {tmp}/o.png --device cuda:7",
    "upscale {png} -s 2 -o {tmp}/o.png --device tpu",
    "upscale {png} -s 2 -o {tmp}/no/such/folder/o.png",
    "upscale {png} -s 2 --out-dir {png}",
    "upscale {png} -s 2 -o {tmp}/o.png -w {png}",
    "upscale {png} --width 99999 -o {tmp}/o.png",
    "upscale {png} - -s 2 -o {tmp}/o.png",
    "export -w srcnn-915-x3 -o {tmp}/m.onnx --opset 3",
    "export -w srcnn-915-x3 -o {tmp}/m.onnx --opset 1000",
    "export -w srcnn-955-ms -o {tmp}/m.onnx",
    "evaluate -s 5 --sets {root}/val",
    "evaluate -w srcnn-915-x3 --arch 9-1-5 --sets {root}/val",
    "evaluate -w srcnn-915-x3 --sets {tmp}/nothing",
    "evaluate -w srcnn-915-x3 --sets {root}/val --json {png}",
    "train --data-root {root} --train-set train --val-set val --out {tmp}/r --size 5",
    "train --data-root {root} --train-set train --val-set val --out {tmp}/r --size 300 --max-steps 2",
    "train --data-root {root} --train-set train --val-set val --out {png} --max-steps 2",
    "train --data-root {root} --train-set nope --val-set val --out {tmp}/r --max-steps 2",
    "train --data-root {root} --train-set train --val-set val --out {tmp}/r --resume",
    "train --data-root {root} --train-set train --val-set val --out {tmp}/r --distill-from srcnn-955-x2",
    "train --data-root {root} --train-set train --val-set val --out {tmp}/r --device cuda:7",
    "plot {tmp}/no-run",
    "compare {png} -s 2 -o {tmp}/c.png --crop 0,0,0,0",
    "serve --port 70000",
    "info {png}",
    "convert {png} -o {tmp}/x.safetensors",
    "demo -s 5 -o {tmp}/d.png",
]


@pytest.mark.parametrize("line", ODD_OPTIONS)
def test_odd_option_values_end_in_one_line(line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "in.png"
    Image.fromarray(np.full((40, 48, 3), 120, np.uint8)).save(png)
    root = tmp_path / "root"
    for sub in ("train", "val"):
        (root / sub).mkdir(parents=True)
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
            root / sub / "a.png")
    work = tmp_path / "work"
    work.mkdir()
    argv = line.format(png=png, root=root, tmp=work).split()
    code, _, err = _run(capsys, *argv)
    assert code in (1, 2), (line, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err
    # one line: "srcnn: error: ..." or argparse's "srcnn COMMAND: argument ... (see `srcnn COMMAND --help`)"
    assert lines and re.match(r"srcnn( \w+)?: ", lines[0]) and len(lines) == 1, err
    assert not list(work.iterdir()), f"{line}: left {list(work.iterdir())}"  # nothing written, no half run


# ----------------------------------------------- outputs that would replace an input, unwritable types


def test_no_command_overwrites_what_it_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """evaluate --json, export and demo refuse an output that is their weights file or an image they
    evaluate, even with --overwrite (found by an exploratory run: evaluate --json replaced a Set5 image)."""
    sset = tmp_path / "set"
    sset.mkdir()
    for k in range(2):
        Image.fromarray(_rgb(48, 48, seed=k)).save(sset / f"{k}.png")
    wfile = tmp_path / "w.safetensors"
    save_weights(load_weights("srcnn-915-x3"), wfile)
    before = _tree(tmp_path)
    for argv, needle in [
        (["evaluate", "-w", str(wfile), "--sets", str(sset), "--json", str(sset / "0.png"), "--overwrite", "-q"],
         "also an input"),
        (["evaluate", "-w", str(wfile), "--sets", str(sset), "--json", str(wfile), "--overwrite", "-q"],
         "also an input"),
        (["evaluate", "-s", "3", "--sets", str(sset), "--json", str(sset / "1.png"), "--overwrite", "-q"],
         "also an input"),
        (["evaluate", "-w", str(wfile), "--sets", str(sset), "--json", "-"], "'-' (standard output)"),
        (["export", "-w", str(wfile), "-o", str(wfile), "--overwrite"], "ending in .onnx"),
        (["export", "-w", str(wfile), "-o", str(tmp_path / "m.png")], "ending in .onnx"),
        (["demo", "-w", str(wfile), "-o", str(wfile), "--overwrite"], "also an input"),
        (["demo", "-o", str(tmp_path / "d.pdf")], "unsupported output image type '.pdf'"),
        (["demo", "-w", "srcnn-915-x2", "-o", str(tmp_path / "d.png")], "pass --scale 2"),
    ]:
        code, _, err = _run(capsys, *argv)
        assert code in (1, 2), argv
        _error_line(err, needle)
    assert _tree(tmp_path) == before  # nothing replaced, nothing written
    code, out, _ = _run(capsys, "demo", "-w", "srcnn-915-x3", "-o", str(tmp_path / "d.jpg"))
    assert code == 0 and "srcnn-915-x3" in out
    assert (tmp_path / "d.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG, as the suffix says


def test_sixteen_bit_grey_keeps_16_bits_in_pgm_and_jpeg2000(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    g16 = (_rgb(20, 24)[:, :, 0].astype(np.uint16) * 257)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    for ext in ("ppm", "jp2", "png"):
        out = tmp_path / f"o.{ext}"
        code, text, err = _run(capsys, "upscale", str(tmp_path / "g16.png"), "-s", "2", "-w", "srcnn-915-x2",
                               "-o", str(out))
        assert code == 0, err
        assert "cannot hold 16 bits" not in text + err, ext
        with Image.open(out) as im:
            got = np.asarray(im).astype(np.int64)
        assert got.shape == (40, 48) and got.max() > 255, ext  # 16 bits written, not 8


def test_output_types_and_alpha(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Formats srcnn does not write (documents, icons) are refused before any work; formats without
    an alpha channel get it dropped with a note instead of silently (or failing after the work)."""
    rgba = np.dstack([_rgb(20, 24), np.full((20, 24), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(rgba[..., [0, 3]].copy(), "LA").save(tmp_path / "la.png")
    for ext in ("pdf", "ico", "eps"):
        code, _, err = _run(capsys, "upscale", str(tmp_path / "a.png"), "-s", "2", "-o", str(tmp_path / f"o.{ext}"))
        assert code == 2
        _error_line(err, f"unsupported output image type '.{ext}'")
    for argv in (["compare", str(tmp_path / "a.png"), "-s", "2"], ["filters", "srcnn-915-x2"], ["demo"]):
        code, _, err = _run(capsys, *argv, "-o", str(tmp_path / "f.pdf"))  # a usage error in every command
        assert code == 2, argv
        _error_line(err, "unsupported output image type '.pdf'")
    for src, ext, mode in [("a", "bmp", "RGB"), ("la", "bmp", "L"), ("la", "gif", "L"), ("a", "ppm", "RGB"),
                           ("a", "tga", "RGBA"), ("la", "png", "LA")]:
        out = tmp_path / f"{src}-up.{ext}"
        code, text, _ = _run(capsys, "upscale", str(tmp_path / f"{src}.png"), "-s", "2", "-w", "srcnn-915-x2",
                             "-o", str(out))
        assert code == 0, (src, ext)
        assert ("alpha dropped" in text) == (mode in ("RGB", "L")), text
        with Image.open(out) as im:
            assert im.size == (48, 40) and im.mode in (mode, "P"), (src, ext, im.mode)
    assert not (tmp_path / "o.pdf").exists()


def test_a_file_given_as_a_set_or_a_data_root(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "photo.png"
    Image.fromarray(_rgb()).save(f)
    code, _, err = _run(capsys, "evaluate", "-s", "2", "--sets", str(f))
    assert code == 1
    _error_line(err, f"{f} is a file: a data set is a folder of images")
    code, _, err = _run(capsys, "data", "verify", "--root", str(f))
    assert code == 1
    _error_line(err, f"data root {f} (from --data-root) is a file, not a folder")
    monkeypatch.setenv("SRCNN_DATA", str(f))
    code, _, err = _run(capsys, "evaluate", "-s", "2", "--sets", "Set5")
    assert code == 1
    _error_line(err, "(from $SRCNN_DATA) is a file, not a folder")


def test_compare_reports_rows_over_every_model() -> None:
    from srcnn.figures import compare

    calls: list[tuple[int, int]] = []
    gt = _rgb(60, 48)
    compare(gt, 3, ["srcnn-915-x3", "srcnn-915-x3"], progress=lambda d, t: calls.append((d, t)))
    assert calls and all(t == 2 * 60 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and calls[-1][0] == 120


def test_width_beyond_the_largest_factor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--width asking for more than x16: for one image a usage error (exit 2, nothing written); in a folder
    that image fails (exit 1) and the others go on."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rgb(20, 20)).save(src / "small.png")
    Image.fromarray(_rgb(150, 200)).save(src / "mid.png")
    code, _, err = _run(capsys, "upscale", str(src / "small.png"), "--width", "400", "-o", str(tmp_path / "o.png"))
    assert code == 2 and not (tmp_path / "o.png").exists()
    _error_line(err, "above the maximum factor of 16")
    code, _, err = _run(capsys, "upscale", str(src), "--width", "400", "--out-dir", str(tmp_path / "out"), "-q")
    assert code == 1 and "small.png" in err and "above the maximum factor of 16" in err
    assert not (tmp_path / "out" / "small.png").exists()
    with Image.open(tmp_path / "out" / "mid.png") as im:  # x2, the shipped x2 model
        assert im.size == (400, 300)


def test_output_folder_where_no_file_can_be_made(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder that `os.access` calls writable but where no file can be created (root and /proc, a read-only
    mount seen through a stale permission check) is refused before the work, not after it; the probe
    leaves nothing behind in folders that are writable."""
    Image.fromarray(_rgb(20, 24)).save(tmp_path / "a.png")
    fileio.check_output_path(tmp_path / "o.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]

    def refuse(*args: Any, **kwargs: Any) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(fileio.os, "access", lambda *a, **k: True)
    code, _, err = _run(capsys, "upscale", str(tmp_path / "a.png"), "-s", "2", "-o", str(tmp_path / "o.png"))
    assert code == 1 and not (tmp_path / "o.png").exists()
    _error_line(err, f"no file can be created in output folder {tmp_path}", "read-only")
    code, _, err = _run(capsys, "evaluate", "-s", "3", "--sets", str(tmp_path), "--json", str(tmp_path / "r.json"))
    assert code == 1
    _error_line(err, "no file can be created")


@pytest.mark.skipif(not (os.path.isdir("/proc") and hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="needs Linux's /proc and root (for whom os.access calls /proc writable)")
def test_proc_refused_before_the_evaluation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(_rgb(30, 30)).save(tmp_path / "a.png")
    code, _, err = _run(capsys, "evaluate", "-s", "3", "--sets", str(tmp_path), "--json", "/proc/srcnn.json", "-q")
    assert code == 1
    _error_line(err, "no file can be created in output folder /proc")


def test_evaluate_notes_a_named_set_that_is_not_the_registered_one(data_root: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    args = ["evaluate", "-w", "srcnn-915-x3", "--sets", "Set5", "--no-per-image", "-q"]
    code, _, err = _run(capsys, *args, "--data-root", str(data_root))
    assert code == 0 and "not the registered set" not in err  # the real Set5: nothing to say
    shutil.copytree(data_root / "Set5", tmp_path / "Set5")
    files = sorted((tmp_path / "Set5").iterdir())
    files[0].unlink()
    with Image.open(files[1]) as im:
        im.convert("L").convert("RGB").save(files[1])  # the same name, other pixels
    Image.fromarray(_rgb(40, 40)).save(tmp_path / "Set5" / "mine.png")
    code, _, err = _run(capsys, *args, "--data-root", str(tmp_path))
    assert code == 0
    assert "Set5 in" in err and "is not the registered set (1 missing, 1 changed, 1 extra file(s))" in err
    assert "srcnn data verify Set5" in err


@pytest.mark.parametrize("argv", [
    ["upscale", "", "-s", "2", "-o", "OUT.png"],  # was read as the current folder ("got 27 images")
    ["upscale", "IN.png", "-s", "2", "-o", ""],
    ["upscale", "IN.png", "-s", "2", "--out-dir", ""],
    ["upscale", "IN.png", "-s", "2", "-w", "", "-o", "OUT.png"],
    ["evaluate", "--sets", "Set5", "--json", ""],  # was silently not written
    ["train", "--out", ""],  # trained into the current folder
    ["train", "--init-from", ""],
    ["plot", "", "-o", "OUT.png"],
    ["demo", "-o", ""],
    ["info", ""],
])
def test_an_empty_path_or_name_is_refused(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (8, 8)).save(tmp_path / "IN.png")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "empty; give a file, folder or model name" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IN.png"]  # nothing written


def test_an_output_larger_than_the_machines_memory_is_refused_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # The Python API returns the whole output, so an output that alone needs more than the machine's memory is
    # refused before any work (it used to be allocated and then swapped or killed by the system halfway through).
    import srcnn
    import srcnn.infer

    img = np.zeros((64, 48, 3), np.uint8)
    monkeypatch.setattr(srcnn.infer, "physical_memory", lambda: 2**20)  # a 1 MiB machine
    assert srcnn.upscale(img, 2, "srcnn-915-x2").shape == (128, 96, 3)  # 128 x 96 x 3 x 5 bytes: 180 KiB, fits
    with pytest.raises(MemoryError, match=r"an output of 384x512 with 3 channels needs 0.0 GiB \(5 bytes a value\) "
                                          r"while it is made, more than this machine's 0.0 GiB"):
        srcnn.upscale(img, 8, "srcnn-915-x2", strict_scale=False)
    # the CLI writes 8-bit stripes into its output, so 1 byte per value counts there; one clear line, exit 1
    Image.fromarray(img).save(tmp_path / "in.png")
    assert main(["upscale", str(tmp_path / "in.png"), "-s", "8", "-w", "srcnn-915-x2", "--allow-scale-mismatch",
                 "-o", str(tmp_path / "out.png")]) == 0  # 384 x 512 x 3 bytes: 576 KiB, fits
    assert main(["upscale", str(tmp_path / "in.png"), "-s", "12", "-w", "srcnn-915-x2", "--allow-scale-mismatch",
                 "-o", str(tmp_path / "out2.png")]) == 1  # 1.3 MiB
    err = capsys.readouterr().err
    assert "an output of 576x768 with 3 channels needs 0.0 GiB (1 byte a value)" in err and "Traceback" not in err
    assert not (tmp_path / "out2.png").exists()


def test_big_endian_arrays_and_the_blockwise_rounding() -> None:
    import srcnn
    import srcnn.images

    rng = np.random.default_rng(0)
    a16 = rng.integers(0, 65536, (20, 24), dtype=np.uint16)
    native = srcnn.upscale(a16, 2, "srcnn-915-x2")
    swapped = srcnn.upscale(a16.astype(">u2"), 2, "srcnn-915-x2")  # was "unsupported array dtype >u2"
    assert swapped.dtype == np.uint16 and np.array_equal(swapped, native)
    # rounding a block of rows at a time (no float64 copy of a whole large output) gives what rounding at once did
    x = rng.uniform(-0.1, 1.1, (37, 11, 3)).astype(np.float32)
    x[0, 0] = [0.5 / 255, 254.5 / 255, 1.0]
    for dtype, peak in ((np.uint8, 255.0), (np.uint16, 65535.0)):
        whole = np.floor(np.clip(x, 0, 1).astype(np.float64) * peak + 0.5).astype(dtype)
        for block in (1 << 22, 100, 1):  # one block; 3 rows a block; 1 row a block
            assert np.array_equal(srcnn.images.quantize(x, dtype, block), whole), (dtype, block)
        assert srcnn.images.quantize(x[:1, :1], dtype).shape == (1, 1, 3)


@pytest.mark.parametrize("mode", ["rgb", "ycbcr"])
def test_grey_image_through_a_colour_model_keeps_its_range(mode: str) -> None:
    # A grey image through a 3-channel model came back as studio-range luma read as full range: black 16, white 235.
    import torch

    import srcnn
    from srcnn.model import SRCNNConfig
    from srcnn.train import init_identity
    from srcnn.weights import Weights

    model = srcnn.srcnn("9-1-5", channels=3, padding="symmetric")
    init_identity(model)  # outputs its (bicubic) input
    w = Weights(SRCNNConfig(channels=3, padding="symmetric"), model.state_dict(), scales=(2.0,), channels_mode=mode)
    bw = np.zeros((16, 16), np.uint8)
    bw[:, 8:] = 255
    out = srcnn.upscale(bw, 2, w)
    bicubic = srcnn.imresize(torch.from_numpy(bw.astype(np.float32) / 255)[None], scale=2)[0].clamp(0, 1)
    expected = np.floor(bicubic.numpy() * 255 + 0.5).astype(np.uint8)
    assert out.min() == 0 and out.max() == 255
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_the_hidden_colour_of_transparent_pixels_does_not_reach_the_edges() -> None:
    # A white square on transparent *black* came out with a dark ring (composited over white: down to 200 of 255),
    # since bicubic and the network mixed the never-shown black into the edge; Pillow's resize gives 255 there.
    import srcnn

    im = np.zeros((64, 64, 4), np.uint8)
    im[16:48, 16:48] = 255
    out = np.asarray(srcnn.upscale(Image.fromarray(im, "RGBA"), 2)).astype(np.float64)
    a = out[..., 3:] / 255
    assert (out[..., :3] * a + 255 * (1 - a)).min() >= 254
    # what a transparent pixel hides never changes a visible output pixel, at any scale the models serve
    rng = np.random.default_rng(0)
    for scale in (1.1, 1.5, 2, 3, 4):
        other = im.copy()
        hidden = other[..., 3] == 0
        other[hidden, :3] = rng.integers(0, 256, (int(hidden.sum()), 3))
        w = "srcnn-955-x2"  # at any scale, also below the shipped models' 1.5
        r1, r2 = (srcnn.upscale(x, scale, w, strict_scale=False) for x in (im, other))
        shown = r1[..., 3] > 0
        assert np.array_equal(r1[shown], r2[shown]), scale
    # an opaque alpha channel changes nothing
    rgb = im[..., :3].copy()
    opaque = np.dstack([rgb, np.full((64, 64), 255, np.uint8)])
    assert np.array_equal(srcnn.upscale(opaque, 3)[..., :3], srcnn.upscale(rgb, 3))
