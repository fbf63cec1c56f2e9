"""`donkit depth train|evaluate|predict`: depth from one RGB image."""

from __future__ import annotations

import argparse
from pathlib import Path

from donkit.options import (
    add_command,
    add_config_options,
    add_device_option,
    add_run_folder_options,
    resume_hint,
    set_from_options,
    training_request,
)
from donkit.summaries import depth_lines

NAME = "depth"
USES_TORCH = True  # the command line sets up torch's CPU threads for it (donkit/cli.py)
TRAIN_COMMAND = "donkit depth train"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`donkit depth` and its subcommands train, evaluate and predict."""
    depth = add_command(
        commands,
        NAME,
        "depth from RGB: train, evaluate, predict",
        """\
            Depth from one RGB image, or from a frame and its posed neighbours
            (depth.multi_frame: a plane-sweep cost volume over the neighbouring frames joins
            the image's features), learned in one of three ways (depth.mode):
            self_supervised, from each scene's views and their forward-kinematics camera poses
            (the photometric loss of rebuilding a view from its neighbours with the predicted
            depth; metric scale from the poses, or a pose network for sequences without poses);
            stereo, from rectified pairs (scenes collected with
            collect.camera.stereo_baseline_m > 0); supervised, against sensor depth with the
            scale-invariant log loss. `donkit depth COMMAND --help` explains each command.""",
    )
    subcommands = depth.add_subparsers(dest="depth_command", metavar="COMMAND", required=True)

    train = add_command(
        subcommands,
        "train",
        "train a depth network on scenes",
        """\
            Train a depth network (the descriptor network's ResNet as encoder, a U-Net decoder
            with sigmoid disparities at four scales) on the scenes at or below DATA, in the way
            depth.mode says. Writes RUN/config.yaml, RUN/log.jsonl (loss terms every
            depth.loop.log_every steps), RUN/tb (TensorBoard: loss terms, example depth images),
            RUN/checkpoints/step_XXXXXX.pt and last.pt (with the mode, network shape, image
            size and depth range, so evaluate and predict need no config), and
            RUN/train_summary.json. Scale out with torchrun: `torchrun --nproc_per_node N -m
            donkit.cli depth train ...` (each process draws depth.batch_size samples a step).""",
    )
    add_run_folder_options(train, "training scenes")
    train.add_argument(
        "--mode",
        choices=["self_supervised", "stereo", "supervised"],
        help="training signal (depth.mode; default self_supervised)",
    )
    add_config_options(train, "depth.loop.steps=2000")
    train.add_argument("--steps", type=int, metavar="N", help="total steps (depth.loop.steps)")
    add_device_option(train, "depth.loop.device")

    evaluate = add_command(
        subcommands,
        "evaluate",
        "measure a depth run on held-out scenes, against baselines",
        """\
            Predict the depth of every frame of the held-out scenes under DATA from its RGB
            (and, for a multi-frame run, its neighbouring frames) and compare it with the sensor
            depth (pixels within the run's depth range):
            abs_rel, sq_rel, rmse (m), rmse_log and the shares of pixels within 1.25, 1.25^2
            and 1.25^3 of the truth, per image and averaged, both metric and median-scaled (each
            image's prediction multiplied by median(sensor) / median(prediction)). Baselines:
            one constant depth for every pixel (the median sensor depth of the run's training
            scenes); the plane sweep without learning (each pixel's cheapest plane of the cost
            volume over the same neighbours, the least distinct filled from around them, with
            the run's depth.sweep_* settings and planes); and the run given with --supervised.
            Writes RUN/metrics.json (keys metric, median_scaled, baselines) and prints a table.""",
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
    add_device_option(evaluate)

    predict = add_command(
        subcommands,
        "predict",
        "write the depth a run predicts for scenes or a folder of images",
        """\
        Predict depth from RGB for a scene (its processed/images), a folder of scenes (each
        into OUT/<its path under the input>) or a folder of images (.png, .jpg), and write
        OUT/XXXXXX_depth.png (uint16 millimetres, 0 = none) and OUT/XXXXXX_depth_colour.png
        (inverse depth as colours, near is bright); XXXXXX is the frame index of a scene, or
        the image's position in name order (OUT/index.yaml lists them). A multi-frame run
        (depth.multi_frame) predicts each frame from its scene's neighbouring frames and
        their poses too, so it takes scenes only. With --as-scene, each output is a scene
        in the Dense Object Nets layout (the input's RGB, intrinsics and poses, the
        predicted depth as its depth images, pictures in depth_colour/) that `donkit fuse
        OUT` turns into a mesh: RGB-only data fused with learned depth.""",
    )
    predict.add_argument("run", type=Path, metavar="RUN", help="a `donkit depth train` run")
    predict.add_argument(
        "--input",
        type=Path,
        required=True,
        metavar="SCENES|IMAGES",
        help="a scene folder, a folder of scenes, or a folder of RGB images",
    )
    predict.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    predict.add_argument(
        "--as-scene",
        action="store_true",
        help="write scenes (needs scenes as --input) that `donkit fuse` accepts",
    )
    add_device_option(predict)


def run(args: argparse.Namespace) -> None:
    {"train": _train, "evaluate": _evaluate, "predict": _predict}[args.depth_command](args)


def interrupted(args: argparse.Namespace) -> str:
    if args.depth_command == "train":
        return resume_hint(TRAIN_COMMAND, args)
    return "run the same command again"


def _train(args: argparse.Namespace) -> None:
    from depth.train import train_depth
    from formats.plain import to_plain
    from learn.devices import Processes

    overrides = set_from_options(args, {"steps": "depth.loop.steps", "mode": "depth.mode"})
    request = training_request(args, overrides, "depth", TRAIN_COMMAND)
    summary = train_depth(
        to_plain(request.config),
        request.config.depth,
        request.data,
        request.out,
        resume=request.resume,
        device_name=args.device,
    )
    if Processes.from_environment().main:
        print(f"depth train: {summary.line()} -> {request.out}")


def _evaluate(args: argparse.Namespace) -> None:
    from depth.evaluate import evaluate_depth

    results = evaluate_depth(
        args.run, args.data, args.supervised, args.train_data, args.device or "auto"
    )
    print("\n".join(depth_lines(results)))


def _predict(args: argparse.Namespace) -> None:
    from depth.predict import predict_run

    summary = predict_run(args.run, args.input, args.out, args.as_scene, args.device or "auto")
    print(f"depth predict: {summary.line()}")
    if args.as_scene:
        print(f"fuse it with: donkit fuse {args.out}")
