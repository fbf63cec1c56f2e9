"""Atomic writes: whole files or none, permissions of a plain open, stale temporaries removed."""

import os

import numpy as np
import pytest

from formats import atomic
from formats.atomic import remove_stale_temporaries, temporary_beside, write_bytes_atomic
from formats.images import (
    write_depth,
    write_labels,
    write_rgb,
)
from formats.plain import write_yaml
from tests.formats.test_images import files_in, random_rgb


def test_write_leaves_only_the_file(tmp_path):
    write_bytes_atomic(tmp_path / "a.bin", b"123")
    assert [path.name for path in tmp_path.iterdir()] == ["a.bin"]
    assert (tmp_path / "a.bin").read_bytes() == b"123"


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    (tmp_path / "sub").mkdir()
    handles = [temporary_beside(tmp_path / "last.pt"), temporary_beside(tmp_path / "sub" / "x.png")]
    handles.append(temporary_beside(tmp_path / "overlay.mp4", ".mp4"))
    for handle, _ in handles:
        os.close(handle)  # what a killed process leaves: the temporary file, never renamed
    keep = [tmp_path / "last.pt", tmp_path / ".hidden", tmp_path / "notes.tmp"]
    for path in keep:
        path.write_bytes(b"mine")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted(tmp_path / os.path.basename(h[1]) for h in handles[::2])
    assert handles[2][1].endswith(".tmp.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "last.pt", "notes.tmp", "sub"]
    assert remove_stale_temporaries(tmp_path, recursive=True) == [
        tmp_path / "sub" / os.path.basename(handles[1][1])
    ]
    assert list((tmp_path / "sub").iterdir()) == []
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_writes_leave_no_temporary_files(tmp_path):
    write_rgb(tmp_path / "a_rgb.png", random_rgb())
    write_depth(tmp_path / "a_depth.png", np.ones((8, 8), np.float32))
    write_labels(tmp_path / "a_seg.png", np.ones((8, 8), np.uint8))
    write_yaml(tmp_path / "a.yaml", {"a": 1})
    write_bytes_atomic(tmp_path / "a.bin", b"first")
    write_bytes_atomic(tmp_path / "a.bin", b"second")
    assert files_in(tmp_path) == ["a.bin", "a.yaml", "a_depth.png", "a_rgb.png", "a_seg.png"]
    assert (tmp_path / "a.bin").read_bytes() == b"second"


@pytest.mark.parametrize(
    "error", [OSError(28, "No space left on device"), KeyboardInterrupt("stopped midway")]
)
def test_write_interrupted_midway_keeps_the_old_file(tmp_path, monkeypatch, error):
    target = tmp_path / "pose_data.yaml"
    target.write_bytes(b"old: content\n")
    real_fdopen = os.fdopen
    during = {}

    class HalfWrite:
        """Writes half of the data, then fails as a full disk or Ctrl-C would."""

        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.file.close()
            return False

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            during["target"] = target.read_bytes()
            during["files"] = files_in(tmp_path)
            raise error

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: HalfWrite(real_fdopen(fd, mode)))
    with pytest.raises(type(error), match=str(error.args[-1])):
        write_bytes_atomic(target, b"new: content that is much longer than the old one\n")
    # While the half-written bytes existed they sat in a temporary file in the same folder (so
    # the final rename is atomic), never in the target.
    assert during["target"] == b"old: content\n"
    assert len(during["files"]) == 2
    (temporary,) = set(during["files"]) - {"pose_data.yaml"}
    assert temporary.startswith(".pose_data.yaml.") and temporary.endswith(".tmp")
    # Afterwards: the old content, and the temporary file is gone.
    assert target.read_bytes() == b"old: content\n"
    assert files_in(tmp_path) == ["pose_data.yaml"]


def test_written_files_get_the_permissions_of_a_plain_open(tmp_path):
    umask = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "shared.bin", b"x")
    finally:
        os.umask(umask)
    # mkstemp alone would leave 0600; a plain open() under umask 022 gives 0644.
    assert (tmp_path / "shared.bin").stat().st_mode & 0o777 == 0o644
