"""Where the objects are, found from the data: the table plane and the point the cameras watch.

Only what a real robot has is used (depth, intrinsics, forward-kinematics poses), so the same
workspace is found in simulated scenes and in real scenes recorded in the DON layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from formats import DonkitError
from formats.scenes import Scene
from geometry import PinholeCamera, backproject, pixel_grid, transform
from reconstruct.config import FuseConfig

_SAMPLE_STRIDE = 4  # every 4th pixel in each direction is plenty to find a plane
_RANSAC_JUDGES = 20_000


def look_at_centre(camera_to_world: np.ndarray) -> np.ndarray:
    """The point closest, in the least-squares sense, to every camera's optical axis.

    Args:
        camera_to_world: (N, 4, 4), N >= 2 cameras whose axes are not all parallel.

    Returns:
        (3,) world point, metres.
    """
    origins, directions = camera_to_world[:, :3, 3], camera_to_world[:, :3, 2]
    # Distance to a line: |(I - d d^T)(x - o)|; summing the squares gives a 3x3 linear system.
    projectors = np.eye(3) - directions[:, :, None] * directions[:, None, :]
    matrix = projectors.sum(axis=0)
    if np.linalg.cond(matrix) > 1e8:
        raise DonkitError("the cameras' optical axes are (nearly) parallel: no common target")
    return np.linalg.solve(matrix, np.einsum("nij,nj->i", projectors, origins))


def fit_plane(
    points: np.ndarray, inlier_m: float, iterations: int, rng: np.random.Generator
) -> tuple[np.ndarray, float, np.ndarray]:
    """The plane through most of `points` (RANSAC), refined by least squares on its inliers.

    Args:
        points: (N, 3), N >= 3.

    Returns:
        (normal (3,) unit, offset) with normal . x + offset = 0 on the plane, and the (N,) bool
        inlier mask.
    """
    triples = points[rng.integers(0, len(points), (iterations, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    valid = lengths > 1e-12
    normals = normals[valid] / lengths[valid, None]
    offsets = -(normals * triples[valid, 0]).sum(axis=1)
    # Hypotheses are scored on a random subset: the winner's share is estimated to 0.3 %.
    judges = points[rng.choice(len(points), min(len(points), _RANSAC_JUDGES), replace=False)]
    support = (np.abs(judges @ normals.T + offsets) < inlier_m).sum(axis=0)
    best = int(np.argmax(support))
    inliers = np.abs(points @ normals[best] + offsets[best]) < inlier_m
    centroid = points[inliers].mean(axis=0)
    normal = np.linalg.svd(points[inliers] - centroid, full_matrices=False)[2][-1]
    offset = -float(normal @ centroid)
    return normal, offset, np.abs(points @ normal + offset) < inlier_m


@dataclass(frozen=True)
class Workspace:
    """A box standing on the table: a square of `half_size_m` around `centre` in the table
    plane, from `min_height_m` to `max_height_m` above it."""

    normal: np.ndarray  # (3,) unit, pointing up (towards the cameras)
    offset: float  # normal . x + offset is the height of x above the table, metres
    centre: np.ndarray  # (3,) on the table, below the point the cameras look at
    axis_u: np.ndarray  # (3,) unit, in the table plane
    axis_v: np.ndarray  # (3,) unit, in the table plane, normal x axis_u
    half_size_m: float
    min_height_m: float
    max_height_m: float

    def heights(self, points: np.ndarray) -> np.ndarray:
        """(N,) height above the table of (N, 3) world points, metres."""
        return points @ self.normal + self.offset

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N,) bool: which (N, 3) world points lie inside the box."""
        relative = points - self.centre
        return self._inside(relative @ self.axis_u, relative @ self.axis_v, self.heights(points))

    def contains_pixels(
        self, rays: np.ndarray, depth_m: np.ndarray, camera_to_world: np.ndarray
    ) -> np.ndarray:
        """(H, W) bool: which pixels of a depth image see a point inside the box.

        Computed without forming the 3D points: a coordinate of depth * ray is depth times the
        ray's coordinate plus the camera's.

        Args:
            rays: (H, W, 3) camera-frame rays with z = 1 (`pixel_rays`).
            depth_m: (H, W) metres, 0 = no reading.
            camera_to_world: (4, 4).
        """
        rotation, origin = camera_to_world[:3, :3], camera_to_world[:3, 3]
        axes = np.stack([self.axis_u, self.axis_v, self.normal], axis=1)  # world, (3, 3)
        per_metre = rays @ (rotation.T @ axes)  # (H, W, 3): u, v, height per metre of depth
        at_camera = np.array(
            [
                self.axis_u @ (origin - self.centre),
                self.axis_v @ (origin - self.centre),
                self.normal @ origin + self.offset,
            ]
        )
        coordinates = depth_m[..., None] * per_metre + at_camera
        u, v, height = coordinates[..., 0], coordinates[..., 1], coordinates[..., 2]
        return self._inside(u, v, height) & (depth_m > 0)

    def _inside(self, u: np.ndarray, v: np.ndarray, height: np.ndarray) -> np.ndarray:
        return (
            (np.abs(u) <= self.half_size_m)
            & (np.abs(v) <= self.half_size_m)
            & (height >= self.min_height_m)
            & (height <= self.max_height_m)
        )


