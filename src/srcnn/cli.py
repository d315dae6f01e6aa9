"""The ``srcnn`` command line: parses, calls the library, prints; ``main(argv) -> exit code``.

Exit codes: 0 success, 1 a failure while working (unreadable input, corrupt weights, ...), 2 a
usage error (bad option or value), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, SRCNNError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() controls messages and exit codes."""

    def error(self, message: str) -> Any:
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}")
    return v


def _float(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None


# --------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="srcnn", description="SRCNN single-image super-resolution (Dong et al.).",
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="Run `srcnn COMMAND --help` for the options of each command.")
    p.add_argument("--version", action="version", version=f"srcnn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    up = sub.add_parser("upscale", help="enlarge images with SRCNN",
                        description="Enlarge images: each INPUT is the low-resolution image. "
                        "Colour images are converted to YCbCr; Y goes through SRCNN, Cb/Cr and "
                        "alpha are enlarged by bicubic. Output size = round(scale x input size).")
    up.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    up.add_argument("-s", "--scale", type=_float, required=True,
                    help="upscaling factor, > 1 and <= 16 (e.g. 2, 3, 2.5)")
    up.add_argument("-w", "--weights", default=None,
                    help="a shipped model name, our .safetensors file or an authors' .mat file "
                    "(default: the best shipped model for the scale)")
    out = up.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", help="output file (one input image only)")
    out.add_argument("--out-dir", help="output folder (any number of inputs; folder structure kept)")
    up.add_argument("--ext", default="png",
                    help="output type for --out-dir: png (default), jpg, tif, bmp, webp, or "
                    "'same' to keep each input's type")
    up.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    up.add_argument("--overwrite", action="store_true", help="replace existing output files")
    up.add_argument("--skip-existing", action="store_true",
                    help="with --out-dir: skip inputs whose output already exists")
    up.add_argument("--allow-scale-mismatch", action="store_true",
                    help="use weights trained for another scale anyway")
    up.add_argument("--max-pixels", type=_positive_int, default=None,
                    help="refuse input images larger than this many pixels (default 100000000)")
    up.add_argument("--tile", type=_positive_int, default=512,
                    help="run the network in tiles of this many output pixels per side to bound "
                    "memory (exact: tiles overlap by the receptive field); 0 = whole image")
    up.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1")
    up.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes")

    ev = sub.add_parser("evaluate", help="PSNR/SSIM on test sets, the papers' protocol",
                        description="Evaluate as demo_SR.m does: Y channel, modcrop, Matlab "
                        "bicubic down and up, the model, uint8 rounding, `scale` pixels shaved, "
                        "PSNR and SSIM; bicubic is the baseline.")
    ev.add_argument("-w", "--weights", required=True,
                    help="a shipped model name, our .safetensors file or an authors' .mat file")
    ev.add_argument("-s", "--scale", type=_float, default=None,
                    help="scale factor (default: the one the weights were trained for)")
    ev.add_argument("--sets", nargs="+", default=["Set5", "Set14"], metavar="SET",
                    help="set names in the data root (Set5, Set14, BSD100) or folders "
                    "(default: Set5 Set14)")
    ev.add_argument("--data-root", default=None,
                    help="folder holding the sets (default: $SRCNN_DATA, else "
                    "~/.local/share/srcnn/data)")
    ev.add_argument("--json", default=None, metavar="FILE", help="also write the numbers as JSON")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    ev.add_argument("--per-image", action=argparse.BooleanOptionalAction, default=True,
                    help="print the per-image table (default: on)")
    ev.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    cv = sub.add_parser("convert", help="convert the authors' .mat weights to our format",
                        description="Read an SRCNN Matlab model (SRCNN_v1/model/*/xN.mat) and write "
                        "our safetensors weights with architecture, scale and provenance.")
    cv.add_argument("mat", metavar="PATH.mat", help="the authors' Matlab model file")
    cv.add_argument("-o", "--output", required=True, metavar="PATH.safetensors")
    cv.add_argument("-s", "--scale", type=_float, default=None,
                    help="the scale the model is for (default: from an xN file name)")
    cv.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    inf = sub.add_parser("info", help="show what a weights file or model name holds")
    inf.add_argument("weights", help="a shipped model name, .safetensors or .mat file")

    sub.add_parser("models", help="list the shipped pretrained models")

    tr = sub.add_parser("train", help="train SRCNN on folders of high-resolution images",
                        description="Train on 33x33 sub-images (stride 14) cut from the Y channel "
                        "of HR images, as the paper does. Writes checkpoint.pt, metrics.csv, "
                        "best.safetensors and last.safetensors into --out; --resume goes on "
                        "where the checkpoint stopped; Ctrl-C saves a checkpoint first.")
    tr.add_argument("--arch", default="9-1-5", choices=["9-1-5", "9-3-5", "9-5-5"],
                    help="filter sizes f1-f2-f3 (default 9-1-5)")
    tr.add_argument("-s", "--scale", type=_float, action="append", dest="scales",
                    help="scale factor k; repeat for a multi-scale set (default 3)")
    tr.add_argument("--train-set", action="append", dest="train_sets", metavar="NAME_OR_DIR",
                    help="training set name in the data root or a folder; repeatable (default T91)")
    tr.add_argument("--val-set", default="Set5",
                    help="set to monitor PSNR on (default Set5; never used to pick shipped weights)")
    tr.add_argument("--data-root", default=None, help="data root (default: $SRCNN_DATA, else "
                    "~/.local/share/srcnn/data)")
    tr.add_argument("--recipe", default="fast", choices=["paper", "fast"],
                    help="paper: SGD+momentum, per-layer lr 1e-4/1e-4/1e-5; fast: Adam + cosine")
    tr.add_argument("--out", default="runs/srcnn", help="run folder (default runs/srcnn)")
    tr.add_argument("--max-steps", type=_positive_int, default=100_000,
                    help="stop after this many optimiser steps (default 100000)")
    tr.add_argument("--max-minutes", type=_float, default=None, help="stop after this wall time")
    tr.add_argument("--batch-size", type=_positive_int, default=128, help="mini-batch (default 128)")
    tr.add_argument("--lr", type=_float, default=None, help="base learning rate (recipe default)")
    tr.add_argument("--eval-every", type=_positive_int, default=1000,
                    help="validate and log every N steps (default 1000)")
    tr.add_argument("--ckpt-every", type=_positive_int, default=1000,
                    help="checkpoint every N steps (default 1000)")
    tr.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    tr.add_argument("--seed", type=_positive_int, default=0, help="random seed (default 0)")
    tr.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda")
    tr.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    try:
        from .cli_data import add_data_parser
    except ImportError:  # pragma: no cover - cli_data is part of the package
        pass
    else:
        add_data_parser(sub)  # type: ignore[arg-type]
    return p


