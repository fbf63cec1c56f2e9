"""Candidate camera views on a spherical cap around the objects (pure numpy)."""

from __future__ import annotations

import math

import numpy as np

from collect.config import OrbitConfig
from geometry import look_at


def sample_views(
    orbit: OrbitConfig,
    centre: np.ndarray,
    facing_azimuth_rad: float,
    count: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """`count` look-at camera poses drawn uniformly over the cap's area.

    Elevation is drawn uniform in its sine (uniform area); radius and roll uniform in their
    ranges.

    Args:
        centre: (3,) world point every camera looks at, metres.
        facing_azimuth_rad: world azimuth (about +z) of the direction that `orbit.azimuth_deg`
            = 0 denotes (towards the robot base).

    Returns:
        `count` (4, 4) camera_to_world poses (OpenCV camera axes), in the order drawn.
    """
    sin_low, sin_high = (math.sin(math.radians(e)) for e in orbit.elevation_deg)
    elevation = np.arcsin(rng.uniform(sin_low, sin_high, count))
    heading = facing_azimuth_rad + np.radians(rng.uniform(*orbit.azimuth_deg, count))
    radius = rng.uniform(*orbit.radius_m, count)
    roll = np.radians(rng.uniform(*orbit.roll_deg, count))
    directions = np.stack(
        [
            np.cos(elevation) * np.cos(heading),
            np.cos(elevation) * np.sin(heading),
            np.sin(elevation),
        ],
        axis=-1,
    )
    return [
        look_at(centre + r * direction, centre, roll_rad=float(angle))
        for r, direction, angle in zip(radius, directions, roll, strict=True)
    ]


def nearest_neighbour_path(positions: np.ndarray, start: np.ndarray) -> list[int]:
    """Visit every position once, always moving to the nearest unvisited one.

    The arm follows this order, so consecutive views are close (short moves, overlapping
    images) wherever the reachable views allow.

    Args:
        positions: (N, 3) camera positions, metres.
        start: (3,) where the path starts (the camera at the arm's home pose).

    Returns:
        The N indices in visiting order.
    """
    remaining = list(range(len(positions)))
    order = []
    current = np.asarray(start, dtype=np.float64)
    while remaining:
        distances = np.linalg.norm(positions[remaining] - current, axis=1)
        nearest = remaining.pop(int(np.argmin(distances)))
        order.append(nearest)
        current = positions[nearest]
    return order


def thin_evenly(count: int, keep: int) -> list[int]:
    """Indices of `keep` items spread evenly over `count` (all of them when keep >= count)."""
    if keep >= count:
        return list(range(count))
    return [round(i * (count - 1) / max(keep - 1, 1)) for i in range(keep)]
