"""Finding the workspace from data: the cameras' common target and the table plane."""

import numpy as np
import pytest

from formats import DonkitError
from geometry import PinholeCamera, backproject_depth, look_at, transform
from reconstruct.workspace import Workspace, fit_plane, look_at_centre, pixel_rays


def test_look_at_centre_is_where_the_axes_meet():
    target = np.array([0.5, -0.1, 0.8])
    poses = np.stack([look_at(eye, target) for eye in ([0, 0, 1.5], [1, 0, 1.2], [0.5, 0.6, 1.0])])
    np.testing.assert_allclose(look_at_centre(poses), target, atol=1e-9)


def test_look_at_centre_of_skew_axes_is_the_midpoint():
    # Two axes: the x axis at z = 0 and the y axis at z = 1; the closest point is (0, 0, 0.5).
    first = np.eye(4)
    first[:3, :3] = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float).T  # optical axis = +x
    second = np.eye(4)
    second[:3, :3] = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float).T  # optical axis = +y
    second[2, 3] = 1.0
    np.testing.assert_allclose(look_at_centre(np.stack([first, second])), [0, 0, 0.5], atol=1e-12)


def test_parallel_axes_have_no_centre():
    poses = np.stack([look_at([x, 0, 1], [x, 0.01, 0]) for x in (0.0, 0.3)])
    with pytest.raises(DonkitError, match="parallel"):
        look_at_centre(poses)


def test_fit_plane_finds_the_dominant_plane_among_outliers():
    rng = np.random.default_rng(0)
    normal = np.array([0.1, -0.2, 1.0])
    normal /= np.linalg.norm(normal)
    in_plane = rng.uniform(-1, 1, (3000, 3))
    in_plane -= np.outer(in_plane @ normal - 0.3, normal)  # onto normal . x = 0.3
    in_plane += rng.normal(0, 0.001, in_plane.shape)  # 1 mm noise
    outliers = rng.uniform(-1, 1, (1500, 3))
    points = np.concatenate([in_plane, outliers])
    found, offset, inliers = fit_plane(points, 0.004, 300, np.random.default_rng(1))
    sign = np.sign(found @ normal)
    np.testing.assert_allclose(sign * found, normal, atol=2e-3)
    assert sign * offset == pytest.approx(-0.3, abs=1e-3)
    assert inliers[:3000].mean() > 0.99 and inliers[3000:].mean() < 0.05


def test_contains_pixels_agrees_with_contains_on_the_points():
    workspace = Workspace(
        normal=np.array([0.0, 0.0, 1.0]),
        offset=-0.75,
        centre=np.array([0.5, 0.0, 0.75]),
        axis_u=np.array([1.0, 0.0, 0.0]),
        axis_v=np.array([0.0, 1.0, 0.0]),
        half_size_m=0.1,
        min_height_m=0.003,
        max_height_m=0.2,
    )
    camera = PinholeCamera.from_fov(64, 48, 60.0)
    camera_to_world = look_at([0.2, -0.3, 1.1], [0.5, 0.0, 0.78], roll_rad=0.3)
    depth = np.random.default_rng(2).uniform(0.2, 0.8, (48, 64))
    depth[::7, ::5] = 0.0

    rays = pixel_rays(camera)
    points = transform(backproject_depth(depth, camera.matrix).reshape(-1, 3), camera_to_world)
    expected = workspace.contains(points).reshape(depth.shape) & (depth > 0)
    result = workspace.contains_pixels(rays, depth, camera_to_world)
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(result, expected)
    assert workspace.heights(np.array([[0.0, 0.0, 0.85]]))[0] == pytest.approx(0.1)
