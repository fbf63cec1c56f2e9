"""pybullet, imported once and quietly.

pybullet's C code prints its build time on stderr at import, and the EGL plugin its driver
details on stdout, which would interleave with progress bars and summaries; every module takes
pybullet from here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

_libc = ctypes.CDLL(None)


@contextlib.contextmanager
def quiet_c_output() -> Iterator[None]:
    """Silence what C code writes to file descriptors 1 and 2 inside the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        # C stdio buffers its output when it is not a terminal; flush it while it still goes
        # to /dev/null, or it comes out at exit.
        _libc.fflush(None)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


with quiet_c_output():
    import pybullet
    import pybullet_data
    from pybullet_utils.bullet_client import BulletClient

__all__ = ["BulletClient", "pybullet", "pybullet_data", "quiet_c_output"]
