"""Colour augmentation shared by descriptor and depth training."""

from __future__ import annotations

import numpy as np


def jitter_colour(
    image: np.ndarray, brightness: float, contrast: float, saturation: float
) -> np.ndarray:
    """(H, W, 3) uint8 image with brightness scaled, contrast stretched about the mean grey,
    and saturation stretched about each pixel's grey (factors of 1 leave it unchanged)."""
    pixels = image.astype(np.float32) * brightness
    grey = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    pixels = (pixels - grey.mean()) * contrast + grey.mean()
    grey = grey[..., None] * contrast + grey.mean() * (1.0 - contrast)
    pixels = grey + (pixels - grey) * saturation
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
