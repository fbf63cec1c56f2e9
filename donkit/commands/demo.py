"""`donkit demo`: the whole pipeline on the demo config, and its report."""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path

from donkit.config import load_config
from donkit.options import add_config_options, add_workers_option

NAME = "demo"
USES_TORCH = True  # the command line sets up torch's CPU threads for it (donkit/cli.py)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        NAME,
        help="run the whole pipeline on the demo config",
        description="Run the pipeline on the embedded demo config (or --config): collect the "
        "training scenes into OUT/data and held-out scenes (another seed) into OUT/data_test, "
        "fuse them, make a correspondence dataset of the training scenes in "
        "OUT/correspondences (with pictures of 8 pairs in OUT/correspondences/show), train "
        "descriptors into OUT/runs/demo (held-out loss tracked on OUT/data_test), and evaluate "
        "them against dense SIFT and the untrained network (OUT/runs/demo/eval/metrics.json "
        "and cdf.png), and draw them (OUT/runs/demo/viz, with viewer.html to open in a "
        "browser); then simulate videos with ground-truth point tracks (OUT/videos) and track "
        "them with the descriptors and with Lucas-Kanade (OUT/track/V/donkit, OUT/track/V/lk, "
        "TAP-Vid metrics in OUT/track/metrics.json), and train depth from one RGB image, "
        "self-supervised with the arm's camera poses, into OUT/depth (held-out metrics in "
        "OUT/depth/metrics.json). Last it writes OUT/report.html, every stage's pictures, "
        "tables and time on one page. OUT/stages.json records the finished stages: run again "
        "with the same config, they are skipped, and an interrupted stage continues (training "
        "from its last checkpoint).",
    )
    add_config_options(parser)
    parser.add_argument("--out", type=Path, default=Path("out/demo"), metavar="DIR")
    add_workers_option(parser)


def run(args: argparse.Namespace) -> None:
    from donkit.demo import run_demo

    config = load_config(args.config, args.overrides)
    run_demo(config, args.out, args.workers, metadata.version("donkit"))


def interrupted(args: argparse.Namespace) -> str:
    return f"run the same command again to continue (finished stages are kept in {args.out})"
