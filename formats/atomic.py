"""Atomic writes: a file is seen whole or not at all.

Every file donkit writes goes through `write_bytes_atomic`: the bytes go to a temporary file in
the same folder, which is then renamed onto the target, so a crash leaves either the old file or
the new one, never half of one. A process killed outright (SIGKILL, power loss) cannot remove its
temporary file; a job that resumes in a folder calls `remove_stale_temporaries` on it first.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# `.NAME.XXXXXXXX.tmp` and `.NAME.XXXXXXXX.tmp.EXT`: what `temporary_beside` makes (mkstemp's
# 8 random characters).
_TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?")


def temporary_beside(path: Path, extension: str = "") -> tuple[int, str]:
    """An open file descriptor and the name of a new temporary file in `path`'s folder, to be
    renamed onto `path`; with the permissions a plain open() would give it (mkstemp's are 0600,
    which would hide images and metrics from other users of a shared machine). `extension`
    (".mp4") ends the name, for writers that choose a format by it."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{extension}"
    )
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)
    return handle, temporary


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that `path` is never seen half-written."""
    path = Path(path)
    handle, temporary = temporary_beside(path)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path, recursive: bool = False) -> list[Path]:
    """Delete the temporary files that writes killed midway left in `folder` (and below it when
    `recursive`); returns them. Only for a folder no other process is writing to."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    stale = [path for path in candidates if _TEMPORARY_NAME.fullmatch(path.name) and path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
