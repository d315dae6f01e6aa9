"""Scale-conditioned (multi-scale) models: weights polynomial in the scale, folded per scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srcnn.cli import main
from srcnn.errors import ConfigError, WeightsError
from srcnn.model import SRCNN, ScaleConditionedSRCNN, ScalePoly, config_for, fold_poly, poly_key
from srcnn.train import Batches, TrainConfig, train
from srcnn.weights import Weights, load_weights, save_weights

from .conftest import load_tool

POLY = ScalePoly(1.5, 4.0, 2)


def _random_poly_model(arch: str = "9-1-5", padding: str = "replicate") -> ScaleConditionedSRCNN:
    torch.manual_seed(0)
    m = ScaleConditionedSRCNN(config_for(arch, padding=padding), POLY)  # type: ignore[arg-type]
    with torch.no_grad():
        for p in m.coef.values():
            p.normal_(0, 0.02)
    return m


def test_scale_code_runs_from_minus_one_to_one() -> None:
    assert POLY.code(1.5) == -1.0 and POLY.code(4.0) == 1.0 and POLY.code(2.75) == 0.0
    assert POLY.covers(2.5) and POLY.covers(4.0) and not POLY.covers(4.5) and not POLY.covers(1.0)
    with pytest.raises(ConfigError):
        ScalePoly(3.0, 2.0)
    with pytest.raises(ConfigError):
        ScalePoly(1.5, 4.0, 0)


def test_fold_is_the_polynomial() -> None:
    m = _random_poly_model()
    t = POLY.code(3.5)
    folded = m.weights_at(3.5)
    for k, w0 in m.net.named_parameters():
        c1 = m.coef[poly_key(k, 1).replace(".", "_")]
        c2 = m.coef[poly_key(k, 2).replace(".", "_")]
        torch.testing.assert_close(folded[k], w0 + t * c1 + t * t * c2)
    # different scales, different networks
    assert not torch.allclose(m.weights_at(2.0)["conv1.weight"], m.weights_at(3.0)["conv1.weight"])


def test_zero_coefficients_are_the_plain_network() -> None:
    m = ScaleConditionedSRCNN(config_for("9-1-5"), POLY)
    x = torch.rand(1, 1, 24, 24)
    with torch.no_grad():
        assert torch.equal(m(x, 2.0), m.net(x))
        assert torch.equal(m(x, 4.0), m.net(x))


@pytest.mark.parametrize("padding", ["valid", "replicate"])
def test_forward_equals_the_folded_plain_network_and_trains_every_coefficient(padding: str) -> None:
    m = _random_poly_model("9-5-5", padding)
    x = torch.rand(2, 1, 40, 40)
    y = m(x, 2.5)
    plain = m.at_scale(2.5)
    assert isinstance(plain, SRCNN)
    torch.testing.assert_close(plain(x), y, rtol=0, atol=1e-6)
    y.square().mean().backward()
    grads = {n: p.grad for n, p in m.named_parameters()}
    assert len(grads) == 6 * 3
    assert all(g is not None and float(g.abs().sum()) > 0 for g in grads.values())


def test_weights_round_trip_fold_and_refuse_damage(tmp_path: Path) -> None:
    m = _random_poly_model()
    w = Weights(config=m.config, state_dict={k: v.detach() for k, v in m.poly_tensors().items()},
                scales=(1.5, 2.0, 3.0, 4.0), scale_poly=POLY, name="ms")
    path = tmp_path / "ms.safetensors"
    save_weights(w, path)
    back = load_weights(path)
    assert back.scale_poly == POLY
    assert len(back.state_dict) == 18
    assert back.supports_scale(2.5) and back.supports_scale(1.5) and not back.supports_scale(4.5)
    x = torch.rand(1, 1, 30, 30)
    with torch.no_grad():
        torch.testing.assert_close(back.build(scale=2.5)(x), m(x, 2.5), rtol=0, atol=1e-6)
    with pytest.raises(WeightsError, match="give a scale"):
        back.build()
    # a damaged coefficient is refused by the stored digest
    raw = bytearray(path.read_bytes())
    raw[-7] ^= 0x40
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="corrupt"):
        load_weights(bad)
    # a file that claims a polynomial but lacks coefficients is refused
    plain = Weights(config=m.config, state_dict=m.weights_at(2.0), name="plain")
    save_weights(plain, tmp_path / "plain.safetensors")
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(tmp_path / "plain.safetensors"))
    from safetensors import safe_open

    with safe_open(str(tmp_path / "plain.safetensors"), framework="pt") as f:
        meta = dict(f.metadata())
    meta["scale_poly"] = json.dumps(POLY.to_dict())
    save_file(tensors, str(tmp_path / "liar.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match="lack"):
        load_weights(tmp_path / "liar.safetensors")


def test_config_needs_enough_scales() -> None:
    with pytest.raises(ConfigError, match="at least 3 different"):
        TrainConfig(scales=(2.0, 3.0), scale_poly=2)
    TrainConfig(scales=(2.0, 3.0), scale_poly=1)
    with pytest.raises(ConfigError):
        TrainConfig(scales=(2.0, 3.0, 4.0), scale_poly=-1)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    root = tmp_path_factory.mktemp("msdata")
    (root / "train").mkdir()
    (root / "val").mkdir()
    for k, p in enumerate([data.astronaut(), data.coffee(), data.chelsea()]):
        Image.fromarray(np.ascontiguousarray(p[:120, :120, :3])).save(root / "train" / f"{k}.png")
    Image.fromarray(np.ascontiguousarray(data.astronaut()[300:396, 300:396])).save(root / "val" / "a.png")
    return root


def test_each_step_is_one_scale_and_training_writes_conditioned_weights(tiny_root: Path, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    cfg = TrainConfig(train_sets=("train",), val_set="val", data_root=str(tiny_root), out=str(tmp_path / "run"),
                      scales=(3.0, 2.0, 4.0), scale_poly=2, batch_size=8, size=33, max_steps=30,
                      eval_every=30, ckpt_every=15)
    from srcnn.data import PairConfig, build_pairs

    pairs = build_pairs(PairConfig(cfg.train_sets, cfg.scales), cfg.data_root)
    b = Batches(pairs, cfg)
    seen = set()
    for step in range(40):
        s = b.step_scale(step)
        seen.add(s)
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + 7 * step + 1)
        from srcnn.data import random_positions

        idx = b.by_scale[s]
        rows = random_positions([pairs[i] for i in idx], cfg.batch, cfg.patch, g)
        assert all(pairs[i].scale == s for i in idx[rows[:, 0]])
    assert seen == {2.0, 3.0, 4.0}

    res = train(cfg)
    assert res["step"] == 30
    w = load_weights(tmp_path / "run" / "last.safetensors")
    assert w.scale_poly == ScalePoly(2.0, 4.0, 2)
    assert w.scales == (2.0, 3.0, 4.0)
    assert float(w.state_dict[poly_key("conv1.weight", 1)].abs().sum()) > 0  # the coefficients trained
    folded = fold_poly(w.state_dict, w.scale_poly, 2.0)
    assert set(folded) == {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
                           "conv3.bias"}

    # the CLI: export needs a scale inside the range, evaluate needs a scale
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", "-w", str(tmp_path / "run" / "last.safetensors"), "-o", str(onnx_path),
                 "--no-check"]) == 2
    assert "pass --scale" in capsys.readouterr().err
    assert main(["export", "-w", str(tmp_path / "run" / "last.safetensors"), "-o", str(onnx_path),
                 "--no-check", "-s", "5"]) == 2
    assert "not x5" in capsys.readouterr().err
    assert not onnx_path.exists()
    pytest.importorskip("onnx")
    assert main(["export", "-w", str(tmp_path / "run" / "last.safetensors"), "-o", str(onnx_path),
                 "-s", "2.5"]) == 0
    assert onnx_path.stat().st_size > 0


def test_shipped_multiscale_serves_non_integer_scales(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --weights, x2.5 goes to the shipped scale-conditioned model; the demo beats bicubic."""
    from srcnn.demo import run_demo
    from srcnn.pretrained import best_for_scale

    info = best_for_scale(2.5)
    assert info is not None and info.name == "srcnn-955-ms"
    assert best_for_scale(4.5) is None
    res = run_demo(2.5)
    assert res.model_name == "srcnn-955-ms"
    assert res.psnr_srcnn > res.psnr_bicubic + 1.0, (res.psnr_bicubic, res.psnr_srcnn)
    from skimage import data

    src = tmp_path / "small.png"
    Image.fromarray(data.astronaut()[::5, ::5]).save(src)  # 103 x 103
    assert main(["upscale", str(src), "--scale", "2.5", "-o", str(tmp_path / "big.png"), "-q"]) == 0
    with Image.open(tmp_path / "big.png") as im:
        assert im.size == (258, 258)  # round(2.5 * 103)
    assert main(["upscale", str(src), "--scale", "4.5", "-o", str(tmp_path / "no.png"), "-q"]) != 0
    err = capsys.readouterr().err
    assert "no shipped model serves x4.5 (they cover x1.5 to x4)" in err
    assert "upscale twice (x2.12, then x2.12 of that result)" in err  # x4 then x1.125: no model for 1.125
    assert not (tmp_path / "no.png").exists()
    assert main(["upscale", str(src), "--scale", "8", "-o", str(tmp_path / "no.png"), "-q"]) == 1
    assert "upscale twice (x4, then x2 of that result)" in capsys.readouterr().err
    assert main(["upscale", str(src), "--scale", "1.2", "-o", str(tmp_path / "no.png"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "no shipped model serves x1.2" in err and "srcnn train --scale 1.2" in err and "twice" not in err


def test_balanced_scales_weigh_by_bicubic_error(tiny_root: Path) -> None:
    """--balance-scales: loss weights inversely proportional to each scale's bicubic MSE, mean 1."""
    from srcnn.data import PairConfig, build_pairs
    from srcnn.train import bicubic_mse

    cfg = TrainConfig(train_sets=("train",), data_root=str(tiny_root), scales=(2.0, 3.0, 4.0), scale_poly=2,
                      balance_scales=True, size=33)
    pairs = build_pairs(PairConfig(cfg.train_sets, cfg.scales), cfg.data_root)
    b = Batches(pairs, cfg)
    w = b.loss_weight
    assert sum(w.values()) / 3 == pytest.approx(1.0)
    assert w[2.0] > w[3.0] > w[4.0]  # bicubic errors grow with the scale
    mse = {s: bicubic_mse([p for p in pairs if p.scale == s], cfg.label_crop) for s in (2.0, 3.0, 4.0)}
    assert w[2.0] * mse[2.0] == pytest.approx(w[4.0] * mse[4.0])
    plain = Batches(pairs, TrainConfig(train_sets=("train",), data_root=str(tiny_root), scales=(2.0, 3.0, 4.0),
                                       scale_poly=2, size=33))
    assert set(plain.loss_weight.values()) == {1.0}
    with pytest.raises(ConfigError, match="scale-poly"):
        TrainConfig(scales=(2.0, 3.0, 4.0), balance_scales=True)
    # so are the other options that only act on something not asked for: never silently ignored
    with pytest.raises(ConfigError, match="scale-poly or --scale-knots"):
        TrainConfig(scales=(2.0, 3.0, 4.0), coef_lr=0.5)
    with pytest.raises(ConfigError, match="add --distill-from"):
        TrainConfig(distill_weight=0.3)
    assert TrainConfig(distill_weight=0.3, distill_from="srcnn-915-x3").distill_weight == 0.3
    # a knot that no training scale reaches would be saved untrained, yet claimed as served
    with pytest.raises(ConfigError, match="knot x2 would never be trained"):
        TrainConfig(scale_knots=(2.0, 3.0))  # the default scale 3 only
    with pytest.raises(ConfigError, match="knot x3 would never be trained"):
        TrainConfig(scales=(2.0, 4.0), scale_knots=(2.0, 3.0, 4.0))
    assert TrainConfig(scales=(2.0, 2.5, 4.0), scale_knots=(2.0, 3.0, 4.0)).scale_knots == (2.0, 3.0, 4.0)
    # and numbers that are not whole, or seeds torch cannot take, are refused in Python too
    for bad in ({"seed": 10**20}, {"seed": 1.5}, {"max_steps": 2.5}, {"stride": True}, {"scales": 3},
                {"val_set": None}, {"train_sets": "T91"}):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)  # type: ignore[arg-type]


def test_coefficient_learning_rate() -> None:
    """A degree-d polynomial's parameters learn at 1/(d+1) of the base rate by default, so the folded
    weights move no faster than a plain model's; --coef-lr overrides it."""
    from srcnn.train import make_optimizer

    cfg = TrainConfig(arch="9-1-5", scales=(2.0, 3.0, 4.0), scale_poly=2)
    assert cfg.coef_lr_factor == pytest.approx(1 / 3)
    model = ScaleConditionedSRCNN(cfg.model_config, cfg.poly)  # type: ignore[arg-type]
    opt = make_optimizer(model, cfg)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3 / 3, 1e-4 / 3])
    assert sum(len(g["params"]) for g in opt.param_groups) == 18  # every coefficient is trained
    assert TrainConfig(scales=(2.0, 3.0, 4.0), scale_poly=2, coef_lr=1.0).coef_lr_factor == 1.0
    assert TrainConfig().coef_lr_factor == 1.0  # plain models are unaffected
    with pytest.raises(ConfigError, match="coef-lr"):
        TrainConfig(scales=(2.0, 3.0, 4.0), scale_poly=2, coef_lr=0.0)


