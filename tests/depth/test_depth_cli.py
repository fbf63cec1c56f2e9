"""`donkit depth`: help that explains, tables and files, clear messages for a user's mistakes."""

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from donkit.cli import main
from donkit.config import load_config
from tests.depth.conftest import TINY_OVERRIDES


def sets(*overrides: str) -> list[str]:
    return [item for override in (*TINY_OVERRIDES, *overrides) for item in ("--set", override)]


@pytest.mark.parametrize(
    ("command", "phrases"),
    [
        (["depth"], ["self_supervised", "stereo", "supervised", "train", "evaluate", "predict"]),
        (["depth", "train"], ["--resume", "--mode", "RUN/tb", "torchrun", "last.pt"]),
        (["depth", "evaluate"], ["abs_rel", "median-scaled", "constant", "--supervised"]),
        (["depth", "predict"], ["uint16 millimetres", "--as-scene", "donkit fuse"]),
    ],
)
def test_help_explains_each_command(command, phrases, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for phrase in phrases:
        assert phrase in text, phrase


def test_train_evaluate_predict_from_the_command_line(small_dataset, tmp_path, capsys):
    run, data = tmp_path / "run", small_dataset / "scene_0000"
    arguments = ["depth", "train", "--data", str(data), "--out", str(run), "--steps", "2"]
    assert main([*arguments, *sets(), "--device", "cpu"]) == 0
    assert "depth train: self_supervised: steps 0-2" in capsys.readouterr().out
    held_out = str(small_dataset / "scene_0001")
    assert main(["depth", "evaluate", str(run), "--data", held_out, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"self-supervised \(kinematics poses\)\s+metric\s+\d\.\d{3}", out)
    assert "constant" in out and "depth evaluate: 10 held-out frames; abs_rel" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert f"abs_rel {metrics['metric']['abs_rel']:.3f} metric" in out
    assert main(["depth", "predict", str(run), "--input", held_out, "--out",
                 str(tmp_path / "predicted"), "--as-scene", "--device", "cpu"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "10 images -> a scene for `donkit fuse`" in out
    assert f"donkit fuse {tmp_path / 'predicted'}" in out


def test_resume_continues_with_the_runs_own_config(small_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    data = str(small_dataset / "scene_0000")
    assert main(["depth", "train", "--data", data, "--out", str(run), "--steps", "2", *sets(),
                 "--device", "cpu"]) == 0  # fmt: skip
    assert main(["depth", "train", "--resume", str(run), "--steps", "3", "--device", "cpu"]) == 0
    assert "steps 2-3" in capsys.readouterr().out
    assert load_config(run / "config.yaml").depth.loop.steps == 3
    assert load_config(run / "config.yaml").depth.width == 96


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("train --out {tmp}/run", "give --data DATA and --out RUN (or --resume RUN)"),
        ("train --resume {tmp}/nothing", "cannot resume: {tmp}/nothing/checkpoints/last.pt"),
        (
            "train --data {data} --out {tmp}/run --mode stereo",
            "has no right images; stereo training needs scenes recorded with a second camera",
        ),
        ("train --data {tmp}/absent --out {tmp}/run", "{tmp}/absent does not exist"),
        (
            "train --data {data} --out {tmp}/run --set depth.pose_source=network",
            "set depth.source_choice=adjacent",
        ),
        ("evaluate {tmp} --data {data}", "checkpoint {tmp}/checkpoints/last.pt does not exist"),
        (
            "predict {run} --input {data}/processed/images --out {tmp}/o --as-scene",
            "--as-scene needs a scene",
        ),
    ],
)
def test_mistakes_are_explained(arguments, message, small_dataset, tiny_runs, tmp_path, capsys):
    values = {
        "tmp": str(tmp_path),
        "data": str(small_dataset / "scene_0000"),
        "run": str(tiny_runs["self_supervised"]),
    }
    arguments = arguments.format(**values).split()
    assert main(["depth", *arguments, *(sets() if arguments[0] == "train" else [])]) == 1
    error = capsys.readouterr().err
    assert error.startswith("donkit depth: error: ")
    assert message.format(**values) in error


def test_an_existing_run_is_not_trained_over(tiny_runs, small_dataset, capsys):
    run = tiny_runs["supervised"]
    arguments = ["depth", "train", "--data", str(small_dataset), "--out", str(run)]
    assert main([*arguments, *sets(), "--device", "cpu"]) == 1
    assert "already holds a training run; continue it with `donkit depth train --resume" in (
        capsys.readouterr().err
    )


@pytest.mark.slow
def test_ctrl_c_names_the_command_that_continues_the_run(small_dataset, tmp_path):
    run = tmp_path / "run"
    data = str(small_dataset / "scene_0000")
    command = [sys.executable, "-m", "donkit.cli", "depth", "train", "--data", data]
    command += ["--out", str(run), "--steps", "100000", *sets(), "--device", "cpu"]
    # Ctrl-C's default action even when the tests run where SIGINT is ignored (started in the
    # background by a non-interactive shell, which the child would inherit and Python honour).
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (run / "log.jsonl").is_file() or not (run / "log.jsonl").read_text():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, error = process.communicate(timeout=60)
    finally:
        process.kill()  # a run that outlives a failed test would slow every test after it
    assert process.returncode == 130
    assert f"interrupted; continue with `donkit depth train --resume {run}`" in error
    assert "run the same command again" not in error
