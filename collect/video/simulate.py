"""Videos with ground-truth point tracks, made in simulation (TAP-Vid conventions).

The arm sweeps its wrist camera around objects on the table (IK per frame, moved under physics,
each frame's camera pose from forward kinematics) while some objects slide and turn along
scripted paths and a second arm passes its hand between the camera and the objects. Points
sampled on the objects' exact meshes move with their object; in each frame they are projected
with geometry.project and marked occluded when they fall outside the image, or when the rendered
depth and body ids at their pixel show something else in front of them (another object, an
arm, or the object's own near side).

`simulate_video` is pure simulation (arrays out); `collect.video.files` puts them on disk.
Planning is `collect.video.plan` (with `motion` and `occluder`), visibility `visibility`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh

from collect.arm import ARMS, Arm
from collect.config import CollectConfig, VideoConfig
from collect.scene import BuiltWorld, SceneDraw, build_world, draw_scene, random_stream
from collect.video.motion import place_objects, viewpoint_change_deg
from collect.video.occluder import OCCLUDER_ARM
from collect.video.plan import LAYOUT_STREAM, POINT_STREAM, VideoPlan, plan_video
from collect.video.visibility import (
    CANDIDATES_PER_POINT,
    REASONS,
    VISIBLE,
    choose_points,
    hiding_reasons,
    point_visibility,
)
from collect.world import SimWorld
from formats import DonkitError
from geometry import PinholeCamera, transform


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
        draw = draw_scene(scene_config, random_stream(video.seed, index, attempt, LAYOUT_STREAM))
        with SimWorld(config.camera.renderer, config.robot.time_step_s) as world:
            built = build_world(world, scene_config, draw)
            occluder = None
            if video.occluder_arm:
                # Loaded out of the way; the plan puts its base where it is needed.
                occluder = Arm(world.client, ARMS[OCCLUDER_ARM], (0.35, 0.0, -5.0))
            plan, failure = plan_video(
                world, built, draw, scene_config, video, index, attempt, occluder
            )
            if plan is None:
                failures[failure] = failures.get(failure, 0) + 1
                continue
            points_rng = random_stream(video.seed, index, attempt, POINT_STREAM)
            recording = record_video(
                world, built, draw, scene_config, video, plan, occluder, points_rng, progress
            )
        names = [obj.name for obj in draw.objects]
        tracked = sorted(set(recording.point_object.tolist()))
        return SimulatedVideo(
            frames=recording.frames,
            camera=draw.camera,
            camera_to_world=recording.camera_to_world,
            object_names=names,
            object_to_world=plan.object_to_world,
            moving=[names[i] for i in plan.moving],
            points_object=recording.points_object,
            point_object=recording.point_object,
            target_points=recording.target_points,
            reason=recording.reason,
            viewpoint_change_deg={
                names[i]: viewpoint_change_deg(
                    recording.camera_to_world, plan.object_to_world[:, i]
                )
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


@dataclass
class Recording:
    """What the camera recorded along a plan, and the tracks of the points chosen."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    camera_to_world: np.ndarray  # (T, 4, 4) from forward kinematics of each frame
    points_object: np.ndarray  # (N, 3) float64 track points in their object's frame, metres
    point_object: np.ndarray  # (N,) int64 index of each point's object in the scene's objects
    target_points: np.ndarray  # (N, T, 2) float32 pixel (x, y), also where occluded
    reason: np.ndarray  # (N, T) uint8: why each point is hidden in each frame (VISIBLE: it is not)


def record_video(
    world: SimWorld,
    built: BuiltWorld,
    draw: SceneDraw,
    config: CollectConfig,
    video: VideoConfig,
    plan: VideoPlan,
    occluder: Arm | None,
    rng: np.random.Generator,
    progress: Callable[[int], object] | None,
) -> Recording:
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

    frames, cameras, xy_all, reason_all = [], [], [], []
    camera_config = config.camera
    for t in range(video.frames):
        place_objects(world, built, plan.object_to_world[t], plan.moving)
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
        frames.append(rgb)
        cameras.append(camera_to_world)
        xy_all.append(xy)
        reason_all.append(hiding_reasons(visible, seen, bodies, arm_bodies))
        report(1)
    reason = np.stack(reason_all, axis=1)  # (candidates, T)
    xy = np.stack(xy_all, axis=1)
    chosen = choose_points(reason == VISIBLE, owner, video, rng)
    return Recording(
        frames=np.stack(frames),
        camera_to_world=np.stack(cameras),
        points_object=candidates_object[chosen],
        point_object=owner[chosen].astype(np.int64),
        target_points=xy[chosen].astype(np.float32),
        reason=reason[chosen],
    )
