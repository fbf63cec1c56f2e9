"""Depth from one RGB image: the three training modes against the constant baseline, held out.

Trains, on the demo's 12 training scenes, the self-supervised model with forward-kinematics
poses (the demo's headline), the same with a pose network instead of poses, the stereo model
(on the same scenes collected again with a right camera: same seed, same layouts and views) and
the supervised one, each with the demo recipe (`DepthConfig()`, only the mode changed), then
evaluates all on the held-out scenes (seed 1000), metric and median-scaled, beside the constant
baseline (the median depth of the training scenes). Prints one table, with each run's training
time: wall clock, and the CPU time of the training process, which on a machine shared with other
jobs is the better measure of what the run costs on its own.

With --speed, nothing is trained: a training step of each mode (on batches prepared before)
is timed against a step of the descriptor demo's network (forward, backward and Adam on 4 images
at 320x240) in the same process, interleaved, and the median ratio is turned into seconds with
that step's time on 2 idle cores (458 s for the 600 demo steps, benchmarks/RESULTS.md).

Run from the repository root, after `make demo` (or collect and fuse out/demo/data and
out/demo/data_test):
    .venv/bin/python -m benchmarks.depth [--out DIR] [--steps N] [--threads K] [--modes ...]
    .venv/bin/python -m benchmarks.depth --speed [--threads K] [--repeats N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

import collect
from depth.config import DepthConfig
from depth.evaluate import evaluate_depth
from depth.metrics import METRIC_KEYS
from depth.train import train_depth
from donkit.config import load_config
from donkit.table import format_table
from formats.plain import to_plain
from formats.runs import RunFolder
from learn.checkpoints import trained_steps

GOAL = {"abs_rel": 0.08, "delta_1": 0.93}  # self-supervised with FK poses, metric
DESCRIPTOR_STEP_S = 458.0 / 600  # the descriptor demo's step on 2 idle cores (RESULTS.md)
BUDGET_S = 300.0  # a demo-size run trains in 5 minutes on 2 CPU cores
STEREO_BASELINE_M = 0.06
MODES = {
    "self_supervised": {},
    "pose_network": {
        "mode": "self_supervised", "pose_source": "network", "source_choice": "adjacent"
    },
    "stereo": {"mode": "stereo"},
    "supervised": {"mode": "supervised"},
}  # fmt: skip
LABELS = {
    "self_supervised": "self-supervised, FK poses",
    "pose_network": "self-supervised, pose network",
    "stereo": "stereo (6 cm)",
    "supervised": "supervised (SILog)",
}


def on_cpu(config: DepthConfig) -> DepthConfig:
    return dataclasses.replace(config, loop=dataclasses.replace(config.loop, device="cpu"))


def stereo_scenes(data: Path, out: Path) -> Path:
    """The demo's training scenes collected again with a right camera (same seed)."""
    config = load_config(None, [f"collect.camera.stereo_baseline_m={STEREO_BASELINE_M}"]).collect
    scenes = len([p for p in data.iterdir() if p.name.startswith("scene_")])
    config = dataclasses.replace(config, scenes=scenes)
    collect.collect(config, out, workers=2, show_progress=False)
    return out


def train(name: str, depth: DepthConfig, data: Path, run: Path) -> dict[str, float]:
    """Train (unless done) and return its times, measured in this process."""
    timing = run / "benchmark_timing.json"
    if timing.is_file() and trained_steps(RunFolder(run)) >= depth.loop.steps:
        return json.loads(timing.read_text())
    wall, cpu = time.perf_counter(), time.process_time()
    train_depth(to_plain({"depth": depth}), depth, data, run, resume=run.exists())
    times = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    timing.write_text(json.dumps(times))
    print(f"{name}: trained in {times['wall_s']:.0f} s wall, {times['cpu_s']:.0f} s CPU")
    return times


