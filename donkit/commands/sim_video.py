"""`donkit sim-video`: simulated videos with ground-truth point tracks (TAP-Vid files)."""

from __future__ import annotations

import argparse
from pathlib import Path

from donkit.config import load_config
from donkit.options import add_command, add_config_options, add_parallel_options, set_from_options

NAME = "sim-video"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "simulate videos with ground-truth point tracks (TAP-Vid files)",
        """\
        Simulate videos for measuring keypoint tracking: the arm sweeps its camera around
        objects on the table (the `video` section: 110-140 degrees of azimuth, so that every
        object is seen from directions at least video.min_viewpoint_change_deg apart) while
        some objects slide and turn along scripted paths and a second arm passes its hand
        between the camera and the objects. Points sampled on the objects' exact meshes are
        projected into every frame and marked occluded where the rendered depth shows
        something in front of them (another object, an arm, the object's own near side) or
        they leave the image. Writes OUT/video_XXXX.npz (TAP-Vid: video, target_points,
        occluded, query_points), OUT/video_XXXX.mp4 and OUT/video_XXXX.yaml (camera and
        object poses per frame, the points, occlusion shares; written last). Videos made with
        the same config are kept when run again.""",
    )
    add_config_options(parser, "video.frames=24")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder")
    parser.add_argument("--videos", type=int, metavar="N", help="number of videos (video.videos)")
    add_parallel_options(parser)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace videos made with another config (otherwise that is an error; videos made "
        "with the same config are kept)",
    )


def run(args: argparse.Namespace) -> None:
    from collect.video import sim_videos

    config = load_config(args.config, set_from_options(args, {"videos": "video.videos"}))
    summary = sim_videos(
        config.collect, config.video, args.out, args.workers, args.backend, args.overwrite
    )
    print(f"sim-video: {summary.line()} -> {args.out}")