def test_init_from_starts_every_scale_as_the_source_network(tiny_root: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """--init-from: a plain source fills W_0 (every scale starts as it); a poly source fills all."""
    from srcnn.train import init_from_weights

    plain = load_weights("srcnn-915-x3")
    m = ScaleConditionedSRCNN(config_for("9-1-5", padding="valid"), POLY)
    init_from_weights(m, plain, 3.0)
    for s in (1.5, 2.5, 4.0):
        folded = m.weights_at(s)
        for k, v in plain.state_dict.items():
            assert torch.equal(folded[k], v), (s, k)
    # a poly source into the same polynomial: every coefficient copied, the fold unchanged
    src = _random_poly_model()
    w = Weights(src.config, {k: v.detach() for k, v in src.poly_tensors().items()}, scales=(1.5, 4.0),
                scale_poly=POLY)
    init_from_weights(m, w, 3.0)
    assert torch.equal(m.weights_at(2.2)["conv2.weight"], src.weights_at(2.2)["conv2.weight"])
    # ... into a plain model: folded at the run's scale
    p = SRCNN(config_for("9-1-5", padding="valid"))
    init_from_weights(p, w, 2.5)
    assert torch.equal(p.conv1.weight, src.weights_at(2.5)["conv1.weight"])
    with pytest.raises(ConfigError, match="different scale polynomial"):
        init_from_weights(ScaleConditionedSRCNN(config_for("9-1-5"), ScalePoly(2.0, 4.0, 2)), w, 3.0)
    with pytest.raises(ConfigError, match="this run trains 9-5-5"):
        init_from_weights(SRCNN(config_for("9-5-5")), plain, 3.0)
    with pytest.raises(ConfigError, match="not both"):
        TrainConfig(init="paper", init_from="srcnn-915-x3")

    # through the CLI: a fine-tuned run starts at the source's quality (not from identity)
    base = ["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "-q",
            "--max-steps", "1", "--eval-every", "1", "--lr", "1e-9", "--batch-size", "4"]
    assert main([*base, "--init-from", "srcnn-915-x3", "--out", str(tmp_path / "ft")]) == 0
    assert main([*base, "--out", str(tmp_path / "scratch")]) == 0
    from srcnn.train import read_metrics

    ft, scratch = read_metrics(tmp_path / "ft")[-1], read_metrics(tmp_path / "scratch")[-1]
    assert ft["val_psnr"] > ft["val_bicubic"] + 0.5  # the shipped x3 model, barely moved
    assert abs(scratch["val_psnr"] - scratch["val_bicubic"]) < 0.2  # identity init = bicubic
    assert main([*base, "--init-from", "nope.safetensors", "--out", str(tmp_path / "bad")]) == 1
    assert "not found: nope.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_poly_through_anchors_is_exact_at_the_anchors() -> None:
    from srcnn.model import poly_through

    torch.manual_seed(3)
    anchors = {s: SRCNN(config_for("9-1-5")).state_dict() for s in (1.5, 2.0, 3.0, 4.0)}
    poly, tensors = poly_through(anchors, 1.5, 4.0)
    assert poly == ScalePoly(1.5, 4.0, 3)
    for s, sd in anchors.items():
        folded = fold_poly(tensors, poly, s)
        for k in sd:
            assert torch.allclose(folded[k], sd[k], atol=1e-6), (s, k)
    # two anchors: the straight line between them (the midpoint is the mean)
    poly2, t2 = poly_through({2.0: anchors[2.0], 4.0: anchors[4.0]}, 2.0, 4.0)
    mid = fold_poly(t2, poly2, 3.0)["conv2.weight"]
    assert torch.allclose(mid, (anchors[2.0]["conv2.weight"] + anchors[4.0]["conv2.weight"]) / 2, atol=1e-6)
    with pytest.raises(ConfigError, match="at least 2"):
        poly_through({3.0: anchors[3.0]}, 1.5, 4.0)
    with pytest.raises(ConfigError, match="within"):
        poly_through({2.0: anchors[2.0], 5.0: anchors[4.0]}, 1.5, 4.0)


def test_ms_from_anchors_tool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("ms_from_anchors")
    out = tmp_path / "ms.safetensors"
    assert tool.main(["3=srcnn-915-x3", "4=srcnn-915-x4", "--out", str(out), "--range", "2", "4"]) == 0
    w = load_weights(out)
    assert w.scale_poly == ScalePoly(2.0, 4.0, 1) and w.supports_scale(2.5) and not w.supports_scale(5)
    x4 = load_weights("srcnn-915-x4")
    assert torch.allclose(w.plain_state(4.0)["conv1.weight"], x4.state_dict["conv1.weight"], atol=1e-6)
    assert tool.main(["3=srcnn-915-x3", "4=srcnn-955-x4", "--out", str(tmp_path / "bad.safetensors")]) == 1
    assert "9-5-5" in capsys.readouterr().err
    assert tool.main(["3=srcnn-915-x3", "2=srcnn-955-ms", "--out", str(tmp_path / "bad.safetensors")]) == 1
    assert "9-5-5" in capsys.readouterr().err  # a multi-scale anchor is its network there: still 9-5-5
    # A multi-scale model as anchors: srcnn-955-ms rebuilt from itself at its knots, plus a knot at x3.25 that holds
    # its own network there (so every scale is served as before), and then with the x4 knot replaced.
    ms = load_weights("srcnn-955-ms")
    assert ms.scale_poly is not None
    knots = [*ms.scale_poly.knots, 3.25]
    same, swapped = tmp_path / "same.safetensors", tmp_path / "swapped.safetensors"
    assert tool.main(["--linear", *(f"{k:g}=srcnn-955-ms" for k in knots), "--out", str(same)]) == 0
    assert tool.main(["--linear", *(f"{k:g}=srcnn-955-ms" for k in knots if k != 4), "4=srcnn-955-x4",
                      "--out", str(swapped)]) == 0
    a, b, x4 = load_weights(same), load_weights(swapped), load_weights("srcnn-955-x4").plain_state()
    assert a.scale_poly is not None and a.scale_poly.knots == tuple(sorted(knots))
    for scale in (1.5, 2.2, 3.25, 3.3, 3.75, 3.9, 4.0):
        pa, pm = a.plain_state(scale), ms.plain_state(scale)
        assert all(torch.allclose(pa[n], pm[n], atol=1e-6) for n in pm), scale
    for scale in (2.2, 3.5):  # below the replaced knot's neighbour: unchanged
        pb, pm = b.plain_state(scale), ms.plain_state(scale)
        assert all(torch.allclose(pb[n], pm[n], atol=1e-6) for n in pm), scale
    assert all(torch.equal(b.plain_state(4.0)[n], x4[n]) for n in x4)
    assert tool.main(["3=srcnn-915-x3", "4=srcnn-915-x4", "--out", str(out)]) == 1  # never overwritten
    assert not (tmp_path / "bad.safetensors").exists()


def test_piecewise_linear_basis_and_model() -> None:
    lin = ScalePoly.linear([1.5, 2, 3, 4])
    assert (lin.lo, lin.hi, lin.degree, lin.knots) == (1.5, 4.0, 3, (1.5, 2.0, 3.0, 4.0))
    assert lin.basis(1.5) == [1.0, 0.0, 0.0, 0.0] and lin.basis(3.0) == [0.0, 0.0, 1.0, 0.0]
    assert lin.basis(4.0) == [0.0, 0.0, 0.0, 1.0]
    assert lin.basis(2.5) == [0.0, 0.5, 0.5, 0.0] and lin.basis(3.75) == [0.0, 0.0, 0.25, 0.75]
    assert ScalePoly.from_dict(json.loads(json.dumps(lin.to_dict()))) == lin
    assert "knots" not in POLY.to_dict()  # polynomial files keep their metadata (and sha256)
    with pytest.raises(ConfigError, match="at least 2 knots"):
        ScalePoly.linear([3])
    with pytest.raises(ConfigError, match="increasing"):
        ScalePoly.linear([2, 4, 3])

    torch.manual_seed(0)
    m = ScaleConditionedSRCNN(config_for("9-1-5"), lin)
    for s in (1.5, 2.2, 4.0):  # every knot starts as net
        assert torch.allclose(m.weights_at(s)["conv1.weight"], m.net.conv1.weight, atol=1e-7)
    with torch.no_grad():
        for p in m.coef.values():
            p.normal_(0, 0.02)
    w = m.weights_at(2.5)
    for k in ("conv1.weight", "conv3.bias"):
        a, b = m.coef[poly_key(k, 1).replace(".", "_")], m.coef[poly_key(k, 2).replace(".", "_")]
        assert torch.allclose(w[k], (a + b) / 2)
    x = torch.rand(1, 1, 24, 24)
    m(x, 2.5).sum().backward()
    grads = {k: p.grad is not None and float(p.grad.abs().sum()) > 0 for k, p in m.coef.items()}
    assert all(grads[poly_key(k, j).replace(".", "_")] for k in ("conv1.weight",) for j in (1, 2))
    assert not grads[poly_key("conv1.weight", 3).replace(".", "_")]  # x4's knot: not in [2, 3]
    assert m.net.conv1.weight.grad is None or float(m.net.conv1.weight.grad.abs().sum()) == 0  # x1.5's knot


def test_knots_config_init_and_files(tiny_root: Path, tmp_path: Path) -> None:
    from srcnn.train import init_from_weights

    with pytest.raises(ConfigError, match="not both"):
        TrainConfig(scales=(2.0, 3.0, 4.0), scale_poly=2, scale_knots=(2.0, 4.0))
    with pytest.raises(ConfigError, match="span"):
        TrainConfig(scales=(2.0, 3.0, 4.0), scale_knots=(2.0, 3.0))
    cfg = TrainConfig(scales=(2.0, 3.0, 4.0), scale_knots=(2.0, 3.0, 4.0))
    assert cfg.conditioned and cfg.coef_lr_factor == 1.0 and cfg.poly == ScalePoly.linear([2, 3, 4])

    # from a polynomial source: each knot is the source folded at that knot
    src = _random_poly_model()
    w = Weights(src.config, {k: v.detach() for k, v in src.poly_tensors().items()}, scales=(1.5, 4.0),
                scale_poly=POLY)
    m = ScaleConditionedSRCNN(config_for("9-1-5"), ScalePoly.linear([2, 3, 4]))
    init_from_weights(m, w, 2.0)
    for s in (2.0, 3.0, 4.0):
        assert torch.allclose(m.weights_at(s)["conv2.weight"], src.weights_at(s)["conv2.weight"], atol=1e-6)
    with pytest.raises(ConfigError, match="not every knot"):
        init_from_weights(ScaleConditionedSRCNN(config_for("9-1-5"), ScalePoly.linear([1, 4])), w, 2.0)

    # a short CLI run from a plain network writes a knots file that round-trips
    out = tmp_path / "k"
    assert main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "-q",
                 "--max-steps", "4", "--eval-every", "4", "--batch-size", "4", "-s", "2", "-s", "3", "-s", "4",
                 "--scale-knots", "2,3,4", "--init-from", "srcnn-915-x3", "--out", str(out)]) == 0
    lw = load_weights(out / "last.safetensors")
    assert lw.scale_poly == ScalePoly.linear([2, 3, 4]) and "scale-knots=2,3,4" in lw.provenance
    x3 = load_weights("srcnn-915-x3").state_dict["conv1.weight"]
    for s in (2.0, 3.0, 4.0):  # four small steps away from the source
        assert float((lw.plain_state(s)["conv1.weight"] - x3).abs().max()) < 0.01
    assert lw.build(scale=3.5).conv1.weight.shape == x3.shape


def test_ms_from_anchors_linear(tmp_path: Path) -> None:
    tool = load_tool("ms_from_anchors")
    out = tmp_path / "lin.safetensors"
    assert tool.main(["2=srcnn-915-x2", "3=srcnn-915-x3", "4=srcnn-915-x4", "--linear", "--out", str(out)]) == 0
    w = load_weights(out)
    assert w.scale_poly == ScalePoly.linear([2, 3, 4])
    for k in (2, 3, 4):
        assert torch.equal(w.plain_state(float(k))["conv2.weight"],
                           load_weights(f"srcnn-915-x{k}").state_dict["conv2.weight"])


def test_bad_knots_on_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["train", "--scale-knots", "3,2", "-s", "2", "-s", "3", "--out", str(tmp_path / "k")]) == 2
    assert "knots must be increasing" in capsys.readouterr().err
    assert main(["train", "--scale-knots", "2,x", "--out", str(tmp_path / "k")]) == 2
    assert "expected a number, got 'x'" in capsys.readouterr().err
    assert not (tmp_path / "k").exists()