# ------------------------------------------------------------------------------------- commands
def _err(msg: str) -> None:
    print(f"srcnn: error: {msg}", file=sys.stderr)


def _note(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"srcnn: {msg}", file=sys.stderr)


def cmd_convert(args: argparse.Namespace) -> int:
    from .fileio import check_output_path
    from .infer import check_scale
    from .weights import load_mat, save_weights

    if args.scale is not None:
        check_scale(args.scale)
    out = check_output_path(args.output, overwrite=args.overwrite, inputs=(Path(args.mat),))
    if out.suffix.lower() != ".safetensors":
        raise ConfigError(f"output {out} should end in .safetensors")
    w = load_mat(args.mat, scale=args.scale)
    digest = save_weights(w, out, overwrite=args.overwrite)
    scales = ", ".join(f"x{s:g}" for s in w.scales) or "unknown scale"
    print(f"wrote {out}: SRCNN {w.config.name}, {scales}, tensors sha256 {digest}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from .weights import load_weights, weights_to_dict

    print(json.dumps(weights_to_dict(load_weights(args.weights)), indent=2))
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from .pretrained import REGISTRY

    if not REGISTRY:
        print("no shipped models in this version; use --weights with a .safetensors or .mat file")
        return EXIT_OK
    print(f"{'name':<22} {'arch':<6} {'scales':<14} {'Set5 PSNR':<10} recipe")
    for m in REGISTRY:
        scales = ",".join(f"x{s:g}" for s in m.scales)
        set5 = m.meta.get("set5_psnr", "")
        print(f"{m.name:<22} {m.arch:<6} {scales:<14} {set5!s:<10} {m.recipe}")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import EvalConfig, count_images, evaluate
    from .fileio import atomic_write_bytes, check_output_path
    from .infer import check_scale, resolve_model
    from .weights import Weights, load_weights

    w: Weights = load_weights(args.weights)
    if args.scale is None:
        if len(w.scales) != 1:
            raise ConfigError("the weights do not name one scale; pass --scale")
        scale = w.scales[0]
    else:
        scale = check_scale(args.scale)
    if args.json:
        check_output_path(args.json, overwrite=args.overwrite)
    cfg = EvalConfig(sets=tuple(args.sets), scale=scale, data_root=args.data_root,
                     device=args.device)
    model, mode = resolve_model(w, scale, device=args.device, strict_scale=False)
    total = count_images(cfg.sets, cfg.data_root)
    bar = _bar(total, "evaluate", args.quiet, unit="img")
    try:
        results = evaluate(cfg, model, mode,
                           progress=(lambda s, f: bar.update(1)) if bar else None)
    finally:
        if bar:
            bar.close()
    print(f"SRCNN {w.config.name} ({w.name}), scale x{scale:g}: Y-PSNR (dB) / SSIM, "
          f"border {int(-(-scale // 1))} px shaved")
    rgb = any(r.psnr_rgb_model is not None for s in results for r in s.images)
    if args.per_image:
        for s in results:
            print(f"\n{s.name}  ({s.folder})")
            head = f"  {'image':<14} {'size':>9}  {'bicubic':>16}  {'SRCNN':>16}"
            print(head + (f"  {'RGB bic':>8} {'RGB SR':>8}" if rgb else ""))
            for r in s.images:
                line = (f"  {r.name:<14} {r.width:>4}x{r.height:<4}  "
                        f"{r.psnr_bicubic:7.2f} / {r.ssim_bicubic:.4f}  "
                        f"{r.psnr_model:7.2f} / {r.ssim_model:.4f}")
                if rgb:
                    line += f"  {r.psnr_rgb_bicubic:8.2f} {r.psnr_rgb_model:8.2f}"
                print(line)
    print(f"\n{'set':<10} {'images':>6}  {'bicubic PSNR':>12} {'SSIM':>7}  {'SRCNN PSNR':>10} "
          f"{'SSIM':>7}  {'gain':>6}" + ("  RGB-PSNR bic / SR" if rgb else ""))
    for s in results:
        pb, pm = s.mean("psnr_bicubic"), s.mean("psnr_model")
        line = (f"{s.name:<10} {len(s.images):>6}  {pb:12.2f} {s.mean('ssim_bicubic'):7.4f}  "
                f"{pm:10.2f} {s.mean('ssim_model'):7.4f}  {pm - pb:+6.2f}")
        if rgb:
            line += f"  {s.mean('psnr_rgb_bicubic'):.2f} / {s.mean('psnr_rgb_model'):.2f}"
        print(line)
    if args.json:
        doc = {"weights": args.weights, "model": w.name, "arch": w.config.name, "scale": scale,
               "channels_mode": mode, "sets": [s.to_dict() for s in results]}
        atomic_write_bytes(args.json, (json.dumps(doc, indent=2) + "\n").encode(),
                           overwrite=args.overwrite)
        print(f"\nwrote {args.json}")
    return EXIT_OK


def _bar(total: int, desc: str, quiet: bool, unit: str = "it") -> Any:
    if quiet or total <= 1:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)


