"""How well two depth images of one static scene agree, given the camera and their poses.

Frame A's depth, moved into frame B, should land on B's depth wherever B sees the same surface.
What is left over measures poses, intrinsics and depth together: the check of any RGB-D scene,
simulated or real, from its files alone.
"""

from __future__ import annotations

import math

import numpy as np

from geometry.camera import backproject_depth, project
from geometry.transforms import invert_pose, transform

OCCLUSION_MARGIN_M = 0.01  # a point this far behind B's surface is hidden from B
GRAZING_LIMIT_DEG = 75.0  # surfaces seen more obliquely than this are not compared
DISCONTINUITY_M = 0.01  # B's four neighbours spanning more than this straddle an edge


def depth_agreement(
    depth_a: np.ndarray, depth_b: np.ndarray, camera_matrix: np.ndarray, a_to_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """At A's pixels that B sees: dz = z_b - depth_b, A's point in B's frame against B's depth
    there, and that depth.

    B sees a pixel of A when, forward, A's point lands inside B, at most `OCCLUSION_MARGIN_M`
    behind B's surface, on a surface facing B (within `GRAZING_LIMIT_DEG`), and B's depth is
    sampled away from a depth discontinuity (its four neighbours within `DISCONTINUITY_M`); and
    when, backward, the surface B sees there faces A too. The backward test leaves out the two
    sides of a thin wall (a mug's inner face seen by A, its outer face by B a few millimetres
    away), which are different surfaces, not a disagreement. B's depth is interpolated
    bilinearly at the exact (sub-pixel) location.

    Args:
        depth_a, depth_b: (H, W) metres, 0 = no reading.
        camera_matrix: (3, 3) intrinsics of both.
        a_to_b: (4, 4) maps A's camera frame to B's.

    Returns:
        dz: (N,) float64 metres, positive where A's point lies behind B's surface.
        depth: (N,) float64 metres, B's depth where dz was measured.
    """
    depth_a, depth_b = depth_a.astype(np.float64), depth_b.astype(np.float64)
    points_a = backproject_depth(depth_a, camera_matrix)
    normals_a = normals_towards_camera(points_a)
    rows, columns = np.nonzero(depth_a > 0)
    points_b = transform(points_a[rows, columns], a_to_b)
    normals_b = normals_a[rows, columns] @ a_to_b[:3, :3].T
    uv_b, z_b = project(points_b, camera_matrix)
    height, width = depth_b.shape
    inside = (uv_b[:, 0] >= 0) & (uv_b[:, 0] <= width - 1) & (uv_b[:, 1] >= 0)
    inside &= (uv_b[:, 1] <= height - 1) & (z_b > 0)
    sampled, smooth = bilinear(depth_b, uv_b)
    cos_limit = math.cos(math.radians(GRAZING_LIMIT_DEG))
    dz = z_b - sampled
    seen = inside & smooth & (dz < OCCLUSION_MARGIN_M)
    seen &= _facing(normals_b, points_b) > cos_limit
    # Backward: B's own surface at the nearest pixel, turned into A's frame, faces A.
    surface_b = backproject_depth(depth_b, camera_matrix)
    normals_of_b = normals_towards_camera(surface_b)
    u = np.clip(np.rint(uv_b[:, 0]).astype(int), 0, width - 1)
    v = np.clip(np.rint(uv_b[:, 1]).astype(int), 0, height - 1)
    b_to_a = invert_pose(a_to_b)
    back_points = transform(surface_b[v, u], b_to_a)
    back_normals = normals_of_b[v, u] @ b_to_a[:3, :3].T
    seen &= _facing(back_normals, back_points) > cos_limit
    return dz[seen], sampled[seen]


def _facing(normals: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) cosine between unit normals (N, 3) and the direction from points (N, 3) to the
    camera at the origin."""
    distance = np.linalg.norm(points, axis=-1)
    return -(normals * points).sum(axis=-1) / np.maximum(distance, 1e-12)


def bilinear(image: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear samples of `image` (H, W) at `uv` (N, 2), and whether the four neighbours are
    all readings within `DISCONTINUITY_M` of each other (one surface, no edge)."""
    height, width = image.shape
    u0 = np.clip(np.floor(uv[:, 0]).astype(int), 0, width - 2)
    v0 = np.clip(np.floor(uv[:, 1]).astype(int), 0, height - 2)
    fu, fv = uv[:, 0] - u0, uv[:, 1] - v0
    corners = np.stack(
        [image[v0, u0], image[v0, u0 + 1], image[v0 + 1, u0], image[v0 + 1, u0 + 1]], axis=-1
    )
    weights = np.stack([(1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv], axis=-1)
    smooth = (corners > 0).all(axis=-1) & (np.ptp(corners, axis=-1) < DISCONTINUITY_M)
    return (corners * weights).sum(axis=-1), smooth


def normals_towards_camera(points: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit normals of a backprojected depth image `points` (H, W, 3) (central
    differences), each turned to face the camera at the origin."""
    along_u = np.zeros_like(points)
    along_v = np.zeros_like(points)
    along_u[:, 1:-1] = points[:, 2:] - points[:, :-2]
    along_v[1:-1] = points[2:] - points[:-2]
    normals = np.cross(along_u, along_v)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True) + 1e-12
    normals[(normals * points).sum(axis=-1) > 0] *= -1
    return normals
