"""Run folders and checkpoints of descriptor training (ARCHITECTURE.md, "Runs").

A checkpoint holds everything needed to continue training exactly (model, optimizer, scheduler,
step, random states) and to use the model without the config file (network shape, descriptor
dimension, image normalization). Files are written whole or not at all.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from descriptors.network import IMAGE_MEAN, IMAGE_STD, DescriptorNet
from geometry import DonkitError
from geometry.image_io import write_bytes_atomic

FORMAT = 1
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


def network_spec(network: DescriptorNet) -> dict[str, Any]:
    """What rebuilds `network`'s shape (its weights come from the state dict)."""
    return {
        "backbone": network.backbone.depth,
        "descriptor_dim": network.descriptor_dim,
        "width": network.width,
        "normalize": network.normalize,
        "finest_stride": network.finest_stride,
        "image_mean": list(IMAGE_MEAN),
        "image_std": list(IMAGE_STD),
    }


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write `state` (tensors and plain data) to `path` atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state saved at `path` (on the CPU); DonkitError when it is missing or damaged."""
    path = Path(path)
    if path.is_dir():
        path = RunFolder(path).last
    if not path.is_file():
        raise DonkitError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises several kinds for a damaged file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DonkitError(f"checkpoint {path} cannot be read ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise DonkitError(f"{path} is not a donkit checkpoint (format {FORMAT})")
    return state


def load_network(path: Path) -> tuple[DescriptorNet, dict[str, Any]]:
    """The trained network of a checkpoint, or of a run folder's last.pt, in eval mode, with the
    checkpoint's state."""
    state = load_checkpoint(path)
    damaged = (
        f"checkpoint {path} holds no descriptor network that donkit can rebuild (its `network` "
        "spec or `model` weights are missing or do not fit); give a checkpoint or run folder "
        "written by `donkit train`"
    )
    spec = state.get("network")
    try:
        network = DescriptorNet(
            spec["backbone"], spec["descriptor_dim"], spec["width"], spec["normalize"],
            spec.get("finest_stride", 8),  # checkpoints from before the option have stride 8
        )  # fmt: skip
        network.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, DonkitError):
        raise DonkitError(damaged) from None
    return network.eval(), state
