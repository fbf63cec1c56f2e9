"""The dense descriptor network: an image in, a D-dimensional descriptor per pixel out.

A backbone (ResNet-18/34 of learn.backbones, or EfficientNet-Lite0 of learn.efficientnet),
features from strides 8, 16 and 32 merged top-down into stride 8 (FPN-style skips; 4 with
finest_stride 4), a 1x1 head to D channels, bilinear upsampling to the input size, and optional
L2 normalization. A checkpoint records the network's shape (`network_spec`), so `load_network`
rebuilds it without the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from formats import DonkitError
from learn.backbones import IMAGE_MEAN, IMAGE_STD
from learn.checkpoints import load_checkpoint
from learn.encoders import Backbone, make_backbone


class DescriptorNet(nn.Module):
    """Dense descriptors: (B, 3, H, W) normalized images -> (B, D, H, W).

    The pyramid merges the backbone's features from stride 32 down to `finest_stride` (8 or 4),
    then a 3x3 convolution and a 1x1 head make D channels, upsampled bilinearly to the input."""

    def __init__(
        self,
        backbone: Backbone = 18,
        descriptor_dim: int = 16,
        width: int = 128,
        normalize: bool = False,
        finest_stride: int = 8,
    ):
        super().__init__()
        if finest_stride not in (4, 8):
            raise DonkitError(f"the finest stride of the pyramid is 4 or 8; got {finest_stride}")
        self.backbone_name = backbone
        self.backbone = make_backbone(backbone)
        _, channels_4, *coarser = self.backbone.channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in coarser)
        # Stride 4 merges the stride-4 features as well: finer detail for precise matches, at a
        # higher cost.
        self.lateral_4 = nn.Conv2d(channels_4, width, 1) if finest_stride == 4 else None
        self.smooth = nn.Sequential(
            nn.Conv2d(width, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Conv2d(width, descriptor_dim, 1)
        self.normalize = normalize
        self.descriptor_dim = descriptor_dim
        self.width = width
        self.finest_stride = finest_stride

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _, stride_4, stride_8, stride_16, stride_32 = self.backbone.features(images)
        merged = self.lateral[2](stride_32)
        pyramid = [(stride_16, self.lateral[1]), (stride_8, self.lateral[0])]
        if self.lateral_4 is not None:
            pyramid.append((stride_4, self.lateral_4))
        for features, lateral in pyramid:
            merged = lateral(features) + F.interpolate(
                merged, size=features.shape[-2:], mode="bilinear", align_corners=False
            )
        coarse = self.head(self.smooth(merged))
        descriptors = F.interpolate(
            coarse, size=images.shape[-2:], mode="bilinear", align_corners=False
        )
        return F.normalize(descriptors, dim=1) if self.normalize else descriptors


def network_spec(network: DescriptorNet) -> dict[str, Any]:
    """What rebuilds `network`'s shape (its weights come from the state dict)."""
    return {
        "backbone": network.backbone_name,
        "descriptor_dim": network.descriptor_dim,
        "width": network.width,
        "normalize": network.normalize,
        "finest_stride": network.finest_stride,
        "image_mean": list(IMAGE_MEAN),
        "image_std": list(IMAGE_STD),
    }


def load_network(path: Path) -> tuple[DescriptorNet, dict[str, Any]]:
    """The trained network of a checkpoint, or of a run folder's last.pt, in eval mode, with the
    checkpoint's state."""
    state = load_checkpoint(path)
    damaged = (
        f"checkpoint {path} holds no descriptor network that donkit can rebuild (its `network` "
        "spec or `model` weights are missing or do not fit); give a checkpoint or run folder "
        "written by `donkit train`"
    )
    spec = state.get("network")
    try:
        network = DescriptorNet(
            spec["backbone"], spec["descriptor_dim"], spec["width"], spec["normalize"],
            spec.get("finest_stride", 8),  # checkpoints from before the option have stride 8
        )  # fmt: skip
        network.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, DonkitError):
        raise DonkitError(damaged) from None
    return network.eval(), state
