"""Which surface points a frame shows, and why the others are hidden (TAP-Vid's `occluded`)."""

from __future__ import annotations

import numpy as np

from collect.config import VideoConfig
from formats import DonkitError
from geometry import PinholeCamera, invert_pose, project, transform

# Why a point is not visible in a frame (0: it is).
VISIBLE, OUT_OF_FRAME, SELF_OCCLUDED, BY_OBJECT, BY_ARM = range(5)
REASONS = ("visible", "out_of_frame", "self_occluded", "by_object", "by_arm")
CANDIDATES_PER_POINT = 25  # surface points tried per track kept


def point_visibility(
    points_world: np.ndarray,
    point_bodies: np.ndarray,
    camera: PinholeCamera,
    camera_to_world: np.ndarray,
    depth_m: np.ndarray,
    body_ids: np.ndarray,
    tolerance_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where surface points appear in one rendered frame, and whether they are seen.

    A point is visible when its nearest pixel lies in the image, in front of the camera, shows
    the point's own body, and the rendered depth there is within `tolerance_m` of the point's.

    Args:
        points_world: (N, 3) world points on the bodies' surfaces, metres.
        point_bodies: (N,) pybullet body id of each point.
        depth_m: (H, W) rendered camera z of everything (0 where nothing was hit).
        body_ids: (H, W) pybullet body id per pixel (-1 background).

    Returns:
        xy: (N, 2) float64 exact pixel (x, y) of each point (meaningless behind the camera).
        visible: (N,) bool.
        seen_body: (N,) body id at each point's nearest pixel (-2 outside the image).
    """
    uv, z = project(transform(points_world, invert_pose(camera_to_world)), camera.matrix)
    nearest = np.rint(uv).astype(np.int64)
    inside = (
        (z > 0)
        & (nearest[:, 0] >= 0)
        & (nearest[:, 0] < camera.width)
        & (nearest[:, 1] >= 0)
        & (nearest[:, 1] < camera.height)
    )
    seen_body = np.full(len(points_world), -2, np.int64)
    seen_depth = np.zeros(len(points_world))
    rows, columns = nearest[inside, 1], nearest[inside, 0]
    seen_body[inside] = body_ids[rows, columns]
    seen_depth[inside] = depth_m[rows, columns]
    visible = inside & (seen_body == point_bodies) & (np.abs(seen_depth - z) <= tolerance_m)
    return uv, visible, seen_body


def hiding_reasons(
    visible: np.ndarray, seen_body: np.ndarray, point_bodies: np.ndarray, arm_bodies: set[int]
) -> np.ndarray:
    """(N,) uint8 why each point is hidden in a frame: VISIBLE where it is not, OUT_OF_FRAME,
    SELF_OCCLUDED (its own body in front of it), BY_ARM, otherwise BY_OBJECT (another object, or
    rarely the table's edge or the floor).

    Args:
        visible, seen_body: of `point_visibility`; point_bodies: (N,) body id of each point;
        arm_bodies: body ids of the arms.
    """
    reason = np.full(len(visible), BY_OBJECT, np.uint8)
    reason[visible] = VISIBLE
    reason[~visible & (seen_body == -2)] = OUT_OF_FRAME
    reason[~visible & (seen_body == point_bodies)] = SELF_OCCLUDED
    reason[~visible & np.isin(seen_body, list(arm_bodies))] = BY_ARM
    return reason


def choose_points(
    visible: np.ndarray, owner: np.ndarray, video: VideoConfig, rng: np.random.Generator
) -> np.ndarray:
    """Indices of up to `video.points` candidates visible in at least `min_visible_share` of the
    frames, as evenly over the objects as they allow, in a random order."""
    eligible = visible.mean(axis=1) >= video.min_visible_share
    pools = [rng.permutation(np.flatnonzero(eligible & (owner == i))) for i in np.unique(owner)]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < video.points and any(depth < len(pool) for pool in pools):
        chosen += [int(pool[depth]) for pool in pools if depth < len(pool)]
        depth += 1
    chosen = chosen[: video.points]
    if not chosen:
        raise DonkitError("no surface point is visible long enough; lower min_visible_share")
    return np.array(sorted(chosen))
