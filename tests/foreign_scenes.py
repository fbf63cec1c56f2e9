"""Scenes in the Dense Object Nets layout written by another program than donkit's collector.

Users bring recordings donkit did not make; every stage must run on them. This writer shares no
code with `collect/` or `formats/` (only geometry's look-at and the truth files' name): pybullet
driven directly, small pybullet_data objects on a plane, a free hand-held-like camera (no orbit,
no arm) with other intrinsics (an off-centre principal point), images written with OpenCV,
pose_data.yaml with integer nanosecond timestamps as DON's own recordings have, and no
ground_truth/ or metadata.yaml.

What the simulator really saw is kept beside the DON files for measuring against
(descriptors.truth): each view's exact z-depth, float32 metres, 0 where the ray meets nothing, in
`truth/NNNNNN_depth.npy` (`TRUTH_DEPTH`). No stage of the pipeline reads it.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pybullet
import pybullet_data
import yaml
from scipy.ndimage import gaussian_filter, maximum_filter, minimum_filter
from scipy.spatial.transform import Rotation

from descriptors.truth import TRUTH_DEPTH
from geometry import look_at

WIDTH, HEIGHT = 256, 192
FX, FY, CX, CY = 228.0, 231.0, 131.4, 88.6
NEAR_M, FAR_M = 0.05, 4.0
# (URDF, global scale): pybullet_data's small objects, scaled to table-top size.
OBJECTS = (
    ("duck_vhacd.urdf", 1.2),
    ("teddy_vhacd.urdf", 1.6),
    ("soccerball.urdf", 0.09),
    ("cube_small.urdf", 1.6),
)


# pybullet's TinyRenderer draws the image half a pixel left of and below where OpenGL's convention
# (pixel centres at x + 0.5) puts it: rendered without this, the images obey a principal point of
# (CX + 0.5, CY - 0.5), and exact depth moved between views disagrees by a median 0.44 mm instead
# of 0.005 mm (tests/descriptors/test_truth.py).
TINY_RENDERER_SHIFT_PX = (-0.5, 0.5)
STEREO_BASELINE_M, DISPARITY_NOISE_PX, GRAZING_DEG = 0.075, 0.08, 78.0


def opengl_projection() -> list[float]:
    """Column-major OpenGL projection whose pixel (u, v) centres obey u = FX x / z + CX."""
    n, f = NEAR_M, FAR_M
    cx, cy = CX + TINY_RENDERER_SHIFT_PX[0] + 0.5, CY + TINY_RENDERER_SHIFT_PX[1] + 0.5
    matrix = np.array(
        [
            [2 * FX / WIDTH, 0.0, 1.0 - 2.0 * cx / WIDTH, 0.0],
            [0.0, 2 * FY / HEIGHT, 2.0 * cy / HEIGHT - 1.0, 0.0],
            [0.0, 0.0, -(f + n) / (f - n), -2.0 * f * n / (f - n)],
            [0.0, 0.0, -1.0, 0.0],
        ]
    )
    return matrix.T.reshape(-1).tolist()


def render(client: int, camera_to_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB (H, W, 3) uint8 and metric z-depth (H, W) float64 of the view."""
    world_to_opengl = np.diag([1.0, -1.0, -1.0, 1.0]) @ np.linalg.inv(camera_to_world)
    _, _, rgba, buffer, _ = pybullet.getCameraImage(
        WIDTH, HEIGHT, world_to_opengl.T.reshape(-1).tolist(), opengl_projection(),
        renderer=pybullet.ER_TINY_RENDERER, physicsClientId=client,
    )  # fmt: skip
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(HEIGHT, WIDTH, 4)[..., :3]
    buffer = np.asarray(buffer, dtype=np.float64).reshape(HEIGHT, WIDTH)
    depth = FAR_M * NEAR_M / (FAR_M - (FAR_M - NEAR_M) * buffer)
    return rgb, depth


