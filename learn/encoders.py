"""The image encoders the networks share, by name: ResNet-18 or -34 from scratch
(learn.backbones) or EfficientNet-Lite0 (learn.efficientnet), whose ImageNet weights
`load_efficientnet_lite0` loads from the installed package."""

from __future__ import annotations

from torch import nn

from formats import DonkitError
from learn.backbones import ResNet
from learn.efficientnet import EfficientNetLite0

EFFICIENTNET_LITE0 = "efficientnet_lite0"
Backbone = int | str  # a ResNet depth (18, 34) or EFFICIENTNET_LITE0


def make_backbone(backbone: Backbone) -> nn.Module:
    """The backbone module named by `backbone`, with random weights; it has `features` (at
    strides 2 to 32, with an optional join at stride 4) and `channels`."""
    if backbone == EFFICIENTNET_LITE0:
        return EfficientNetLite0(classifier=False)
    if backbone in (18, 34):
        return ResNet(int(backbone))
    raise DonkitError(f"the backbone is 18, 34 or {EFFICIENTNET_LITE0!r}; got {backbone!r}")
