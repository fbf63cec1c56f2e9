import numpy as np
import pytest

from tracking.overlay import draw_tracks, track_colours
from tracking.tracks import Tracks

BACKGROUND = 90  # grey level of the test frames


def straight_tracks(visible: list[bool]) -> Tracks:
    """One point moving 6 px a frame to the right along row 20, from x = 10."""
    frames = len(visible)
    xy = np.stack([10.0 + 6.0 * np.arange(frames), np.full(frames, 20.0)], axis=1)
    visible = np.array([visible])
    return Tracks(xy[None].astype(np.float32), visible, visible.astype(np.float32))


def grey_video(frames: int) -> np.ndarray:
    return np.full((frames, 40, 80, 3), BACKGROUND, np.uint8)


def test_colours_are_distinct_and_deterministic():
    colours = track_colours(60)

    assert colours.shape == (60, 3) and colours.dtype == np.uint8
    assert len(np.unique(colours, axis=0)) == 60
    np.testing.assert_array_equal(track_colours(60), colours)
    np.testing.assert_array_equal(track_colours(5), colours[:5])  # a point keeps its colour
    # consecutive ids differ in at least one channel by a third of the range
    assert (np.abs(np.diff(colours.astype(int), axis=0)).max(axis=1) > 85).all()
    assert track_colours(0).shape == (0, 3)


def test_visible_point_is_a_filled_disc_and_hidden_one_a_ring():
    video = grey_video(2)
    tracks = straight_tracks([True, False])
    colour = track_colours(1)[0]

    drawn = draw_tracks(video, tracks, radius_px=4)

    np.testing.assert_allclose(drawn[0, 20, 10], colour, atol=1)  # the disc's centre
    np.testing.assert_array_equal(drawn[1, 20, 16], BACKGROUND)  # the ring's centre ...
    np.testing.assert_allclose(drawn[1, 20, 20], colour, atol=1)  # ... its rim, 4 px right
    assert (video == BACKGROUND).all()  # the input is not drawn on
    assert drawn.shape == video.shape and drawn.dtype == np.uint8


def test_trail_joins_earlier_visible_positions():
    tracks = straight_tracks([True] * 6)
    colour = track_colours(1)[0]

    drawn = draw_tracks(grey_video(6), tracks, trail=8)

    for x in (10, 16, 22, 28):  # positions in frames 0 to 3, far from frame 5's disc at x = 40
        np.testing.assert_allclose(drawn[5, 20, x], colour, atol=1)
    np.testing.assert_allclose(drawn[5, 20, 13], colour, atol=1)  # between two of them
    short = draw_tracks(grey_video(6), tracks, trail=2)  # frames 3 to 5 only
    np.testing.assert_array_equal(short[5, 20, 22], BACKGROUND)
    np.testing.assert_allclose(short[5, 20, 28], colour, atol=1)


def test_trail_skips_frames_where_the_point_was_hidden():
    tracks = straight_tracks([True, True, True, False, True, True])

    drawn = draw_tracks(grey_video(6), tracks)

    colour = track_colours(1)[0]
    np.testing.assert_allclose(drawn[5, 20, 19], colour, atol=1)  # frames 1 -> 2
    for x in (25, 31):  # around frame 3's position: its segments to frames 2 and 4 are not drawn
        np.testing.assert_array_equal(drawn[5, 20, x], BACKGROUND)


def test_frames_must_match():
    with pytest.raises(ValueError, match="disagree"):
        draw_tracks(grey_video(3), straight_tracks([True, True]))
