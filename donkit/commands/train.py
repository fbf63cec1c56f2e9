"""`donkit train`: train a dense descriptor network on fused scenes."""

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

NAME = "train"
USES_TORCH = True  # the command line sets up torch's CPU threads for it (donkit/cli.py)
COMMAND = "donkit train"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "train a dense descriptor network on fused scenes",
        """\
        Train a fully convolutional network mapping an image to a descriptor per pixel, with
        the pixelwise contrastive loss of Dense Object Nets, on pairs drawn on the fly from
        the fused scenes at or below DATA (the `correspond` section's pair policy; the
        `train` section for the rest). Writes RUN/config.yaml, RUN/log.jsonl (loss terms
        every train.loop.log_every steps), RUN/tb (TensorBoard),
        RUN/checkpoints/step_XXXXXX.pt and last.pt, and RUN/train_summary.json. With --val,
        the loss on held-out pairs is tracked too. Scale out with torchrun: `torchrun
        --nproc_per_node N -m donkit.cli train ...` (each process draws
        train.pairs_per_step pairs a step).""",
    )
    add_run_folder_options(parser, "fused training scenes")
    parser.add_argument("--val", type=Path, metavar="DATA", help="fused held-out scenes")
    add_config_options(parser, "train.loop.steps=1000")
    parser.add_argument("--steps", type=int, metavar="N", help="total steps (train.loop.steps)")
    add_device_option(parser, "train.loop.device")


def run(args: argparse.Namespace) -> None:
    from descriptors.train import train_descriptors
    from formats.plain import to_plain
    from learn.devices import Processes

    overrides = set_from_options(args, {"steps": "train.loop.steps"})
    request = training_request(args, overrides, "descriptors", COMMAND)
    config = request.config
    summary = train_descriptors(
        to_plain(config),
        config.correspond,
        config.train,
        request.data,
        request.out,
        request.validation,
        resume=request.resume,
        device_name=args.device,
    )
    if Processes.from_environment().main:
        print(f"train: {summary.line()} -> {request.out}")


def interrupted(args: argparse.Namespace) -> str:
    return resume_hint(COMMAND, args)
