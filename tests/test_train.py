"""Training: loss falls, PSNR rises above bicubic, resume is exact, DDP agrees, files are safe."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srcnn.cli import main
from srcnn.errors import ConfigError, DataError, TrainingError, WeightsError
from srcnn.train import TrainConfig, load_checkpoint, read_metrics, step_parts, train
from srcnn.weights import load_weights

from .conftest import load_tool, sigterm_when


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root made of crops of scikit-image's sample photos: train/ (12) and val/ (2)."""
    from skimage import data

    root = tmp_path_factory.mktemp("tinydata")
    (root / "train").mkdir()
    (root / "val").mkdir()
    photos = [data.astronaut(), data.coffee(), data.chelsea()]
    k = 0
    for p in photos:
        for y in (0, 150):
            for x in (0, 200):
                Image.fromarray(np.ascontiguousarray(p[y:y + 96, x:x + 96, :3])).save(root / "train" / f"{k}.png")
                k += 1
    Image.fromarray(np.ascontiguousarray(data.astronaut()[300:396, 300:396])).save(root / "val" / "a.png")
    Image.fromarray(np.ascontiguousarray(data.coffee()[250:346, 300:396])).save(root / "val" / "b.png")
    return root


def _cfg(root: Path, out: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = dict(train_sets=("train",), val_set="val", data_root=str(root), out=str(out),
                                   batch_size=16, max_steps=40, eval_every=20, ckpt_every=10, size=33)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_tiny_training_learns(tiny_root: Path, tmp_path: Path) -> None:
    res = train(_cfg(tiny_root, tmp_path / "run", max_steps=300, eval_every=100, lr=3e-3, batch_size=32))
    rows = read_metrics(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [100, 200, 300]
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert rows[-1]["val_psnr"] > rows[0]["val_psnr"]
    # From random init to better than bicubic on held-out crops.
    assert rows[-1]["val_psnr"] > rows[-1]["val_bicubic"]
    assert res["step"] == 300
    w = load_weights(tmp_path / "run" / "last.safetensors")
    assert w.config.padding == "symmetric" and w.scales == (3.0,)  # trained valid: runs mirrored (inference_padding)
    assert (tmp_path / "run" / "best.safetensors").is_file()
    ck = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ck["step"] == 300 and ck["config"]["recipe"] == "fast"


def test_saved_weights_keep_a_same_size_training_padding(tiny_root: Path, tmp_path: Path) -> None:
    """A model trained with zero padding runs with zero padding (it used to be saved as replicate)."""
    train(_cfg(tiny_root, tmp_path / "z", train_padding="zeros", max_steps=4, eval_every=4, ckpt_every=4))
    assert load_weights(tmp_path / "z" / "last.safetensors").config.padding == "zeros"


def test_paper_recipe_loss_falls(tiny_root: Path, tmp_path: Path) -> None:
    losses: list[float] = []
    train(_cfg(tiny_root, tmp_path / "p", recipe="paper", batch_size=64, max_steps=50, eval_every=50),
          progress=lambda i: losses.append(i["loss"]))
    assert len(losses) == 50
    # Caffe Euclidean loss (sum / 2N) on 21x21 labels starts near 441 * E[y^2] / 2.
    assert 20 < losses[0] < 120
    # SGD at 1e-4 from N(0, 0.001) is slow (the paper trains for 8e8 backprops), but it falls.
    assert np.mean(losses[-10:]) < 0.85 * np.mean(losses[:10])
    ck = load_checkpoint(tmp_path / "p" / "checkpoint.pt")
    lrs = sorted({g["lr"] for g in ck["optimizer"]["param_groups"]})
    assert lrs == pytest.approx([1e-6, 1e-5, 1e-4])  # weights 1e-4 / last layer 1e-5; biases x0.1


def test_resume_matches_uninterrupted(tiny_root: Path, tmp_path: Path) -> None:
    train(_cfg(tiny_root, tmp_path / "a"))

    def stop_at_25(info: dict[str, object]) -> None:
        if info["step"] == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tiny_root, tmp_path / "b"), progress=stop_at_25)
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 25  # Ctrl-C saved first
    said: list[str] = []
    res = train(_cfg(tiny_root, tmp_path / "b"), resume=True, log=said.append)
    assert res["step"] == 40
    assert not [s for s in said if "changed option" in s]  # the same options: nothing to report
    a, b = read_metrics(tmp_path / "a"), read_metrics(tmp_path / "b")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [20.0, 40.0]
    for ra, rb in zip(a, b, strict=True):
        assert ra["val_psnr"] == pytest.approx(rb["val_psnr"], abs=1e-4)
        assert ra["loss"] == pytest.approx(rb["loss"], rel=1e-4)
    wa = load_weights(tmp_path / "a" / "last.safetensors").state_dict
    wb = load_weights(tmp_path / "b" / "last.safetensors").state_dict
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k


