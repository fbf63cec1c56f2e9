"""Depth from RGB: the training modes and the multi-frame model against the baselines, held out.

Trains, on the demo's 12 training scenes, the self-supervised model with forward-kinematics
poses (the demo's headline), the same with a pose network instead of poses, the stereo model (on
the same scenes collected again with a right camera: same seed, same layouts and views), the
supervised one, the multi-frame model (a cost volume over each frame's 8 nearest frames), and the
self-supervised and multi-frame models with the ImageNet-pretrained EfficientNet-Lite0 encoder
('pretrained', 'multi_frame_pretrained'), each with the demo recipe (`DepthConfig()`, only what
the mode needs changed). Then evaluates all on the held-out scenes (seed 1000), metric and
median-scaled, beside the constant baseline (the median depth of the training scenes) and the
plane sweep without learning (the cost volume's cheapest plane per pixel, the least distinct
filled from around them). Prints one table, with each run's training time: wall clock, and the
CPU time of the training process, which on a machine shared with other jobs is the better
measure of what the run costs on its own.

With --speed, nothing is trained: a training step of each mode (on batches prepared before)
is timed against a step of the descriptor demo's network (forward, backward and Adam on 4 images
at 320x240) in the same process, interleaved, and the median ratio is turned into seconds with
that step's time on 2 idle cores (458 s for the 600 demo steps, benchmarks/RESULTS.md).

Run from the repository root, after `make demo` (or collect and fuse out/demo/data and
out/demo/data_test):
    .venv/bin/python -m benchmarks.depth [--out DIR] [--steps N] [--threads K] [--seed S]
        [--modes ...] [--pose-noise] [--pushed-object]
    .venv/bin/python -m benchmarks.depth --speed [--threads K] [--repeats N]
    .venv/bin/python -m benchmarks.depth --sweeps [--held-out DIR] [--threads K]

With --sweeps, nothing is trained either: the plane sweep alone is scored on the held-out scenes
with the demo's settings and with each of them changed in turn (frames, kept frames, planes,
nearest plane, window, fill), and timed a frame.

--pose-noise also evaluates each run on the held-out scenes with every pose moved 1 mm and turned
0.1 degree; --pushed-object on them rendered again from their recorded arm joints and camera poses,
unchanged (the control) and with their first object pushed 5 cm along the table from the middle
frame on (`pushed_object_scenes`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
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

GOALS = {  # metric
    "self_supervised": {"abs_rel": 0.08, "delta_1": 0.93},
    "multi_frame": {"abs_rel": 0.04, "delta_1": 0.97},
    "pretrained": {"abs_rel": 0.08, "delta_1": 0.93},
    "multi_frame_pretrained": {"abs_rel": 0.04, "delta_1": 0.97},
}
DESCRIPTOR_STEP_S = 458.0 / 600  # the descriptor demo's step on 2 idle cores (RESULTS.md)
BUDGET_S = 300.0  # a demo-size run trains in 5 minutes on 2 CPU cores
POSE_NOISE = (0.001, 0.1)  # metres and degrees: about what a real arm's kinematics are off by
PUSH_M = 0.05  # how far --pushed-object moves an object along the table, metres
STEREO_BASELINE_M = 0.06
MODES = {
    "self_supervised": {},
    "pose_network": {
        "mode": "self_supervised", "pose_source": "network", "source_choice": "adjacent"
    },
    "stereo": {"mode": "stereo"},
    "supervised": {"mode": "supervised"},
    "multi_frame": {"multi_frame": True},
    "pretrained": {"backbone": "efficientnet_lite0"},
    "multi_frame_pretrained": {"multi_frame": True, "backbone": "efficientnet_lite0"},
}  # fmt: skip
LABELS = {
    "self_supervised": "self-supervised, FK poses",
    "pose_network": "self-supervised, pose network",
    "stereo": "stereo (6 cm)",
    "supervised": "supervised (SILog)",
    "multi_frame": "multi-frame (8-frame cost volume)",
    "pretrained": "self-supervised, FK poses, EfficientNet-Lite0 (ImageNet)",
    "multi_frame_pretrained": "multi-frame, EfficientNet-Lite0 (ImageNet)",
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


def disturbed_scenes(held_out: Path, out: Path, translation_m: float, rotation_deg: float) -> Path:
    """Copies of the held-out scenes whose every camera pose is moved by `translation_m` in a
    random direction and turned by `rotation_deg` about a random axis (in the camera frame),
    as a real arm's kinematics would be off; the images are the same."""
    from formats.scenes import POSE_DATA, complete_scenes, load_scene, pose_entry, write_pose_data
    from geometry import make_pose, rotation_about_axis

    rng = np.random.default_rng(0)
    for path in complete_scenes(held_out, "collect them")[0]:
        copy = out / path.relative_to(held_out)
        if copy.exists():
            continue
        shutil.copytree(path, copy.with_name(copy.name + ".copy"))
        scene = load_scene(copy.with_name(copy.name + ".copy"))
        entries = {}
        for frame in scene.frames:
            axis, direction = rng.normal(size=3), rng.normal(size=3)
            turn = rotation_about_axis(axis / np.linalg.norm(axis), np.radians(rotation_deg))
            shift = translation_m * direction / np.linalg.norm(direction)
            pose = frame.camera_to_world @ make_pose(turn, shift)
            entries[frame.index] = pose_entry(frame.index, pose, frame.timestamp_s)
        write_pose_data(copy.with_name(copy.name + ".copy") / POSE_DATA, entries)
        copy.with_name(copy.name + ".copy").rename(copy)
    return out


