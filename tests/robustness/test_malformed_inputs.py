"""Every file reader, given malformed files: a valid result or one clear DonkitError, nothing else.

Each property starts from a valid file made here and damages it the way files get damaged: cut
short (a copy or a download that stopped), bytes flipped (a bad disk), fields missing or of the
wrong type or dtype or shape (another tool's writer), NaN and infinite numbers, poses whose
rotation is not a rotation, empty files and garbage. The reader must either return what its
docstring promises (checked here) or raise DonkitError in one line that names the file; any other
exception is a bug. The CLI tests check the last step: exit code 1, one line on stderr, no
traceback. Per-reader properties that tests/geometry and tests/donkit already hold (arbitrary
bytes as PNG, damaged pose_data fields, config sections) are not repeated; these add whole files.
Every input given to a reader is counted in `tally.malformed` for the session's summary.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import trimesh
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from descriptors.network import DescriptorNet, load_network, network_spec
from donkit.cli import main
from donkit.config import DonkitConfig, load_config
from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.correspondences import read_pair
from formats.images import read_depth, read_labels, read_rgb
from formats.npz import npz_bytes
from formats.plain import write_yaml
from formats.scenes import CAMERA_INFO, POSE_DATA, load_scene
from formats.tapvid import TapVidVideo, read_tapvid
from formats.video import read_video, write_video
from learn.backbones import load_backbone_weights
from learn.checkpoints import FORMAT, load_checkpoint
from reconstruct.mesh import TriangleMesh, ply_bytes, read_mesh
from tests.formats.test_scenes import example_poses, write_scene
from tests.robustness import tally
from tracking.tracks import CSV_COLUMNS, Tracks, read_tracks_csv, tracks_csv

DEMO_YAML = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
DONKIT = Path(sys.executable).parent / "donkit"
# Files are rewritten in one scratch folder per module: hypothesis reuses fixtures across examples.
QUICK = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SLOWER = settings(  # readers that start ffmpeg or build a network for each input
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("malformed")


def outcome(reader: str, path: Path, read):
    """`read()`'s result, or None after checking its DonkitError; counts the input."""
    tally.malformed[reader] += 1
    try:
        return read()
    except DonkitError as error:
        message = str(error)
        assert message and "\n" not in message, f"{reader}: not one line: {message!r}"
        assert str(path) in message or path.name in message, f"{reader}: {message!r}"
        return None


# --- ways to damage bytes ----------------------------------------------------------------------


DAMAGES = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0, exclude_max=True)),
    st.tuples(
        st.just("flip"),
        st.lists(
            st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)),
            min_size=1,
            max_size=8,
        ),
    ),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("empty"), st.none()),
    st.tuples(st.just("garbage"), st.binary(min_size=1, max_size=2048)),
)
"""Ways to damage a file's bytes, as (how, what): cut short at a share of its length, bytes
flipped at shares of its length, garbage appended, emptied, or replaced by garbage. Drawn as
descriptions rather than bytes, so that a failing example prints small."""


def damage(valid: bytes, how: tuple) -> bytes:
    kind, what = how
    if kind == "truncate":
        return valid[: int(what * len(valid))]
    if kind == "flip":
        data = bytearray(valid)
        for share, mask in what:
            data[int(share * len(data))] ^= mask
        return bytes(data)
    if kind == "append":
        return valid + what
    return b"" if kind == "empty" else what


@st.composite
def damaged_bytes(draw, valid: bytes) -> bytes:
    return damage(valid, draw(DAMAGES))


# --- images ------------------------------------------------------------------------------------


@st.composite
def png_files(draw) -> bytes:
    """A PNG of any of the dtypes and channel counts OpenCV writes, often damaged after."""
    dtype = draw(st.sampled_from([np.uint8, np.uint16]))
    channels = draw(st.sampled_from([1, 3, 4]))
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    shape = (height, width) if channels == 1 else (height, width, channels)
    image = np.random.default_rng(draw(st.integers(0, 99))).integers(
        0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True
    )
    valid = cv2.imencode(".png", image)[1].tobytes()
    return valid if draw(st.booleans()) else draw(damaged_bytes(valid))


