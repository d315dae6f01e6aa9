"""`srcnn upscale` on Set5 low-resolution PNGs against an independent numpy implementation of the
same path (issue: "same Y-PSNR as an independent implementation, within 0.05 dB")."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from srcnn.cli import main

# ----------------------------------------------------------------- independent reference (numpy)
_T = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]])
_OFF = np.array([16.0, 128.0, 128.0])


def ref_cubic(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return np.where(a <= 1, 1.5 * a**3 - 2.5 * a**2 + 1,
                    np.where(a <= 2, -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2, 0.0))


def ref_resize_axis0(img: np.ndarray, out_len: int, scale: float) -> np.ndarray:
    """Matlab imresize along axis 0, written out per output pixel with np.pad('symmetric')."""
    img.shape[0]
    width = 4.0 / scale if scale < 1 else 4.0
    pad = math.ceil(width) + 2
    padded = np.pad(img, [(pad, pad)] + [(0, 0)] * (img.ndim - 1), mode="symmetric")
    out = np.empty((out_len, *img.shape[1:]))
    for i in range(out_len):
        center = (i + 1) / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate
        left = math.floor(center - width / 2)
        js = np.arange(left, left + math.ceil(width) + 2)
        d = center - js
        wts = scale * ref_cubic(scale * d) if scale < 1 else ref_cubic(d)
        wts = wts / wts.sum()
        rows = padded[js - 1 + pad]
        out[i] = np.tensordot(wts, rows, axes=(0, 0))
    return out


def ref_imresize(img: np.ndarray, scale: float, out_hw: tuple[int, int]) -> np.ndarray:
    tmp = ref_resize_axis0(img, out_hw[0], scale)
    return ref_resize_axis0(tmp.swapaxes(0, 1), out_hw[1], scale).swapaxes(0, 1)


def ref_conv_same_replicate(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x (C, H, W), w (O, C, k, k): correlation with edge padding, as imfilter 'replicate'."""
    k = w.shape[-1]
    r = k // 2
    xp = np.pad(x, [(0, 0), (r, r), (r, r)], mode="edge")
    h, wd = x.shape[1:]
    out = np.zeros((w.shape[0], h, wd))
    for dy in range(k):
        for dx in range(k):
            out += np.einsum("oc,chw->ohw", w[:, :, dy, dx], xp[:, dy:dy + h, dx:dx + wd])
    return out + b[:, None, None]


def ref_srcnn(mat: Path, y: np.ndarray) -> np.ndarray:
    m = scipy.io.loadmat(str(mat))
    w1, w2, w3 = m["weights_conv1"], m["weights_conv2"], m["weights_conv3"]
    n1, f2sq, n2 = w2.shape
    f2 = round(math.sqrt(f2sq))
    c1 = np.stack([w1[:, i].reshape(9, 9, order="F") for i in range(n1)])[:, None]
    c2 = np.zeros((n2, n1, f2, f2))
    for i in range(n2):
        for j in range(n1):
            c2[i, j] = w2[j, :, i].reshape(f2, f2, order="F")
    c3 = np.stack([w3[i, :].reshape(5, 5, order="F") for i in range(n2)])[None]
    h = np.maximum(ref_conv_same_replicate(y[None], c1, m["biases_conv1"].ravel()), 0)
    h = np.maximum(ref_conv_same_replicate(h, c2, m["biases_conv2"].ravel()), 0)
    return ref_conv_same_replicate(h, c3, m["biases_conv3"].ravel())[0]


def ref_upscale(lr_rgb8: np.ndarray, scale: int, mat: Path) -> np.ndarray:
    ycc = (lr_rgb8.astype(np.float64) @ _T.T / 255.0 + _OFF) / 255.0
    out_hw = (lr_rgb8.shape[0] * scale, lr_rgb8.shape[1] * scale)
    big = ref_imresize(ycc, float(scale), out_hw)
    big[:, :, 0] = ref_srcnn(mat, big[:, :, 0])
    rgb = (big * 255.0 - _OFF) @ np.linalg.inv(_T).T * 255.0  # inv(T) maps back to RGB in [0, 1]
    return np.clip(np.floor(rgb + 0.5), 0, 255).astype(np.uint8)


def y_of(rgb8: np.ndarray) -> np.ndarray:
    return np.floor(rgb8.astype(np.float64) @ _T[0] / 255.0 + 16 + 0.5)


def y_psnr(a: np.ndarray, b: np.ndarray, border: int) -> float:
    d = (y_of(a) - y_of(b))[border:-border, border:-border]
    return 20 * math.log10(255 / math.sqrt(np.mean(d * d)))


