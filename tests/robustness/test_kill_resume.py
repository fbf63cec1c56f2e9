"""kill -9 at random moments of collect, fuse, correspond and train, then the same command again.

Each stage runs once uninterrupted (the reference, whose wall time and first write are measured),
then several times killed with SIGKILL at a seeded random moment and run again to completion:
`donkit train` with `--resume` where a last.pt was written, otherwise the command as first given.
The outputs must then be those of the reference: the same files (no temporary or `.partial` one
left), each byte for byte where the stage is deterministic, every one readable.

What is not byte for byte, and why:
- metadata.yaml `run` (timings, frames reused by the resume) and fusion_info.yaml `timings_s`: wall
  times; index.yaml `data`: the absolute path of the scenes, which differs between trial folders.
- Checkpoints, log.jsonl and train_summary.json: the reference draws its samples in one process
  from step 0, the resumed run restores RNG states and optimizer moments from last.pt; with
  deterministic kernels the two agree to float rounding, so tensors and losses are compared with
  rtol 1e-5 (the bound tests/descriptors/test_train.py holds resumes to), steps and RNG exactly.
  TensorBoard event files carry wall times and host names and are only checked to exist.
The kill goes to the job's whole process group, as when a machine or a container dies, so that no
worker outlives it and writes after the fact.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from donkit.config import load_config
from formats.correspondences import read_pair
from formats.images import read_depth, read_labels, read_rgb
from formats.plain import read_yaml
from formats.scenes import find_scenes, load_scene
from learn.checkpoints import load_checkpoint
from reconstruct.mesh import read_mesh
from tests.robustness import tally

pytestmark = pytest.mark.slow

DONKIT = Path(sys.executable).parent / "donkit"
SEED = 18  # of the kill moments; the number
KILLS = {"collect": 3, "fuse": 3, "correspond": 3, "train": 3}  # kill moments per stage

# Two scenes of six 160x120 views: about 4 s of simulation on one core, enough for fusion to
# find the table and a mesh.
COLLECT = [
    "--workers", "1",
    "--set", "collect.scenes=2",
    "--set", "collect.orbit.views=6",
    "--set", "collect.camera.width=160",
    "--set", "collect.camera.height=120",
    "--set", "collect.scene.objects_per_scene=[1, 2]",
]  # fmt: skip
SAMPLING = [
    "--set", "correspond.attempts=2000",
    "--set", "correspond.matches=200",
    "--set", "correspond.nonmatches_per_match=20",
]  # fmt: skip
CORRESPOND = ["--workers", "1", "--pairs", "60", *SAMPLING]
TRAIN_STEPS = 8
# A narrow network, one pair a step, logs every step and last.pt every second step, so that a
# kill lands between checkpoints as often as not.
TRAIN = [
    "--device", "cpu", "--steps", str(TRAIN_STEPS), *SAMPLING,
    "--set", "train.pairs_per_step=1",
    "--set", "train.width=32",
    "--set", "train.loop.log_every=1",
    "--set", "train.loop.last_every=2",
    "--set", "train.loop.loader_workers=0",
]  # fmt: skip

# Keys of YAML files that hold wall times or absolute paths (see the module docstring).
VOLATILE_KEYS = {
    "metadata.yaml": ("run",),
    "fusion_info.yaml": ("timings_s",),
    "index.yaml": ("data",),
}
LOG_TIMES = ("step_time_s", "data_time_s")
SUMMARY_EXACT = ("steps", "validation", "ranks")


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def run_donkit(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(DONKIT), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env=environment(),
    )  # fmt: skip
    assert done.returncode == 0, f"donkit {' '.join(args)}: {done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def file_count(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder)) if folder.exists() else 0


@dataclass(frozen=True)
class Timing:
    seconds: float  # wall time of the whole command
    first_write_s: float  # when its first file appeared in the watched folder


def timed_run(args: list[str], cwd: Path, watch: Path) -> Timing:
    """Run a command to completion, noting when the files under `watch` first change."""
    before = file_count(watch)
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(DONKIT), *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=environment(),
    )  # fmt: skip
    first_write = None
    while process.poll() is None:
        if first_write is None and file_count(watch) != before:
            first_write = time.perf_counter() - started
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.returncode == 0, stderr
    return Timing(seconds, seconds if first_write is None else first_write)


def kill_moments(stage: str, timing: Timing) -> list[float]:
    """Seeded moments spread over the job: one in each of KILLS[stage] equal slices of the time
    from half-way to its first write (imports and set-up before that write nothing) to its end."""
    rng = random.Random(f"{SEED}:{stage}")
    start = timing.first_write_s / 2
    span = timing.seconds - start
    count = KILLS[stage]
    return [start + span * (slot + rng.random()) / count for slot in range(count)]


def run_and_kill(stage: str, args: list[str], cwd: Path, delay_s: float) -> bool:
    """Start the command and SIGKILL its process group after `delay_s`; whether it was still
    running (a fault injected) rather than already done."""
    process = subprocess.Popen(
        [str(DONKIT), *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=environment(),
    )  # fmt: skip
    try:
        process.wait(timeout=delay_s)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        tally.faults[stage] += 1
        return True


# --- comparing and reading back ----------------------------------------------------------------


def output_files(root: Path) -> dict[str, Path]:
    """Every file under `root` by relative path, TensorBoard's event files aside."""
    return {
        str(path.relative_to(root)): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and "tfevents" not in path.name
    }


