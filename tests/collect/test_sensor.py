"""The depth-sensor model: range limits, axial noise and dropouts."""

import numpy as np
import pytest

from collect.config import DepthNoiseConfig
from collect.sensor import add_depth_noise, axial_sigma, depth_edges, limit_range


def test_limit_range():
    depth = np.array([[0.05, 0.1, 1.0, 2.0, 2.5, 0.0]], dtype=np.float32)
    expected = np.array([[0, 0.1, 1.0, 2.0, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(limit_range(depth, 0.1, 2.0), expected)


def test_axial_sigma_follows_the_quadratic_model():
    noise = DepthNoiseConfig()
    assert axial_sigma(np.array(0.4), noise) == pytest.approx(0.0012)
    assert axial_sigma(np.array(1.4), noise) == pytest.approx(0.0012 + 0.0019)


def test_depth_edges_hand_computed():
    depth = np.array(
        [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.5, 1.5], [1.0, 1.0, 1.5, 0.0]], dtype=np.float32
    )
    expected = np.array(
        [[0, 0, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]], dtype=bool
    )  # both sides of the 0.5 m step, and the neighbours of the hole
    np.testing.assert_array_equal(depth_edges(depth, 0.01), expected)


def test_noise_statistics_on_a_flat_wall():
    noise = DepthNoiseConfig(random_dropout=0.01)
    depth = np.full((400, 400), 1.0, dtype=np.float32)
    depth[:, :5] = 0.0  # a strip without readings, which must stay without
    noisy = add_depth_noise(depth, noise, np.random.default_rng(0))
    interior = noisy[5:-5, 10:-5]
    readings = interior[interior > 0]
    sigma = 0.0012 + 0.0019 * 0.6**2
    # ~150,000 samples: the standard deviation is estimated to 0.2 %, the mean to sigma / 400.
    assert readings.std() == pytest.approx(sigma, rel=0.02)
    assert abs(readings.mean() - 1.0) < 5 * sigma / np.sqrt(readings.size)
    assert np.all(noisy[:, :5] == 0)
    # Random dropouts away from edges: 1 % of the pixels, within 5 standard errors.
    share = np.mean(interior == 0)
    assert abs(share - 0.01) < 5 * np.sqrt(0.01 * 0.99 / interior.size)
    # At the edge of the strip, half the pixels drop (edge_dropout 0.5) on top of the random ones.
    edge = noisy[:, 5]
    assert abs(np.mean(edge == 0) - (0.5 + 0.5 * 0.01)) < 5 * np.sqrt(0.25 / edge.size)


def test_noise_is_deterministic_from_the_generator():
    depth = np.full((20, 20), 0.7, dtype=np.float32)
    first = add_depth_noise(depth, DepthNoiseConfig(), np.random.default_rng(3))
    second = add_depth_noise(depth, DepthNoiseConfig(), np.random.default_rng(3))
    np.testing.assert_array_equal(first, second)
