import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geometry import (
    axis_angle_to_matrix,
    invert_pose,
    look_at,
    make_pose,
    matrix_to_quaternion,
    pose_from_quaternion,
    quaternion_to_matrix,
    rotation_about_axis,
    rotation_angle,
    rotation_from_rpy,
    transform,
)

finite = st.floats(-1.0, 1.0, allow_nan=False)
quaternions = arrays(np.float64, 4, elements=finite).filter(lambda q: np.linalg.norm(q) > 0.1)


def test_quaternion_to_matrix_known_rotations():
    half = math.sqrt(0.5)
    # 90 degrees about z maps x to y.
    np.testing.assert_allclose(
        quaternion_to_matrix(np.array([half, 0, 0, half])),
        [[0, -1, 0], [1, 0, 0], [0, 0, 1]],
        atol=1e-12,
    )
    # 180 degrees about x.
    np.testing.assert_allclose(
        quaternion_to_matrix(np.array([0.0, 1, 0, 0])), np.diag([1.0, -1, -1]), atol=1e-12
    )
    # Scale does not matter.
    np.testing.assert_allclose(quaternion_to_matrix(np.array([3.0, 0, 0, 0])), np.eye(3))


def test_matrix_to_quaternion_near_180_degrees_is_accurate():
    rotation = rotation_about_axis((1, 1, 0), math.pi - 1e-9)
    q = matrix_to_quaternion(rotation)
    np.testing.assert_allclose(quaternion_to_matrix(q), rotation, atol=1e-12)
    assert q[0] >= 0


@given(quaternions)
@settings(max_examples=200, deadline=None)
def test_quaternion_round_trip(q):
    unit = q / np.linalg.norm(q)
    back = matrix_to_quaternion(quaternion_to_matrix(q))
    sign = 1.0 if unit[0] >= 0 else -1.0
    if abs(unit[0]) < 1e-12:  # w = 0: q and -q both have w >= 0
        sign = float(np.sign(np.dot(back, unit)))
    np.testing.assert_allclose(back, sign * unit, atol=1e-9)


def test_rotation_from_rpy_matches_urdf_convention():
    # URDF: R = Rz(yaw) Ry(pitch) Rx(roll). Roll 90 deg maps y to z.
    np.testing.assert_allclose(
        rotation_from_rpy((math.pi / 2, 0, 0)) @ [0, 1, 0], [0, 0, 1], atol=1e-12
    )
    combined = rotation_from_rpy((0.1, 0.2, 0.3))
    expected = (
        rotation_about_axis((0, 0, 1), 0.3)
        @ rotation_about_axis((0, 1, 0), 0.2)
        @ rotation_about_axis((1, 0, 0), 0.1)
    )
    np.testing.assert_allclose(combined, expected, atol=1e-12)


def test_invert_pose_and_transform():
    pose = make_pose(rotation_about_axis((0, 0, 1), math.pi / 2), np.array([1.0, 2.0, 3.0]))
    point = np.array([[1.0, 0.0, 0.0]])
    # Rotate (1, 0, 0) to (0, 1, 0), then translate.
    np.testing.assert_allclose(transform(point, pose), [[1.0, 3.0, 3.0]], atol=1e-12)
    np.testing.assert_allclose(
        transform(transform(point, pose), invert_pose(pose)), point, atol=1e-12
    )
    np.testing.assert_allclose(invert_pose(pose) @ pose, np.eye(4), atol=1e-12)


def test_rotation_angle():
    a = rotation_about_axis((0, 1, 0), 0.3)
    b = rotation_about_axis((0, 1, 0), -0.2)
    assert rotation_angle(a, b) == pytest.approx(0.5, abs=1e-12)
    assert rotation_angle(a, a) == pytest.approx(0.0, abs=1e-7)


