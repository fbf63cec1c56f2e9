"""Simulated tracking videos: trajectories, the visibility test, and a small video checked
against an independent ray cast of the true meshes."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import open3d as o3d
import open3d.core as o3c
import pytest

from collect.video import make_video
from collect.video.motion import camera_trajectory, slide_and_turn, smoothstep, viewpoint_change_deg
from collect.video.visibility import BY_OBJECT, SELF_OCCLUDED, VISIBLE, point_visibility
from donkit.config import load_config
from formats import DonkitError
from formats.plain import read_yaml
from formats.scenes import pose_from_dict
from formats.tapvid import read_tapvid
from formats.video import read_video
from geometry import (
    PinholeCamera,
    backproject,
    invert_pose,
    look_at,
    make_pose,
    project,
    rotation_about_axis,
    rotation_angle,
    transform,
)
from sim_assets import build_object
from tests.conftest import SMALL_VIDEO


def test_smoothstep_starts_and_ends_at_rest():
    s = smoothstep(5)
    np.testing.assert_allclose(s, [0.0, 0.15625, 0.5, 0.84375, 1.0])  # 3 s^2 - 2 s^3


def test_slide_and_turn_ends_where_asked():
    start = make_pose(rotation_about_axis((0, 0, 1), 0.3), np.array([0.5, 0.1, 0.75]))
    poses = slide_and_turn(start, np.array([0.06, -0.08]), math.radians(90), 7)
    np.testing.assert_allclose(poses[0], start, atol=1e-12)
    np.testing.assert_allclose(poses[-1, :3, 3], [0.56, 0.02, 0.75], atol=1e-12)
    assert rotation_angle(start[:3, :3], poses[-1, :3, :3]) == pytest.approx(math.pi / 2)
    np.testing.assert_allclose(poses[:, 2, 3], 0.75)  # it slides on the table
    # Arriving half-way: there at frame 3 of 0-6, and at rest after, while it goes on turning.
    early = slide_and_turn(start, np.array([0.06, -0.08]), math.radians(90), 7, arrive_at=0.5)
    np.testing.assert_allclose(early[3:, :2, 3], np.tile([0.56, 0.02], (4, 1)), atol=1e-12)
    assert rotation_angle(early[3, :3, :3], early[-1, :3, :3]) == pytest.approx(math.pi / 4)


def test_viewpoint_change_counts_camera_motion_and_object_turns():
    still = np.repeat(np.eye(4)[None], 3, axis=0)
    # A camera going a quarter round a still object at its height: 90 degrees.
    cameras = np.stack([look_at([1, 0, 0], [0, 0, 0]), look_at([0.7, 0.7, 0], [0, 0, 0]),
                        look_at([0, 1, 0], [0, 0, 0])])  # fmt: skip
    assert viewpoint_change_deg(cameras, still) == pytest.approx(90.0)
    # A still camera and an object turning 30 degrees: 30 degrees.
    fixed = np.repeat(look_at([1, 0, 0], [0, 0, 0])[None], 2, axis=0)
    turned = np.stack([np.eye(4), make_pose(rotation_about_axis((0, 0, 1), 0.5236), np.zeros(3))])
    assert viewpoint_change_deg(fixed, turned) == pytest.approx(30.0, abs=0.01)
    # Both at once, the same way round: they cancel.
    together = np.stack([np.eye(4), make_pose(rotation_about_axis((0, 0, 1), math.pi / 2),
                                              np.zeros(3))])  # fmt: skip
    assert viewpoint_change_deg(cameras[[0, 2]], together) == pytest.approx(0.0, abs=1e-6)


def test_camera_trajectory_sweeps_around_the_centre_looking_at_it():
    video = load_config(None, []).video
    centre = np.array([0.55, 0.0, 0.82])
    poses, sense = camera_trajectory(video, centre, math.pi, np.random.default_rng(3))
    assert poses.shape == (video.frames, 4, 4) and sense in (-1, 1)
    towards = centre - poses[:, :3, 3]
    # The optical axis (camera z) points at the centre in every frame.
    axes = poses[:, :3, 2]
    np.testing.assert_allclose(np.einsum("ti,ti->t", axes, towards / np.linalg.norm(
        towards, axis=1, keepdims=True)), 1.0, atol=1e-9)  # fmt: skip
    azimuth = np.unwrap(np.arctan2(-towards[:, 1], -towards[:, 0]))
    swept = math.degrees(abs(azimuth[-1] - azimuth[0]))
    assert video.sweep_deg[0] - 1e-6 <= swept <= video.sweep_deg[1] + 1e-6
    distance = np.linalg.norm(towards, axis=1)
    assert video.radius_m[0] - 1e-9 <= distance.min() <= distance.max() <= video.radius_m[1] + 1e-9


def test_point_visibility_on_a_hand_made_frame():
    camera = PinholeCamera(8, 6, 10.0, 10.0, 3.5, 2.5)
    depth = np.full((6, 8), 1.0, np.float32)
    body = np.full((6, 8), 7, np.int64)
    depth[2, 5], body[2, 5] = 0.5, 9  # body 9 stands in front of body 7 at pixel (5, 2)
    camera_to_world = np.eye(4)
    points = backproject(
        np.array([[1.0, 1.0], [5.0, 2.0], [5.0, 2.0], [1.0, 1.0], [20.0, 2.0], [2.0, 3.0]]),
        np.array([1.0, 1.0, 0.5, 1.01, 1.0, -1.0]),
        camera.matrix,
    )
    bodies = np.array([7, 7, 9, 7, 7, 7])
    xy, visible, seen = point_visibility(points, bodies, camera, camera_to_world, depth, body,
                                         0.004)  # fmt: skip
    # Seen; hidden by body 9; body 9 itself; 1 cm behind its own surface; outside; behind.
    np.testing.assert_array_equal(visible, [True, False, True, False, False, False])
    np.testing.assert_array_equal(seen, [7, 9, 9, 7, -2, -2])
    np.testing.assert_allclose(xy[:4], [[1, 1], [5, 2], [5, 2], [1, 1]], atol=1e-9)


def test_small_video_matches_an_independent_ray_cast(small_video: Path):
    metadata = read_yaml(small_video / "video_0000.yaml")
    tapvid = read_tapvid(small_video / "video_0000.npz")
    frames, points = tapvid.frames, tapvid.points
    assert (frames, tapvid.height, tapvid.width) == (12, 120, 160)
    assert 1 <= points <= 16
    camera = PinholeCamera.from_matrix(
        np.array(metadata["camera"]["camera_matrix"]["data"]).reshape(3, 3), 160, 120
    )
    cameras = np.stack([pose_from_dict(p, "camera") for p in metadata["camera_to_world"]])
    names = [obj["name"] for obj in metadata["objects"]]
    meshes = {name: build_object(name).mesh for name in names}
    poses = {}
    for obj in metadata["objects"]:
        entries = obj["object_to_world"]
        entries = entries if isinstance(entries, list) else [entries] * frames
        poses[obj["name"]] = np.stack([pose_from_dict(e, obj["name"]) for e in entries])
    owners = [p["object"] for p in metadata["points"]]
    local = np.array([p["xyz_object"] for p in metadata["points"]])
    checked = 0
    for t in range(frames):
        scene = o3d.t.geometry.RaycastingScene()
        for name in names:
            vertices = transform(np.asarray(meshes[name].vertices), poses[name][t])
            scene.add_triangles(o3c.Tensor(vertices.astype(np.float32)),
                                o3c.Tensor(np.asarray(meshes[name].faces, np.uint32)))  # fmt: skip
        world = np.concatenate(
            [transform(local[i : i + 1], poses[owners[i]][t]) for i in range(points)]
        )
        # The stored track is the exact projection of the point with the stored poses.
        uv, _ = project(transform(world, invert_pose(cameras[t])), camera.matrix)
        np.testing.assert_allclose(tapvid.target_points[:, t], uv, atol=1e-3)
        # Independently of pybullet's renderer: the ray from the camera towards a point the
        # video calls visible meets no other surface first (within the tolerance, 4 mm, and
        # 2 mm of mesh and rounding slack); arms are not in this scene, so only "visible" is
        # checked one way, and "behind another object" the other way.
        origin = cameras[t][:3, 3]
        towards = world - origin
        distance = np.linalg.norm(towards, axis=1)
        rays = np.concatenate(
            [np.broadcast_to(origin, towards.shape), towards / distance[:, None]], 1
        )
        first = scene.cast_rays(o3c.Tensor(rays.astype(np.float32)))["t_hit"].numpy()
        visible = ~tapvid.occluded[:, t]
        assert (first[visible] > distance[visible] - 0.006).all()
        checked += int(visible.sum())
    assert checked >= frames * points * 0.2
    # Every tracked object's viewpoint changes as much as the config asks.
    config = load_config(None, list(SMALL_VIDEO))
    assert min(metadata["viewpoint_change_deg"].values()) >= config.video.min_viewpoint_change_deg
    for name, change in metadata["viewpoint_change_deg"].items():
        assert viewpoint_change_deg(cameras, poses[name]) == pytest.approx(change, abs=0.01)


def test_small_video_files_agree_and_are_kept_when_asked_again(small_video: Path):
    tapvid = read_tapvid(small_video / "video_0000.npz")
    frames, fps = read_video(small_video / "video_0000.mp4")
    assert fps == pytest.approx(12.0)
    assert frames.shape == tapvid.video.shape
    # H.264 at CRF 15 (formats.video): a mean error of a few grey levels.
    # H.264 (CRF 15) of busy random textures at 160x120 costs several grey levels; a frame
    # taken for its neighbour would cost several times more.
    error = np.abs(frames.astype(float) - tapvid.video).mean()
    assert error < 0.4 * np.abs(frames[1:].astype(float) - tapvid.video[:-1]).mean()
    metadata = read_yaml(small_video / "video_0000.yaml")
    shares = metadata["occlusion"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert np.mean(~tapvid.occluded) == pytest.approx(shares["visible"])
    # Each point's query is at the first frame where it is visible.
    first = (~tapvid.occluded).argmax(axis=1)
    np.testing.assert_array_equal(tapvid.query_points[:, 0], first)
    config = load_config(None, list(SMALL_VIDEO))
    stamp = (small_video / "video_0000.npz").stat().st_mtime_ns
    report = make_video(config.collect, config.video, 0, small_video)
    assert report.status == "skipped"
    assert (small_video / "video_0000.npz").stat().st_mtime_ns == stamp
    other = dataclasses.replace(config.video, turn_deg=(10.0, 20.0))
    with pytest.raises(DonkitError, match="another config"):
        make_video(config.collect, other, 0, small_video)


def test_reasons_of_occlusion_are_told_apart(small_video: Path):
    metadata = read_yaml(small_video / "video_0000.yaml")
    shares = metadata["occlusion"]
    # The second arm passes in front in the middle third; objects' far sides face away.
    assert shares["by_arm"] > 0.02
    assert shares["self_occluded"] > 0.05
    assert VISIBLE == 0 and SELF_OCCLUDED != BY_OBJECT
