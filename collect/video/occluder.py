"""The occluder: a second arm that passes its hand between the camera and the objects.

It stands on the table beside the objects, parked upright, and in the middle third of the
video sweeps its hand across the line of sight just in front of the objects, so that tracked
points are hidden for a while and must be found again."""

from __future__ import annotations

import numpy as np

from collect.arm import ARMS, Arm
from collect.scene import BuiltWorld, SceneDraw
from collect.video.motion import CLEARANCE_M, interpolate_keyframes, on_table, place_objects
from collect.world import SimWorld
from geometry import make_pose, transform

OCCLUDER_ARM = "kuka_iiwa"
OCCLUDER_PARKED = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # upright, out of the way
OCCLUDER_BASE_DISTANCE_M = 0.55  # from the objects' centre, sideways to the line of sight
OCCLUDER_CLEARANCE_M = 0.05  # the hand passes this far in front of the nearest object
OCCLUDER_CAMERA_GAP_M = 0.12  # ... and at least this far from the camera
OCCLUDER_LATERAL_M = 0.14  # half the width of its sweep across the line of sight
LIFT = np.array([0.0, 0.0, 0.15])  # the hand comes and goes this far above its sweep


def plan_occluder(
    world: SimWorld,
    built: BuiltWorld,
    draw: SceneDraw,
    poses: np.ndarray,
    targets: np.ndarray,
    occluder: Arm,
    table_height_m: float,
) -> tuple[np.ndarray | None, list[np.ndarray] | None, str]:
    """The second arm's base and joints per frame: parked upright, then its hand sweeps across
    the line of sight in front of the objects in the middle third of the video, then parks.

    Args:
        poses: (T, objects, 4, 4) object_to_world in every frame.
        targets: (T, 4, 4) the camera's camera_to_world targets.

    Returns:
        The base position (3,) and the joints of every frame, or None, None and why not.
    """
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
        if on_table((built.centre + side * OCCLUDER_BASE_DISTANCE_M * across)[None, :2], 0.1)
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
    sequence = interpolate_keyframes(keyframes, frames)
    for t in range(frames):
        occluder.set_configuration(sequence[t])
        place_objects(world, built, poses[t], list(range(len(built.object_bodies))))
        # It stands on the table: only the objects are obstacles to it.
        if occluder.clearance_violations(built.object_bodies, CLEARANCE_M):
            return None, None, "occluder_collision"
    occluder.set_configuration(parked)
    return base, sequence, ""
