"""Motion in tracking videos: smooth starts and stops, slides and turns, views, sweeps."""

import math

import numpy as np
import pytest

from collect.video.motion import camera_trajectory, slide_and_turn, smoothstep, viewpoint_change_deg
from donkit.config import load_config
from geometry import (
    look_at,
    make_pose,
    rotation_about_axis,
    rotation_angle,
)


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
