"""The demo's depth stage: trains the headline model, evaluates it, and skips what is done."""

import dataclasses
import json

import pytest

from depth.demo import run_demo_depth
from donkit.config import DonkitConfig
from tests.depth.conftest import tiny_config


@pytest.mark.slow
def test_the_demo_trains_evaluates_and_skips_when_run_again(small_dataset, tmp_path, capsys):
    # The config asks for a supervised run; the demo's headline is the self-supervised FK one.
    config = DonkitConfig(depth=tiny_config(steps=2, mode="supervised"))
    data, held_out, out = small_dataset / "scene_0000", small_dataset / "scene_0001", tmp_path
    metrics = run_demo_depth(config, data, held_out, out / "depth", show_progress=False)
    assert metrics["mode"] == "self_supervised" and metrics["pose_source"] == "kinematics"
    assert json.loads((out / "depth" / "metrics.json").read_text()) == metrics
    assert set(metrics["baselines"]) == {"constant", "sweep"}
    assert "depth train: self_supervised: steps 0-2" in capsys.readouterr().out
    log = (out / "depth" / "log.jsonl").read_text()
    again = run_demo_depth(config, data, held_out, out / "depth", show_progress=False)
    assert again == metrics and (out / "depth" / "log.jsonl").read_text() == log
    assert "is trained (2 steps)" in capsys.readouterr().out
    # More steps asked for: the run continues where it stopped, and is evaluated again.
    longer = dataclasses.replace(config, depth=tiny_config(steps=3, mode="supervised"))
    third = run_demo_depth(longer, data, held_out, out / "depth", show_progress=False)
    assert third["step"] == 3 and "steps 2-3" in capsys.readouterr().out
