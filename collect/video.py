"""Videos with ground-truth point tracks, made in simulation (TAP-Vid conventions).

The arm sweeps its wrist camera around objects on the table (IK per frame, moved under physics,
each frame's camera pose from forward kinematics) while some objects slide and turn along
scripted paths and a second arm passes its hand between the camera and the objects. Points
sampled on the objects' exact meshes move with their object; in each frame they are projected
with geometry.project and marked occluded when they fall outside the image, or when the rendered
depth and body ids at their pixel show something else in front of them (another object, an
arm, or the object's own near side).

`simulate_video` is pure simulation (arrays out); `write_video_files` and `sim_videos` put them
on disk.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from collect.arm import ARMS, Arm, tool_target
from collect.config import CollectConfig, VideoConfig, plain_config
from collect.runner import check_output_writable
from collect.scene import (
    RANDOM_IK_SEEDS,
    TABLE_CENTRE_M,
    TABLE_SIZE_M,
    build_world,
    draw_scene,
    software_versions,
)
from collect.scene import random_stream as _stream
from collect.world import SimWorld
from geometry import (
    DonkitError,
    PinholeCamera,
    invert_pose,
    look_at,
    make_pose,
    project,
    rotation_about_axis,
    transform,
)
from geometry.image_io import read_yaml, to_plain, write_yaml
from geometry.parallel import progress_bar, run_tasks
from geometry.scene_io import camera_info_dict, pose_to_dict
from geometry.tapvid_io import TapVidVideo, first_visible_query_points, write_tapvid
from geometry.video_io import write_video

LAYOUT_STREAM, TRAJECTORY_STREAM, PATH_STREAM, IK_STREAM, POINT_STREAM = range(5)
# Why a point is not visible in a frame (0: it is).
VISIBLE, OUT_OF_FRAME, SELF_OCCLUDED, BY_OBJECT, BY_ARM = range(5)
REASONS = ("visible", "out_of_frame", "self_occluded", "by_object", "by_arm")
CANDIDATES_PER_POINT = 25  # surface points tried per track kept
OCCLUDER_ARM = "kuka_iiwa"
OCCLUDER_PARKED = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # upright, out of the way
OCCLUDER_BASE_DISTANCE_M = 0.55  # from the objects' centre, sideways to the line of sight
OCCLUDER_CLEARANCE_M = 0.05  # the hand passes this far in front of the nearest object
OCCLUDER_CAMERA_GAP_M = 0.12  # ... and at least this far from the camera
OCCLUDER_LATERAL_M = 0.14  # half the width of its sweep across the line of sight
CLEARANCE_M = 0.01  # between arms, and between arms and objects, in every frame
OBJECT_GAP_M = 0.004  # between a moving object and the others
HIDING_REACH_M = 0.3  # farthest a moving object slides to hide behind another
# The camera turns about its optical axis as it sweeps around the objects, and so must the
# arm's last joint: on a long sweep it runs out of range. The camera is then mounted turned on
# the wrist (the image stays upright; only the wrist's share of the turn changes): these mount
# angles are tried in turn, degrees.
LIFT = np.array([0.0, 0.0, 0.15])  # the hand comes and goes this far above its sweep
MOUNT_YAWS_DEG = (0.0, 60.0, -60.0, 100.0, -100.0)
MAX_JOINT_STEP_RAD = 0.35  # largest joint motion between two frames of a smooth sweep


@dataclass
class SimulatedVideo:
    """A simulated video and its ground truth."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    camera: PinholeCamera
    camera_to_world: np.ndarray  # (T, 4, 4) from forward kinematics of each frame
    object_names: list[str]  # every object of the scene, distractors included
    object_to_world: np.ndarray  # (T, objects, 4, 4)
    moving: list[str]  # names of the objects that move
    points_object: np.ndarray  # (N, 3) float64 track points in their object's frame, metres
    point_object: np.ndarray  # (N,) int64 index into object_names
    target_points: np.ndarray  # (N, T, 2) float32 pixel (x, y), also where occluded
    reason: np.ndarray  # (N, T) uint8: VISIBLE, OUT_OF_FRAME, SELF_OCCLUDED, BY_OBJECT, BY_ARM
    viewpoint_change_deg: dict[str, float]  # per tracked object, over the video
    attempts: int  # layouts and trajectories tried
    rejected: dict[str, int]  # why the attempts before the last one failed

    @property
    def occluded(self) -> np.ndarray:
        """(N, T) bool."""
        return self.reason != VISIBLE

    def reason_shares(self) -> dict[str, float]:
        """Share of all (point, frame) entries for each reason."""
        return {name: float(np.mean(self.reason == code)) for code, name in enumerate(REASONS)}