def pixel_rays(camera: PinholeCamera) -> np.ndarray:
    """(H, W, 3) camera-frame ray of every pixel centre, scaled to z = 1."""
    uv = pixel_grid(camera.height, camera.width, np.zeros(1)).reshape(-1, 2)
    rays = backproject(uv, np.ones(len(uv)), camera.matrix)
    return rays.reshape(camera.height, camera.width, 3)


def find_workspace(scene: Scene, depths: list[np.ndarray], config: FuseConfig) -> Workspace:
    """The workspace box of a scene: RANSAC finds the table among the points near the place
    the cameras look at; the box stands on it.

    Args:
        depths: (H, W) metres per frame of `scene`.
    """
    poses = np.stack([frame.camera_to_world for frame in scene.frames])
    target = look_at_centre(poses)
    rays = pixel_rays(scene.camera)[::_SAMPLE_STRIDE, ::_SAMPLE_STRIDE].reshape(-1, 3)
    points = []
    for depth, pose in zip(depths, poses, strict=True):
        sampled = depth[::_SAMPLE_STRIDE, ::_SAMPLE_STRIDE].reshape(-1).astype(np.float64)
        seen = sampled > 0
        points.append(transform(rays[seen] * sampled[seen, None], pose))
    points = np.concatenate(points)
    # The table is what most points near the target lie on; farther away there may be floor.
    near = points[np.linalg.norm(points - target, axis=1) < 2 * config.workspace_half_size_m]
    if len(near) < 100:
        raise DonkitError(
            f"{scene.path}: too few depth readings near the point the cameras look at "
            f"({len(near)}) to find the table; check the depth images and pose_data.yaml"
        )
    rng = np.random.default_rng(config.seed)
    normal, offset, inliers = fit_plane(near, config.table_inlier_m, config.table_iterations, rng)
    camera_heights = poses[:, :3, 3] @ normal + offset
    if np.median(camera_heights) < 0:  # face the normal towards the cameras
        normal, offset, camera_heights = -normal, -offset, -camera_heights
    if inliers.mean() < 0.2 or np.any(camera_heights <= 0):
        raise DonkitError(
            f"{scene.path}: found no table plane under the cameras (the best plane holds "
            f"{inliers.mean():.0%} of the points near their target); the objects must stand "
            "on a flat surface that the views see around them"
        )
    centre = target - (normal @ target + offset) * normal
    # Any in-plane axes do: project the world axis least aligned with the normal into the plane.
    axis_u = np.eye(3)[int(np.argmin(np.abs(normal)))]
    axis_u = axis_u - (axis_u @ normal) * normal
    axis_u /= np.linalg.norm(axis_u)
    return Workspace(
        normal=normal,
        offset=offset,
        centre=centre,
        axis_u=axis_u,
        axis_v=np.cross(normal, axis_u),
        half_size_m=config.workspace_half_size_m,
        min_height_m=config.min_height_m,
        max_height_m=config.max_height_m,
    )
