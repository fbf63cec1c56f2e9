"""Collect one scene: lay out objects, plan an orbit, move the arm, render and write each view.

`collect_scene` is the unit of work that worker processes and Ray tasks run; a scene depends only
on the config and its index, so scenes come out the same whichever worker makes them.
"""

from __future__ import annotations

import math
import platform
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from collect import layout
from collect.arm import ARMS, Arm, pose_error, tool_target
from collect.config import CollectConfig, plain_config, scene_identity
from collect.orbit import nearest_neighbour_path, sample_views, thin_evenly
from collect.sensor import add_depth_noise, limit_range
from collect.world import Light, SimWorld
from collect.writer import SceneWriter
from formats import DonkitError
from formats.plain import read_yaml
from formats.scenes import METADATA, load_scene, pose_entry, pose_to_dict
from geometry import PinholeCamera, make_pose, rotation_about_axis, rotation_from_rpy, transform
from sim_assets import ObjectAsset, build_box, build_distractor, build_object
from textures import make_background

TABLE_SIZE_M = (1.4, 1.4)  # x, y
TABLE_CENTRE_M = (0.35, 0.0)  # relative to the arm base; the arm stands near one edge
FLOOR_SIZE_M = 8.0
FIXED_TABLE_TEXTURE_SEED = 7001  # textures when their randomization is off
FIXED_FLOOR_TEXTURE_SEED = 7002
RANDOM_IK_SEEDS = 6  # random joint configurations tried after the previous view's and home
LAYOUT_STREAM, ORBIT_STREAM, IK_STREAM, NOISE_STREAM = range(4)


def scene_name(index: int) -> str:
    return f"scene_{index:04d}"


@dataclass
class SceneReport:
    """What happened to one scene, for the summary line."""

    name: str
    status: str  # "collected", "resumed" or "skipped" (already complete)
    frames: int
    frames_reused: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class PlacedObject:
    """An object instance and where it stands before settling."""

    name: str  # unique in the scene
    asset: ObjectAsset
    is_distractor: bool
    x_m: float
    y_m: float
    yaw_rad: float


@dataclass(frozen=True)
class SceneDraw:
    """Every random choice of a scene but the views: objects, layout, look."""

    objects: list[PlacedObject]
    camera: PinholeCamera
    light: Light
    table_texture_seed: int
    floor_texture_seed: int


def draw_scene(config: CollectConfig, rng: np.random.Generator) -> SceneDraw:
    """Choose the objects and their placement, the camera intrinsics and the light."""
    scene, randomization = config.scene, config.randomization
    fewest, most = scene.objects_per_scene
    if most == 1 or (fewest == 1 and rng.random() < scene.single_object_share):
        count = 1
    else:
        count = int(rng.integers(max(fewest, 2), most + 1))
    names = [str(n) for n in rng.choice(scene.objects, size=count, replace=False)]
    assets = [
        build_object(
            name,
            texture_seed=int(rng.integers(2**31)) if randomization.object_textures else None,
        )
        for name in names
    ]
    low, high = randomization.distractors
    distractors = [
        build_distractor(int(rng.integers(2**31))) for _ in range(rng.integers(low, high + 1))
    ]
    centre = np.array(scene.workspace_centre_m)
    half = np.array(scene.region_m) / 2
    # Distractors stand around the objects, in a region twice as large.
    regions = [(centre - half, centre + half)] * len(assets)
    regions += [(centre - 2 * half, centre + 2 * half)] * len(distractors)
    poses = layout.place(
        [layout.footprint(a.mesh.vertices) for a in assets + distractors],
        regions,
        scene.min_gap_m,
        rng,
    )
    names += [f"distractor_{i + 1}" for i in range(len(distractors))]
    placed = [
        PlacedObject(name, asset, i >= len(assets), x, y, yaw)
        for i, (name, asset, (x, y, yaw)) in enumerate(
            zip(names, assets + distractors, poses, strict=True)
        )
    ]

    camera = PinholeCamera.from_fov(
        config.camera.width, config.camera.height, config.camera.fov_y_deg
    )
    focal_scale = 1.0 + randomization.focal_jitter * rng.standard_normal()
    shift = randomization.principal_point_jitter_px * rng.standard_normal(2)
    camera = PinholeCamera(
        camera.width,
        camera.height,
        camera.fx * focal_scale,
        camera.fy * focal_scale,
        camera.cx + shift[0],
        camera.cy + shift[1],
    )
    light = Light()
    if randomization.light:
        azimuth, elevation = rng.uniform(0, 2 * np.pi), rng.uniform(np.radians(30), np.radians(85))
        light = Light(
            direction=(
                math.cos(elevation) * math.cos(azimuth),
                math.cos(elevation) * math.sin(azimuth),
                math.sin(elevation),
            ),
            colour=tuple(float(c) for c in rng.uniform(0.85, 1.0, 3)),
            ambient=float(rng.uniform(0.45, 0.7)),
            diffuse=float(rng.uniform(0.3, 0.6)),
            specular=float(rng.uniform(0.0, 0.05)),
        )
    return SceneDraw(
        objects=placed,
        camera=camera,
        light=light,
        table_texture_seed=(
            int(rng.integers(2**31)) if randomization.table_texture else FIXED_TABLE_TEXTURE_SEED
        ),
        floor_texture_seed=(
            int(rng.integers(2**31)) if randomization.floor_texture else FIXED_FLOOR_TEXTURE_SEED
        ),
    )