def without(data: dict, keys: tuple[str, ...]) -> dict:
    return {key: value for key, value in data.items() if key not in keys}


def assert_close_state(got, expected, where: str) -> None:
    """Checkpoint contents: tensors and floats to rtol 1e-5, everything else exactly."""
    if isinstance(expected, torch.Tensor):
        if expected.dtype.is_floating_point:
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6, msg=where)
        else:
            assert torch.equal(got, expected), where
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), where
        for key in expected:
            assert_close_state(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected), where
        for number, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_close_state(a, b, f"{where}[{number}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-5), where
    else:
        assert got == expected, where


def log_entries(path: Path) -> dict[int, dict]:
    """log.jsonl by step; every line whole JSON and every step once."""
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    steps = [entry["step"] for entry in entries]
    assert steps == sorted(set(steps)), f"{path}: steps {steps} repeat or go back"
    return {entry["step"]: without(entry, LOG_TIMES) for entry in entries}


def assert_same_file(got: Path, expected: Path) -> None:
    name = expected.name
    if name in VOLATILE_KEYS:
        keys = VOLATILE_KEYS[name]
        assert without(yaml.safe_load(got.read_text()), keys) == without(
            yaml.safe_load(expected.read_text()), keys
        ), got
    elif expected.suffix == ".pt":
        assert_close_state(load_checkpoint(got), load_checkpoint(expected), str(got))
    elif name == "log.jsonl":
        assert_close_state(log_entries(got), log_entries(expected), str(got))
    elif name == "train_summary.json":
        summary, reference = json.loads(got.read_text()), json.loads(expected.read_text())
        assert {k: summary[k] for k in SUMMARY_EXACT} == {k: reference[k] for k in SUMMARY_EXACT}
        assert_close_state(
            without(summary["losses"], LOG_TIMES), without(reference["losses"], LOG_TIMES), name
        )
    else:
        assert got.read_bytes() == expected.read_bytes(), f"{got} differs from {expected}"


def assert_same_outputs(got: Path, expected: Path) -> None:
    got_files, expected_files = output_files(got), output_files(expected)
    extra = sorted(set(got_files) - set(expected_files))
    missing = sorted(set(expected_files) - set(got_files))
    assert not extra and not missing, f"left behind: {extra}; lost: {missing}"
    for relative, path in expected_files.items():
        assert_same_file(got_files[relative], path)


def read_back(path: Path) -> None:
    """Read a file with the reader donkit uses for it (each raises DonkitError when damaged)."""
    name = path.name
    if name.endswith("_rgb.png") or path.parent.name == "show":
        read_rgb(path)
    elif name.endswith("_depth.png"):
        read_depth(path)
    elif name.endswith(("_seg.png", "_mask.png")):
        read_labels(path)
    elif path.suffix == ".yaml":
        assert read_yaml(path) is not None, path
    elif path.suffix == ".npz":
        assert len(read_pair(path)["uv_a"]) > 0, path
    elif path.suffix in (".ply", ".obj"):
        assert len(read_mesh(path).faces) > 0, path
    elif path.suffix == ".pt":
        load_checkpoint(path)
    elif path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".jsonl":
        log_entries(path)
    elif "tfevents" in name:
        assert path.stat().st_size > 0, path
    else:
        raise AssertionError(f"no reader known for {path}")


def assert_readable(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            read_back(path)
    scenes, partial = find_scenes(root)
    assert not partial, partial
    for scene in scenes:
        load_scene(scene)


# --- the references ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    output: Path  # what the uninterrupted command wrote
    timing: Timing


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, Reference]:
    """Each stage run once, uninterrupted, on the previous stage's reference output."""
    root = tmp_path_factory.mktemp("references")
    refs = {}
    timing = timed_run(["collect", "--out", "collected", *COLLECT], root, root / "collected")
    refs["collect"] = Reference(root / "collected", timing)
    shutil.copytree(root / "collected", root / "fused")
    timing = timed_run(["fuse", "fused", "--workers", "1"], root, root / "fused")
    refs["fuse"] = Reference(root / "fused", timing)
    fused = str(root / "fused")  # absolute, as the trials give it: checkpoints record it
    timing = timed_run(["correspond", fused, "--out", "corr", *CORRESPOND], root, root / "corr")
    refs["correspond"] = Reference(root / "corr", timing)
    timing = timed_run(["train", "--data", fused, "--out", "run", *TRAIN], root, root / "run")
    refs["train"] = Reference(root / "run", timing)
    return refs


@pytest.mark.parametrize("stage", list(KILLS))
def test_reference_outputs_read_back(references, stage):
    assert_readable(references[stage].output)


# --- the kills ---------------------------------------------------------------------------------


def prepare_trial(stage: str, references: dict[str, Reference], folder: Path) -> list[str]:
    """The inputs of one killed run in `folder`, and the command that makes the stage's output
    `folder/out` (run in `folder`)."""
    folder.mkdir(parents=True)
    fused = str(references["fuse"].output)  # only read by correspond and train
    if stage == "collect":
        return ["collect", "--out", "out", *COLLECT]
    if stage == "fuse":
        shutil.copytree(references["collect"].output, folder / "out")
        return ["fuse", "out", "--workers", "1"]
    if stage == "correspond":
        return ["correspond", fused, "--out", "out", *CORRESPOND]
    return ["train", "--data", fused, "--out", "out", *TRAIN]


def rerun_command(stage: str, command: list[str], folder: Path) -> list[str]:
    """What a user runs after the crash: the same command, or for train `--resume` when a
    last.pt survived (before the first one there is nothing to resume, and the command as
    given starts afresh)."""
    if stage == "train" and (folder / "out" / "checkpoints" / "last.pt").is_file():
        return ["train", "--resume", "out", *TRAIN]
    return command


@pytest.mark.parametrize("stage", list(KILLS))
def test_killed_then_rerun_gives_the_uninterrupted_outputs(references, stage, tmp_path):
    reference = references[stage]
    for number, delay in enumerate(kill_moments(stage, reference.timing)):
        folder = tmp_path / f"kill_{number}"
        command = prepare_trial(stage, references, folder)
        run_and_kill(stage, command, folder, delay)
        run_donkit(rerun_command(stage, command, folder), folder)
        where = f"{stage} killed after {delay:.2f} s of {reference.timing.seconds:.2f} s"
        try:
            assert_same_outputs(folder / "out", reference.output)
            assert_readable(folder / "out")
        except AssertionError as error:
            raise AssertionError(f"{where}: {error}") from None
        if stage == "train":
            assert list((folder / "out" / "tb").glob("events.out.tfevents.*")), where
            assert load_config(folder / "out" / "config.yaml").train.loop.steps == TRAIN_STEPS
        shutil.rmtree(folder)


def test_kill_moments_are_seeded_and_spread_over_the_job():
    timing = Timing(seconds=10.0, first_write_s=2.0)
    moments = kill_moments("collect", timing)
    assert moments == kill_moments("collect", timing)
    assert len(moments) == KILLS["collect"]
    slot = (10.0 - 1.0) / KILLS["collect"]
    for number, moment in enumerate(moments):
        assert 1.0 + number * slot <= moment <= 1.0 + (number + 1) * slot
    assert np.all(np.diff(moments) > 0)
