"""How well a recorded scene holds together, measured from its files alone.

`depth_agreement` moves frame A's depth into frame B with the intrinsics and poses on disk and
compares it with B's depth where B sees the same surface: a check of poses, intrinsics and depth
together, which works on any scene in the DON layout, simulated or real.
`segmentation_agreement` compares the simulator's ground truth (meshes and object poses) with
its segmentation images; `rendered_intrinsics` measures the camera a renderer really renders.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.optimize import least_squares

from formats.ground_truth import read_ground_truth
from formats.scenes import Scene, load_scene
from geometry import (
    PinholeCamera,
    backproject,
    backproject_depth,
    inside_image,
    invert_pose,
    look_at,
    make_pose,
    project,
    transform,
)

OCCLUSION_MARGIN_M = 0.01  # a point this far behind B's surface is hidden from B
GRAZING_LIMIT_DEG = 75.0  # surfaces seen more obliquely than this are not compared
TABLE_CONTACT_M = 0.003  # depth cannot tell object points this close to the table from it


def depth_agreement(scene: Scene, a: int, b: int) -> np.ndarray:
    """|dz| in metres between A's depth moved into B and B's depth, at A's pixels that B sees.

    B sees a pixel of A when its point lands inside B, is at most `OCCLUSION_MARGIN_M` behind
    B's surface there, lies on a surface facing B (within `GRAZING_LIMIT_DEG`), and B's depth is
    sampled away from a depth discontinuity (its four neighbours within 1 cm). B's depth is
    interpolated bilinearly at the exact (sub-pixel) location.

    Args:
        a, b: positions in `scene.frames`.

    Returns:
        (N,) float64 metres.
    """
    k = scene.camera.matrix
    depth_a, depth_b = scene.depth(a).astype(np.float64), scene.depth(b).astype(np.float64)
    points_a = backproject_depth(depth_a, k)
    normals_a = _normals_towards_camera(points_a)
    rows, columns = np.nonzero(depth_a > 0)
    a_to_b = invert_pose(scene.frames[b].camera_to_world) @ scene.frames[a].camera_to_world
    points_b = transform(points_a[rows, columns], a_to_b)
    normals_b = normals_a[rows, columns] @ a_to_b[:3, :3].T
    uv_b, z_b = project(points_b, k)
    width, height = scene.camera.width, scene.camera.height
    inside = (uv_b[:, 0] >= 0) & (uv_b[:, 0] <= width - 1) & (uv_b[:, 1] >= 0)
    inside &= (uv_b[:, 1] <= height - 1) & (z_b > 0)
    sampled, smooth = _bilinear(depth_b, uv_b)
    facing = -(normals_b * points_b).sum(axis=-1) / np.linalg.norm(points_b, axis=-1)
    dz = z_b - sampled
    seen = inside & smooth & (dz < OCCLUSION_MARGIN_M)
    seen &= facing > math.cos(math.radians(GRAZING_LIMIT_DEG))
    return np.abs(dz[seen])


def _bilinear(image: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear samples of `image` (H, W) at `uv` (N, 2), and whether the four neighbours are
    all readings within 1 cm of each other (one surface, no discontinuity)."""
    height, width = image.shape
    u0 = np.clip(np.floor(uv[:, 0]).astype(int), 0, width - 2)
    v0 = np.clip(np.floor(uv[:, 1]).astype(int), 0, height - 2)
    fu, fv = uv[:, 0] - u0, uv[:, 1] - v0
    corners = np.stack(
        [image[v0, u0], image[v0, u0 + 1], image[v0 + 1, u0], image[v0 + 1, u0 + 1]], axis=-1
    )
    weights = np.stack([(1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv], axis=-1)
    smooth = (corners > 0).all(axis=-1) & (np.ptp(corners, axis=-1) < 0.01)
    return (corners * weights).sum(axis=-1), smooth


def _normals_towards_camera(points: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit normals of a backprojected depth image (central differences), each
    turned to face the camera."""
    along_u = np.zeros_like(points)
    along_v = np.zeros_like(points)
    along_u[:, 1:-1] = points[:, 2:] - points[:, :-2]
    along_v[1:-1] = points[2:] - points[:-2]
    normals = np.cross(along_u, along_v)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True) + 1e-12
    normals[(normals * points).sum(axis=-1) > 0] *= -1
    return normals


@dataclass(frozen=True)
class SegmentationAgreement:
    """For one object: of the surface points the frames see, how many fall on its segment."""

    name: str
    is_distractor: bool
    seen: int
    """Point observations: points sampled on the mesh, times the frames whose depth shows them."""
    on_segment: int
    """... whose nearest pixel the segmentation gives to this object."""
    within_one_pixel: int
    """... whose object is in the 3 x 3 pixels around (rounding moves a point up to 0.71 px)."""


def segmentation_agreement(
    root: Path, samples_per_object: int = 3000
) -> list[SegmentationAgreement]:
    """Project points sampled on each ground-truth mesh into every frame; where the frame's
    depth shows the point itself (within 3 mm), look up the segmentation at its pixel.

    Points within `TABLE_CONTACT_M` of the table are left out: no depth test tells them from
    the table they stand on.
    """
    root = Path(root)
    scene = load_scene(root)
    truth = read_ground_truth(root)
    k = scene.camera.matrix
    segmentations = [scene.segmentation(position) for position in range(len(scene.frames))]
    depths = [scene.depth(position) for position in range(len(scene.frames))]
    results = []
    for obj in truth.objects:
        points, _ = trimesh.sample.sample_surface(obj.mesh(), samples_per_object, seed=0)
        points_world = transform(points, obj.object_to_world)
        points_world = points_world[points_world[:, 2] > truth.table.height_m + TABLE_CONTACT_M]
        seen = on_segment = near = 0
        for frame, segmentation, depth in zip(scene.frames, segmentations, depths, strict=True):
            uv, z = project(transform(points_world, invert_pose(frame.camera_to_world)), k)
            inside = inside_image(uv, scene.camera.width, scene.camera.height) & (z > 0)
            u, v = np.rint(uv[inside]).astype(int).T
            visible = np.abs(depth[v, u] - z[inside]) < 0.003
            u, v = u[visible], v[visible]
            mine = segmentation == obj.segmentation_id
            padded = np.pad(mine, 1)
            neighbourhood = np.zeros(len(u), dtype=bool)
            for du, dv in itertools.product((-1, 0, 1), repeat=2):
                neighbourhood |= padded[v + 1 + dv, u + 1 + du]
            seen += len(u)
            on_segment += int(mine[v, u].sum())
            near += int(neighbourhood.sum())
        results.append(SegmentationAgreement(obj.name, obj.distractor, seen, on_segment, near))
    return results


def rendered_intrinsics(renderer: str, camera: PinholeCamera) -> tuple[float, float, float]:
    """The (cx, cy, f) in pixels with which `renderer` really renders when asked for `camera`.

    Renders the depth of a large plane from two tilted views rolled by 0 and 90 degrees and fits
    the pinhole model to it. One view cannot do: the inverse depth of a plane is linear in u and v
    and pins down f but only one combination of cx and cy.
    """
    from collect.world import Light, SimWorld  # pybullet: loaded only by those who render
    from sim_assets import build_box

    views = []
    with SimWorld(renderer) as world:
        floor = build_box((6.0, 6.0, 0.02), np.full((8, 8, 3), 200, np.uint8))
        world.add_body(floor, make_pose(np.eye(3), np.array([0.0, 0.0, -0.02])))
        for roll in (0.0, math.pi / 2):
            camera_to_world = look_at([0.3, 0.2, 0.5], [0.6, 0.5, 0.0], roll_rad=roll)
            _, depth, _ = world.render(camera, camera_to_world, 0.03, 3.0, Light())
            views.append((depth.astype(np.float64), camera_to_world))

    def residual(params: np.ndarray) -> np.ndarray:
        cx, cy, focal = params
        matrix = PinholeCamera(camera.width, camera.height, focal, focal, cx, cy).matrix
        errors = []
        for depth, camera_to_world in views:
            # The plane z = 0 in the camera frame: normal . x = offset.
            normal = camera_to_world[:3, :3].T @ np.array([0.0, 0.0, 1.0])
            offset = -camera_to_world[2, 3]
            rows, columns = np.nonzero(depth > 0)
            uv = np.stack([columns, rows], axis=-1).astype(np.float64)
            rays = backproject(uv, np.ones(len(uv)), matrix)
            errors.append(offset / (rays @ normal) - depth[rows, columns])
        return np.concatenate(errors)

    cx, cy, focal = least_squares(residual, [camera.cx, camera.cy, camera.fx]).x
    return float(cx), float(cy), float(focal)
