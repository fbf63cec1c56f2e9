"""Collection throughput, as ratios against baselines measured in the same run.

1. End-to-end frames/s of `collect.collect(config, out, workers=1)` (setup, IK planning, arm
   motion, rendering, PNG writing, metadata: everything) against raw `getCameraImage` frames/s on
   the same scenes (the worlds rebuilt as the collector builds them, the arm at each frame's
   recorded joints), over the same camera poses, resolution, matrices, light and renderer, timing
   only the getCameraImage calls. The collector's own `run.timings_s` show where the gap goes.
2. Wall time of `workers=2` against `workers=1` on the same scenes, and a byte comparison of the
   two output folders (everything but metadata.yaml, which holds timings), the determinism
   promise. A control beside it, two pure-Python busy loops in two processes against one after
   the other, shows how much of a second core the machine gave (other work on it takes cores).

Each measurement runs `--repeats` times, interleaved, and the fastest run counts. Every
`workers=1` run happens in a fresh spawned process, so it starts with the per-process asset
caches as cold as the `workers=2` run's workers (and as a fresh `donkit collect`).

The default config is the demo's (`collect.CollectConfig()`): 8 scenes of 30 views. Run as a
module from the repository root (as a script, this file would shadow the `collect` package):
    .venv/bin/python -m benchmarks.collect [--scenes N] [--views V] [--out DIR] [--repeats R]
        [--seed S]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import filecmp
import multiprocessing
import os
import platform
import shlex
import sys
import tempfile
import time
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np

import collect
from benchmarks import code_version
from collect.scene import LAYOUT_STREAM, build_world, draw_scene, random_stream
from collect.world import SimWorld
from donkit.table import format_table
from formats import DonkitError
from formats.ground_truth import read_ground_truth
from formats.plain import read_yaml
from formats.scenes import METADATA, load_scene

PHASES = ("setup", "planning", "moving", "rendering", "writing")
GOAL_FRAME_RATE_RATIO = 0.8
GOAL_SPEEDUP = 1.7
CONTROL_ITERATIONS = 10_000_000  # about 0.5 s of one core


@dataclasses.dataclass
class Run:
    """One timed `collect.collect` call."""

    out: Path
    seconds: float
    frames: int


def timed_collect(config: collect.CollectConfig, out: Path, workers: int) -> Run:
    """Time `collect.collect` into the fresh folder `out`; frames are counted on disk."""
    if out.exists():
        raise RuntimeError(f"{out} already exists; the benchmark needs fresh output folders")
    started = time.perf_counter()
    summary = collect.collect(config, out, workers=workers, show_progress=False)
    seconds = time.perf_counter() - started
    frames = len(list(out.glob("scene_*/processed/images/*_rgb.png")))
    if frames != summary.frames:
        raise RuntimeError(f"{out}: summary says {summary.frames} frames, {frames} on disk")
    return Run(out, seconds, frames)


def timed_collect_in_fresh_process(config: collect.CollectConfig, out: Path) -> Run:
    """`timed_collect(config, out, workers=1)` in a new spawned process (cold caches)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(timed_collect, config, out, 1).result()


def raw_render_seconds(config: collect.CollectConfig, root: Path) -> tuple[float, int]:
    """Seconds spent in getCameraImage alone re-rendering every frame of the scenes in `root`,
    and the number of frames."""
    seconds, frames = 0.0, 0
    camera_config = config.camera
    for index in range(config.scenes):
        scene = load_scene(root / collect.scene_name(index))
        joints = read_ground_truth(root / collect.scene_name(index)).joint_positions
        draw = draw_scene(config, random_stream(config.seed, index, LAYOUT_STREAM))
        if not np.allclose(scene.camera.matrix, draw.camera.matrix):
            raise RuntimeError(f"{scene.path}: intrinsics differ from the redrawn scene's")
        with SimWorld(camera_config.renderer, config.robot.time_step_s) as world:
            built = build_world(world, config, draw)
            for frame in scene.frames:
                built.arm.set_configuration(np.array(joints[frame.index]))
                arguments = world.camera_image_arguments(
                    draw.camera,
                    frame.camera_to_world,
                    camera_config.near_m,
                    camera_config.far_m,
                    draw.light,
                )
                started = time.perf_counter()
                world.client.getCameraImage(**arguments)
                seconds += time.perf_counter() - started
                frames += 1
    return seconds, frames


