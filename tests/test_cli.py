import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srcnn.cli import main
from srcnn.weights import load_weights, save_weights

from .conftest import identity_weights, sigterm_when


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(err: str, needle: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err
    assert any(needle in ln for ln in lines), err
    assert len([ln for ln in lines if "error" in ln]) == 1, err


@pytest.fixture()
def lr_png(tmp_path: Path, photo: np.ndarray) -> Path:
    p = tmp_path / "in" / "photo.png"
    p.parent.mkdir()
    Image.fromarray(photo).save(p)
    return p


def test_help_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ([], ["upscale"], ["evaluate"], ["convert"], ["info"], ["models"], ["data"]):
        code, out, _ = _run(capsys, *cmd, "--help")
        assert code == 0
        assert "usage: srcnn" in out
    code, out, _ = _run(capsys, "upscale", "--help")
    for opt in ("--scale", "--weights", "--out-dir", "--tile", "--overwrite", "--recursive"):
        assert opt in out


def test_upscale_file(capsys: pytest.CaptureFixture[str], lr_png: Path, weights_file: Path,
                      tmp_path: Path) -> None:
    out = tmp_path / "big.png"
    before = lr_png.read_bytes()
    code, _, err = _run(capsys, "upscale", str(lr_png), "--scale", "3", "--weights", str(weights_file),
                        "-o", str(out))
    assert code == 0, err
    with Image.open(out) as im:
        assert im.size == (336, 288) and im.mode == "RGB"
    assert lr_png.read_bytes() == before
    # Refuses to overwrite without --overwrite, and leaves the file alone.
    stamp = out.read_bytes()
    code, _, err = _run(capsys, "upscale", str(lr_png), "-s", "3", "-w", str(weights_file), "-o", str(out))
    assert code == 1
    _assert_one_line_error(err, "--overwrite")
    assert out.read_bytes() == stamp
    code, _, _ = _run(capsys, "upscale", str(lr_png), "-s", "3", "-w", str(weights_file), "-o", str(out),
                      "--overwrite", "-q")
    assert code == 0


def test_upscale_folder_with_a_bad_file(capsys: pytest.CaptureFixture[str], lr_png: Path,
                                        weights_file: Path, tmp_path: Path) -> None:
    sub = lr_png.parent / "sub"
    sub.mkdir()
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(sub / "gray.bmp")
    (lr_png.parent / "fake.png").write_text("not an image")
    outdir = tmp_path / "out"
    code, _, err = _run(capsys, "upscale", str(lr_png.parent), "-r", "-s", "3", "-w", str(weights_file),
                        "--out-dir", str(outdir))
    assert code == 1
    assert "done 2, skipped 0, failed 1" in err
    assert (outdir / "photo.png").is_file()
    with Image.open(outdir / "sub" / "gray.png") as im:
        assert im.size == (36, 30) and im.mode == "L"
    assert not (outdir / "fake.png").exists()
    assert not [p for p in outdir.rglob("*") if p.name.endswith(".tmp")]
    code, _, err = _run(capsys, "upscale", str(lr_png.parent), "-r", "-s", "3", "-w", str(weights_file),
                        "--out-dir", str(outdir), "--skip-existing")
    assert "skipped 2" in err


@pytest.mark.parametrize("scale", ["0", "-2", "1", "nan", "inf", "17", "abc"])
def test_bad_scale(capsys: pytest.CaptureFixture[str], lr_png: Path, weights_file: Path,
                   tmp_path: Path, scale: str) -> None:
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "upscale", str(lr_png), "--scale", scale, "-w", str(weights_file),
                        "-o", str(out))
    assert code == 2
    assert "Traceback" not in err and "scale" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing.png", "no such file"),
        (lambda d: _write(d / "text.png", b"hello"), "not an image"),
        (lambda d: _write(d / "empty.png", b""), "empty file"),
        (lambda d: _truncated(d / "trunc.png"), "truncated"),
    ],
)
def test_bad_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path, weights_file: Path,
                    make: object, needle: str) -> None:
    src = make(tmp_path)  # type: ignore[operator]
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "upscale", str(src), "-s", "3", "-w", str(weights_file), "-o", str(out))
    assert code == 1
    _assert_one_line_error(err, needle)
    assert not out.exists()
    assert not list(tmp_path.glob(".o.png*"))


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def _truncated(p: Path) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(p)
    p.write_bytes(p.read_bytes()[:300])
    return p


