"""Reading and writing images for the upscaling path.

Every input is normalised to a :class:`Picture`: float32 ``(H, W, C)`` in [0, 1] with a mode of
``L``, ``LA``, ``RGB`` or ``RGBA``. What happens to each kind of file:

* palette (``P``) images become ``RGB``, or ``RGBA`` when they carry transparency; ``PA`` -> ``RGBA``;
* ``1`` (bilevel) -> ``L``; ``CMYK``, ``YCbCr``, ``LAB``, ``HSV`` -> ``RGB`` (Pillow's conversion);
* 16-bit grayscale (``I;16``, ``I``) keeps its precision: values / 65535, written back as 16-bit
  PNG/TIFF/PGM/JPEG 2000 (8-bit for formats without 16-bit support). 32-bit integer (``I``) values outside
  0..65535 are clipped, with a note. Pillow decodes 16-bit *colour* PNGs to 8 bits per channel, so those are
  processed as 8-bit (a note says so);
* 32-bit float grayscale (``F``, e.g. float TIFF): read as 0..1 when every value lies in [0, 1],
  else as 0..255 (clipped); NaN or infinite values are refused; written back as 16-bit where the output
  type holds it (as 16-bit grayscale is);
* EXIF orientation is applied (the pixels are turned upright; the orientation tag is not copied);
* metadata travels to the output: the ICC colour profile (so that a Display P3 or Adobe RGB photo
  keeps its colours; not when the mode is converted, e.g. CMYK -> RGB, where it no longer fits)
  and the EXIF block of JPEG, PNG and WebP files (camera, date, GPS ...; without the orientation
  tag, with the pixel dimensions updated). Formats that cannot hold them get a note;
* animated images (GIF, APNG, WebP): the first frame is used, and a note says so;
* a pixel limit (default 100 megapixels, :data:`DEFAULT_MAX_PIXELS`) refuses a file whose header
  announces a huge image before it is decoded (Pillow's decompression-bomb guard is kept on);
* only raster formats in :data:`READ_FORMATS` are opened (never EPS/PDF-like formats that Pillow
  hands to external programs); anything else, empty, truncated or damaged files raise
  :class:`~srcnn.errors.ImageReadError` with a one-line reason.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError, ImageTooLargeError, ImageWriteError
from .fileio import atomic_write_bytes

DEFAULT_MAX_PIXELS = 100_000_000
MODES = ("L", "LA", "RGB", "RGBA")
#: Pillow formats :func:`read_image` opens (the common raster formats; no EPS, which runs Ghostscript).
READ_FORMATS = ("PNG", "JPEG", "MPO", "BMP", "DIB", "GIF", "TIFF", "WEBP", "PPM", "TGA", "QOI",
                "AVIF", "ICO", "PCX", "SGI", "JPEG2000", "PSD")
_SIXTEEN_BIT_FORMATS = {"PNG", "TIFF", "PPM", "JPEG2000"}  # 16-bit grey: PNG, TIFF, PGM (maxval 65535), JP2
#: Pillow formats that can carry an ICC profile / an EXIF block (read and written).
_ICC_FORMATS = {"PNG", "JPEG", "MPO", "TIFF", "WEBP", "AVIF"}
_EXIF_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "AVIF"}
#: A JPEG APP1 segment holds at most this many bytes of EXIF.
_JPEG_MAX_EXIF = 65533
#: Modes whose conversion to RGB changes the colour space (their ICC profile no longer applies).
_FOREIGN_COLOUR_MODES = ("CMYK", "YCbCr", "LAB", "HSV")


@dataclass
class Picture:
    """An image as float32 ``(H, W, C)`` in [0, 1]; ``mode`` says what the C planes are."""

    data: np.ndarray
    mode: str
    bit_depth: int = 8
    notes: list[str] = field(default_factory=list)
    #: The input's ICC colour profile and EXIF block (raw bytes), copied to the output when written.
    icc_profile: bytes | None = None
    exif: bytes | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as PIL says it."""
        return int(self.data.shape[1]), int(self.data.shape[0])

    @property
    def has_alpha(self) -> bool:
        return self.mode in ("LA", "RGBA")

    @property
    def color_planes(self) -> np.ndarray:
        """``(H, W, 1)`` or ``(H, W, 3)``: the planes without alpha."""
        return self.data[:, :, :-1] if self.has_alpha else self.data

    @property
    def alpha(self) -> np.ndarray | None:
        return self.data[:, :, -1:] if self.has_alpha else None


