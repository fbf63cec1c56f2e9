import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geometry import (
    PinholeCamera,
    backproject,
    backproject_depth,
    inside_image,
    invert_pose,
    look_at,
    make_pose,
    pixel_grid,
    plane_depths,
    project,
    rotation_about_axis,
    transform,
    warp,
)

CAMERA = PinholeCamera(width=320, height=240, fx=300.0, fy=310.0, cx=159.5, cy=119.5)
K = CAMERA.matrix


def test_from_fov_centre_and_focal():
    camera = PinholeCamera.from_fov(320, 240, 90.0)
    # tan(45 deg) = 1: half the image height is one focal length.
    assert camera.fy == pytest.approx(120.0)
    assert camera.fx == pytest.approx(120.0)
    # Pixel centres are integers, so the centre of a 320-pixel row is at 159.5.
    assert (camera.cx, camera.cy) == (159.5, 119.5)
    np.testing.assert_allclose(
        PinholeCamera.from_matrix(camera.matrix, 320, 240).matrix, camera.matrix
    )


def test_project_hand_computed():
    points = np.array([[0.1, -0.05, 2.0], [0.0, 0.0, 1.0]])
    uv, depth = project(points, K)
    # u = fx x / z + cx = 300 * 0.05 + 159.5; v = fy y / z + cy = 310 * -0.025 + 119.5.
    np.testing.assert_allclose(uv, [[174.5, 111.75], [159.5, 119.5]], atol=1e-12)
    np.testing.assert_allclose(depth, [2.0, 1.0])


def test_backproject_hand_computed():
    points = backproject(np.array([[174.5, 111.75]]), np.array([2.0]), K)
    np.testing.assert_allclose(points, [[0.1, -0.05, 2.0]], atol=1e-12)


@given(
    st.floats(-0.5, 319.49),
    st.floats(-0.5, 239.49),
    st.floats(0.05, 20.0),
)
@settings(max_examples=200, deadline=None)
def test_project_backproject_round_trip(u, v, depth):
    uv = np.array([[u, v]])
    back_uv, back_depth = project(backproject(uv, np.array([depth]), K), K)
    np.testing.assert_allclose(back_uv, uv, atol=1e-9)
    np.testing.assert_allclose(back_depth, [depth], rtol=1e-12)


def test_pixel_grid_and_backproject_depth():
    grid = pixel_grid(2, 3, np.zeros(1))
    np.testing.assert_array_equal(grid[1, 2], [2, 1])  # (u, v) = (column, row)
    depth = np.full((240, 320), 2.0)
    points = backproject_depth(depth, K)
    assert points.shape == (240, 320, 3)
    # The pixel at the principal point looks straight ahead; the top-left corner pixel's ray
    # has x = (0 - cx) / fx per metre of depth.
    np.testing.assert_allclose(points[0, 0], [-159.5 / 300 * 2, -119.5 / 310 * 2, 2.0])


def test_warp_identity_and_known_translation():
    uv_a = np.array([[100.0, 50.0], [200.0, 150.0]])
    depth_a = np.array([1.0, 2.0])
    camera_a = look_at([0, -1, 1], [0, 0, 0])
    uv_b, depth_b = warp(uv_a, depth_a, K, camera_a, K, camera_a)
    np.testing.assert_allclose(uv_b, uv_a, atol=1e-9)
    np.testing.assert_allclose(depth_b, depth_a, atol=1e-12)
    # B is A moved 0.1 m along A's x axis: a point at depth z shifts by -fx * 0.1 / z pixels.
    camera_b = camera_a @ make_pose(np.eye(3), np.array([0.1, 0.0, 0.0]))
    uv_b, depth_b = warp(uv_a, depth_a, K, camera_a, K, camera_b)
    np.testing.assert_allclose(uv_b[:, 0], uv_a[:, 0] - 300 * 0.1 / depth_a, atol=1e-9)
    np.testing.assert_allclose(uv_b[:, 1], uv_a[:, 1], atol=1e-9)
    np.testing.assert_allclose(depth_b, depth_a, atol=1e-12)


def test_warp_equals_world_round_trip():
    rng = np.random.default_rng(1)
    camera_a = look_at([0.3, -0.4, 0.5], [0, 0, 0], roll_rad=0.2)
    camera_b = look_at([-0.2, -0.5, 0.4], [0.05, 0, 0], roll_rad=-0.3)
    other_k = PinholeCamera(320, 240, 280.0, 280.0, 150.0, 125.0).matrix
    uv_a = rng.uniform([0, 0], [319, 239], (50, 2))
    depth_a = rng.uniform(0.4, 0.8, 50)
    world = transform(backproject(uv_a, depth_a, K), camera_a)
    expected = project(transform(world, invert_pose(camera_b)), other_k)
    result = warp(uv_a, depth_a, K, camera_a, other_k, camera_b)
    np.testing.assert_allclose(result[0], expected[0], atol=1e-9)
    np.testing.assert_allclose(result[1], expected[1], atol=1e-12)


