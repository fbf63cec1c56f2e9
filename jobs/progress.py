"""Progress bars: one look for every long job."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm


def progress_bar(total: int, description: str, show: bool | None, unit: str = "frame") -> Any:
    """A tqdm bar on stderr counting `unit`s; `show` None shows it on a terminal only. A bar
    opened beneath another (a stage's under `donkit demo`'s) is cleared when it closes."""
    disable = None if show is None else not show
    return tqdm(total=total, unit=unit, desc=description, disable=disable, leave=None)
