"""`donkit check`: do a scene's depth, intrinsics and poses agree? From its files alone."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from donkit.options import add_command, add_parallel_options
from donkit.table import format_table

NAME = "check"


def add_parser(commands: argparse._SubParsersAction) -> None:
    from reconstruct import consistency as c

    parser = add_command(
        commands,
        NAME,
        "check that each scene's depth, intrinsics and poses agree",
        f"""\
        Check each complete scene at or below DATA (a scene folder, or a folder of scenes in
        the Dense Object Nets layout, from donkit or elsewhere) from its files alone:
        processed/images/ (depth, camera_info.yaml, pose_data.yaml). Nothing else is read,
        no fusion is needed.

        Each frame is compared with the {c.PARTNERS} frames its view overlaps most: its depth,
        moved with the intrinsics and the two poses into the other frame, against that
        frame's depth, where the other frame sees the same surface (forward and backward:
        each surface faces both cameras, so the two sides of a thin wall are not compared;
        away from depth edges; not hidden). The figures, per pair of frames:
          relative   mean |dz| / z, the depth disagreement as a share of the depth (each
                     point's capped at {c.CAP:.0%}); a sensor's noise grows with distance.
          median mm  median |dz| in millimetres.
        A frame's figure is the median over its pairs; a scene's, the median over its pairs.
        A frame is OFF (its pose, or its depth's scale, disagrees with the rest) when its
        figure exceeds {c.FRAME_LIMIT:.1%} and {c.FRAME_RATIO:g} times the scene's typical pair (the
        lower quartile of its pairs); off frames are found worst first, and an off frame's
        pairs then no longer count, against its neighbours or in the scene's figure. A scene
        is consistent when no frame is off and its figure is at most {c.SCENE_LIMIT:.0%} (above
        that, everything disagrees: intrinsics, depth units or the
        pose convention). donkit's simulated scenes score about 0.07 %; a pose moved by 1 cm
        scores 0.5-3 %.

        Prints a table, writes every figure (per scene, frame and pair) as JSON, and exits 0
        when every scene is consistent, 1 otherwise (naming the scenes and frames).""",
    )
    parser.add_argument("data", type=Path, metavar="DATA", help="a scene, or a folder of scenes")
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="where to write the figures (default: DATA/check.json)",
    )
    add_parallel_options(parser)


def run(args: argparse.Namespace) -> int:
    from formats.atomic import write_bytes_atomic
    from formats.scenes import complete_scenes
    from jobs import progress_bar, run_tasks
    from reconstruct.consistency import check_scene, report_dict

    scenes, partial = complete_scenes(args.data, "point DATA at a scene or a folder of scenes")
    with progress_bar(len(scenes), "check", None, unit="scene") as bar:
        results = run_tasks(
            check_scene, [(path,) for path in scenes], args.workers, args.backend, bar.update
        )
    rows = []
    for result in results:
        rows.append(
            [
                _name(result.path, args.data),
                str(len(result.frames)),
                str(len(result.pairs)),
                _percent(result.relative),
                "-" if math.isnan(result.median_mm) else f"{result.median_mm:.2f}",
                ", ".join(str(index) for index in result.off_frames) or "-",
                "ok" if result.consistent else "INCONSISTENT",
            ]
        )
    header = ["scene", "frames", "pairs", "relative", "median mm", "off frames", "verdict"]
    print(format_table(header, rows))
    path = args.json or (args.data / "check.json")
    text = json.dumps(report_dict(results), indent=1) + "\n"
    write_bytes_atomic(path, text.encode())
    bad = [result for result in results if not result.consistent]
    skipped = f"; {len(partial)} unfinished .partial folder(s) left out" if partial else ""
    if not bad:
        print(f"check: {len(results)} scene(s) consistent{skipped} -> {path}")
        return 0
    named = "; ".join(
        f"{_name(result.path, args.data)}: "
        + (
            f"frames {', '.join(str(index) for index in result.off_frames)} off"
            if result.off_frames
            else _why(result)
        )
        for result in bad
    )
    print(f"check: {len(bad)} of {len(results)} scene(s) inconsistent ({named}){skipped} -> {path}")
    return 1


def _why(result) -> str:
    if not result.pairs:
        return "no two frames share enough surface to compare"
    return f"all frames disagree ({_percent(result.relative)} of the depth)"


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2%}"


def _name(path: Path, data: Path) -> str:
    return path.name if path == data else str(path.relative_to(data))
