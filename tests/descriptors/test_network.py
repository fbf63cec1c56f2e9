"""The descriptor network: shapes, normalization, stride, checkpoints of older versions."""

import pytest
import torch

from descriptors.network import DescriptorNet
from formats import DonkitError
from learn.backbones import normalize_images


@pytest.mark.parametrize("height,width", [(240, 320), (61, 97)])
def test_descriptors_have_the_image_size(height, width):
    network = DescriptorNet(backbone=18, descriptor_dim=5).eval()
    images = torch.randint(0, 256, (2, height, width, 3), dtype=torch.uint8)
    with torch.no_grad():
        descriptors = network(normalize_images(images))
    assert descriptors.shape == (2, 5, height, width)


def test_l2_normalization():
    network = DescriptorNet(backbone=18, descriptor_dim=3, normalize=True).eval()
    with torch.no_grad():
        descriptors = network(torch.randn(1, 3, 64, 64))
    torch.testing.assert_close(descriptors.norm(dim=1), torch.ones(1, 64, 64))


def test_a_stride_4_pyramid_adds_layer1_and_sees_finer_detail():
    torch.manual_seed(0)
    coarse = DescriptorNet(descriptor_dim=4).eval()
    torch.manual_seed(0)
    fine = DescriptorNet(descriptor_dim=4, finest_stride=4).eval()
    extra = {name for name, _ in fine.named_parameters()} - {
        name for name, _ in coarse.named_parameters()
    }
    assert extra == {"lateral_4.weight", "lateral_4.bias"}  # a 1x1 conv from layer1's 64 channels
    # A change confined to one 4 x 4 cell: the stride 4 network's descriptors change more there
    # than 3 cells away, relative to the stride 8 network's (same weights but lateral_4).
    image = torch.zeros(1, 3, 64, 64)
    bumped = image.clone()
    bumped[..., 32:36, 32:36] = 3.0

    def locality(network):
        with torch.no_grad():
            change = (network(bumped) - network(image)).norm(dim=1)[0]
        return float(change[33, 33] / change[33, 45])

    assert locality(fine) > 1.2 * locality(coarse)
    assert fine(image).shape == (1, 4, 64, 64)
    with pytest.raises(DonkitError, match="4 or 8"):
        DescriptorNet(finest_stride=2)


def test_checkpoints_from_before_the_stride_option_load_as_stride_8(tmp_path):
    from descriptors.network import load_network, network_spec
    from learn.checkpoints import save_checkpoint

    network = DescriptorNet(descriptor_dim=3)
    spec = network_spec(network)
    assert spec["finest_stride"] == 8
    del spec["finest_stride"]
    state = {"model": network.state_dict(), "network": spec, "step": 250}
    save_checkpoint(tmp_path / "old.pt", state)
    loaded, _ = load_network(tmp_path / "old.pt")
    assert loaded.finest_stride == 8 and loaded.lateral_4 is None


def test_an_efficientnet_lite0_backbone_starts_from_the_installed_imagenet_weights(tmp_path):
    from descriptors.config import TrainConfig
    from descriptors.network import load_network, network_spec
    from descriptors.train import build_network
    from learn.checkpoints import save_checkpoint
    from learn.efficientnet import efficientnet_lite0_weights

    train = TrainConfig(backbone="efficientnet_lite0", descriptor_dim=6, width=32, finest_stride=4)
    network = build_network(train).eval()
    file = torch.load(efficientnet_lite0_weights(), weights_only=True)
    backbone = network.backbone.state_dict()
    # Every encoder tensor is the file's; the head and classifier are left out.
    assert set(backbone) == {
        key for key in file if not key.startswith(("_conv_head", "_bn1.", "_fc"))
    }
    for key, value in backbone.items():
        assert torch.equal(value, file[key]), key
    images = torch.randint(0, 256, (1, 61, 97, 3), dtype=torch.uint8)
    with torch.no_grad():
        descriptors = network(normalize_images(images))
    assert descriptors.shape == (1, 6, 61, 97)
    # The checkpoint's spec names the backbone, and the network comes back the same.
    spec = network_spec(network)
    assert spec["backbone"] == "efficientnet_lite0" and spec["finest_stride"] == 4
    save_checkpoint(
        tmp_path / "run.pt", {"model": network.state_dict(), "network": spec, "step": 1}
    )
    loaded, _ = load_network(tmp_path / "run.pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(normalize_images(images)), descriptors)


def test_an_unknown_backbone_is_refused():
    with pytest.raises(DonkitError, match="18, 34 or 'efficientnet_lite0'"):
        DescriptorNet(backbone=50)
