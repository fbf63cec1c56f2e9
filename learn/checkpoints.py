"""Checkpoints of training runs: written whole or not at all, read without running pickled code.

A checkpoint is a dict of tensors and plain data (numbers, strings, lists, dicts): the model's
and optimizer's state, the step, random states, the network's spec and the resolved config. It
is read with `torch.load(..., weights_only=True)`, which rebuilds only those, so a checkpoint
from elsewhere cannot run code on load. Its `kind` says which trainer wrote it.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.runs import RunFolder

FORMAT = 1
KINDS = ("descriptors", "depth")
"""What a run trains: dense descriptors (`donkit train`) or depth (`donkit depth train`)."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write `state` (tensors and plain data) to `path` atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state saved at `path` (on the CPU), or in a run folder's last.pt; DonkitError when it
    is missing, damaged, not a donkit checkpoint, or holds anything but tensors and plain data."""
    path = Path(path)
    if path.is_dir():
        path = RunFolder(path).last
    if not path.is_file():
        raise DonkitError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # weights_only names the Python object it refused ("GLOBAL posix.system"); a damaged
        # file fails on its bytes instead ("Unsupported operand 103").
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        refused = next((line for line in lines if "GLOBAL" in line), None)
        if refused is not None:
            raise DonkitError(
                f"checkpoint {path} holds more than tensors and plain data ({refused}); donkit "
                "does not load it, since unpickling it could run code"
            ) from None
        raise DonkitError(
            f"checkpoint {path} cannot be read (damaged, or not a checkpoint)"
        ) from None
    except Exception as error:  # torch raises several kinds for a damaged file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DonkitError(f"checkpoint {path} cannot be read ({reason})") from None
    if (
        not isinstance(state, dict)
        or state.get("format") != FORMAT
        or "model" not in state
        or not isinstance(state.get("step"), int)
    ):
        raise DonkitError(
            f"{path} is not a donkit checkpoint (format {FORMAT}, with model weights and a step)"
        )
    return state


def trained_steps(run: RunFolder) -> int:
    """The step a run folder's last.pt reached; 0 for a run not started."""
    return int(load_checkpoint(run.last)["step"]) if run.last.is_file() else 0


def require_kind(path: Path, state: dict[str, Any], kind: str, command: str) -> None:
    """DonkitError unless the checkpoint `state` (read from `path`) is of a `kind` run."""
    found = checkpoint_kind(state)
    if found != kind:
        raise DonkitError(f"{path} holds a {found} run, not a {kind} run, which `{command}` needs")


def checkpoint_kind(state: dict[str, Any]) -> str:
    """Which trainer wrote a checkpoint: one of KINDS (checkpoints from before the `kind` entry
    are told apart by their network spec), or "unknown"."""
    kind = state.get("kind")
    if kind in KINDS:
        return kind
    if "depth" in state:
        return "depth"
    if "network" in state:
        return "descriptors"
    return "unknown"
