"""The shared backbone: torchvision's ResNet parameter names, weights from a file, normalization."""

import pytest
import torch

from formats import DonkitError
from learn.backbones import ResNet, load_backbone_weights, normalize_images


@pytest.mark.parametrize("depth,parameters", [(18, 11_176_512), (34, 21_284_672)])
def test_backbone_matches_torchvision_resnet(depth, parameters):
    # torchvision's resnet18 / resnet34 have 11,689,512 / 21,797,672 parameters, of which the
    # classifier (fc: 512 x 1000 + 1000) holds 513,000.
    backbone = ResNet(depth)
    assert sum(p.numel() for p in backbone.parameters()) == parameters
    names = set(backbone.state_dict())
    for name in ("conv1.weight", "bn1.running_var", "layer1.0.conv2.weight",
                 "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_mean",
                 f"layer4.{1 if depth == 18 else 2}.bn2.bias"):  # fmt: skip
        assert name in names


def test_normalize_images_follows_imagenet_statistics():
    white = torch.full((1, 1, 1, 3), 255, dtype=torch.uint8)
    expected = torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    torch.testing.assert_close(normalize_images(white)[0, :, 0, 0], expected)


def test_torchvision_weights_load_from_a_file(tmp_path):
    # A torchvision-style state dict: the backbone's tensors plus a classifier.
    source = ResNet(18)
    state = dict(source.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    torch.save(state, tmp_path / "resnet18.pth")
    backbone = ResNet(18)
    assert load_backbone_weights(backbone, tmp_path / "resnet18.pth") == ["fc.weight", "fc.bias"]
    torch.testing.assert_close(backbone.layer3[1].conv2.weight, source.layer3[1].conv2.weight)
    with pytest.raises(DonkitError, match="do not fit"):
        load_backbone_weights(ResNet(34), tmp_path / "resnet18.pth")
    with pytest.raises(DonkitError, match="do not exist"):
        load_backbone_weights(backbone, tmp_path / "missing.pth")
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DonkitError, match="not a readable state dict"):
        load_backbone_weights(backbone, tmp_path / "broken.pth")
