"""Bilinear sampling at donkit pixel coordinates."""

import numpy as np
import pytest
import torch

from geometry.sampling import pixels_to_normalized, sample_bilinear


def test_pixel_centres_map_to_grid_sample_coordinates():
    # A 4-pixel-wide image spans u in [-0.5, 3.5): its edges are -1 and 1, centre 0 is -0.75.
    normalized = pixels_to_normalized(torch.tensor([[-0.5, -0.5], [0.0, 0.0], [3.5, 1.5]]), 2, 4)
    torch.testing.assert_close(normalized, torch.tensor([[-1.0, -1.0], [-0.75, -0.5], [1.0, 1.0]]))


def test_integer_pixels_give_their_values_and_between_them_the_bilinear_mean():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 5, 7, generator=generator, dtype=torch.float64)
    uv = torch.tensor([[[6.0, 4.0], [2.0, 1.0]], [[0.0, 0.0], [2.5, 1.5]]], dtype=torch.float64)
    sampled = sample_bilinear(images, uv)
    assert sampled.shape == (2, 3, 2)
    torch.testing.assert_close(sampled[0, :, 0], images[0, :, 4, 6])
    torch.testing.assert_close(sampled[0, :, 1], images[0, :, 1, 2])
    torch.testing.assert_close(sampled[1, :, 0], images[1, :, 0, 0])
    mean = images[1, :, 1:3, 2:4].mean(dim=(1, 2))  # (2.5, 1.5): halfway between four centres
    torch.testing.assert_close(sampled[1, :, 1], mean)


def test_leading_point_dimensions_are_kept_and_the_border_is_repeated():
    image = torch.arange(6.0).reshape(1, 1, 2, 3)
    uv = torch.tensor([[[[-3.0, 0.0], [9.0, 1.0]]]])  # (1, 1, 2, 2): far outside, left and right
    np.testing.assert_array_equal(sample_bilinear(image, uv).numpy(), [[[[0.0, 5.0]]]])
    zeros = sample_bilinear(image, uv, padding_mode="zeros")
    np.testing.assert_array_equal(zeros.numpy(), [[[[0.0, 0.0]]]])


def test_gradients_reach_the_coordinates():
    image = torch.arange(6.0, dtype=torch.float64).reshape(1, 1, 2, 3)
    uv = torch.tensor([[[0.3, 0.6]]], dtype=torch.float64, requires_grad=True)
    sample_bilinear(image, uv).sum().backward()
    # value = u + 3 v on this image (between centres): d/du = 1, d/dv = 3.
    torch.testing.assert_close(uv.grad, torch.tensor([[[1.0, 3.0]]], dtype=torch.float64))


def test_mismatched_batch_is_refused():
    with pytest.raises(ValueError, match="uv must be"):
        sample_bilinear(torch.zeros(2, 1, 3, 3), torch.zeros(1, 4, 2))
