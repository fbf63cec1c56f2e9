"""Rigid transforms: quaternions (w, x, y, z), rotation matrices and 4x4 poses.

A pose is named by the frames it maps between: `camera_to_world` maps points given in the camera
frame to the world frame, so `points_world = transform(points_camera, camera_to_world)`.
Every function takes numpy arrays or torch tensors (batched over leading dimensions) and returns
the same kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geometry._array import arange_like, namespace


def quaternion_to_matrix(quaternion_wxyz: Any) -> Any:
    """Rotation matrices from quaternions.

    Args:
        quaternion_wxyz: (..., 4) quaternions (w, x, y, z); normalized here, so any non-zero
            scale is accepted.

    Returns:
        (..., 3, 3) rotation matrices.

    Example:
        >>> quaternion_to_matrix(np.array([0.0, 0.0, 0.0, 1.0])).round(6)  # 180 deg about z
        array([[-1.,  0.,  0.],
               [ 0., -1.,  0.],
               [ 0.,  0.,  1.]])
    """
    xp = namespace(quaternion_wxyz)
    q = quaternion_wxyz / xp.linalg.norm(quaternion_wxyz, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return xp.stack(rows, -1).reshape(*q.shape[:-1], 3, 3)


def matrix_to_quaternion(rotation: Any) -> Any:
    """Quaternions (w, x, y, z) with w >= 0 from rotation matrices.

    Of the four algebraically equivalent formulas, each element uses the one with the largest
    denominator, which keeps the result accurate near 180-degree rotations.

    Args:
        rotation: (..., 3, 3) rotation matrices.

    Returns:
        (..., 4) unit quaternions, w >= 0.
    """
    xp = namespace(rotation)
    m = rotation
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    squares = xp.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1
    )
    four_times_abs = 2 * xp.sqrt(xp.where(squares > 0, squares, 0 * squares))  # 4 |q_i|
    candidates = xp.stack(
        [
            xp.stack([squares[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
            xp.stack([m21 - m12, squares[..., 1], m10 + m01, m02 + m20], -1),
            xp.stack([m02 - m20, m10 + m01, squares[..., 2], m12 + m21], -1),
            xp.stack([m10 - m01, m20 + m02, m21 + m12, squares[..., 3]], -1),
        ],
        -2,
    )
    # The chosen candidate has 4|q_i| >= 2, so the floor only keeps the others finite.
    denominators = xp.where(four_times_abs > 0.2, four_times_abs, 0 * four_times_abs + 0.2)
    candidates = candidates / denominators[..., None]
    best = four_times_abs.argmax(-1)
    chosen = best[..., None] == arange_like(4, best)
    q = (candidates * chosen[..., None]).sum(-2)
    q = xp.where(q[..., :1] < 0, -q, q)
    return q / xp.linalg.norm(q, axis=-1, keepdims=True)


def axis_angle_to_matrix(axis_angle: Any) -> Any:
    """Rotation matrices from rotation vectors (Rodrigues' formula).

    R = I + A K + B K^2 with K the cross-product matrix of the vector, A = sin(t) / t and
    B = (1 - cos(t)) / t^2 for the angle t. Below t = 0.01 rad A and B come from their Taylor
    series, so the result and its gradient stay exact at and near zero (the sin(t) / t form loses
    float32 precision there, and sqrt has no gradient at 0), where a pose network starts.

    Args:
        axis_angle: (..., 3) rotation vectors: unit axis times angle, radians.

    Returns:
        (..., 3, 3) rotation matrices.

    Example:
        >>> axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2])).round(6)  # 90 deg about z
        array([[ 0., -1.,  0.],
               [ 1.,  0.,  0.],
               [ 0.,  0.,  1.]])
    """
    xp = namespace(axis_angle)
    x, y, z = axis_angle[..., 0], axis_angle[..., 1], axis_angle[..., 2]
    angle_squared = x * x + y * y + z * z
    small = angle_squared < 1e-4
    # The sqrt sees 1 where the series is used, so neither branch makes a NaN gradient.
    angle = xp.sqrt(xp.where(small, 0 * angle_squared + 1, angle_squared))
    a = xp.where(small, 1 - angle_squared / 6 + angle_squared**2 / 120, xp.sin(angle) / angle)
    half_sinc = xp.sin(angle / 2) / (angle / 2)  # B = (1 - cos t) / t^2 = sinc(t / 2)^2 / 2
    b = xp.where(small, 0.5 - angle_squared / 24 + angle_squared**2 / 720, half_sinc**2 / 2)
    c = 1 - b * angle_squared  # cos(t), consistent with b
    rows = [
        c + b * x * x, b * x * y - a * z, b * x * z + a * y,
        b * x * y + a * z, c + b * y * y, b * y * z - a * x,
        b * x * z - a * y, b * y * z + a * x, c + b * z * z,
    ]  # fmt: skip
    return xp.stack(rows, -1).reshape(*axis_angle.shape[:-1], 3, 3)


def make_pose(rotation: Any, translation: Any) -> Any:
    """4x4 homogeneous poses.

    Args:
        rotation: (..., 3, 3).
        translation: (..., 3), metres.

    Returns:
        (..., 4, 4) with the last row (0, 0, 0, 1).
    """
    xp = namespace(rotation, translation)
    top = xp.concatenate([rotation, translation[..., :, None]], -1)
    bottom = xp.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1
    return xp.concatenate([top, bottom], -2)


def invert_pose(pose: Any) -> Any:
    """Inverse of rigid poses: (R, t) -> (R^T, -R^T t), exact where a general inverse is not.

    Args:
        pose: (..., 4, 4) rigid transforms, e.g. `camera_to_world`.

    Returns:
        (..., 4, 4), e.g. `world_to_camera`.
    """
    rotation_t = pose[..., :3, :3].swapaxes(-1, -2)
    translation = -(rotation_t @ pose[..., :3, 3:])[..., 0]
    return make_pose(rotation_t, translation)


def transform(points: Any, pose: Any) -> Any:
    """Apply rigid transforms to points.

    Args:
        points: (..., N, 3) in the pose's source frame, metres.
        pose: (..., 4, 4), broadcast against the leading dimensions of `points`.

    Returns:
        (..., N, 3) in the pose's target frame.
    """
    namespace(points, pose)  # refuses a numpy/torch mix
    rotation_t = pose[..., :3, :3].swapaxes(-1, -2)
    return points @ rotation_t + pose[..., None, :3, 3]


def pose_from_quaternion(quaternion_wxyz: Any, translation: Any) -> Any:
    """(..., 4, 4) poses from (..., 4) quaternions (w, x, y, z) and (..., 3) translations."""
    return make_pose(quaternion_to_matrix(quaternion_wxyz), translation)


def rotation_angle(rotation_a: Any, rotation_b: Any) -> Any:
    """Angle in radians of the rotation that takes `rotation_a` to `rotation_b`.

    Args:
        rotation_a, rotation_b: (..., 3, 3).

    Returns:
        (...,) radians in [0, pi].
    """
    xp = namespace(rotation_a, rotation_b)
    relative = rotation_a.swapaxes(-1, -2) @ rotation_b
    cosine = (relative[..., 0, 0] + relative[..., 1, 1] + relative[..., 2, 2] - 1) / 2
    return xp.arccos(xp.clip(cosine, -1.0, 1.0))


def rotation_from_rpy(roll_pitch_yaw_rad: Any) -> np.ndarray:
    """Rotation matrix from URDF roll, pitch, yaw (fixed axes x, then y, then z).

    Args:
        roll_pitch_yaw_rad: (3,) radians.

    Returns:
        (3, 3) float64, Rz(yaw) @ Ry(pitch) @ Rx(roll).
    """
    roll, pitch, yaw = (float(a) for a in roll_pitch_yaw_rad)
    return (
        rotation_about_axis((0, 0, 1), yaw)
        @ rotation_about_axis((0, 1, 0), pitch)
        @ rotation_about_axis((1, 0, 0), roll)
    )


def rotation_about_axis(axis: Any, angle_rad: float) -> np.ndarray:
    """(3, 3) float64 rotation by `angle_rad` about the unit direction of `axis` (Rodrigues)."""
    axis = np.asarray(axis, dtype=np.float64)
    x, y, z = axis / np.linalg.norm(axis)
    skew = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle_rad) * skew + (1 - np.cos(angle_rad)) * skew @ skew


def look_at(eye: Any, target: Any, up: Any = (0.0, 0.0, 1.0), roll_rad: float = 0.0) -> np.ndarray:
    """`camera_to_world` of an OpenCV camera at `eye` whose optical axis points at `target`.

    Convention: camera x right, y down, z forward. With `roll_rad` = 0 the image's up direction
    is the projection of `up`; a positive roll turns the camera clockwise about its optical axis
    as seen from behind it (the image content turns anticlockwise).

    Args:
        eye, target: (3,) world points, metres; must differ.
        up: (3,) world direction, not parallel to `target - eye`.
        roll_rad: rotation about the optical axis.

    Returns:
        (4, 4) float64 camera_to_world.
    """
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    norm = np.linalg.norm(right)
    if norm < 1e-9:
        raise ValueError(f"look_at: up {up} is parallel to the viewing direction {forward}")
    right /= norm
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward], axis=1) @ rotation_about_axis((0, 0, 1), roll_rad)
    return make_pose(rotation, eye)