def pushed_object_scenes(held_out: Path, out: Path, push_m: float) -> Path:
    """Copies of the held-out scenes rendered again from their recorded arm joints and camera
    poses, with their first object pushed `push_m` along the table (in a random direction) from
    the middle frame on, as if something had knocked it while the arm went round: frames near
    the middle then have neighbours that saw it elsewhere. Depth is the render's (no sensor
    noise), and so is the segmentation; push_m 0 renders the scenes again unchanged, the
    control."""
    from collect.config import CollectConfig
    from collect.scene import (
        LAYOUT_STREAM,
        build_world,
        draw_scene,
        random_stream,
        segmentation_lut,
    )
    from collect.sensor import limit_range
    from collect.world import SimWorld
    from donkit.config import from_dict
    from formats.images import write_depth, write_labels, write_rgb
    from formats.plain import read_yaml
    from formats.scenes import (
        SEGMENTATION_DIR,
        complete_scenes,
        load_scene,
        segmentation_filename,
    )

    rng = np.random.default_rng(0)
    for path in complete_scenes(held_out, "collect them")[0]:
        copy = out / path.relative_to(held_out)
        if copy.exists():
            continue
        identity = read_yaml(path / "metadata.yaml")
        config = from_dict(CollectConfig, identity["config"], where="collect.")
        joints = read_yaml(path / "ground_truth" / "scene.yaml")["robot"]["joint_positions"]
        scene = load_scene(path)
        heading = rng.uniform(0, 2 * np.pi)
        push = push_m * np.array([np.cos(heading), np.sin(heading), 0.0])
        draw = draw_scene(
            config, random_stream(config.seed, identity["scene_index"], LAYOUT_STREAM)
        )
        staging = copy.with_name(copy.name + ".copy")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(path, staging)
        rendered = load_scene(staging)
        with SimWorld(config.camera.renderer, config.robot.time_step_s) as world:
            built = build_world(world, config, draw)
            body, at_rest = built.object_bodies[0], built.object_to_world[0]
            labels = segmentation_lut(built.object_bodies, world.client.getNumBodies())
            for position, frame in enumerate(scene.frames):
                pushed = at_rest.copy()
                if position >= len(scene.frames) // 2:
                    pushed[:3, 3] += push
                world.set_body_pose(body, pushed)
                built.arm.set_configuration(np.array(joints[frame.index]))
                rgb, depth, body_ids = world.render(
                    draw.camera, frame.camera_to_world, config.camera.near_m,
                    config.camera.far_m, draw.light,
                )  # fmt: skip
                depth[body_ids == built.arm.body] = 0
                depth = limit_range(depth, config.camera.min_depth_m, config.camera.max_depth_m)
                write_rgb(rendered.frames[position].rgb_path, rgb)
                write_depth(rendered.frames[position].depth_path, depth)
                segmentation = staging / SEGMENTATION_DIR / segmentation_filename(frame.index)
                write_labels(segmentation, labels[body_ids + 1])
        staging.rename(copy)
    return out


