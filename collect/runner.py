"""Collect many scenes: in this process, in worker processes, or as Ray tasks.

Each backend runs the same `collect_scene`, one pybullet client per process; a scene depends only
on the config and its index, so the backend and the number of workers never change the bytes.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import queue
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from collect.config import CollectConfig
from collect.scene import SceneReport, collect_scene
from geometry import DonkitError
from sim_assets import get_object_spec


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
    if workers < 1:
        raise DonkitError(f"--workers must be at least 1; got {workers}")
    check_output_writable(out)
    started = time.perf_counter()
    bar = tqdm(
        total=config.scenes * config.orbit.views,
        unit="frame",
        desc=f"collect {out}",
        disable=False if show_progress else None if show_progress is None else True,
    )
    try:
        if backend == "ray":
            reports = _collect_ray(config, out, workers, overwrite, bar)
        elif workers == 1 or config.scenes == 1:
            reports = [
                collect_scene(config, index, out, overwrite, bar.update, gui)
                for index in range(config.scenes)
            ]
        else:
            reports = _collect_processes(config, out, workers, overwrite, bar)
    finally:
        bar.close()
    return CollectSummary(reports, time.perf_counter() - started)


def _collect_processes(
    config: CollectConfig, out: Path, workers: int, overwrite: bool, bar: tqdm
) -> list[SceneReport]:
    # spawn, not fork: each worker starts clean and makes its own pybullet client. The progress
    # queue reaches the workers through the pool's initializer (a plain queue cannot be passed
    # as a task argument, and a Manager would cost a server process).
    context = multiprocessing.get_context("spawn")
    progress = context.Queue()
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(workers, config.scenes),
        mp_context=context,
        initializer=_set_worker_progress,
        initargs=(progress,),
    ) as pool:
        futures = [
            pool.submit(_collect_in_worker, config, index, out, overwrite)
            for index in range(config.scenes)
        ]
        try:
            _drain_until_done(futures, progress, bar.update)
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


_worker_progress: queue.Queue | None = None  # set once per worker process by the initializer


def _set_worker_progress(progress: queue.Queue) -> None:
    global _worker_progress
    _worker_progress = progress


def _collect_in_worker(
    config: CollectConfig, index: int, out: Path, overwrite: bool
) -> SceneReport:
    return collect_scene(config, index, out, overwrite, _worker_progress.put)


def _drain_until_done(
    futures: list[concurrent.futures.Future],
    progress: queue.Queue,
    update: Callable[[int], object],
) -> None:
    """Forward worker progress to `update` until every future is done; re-raise the first error."""
    pending = set(futures)
    while pending:
        done, pending = concurrent.futures.wait(pending, timeout=0.1)
        for future in done:
            future.result()  # raises the worker's error here, at once
        while True:
            try:
                update(progress.get_nowait())
            except queue.Empty:
                break


def _collect_ray(
    config: CollectConfig, out: Path, workers: int, overwrite: bool, bar: tqdm
) -> list[SceneReport]:
    try:
        import ray
    except ImportError:
        raise DonkitError(
            "--backend ray needs Ray: pip install 'donkit[cluster]' (or pip install ray)"
        ) from None
    started_here = not ray.is_initialized()
    if started_here:
        address = os.environ.get("RAY_ADDRESS")
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        remote = ray.remote(num_cpus=1)(collect_scene)
        pending = {
            remote.remote(config, index, out.resolve(), overwrite): index
            for index in range(config.scenes)
        }
        reports: dict[int, SceneReport] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(done[0])
            try:
                reports[index] = ray.get(done[0])
            except ray.exceptions.RayTaskError as error:
                # A user's mistake inside a task reads as it would locally, not as Ray's traceback.
                if isinstance(error.cause, DonkitError):
                    raise DonkitError(str(error.cause)) from None
                raise
            bar.update(config.orbit.views)
        return [reports[index] for index in sorted(reports)]
    finally:
        if started_here:
            ray.shutdown()
