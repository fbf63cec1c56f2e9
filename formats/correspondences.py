"""Correspondence datasets on disk: DATASET/index.yaml and DATASET/pairs/XXXXXX.npz.

index.yaml lists the pairs, `{file, scene_a, frame_a, scene_b, frame_b, kind}` each (kind:
same_object, different_object or multi_object), beside what made the dataset. A pair file holds

    uv_a, uv_b                    int32 (N, 2)   matches, (u, v) pixels of image A and image B
    xyz                           float32 (N, 3) the world point of each match, metres
    nonmatch_uv_a, nonmatch_uv_b  int32 (M, 2)
    nonmatch_kind                 uint8 (M,)     0 masked, 1 background, 2 blind, 3 cross_object

and, for a resumed run to index it without making it again, frame_b and the count of samples
rejected for each reason of REJECTIONS. Pixel coordinates are the nearest pixel of the exact
projection. `descriptors.dataset` writes datasets, the truth checks read them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from formats.atomic import write_bytes_atomic
from formats.errors import DonkitError
from formats.npz import UNREADABLE, npz_bytes

INDEX = Path("index.yaml")
PAIRS_DIR = Path("pairs")
REJECTIONS = ("outside_b", "off_mesh_in_b", "edge_in_b", "occluded", "sensor_disagrees")
"""Why a sample of A has no match in B: it lands outside B, off the fused mesh in B, on a
depth edge of B, B sees something else in front of it, or a frame's own depth image disagrees
with the point's depth (pair files written before that test hold the first four counts)."""


def pair_filename(index: int) -> str:
    return f"{index:06d}.npz"


# The arrays of a pair file, each as (dtype kind, shape): N matches, M non-matches.
_PAIR_LAYOUT = {
    "uv_a": ("i", ("N", 2)),
    "uv_b": ("i", ("N", 2)),
    "xyz": ("f", ("N", 3)),
    "nonmatch_uv_a": ("i", ("M", 2)),
    "nonmatch_uv_b": ("i", ("M", 2)),
    "nonmatch_kind": ("u", ("M",)),
}


def write_pair(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a pair file (the arrays of the layout, plus frame_b and rejected) atomically, with
    the same bytes for the same arrays."""
    missing = [name for name in (*_PAIR_LAYOUT, "frame_b", "rejected") if name not in arrays]
    if missing:
        raise ValueError(f"a pair file needs {missing}")
    write_bytes_atomic(path, npz_bytes(arrays))


def read_pair(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a pair file, checked against the layout; a damaged file is a DonkitError
    naming it."""
    again = "make the dataset again with `donkit correspond --overwrite`"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except UNREADABLE as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DonkitError(f"pair file {path} is not readable ({reason}); {again}") from None
    except (AttributeError, TypeError):  # a lone .npy array: no context manager, no files
        raise DonkitError(f"pair file {path} holds one array, not an .npz; {again}") from None
    sizes: dict[str, int] = {}
    for name, (kind, shape) in _PAIR_LAYOUT.items():
        array = arrays.get(name)
        fits = (
            array is not None
            and array.dtype.kind in (kind, "u" if kind == "i" else kind)
            and array.ndim == len(shape)
            and all(
                size == sizes.setdefault(want, size) if isinstance(want, str) else size == want
                for size, want in zip(array.shape, shape, strict=False)
            )
        )
        if not fits:
            got = "missing" if array is None else f"{array.dtype} {array.shape}"
            raise DonkitError(
                f"pair file {path}: {name} is {got}, expected {shape} of kind {kind!r}; {again}"
            )
    return arrays
