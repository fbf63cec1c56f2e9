"""Candidate views on the cap and the path through them."""

import math

import numpy as np

from collect.config import OrbitConfig
from collect.orbit import nearest_neighbour_path, sample_views, thin_evenly
from geometry import look_at, rotation_angle


def test_views_look_at_the_centre_from_inside_the_configured_ranges():
    orbit = OrbitConfig(
        radius_m=(0.3, 0.5),
        elevation_deg=(20.0, 60.0),
        azimuth_deg=(-90.0, 45.0),
        roll_deg=(-10, 10),
    )
    centre = np.array([0.5, 0.1, 0.8])
    facing = math.pi  # azimuth 0 looks from the -x side
    views = sample_views(orbit, centre, facing, 200, np.random.default_rng(0))
    assert len(views) == 200
    for camera_to_world in views:
        eye, forward = camera_to_world[:3, 3], camera_to_world[:3, 2]
        offset = eye - centre
        radius = np.linalg.norm(offset)
        # The optical axis passes through the centre.
        np.testing.assert_allclose(forward, -offset / radius, atol=1e-12)
        assert 0.3 - 1e-12 <= radius <= 0.5 + 1e-12
        elevation = math.degrees(math.asin(offset[2] / radius))
        assert 20.0 - 1e-9 <= elevation <= 60.0 + 1e-9
        azimuth = math.degrees(math.atan2(offset[1], offset[0]) - facing)
        azimuth = (azimuth + 180.0) % 360.0 - 180.0
        assert -90.0 - 1e-9 <= azimuth <= 45.0 + 1e-9
        # Roll is the turn about the optical axis away from the upright look-at view.
        upright = look_at(eye, centre)
        assert math.degrees(rotation_angle(upright[:3, :3], camera_to_world[:3, :3])) <= 10 + 1e-9


def test_views_cover_the_cap_uniformly_in_area():
    # Uniform in area means sin(elevation) is uniform: half the views below the sine midpoint.
    orbit = OrbitConfig(elevation_deg=(0.0, 80.0))
    views = sample_views(orbit, np.zeros(3), 0.0, 4000, np.random.default_rng(1))
    sines = np.array([v[2, 3] / np.linalg.norm(v[:3, 3]) for v in views])
    midpoint = math.sin(math.radians(80.0)) / 2
    assert abs(np.mean(sines < midpoint) - 0.5) < 0.03  # 4000 draws: std of the share is 0.008


def test_views_are_deterministic_from_the_generator():
    orbit = OrbitConfig()
    first = sample_views(orbit, np.zeros(3), 0.0, 5, np.random.default_rng(7))
    second = sample_views(orbit, np.zeros(3), 0.0, 5, np.random.default_rng(7))
    np.testing.assert_array_equal(np.stack(first), np.stack(second))


def test_nearest_neighbour_path_hand_computed():
    positions = np.array([[3.0, 0, 0], [0.0, 0, 0], [1.0, 0, 0], [10.0, 0, 0], [2.0, 0, 0]])
    assert nearest_neighbour_path(positions, np.array([-1.0, 0, 0])) == [1, 2, 4, 0, 3]


def test_thin_evenly():
    assert thin_evenly(10, 4) == [0, 3, 6, 9]
    assert thin_evenly(5, 8) == [0, 1, 2, 3, 4]
    assert thin_evenly(7, 1) == [0]