@QUICK
@given(data=png_files())
def test_image_readers_return_their_contract_or_a_clear_error(scratch, data):
    path = scratch / "image.png"
    path.write_bytes(data)
    rgb = outcome("image", path, lambda: read_rgb(path))
    if rgb is not None:
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    depth = outcome("image", path, lambda: read_depth(path))
    if depth is not None:
        assert depth.dtype == np.float32 and depth.ndim == 2 and (depth >= 0).all()
    labels = outcome("image", path, lambda: read_labels(path))
    if labels is not None:
        assert labels.ndim == 2 and labels.dtype in (np.uint8, np.uint16)


# --- the config file ---------------------------------------------------------------------------

DEMO_LINES = DEMO_YAML.read_text().splitlines(keepends=True)
VALUE_LINES = [n for n, line in enumerate(DEMO_LINES) if ":" in line and not line.strip()[0] == "#"]
ODD_VALUES = st.sampled_from(
    [".nan", ".inf", "-.inf", "-1", "0", "1e400", "''", "[]", "{}", "~", "[1, 2, 3, 4]",
     "yes", "'a string'", "!!binary aGk=", "&a 1", "*b", "[", "{a: }", "\x00", "1.5"]
)  # fmt: skip


@st.composite
def config_texts(draw) -> bytes:
    """configs/demo.yaml with a key dropped, a value replaced, cut short, or garbage."""
    how = draw(st.sampled_from(["drop", "value", "truncate", "garbage", "indent"]))
    lines = list(DEMO_LINES)
    if how == "garbage":
        return draw(st.binary(max_size=512))
    if how == "truncate":
        text = "".join(lines).encode()
        return text[: draw(st.integers(0, len(text) - 1))]
    number = draw(st.sampled_from(VALUE_LINES))
    key = lines[number].split(":")[0]
    if how == "drop":
        del lines[number]
    elif how == "value":
        lines[number] = f"{key}: {draw(ODD_VALUES)}\n"
    else:
        lines[number] = " " + lines[number]
    return "".join(lines).encode()


@QUICK
@given(text=config_texts())
def test_damaged_config_file_loads_or_is_reported(scratch, text):
    path = scratch / "config.yaml"
    path.write_bytes(text)
    config = outcome("config", path, lambda: load_config(path))
    assert config is None or isinstance(config, DonkitConfig)


# --- scenes: poses and intrinsics --------------------------------------------------------------


@pytest.fixture(scope="module")
def scene_files(scratch) -> tuple[Path, dict, dict]:
    root = scratch / "scene"
    write_scene(root, example_poses())
    return (
        root,
        yaml.safe_load((root / POSE_DATA).read_text()),
        yaml.safe_load((root / CAMERA_INFO).read_text()),
    )


PARTS = ("translation", "quaternion")
POSE_FIELDS = [("translation", k) for k in "xyz"] + [("quaternion", k) for k in "wxyz"]


@st.composite
def damaged_poses(draw, pose_data: dict) -> dict:
    """pose_data with NaN or infinite numbers, non-unit quaternions (rotations that are not
    orthonormal: the format stores rotations only as quaternions), or keys missing."""
    data = yaml.safe_load(yaml.safe_dump(pose_data))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        frame = data[draw(st.sampled_from(sorted(data)))]
        how = draw(st.sampled_from(["not finite", "scale", "missing", "huge", "text"]))
        part, key = draw(st.sampled_from(POSE_FIELDS))
        pose = frame.get("camera_to_world")
        if not (isinstance(pose, dict) and all(isinstance(pose.get(p), dict) for p in PARTS)):
            continue  # already damaged by an earlier draw
        if how == "not finite":
            pose[part][key] = draw(NOT_FINITE)
        elif how == "scale":
            factor = draw(st.floats(0.0, 3.0))
            pose["quaternion"] = {
                k: v * factor if isinstance(v, float) else v for k, v in pose["quaternion"].items()
            }
        elif how == "missing":
            victim = draw(st.sampled_from([pose, pose[part], frame]))
            victim.pop(draw(st.sampled_from(sorted(victim))))
        elif how == "huge":
            pose[part][key] = draw(st.sampled_from([1e308, -1e308, 10**400]))
        else:
            pose[part][key] = draw(st.sampled_from(["", "1,5", "nan", None, [], {}]))
    return data


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # |q| of 1e308
@QUICK
@given(data=st.data())
def test_poses_that_are_not_rigid_motions_are_refused(scene_files, data):
    root, pose_data, _ = scene_files
    damaged = data.draw(damaged_poses(pose_data))
    (root / POSE_DATA).write_text(yaml.safe_dump(damaged))
    scene = outcome("pose data", root / POSE_DATA, lambda: load_scene(root))
    if scene is not None:
        for frame in scene.frames:
            pose = frame.camera_to_world
            assert np.isfinite(pose).all()
            rotation = pose[:3, :3]
            np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-6)
            assert np.linalg.det(rotation) == pytest.approx(1.0, abs=1e-6)
            np.testing.assert_array_equal(pose[3], [0, 0, 0, 1])