@dataclass(frozen=True)
class _Plan:
    camera_targets: np.ndarray  # (T, 4, 4)
    camera_to_tool: np.ndarray  # (4, 4) the mount, turned about the optical axis as needed
    camera_joints: list[np.ndarray]
    object_to_world: np.ndarray  # (T, objects, 4, 4)
    moving: list[int]
    occluder_base: np.ndarray | None  # (3,)
    occluder_joints: list[np.ndarray] | None


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


def simulate_video(
    config: CollectConfig,
    video: VideoConfig,
    index: int,
    progress: Callable[[int], object] | None = None,
) -> SimulatedVideo:
    """Simulate video `index`: deterministic from `video.seed` and the index.

    Layouts and trajectories are drawn until one is reachable by the camera arm, collision-free
    in every frame and changes every object's viewpoint by `video.min_viewpoint_change_deg`;
    DonkitError after `video.attempts` draws.
    """
    scene_config = dataclasses.replace(
        config,
        scene=dataclasses.replace(
            config.scene, objects_per_scene=video.objects_per_video, single_object_share=0.0
        ),
    )
    failures: dict[str, int] = {}
    for attempt in range(video.attempts):
        draw = draw_scene(scene_config, _stream(video.seed, index, attempt, LAYOUT_STREAM))
        with SimWorld(config.camera.renderer, config.robot.time_step_s) as world:
            built = build_world(world, scene_config, draw)
            occluder = None
            if video.occluder_arm:
                # Loaded out of the way; the plan puts its base where it is needed.
                occluder = Arm(world.client, ARMS[OCCLUDER_ARM], (0.35, 0.0, -5.0))
            plan, failure = _plan(world, built, draw, scene_config, video, index, attempt, occluder)
            if plan is None:
                failures[failure] = failures.get(failure, 0) + 1
                continue
            points_rng = _stream(video.seed, index, attempt, POINT_STREAM)
            result = _record(
                world, built, draw, scene_config, video, plan, occluder, points_rng, progress
            )
        points, bodies, reason, target_points = result
        names = [obj.name for obj in draw.objects]
        tracked = sorted(set(bodies.tolist()))
        return SimulatedVideo(
            frames=target_points[1],
            camera=draw.camera,
            camera_to_world=target_points[2],
            object_names=names,
            object_to_world=plan.object_to_world,
            moving=[names[i] for i in plan.moving],
            points_object=points,
            point_object=bodies,
            target_points=target_points[0],
            reason=reason,
            viewpoint_change_deg={
                names[i]: viewpoint_change_deg(target_points[2], plan.object_to_world[:, i])
                for i in tracked
            },
            attempts=attempt + 1,
            rejected=dict(sorted(failures.items())),
        )
    reasons = ", ".join(f"{name} {count}" for name, count in sorted(failures.items()))
    raise DonkitError(
        f"video {index}: none of {video.attempts} layouts and trajectories worked ({reasons}); "
        "narrow video.sweep_deg or video.radius_m, or raise video.attempts"
    )


def _hiding_place(built, draw, moving: int, camera_m: np.ndarray, rng: np.random.Generator):
    """(2,) offset that slides object `moving` behind another object as the camera at
    `camera_m` (3,) sees them (its footprint centre on the line from the camera through the
    other's, just beyond it), or None when no other object stands near enough."""
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


