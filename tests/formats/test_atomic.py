import os

from formats.atomic import remove_stale_temporaries, temporary_beside, write_bytes_atomic


def test_write_leaves_only_the_file(tmp_path):
    write_bytes_atomic(tmp_path / "a.bin", b"123")
    assert [path.name for path in tmp_path.iterdir()] == ["a.bin"]
    assert (tmp_path / "a.bin").read_bytes() == b"123"


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    (tmp_path / "sub").mkdir()
    handles = [temporary_beside(tmp_path / "last.pt"), temporary_beside(tmp_path / "sub" / "x.png")]
    for handle, _ in handles:
        os.close(handle)  # what a killed process leaves: the temporary file, never renamed
    keep = [tmp_path / "last.pt", tmp_path / ".hidden", tmp_path / "notes.tmp"]
    for path in keep:
        path.write_bytes(b"mine")
    removed = remove_stale_temporaries(tmp_path)
    assert removed == [tmp_path / os.path.basename(handles[0][1])]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "last.pt", "notes.tmp", "sub"]
    assert remove_stale_temporaries(tmp_path, recursive=True) == [
        tmp_path / "sub" / os.path.basename(handles[1][1])
    ]
    assert list((tmp_path / "sub").iterdir()) == []
    assert remove_stale_temporaries(tmp_path / "missing") == []
