"""`donkit check`: depth, intrinsics and poses checked against each other from the files alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from donkit.cli import main
from formats.scenes import load_scene
from geometry import PinholeCamera, make_pose
from geometry.agreement import depth_agreement
from reconstruct.consistency import scene_agreement
from tests.foreign_scenes import write_foreign_scene

CAMERA = PinholeCamera(64, 48, 50.0, 50.0, 31.5, 23.5)


def wall(depth_m: float) -> np.ndarray:
    return np.full((CAMERA.height, CAMERA.width), depth_m, dtype=np.float32)


def test_a_wall_seen_twice_agrees_and_a_pose_error_along_the_axis_shows_in_full():
    # A and B both face a wall 0.5 m away; B stands 0.1 m to A's right, so A's points land in B
    # 0.1 * 50 / 0.5 = 10 px to the left, at the same depth.
    a_to_b = make_pose(np.eye(3), np.array([-0.1, 0.0, 0.0]))
    dz, depth = depth_agreement(wall(0.5), wall(0.5), CAMERA.matrix, a_to_b)
    # Seen by B: A's columns 10..63 less the border columns without normals (and B's edge).
    assert 1000 < len(dz) < CAMERA.width * CAMERA.height
    np.testing.assert_allclose(dz, 0.0, atol=1e-6)
    np.testing.assert_allclose(depth, 0.5, atol=1e-6)
    # B's pose 4 mm off along its axis: every point disagrees by exactly 4 mm.
    off = make_pose(np.eye(3), np.array([-0.1, 0.0, 0.004]))
    dz, _ = depth_agreement(wall(0.5), wall(0.5), CAMERA.matrix, off)
    np.testing.assert_allclose(dz, 0.004, atol=1e-6)


def test_hidden_points_and_the_far_side_of_a_thin_wall_are_not_compared():
    same_place = np.eye(4)
    # B sees an occluder 5 cm in front of the wall A sees: nothing of A is visible in B.
    dz, _ = depth_agreement(wall(0.5), wall(0.45), CAMERA.matrix, same_place)
    assert len(dz) == 0
    # B looks at the wall from behind (turned 180 degrees about y, 1 m away), where its other
    # face is 3 mm nearer to B: the two faces of a thin wall, not a disagreement of 3 mm.
    behind = make_pose(np.diag([-1.0, 1.0, -1.0]), np.array([0.0, 0.0, 1.0]))
    dz, _ = depth_agreement(wall(0.5), wall(0.497), CAMERA.matrix, behind)
    assert len(dz) == 0


def moved_copy(source: Path, target: Path, frames: tuple[int, ...], metres: float) -> Path:
    """A copy of the scene with the camera of each of `frames` moved by `metres` (each in its
    own direction)."""
    shutil.copytree(source, target)
    path = target / "processed/images/pose_data.yaml"
    poses = yaml.safe_load(path.read_text())
    rng = np.random.default_rng(0)
    for index in frames:
        direction = rng.normal(size=3)
        direction *= metres / np.linalg.norm(direction)
        translation = poses[index]["camera_to_world"]["translation"]
        for axis, step in zip("xyz", direction, strict=True):
            translation[axis] = float(translation[axis] + step)
    path.write_text(yaml.safe_dump(poses))
    return target


def test_donkit_and_foreign_scenes_pass_and_moved_frames_are_named(small_dataset, tmp_path):
    scene = small_dataset / "scene_0000"
    result = scene_agreement(load_scene(scene))
    # donkit's depth is exact to its millimetre rounding: about 0.1 % of 0.45 m.
    assert result.consistent and result.relative < 0.0015 and result.off_frames == []
    foreign = write_foreign_scene(tmp_path / "foreign", seed=3)
    result = scene_agreement(load_scene(foreign))
    assert result.consistent and result.relative < 0.0015
    # Three cameras moved by 1 cm: those three frames, and no other, are off.
    moved_copy(scene, tmp_path / "data" / "moved", (2, 5, 8), 0.01)
    shutil.copytree(scene, tmp_path / "data" / "intact")
    report = tmp_path / "check.json"
    assert main(["check", str(tmp_path / "data"), "--json", str(report), "--workers", "1"]) == 1
    figures = json.loads(report.read_text())
    verdicts = {Path(item["scene"]).name: item for item in figures["scenes"]}
    assert verdicts["moved"]["off_frames"] == [2, 5, 8] and not verdicts["moved"]["consistent"]
    assert verdicts["intact"]["off_frames"] == [] and verdicts["intact"]["consistent"]
    assert figures["consistent"] is False
    # The foreign scene alone passes, with the JSON beside it.
    assert main(["check", str(foreign), "--workers", "1"]) == 0
    assert json.loads((foreign / "check.json").read_text())["consistent"] is True


def test_a_frame_whose_depth_is_scaled_is_named(small_dataset, tmp_path, capsys):
    scene = tmp_path / "scaled"
    shutil.copytree(small_dataset / "scene_0001", scene)
    depth_path = scene / "processed/images/000004_depth.png"
    depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(depth_path), np.rint(depth * 1.02).astype(np.uint16))  # 2 %: 9 mm at 0.45 m
    assert main(["check", str(scene), "--workers", "1"]) == 1
    out = capsys.readouterr().out
    assert "frames 4 off" in out


def test_a_folder_without_scenes_is_a_clear_error(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 1
    assert "no complete scene" in capsys.readouterr().err


@pytest.mark.parametrize("stamp", [1_522_959_543_826_398_464, 1.5])
def test_integer_timestamps_are_nanoseconds(small_dataset, tmp_path, stamp):
    scene = tmp_path / "scene"
    shutil.copytree(small_dataset / "scene_0000", scene)
    path = scene / "processed/images/pose_data.yaml"
    poses = yaml.safe_load(path.read_text())
    poses[0]["timestamp"] = stamp
    path.write_text(yaml.safe_dump(poses))
    seconds = load_scene(scene).frames[0].timestamp_s
    expected = 1_522_959_543.826_398_464 if isinstance(stamp, int) else 1.5
    assert seconds == pytest.approx(expected, abs=1e-6)