@pytest.mark.parametrize("recipe", ["fast", "paper"])
def test_micro_batches_make_the_same_steps(tiny_root: Path, tmp_path: Path, recipe: str) -> None:
    kw: dict[str, object] = dict(recipe=recipe, batch_size=16, max_steps=8, eval_every=8, lr=1e-3)
    whole = train(_cfg(tiny_root, tmp_path / "whole", **kw))
    parts = train(_cfg(tiny_root, tmp_path / "parts", micro_batch=5, **kw))  # 16 crops as 4 + 4 + 4 + 4
    assert whole["step"] == parts["step"] == 8
    a = load_weights(tmp_path / "whole" / "last.safetensors").state_dict
    b = load_weights(tmp_path / "parts" / "last.safetensors").state_dict
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6), k
    assert read_metrics(tmp_path / "whole")[0]["loss"] == pytest.approx(read_metrics(tmp_path / "parts")[0]["loss"],
                                                                        rel=1e-5)
    train(_cfg(tiny_root, tmp_path / "other", seed=1, **kw))  # other batches: the tolerance tells runs apart
    c = load_weights(tmp_path / "other" / "last.safetensors").state_dict
    assert not all(torch.allclose(a[k], c[k], rtol=1e-4, atol=1e-6) for k in a)


def test_step_parts() -> None:
    fast = TrainConfig()
    assert step_parts(32, 33, fast, on_cpu=True) == 1  # the fast recipe's default batch: one part
    assert step_parts(128, 33, fast, on_cpu=True) == 2
    assert step_parts(128, 64, fast, on_cpu=True) == 8  # 64 x 56 x 56 values per crop: parts of 16
    assert step_parts(128, 64, fast, on_cpu=False) == 1  # a GPU runs the whole batch
    assert step_parts(128, 64, TrainConfig(micro_batch=48), on_cpu=False) == 3
    assert step_parts(8, 64, TrainConfig(micro_batch=48), on_cpu=True) == 1
    with pytest.raises(ConfigError, match="micro-batch must be positive"):
        TrainConfig(micro_batch=0)


def test_refuses_to_clobber_a_run(tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train(_cfg(tiny_root, tmp_path / "r", max_steps=10))
    code = main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val",
                 "--out", str(tmp_path / "r"), "--max-steps", "10", "-q"])
    assert code == 2
    assert "--resume" in capsys.readouterr().err


