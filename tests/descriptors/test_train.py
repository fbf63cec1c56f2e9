"""`donkit train`: runs, resumes exactly, stops on a non-finite loss, scales out with torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from descriptors.network import load_network
from donkit.cli import main
from donkit.config import load_config
from learn.checkpoints import load_checkpoint

# Small and quick: one pair a step, a narrow feature pyramid, few samples per pair.
QUICK = (
    "train.pairs_per_step=1",
    "train.width=32",
    "train.loop.log_every=1",
    "train.loop.last_every=2",
    "correspond.attempts=2000",
    "correspond.matches=200",
    "correspond.nonmatches_per_match=20",
)


def train(*arguments: str, overrides=QUICK) -> int:
    sets = [item for override in overrides for item in ("--set", override)]
    return main(["train", *arguments, *sets, "--device", "cpu"])


def losses(run: Path) -> dict[int, float]:
    lines = run.joinpath("log.jsonl").read_text().splitlines()
    return {entry["step"]: entry["total"] for entry in map(json.loads, lines)}


def test_resumed_run_equals_an_uninterrupted_one(fused_singles, tmp_path):
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    assert train("--data", str(fused_singles), "--out", str(whole), "--steps", "4") == 0
    # The halves' first part draws its pairs in the training process, not in a loader worker:
    # the samples must not depend on who makes them.
    overrides = (*QUICK, "train.loop.loader_workers=0")
    assert train("--data", str(fused_singles), "--out", str(halves), "--steps", "2",
                 overrides=overrides) == 0  # fmt: skip
    assert load_checkpoint(halves)["step"] == 2
    # What a kill while writing a checkpoint leaves behind; the resumed run removes it.
    stale = halves / "checkpoints" / ".step_000004.pt.k1ll3d_x.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert train("--resume", str(halves), "--steps", "4", overrides=()) == 0
    assert not stale.exists()
    expected, got = losses(whole), losses(halves)
    assert sorted(got) == [1, 2, 3, 4]
    for step in (1, 2, 3, 4):
        assert got[step] == pytest.approx(expected[step], rel=1e-5)
    model_whole, model_halves = load_checkpoint(whole)["model"], load_checkpoint(halves)["model"]
    for name, value in model_whole.items():
        torch.testing.assert_close(model_halves[name], value, rtol=1e-5, atol=1e-6)
    assert (halves / "checkpoints" / "step_000004.pt").is_file()


def test_a_run_folder_holds_what_architecture_md_lists(fused_singles, tmp_path):
    run = tmp_path / "run"
    assert train("--data", str(fused_singles), "--out", str(run), "--steps", "2") == 0
    network, state = load_network(run)
    assert network.descriptor_dim == 16 and not network.training
    assert state["network"]["image_mean"] == [0.485, 0.456, 0.406]
    assert {"model", "optimizer", "scheduler", "step", "rng", "config"} <= set(state)
    assert state["kind"] == "descriptors"
    config = load_config(run / "config.yaml")
    assert config.train.width == 32 and config.train.loop.steps == 2
    assert list((run / "tb").glob("events.out.tfevents.*"))
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["steps"] == 2 and summary["losses"]["total"] > 0


def test_a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint(
    fused_singles, tmp_path, capsys
):
    # Adam moves every weight by about the learning rate: 1e30 overflows the activations of the
    # second step to infinity, and batch normalization turns them into NaN.
    run = tmp_path / "run"
    overrides = (*QUICK, "train.loop.learning_rate=1e30", "train.loop.last_every=1")
    assert train("--data", str(fused_singles), "--out", str(run), "--steps", "5",
                 overrides=overrides) == 1  # fmt: skip
    error = capsys.readouterr().err
    assert "training stopped: the loss became nan at step 2" in error
    assert load_checkpoint(run)["step"] == 1
    assert sorted(losses(run)) == [1]


def test_mistakes_are_explained(fused_singles, small_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert train("--data", str(fused_singles), "--out", str(run), "--steps", "1") == 0
    assert train("--data", str(fused_singles), "--out", str(run), "--steps", "1") == 1
    assert "already holds a training run" in capsys.readouterr().err
    assert train("--resume", str(tmp_path / "nothing")) == 1
    assert "does not exist" in capsys.readouterr().err
    assert train("--data", str(small_dataset), "--out", str(tmp_path / "other")) == 1
    assert "is not fused" in capsys.readouterr().err
    assert train("--out", str(tmp_path / "third")) == 1
    assert "give --data DATA and --out RUN" in capsys.readouterr().err


def test_two_processes_under_torchrun_keep_identical_parameters(fused_singles, tmp_path):
    run = tmp_path / "ddp"
    sets = [
        item for override in (*QUICK, "train.loop.loader_workers=0") for item in ("--set", override)
    ]
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "donkit.cli", "train", "--data", str(fused_singles), "--out", str(run),
        "--steps", "3", "--device", "cpu", *sets,
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run / "train_summary.json").read_text())
    # Each process trained on its own pairs; gradients averaged across them keep the weights
    # equal to the last bit.
    assert summary["ranks"] == 2 and summary["rank_parameter_spread"] == 0.0
    assert load_checkpoint(run)["step"] == 3
    assert result.stdout.count("train: steps 0-3") == 1  # one summary line, from rank 0
    assert load_checkpoint(run)["processes"] == 2
    # Resumed by one process, the run goes on but says it is no longer the uninterrupted one.
    resumed = subprocess.run(
        [sys.executable, "-m", "donkit.cli", "train", "--resume", str(run), "--steps", "4",
         "--device", "cpu"],
        capture_output=True, text=True, env=environment, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "trained by 2 process(es), resumed by 1" in resumed.stderr
    assert load_checkpoint(run)["step"] == 4 and load_checkpoint(run)["processes"] == 1


@pytest.mark.slow
def test_the_same_config_trains_the_same_model_with_two_threads(fused_demo_scenes, tmp_path):
    # The demo network at full width: with two CPU threads its backward pass reduced in varying
    # order (runs differed from the 4th step on) until training asked for deterministic kernels.
    assert torch.get_num_threads() >= 2
    runs = [tmp_path / "first", tmp_path / "second"]
    for run in runs:
        assert train("--data", str(fused_demo_scenes), "--out", str(run), "--steps", "8",
                     overrides=("train.loop.log_every=1",)) == 0  # fmt: skip
    first, second = (losses(run) for run in runs)
    assert len(first) == 8 and first == second
    assert not torch.are_deterministic_algorithms_enabled()  # the setting is put back
