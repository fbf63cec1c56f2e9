"""How things move in a tracking video: the camera's sweep around the objects, the slides and
turns of moving objects, joint keyframes, and placing the objects of a frame in the world."""

from __future__ import annotations

import math

import numpy as np

from collect.config import VideoConfig
from collect.scene import TABLE_CENTRE_M, TABLE_SIZE_M, BuiltWorld, SceneDraw
from collect.world import SimWorld
from geometry import look_at, rotation_about_axis

CLEARANCE_M = 0.01  # between arms, and between arms and objects, in every frame
OBJECT_GAP_M = 0.004  # between a moving object and the others
HIDING_REACH_M = 0.3  # farthest a moving object slides to hide behind another


def smoothstep(count: int) -> np.ndarray:
    """(count,) 0 to 1 with zero speed at both ends: 3s^2 - 2s^3 of s = 0 .. 1."""
    s = np.linspace(0.0, 1.0, count)
    return s * s * (3 - 2 * s)


def camera_trajectory(
    video: VideoConfig, centre: np.ndarray, facing_azimuth_rad: float, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Camera targets sweeping in azimuth around `centre`, looking at it.

    Azimuth sweeps `sweep_deg` about a middle near the side that faces the robot base (the arm
    reaches about 80 degrees to either side of it; the far side is out of reach); elevation
    moves between two draws at the ends and rises by `lift_deg` in the middle, where a low
    camera between the base and the objects would need the arm folded back on itself; distance
    moves linearly between two draws; a little roll comes and goes.

    Returns:
        (T, 4, 4) camera_to_world targets, and the sweep's sense (+1 anticlockwise from above).
    """
    s = np.linspace(0.0, 1.0, video.frames)
    sense = int(rng.choice([-1, 1]))
    sweep = math.radians(rng.uniform(*video.sweep_deg))
    middle = facing_azimuth_rad + math.radians(rng.uniform(-10.0, 10.0))
    azimuth = middle + sense * sweep * (s - 0.5)
    ends = rng.uniform(*video.elevation_deg, 2)
    lift = rng.uniform(*video.lift_deg)
    elevation = np.radians(np.interp(s, [0, 1], ends) + lift * np.sin(np.pi * s))
    radius = np.interp(s, [0, 1], rng.uniform(*video.radius_m, 2))
    roll = math.radians(rng.uniform(-12.0, 12.0)) * np.sin(np.pi * s)
    directions = np.stack(
        [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
         np.sin(elevation)], axis=-1,
    )  # fmt: skip
    poses = [
        look_at(centre + r * d, centre, roll_rad=float(a))
        for r, d, a in zip(radius, directions, roll, strict=True)
    ]
    return np.stack(poses), sense


def slide_and_turn(
    object_to_world: np.ndarray,
    offset_xy_m: np.ndarray,
    turn_rad: float,
    frames: int,
    arrive_at: float = 1.0,
) -> np.ndarray:
    """(T, 4, 4) poses of an object that slides by `offset_xy_m`, arriving at rest at the
    `arrive_at` share of the video, while turning `turn_rad` about the vertical through its
    origin over the whole video."""
    turned = smoothstep(frames)
    arrived = max(2, round(arrive_at * (frames - 1)) + 1)
    slid = np.concatenate([smoothstep(arrived), np.ones(max(0, frames - arrived))])[:frames]
    poses = np.repeat(object_to_world[None], frames, axis=0)
    for t in range(frames):
        rotation = rotation_about_axis((0, 0, 1), turned[t] * turn_rad)
        poses[t, :3, :3] = rotation @ object_to_world[:3, :3]
        poses[t, :2, 3] = object_to_world[:2, 3] + slid[t] * offset_xy_m
    return poses


def viewpoint_change_deg(camera_to_world: np.ndarray, object_to_world: np.ndarray) -> float:
    """Largest angle between the directions from which an object is seen, relative to the first
    frame, in the object's own frame (so object turns count as well as camera motion).

    Args:
        camera_to_world, object_to_world: (T, 4, 4).
    """
    towards_camera = camera_to_world[:, :3, 3] - object_to_world[:, :3, 3]
    local = np.einsum("tji,tj->ti", object_to_world[:, :3, :3], towards_camera)
    local /= np.linalg.norm(local, axis=1, keepdims=True)
    cosine = np.clip(local @ local[0], -1.0, 1.0)
    return float(np.degrees(np.arccos(cosine)).max())


def hiding_place(
    built: BuiltWorld,
    draw: SceneDraw,
    moving: int,
    camera_m: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """(2,) offset, metres, that slides object `moving` (an index into draw.objects) behind
    another object as the camera at `camera_m` (3,) sees them (its footprint centre on the line
    from the camera through the other's, just beyond it), or None when no other object stands
    near enough."""
    start = built.object_to_world[moving][:2, 3]
    radius = {
        i: float(np.linalg.norm(obj.asset.mesh.vertices[:, :2], axis=1).max())
        for i, obj in enumerate(draw.objects)
    }
    options = []
    for other, obj in enumerate(draw.objects):
        if other == moving or obj.is_distractor:
            continue
        centre = built.object_to_world[other][:2, 3]
        away = centre - camera_m[:2]
        away /= np.linalg.norm(away)
        target = centre + away * (radius[other] + radius[moving] + OBJECT_GAP_M)
        if np.linalg.norm(target - start) <= HIDING_REACH_M:
            options.append(target - start)
    if not options:
        return None
    return options[int(rng.integers(len(options)))]


def interpolate_keyframes(keyframes: dict[int, np.ndarray], frames: int) -> list[np.ndarray]:
    """Joint positions for every frame, linear between the keyframes (frame: joints)."""
    times = sorted(keyframes)
    values = np.stack([keyframes[t] for t in times])
    return [
        np.array([np.interp(t, times, values[:, j]) for j in range(values.shape[1])])
        for t in range(frames)
    ]


def on_table(points_xy: np.ndarray, margin_m: float = 0.05) -> bool:
    """Whether every point (N, 2) (world x, y, metres) lies on the table top, at least
    `margin_m` inside its edges."""
    half = np.array(TABLE_SIZE_M) / 2 - margin_m
    return bool(np.all(np.abs(points_xy - np.array(TABLE_CENTRE_M)) <= half))


def place_objects(
    world: SimWorld, built: BuiltWorld, poses_t: np.ndarray, which: list[int]
) -> None:
    """Put the objects `which` (indices into built.object_bodies) at their poses of one frame,
    `poses_t` (objects, 4, 4) object_to_world."""
    for i in which:
        world.set_body_pose(built.object_bodies[i], poses_t[i])


def touches(world: SimWorld, body: int, others: list[int], gap_m: float) -> bool:
    """Whether pybullet body `body` comes within `gap_m` of any other body of `others`."""
    return any(
        world.client.getClosestPoints(body, other, gap_m) for other in others if other != body
    )