def measure_speed(
    data: Path, stereo_data: Path | None, modes: list[str], steps: int, repeats: int
) -> None:
    """Print each mode's step time as a ratio of the descriptor step, and what it implies."""
    import statistics

    from depth.data import collate
    from depth.train import _Trainer
    from descriptors.config import TrainConfig
    from descriptors.train import build_network
    from formats.runs import RunFolder
    from formats.scenes import find_scenes
    from learn.backbones import normalize_images
    from learn.devices import Processes
    from learn.loop import TrainingStart

    torch.use_deterministic_algorithms(True, warn_only=True)  # as both trainers run
    reference = build_network(TrainConfig())
    optimizer = torch.optim.Adam(reference.parameters(), 1e-3)
    images = torch.rand(4, 240, 320, 3)

    def reference_step() -> float:
        started = time.perf_counter()
        loss = reference(normalize_images(images)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return time.perf_counter() - started

    trainers = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in modes:
            depth = dataclasses.replace(on_cpu(DepthConfig()), **MODES[name])
            scenes = find_scenes(stereo_data if depth.mode == "stereo" else data)[0]
            start = TrainingStart(Processes(), torch.device("cpu"), RunFolder(Path(folder)), scenes)
            trainer = _Trainer({}, depth, start, {}, show_progress=False)
            size = depth.batch_size
            batches = [
                collate([trainer.samples[i * size + j] for j in range(size)]) for i in (0, 1)
            ]
            trainers[name] = (trainer, batches)
        ratios = {name: [] for name in modes}
        for repeat in range(repeats + 1):
            for name, (trainer, batches) in trainers.items():
                before = reference_step()
                started = time.perf_counter()
                trainer.train_step(batches[repeat % 2], None)
                step = time.perf_counter() - started
                after = reference_step()
                if repeat:  # the first round warms up
                    ratios[name].append(step / ((before + after) / 2))
    rows = []
    for name in modes:
        ratio = statistics.median(ratios[name])
        seconds = ratio * DESCRIPTOR_STEP_S
        fits = int(BUDGET_S / seconds)
        rows.append([LABELS[name], f"{ratio:.2f}", f"{seconds:.2f}", f"{steps * seconds:.0f}",
                     str(fits)])  # fmt: skip
    header = ["mode", "step / descriptor step", "s/step (2 idle cores)",
              f"{steps} steps, s", "steps in 5 min"]  # fmt: skip
    print(f"$ {shlex.join(['python', '-m', 'benchmarks.depth', *sys.argv[1:]])}")
    print(f"{torch.get_num_threads()} thread(s), median of {repeats} interleaved rounds")
    print(format_table(header, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("out/demo/data"))
    parser.add_argument("--held-out", type=Path, default=Path("out/demo/data_test"))
    parser.add_argument("--out", type=Path, default=Path("out/benchmarks/depth"))
    parser.add_argument("--steps", type=int, help="steps of every run (default: the recipe's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--speed", action="store_true", help="time steps instead (see above)")
    parser.add_argument("--repeats", type=int, default=8, help="--speed rounds (default 8)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.speed:
        stereo = None
        if "stereo" in args.modes:
            stereo = stereo_scenes(args.data, args.out / "stereo_data")
        steps = args.steps or DepthConfig().loop.steps
        measure_speed(args.data, stereo, args.modes, steps, args.repeats)
        return
    base = on_cpu(DepthConfig())
    if args.steps:
        base = dataclasses.replace(base, loop=dataclasses.replace(base.loop, steps=args.steps))
    rows, results = [], {}
    for name in args.modes:
        depth = dataclasses.replace(base, **MODES[name])
        data = args.data
        if depth.mode == "stereo":
            data = stereo_scenes(args.data, args.out / "stereo_data")
        run = args.out / name
        times = train(name, depth, data, run)
        metrics = evaluate_depth(run, args.held_out, training_data=args.data, device_name="cpu")
        results[name] = metrics | {"timing": times}
        for scaling in ("metric", "median_scaled"):
            values = metrics[scaling]
            rows.append([LABELS[name], scaling.replace("_", "-"), *_cells(values),
                         f"{times['wall_s']:.0f}", f"{times['cpu_s']:.0f}"])  # fmt: skip
    constant = next(iter(results.values()))["baselines"]["constant"]
    for scaling in ("metric", "median_scaled"):
        rows.append([f"constant {constant['depth_m']:.3f} m", scaling.replace("_", "-"),
                     *_cells(constant[scaling]), "", ""])  # fmt: skip
    header = ["method", "scaling", "abs_rel", "sq_rel", "rmse m", "rmse_log", "d<1.25",
              "d<1.25^2", "d<1.25^3", "train wall s", "train CPU s"]  # fmt: skip
    print(f"$ {shlex.join(['python', '-m', 'benchmarks.depth', *sys.argv[1:]])}")
    print(f"steps {base.loop.steps} x {base.batch_size} at {base.width}x{base.height}, "
          f"{args.threads} thread(s); held out: {args.held_out}")  # fmt: skip
    print(format_table(header, rows))
    if "self_supervised" in results:
        metric = results["self_supervised"]["metric"]
        met = metric["abs_rel"] <= GOAL["abs_rel"] and metric["delta_1"] >= GOAL["delta_1"]
        print(
            f"goal (FK poses, metric): abs_rel <= {GOAL['abs_rel']} and d<1.25 >= "
            f"{GOAL['delta_1']}: abs_rel {metric['abs_rel']:.3f}, d<1.25 "
            f"{metric['delta_1']:.3f} -> {'met' if met else 'NOT met'}"
        )
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def _cells(values: dict[str, float]) -> list[str]:
    return [
        f"{values[key]:.4f}" if key == "sq_rel" else f"{values[key]:.3f}" for key in METRIC_KEYS
    ]


if __name__ == "__main__":
    main()