@QUICK
@given(data=st.data())
def test_damaged_camera_info_file_is_refused(scene_files, data):
    root, pose_data, camera_info = scene_files
    (root / POSE_DATA).write_text(yaml.safe_dump(pose_data))
    valid = yaml.safe_dump(camera_info).encode()
    text = data.draw(st.one_of(damaged_bytes(valid), st.just(valid)))
    (root / CAMERA_INFO).write_bytes(text)
    scene = outcome("camera info", root / CAMERA_INFO, lambda: load_scene(root))
    if scene is not None:
        camera = scene.camera
        assert camera.width > 0 and camera.height > 0 and camera.fx > 0 and camera.fy > 0
        assert all(math.isfinite(v) for v in (camera.fx, camera.fy, camera.cx, camera.cy))


# --- TAP-Vid files and videos ------------------------------------------------------------------


def valid_tapvid_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    frames, points = 3, 4
    occluded = rng.random((points, frames)) < 0.3
    target = rng.uniform(0, 16, (points, frames, 2)).astype(np.float32)
    query = np.column_stack([np.zeros(points), target[:, 0, 1], target[:, 0, 0]])
    return {
        "video": rng.integers(0, 256, (frames, 12, 16, 3), dtype=np.uint8),
        "target_points": target,
        "occluded": occluded,
        "query_points": query.astype(np.float32),
    }


@st.composite
def damaged_tapvid(draw) -> bytes:
    """A TAP-Vid .npz with an array missing, of another dtype or shape, holding NaN, or with a
    query frame out of range; or its bytes damaged."""
    arrays = valid_tapvid_arrays()
    how = draw(st.sampled_from(["missing", "dtype", "shape", "not finite", "frame", "bytes"]))
    name = draw(st.sampled_from(sorted(arrays)))
    if how == "missing":
        del arrays[name]
    elif how == "dtype":
        dtype = draw(st.sampled_from([np.float64, np.int16, np.bool_, np.complex64, np.uint8]))
        arrays[name] = arrays[name].astype(dtype)
    elif how == "shape":
        change = draw(st.sampled_from(["drop", "add", "cut"]))
        array = arrays[name]
        arrays[name] = (
            array[0] if change == "drop" else array[None] if change == "add" else array[:-1]
        )
    elif how == "not finite":
        name = draw(st.sampled_from(["target_points", "query_points"]))
        arrays[name].flat[draw(st.integers(0, arrays[name].size - 1))] = draw(NOT_FINITE)
    elif how == "frame":
        arrays["query_points"][0, 0] = draw(st.sampled_from([-1.0, 0.5, 3.0, 1e9]))
    valid = npz_bytes(arrays)
    return draw(damaged_bytes(valid)) if how == "bytes" else valid


def assert_valid_tapvid(video: TapVidVideo) -> None:
    TapVidVideo(**video._arrays())  # its own checks, which raise ValueError when violated
    visible = ~video.occluded
    assert np.isfinite(video.target_points[visible]).all()


@QUICK
@given(data=damaged_tapvid())
def test_damaged_tapvid_file_is_refused(scratch, data):
    path = scratch / "video.npz"
    path.write_bytes(data)
    video = outcome("tapvid", path, lambda: read_tapvid(path))
    if video is not None:
        assert_valid_tapvid(video)
    frames = outcome("video (.npz)", path, lambda: read_video(path))
    if frames is not None:
        video, fps = frames
        assert video.dtype == np.uint8 and video.ndim == 4 and video.shape[3] == 3
        assert fps > 0


