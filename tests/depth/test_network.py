"""Depth and pose networks: shapes, ranges, gradients, pose at init, encoder compatibility."""

import math

import numpy as np
import pytest
import torch

from depth.network import DepthNet, PoseNet, disparity_to_depth, pose_from_axis_angle
from formats import DonkitError
from learn.backbones import ResNet


@pytest.fixture(scope="module")
def depth_net():
    torch.manual_seed(0)
    return DepthNet().eval()


@pytest.mark.parametrize(
    "height,width,sizes",
    [
        (240, 320, [(240, 320), (120, 160), (60, 80), (30, 40)]),
        # Odd sizes: each level is ceil(side / 2^k), as the encoder's strided layers give.
        (76, 100, [(76, 100), (38, 50), (19, 25), (10, 13)]),
    ],
)
def test_disparities_at_four_scales_in_zero_one(depth_net, height, width, sizes):
    with torch.no_grad():
        disparities = depth_net(torch.rand(2, 3, height, width))
    assert [tuple(d.shape) for d in disparities] == [(2, 1, *size) for size in sizes]
    for disparity in disparities:
        assert (disparity > 0).all() and (disparity < 1).all()


def test_too_small_or_wrong_images_are_refused(depth_net):
    with pytest.raises(DonkitError, match="at least 33 x 33"):
        depth_net(torch.rand(1, 3, 32, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        depth_net(torch.rand(1, 4, 64, 64))
    with pytest.raises(DonkitError, match="five positive widths"):
        DepthNet(decoder_channels=(8, 16, 32, 64))


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    network = DepthNet(decoder_channels=(4, 8, 16, 32, 64)).train()
    disparities = network(torch.rand(2, 3, 64, 96))
    sum(d.mean() for d in disparities).backward()
    for name, parameter in network.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_disparity_to_depth_endpoints():
    disparity = torch.tensor([0.0, 0.5, 1.0])
    # Disparity maps onto [1 / 2, 1 / 0.1] = [0.5, 10]: 0 -> 2 m, 1 -> 0.1 m, 0.5 -> 1 / 5.25 m.
    np.testing.assert_allclose(
        disparity_to_depth(disparity, 0.1, 2.0).numpy(), [2.0, 1 / 5.25, 0.1], rtol=1e-6
    )
    with pytest.raises(DonkitError, match="0 < min < max"):
        disparity_to_depth(disparity, 2.0, 0.1)


def test_pose_net_starts_near_the_identity():
    torch.manual_seed(2)
    network = PoseNet().eval()
    generator = torch.Generator().manual_seed(3)
    target = torch.rand(2, 3, 96, 128, generator=generator)
    source = torch.rand(2, 3, 96, 128, generator=generator)
    with torch.no_grad():
        axis_angle, translation = network(target, source)
    assert axis_angle.shape == translation.shape == (2, 3)
    # Measured at init: about 1e-3 rad and 1e-3 (m); the 0.01 output scale keeps it small.
    assert axis_angle.norm(dim=1).max() < 0.01 and translation.norm(dim=1).max() < 0.01
    pose = pose_from_axis_angle(axis_angle, translation)
    np.testing.assert_allclose(pose.numpy(), np.broadcast_to(np.eye(4), (2, 4, 4)), atol=0.01)


def test_pose_from_axis_angle_is_rotation_then_translation():
    pose = pose_from_axis_angle(
        torch.tensor([[0.0, 0.0, math.pi / 2]]), torch.tensor([[0.1, 0.2, 0.3]])
    )
    expected = [[0, -1, 0, 0.1], [1, 0, 0, 0.2], [0, 0, 1, 0.3], [0, 0, 0, 1]]
    np.testing.assert_allclose(pose[0].numpy(), expected, atol=1e-6)


def test_encoders_keep_torchvision_parameter_names():
    reference = ResNet(18).state_dict()
    depth_encoder = DepthNet().encoder.state_dict()
    pose_encoder = PoseNet().encoder.state_dict()
    assert list(depth_encoder) == list(reference) == list(pose_encoder)
    for name, tensor in reference.items():
        assert depth_encoder[name].shape == tensor.shape
        if name != "conv1.weight":
            assert pose_encoder[name].shape == tensor.shape
    assert pose_encoder["conv1.weight"].shape == (64, 6, 7, 7)
    # forward (the descriptor network's three levels) is the last three of the five levels.
    backbone = ResNet(18).eval()
    image = torch.rand(1, 3, 64, 80)
    with torch.no_grad():
        levels = backbone.features(image)
        three = backbone(image)
    assert [tuple(level.shape[1:]) for level in levels] == [
        (64, 32, 40), (64, 16, 20), (128, 8, 10), (256, 4, 5), (512, 2, 3)
    ]  # fmt: skip
    for level, same in zip(levels[2:], three, strict=True):
        torch.testing.assert_close(level, same, rtol=0, atol=0)
