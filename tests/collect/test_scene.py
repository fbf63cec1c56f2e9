"""Collected scenes, checked from the files on disk against geometry and simulator truth."""

import dataclasses
import itertools
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from collect import collect
from collect.arm import ARMS, Arm
from collect.checks import segmentation_agreement
from collect.world import SimWorld
from formats.plain import read_yaml, write_yaml
from formats.scenes import find_scenes, load_scene, pose_from_dict
from reconstruct.consistency import frame_agreement
from tests.conftest import SMALL_OVERRIDES, small_config

SCENES = ("scene_0000", "scene_0001")


def depth_errors(scene, a: int, b: int) -> np.ndarray:
    """|dz| (N,) metres between frames a and b (reconstruct.consistency.frame_agreement)."""
    return np.abs(frame_agreement(scene, a, b)[0])


def test_scene_folders_follow_the_layout(small_dataset):
    scenes, partial = find_scenes(small_dataset)
    assert [s.name for s in scenes] == list(SCENES) and partial == []
    for name in SCENES:
        root = small_dataset / name
        scene = load_scene(root)
        assert len(scene.frames) == 10
        assert [f.index for f in scene.frames] == list(range(10))
        assert (scene.camera.width, scene.camera.height) == (320, 240)
        for position, frame in enumerate(scene.frames):
            assert scene.rgb(position).shape == (240, 320, 3)
            depth = scene.depth(position)
            assert depth.dtype == np.float32 and (depth > 0).mean() > 0.5
            assert (root / f"ground_truth/segmentation/{frame.index:06d}_seg.png").is_file()
        # Time runs forward along the orbit.
        assert all(a.timestamp_s < b.timestamp_s for a, b in itertools.pairwise(scene.frames))
        description = read_yaml(root / "ground_truth/scene.yaml")
        for obj in description["objects"]:
            assert (root / "ground_truth" / obj["mesh"]).is_file()
        metadata = read_yaml(root / "metadata.yaml")
        assert metadata["frames"]["kept"] == 10
        assert set(metadata) >= {"seed", "config", "software", "frames", "run"}
        # The scene's identity leaves out the scene count, so that adding scenes keeps these.
        assert "scenes" not in metadata["config"] and description["config"]["scenes"] == 2


@pytest.mark.parametrize("name", SCENES)
def test_depth_agrees_across_views_from_the_files_alone(small_dataset, name):
    scene = load_scene(small_dataset / name)
    pooled = []
    for a, b in itertools.combinations(range(len(scene.frames)), 2):
        errors = depth_errors(scene, a, b)
        assert len(errors) > 1000, (a, b)
        # Each pair: depth is stored to the millimetre, so 0.5 mm of rounding is expected.
        assert np.median(errors) <= 0.001, (a, b)
        assert np.mean(errors <= 0.005) >= 0.95, (a, b)
        pooled.append(errors)
    pooled = np.concatenate(pooled)
    assert np.median(pooled) <= 0.001 and np.mean(pooled <= 0.005) >= 0.95


@pytest.mark.parametrize("name", SCENES)
def test_points_on_objects_project_onto_their_segmentation(small_dataset, name):
    assert_points_land_on_their_segmentation(small_dataset / name)


def assert_points_land_on_their_segmentation(root: Path) -> dict[str, int]:
    """Every object point a frame sees is within a pixel of its object's segment, and 99.5 %
    exactly on it. Returns how many observations there were, by object."""
    counts = {}
    for result in segmentation_agreement(root):
        counts[result.name] = result.seen
        if result.is_distractor and result.seen == 0:  # a distractor may be out of every view
            continue
        assert result.seen > 500, result
        assert result.within_one_pixel == result.seen, result
        assert result.on_segment / result.seen >= 0.995, result
    return counts


@pytest.mark.parametrize("name", SCENES)
def test_poses_are_forward_kinematics_of_the_recorded_joints(small_dataset, name):
    # Rebuild the arm in a fresh simulator and put it in each recorded joint state: the camera
    # pose there must be the one in pose_data.yaml.
    root = small_dataset / name
    scene = load_scene(root)
    robot = read_yaml(root / "ground_truth/scene.yaml")["robot"]
    camera_to_tool = pose_from_dict(robot["camera_to_tool"], "camera_to_tool")
    with SimWorld() as world:
        arm = Arm(world.client, ARMS[robot["arm"]], tuple(robot["base_position"]))
        for frame in scene.frames:
            arm.set_configuration(np.array(robot["joint_positions"][frame.index]))
            np.testing.assert_allclose(
                arm.tool_pose() @ camera_to_tool, frame.camera_to_world, atol=1e-6
            )
    frames = read_yaml(root / "metadata.yaml")["frames"]
    assert frames["max_camera_error_mm"] <= 2.0 and frames["max_camera_error_deg"] <= 1.0


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path; metadata.yaml without its run-specific part."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = str(path.relative_to(root))
        if path.name == "metadata.yaml":
            metadata = read_yaml(path)
            metadata.pop("run")
            files[relative] = repr(metadata).encode()
        else:
            files[relative] = path.read_bytes()
    return files


