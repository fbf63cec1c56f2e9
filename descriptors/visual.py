"""Descriptors as colours."""

from __future__ import annotations

import torch


def descriptor_image(descriptors: torch.Tensor) -> torch.Tensor:
    """(D, H, W) descriptors -> (3, H, W) float colours in [0, 1].

    Three dimensions are shown as they are; more are projected onto their three principal
    components over the image. Each channel is stretched to [0, 1] between its 1st and 99th
    percentile, so one image's colours compare within it, not across images.
    """
    dims, height, width = descriptors.shape
    points = descriptors.detach().float().reshape(dims, -1).T  # (H * W, D)
    if dims > 3:
        centred = points - points.mean(dim=0)
        _, _, directions = torch.linalg.svd(centred[:: max(1, len(centred) // 20000)], False)
        points = centred @ directions[:3].T
    elif dims < 3:
        points = torch.cat([points, points.new_zeros(len(points), 3 - dims)], dim=1)
    low = torch.quantile(points[:: max(1, len(points) // 20000)], 0.01, dim=0)
    high = torch.quantile(points[:: max(1, len(points) // 20000)], 0.99, dim=0)
    colours = ((points - low) / (high - low).clamp_min(1e-8)).clamp(0.0, 1.0)
    return colours.T.reshape(3, height, width)
