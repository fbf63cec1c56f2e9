"""The depth part of `donkit demo`: the self-supervised model with forward-kinematics poses.

`run_demo_depth` trains it into OUT (the run folder, DIR/depth), evaluates it on the held-out
scenes beside the constant baseline, and leaves OUT/metrics.json. Run again, it continues an
interrupted training and skips what is done.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from depth.evaluate import evaluate_depth, metrics_path
from depth.train import train_depth
from formats.plain import to_plain
from formats.runs import RunFolder
from learn.checkpoints import trained_steps


def run_demo_depth(
    config: Any, data: Path, held_out: Path, out: Path, show_progress: bool | None = None
) -> dict[str, Any]:
    """Train (or finish training) the headline depth model and evaluate it.

    Args:
        config: the whole DonkitConfig; its `depth` section is used with mode self_supervised
            and pose_source kinematics, whatever it says.
        data: the training scenes (DIR/data); held_out: the held-out scenes (DIR/data_test).
        out: the run folder (DIR/depth); OUT/metrics.json is written there.

    Returns:
        The metrics.json content (see depth.evaluate.evaluate_depth).
    """
    depth = dataclasses.replace(config.depth, mode="self_supervised", pose_source="kinematics")
    whole = dataclasses.replace(config, depth=depth)
    run = RunFolder(Path(out))
    if trained_steps(run) >= depth.loop.steps:
        print(f"depth train: {run.root} is trained ({depth.loop.steps} steps)")
    else:
        summary = train_depth(
            to_plain(whole), depth, Path(data), run.root, resume=run.last.is_file(),
            show_progress=show_progress,
        )  # fmt: skip
        print(f"depth train: {summary.line()} -> {run.root}")
    step = trained_steps(run)
    done = metrics_path(run.root)
    if done.is_file():
        metrics = json.loads(done.read_text())
        if metrics.get("step") == step and metrics.get("data") == str(held_out):
            return metrics
    return evaluate_depth(
        run.root, Path(held_out), training_data=Path(data), show_progress=show_progress
    )
