"""How true collected scenes are, from their files: depth across views, segmentation, poses.

For every scene under DATA (default: collect the demo config into a temporary folder first):
- depth agreement: every pair of frames, A's depth moved into B with camera_info and pose_data
  against B's depth where B sees the same surface (collect.checks.depth_agreement); the floor
  beside it is what storing depth in whole millimetres alone costs: the difference of two
  independent roundings has a median magnitude of 1 - 1/sqrt(2) = 0.29 mm;
- segmentation: points on the ground-truth meshes, where a frame sees them, against the
  segmentation (collect.checks.segmentation_agreement);
- camera pose: the largest distance between the planned camera and the one forward kinematics
  put there (metadata.yaml), against the 2 mm / 1 degree tolerance.

Run from the repository root:
    .venv/bin/python -m benchmarks.collect_quality [DATA] [--pairs all|consecutive]
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

import collect
from collect.checks import segmentation_agreement
from donkit.table import format_table
from formats.plain import read_yaml
from formats.scenes import METADATA, find_scenes, load_scene
from reconstruct.consistency import frame_agreement


def depth_errors(scene, a: int, b: int) -> np.ndarray:
    """|dz| (N,) metres between frames a and b (reconstruct.consistency.frame_agreement)."""
    return np.abs(frame_agreement(scene, a, b)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, help="scenes to check (default: collect)")
    parser.add_argument("--pairs", choices=["all", "consecutive"], default="all")
    args = parser.parse_args()
    print(f"command: {shlex.join(sys.orig_argv)}")
    with tempfile.TemporaryDirectory(prefix="quality-") as temporary:
        data = args.data
        if data is None:
            data = Path(temporary)
            summary = collect.collect(collect.CollectConfig(), data, workers=2, show_progress=False)
            print(f"collected the demo config: {summary.line()}")
        report(data, args.pairs)


def report(data: Path, pairs: str) -> None:
    scenes, _ = find_scenes(data)
    rows, all_errors, seen, exact, near = [], [], 0, 0, 0
    worst_mm = worst_deg = 0.0
    for root in scenes:
        scene = load_scene(root)
        count = len(scene.frames)
        chosen = (
            itertools.combinations(range(count), 2)
            if pairs == "all"
            else ((i, i + 1) for i in range(count - 1))
        )
        per_pair = [depth_errors(scene, a, b) for a, b in chosen]
        errors = np.concatenate(per_pair)
        all_errors.append(errors)
        segments = segmentation_agreement(root)
        scene_seen = sum(s.seen for s in segments)
        seen += scene_seen
        exact += sum(s.on_segment for s in segments)
        near += sum(s.within_one_pixel for s in segments)
        frames = read_yaml(root / METADATA).get("frames", {})
        worst_mm = max(worst_mm, frames.get("max_camera_error_mm", float("nan")))
        worst_deg = max(worst_deg, frames.get("max_camera_error_deg", float("nan")))
        rows.append(
            [
                root.name,
                str(count),
                str(len(per_pair)),
                f"{1000 * np.median(errors):.2f}",
                f"{np.mean(errors <= 0.005):.2%}",
                f"{min(np.mean(e <= 0.005) for e in per_pair):.2%}",
                f"{sum(s.on_segment for s in segments) / scene_seen:.3%}",
            ]
        )
    print(f"data:    {data} ({len(scenes)} scenes)")
    print()
    header = [
        "scene",
        "frames",
        "pairs",
        "median |dz| mm",
        "within 5 mm",
        "worst pair",
        "points on segment",
    ]
    print(format_table(header, rows))
    errors = np.concatenate(all_errors)
    print()
    print(
        format_table(
            ["measure", "floor / tolerance", "result", "goal"],
            [
                [
                    "depth across views: median |dz|",
                    "0.29 mm (two whole-mm roundings)",
                    f"{1000 * np.median(errors):.2f} mm over {errors.size:,} pixels",
                    "<= 1 mm",
                ],
                [
                    "depth across views: share within 5 mm",
                    "-",
                    f"{np.mean(errors <= 0.005):.2%}",
                    ">= 95 %",
                ],
                [
                    "object points on their segment",
                    "-",
                    f"{exact / seen:.3%} of {seen:,} ({near / seen:.3%} within 1 px)",
                    "all within 1 px",
                ],
                [
                    "camera pose reached (worst view)",
                    "2 mm / 1 deg",
                    f"{worst_mm:.3f} mm / {worst_deg:.4f} deg",
                    "within tolerance",
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