def busy_loop(iterations: int) -> int:
    """Pure-Python CPU work that touches no shared resource."""
    total = 0
    for i in range(iterations):
        total += i * i
    return total


def cpu_control(pool: concurrent.futures.Executor) -> tuple[float, float]:
    """Seconds for two busy loops one after the other, and at once, in `pool`'s two processes:
    how much of a second core the machine gives right now (2x when it is free)."""
    started = time.perf_counter()
    for _ in range(2):
        pool.submit(busy_loop, CONTROL_ITERATIONS).result()
    serial = time.perf_counter() - started
    started = time.perf_counter()
    list(pool.map(busy_loop, [CONTROL_ITERATIONS] * 2))
    return serial, time.perf_counter() - started


def compare_folders(reference: Path, other: Path) -> tuple[int, list[str]]:
    """(files compared, differences) between two collection folders, metadata.yaml excluded."""

    def files(root: Path) -> set[Path]:
        return {
            path.relative_to(root)
            for path in root.rglob("*")
            if path.is_file() and path.name != METADATA.name
        }

    reference_files, other_files = files(reference), files(other)
    differences = [f"only in {reference.name}: {p}" for p in sorted(reference_files - other_files)]
    differences += [f"only in {other.name}: {p}" for p in sorted(other_files - reference_files)]
    common = sorted(reference_files & other_files)
    differences += [
        f"bytes differ: {p}"
        for p in common
        if not filecmp.cmp(reference / p, other / p, shallow=False)
    ]
    return len(common), differences