def _normalise_mode(img: Image.Image, notes: list[str]) -> tuple[Image.Image, int]:
    """Convert to L, LA, RGB, RGBA or a 16-bit grayscale mode; returns the image and bit depth."""
    m = img.mode
    if m in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return img, 16
    if m == "F":
        return img, 32
    if m == "1":
        return img.convert("L"), 8
    if m == "P":
        has_t = "transparency" in img.info
        return img.convert("RGBA" if has_t else "RGB"), 8
    if m == "PA":
        return img.convert("RGBA"), 8
    if m == "RGBa":
        return img.convert("RGBA"), 8
    if m == "La":
        return img.convert("LA"), 8
    if m in MODES:
        return img, 8
    if m in _FOREIGN_COLOUR_MODES or m == "RGBX":
        notes.append(f"converted {m} to RGB")
        return img.convert("RGB"), 8
    raise ImageReadError(f"unsupported image mode {m!r}")


def from_pil(img: Image.Image) -> Picture:
    """A :class:`Picture` from a PIL image (EXIF orientation is *not* applied here, and EXIF is not
    kept; the ICC profile is, unless the mode's conversion changes the colour space)."""
    pic = _from_pil(img)
    icc = img.info.get("icc_profile")
    if isinstance(icc, bytes) and icc:
        if img.mode in _FOREIGN_COLOUR_MODES:
            pic.notes.append(f"the {img.mode} colour profile does not fit the RGB output; not copied")
        else:
            pic.icc_profile = icc
    return pic


def _from_pil(img: Image.Image) -> Picture:
    notes: list[str] = []
    img, depth = _normalise_mode(img, notes)
    if depth == 16:
        a = np.asarray(img).astype(np.float64)
        if img.mode == "I" and a.size and (a.min() < 0 or a.max() > 65535):  # 32-bit integers beyond 16 bits
            notes.append(f"32-bit integer image read as 0..65535 grayscale; its values ({a.min():.0f} to "
                         f"{a.max():.0f}) outside that range clipped")
        data = np.clip(a / 65535.0, 0.0, 1.0)[:, :, None]
        return Picture(data.astype(np.float32), "L", 16, notes)
    if depth == 32:
        a = np.asarray(img).astype(np.float64)
        if not np.isfinite(a).all():
            raise ImageReadError("32-bit float image holds NaN or infinite values")
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if lo >= 0.0 and hi <= 1.0:  # already normalised: keep it as it is
            data = a[:, :, None]
            notes.append("32-bit float image read as 0..1 grayscale")
        else:
            data = np.clip(a / 255.0, 0.0, 1.0)[:, :, None]
            notes.append("32-bit float image read as 0..255 grayscale" + ("; values outside it clipped"
                                                                         if lo < 0.0 or hi > 255.0 else ""))
        # 16 bits out where the output type holds them (8 would keep a few levels of a narrow float range)
        return Picture(data.astype(np.float32), "L", 16, notes)
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    return Picture((a.astype(np.float32) / 255.0), img.mode, 8, notes)


def _read_formats() -> list[str]:
    Image.init()
    return [f for f in READ_FORMATS if f in Image.OPEN]


def _limit_message(p: Path | str, size: str, max_pixels: int) -> str:
    return (f"{p}: refused before decoding: the header announces {size}, more than the pixel limit "
            f"of {max_pixels:,}; raise it with --max-pixels (max_pixels=) if you trust the file")


def _source(src: Path | bytes) -> Path | io.BytesIO:
    """What :func:`PIL.Image.open` reads: the path, or a fresh stream over the bytes."""
    return io.BytesIO(src) if isinstance(src, bytes) else src