def test_same_config_and_seed_give_identical_files(small_dataset, tmp_path):
    config = small_config()
    collect(config, tmp_path, workers=1, show_progress=False)
    assert files_of(tmp_path) == files_of(small_dataset)


@pytest.mark.slow
def test_kill_during_collection_then_resume_gives_the_same_scene(small_dataset, tmp_path):
    command = [str(Path(sys.executable).parent / "donkit"), "collect", "--out", str(tmp_path)]
    command += ["--workers", "1"] + [f"--set={o}" for o in SMALL_OVERRIDES]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    images = tmp_path / "scene_0000.partial" / "processed" / "images"
    deadline = time.monotonic() + 120
    while len(list(images.glob("*_rgb.png"))) < 4:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "scene_0000").exists()  # nothing looks complete
    written_before = len(list(images.glob("*_rgb.png")))
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    metadata = read_yaml(tmp_path / "scene_0000" / "metadata.yaml")
    # RGB is written last, so each RGB file on disk marks a complete frame, reused on resume.
    assert metadata["run"]["frames_reused"] == written_before
    assert files_of(tmp_path) == files_of(small_dataset)


def test_randomized_scene_keeps_its_geometry_true(tmp_path):
    # Every switch on: jittered intrinsics must be the ones written, distractors must be in the
    # ground truth, and the geometric checks above must still hold.
    config = small_config(
        "collect.scenes=1",
        "collect.orbit.views=4",
        "collect.randomization.object_textures=true",
        "collect.randomization.focal_jitter=0.05",
        "collect.randomization.principal_point_jitter_px=4.0",
        "collect.randomization.distractors=[2, 2]",
    )
    collect(config, tmp_path, workers=1, show_progress=False)
    root = tmp_path / "scene_0000"
    scene = load_scene(root)
    nominal = small_config().camera
    assert scene.camera.fx != pytest.approx(0.5 * nominal.height / math.tan(math.radians(25.0)))
    assert (scene.camera.cx, scene.camera.cy) != (159.5, 119.5)
    objects = read_yaml(root / "ground_truth/scene.yaml")["objects"]
    distractors = [o for o in objects if o["distractor"]]
    assert [o["name"] for o in distractors] == ["distractor_1", "distractor_2"]
    assert all(o["class"] == "distractor" for o in distractors)
    for a, b in itertools.combinations(range(4), 2):
        errors = depth_errors(scene, a, b)
        assert np.median(errors) <= 0.001 and np.mean(errors <= 0.005) >= 0.95
    seen = assert_points_land_on_their_segmentation(root)
    assert seen["distractor_1"] + seen["distractor_2"] > 0


def test_the_checks_notice_a_wrong_pose(small_dataset):
    # The agreement measures must be able to fail: a camera pose 3 mm off, or an object 3 mm off,
    # shows up at once.
    scene = load_scene(small_dataset / "scene_0000")
    frames = list(scene.frames)
    shifted = frames[1].camera_to_world.copy()
    shifted[:3, 3] += 0.003 * shifted[:3, 2]  # along the optical axis: depth error ~3 mm
    frames[1] = dataclasses.replace(frames[1], camera_to_world=shifted)
    wrong = dataclasses.replace(scene, frames=tuple(frames))
    assert np.median(depth_errors(scene, 0, 1)) < 0.001
    assert np.median(depth_errors(wrong, 0, 1)) > 0.002


def test_the_segmentation_check_notices_a_wrong_object_pose(small_dataset, tmp_path):
    root = tmp_path / "scene"
    shutil.copytree(small_dataset / "scene_0000", root)
    path = root / "ground_truth" / "scene.yaml"
    description = read_yaml(path)
    description["objects"][0]["object_to_world"]["translation"]["x"] += 0.01
    write_yaml(path, description)
    result = segmentation_agreement(root)[0]
    assert result.within_one_pixel < result.seen or result.on_segment / result.seen < 0.995