def phase_breakdown(root: Path, scenes: int) -> dict[str, float]:
    """The collector's own `run.timings_s`, summed over the scenes in `root`."""
    totals = dict.fromkeys((*PHASES, "total"), 0.0)
    for index in range(scenes):
        timings = read_yaml(root / collect.scene_name(index) / METADATA)["run"]["timings_s"]
        for key in totals:
            totals[key] += float(timings.get(key, 0.0))
    return totals


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown cpu",
    )
    return (
        f"{os.cpu_count()} cpus ({len(os.sched_getaffinity(0))} usable, {model}), "
        f"{platform.platform()}, python {platform.python_version()}, "
        f"pybullet {package_metadata.version('pybullet')}, numpy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, help="scenes per run (default: the demo config's)")
    parser.add_argument("--views", type=int, help="views per scene (default: the demo config's)")
    parser.add_argument("--out", type=Path, help="keep the output folders here (default: a temp)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--seed", type=int, help="collection seed (default: the demo config's)")
    args = parser.parse_args()
    for name in ("scenes", "views", "repeats"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1; got {getattr(args, name)}")

    config = collect.CollectConfig()
    if args.scenes is not None:
        config = dataclasses.replace(config, scenes=args.scenes)
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    if args.views is not None:
        config = dataclasses.replace(
            config, orbit=dataclasses.replace(config.orbit, views=args.views)
        )
    load_before = os.getloadavg()[0]
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(f"date:    {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine: {machine()}")
    print(f"code:    {code_version()}")
    print(
        f"config:  demo defaults, seed={config.seed}, scenes={config.scenes}, "
        f"views={config.orbit.views}, "
        f"{config.camera.width}x{config.camera.height}, renderer={config.camera.renderer}; "
        f"best of {args.repeats} runs each"
    )

    if args.out is None:
        folder = tempfile.TemporaryDirectory(prefix="bench-collect-")
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        folder = contextlib.nullcontext(tempfile.mkdtemp(dir=args.out, prefix="bench-collect-"))
    with folder as name:
        root = Path(name)
        one, two, raw, control = [], [], [], []
        with concurrent.futures.ProcessPoolExecutor(
            2, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            list(pool.map(busy_loop, [1, 1]))  # start both processes before any timing
            for repeat in range(args.repeats):
                one.append(timed_collect_in_fresh_process(config, root / f"workers1_run{repeat}"))
                two.append(timed_collect(config, root / f"workers2_run{repeat}", workers=2))
                raw.append(raw_render_seconds(config, one[-1].out))
                control.append(cpu_control(pool))
                print(
                    f"run {repeat}: workers=1 {one[-1].seconds:.2f} s, workers=2 "
                    f"{two[-1].seconds:.2f} s, getCameraImage {raw[-1][0]:.2f} s "
                    f"for {raw[-1][1]} frames, busy loops {control[-1][0]:.2f} s serial "
                    f"/ {control[-1][1]:.2f} s in 2 processes",
                    flush=True,
                )
        checks = [compare_folders(one[0].out, run.out) for run in [*one[1:], *two]]
        best_one = min(one, key=lambda run: run.seconds)
        best_two = min(two, key=lambda run: run.seconds)
        raw_seconds, raw_frames = min(raw)
        control_serial = min(serial for serial, _ in control)
        control_parallel = min(parallel for _, parallel in control)
        phases = phase_breakdown(best_one.out, config.scenes)
        if args.out is not None:
            print(f"output:  {root}")

    if raw_frames != best_one.frames:
        raise RuntimeError(f"rendered {raw_frames} frames, collected {best_one.frames}")
    raw_rate = raw_frames / raw_seconds
    end_to_end_rate = best_one.frames / best_one.seconds
    rate_ratio = end_to_end_rate / raw_rate
    speedup = best_one.seconds / best_two.seconds
    control_speedup = control_serial / control_parallel
    compared = sum(count for count, _ in checks)
    differences = [line for _, lines in checks for line in lines]
    runs_compared = len(checks) + 1

    print(
        f"load:    1-minute load average {load_before:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end (other work on the machine slows workers=2 most)"
    )
    print()
    print(
        format_table(
            ["measurement", "baseline", "result", "ratio", "goal", "pass"],
            [
                [
                    f"end-to-end frames/s, 1 worker ({best_one.frames} frames)",
                    f"raw getCameraImage {raw_rate:.1f} frames/s",
                    f"{end_to_end_rate:.1f} frames/s",
                    f"{rate_ratio:.2f}",
                    f">= {GOAL_FRAME_RATE_RATIO:.2f}",
                    "PASS" if rate_ratio >= GOAL_FRAME_RATE_RATIO else "FAIL",
                ],
                [
                    f"wall time, 2 workers ({config.scenes} scenes)",
                    f"1 worker {best_one.seconds:.2f} s",
                    f"{best_two.seconds:.2f} s",
                    f"{speedup:.2f}x",
                    f">= {GOAL_SPEEDUP:.2f}x",
                    "PASS" if speedup >= GOAL_SPEEDUP else "FAIL",
                ],
                [
                    "control: 2 busy loops, 2 processes",
                    f"1 process {control_serial:.2f} s",
                    f"{control_parallel:.2f} s",
                    f"{control_speedup:.2f}x",
                    "2.00x = 2 free cores",
                    "-",
                ],
                [
                    f"identical bytes, {runs_compared} runs (not metadata.yaml)",
                    f"{compared // len(checks)} files of workers=1 run 0",
                    f"{compared - len(differences)}/{compared} equal",
                    "-",
                    "all equal",
                    "PASS" if not differences else "FAIL",
                ],
            ],
        )
    )
    print()
    print(
        f"determinism: {compared} files compared against workers1_run0, {len(differences)} differ"
    )
    for line in differences[:20]:
        print(f"  {line}")

    total = phases["total"]
    rows = [[phase, f"{phases[phase]:.2f}", f"{phases[phase] / total:.0%}"] for phase in PHASES]
    other = total - sum(phases[phase] for phase in PHASES)
    rows.append(["other (bookkeeping, world close)", f"{other:.2f}", f"{other / total:.0%}"])
    rows.append(["total (sum of scenes)", f"{total:.2f}", "100%"])
    outside = best_one.seconds - total
    rows.append(
        ["not in total (writer.finish, runner)", f"{outside:.2f}", f"{outside / total:+.0%}"]
    )
    rows.append(
        ["raw getCameraImage, same frames", f"{raw_seconds:.2f}", f"{raw_seconds / total:.0%}"]
    )
    print()
    print("where the time goes (run.timings_s of the fastest workers=1 run, summed over scenes):")
    print(format_table(["phase", "seconds", "share of total"], rows))


if __name__ == "__main__":
    try:
        main()
    except DonkitError as error:
        sys.exit(f"error: {error} (the collector failed; another --seed draws other scenes)")
