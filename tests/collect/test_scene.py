"""Collected scenes, checked from the files on disk against geometry and simulator truth."""

import itertools
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

from collect import collect
from collect.arm import ARMS, Arm
from collect.world import SimWorld
from geometry import (
    backproject_depth,
    inside_image,
    invert_pose,
    pose_from_quaternion,
    project,
    transform,
)
from geometry.image_io import read_labels, read_yaml
from geometry.scene_io import find_scenes, load_scene
from tests.collect.conftest import SMALL_OVERRIDES, small_config

SCENES = ("scene_0000", "scene_0001")


def pose_of(entry: dict) -> np.ndarray:
    quaternion = np.array([entry["quaternion"][k] for k in "wxyz"])
    return pose_from_quaternion(quaternion, np.array([entry["translation"][k] for k in "xyz"]))


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


def bilinear(image: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear samples of `image` at `uv` (N, 2), and whether the four neighbours are all
    readings on one surface (within 1 cm), i.e. not across a depth discontinuity."""
    height, width = image.shape
    u0 = np.clip(np.floor(uv[:, 0]).astype(int), 0, width - 2)
    v0 = np.clip(np.floor(uv[:, 1]).astype(int), 0, height - 2)
    fu, fv = uv[:, 0] - u0, uv[:, 1] - v0
    corners = np.stack(
        [image[v0, u0], image[v0, u0 + 1], image[v0 + 1, u0], image[v0 + 1, u0 + 1]], axis=-1
    )
    weights = np.stack([(1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv], axis=-1)
    smooth = (corners > 0).all(axis=-1) & (np.ptp(corners, axis=-1) < 0.01)
    return (corners * weights).sum(axis=-1), smooth


def surface_normals(points: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit normals of a backprojected depth image, turned towards the camera."""
    along_u = np.zeros_like(points)
    along_v = np.zeros_like(points)
    along_u[:, 1:-1] = points[:, 2:] - points[:, :-2]
    along_v[1:-1] = points[2:] - points[:-2]
    normals = np.cross(along_u, along_v)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True) + 1e-12
    facing_away = (normals * points).sum(axis=-1) > 0
    normals[facing_away] *= -1
    return normals


def reprojection_errors(scene, a: int, b: int) -> np.ndarray:
    """|dz| in metres between A's depth moved into B and B's depth, at the pixels of A that B
    sees: inside B, not occluded (at most 1 cm behind B's surface), on a surface facing B (within
    75 degrees) and away from B's depth discontinuities."""
    k = scene.camera.matrix
    depth_a, depth_b = scene.depth(a).astype(np.float64), scene.depth(b).astype(np.float64)
    points_a = backproject_depth(depth_a, k)
    normals_a = surface_normals(points_a)
    rows, columns = np.nonzero(depth_a > 0)
    a_to_b = invert_pose(scene.frames[b].camera_to_world) @ scene.frames[a].camera_to_world
    points_b = transform(points_a[rows, columns], a_to_b)
    normals_b = normals_a[rows, columns] @ a_to_b[:3, :3].T
    uv_b, z_b = project(points_b, k)
    width, height = scene.camera.width, scene.camera.height
    inside = (uv_b[:, 0] >= 0) & (uv_b[:, 0] <= width - 1) & (uv_b[:, 1] >= 0)
    inside &= (uv_b[:, 1] <= height - 1) & (z_b > 0)
    sampled, smooth = bilinear(depth_b, uv_b)
    facing = -(normals_b * points_b).sum(axis=-1) / np.linalg.norm(points_b, axis=-1)
    dz = z_b - sampled
    seen = inside & smooth & (dz < 0.01) & (facing > math.cos(math.radians(75)))
    return np.abs(dz[seen])


@pytest.mark.parametrize("name", SCENES)
def test_depth_agrees_across_views_from_the_files_alone(small_dataset, name):
    scene = load_scene(small_dataset / name)
    pooled = []
    for a, b in itertools.combinations(range(len(scene.frames)), 2):
        errors = reprojection_errors(scene, a, b)
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
    """Points sampled on each ground-truth mesh, where a frame sees them (depth test), fall on
    a pixel of their object's segmentation. Returns how many were seen, by object."""
    scene = load_scene(root)
    description = read_yaml(root / "ground_truth/scene.yaml")
    table_height = description["table"]["height_m"]
    k = scene.camera.matrix
    counts = {}
    for obj in description["objects"]:
        mesh = trimesh.load(root / "ground_truth" / obj["mesh"], process=False)
        points, _ = trimesh.sample.sample_surface(mesh, 3000, seed=0)
        points_world = transform(points, pose_of(obj["object_to_world"]))
        # A depth test cannot tell a point within 3 mm of the table from the table itself.
        points_world = points_world[points_world[:, 2] > table_height + 0.003]
        seen = on_segment = 0
        for position, frame in enumerate(scene.frames):
            segmentation = read_labels(
                root / f"ground_truth/segmentation/{frame.index:06d}_seg.png"
            )
            depth = scene.depth(position)
            uv, z = project(transform(points_world, invert_pose(frame.camera_to_world)), k)
            inside = inside_image(uv, scene.camera.width, scene.camera.height) & (z > 0)
            u, v = np.rint(uv[inside]).astype(int).T
            visible = np.abs(depth[v, u] - z[inside]) < 0.003  # the surface there is this point
            u, v = u[visible], v[visible]
            mine = segmentation == obj["segmentation_id"]
            exact = mine[v, u]
            # A point whose pixel centre falls just outside the silhouette still has its object
            # in the 3 x 3 neighbourhood: rounding to the nearest pixel moves it at most 0.71 px.
            padded = np.pad(mine, 1)
            near = np.zeros_like(exact)
            for du, dv in itertools.product((-1, 0, 1), repeat=2):
                near |= padded[v + 1 + dv, u + 1 + du]
            assert near.all(), (obj["name"], frame.index)
            seen += len(exact)
            on_segment += exact.sum()
        counts[obj["name"]] = seen
        if obj["distractor"] and seen == 0:  # a distractor may stand out of every view
            continue
        assert seen > 500, (obj["name"], seen)
        assert on_segment / seen >= 0.995, obj["name"]
    return counts


@pytest.mark.parametrize("name", SCENES)
def test_poses_are_forward_kinematics_of_the_recorded_joints(small_dataset, name):
    # Rebuild the arm in a fresh simulator and put it in each recorded joint state: the camera
    # pose there must be the one in pose_data.yaml.
    root = small_dataset / name
    scene = load_scene(root)
    robot = read_yaml(root / "ground_truth/scene.yaml")["robot"]
    camera_to_tool = pose_of(robot["camera_to_tool"])
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
        errors = reprojection_errors(scene, a, b)
        assert np.median(errors) <= 0.001 and np.mean(errors <= 0.005) >= 0.95
    seen = assert_points_land_on_their_segmentation(root)
    assert seen["distractor_1"] + seen["distractor_2"] > 0
