"""Checkpoints of training runs: written whole or not at all, read without running pickled code."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.runs import RunFolder

FORMAT = 1


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
