"""Run folders of training (descriptors and depth): where each file of a run lives."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def log_entries(self) -> list[dict[str, Any]]:
        """The entries of log.jsonl in order ({"step": ..., loss terms ...}), up to the first
        line a kill cut short (not JSON, or without its step); none without a log."""
        if not self.log.is_file():
            return []
        entries = []
        for line in self.log.read_text().splitlines():
            try:
                entry = json.loads(line)
                entry["step"]
            except (ValueError, KeyError, TypeError):
                break  # cut short by a kill: nothing after it was written
            entries.append(entry)
        return entries

    def step_checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step_{step:06d}.pt"
