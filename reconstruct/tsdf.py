"""TSDF fusion with Open3D's tensor VoxelBlockGrid, and the triangle mesh it yields.

Open3D 0.20's legacy ScalableTSDFVolume returns empty meshes for float depth (measured here);
the tensor VoxelBlockGrid works, and takes depth in metres directly (depth scale 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d
import open3d.core as o3c

from geometry import PinholeCamera, invert_pose

_BLOCK_RESOLUTION = 16  # voxels along a block's edge
# Open3D's block hash map grows as surfaces need it, while each block reserved up front costs
# 80 kB at once: a scene of objects uses a few hundred blocks.
_INITIAL_BLOCKS = 1024


@dataclass(frozen=True)
class TriangleMesh:
    """A triangle mesh in world coordinates, in a canonical order (see `canonical`)."""

    vertices: np.ndarray  # (V, 3) float64 metres
    faces: np.ndarray  # (F, 3) int64 vertex indices, counter-clockwise seen from outside
    colors: np.ndarray  # (V, 3) uint8 RGB

    @property
    def empty(self) -> bool:
        return len(self.faces) == 0


EMPTY_MESH = TriangleMesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros((0, 3), np.uint8))


def canonical(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray) -> TriangleMesh:
    """The same mesh with vertices sorted by position and faces sorted, each face starting at its
    smallest index (orientation kept).

    Open3D builds meshes on several threads, so its vertex order changes from run to run; in
    canonical order the same surface gives the same bytes.
    """
    order = np.lexsort(vertices.T[::-1])
    new_index = np.empty(len(order), dtype=np.int64)
    new_index[order] = np.arange(len(order))
    faces = new_index[faces].reshape(-1, 3)
    first = np.argmin(faces, axis=1)[:, None]
    faces = np.take_along_axis(faces, (first + np.arange(3)) % 3, axis=1)
    faces = faces[np.lexsort(faces.T[::-1])]
    return TriangleMesh(vertices[order], faces, colors[order])


class TsdfVolume:
    """A truncated signed distance volume with colour, integrated frame by frame."""

    def __init__(self, voxel_m: float, truncation_voxels: float, max_depth_m: float):
        self.truncation_voxels = truncation_voxels
        self.max_depth_m = max_depth_m
        self._grid = o3d.t.geometry.VoxelBlockGrid(
            attr_names=("tsdf", "weight", "color"),
            attr_dtypes=(o3c.float32, o3c.float32, o3c.float32),
            attr_channels=((1), (1), (3)),
            voxel_size=voxel_m,
            block_resolution=_BLOCK_RESOLUTION,
            block_count=_INITIAL_BLOCKS,
            device=o3c.Device("CPU:0"),
        )

    def integrate(
        self,
        depth_m: np.ndarray,
        rgb: np.ndarray,
        camera: PinholeCamera,
        camera_to_world: np.ndarray,
    ) -> None:
        """Fuse one view (a view without any reading to fuse changes nothing).

        Args:
            depth_m: (H, W) float32 metres, 0 where nothing is to be fused.
            rgb: (H, W, 3) uint8.
        """
        if not np.any((depth_m > 0) & (depth_m <= self.max_depth_m)):
            return  # Open3D refuses to integrate a view that touches no block
        depth = o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(depth_m, dtype=np.float32)))
        color = o3d.t.geometry.Image(o3c.Tensor(rgb.astype(np.float32) / 255.0))
        intrinsic = o3c.Tensor(camera.matrix, o3c.float64)
        extrinsic = o3c.Tensor(invert_pose(camera_to_world), o3c.float64)
        blocks = self._grid.compute_unique_block_coordinates(
            depth, intrinsic, extrinsic, 1.0, self.max_depth_m, self.truncation_voxels
        )
        self._grid.integrate(
            blocks,
            depth,
            color,
            intrinsic,
            intrinsic,
            extrinsic,
            1.0,
            self.max_depth_m,
            self.truncation_voxels,
        )

    def extract_mesh(self, weight_threshold: float) -> TriangleMesh:
        """The zero level set (marching cubes) where integrated `weight_threshold` times or more."""
        empty = TriangleMesh(
            np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros((0, 3), np.uint8)
        )
        if self._grid.hashmap().size() == 0:  # nothing integrated; Open3D would raise
            return empty
        mesh = self._grid.extract_triangle_mesh(weight_threshold=weight_threshold)
        if "positions" not in mesh.vertex or mesh.vertex.positions.shape[0] == 0:
            return empty
        colors = np.clip(np.rint(mesh.vertex.colors.numpy() * 255.0), 0, 255).astype(np.uint8)
        return canonical(
            mesh.vertex.positions.numpy().astype(np.float64),
            mesh.triangle.indices.numpy().astype(np.int64),
            colors,
        )
