"""Deterministic .npz files: the same arrays give the same bytes.

numpy's savez stamps each entry of the zip archive with the current time, so writing a pair
twice would give two files; these entries carry a fixed time instead, which keeps datasets
byte-identical across runs and resumes.
"""

from __future__ import annotations

import io
import zipfile
import zlib

import numpy as np

UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError)
"""What np.load and the lazy reading of an npz member raise on a damaged file (zipfile raises
NotImplementedError for a compression method it does not know)."""


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed .npz (what np.savez_compressed writes), with fixed zip timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entry.getvalue())
    return buffer.getvalue()
