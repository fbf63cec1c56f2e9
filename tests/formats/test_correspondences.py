import io
import zipfile

import numpy as np
import pytest

from formats import DonkitError
from formats.correspondences import REJECTIONS, read_pair, write_pair
from formats.npz import npz_bytes


def pair_arrays(matches: int = 3, nonmatches: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "uv_a": rng.integers(0, 320, (matches, 2), dtype=np.int32),
        "uv_b": rng.integers(0, 320, (matches, 2), dtype=np.int32),
        "xyz": rng.random((matches, 3), dtype=np.float32),
        "nonmatch_uv_a": rng.integers(0, 320, (nonmatches, 2), dtype=np.int32),
        "nonmatch_uv_b": rng.integers(0, 320, (nonmatches, 2), dtype=np.int32),
        "nonmatch_kind": np.array([0, 1, 2, 3][:nonmatches], np.uint8),
        "frame_b": np.array(7, np.int64),
        "rejected": np.arange(len(REJECTIONS), dtype=np.int64),
    }


def test_a_pair_round_trips_with_the_same_bytes_every_time(tmp_path):
    arrays = pair_arrays()
    write_pair(tmp_path / "a.npz", arrays)
    write_pair(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    read = read_pair(tmp_path / "a.npz")
    for name, array in arrays.items():
        np.testing.assert_array_equal(read[name], array)


def test_a_pair_of_the_wrong_layout_names_the_array(tmp_path):
    arrays = pair_arrays() | {"xyz": np.zeros((3, 2), np.float32)}
    (tmp_path / "p.npz").write_bytes(npz_bytes(arrays))
    with pytest.raises(DonkitError, match=r"xyz is float32 \(3, 2\), expected \('N', 3\)"):
        read_pair(tmp_path / "p.npz")


def test_an_archive_of_an_unknown_compression_is_unreadable_not_a_crash(tmp_path):
    # zipfile raises NotImplementedError for a compression method it does not know.
    data = bytearray(npz_bytes(pair_arrays()))
    header = data.index(b"PK\x03\x04")
    data[header + 8 : header + 10] = (99).to_bytes(2, "little")  # the local header's method
    central = data.index(b"PK\x01\x02")
    data[central + 10 : central + 12] = (99).to_bytes(2, "little")  # the directory's copy
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive, pytest.raises(NotImplementedError):
        archive.read(archive.namelist()[0])
    (tmp_path / "p.npz").write_bytes(bytes(data))
    with pytest.raises(DonkitError, match="is not readable"):
        read_pair(tmp_path / "p.npz")
