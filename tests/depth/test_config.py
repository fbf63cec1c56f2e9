"""DepthConfig: the defaults load, and wrong values are refused with what to do."""

import re

import pytest

from depth.config import DepthConfig
from donkit.config import load_config
from formats import DonkitError


def test_the_defaults_are_the_demo_recipe():
    config = load_config(None).depth
    assert config == DepthConfig()
    assert (config.mode, config.pose_source) == ("self_supervised", "kinematics")
    assert (config.min_depth_m, config.max_depth_m) == (0.1, 2.0)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("depth.width=32", "depth: width and height must lie in [64, 4096] pixels"),
        ("depth.max_depth_m=0.05", "need 0 < min_depth_m < max_depth_m"),
        ("depth.silog_lambda=1.5", "depth.silog_lambda must lie in [0.0, 1.0]; got 1.5"),
        ("depth.scales=5", "depth.scales must lie in [1, 4]"),
        ("depth.sources=0", "depth.sources must be at least 1; got 0"),
        ("depth.mode=mono", "depth.mode must be one of 'self_supervised', 'stereo', 'supervised'"),
        ("depth.initial_depth_m=3.0", "depth.initial_depth_m must lie strictly within"),
        (
            "depth.overlap_depth_m=5.0",
            "depth.overlap_depth_m must lie within [min_depth_m, max_depth_m] = [0.1, 2.0]; "
            "got 5.0",
        ),
        ("depth.loop.decay_factor=0", "depth.loop.decay_factor must lie in (0, 1]; got 0.0"),
        ("depth.smoothness_weight=-1", "depth.smoothness_weight must not be negative"),
        ("depth.pose_source=network", "by their poses; set depth.source_choice=adjacent"),
        (
            "collect.camera.stereo_baseline_m=-0.1",
            "collect.camera.stereo_baseline_m must lie in [0.0, 1.0]; got -0.1",
        ),
    ],
)
def test_wrong_values_are_refused(assignment, message):
    with pytest.raises(DonkitError, match=re.escape(message)):
        load_config(None, [assignment])


def test_a_pose_network_with_index_neighbours_loads():
    overrides = ["depth.pose_source=network", "depth.source_choice=adjacent"]
    assert load_config(None, overrides).depth.pose_source == "network"