def test_plane_depths_hand_computed_and_batched():
    # The plane x + z = 1 (normal (1, 0, 1), through (0, 0, 1)). With fx = 300 and cx = 159.5, the
    # pixel 30 px right of the centre has the ray (0.1, 0, 1) per metre of depth, which meets
    # the plane at z = 1 / 1.1; 30 px left, (-0.1, 0, 1) at z = 1 / 0.9; rows do not matter.
    uv = np.array([[159.5, 119.5], [189.5, 40.0], [129.5, 119.5]])
    depths = plane_depths(uv, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0]), K)
    np.testing.assert_allclose(depths, [1.0, 1 / 1.1, 1 / 0.9], rtol=1e-12)
    # Batched in torch: a second plane facing the camera (normal along -z) at 0.5 m.
    points = torch.tensor([[0.0, 0.0, 1.0], [0.2, -0.1, 0.5]], dtype=torch.float64)
    normals = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, -2.0]], dtype=torch.float64)
    batched = plane_depths(
        torch.from_numpy(uv).expand(2, 3, 2), points, normals, torch.from_numpy(K)
    )
    np.testing.assert_allclose(batched.numpy(), [[1.0, 1 / 1.1, 1 / 0.9], [0.5, 0.5, 0.5]])
    # Each point lies on its plane.
    on_plane = backproject(uv, depths, K)
    np.testing.assert_allclose(on_plane[:, 0] + on_plane[:, 2], 1.0, rtol=1e-12)


def test_inside_image_edges():
    uv = np.array([[-0.5, 0.0], [-0.51, 0.0], [319.49, 239.49], [319.5, 0.0]])
    np.testing.assert_array_equal(inside_image(uv, 320, 240), [True, False, True, False])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_batched_matches_numpy(dtype):
    rng = np.random.default_rng(2)
    batch_k = np.stack([K, PinholeCamera(320, 240, 250.0, 250.0, 160.0, 120.0).matrix])
    poses_a = np.stack([look_at([0.3, -0.4, 0.5], [0, 0, 0]), look_at([0.1, -0.5, 0.5], [0, 0, 0])])
    poses_b = np.stack(
        [
            poses_a[0] @ make_pose(rotation_about_axis((0, 1, 0), 0.1), np.array([0.05, 0, 0])),
            poses_a[1] @ make_pose(rotation_about_axis((1, 0, 0), -0.1), np.array([0, 0.05, 0])),
        ]
    )
    uv_a = rng.uniform(0, 239, (2, 10, 2))
    depth_a = rng.uniform(0.4, 0.8, (2, 10))
    depth_image = rng.uniform(0.4, 0.8, (2, 6, 7))
    expected_warp = warp(uv_a, depth_a, batch_k, poses_a, batch_k, poses_b)
    expected_points = backproject_depth(depth_image, batch_k)

    def t(x):
        return torch.tensor(x, dtype=dtype)

    result_warp = warp(t(uv_a), t(depth_a), t(batch_k), t(poses_a), t(batch_k), t(poses_b))
    result_points = backproject_depth(t(depth_image), t(batch_k))
    tolerance = 2e-3 if dtype == torch.float32 else 1e-9  # pixels; float32 has ~7 digits
    np.testing.assert_allclose(result_warp[0].numpy(), expected_warp[0], atol=tolerance)
    np.testing.assert_allclose(result_warp[1].numpy(), expected_warp[1], atol=tolerance)
    np.testing.assert_allclose(result_points.numpy(), expected_points, atol=tolerance)
    # One example per batch element agrees with the unbatched call.
    single = warp(uv_a[1], depth_a[1], batch_k[1], poses_a[1], batch_k[1], poses_b[1])
    np.testing.assert_allclose(single[0], expected_warp[0][1], atol=1e-9)


def test_project_gradients_in_float64():
    k = torch.tensor(K)
    points = torch.tensor(
        [[0.1, -0.2, 1.5], [0.3, 0.1, 0.7]], dtype=torch.float64, requires_grad=True
    )
    assert torch.autograd.gradcheck(lambda p: project(p, k)[0], (points,))


def test_focal_from_fov_is_consistent_with_projection():
    camera = PinholeCamera.from_fov(200, 100, 60.0)
    # A point on the upper edge of the vertical field of view projects to the top image edge.
    y = -math.tan(math.radians(30.0))
    uv, _ = project(np.array([[0.0, y, 1.0]]), camera.matrix)
    assert uv[0, 1] == pytest.approx(-0.5)
