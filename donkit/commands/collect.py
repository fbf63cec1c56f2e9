"""`donkit collect`: record RGB-D scenes with a simulated arm."""

from __future__ import annotations

import argparse
from pathlib import Path

from donkit.config import load_config
from donkit.options import add_command, add_config_options, add_parallel_options, set_from_options
from formats import DonkitError

NAME = "collect"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "record RGB-D scenes with a simulated arm",
        """\
        Record scenes: objects rest on a table, a simulated arm (Franka Panda or KUKA iiwa)
        moves a camera through views on a spherical cap around them, and each view is
        written as RGB, depth (uint16 mm) and the camera pose from forward kinematics, in
        the Dense Object Nets layout under OUT/scene_XXXX/. Simulator ground truth (meshes,
        object poses, segmentation) goes to ground_truth/ beside it. Scenes are written into
        scene_XXXX.partial/ and renamed when complete; running the same command again
        resumes interrupted scenes and keeps finished ones.""",
    )
    add_config_options(parser)
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder for the scenes")
    parser.add_argument("--scenes", type=int, metavar="N", help="number of scenes (collect.scenes)")
    add_parallel_options(parser)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace scenes that exist (otherwise a complete scene made with the same config "
        "and seed is kept, an interrupted one resumed, and any other is an error)",
    )
    parser.add_argument(
        "--gui", action="store_true", help="show pybullet's window (needs a display; one worker)"
    )
    parser.add_argument(
        "--list-objects", action="store_true", help="list the object library and exit"
    )


def run(args: argparse.Namespace) -> None:
    from collect import collect
    from sim_assets.catalog import get_object_spec, list_objects

    if args.list_objects:
        for name in list_objects():
            spec = get_object_spec(name)
            print(f"{name:16s} {spec.object_class:8s} {spec.description}")
        return
    if args.out is None:
        raise DonkitError("donkit collect needs --out DIR, the folder to write the scenes to")
    config = load_config(args.config, set_from_options(args, {"scenes": "collect.scenes"}))
    workers = 1 if args.gui else args.workers
    summary = collect(config.collect, args.out, workers, args.backend, args.overwrite, gui=args.gui)
    print(f"collect: {summary.line()} -> {args.out}")
