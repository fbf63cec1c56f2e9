"""Backbones that descriptor and depth networks share, and the image normalization they expect.

A ResNet-18/34 written here with torchvision's parameter names: torchvision cannot be installed
beside the CPU torch this project uses, and its ImageNet weights then still load from a local
file (`load_backbone_weights`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from formats import DonkitError

# torchvision's ImageNet normalization, which its weights expect: (image / 255 - mean) / std.
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """ResNet's two-convolution residual block (torchvision names: conv1, bn1, conv2, bn2,
    downsample)."""

    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.downsample = None
        if stride != 1 or inputs != outputs:
            self.downsample = nn.Sequential(
                nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet(nn.Module):
    """ResNet-18 or -34 without its classifier; `forward` returns the features at strides 8, 16
    and 32 (128, 256 and 512 channels), `features` those at all five strides.

    `input_channels` other than 3 (e.g. 6 for a pose network's pair of images) changes only the
    shape of `conv1.weight`; parameter names stay torchvision's."""

    channels = (64, 64, 128, 256, 512)  # of `features`, at strides 2, 4, 8, 16 and 32

    def __init__(self, depth: int, input_channels: int = 3):
        super().__init__()
        if depth not in _BLOCKS:
            raise DonkitError(f"the backbone is ResNet-18 or -34; got depth {depth}")
        self.depth = depth
        self.conv1 = nn.Conv2d(input_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = (64, 128, 256, 512)
        inputs = 64
        for number, (outputs, blocks) in enumerate(zip(channels, _BLOCKS[depth], strict=True), 1):
            stride = 1 if number == 1 else 2
            layer = [BasicBlock(inputs, outputs, stride)]
            layer += [BasicBlock(outputs, outputs, 1) for _ in range(blocks - 1)]
            setattr(self, f"layer{number}", nn.Sequential(*layer))
            inputs = outputs
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.features(x)[2:]

    def features(
        self,
        x: torch.Tensor,
        join_at_stride_4: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """Features at strides 2, 4, 8, 16 and 32 (64, 64, 128, 256 and 512 channels); a side
        of n pixels becomes ceil(n / stride). `join_at_stride_4` maps the stride-4 features to
        new ones of the same shape before the deeper layers read them (the multi-frame depth
        network joins its cost volume there)."""
        stride_2 = self.relu(self.bn1(self.conv1(x)))
        stride_4 = self.layer1(self.maxpool(stride_2))
        if join_at_stride_4 is not None:
            stride_4 = join_at_stride_4(stride_4)
        stride_8 = self.layer2(stride_4)
        stride_16 = self.layer3(stride_8)
        return stride_2, stride_4, stride_8, stride_16, self.layer4(stride_16)


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float, normalized as the backbone expects."""
    mean = torch.tensor(IMAGE_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD, device=images.device).view(1, 3, 1, 1)
    return (images.permute(0, 3, 1, 2).float() / 255.0 - mean) / std


def read_state_dict(
    path: Path, label: str, hint: str = "", unwrap: bool = False
) -> dict[str, torch.Tensor]:
    """The state dict (parameter name -> tensor) that file `path` holds, read as tensors only
    (`weights_only`); with `unwrap`, also one saved under a "state_dict" key.

    Raises DonkitError, naming the file as `label` {path} and ending in `hint`, when it cannot
    be read or holds something else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for a damaged file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DonkitError(f"{label} {path} are not a readable state dict ({reason})") from None
    if unwrap and isinstance(state, dict):
        state = state.get("state_dict", state)
    if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
        raise DonkitError(f"{label} {path} are not a state dict (parameter name -> tensor){hint}")
    return state


def load_backbone_weights(backbone: ResNet, path: Path) -> list[str]:
    """Load torchvision ResNet weights (a state dict saved with torch.save) into `backbone`.

    Returns the names of the file's parameters that were not used (its classifier, `fc.*`).
    Raises DonkitError when the file is missing, unreadable, or for another architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise DonkitError(f"backbone weights {path} do not exist")
    state = read_state_dict(
        path,
        "backbone weights",
        "; save the torchvision model's state_dict() with torch.save",
        unwrap=True,
    )
    unused = [key for key in state if key.startswith("fc.")]
    wanted = {key: value for key, value in state.items() if not key.startswith("fc.")}
    try:
        result = backbone.load_state_dict(wanted, strict=False)
    except RuntimeError as error:  # a tensor of the wrong shape
        raise DonkitError(
            f"backbone weights {path} do not fit: {str(error).splitlines()[1]}"
        ) from None
    if result.missing_keys or result.unexpected_keys:
        raise DonkitError(
            f"backbone weights {path} do not fit ResNet-{backbone.depth}: missing "
            f"{result.missing_keys[:3]}..., unexpected {result.unexpected_keys[:3]}..."
        )
    return unused
