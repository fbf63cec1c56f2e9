"""Depth evaluation: metric and median-scaled errors on known predictions, baselines, the file."""

import json

import numpy as np
import pytest

from depth.checkpoint import load_depth_network, predict_depth
from depth.evaluate import DepthScores, evaluate_depth, metrics_table, training_median_depth
from depth.metrics import METRIC_KEYS
from formats.scenes import load_scene


@pytest.fixture(scope="module")
def sensor_depth(small_dataset):
    scene = load_scene(small_dataset / "scene_0001")
    return [scene.depth(position) for position in range(3)]


def test_twice_the_depth_is_perfect_after_median_scaling(sensor_depth):
    scores = DepthScores(0.1, 2.0)
    for gt in sensor_depth:
        assert scores.add(2 * gt, gt)
    result = scores.result()
    for key in ("abs_rel", "sq_rel", "rmse", "rmse_log"):
        assert result["median_scaled"][key] == pytest.approx(0.0, abs=1e-12), key
    assert result["median_scaled"]["delta_1"] == 1.0
    # Metric: |2g - g| / g = 1 everywhere, (2g - g)^2 / g = g, and 2 > 1.25^3 = 1.95.
    assert result["metric"]["abs_rel"] == pytest.approx(1.0)
    assert result["metric"]["rmse_log"] == pytest.approx(np.log(2))
    assert result["metric"]["delta_1"] == result["metric"]["delta_3"] == 0.0
    valid = [gt[(gt >= 0.1) & (gt <= 2.0)] for gt in sensor_depth]
    assert result["metric"]["sq_rel"] == pytest.approx(np.mean([v.mean() for v in valid]))
    assert result["metric"]["rmse"] == pytest.approx(
        np.mean([np.sqrt((v**2).mean()) for v in valid])
    )
    assert result["median_scale"] == {"median": 0.5, "std": pytest.approx(0.0, abs=1e-12)}


def test_only_sensor_readings_within_the_depth_range_are_scored():
    gt = np.array([[0.5, 0.05], [3.0, 0.0]], np.float32)
    pred = np.array([[0.6, 9.0], [9.0, 9.0]], np.float32)
    scores = DepthScores(0.1, 2.0)
    assert scores.add(pred, gt)
    result = scores.result()
    assert result["metric"]["abs_rel"] == pytest.approx(0.2)
    assert result["median_scaled"]["abs_rel"] == pytest.approx(0.0, abs=1e-7)
    assert not scores.add(pred, np.zeros_like(gt))  # nothing to score: not counted


def test_the_constant_baseline_is_the_median_of_the_training_depth(small_dataset):
    readings = []
    for name in ("scene_0000", "scene_0001"):
        scene = load_scene(small_dataset / name)
        for position in range(len(scene.frames)):
            depth = scene.depth(position)
            readings.append(depth[(depth >= 0.1) & (depth <= 2.0)])
    expected = float(np.median(np.concatenate(readings)))
    assert training_median_depth(small_dataset, 0.1, 2.0) == pytest.approx(expected)


def test_evaluate_writes_metric_median_scaled_and_baselines(tiny_runs, small_dataset):
    run, supervised = tiny_runs["self_supervised"], tiny_runs["supervised"]
    held_out = small_dataset / "scene_0001"
    metrics = evaluate_depth(run, held_out, supervised_run=supervised, device_name="cpu")
    assert json.loads((run / "metrics.json").read_text()) == metrics
    assert {"metric", "median_scaled", "baselines"} <= set(metrics)
    assert set(metrics["baselines"]) == {"constant", "supervised", "sweep"}
    # The same numbers from the pieces: the run's predictions, and the constant depth (the
    # median of its training scene, scene_0000) scored frame by frame.
    constant = training_median_depth(small_dataset / "scene_0000", 0.1, 2.0)
    assert metrics["baselines"]["constant"]["depth_m"] == pytest.approx(constant)
    network, state = load_depth_network(run)
    scene = load_scene(held_out)
    ours, flat = DepthScores(0.1, 2.0), DepthScores(0.1, 2.0)
    for position in range(len(scene.frames)):
        gt = scene.depth(position)
        pred = predict_depth(network, state["depth"], [scene.rgb(position)], "cpu")[0]
        ours.add(pred, gt)
        flat.add(np.full_like(gt, constant), gt)
    for key in METRIC_KEYS:
        assert metrics["metric"][key] == pytest.approx(ours.result()["metric"][key], rel=1e-4)
        expected = flat.result()["median_scaled"][key]
        assert metrics["baselines"]["constant"]["median_scaled"][key] == pytest.approx(expected)
    assert metrics["frames"] == 10 and metrics["mode"] == "self_supervised"
    # The plane sweep over each frame's 8 nearest frames (the config's defaults) needs no
    # learning; on these textured scenes it is far better than one constant depth.
    sweep = metrics["baselines"]["sweep"]
    assert sweep["settings"]["sweep_sources"] == 8 and sweep["settings"]["planes"] == 64
    assert sweep["metric"]["abs_rel"] < 0.5 * metrics["baselines"]["constant"]["metric"]["abs_rel"]
    header, *rows = metrics_table(metrics)
    assert header[:3] == ["method", "scaling", "abs_rel"] and len(rows) == 8
    assert [row[1] for row in rows] == ["metric", "median-scaled"] * 4
