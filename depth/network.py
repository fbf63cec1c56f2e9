"""Depth and pose networks: the descriptor network's ResNet as encoder, with small decoders.

DepthNet is a U-Net: the five encoder levels (strides 2 to 32) feed a decoder that upsamples,
concatenates the encoder features of the same stride and ends each of its four finest levels in
a sigmoid disparity (Godard et al. 2019's layout, written from the paper). PoseNet reads a
target and a source image stacked into six channels and regresses the motion between them,
scaled by 0.01 so that training starts from almost no motion.

Both take images as (B, 3, H, W) float RGB in [0, 1], the form the photometric loss compares,
and normalize them inside with torchvision's ImageNet statistics (which its weights expect).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from depth.sweep import PlaneSweep
from formats import DonkitError
from geometry import axis_angle_to_matrix, make_pose
from learn.backbones import IMAGE_MEAN, IMAGE_STD, ResNet
from learn.encoders import make_backbone

ENCODER_CHANNELS = (64, 64, 128, 256, 512)  # ResNet-18/34 features at strides 2, 4, 8, 16, 32
DECODER_CHANNELS = (16, 32, 64, 128, 256)  # decoder width at strides 1, 2, 4, 8, 16
DISPARITY_SCALES = 4  # disparities at 1, 1/2, 1/4 and 1/8 of the input size
POSE_SCALE = 0.01  # PoseNet's outputs are multiplied by this (radians and metres)
SWEEP_CHANNELS = 3  # what the multi-frame refinement reads of the sweep: plane, cost, spread
MIN_SIDE_PX = 33  # the stride-32 features must be 2 pixels wide for reflection padding


class DepthNet(nn.Module):
    """Images -> disparities in (0, 1) at four scales.

    Any size of at least 33 x 33 pixels works: each decoder level is upsampled to the size of
    the encoder features it joins, so sizes need not be multiples of 32. The disparity at scale
    k (k = 0, 1, 2, 3) is ceil(H / 2^k) x ceil(W / 2^k); 320 x 240 gives 320 x 240, 160 x 120,
    80 x 60 and 40 x 30. Map a disparity to metres with `disparity_to_depth`.
    """

    def __init__(self, depth: int | str = 18, decoder_channels: tuple[int, ...] = DECODER_CHANNELS):
        """`depth`: the encoder, ResNet-18 or -34 (18, 34) or EfficientNet-Lite0
        ("efficientnet_lite0", whose ImageNet weights `learn.efficientnet.load_efficientnet_lite0`
        loads); `decoder_channels`: five widths, at strides 1, 2, 4, 8 and 16 (the decoder costs
        about as much as the encoder; halving them halves it)."""
        super().__init__()
        if len(decoder_channels) != 5 or min(decoder_channels) < 1:
            raise DonkitError(
                f"decoder_channels must be five positive widths; got {list(decoder_channels)}"
            )
        self.encoder = make_backbone(depth)
        encoder_channels = self.encoder.channels
        self.decoder_channels = tuple(decoder_channels)
        self.upconv_in = nn.ModuleList()  # level k: from the coarser level to width k
        self.upconv_out = nn.ModuleList()  # level k: after joining the encoder's stride-2^k skip
        for k in range(5):
            coarser = encoder_channels[4] if k == 4 else decoder_channels[k + 1]
            skip = encoder_channels[k - 1] if k > 0 else 0
            self.upconv_in.append(_conv_elu(coarser, decoder_channels[k]))
            self.upconv_out.append(_conv_elu(decoder_channels[k] + skip, decoder_channels[k]))
        self.disparity_heads = nn.ModuleList(
            _conv3x3(decoder_channels[k], 1) for k in range(DISPARITY_SCALES)
        )

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Disparities of (B, 3, H, W) RGB in [0, 1].

        Returns:
            DISPARITY_SCALES tensors (B, 1, ceil(H / 2^k), ceil(W / 2^k)) in (0, 1), finest first.
        """
        _check_images(images, 3, "DepthNet")
        features = self.encoder.features(_normalize(images))
        return self._decode(features, images.shape[-2:])[1]

    def _decode(
        self, features: tuple[torch.Tensor, ...], size: torch.Size
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The decoder's finest features (B, decoder_channels[0], H, W) and the disparities,
        finest first, from the encoder's five levels; `size` is the input's (H, W)."""
        x = features[4]
        disparities = []
        for k in range(4, -1, -1):
            x = self.upconv_in[k](x)
            x = F.interpolate(x, size=features[k - 1].shape[-2:] if k > 0 else size, mode="nearest")
            if k > 0:
                x = torch.cat([x, features[k - 1]], 1)
            x = self.upconv_out[k](x)
            if k < DISPARITY_SCALES:
                disparities.append(torch.sigmoid(self.disparity_heads[k](x)))
        return x, disparities[::-1]


class MultiFrameDepthNet(DepthNet):
    """An image and its plane-sweep cost volume -> disparities at four scales.

    ManyDepth's layout (Watson et al. 2021), written from the paper, with a fixed photometric
    cost volume (depth.sweep) in place of learned features: the volume, average-pooled to stride
    4, joins the encoder's stride-4 features, so the deeper layers see the image and the
    matching together. The finest disparity is the sweep's depth per pixel
    (`PlaneSweep.inverse_depth`, sharp where the images have texture) changed, as a logit, by a
    small head that reads the decoder's finest features (the whole context: textureless patches,
    occlusions, the image border no source sees) with the plane, its cost and how much the
    planes' costs spread. The change starts at zero, so the untrained network gives the sweep's
    depth. The coarser disparities are DepthNet's and train the decoder on their own.

    Disparities are in `disparity_to_depth`'s terms over [min_depth_m, max_depth_m], which
    hold the sweep's planes.
    """

    def __init__(
        self,
        sweep: PlaneSweep,
        min_depth_m: float,
        max_depth_m: float,
        depth: int | str = 18,
        decoder_channels: tuple[int, ...] = DECODER_CHANNELS,
    ):
        super().__init__(depth, decoder_channels)
        self.sweep = sweep
        self.depth_range_m = (min_depth_m, max_depth_m)
        stride_4 = self.encoder.channels[1]
        self.join = nn.Sequential(nn.Conv2d(stride_4 + sweep.planes, stride_4, 1), nn.ReLU())
        # The finest decoder features with the sweep's answer and how sure it is -> a change of
        # the sweep's disparity (as a logit), zero at first.
        self.refine = nn.Sequential(
            _conv_elu(decoder_channels[0] + SWEEP_CHANNELS, decoder_channels[0]),
            _conv3x3(decoder_channels[0], 1),
        )
        nn.init.zeros_(self.refine[-1][-1].weight)
        nn.init.zeros_(self.refine[-1][-1].bias)

    def forward(self, images: torch.Tensor, cost: torch.Tensor) -> list[torch.Tensor]:
        """Disparities of (B, 3, H, W) RGB in [0, 1] with their cost volume (B, D, H, W)
        (depth.sweep.cheapest_sources over this network's planes, at the images' size).

        Returns:
            DISPARITY_SCALES tensors (B, 1, ceil(H / 2^k), ceil(W / 2^k)) in [0, 1], finest
            first.
        """
        _check_images(images, 3, "MultiFrameDepthNet")
        if cost.shape != (images.shape[0], self.sweep.planes, *images.shape[-2:]):
            raise ValueError(
                f"cost must be (B, {self.sweep.planes}, H, W) for images "
                f"{tuple(images.shape)}; got {tuple(cost.shape)}"
            )

        def join(stride_4: torch.Tensor) -> torch.Tensor:
            pooled = F.adaptive_avg_pool2d(cost, stride_4.shape[-2:])
            return self.join(torch.cat([stride_4, pooled], 1))

        features = self.encoder.features(_normalize(images), join)
        finest, disparities = self._decode(features, images.shape[-2:])
        swept = depth_to_disparity(1.0 / self.sweep.inverse_depth(cost), *self.depth_range_m)
        best = cost.amin(1, keepdim=True)
        spread = cost.mean(1, keepdim=True) - best  # 0 where no source sees any plane
        change = self.refine(torch.cat([finest, swept, best, spread], 1))
        disparity = torch.sigmoid(torch.logit(swept.clamp(1e-4, 1 - 1e-4)) + change)
        return [disparity, *disparities[1:]]


def disparity_to_depth(
    disparity: torch.Tensor, min_depth_m: float, max_depth_m: float
) -> torch.Tensor:
    """Depth in metres from a sigmoid disparity in [0, 1].

    The disparity is mapped linearly onto [1 / max_depth_m, 1 / min_depth_m] and inverted, so 0
    gives max_depth_m, 1 gives min_depth_m, and resolution is finest near the camera.

    Args:
        disparity: any shape, in [0, 1].
        min_depth_m, max_depth_m: 0 < min < max.

    Returns:
        Depth, the same shape, in [min_depth_m, max_depth_m].
    """
    if not 0 < min_depth_m < max_depth_m:
        raise DonkitError(
            f"depth range must satisfy 0 < min < max; got min {min_depth_m} m, max {max_depth_m} m"
        )
    min_disparity, max_disparity = 1.0 / max_depth_m, 1.0 / min_depth_m
    return 1.0 / (min_disparity + (max_disparity - min_disparity) * disparity)


def depth_to_disparity(depth: torch.Tensor, min_depth_m: float, max_depth_m: float) -> torch.Tensor:
    """The inverse of `disparity_to_depth`: (1 / depth - 1 / max_depth_m) /
    (1 / min_depth_m - 1 / max_depth_m), any shape; depth within the range gives [0, 1]."""
    min_disparity, max_disparity = 1.0 / max_depth_m, 1.0 / min_depth_m
    return (1.0 / depth - min_disparity) / (max_disparity - min_disparity)


class PoseNet(nn.Module):
    """(target, source) images -> the motion target_to_source as axis-angle and translation."""

    def __init__(self, depth: int = 18):
        super().__init__()
        self.encoder = ResNet(depth, input_channels=6)
        self.head = nn.Sequential(
            nn.Conv2d(ENCODER_CHANNELS[4], 256, 1),
            nn.ReLU(),
            nn.Conv2d(256, 256, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(256, 256, 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(256, 6, 1),
        )

    def forward(
        self, target: torch.Tensor, source: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The motion from the target camera to the source camera.

        Args:
            target, source: (B, 3, H, W) RGB in [0, 1].

        Returns:
            axis_angle: (B, 3) radians; translation: (B, 3), in the units of the depth it is
            trained with (metres with known poses; arbitrary, hence median scaling, without).
            `pose_from_axis_angle` makes them a (B, 4, 4) target_to_source.
        """
        _check_images(target, 3, "PoseNet target")
        _check_images(source, 3, "PoseNet source")
        pair = torch.cat([_normalize(target), _normalize(source)], 1)
        motion = POSE_SCALE * self.head(self.encoder.features(pair)[4]).mean((2, 3))
        return motion[:, :3], motion[:, 3:]


def pose_from_axis_angle(axis_angle: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """(B, 4, 4) target_to_source = [R(axis_angle) | translation]: p_source = R p_target + t.

    Args:
        axis_angle: (B, 3) rotation vectors, radians.
        translation: (B, 3).
    """
    return make_pose(axis_angle_to_matrix(axis_angle), translation)


def _normalize(images: torch.Tensor) -> torch.Tensor:
    mean = images.new_tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (images - mean) / std


def _check_images(images: torch.Tensor, channels: int, what: str) -> None:
    if images.ndim != 4 or images.shape[1] != channels:
        raise ValueError(f"{what} images must be (B, {channels}, H, W); got {tuple(images.shape)}")
    height, width = images.shape[-2:]
    if min(height, width) < MIN_SIDE_PX:
        raise DonkitError(
            f"{what} images are {width} x {height} pixels; the networks need at least "
            f"{MIN_SIDE_PX} x {MIN_SIDE_PX} (their coarsest features are 1/32 of the input): "
            "use larger images"
        )


def _conv3x3(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(inputs, outputs, 3))


def _conv_elu(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(_conv3x3(inputs, outputs), nn.ELU())