@pytest.fixture(scope="module")
def valid_mp4(scratch) -> bytes:
    frames = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    write_video(scratch / "valid.mp4", frames, 6.0)
    return (scratch / "valid.mp4").read_bytes()


@SLOWER
@given(data=st.data())
def test_damaged_video_file_is_refused(scratch, valid_mp4, data):
    path = scratch / "video.mp4"
    path.write_bytes(damage(valid_mp4, data.draw(DAMAGES)))
    frames = outcome("video (.mp4)", path, lambda: read_video(path))
    if frames is not None:
        video, fps = frames
        assert video.dtype == np.uint8 and video.ndim == 4 and len(video) >= 1 and fps > 0


# --- tracks.csv --------------------------------------------------------------------------------

VALID_TRACKS = tracks_csv(
    Tracks(
        np.arange(12, dtype=np.float32).reshape(2, 3, 2),
        np.array([[True, False, True], [True, True, False]]),
        np.array([[0.9, 0.1, 0.7], [1.0, 0.5, 0.2]], np.float32),
    )
)
ODD_CELLS = st.one_of(
    st.sampled_from(["", "nan", "inf", "-1", "1.5", "1e400", "0x10", " ", "true", "2"]),
    st.text(max_size=6),
)


@st.composite
def damaged_tracks(draw) -> bytes:
    rows = [line.split(",") for line in VALID_TRACKS.splitlines()]
    how = draw(st.sampled_from(["cell", "drop row", "repeat row", "columns", "bytes"]))
    if how == "bytes":
        return draw(damaged_bytes(VALID_TRACKS.encode()))
    row = draw(st.integers(0 if how == "cell" else 1, len(rows) - 1))
    if how == "cell":
        rows[row][draw(st.integers(0, len(CSV_COLUMNS) - 1))] = draw(ODD_CELLS)
    elif how == "drop row":
        del rows[row]
    elif how == "repeat row":
        rows.insert(row, list(rows[row]))
    else:
        rows[row] = rows[row][: draw(st.integers(0, len(CSV_COLUMNS) - 1))]
    return "\n".join(",".join(row) for row in rows).encode(errors="surrogatepass")


@QUICK
@given(data=damaged_tracks())
def test_damaged_tracks_csv_is_refused(scratch, data):
    path = scratch / "tracks.csv"
    path.write_bytes(data)
    tracks = outcome("tracks.csv", path, lambda: read_tracks_csv(path))
    if tracks is not None:
        assert np.isfinite(tracks.xy).all()
        assert ((tracks.score >= 0) & (tracks.score <= 1)).all()


# --- correspondence pairs ----------------------------------------------------------------------


def valid_pair_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n, m = 5, 10
    return {
        "uv_a": rng.integers(0, 64, (n, 2)).astype(np.int32),
        "uv_b": rng.integers(0, 64, (n, 2)).astype(np.int32),
        "xyz": rng.normal(size=(n, 3)).astype(np.float32),
        "nonmatch_uv_a": rng.integers(0, 64, (m, 2)).astype(np.int32),
        "nonmatch_uv_b": rng.integers(0, 64, (m, 2)).astype(np.int32),
        "nonmatch_kind": rng.integers(0, 4, m).astype(np.uint8),
        "frame_b": np.array(3, np.int64),
        "rejected": np.zeros(4, np.int64),
    }


@st.composite
def damaged_pairs(draw) -> bytes:
    arrays = valid_pair_arrays()
    how = draw(st.sampled_from(["missing", "dtype", "shape", "npy", "bytes"]))
    name = draw(st.sampled_from(list(arrays)[:6] if how != "missing" else list(arrays)))
    if how == "npy":
        buffer = io.BytesIO()
        np.save(buffer, arrays[name])
        return buffer.getvalue()
    if how == "missing":
        del arrays[name]
    elif how == "dtype":
        arrays[name] = arrays[name].astype(draw(st.sampled_from([np.float64, np.int8, bool])))
    elif how == "shape":
        arrays[name] = arrays[name][:-1] if draw(st.booleans()) else arrays[name].T
    valid = npz_bytes(arrays)
    return draw(damaged_bytes(valid)) if how == "bytes" else valid