def _collect_inputs(inputs: Sequence[str], recursive: bool) -> list[tuple[Path, Path]]:
    """(file, relative output stem) for every input; folders are expanded."""
    from .datasets import list_images
    from .errors import ImageReadError

    found: list[tuple[Path, Path]] = []
    for s in inputs:
        p = Path(s).expanduser()
        if p.is_dir():
            files = list_images(p, recursive=recursive)
            if not files:
                raise ImageReadError(f"{p}: no images found in this folder"
                                     + ("" if recursive else " (use --recursive for sub-folders)"))
            found.extend((f, f.relative_to(p).with_suffix("")) for f in files)
        elif p.exists():
            found.append((p, Path(p.stem)))
        else:
            raise ImageReadError(f"{p}: no such file or folder")
    return found


def cmd_upscale(args: argparse.Namespace) -> int:
    from .fileio import check_output_path
    from .images import DEFAULT_MAX_PIXELS, format_for_path, read_image, write_image
    from .infer import check_scale, resolve_model, upscale_picture

    scale = check_scale(args.scale)
    inputs = _collect_inputs(args.inputs, args.recursive)
    model, mode = resolve_model(args.weights, scale, device=args.device,
                                strict_scale=not args.allow_scale_mismatch)
    max_px = args.max_pixels if args.max_pixels is not None else DEFAULT_MAX_PIXELS
    input_paths = tuple(f for f, _ in inputs)
    jobs: list[tuple[Path, Path]] = []
    if args.output is not None:
        if len(inputs) != 1:
            raise ConfigError(f"-o takes one input image, got {len(inputs)}; use --out-dir")
        out = check_output_path(args.output, overwrite=args.overwrite, inputs=input_paths)
        format_for_path(out)
        jobs.append((inputs[0][0], out))
    else:
        out_dir = Path(args.out_dir).expanduser()
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"--out-dir {out_dir} exists and is not a folder")
        ext = args.ext.lower().lstrip(".")
        for f, rel in inputs:
            suffix = f.suffix if ext == "same" else f".{ext}"
            jobs.append((f, out_dir / rel.with_suffix(suffix)))
        format_for_path(jobs[0][1])
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create --out-dir {out_dir}: {e.strerror}") from None
        if not os.access(out_dir, os.W_OK | os.X_OK):
            raise ConfigError(f"--out-dir {out_dir} is not writable")
    done, skipped, failed = 0, 0, []
    bar = _bar(len(jobs), "upscale", args.quiet, unit="img")
    for src, dst in jobs:
        try:
            if dst.exists() and args.skip_existing and args.output is None:
                skipped += 1
                continue
            if args.output is None:
                dst.parent.mkdir(parents=True, exist_ok=True)
                check_output_path(dst, overwrite=args.overwrite, inputs=input_paths)
            pic = read_image(src, max_pixels=max_px or None)
            res = upscale_picture(pic, scale, model, mode, tile=args.tile or None,
                                  device=args.device)
            notes = res.notes + write_image(res, dst, overwrite=args.overwrite)
            done += 1
            if not args.quiet:
                msg = (f"{src} ({pic.size[0]}x{pic.size[1]}) -> {dst} "
                       f"({res.size[0]}x{res.size[1]})")
                if notes:
                    msg += "; " + "; ".join(notes)
                (bar.write(msg, file=sys.stderr) if bar else print(msg))
        except SRCNNError as e:
            failed.append((src, str(e)))
            if bar:
                bar.write(f"srcnn: error: {e}", file=sys.stderr)
            else:
                _err(str(e))
        finally:
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    if len(jobs) > 1 and not args.quiet:
        print(f"done {done}, skipped {skipped}, failed {len(failed)}", file=sys.stderr)
        for _src, why in failed:
            print(f"  failed: {why}", file=sys.stderr)
    return EXIT_OK if not failed else EXIT_FAIL


def cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig(arch=args.arch, scales=tuple(args.scales or [3.0]),
                      train_sets=tuple(args.train_sets or ["T91"]), val_set=args.val_set,
                      data_root=args.data_root, recipe=args.recipe, out=args.out,
                      max_steps=args.max_steps, max_minutes=args.max_minutes,
                      batch_size=args.batch_size, lr=args.lr, eval_every=args.eval_every,
                      ckpt_every=args.ckpt_every, seed=args.seed, device=args.device)
    for s in cfg.scales:
        from .infer import check_scale

        check_scale(s)
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=cfg.max_steps, desc="train", unit="step", file=sys.stderr,
                   dynamic_ncols=True)

    def progress(step: int, loss: float, val: float | None) -> None:
        if bar is not None:
            bar.n = step
            bar.set_postfix(loss=f"{loss:.2e}", val_psnr="-" if val is None else f"{val:.2f}",
                            refresh=False)
            bar.refresh()

    try:
        res = train(cfg, resume=args.resume, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    print(f"stopped at step {res['step']}; best val PSNR {res['best_val_psnr']:.2f} dB; "
          f"files in {res['out']}")
    return EXIT_OK


COMMANDS = {
    "train": cmd_train,
    "upscale": cmd_upscale,
    "evaluate": cmd_evaluate,
    "convert": cmd_convert,
    "info": cmd_info,
    "models": cmd_models,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except _UsageError as e:
        print(f"{e}\n(run `srcnn --help` or `srcnn COMMAND --help`)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help / --version
        return int(e.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "data":
            from .cli_data import run_data

            return run_data(args)
        return COMMANDS[args.command](args)
    except ConfigError as e:
        _err(str(e))
        return EXIT_USAGE
    except SRCNNError as e:
        _err(str(e))
        return EXIT_FAIL
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except MemoryError:
        _err("out of memory; try a smaller --tile or a smaller image")
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
