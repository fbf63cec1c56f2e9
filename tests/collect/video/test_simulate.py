"""A small simulated video checked against an independent ray cast of the true meshes."""

from pathlib import Path

import numpy as np
import open3d as o3d
import open3d.core as o3c
import pytest

from collect.video.motion import viewpoint_change_deg
from collect.video.visibility import BY_OBJECT, SELF_OCCLUDED, VISIBLE
from donkit.config import load_config
from formats.plain import read_yaml
from formats.scenes import pose_from_dict
from formats.tapvid import read_tapvid
from geometry import (
    PinholeCamera,
    invert_pose,
    project,
    transform,
)
from sim_assets import build_object
from tests.conftest import SMALL_VIDEO


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


def test_reasons_of_occlusion_are_told_apart(small_video: Path):
    metadata = read_yaml(small_video / "video_0000.yaml")
    shares = metadata["occlusion"]
    # The second arm passes in front in the middle third; objects' far sides face away.
    assert shares["by_arm"] > 0.02
    assert shares["self_occluded"] > 0.05
    assert VISIBLE == 0 and SELF_OCCLUDED != BY_OBJECT