def _announced_size(src: Path | bytes, err: Exception) -> str:
    """``WxH = N pixels`` from the header of a file Pillow refused as a bomb (header only)."""
    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # only the header is parsed here, nothing is decoded
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(_source(src), formats=_read_formats()) as img:
                w, h = img.size
        return f"{w}x{h} = {w * h:,} pixels"
    except Exception:
        m = re.search(r"\((\d+) pixels\)", str(err))
        return f"{int(m.group(1)):,} pixels" if m else "a larger image"
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _sixteen_bit_colour(img: Image.Image) -> bool:
    """True for a 16-bit colour or gray+alpha PNG or TIFF (Pillow decodes those to 8 bits per channel)."""
    if img.mode not in ("RGB", "RGBA", "LA"):
        return False
    if img.format == "TIFF":
        bits = img.tag_v2.get(258)  # type: ignore[attr-defined]  # BitsPerSample
        return isinstance(bits, tuple) and bool(bits) and max(bits) > 8
    tile = getattr(img, "tile", None)
    try:
        raw = tile[0][3] if tile else None
    except (IndexError, TypeError):
        return False
    return img.format == "PNG" and isinstance(raw, str) and raw.endswith(";16B")


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Picture:
    """Read an image file into a :class:`Picture`. Raises :class:`ImageReadError` with a
    one-line reason for anything that is not a readable, sane image.

    ``max_pixels``: refuse images with more pixels (checked on the header, before decoding);
    ``None`` keeps only Pillow's own decompression-bomb limit.
    """
    p = Path(path).expanduser()
    if max_pixels is not None and max_pixels < 1:
        raise ImageReadError(f"max_pixels must be at least 1, got {max_pixels}")
    if not os.path.lexists(p):
        raise ImageReadError(f"{p}: no such file")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a folder, not an image")
    if not p.exists():
        raise ImageReadError(f"{p}: broken symbolic link")
    if not p.is_file():
        raise ImageReadError(f"{p}: not a regular file (a device, pipe or socket)")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise ImageReadError(f"{p}: cannot read ({e.strerror})") from None
    if size == 0:
        raise ImageReadError(f"{p}: empty file (0 bytes)")
    return _decode(p, p, max_pixels)


def read_image_bytes(data: bytes, *, name: str = "<stdin>", max_pixels: int | None = DEFAULT_MAX_PIXELS
                     ) -> Picture:
    """:func:`read_image` for an image held in memory (e.g. read from standard input); ``name``
    stands for the file in error messages."""
    if max_pixels is not None and max_pixels < 1:
        raise ImageReadError(f"max_pixels must be at least 1, got {max_pixels}")
    if not data:
        raise ImageReadError(f"{name}: empty input (0 bytes)")
    return _decode(bytes(data), name, max_pixels)


