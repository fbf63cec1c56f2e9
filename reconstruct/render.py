"""Depth and pictures of a mesh seen from a camera, by ray casting (Open3D's RaycastingScene)."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import open3d.core as o3c

from geometry import PinholeCamera
from reconstruct.tsdf import TriangleMesh
from reconstruct.workspace import pixel_rays


class MeshRenderer:
    """Renders one mesh's depth into any pinhole view; holds the ray-casting acceleration
    structure, built once."""

    def __init__(self, mesh: TriangleMesh):
        self._mesh = mesh
        self._scene = o3d.t.geometry.RaycastingScene()
        if not mesh.empty:
            self._scene.add_triangles(
                o3c.Tensor(mesh.vertices.astype(np.float32)),
                o3c.Tensor(mesh.faces.astype(np.uint32)),
            )
        self._rays: dict[PinholeCamera, np.ndarray] = {}

    def _cast(self, camera: PinholeCamera, camera_to_world: np.ndarray) -> dict[str, np.ndarray]:
        if camera not in self._rays:
            self._rays[camera] = pixel_rays(camera).reshape(-1, 3)
        # Directions with camera z = 1: the hit distance along them is the depth itself.
        directions = self._rays[camera] @ camera_to_world[:3, :3].T
        origins = np.broadcast_to(camera_to_world[:3, 3], directions.shape)
        rays = np.concatenate([origins, directions], axis=1).astype(np.float32)
        return {
            key: value.numpy() for key, value in self._scene.cast_rays(o3c.Tensor(rays)).items()
        }

    def depth(self, camera: PinholeCamera, camera_to_world: np.ndarray) -> np.ndarray:
        """(H, W) float32 camera z in metres of the mesh at each pixel centre, 0 where the ray
        misses it (same convention as geometry.camera)."""
        hits = self._cast(camera, camera_to_world)["t_hit"]
        depth = np.where(np.isfinite(hits), hits, 0.0).astype(np.float32)
        return depth.reshape(camera.height, camera.width)

    def picture(
        self, camera: PinholeCamera, camera_to_world: np.ndarray, background: int = 255
    ) -> np.ndarray:
        """(H, W, 3) uint8: the mesh's vertex colours, shaded by a light at the camera (the
        cosine between each hit face's normal and its ray, at least 0.3), `background` where a
        ray misses it."""
        cast = self._cast(camera, camera_to_world)
        hit = np.isfinite(cast["t_hit"])
        picture = np.full((hit.size, 3), background, np.uint8)
        if hit.any():
            faces = self._mesh.faces[cast["primitive_ids"][hit].astype(np.int64)]
            colour = self._mesh.colors[faces].astype(np.float32).mean(axis=1)
            normals = cast["primitive_normals"][hit]
            rays = self._rays[camera][hit] @ camera_to_world[:3, :3].T
            rays /= np.linalg.norm(rays, axis=1, keepdims=True)
            shade = np.clip(np.abs((normals * rays).sum(axis=1)), 0.3, 1.0)
            picture[hit] = np.clip(colour * shade[:, None], 0, 255).astype(np.uint8)
        return picture.reshape(camera.height, camera.width, 3)
