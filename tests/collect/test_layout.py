"""Object layouts: footprints, separation test, and the random placement."""

import math

import cv2
import numpy as np
import pytest

from collect.config import CollectConfig
from collect.layout import footprint, place, polygons_apart
from collect.scene import LAYOUT_STREAM, draw_scene, random_stream
from formats import DonkitError

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def test_footprint_of_a_box_is_its_outline():
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-2, 2) for z in (0, 1)], float)
    outline = footprint(np.vstack([corners, [[0.0, 0.0, 0.5]]]))  # an inner point drops out
    assert sorted(map(tuple, outline)) == [(-1, -2), (-1, 2), (1, -2), (1, 2)]


@pytest.mark.parametrize(
    "offset,gap,apart",
    [
        ((1.5, 0.0), 0.4, True),  # 0.5 apart along x
        ((1.5, 0.0), 0.6, False),
        ((0.5, 0.5), 0.0, False),  # overlapping
        ((1.0, 0.0), 0.0, True),  # touching counts as 0 apart
        ((1.3, 1.3), 0.2, True),  # diagonal: 0.3 apart along both axes
    ],
)
def test_polygons_apart_hand_cases(offset, gap, apart):
    assert polygons_apart(SQUARE, SQUARE + offset, gap) == apart


def rasterized(polygon: np.ndarray, scale: float) -> np.ndarray:
    image = np.zeros((800, 800), np.uint8)
    cv2.fillPoly(image, [np.round(polygon * scale + 400).astype(np.int32)], 1)
    return image.astype(bool)


def test_placed_outlines_keep_the_gap():
    # Checked independently: draw each placed outline at 2 mm per pixel and grow the others by
    # the gap; no drawing may touch another.
    rng = np.random.default_rng(0)
    shoe = np.array([[-0.11, -0.04], [0.11, -0.04], [0.11, 0.04], [-0.11, 0.04]])
    can = (
        np.array(
            [[math.cos(a), math.sin(a)] for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)]
        )
        * 0.03
    )
    region = (np.array([-0.15, -0.15]), np.array([0.15, 0.15]))
    gap = 0.02
    for _ in range(20):
        poses = place([shoe, shoe, can], [region] * 3, gap, rng)
        masks = []
        for outline, (x, y, yaw) in zip([shoe, shoe, can], poses, strict=True):
            rotation = np.array([[math.cos(yaw), math.sin(yaw)], [-math.sin(yaw), math.cos(yaw)]])
            masks.append(rasterized(outline @ rotation + (x, y), scale=500))
        # A disc of 7 px (14 mm): with a pixel of rasterization slack on each side, under 2 cm.
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
        for i in range(3):
            for j in range(i + 1, 3):
                assert not (cv2.dilate(masks[i].astype(np.uint8), grow) & masks[j]).any()


def test_an_impossible_layout_is_a_clear_error():
    big = (SQUARE - 0.5) * 0.5  # 0.5 m squares about their centres: any two within 0.1 m overlap
    region = (np.zeros(2), np.full(2, 0.1))
    with pytest.raises(DonkitError, match=r"enlarge collect\.scene\.region_m"):
        place([big, big], [region] * 2, 0.0, np.random.default_rng(0), layouts=5)


def test_the_demo_config_lays_out_many_scenes():
    # Scene 3 of seed 0 once failed: two shoes and a cereal box in the demo's area.
    config = CollectConfig()
    for index in range(40):
        draw_scene(config, random_stream(config.seed, index, LAYOUT_STREAM))