def test_bad_weights_and_outputs(capsys: pytest.CaptureFixture[str], lr_png: Path, tmp_path: Path,
                                 weights_file: Path) -> None:
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "upscale", str(lr_png), "-s", "3", "-w", "nonsense-model", "-o", str(out))
    assert code == 1
    _assert_one_line_error(err, "unknown weights")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}garbage")
    code, _, err = _run(capsys, "upscale", str(lr_png), "-s", "3", "-w", str(bad), "-o", str(out))
    assert code == 1 and "Traceback" not in err
    # Unwritable output: the parent is a file, or a folder that does not exist.
    for target in (lr_png / "x.png", tmp_path / "nope" / "x.png"):
        code, _, err = _run(capsys, "upscale", str(lr_png), "-s", "3", "-w", str(weights_file),
                            "-o", str(target))
        assert code == 1
        _assert_one_line_error(err, "does not exist")
    # Output equal to the input is refused, and the input is untouched.
    before = lr_png.read_bytes()
    code, _, err = _run(capsys, "upscale", str(lr_png), "-s", "3", "-w", str(weights_file),
                        "-o", str(lr_png), "--overwrite")
    assert code == 1
    _assert_one_line_error(err, "also an input")
    assert lr_png.read_bytes() == before
    # Unknown output type.
    code, _, err = _run(capsys, "upscale", str(lr_png), "-s", "3", "-w", str(weights_file),
                        "-o", str(tmp_path / "o.xyz"))
    assert code == 2  # a usage error, found before the image is read
    _assert_one_line_error(err, "unsupported output image type")
    assert not out.exists()


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "upscale")
    assert code == 2 and "Traceback" not in err
    code, _, err = _run(capsys, "frobnicate")
    assert code == 2


def test_info_and_models(capsys: pytest.CaptureFixture[str], weights_file: Path) -> None:
    code, out, _ = _run(capsys, "info", str(weights_file))
    assert code == 0
    d = json.loads(out)
    assert d["arch"] == "9-1-5" and d["parameters"] == 8129 and d["scales"] == [3.0]
    assert "shipped" not in d  # a file of the user's: no registry record
    from srcnn.pretrained import AUTHORS, get_info

    code, out, _ = _run(capsys, "info", "srcnn-915-x3")
    shipped, m = json.loads(out)["shipped"], get_info("srcnn-915-x3")
    assert code == 0 and shipped["sha256"] == m.sha256 and shipped["authors_model"] == "9-1-5 (91 images)"
    assert shipped["results"]["x3"] == m.results()[3.0]
    assert shipped["vs_authors"]["x3"]["set5_psnr"] == round(m.results()[3.0]["set5_psnr"]
                                                             - AUTHORS["9-1-5"][1][3.0]["set5_psnr"], 4)
    code, out, _ = _run(capsys, "models")
    assert code == 0
    # each model's figures and its margin over the authors' model of the same architecture and scale
    from srcnn.pretrained import AUTHORS, get_info

    m, sets = get_info("srcnn-955-x2"), ("set5", "set14", "bsd100")
    ours, theirs = m.results()[2.0], AUTHORS["9-5-5"][1][2.0]
    cells = [m.name, "9-5-5", "x2*", " / ".join(f"{ours[f'{k}_psnr']:.3f}" for k in sets),
             " / ".join(f"{ours[f'{k}_psnr'] - theirs[f'{k}_psnr']:+.3f}" for k in sets), m.sha256[:12]]
    assert re.search("\n" + " +".join(map(re.escape, cells)), out), out
    assert re.search(r"\n +x2\.5\* +[\d.]+ / [\d.]+ / [\d.]+ +-\n", out)  # no authors' model at x2.5
    # *: srcnn upscale's choice at that scale (best_for_scale): the per-scale 9-5-5, the multi-scale one between
    assert re.search(r"\nsrcnn-915-x3 +9-1-5 +x3 ", out) and re.search(r"\n +x3 +[\d.]+ / ", out)
    assert "*: the model that srcnn upscale and srcnn demo use" in " ".join(out.split())
    assert "recipe: srcnn train --arch 9-1-5 --scale 3" in out
    assert max(len(line) for line in out.splitlines()) <= 120


