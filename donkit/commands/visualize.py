"""`donkit visualize`: a trained run's descriptors, distance heatmaps and best matches."""

from __future__ import annotations

import argparse
from pathlib import Path

from descriptors.config import VisualizeConfig
from donkit.options import (
    add_command,
    add_config_options,
    add_device_option,
    set_from_options,
    trained_run_config,
)

NAME = "visualize"
USES_TORCH = True  # the command line sets up torch's CPU threads for it (donkit/cli.py)
OPTION_KEYS = {"pairs": "visualize.pairs", "pixels": "visualize.pixels", "seed": "visualize.seed"}


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "draw a trained run's descriptors, distance heatmaps and best matches",
        """\
        Draw a run's descriptors on held-out pairs of views of the fused scenes under DATA,
        into OUT: pair_XX_descriptors.png (A and B beside their descriptors as colours: D = 3
        shown directly, more projected onto three principal components, one basis for all
        images) and pair_XX_matches.png (for a few true matches: the pixel of A, and over B
        the heatmap of descriptor distance to it, the best match as a green circle and the
        true match as a blue cross). With --html, OUT/viewer.html: one self-contained page
        where hovering a pixel of one image shows the heatmap and best match in the others.
        The run's own config is used; --set changes it for these pictures.""",
    )
    parser.add_argument("run", type=Path, metavar="RUN", help="a `donkit train` run folder")
    parser.add_argument("--data", type=Path, required=True, metavar="DATA", help="held-out scenes")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="OUT", help="folder for the pictures"
    )
    defaults = VisualizeConfig()
    parser.add_argument(
        "--pairs", type=int, metavar="N", help=f"pairs (visualize.pairs; default {defaults.pairs})"
    )
    parser.add_argument(
        "--pixels",
        type=int,
        metavar="P",
        help=f"matches drawn per pair (visualize.pixels; default {defaults.pixels})",
    )
    parser.add_argument(
        "--seed", type=int, help=f"seed of the pairs (visualize.seed; default {defaults.seed})"
    )
    parser.add_argument("--html", action="store_true", help="also write OUT/viewer.html")
    add_config_options(parser, "visualize.pairs=8", with_file=False)
    add_device_option(parser)


def run(args: argparse.Namespace) -> None:
    from descriptors.visualize import visualize_run

    overrides = set_from_options(args, OPTION_KEYS)
    config = trained_run_config(args.run, overrides, "descriptors", "donkit visualize")
    result = visualize_run(
        args.run,
        args.data,
        args.out,
        config.correspond,
        pairs=config.visualize.pairs,
        pixels=config.visualize.pixels,
        seed=config.visualize.seed,
        device_name=args.device or "auto",
        html=args.html,
    )
    print(f"visualize: {result.pairs} pairs, {len(result.files)} pictures -> {args.out}")
    if result.viewer is not None:
        print(f"viewer: {result.viewer}")