def collect_scene(
    config: CollectConfig,
    scene_index: int,
    out_root: Path,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    gui: bool = False,
) -> SceneReport:
    """Collect scene `scene_index` into `out_root/scene_XXXX` (docs/data-formats.md).

    A complete scene made with the same config and seed is left alone; an interrupted one is
    resumed. `progress(n)` is called as frames are done; over the scene it adds up to
    `config.orbit.views`.
    """
    started = time.perf_counter()
    report_progress = progress or (lambda n: None)
    name = scene_name(scene_index)
    writer = SceneWriter(
        Path(out_root),
        name,
        scene_identity(config, scene_index),
        overwrite,
        config.camera.stereo_baseline_m,
    )
    if writer.status == "complete":
        report_progress(config.orbit.views)
        return _report_of_finished(writer.final)

    timings: Counter[str] = Counter()
    try:
        draw = draw_scene(config, random_stream(config.seed, scene_index, LAYOUT_STREAM))
        with SimWorld(config.camera.renderer, config.robot.time_step_s, gui=gui) as world:
            built = build_world(world, config, draw)
            timings["setup"] = time.perf_counter() - started
            plan = _plan_views(
                built,
                config,
                random_stream(config.seed, scene_index, ORBIT_STREAM),
                random_stream(config.seed, scene_index, IK_STREAM),
            )
            timings["planning"] = time.perf_counter() - started - timings["setup"]
            frames = _record(
                world, built, config, draw, plan, writer, scene_index, timings, report_progress
            )
    except DonkitError:
        writer.discard_if_empty()  # a scene that could not even start leaves nothing behind
        raise
    report_progress(config.orbit.views - len(frames.poses))
    dropped = Counter(reason for _, reason in plan.dropped + frames.dropped)
    timings["total"] = time.perf_counter() - started
    writer.finish(
        camera=draw.camera,
        poses=frames.poses,
        scene_description=_scene_description(config, draw, built, frames),
        meshes={f"{obj.name}.obj": obj.asset.mesh for obj in draw.objects},
        metadata={
            "software": software_versions(),
            # What stands in the scene, as a person recording real scenes would list it (DON's
            # dataset configs do the same); the pipeline uses it to pair views of different
            # objects. Geometry and poses stay in ground_truth/.
            "objects": [
                {"name": obj.name, "class": obj.asset.object_class}
                for obj in draw.objects
                if not obj.is_distractor
            ],
            "frames": {
                "kept": len(frames.poses),
                "candidates": plan.candidates,
                "dropped": dict(sorted(dropped.items())),
                "dropped_views": [
                    {"candidate": candidate, "reason": reason}
                    for candidate, reason in sorted(plan.dropped + frames.dropped)
                ],
                "max_camera_error_mm": round(1000 * frames.max_position_error_m, 4),
                "max_camera_error_deg": round(math.degrees(frames.max_angle_error_rad), 4),
            },
            "run": {
                "frames_reused": frames.reused,
                "timings_s": {key: round(value, 3) for key, value in timings.items()},
            },
        },
    )
    return SceneReport(
        name,
        "resumed" if writer.status == "resume" else "collected",
        frames=len(frames.poses),
        frames_reused=frames.reused,
        dropped=dict(dropped),
        seconds=timings["total"],
    )