def test_convert_and_evaluate_real(capsys: pytest.CaptureFixture[str], authors_dir: Path,
                                   data_root: Path, tmp_path: Path) -> None:
    mat = authors_dir / "9-1-5(91 images)" / "x3.mat"
    st = tmp_path / "x3.safetensors"
    code, out, err = _run(capsys, "convert", str(mat), "-o", str(st))
    assert code == 0, err
    w = load_weights(st)
    assert w.config.name == "9-1-5" and w.scales == (3.0,)
    js = tmp_path / "r.json"
    code, out, err = _run(capsys, "evaluate", "-w", str(st), "--sets", "Set5", "--data-root",
                          str(data_root), "--json", str(js), "-q")
    assert code == 0, err
    doc = json.loads(js.read_text())
    mean = doc["sets"][0]["mean"]
    assert mean["psnr_model"] == pytest.approx(32.39, abs=0.01)
    assert mean["psnr_bicubic"] == pytest.approx(30.39, abs=0.01)
    assert "32.39" in out and "30.39" in out
    # The .mat file is accepted directly too, and gives the same numbers.
    code, out2, _ = _run(capsys, "evaluate", "-w", str(mat), "--sets", "Set5", "--data-root",
                         str(data_root), "-q", "--no-per-image")
    assert code == 0 and "32.39" in out2


def test_evaluate_missing_set(capsys: pytest.CaptureFixture[str], weights_file: Path,
                              tmp_path: Path) -> None:
    code, _, err = _run(capsys, "evaluate", "-w", str(weights_file), "--sets", "Set5",
                        "--data-root", str(tmp_path))
    assert code == 1
    _assert_one_line_error(err, str(tmp_path / "Set5"))
    assert "srcnn data fetch Set5" in err


def test_exif_orientation_and_modes(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    photo: np.ndarray, weights_file: Path) -> None:
    img = Image.fromarray(photo)  # 112 wide, 96 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    src = tmp_path / "rot.jpg"
    img.save(src, exif=exif.tobytes(), quality=95)
    out = tmp_path / "rot_x3.png"
    code, stdout, err = _run(capsys, "upscale", str(src), "-s", "3", "-w", str(weights_file), "-o", str(out))
    assert code == 0, err
    assert "applied EXIF orientation 6" in stdout
    with Image.open(out) as im:
        assert im.size == (288, 336)  # upright: 96 x 112 -> x3
    # Every common mode goes through the CLI and keeps its kind.
    for mode, expect in [("L", "L"), ("LA", "LA"), ("RGBA", "RGBA"), ("P", "RGB")]:
        p = tmp_path / f"m_{mode}.png"
        img.convert(mode).save(p)
        o = tmp_path / f"m_{mode}_x3.png"
        assert main(["upscale", str(p), "-s", "3", "-w", str(weights_file), "-o", str(o), "-q"]) == 0
        with Image.open(o) as im:
            assert im.mode == expect and im.size == (336, 288)
    # 16-bit grayscale keeps 16 bits (an identity network, so the values are meaningful).
    ident = tmp_path / "ident.safetensors"
    save_weights(identity_weights(), ident)
    g16 = (photo[:, :, 1].astype(np.uint16) * 257)
    p16 = tmp_path / "g16.png"
    Image.fromarray(g16).save(p16)
    o16 = tmp_path / "g16_x3.png"
    assert main(["upscale", str(p16), "-s", "3", "-w", str(ident), "-o", str(o16), "-q"]) == 0
    with Image.open(o16) as im:
        assert im.mode.startswith("I") and im.size == (336, 288)
        assert np.asarray(im).max() > 255