def _plan(
    world: SimWorld,
    built,
    draw,
    config: CollectConfig,
    video: VideoConfig,
    index: int,
    attempt: int,
    occluder: Arm | None,
) -> tuple[_Plan | None, str]:
    """A reachable, collision-free plan for every frame, or None and why not."""
    frames = video.frames
    tracked = [i for i, obj in enumerate(draw.objects) if not obj.is_distractor]
    trajectory_rng = _stream(video.seed, index, attempt, TRAJECTORY_STREAM)
    targets, sense = camera_trajectory(
        video, built.centre, built.facing_azimuth_rad, trajectory_rng
    )

    path_rng = _stream(video.seed, index, attempt, PATH_STREAM)
    moving = sorted(int(i) for i in path_rng.choice(tracked, video.moving_objects, replace=False))
    poses = np.repeat(np.stack(built.object_to_world)[None], frames, axis=0)
    for i in moving:
        offset = _hiding_place(built, draw, i, targets[frames // 2, :3, 3], path_rng)
        arrive_at = 0.5  # hidden from the middle of the video on
        if offset is None or not video.hide_behind_objects:
            heading = path_rng.uniform(0, 2 * np.pi)
            offset = path_rng.uniform(*video.move_distance_m) * np.array(
                [math.cos(heading), math.sin(heading)]
            )
            arrive_at = 1.0
        # Turning against the camera's sweep adds to the change of viewpoint.
        turn = -sense * math.radians(path_rng.uniform(*video.turn_deg))
        poses[:, i] = slide_and_turn(built.object_to_world[i], offset, turn, frames, arrive_at)
    for i in range(len(draw.objects)):
        if not _on_table(poses[:, i, :2, 3]):
            return None, "off_table"
    change = min(viewpoint_change_deg(targets, poses[:, i]) for i in tracked)
    if change < video.min_viewpoint_change_deg:
        return None, "small_viewpoint_change"

    occluder_base, occluder_joints = None, None
    if occluder is not None:
        occluder_base, occluder_joints, failure = _plan_occluder(
            world, built, draw, poses, targets, occluder, config.scene.table_height_m
        )
        if occluder_joints is None:
            return None, failure

    for t in range(frames):
        _place(world, built, poses[t], moving)
        for i in moving:
            if _touches(world, built.object_bodies[i], built.object_bodies, OBJECT_GAP_M):
                return None, "object_collision"
    ik_rng = _stream(video.seed, index, attempt, IK_STREAM)
    obstacles = list(built.obstacles) + ([occluder.body] if occluder is not None else [])
    failure = ""
    for mount_yaw_deg in MOUNT_YAWS_DEG:
        camera_to_tool = built.camera_to_tool @ make_pose(
            rotation_about_axis((0, 0, 1), math.radians(mount_yaw_deg)), np.zeros(3)
        )
        joints, failure = _camera_joints(
            world, built, targets, camera_to_tool, poses, moving, occluder, occluder_joints,
            obstacles, ik_rng,
        )  # fmt: skip
        if joints is not None:
            break
    _place(world, built, poses[0], moving)
    built.arm.set_configuration(built.arm.home)
    if joints is None:
        return None, failure
    plan = _Plan(targets, camera_to_tool, joints, poses, moving, occluder_base, occluder_joints)
    return plan, ""


def _camera_joints(
    world, built, targets, camera_to_tool, poses, moving, occluder, occluder_joints, obstacles,
    ik_rng,
):  # fmt: skip
    """Joints that put the camera at each target, each solved from the previous frame's so that
    the arm moves smoothly; None and why when a frame is out of reach, needs a jump, or
    collides."""
    arm = built.arm
    joints: list[np.ndarray] = []
    for t, target in enumerate(targets):
        _place(world, built, poses[t], moving)
        if occluder is not None:
            occluder.set_configuration(occluder_joints[t])
        if joints:
            seeds = [joints[-1]]
        else:
            seeds = [arm.home, *ik_rng.uniform(arm.lower, arm.upper, (RANDOM_IK_SEEDS, 7))]
        solution, reason = arm.solve_ik(tool_target(target, camera_to_tool), seeds)
        if solution is None:
            return None, f"camera_{reason}"
        if joints and np.abs(solution - joints[-1]).max() > MAX_JOINT_STEP_RAD:
            return None, "camera_jump"
        arm.set_configuration(solution)
        if arm.clearance_violations(obstacles, CLEARANCE_M):
            return None, "camera_arm_collision"
        joints.append(solution)
    return joints, ""


def _plan_occluder(world, built, draw, poses, targets, occluder: Arm, table_height_m: float):
    """The second arm's base and joints per frame: parked upright, then its hand sweeps across
    the line of sight in front of the objects in the middle third of the video, then parks."""
    frames = len(targets)
    middle = frames // 2
    towards_camera = targets[middle, :3, 3] - built.centre
    camera_distance = float(np.linalg.norm(towards_camera))
    sight = towards_camera / camera_distance
    across = np.cross((0.0, 0.0, 1.0), sight)
    across /= np.linalg.norm(across)
    tracked = [i for i, obj in enumerate(draw.objects) if not obj.is_distractor]
    vertices = np.concatenate(
        [transform(draw.objects[i].asset.mesh.vertices, poses[middle, i]) for i in tracked]
    )
    # The hand passes on the line of sight, just in front of the objects.
    front = float(((vertices - built.centre) @ sight).max()) + OCCLUDER_CLEARANCE_M
    if front > camera_distance - OCCLUDER_CAMERA_GAP_M:
        return None, None, "occluder_no_room"
    # It stands beside the objects, on the table, as far from the camera arm's base as it can.
    sides = [
        side for side in (1.0, -1.0)
        if _on_table((built.centre + side * OCCLUDER_BASE_DISTANCE_M * across)[None, :2], 0.1)
    ]  # fmt: skip
    if not sides:
        return None, None, "occluder_off_table"
    side = max(sides, key=lambda s: np.linalg.norm((built.centre + s * across)[:2]))
    base = built.centre + side * OCCLUDER_BASE_DISTANCE_M * across
    base[2] = table_height_m
    world.client.resetBasePositionAndOrientation(occluder.body, base.tolist(), [0, 0, 0, 1])

    start, end = round(0.3 * frames), round(0.7 * frames)
    approach = max(1, round(0.15 * frames))
    # The hand points down and sweeps from its base's side across to the other.
    down = make_pose(np.diag([1.0, -1.0, -1.0]), np.zeros(3))
    sweep = np.linspace(side * OCCLUDER_LATERAL_M, -side * OCCLUDER_LATERAL_M, end - start + 1)
    parked = np.array(OCCLUDER_PARKED)
    home = np.array(ARMS[OCCLUDER_ARM].home)
    hands = [built.centre + front * sight + lateral * across for lateral in sweep]
    # Keyframes in joint space: parked, above the sweep's start, along the sweep, above its end,
    # parked again; in between, straight lines in joint space.
    keyframes = {0: parked, max(0, start - approach): parked}
    sweep_frames = range(start, end + 1)
    path = [
        (start - approach // 2, hands[0] + LIFT),
        *zip(sweep_frames, hands, strict=True),
        (end + approach // 2, hands[-1] + LIFT),
    ]
    previous = home
    for t, hand in path:
        target = down.copy()
        target[:3, 3] = hand
        solution, reason = occluder.solve_ik(target, [previous, home])
        if solution is None:
            return None, None, f"occluder_{reason}"
        keyframes[t] = previous = solution
    keyframes[min(frames - 1, end + approach)] = parked
    keyframes[frames - 1] = parked
    sequence = _interpolate(keyframes, frames)
    for t in range(frames):
        occluder.set_configuration(sequence[t])
        _place(world, built, poses[t], list(range(len(built.object_bodies))))
        # It stands on the table: only the objects are obstacles to it.
        if occluder.clearance_violations(built.object_bodies, CLEARANCE_M):
            return None, None, "occluder_collision"
    occluder.set_configuration(parked)
    return base, sequence, ""


def _interpolate(keyframes: dict[int, np.ndarray], frames: int) -> list[np.ndarray]:
    """Joint positions for every frame, linear between the keyframes (frame: joints)."""
    times = sorted(keyframes)
    values = np.stack([keyframes[t] for t in times])
    return [
        np.array([np.interp(t, times, values[:, j]) for j in range(values.shape[1])])
        for t in range(frames)
    ]


def _on_table(points_xy: np.ndarray, margin_m: float = 0.05) -> bool:
    half = np.array(TABLE_SIZE_M) / 2 - margin_m
    return bool(np.all(np.abs(points_xy - np.array(TABLE_CENTRE_M)) <= half))


def _place(world: SimWorld, built, poses_t: np.ndarray, which: list[int]) -> None:
    for i in which:
        world.set_body_pose(built.object_bodies[i], poses_t[i])


def _touches(world: SimWorld, body: int, others: list[int], gap_m: float) -> bool:
    return any(
        world.client.getClosestPoints(body, other, gap_m) for other in others if other != body
    )


def _record(world, built, draw, config, video, plan: _Plan, occluder, rng, progress):
    """Move the arm through the plan, render each frame and track the candidate points."""
    report = progress or (lambda n: None)
    tracked = [i for i, obj in enumerate(draw.objects) if not obj.is_distractor]
    per_object = math.ceil(video.points * CANDIDATES_PER_POINT / len(tracked))
    candidates, owners = [], []
    for i in tracked:
        points, _ = trimesh.sample.sample_surface(
            draw.objects[i].asset.mesh, per_object, seed=int(rng.integers(2**31))
        )
        candidates.append(np.asarray(points, dtype=np.float64))
        owners.append(np.full(per_object, i))
    candidates_object = np.concatenate(candidates)
    owner = np.concatenate(owners)
    bodies = np.array(built.object_bodies)[owner]
    arm_bodies = {built.arm.body} | ({occluder.body} if occluder is not None else set())
    object_bodies = set(built.object_bodies)

    frames, cameras, xy_all, reason_all = [], [], [], []
    camera_config = config.camera
    for t in range(video.frames):
        _place(world, built, plan.object_to_world[t], plan.moving)
        if occluder is not None:
            occluder.set_configuration(plan.occluder_joints[t])
        built.arm.move_to(
            plan.camera_joints[t],
            config.orbit.joint_speed_rad_s,
            config.robot.time_step_s,
            config.robot.settle_tolerance_rad,
        )
        if occluder is not None:  # it has no motors holding it while the physics stepped
            occluder.set_configuration(plan.occluder_joints[t])
        camera_to_world = built.arm.tool_pose() @ plan.camera_to_tool
        rgb, depth, body_ids = world.render(
            draw.camera, camera_to_world, camera_config.near_m, camera_config.far_m, draw.light
        )
        points_world = np.concatenate(
            [transform(candidates_object[owner == i], plan.object_to_world[t, i]) for i in tracked]
        )
        xy, visible, seen = point_visibility(
            points_world, bodies, draw.camera, camera_to_world, depth, body_ids,
            video.visibility_tolerance_m,
        )  # fmt: skip
        reason = np.full(len(xy), BY_OBJECT, np.uint8)
        reason[visible] = VISIBLE
        reason[~visible & (seen == -2)] = OUT_OF_FRAME
        reason[~visible & (seen == bodies)] = SELF_OCCLUDED
        reason[~visible & np.isin(seen, list(arm_bodies))] = BY_ARM
        hidden_by_other = ~visible & ~np.isin(seen, [-2, *arm_bodies, *object_bodies])
        reason[hidden_by_other & (seen != bodies)] = BY_OBJECT  # table edge, floor: rare
        frames.append(rgb)
        cameras.append(camera_to_world)
        xy_all.append(xy)
        reason_all.append(reason)
        report(1)
    reason = np.stack(reason_all, axis=1)  # (candidates, T)
    xy = np.stack(xy_all, axis=1)
    chosen = _choose_points(reason == VISIBLE, owner, video, rng)
    return (
        candidates_object[chosen],
        owner[chosen].astype(np.int64),
        reason[chosen],
        (xy[chosen].astype(np.float32), np.stack(frames), np.stack(cameras)),
    )


def _choose_points(
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


VIDEO_FORMAT = 1
FRAME_UNIT = "frame"


def video_name(index: int) -> str:
    return f"video_{index:04d}"


def video_identity(config: CollectConfig, video: VideoConfig, index: int) -> dict[str, Any]:
    """What decides a video's bytes, as plain data: the seeds, its index and both configs
    without the counts (so that growing `video.videos` keeps the videos already made)."""
    collect_data, video_data = plain_config(config), to_plain(video)
    collect_data.pop("scenes")
    video_data.pop("videos")
    return {"format": VIDEO_FORMAT, "index": index, "video": video_data, "collect": collect_data}


@dataclass
class VideoReport:
    """What happened to one video, for the summary line."""

    name: str
    status: str  # "made", or "skipped" (already made with the same config)
    frames: int
    points: int
    viewpoint_change_deg: float  # the least over its tracked objects
    reason_shares: dict[str, float]
    attempts: int
    seconds: float


@dataclass
class VideoSummary:
    reports: list[VideoReport]
    seconds: float

    def line(self) -> str:
        """One line for the end of `donkit sim-video`."""
        made = sum(report.status == "made" for report in self.reports)
        frames = sum(report.frames for report in self.reports)
        points = sum(report.points for report in self.reports)
        weights = np.array([r.points * r.frames for r in self.reports], dtype=np.float64)
        shares = {
            name: float(np.average([r.reason_shares[name] for r in self.reports], weights=weights))
            for name in REASONS
        }
        hidden = ", ".join(
            f"{name.replace('_', ' ')} {100 * shares[name]:.0f} %" for name in REASONS[1:]
        )
        least = min(report.viewpoint_change_deg for report in self.reports)
        return (
            f"{len(self.reports)} videos ({made} made, {len(self.reports) - made} kept), "
            f"{frames} frames, {points} tracks; viewpoint change >= {least:.0f} deg; "
            f"{100 * (1 - shares['visible']):.0f} % of track frames occluded ({hidden}); "
            f"{self.seconds:.1f} s"
        )


def make_video(
    config: CollectConfig,
    video: VideoConfig,
    index: int,
    out: Path,
    overwrite: bool = False,
    progress: Callable[[int], object] | None = None,
) -> VideoReport:
    """Simulate video `index` and write OUT/video_XXXX.npz (TAP-Vid), .mp4 and .yaml.

    The .yaml (what made the video, camera and object poses per frame, the tracked points in
    their objects' frames, occlusion shares) is written last: a video with its .yaml is complete
    and is kept when the same config asks for it again.
    """
    started = time.perf_counter()
    report_progress = progress or (lambda n: None)
    name = video_name(index)
    paths = {suffix: Path(out) / f"{name}{suffix}" for suffix in (".npz", ".mp4", ".yaml")}
    identity = video_identity(config, video, index)
    if paths[".yaml"].is_file():
        metadata = read_yaml(paths[".yaml"], "video metadata")
        complete = all(path.is_file() for path in paths.values())
        if isinstance(metadata, dict) and metadata.get("identity") == identity and complete:
            report_progress(video.frames)
            return _report_of_kept(name, metadata)
        if not overwrite:
            raise DonkitError(
                f"{paths['.yaml']} was made with another config (or is incomplete); pass "
                "--overwrite to replace it, or choose another --out"
            )
    simulated = simulate_video(config, video, index, report_progress)
    query_points = first_visible_query_points(simulated.target_points, simulated.occluded)
    write_tapvid(
        paths[".npz"],
        TapVidVideo(simulated.frames, simulated.target_points, simulated.occluded, query_points),
    )
    write_video(paths[".mp4"], simulated.frames, video.fps)
    seconds = time.perf_counter() - started
    metadata = _metadata(simulated, identity, video, seconds)
    write_yaml(paths[".yaml"], metadata)
    return _report_of_kept(name, metadata, status="made")


def _report_of_kept(name: str, metadata: dict[str, Any], status: str = "skipped") -> VideoReport:
    return VideoReport(
        name=name,
        status=status,
        frames=int(metadata["frames"]),
        points=len(metadata["points"]),
        viewpoint_change_deg=min(metadata["viewpoint_change_deg"].values()),
        reason_shares=metadata["occlusion"],
        attempts=int(metadata["attempts"]),
        seconds=float(metadata["seconds"]),
    )


def _metadata(
    simulated: SimulatedVideo, identity: dict[str, Any], video: VideoConfig, seconds: float
) -> dict[str, Any]:
    names = simulated.object_names
    return {
        "identity": identity,
        "software": software_versions(),
        "frames": len(simulated.frames),
        "fps": video.fps,
        "camera": camera_info_dict(simulated.camera),
        "camera_to_world": [pose_to_dict(pose) for pose in simulated.camera_to_world],
        "objects": [
            {
                "name": name,
                "moving": name in simulated.moving,
                # One pose per frame for an object that moves, one for all frames otherwise.
                "object_to_world": (
                    [pose_to_dict(pose) for pose in simulated.object_to_world[:, i]]
                    if name in simulated.moving
                    else pose_to_dict(simulated.object_to_world[0, i])
                ),
            }
            for i, name in enumerate(names)
        ],
        "points": [
            {"object": names[int(owner)], "xyz_object": [round(float(c), 6) for c in point]}
            for point, owner in zip(simulated.points_object, simulated.point_object, strict=True)
        ],
        "occlusion": simulated.reason_shares(),
        "viewpoint_change_deg": {
            name: round(value, 2) for name, value in simulated.viewpoint_change_deg.items()
        },
        "attempts": simulated.attempts,
        "rejected_attempts": simulated.rejected,
        "seconds": round(seconds, 3),
    }


def sim_videos(
    config: CollectConfig,
    video: VideoConfig,
    out: Path,
    workers: int = 1,
    backend: str = "local",
    overwrite: bool = False,
    show_progress: bool | None = None,
) -> VideoSummary:
    """Make `video.videos` videos in `out` (video_0000, ...); finished ones are kept."""
    out = Path(out)
    check_output_writable(out)
    started = time.perf_counter()
    tasks = [(config, video, index, out.resolve(), overwrite) for index in range(video.videos)]
    with progress_bar(video.videos * video.frames, f"sim-video {out}", show_progress) as bar:
        reports = run_tasks(make_video, tasks, workers, backend, bar.update, video.frames)
    return VideoSummary(reports, time.perf_counter() - started)