def test_look_at_points_optical_axis_at_target_with_image_down_towards_world_down():
    pose = look_at([1.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    forward, down = pose[:3, 2], pose[:3, 1]
    np.testing.assert_allclose(forward, np.array([-1.0, 0.0, -1.0]) / math.sqrt(2), atol=1e-12)
    assert down[2] < 0  # image rows go down in the world
    np.testing.assert_allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-12)
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    # Roll turns the image about the optical axis but keeps it.
    rolled = look_at([1.0, 0.0, 1.0], [0.0, 0.0, 0.0], roll_rad=0.4)
    np.testing.assert_allclose(rolled[:3, 2], forward, atol=1e-12)
    assert rotation_angle(rolled[:3, :3], pose[:3, :3]) == pytest.approx(0.4)


def test_look_at_rejects_vertical_view_with_vertical_up():
    with pytest.raises(ValueError, match="parallel"):
        look_at([0, 0, 1], [0, 0, 0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_matches_numpy_batched(dtype):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 5, 4))
    translation = rng.normal(size=(2, 5, 3))
    points = rng.normal(size=(2, 5, 7, 3))
    poses = pose_from_quaternion(q, translation)
    expected = transform(points, poses)
    tensor_poses = pose_from_quaternion(
        torch.tensor(q, dtype=dtype), torch.tensor(translation, dtype=dtype)
    )
    result = transform(torch.tensor(points, dtype=dtype), tensor_poses)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(result.numpy(), expected, atol=tolerance)
    np.testing.assert_allclose(
        matrix_to_quaternion(poses[..., :3, :3].copy()),
        matrix_to_quaternion(torch.tensor(poses[..., :3, :3], dtype=dtype)).numpy(),
        atol=tolerance,
    )
    np.testing.assert_allclose(
        invert_pose(tensor_poses).numpy(), invert_pose(poses), atol=tolerance
    )


def test_mixing_numpy_and_torch_is_an_error():
    with pytest.raises(TypeError, match="mix"):
        transform(np.zeros((1, 3)), torch.eye(4))


def test_transform_gradients_in_float64():
    pose = pose_from_quaternion(
        torch.tensor([0.9, 0.1, -0.2, 0.3], dtype=torch.float64),
        torch.zeros(3, dtype=torch.float64),
    )
    points = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: transform(p, pose), (points,))


rotation_vectors = arrays(np.float64, 3, elements=st.floats(-3.0, 3.0, allow_nan=False))


@given(rotation_vectors)
@settings(max_examples=200, deadline=None)
def test_axis_angle_to_matrix_matches_rodrigues_about_the_axis(vector):
    rotation = axis_angle_to_matrix(vector)
    angle = np.linalg.norm(vector)
    expected = np.eye(3) if angle == 0 else rotation_about_axis(vector, angle)
    np.testing.assert_allclose(rotation, expected, atol=1e-12)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)


def test_axis_angle_to_matrix_known_rotations_and_small_angles():
    np.testing.assert_allclose(
        axis_angle_to_matrix(np.array([0.0, 0.0, math.pi / 2])),
        [[0, -1, 0], [1, 0, 0], [0, 0, 1]],
        atol=1e-12,
    )
    np.testing.assert_array_equal(axis_angle_to_matrix(np.zeros(3)), np.eye(3))
    # Either side of the switch to the Taylor series (t = 0.01 rad) agrees with Rodrigues.
    for angle in (1e-8, 0.01 - 1e-9, 0.01 + 1e-9, 0.02):
        axis = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
        np.testing.assert_allclose(
            axis_angle_to_matrix(angle * axis), rotation_about_axis(axis, angle), atol=1e-15
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_axis_angle_to_matrix_torch_matches_numpy_batched(dtype):
    vectors = np.random.default_rng(1).normal(size=(2, 5, 3))
    vectors[0, 0] = 0.0
    vectors[0, 1] = 1e-4
    expected = axis_angle_to_matrix(vectors)
    result = axis_angle_to_matrix(torch.tensor(vectors, dtype=dtype))
    assert result.shape == (2, 5, 3, 3) and result.dtype == dtype
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(result.numpy(), expected, atol=tolerance)


def test_axis_angle_to_matrix_gradients_in_float64_at_and_away_from_zero():
    for start in ([0.0, 0.0, 0.0], [1e-3, -2e-3, 5e-4], [0.4, -1.2, 2.0]):
        vector = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(axis_angle_to_matrix, (vector,))
