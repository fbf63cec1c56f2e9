"""Lucas-Kanade baseline on synthetic videos whose true tracks are known."""

import cv2
import numpy as np
import pytest

from formats import DonkitError
from geometry import inside_image
from tracking.config import LucasKanadeConfig
from tracking.lucas_kanade import track_lucas_kanade
from tracking.tracks import VISIBLE_SCORE, Queries

HALF_WINDOW_PX = LucasKanadeConfig().window_px // 2


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(H, W) uint8 random texture, smoothed (sigma 2 px) so that bilinear interpolation, which
    both the test videos and LK use, represents it well; mean 128, standard deviation 40."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0.0, 1.0, (height, width)).astype(np.float32), (0, 0), 2)
    return np.clip(128 + noise * 40 / noise.std(), 0, 255).astype(np.uint8)


def shifted(grey: np.ndarray, shift_xy: np.ndarray) -> np.ndarray:
    """`grey` moved by shift_xy (x, y) pixels (content at p goes to p + shift), as RGB."""
    matrix = np.float32([[1, 0, shift_xy[0]], [0, 1, shift_xy[1]]])
    moved = cv2.warpAffine(grey, matrix, grey.shape[::-1], borderMode=cv2.BORDER_REFLECT)
    return np.repeat(moved[..., None], 3, axis=2)


def from_frame(frame: int, xy) -> Queries:
    xy = np.asarray(xy, np.float32)
    return Queries(np.full(len(xy), frame, np.int64), xy)


def test_sub_pixel_translation_forward_and_backward():
    step = np.float32([1.5, -0.75])  # px a frame
    frames = 10
    background = texture(120, 160)
    video = np.stack([shifted(background, t * step) for t in range(frames)])
    columns, rows = np.meshgrid(np.linspace(40, 120, 5), np.linspace(40, 90, 4))
    start = np.stack([columns.ravel(), rows.ravel()], axis=1).astype(np.float32)
    truth = start[:, None] + np.arange(frames)[None, :, None] * step  # (N, T, 2)

    forward = track_lucas_kanade(video, from_frame(0, start))
    backward = track_lucas_kanade(video, from_frame(5, truth[:, 5]))

    # Measured error: at most 0.04 px, largest in frames shifted by half a pixel, whose bilinear
    # interpolation blurs them slightly; it does not grow along the track. 0.2 px is 5 times that
    # and below the 0.25-0.35 px that rounding to whole pixels would cost with these shifts, so
    # the test demands sub-pixel tracking.
    for tracks in (forward, backward):
        np.testing.assert_allclose(tracks.xy, truth, atol=0.2)
        assert tracks.visible.all()
        assert tracks.xy.dtype == np.float32 and tracks.score.dtype == np.float32
    np.testing.assert_array_equal(backward.xy[:, 5], truth[:, 5])  # the query frame: the query
    np.testing.assert_array_equal(backward.score[:, 5], 1.0)
    assert (forward.score > 0.9).all()  # round trips far below the 1 px threshold


def test_occluded_point_is_lost_and_found_again():
    """A flat grey square slides right at 16 px a frame across a tracked point (a hand passing
    the camera) while the textured background drifts by (0.5, 0.25) px a frame."""
    frames, side, speed, drift = 20, 56, 16, np.float32([0.5, 0.25])
    background = texture(128, 128)
    video = []
    for t in range(frames):
        frame = shifted(background, t * drift)
        left = speed * t - side
        frame[24 : 24 + side, max(left, 0) : max(left + side, 0)] = 128
        video.append(frame)
    video = np.stack(video)
    start = np.float32([[60, 48], [60, 104]])  # the second is below the occluder's path
    truth = start[:, None] + np.arange(frames)[None, :, None] * drift
    left = speed * np.arange(frames) - side
    x = truth[0, :, 0]
    window_covered = (left <= x - HALF_WINDOW_PX) & (x + HALF_WINDOW_PX <= left + side - 1)
    window_clear_again = left > x + HALF_WINDOW_PX + 1
    assert window_covered.sum() >= 2 and window_clear_again.sum() >= 5  # the scene as described

    tracks = track_lucas_kanade(video, from_frame(0, start))

    assert not tracks.visible[0, window_covered].any()
    assert tracks.visible[0, window_clear_again].all()
    # The step into the first partly covered frame can still pass the forward-backward check
    # while the occluder's edge drags the point by up to about the 1 px threshold; found again
    # from that frame, the point keeps that offset. Over 100 textures: lost while covered in
    # all, found again in 98, then off by 0.44 px (median) and at most 1.41 px.
    error_px = np.linalg.norm(tracks.xy[0] - truth[0], axis=1)
    assert (error_px[window_clear_again] < 1.5).all()
    assert tracks.visible[1].all()
    np.testing.assert_allclose(tracks.xy[1], truth[1], atol=0.2)


