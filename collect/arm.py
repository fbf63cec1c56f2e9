"""The arm that carries the camera: inverse kinematics, checks, and real (physics) motion.

The pose of every recorded view comes from `tool_pose()`, forward kinematics of the joint state
the simulator reached, never from the planner's target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from collect.bullet import pybullet, pybullet_data
from geometry import invert_pose, matrix_to_quaternion, pose_from_quaternion, rotation_angle


@dataclass(frozen=True)
class ArmSpec:
    """What the collector needs to know of an arm model in pybullet_data."""

    urdf: str
    """Path relative to pybullet_data."""
    tool_link: str
    """Link whose frame carries the camera mount (its z axis is the approach direction)."""
    home: tuple[float, ...]
    """Joint angles of the seven arm joints at the start, radians."""
    held_joints: tuple[tuple[str, float], ...] = ()
    """Other movable joints (gripper fingers) and the position they are held at."""


ARMS = {
    "panda": ArmSpec(
        urdf="franka_panda/panda.urdf",
        tool_link="panda_grasptarget",
        home=(0.0, -0.6, 0.0, -2.4, 0.0, 1.9, 0.785),
        held_joints=(("panda_finger_joint1", 0.01), ("panda_finger_joint2", 0.01)),
    ),
    "kuka_iiwa": ArmSpec(
        urdf="kuka_iiwa/model.urdf",
        tool_link="lbr_iiwa_link_7",
        home=(0.0, 0.4, 0.0, -1.6, 0.0, 1.1, 0.0),
    ),
}

# Rounds of pybullet's (fast, C++) damped-least-squares IK, each restarted from where the last
# one ended: one call rarely lands closer than a few millimetres.
_IK_ROUNDS = 8
# pybullet's default damping of 0.1 per joint stalls: measured on poses made by forward
# kinematics (so reachable), 0.1 converged on 70 % of them from four seeds, 0.01 on all of them,
# five times faster.
_IK_DAMPING = 0.01
_IK_POSITION_TOLERANCE_M = 1e-4
_IK_ANGLE_TOLERANCE_RAD = math.radians(0.01)
_IK_METRES_PER_RADIAN = 0.1  # weighs rotation against translation when judging progress
# Stiffer than pybullet's default of 0.1: the joints settle to 1e-4 rad in about a third of the
# physics steps (measured on the Panda at 240 Hz).
_POSITION_GAIN = 1.0
# The controller sends a new set-point every few physics steps (60 Hz at 240 Hz physics): the
# motion is as smooth, and the Python side of each step costs half as much.
_STEPS_PER_COMMAND = 4


def pose_error(pose_a: np.ndarray, pose_b: np.ndarray) -> tuple[float, float]:
    """(translation distance in metres, rotation angle in radians) between two (4, 4) poses."""
    distance = float(np.linalg.norm(pose_a[:3, 3] - pose_b[:3, 3]))
    return distance, float(rotation_angle(pose_a[:3, :3], pose_b[:3, :3]))


class Arm:
    """A fixed-base arm in a pybullet client: joints, forward and inverse kinematics, motion."""

    def __init__(self, client: pybullet, spec: ArmSpec, base_position: tuple[float, float, float]):
        self.client = client
        self.spec = spec
        self.body = client.loadURDF(
            f"{pybullet_data.getDataPath()}/{spec.urdf}", base_position, useFixedBase=True
        )
        joints = [client.getJointInfo(self.body, j) for j in range(client.getNumJoints(self.body))]
        by_name = {info[1].decode(): info for info in joints}
        links = {info[12].decode(): info[0] for info in joints}
        movable = [info for info in joints if info[2] != pybullet.JOINT_FIXED]
        held_names = {name for name, _ in spec.held_joints}
        arm_joints = [info for info in movable if info[1].decode() not in held_names]
        if len(arm_joints) != len(spec.home):
            raise RuntimeError(
                f"{spec.urdf}: {len(arm_joints)} arm joints, home has {len(spec.home)}"
            )
        self.joint_indices = [info[0] for info in arm_joints]
        self.lower = np.array([info[8] for info in arm_joints])
        self.upper = np.array([info[9] for info in arm_joints])
        self.max_force = np.array([max(info[10], 1.0) for info in arm_joints])
        self.held = [(by_name[name][0], position) for name, position in spec.held_joints]
        # calculateInverseKinematics returns one value per movable joint, in joint order.
        self._ik_columns = [movable.index(info) for info in arm_joints]
        self._movable_count = len(movable)
        self.tool_link = links[spec.tool_link]
        self.home = np.array(spec.home)
        self.set_configuration(self.home)

    def set_configuration(self, joint_positions: np.ndarray) -> None:
        """Teleport the joints (planning only; motion between views goes through `move_to`)."""
        for index, position in zip(self.joint_indices, joint_positions, strict=True):
            self.client.resetJointState(self.body, index, float(position))
        for index, position in self.held:
            self.client.resetJointState(self.body, index, position)

    def configuration(self) -> np.ndarray:
        """(7,) current joint positions, radians."""
        states = self.client.getJointStates(self.body, self.joint_indices)
        return np.array([state[0] for state in states])

    def tool_pose(self) -> np.ndarray:
        """(4, 4) tool_to_world by forward kinematics of the current joint state."""
        state = self.client.getLinkState(self.body, self.tool_link, computeForwardKinematics=True)
        x, y, z, w = state[5]
        return pose_from_quaternion(np.array([w, x, y, z]), np.array(state[4]))

    def within_limits(self, joint_positions: np.ndarray) -> bool:
        return bool(np.all((joint_positions >= self.lower) & (joint_positions <= self.upper)))

    def solve_ik(
        self, tool_to_world: np.ndarray, seeds: list[np.ndarray]
    ) -> tuple[np.ndarray | None, str]:
        """Joint positions that put the tool at `tool_to_world`, or None and why not.

        Tries each seed in turn; a solution must reach the pose within 0.1 mm / 0.01 degree and
        respect the joint limits (pybullet's solver ignores them, so they are checked here).
        Leaves the arm in the last configuration tried.

        Returns:
            (joint positions (7,), "") or (None, "joint_limits" | "unreachable").
        """
        reason = "unreachable"
        for seed in seeds:
            joints = self._converge(tool_to_world, seed)
            if joints is None:
                continue
            wrapped = _wrap_into_limits(joints, self.lower, self.upper)
            if wrapped is not None:
                return wrapped, ""
            reason = "joint_limits"
        return None, reason

    def _converge(self, tool_to_world: np.ndarray, seed: np.ndarray) -> np.ndarray | None:
        """Rounds of IK from `seed` until within tolerance (the joints), or stalled (None)."""
        position = tool_to_world[:3, 3].tolist()
        w, x, y, z = matrix_to_quaternion(tool_to_world[:3, :3])
        self.set_configuration(seed)
        previous_error = math.inf
        for _ in range(_IK_ROUNDS):
            solution = self.client.calculateInverseKinematics(
                self.body,
                self.tool_link,
                position,
                [x, y, z, w],
                maxNumIterations=50,
                residualThreshold=1e-7,
                jointDamping=[_IK_DAMPING] * self._movable_count,
            )
            joints = np.array([solution[i] for i in self._ik_columns])
            self.set_configuration(joints)
            distance, angle = pose_error(self.tool_pose(), tool_to_world)
            if distance < _IK_POSITION_TOLERANCE_M and angle < _IK_ANGLE_TOLERANCE_RAD:
                return joints
            # A round that gains less than 10 % has stalled (out of reach, or a local minimum):
            # the next seed is a better use of the time.
            error = distance + _IK_METRES_PER_RADIAN * angle
            if error > 0.9 * previous_error:
                return None
            previous_error = error
        return None

    def clearance_violations(self, obstacles: list[int], margin_m: float) -> list[int]:
        """Obstacle bodies closer than `margin_m` to any moving link in the current state."""
        hits = []
        for obstacle in obstacles:
            points = self.client.getClosestPoints(self.body, obstacle, margin_m)
            if any(point[3] >= 0 for point in points):  # link -1 is the fixed base
                hits.append(obstacle)
        return hits

    def move_to(
        self,
        joint_positions: np.ndarray,
        speed_rad_s: float,
        time_step_s: float,
        settle_tolerance_rad: float,
        max_settle_steps: int = 480,
    ) -> int:
        """Drive the joints to `joint_positions` under position control, stepping the physics.

        The commanded trajectory interpolates in joint space with a smooth (cubic) time law,
        sampled every `_STEPS_PER_COMMAND` steps;
        afterwards the simulation runs until every joint is within `settle_tolerance_rad` of
        its target or `max_settle_steps` have passed. Returns the number of physics steps.
        """
        start = self.configuration()
        duration = float(np.max(np.abs(joint_positions - start))) / speed_rad_s
        steps = max(1, math.ceil(duration / time_step_s))
        held_indices = [index for index, _ in self.held]
        held_targets = [position for _, position in self.held]
        indices = self.joint_indices + held_indices
        forces = self.max_force.tolist() + [100.0] * len(held_indices)
        gains = [_POSITION_GAIN] * len(indices)
        for step in range(steps):
            if step % _STEPS_PER_COMMAND == 0:  # the set-point for the end of this period
                s = min(1.0, (step + _STEPS_PER_COMMAND) / steps)
                blend = s * s * (3 - 2 * s)
                targets = start + (joint_positions - start) * blend
                self.client.setJointMotorControlArray(
                    self.body,
                    indices,
                    pybullet.POSITION_CONTROL,
                    targetPositions=targets.tolist() + held_targets,
                    forces=forces,
                    positionGains=gains,
                )
            self.client.stepSimulation()
        for settle in range(max_settle_steps):
            if np.max(np.abs(self.configuration() - joint_positions)) < settle_tolerance_rad:
                return steps + settle
            self.client.stepSimulation()
        return steps + max_settle_steps


def _wrap_into_limits(
    joints: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> np.ndarray | None:
    """Move each angle by multiples of 2 pi into [lower, upper] when that is possible."""
    turns = np.ceil((lower - joints) / (2 * np.pi))
    wrapped = joints + turns * 2 * np.pi
    return wrapped if np.all(wrapped <= upper) else None


def tool_target(camera_to_world: np.ndarray, camera_to_tool: np.ndarray) -> np.ndarray:
    """The tool pose that puts the camera at `camera_to_world`: (4, 4) tool_to_world."""
    return camera_to_world @ invert_pose(camera_to_tool)
