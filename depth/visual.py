"""Pictures of depth for people: TensorBoard images and `donkit depth predict`'s colour PNGs."""

from __future__ import annotations

import cv2
import numpy as np


def colourise_depth(
    depth_m: np.ndarray, min_depth_m: float, scale_like: np.ndarray | None = None
) -> np.ndarray:
    """(H, W, 3) uint8 RGB picture of depth: inverse depth through the magma colour map,
    normalized by the 95th percentile of the inverse of `scale_like` (default: `depth_m`
    itself; give the sensor depth to draw a prediction in the same colours), so near is bright;
    0 (no depth) is black."""
    inverse = np.where(depth_m > 0, 1.0 / np.maximum(depth_m, 1e-6), 0.0)
    reference = depth_m if scale_like is None else scale_like
    valid = reference > 0
    top = np.percentile(1.0 / reference[valid], 95) if valid.any() else 1.0 / min_depth_m
    scaled = np.clip(inverse / max(top, 1e-6), 0.0, 1.0)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
    bgr[depth_m <= 0] = 0
    return np.ascontiguousarray(bgr[:, :, ::-1])
