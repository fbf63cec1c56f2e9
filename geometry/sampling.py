"""Bilinear sampling of images at pixel coordinates (torch): the one sampler.

Depth estimation samples source frames where target pixels land; tracking samples descriptors at
sub-pixel query points. Both pass donkit pixel coordinates (u, v), integer at pixel centres;
the conversion to grid_sample's normalized coordinates lives here and nowhere else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pixels_to_normalized(uv: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixel coordinates (u, v) -> grid_sample's (x, y) in [-1, 1] (align_corners=False).

    Pixel centre u maps to (2u + 1) / W - 1, so the image's outer edges are -1 and 1.
    """
    scale = uv.new_tensor([2.0 / width, 2.0 / height])
    return (uv + 0.5) * scale - 1.0


def sample_bilinear(
    images: torch.Tensor, uv: torch.Tensor, padding_mode: str = "border"
) -> torch.Tensor:
    """Values of images at (sub-pixel) pixel coordinates.

    Args:
        images: (B, C, H, W).
        uv: (B, ..., 2) pixel coordinates (u, v) = (column, row), integer at pixel centres.
        padding_mode: grid_sample's rule for points outside the image ("border", "zeros").

    Returns:
        (B, C, ...): bilinear interpolation of the four nearest pixel centres; at integer
        coordinates exactly the pixel's value.

    Example:
        >>> image = torch.arange(6.0).reshape(1, 1, 2, 3)
        >>> sample_bilinear(image, torch.tensor([[[0.5, 0.0], [2.0, 1.0]]]))
        tensor([[[0.5000, 5.0000]]])
    """
    batch, _, height, width = images.shape
    if uv.shape[0] != batch or uv.shape[-1] != 2:
        raise ValueError(f"uv must be (B, ..., 2) with B = {batch}; got {tuple(uv.shape)}")
    points = uv.shape[1:-1]
    grid = pixels_to_normalized(uv.reshape(batch, 1, -1, 2), height, width).to(images.dtype)
    sampled = F.grid_sample(
        images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False
    )
    return sampled.reshape(batch, images.shape[1], *points)