# --------------------------------------------------------------------------------------- test
def test_upscale_set5_matches_independent_path(data_root: Path, authors_dir: Path, tmp_path: Path) -> None:
    mat = authors_dir / "9-5-5(ImageNet)" / "x3.mat"
    ours, refs, bics = [], [], []
    for gt_path in sorted((data_root / "Set5").glob("*.bmp")):
        gt = np.asarray(Image.open(gt_path).convert("RGB"))
        gt = gt[: gt.shape[0] // 3 * 3, : gt.shape[1] // 3 * 3]
        lr = ref_imresize(gt.astype(np.float64) / 255.0, 1 / 3, (gt.shape[0] // 3, gt.shape[1] // 3))
        lr8 = np.clip(np.floor(lr * 255 + 0.5), 0, 255).astype(np.uint8)
        lr_png = tmp_path / f"{gt_path.stem}_lr.png"
        Image.fromarray(lr8).save(lr_png)
        out = tmp_path / f"{gt_path.stem}_x3.png"
        assert main(["upscale", str(lr_png), "-s", "3", "-w", str(mat), "-o", str(out), "-q"]) == 0
        sr = np.asarray(Image.open(out))
        assert sr.shape == gt.shape  # sizes are exact
        ref = ref_upscale(lr8, 3, mat)
        ours.append(y_psnr(sr, gt, 3))
        refs.append(y_psnr(ref, gt, 3))
        bic = ref_imresize(lr8.astype(np.float64) / 255, 3.0, gt.shape[:2])
        bics.append(y_psnr(np.clip(np.floor(bic * 255 + 0.5), 0, 255).astype(np.uint8), gt, 3))
        assert ours[-1] == pytest.approx(refs[-1], abs=0.05), gt_path.name
    assert np.mean(ours) == pytest.approx(np.mean(refs), abs=0.05)
    # The model must help on the real user path, by a wide margin.
    assert np.mean(ours) > np.mean(bics) + 1.5


def test_stretch_rescues_images_that_fill_a_small_part_of_their_range(tmp_path: Path) -> None:
    # 12-bit-like data in uint16 (0..2000 of 65535): taken as it is, the shipped model (trained on 8-bit photos,
    # luma 16..235) lifts it and scores far below bicubic; stretch=True maps 0..2000 to the full range and back.
    import torch
    from skimage import data

    import srcnn
    from srcnn.cli import main

    gt = data.camera()[:192, :192].astype(np.float64) / 255 * (2000 / 65535)
    lr = srcnn.imresize(torch.from_numpy(gt.astype(np.float32))[None], scale=1 / 3)[0].numpy()
    lr16 = np.floor(np.clip(lr, 0, 1) * 65535 + 0.5).astype(np.uint16)

    def psnr(x: np.ndarray) -> float:
        err = x.astype(np.float64)[3:-3, 3:-3] / 65535 - gt[3:-3, 3:-3]
        return float(10 * np.log10((2000 / 65535) ** 2 / (err**2).mean()))

    bicubic = srcnn.imresize(torch.from_numpy(lr16.astype(np.float32) / 65535)[None], scale=3)[0].numpy()
    as_is, stretched = srcnn.upscale(lr16, 3, "srcnn-955-x3"), srcnn.upscale(lr16, 3, "srcnn-955-x3", stretch=True)
    b = psnr(np.floor(np.clip(bicubic, 0, 1) * 65535 + 0.5))
    assert psnr(as_is) < b - 10  # measured 19.2 against 31.9 dB
    assert psnr(stretched) > b + 4  # measured 37.7
    assert stretched.dtype == np.uint16 and stretched.max() <= 2000 + 400  # back in the image's own range
    # an 8-bit photo that already spans 0..255 is unchanged by it; a flat image too
    photo = data.astronaut()[:64, :64].copy()
    photo[0, 0], photo[0, 1] = 0, 255
    assert np.array_equal(srcnn.upscale(photo, 3, stretch=True), srcnn.upscale(photo, 3))
    flat = np.full((20, 20), 7, np.uint8)
    assert np.array_equal(srcnn.upscale(flat, 2, stretch=True), srcnn.upscale(flat, 2))
    # the range is the visible pixels': what a fully transparent pixel hides does not count
    seen = np.dstack([lr16.astype(np.float32) / 65535, np.ones(lr16.shape, np.float32)])
    hiding = seen.copy()
    hiding[:4, :4] = [1.0, 0.0]  # a transparent corner hiding white
    shown = srcnn.upscale(hiding, 3, "srcnn-955-x3", stretch=True)
    plain = srcnn.upscale(np.where(hiding[..., 1:] > 0, hiding, 0).astype(np.float32), 3, "srcnn-955-x3",
                          stretch=True)
    visible = shown[..., 1] > 0
    assert np.array_equal(shown[visible], plain[visible])
    # the CLI's --stretch: the same result
    Image.fromarray(lr16).save(tmp_path / "dark.png")
    assert main(["upscale", str(tmp_path / "dark.png"), "-s", "3", "-w", "srcnn-955-x3", "--stretch", "-q",
                 "-o", str(tmp_path / "big.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "big.png")), stretched)
