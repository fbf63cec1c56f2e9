import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from formats import DonkitError
from formats.images import (
    depth_to_millimetres,
    read_depth,
    read_labels,
    read_rgb,
    write_depth,
    write_labels,
    write_rgb,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
READERS = [read_rgb, read_depth, read_labels]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def handmade_png(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    """A PNG assembled byte by byte (no encoder), with correct chunk CRCs."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_header(path: Path) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from the IHDR chunk, read independently of OpenCV."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">IIBB", data[16:26])


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def random_rgb(seed: int = 0, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


# --- round trips -------------------------------------------------------------------------------


def test_rgb_round_trip_and_on_disk_format(tmp_path):
    rgb = random_rgb()
    path = tmp_path / "000000_rgb.png"
    write_rgb(path, rgb)
    back = read_rgb(path)
    assert back.dtype == np.uint8 and back.shape == (48, 64, 3)
    np.testing.assert_array_equal(back, rgb)
    # On disk: 8-bit truecolour (colour type 2); OpenCV, which reads BGR, sees the channels swapped.
    assert png_header(path) == (64, 48, 8, 2)
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), rgb[:, :, ::-1])


def test_rgb_channel_order_of_a_pure_red_image(tmp_path):
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    write_rgb(tmp_path / "red.png", red)
    assert read_rgb(tmp_path / "red.png")[0, 0].tolist() == [255, 0, 0]


def test_read_rgb_drops_alpha(tmp_path):
    rgb = random_rgb(1)
    bgra = np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 7, np.uint8)])
    assert cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    np.testing.assert_array_equal(read_rgb(tmp_path / "rgba.png"), rgb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depth_round_trip_to_the_millimetre(tmp_path, dtype):
    depth_m = np.array(
        [
            [0.0, 0.0004, 0.0006, 1.2344, 1.2346, 0.5],
            [65.535, 65.5354, 65.5356, 100.0, -0.5, -0.0004],
            [np.nan, np.inf, -np.inf, 0.001, 2.0, 0.3337],
        ],
        dtype=dtype,
    )
    # By hand: round to the nearest millimetre; no reading (0) for NaN, infinities, negative
    # values and anything past 65535 mm, the largest uint16.
    expected_mm = np.array(
        [
            [0, 0, 1, 1234, 1235, 500],
            [65535, 65535, 0, 0, 0, 0],
            [0, 0, 0, 1, 2000, 334],
        ]
    )
    path = tmp_path / "000000_depth.png"
    write_depth(path, depth_m)
    assert png_header(path) == (6, 3, 16, 0)  # 16-bit greyscale
    on_disk = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert on_disk.dtype == np.uint16
    np.testing.assert_array_equal(on_disk, expected_mm)
    back = read_depth(path)
    assert back.dtype == np.float32 and back.shape == (3, 6)
    # Metres are the float32 nearest to mm / 1000.
    np.testing.assert_array_equal(back, (expected_mm / 1000).astype(np.float32))


# Depths near float32's maximum overflow to inf when multiplied by 1000 (and are then dropped,
# as they should be); numpy warns about that multiplication.
@pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=1, max_size=64).map(
        lambda values: np.array(values, dtype=np.float32).reshape(1, -1)
    )
)
def test_depth_to_millimetres_rounds_or_drops(depth_m):
    depth_mm = depth_to_millimetres(depth_m)
    assert depth_mm.dtype == np.uint16 and depth_mm.shape == depth_m.shape
    for value, mm in zip(depth_m.astype(np.float64).ravel(), depth_mm.ravel(), strict=True):
        exact_mm = value * 1000.0
        # float32 products carry up to 65536 * 2**-23 mm of rounding error near the top.
        slack = 0.5 + 0.01
        if not np.isfinite(value) or value < 0 or exact_mm > 65535.5 + 0.01:
            assert mm == 0, value
        elif exact_mm < 65535.5 - 0.01:
            assert abs(int(mm) - exact_mm) <= slack, value
        else:
            assert mm in (0, 65535), value


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_labels_round_trip_keeps_dtype(tmp_path, dtype):
    top = np.iinfo(dtype).max
    labels = np.random.default_rng(2).integers(0, 5, (48, 64)).astype(dtype)
    labels[0, :3] = [0, 1, top]
    write_labels(tmp_path / "000000_seg.png", labels)
    back = read_labels(tmp_path / "000000_seg.png")
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, labels)
    assert png_header(tmp_path / "000000_seg.png")[2] == np.dtype(dtype).itemsize * 8


@pytest.mark.parametrize(
    ("write", "value", "match"),
    [
        (
            write_rgb,
            np.zeros((4, 4, 3), np.float32),
            r"RGB images are \(H, W, 3\) uint8; got float32",
        ),
        (write_rgb, np.zeros((4, 4), np.uint8), r"got uint8 \(4, 4\)"),
        (write_depth, np.zeros((4, 4, 1)), r"depth images are \(H, W\); got \(4, 4, 1\)"),
        (write_labels, np.zeros((4, 4), np.int32), r"uint8 or uint16; got int32"),
    ],
)
def test_writers_reject_wrong_arrays(tmp_path, write, value, match):
    with pytest.raises(ValueError, match=match):
        write(tmp_path / "x.png", value)
    assert files_in(tmp_path) == []


# --- atomic writes -----------------------------------------------------------------------------


# --- readers refuse damaged or wrong files -----------------------------------------------------


@pytest.mark.parametrize("read", READERS)
def test_missing_image_names_the_file(tmp_path, read):
    path = tmp_path / "scene" / "000007_rgb.png"
    with pytest.raises(DonkitError, match=re.escape(f"{path} is missing")):
        read(path)


@pytest.fixture
def valid_pngs(tmp_path) -> dict:
    """One valid file per reader."""
    rgb_path, depth_path, labels_path = (tmp_path / n for n in ("rgb.png", "d.png", "l.png"))
    write_rgb(rgb_path, random_rgb())
    write_depth(depth_path, np.random.default_rng(3).uniform(0.2, 2.0, (48, 64)))
    write_labels(labels_path, np.arange(48 * 64, dtype=np.uint16).reshape(48, 64))
    return {read_rgb: rgb_path, read_depth: depth_path, read_labels: labels_path}


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("keep", [0.02, 0.5, 0.9, -12, -1])
def test_truncated_png_is_reported(tmp_path, valid_pngs, read, keep):
    data = valid_pngs[read].read_bytes()
    cut = int(len(data) * keep) if keep > 0 else len(data) + keep
    path = tmp_path / "cut.png"
    path.write_bytes(data[:cut])
    with pytest.raises(DonkitError, match=re.escape(f"{path} is not a readable PNG")):
        read(path)


@pytest.mark.parametrize("read", READERS)
def test_text_file_named_png_is_reported(tmp_path, read):
    path = tmp_path / "000000_rgb.png"
    path.write_text("camera_matrix: {rows: 3, cols: 3}\n")
    with pytest.raises(DonkitError, match=re.escape(f"{path} is not a readable PNG")):
        read(path)


def write_with_opencv(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize(
    ("read", "image", "match"),
    [
        # 8-bit greyscale as depth: the depth scale would be wrong by 256x.
        (read_depth, np.full((48, 64), 200, np.uint8), "dtype uint8 and shape (48, 64); expected"),
        (read_depth, np.zeros((48, 64, 3), np.uint16), "shape (48, 64, 3); expected a single"),
        (read_depth, np.zeros((48, 64, 3), np.uint8), "dtype uint8 and shape (48, 64, 3)"),
        (read_rgb, np.zeros((48, 64, 3), np.uint16), "dtype uint16 and shape (48, 64, 3)"),
        (read_rgb, np.zeros((48, 64), np.uint8), "dtype uint8 and shape (48, 64); expected 8-bit"),
        (read_labels, np.zeros((48, 64, 3), np.uint8), "shape (48, 64, 3); expected one channel"),
    ],
)
def test_wrong_dtype_or_channels_is_reported(tmp_path, read, image, match):
    path = write_with_opencv(tmp_path / "image.png", image)
    with pytest.raises(DonkitError, match=re.escape(f"{path} has ") + ".*" + re.escape(match)):
        read(path)


@pytest.mark.parametrize("read", READERS)
def test_png_header_with_huge_size_is_reported(tmp_path, read):
    path = tmp_path / "huge.png"
    path.write_bytes(handmade_png(70_000, 70_000, 8, 2, zlib.compress(b"")))
    with pytest.raises(DonkitError, match=re.escape(str(path))):
        read(path)


@pytest.mark.parametrize("read", READERS)
def test_png_header_chunk_too_short_for_its_size_is_reported(tmp_path, read):
    # Found by the property test below: an IHDR chunk that declares 0 bytes at the end of the
    # file, where the size would be read from bytes that are not there.
    path = tmp_path / "short.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 60 + b"\x00\x00\x00\x00IHDR\x00\x00\x00\x00")
    with pytest.raises(DonkitError, match=re.escape(str(path))):
        read(path)


# --- read_yaml ---------------------------------------------------------------------------------


# --- property: any bytes named .png give an image or a DonkitError ----------------------------


def _valid_png_bytes() -> list[bytes]:
    images = [
        np.random.default_rng(4).integers(0, 256, (6, 5, 3), dtype=np.uint8),
        np.arange(30, dtype=np.uint16).reshape(6, 5) * 1000,
        np.arange(30, dtype=np.uint8).reshape(6, 5),
        np.zeros((3, 4, 4), np.uint8),
    ]
    return [cv2.imencode(".png", image)[1].tobytes() for image in images]


VALID_PNGS = _valid_png_bytes()


def _chunk_lengths_fit(data: bytes) -> bool:
    """Whether no chunk claims to be longer than the file.

    OpenCV 5.0 allocates a chunk's claimed length before reading it: a 116-byte PNG whose IDAT
    length reads 0xF400003B costs 4 GB of memory and several seconds before imread gives up.
    The readers still end with a DonkitError, so the property holds, but such examples would
    make this test slow; they are left out (and reported, not tested here).
    """
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        if length > len(data):
            return False
        position += length + 12
    return True


def _corrupt(args: tuple[bytes, int, bytes, bool]) -> bytes:
    data, position, junk, truncate = args
    position = min(position, len(data))
    if truncate:
        return data[:position]
    return data[:position] + junk + data[position + len(junk) :]


arbitrary_png_bytes = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(lambda tail: PNG_SIGNATURE + tail),
    st.tuples(
        st.sampled_from(VALID_PNGS),
        st.integers(0, 200),
        st.binary(min_size=1, max_size=8),
        st.booleans(),
    )
    .map(_corrupt)
    .filter(_chunk_lengths_fit),
    # Well-formed chunks (correct CRCs) around an arbitrary header and payload, so that the
    # decoder gets past the checksums. Sizes stay far below 2**30 pixels (larger ones hit the
    # known bug of test_png_header_with_huge_size_is_reported) and decode in milliseconds.
    st.builds(
        handmade_png,
        st.integers(0, 1024),
        st.integers(0, 1024),
        st.sampled_from([1, 2, 4, 8, 16, 3, 0, 255]),
        st.sampled_from([0, 2, 3, 4, 6, 1, 7]),
        st.one_of(st.binary(max_size=64), st.binary(max_size=64).map(zlib.compress)),
    ),
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("arbitrary_png")


@settings(max_examples=500, deadline=None)
@given(data=arbitrary_png_bytes)
def test_any_bytes_give_an_image_or_a_donkit_error(scratch, data):
    path = scratch / "000000_rgb.png"
    path.write_bytes(data)
    for read in READERS:
        try:
            image = read(path)
        except DonkitError as error:
            event(f"{read.__name__} refused")
            assert str(path) in str(error)
        else:
            event(f"{read.__name__} returned an image")
            assert isinstance(image, np.ndarray) and image.size > 0