def test_quick_single_upscale_prints_no_row_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The per-row bar of one image shows only after a second: a quick job prints just its line."""
    src = tmp_path / "in.png"
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(src)
    dst = tmp_path / "out.png"
    code, out, err = _run(capsys, "upscale", str(src), "-s", "2", "-o", str(dst))
    assert code == 0
    assert "row/s" not in err and "%|" not in err
    assert (out + err).strip().splitlines() == [f"{src} (80x60) -> {dst} (160x120)"]


def test_upscale_to_a_width_or_height(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from skimage import data

    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(data.astronaut()[:120, :160]).save(a)  # 160x120
    Image.fromarray(data.coffee()[:90, :100]).save(b)  # 100x90
    code, _, err = _run(capsys, "upscale", str(a), "--width", "500", "-o", str(tmp_path / "w.png"), "-q")
    assert code == 0, err
    assert Image.open(tmp_path / "w.png").size == (500, 375)  # the height in proportion
    code, _, _ = _run(capsys, "upscale", str(a), "--height", "299", "-o", str(tmp_path / "h.png"), "-q")
    assert code == 0 and Image.open(tmp_path / "h.png").size == (399, 299)  # 160 * 299/120 = 398.67
    # --width that is exactly x3 is the same as --scale 3 (the same model, the same pixels)
    assert _run(capsys, "upscale", str(a), "--width", "480", "-o", str(tmp_path / "w3.png"))[0] == 0
    assert _run(capsys, "upscale", str(a), "-s", "3", "-o", str(tmp_path / "s3.png"))[0] == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "w3.png")), np.asarray(Image.open(tmp_path / "s3.png")))
    # a folder: every output gets the width, each image its own factor
    code, _, _ = _run(capsys, "upscale", str(a), str(b), "--width", "400", "--out-dir", str(tmp_path / "out"), "-q")
    assert code == 0
    assert Image.open(tmp_path / "out" / "a.png").size == (400, 300)
    assert Image.open(tmp_path / "out" / "b.png").size == (400, 360)
    # a target below the image, or above the reach of the shipped models: that image fails, named
    code, _, err = _run(capsys, "upscale", str(a), str(b), "--width", "150", "--out-dir", str(tmp_path / "o2"), "-q")
    assert code == 1
    assert "srcnn: error: " + str(a) + ": the target width 150 is not larger than the image's width 160" in err
    assert Image.open(tmp_path / "o2" / "b.png").size == (150, 135)
    # usage errors: none or two of --scale/--width/--height, a width that is not a positive integer
    for extra in ([], ["-s", "2", "--width", "300"], ["--width", "0"], ["--height", "2.5"]):
        code, _, err = _run(capsys, "upscale", str(a), *extra, "-o", str(tmp_path / "x.png"))
        assert code == 2 and "Traceback" not in err, extra
    assert not (tmp_path / "x.png").exists()


class _Pipe:
    """A stand-in for sys.stdin / sys.stdout connected to a pipe (or to a terminal)."""

    def __init__(self, data: bytes = b"", tty: bool = False) -> None:
        import io

        self.buffer = io.BytesIO(data)
        self.tty = tty
        self.text: list[str] = []

    def isatty(self) -> bool:
        return self.tty

    def write(self, s: str) -> int:  # text printed to stdout lands here, apart from the image bytes
        self.text.append(s)
        return len(s)

    def flush(self) -> None:
        pass


def test_upscale_through_stdin_and_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import sys

    from skimage import data

    a = tmp_path / "a.jpg"
    Image.fromarray(data.astronaut()[:120, :160]).save(a, quality=95)
    assert _run(capsys, "upscale", str(a), "-s", "2", "-o", str(tmp_path / "ref.png"), "-q")[0] == 0
    ref = np.asarray(Image.open(tmp_path / "ref.png"))

    def piped(stdin: bytes, *argv: str, tty_in: bool = False, tty_out: bool = False) -> tuple[int, bytes, str]:
        inp, out = _Pipe(stdin, tty_in), _Pipe(tty=tty_out)
        monkeypatch.setattr(sys, "stdin", inp)
        monkeypatch.setattr(sys, "stdout", out)
        code = main(["upscale", *argv])
        monkeypatch.undo()
        assert not "".join(out.text), "only the image goes to stdout"
        return code, out.buffer.getvalue(), capsys.readouterr().err

    # stdin -> stdout: the same pixels as from the file; the report goes to stderr
    code, png, err = piped(a.read_bytes(), "-", "-s", "2", "-o", "-")
    assert code == 0, err
    assert "<stdin> (160x120) -> <stdout> (320x240)" in err
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), ref)
    # --ext picks the type written to stdout; 'same' takes the input file's
    for ext, fmt in (("jpg", "JPEG"), ("webp", "WEBP"), ("same", "JPEG")):
        code, raw, err = piped(b"", str(a), "-s", "2", "-o", "-", "--ext", ext, "-q")
        assert code == 0, err
        with Image.open(io.BytesIO(raw)) as im:
            assert (im.format, im.size) == (fmt, (320, 240))
    # stdin -> file
    code, raw, err = piped(a.read_bytes(), "-", "-s", "2", "-o", str(tmp_path / "b.png"), "-q")
    assert code == 0 and raw == b"", err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b.png")), ref)
    # refused, with one line each, nothing written to stdout
    cases = [
        (a.read_bytes(), ["-", "-s", "2", "-o", "-", "--ext", "same"], {}, 2, "--ext same needs an input file"),
        (a.read_bytes(), ["-", str(a), "-s", "2", "--out-dir", str(tmp_path / "d")], {}, 2, "is one image"),
        (a.read_bytes(), ["-", "-s", "2", "-o", "-"], {"tty_out": True}, 2, "standard output, which is a terminal"),
        (b"", ["-", "-s", "2", "-o", "-"], {"tty_in": True}, 2, "standard input, which is a terminal"),
        (b"", ["-", "-s", "2", "-o", "-"], {}, 1, "<stdin>: empty input (0 bytes)"),
        (b"not an image", ["-", "-s", "2", "-o", "-"], {}, 1, "<stdin>: not an image"),
        (a.read_bytes()[:400], ["-", "-s", "2", "-o", "-"], {}, 1, "<stdin>: damaged or truncated image"),
        (a.read_bytes(), ["-", "-s", "2", "-o", "-", "--max-pixels", "1000"], {}, 1,
         "<stdin>: refused before decoding: the header announces 160x120"),
    ]
    for stdin, argv, tty, want, needle in cases:
        code, raw, err = piped(stdin, *argv, **tty)
        assert code == want and raw == b"", (argv, err)
        _assert_one_line_error(err, needle)
    assert not (tmp_path / "d").exists()


def test_evaluate_without_weights_is_the_papers_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No --weights: the shipped model of each scale, the same numbers as naming it with --weights."""
    from skimage import data

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(data.astronaut()[100:220, 150:270]).save(folder / "a.png")
    Image.fromarray(data.coffee()[100:196, 200:320]).save(folder / "b.png")
    code, table, err = _run(capsys, "evaluate", "--sets", str(folder), "-s", "2", "-s", "3", "-q",
                            "--json", str(tmp_path / "t.json"))
    assert code == 0, err
    assert re.search(r"\nphotos +x3  srcnn-955-x3 ", table), table
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [(r["scale"], r["model"], r["images"]) for r in rows] == [(2.0, "srcnn-955-x2", 2), (3.0, "srcnn-955-x3", 2)]
    for r in rows:
        assert r["psnr_model"] > r["psnr_bicubic"] + 0.5
        assert r["psnr_authors"] is None  # not a standard test set: no authors' figure
        code, _, _ = _run(capsys, "evaluate", "-w", r["model"], "--sets", str(folder), "-q", "--json",
                          str(tmp_path / f"{r['model']}.json"))
        one = json.loads((tmp_path / f"{r['model']}.json").read_text())["sets"][0]["mean"]
        assert one["psnr_model"] == pytest.approx(r["psnr_model"], abs=1e-9)
        assert one["ssim_bicubic"] == pytest.approx(r["ssim_bicubic"], abs=1e-9)
    # --arch 9-1-5 picks the 9-1-5 models; usage errors are one line with exit 2
    code, out, _ = _run(capsys, "evaluate", "--sets", str(folder), "--arch", "9-1-5", "-s", "4", "-q")
    assert code == 0 and "srcnn-915-x4" in out
    for argv, needle in ((["-s", "5"], "no shipped model serves x5"),
                         (["--arch", "9-1-5", "-s", "2.5"], "no shipped 9-1-5 model serves x2.5; they serve x2, x3"),
                         (["-w", "srcnn-915-x3", "--arch", "9-1-5"], "--arch picks shipped models"),
                         (["-w", "srcnn-915-x3", "-s", "3", "-s", "2"], "--weights takes one --scale")):
        code, _, err = _run(capsys, "evaluate", "--sets", str(folder), *argv)
        assert code == 2, argv
        _assert_one_line_error(err, needle)


