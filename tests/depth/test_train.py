"""`donkit depth train`: losses fall, resumes exactly, stops on NaN, records what predict needs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from depth.checkpoint import build_depth_network, depth_spec, load_depth_network
from depth.data import DepthSamples, collate
from depth.network import PoseNet
from depth.objective import batch_loss
from depth.train import start_at_depth, train_depth
from donkit.cli import main
from donkit.config import load_config
from learn.checkpoints import load_checkpoint
from tests.depth.conftest import TINY_OVERRIDES, tiny_config


def train(*arguments: str, overrides=()) -> int:
    sets = [item for override in (*TINY_OVERRIDES, *overrides) for item in ("--set", override)]
    return main(["depth", "train", *arguments, *sets, "--device", "cpu"])


def log(run: Path) -> list[dict]:
    return [json.loads(line) for line in run.joinpath("log.jsonl").read_text().splitlines()]


def losses(run: Path) -> dict[int, float]:
    return {entry["step"]: entry["total"] for entry in log(run)}


def loss_on(config, state, batch) -> float:
    """The training loss on `batch` of the networks in checkpoint `state`, or (None) of the
    networks as training starts them: the seed, the depth network, its start bias, the pose
    network."""
    torch.manual_seed(config.seed)
    depth_net = build_depth_network(depth_spec(config))
    start_at_depth(depth_net, config)
    pose_net = PoseNet(config.backbone) if config.pose_source == "network" else None
    if state is not None:
        depth_net.load_state_dict(state["model"])
        if pose_net is not None:
            pose_net.load_state_dict(state["pose_model"])
    with torch.no_grad():
        return batch_loss(config, depth_net, pose_net, batch)[1]["total"]


@pytest.mark.parametrize(
    "changes",
    [
        {"mode": "self_supervised"},
        {"mode": "supervised"},
    ],
)
def test_a_few_steps_lower_the_loss_on_a_tiny_set(small_dataset, tmp_path, changes):
    # Ten views of one scene, seen again and again; the loss on eight fixed samples of them
    # (no colour jitter) falls below that of the untrained networks (11 % in 16 steps for the
    # photometric loss, here; far more for the others).
    data, run = small_dataset / "scene_0000", tmp_path / "run"
    config = tiny_config(steps=16, learning_rate=1e-3, schedule="constant", **changes)
    train_depth({}, config, data, run, show_progress=False)
    samples = DepthSamples([data], config, 8, augment=False)
    batch = collate([samples[i] for i in range(8)])
    before, after = loss_on(config, None, batch), loss_on(config, load_checkpoint(run), batch)
    assert after < 0.95 * before, (before, after)


def test_an_efficientnet_encoder_starts_from_the_installed_imagenet_weights(
    small_dataset, tmp_path
):
    from learn.efficientnet import efficientnet_lite0_weights

    run = tmp_path / "run"
    config = tiny_config(steps=1, learning_rate=1e-4, backbone="efficientnet_lite0")
    train_depth({}, config, small_dataset / "scene_0000", run, show_progress=False)
    network, state = load_depth_network(run)
    assert state["depth"]["backbone"] == "efficientnet_lite0"
    file = torch.load(efficientnet_lite0_weights(), weights_only=True)
    # One Adam step moves each weight by at most about the learning rate; a random start
    # would be off by far more.
    parameters = dict(network.encoder.named_parameters())
    assert set(parameters) <= set(file) and len(parameters) > 100
    for key, value in parameters.items():
        assert float((value.detach() - file[key]).abs().max()) <= 2e-4, key


@pytest.mark.slow
def test_a_pose_network_cannot_lower_the_loss_by_looking_away(small_dataset, tmp_path):
    # Pixels no source sees are scored on the border-padded warps, not dropped: otherwise the
    # pose network learnt motions that send every pixel out of view, and the loss fell to 0
    # (0.19 -> 0.03 in these 16 steps).
    run = tmp_path / "run"
    config = tiny_config(
        steps=16, learning_rate=1e-3, schedule="constant", pose_source="network",
        source_choice="adjacent",
    )  # fmt: skip
    train_depth({}, config, small_dataset / "scene_0000", run, show_progress=False)
    photometric = [entry["photometric"] for entry in log(run)]
    assert min(photometric) > 0.5 * photometric[0], photometric


def test_stereo_training_uses_the_left_right_consistency(stereo_scenes, tmp_path):
    run = tmp_path / "run"
    arguments = ["--data", str(stereo_scenes), "--out", str(run), "--mode", "stereo"]
    assert train(*arguments, "--steps", "2") == 0
    for entry in log(run):
        assert entry["left_right"] > 0 and np.isfinite(entry["total"])
        # Total = photometric + 1e-3 smoothness + 1 * left-right, averaged over the scales.
        expected = entry["photometric"] + 1e-3 * entry["smoothness"] + entry["left_right"]
        assert entry["total"] == pytest.approx(expected, abs=2e-3)
    assert load_checkpoint(run)["depth"]["mode"] == "stereo"


def test_resumed_run_equals_an_uninterrupted_one(small_dataset, tmp_path):
    # The step schedule, halving at step 2: the cosine one would fall over 2 steps, then 4.
    data = str(small_dataset / "scene_0000")
    schedule = ("depth.loop.schedule=step", "depth.loop.decay_every=2")
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    assert train("--data", data, "--out", str(whole), "--steps", "4", overrides=schedule) == 0
    # The first half draws its samples in a loader worker, the second in the training process.
    assert train("--data", data, "--out", str(halves), "--steps", "2",
                 overrides=(*schedule, "depth.loop.loader_workers=1")) == 0  # fmt: skip
    assert load_checkpoint(halves)["step"] == 2
    assert main(["depth", "train", "--resume", str(halves), "--steps", "4"]) == 0
    expected, got = losses(whole), losses(halves)
    assert sorted(got) == [1, 2, 3, 4]
    for step in (1, 2, 3, 4):
        assert got[step] == pytest.approx(expected[step], rel=1e-5)
    model_whole, model_halves = load_checkpoint(whole)["model"], load_checkpoint(halves)["model"]
    for name, value in model_whole.items():
        torch.testing.assert_close(model_halves[name], value, rtol=1e-5, atol=1e-6)
    assert (halves / "checkpoints" / "step_000004.pt").is_file()
    assert [entry["learning_rate"] for entry in log(halves)] == pytest.approx(
        [3e-4, 1.5e-4, 1.5e-4, 7.5e-5]
    )


def test_a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint(
    small_dataset, tmp_path, capsys
):
    # Adam moves every weight by about the learning rate: 1e30 overflows the activations of the
    # second step, and batch normalization turns them into NaN.
    run = tmp_path / "run"
    overrides = (
        "depth.loop.learning_rate=1e30",
        "depth.loop.last_every=1",
        "depth.loop.clip_grad_norm=0",
    )
    assert train("--data", str(small_dataset / "scene_0000"), "--out", str(run), "--steps",
                 "5", overrides=overrides) == 1  # fmt: skip
    error = capsys.readouterr().err
    assert "training stopped: the loss became nan at step 2" in error
    assert load_checkpoint(run)["step"] == 1
    assert sorted(losses(run)) == [1]


def test_the_run_folder_holds_what_evaluate_and_predict_need(small_dataset, tmp_path):
    run = tmp_path / "run"
    overrides = ("depth.max_depth_m=1.5", "depth.loop.image_every=1")
    assert train("--data", str(small_dataset / "scene_0000"), "--out", str(run), "--steps",
                 "2", overrides=overrides) == 0  # fmt: skip
    network, state = load_depth_network(run)
    assert not network.training
    assert state["depth"] == {
        "mode": "self_supervised",
        "pose_source": "kinematics",
        "backbone": 18,
        "decoder_channels": [4, 8, 16, 32, 64],
        "width": 96,
        "height": 72,
        "min_depth_m": 0.1,
        "max_depth_m": 1.5,
        "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225],
    }
    assert {"model", "optimizer", "scheduler", "step", "rng", "config", "sources"} <= set(state)
    assert load_config(run / "config.yaml").depth.max_depth_m == 1.5
    events = EventAccumulator(str(run / "tb")).Reload()
    assert {"images/input", "images/depth"} <= set(events.Tags()["images"])
    assert {"loss/photometric", "loss/smoothness", "loss/total"} <= set(events.Tags()["scalars"])
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["steps"] == 2 and summary["mode"] == "self_supervised"
    assert set(log(run)[0]) >= {"photometric", "smoothness", "kept_share", "learning_rate"}


def test_the_pose_network_is_trained_and_saved_with_the_depth_network(small_dataset, tmp_path):
    run = tmp_path / "run"
    overrides = ("depth.pose_source=network", "depth.source_choice=adjacent")
    assert train("--data", str(small_dataset / "scene_0000"), "--out", str(run), "--steps",
                 "2", overrides=overrides) == 0  # fmt: skip
    state = load_checkpoint(run)
    assert state["depth"]["pose_source"] == "network"
    # The networks as training started them: the seed, then the depth network, then the pose one.
    torch.manual_seed(0)
    build_depth_network(state["depth"])
    initial = PoseNet(18).state_dict()
    trained = state["pose_model"]
    assert trained.keys() == initial.keys()
    changed = [name for name in initial if not torch.equal(initial[name], trained[name])]
    assert "head.6.weight" in changed  # its last layer, which only the photometric loss moves


@pytest.mark.slow
def test_two_processes_under_torchrun_keep_identical_parameters(small_dataset, tmp_path):
    run = tmp_path / "ddp"
    sets = [item for override in TINY_OVERRIDES for item in ("--set", override)]
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "donkit.cli", "depth", "train", "--data", str(small_dataset / "scene_0000"),
        "--out", str(run), "--steps", "2", "--device", "cpu", *sets,
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["ranks"] == 2 and summary["rank_parameter_spread"] == 0.0
    assert load_checkpoint(run)["step"] == 2
    assert result.stdout.count("depth train: self_supervised: steps 0-2") == 1
