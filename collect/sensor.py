"""What a depth sensor makes of the rendered depth: range limits and noise (pure numpy)."""

from __future__ import annotations

import numpy as np

from collect.config import DepthNoiseConfig


def limit_range(depth_m: np.ndarray, min_depth_m: float, max_depth_m: float) -> np.ndarray:
    """Depth with readings outside [min_depth_m, max_depth_m] set to 0 (no reading)."""
    return np.where((depth_m >= min_depth_m) & (depth_m <= max_depth_m), depth_m, 0).astype(
        np.float32
    )


def axial_sigma(depth_m: np.ndarray, noise: DepthNoiseConfig) -> np.ndarray:
    """Standard deviation of the axial noise at each depth, metres (Nguyen et al. 2012)."""
    return noise.axial_base_m + noise.axial_quadratic_m * (depth_m - noise.axial_offset_m) ** 2


def depth_edges(depth_m: np.ndarray, threshold_m: float) -> np.ndarray:
    """(H, W) bool: pixels whose depth differs from a 4-neighbour's by more than `threshold_m`,
    or that border a pixel with no reading."""
    padded = np.pad(depth_m, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    edges = np.zeros(depth_m.shape, dtype=bool)
    for neighbour in (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]):
        edges |= (np.abs(neighbour - centre) > threshold_m) | ((neighbour == 0) != (centre == 0))
    return edges


def add_depth_noise(
    depth_m: np.ndarray, noise: DepthNoiseConfig, rng: np.random.Generator
) -> np.ndarray:
    """A noisy reading of `depth_m`: Gaussian axial noise growing with distance, dropouts at
    depth edges and at random. Pixels without a reading stay without one.

    Args:
        depth_m: (H, W) float32 metres, 0 = no reading.

    Returns:
        (H, W) float32 metres.
    """
    valid = depth_m > 0
    noisy = depth_m + rng.standard_normal(depth_m.shape) * axial_sigma(depth_m, noise)
    dropped = depth_edges(depth_m, noise.edge_threshold_m) & (
        rng.random(depth_m.shape) < noise.edge_dropout
    )
    dropped |= rng.random(depth_m.shape) < noise.random_dropout
    return np.where(valid & ~dropped & (noisy > 0), noisy, 0).astype(np.float32)
