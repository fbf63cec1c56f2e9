"""Training losses for depth: photometric reconstruction, auto-masking, smoothness, the
scale-invariant log loss and stereo left-right consistency (torch, differentiable).

Images are (B, C, H, W) float in [0, 1] (SSIM's constants assume that range); disparities and
depths are (B, 1, H, W); masks are bool of the same shape. Every loss returns a scalar tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# SSIM's stabilizers for a dynamic range of 1: (0.01 L)^2 and (0.03 L)^2 (Wang et al. 2004).
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2
# Weight of the SSIM term in the photometric error; the rest goes to L1 (Godard et al. 2017).
SSIM_WEIGHT = 0.85
# Margin by which a warped source must beat the unwarped ones for a pixel to count. A warp by the
# identity reproduces its source only up to float rounding of the projection (about 1e-6 in the
# error), so without a margin such ties would fall either way; with it the identity wins them,
# deterministically, where monodepth2 breaks them with random noise.
IDENTITY_TIE_BREAK = 1e-5


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel structural similarity over 3x3 windows (reflection padding at the borders).

    Args:
        x, y: (B, C, H, W) in [0, 1], H and W at least 2.

    Returns:
        (B, C, H, W) SSIM in [-1, 1]; 1 where the windows are identical.
    """
    if x.shape != y.shape:
        raise ValueError(f"ssim needs images of one shape; got {tuple(x.shape)}, {tuple(y.shape)}")
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mean_x, mean_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    variance_x = F.avg_pool2d(x * x, 3, 1) - mean_x * mean_x
    variance_y = F.avg_pool2d(y * y, 3, 1) - mean_y * mean_y
    covariance = F.avg_pool2d(x * y, 3, 1) - mean_x * mean_y
    numerator = (2 * mean_x * mean_y + SSIM_C1) * (2 * covariance + SSIM_C2)
    denominator = (mean_x * mean_x + mean_y * mean_y + SSIM_C1) * (
        variance_x + variance_y + SSIM_C2
    )
    return numerator / denominator


def photometric_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """0.85 (1 - SSIM) / 2 + 0.15 |pred - target|, averaged over channels.

    Args:
        pred, target: (B, C, H, W) in [0, 1] (a synthesized view and the real one).

    Returns:
        (B, 1, H, W), in [0, 1]; 0 where the 3x3 neighbourhoods are identical.
    """
    dissimilarity = ((1 - ssim(pred, target)) / 2).clamp(0, 1)
    error = SSIM_WEIGHT * dissimilarity + (1 - SSIM_WEIGHT) * (pred - target).abs()
    return error.mean(1, keepdim=True)


