"""Depth evaluation on held-out scenes: predicted against sensor depth, metric and median-scaled.

Each frame of each held-out scene is predicted from its RGB alone; the errors (depth_errors) are
computed per image over the pixels whose sensor depth lies within the run's depth range and
averaged over images, as is standard (Eigen et al. 2014). Median scaling multiplies each image's
prediction by median(sensor) / median(prediction) first (then clamps it to the depth range),
which forgives any error of scale: the figures of a model without metric scale (a pose network's)
are the median-scaled ones. Baselines beside the run: one constant depth for every pixel (the
median sensor depth of the training scenes, never of the test), and a supervised run if given.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from depth.checkpoint import load_depth_network
from depth.config import DepthConfig, multi_frame_spec
from depth.frames import posed_cost, predict_frames, prediction_sources
from depth.metrics import METRIC_KEYS, depth_errors, median_scale
from depth.sweep import PlaneSweep
from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.runs import RunFolder
from formats.scenes import complete_scenes, load_scene
from jobs import progress_bar
from learn.devices import resolve_device

METRICS_FILE = "metrics.json"
_BATCH = 8  # frames predicted at once


def metrics_path(run: Path) -> Path:
    return Path(run) / METRICS_FILE


def training_median_depth(data: Path, min_depth_m: float, max_depth_m: float) -> float:
    """Median sensor depth, metres, over every reading within [min, max] of every frame of the
    complete scenes under `data`."""
    scenes, _ = complete_scenes(data, "give the training scenes")
    readings = []
    for path in scenes:
        scene = load_scene(path)
        for position in range(len(scene.frames)):
            depth = scene.depth(position)
            valid = depth[(depth >= min_depth_m) & (depth <= max_depth_m)]
            readings.append(valid)
    values = np.concatenate(readings)
    if not len(values):
        raise DonkitError(f"the scenes under {data} hold no depth reading within the depth range")
    return float(np.median(values))


class DepthScores:
    """Per-image errors of predictions, metric and median-scaled, averaged by `result`."""

    def __init__(self, min_depth_m: float, max_depth_m: float):
        self.min_depth_m, self.max_depth_m = min_depth_m, max_depth_m
        self.metric: list[dict[str, float]] = []
        self.median_scaled: list[dict[str, float]] = []
        self.scales: list[float] = []

    def add(self, pred: np.ndarray, gt: np.ndarray) -> bool:
        """Score one image: pred (H, W) metres against sensor depth gt (H, W), 0 = none, over the
        pixels whose gt lies within the depth range. False (and nothing added) when none does."""
        valid = (gt >= self.min_depth_m) & (gt <= self.max_depth_m)
        if not valid.any():
            return False
        self.metric.append(depth_errors(pred, gt, valid))
        scale = median_scale(pred, gt, valid)
        self.scales.append(scale)
        scaled = np.clip(pred * scale, self.min_depth_m, self.max_depth_m)
        self.median_scaled.append(depth_errors(scaled, gt, valid))
        return True

    def result(self) -> dict[str, Any]:
        """{metric, median_scaled}: each metric's mean over the images; median_scale: the
        scaling factors' median and their standard deviation relative to it."""
        if not self.metric:
            raise DonkitError("no image had sensor depth within the depth range to evaluate")

        def mean(rows: list[dict[str, float]]) -> dict[str, float]:
            return {key: float(np.mean([row[key] for row in rows])) for key in METRIC_KEYS}

        middle = float(np.median(self.scales))
        return {
            "metric": mean(self.metric),
            "median_scaled": mean(self.median_scaled),
            "median_scale": {"median": middle, "std": float(np.std(self.scales) / middle)},
        }


SWEEP_FRAMES = ("sweep_sources", "width", "height")  # the sweep's settings beside PlaneSweep's


def sweep_spec(spec: dict[str, Any], depth_config: dict[str, Any]) -> dict[str, Any]:
    """The classical sweep's settings for a run: its own cost volume's when it is multi-frame,
    else those its config's depth section (or DepthConfig's defaults) gives."""
    if spec.get("multi_frame"):
        return spec
    defaults = multi_frame_spec(DepthConfig())
    return spec | {key: depth_config.get(key, value) for key, value in defaults.items()}