def _report_of_finished(scene: Path) -> SceneReport:
    """A complete scene, kept: its frames, and the views it dropped when it was collected."""
    dropped = read_yaml(scene / METADATA, "metadata")["frames"]["dropped"]
    return SceneReport(scene.name, "skipped", len(load_scene(scene).frames), dropped=dropped)


def random_stream(*key: int) -> np.random.Generator:
    """An independent random stream per purpose: (seed, scene index, stream, [frame])."""
    return np.random.default_rng(np.random.SeedSequence(list(key)))


@dataclass
class BuiltWorld:
    arm: Arm
    object_bodies: list[int]
    obstacles: list[int]
    object_to_world: list[np.ndarray]
    centre: np.ndarray
    facing_azimuth_rad: float
    camera_to_tool: np.ndarray


def build_world(world: SimWorld, config: CollectConfig, draw: SceneDraw) -> BuiltWorld:
    table_height = config.scene.table_height_m
    table = build_box(
        (*TABLE_SIZE_M, table_height),
        make_background(draw.table_texture_seed, 768, 1152),
        name="table",
    )
    floor = build_box(
        (FLOOR_SIZE_M, FLOOR_SIZE_M, 0.02), make_background(draw.floor_texture_seed, 256, 384)
    )
    table_body = world.add_body(table, make_pose(np.eye(3), np.array([*TABLE_CENTRE_M, 0.0])))
    world.add_body(floor, make_pose(np.eye(3), np.array([0.0, 0.0, -0.02])))
    arm = Arm(world.client, ARMS[config.robot.arm], (0.0, 0.0, table_height))

    bodies = []
    for obj in draw.objects:
        pose = make_pose(
            rotation_about_axis((0, 0, 1), obj.yaw_rad),
            np.array([obj.x_m, obj.y_m, table_height + 0.002]),
        )
        bodies.append(world.add_body(obj.asset, pose, mass_kg=obj.asset.mass_kg))
    world.settle(bodies, config.scene.settle_steps)
    object_to_world = []
    for obj, body in zip(draw.objects, bodies, strict=True):
        # Bullet's collision margin leaves a settled body ~2 mm above the table; lower it onto
        # the table so that it really touches, as a real object does.
        pose = world.body_pose(body)
        pose[2, 3] += table_height - transform(obj.asset.mesh.vertices, pose)[:, 2].min()
        world.set_body_pose(body, pose)
        object_to_world.append(world.body_pose(body))

    main = [i for i, obj in enumerate(draw.objects) if not obj.is_distractor]
    corners = np.concatenate(
        [transform(draw.objects[i].asset.mesh.bounds, object_to_world[i]) for i in main]
    )
    box_low, box_high = corners.min(axis=0), corners.max(axis=0)
    centre = (box_low + box_high) / 2
    base = np.array([0.0, 0.0])
    camera_to_tool = make_pose(
        rotation_from_rpy(np.radians(config.camera.mount_rpy_deg)),
        np.array(config.camera.mount_xyz_m),
    )
    return BuiltWorld(
        arm=arm,
        object_bodies=bodies,
        obstacles=[table_body, *bodies],
        object_to_world=object_to_world,
        centre=centre,
        facing_azimuth_rad=math.atan2(base[1] - centre[1], base[0] - centre[0]),
        camera_to_tool=camera_to_tool,
    )


@dataclass
class _Plan:
    candidates: int
    views: list[tuple[int, np.ndarray, np.ndarray]]  # (candidate, camera_to_world, joints)
    dropped: list[tuple[int, str]]


