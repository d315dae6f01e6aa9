"""Metadata travels from input to output: the ICC colour profile always (when it still fits the
pixels), EXIF into JPEG/PNG/WebP (orientation dropped once applied, pixel dimensions updated),
unless --strip-metadata; formats that cannot hold them get a note."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from skimage import data

import srcnn
from srcnn.cli import main
from srcnn.images import encode_image, read_image

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
# A different (wide-gamut-like) profile: Lab-based, so it differs from sRGB byte for byte.
OTHER = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


def _photo() -> Image.Image:
    return Image.fromarray(data.astronaut()[100:160, 180:260])  # 80x60


def _exif(orientation: int | None = None) -> Image.Exif:
    ex = Image.Exif()
    ex[0x010F] = "TestCam"  # Make
    if orientation is not None:
        ex[0x0112] = orientation
    sub = ex.get_ifd(0x8769)
    sub[0xA002], sub[0xA003] = 80, 60  # PixelXDimension, PixelYDimension
    sub[0x9003] = "2026:01:02 03:04:05"  # DateTimeOriginal
    ex.get_ifd(0x8825)[1] = "N"  # GPSLatitudeRef
    return ex


def _up(capsys: pytest.CaptureFixture[str], src: Path, dst: Path, *extra: str) -> str:
    code = main(["upscale", str(src), "-s", "2", "-o", str(dst), *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    return out + err


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif"])
def test_icc_profile_is_copied(tmp_path: Path, capsys: pytest.CaptureFixture[str], ext: str) -> None:
    src = tmp_path / f"in.{ext}"
    _photo().save(src, icc_profile=OTHER)
    dst = tmp_path / f"out.{ext}"
    _up(capsys, src, dst, "-q")
    with Image.open(dst) as im:
        assert im.size == (160, 120)
        assert im.info.get("icc_profile") == OTHER


def test_exif_is_copied_upright_with_new_dimensions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jpg"
    _photo().save(src, exif=_exif(orientation=6), quality=95)  # 6: the camera was turned 90 degrees
    dst = tmp_path / "out.jpg"
    _up(capsys, src, dst)
    with Image.open(dst) as im:
        assert im.size == (120, 160)  # the pixels were turned upright: 60x80 doubled
        ex = im.getexif()
        assert ex.get(0x010F) == "TestCam"
        assert 0x0112 not in ex  # no orientation tag: a viewer must not turn it again
        sub = ex.get_ifd(0x8769)
        assert (sub[0xA002], sub[0xA003]) == (120, 160)
        assert sub[0x9003] == "2026:01:02 03:04:05"
        assert ex.get_ifd(0x8825)[1] == "N"


@pytest.mark.parametrize("ext", ["png", "webp"])
def test_exif_into_png_and_webp(tmp_path: Path, capsys: pytest.CaptureFixture[str], ext: str) -> None:
    src = tmp_path / "in.jpg"
    _photo().save(src, exif=_exif())
    dst = tmp_path / f"out.{ext}"
    _up(capsys, src, dst, "-q")
    with Image.open(dst) as im:
        assert im.getexif().get(0x010F) == "TestCam"
        assert im.getexif().get_ifd(0x8769)[0xA002] == 160


def test_strip_metadata_drops_exif_keeps_icc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jpg"
    _photo().save(src, exif=_exif(), icc_profile=OTHER)
    dst = tmp_path / "out.jpg"
    _up(capsys, src, dst, "--strip-metadata", "-q")
    with Image.open(dst) as im:
        assert len(im.getexif()) == 0
        assert im.info.get("icc_profile") == OTHER


def test_formats_without_metadata_get_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jpg"
    _photo().save(src, exif=_exif(), icc_profile=OTHER)
    dst = tmp_path / "out.bmp"
    said = _up(capsys, src, dst)
    assert "BMP cannot hold a colour profile" in said
    assert "EXIF was not copied" in said
    with Image.open(dst) as im:
        assert im.size == (160, 120) and not im.info.get("icc_profile")


def test_converted_colour_space_drops_its_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jpg"
    _photo().convert("CMYK").save(src, icc_profile=SRGB)  # stands in for a CMYK profile
    dst = tmp_path / "out.png"
    said = _up(capsys, src, dst)
    assert "colour profile does not fit" in said
    with Image.open(dst) as im:
        assert im.mode == "RGB" and not im.info.get("icc_profile")


def test_no_metadata_means_none_added(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.png"
    _photo().save(src)
    dst = tmp_path / "out.jpg"
    said = _up(capsys, src, dst)
    assert "profile" not in said and "EXIF" not in said
    with Image.open(dst) as im:
        assert not im.info.get("icc_profile") and len(im.getexif()) == 0


def test_damaged_exif_does_not_stop_the_upscale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jpg"
    _photo().save(src, exif=b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff\x01\x0f")  # truncated IFD
    dst = tmp_path / "out.jpg"
    said = _up(capsys, src, dst)
    assert said.count("decoder warning: Corrupt EXIF data") == 1  # a note, once, not a Python warning
    with Image.open(dst) as im:
        assert im.size == (160, 120)


def test_python_api_and_encoder_keep_the_profile(tmp_path: Path) -> None:
    img = _photo()
    img.info["icc_profile"] = OTHER
    out = srcnn.upscale(img, 2)
    assert out.size == (160, 120) and out.info.get("icc_profile") == OTHER
    buf = io.BytesIO()
    out.save(buf, format="PNG")  # PNG takes the profile from info
    assert Image.open(io.BytesIO(buf.getvalue())).info.get("icc_profile") == OTHER
    # the serve path: read_image -> encode_image
    src = tmp_path / "in.png"
    _photo().save(src, icc_profile=OTHER)
    pic = read_image(src)
    assert pic.icc_profile == OTHER
    blob, notes = encode_image(pic, "PNG")
    assert notes == []
    assert Image.open(io.BytesIO(blob)).info.get("icc_profile") == OTHER
    # arrays carry no metadata and need none
    assert srcnn.upscale(np.asarray(img), 2).shape == (120, 160, 3)



def test_an_exif_block_too_long_for_jpeg_is_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ex = _exif()
    ex[0x010E] = "x" * 70_000  # ImageDescription: a PNG eXIf chunk may be this long, a JPEG APP1 may not
    src = tmp_path / "in.png"
    _photo().save(src, exif=ex.tobytes())
    said = _up(capsys, src, tmp_path / "out.jpg")
    assert "too long for JPEG; not copied" in said
    with Image.open(tmp_path / "out.jpg") as im:
        assert im.size == (160, 120) and len(im.getexif()) == 0
    _up(capsys, src, tmp_path / "out.png", "-q")  # PNG holds it
    with Image.open(tmp_path / "out.png") as im:
        assert len(im.getexif()[0x010E]) == 70_000
