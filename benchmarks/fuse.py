"""Fusion speed and quality on the demo config's scenes, noise off and on.

Speed (one worker, one scene at a time): frames fused per second for the object crop at 2 mm
voxels (integration only), beside the same integration of whole frames (no crop: table and floor
too) measured in the same run as the baseline; extraction and rendering timed apart.
Quality (`donkit fuse --evaluate` on each scene): per object Chamfer-L1 and F-score at 2 mm, mask
IoU against ground-truth segmentation, rendered against sensor depth, with the depth noise model
off and on.

Run from the repository root:
    .venv/bin/python -m benchmarks.fuse [--scenes N] [--workers K]
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import collect
from donkit.table import format_table
from formats.scenes import find_scenes, load_scene
from reconstruct import FuseConfig, fuse
from reconstruct.tsdf import TsdfVolume

GOAL_FRAMES_PER_SECOND = 60


def whole_frame_integration(scene_path: Path, config: FuseConfig) -> tuple[float, int]:
    """Seconds to integrate every frame uncropped (all depth up to max_depth_m), and frames."""
    scene = load_scene(scene_path)
    depths = [scene.depth(i) for i in range(len(scene.frames))]
    colours = [scene.rgb(i) for i in range(len(scene.frames))]
    volume = TsdfVolume(config.voxel_m, config.truncation_voxels, config.max_depth_m)
    started = time.perf_counter()
    for frame, depth, rgb in zip(scene.frames, depths, colours, strict=True):
        volume.integrate(depth, rgb, scene.camera, frame.camera_to_world)
    return time.perf_counter() - started, len(depths)


def quality_rows(label: str, reports: list) -> list[list[str]]:
    chamfers, f_scores, ious, depth_errors = [], [], [], []
    for report in reports:
        for values in report.metrics["objects"].values():
            chamfers.append(values["chamfer_l1_mm"])
            f_scores.append(values["f_score_2mm"])
        ious.append(report.metrics["mask_iou"]["median"])
        depth_errors.append(report.metrics["rendered_depth_error_mm"]["median"])

    def spread(values: list[float], digits: int) -> str:
        return f"{np.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    return [
        [label, "Chamfer-L1 per object, mm", spread(chamfers, 2), "<= 1 each"],
        [label, "F-score at 2 mm per object", spread(f_scores, 3), ">= 0.97 each"],
        [label, "mask IoU, median per scene", spread(ious, 3), ">= 0.95"],
        [label, "rendered vs sensor depth, median |dz| mm", spread(depth_errors, 2), "<= 1"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=12, help="demo scenes (default 12, all)")
    parser.add_argument("--workers", type=int, default=2, help="for collection and evaluation")
    args = parser.parse_args()
    print(f"command: {shlex.join(sys.orig_argv)}")
    config = FuseConfig()
    base = dataclasses.replace(collect.CollectConfig(), scenes=args.scenes)
    noisy = dataclasses.replace(
        base, randomization=dataclasses.replace(base.randomization, depth_noise=True)
    )
    with tempfile.TemporaryDirectory(prefix="bench-fuse-") as temporary:
        root = Path(temporary)
        collect.collect(base, root / "clean", workers=args.workers, show_progress=False)
        collect.collect(noisy, root / "noisy", workers=args.workers, show_progress=False)

        # Speed: one worker, fusion without evaluation, then the uncropped baseline.
        speed = fuse(root / "clean", config, workers=1, show_progress=False)
        phases = {"integrate": 0.0, "extract": 0.0, "clean": 0.0, "render": 0.0}
        for report in speed.reports:
            for phase in phases:
                phases[phase] += report.timings_s[phase]
        frames = sum(report.frames for report in speed.reports)
        whole_seconds = 0.0
        for scene in find_scenes(root / "clean")[0]:
            whole_seconds += whole_frame_integration(scene, config)[0]

        clean = fuse(root / "clean", config, args.workers, evaluate=True, show_progress=False)
        noise = fuse(root / "noisy", config, args.workers, evaluate=True, show_progress=False)

    crop_rate = frames / phases["integrate"]
    whole_rate = frames / whole_seconds
    print(f"scenes:  {args.scenes} of the demo config, {frames} frames, voxel {config.voxel_m} m")
    print()
    print(
        format_table(
            ["measurement", "baseline", "result", "ratio", "goal"],
            [
                [
                    "frames integrated per second, object crop",
                    f"whole frames {whole_rate:.0f} frames/s",
                    f"{crop_rate:.0f} frames/s",
                    f"{crop_rate / whole_rate:.2f}x",
                    f">= {GOAL_FRAMES_PER_SECOND} frames/s",
                ],
                [
                    "integrate, ms per frame",
                    f"{1000 * whole_seconds / frames:.1f}",
                    f"{1000 * phases['integrate'] / frames:.1f}",
                    "",
                    "",
                ],
                [
                    "extract + clean mesh, ms per scene",
                    "",
                    f"{1000 * (phases['extract'] + phases['clean']) / len(speed.reports):.0f}",
                    "",
                    "",
                ],
                [
                    "render depth + mask (and write), ms per frame",
                    "",
                    f"{1000 * phases['render'] / frames:.1f}",
                    "",
                    "",
                ],
            ],
        )
    )
    print()
    print(
        format_table(
            ["depth", "measure", "median (min-max)", "goal"],
            quality_rows("noise off", clean.reports) + quality_rows("noise on", noise.reports),
        )
    )


if __name__ == "__main__":
    main()
