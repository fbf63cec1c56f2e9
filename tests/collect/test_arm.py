"""Inverse kinematics, limit and clearance checks, and physical motion of the arms."""

import math

import numpy as np
import pytest

from collect.arm import ARMS, Arm, _wrap_into_limits, pose_error, tool_target
from collect.world import SimWorld
from geometry import invert_pose, look_at, make_pose, rotation_about_axis
from sim_assets import build_box


@pytest.fixture(params=sorted(ARMS))
def arm_in_world(request):
    with SimWorld() as world:
        yield world, Arm(world.client, ARMS[request.param], (0.0, 0.0, 0.0))


def test_ik_reaches_poses_that_forward_kinematics_produced(arm_in_world):
    # Poses made by FK of random in-limit configurations are reachable by construction; IK from
    # the home pose must find a configuration (maybe another one) that reproduces them.
    _, arm = arm_in_world
    rng = np.random.default_rng(0)
    solved = 0
    for _ in range(10):
        joints = rng.uniform(arm.lower * 0.7, arm.upper * 0.7)
        arm.set_configuration(joints)
        target = arm.tool_pose()
        solution, _ = arm.solve_ik(target, [arm.home, *rng.uniform(arm.lower, arm.upper, (3, 7))])
        if solution is None:
            continue
        solved += 1
        assert arm.within_limits(solution)
        arm.set_configuration(solution)
        distance, angle = pose_error(arm.tool_pose(), target)
        assert distance < 1e-4 and angle < math.radians(0.01)
    assert solved >= 8


def test_ik_reports_an_unreachable_pose(arm_in_world):
    _, arm = arm_in_world
    far_away = make_pose(np.eye(3), np.array([2.5, 0.0, 0.5]))  # beyond either arm's reach
    assert arm.solve_ik(far_away, [arm.home]) == (None, "unreachable")


def test_wrap_into_limits():
    lower, upper = np.array([-1.0, 0.0]), np.array([1.0, 3.0])
    wrapped = _wrap_into_limits(np.array([2 * math.pi + 0.5, -2 * math.pi + 2.0]), lower, upper)
    np.testing.assert_allclose(wrapped, [0.5, 2.0])
    assert _wrap_into_limits(np.array([1.5, 1.0]), lower, upper) is None


def test_tool_target_puts_the_camera_where_asked():
    camera_to_tool = make_pose(rotation_about_axis((0, 0, 1), 0.3), np.array([0.0, 0.01, 0.03]))
    camera_to_world = look_at([0.3, 0.2, 0.5], [0.5, 0.0, 0.0])
    tool_to_world = tool_target(camera_to_world, camera_to_tool)
    np.testing.assert_allclose(tool_to_world @ camera_to_tool, camera_to_world, atol=1e-12)
    np.testing.assert_allclose(
        invert_pose(tool_to_world) @ camera_to_world, camera_to_tool, atol=1e-12
    )


def test_move_to_drives_the_joints_with_physics(arm_in_world):
    world, arm = arm_in_world
    target = arm.home + np.array([0.3, -0.2, 0.2, 0.3, -0.3, 0.2, 0.4])
    steps = arm.move_to(target, speed_rad_s=1.0, time_step_s=1 / 240, settle_tolerance_rad=1e-4)
    # The largest joint moves 0.4 rad at 1 rad/s: at least 0.4 s of 1/240 s steps.
    assert steps >= 0.4 * 240
    np.testing.assert_allclose(arm.configuration(), target, atol=1e-4)
    # The pose is the forward kinematics of the reached joints.
    reached = arm.tool_pose()
    arm.set_configuration(target)
    distance, angle = pose_error(arm.tool_pose(), reached)
    assert distance < 1e-3 and angle < math.radians(0.1)
    assert world.client.getNumBodies() == 1


def test_clearance_violations_name_the_obstacle():
    with SimWorld() as world:
        arm = Arm(world.client, ARMS["panda"], (0.0, 0.0, 0.0))
        tool = arm.tool_pose()[:3, 3]
        block = build_box((0.05, 0.05, 0.05), np.zeros((8, 8, 3), np.uint8))
        near = world.add_body(block, make_pose(np.eye(3), tool - [0.0, 0.0, 0.025]))
        far = world.add_body(block, make_pose(np.eye(3), np.array([1.5, 1.5, 0.0])))
        assert arm.clearance_violations([near, far], margin_m=0.01) == [near]