def test_evaluate_table_on_set5(data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table's rows are the registry's measured figures, next to the authors' 9-5-5 (ImageNet)."""
    from srcnn.pretrained import get_info

    code, out, err = _run(capsys, "evaluate", "--data-root", str(data_root), "--sets", "Set5", "-s", "3", "-q",
                          "--json", str(tmp_path / "t.json"))
    assert code == 0, err
    (row,) = json.loads((tmp_path / "t.json").read_text())["rows"]
    shipped = get_info("srcnn-955-x3").results()[3.0]
    assert row["psnr_bicubic"] == pytest.approx(30.39, abs=0.005)  # the papers' bicubic
    assert row["psnr_model"] == pytest.approx(shipped["set5_psnr"], abs=0.0005)
    assert (row["psnr_authors"], row["ssim_authors"]) == (32.749, 0.9090)  # the papers' 32.75, to the thousandth
    assert f"{row['psnr_model'] - 32.749:+14.3f}" in out
    assert "The last column comes from the unrounded means" in " ".join(out.split())  # not the rounded 2-decimal ones


def test_sigterm_stops_a_folder_run_cleanly(tmp_path: Path) -> None:
    """kill (SIGTERM) unwinds like Ctrl-C: the summary says so, finished outputs are whole, no
    temporary file is left, exit code 143."""
    from skimage import data

    src = tmp_path / "in"
    src.mkdir()
    for i in range(8):
        Image.fromarray(np.roll(data.astronaut(), 40 * i, axis=1)[:300, :300]).save(src / f"{i}.png")
    out = tmp_path / "out"
    code, err = sigterm_when(["upscale", str(src), "-s", "4", "--out-dir", str(out)],
                             ready=lambda: bool(list(out.glob("*.png"))))
    assert code == 143, err
    assert "(interrupted)" in err and "srcnn: error: terminated" in err and "Traceback" not in err
    written = sorted(out.glob("*.png"))
    assert 1 <= len(written) < 8
    for f in written:
        with Image.open(f) as im:
            im.load()
            assert im.size == (1200, 1200)
    assert not [p.name for p in out.iterdir() if p.suffix == ".tmp"]


def test_a_device_this_machine_lacks_is_a_usage_error(lr_png: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    wanted = ["foo"] + ([] if torch.cuda.is_available() else ["cuda", "cuda:1"])
    for cmd in (["upscale", str(lr_png), "-s", "2", "-o", str(tmp_path / "x.png")], ["evaluate", "--sets", "Set5"],
                ["compare", str(lr_png), "-s", "2", "-o", str(tmp_path / "c.png")], ["train", "--out", str(tmp_path)]):
        for dev in wanted:
            code, _, err = _run(capsys, *cmd, "--device", dev)
            assert code == 2, (cmd, dev)
            _assert_one_line_error(err, f"device '{dev}'")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "c.png").exists()
    code, _, err = _run(capsys, "upscale", str(lr_png), "-s", "2", "-o", str(tmp_path / "x.png"), "--device", "auto")
    assert code == 0, err


def test_option_values_out_of_range_are_usage_errors(lr_png: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["upscale", str(lr_png), "-s", "2", "-o", str(tmp_path / "x.png"), "--tile", "5"],
         "--tile must be 0 (the whole image) or at least 16, got 5"),
        (["export", "-w", "srcnn-915-x3", "-o", str(tmp_path / "m.onnx"), "--opset", "10"], "opset must be from 11"),
        (["export", "-w", "srcnn-915-x3", "-o", str(tmp_path / "m.onnx"), "--opset", "99"], "got 99"),
        (["plot", str(tmp_path / "no-run")], f"run folder {tmp_path / 'no-run'} not found"),
    ]
    for argv, needle in cases:
        code, _, err = _run(capsys, *argv)
        assert code == 2, argv
        _assert_one_line_error(err, needle)
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.onnx"))
    # the smallest tile is allowed and gives the untiled pixels
    assert _run(capsys, "upscale", str(lr_png), "-s", "2", "-o", str(tmp_path / "t.png"), "--tile", "16")[0] == 0
    assert _run(capsys, "upscale", str(lr_png), "-s", "2", "-o", str(tmp_path / "w.png"), "--tile", "0")[0] == 0
    # equal up to float rounding (tilings differ by ~4e-7, see srcnn.engine), which can flip a uint8 rounding that
    # sits at .5: with srcnn-955-x2 (symmetric padding) 4 of the 129,024 values differ, by 1 (1 before conv2's Winograd
    # products were stacked over the tap rows, which changed the order of the sums)
    t, w = (np.asarray(Image.open(tmp_path / f), dtype=int) for f in ("t.png", "w.png"))
    d = np.abs(t - w)
    assert d.max() <= 1 and np.count_nonzero(d) <= 10