# torch warns that the hand-made pickle is not its own protocol; the refusal is what is tested
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_malicious_checkpoint_refused(tmp_path: Path, tiny_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    run = tmp_path / "evil"
    run.mkdir()
    with open(run / "checkpoint.pt", "wb") as f:
        pickle.dump({"version": 1, "x": Evil()}, f)
    with pytest.raises(WeightsError):
        load_checkpoint(run / "checkpoint.pt")
    code = main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val",
                 "--out", str(run), "--resume", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert "not a loadable srcnn checkpoint" in err and "never unpickles" in err
    assert "weights_only" not in err  # torch's advice to load it unsafely is not passed on
    assert not marker.exists()


def test_bad_training_data(tmp_path: Path, tiny_root: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"no images"):
        train(_cfg(tiny_root, tmp_path / "o", train_sets=(str(empty),)))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in sorted((tiny_root / "train").iterdir())[:4]:
        (mixed / p.name).write_bytes(p.read_bytes())
    (mixed / "broken.png").write_bytes(b"not a png")
    skipped: list[str] = []
    train(_cfg(tiny_root, tmp_path / "o2", train_sets=(str(mixed),), max_steps=2, eval_every=2),
          log=skipped.append)
    assert len(skipped) == 1 and "broken.png" in skipped[0]
    from srcnn.errors import ImageReadError

    with pytest.raises(ImageReadError, match=r"broken\.png"):
        train(_cfg(tiny_root, tmp_path / "o3", train_sets=(str(mixed),), strict=True))


def test_plot(tiny_root: Path, tmp_path: Path) -> None:
    train(_cfg(tiny_root, tmp_path / "run", max_steps=20, eval_every=10))
    assert main(["plot", str(tmp_path / "run")]) == 0
    with Image.open(tmp_path / "run" / "convergence.png") as im:
        assert im.size[0] > 500 and im.size[1] > 300


def _cli_train(root: Path, out: Path, *extra: str) -> list[str]:
    return ["--data-root", str(root), "--train-set", "train", "--val-set", "val", "--out", str(out),
            "--batch-size", "16", "--size", "33", "-q", *extra]


def test_sigkill_then_resume(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "k"
    cmd = [sys.executable, "-m", "srcnn", "train", *_cli_train(tiny_root, out, "--max-steps", "100000",
                                                                "--ckpt-every", "5", "--eval-every", "1000")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if (out / "checkpoint.pt").is_file() and load_checkpoint(out / "checkpoint.pt")["step"] >= 15:
                break
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint written in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    ck = load_checkpoint(out / "checkpoint.pt")  # never corrupt: written atomically
    step = int(ck["step"])
    assert step >= 15 and step % 5 == 0
    res = train(_cfg(tiny_root, out, max_steps=step + 5, ckpt_every=5, eval_every=1000), resume=True)
    assert res["step"] == step + 5
    assert load_checkpoint(out / "checkpoint.pt")["step"] == step + 5


def test_sigterm_saves_the_checkpoint_then_resume(tiny_root: Path, tmp_path: Path) -> None:
    """kill / a scheduler's pre-emption: the run saves where it is (no periodic checkpoint here) and
    says how to go on; exit code 143."""
    out = tmp_path / "t"
    metrics = out / "metrics.csv"

    def trained_15_steps() -> bool:  # the header and 3 rows (--eval-every 5); no checkpoint written yet
        done = metrics.is_file() and len(metrics.read_text().splitlines()) >= 4
        assert not (out / "checkpoint.pt").exists()
        return done

    code, err = sigterm_when(["train", *_cli_train(tiny_root, out, "--max-steps", "100000", "--ckpt-every", "100000",
                                                   "--eval-every", "5")], ready=trained_15_steps)
    assert code == 143, err
    assert "checkpoint saved in" in err and "--resume" in err and "srcnn: error: terminated" in err
    assert "Traceback" not in err
    step = int(load_checkpoint(out / "checkpoint.pt")["step"])
    assert step >= 15
    # where it stood: the last step the bar saw (the signal may land between a step and its report)
    m = re.search(r"interrupted at step (\d+), after \d+\.\d min of setup and \d+\.\d min of training", err)
    assert m and step - 1 <= int(m.group(1)) <= step, err
    r = subprocess.run([sys.executable, "-m", "srcnn", "train", "--resume", *_cli_train(
        tiny_root, out, "--max-steps", str(step + 3), "--ckpt-every", "100000", "--eval-every", "5")],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(load_checkpoint(out / "checkpoint.pt")["step"]) == step + 3


def test_torchrun_two_processes_agree(tiny_root: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not found beside the Python executable")
    single, double = tmp_path / "one", tmp_path / "two"
    args = ["--max-steps", "12", "--eval-every", "12", "--ckpt-every", "6"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # each process runs its 8 crops in parts of 3 (3 + 3 + 2), gradients synchronised after the last
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "srcnn", "train",
                        *_cli_train(tiny_root, double, *args, "--micro-batch", "3")], env=env, capture_output=True,
                       text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert main(["train", *_cli_train(tiny_root, single, *args)]) == 0
    a = load_weights(single / "last.safetensors").state_dict
    b = load_weights(double / "last.safetensors").state_dict
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
    ma, mb = read_metrics(single), read_metrics(double)
    assert ma[-1]["val_psnr"] == pytest.approx(mb[-1]["val_psnr"], abs=1e-3)
    # Only rank 0 wrote files.
    assert sorted(p.name for p in double.iterdir()) == sorted(p.name for p in single.iterdir())


def test_t91_subimage_count(data_root: Path) -> None:
    from srcnn.data import PairConfig, build_pairs, grid_positions

    pairs = build_pairs(PairConfig(("T91",), (3.0,)), str(data_root))
    assert len(pairs) == 91
    assert len(grid_positions(pairs, 33, 14)) == 21_884
    assert pairs[0].gt.shape == pairs[0].bicubic.shape and pairs[0].gt.shape[0] == 1


def test_lr_schedule() -> None:
    from srcnn.train import lr_factor

    fast, paper = TrainConfig(), TrainConfig(recipe="paper")
    assert lr_factor(fast, 0.0) == pytest.approx(1.0)
    assert lr_factor(fast, 0.5) == pytest.approx(0.505)
    assert lr_factor(fast, 1.0) == pytest.approx(0.01)
    assert lr_factor(fast, 7.0) == pytest.approx(0.01)  # past the end: stays annealed
    assert lr_factor(paper, 0.3) == lr_factor(paper, 1.0) == 1.0
    # linear warm-up over the first 500 steps (fast 9-5-5), none for 9-1-5 or the paper's recipe
    wide = TrainConfig(arch="9-5-5")
    assert lr_factor(wide, 0.0, step=0) == pytest.approx(1 / 500)
    assert lr_factor(wide, 0.0, step=249) == pytest.approx(0.5)
    assert lr_factor(wide, 0.0, step=500) == pytest.approx(1.0)
    assert lr_factor(fast, 0.0, step=0) == pytest.approx(1.0)
    assert lr_factor(TrainConfig(warmup=10), 0.0, step=4) == pytest.approx(0.5)
    assert lr_factor(TrainConfig(arch="9-5-5", recipe="paper"), 0.3, step=0) == 1.0


def test_default_learning_rates() -> None:
    """9-1-5 keeps 1e-3; the wider mapping layers default to 3e-4 (1e-3 killed their ReLUs)."""
    assert TrainConfig(arch="9-1-5").base_lr == 1e-3
    assert TrainConfig(arch="9-5-5").base_lr == TrainConfig(arch="9-3-5").base_lr == 3e-4
    assert TrainConfig(arch="9-5-5", lr=1e-3).base_lr == 1e-3
    assert TrainConfig(recipe="paper").base_lr == 1e-4
    with pytest.raises(ConfigError, match="warmup"):
        TrainConfig(warmup=-1)


@pytest.mark.parametrize(("field", "value"), [("max_minutes", -1.0), ("max_minutes", 0.0),
                                              ("max_minutes", math.inf), ("epochs", 0.0),
                                              ("lr", -1e-3), ("lr", math.nan)])
def test_run_lengths_and_rates_must_be_positive(field: str, value: float) -> None:
    # --max-minutes -1 used to start a run that stopped at step 0 and still wrote its files.
    with pytest.raises(ConfigError, match=f"{field.replace('_', '-')} must be a positive number"):
        TrainConfig(**{field: value})  # type: ignore[arg-type]
    assert getattr(TrainConfig(**{field: 0.5}), field) == 0.5  # type: ignore[arg-type]


def test_clock_bounded_run_anneals_and_logs_its_end(tiny_root: Path, tmp_path: Path) -> None:
    """With only --max-minutes, the cosine follows the clock: the run ends at ~1 % of the base
    learning rate, and its last step gets a log row though it is no multiple of --eval-every."""
    res = train(_cfg(tiny_root, tmp_path / "run", max_steps=None, max_minutes=0.08, eval_every=100_000))
    assert res["elapsed_s"] >= 0.08 * 60
    ck = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    lrs = [g["lr"] / g["base_lr"] for g in ck["optimizer"]["param_groups"]]
    assert all(f < 0.03 for f in lrs), lrs
    rows = read_metrics(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [res["step"]]


@pytest.mark.parametrize("channels", [1, 3])
def test_patch_source_equals_per_sample_gather(channels: int) -> None:
    """The device-side batch cutter reads exactly the sub-images the per-sample reference cuts."""
    from srcnn.data import Pair, PatchSource, gather, random_positions

    rng = np.random.default_rng(0)
    pairs = [Pair(rng.random((channels, h, w), dtype=np.float32), rng.random((channels, h, w), dtype=np.float32),
                  3.0, str(i)) for i, (h, w) in enumerate([(50, 70), (40, 45), (90, 61), (20, 20)])]
    pos = random_positions(pairs, 200, 33, torch.Generator().manual_seed(1))
    assert set(pos[:, 0].tolist()) == {0, 1, 2}  # the 20x20 image is too small to be drawn
    assert ((pos[:, 1:] >= 0).all() and (pos[:, 1] <= np.array([pairs[i].gt.shape[1] - 33 for i in pos[:, 0]])).all())
    src = PatchSource(pairs)
    for crop in (0, 6):
        x, y = gather(pairs, pos, 33, crop)
        x2, y2 = src.take(pos, 33, crop)
        assert torch.equal(x, x2) and torch.equal(y, y2)
        assert x2.shape == (200, channels, 33, 33) and y2.shape == (200, channels, 33 - 2 * crop, 33 - 2 * crop)


def test_bf16_autocast_trains_close_to_float32(tiny_root: Path, tmp_path: Path) -> None:
    """--amp bf16 (autocast works on the CPU too): weights stay float32, the loss falls about as in
    float32, and the scaler-free checkpoint resumes; fp16 needs CUDA."""
    kw = {"max_steps": 120, "eval_every": 60, "lr": 3e-3, "batch_size": 16}
    train(_cfg(tiny_root, tmp_path / "f32", **kw))
    train(_cfg(tiny_root, tmp_path / "bf16", amp="bf16", **kw))
    a, b = read_metrics(tmp_path / "f32"), read_metrics(tmp_path / "bf16")
    assert b[-1]["loss"] < b[0]["loss"]
    assert b[-1]["val_psnr"] > b[-1]["val_bicubic"]
    assert abs(b[-1]["val_psnr"] - a[-1]["val_psnr"]) < 0.3  # same run, convolutions in bfloat16
    w = load_weights(tmp_path / "bf16" / "last.safetensors")
    assert all(v.dtype == torch.float32 for v in w.state_dict.values())
    assert load_checkpoint(tmp_path / "bf16" / "checkpoint.pt")["config"]["amp"] == "bf16"
    res = train(_cfg(tiny_root, tmp_path / "bf16", amp="bf16", **{**kw, "max_steps": 130}), resume=True)
    assert res["step"] == 130
    with pytest.raises(ConfigError, match="CUDA"):
        TrainConfig(amp="fp16")
    with pytest.raises(ConfigError, match="amp must be"):
        TrainConfig(amp="fp8")


def test_distill_labels_mix_ground_truth_and_the_teachers_ensemble() -> None:
    from skimage import data

    from srcnn.data import make_pair
    from srcnn.infer import resolve_model, run_model
    from srcnn.train import distill_labels

    from .conftest import identity_weights, random_weights

    pair = make_pair(data.astronaut()[:60, :90], 3.0, "y", "a")
    # the identity network's ensemble is the bicubic input: labels = (1 - w) gt + w bicubic, exactly
    (half,) = distill_labels([pair], identity_weights(), 0.5, "y")
    assert np.allclose(half.gt, 0.5 * pair.gt + 0.5 * np.clip(pair.bicubic, 0, 1), atol=1e-6)
    assert half.bicubic is pair.bicubic and half.scale == 3.0
    # a real teacher: w = 1 gives its 8-view ensemble, not its single pass
    w = random_weights(seed=3)
    (full,) = distill_labels([pair], w, 1.0, "y")
    net, _ = resolve_model(w, 3.0)
    x = torch.from_numpy(pair.bicubic)[None]
    ens = run_model(net, x, self_ensemble=True)[0].numpy()
    assert np.allclose(full.gt, np.clip(ens, 0, 1), atol=1e-6)
    assert not np.allclose(full.gt, np.clip(run_model(net, x)[0].numpy(), 0, 1), atol=1e-4)
    with pytest.raises(ConfigError, match="teacher works on 'y' channels"):
        distill_labels([pair], w, 0.5, "rgb")
    # cuDNN's autotuner is off during the pass, and the caller's setting comes back, also after an error
    import srcnn.infer

    seen: list[bool] = []
    real_run = srcnn.infer.run_model

    def spy(*a: object, **k: object) -> torch.Tensor:
        seen.append(torch.backends.cudnn.benchmark)
        return real_run(*a, **k)  # type: ignore[arg-type]

    before = torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = True
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(srcnn.infer, "run_model", spy)
            distill_labels([pair, pair], w, 0.5, "y")
            assert seen == [False, False] and torch.backends.cudnn.benchmark is True
            with pytest.raises(ConfigError):
                distill_labels([pair], w, 0.5, "rgb")
            assert torch.backends.cudnn.benchmark is True
    finally:
        torch.backends.cudnn.benchmark = before
    for bad in (0.0, 1.5, math.nan):
        with pytest.raises(ConfigError, match="distill-weight"):
            TrainConfig(distill_from="srcnn-915-x3", distill_weight=bad)


def test_teacher_labels_are_cached_by_teacher_mix_and_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A resumed distillation run must not pay the teacher's pass again (session 11: 4 minutes of every start on a
    shared GPU), and must train on the labels of its first start."""
    from skimage import data

    import srcnn.train as tr
    from srcnn.data import Pair, cache_files, make_pair

    from .conftest import random_weights

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls: list[int] = []
    real = tr.distill_labels
    monkeypatch.setattr(tr, "distill_labels", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    pairs = [make_pair(data.astronaut()[:60, :90], 3.0, "y", "a"), make_pair(data.camera()[:45, :48], 3.0, "y", "b")]
    w = random_weights(seed=3)
    first, hit = tr.cached_distill_labels(pairs, w, 0.5, "y")
    assert not hit and calls == [2]
    files = sorted((tmp_path / "cache" / "srcnn").glob("labels-*.npz"))
    assert len(files) == 1 and cache_files()["teacher labels"] == files  # what `srcnn data cache` lists
    again, hit = tr.cached_distill_labels(pairs, w, 0.5, "y")
    assert hit and calls == [2]  # no teacher pass
    for a, b, p in zip(first, again, pairs, strict=True):
        assert np.array_equal(a.gt, b.gt) and b.gt.dtype == np.float32
        assert b.bicubic is p.bicubic and (b.scale, b.name) == (p.scale, p.name)
    # another mix, another teacher, or one changed pixel: other labels
    tr.cached_distill_labels(pairs, w, 0.7, "y")
    tr.cached_distill_labels(pairs, random_weights(seed=4), 0.5, "y")
    g = pairs[1].gt.copy()
    g[0, 0, 0] += 1 / 255
    tr.cached_distill_labels([pairs[0], Pair(pairs[1].bicubic, g, pairs[1].scale, pairs[1].name)], w, 0.5, "y")
    assert calls == [2, 2, 2, 2] and len(list((tmp_path / "cache" / "srcnn").glob("labels-*.npz"))) == 4
    # a damaged cache file is recomputed and replaced, not trusted
    files[0].write_bytes(b"not an npz")
    fixed, hit = tr.cached_distill_labels(pairs, w, 0.5, "y")
    assert not hit and len(calls) == 5 and all(np.array_equal(a.gt, b.gt) for a, b in zip(first, fixed, strict=True))
    assert tr.cached_distill_labels(pairs, w, 0.5, "y")[1]


def test_distilled_training_runs_from_the_cli(tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import srcnn.cli

    monkeypatch.setattr(srcnn.cli, "_stderr_is_terminal", lambda: True)  # bars are drawn on terminals only
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the teacher's labels are computed here
    base = ["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "--max-steps", "2",
            "--eval-every", "1", "--batch-size", "4", "--lr", "1e-5", "--init-from", "srcnn-915-x3"]
    assert main([*base, "--distill-from", "srcnn-915-x3", "--distill-weight", "0.7", "--out", str(tmp_path / "d")]) == 0
    err = capsys.readouterr().err
    assert "labels: 0.3 x ground truth + 0.7 x the 8-view self-ensemble of srcnn-915-x3" in err
    assert "teacher labels: 100%" in err and "12/12" in err  # a bar over the 12 training pairs
    ck = load_checkpoint(tmp_path / "d" / "checkpoint.pt")
    assert ck["config"]["distill_from"] == "srcnn-915-x3" and ck["config"]["distill_weight"] == 0.7
    rows = read_metrics(tmp_path / "d")
    assert rows[-1]["val_psnr"] > rows[-1]["val_bicubic"] + 0.5  # validated against the real ground truth
    # resumed: the labels come from the cache, with no teacher pass (no bar) and a line that says so
    more = [a if a != "2" else "4" for a in base]
    assert main([*more, "--resume", "--distill-from", "srcnn-915-x3", "--distill-weight", "0.7",
                 "--out", str(tmp_path / "d")]) == 0
    err = capsys.readouterr().err
    assert "teacher labels: from the cache" in err and "teacher labels: 100%" not in err
    assert load_checkpoint(tmp_path / "d" / "checkpoint.pt")["step"] == 4
    assert main([*base, "--distill-from", "srcnn-915-x3", "--distill-weight", "0", "--out", str(tmp_path / "e")]) == 2
    assert main([*base, "--distill-from", "nope.safetensors", "--out", str(tmp_path / "f")]) == 1
    assert not (tmp_path / "f").exists()
    # a teacher for another scale is refused by name, before anything is written
    assert main([*base, "--distill-from", "srcnn-955-x2", "--out", str(tmp_path / "g")]) == 2
    assert "--distill-from srcnn-955-x2 was trained for x2, and this run trains x3" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()


def test_a_run_that_fails_before_its_first_step_leaves_nothing(tiny_root: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """So that the corrected command simply runs again (no "already holds a run; pass --resume")."""
    out = tmp_path / "runs" / "a"
    base = ["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "--max-steps", "2",
            "--batch-size", "4", "--out", str(out), "-q"]
    assert main([*base, "--size", "300"]) == 1  # the crops are larger than every training image
    assert "no training image is at least 300x300 pixels" in capsys.readouterr().err
    assert not out.exists() and (tmp_path / "runs").is_dir()  # a folder the user had is kept
    assert main([*base, "--size", "5"]) == 2  # the valid network's label would be empty
    assert "size must be more than 12 for 9-1-5" in capsys.readouterr().err
    assert main([*base, "--size", "33"]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 2
    (tmp_path / "file").write_text("x")
    assert main([*base[:-3], "--out", str(tmp_path / "file")]) == 1
    assert "output folder" in capsys.readouterr().err and (tmp_path / "file").read_text() == "x"


def test_resume_reports_changed_options(tiny_root: Path, tmp_path: Path) -> None:
    from srcnn.train import changed_options

    train(_cfg(tiny_root, tmp_path / "r", max_steps=5))
    saved = load_checkpoint(tmp_path / "r" / "checkpoint.pt")["config"]
    # run length, logging and place may change silently; what shapes the training is reported
    assert changed_options(saved, _cfg(tiny_root, tmp_path / "r", max_steps=9, eval_every=3,
                                       init_from="srcnn-915-x3")) == []  # --init-from is ignored on resume
    said: list[str] = []
    train(_cfg(tiny_root, tmp_path / "r", max_steps=8, lr=2e-3, downscales=(0.8,)), resume=True, log=said.append)
    assert [s for s in said if "changed option" in s] == [
        "resumed with a changed option: downscales [] -> [0.8]",
        "resumed with a changed option: lr None (the default, 0.001) -> 0.002",
    ]
    # an option left to the recipe is shown with what it meant, and not reported when that did not change
    saved = load_checkpoint(tmp_path / "r" / "checkpoint.pt")["config"]  # now with lr 2e-3, downscale 0.8
    same = _cfg(tiny_root, tmp_path / "r", lr=2e-3, downscales=(0.8,))
    assert changed_options(saved, same) == []
    default = replace(same, batch_size=None).batch
    assert changed_options(saved, replace(same, batch_size=None)) == [
        f"resumed with a changed option: batch-size 16 -> None (the default, {default})"]
    assert changed_options({**saved, "batch_size": None}, replace(same, batch_size=default)) == []  # what it meant
    assert load_checkpoint(tmp_path / "r" / "checkpoint.pt")["step"] == 8  # allowed: the run went on


def test_stages_before_the_first_step_report_progress(tiny_root: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # pairs built here, not read from a cache
    seen: list[tuple[str, int, int]] = []
    train(_cfg(tiny_root, tmp_path / "r", max_steps=1, distill_from="srcnn-915-x3"),
          stage_progress=lambda name, done, total: seen.append((name, done, total)))
    assert [s for s in seen if s[0] == "training pairs"] == [("training pairs", i, 12) for i in range(1, 13)]
    assert [s for s in seen if s[0] == "teacher labels"] == [("teacher labels", i, 12) for i in range(1, 13)]
    seen.clear()
    train(_cfg(tiny_root, tmp_path / "r2", max_steps=1), stage_progress=lambda *a: seen.append(a))
    assert seen == []  # pairs from the cache, no teacher: nothing to wait for


def test_a_clock_bounded_run_shows_the_time_left(tiny_root: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import srcnn.cli

    monkeypatch.setattr(srcnn.cli, "_stderr_is_terminal", lambda: True)  # the bar, as on a terminal
    code = main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val",
                 "--batch-size", "4", "--size", "33", "--max-minutes", "0.02", "--out", str(tmp_path / "c")])
    assert code == 0
    out, err = capsys.readouterr()
    lefts = [m.group(1) for m in re.finditer(r"left=(\d+:\d\d)", err)]
    assert lefts and lefts[0] in ("0:01", "0:00") and lefts[-1] == "0:00"  # 1.2 s budget, counting down
    # the summary says how long the run trained and how long it took to get there (tiny data: well under 0.1 min)
    assert re.search(r"; 0\.0 min of training \(this start: 0\.0 min of setup first\); files in ", out), out


def test_an_interrupt_during_setup_says_so(tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("srcnn.train.build_pairs", interrupted)  # Ctrl-C while the training pairs are built
    code = main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "-q",
                 "--out", str(tmp_path / "s")])
    assert code == 130
    err = capsys.readouterr().err
    assert re.search(r"interrupted during setup, after 0\.0 min, before any step", err), err
    assert "checkpoint saved" not in err and not (tmp_path / "s").exists()  # nothing trained, nothing left


# ------------------------------------------------------------- divergence, damaged runs and resumes


def test_diverged_run_stops_and_keeps_no_nan(tiny_root: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A learning rate far too high: the weights overflow to NaN within a few steps. The run must
    stop with one line, never write non-finite weights, and (before its first checkpoint) leave no run."""
    argv = ["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "-q",
            "--max-steps", "60", "--eval-every", "20", "--ckpt-every", "10", "--size", "33", "--batch-size", "8"]
    assert main([*argv, "--lr", "1e6", "--out", str(tmp_path / "div")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "training diverged by step 10" in err and "lower --lr" in err
    assert not (tmp_path / "div").exists()
    # a run with good checkpoints, resumed with a new --lr (which applies from the resume on) that
    # makes it diverge, keeps them, all finite
    train(_cfg(tiny_root, tmp_path / "ok", max_steps=20))
    before = (tmp_path / "ok" / "last.safetensors").read_bytes()
    with pytest.raises(TrainingError, match="training diverged"):
        train(_cfg(tiny_root, tmp_path / "ok", max_steps=80, lr=1e6), resume=True)
    assert (tmp_path / "ok" / "last.safetensors").read_bytes() == before
    for f in ("best.safetensors", "last.safetensors"):
        assert all(bool(torch.isfinite(t).all()) for t in load_weights(tmp_path / "ok" / f).state_dict.values())


def test_resume_refuses_a_network_change_and_an_empty_checkpoint(tiny_root: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    train(_cfg(tiny_root, tmp_path / "r", max_steps=10))
    argv = ["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "-q",
            "--max-steps", "20", "--resume"]
    assert main([*argv, "--out", str(tmp_path / "r"), "--arch", "9-5-5"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "arch '9-1-5' -> '9-5-5'" in err and "cannot change on resume" in err
    assert main([*argv, "--out", str(tmp_path / "r"), "--recipe", "paper"]) == 2
    assert "cannot change on resume" in capsys.readouterr().err
    (tmp_path / "r" / "checkpoint.pt").write_bytes(b"")
    assert main([*argv, "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not a loadable srcnn checkpoint" in err


def test_plot_refuses_damaged_metrics_and_non_png_outputs(tiny_root: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    train(_cfg(tiny_root, run, max_steps=20, eval_every=10))
    csv_bytes = (run / "metrics.csv").read_bytes()
    assert main(["plot", str(run), "-o", str(run / "metrics.csv"), "--overwrite"]) == 2
    assert (run / "metrics.csv").read_bytes() == csv_bytes  # never replaced by a picture
    assert main(["plot", str(run), "-o", str(tmp_path / "p.jpg")]) == 2
    assert "writes a PNG" in capsys.readouterr().err
    for name, content, needle in [("text", b"step,backprops,loss,val_psnr,val_bicubic,wall_s\n10,320,abc,nan,,1\n",
                                   "damaged"),
                                  ("binary", b"\x89PNG\r\n\x1a\n\x00\xff", "damaged"),
                                  ("other", b"a,b\n1,2\n", "not srcnn's metrics.csv"),
                                  ("partial", b"step,loss\n1,0.5\n", "not srcnn's metrics.csv")]:
        d = tmp_path / name
        d.mkdir()
        (d / "metrics.csv").write_bytes(content)
        assert main(["plot", str(d), "-o", str(tmp_path / f"{name}.png")]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and needle in err, err
        with pytest.raises(ConfigError):
            read_metrics(d)
    assert [int(r["step"]) for r in read_metrics(run)] == [10, 20]


def test_resume_refuses_another_scale(tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An x2 run resumed without --scale (default 3) would otherwise quietly become an x3 run."""
    train(_cfg(tiny_root, tmp_path / "r", max_steps=10, scales=(2.0,)))
    argv = ["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "-q",
            "--max-steps", "20", "--resume", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "scales [2.0] -> [3.0]" in err and "cannot change on resume" in err
    assert load_checkpoint(tmp_path / "r" / "checkpoint.pt")["step"] == 10
    assert main([*argv, "--scale", "2"]) == 0
    assert load_checkpoint(tmp_path / "r" / "checkpoint.pt")["step"] == 20


def test_best_weights_record_the_set_that_picked_them(tiny_root: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # best.safetensors is chosen by the monitoring set's PSNR; when that is a test set (Set5 by default) its figure
    # there is not a fair test: train says so at the end, and evaluate says so whenever it scores the file on that set
    val = tmp_path / "Set5"
    shutil.copytree(tiny_root / "val", val)
    out = tmp_path / "run"
    assert main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", str(val), "-q",
                 "--max-steps", "4", "--eval-every", "2", "--ckpt-every", "2", "--batch-size", "4",
                 "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "best.safetensors is the step that scored best on Set5, a test set" in lines[-2]
    assert lines[-1].startswith("stopped at step 4 of 4;")  # the last line stays the summary (README, --help)
    best, last = load_weights(out / "best.safetensors"), load_weights(out / "last.safetensors")
    assert best.extra.get("picked_on") == "Set5" and "picked by its PSNR on Set5" in best.provenance
    assert "picked_on" not in last.extra
    report = tmp_path / "e.json"
    assert main(["evaluate", "-q", "-w", str(out / "best.safetensors"), "--sets", str(val), "-s", "3",
                 "--json", str(report)]) == 0
    err = capsys.readouterr().err
    assert "scored best on Set5" in err and "not a fair test" in err
    assert json.loads(report.read_text())["picked_on"] == "Set5"
    assert main(["evaluate", "-q", "-w", str(out / "last.safetensors"), "--sets", str(val), "-s", "3"]) == 0
    assert "fair test" not in capsys.readouterr().err
    ship = load_tool("ship_model")  # and such a file is never shipped (refused before anything is written)
    assert ship.main([str(out / "best.safetensors"), "srcnn-test-only", "--recipe", "x"]) == 1
    assert "a test set" in capsys.readouterr().err
    assert not (ship.MODELS / "srcnn-test-only.safetensors").exists()
    # a held-out monitoring folder of another name: no such line
    out2 = tmp_path / "run2"
    assert main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "-q",
                 "--max-steps", "2", "--eval-every", "2", "--ckpt-every", "2", "--batch-size", "4",
                 "--out", str(out2)]) == 0
    assert "a test set" not in capsys.readouterr().out
    assert load_weights(out2 / "best.safetensors").extra.get("picked_on") == "val"


def test_channels_last_trains_the_same_and_may_change_on_resume(tiny_root: Path, tmp_path: Path) -> None:
    # --channels-last changes only the memory layout (for GPUs): the same steps up to float rounding, and a run
    # may be resumed with it switched (silently: it does not shape the training)
    kw: dict[str, object] = dict(arch="9-5-5", batch_size=8, max_steps=6, eval_every=6, ckpt_every=3, lr=1e-3)
    plain = train(_cfg(tiny_root, tmp_path / "plain", **kw))
    nhwc = train(_cfg(tiny_root, tmp_path / "nhwc", channels_last=True, **kw))
    assert plain["step"] == nhwc["step"] == 6
    a = load_weights(tmp_path / "plain" / "last.safetensors").state_dict
    b = load_weights(tmp_path / "nhwc" / "last.safetensors").state_dict
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6), k
    assert read_metrics(tmp_path / "plain")[-1]["val_psnr"] == pytest.approx(
        read_metrics(tmp_path / "nhwc")[-1]["val_psnr"], abs=1e-3)
    def stop_at_3(info: dict[str, object]) -> None:
        if info["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the same run, stopped half-way in NCHW and resumed in NHWC
        train(_cfg(tiny_root, tmp_path / "switch", **kw), progress=stop_at_3)
    said: list[str] = []
    train(_cfg(tiny_root, tmp_path / "switch", channels_last=True, **kw), resume=True, log=said.append)
    assert not [s for s in said if "changed option" in s]
    c = load_weights(tmp_path / "switch" / "last.safetensors").state_dict
    for k in a:
        assert torch.allclose(a[k], c[k], rtol=1e-4, atol=1e-6), k


def test_training_in_a_log_prints_one_line_per_validation_row(tiny_root: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # stderr is not a terminal here (captured): no bar redraws, a plain line at each validation row and the end
    code = main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "--max-steps",
                 "7", "--eval-every", "3", "--batch-size", "4", "--size", "33", "--out", str(tmp_path / "r")])
    assert code == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("train: step")]
    assert [ln.split(",")[0] for ln in lines] == ["train: step 3/7", "train: step 6/7", "train: step 7/7"]
    assert all("val PSNR" in ln and " dB" in ln for ln in lines) and "\r" not in err


def test_a_new_run_never_replaces_an_earlier_runs_files(tiny_root: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # a folder with a run's weights but no checkpoint (deleted to save space, or weights put there to start from):
    # a new run there would silently replace them, even the file given as --init-from
    run = tmp_path / "r"
    train(_cfg(tiny_root, run, max_steps=2, eval_every=2))
    with pytest.raises(ConfigError, match="already holds a run"):
        train(_cfg(tiny_root, run, max_steps=2))
    (run / "checkpoint.pt").unlink()
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert {"last.safetensors", "best.safetensors", "metrics.csv"} <= set(before)
    code = main(["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "--max-steps",
                 "2", "--init-from", str(run / "last.safetensors"), "--out", str(run)])
    assert code == 2
    err = capsys.readouterr().err
    assert "holds last.safetensors, best.safetensors, metrics.csv of an earlier run" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing replaced


def test_a_resume_at_the_runs_end_says_there_is_nothing_to_do(tiny_root: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--data-root", str(tiny_root), "--train-set", "train", "--val-set", "val", "--batch-size", "4",
            "--size", "33", "--out", str(tmp_path / "r"), "-q"]
    assert main([*base, "--max-steps", "4", "--eval-every", "2"]) == 0
    out = capsys.readouterr().out
    assert "stopped at step 4 of 4; last val PSNR" in out and "nan" not in out
    assert main([*base, "--max-steps", "3", "--resume"]) == 0  # a shorter run than it already made
    cap = capsys.readouterr()
    assert "already stood at step 4" in cap.err and "nothing to do" in cap.err
    assert "no validation this start" in cap.out and "nan" not in cap.out