def pushed_object_errors(run: Path, control: Path, pushed: Path) -> dict[str, dict[str, float]]:
    """abs_rel and delta < 1.25 of run `run` (and of its plane sweep) over the pushed object's
    pixels alone, in the frames whose cost volume mixes frames from before and after the push:
    on the `pushed_object_scenes` rendered again (`control`) and with the push (`pushed`)."""
    from depth.checkpoint import load_depth_network
    from depth.evaluate import sweep_spec
    from depth.frames import predict_frames, prediction_sources
    from depth.metrics import depth_errors
    from formats.scenes import complete_scenes, load_scene

    network, state = load_depth_network(run)
    spec = state["depth"]
    sweep = sweep_spec(spec, state["config"].get("depth", {}))
    errors: dict[str, list[dict[str, float]]] = {}
    for path in complete_scenes(pushed, "collect them")[0]:
        scenes = {"control": load_scene(control / path.name), "pushed": load_scene(path)}
        sources = prediction_sources(scenes["pushed"], sweep)
        half = len(scenes["pushed"].frames) // 2
        mixed = [p for p, near in enumerate(sources) if len({s >= half for s in [p, *near]}) == 2]
        for name, scene in scenes.items():
            for method, (net, net_spec) in {"run": (network, spec), "sweep": (None, sweep)}.items():
                depths = predict_frames(net, net_spec, scene, mixed, sources, torch.device("cpu"))
                for position, depth in zip(mixed, depths, strict=True):
                    gt = scene.depth(position)
                    valid = (scene.segmentation(position) == 1) & (gt >= spec["min_depth_m"])
                    valid &= gt <= spec["max_depth_m"]
                    if valid.sum() >= 100:  # the object in view, not a sliver of it
                        errors.setdefault(f"{method}, {name}", []).append(
                            depth_errors(depth, gt, valid)
                        )
    return {
        key: {
            "abs_rel": float(np.mean([e["abs_rel"] for e in values])),
            "delta_1": float(np.mean([e["delta_1"] for e in values])),
            "frames": len(values),
        }
        for key, values in errors.items()
    }


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


SWEEPS = (  # changes of DepthConfig() for each row of --sweeps; {} is the demo's sweep
    {"sweep_min_depth_m": 0.1, "sweep_window": 5, "sweep_fill": 0.0},  # the first sweep's
    {"sweep_window": 5, "sweep_fill": 0.0},
    {"sweep_fill": 0.0},
    {},
    {"sweep_fill": 0.1},
    {"sweep_fill": 0.3},
    {"planes": 48},
    {"planes": 96},
    {"sweep_sources": 6, "sweep_keep": 2},
    {"sweep_sources": 4, "sweep_keep": 2},
    {"sweep_sources": 2, "sweep_keep": 1},
)
SWEEP_COLUMNS = {
    "sweep_sources": "frames",
    "sweep_keep": "kept",
    "planes": "planes",
    "sweep_min_depth_m": "near m",
    "sweep_window": "window",
    "sweep_fill": "fill",
}


