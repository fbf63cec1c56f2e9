"""Fuse every complete scene under a folder, on worker processes or Ray like collection."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from formats import DonkitError
from formats.ground_truth import has_ground_truth
from formats.scenes import SCENE_YAML, complete_scenes, load_scene
from jobs import progress_bar, run_tasks
from reconstruct.config import FuseConfig
from reconstruct.pipeline import FuseReport, fuse_scene


@dataclass
class FuseSummary:
    """The outcome of a fusion run."""

    reports: list[FuseReport]
    refused: list[Path]  # unfinished .partial scenes found beside the complete ones
    seconds: float

    def line(self) -> str:
        """One line for the end of `donkit fuse`."""
        statuses = Counter(report.status for report in self.reports)
        parts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        fused = [r for r in self.reports if r.status == "fused"]
        frames = sum(r.frames for r in fused)
        rate = frames / self.seconds if self.seconds > 0 else 0.0
        line = (
            f"{len(self.reports)} scenes ({parts}); {frames} frames fused in {self.seconds:.1f} s"
        )
        line += f" ({rate:.1f} frames/s)"
        if fused:
            sizes = sorted(r.triangles for r in fused)
            line += f"; meshes of {sizes[0]:,} to {sizes[-1]:,} triangles"
        if self.refused:
            line += (
                f"; {len(self.refused)} unfinished .partial scene(s) refused (run collect again)"
            )
        return line


def fuse(
    data: Path,
    config: FuseConfig,
    workers: int = 1,
    backend: str = "local",
    overwrite: bool = False,
    evaluate: bool = False,
    show_progress: bool | None = None,
) -> FuseSummary:
    """Fuse the scene `data`, or every complete scene below it.

    Already fused scenes are skipped unless `overwrite`; `evaluate` also writes each scene's
    metrics.json against its ground truth (simulated scenes only).
    """
    data = Path(data)
    scenes, refused = complete_scenes(data, "collect some with `donkit collect`")
    if evaluate:
        missing = [scene for scene in scenes if not has_ground_truth(scene)]
        if missing:
            raise DonkitError(
                f"--evaluate needs simulator ground truth, and {missing[0]} has no {SCENE_YAML} "
                f"({len(missing)} scene(s) without); fuse real scenes without --evaluate"
            )
    frames = [len(load_scene(scene).frames) for scene in scenes]
    started = time.perf_counter()
    bar = progress_bar(2 * sum(frames), f"fuse {data}", show_progress)
    try:
        tasks = [(scene.resolve(), config, overwrite, evaluate) for scene in scenes]
        units = [2 * count for count in frames]
        reports = run_tasks(fuse_scene, tasks, workers, backend, bar.update, units)
    finally:
        bar.close()
    return FuseSummary(reports, refused, time.perf_counter() - started)
