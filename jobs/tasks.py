"""Run one function over many scenes: in this process, in worker processes, or as Ray tasks.

Collection, fusion, correspondence generation and video simulation all do independent work per
scene or video; this is the one implementation of spreading it out.

The function is called as `function(*task, progress=report)`, where `report(n)` adds n units to
the caller's progress bar (None on Ray, whose progress counts finished tasks instead). It must
be importable by name (a module-level function), since worker processes are spawned afresh.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from formats import DonkitError

R = TypeVar("R")


def run_tasks(
    function: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    workers: int = 1,
    backend: str = "local",
    progress: Callable[[int], object] = lambda n: None,
    units_per_task: int | Sequence[int] = 1,
) -> list[R]:
    """`[function(*task, progress=...) for task in tasks]`, spread over workers.

    Args:
        workers: processes (backend "local"; 1 runs in this process) or concurrent Ray tasks on
            a local Ray instance (backend "ray" without RAY_ADDRESS).
        backend: "local" or "ray" (the optional extra donkit[cluster]; connects to the cluster at
            RAY_ADDRESS when set).
        progress: called in this process with the units of work done.
        units_per_task: what a finished task adds to `progress` on Ray: one number for all, or
            one per task.

    Returns:
        The results in the order of `tasks`. The first error raised by a task is raised here;
        tasks not started yet are cancelled.
    """
    if workers < 1:
        raise DonkitError(f"--workers must be at least 1; got {workers}")
    if backend == "ray":
        units = [units_per_task] * len(tasks) if isinstance(units_per_task, int) else units_per_task
        return _run_ray(function, tasks, workers, progress, units)
    if backend != "local":
        raise DonkitError(f"unknown backend {backend!r}; use 'local' or 'ray'")
    if workers == 1 or len(tasks) <= 1:
        return [function(*task, progress=progress) for task in tasks]
    return _run_processes(function, tasks, workers, progress)


def _run_processes(
    function: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    workers: int,
    progress: Callable[[int], object],
) -> list[R]:
    # spawn, not fork: each worker starts clean (pybullet clients, Open3D and torch threads do
    # not survive a fork). The progress queue reaches the workers through the pool's initializer,
    # since a plain queue cannot be a task argument and a Manager would cost a server process.
    # A SimpleQueue writes each report before put returns, so the reports of a task are all in
    # it by the time its result is: a Queue's feeder thread could still hold the last ones, and
    # the bar would stop short of its total.
    context = multiprocessing.get_context("spawn")
    reports = context.SimpleQueue()
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=context,
        initializer=_set_worker_progress,
        initargs=(reports,),
    ) as pool:
        futures = [pool.submit(_call_in_worker, function, task) for task in tasks]
        try:
            _forward_progress_until_done(futures, reports, progress)
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


_worker_progress: Any = None  # the progress queue, set once per worker process


def _set_worker_progress(reports: Any) -> None:
    global _worker_progress
    _worker_progress = reports


def _call_in_worker(function: Callable[..., R], task: tuple[Any, ...]) -> R:
    return function(*task, progress=_worker_progress.put)


def _forward_progress_until_done(
    futures: list[concurrent.futures.Future],
    reports: Any,
    progress: Callable[[int], object],
) -> None:
    """Pass worker progress on until every future is done; re-raise the first error at once."""
    pending = set(futures)
    while pending:
        done, pending = concurrent.futures.wait(pending, timeout=0.1)
        for future in done:
            future.result()
        while not reports.empty():
            progress(reports.get())


def _run_ray(
    function: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    workers: int,
    progress: Callable[[int], object],
    units: Sequence[int],
) -> list[R]:
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
        remote = ray.remote(num_cpus=1)(function)
        pending = {remote.remote(*task, progress=None): i for i, task in enumerate(tasks)}
        results: dict[int, R] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(done[0])
            try:
                results[index] = ray.get(done[0])
            except ray.exceptions.RayTaskError as error:
                # A user's mistake inside a task reads as it would locally, not as Ray's traceback.
                if isinstance(error.cause, DonkitError):
                    raise DonkitError(str(error.cause)) from None
                raise
            progress(units[index])
        return [results[index] for index in range(len(tasks))]
    finally:
        if started_here:
            ray.shutdown()
