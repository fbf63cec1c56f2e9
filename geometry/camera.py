"""The pinhole camera and the one reprojection path: backproject, project, warp.

Convention (every function here): camera frame OpenCV (x right, y down, z forward); pixel
(u, v) = (column, row) with integer coordinates at pixel centres, so pixel (0, 0) is the centre of
the top-left pixel and the image spans u in [-0.5, width - 0.5); depth is the camera z coordinate
in metres (not the length of the ray), and 0 means "no reading". Functions take numpy arrays or
torch tensors (batched over leading dimensions) and return the same kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geometry._array import arange_like, namespace
from geometry.transforms import invert_pose, transform


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics of an image of `width` x `height` pixels; focal lengths and centre in pixels."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width: int, height: int, fov_y_deg: float) -> PinholeCamera:
        """Square pixels, vertical field of view `fov_y_deg`, principal point at the centre."""
        focal = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
        return cls(width, height, focal, focal, (width - 1) / 2, (height - 1) / 2)

    @classmethod
    def from_matrix(cls, matrix: Any, width: int, height: int) -> PinholeCamera:
        """From a (3, 3) intrinsic matrix K."""
        k = np.asarray(matrix, dtype=np.float64)
        return cls(width, height, float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]))

    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) float64 intrinsic matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def project(points_camera: Any, intrinsics: Any) -> tuple[Any, Any]:
    """Pixels and depths of camera-frame points.

    Args:
        points_camera: (..., N, 3) metres, camera frame.
        intrinsics: (..., 3, 3) K, broadcast against the leading dimensions.

    Returns:
        uv: (..., N, 2) pixel coordinates (u, v), not rounded; meaningless where depth <= 0.
        depth: (..., N) camera z, metres.

    Example:
        >>> k = PinholeCamera(320, 240, 300.0, 300.0, 159.5, 119.5).matrix
        >>> uv, z = project(np.array([[0.1, -0.05, 2.0]]), k)
        >>> uv, z
        (array([[174.5, 112. ]]), array([2.]))
    """
    xp = namespace(points_camera, intrinsics)
    homogeneous = points_camera @ intrinsics.swapaxes(-1, -2)
    depth = homogeneous[..., 2]
    safe_depth = xp.where(depth == 0, 1e-12 + 0 * depth, depth)
    return homogeneous[..., :2] / safe_depth[..., None], depth


def backproject(uv: Any, depth: Any, intrinsics: Any) -> Any:
    """Camera-frame points seen at pixels `uv` with depth `depth`.

    Args:
        uv: (..., N, 2) pixel coordinates (u, v).
        depth: (..., N) camera z, metres.
        intrinsics: (..., 3, 3) K.

    Returns:
        (..., N, 3) metres, camera frame; the origin where depth is 0.
    """
    xp = namespace(uv, depth, intrinsics)
    fx, fy = intrinsics[..., None, 0, 0], intrinsics[..., None, 1, 1]
    cx, cy = intrinsics[..., None, 0, 2], intrinsics[..., None, 1, 2]
    x = (uv[..., 0] - cx) / fx * depth
    y = (uv[..., 1] - cy) / fy * depth
    return xp.stack([x, y, depth], -1)


def pixel_grid(height: int, width: int, like: Any) -> Any:
    """(height, width, 2) pixel coordinates (u, v) of every pixel centre, dtype/device of `like`."""
    xp = namespace(like)
    rows = arange_like(height, like)
    columns = arange_like(width, like)
    v, u = xp.meshgrid(rows, columns, indexing="ij")
    return xp.stack([u, v], -1)


def backproject_depth(depth_image: Any, intrinsics: Any) -> Any:
    """Camera-frame point of every pixel of depth images.

    Args:
        depth_image: (..., H, W) metres, 0 = no reading.
        intrinsics: (..., 3, 3) K.

    Returns:
        (..., H, W, 3) metres, camera frame (the origin where depth is 0).
    """
    *batch, height, width = depth_image.shape
    uv = pixel_grid(height, width, depth_image).reshape(height * width, 2)
    points = backproject(uv, depth_image.reshape(*batch, height * width), intrinsics)
    return points.reshape(*batch, height, width, 3)


def warp(
    uv_a: Any,
    depth_a: Any,
    intrinsics_a: Any,
    camera_a_to_world: Any,
    intrinsics_b: Any,
    camera_b_to_world: Any,
) -> tuple[Any, Any]:
    """Where pixels of image A land in image B, given their depth in A and both cameras.

    Args:
        uv_a: (..., N, 2) pixels of A.
        depth_a: (..., N) their depth in A, metres.
        intrinsics_a, intrinsics_b: (..., 3, 3).
        camera_a_to_world, camera_b_to_world: (..., 4, 4).

    Returns:
        uv_b: (..., N, 2) pixels in B (not rounded, possibly outside the image).
        depth_b: (..., N) camera z of the same points in B, metres (<= 0: behind B).
    """
    camera_a_to_b = invert_pose(camera_b_to_world) @ camera_a_to_world
    points_b = transform(backproject(uv_a, depth_a, intrinsics_a), camera_a_to_b)
    return project(points_b, intrinsics_b)


def plane_depths(uv: Any, point: Any, normal: Any, intrinsics: Any) -> Any:
    """Depths at which the rays through pixels meet a plane.

    Args:
        uv: (..., N, 2) pixels.
        point: (..., 3) a point on the plane, camera frame, metres.
        normal: (..., 3) the plane's normal, camera frame (any length; not parallel to the rays).
        intrinsics: (..., 3, 3) K.

    Returns:
        (..., N) camera z of the plane along each pixel's ray, metres: the ray at unit depth r
        meets the plane n . x = n . p at depth (n . p) / (n . r).
    """
    rays = backproject(uv, namespace(uv, intrinsics).ones_like(uv[..., 0]), intrinsics)
    return (normal * point).sum(-1)[..., None] / (rays * normal[..., None, :]).sum(-1)


def inside_image(uv: Any, width: int, height: int) -> Any:
    """(..., N) bool: pixels whose nearest pixel centre lies in a `width` x `height` image."""
    u, v = uv[..., 0], uv[..., 1]
    return (u >= -0.5) & (u < width - 0.5) & (v >= -0.5) & (v < height - 0.5)
