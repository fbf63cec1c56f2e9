"""Every on-disk format, read and written in one place: scenes (and their ground truth), images,
plain YAML/JSON, videos, TAP-Vid files, deterministic npz, correspondence datasets, run folders;
all writes atomic.

Also the project's one error type, `DonkitError`, since every reader raises it.
"""

from formats.errors import DonkitError

__all__ = ["DonkitError"]
