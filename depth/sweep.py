"""Plane sweep over posed frames: a photometric cost volume in the target camera, and the depth
it gives without learning.

Each hypothesis is a plane of constant depth in the target camera; the source frames are warped
onto it through `depth.layers.reproject` (geometry's one reprojection path) and geometry's
sampler, and the cost of a pixel is the mean absolute RGB difference over a square window
around it. Planes are spaced evenly in inverse depth, so that they are evenly spaced in pixels
of motion. Of the sources, each pixel keeps the mean of its `keep` cheapest (a point hidden or
out of view in one source is then scored on the others).

The classical baseline of `donkit depth evaluate` is `sweep_depth`; the multi-frame network reads
the same cost volume.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from depth.layers import reproject
from geometry import inside_image
from geometry.sampling import sample_bilinear

UNSEEN_COST = 1.0  # cost of a hypothesis that no source sees (the most an RGB difference can be)


def plane_inverse_depths(min_depth_m: float, max_depth_m: float, planes: int) -> torch.Tensor:
    """(D,) inverse depths, 1/m, of `planes` hypotheses evenly spaced from 1 / max_depth_m (far)
    to 1 / min_depth_m (near), both included."""
    if not 0 < min_depth_m < max_depth_m or planes < 2:
        raise ValueError(
            f"need 0 < min_depth_m < max_depth_m and 2 or more planes; got {min_depth_m}, "
            f"{max_depth_m}, {planes}"
        )
    return torch.linspace(1.0 / max_depth_m, 1.0 / min_depth_m, planes, dtype=torch.float64)


def plane_sweep_cost(
    target: torch.Tensor,
    sources: torch.Tensor,
    intrinsics: torch.Tensor,
    target_to_source: torch.Tensor,
    inverse_depths: torch.Tensor,
    window: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Windowed photometric cost of every plane hypothesis, per source.

    Args:
        target: (B, C, H, W) the target images.
        sources: (B, S, C, H, W) source images of the same size and camera.
        intrinsics: (B, 3, 3) K of all of them.
        target_to_source: (B, S, 4, 4) motions from the target camera to each source camera.
        inverse_depths: (D,) plane hypotheses, 1/m.
        window: odd side of the square window the absolute difference is averaged over, pixels.

    Returns:
        cost: (B, S, D, H, W) mean |source warped at the plane - target| over channels and the
            window's pixels whose points the source sees (in front of it, inside its image);
            UNSEEN_COST where it sees none of them.
        seen: (B, S, D, H, W) bool, the source sees at least half of the window.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of pixels; got {window}")
    batch, count, _, height, width = sources.shape
    planes = len(inverse_depths)
    depth = (1.0 / inverse_depths).to(target.dtype).view(1, planes, 1, 1)
    depth = depth.expand(batch, planes, height, width).reshape(batch * planes, 1, height, width)
    k = intrinsics.repeat_interleave(planes, 0)
    costs, seen_all = [], []
    for s in range(count):
        uv, depth_in_source = reproject(
            depth, k, k, target_to_source[:, s].repeat_interleave(planes, 0)
        )
        uv = uv.view(batch, planes, height, width, 2)
        warped = sample_bilinear(sources[:, s], uv)  # (B, C, D, H, W): no copy per plane
        error = (warped - target[:, :, None]).abs().mean(1)
        seen = (depth_in_source.view(batch, planes, height, width) > 0) & inside_image(
            uv, width, height
        )
        seen = seen.to(error.dtype)
        seen_share = box_mean(seen, window)
        summed = box_mean(error * seen, window)
        costs.append(
            torch.where(
                seen_share > 0,
                summed / seen_share.clamp_min(1e-6),
                torch.full_like(summed, UNSEEN_COST),
            )
        )
        seen_all.append(seen_share >= 0.5)
    return torch.stack(costs, 1), torch.stack(seen_all, 1)


def box_mean(images: torch.Tensor, window: int) -> torch.Tensor:
    """(..., H, W) mean of each pixel's window x window neighbourhood (odd window), over the
    pixels inside the image. Running sums along each axis make it a few operations a pixel
    whatever the window (torch's avg_pool2d spent a quarter of the sweep's time on 5 x 5)."""
    return _running_mean(_running_mean(images, window, -2), window, -1)


def _running_mean(values: torch.Tensor, window: int, dim: int) -> torch.Tensor:
    pad = window // 2
    size = values.shape[dim]
    padding = [0, 0] * (-dim - 1) + [pad + 1, pad]  # F.pad lists the last dimension first
    sums = F.pad(values, padding).cumsum(dim)
    totals = sums.narrow(dim, window, size) - sums.narrow(dim, 0, size)
    position = torch.arange(size, device=values.device)
    counts = (position + pad).clamp(max=size - 1) - (position - pad).clamp(min=0) + 1
    shape = [1] * values.ndim
    shape[dim] = size
    return totals / counts.to(values.dtype).view(shape)


def cheapest_sources(cost: torch.Tensor, seen: torch.Tensor, keep: int) -> torch.Tensor:
    """(B, D, H, W): per pixel and plane, the mean cost of the `keep` cheapest sources that see
    it; where fewer see it, of those; where none does, UNSEEN_COST.

    Args:
        cost, seen: (B, S, D, H, W) as `plane_sweep_cost` returns.
    """
    keep = min(keep, cost.shape[1])
    masked = torch.where(seen, cost, torch.full_like(cost, float("inf")))
    cheapest = masked.topk(keep, 1, largest=False, sorted=False).values
    finite = torch.isfinite(cheapest)
    counted = finite.sum(1)
    total = torch.where(finite, cheapest, torch.zeros_like(cheapest)).sum(1)
    return torch.where(
        counted > 0, total / counted.clamp_min(1), torch.full_like(total, UNSEEN_COST)
    )


def cheapest_plane(cost: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) each pixel's cheapest plane, as a fractional plane index: refined between
    planes by the vertex of the parabola through its cost and its two neighbours' (kept to
    within half a plane; the first and last planes are not refined).

    Args:
        cost: (B, D, H, W) one cost per plane (lower is better).
    """
    planes = cost.shape[1]
    best = cost.argmin(1, keepdim=True)
    inner = best.clamp(1, planes - 2)  # the parabola needs a plane on each side
    before, at, after = (cost.gather(1, inner + shift) for shift in (-1, 0, 1))
    curvature = before - 2 * at + after
    offset = torch.where(
        (curvature > 1e-9) & (inner == best),
        0.5 * (before - after) / curvature.clamp_min(1e-9),
        torch.zeros_like(at),
    ).clamp(-0.5, 0.5)
    return best.to(cost.dtype) + offset


def sweep_depth(cost: torch.Tensor, inverse_depths: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) depth, metres, at each pixel's `cheapest_plane`.

    Args:
        cost: (B, D, H, W) one cost per plane (lower is better).
        inverse_depths: (D,) evenly spaced plane inverse depths, 1/m.
    """
    inverse = inverse_depths.to(cost.dtype)
    return 1.0 / (inverse[0] + cheapest_plane(cost) * (inverse[1] - inverse[0]))


def batch_cost_volume(batch: dict[str, torch.Tensor], spec: dict[str, Any]) -> torch.Tensor:
    """(B, D, h, w) the cost volume of a `posed_batch` (or a training batch) with the planes,
    window and kept sources of `spec` (a checkpoint's depth entry, or a DepthConfig's fields)."""
    inverse_depths = plane_inverse_depths(spec["min_depth_m"], spec["max_depth_m"], spec["planes"])
    with torch.no_grad():
        cost, seen = plane_sweep_cost(
            batch["image"], batch["sources"], batch["intrinsics"], batch["target_to_source"],
            inverse_depths.to(batch["image"].device), spec["sweep_window"],
        )  # fmt: skip
        return cheapest_sources(cost, seen, spec["sweep_keep"])
