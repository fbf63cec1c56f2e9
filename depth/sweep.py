"""Plane sweep over posed frames: a photometric cost volume in the target camera, and the depth
it gives without learning.

Each hypothesis is a plane of constant depth in the target camera; the source frames are warped
onto it through `depth.layers.reproject` (geometry's one reprojection path) and geometry's
sampler, and the cost of a pixel is the mean absolute RGB difference over a square window
around it. Planes are spaced evenly in inverse depth, so that they are evenly spaced in pixels
of motion. Of the sources, each pixel keeps the mean of its `keep` cheapest (a point hidden or
out of view in one source is then scored on the others).

A pixel whose cheapest plane hardly stands out from planes farther away (a repeated texture, a
shadow, a point few sources see) is a guess: `PlaneSweep` replaces the least distinct share of each
image by the median of the distinct ones around it. `PlaneSweep` holds the settings (one
checkpoint's, or a DepthConfig's); the classical baseline of `donkit depth evaluate` is its
`inverse_depth`, and the multi-frame network refines the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from depth.layers import reproject
from geometry import inside_image
from geometry.sampling import sample_bilinear

UNSEEN_COST = 1.0  # cost of a hypothesis that no source sees (the most an RGB difference can be)
DISTINCT_MARGIN = 2  # planes: a rival minimum lies farther than this from the cheapest plane


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


def minimum_distinctness(cost: torch.Tensor, margin: int = DISTINCT_MARGIN) -> torch.Tensor:
    """(B, 1, H, W) how much each pixel's cheapest plane stands out: (the cheapest cost more than
    `margin` planes away from it - the cheapest cost) / the cheapest cost (0 where every plane
    costs the same, as where no source sees the pixel).

    Args:
        cost: (B, D, H, W) one cost per plane (lower is better).
    """
    cheapest, best = cost.min(1, keepdim=True)
    planes = torch.arange(cost.shape[1], device=cost.device).view(1, -1, 1, 1)
    rivals = torch.where((planes - best).abs() > margin, cost, torch.full_like(cost, float("inf")))
    rival = rivals.amin(1, keepdim=True)
    gap = torch.where(torch.isfinite(rival), rival - cheapest, torch.zeros_like(rival))
    return gap / cheapest.clamp_min(1e-3)


def fill_indistinct(
    values: torch.Tensor, distinctness: torch.Tensor, share: float, window: int
) -> torch.Tensor:
    """(B, 1, H, W) `values` with the `share` least distinct pixels of each image replaced by the
    median of the other pixels of their window x window neighbourhood (odd window); a pixel with
    no such neighbour keeps its value.

    Args:
        values: (B, 1, H, W), e.g. inverse depth.
        distinctness: (B, 1, H, W), e.g. `minimum_distinctness`; higher is surer.
        share: in [0, 1); 0 changes nothing.
    """
    if share <= 0:
        return values
    batch = values.shape[0]
    threshold = torch.quantile(distinctness.reshape(batch, -1).float(), share, dim=1)
    kept = distinctness > threshold.to(distinctness.dtype).view(batch, 1, 1, 1)
    # Only the replaced pixels' windows are gathered (a fifth of the pixels at share 0.2): the
    # median over every pixel's window took most of a training step's sweep.
    pad = window // 2
    padded = F.pad(torch.where(kept, values, torch.full_like(values, float("nan"))), [pad] * 4,
                   value=float("nan"))[:, 0]  # fmt: skip
    image, row, column = torch.nonzero(~kept[:, 0], as_tuple=True)
    offsets = torch.arange(window, device=values.device)
    rows = (row[:, None] + offsets)[:, :, None]  # (n, window, 1) in the padded image
    columns = (column[:, None] + offsets)[:, None, :]  # (n, 1, window)
    around = padded[image[:, None, None], rows, columns].reshape(len(image), -1)
    median = around.nanmedian(1).values
    filled = values.clone()
    filled[image, 0, row, column] = torch.where(
        torch.isnan(median), values[image, 0, row, column], median
    )
    return filled


@dataclass(frozen=True)
class PlaneSweep:
    """The plane sweep's settings, and the cost volume and depth they give."""

    planes: int
    """Hypotheses, evenly spaced in inverse depth from near_m to far_m, both included."""
    near_m: float
    far_m: float
    window: int
    """Odd side of the window the photometric cost is averaged over, pixels."""
    keep: int
    """Per pixel and plane, the mean of this many cheapest sources counts."""
    fill: float = 0.0
    """Share of each image's pixels, the least distinct minima, replaced by their neighbours'
    median (`fill_indistinct`); 0: none."""
    fill_window: int = 15
    """Odd side of the neighbourhood of `fill`, pixels."""

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> PlaneSweep:
        """The sweep of a checkpoint's `depth` entry or of `depth.config.multi_frame_spec` (with
        the settings that older checkpoints lack at what those had: planes from min_depth_m, no
        fill)."""
        return cls(
            planes=spec["planes"],
            near_m=max(spec["min_depth_m"], spec.get("sweep_min_depth_m", 0.0)),
            far_m=spec["max_depth_m"],
            window=spec["sweep_window"],
            keep=spec["sweep_keep"],
            fill=spec.get("sweep_fill", 0.0),
            fill_window=spec.get("sweep_fill_window", 15),
        )

    def inverse_depths(self) -> torch.Tensor:
        """(D,) the planes' inverse depths, 1/m, far to near."""
        return plane_inverse_depths(self.near_m, self.far_m, self.planes)

    @torch.no_grad()
    def cost_volume(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, D, h, w) `cheapest_sources` of a `depth.frames.posed_batch` (or of a training
        batch: image, sources, intrinsics, target_to_source)."""
        cost, seen = plane_sweep_cost(
            batch["image"], batch["sources"], batch["intrinsics"], batch["target_to_source"],
            self.inverse_depths().to(batch["image"].device), self.window,
        )  # fmt: skip
        return cheapest_sources(cost, seen, self.keep)

    def inverse_depth(self, cost: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) inverse depth, 1/m, of the (B, D, H, W) `cost_volume`: each pixel's
        `cheapest_plane`, the least distinct `fill` share replaced by its neighbours'."""
        inverse = self.inverse_depths().to(cost)
        swept = inverse[0] + cheapest_plane(cost) * (inverse[1] - inverse[0])
        return fill_indistinct(swept, minimum_distinctness(cost), self.fill, self.fill_window)