def evaluate_depth(
    run: Path,
    data: Path,
    supervised_run: Path | None = None,
    training_data: Path | None = None,
    device_name: str = "auto",
    show_progress: bool | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Evaluate run `run` on the held-out scenes under `data`; write RUN/metrics.json (unless
    `write` is false: a benchmark's variant of the held-out scenes).

    Args:
        supervised_run: a supervised depth run evaluated beside it as a baseline.
        training_data: the scenes the constant baseline's depth comes from (default: the run's
            own training data, as its checkpoint records; unused when the run's config sets
            depth.baseline_depth_m).

    Returns:
        The metrics.json content: `metric`, `median_scaled` (each {abs_rel, sq_rel, rmse,
        rmse_log, delta_1, delta_2, delta_3}), `median_scale` (the median-scaling factors'
        median and relative spread), `baselines` ({constant: {depth_m, metric, median_scaled},
        supervised: {...} when given}), and what was evaluated.
    """
    device = resolve_device(device_name)
    network, state = load_depth_network(run)
    spec = state["depth"]
    low, high = spec["min_depth_m"], spec["max_depth_m"]
    networks = {"run": (network.to(device), spec)}
    if supervised_run is not None:
        baseline_network, baseline_state = load_depth_network(supervised_run)
        networks["supervised"] = (baseline_network.to(device), baseline_state["depth"])
    constant = float(state["config"].get("depth", {}).get("baseline_depth_m", 0.0) or 0.0)
    if constant == 0.0:
        source = training_data or Path(state["sources"]["data"])
        if not source.exists():
            raise DonkitError(
                f"the constant baseline's depth comes from the run's training scenes, but "
                f"{source} does not exist; give them with --train-data"
            )
        constant = training_median_depth(source, low, high)
    scenes, _ = complete_scenes(data, "pass held-out scenes (`donkit collect` with another seed)")
    loaded = [load_scene(path) for path in scenes]
    total = sum(len(scene.frames) for scene in loaded)
    sweep = sweep_spec(spec, state["config"].get("depth", {}))
    scores = {name: DepthScores(low, high) for name in [*networks, "sweep", "constant"]}
    bar = progress_bar(total, "depth evaluate", show_progress)
    with torch.no_grad():
        for scene in loaded:
            sources = prediction_sources(scene, sweep)
            for start in range(0, len(scene.frames), _BATCH):
                positions = list(range(start, min(start + _BATCH, len(scene.frames))))
                truths = [scene.depth(p) for p in positions]
                # A multi-frame run's spec is the sweep's (sweep_spec): one cost volume serves both.
                posed = posed_cost(sweep, scene, positions, sources, device)
                predictions = {
                    name: predict_frames(
                        net, net_spec, scene, positions, sources, device,
                        posed if net_spec is sweep else None,
                    )
                    for name, (net, net_spec) in networks.items()
                }  # fmt: skip
                predictions["sweep"] = predict_frames(
                    None, sweep, scene, positions, sources, device, posed
                )
                for i, gt in enumerate(truths):
                    if scores["constant"].add(np.full_like(gt, constant), gt):
                        for name in [*networks, "sweep"]:
                            scores[name].add(predictions[name][i], gt)
                bar.update(len(positions))
    bar.close()
    if not scores["constant"].metric:
        raise DonkitError(
            f"no held-out frame under {data} has sensor depth within [{low}, {high}] m"
        )
    result = scores["run"].result()
    baselines: dict[str, Any] = {
        "constant": {"depth_m": constant, **scores["constant"].result()},
        "sweep": {
            "settings": {key: sweep[key] for key in SWEEP_FRAMES}
            | dataclasses.asdict(PlaneSweep.from_spec(sweep)),
            **scores["sweep"].result(),
        },
    }
    if supervised_run is not None:
        baselines["supervised"] = {"run": str(supervised_run), **scores["supervised"].result()}
    for baseline in baselines.values():
        baseline.pop("median_scale")
    metrics = {
        **result,
        "baselines": baselines,
        "run": str(run),
        "mode": spec["mode"],
        "pose_source": spec["pose_source"],
        "step": int(state["step"]),
        "data": str(data),
        "scenes": [str(path) for path in scenes],
        "frames": len(scores["constant"].metric),
        "depth_range_m": [low, high],
    }
    if write:
        folder = RunFolder(Path(run)).root
        write_bytes_atomic(metrics_path(folder), (json.dumps(metrics, indent=2) + "\n").encode())
    return metrics


METRIC_NAMES = {
    "abs_rel": "abs_rel",
    "sq_rel": "sq_rel",
    "rmse": "rmse m",
    "rmse_log": "rmse_log",
    "delta_1": "d<1.25",
    "delta_2": "d<1.25^2",
    "delta_3": "d<1.25^3",
}


def metrics_table(metrics: dict[str, Any], name: str | None = None) -> list[list[str]]:
    """Header and rows (method, scaling, then METRIC_KEYS) of a metrics.json, for format_table."""
    header = ["method", "scaling", *METRIC_NAMES.values()]
    label = name or _label(metrics)
    rows = []
    entries = [(label, metrics)]
    for key, baseline in metrics["baselines"].items():
        if key == "constant":
            entries.append((f"constant {baseline['depth_m']:.3f} m", baseline))
        elif key == "sweep":
            entries.append(("plane sweep (no learning)", baseline))
        else:
            entries.append((key, baseline))
    for method, entry in entries:
        for scaling in ("metric", "median_scaled"):
            values = entry[scaling]
            cells = [
                f"{values[key]:.3f}" if key != "sq_rel" else f"{values[key]:.4f}"
                for key in METRIC_KEYS
            ]
            rows.append([method, scaling.replace("_", "-"), *cells])
    return [header, *rows]


def _label(metrics: dict[str, Any]) -> str:
    if metrics["mode"] == "self_supervised":
        return f"self-supervised ({metrics['pose_source']} poses)"
    return metrics["mode"]