def measure_sweeps(held_out: Path) -> None:
    """Print the classical plane sweep's errors on the held-out scenes for each row of SWEEPS
    at the demo's input size, and its time a frame."""
    from depth.config import multi_frame_spec
    from depth.evaluate import DepthScores
    from depth.frames import predict_frames, prediction_sources
    from formats.scenes import complete_scenes, load_scene

    base = DepthConfig()
    scenes = [load_scene(path) for path in complete_scenes(held_out, "collect them")[0]]
    rows = []
    for changes in SWEEPS:
        config = dataclasses.replace(base, **changes)
        spec = multi_frame_spec(config) | {"width": config.width, "height": config.height}
        scores = DepthScores(config.min_depth_m, config.max_depth_m)
        started, count = time.perf_counter(), 0
        for scene in scenes:
            sources = prediction_sources(scene, spec)
            for start in range(0, len(scene.frames), 8):
                positions = list(range(start, min(start + 8, len(scene.frames))))
                depths = predict_frames(None, spec, scene, positions, sources, "cpu")
                for position, depth in zip(positions, depths, strict=True):
                    count += scores.add(depth, scene.depth(position))
        seconds = (time.perf_counter() - started) / count
        metric = scores.result()["metric"]
        figures = [f"{metric['abs_rel']:.4f}", f"{metric['delta_1']:.3f}", f"{metric['rmse']:.3f}"]
        settings = [str(getattr(config, key)) for key in SWEEP_COLUMNS]
        rows.append([*settings, *figures, f"{seconds:.2f}", "demo" if not changes else ""])
        print("  ".join(rows[-1]), file=sys.stderr, flush=True)  # progress
    print(f"$ {shlex.join(['python', '-m', 'benchmarks.depth', *sys.argv[1:]])}")
    print(f"{torch.get_num_threads()} thread(s), {base.width}x{base.height}; held out: {held_out} "
          f"({count} frames)")  # fmt: skip
    header = [*SWEEP_COLUMNS.values(), "abs_rel", "d<1.25", "rmse m", "s/frame", ""]
    print(format_table(header, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("out/demo/data"))
    parser.add_argument("--held-out", type=Path, default=Path("out/demo/data_test"))
    parser.add_argument("--out", type=Path, default=Path("out/benchmarks/depth"))
    parser.add_argument("--steps", type=int, help="steps of every run (default: the recipe's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--seed", type=int, default=0, help="depth.seed of every run (default 0, the recipe's)"
    )
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--speed", action="store_true", help="time steps instead (see above)")
    parser.add_argument("--repeats", type=int, default=8, help="--speed rounds (default 8)")
    parser.add_argument(
        "--pose-noise",
        action="store_true",
        help="also evaluate on the held-out scenes with every pose moved 1 mm and turned 0.1 deg",
    )
    parser.add_argument(
        "--pushed-object",
        action="store_true",
        help=f"also evaluate on the held-out scenes rendered again from their recorded views, "
        f"unchanged (the control) and with an object pushed {100 * PUSH_M:.0f} cm mid-scene",
    )
    parser.add_argument(
        "--sweeps", action="store_true", help="the plane sweep's settings instead (no training)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.sweeps:
        measure_sweeps(args.held_out)
        return
    if args.speed:
        stereo = None
        if "stereo" in args.modes:
            stereo = stereo_scenes(args.data, args.out / "stereo_data")
        steps = args.steps or DepthConfig().loop.steps
        measure_speed(args.data, stereo, args.modes, steps, args.repeats)
        return
    base = on_cpu(dataclasses.replace(DepthConfig(), seed=args.seed))
    if args.steps:
        base = dataclasses.replace(base, loop=dataclasses.replace(base.loop, steps=args.steps))
    rows, results, labels, object_errors = [], {}, dict(LABELS), {}
    for name in args.modes:
        depth = dataclasses.replace(base, **MODES[name])
        data = args.data
        if depth.mode == "stereo":
            data = stereo_scenes(args.data, args.out / "stereo_data")
        run = args.out / name
        times = train(name, depth, data, run)
        metrics = evaluate_depth(run, args.held_out, training_data=args.data, device_name="cpu")
        results[name] = metrics | {"timing": times}
        variants = {}
        if args.pose_noise:
            variants["poses disturbed"] = disturbed_scenes(
                args.held_out, args.out / "disturbed", *POSE_NOISE
            )
        if args.pushed_object:
            variants["rendered again"] = pushed_object_scenes(
                args.held_out, args.out / "rendered_again", 0.0
            )
            variants["object pushed"] = pushed_object_scenes(
                args.held_out, args.out / "pushed", PUSH_M
            )
        if args.pushed_object:
            object_errors[name] = pushed_object_errors(
                run, variants["rendered again"], variants["object pushed"]
            )
        for variant, scenes in variants.items():
            results[f"{name}, {variant}"] = evaluate_depth(
                run, scenes, training_data=args.data, device_name="cpu", write=False
            ) | {"timing": times, "variant": variant}
            labels[f"{name}, {variant}"] = f"{LABELS[name]}, {variant}"
    for name, metrics in results.items():
        times = metrics["timing"]
        for scaling in ("metric", "median_scaled"):
            values = metrics[scaling]
            rows.append([labels[name], scaling.replace("_", "-"), *_cells(values),
                         f"{times['wall_s']:.0f}", f"{times['cpu_s']:.0f}"])  # fmt: skip
    baselines = next(iter(results.values()))["baselines"]
    constant = baselines["constant"]
    sweeps = {
        json.dumps(r["baselines"]["sweep"]["settings"]) + r["data"]: r for r in results.values()
    }
    for scaling in ("metric", "median_scaled"):
        rows.append([f"constant {constant['depth_m']:.3f} m", scaling.replace("_", "-"),
                     *_cells(constant[scaling]), "", ""])  # fmt: skip
    for result in sweeps.values():
        sweep = result["baselines"]["sweep"]
        label = f"plane sweep, {sweep['settings']['sweep_sources']} frames (no learning)"
        if "variant" in result:
            label += f", {result['variant']}"
        for scaling in ("metric", "median_scaled"):
            rows.append([label, scaling.replace("_", "-"), *_cells(sweep[scaling]), "", ""])
    header = ["method", "scaling", "abs_rel", "sq_rel", "rmse m", "rmse_log", "d<1.25",
              "d<1.25^2", "d<1.25^3", "train wall s", "train CPU s"]  # fmt: skip
    print(f"$ {shlex.join(['python', '-m', 'benchmarks.depth', *sys.argv[1:]])}")
    print(f"steps {base.loop.steps} x {base.batch_size} at {base.width}x{base.height}, "
          f"{args.threads} thread(s); held out: {args.held_out}")  # fmt: skip
    print(format_table(header, rows))
    for name, goal in GOALS.items():
        if name not in results:
            continue
        metric = results[name]["metric"]
        met = metric["abs_rel"] <= goal["abs_rel"] and metric["delta_1"] >= goal["delta_1"]
        print(
            f"goal ({labels[name]}, metric): abs_rel <= {goal['abs_rel']} and d<1.25 >= "
            f"{goal['delta_1']}: abs_rel {metric['abs_rel']:.3f}, d<1.25 "
            f"{metric['delta_1']:.3f} -> {'met' if met else 'NOT met'}"
        )
    for name, errors in object_errors.items():
        print(f"{labels[name]}, on the pushed object's pixels in frames whose cost volume mixes "
              "frames from before and after the push:")  # fmt: skip
        for key, value in errors.items():
            print(f"  {key}: abs_rel {value['abs_rel']:.3f}, d<1.25 {value['delta_1']:.3f} "
                  f"({value['frames']} frames)")  # fmt: skip
        results[f"{name}, pushed object's pixels"] = errors
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def _cells(values: dict[str, float]) -> list[str]:
    return [
        f"{values[key]:.4f}" if key == "sq_rel" else f"{values[key]:.3f}" for key in METRIC_KEYS
    ]


if __name__ == "__main__":
    main()
