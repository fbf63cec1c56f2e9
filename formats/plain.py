"""Plain data files (YAML, JSON) and the checked reading of numbers in them.

Reads raise DonkitError naming the file and the place in it; writes are atomic.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from formats import DonkitError
from formats.atomic import write_bytes_atomic


def to_plain(value: Any) -> Any:
    """YAML-ready data: dataclasses and dicts become dicts, tuples and arrays lists, numpy
    scalars Python numbers."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_yaml(path: Path, data: Any) -> None:
    """Write data (see `to_plain`) as YAML, atomically."""
    text = yaml.safe_dump(to_plain(data), sort_keys=False, default_flow_style=None, width=100)
    write_bytes_atomic(path, text.encode())


def read_yaml(path: Path, what: str = "YAML file") -> Any:
    """Read a YAML file; a missing file or a syntax error becomes a DonkitError naming the place."""
    path = Path(path)
    if not path.is_file():
        raise DonkitError(f"{what} {path} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except RecursionError:
        raise DonkitError(
            f"{what} {path} is nested too deeply to be a config or scene file"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise DonkitError(f"{what} {where} is not valid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise DonkitError(f"{what} {path} is not a text file") from None


def finite_float(value: Any, where: str) -> float:
    """`value` as a finite float, or a DonkitError that names `where`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DonkitError(f"{where} must be a number; got {value!r}") from None
    except OverflowError:
        raise DonkitError(
            f"{where} must be finite; got an integer of {len(str(value))} digits"
        ) from None
    if not math.isfinite(number):
        raise DonkitError(f"{where} must be finite; got {value!r}")
    return number


def whole_number(value: Any, where: str) -> int:
    """`value` as an int when it is a whole number (7, 7.0, "7"), or a DonkitError naming
    `where`."""
    number = finite_float(value, where)
    if not number.is_integer():
        raise DonkitError(f"{where} must be a whole number; got {value!r}")
    return int(number)
