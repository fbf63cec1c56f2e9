"""How well a simulated scene holds together with its ground truth.

`segmentation_agreement` compares the simulator's ground truth (meshes and object poses) with its
segmentation images; `rendered_intrinsics` measures the camera a renderer really renders. (Depth,
intrinsics and poses against each other, from the files alone, are checked for any scene by
reconstruct.consistency: `donkit check`.)
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
from formats.scenes import load_scene
from geometry import (
    PinholeCamera,
    backproject,
    inside_image,
    invert_pose,
    look_at,
    make_pose,
    project,
    transform,
)

TABLE_CONTACT_M = 0.003  # depth cannot tell object points this close to the table from it


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
