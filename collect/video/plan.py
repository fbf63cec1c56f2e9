"""A video's plan: where the camera and every object are in each frame, and the joints of both
arms that put them there, reachable and collision-free."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from collect.arm import Arm, tool_target
from collect.config import CollectConfig, VideoConfig
from collect.scene import RANDOM_IK_SEEDS, BuiltWorld, SceneDraw, random_stream
from collect.video.motion import (
    CLEARANCE_M,
    OBJECT_GAP_M,
    camera_trajectory,
    hiding_place,
    on_table,
    place_objects,
    slide_and_turn,
    touches,
    viewpoint_change_deg,
)
from collect.video.occluder import plan_occluder
from collect.world import SimWorld
from geometry import make_pose, rotation_about_axis

# Each kind of draw has its own random stream (collect.scene.random_stream), so that a change
# to one (more points, say) leaves the others' draws as they were.
LAYOUT_STREAM, TRAJECTORY_STREAM, PATH_STREAM, IK_STREAM, POINT_STREAM = range(5)
# The camera turns about its optical axis as it sweeps around the objects, and so must the
# arm's last joint: on a long sweep it runs out of range. The camera is then mounted turned on
# the wrist (the image stays upright; only the wrist's share of the turn changes): these mount
# angles are tried in turn, degrees.
MOUNT_YAWS_DEG = (0.0, 60.0, -60.0, 100.0, -100.0)
MAX_JOINT_STEP_RAD = 0.35  # largest joint motion between two frames of a smooth sweep


@dataclass(frozen=True)
class VideoPlan:
    """Where everything is in every frame of a video, and the arms' joints that put it there."""

    camera_targets: np.ndarray  # (T, 4, 4)
    camera_to_tool: np.ndarray  # (4, 4) the mount, turned about the optical axis as needed
    camera_joints: list[np.ndarray]
    object_to_world: np.ndarray  # (T, objects, 4, 4)
    moving: list[int]  # indices of the objects that move
    occluder_base: np.ndarray | None  # (3,)
    occluder_joints: list[np.ndarray] | None


def plan_video(
    world: SimWorld,
    built: BuiltWorld,
    draw: SceneDraw,
    config: CollectConfig,
    video: VideoConfig,
    index: int,
    attempt: int,
    occluder: Arm | None,
) -> tuple[VideoPlan | None, str]:
    """A reachable, collision-free plan for every frame, or None and why not."""
    frames = video.frames
    tracked = [i for i, obj in enumerate(draw.objects) if not obj.is_distractor]
    trajectory_rng = random_stream(video.seed, index, attempt, TRAJECTORY_STREAM)
    targets, sense = camera_trajectory(
        video, built.centre, built.facing_azimuth_rad, trajectory_rng
    )

    path_rng = random_stream(video.seed, index, attempt, PATH_STREAM)
    moving = sorted(int(i) for i in path_rng.choice(tracked, video.moving_objects, replace=False))
    poses = np.repeat(np.stack(built.object_to_world)[None], frames, axis=0)
    for i in moving:
        offset = hiding_place(built, draw, i, targets[frames // 2, :3, 3], path_rng)
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
        if not on_table(poses[:, i, :2, 3]):
            return None, "off_table"
    change = min(viewpoint_change_deg(targets, poses[:, i]) for i in tracked)
    if change < video.min_viewpoint_change_deg:
        return None, "small_viewpoint_change"

    occluder_base, occluder_joints = None, None
    if occluder is not None:
        occluder_base, occluder_joints, failure = plan_occluder(
            world, built, draw, poses, targets, occluder, config.scene.table_height_m
        )
        if occluder_joints is None:
            return None, failure

    for t in range(frames):
        place_objects(world, built, poses[t], moving)
        for i in moving:
            if touches(world, built.object_bodies[i], built.object_bodies, OBJECT_GAP_M):
                return None, "object_collision"
    ik_rng = random_stream(video.seed, index, attempt, IK_STREAM)
    obstacles = list(built.obstacles) + ([occluder.body] if occluder is not None else [])
    failure = ""
    for mount_yaw_deg in MOUNT_YAWS_DEG:
        camera_to_tool = built.camera_to_tool @ make_pose(
            rotation_about_axis((0, 0, 1), math.radians(mount_yaw_deg)), np.zeros(3)
        )
        joints, failure = camera_joints(
            world, built, targets, camera_to_tool, poses, moving, occluder, occluder_joints,
            obstacles, ik_rng,
        )  # fmt: skip
        if joints is not None:
            break
    place_objects(world, built, poses[0], moving)
    built.arm.set_configuration(built.arm.home)
    if joints is None:
        return None, failure
    plan = VideoPlan(targets, camera_to_tool, joints, poses, moving, occluder_base, occluder_joints)
    return plan, ""


def camera_joints(
    world, built, targets, camera_to_tool, poses, moving, occluder, occluder_joints, obstacles,
    ik_rng,
):  # fmt: skip
    """Joints that put the camera at each target, each solved from the previous frame's so that
    the arm moves smoothly; None and why when a frame is out of reach, needs a jump, or
    collides."""
    arm = built.arm
    joints: list[np.ndarray] = []
    for t, target in enumerate(targets):
        place_objects(world, built, poses[t], moving)
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
