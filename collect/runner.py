"""Collect many scenes: in this process, in worker processes, or as Ray tasks.

Each backend runs the same `collect_scene` (jobs.run_tasks), one pybullet client per process;
a scene depends only on the config and its index, so the backend and the number of workers never
change the bytes.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from collect.config import CollectConfig
from collect.scene import SceneReport, collect_scene
from formats import DonkitError
from jobs import progress_bar, run_tasks
from sim_assets.catalog import get_object_spec


@dataclass
class CollectSummary:
    """The outcome of a collection run."""

    reports: list[SceneReport]
    seconds: float

    @property
    def frames(self) -> int:
        return sum(report.frames for report in self.reports)

    def line(self) -> str:
        """One line for the end of `donkit collect`."""
        statuses = Counter(report.status for report in self.reports)
        dropped = Counter()
        for report in self.reports:
            dropped.update(report.dropped)
        new_frames = sum(r.frames - r.frames_reused for r in self.reports if r.status != "skipped")
        parts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(dropped.items()))
        drops = (
            f"{sum(dropped.values())} views dropped ({reasons})" if dropped else "no view dropped"
        )
        rate = new_frames / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{len(self.reports)} scenes ({parts}), {self.frames} frames, {drops}; "
            f"{new_frames} frames rendered in {self.seconds:.1f} s ({rate:.1f} frames/s)"
        )


def check_output_writable(out: Path) -> None:
    """Create `out` if needed and make sure files can be written in it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".donkit-write-test-"):
            pass
    except OSError as error:
        raise DonkitError(
            f"cannot write to the output directory {out} ({error.strerror}); "
            "choose another --out or fix its permissions"
        ) from None


def collect(
    config: CollectConfig,
    out: Path,
    workers: int = 1,
    backend: str = "local",
    overwrite: bool = False,
    gui: bool = False,
    show_progress: bool | None = None,
) -> CollectSummary:
    """Collect `config.scenes` scenes into `out` (scene_0000, ...); finished ones are reused.

    Args:
        workers: worker processes (backend "local"; 1 runs in this process) or concurrent Ray
            tasks on a local Ray instance (backend "ray" without RAY_ADDRESS).
        backend: "local" or "ray" (needs the optional extra `donkit[cluster]`; connects to the
            cluster at RAY_ADDRESS when set, whose nodes must all see `out`).
        show_progress: a progress bar on stderr; None shows it on a terminal only.
    """
    out = Path(out)
    if config.scenes < 1:
        raise DonkitError(f"there must be at least one scene to collect; got {config.scenes}")
    for name in config.scene.objects:
        get_object_spec(name)  # an unknown name fails here, before any worker starts
    check_output_writable(out)
    started = time.perf_counter()
    bar = progress_bar(config.scenes * config.orbit.views, f"collect {out}", show_progress)
    try:
        # Absolute, for Ray workers that may start elsewhere.
        tasks = [(config, index, out.resolve(), overwrite) for index in range(config.scenes)]
        if gui:  # one pybullet window, in this process
            reports = [collect_scene(*task, progress=bar.update, gui=True) for task in tasks]
        else:
            reports = run_tasks(
                collect_scene, tasks, workers, backend, bar.update, config.orbit.views
            )
    finally:
        bar.close()
    return CollectSummary(reports, time.perf_counter() - started)
