"""The recipe benchmark's pure figures: PCK AUC, and training minutes from log.jsonl."""

import json
from pathlib import Path

import pytest

from benchmarks.train import (
    RECIPE_CONFIGS,
    RECIPES,
    REPOSITORY,
    checkpoint_overrides,
    cumulative_step_seconds,
    step_seconds_at,
)
from donkit.config import load_config
from formats.runs import RunFolder
from learn.config import LoopConfig


def write_log(path: Path) -> Path:
    """log_every 10 over 25 steps: windows of 10, 10 and 5 steps, then a line cut by a kill."""
    entries = [
        {"step": 10, "step_time_s": 1.0, "total": 0.5},
        {"step": 20, "step_time_s": 2.0, "total": 0.4},
        {"step": 25, "step_time_s": 4.0, "total": 0.3},
    ]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries) + '{"step": 3')
    return path


def test_cumulative_step_seconds_from_a_hand_written_log(tmp_path: Path) -> None:
    write_log(tmp_path / "log.jsonl")
    entries = RunFolder(tmp_path).log_entries()
    assert [entry["step"] for entry in entries] == [10, 20, 25]
    steps, seconds = cumulative_step_seconds(entries)
    assert steps.tolist() == [0, 10, 20, 25]
    assert seconds.tolist() == pytest.approx([0.0, 10.0, 30.0, 50.0])  # 10 x 1, + 10 x 2, + 5 x 4
    assert step_seconds_at(entries, 0) == 0.0
    assert step_seconds_at(entries, 20) == pytest.approx(30.0)
    assert step_seconds_at(entries, 25) / 60 == pytest.approx(50 / 60)
    assert step_seconds_at(entries, 15) == pytest.approx(20.0)  # between logged steps
    with pytest.raises(ValueError, match="ends at step 25"):
        step_seconds_at(entries, 30)


def test_checkpoint_overrides_keep_evenly_spaced_checkpoints() -> None:
    assert checkpoint_overrides(LoopConfig(steps=600, last_every=50), 4) == [
        "train.loop.checkpoint_every=150"
    ]
    # last_every need not divide it: the loop keeps a checkpoint whenever one is due
    # (tests/learn/test_loop.py).
    assert checkpoint_overrides(LoopConfig(steps=20, last_every=50), 4) == [
        "train.loop.checkpoint_every=5"
    ]
    assert checkpoint_overrides(LoopConfig(steps=3, last_every=50), 4)[0].endswith("=1")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_are_valid_overrides_of_their_config(name: str) -> None:
    config = REPOSITORY / RECIPE_CONFIGS[name] if name in RECIPE_CONFIGS else None
    load_config(config, list(RECIPES[name]))


def test_the_full_recipe_is_the_demo_trained_longer_on_more_scenes() -> None:
    demo, full = load_config(None), load_config(REPOSITORY / RECIPE_CONFIGS["full"])
    assert full.collect.scenes == 3 * demo.collect.scenes
    assert full.train.loop.steps > 5 * demo.train.loop.steps
    # The same network, loss and crops: only how long, and on how much, it trains.
    same = ("backbone", "width", "finest_stride", "descriptor_dim", "crop_px", "loss")
    assert all(getattr(full.train, key) == getattr(demo.train, key) for key in same)
    assert full.demo == demo.demo and full.evaluate == demo.evaluate