@QUICK
@given(data=damaged_pairs())
def test_damaged_pair_file_is_refused(scratch, data):
    path = scratch / "000000.npz"
    path.write_bytes(data)
    pair = outcome("pair file", path, lambda: read_pair(path))
    if pair is not None:
        n, m = len(pair["uv_a"]), len(pair["nonmatch_kind"])
        assert pair["uv_b"].shape == (n, 2) and pair["xyz"].shape == (n, 3)
        assert pair["nonmatch_uv_a"].shape == pair["nonmatch_uv_b"].shape == (m, 2)


# --- meshes ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_ply() -> bytes:
    box = trimesh.creation.box((0.1, 0.2, 0.3))
    colours = np.full((len(box.vertices), 3), 200, np.uint8)
    return ply_bytes(TriangleMesh(box.vertices, box.faces, colours))


@QUICK
@given(data=st.data())
def test_damaged_mesh_is_refused(scratch, valid_ply, data):
    path = scratch / "fusion_mesh.ply"
    path.write_bytes(damage(valid_ply, data.draw(DAMAGES)))
    mesh = outcome("mesh", path, lambda: read_mesh(path))
    if mesh is not None:
        assert np.isfinite(mesh.vertices).all()
        assert mesh.faces.size == 0 or 0 <= mesh.faces.min() <= mesh.faces.max() < len(
            mesh.vertices
        )


# --- checkpoints and backbone weights ----------------------------------------------------------


@pytest.fixture(scope="module")
def valid_checkpoint() -> bytes:
    network = DescriptorNet(18, 3, 8, False, 8)
    buffer = io.BytesIO()
    state = {"format": FORMAT, "step": 1, "model": network.state_dict()}
    torch.save({**state, "network": network_spec(network)}, buffer)
    return buffer.getvalue()


WRONG_STATES = st.sampled_from(
    [
        [1, 2, 3],
        torch.zeros(3),
        {"format": FORMAT},
        {"format": 99, "model": {}},
        {"format": FORMAT, "model": {}},
        {"format": FORMAT, "model": {}, "network": None},
        {"format": FORMAT, "model": {"w": torch.zeros(1)}, "network": {"backbone": 18}},
        {"format": FORMAT, "model": {}, "network": {"backbone": 7, "descriptor_dim": 3,
                                                   "width": 8, "normalize": False}},
    ]
)  # fmt: skip


@SLOWER
@given(data=st.data())
def test_damaged_checkpoint_is_refused(scratch, valid_checkpoint, data):
    path = scratch / "last.pt"
    if data.draw(st.booleans()):
        path.write_bytes(damage(valid_checkpoint, data.draw(DAMAGES)))
    else:
        torch.save(data.draw(WRONG_STATES), path)
    state = outcome("checkpoint", path, lambda: load_checkpoint(path))
    if state is not None:
        assert state["format"] == FORMAT and "model" in state
        loaded = outcome("checkpoint", path, lambda: load_network(path))
        if loaded is not None:
            assert loaded[0].descriptor_dim == 3


@SLOWER
@given(data=st.data())
def test_unusable_backbone_weights_are_refused(scratch, data):
    network = DescriptorNet(18, 3, 8, False, 8)
    backbone = network.backbone.state_dict()
    path = scratch / "resnet18.pth"
    wrong = data.draw(
        st.sampled_from(
            [
                [1, 2],
                {1: torch.zeros(1)},
                {"conv1.weight": 3},
                {"conv1.weight": torch.zeros(2, 2)},
                {"state_dict": "weights"},
                {**backbone, "layer9.weight": torch.zeros(1)},
                {k: v for k, v in list(backbone.items())[1:]},
            ]
        )
    )
    if data.draw(st.booleans()):
        buffer = io.BytesIO()
        torch.save(backbone, buffer)
        path.write_bytes(damage(buffer.getvalue(), data.draw(DAMAGES)))
    else:
        torch.save(wrong, path)
    outcome("backbone weights", path, lambda: load_backbone_weights(network.backbone, path))


# --- through the command line ------------------------------------------------------------------


def assert_one_clear_line(code: int, stderr: str, command: str, path: Path) -> None:
    assert "Traceback" not in stderr, stderr
    assert code == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"donkit {command}: error: "), lines[0]
    assert path.name in lines[0], lines[0]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=config_texts())
