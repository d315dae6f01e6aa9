import numpy as np
import pytest
import torch
from scipy import ndimage

from srcnn.errors import ConfigError
from srcnn.model import (
    ARCHITECTURES,
    SRCNN,
    SRCNNConfig,
    config_for,
    inference_padding,
    mirror_index,
    pad_symmetric,
    srcnn,
)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("padding", ["replicate", "zeros", "symmetric", "valid"])
def test_shapes(arch: str, padding: str) -> None:
    m = srcnn(arch, padding=padding)  # type: ignore[arg-type]
    x = torch.rand(2, 1, 33, 40)
    y = m(x)
    s = m.config.shrink if padding == "valid" else 0
    assert y.shape == (2, 1, 33 - s, 40 - s)
    assert torch.isfinite(y).all()


def test_valid_label_size_and_params() -> None:
    assert config_for("9-1-5").shrink == 12  # 33x33 sub-image -> 21x21 label
    assert config_for("9-5-5").shrink == 16
    n = sum(p.numel() for p in srcnn("9-1-5").parameters())
    assert n == 81 * 64 + 64 + 64 * 32 + 32 + 32 * 25 + 1  # 8129, the paper's ~8k
    assert sum(p.numel() for p in srcnn("9-5-5").parameters()) == 5184 + 64 + 51200 + 32 + 800 + 1


def test_three_channel_model() -> None:
    m = SRCNN(SRCNNConfig(channels=3))
    assert m(torch.rand(1, 3, 20, 20)).shape == (1, 3, 20, 20)


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        SRCNNConfig(f1=4)
    with pytest.raises(ConfigError):
        SRCNNConfig(padding="reflect")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        config_for("9-9-9")


def _reference_forward(m: SRCNN, img: np.ndarray) -> np.ndarray:
    """imfilter(..., 'same', 'replicate') layer by layer with scipy (mode 'nearest' = replicate)."""
    sd = {k: v.double().numpy() for k, v in m.state_dict().items()}
    x = [img]
    for layer in (1, 2, 3):
        w, b = sd[f"conv{layer}.weight"], sd[f"conv{layer}.bias"]
        out = []
        for i in range(w.shape[0]):
            acc = sum(ndimage.correlate(x[j], w[i, j], mode="nearest") for j in range(w.shape[1]))
            acc = acc + b[i]
            out.append(np.maximum(acc, 0) if layer < 3 else acc)
        x = out
    return x[0]


def test_replicate_padding_matches_imfilter_semantics() -> None:
    torch.manual_seed(0)
    m = SRCNN(SRCNNConfig(f1=5, f2=3, f3=3, n1=4, n2=3)).double().eval()
    img = np.random.default_rng(1).random((13, 11))
    with torch.no_grad():
        got = m(torch.from_numpy(img)[None, None])[0, 0].numpy()
    assert np.allclose(got, _reference_forward(m, img), atol=1e-10)


def test_zero_padding_differs_only_at_borders() -> None:
    torch.manual_seed(0)
    rep = srcnn("9-1-5").eval()
    zer = srcnn("9-1-5", padding="zeros").eval()
    zer.load_state_dict(rep.state_dict())
    x = torch.rand(1, 1, 40, 40)
    with torch.no_grad():
        a, b = rep(x), zer(x)
    r = rep.config.radius
    assert torch.allclose(a[..., r:-r, r:-r], b[..., r:-r, r:-r], atol=1e-6)
    assert not torch.allclose(a, b)


def test_symmetric_padding_is_matlab_symmetric() -> None:
    assert mirror_index(-3, 6, 3).tolist() == [2, 1, 0, 0, 1, 2, 2, 1, 0]
    assert mirror_index(-2, 3, 1).tolist() == [0, 0, 0, 0, 0]
    a = np.arange(20.0).reshape(4, 5)
    for r in (0, 1, 3, 4, 9):  # 9: farther than the image is wide (np.pad repeats the mirror too)
        assert np.array_equal(pad_symmetric(torch.from_numpy(a), r).numpy(), np.pad(a, r, mode="symmetric")), r


def test_symmetric_model_is_valid_model_on_mirrored_input() -> None:
    torch.manual_seed(0)
    sym = srcnn("9-5-5", padding="symmetric").double().eval()
    val = srcnn("9-5-5", padding="valid").double().eval()
    rep = srcnn("9-5-5").double().eval()
    val.load_state_dict(sym.state_dict())
    rep.load_state_dict(sym.state_dict())
    img = np.random.default_rng(2).random((30, 21))
    r = sym.config.radius
    with torch.no_grad():
        got = sym(torch.from_numpy(img)[None, None])[0, 0].numpy()
        ref = val(torch.from_numpy(np.pad(img, r, mode="symmetric"))[None, None])[0, 0].numpy()
        other = rep(torch.from_numpy(img)[None, None])[0, 0].numpy()
    assert got.shape == img.shape and np.allclose(got, ref, atol=1e-12)
    assert np.allclose(got[r:-r, r:-r], other[r:-r, r:-r], atol=1e-12)  # the interior is padding-free
    assert np.abs(got - other).max() > 1e-3  # the border is not
    assert inference_padding("valid") == "symmetric" and inference_padding("zeros") == "zeros"


@pytest.mark.parametrize("arch", ["9-1-5", "9-3-5", "9-5-5"])
@pytest.mark.parametrize("channels", [1, 3])
def test_valid_im2col_equals_convolutions(arch: str, channels: int) -> None:
    """On the CPU a valid-padded model trains with its first layer as an im2col product: same
    outputs and gradients as PyTorch's convolutions."""
    torch.manual_seed(0)
    m = SRCNN(config_for(arch, channels=channels, padding="valid"))
    for h, w in [(33, 33), (21, 40)]:
        x = torch.rand(3, channels, h, w)
        fast = m(x)
        ref = m.conv3(torch.relu(m.conv2(torch.relu(m.conv1(x)))))
        assert fast.shape == ref.shape == (3, channels, h - m.config.shrink, w - m.config.shrink)
        assert (fast - ref).abs().max().item() < 1e-6
        g_fast = torch.autograd.grad(fast.square().sum(), list(m.parameters()))
        g_ref = torch.autograd.grad(ref.square().sum(), list(m.parameters()))
        for a, b in zip(g_fast, g_ref, strict=True):
            assert ((a - b).abs().max() / b.abs().max()).item() < 1e-4