def minimum_reprojection(
    errors: list[torch.Tensor],
    identity_errors: list[torch.Tensor] | None = None,
    valid: list[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel minimum of the photometric errors over source frames, with auto-masking.

    The minimum keeps, at each pixel, the source that sees it best, so a pixel occluded or out of
    view in one neighbour is scored on another. Auto-masking (Godard et al. 2019) drops a pixel
    when some unwarped source matches the target at least as well as every warped one (ties
    within IDENTITY_TIE_BREAK go to the unwarped source): a static camera, a textureless patch,
    or something moving with the camera, none of which says anything about depth.

    Args:
        errors: S tensors (B, 1, H, W): photometric_error(warped source s, target).
        identity_errors: S tensors (B, 1, H, W): photometric_error(source s unwarped, target);
            None turns auto-masking off.
        valid: S bool tensors (B, 1, H, W), e.g. `synthesize`'s: a source is left out of the
            minimum where it is False; a pixel no source sees is dropped. None: all valid.

    Returns:
        loss: scalar, the minimum error summed over kept pixels and divided by all B * H * W
            pixels (dropped ones count as 0, as in monodepth2's mean).
        kept: (B, 1, H, W) bool, the pixels that contribute.
    """
    if not errors:
        raise ValueError("minimum_reprojection needs the errors of at least one source")
    reprojection = torch.cat(errors, 1)
    if valid is not None:
        if len(valid) != len(errors):
            raise ValueError(f"got {len(errors)} error maps but {len(valid)} valid masks")
        usable = torch.cat(valid, 1)
        reprojection = torch.where(usable, reprojection, torch.full_like(reprojection, torch.inf))
    best = reprojection.min(1, keepdim=True).values
    kept = torch.isfinite(best)
    if identity_errors is not None:
        best_identity = torch.cat(identity_errors, 1).min(1, keepdim=True).values
        kept = kept & (best < best_identity - IDENTITY_TIE_BREAK)
    loss = torch.where(kept, best, torch.zeros_like(best)).sum() / best.numel()
    return loss, kept


def edge_aware_smoothness(disparity: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """First-order smoothness of mean-normalized disparity, relaxed at image edges.

    mean(|dx d*| exp(-|dx I|)) + mean(|dy d*| exp(-|dy I|)) with d* = d / mean(d) per image (so
    the loss cannot shrink by scaling disparity down) and |dx I| the absolute colour difference
    of neighbouring pixels averaged over channels.

    Args:
        disparity: (B, 1, H, W), positive.
        image: (B, C, H, W) in [0, 1], the same H and W (at least 2 each).

    Returns:
        scalar.
    """
    if disparity.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"disparity {tuple(disparity.shape)} and image {tuple(image.shape)} differ in size"
        )
    normalized = disparity / (disparity.mean((2, 3), keepdim=True) + 1e-7)
    disparity_dx = (normalized[..., :, 1:] - normalized[..., :, :-1]).abs()
    disparity_dy = (normalized[..., 1:, :] - normalized[..., :-1, :]).abs()
    image_dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(1, keepdim=True)
    image_dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(1, keepdim=True)
    return (disparity_dx * torch.exp(-image_dx)).mean() + (
        disparity_dy * torch.exp(-image_dy)
    ).mean()


def scale_invariant_log_loss(
    pred_depth: torch.Tensor, gt_depth: torch.Tensor, valid: torch.Tensor, lam: float = 0.5
) -> torch.Tensor:
    """Eigen et al. (2014)'s scale-invariant log loss, mean(d^2) - lam * mean(d)^2.

    d = log(pred) - log(gt) over one image's valid pixels; the loss is that of each image,
    averaged over the images that have valid pixels. lam = 0 is the plain squared log error,
    lam = 1 ignores a global scale entirely (pred = c * gt costs (1 - lam) log(c)^2); Eigen used
    0.5. No square root is taken: it is Eigen's definition, its gradient stays finite when the
    loss reaches 0 (sqrt's does not, and lam = 1 reaches 0 whenever pred is a multiple of gt),
    and a caller wanting the root-mean form (BTS's sqrt(...) * 10) can take it outside.

    Args:
        pred_depth: (B, ...) metres, positive where valid.
        gt_depth: (B, ...) metres, 0 = no reading (those pixels are never counted).
        valid: (B, ...) bool, the pixels to compare.
        lam: in [0, 1].

    Returns:
        scalar; 0 (still attached to pred_depth's graph) when no pixel is valid.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1]; got {lam}")
    if not pred_depth.shape == gt_depth.shape == valid.shape:
        raise ValueError(
            f"pred {tuple(pred_depth.shape)}, gt {tuple(gt_depth.shape)} and valid "
            f"{tuple(valid.shape)} must have one shape"
        )
    batch = pred_depth.shape[0]
    valid = (valid & (gt_depth > 0)).reshape(batch, -1)
    ones = torch.ones_like(pred_depth)
    # log(1) = 0 outside the valid pixels keeps those out of the sums and their gradients finite.
    log_ratio = torch.log(torch.where(valid.view_as(pred_depth), pred_depth, ones)) - torch.log(
        torch.where(valid.view_as(gt_depth), gt_depth, ones)
    )
    log_ratio = log_ratio.reshape(batch, -1)
    counts = valid.sum(1)
    used = counts > 0
    if not used.any():
        return 0.0 * pred_depth.sum()
    mean = log_ratio.sum(1)[used] / counts[used]
    mean_square = (log_ratio * log_ratio).sum(1)[used] / counts[used]
    return (mean_square - lam * mean * mean).mean()


def left_right_consistency(
    disp_left: torch.Tensor,
    disp_right_warped_to_left: torch.Tensor,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean |d_left - d_right->left|: the left view's disparity against the right view's,
    sampled where each left pixel lands in the right image (Godard et al. 2017).

    Args:
        disp_left, disp_right_warped_to_left: (B, 1, H, W) in the same units (pixels, or a
            share of the image width).
        valid: (B, 1, H, W) bool, pixels seen by both views; None: all.

    Returns:
        scalar, in the disparities' units; 0 when no pixel is valid.
    """
    difference = (disp_left - disp_right_warped_to_left).abs()
    if valid is None:
        return difference.mean()
    return torch.where(valid, difference, torch.zeros_like(difference)).sum() / valid.sum().clamp(
        min=1
    )