def _plan_views(
    built: BuiltWorld,
    config: CollectConfig,
    orbit_rng: np.random.Generator,
    ik_rng: np.random.Generator,
) -> _Plan:
    """Solve IK for candidate views in path order (nearest neighbour first); keep the
    reachable, collision-free ones and thin them evenly along the path to `views`."""
    orbit = config.orbit
    arm = built.arm
    count = math.ceil(orbit.views * orbit.candidates_per_view)
    candidates = sample_views(orbit, built.centre, built.facing_azimuth_rad, count, orbit_rng)
    home_camera = arm.tool_pose() @ built.camera_to_tool
    path = nearest_neighbour_path(np.array([c[:3, 3] for c in candidates]), home_camera[:3, 3])
    reachable, dropped = [], []
    previous = arm.home
    for index in path:
        camera_to_world = candidates[index]
        random_seeds = list(ik_rng.uniform(arm.lower, arm.upper, (RANDOM_IK_SEEDS, len(arm.lower))))
        target = tool_target(camera_to_world, built.camera_to_tool)
        joints, reason = arm.solve_ik(target, [previous, arm.home, *random_seeds])
        if joints is None:
            dropped.append((index, reason))
            continue
        arm.set_configuration(joints)
        if arm.clearance_violations(built.obstacles, orbit.collision_margin_m):
            dropped.append((index, "collision"))
            continue
        reachable.append((index, camera_to_world, joints))
        previous = joints
    arm.set_configuration(arm.home)
    if not reachable:
        raise DonkitError(
            f"none of {count} candidate views is reachable by the {config.robot.arm} arm "
            f"({_count_reasons(dropped)}); move the objects closer "
            "(collect.scene.workspace_centre_m) or change collect.orbit.radius_m / azimuth_deg / "
            "elevation_deg"
        )
    kept = [reachable[i] for i in thin_evenly(len(reachable), orbit.views)]
    return _Plan(candidates=count, views=kept, dropped=dropped)


@dataclass
class _Frames:
    poses: dict[int, dict[str, Any]] = field(default_factory=dict)
    joint_positions: dict[int, list[float]] = field(default_factory=dict)
    dropped: list[tuple[int, str]] = field(default_factory=list)
    reused: int = 0
    max_position_error_m: float = 0.0
    max_angle_error_rad: float = 0.0


def _record(
    world: SimWorld,
    built: BuiltWorld,
    config: CollectConfig,
    draw: SceneDraw,
    plan: _Plan,
    writer: SceneWriter,
    scene_index: int,
    timings: Counter[str],
    progress: Callable[[int], None],
) -> _Frames:
    """Move the arm through the planned views; render and write each one reached."""
    arm, orbit, camera_config = built.arm, config.orbit, config.camera
    segmentation_ids = segmentation_lut(built.object_bodies, world.client.getNumBodies())
    frames = _Frames()
    physics_steps = 0
    for candidate, target_camera, joints in plan.views:
        clock = time.perf_counter()
        if _path_collides(arm, joints, built.obstacles, orbit.collision_margin_m):
            frames.dropped.append((candidate, "path_collision"))
            continue
        physics_steps += arm.move_to(
            joints,
            orbit.joint_speed_rad_s,
            config.robot.time_step_s,
            config.robot.settle_tolerance_rad,
        )
        camera_to_world = arm.tool_pose() @ built.camera_to_tool
        timings["moving"] += time.perf_counter() - clock
        distance, angle = pose_error(camera_to_world, target_camera)
        if distance > orbit.position_tolerance_m or angle > math.radians(orbit.angle_tolerance_deg):
            frames.dropped.append((candidate, "not_reached"))
            continue
        frames.max_position_error_m = max(frames.max_position_error_m, distance)
        frames.max_angle_error_rad = max(frames.max_angle_error_rad, angle)
        index = len(frames.poses)
        if writer.frame_done(index):
            frames.reused += 1
        else:
            clock = time.perf_counter()
            rgb, depth, body_ids = world.render(
                draw.camera, camera_to_world, camera_config.near_m, camera_config.far_m, draw.light
            )
            right_rgb = None
            if camera_config.stereo_baseline_m > 0:
                right_rgb, _, _ = world.render(
                    draw.camera, camera_to_world @ _right_of(camera_config.stereo_baseline_m),
                    camera_config.near_m, camera_config.far_m, draw.light,
                )  # fmt: skip
            timings["rendering"] += time.perf_counter() - clock
            clock = time.perf_counter()
            # A real system cuts its own arm out of depth with its kinematic model; the simulator's
            # body ids give the same mask.
            depth[body_ids == arm.body] = 0
            depth = limit_range(depth, camera_config.min_depth_m, camera_config.max_depth_m)
            if config.randomization.depth_noise:
                rng = random_stream(config.seed, scene_index, NOISE_STREAM, index)
                depth = add_depth_noise(depth, config.depth_noise, rng)
            writer.write_frame(index, rgb, depth, segmentation_ids[body_ids + 1], right_rgb)
            timings["writing"] += time.perf_counter() - clock
        frames.poses[index] = pose_entry(
            index,
            camera_to_world,
            physics_steps * config.robot.time_step_s,
            stereo=camera_config.stereo_baseline_m > 0,
        )
        frames.joint_positions[index] = [float(q) for q in arm.configuration()]
        progress(1)
    return frames


