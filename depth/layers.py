"""View synthesis for depth training: where target pixels land in a source frame, and the source
frame resampled there.

Built on geometry's one reprojection path (`backproject_depth`, `transform`, `project`) and its
one sampler (`sample_bilinear`), so depth training warps exactly as the correspondence generator
does. Everything is batched torch and differentiable with respect to depth (and pose).

Convention: pixel (u, v) = (column, row), integer at pixel centres; depth is camera z in metres;
`target_to_source` (B, 4, 4) maps points in the target camera frame to the source camera frame.
"""

from __future__ import annotations

import torch

from geometry import backproject_depth, inside_image, invert_pose, project, transform
from geometry.sampling import sample_bilinear


def relative_pose(target_to_world: torch.Tensor, source_to_world: torch.Tensor) -> torch.Tensor:
    """(..., 4, 4) target_to_source from two camera_to_world poses (..., 4, 4), e.g. from FK
    (numpy or torch, as geometry.invert_pose)."""
    return invert_pose(source_to_world) @ target_to_world


def reproject(
    depth_target: torch.Tensor,
    intrinsics_target: torch.Tensor,
    intrinsics_source: torch.Tensor,
    target_to_source: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each target pixel's point lands in the source camera.

    Args:
        depth_target: (B, 1, H, W) metres, the target image's depth (predicted or measured).
        intrinsics_target, intrinsics_source: (B, 3, 3) K of the two images.
        target_to_source: (B, 4, 4). Intrinsics and pose are cast to the dtype of the depth.

    Returns:
        uv_source: (B, H, W, 2) pixel coordinates (u, v) in the source image, not rounded,
            possibly outside it; meaningless where depth_in_source <= 0.
        depth_in_source: (B, H, W) camera z of the same points in the source, metres.
    """
    _check_batch(depth_target, intrinsics_target, intrinsics_source, target_to_source)
    batch, _, height, width = depth_target.shape
    dtype = depth_target.dtype
    points_target = backproject_depth(depth_target[:, 0], intrinsics_target.to(dtype))
    points_source = transform(
        points_target.reshape(batch, height * width, 3), target_to_source.to(dtype)
    )
    uv, depth = project(points_source, intrinsics_source.to(dtype))
    return uv.reshape(batch, height, width, 2), depth.reshape(batch, height, width)


def synthesize(
    source_images: torch.Tensor,
    depth_target: torch.Tensor,
    intrinsics_target: torch.Tensor,
    intrinsics_source: torch.Tensor,
    target_to_source: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The target view rebuilt from a source image, given the target's depth and the motion.

    Args:
        source_images: (B, C, H_s, W_s) float, any channels (RGB, depth, disparity).
        depth_target: (B, 1, H, W) metres.
        intrinsics_target, intrinsics_source: (B, 3, 3).
        target_to_source: (B, 4, 4).

    Returns:
        warped: (B, C, H, W) the source sampled bilinearly where target pixels land (border
            values outside the source image, as grid_sample's "border" padding).
        valid: (B, 1, H, W) bool: the target depth is positive, and its point lies in front of the
            source camera and projects inside the source image. Occlusion is not tested here
            (the caller has no source depth in self-supervised training).
    """
    uv_source, depth_in_source = reproject(
        depth_target, intrinsics_target, intrinsics_source, target_to_source
    )
    height_s, width_s = source_images.shape[-2:]
    warped = sample_bilinear(source_images, uv_source, padding_mode="border")
    valid = (
        (depth_target[:, 0] > 0)
        & (depth_in_source > 0)
        & inside_image(uv_source, width_s, height_s)
    )
    return warped, valid[:, None]


def _check_batch(
    depth_target: torch.Tensor,
    intrinsics_target: torch.Tensor,
    intrinsics_source: torch.Tensor,
    target_to_source: torch.Tensor,
) -> None:
    batch = depth_target.shape[0]
    if depth_target.ndim != 4 or depth_target.shape[1] != 1:
        raise ValueError(f"depth_target must be (B, 1, H, W); got {tuple(depth_target.shape)}")
    for name, tensor, shape in (
        ("intrinsics_target", intrinsics_target, (batch, 3, 3)),
        ("intrinsics_source", intrinsics_source, (batch, 3, 3)),
        ("target_to_source", target_to_source, (batch, 4, 4)),
    ):
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must be {shape} for B = {batch}; got {tuple(tensor.shape)}")
