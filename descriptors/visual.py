"""Descriptors as colours, distance heatmaps and match markers; point tracks over video."""

from __future__ import annotations

import cv2
import numpy as np
import torch

_SAMPLES = 20000  # pixels that fit the colour basis: plenty for 3 directions and 2 percentiles


def descriptor_images(descriptors: list[torch.Tensor]) -> list[torch.Tensor]:
    """(D, H, W) descriptors of several images -> (3, H, W) float colours in [0, 1] each.

    Three dimensions are shown as they are; more are projected onto their three principal
    components. One basis and one stretch (each channel between its 1st and 99th percentile) serve
    all the images, so that equal colours mean near descriptors across them.
    """
    dims = descriptors[0].shape[0]
    flat = [d.detach().float().reshape(dims, -1).T for d in descriptors]  # each (H * W, D)
    pooled = torch.cat(flat)
    pooled = pooled[:: max(1, len(pooled) // _SAMPLES)]
    mean = pooled.mean(dim=0)
    if dims > 3:
        _, _, directions = torch.linalg.svd(pooled - mean, full_matrices=False)
        basis = directions[:3].T  # (D, 3)
    else:
        basis = torch.eye(dims, 3)  # fewer than three dimensions: the rest stay black
    projected = (pooled - mean) @ basis
    low, high = torch.quantile(projected, 0.01, dim=0), torch.quantile(projected, 0.99, dim=0)
    scale = (high - low).clamp_min(1e-8)
    colours = []
    for points, d in zip(flat, descriptors, strict=True):
        colour = (((points - mean) @ basis - low) / scale).clamp(0.0, 1.0)
        colours.append(colour.T.reshape(3, *d.shape[1:]))
    return colours


def descriptor_image(descriptors: torch.Tensor) -> torch.Tensor:
    """(D, H, W) descriptors -> (3, H, W) colours in [0, 1], stretched over this image alone."""
    return descriptor_images([descriptors])[0]


def to_rgb8(colours: torch.Tensor) -> np.ndarray:
    """(3, H, W) floats in [0, 1] -> (H, W, 3) uint8."""
    return (colours.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def distances_to(query: torch.Tensor, descriptors: torch.Tensor) -> torch.Tensor:
    """(H, W) Euclidean distances of every pixel's descriptor (D, H, W) to `query` (D,)."""
    return torch.linalg.vector_norm(descriptors - query[:, None, None], dim=0)


def heatmap_overlay(image: np.ndarray, distances: np.ndarray, scale: float) -> np.ndarray:
    """An (H, W, 3) uint8 image with exp(-distance / scale) drawn over it (hot = near)."""
    heat = (np.exp(-distances / max(scale, 1e-12)) * 255).astype(np.uint8)
    colours = cv2.applyColorMap(heat, cv2.COLORMAP_INFERNO)[:, :, ::-1]
    return (0.35 * image + 0.65 * colours).astype(np.uint8)


def draw_marker(image: np.ndarray, uv, colour: tuple[int, int, int], cross: bool = False):
    """Draw a circle (or a cross) at pixel `uv` (u, v) of an RGB image, in place (a sub-pixel
    position at its nearest pixel)."""
    centre = (round(float(uv[0])), round(float(uv[1])))
    if cross:
        cv2.drawMarker(image, centre, colour, cv2.MARKER_CROSS, 12, 2, cv2.LINE_AA)
    else:
        cv2.circle(image, centre, 6, colour, 2, cv2.LINE_AA)
    return image
