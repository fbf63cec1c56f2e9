"""The training objective of each depth mode: a batch and the networks in, the loss out.

Every mode predicts disparity at up to four scales from one image. Each scale is upsampled to
the input size before it is compared with images or sensor depth (so that coarse scales are
not trained on coarse images, which leaves holes in textureless regions); smoothness is measured
at each scale's own size, against the image resized to it, and weighs 1 / 2^k at scale k. The
total is the mean over scales.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from depth.config import DepthConfig
from depth.layers import synthesize
from depth.losses import (
    edge_aware_smoothness,
    left_right_consistency,
    minimum_reprojection,
    photometric_error,
    scale_invariant_log_loss,
)
from depth.network import disparity_to_depth, pose_from_axis_angle
from geometry import invert_pose

Loss = tuple[torch.Tensor, dict[str, float], torch.Tensor]


def batch_loss(
    config: DepthConfig,
    depth_model: torch.nn.Module,
    pose_model: torch.nn.Module | None,
    batch: dict[str, Any],
) -> Loss:
    """The loss of `config.mode` on a batch of depth.data samples.

    Args:
        depth_model: a DepthNet (or its DistributedDataParallel wrapper).
        pose_model: a PoseNet for self_supervised training without poses, else None.

    Returns:
        total: scalar tensor to minimize; log: its terms as floats (`total` among them);
        disparity: (B, 1, H, W) the finest disparity of the batch's (left) images.
    """
    if config.mode == "self_supervised":
        return _self_supervised(config, depth_model, pose_model, batch)
    if config.mode == "stereo":
        return _stereo(config, depth_model, batch)
    return _supervised(config, depth_model, batch)


def _self_supervised(config, depth_model, pose_model, batch) -> Loss:
    """Each target rebuilt from its sources; per pixel the best source counts (auto-masked)."""
    target, sources, intrinsics = batch["image"], batch["sources"], batch["intrinsics"]
    if config.multi_frame:
        disparities = depth_model(batch["network_image"], batch["cost"])[: config.scales]
    else:
        disparities = depth_model(batch["network_image"])[: config.scales]
    target_to_source = _target_to_source(pose_model, batch)
    count = sources.shape[1]
    identity = None
    if config.auto_mask:
        identity = [photometric_error(sources[:, s], target) for s in range(count)]
    photometric, smoothness, kept_share = [], [], 0.0
    for k, disparity in enumerate(disparities):
        depth = _depth_at(disparity, target.shape[-2:], config)
        errors, valid = [], []
        for s in range(count):
            warped, inside = synthesize(
                sources[:, s], depth, intrinsics, intrinsics, target_to_source[:, s]
            )
            errors.append(photometric_error(warped, target))
            valid.append(inside)
        if pose_model is not None:
            valid = _seen_or_scored(valid)
        loss, kept = minimum_reprojection(errors, identity, valid)
        photometric.append(loss)
        smoothness.append(_smoothness(disparity, target, k))
        if k == 0:
            kept_share = float(kept.float().mean())
    return _combine(config, photometric, smoothness, None, kept_share, disparities[0])


def _seen_or_scored(valid: list[torch.Tensor]) -> list[torch.Tensor]:
    """Masks that still choose among the sources that see a pixel, but score a pixel no source
    sees on all of them (their border-padded warps) instead of dropping it.

    A pose network can send every pixel out of view, and a dropped pixel costs nothing: left
    alone, its motions grew until nothing was seen and the loss was 0 (kept share 1.0 -> 0.0 in
    16 steps at learning rate 1e-3). Known poses cannot do that, so training with them drops
    such pixels, as `synthesize` advises.
    """
    unseen = ~torch.stack(valid).any(0)
    return [mask | unseen for mask in valid]


def _target_to_source(pose_model, batch) -> torch.Tensor:
    """(B, S, 4, 4): from forward kinematics, or from the pose network."""
    if pose_model is None:
        return batch["target_to_source"]
    motions = []
    for s in range(batch["network_sources"].shape[1]):
        axis_angle, translation = pose_model(batch["network_image"], batch["network_sources"][:, s])
        motions.append(pose_from_axis_angle(axis_angle, translation))
    return torch.stack(motions, 1)


def _stereo(config, depth_model, batch) -> Loss:
    """Each image of a pair rebuilt from the other, and the two disparities made to agree.

    Both images go through the network (one pass); the left-right term compares each view's
    disparity with the other view's, sampled where the view's pixels land in it.
    """
    left, right, intrinsics = batch["image"], batch["right"], batch["intrinsics"]
    batch_size, size = left.shape[0], left.shape[-2:]
    left_to_right = batch["left_to_right"]
    views = ((left, right, left_to_right), (right, left, invert_pose(left_to_right)))
    both = torch.cat([batch["network_image"], batch["network_right"]])
    disparities = depth_model(both)[: config.scales]
    # Stereo disparity as a share of the image width, fx * b / (z * W), as Godard et al. compare.
    share = (intrinsics[:, 0, 0] * batch["baseline_m"] / size[1]).view(-1, 1, 1, 1)
    photometric, smoothness, consistency, kept_share = [], [], [], 0.0
    for k, disparity in enumerate(disparities):
        depths = _depth_at(disparity, size, config).split(batch_size)
        terms, agreement = [], []
        for (target, source, target_to_source), depth, other in zip(
            views, depths, depths[::-1], strict=True
        ):
            warped, inside = synthesize(source, depth, intrinsics, intrinsics, target_to_source)
            identity = [photometric_error(source, target)] if config.auto_mask else None
            loss, kept = minimum_reprojection(
                [photometric_error(warped, target)], identity, [inside]
            )
            terms.append(loss)
            if k == 0 and target is left:
                kept_share = float(kept.float().mean())
            other_disparity, inside = synthesize(
                share / other, depth, intrinsics, intrinsics, target_to_source
            )
            agreement.append(left_right_consistency(share / depth, other_disparity, inside))
        photometric.append((terms[0] + terms[1]) / 2)
        consistency.append((agreement[0] + agreement[1]) / 2)
        smoothness.append(_smoothness(disparity, torch.cat([left, right]), k))
    finest = disparities[0][:batch_size]
    return _combine(config, photometric, smoothness, consistency, kept_share, finest)


def _supervised(config, depth_model, batch) -> Loss:
    """The scale-invariant log loss against sensor depth within the depth range."""
    gt = batch["depth"]
    valid = (gt >= config.min_depth_m) & (gt <= config.max_depth_m)
    disparities = depth_model(batch["network_image"])[: config.scales]
    terms = [
        scale_invariant_log_loss(
            _depth_at(d, gt.shape[-2:], config), gt, valid, config.silog_lambda
        )
        for d in disparities
    ]
    total = torch.stack(terms).mean()
    log = {"total": _value(total), "silog": _value(total), "silog_finest": _value(terms[0])}
    return total, log, disparities[0]


def _depth_at(disparity: torch.Tensor, size, config: DepthConfig) -> torch.Tensor:
    upsampled = F.interpolate(disparity, size, mode="bilinear", align_corners=False)
    return disparity_to_depth(upsampled, config.min_depth_m, config.max_depth_m)


def _smoothness(disparity: torch.Tensor, image: torch.Tensor, k: int) -> torch.Tensor:
    resized = F.interpolate(image, disparity.shape[-2:], mode="area")
    return edge_aware_smoothness(disparity, resized) / 2**k


def _combine(config, photometric, smoothness, consistency, kept_share, finest) -> Loss:
    """Mean over scales of photometric + smoothness_weight * smoothness (+ left-right)."""
    per_scale = [
        p + config.smoothness_weight * s for p, s in zip(photometric, smoothness, strict=True)
    ]
    log = {
        "photometric": _value(torch.stack(photometric).mean()),
        "photometric_finest": _value(photometric[0]),
        "smoothness": _value(torch.stack(smoothness).mean()),
        "kept_share": kept_share,
    }
    if consistency is not None:
        per_scale = [
            term + config.left_right_weight * lr
            for term, lr in zip(per_scale, consistency, strict=True)
        ]
        log["left_right"] = _value(torch.stack(consistency).mean())
    total = torch.stack(per_scale).mean()
    log["total"] = _value(total)
    return total, log, finest


def _value(tensor: torch.Tensor) -> float:
    return float(tensor.detach())