def test_every_option_has_help() -> None:
    import argparse

    from srcnn.cli import build_parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub, sp in a.choices.items():
                    walk(sp, f"{name} {sub}")
            elif not a.help:
                missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")

    walk(build_parser(), "srcnn")
    assert missing == []


def test_quick_commands_do_not_import_torch() -> None:
    """`srcnn --help`, `--version`, `models` and `data list` answer in a fraction of a second: the
    package imports torch only when a command needs a network."""
    import subprocess
    import sys

    code = ("import sys; from srcnn.cli import main; rc = main(sys.argv[1:]); "
            "print('torch' in sys.modules, rc, file=sys.stderr)")
    for argv in (["--version"], ["models"], ["data", "list", "--root", "no-such-root"], ["upscale", "--help"]):
        r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
        assert r.stderr.strip().splitlines()[-1] == "False 0", (argv, r.stderr)
    r = subprocess.run([sys.executable, "-c", "import srcnn, sys; srcnn.upscale; print('torch' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "True"  # the lazy names still resolve


def test_data_cache_lists_and_clears_only_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "srcnn"
    assert main(["data", "cache"]) == 0  # no folder yet: an empty table, no advice
    out = capsys.readouterr().out
    assert f"cache folder: {folder}" in out and re.search(r"\ntotal +0 +0 B\n", out) and "--clear" not in out
    folder.mkdir()
    sizes = {"pairs-0123.npz": 1000, "pairs-4567.npz": 500, "labels-89ab.npz": 2500, ".pairs-0123.npz.x1.tmp": 10,
             "notes.txt": 7, "pairs-old.txt": 3}
    for name, n in sizes.items():
        (folder / name).write_bytes(b"x" * n)
    (folder / "sub").mkdir()
    assert main(["data", "cache"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\ntraining pairs +2 +1\.5 kB\n", out) and re.search(r"\nteacher labels +1 +2\.5 kB\n", out)
    assert re.search(r"\npartial writes +1 +10 B\n", out) and re.search(r"\ntotal +4 +4\.0 kB\n", out)
    assert "delete them with: srcnn data cache --clear" in out
    assert main(["data", "cache", "--clear"]) == 0
    assert f"removed 4 files (4.0 kB) from {folder}" in capsys.readouterr().out
    assert sorted(f.name for f in folder.iterdir()) == ["notes.txt", "pairs-old.txt", "sub"]  # nothing else
    assert main(["data", "cache", "--clear"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_padding_choices_match_the_model() -> None:
    """The CLI lists the paddings without importing torch at start-up; they must be the model's."""
    from srcnn import cli
    from srcnn.model import SAME_PADDINGS

    assert sorted(cli._PADDINGS) == sorted(SAME_PADDINGS)


def test_ext_with_an_output_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `-o big.png --ext jpg` silently wrote a PNG: --ext is for --out-dir and -o -, the file name decides with -o FILE
    src = tmp_path / "in.png"
    Image.new("RGB", (12, 10)).save(src)
    assert main(["upscale", str(src), "-s", "2", "-o", str(tmp_path / "big.png"), "--ext", "jpg"]) == 2
    assert "--ext is for --out-dir and -o -" in capsys.readouterr().err
    assert not (tmp_path / "big.png").exists()
    assert main(["upscale", str(src), "-s", "2", "-o", str(tmp_path / "big.jpg"), "-q"]) == 0
    assert Image.open(tmp_path / "big.jpg").format == "JPEG"
