"""One scene's pybullet world: floor, table, objects, the arm's client, and the camera.

The only module that calls pybullet's rendering; it returns plain arrays (RGB, depth in metres,
body id per pixel) so that everything after it is pure numpy.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from collect.bullet import BulletClient, pybullet, quiet_c_output
from collect.rendering import linearize_depth, projection_matrix, view_matrix
from formats import DonkitError
from geometry import PinholeCamera, matrix_to_quaternion, pose_from_quaternion
from sim_assets import ObjectAsset


@dataclass(frozen=True)
class Light:
    """TinyRenderer/EGL lighting of a scene."""

    direction: tuple[float, float, float] = (0.4, -0.3, 1.0)
    """Direction towards the light, world frame."""
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.6
    diffuse: float = 0.45
    specular: float = 0.05


class SimWorld:
    """A pybullet client (DIRECT mode) with the bodies of one scene, and a camera to render it."""

    def __init__(self, renderer: str = "tiny", time_step_s: float = 1.0 / 240.0, gui: bool = False):
        with quiet_c_output():
            self.client = BulletClient(pybullet.GUI if gui else pybullet.DIRECT)
        self.renderer = renderer
        if renderer == "egl":
            self._load_egl()
        self.client.setGravity(0.0, 0.0, -9.81)
        self.client.setTimeStep(time_step_s)
        # Meshes and textures go to pybullet as files; they live as long as this world.
        self._asset_dir = Path(tempfile.mkdtemp(prefix="donkit-assets-"))
        self._asset_count = 0

    def _load_egl(self) -> None:
        # The plugin must be loaded before any body, or it never sees them.
        spec = importlib.util.find_spec("eglRenderer")
        plugin = -1
        if spec is not None and spec.origin is not None:
            with quiet_c_output():
                plugin = self.client.loadPlugin(spec.origin, "_eglRendererPlugin")
        if plugin < 0:
            raise DonkitError(
                "collect.camera.renderer is 'egl' but pybullet's EGL plugin could not be loaded "
                "(is libEGL installed, e.g. Debian's libegl1 and libegl-mesa0?); "
                "use --set collect.camera.renderer=tiny"
            )

    def close(self) -> None:
        with quiet_c_output():  # the EGL plugin says goodbye on stdout
            self.client.disconnect()
        shutil.rmtree(self._asset_dir, ignore_errors=True)

    def __enter__(self) -> SimWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_body(
        self,
        asset: ObjectAsset,
        object_to_world: np.ndarray,
        mass_kg: float = 0.0,
    ) -> int:
        """Create a textured body from `asset` with its object frame at `object_to_world` (4, 4).

        Collision uses the convex hull of the mesh; mass 0 makes the body static.
        """
        visual = self.client.createVisualShape(
            pybullet.GEOM_MESH, fileName=str(self._write_render_mesh(asset))
        )
        collision = self.client.createCollisionShape(
            pybullet.GEOM_MESH, vertices=asset.mesh.convex_hull.vertices.tolist()
        )
        w, x, y, z = matrix_to_quaternion(object_to_world[:3, :3])
        body = self.client.createMultiBody(
            baseMass=mass_kg,
            baseCollisionShapeIndex=collision,
            baseVisualShapeIndex=visual,
            basePosition=object_to_world[:3, 3].tolist(),
            baseOrientation=[x, y, z, w],
        )
        self.client.changeVisualShape(
            body, -1, textureUniqueId=self._load_texture(asset.texture), rgbaColor=[1, 1, 1, 1]
        )
        return body

    def _write_render_mesh(self, asset: ObjectAsset) -> Path:
        """The asset's render arrays as a Wavefront OBJ file (positions, UVs, normals).

        Through a file rather than createVisualShape's vertex arguments because the EGL plugin
        only reads meshes from files (it crashes on vertex arrays); one path serves both renderers.
        """
        path = self._asset_dir / f"{self._asset_count:04d}.obj"
        self._asset_count += 1
        vertices = "\n".join(
            f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in asset.render_vertices.tolist()
        )
        uvs = "\n".join(f"vt {u:.9g} {v:.9g}" for u, v in asset.render_uvs.tolist())
        normals = "\n".join(
            f"vn {x:.6g} {y:.6g} {z:.6g}" for x, y, z in asset.render_normals.tolist()
        )
        faces = "\n".join(
            f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}"
            for a, b, c in (asset.render_faces + 1).tolist()
        )
        path.write_text(f"{vertices}\n{uvs}\n{normals}\n{faces}\n")
        return path

    def _load_texture(self, texture: np.ndarray) -> int:
        # BMP: the file only lives until pybullet has read it, and BMP is 10x quicker than PNG.
        path = self._asset_dir / f"{self._asset_count:04d}.bmp"
        self._asset_count += 1
        cv2.imwrite(str(path), texture[:, :, ::-1])
        return self.client.loadTexture(str(path))

    def body_pose(self, body: int) -> np.ndarray:
        """(4, 4) object_to_world of a body's own frame (the mesh origin).

        pybullet reports the centre-of-mass frame; the local inertial frame converts it.
        """
        position, orientation = self.client.getBasePositionAndOrientation(body)
        inertial = self.client.getDynamicsInfo(body, -1)
        com_to_world = _pose_xyzw(orientation, position)
        com_to_object = _pose_xyzw(inertial[4], inertial[3])
        return com_to_world @ np.linalg.inv(com_to_object)

    def set_body_pose(self, body: int, object_to_world: np.ndarray) -> None:
        """Place a body's own frame (the mesh origin) at `object_to_world` (4, 4)."""
        inertial = self.client.getDynamicsInfo(body, -1)
        com_to_world = object_to_world @ _pose_xyzw(inertial[4], inertial[3])
        w, x, y, z = matrix_to_quaternion(com_to_world[:3, :3])
        self.client.resetBasePositionAndOrientation(
            body, com_to_world[:3, 3].tolist(), [x, y, z, w]
        )

    def settle(self, bodies: list[int], steps: int) -> None:
        """Let `bodies` fall into a resting pose, then freeze them so nothing moves them again."""
        for _ in range(steps):
            self.client.stepSimulation()
        for body in bodies:
            self.client.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])
            self.client.changeDynamics(body, -1, mass=0.0)

    def camera_image_arguments(
        self,
        camera: PinholeCamera,
        camera_to_world: np.ndarray,
        near_m: float,
        far_m: float,
        light: Light,
    ) -> dict[str, object]:
        """The arguments of pybullet's getCameraImage for one view (see `render`)."""
        return {
            "width": camera.width,
            "height": camera.height,
            "viewMatrix": view_matrix(camera_to_world),
            "projectionMatrix": projection_matrix(camera, near_m, far_m, self.renderer),
            "lightDirection": list(light.direction),
            "lightColor": list(light.colour),
            "lightAmbientCoeff": light.ambient,
            "lightDiffuseCoeff": light.diffuse,
            "lightSpecularCoeff": light.specular,
            "shadow": 0,
            "renderer": (
                pybullet.ER_BULLET_HARDWARE_OPENGL
                if self.renderer == "egl"
                else pybullet.ER_TINY_RENDERER
            ),
        }

    def render(
        self,
        camera: PinholeCamera,
        camera_to_world: np.ndarray,
        near_m: float,
        far_m: float,
        light: Light,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Render one view.

        Returns:
            rgb: (H, W, 3) uint8.
            depth: (H, W) float32 camera z in metres, 0 where nothing was hit.
            body_ids: (H, W) int32 pybullet body id per pixel, -1 for background.
        """
        arguments = self.camera_image_arguments(camera, camera_to_world, near_m, far_m, light)
        if self.renderer == "egl":  # the plugin prints driver details on its first frames
            with quiet_c_output():
                _, _, rgba, depth_buffer, body_ids = self.client.getCameraImage(**arguments)
        else:
            _, _, rgba, depth_buffer, body_ids = self.client.getCameraImage(**arguments)
        shape = (camera.height, camera.width)
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(*shape, 4)[:, :, :3]
        depth = linearize_depth(np.asarray(depth_buffer).reshape(shape), near_m, far_m)
        ids = np.asarray(body_ids, dtype=np.int32).reshape(shape)
        return np.ascontiguousarray(rgb), depth, ids


def _pose_xyzw(orientation_xyzw: tuple, position: tuple) -> np.ndarray:
    x, y, z, w = orientation_xyzw
    return pose_from_quaternion(np.array([w, x, y, z]), np.array(position, dtype=np.float64))