def test_points_that_leave_the_image_are_not_visible():
    """The camera pans right 4 px a frame over a wide texture: the content moves left, and the
    points near the left edge leave the image in frames 2, 4 and 6.

    Only the frame in which a point leaves is asserted: tracked again from where it was last
    seen, a point that has left is found by mistake in later frames (a patch at the edge that
    passes the forward-backward check) in about 8 % of them (a 16-frame pan, 40 textures), and
    already in the frame it leaves in 3 of 100 textures of this test."""
    frames, pan, width = 10, 4, 96
    wide = texture(64, width + pan * frames)
    video = np.stack(
        [np.repeat(wide[:, pan * t : pan * t + width, None], 3, 2) for t in range(frames)]
    )
    start = np.float32([[6, 20], [14, 32], [22, 44], [80, 32]])
    truth = start[:, None] + np.arange(frames)[None, :, None] * np.float32([-pan, 0])
    outside = truth[..., 0] < -0.5
    well_inside = (truth[..., 0] >= HALF_WINDOW_PX) & (truth[..., 0] <= width - 1 - HALF_WINDOW_PX)

    tracks = track_lucas_kanade(video, from_frame(0, start))

    for point in range(3):  # those that leave
        first_outside = np.flatnonzero(outside[point])[0]
        assert not tracks.visible[point, first_outside]
        # ... predicted where they were last seen, inside the image
        np.testing.assert_array_equal(
            tracks.xy[point, first_outside], tracks.xy[point, first_outside - 1]
        )
        assert inside_image(tracks.xy[point, first_outside], width, 64)
    assert tracks.visible[well_inside].all()
    np.testing.assert_allclose(tracks.xy[well_inside], truth[well_inside], atol=0.1)


def test_visible_exactly_where_score_reaches_one_half():
    background = texture(64, 96)
    video = np.stack([shifted(background, (2.0 * t, 0.0)) for t in range(6)])

    tracks = track_lucas_kanade(video, from_frame(2, [[10.0, 30.0], [60.0, 30.0], [90.0, 10.0]]))

    np.testing.assert_array_equal(tracks.visible, tracks.score >= VISIBLE_SCORE)
    assert ((tracks.score >= 0) & (tracks.score <= 1)).all()


def test_no_queries_gives_empty_tracks():
    tracks = track_lucas_kanade(np.zeros((4, 32, 32, 3), np.uint8), from_frame(0, np.zeros((0, 2))))
    assert tracks.xy.shape == (0, 4, 2) and tracks.visible.shape == (0, 4)


def test_queries_outside_the_video():
    video = np.zeros((4, 32, 48, 3), np.uint8)
    with pytest.raises(DonkitError, match=r"query point 1 is given in frame 4, .* frames 0 to 3"):
        track_lucas_kanade(video, Queries(np.array([0, 4]), np.float32([[5, 5], [5, 5]])))
    with pytest.raises(DonkitError, match=r"query point 0 at \(x, y\) = \(48, 5\) lies outside"):
        track_lucas_kanade(video, from_frame(0, [[48.0, 5.0]]))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("window_px", 2, "window_px must be at least 3; got 2"),
        ("pyramid_levels", -1, r"pyramid_levels must lie in \[0, 10\]; got -1"),
        ("fb_threshold_px", 0.0, "fb_threshold_px must be positive; got 0.0"),
        ("fb_threshold_px", float("nan"), "fb_threshold_px must be positive; got nan"),
        ("max_iterations", 0, "max_iterations must be at least 1; got 0"),
        ("epsilon_px", -0.1, "epsilon_px must be positive; got -0.1"),
    ],
)
def test_config_validation(field, value, message):
    # Made in code, not read from YAML: the dataclass checks itself.
    with pytest.raises(DonkitError, match=f"^LucasKanadeConfig.{message}$"):
        LucasKanadeConfig(**{field: value})
