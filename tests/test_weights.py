import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import torch

from srcnn.errors import WeightsError
from srcnn.weights import load_mat, load_safetensors, load_weights, save_weights

from .conftest import random_weights


def test_roundtrip(tmp_path: Path) -> None:
    w = random_weights("9-5-5", scales=(2.0, 3.0, 4.0))
    p = tmp_path / "m.safetensors"
    digest = save_weights(w, p)
    back = load_weights(p)
    assert back.config == w.config
    assert back.scales == (2.0, 3.0, 4.0)
    assert back.provenance == "random test weights"
    assert len(digest) == 64
    for k, v in w.state_dict.items():
        assert torch.equal(back.state_dict[k], v)


def test_refuses_overwrite(tmp_path: Path) -> None:
    p = tmp_path / "m.safetensors"
    save_weights(random_weights(), p)
    with pytest.raises(WeightsError, match=r"exists; pass overwrite=True"):
        save_weights(random_weights(), p)


def test_corrupt_tensor_bytes_refused(tmp_path: Path) -> None:
    p = tmp_path / "m.safetensors"
    save_weights(random_weights(), p)
    raw = bytearray(p.read_bytes())
    raw[-10] ^= 0xFF  # flip bits inside the last tensor's data
    p.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="corrupt"):
        load_safetensors(p)


