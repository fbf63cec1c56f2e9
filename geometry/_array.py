"""Let one function serve numpy arrays and torch tensors.

Each geometry function is written once with operations that numpy and torch share (`@`,
slicing, `stack`, `where`, `linalg`); `namespace` picks the module for its inputs. torch is only
imported when a tensor is actually passed, so numpy-only processes (collection workers) never pay
for importing it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np


def is_tensor(array: Any) -> bool:
    """True for a torch.Tensor, without importing torch when it has not been imported."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(array, torch.Tensor)


def namespace(*arrays: Any) -> ModuleType:
    """The array module (numpy or torch) for `arrays`; mixing the two is an error."""
    tensors = [is_tensor(a) for a in arrays]
    if all(tensors):
        return sys.modules["torch"]
    if any(tensors):
        raise TypeError("geometry functions take all-numpy or all-torch inputs, not a mix")
    return np


def arange_like(count: int, like: Any) -> Any:
    """0, 1, ..., count - 1 with the dtype and device of `like`."""
    if is_tensor(like):
        return sys.modules["torch"].arange(count, dtype=like.dtype, device=like.device)
    return np.arange(count, dtype=like.dtype)
