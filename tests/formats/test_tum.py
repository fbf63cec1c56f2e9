"""`donkit import tum`: a TUM RGB-D sequence, written here from a donkit scene, comes back as the
same scene, and the pipeline runs on it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from donkit.cli import main
from formats.scenes import load_scene
from formats.tum import tum_frames

START_S = 1305031102.175304
VELOCITY = np.array([0.05, -0.02, 0.01])  # m/s of the camera between ground-truth samples
SPIN = np.array([0.1, 0.2, -0.1])  # rad/s


def write_tum_sequence(scene_path: Path, folder: Path) -> list[float]:
    """The scene's frames as a TUM sequence: images named by their time, depth in 1/5000 m
    4 ms after each colour image, and two ground-truth poses around each frame (20 ms before,
    30 ms after) on a motion at constant velocity and spin through the frame's true pose.
    Returns the colour images' times."""
    scene = load_scene(scene_path)
    (folder / "rgb").mkdir(parents=True)
    (folder / "depth").mkdir()
    colour = ["# color images", "# timestamp filename"]
    depth = ["# depth maps", "# timestamp filename"]
    truth = ["# ground truth trajectory", "# timestamp tx ty tz qx qy qz qw"]
    times = []
    for position, frame in enumerate(scene.frames):
        time_s = START_S + 0.5 * position
        times.append(time_s)
        cv2.imwrite(str(folder / f"rgb/{time_s:.6f}.png"), scene.rgb(position)[..., ::-1])
        depth_units = np.rint(scene.depth(position).astype(np.float64) * 5000).astype(np.uint16)
        cv2.imwrite(str(folder / f"depth/{time_s + 0.004:.6f}.png"), depth_units)
        colour.append(f"{time_s:.6f} rgb/{time_s:.6f}.png")
        depth.append(f"{time_s + 0.004:.6f} depth/{time_s + 0.004:.6f}.png")
        rotation = Rotation.from_matrix(frame.camera_to_world[:3, :3])
        for offset in (-0.02, 0.03):
            position_m = frame.camera_to_world[:3, 3] + VELOCITY * offset
            turned = Rotation.from_rotvec(SPIN * offset) * rotation
            values = [*position_m, *turned.as_quat()]
            truth.append(f"{time_s + offset:.6f} " + " ".join(f"{v:.9f}" for v in values))
    for name, lines in (("rgb.txt", colour), ("depth.txt", depth), ("groundtruth.txt", truth)):
        (folder / name).write_text("\n".join(lines) + "\n")
    return times


def test_a_tum_sequence_imports_as_the_scene_it_was_made_from(small_dataset, tmp_path):
    original = load_scene(small_dataset / "scene_0000")
    times = write_tum_sequence(original.path, tmp_path / "tum")
    camera = original.camera
    intrinsics = f"{camera.fx},{camera.fy},{camera.cx},{camera.cy}"
    out = tmp_path / "imported"
    assert main(["import", "tum", str(tmp_path / "tum"), "--out", str(out),
                 "--intrinsics", intrinsics]) == 0  # fmt: skip
    scene = load_scene(out)
    assert len(scene.frames) == len(original.frames)
    np.testing.assert_allclose(scene.camera.matrix, camera.matrix)
    for position, (mine, theirs) in enumerate(zip(scene.frames, original.frames, strict=True)):
        # The pose interpolated at the colour image's time is the frame's true pose (constant
        # velocity and spin: linear and slerp interpolation are exact there).
        np.testing.assert_allclose(mine.camera_to_world, theirs.camera_to_world, atol=1e-6)
        assert mine.timestamp_s == pytest.approx(times[position], abs=1e-6)
        np.testing.assert_array_equal(scene.rgb(position), original.rgb(position))
        np.testing.assert_array_equal(scene.depth(position), original.depth(position))
    assert not (tmp_path / "imported.partial").exists()
    # Importing onto an existing scene is refused, not merged.
    assert main(["import", "tum", str(tmp_path / "tum"), "--out", str(out)]) == 1


def test_frames_without_depth_or_ground_truth_nearby_are_left_out(small_dataset, tmp_path):
    write_tum_sequence(small_dataset / "scene_0000", tmp_path / "tum")
    assert len(tum_frames(tmp_path / "tum")) == 10
    # 4 ms between colour and depth: a 3 ms limit leaves no pair.
    assert tum_frames(tmp_path / "tum", max_difference_s=0.003) == []
    # Ground truth 20 ms before and 30 ms after: a 25 ms gap limit leaves none either.
    assert tum_frames(tmp_path / "tum", max_gap_s=0.025) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--intrinsics", "525,525,319.5"], "--intrinsics needs four numbers"),
        (["--every", "0"], "--every must be at least 1"),
        (["--max-difference", "0.001"], "a scene needs at least 2"),
    ],
)
def test_bad_input_is_a_clear_error(small_dataset, tmp_path, capsys, arguments, message):
    write_tum_sequence(small_dataset / "scene_0000", tmp_path / "tum")
    out = tmp_path / "scene"
    assert main(["import", "tum", str(tmp_path / "tum"), "--out", str(out), *arguments]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_list_file_is_named(tmp_path, capsys):
    (tmp_path / "tum").mkdir()
    assert main(["import", "tum", str(tmp_path / "tum"), "--out", str(tmp_path / "s")]) == 1
    assert "rgb.txt is missing" in capsys.readouterr().err


@pytest.mark.slow
def test_an_imported_sequence_checks_fuses_and_makes_correspondences(small_dataset, tmp_path):
    original = load_scene(small_dataset / "scene_0001")
    write_tum_sequence(original.path, tmp_path / "tum")
    camera = original.camera
    scene = tmp_path / "data" / "from_tum"
    intrinsics = f"{camera.fx},{camera.fy},{camera.cx},{camera.cy}"
    assert main(["import", "tum", str(tmp_path / "tum"), "--out", str(scene),
                 "--intrinsics", intrinsics]) == 0  # fmt: skip
    assert main(["check", str(scene), "--workers", "1"]) == 0
    assert main(["fuse", str(scene), "--workers", "1"]) == 0
    assert (scene / "processed/fusion_mesh.ply").is_file()
    corr = tmp_path / "corr"
    assert main(["correspond", str(tmp_path / "data"), "--out", str(corr), "--pairs", "6",
                 "--workers", "1"]) == 0  # fmt: skip
    index = yaml.safe_load((corr / "index.yaml").read_text())
    matches = [np.load(corr / entry["file"])["uv_a"] for entry in index["pairs"]]
    assert len(matches) == 6 and sum(len(uv) for uv in matches) > 1000