def _right_of(baseline_m: float) -> np.ndarray:
    """(4, 4) right camera to left camera: a shift of the baseline along the camera's x axis
    (rectified by construction: same orientation, same intrinsics)."""
    return make_pose(np.eye(3), np.array([baseline_m, 0.0, 0.0]))


def _count_reasons(dropped: list[tuple[int, str]]) -> str:
    """'unreachable 4, collision 1': how many views were dropped for each reason."""
    counts = Counter(reason for _, reason in dropped)
    return ", ".join(f"{reason} {count}" for reason, count in counts.most_common())


def segmentation_lut(object_bodies: list[int], body_count: int) -> np.ndarray:
    """uint16 lookup from (pybullet body id + 1) to segmentation id (object i -> i + 1)."""
    lut = np.zeros(body_count + 1, dtype=np.uint16)
    for i, body in enumerate(object_bodies):
        lut[body + 1] = i + 1
    return lut


def _path_collides(arm: Arm, joints: np.ndarray, obstacles: list[int], margin_m: float) -> bool:
    """Whether straight joint-space motion to `joints` passes too close to an obstacle."""
    start = arm.configuration()
    collides = False
    for fraction in (0.2, 0.4, 0.6, 0.8):
        arm.set_configuration(start + fraction * (joints - start))
        if arm.clearance_violations(obstacles, margin_m):
            collides = True
            break
    arm.set_configuration(start)
    return collides


def _scene_description(
    config: CollectConfig, draw: SceneDraw, built: BuiltWorld, frames: _Frames
) -> dict[str, Any]:
    return {
        "objects": [
            {
                "name": obj.name,
                "class": "distractor" if obj.is_distractor else obj.asset.object_class,
                "mesh": f"meshes/{obj.name}.obj",
                "object_to_world": pose_to_dict(built.object_to_world[i]),
                "segmentation_id": i + 1,
                "scale": [float(s) for s in obj.asset.canonical_scale],
                "distractor": obj.is_distractor,
            }
            for i, obj in enumerate(draw.objects)
        ],
        "robot": {
            "arm": config.robot.arm,
            "urdf": ARMS[config.robot.arm].urdf,
            "base_position": [0.0, 0.0, config.scene.table_height_m],
            "tool_link": ARMS[config.robot.arm].tool_link,
            "camera_to_tool": pose_to_dict(built.camera_to_tool),
            "joint_positions": frames.joint_positions,
        },
        "table": {
            "height_m": config.scene.table_height_m,
            "size_m": list(TABLE_SIZE_M),
            "centre_m": list(TABLE_CENTRE_M),
        },
        "light": draw.light,
        "orbit_centre": [float(v) for v in built.centre],
        "seed": config.seed,
        "config": plain_config(config),
    }


def software_versions() -> dict[str, str]:
    return {
        "donkit": package_metadata.version("donkit"),
        "pybullet": package_metadata.version("pybullet"),
        "numpy": np.__version__,
        "trimesh": trimesh.__version__,
        "python": platform.python_version(),
    }