def _decode(src: Path | bytes, p: Path | str, max_pixels: int | None) -> Picture:
    """Decode ``src`` (a checked path, or the bytes of a file) into a :class:`Picture`; ``p``
    names it in error messages."""
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that; we refuse above ours.
        Image.MAX_IMAGE_PIXELS = max_pixels if max_pixels is not None else old_limit
        # Other decoder warnings (e.g. "Corrupt EXIF data") are recorded and become notes.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_source(src), formats=_read_formats()) as img:
                w, h = img.size
                if max_pixels is not None and w * h > max_pixels:
                    raise ImageTooLargeError(_limit_message(p, f"{w}x{h} = {w * h:,} pixels", max_pixels))
                if w < 1 or h < 1:
                    raise ImageReadError(f"{p}: image has no pixels ({w}x{h})")
                notes: list[str] = []
                if _sixteen_bit_colour(img):
                    notes.append(f"16-bit {img.mode} {img.format} read with 8 bits per channel (Pillow's limit)")
                n_frames = int(getattr(img, "n_frames", 1))
                if n_frames > 1:
                    notes.append(f"{img.format} has {n_frames} frames; using the first")
                    img.seek(0)
                img.load()
                upright = ImageOps.exif_transpose(img)
                if upright is not img:
                    orientation = img.getexif().get(0x0112)
                    if orientation not in (None, 1):
                        notes.append(f"applied EXIF orientation {orientation}")
                try:
                    pic = from_pil(upright)
                except ImageReadError as e:
                    raise ImageReadError(f"{p}: {e}") from None
                if img.format in _EXIF_FORMATS:
                    pic.exif = _read_exif(upright, notes)
                notes += list(dict.fromkeys(f"decoder warning: {' '.join(str(w.message).split())}" for w in caught))
                pic.notes[:0] = notes
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        limit = max_pixels if max_pixels is not None else int(old_limit or 0)
        raise ImageTooLargeError(_limit_message(p, _announced_size(src, e), limit)) from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{p}: not an image, or not a format srcnn reads (PNG, JPEG, TIFF, "
                             "BMP, WebP, GIF, ...)") from None
    except MemoryError:
        raise ImageReadError(f"{p}: not enough memory to decode this image") from None
    except PermissionError:
        raise ImageReadError(f"{p}: cannot read (permission denied)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"{p}: damaged or truncated image ({e})") from None
    except Exception as e:  # Pillow raises many kinds of errors on malformed files
        raise ImageReadError(f"{p}: damaged image ({type(e).__name__}: {e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    if min(pic.data.shape[:2]) < 1:
        raise ImageReadError(f"{p}: image has no pixels")
    return pic


def _read_exif(img: Image.Image, notes: list[str]) -> bytes | None:
    """The EXIF block of an upright image as bytes (None when there is none or it is unreadable)."""
    try:
        ex = img.getexif()
        ex.pop(0x0112, None)  # the pixels are upright now
        return ex.tobytes() if len(ex) else None
    except Exception:  # a malformed EXIF block must not stop the upscale
        notes.append("unreadable EXIF metadata; not copied")
        return None


def output_exif(exif: bytes, size: tuple[int, int]) -> bytes:
    """``exif`` for an output of ``size`` (width, height): the pixel dimension tags updated."""
    ex = Image.Exif()
    ex.load(exif)
    ex.pop(0x0112, None)
    if 0x8769 in ex:  # the Exif sub-IFD: PixelXDimension, PixelYDimension
        sub = ex.get_ifd(0x8769)
        for tag, v in ((0xA002, size[0]), (0xA003, size[1])):
            if tag in sub:
                sub[tag] = v
    return ex.tobytes()


def save_params(pic: Picture, fmt: str, size: tuple[int, int]) -> tuple[dict[str, object], list[str]]:
    """Pillow ``save`` keywords for writing ``pic``'s pixels as ``fmt`` (quality, and the input's
    ICC profile and EXIF where the format holds them), and notes on what could not be kept."""
    params: dict[str, object] = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    notes: list[str] = []
    if pic.icc_profile:
        if fmt in _ICC_FORMATS:
            params["icc_profile"] = pic.icc_profile
        else:
            notes.append(f"{fmt} cannot hold a colour profile; the input's ICC profile was not copied")
    if pic.exif:
        if fmt in _EXIF_FORMATS:
            try:
                exif = output_exif(pic.exif, size)
            except Exception:
                notes.append("unreadable EXIF metadata; not copied")
            else:
                if fmt in ("JPEG", "MPO") and len(exif) > _JPEG_MAX_EXIF:
                    notes.append(f"the EXIF block ({len(exif):,} bytes) is too long for JPEG; not copied")
                else:
                    params["exif"] = exif
        else:
            notes.append(f"srcnn does not write EXIF to {fmt}; the input's EXIF was not copied")
    return params, notes


def quantize(data: np.ndarray, dtype: type[np.uint8] | type[np.uint16], block_values: int = 1 << 22) -> np.ndarray:
    """``floor(clip(data, 0, 1) * peak + 0.5)`` as uint8 (peak 255) or uint16 (peak 65535), computed in float64
    a block of rows (about ``block_values`` values, 32 MB of float64) at a time, so that a large image needs no
    float64 copy of itself."""
    peak = 255.0 if dtype is np.uint8 else 65535.0
    out = np.empty(data.shape, dtype)
    rows = max(1, block_values // max(1, data[0].size))
    for a in range(0, data.shape[0], rows):
        out[a:a + rows] = np.floor(np.clip(data[a:a + rows], 0.0, 1.0).astype(np.float64) * peak + 0.5)
    return out


def to_pil(pic: Picture, *, bit_depth: int | None = None) -> Image.Image:
    """A PIL image of ``pic`` (values clipped, rounded to nearest). 16-bit only for mode L. The
    ICC profile, if any, is in the image's ``info`` (as Pillow's own operations keep it)."""
    depth = pic.bit_depth if bit_depth is None else bit_depth
    if depth == 16 and pic.mode == "L":
        img = Image.fromarray(quantize(pic.data[:, :, 0], np.uint16))
    else:
        a = quantize(pic.data, np.uint8)
        img = Image.fromarray(a[:, :, 0], mode="L") if pic.mode == "L" else Image.fromarray(a, mode=pic.mode)
    if pic.icc_profile:
        img.info["icc_profile"] = pic.icc_profile
    return img


def encode_image(pic: Picture, fmt: str) -> tuple[bytes, list[str]]:
    """Encode ``pic`` in a Pillow format name (``PNG``, ``JPEG``, ...). Returns bytes and notes."""
    notes: list[str] = []
    fmt = fmt.upper()
    depth = pic.bit_depth if fmt in _SIXTEEN_BIT_FORMATS else 8
    if pic.bit_depth == 16 and depth == 8:
        notes.append(f"{fmt} cannot hold 16 bits; wrote 8 bits")
    img, alpha_notes = drop_alpha(to_pil(pic, bit_depth=depth), fmt)
    notes += alpha_notes
    params, meta_notes = save_params(pic, fmt, img.size)
    notes += meta_notes
    buf = io.BytesIO()
    try:
        img.save(buf, format=fmt, **params)
    except (OSError, ValueError, KeyError) as e:
        raise ImageWriteError(f"cannot encode image as {fmt}: {e}") from None
    return buf.getvalue(), notes


#: Output formats srcnn writes (Pillow names): raster formats that encode any of our modes, with
#: :func:`drop_alpha` for those without an alpha channel. Pillow's others (PDF, EPS, ICO, DDS, ...)
#: are documents, icons or textures, refused up front.
_WRITE_FORMATS = {"PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF", "PPM", "TGA", "JPEG2000"}
#: Of those, the ones that keep an alpha channel (the others get it dropped, with a note).
_ALPHA_FORMATS = {"PNG", "TIFF", "WEBP", "TGA", "JPEG2000"}


def format_for_path(path: str | os.PathLike[str]) -> str:
    """Pillow format name from a file suffix; raises :class:`ImageWriteError` if srcnn does not
    write that type."""
    ext = Path(path).suffix.lower()
    Image.init()
    fmt = Image.EXTENSION.get(ext)
    if fmt is None or fmt not in Image.SAVE or fmt not in _WRITE_FORMATS:
        raise ImageWriteError(f"{path}: unknown or unsupported output image type {ext or '(no suffix)'!r}; "
                              "use .png, .jpg, .tif, .bmp or .webp (or .gif, .ppm, .tga, .jp2)")
    return fmt


def drop_alpha(img: Image.Image, fmt: str) -> tuple[Image.Image, list[str]]:
    """``img`` ready for format ``fmt``: an RGBA / LA image loses its alpha channel (with a note)
    when ``fmt`` cannot keep it."""
    if img.mode in ("RGBA", "LA") and fmt.upper() not in _ALPHA_FORMATS:
        return img.convert("RGB" if img.mode == "RGBA" else "L"), [f"{fmt.upper()} has no alpha channel; alpha dropped"]
    return img, []


def write_image(pic: Picture, path: str | os.PathLike[str], *, overwrite: bool = False) -> list[str]:
    """Encode and write ``pic`` atomically (temporary file + rename). Returns notes."""
    data, notes = encode_image(pic, format_for_path(path))
    atomic_write_bytes(path, data, overwrite=overwrite)
    return notes
