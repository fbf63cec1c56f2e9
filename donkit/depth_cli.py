"""`donkit depth train|evaluate|predict`: depth from one RGB image.

Parses arguments, loads the typed config and calls the depth package; it holds no algorithm.
User mistakes are DonkitErrors, which donkit.cli.main prints as one line.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

from donkit.config import load_config
from donkit.options import add_config_options, add_run_folder_options
from donkit.summaries import depth_lines
from formats import DonkitError

_DEVICES = ["auto", "cpu", "cuda"]


def add_depth_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `donkit depth` and its subcommands train, evaluate and predict."""
    depth = subparsers.add_parser(
        "depth",
        help="depth from one RGB image: train, evaluate, predict",
        description=textwrap.dedent(
            """\
            Depth from one RGB image, learned in one of three ways (depth.mode):
            self_supervised, from each scene's views and their forward-kinematics camera poses
            (the photometric loss of rebuilding a view from its neighbours with the predicted
            depth; metric scale from the poses, or a pose network for sequences without poses);
            stereo, from rectified pairs (scenes collected with
            collect.camera.stereo_baseline_m > 0); supervised, against sensor depth with the
            scale-invariant log loss. `donkit depth COMMAND --help` explains each command."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = depth.add_subparsers(dest="depth_command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a depth network on scenes",
        description=textwrap.dedent(
            """\
            Train a depth network (the descriptor network's ResNet as encoder, a U-Net decoder
            with sigmoid disparities at four scales) on the scenes at or below DATA, in the way
            depth.mode says. Writes RUN/config.yaml, RUN/log.jsonl (loss terms every
            depth.log_every steps), RUN/tb (TensorBoard: loss terms, example depth images),
            RUN/checkpoints/step_XXXXXX.pt and last.pt (with the mode, network shape, image
            size and depth range, so evaluate and predict need no config), and
            RUN/train_summary.json. Scale out with torchrun: `torchrun --nproc_per_node N -m
            donkit.cli depth train ...` (each process draws depth.batch_size samples a step)."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_folder_options(train, "training scenes")
    train.add_argument(
        "--mode",
        choices=["self_supervised", "stereo", "supervised"],
        help="training signal (depth.mode; default self_supervised)",
    )
    add_config_options(train, "depth.steps=2000")
    train.add_argument("--steps", type=int, metavar="N", help="total steps (depth.steps)")
    train.add_argument(
        "--device", choices=_DEVICES, help="where to train (depth.device; auto: cuda if present)"
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="measure a depth run on held-out scenes, against baselines",
        description=textwrap.dedent(
            """\
            Predict the depth of every frame of the held-out scenes under DATA from its RGB
            alone and compare it with the sensor depth (pixels within the run's depth range):
            abs_rel, sq_rel, rmse (m), rmse_log and the shares of pixels within 1.25, 1.25^2
            and 1.25^3 of the truth, per image and averaged, both metric and median-scaled (each
            image's prediction multiplied by median(sensor) / median(prediction)). Baselines:
            one constant depth for every pixel (the median sensor depth of the run's training
            scenes), and the run given with --supervised. Writes RUN/metrics.json (keys metric,
            median_scaled, baselines) and prints a table."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("run", type=Path, metavar="RUN", help="a `donkit depth train` run")
    evaluate.add_argument(
        "--data", type=Path, required=True, metavar="DATA", help="held-out scenes"
    )
    evaluate.add_argument(
        "--supervised", type=Path, metavar="RUN2", help="a supervised depth run, as a baseline"
    )
    evaluate.add_argument(
        "--train-data",
        type=Path,
        metavar="DATA",
        help="training scenes for the constant baseline's depth (default: the run's own)",
    )
    evaluate.add_argument("--device", choices=_DEVICES, default="auto")

    predict = commands.add_parser(
        "predict",
        help="write the depth a run predicts for a scene or a folder of images",
        description=textwrap.dedent(
            """\
            Predict depth from RGB for a scene (its processed/images) or a folder of images
            (.png, .jpg), and write OUT/XXXXXX_depth.png (uint16 millimetres, 0 = none) and
            OUT/XXXXXX_depth_colour.png (inverse depth as colours, near is bright); XXXXXX is
            the frame index of a scene, or the image's position in name order (OUT/index.yaml
            lists them). With --as-scene, OUT becomes a scene in the Dense Object Nets layout
            (the input's RGB, intrinsics and poses, the predicted depth as its depth images,
            pictures in OUT/depth_colour/) that `donkit fuse OUT` turns into a mesh: RGB-only
            data fused with learned depth."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("run", type=Path, metavar="RUN", help="a `donkit depth train` run")
    predict.add_argument(
        "--input",
        type=Path,
        required=True,
        metavar="SCENE|IMAGES",
        help="a scene folder, or a folder of RGB images",
    )
    predict.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    predict.add_argument(
        "--as-scene",
        action="store_true",
        help="write OUT as a scene (needs a scene as --input) that `donkit fuse` accepts",
    )
    predict.add_argument("--device", choices=_DEVICES, default="auto")


def run_depth(args: argparse.Namespace) -> None:
    {"train": _train, "evaluate": _evaluate, "predict": _predict}[args.depth_command](args)


def _train(args: argparse.Namespace) -> None:
    from depth.train import train_depth
    from formats.plain import to_plain
    from formats.runs import RunFolder
    from learn.checkpoints import load_checkpoint

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"depth.steps={args.steps}")
    if args.mode is not None:
        overrides.append(f"depth.mode={args.mode}")
    data, out = args.data, args.out
    if args.resume is not None:
        if args.config is not None:
            raise DonkitError("--resume uses the run's own config; leave out --config")
        if out is not None and out != args.resume:
            raise DonkitError("--resume RUN writes to RUN; leave out --out")
        run = RunFolder(args.resume)
        if not run.last.is_file():
            raise DonkitError(f"cannot resume: {run.last} does not exist")
        state = load_checkpoint(run.last)
        if "depth" not in state:
            raise DonkitError(f"{args.resume} is not a depth run; resume it with `donkit train`")
        config = load_config(run.config, overrides)
        data = data or Path(state["sources"]["data"])
        out = args.resume
    else:
        if data is None or out is None:
            raise DonkitError("give --data DATA and --out RUN (or --resume RUN)")
        config = load_config(args.config, overrides)
    try:
        summary = train_depth(
            to_plain(config), config.depth, data, out, resume=args.resume is not None,
            device_name=args.device,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(f"depth train: continue with `donkit depth train --resume {out}`", file=sys.stderr)
        raise
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"depth train: {summary.line()} -> {out}")


def _evaluate(args: argparse.Namespace) -> None:
    from depth.evaluate import evaluate_depth

    results = evaluate_depth(args.run, args.data, args.supervised, args.train_data, args.device)
    print("\n".join(depth_lines(results)))


def _predict(args: argparse.Namespace) -> None:
    from depth.predict import predict_run

    summary = predict_run(args.run, args.input, args.out, args.as_scene, args.device)
    print(f"depth predict: {summary.line()}")
    if args.as_scene:
        print(f"fuse it with: donkit fuse {args.out}")