@pytest.mark.parametrize("content", [b"", b"hello, not weights", b"\x00" * 64])
def test_garbage_refused(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "bad.safetensors"
    p.write_bytes(content)
    with pytest.raises(WeightsError):
        load_weights(p)


def test_unknown_spec(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="unknown weights"):
        load_weights("no-such-model")
    (tmp_path / "x.pth").write_bytes(b"pickle")
    with pytest.raises(WeightsError, match="unknown weights file type"):
        load_weights(tmp_path / "x.pth")


def _fake_mat(path: Path, f2: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = {
        "weights_conv1": rng.normal(size=(81, 64)),
        "biases_conv1": rng.normal(size=(64, 1)),
        "weights_conv2": rng.normal(size=(64, f2 * f2, 32)),
        "biases_conv2": rng.normal(size=(32, 1)),
        "weights_conv3": rng.normal(size=(32, 25)),
        "biases_conv3": rng.normal(size=(1, 1)),
    }
    scipy.io.savemat(str(path), d)
    return d


@pytest.mark.parametrize("f2", [1, 3, 5])
def test_mat_layout_column_major(tmp_path: Path, f2: int) -> None:
    p = tmp_path / "x3.mat"
    d = _fake_mat(p, f2)
    w = load_mat(p)
    assert w.config.name == f"9-{f2}-5"
    assert w.scales == (3.0,)
    sd = w.state_dict
    # conv1 filter 7, element (row 2, col 5) is weights_conv1(2 + 5*9, 7) in column-major order.
    assert sd["conv1.weight"][7, 0, 2, 5].item() == pytest.approx(d["weights_conv1"][2 + 5 * 9, 7])
    if f2 > 1:
        # filter from input 10 to output 4, element (r=1, c=2): weights_conv2(10, 1 + 2*f2, 4)
        assert sd["conv2.weight"][4, 10, 1, 2].item() == pytest.approx(d["weights_conv2"][10, 1 + 2 * f2, 4])
    assert sd["conv3.weight"][0, 20, 4, 1].item() == pytest.approx(d["weights_conv3"][20, 4 + 1 * 5])
    assert sd["conv3.bias"].item() == pytest.approx(d["biases_conv3"][0, 0])


def test_mat_missing_variables(tmp_path: Path) -> None:
    p = tmp_path / "x2.mat"
    scipy.io.savemat(str(p), {"weights_conv1": np.zeros((81, 64))})
    with pytest.raises(WeightsError, match="missing variables"):
        load_mat(p)
    q = tmp_path / "x2b.mat"
    q.write_bytes(b"MATLAB 5.0 garbage")
    with pytest.raises(WeightsError):
        load_mat(q)


def test_authors_files_convert(authors_dir: Path, tmp_path: Path) -> None:
    expected = {"9-1-5(91 images)": "9-1-5", "9-1-5(ImageNet)": "9-1-5",
                "9-3-5(ImageNet)": "9-3-5", "9-5-5(ImageNet)": "9-5-5"}
    n = 0
    for sub, arch in expected.items():
        for mat in sorted((authors_dir / sub).glob("x*.mat")):
            w = load_mat(mat)
            assert w.config.name == arch
            assert w.scales == (float(mat.stem[1:]),)
            assert "sha256" in w.provenance
            out = tmp_path / f"{sub}-{mat.stem}.safetensors"
            save_weights(w, out)
            back = load_weights(out)
            assert back.config == w.config
            n += 1
    assert n == 8


def test_non_finite_weights_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights holding NaN or infinity (a diverged training's) would turn every output black: refused
    when saved, and when read (a file written by other means, or before the save check)."""
    from dataclasses import replace

    import srcnn.weights as wmod

    w = load_weights("srcnn-915-x3")
    for bad in (float("nan"), float("inf")):
        sd = {k: v.clone() for k, v in w.state_dict.items()}
        sd["conv2.bias"][3] = bad
        f = tmp_path / f"w{bad}.safetensors"
        with pytest.raises(WeightsError, match=r"conv2\.bias holds NaN or infinite values"):
            save_weights(replace(w, state_dict=sd), f)
        assert not f.exists()
        with monkeypatch.context() as mp:
            mp.setattr(wmod, "_check_savable", lambda *a: None)
            save_weights(replace(w, state_dict=sd), f)
        with pytest.raises(WeightsError, match=r"conv2\.bias holds NaN or infinite values"):
            load_weights(f)


def test_save_refuses_what_load_would_refuse(tmp_path: Path) -> None:
    from dataclasses import replace

    from srcnn.model import config_for

    w = load_weights("srcnn-915-x3")
    for bad, where, needle in [(w, "w.pt", "end in .safetensors"),
                               (replace(w, config=config_for("9-5-5")), "a.safetensors", "expects"),
                               (replace(w, state_dict={k: v for k, v in w.state_dict.items() if k != "conv1.bias"}),
                                "b.safetensors", "without the tensors ['conv1.bias']"),
                               (replace(w, channels_mode="bgr"), "c.safetensors", "channels_mode must be one of"),
                               (replace(w, scales=(float("nan"),)), "e.safetensors", "scales must be numbers above 1"),
                               (replace(w, extra={"k": 3}), "f.safetensors", "metadata must be text, not ['k']"),
                               (replace(w, provenance=None), "g.safetensors", "metadata must be text"),
                               (w.build(), "h.safetensors", "takes a srcnn.Weights, got SRCNN")]:
        with pytest.raises(WeightsError, match=re.escape(needle)):
            save_weights(bad, tmp_path / where)
        assert not (tmp_path / where).exists()
    with pytest.raises(WeightsError, match="scales must be numbers, got 'abc'"):  # refused when made, not saved
        replace(w, scales=("abc",))


def test_weights_refuse_misuse_when_made_and_take_numbers_of_any_kind() -> None:
    from srcnn.weights import Weights

    w = load_weights("srcnn-915-x3")
    m = w.build()
    # scales: one bare number, numpy and 0-d torch numbers are plain floats (save_weights used to refuse np.float32(3)
    # as "not a number above 1", and scales=3.0 was a TypeError)
    for given in (3, 3.0, (np.float32(3),), [np.int64(3)], (torch.tensor(3.0),), torch.tensor(3), np.array([3.0])):
        made = Weights(m.config, m.state_dict(), scales=given)  # type: ignore[arg-type]
        assert made.scales == (3.0,) and type(made.scales[0]) is float
    for bad, needle in [(dict(config="9-1-5"), "config must be an SRCNNConfig"),
                        (dict(scales=(True,)), "scales must be numbers"),
                        (dict(scales=(torch.ones(2),)), "scales must be numbers"),
                        (dict(state_dict={k: v.numpy() for k, v in m.state_dict().items()}),
                         "is a ndarray, not a torch tensor (torch.from_numpy(...) makes one)"),
                        (dict(state_dict=[1, 2]), "state_dict must be a mapping")]:
        args: dict[str, Any] = {"config": m.config, "state_dict": m.state_dict(), **bad}
        with pytest.raises(WeightsError, match=re.escape(needle)):
            Weights(**args)
    with pytest.raises(WeightsError, match="scale must be a number, got 'x3'"):
        w.supports_scale("x3")  # type: ignore[arg-type]
    assert w.supports_scale("3") and not w.supports_scale(2)  # type: ignore[arg-type]


def test_onnx_check_counts_nan_as_a_mismatch() -> None:
    pytest.importorskip("onnxruntime")
    from srcnn.engine import check_onnx, export_onnx
    from srcnn.model import srcnn

    m = srcnn("9-1-5", padding="symmetric").eval()
    assert check_onnx(export_onnx(m), m) < 1e-4
    with torch.no_grad():
        m.conv3.bias.fill_(float("nan"))
    assert check_onnx(export_onnx(m), m) == float("inf")
