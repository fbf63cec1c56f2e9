"""Augmentation maps, checked against pixel positions worked out by hand."""

import numpy as np

from descriptors.augment import (
    compose,
    map_pixels,
    replace_background,
    rotation_180_map,
    warp_image,
    zoom_map,
)
from learn.augment import jitter_colour


def test_rotation_maps_corners_to_corners_and_turns_the_image():
    rotation = rotation_180_map(height=4, width=6)
    uv = np.array([[0, 0], [5, 3], [2, 1]])
    moved, inside = map_pixels(rotation, uv, 4, 6)
    np.testing.assert_array_equal(moved, [[5, 3], [0, 0], [3, 2]])
    assert inside.all()
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    np.testing.assert_array_equal(warp_image(image, rotation), image[::-1, ::-1])


def test_two_rotations_compose_to_the_identity():
    rotation = rotation_180_map(5, 7)
    np.testing.assert_allclose(compose(rotation, rotation), [[1, 0, 0], [0, 1, 0]])


def test_zoom_by_two_keeps_the_image_corner_and_doubles_pixels():
    # Pixel u spans [u - 0.5, u + 0.5]; scaled by 2 about the corner -0.5 it spans
    # [2u - 0.5, 2u + 1.5], centre 2u + 0.5: pixel 3 covers output pixels 6 and 7.
    zoom = zoom_map(2.0, 0.0, 0.0)
    np.testing.assert_allclose(zoom @ [3.0, 2.0, 1.0], [6.5, 4.5])
    image = np.zeros((10, 12), np.uint8)
    image[2, 3] = 255
    warped = warp_image(image, zoom, nearest=True)
    rows, columns = np.nonzero(warped)
    assert set(rows) == {4, 5} and set(columns) == {6, 7}


def test_shift_moves_pixels_and_reports_those_cropped_away():
    shift = zoom_map(1.0, -3.0, 2.0)
    moved, inside = map_pixels(shift, np.array([[5, 5], [1, 1], [4, 8]]), 10, 10)
    np.testing.assert_array_equal(moved, [[2, 7], [-2, 3], [1, 10]])
    np.testing.assert_array_equal(inside, [True, False, False])


def test_composed_map_applies_the_first_map_first():
    zoom, rotation = zoom_map(2.0, 0.0, 0.0), rotation_180_map(20, 30)
    both = compose(rotation, zoom)
    # Pixel (3, 2) -> zoom (6.5, 4.5) -> turned (29 - 6.5, 19 - 4.5).
    np.testing.assert_allclose(both @ [3.0, 2.0, 1.0], [22.5, 14.5])


def test_colour_jitter_factors():
    grey = np.full((2, 2, 3), 100, np.uint8)
    np.testing.assert_array_equal(jitter_colour(grey, 1.0, 1.0, 1.0), grey)
    np.testing.assert_array_equal(jitter_colour(grey, 0.5, 1.0, 1.0), grey // 2)
    colour = np.array([[[200, 50, 10], [10, 80, 200]]], np.uint8)
    unsaturated = jitter_colour(colour, 1.0, 1.0, 0.0)
    assert (unsaturated == unsaturated[..., :1]).all()  # saturation 0: grey
    np.testing.assert_array_equal(jitter_colour(colour, 1.0, 1.0, 1.0), colour)
    flat = jitter_colour(colour, 1.0, 0.0, 1.0)  # contrast 0: every pixel the mean grey
    assert np.ptp(flat) <= 1


def test_background_is_replaced_outside_the_mask_only():
    image = np.full((3, 3, 3), 7, np.uint8)
    texture = np.full((3, 3, 3), 200, np.uint8)
    mask = np.eye(3, dtype=bool)
    out = replace_background(image, mask, texture)
    assert (out[mask] == 7).all() and (out[~mask] == 200).all()