def sensor_reading(depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a structured-light camera makes of the exact z-depth (H, W) metres, 0 = none.

    Unlike donkit's collector (axial noise per pixel): the noise lives in disparity
    (baseline STEREO_BASELINE_M, DISPARITY_NOISE_PX, correlated over about 2 pixels as block
    matching makes it), so it grows with the square of the depth; no reading in the projector's
    shadow beside a depth edge (2 pixels each side), where the surface is seen at a grazing angle
    (beyond GRAZING_DEG), and at a few random pixels.
    """
    valid = depth > 0
    disparity = FX * STEREO_BASELINE_M / np.where(valid, depth, 1.0)
    noise = gaussian_filter(rng.normal(size=depth.shape), 1.0)
    disparity = disparity + noise * (DISPARITY_NOISE_PX / noise.std())
    reading = np.where(valid, FX * STEREO_BASELINE_M / disparity, 0.0)
    spread = maximum_filter(depth, size=3) - minimum_filter(depth, size=3)
    shadow = maximum_filter(spread > 0.01, size=5)
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH]
    points = np.stack([(u - CX) / FX * depth, (v - CY) / FY * depth, depth], axis=-1)
    normals = np.cross(np.gradient(points, axis=1), np.gradient(points, axis=0))
    facing = np.abs((normals * points).sum(-1)) / (
        np.linalg.norm(normals, axis=-1) * np.linalg.norm(points, axis=-1) + 1e-12
    )
    grazing = facing < math.cos(math.radians(GRAZING_DEG))
    dropped = shadow | grazing | (rng.random(depth.shape) < 0.005)
    return np.where(valid & ~dropped, reading, 0.0)


def write_foreign_scene(root: Path, seed: int, views: int = 12, noisy: bool = False) -> Path:
    """A scene at `root`: a few objects on a plane, `views` views from a free camera sweeping
    round them (random heights, distances and rolls); with `noisy`, the depth images are what a
    structured-light sensor would read (`sensor_reading`), else the exact depth to the
    millimetre. Returns `root`."""
    rng = np.random.default_rng(seed)
    client = pybullet.connect(pybullet.DIRECT)
    try:
        pybullet.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        pybullet.loadURDF("plane.urdf", physicsClientId=client)
        chosen = rng.choice(len(OBJECTS), size=3, replace=False)
        for number, which in enumerate(chosen):
            name, scale = OBJECTS[which]
            angle = 2 * math.pi * number / 3 + rng.uniform(-0.4, 0.4)
            position = [0.08 * math.cos(angle), 0.08 * math.sin(angle), 0.0]
            body = pybullet.loadURDF(
                name, position, pybullet.getQuaternionFromEuler([0, 0, rng.uniform(0, 6.28)]),
                globalScaling=scale, useFixedBase=True, physicsClientId=client,
            )  # fmt: skip
            # Rest it on the plane: its lowest point at z = 0.
            low = pybullet.getAABB(body, physicsClientId=client)[0][2]
            pybullet.resetBasePositionAndOrientation(
                body, [position[0], position[1], position[2] - low],
                pybullet.getBasePositionAndOrientation(body, physicsClientId=client)[1],
                physicsClientId=client,
            )  # fmt: skip
        images = root / "processed" / "images"
        images.mkdir(parents=True, exist_ok=True)
        (root / TRUTH_DEPTH.format(index=0)).parent.mkdir(exist_ok=True)
        poses = {}
        start_ns = 1_522_959_543_826_398_464 + int(rng.integers(10**9))
        azimuths = np.sort(rng.uniform(0.0, 1.4 * math.pi, views))
        for index, azimuth in enumerate(azimuths):
            distance = rng.uniform(0.32, 0.5)
            elevation = rng.uniform(math.radians(35), math.radians(65))
            eye = distance * np.array(
                [
                    math.cos(elevation) * math.cos(azimuth),
                    math.cos(elevation) * math.sin(azimuth),
                    math.sin(elevation),
                ]
            )
            target = np.array([rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), 0.03])
            camera_to_world = look_at(eye, target, roll_rad=rng.uniform(-0.2, 0.2))
            rgb, depth = render(client, camera_to_world)
            depth = np.where(depth < FAR_M * 0.99, depth, 0.0)
            np.save(root / TRUTH_DEPTH.format(index=index), depth.astype(np.float32))
            millimetres = np.rint((sensor_reading(depth, rng) if noisy else depth) * 1000.0)
            cv2.imwrite(str(images / f"{index:06d}_rgb.png"), rgb[..., ::-1])
            cv2.imwrite(str(images / f"{index:06d}_depth.png"), millimetres.astype(np.uint16))
            x, y, z, w = Rotation.from_matrix(camera_to_world[:3, :3]).as_quat()
            poses[index] = {
                "camera_to_world": {
                    "translation": dict(
                        zip("xyz", map(float, camera_to_world[:3, 3]), strict=True)
                    ),
                    "quaternion": dict(zip("wxyz", map(float, (w, x, y, z)), strict=True)),
                },
                "timestamp": start_ns + index * 33_333_333,
                "rgb_image_filename": f"{index:06d}_rgb.png",
                "depth_image_filename": f"{index:06d}_depth.png",
            }
        camera_info = {
            "image_width": WIDTH,
            "image_height": HEIGHT,
            "camera_matrix": {"rows": 3, "cols": 3, "data": [FX, 0, CX, 0, FY, CY, 0, 0, 1]},
        }
        (images / "camera_info.yaml").write_text(yaml.safe_dump(camera_info))
        (images / "pose_data.yaml").write_text(yaml.safe_dump(poses))
    finally:
        pybullet.disconnect(client)
    return root
