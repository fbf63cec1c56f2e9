"""`donkit correspond`: a dataset of pixel matches and non-matches between views."""

from __future__ import annotations

import argparse
from pathlib import Path

from donkit.config import load_config
from donkit.options import add_command, add_config_options, add_parallel_options, set_from_options

NAME = "correspond"
OPTION_KEYS = {
    "pairs": "correspond.pairs",
    "matches": "correspond.matches",
    "saved_nonmatches": "correspond.saved_nonmatches_per_match",
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "make a dataset of pixel matches and non-matches between views",
        """\
        Make correspondence pairs from the fused scenes at or below DATA (run `donkit fuse`
        first): pixels of a view A's object mask are moved into a view B with the rendered
        mesh depth and the poses, and kept as matches where B sees the same point and neither
        frame's own depth image contradicts the mesh there (correspond.sensor_tolerance);
        non-matches are drawn on B's mask and background away from the match, blind (random
        pixels), and between views of two different objects. Pair kinds (same_object,
        different_object, multi_object) follow the odds in the config. Writes DIR/index.yaml
        and DIR/pairs/XXXXXX.npz (uv_a, uv_b, xyz, nonmatch_uv_a, nonmatch_uv_b,
        nonmatch_kind); an interrupted run resumes.""",
    )
    parser.add_argument("data", type=Path, metavar="DATA", help="fused scenes")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset folder")
    add_config_options(parser, "correspond.nonmatch_radius_px=5")
    parser.add_argument("--pairs", type=int, metavar="N", help="pairs (correspond.pairs)")
    parser.add_argument(
        "--matches", type=int, metavar="M", help="most matches kept per pair (correspond.matches)"
    )
    parser.add_argument(
        "--saved-nonmatches",
        type=int,
        metavar="P",
        help="non-matches kept in the dataset per match (correspond.saved_nonmatches_per_match; "
        "correspond.nonmatches_per_match of them are drawn, as the trainer does)",
    )
    add_parallel_options(parser)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a dataset made with other settings"
    )
    parser.add_argument(
        "--show",
        type=int,
        default=0,
        metavar="N",
        help="also write DIR/show/XXXXXX.png for the first N pairs: A beside B, match lines, "
        "non-match marks (red masked, blue background, yellow blind, magenta cross-object)",
    )


def run(args: argparse.Namespace) -> None:
    from descriptors.dataset import write_dataset

    config = load_config(args.config, set_from_options(args, OPTION_KEYS)).correspond
    summary = write_dataset(
        args.data, args.out, config, args.workers, args.backend, args.overwrite, args.show
    )
    print(f"correspond: {summary.line()} -> {args.out}")
