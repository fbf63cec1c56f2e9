"""Run folders of training (descriptors and depth): where each file of a run lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAST = "last.pt"


@dataclass(frozen=True)
class RunFolder:
    """The files of a training run under `root`."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / LAST

    @property
    def tensorboard(self) -> Path:
        return self.root / "tb"

    @property
    def log(self) -> Path:
        return self.root / "log.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "train_summary.json"

    def step_checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step_{step:06d}.pt"