def test_donkit_config_with_a_damaged_file_says_so_in_one_line(scratch, capsys, text):
    path = scratch / "user_config.yaml"
    path.write_bytes(text)
    tally.malformed["cli config"] += 1
    code = main(["config", "--config", str(path)])
    captured = capsys.readouterr()
    if code != 0:
        assert_one_clear_line(code, captured.err, "config", path)


def damage_scene(root: Path, how: str) -> Path:
    """Damage the scene at `root` one way; the damaged file."""
    images = root / "processed" / "images"
    if how == "truncated depth":
        path = images / "000001_depth.png"
        path.write_bytes(path.read_bytes()[:100])
    elif how == "rgb of the wrong dtype":
        path = images / "000000_rgb.png"
        path.write_bytes(cv2.imencode(".png", np.zeros((48, 64), np.uint16))[1].tobytes())
    elif how == "NaN pose":
        path = root / POSE_DATA
        data = yaml.safe_load(path.read_text())
        data[1]["camera_to_world"]["translation"]["x"] = math.nan
        path.write_text(yaml.safe_dump(data))
    elif how == "missing intrinsics":
        path = root / CAMERA_INFO
        data = yaml.safe_load(path.read_text())
        del data["camera_matrix"]
        path.write_text(yaml.safe_dump(data))
    else:
        raise ValueError(how)
    return path


CLI_CASES = {
    # name: (command line with {path} for the damaged input, how the input is damaged)
    "fuse, truncated depth": (["fuse", "{scene}"], "truncated depth"),
    "fuse, rgb of the wrong dtype": (["fuse", "{scene}"], "rgb of the wrong dtype"),
    "fuse, NaN pose": (["fuse", "{scene}"], "NaN pose"),
    "correspond, missing intrinsics": (
        ["correspond", "{scene}", "--out", "{folder}/corr"],
        "missing intrinsics",
    ),
    "track, damaged checkpoint": (
        [
            "track",
            "{folder}/run",
            "--video",
            "{folder}/v.npz",
            "--points",
            "1,1",
            "--out",
            "{folder}/t",
        ],
        "damaged checkpoint",
    ),
    "track, damaged video": (
        [
            "track",
            "--method",
            "lk",
            "--video",
            "{folder}/v.mp4",
            "--points",
            "1,1",
            "--out",
            "{folder}/t",
        ],
        "damaged video",
    ),
}


def prepare_cli_case(folder: Path, how: str, valid_checkpoint: bytes, valid_mp4: bytes) -> Path:
    folder.mkdir()
    write_scene(folder / "scene", example_poses())
    (folder / "run" / "checkpoints").mkdir(parents=True)
    write_yaml(folder / "run" / "config.yaml", DonkitConfig())
    if how == "damaged checkpoint":
        path = folder / "run" / "checkpoints" / "last.pt"
        path.write_bytes(valid_checkpoint[: len(valid_checkpoint) // 2])
        return path
    write_bytes_atomic(folder / "run" / "checkpoints" / "last.pt", valid_checkpoint)
    if how == "damaged video":
        path = folder / "v.mp4"
        path.write_bytes(valid_mp4[: len(valid_mp4) // 3])
        return path
    return damage_scene(folder / "scene", how)


def test_damaged_inputs_through_the_installed_command(tmp_path, valid_checkpoint, valid_mp4):
    """The real console script, as a user runs it: exit code 1, one line, no traceback."""
    cases = []
    for number, (name, (arguments, how)) in enumerate(CLI_CASES.items()):
        folder = tmp_path / f"case_{number}"
        path = prepare_cli_case(folder, how, valid_checkpoint, valid_mp4)
        line = [a.format(scene=folder / "scene", folder=folder) for a in arguments]
        cases.append((name, line, path))
        tally.malformed["cli commands"] += 1

    def run(case):
        _, line, _ = case
        return subprocess.run(
            [str(DONKIT), *line], capture_output=True, text=True, timeout=300, cwd=tmp_path
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    for (name, line, path), done in zip(cases, results, strict=True):
        try:
            assert_one_clear_line(done.returncode, done.stderr, line[0], path)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
