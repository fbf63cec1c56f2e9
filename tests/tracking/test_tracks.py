"""Queries, tracks, scores and tracks.csv."""

from pathlib import Path

import numpy as np
import pytest

from formats import DonkitError
from tracking.tracks import (
    VISIBLE_SCORE,
    Queries,
    Tracks,
    parse_points,
    read_tracks_csv,
    score_from_statistic,
    tracks_csv,
    write_tracks_csv,
)


def two_points_three_frames() -> Tracks:
    xy = np.arange(12, dtype=np.float32).reshape(2, 3, 2) + 0.25
    visible = np.array([[True, False, True], [True, True, False]])
    score = np.array([[1.0, 0.25, 0.75], [0.5, 0.625, 0.0]], np.float32)
    return Tracks(xy, visible, score)


def test_score_is_one_half_exactly_at_the_threshold():
    # 2^(-s / t): s = 0 -> 1, s = t -> 1/2, s = 2t -> 1/4; NaN (no evidence) -> 0.
    scores = score_from_statistic(np.array([0.0, 2.0, 4.0, np.nan, -1.0]), 2.0)
    np.testing.assert_allclose(scores, [1.0, 0.5, 0.25, 0.0, 1.0])
    assert scores.dtype == np.float32
    assert VISIBLE_SCORE == 0.5


def test_tracks_csv_lists_frames_then_points():
    lines = tracks_csv(two_points_three_frames()).splitlines()
    assert lines[0] == "frame,point_id,x,y,visible,score"
    # Frame 0: point 0 at (0.25, 1.25), point 1 at (6.25, 7.25); frame 1 next.
    assert lines[1:4] == [
        "0,0,0.250,1.250,1,1.0000",
        "0,1,6.250,7.250,1,0.5000",
        "1,0,2.250,3.250,0,0.2500",
    ]
    assert len(lines) == 1 + 2 * 3


def test_tracks_csv_round_trip(tmp_path: Path):
    tracks = two_points_three_frames()
    write_tracks_csv(tmp_path / "tracks.csv", tracks)
    back = read_tracks_csv(tmp_path / "tracks.csv")
    np.testing.assert_allclose(back.xy, tracks.xy, atol=5e-4)
    np.testing.assert_array_equal(back.visible, tracks.visible)
    np.testing.assert_allclose(back.score, tracks.score, atol=5e-5)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("frame,x\n", "must start with the header"),
        ("frame,point_id,x,y,visible,score\n0,0,1,2,1\n", "has 5 columns"),
        ("frame,point_id,x,y,visible,score\n0,0,1,nan,1,0.9\n", "y must be finite"),
        ("frame,point_id,x,y,visible,score\n0,0,1,2,3,0.9\n", "visible 0/1"),
        ("frame,point_id,x,y,visible,score\n0,0,1,2,1,0.9\n1,1,1,2,1,0.9\n", "one row for each"),
        ("frame,point_id,x,y,visible,score\n", "holds no rows"),
    ],
)
def test_malformed_tracks_csv_is_refused(tmp_path: Path, text: str, match: str):
    path = tmp_path / "tracks.csv"
    path.write_text(text)
    with pytest.raises(DonkitError, match=match):
        read_tracks_csv(path)


def test_points_option():
    np.testing.assert_array_equal(parse_points("120,80; 200.5,95;"), [[120, 80], [200.5, 95]])
    with pytest.raises(DonkitError, match='is not "x,y"'):
        parse_points("120,80;200")
    with pytest.raises(DonkitError, match="must be a number"):
        parse_points("a,b")
    with pytest.raises(DonkitError, match="holds no point"):
        parse_points(" ; ")


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="queries need"):
        Queries(np.zeros(3, np.int64), np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="tracks need"):
        Tracks(np.zeros((2, 3, 2)), np.zeros((2, 4), bool), np.zeros((2, 3)))
