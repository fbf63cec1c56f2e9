"""`donkit import`: recordings in other layouts into Dense Object Nets scenes."""

from __future__ import annotations

import argparse
from pathlib import Path

from donkit.options import add_command
from formats import DonkitError

NAME = "import"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "turn recordings in other layouts into Dense Object Nets scenes",
        """\
        Turn a recording in another layout into a scene in the Dense Object Nets layout, which
        every other command reads. Layouts: tum (the TUM RGB-D benchmark's).""",
    )
    layouts = parser.add_subparsers(dest="layout", metavar="LAYOUT", required=True)
    tum = add_command(
        layouts,
        "tum",
        "a TUM RGB-D sequence (rgb.txt, depth.txt, groundtruth.txt)",
        """\
        Import a TUM RGB-D sequence folder SRC (rgb.txt, depth.txt and groundtruth.txt with
        their rgb/ and depth/ images, as the benchmark's .tgz files unpack) into the scene
        SCENE: processed/images/XXXXXX_rgb.png, XXXXXX_depth.png (millimetres; TUM stores
        1/5000 m), camera_info.yaml and pose_data.yaml (camera_to_world, times in seconds).

        The three streams are not synchronized: each colour image takes the nearest depth
        image within --max-difference seconds, and its pose is interpolated at its time from
        the ground-truth poses around it (position linearly, orientation by slerp), which
        must lie within --max-gap seconds. Images without both are left out.

        The files hold no intrinsics. The default is the camera the benchmark registers its
        depth with (ROS default: fx = fy = 525, cx = 319.5, cy = 239.5 at 640 x 480); give
        --intrinsics for the per-sequence calibration (e.g. freiburg3: 535.4,539.2,320.1,247.6
        on its undistorted images). Check the result with `donkit check SCENE`.""",
    )
    tum.add_argument("source", type=Path, metavar="SRC", help="the TUM sequence folder")
    tum.add_argument("--out", type=Path, required=True, metavar="SCENE", help="the new scene")
    tum.add_argument(
        "--intrinsics",
        metavar="FX,FY,CX,CY",
        help="pinhole intrinsics in pixels (default: the ROS default camera, scaled to the images)",
    )
    tum.add_argument(
        "--every", type=int, default=1, metavar="N", help="keep every N-th frame (default 1)"
    )
    tum.add_argument(
        "--max-frames",
        type=int,
        default=0,
        metavar="N",
        help="keep at most N frames (default: all)",
    )
    tum.add_argument(
        "--max-difference",
        type=float,
        default=0.02,
        metavar="S",
        help="seconds between a colour image and its depth image at most (default 0.02)",
    )
    tum.add_argument(
        "--max-gap",
        type=float,
        default=0.1,
        metavar="S",
        help="seconds from a colour image to the ground-truth poses around it at most "
        "(default 0.1)",
    )


def run(args: argparse.Namespace) -> None:
    from formats.tum import chosen_frames, import_tum
    from jobs import progress_bar

    intrinsics = None if args.intrinsics is None else _intrinsics(args.intrinsics)
    if args.every < 1 or args.max_frames < 0:
        raise DonkitError("--every must be at least 1 and --max-frames at least 0")
    if not args.source.is_dir():
        raise DonkitError(f"{args.source} is not a folder (a TUM sequence unpacked)")
    frames = chosen_frames(
        args.source, args.every, args.max_frames, args.max_difference, args.max_gap
    )
    with progress_bar(len(frames), "import", None) as bar:
        import_tum(frames, args.out, intrinsics, bar.update)
    print(f"import: {len(frames)} frames of {args.source} -> {args.out}")


def _intrinsics(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or values[0] <= 0 or values[1] <= 0:
        raise DonkitError(
            f"--intrinsics needs four numbers FX,FY,CX,CY in pixels (FX, FY > 0); got {text!r}"
        )
    return values
