"""LoopConfig: the training loop that descriptor and depth training share.

Each field is documented once, by the string under it. Each trainer's section nests one
(`train.loop`, `depth.loop`) with its own defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from formats.checks import at_least, check, not_negative, positive

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = get_args(Device)
"""Where a network runs: auto picks cuda when torch sees a CUDA device, else cpu."""


@dataclass(frozen=True)
class LoopConfig:
    """Steps, optimizer (Adam) and learning-rate schedule, where to train, logs and checkpoints."""

    steps: int = 600
    """Optimizer steps."""
    learning_rate: float = 1e-3
    """Adam's learning rate at the start."""
    schedule: Literal["constant", "step", "cosine"] = "step"
    """Learning-rate schedule: 'constant'; 'step', multiplied by decay_factor every decay_every
    steps; 'cosine', falling along a half cosine to 0 at the last step (so raising the steps of
    a run on `--resume` changes the rest of its schedule)."""
    decay_every: int = 250
    """Steps between decays of the 'step' schedule ..."""
    decay_factor: float = 0.9
    """... each multiplying the learning rate by this."""
    weight_decay: float = 1e-4
    """Adam's weight decay."""
    clip_grad_norm: float = 10.0
    """Largest gradient norm; larger gradients are scaled down (0: no clipping)."""
    device: Device = "auto"
    """Where to train: auto picks cuda when present (the command's --device overrides)."""
    loader_workers: int = 1
    """Processes preparing samples beside training (0: in the training process)."""
    log_every: int = 10
    """Steps between logged losses (TensorBoard and log.jsonl)."""
    image_every: int = 250
    """Steps between example images in TensorBoard."""
    checkpoint_every: int = 500
    """Steps between kept checkpoints (checkpoints/step_XXXXXX.pt) ..."""
    last_every: int = 50
    """... and between refreshes of checkpoints/last.pt, which `--resume` continues from (a
    crash loses at most these steps)."""

    def __post_init__(self) -> None:
        at_least(self, 1, "steps", "decay_every")
        at_least(self, 1, "log_every", "image_every", "checkpoint_every", "last_every")
        positive(self, "learning_rate")
        factor = self.decay_factor
        check(self, 0 < factor <= 1, f"must lie in (0, 1]; got {factor!r}", "decay_factor")
        not_negative(self, "weight_decay", "clip_grad_norm", "loader_workers")
