"""Where objects stand on the table: random, non-overlapping footprints (pure numpy)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import ConvexHull

from formats import DonkitError


def footprint(vertices: np.ndarray) -> np.ndarray:
    """The convex outline of a mesh seen from above.

    Args:
        vertices: (N, 3) mesh vertices in the object frame, metres.

    Returns:
        (K, 2) corners of the convex hull of their (x, y), anticlockwise.
    """
    xy = np.asarray(vertices, dtype=np.float64)[:, :2]
    return xy[ConvexHull(xy).vertices]


def polygons_apart(polygon_a: np.ndarray, polygon_b: np.ndarray, gap_m: float) -> bool:
    """Whether two convex polygons are at least `gap_m` apart along one of their edge normals.

    The separating-axis test: a gap along some edge normal proves the polygons that far apart
    in that direction (their true distance can only be larger), so this never passes
    overlapping or too-close polygons.

    Args:
        polygon_a, polygon_b: (K, 2) convex polygons, corners in order.
    """
    for polygon in (polygon_a, polygon_b):
        edges = np.roll(polygon, -1, axis=0) - polygon
        edges = edges[np.linalg.norm(edges, axis=1) > 0]  # a repeated corner has no normal
        normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        project_a, project_b = polygon_a @ normals.T, polygon_b @ normals.T
        if np.any(
            (project_a.max(axis=0) + gap_m <= project_b.min(axis=0))
            | (project_b.max(axis=0) + gap_m <= project_a.min(axis=0))
        ):
            return True
    return False


def place(
    footprints: list[np.ndarray],
    regions: list[tuple[np.ndarray, np.ndarray]],
    gap_m: float,
    rng: np.random.Generator,
    layouts: int = 100,
    tries_per_object: int = 100,
) -> list[tuple[float, float, float]]:
    """Random poses on the table for every footprint, each in its region, none closer than
    `gap_m` to another.

    Objects are placed in turn at random positions and headings; when one finds no free spot,
    the whole layout starts again (an early object in the middle can leave no room for a large
    later one).

    Args:
        footprints: (K_i, 2) convex outlines in the objects' frames.
        regions: (low, high) corners, (2,) each, of the area where each object's origin may go.

    Returns:
        (x, y, yaw) per object: metres and radians.

    Raises:
        DonkitError: when no layout is found.
    """
    for _ in range(layouts):
        poses: list[tuple[float, float, float]] = []
        outlines: list[np.ndarray] = []
        for outline, (low, high) in zip(footprints, regions, strict=True):
            for _ in range(tries_per_object):
                x, y = rng.uniform(low, high)
                yaw = rng.uniform(0.0, 2 * math.pi)
                cosine, sine = math.cos(yaw), math.sin(yaw)
                placed = outline @ np.array([[cosine, sine], [-sine, cosine]]) + (x, y)
                if all(polygons_apart(placed, other, gap_m) for other in outlines):
                    poses.append((float(x), float(y), float(yaw)))
                    outlines.append(placed)
                    break
            else:
                break
        if len(poses) == len(footprints):
            return poses
    raise DonkitError(
        f"could not lay out {len(footprints)} objects without overlap in {layouts} tries; "
        "enlarge collect.scene.region_m, lower collect.scene.min_gap_m or "
        "collect.scene.objects_per_scene"
    )
