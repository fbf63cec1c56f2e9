"""TAP-Vid query sampling and metrics, against values worked out by hand."""

import math

import numpy as np
import pytest

from formats.tapvid import TapVidVideo
from tests.formats.test_tapvid import OCCLUDED, point_positions, small_video
from tracking.metrics import (
    FIGURES,
    evaluate_tracks,
    mean_metrics,
    queries_of,
    sample_queries,
    tapvid_metrics,
    tapvid_query_points,
)
from tracking.tracks import Queries, Tracks


def one_track(frames: int, query_frame: int = 0) -> tuple[Queries, np.ndarray, np.ndarray]:
    """One point resting at (100, 50), visible in every frame, queried at `query_frame`."""
    gt_xy = np.tile(np.float32([100.0, 50.0]), (1, frames, 1))
    queries = Queries(np.array([query_frame]), gt_xy[:, query_frame].copy())
    return queries, gt_xy, np.zeros((1, frames), bool)


def expected(pts_within: list[float], jaccard: list[float], occlusion: float) -> dict:
    """Every figure from pts_within and Jaccard at 1, 2, 4, 8, 16 px and occlusion accuracy."""
    return {
        "average_jaccard": float(np.mean(jaccard)),
        "occlusion_accuracy": occlusion,
        "position_accuracy": float(np.mean(pts_within)),
        **{f"pts_within_{d}": v for d, v in zip((1, 2, 4, 8, 16), pts_within, strict=True)},
        **{f"jaccard_{d}": v for d, v in zip((1, 2, 4, 8, 16), jaccard, strict=True)},
    }


def assert_figures(values: dict, want: dict) -> None:
    for name, value in want.items():
        assert values[name] == pytest.approx(value, abs=1e-12), name


# --- query sampling ---------------------------------------------------------------------------


def test_first_mode_queries_each_point_once_where_it_is_first_visible():
    target_points = point_positions(4, 6)
    queries, track_index = sample_queries(target_points, OCCLUDED, "first")
    # point 0 first visible at frame 1 -> (1, 1); point 1 never -> none; point 2 at frame 0 ->
    # (20, 200); point 3 at frame 5 -> (35, 305).
    np.testing.assert_array_equal(track_index, [0, 2, 3])
    np.testing.assert_array_equal(queries.frame, [1, 0, 5])
    np.testing.assert_array_equal(queries.xy, [[1, 1], [20, 200], [35, 305]])
    assert track_index.dtype == np.int64 and queries.frame.dtype == np.int64


def test_strided_mode_queries_every_visible_point_every_stride_frames():
    target_points = point_positions(4, 6)
    queries, track_index = sample_queries(target_points, OCCLUDED, "strided", stride=2)
    # frame 0: point 2; frame 2: points 0 and 2; frame 4: points 0 and 2 (1 and 3 hidden).
    np.testing.assert_array_equal(queries.frame, [0, 2, 2, 4, 4])
    np.testing.assert_array_equal(track_index, [2, 0, 2, 0, 2])
    np.testing.assert_array_equal(queries.xy, [[20, 200], [2, 2], [22, 202], [4, 4], [24, 204]])
    # The default stride 5 samples frames 0 (point 2) and 5 (points 0, 2 and 3).
    queries, track_index = sample_queries(target_points, OCCLUDED, "strided")
    np.testing.assert_array_equal(queries.frame, [0, 5, 5, 5])
    np.testing.assert_array_equal(track_index, [2, 0, 2, 3])


def test_no_visible_point_gives_no_query():
    queries, track_index = sample_queries(np.zeros((2, 3, 2)), np.ones((2, 3), bool), "first")
    assert len(queries) == 0 and track_index.shape == (0,)
    with pytest.raises(ValueError, match="query mode"):
        sample_queries(np.zeros((2, 3, 2)), np.ones((2, 3), bool), "last")


def test_query_points_convert_between_t_y_x_and_frame_x_y():
    queries = Queries(np.array([3, 0]), np.float32([[10.0, 20.0], [5.5, 7.25]]))
    np.testing.assert_array_equal(tapvid_query_points(queries), [[3, 20, 10], [0, 7.25, 5.5]])
    video = small_video()
    back = queries_of(video)
    np.testing.assert_array_equal(back.frame, video.query_points[:, 0])
    np.testing.assert_array_equal(back.xy, video.query_points[:, [2, 1]])
    np.testing.assert_array_equal(tapvid_query_points(back), video.query_points)


# --- metrics ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["first", "strided"])
def test_perfect_prediction_scores_one(mode):
    target_points = point_positions(4, 6)
    queries, track_index = sample_queries(target_points, OCCLUDED, mode, stride=2)
    gt_xy, gt_occluded = target_points[track_index], OCCLUDED[track_index]
    values = tapvid_metrics(queries, gt_xy, gt_occluded, gt_xy, gt_occluded, mode, (64, 48))
    assert_figures(values, expected([1.0] * 5, [1.0] * 5, 1.0))
    assert values["queries"] == len(queries)


def test_a_3_px_error_is_within_4_8_16_but_not_1_2():
    queries, gt_xy, gt_occluded = one_track(4)
    pred_xy = gt_xy.copy()
    pred_xy[0, 2, 0] += 3.0  # 256 x 256 image: 3 px in the metric's units too
    values = tapvid_metrics(queries, gt_xy, gt_occluded, pred_xy, gt_occluded, "first", (256, 256))
    # Evaluated: frames 1, 2, 3, all visible. Within 1 and 2 px: frames 1 and 3, so 2/3; within
    # 4, 8, 16: all 3. Jaccard at 1 and 2: TP 2 / (3 visible + 1 FP, frame 2 too far) = 1/2; at
    # 4, 8, 16: 3 / 3. AJ = (1/2 + 1/2 + 1 + 1 + 1) / 5 = 0.8; position accuracy =
    # (2/3 + 2/3 + 1 + 1 + 1) / 5 = 13/15.
    assert_figures(values, expected([2 / 3, 2 / 3, 1, 1, 1], [0.5, 0.5, 1, 1, 1], 1.0))
    assert values["average_jaccard"] == pytest.approx(0.8)
    assert values["position_accuracy"] == pytest.approx(13 / 15)
    assert values["queries"] == 1
    assert all(type(value) in (float, int) for value in values.values())  # JSON-ready


def test_visibility_errors_cost_jaccard_and_occlusion_accuracy_not_position_accuracy():
    queries, gt_xy, gt_occluded = one_track(4)
    gt_occluded[0, 3] = True
    # A false positive: predicted visible (at the right place) in frame 3, where it is hidden.
    # Evaluated frames 1, 2, 3; visible 1, 2, both exact: pts_within = 2/2 at every threshold;
    # Jaccard = TP 2 / (2 visible + 1 FP) = 2/3; occlusion right in 2 of 3 frames.
    pred_occluded = np.zeros((1, 4), bool)
    values = tapvid_metrics(queries, gt_xy, gt_occluded, gt_xy, pred_occluded, "first", (64, 64))
    assert_figures(values, expected([1.0] * 5, [2 / 3] * 5, 2 / 3))
    # A false negative: hidden in frame 1 where it is visible and rightly placed. Its position
    # still counts (pts_within 2/2) but it is no true positive: Jaccard = 1 / (2 + 0) = 1/2;
    # occlusion right in frames 2 and 3 only.
    pred_occluded = gt_occluded.copy()
    pred_occluded[0, 1] = True
    values = tapvid_metrics(queries, gt_xy, gt_occluded, gt_xy, pred_occluded, "first", (64, 64))
    assert_figures(values, expected([1.0] * 5, [0.5] * 5, 2 / 3))


def test_positions_are_compared_in_a_256_by_256_rescaling():
    # A 512 x 128 image: x counts half, y double. Two queries at frame 0, two frames each.
    queries = Queries(np.array([0, 0]), np.float32([[100.0, 50.0], [100.0, 50.0]]))
    gt_xy = np.tile(np.float32([100.0, 50.0]), (2, 2, 1))
    gt_occluded = np.zeros((2, 2), bool)
    pred_xy = gt_xy.copy()
    pred_xy[0, 1, 0] += 6.0  # 3 px rescaled: within 4, 8, 16 (6 px unscaled: only 8, 16)
    pred_xy[1, 1, 1] += 0.75  # 1.5 px rescaled: within 2 and up (0.75 px unscaled: within 1)
    values = tapvid_metrics(queries, gt_xy, gt_occluded, pred_xy, gt_occluded, "first", (512, 128))
    # Evaluated: frame 1 of each query, both visible. pts_within_1 = 0/2, _2 = 1/2, _4.. = 2/2;
    # Jaccard_1 = 0 / (2 + 2 FP) = 0, _2 = 1 / (2 + 1) = 1/3, _4.. = 1. AJ = (0 + 1/3 + 3) / 5
    # = 2/3; position accuracy = (0 + 1/2 + 3) / 5 = 0.7.
    assert_figures(values, expected([0, 0.5, 1, 1, 1], [0, 1 / 3, 1, 1, 1], 1.0))
    assert values["average_jaccard"] == pytest.approx(2 / 3)
    assert values["position_accuracy"] == pytest.approx(0.7)


def test_first_mode_ignores_frames_before_the_query_and_strided_uses_them():
    queries, gt_xy, gt_occluded = one_track(4, query_frame=2)
    pred_xy = gt_xy.copy()
    pred_xy[0, 0, 1] += 3.0  # before the query: 3 px off
    pred_xy[0, 2] += 100.0  # the query frame itself: never evaluated
    first = tapvid_metrics(queries, gt_xy, gt_occluded, pred_xy, gt_occluded, "first", (256, 256))
    # "first" evaluates frame 3 only, which is exact: everything 1.
    assert_figures(first, expected([1.0] * 5, [1.0] * 5, 1.0))
    strided = tapvid_metrics(
        queries, gt_xy, gt_occluded, pred_xy, gt_occluded, "strided", (256, 256)
    )
    # "strided" evaluates frames 0, 1, 3: as in the 3 px case, pts_within 2/3 at 1 and 2 px,
    # Jaccard 2 / (3 + 1) there; AJ 0.8, position accuracy 13/15.
    assert_figures(strided, expected([2 / 3, 2 / 3, 1, 1, 1], [0.5, 0.5, 1, 1, 1], 1.0))


def test_a_window_of_frames_from_the_query_scores_those_frames_alone():
    queries, gt_xy, gt_occluded = one_track(6)
    pred_xy = gt_xy.copy()
    pred_xy[0, 4:] += 100.0  # lost from frame 4 on: 4 and 5 frames from the query
    near = tapvid_metrics(
        queries, gt_xy, gt_occluded, pred_xy, gt_occluded, "first", (256, 256), (1, 4)
    )
    far = tapvid_metrics(
        queries, gt_xy, gt_occluded, pred_xy, gt_occluded, "first", (256, 256), (4, 10)
    )
    # Frames 1-3 are exact: everything 1. Frames 4 and 5 are far off and predicted visible:
    # no true positive, 2 false positives: Jaccard 0 / (2 + 2) = 0, position accuracy 0.
    assert_figures(near, expected([1.0] * 5, [1.0] * 5, 1.0))
    assert far["average_jaccard"] == 0.0 and far["position_accuracy"] == 0.0
    assert far["occlusion_accuracy"] == 1.0


def test_entries_are_pooled_over_the_queries_of_a_video():
    # Query A (frame 2 of 4) is 3 px off in its one evaluated frame; query B (frame 0) is exact in
    # its three. pts_within_1 = 3/4 pooled (a mean over queries would give 1/2); Jaccard_1 =
    # 3 / (4 + 1) = 0.6.
    queries = Queries(np.array([2, 0]), np.float32([[100.0, 50.0], [100.0, 50.0]]))
    gt_xy = np.tile(np.float32([100.0, 50.0]), (2, 4, 1))
    gt_occluded = np.zeros((2, 4), bool)
    pred_xy = gt_xy.copy()
    pred_xy[0, 3, 0] += 3.0
    values = tapvid_metrics(queries, gt_xy, gt_occluded, pred_xy, gt_occluded, "first", (256, 256))
    assert_figures(values, expected([0.75, 0.75, 1, 1, 1], [0.6, 0.6, 1, 1, 1], 1.0))


def test_nothing_to_measure_gives_nan_not_a_silent_zero():
    # Queried in the last frame: "first" evaluates no frame at all.
    queries, gt_xy, gt_occluded = one_track(3, query_frame=2)
    values = tapvid_metrics(queries, gt_xy, gt_occluded, gt_xy, gt_occluded, "first", (64, 64))
    assert all(math.isnan(values[name]) for name in FIGURES)
    assert values["queries"] == 1
    # Hidden in every evaluated frame but predicted visible: no position to measure (NaN), while
    # Jaccard is 0 true positives / (0 + 2 false positives) = 0, as TAP-Vid computes it.
    gt_occluded[0, :2] = True
    values = tapvid_metrics(queries, gt_xy, gt_occluded, gt_xy, np.zeros((1, 3), bool), "strided",
                            (64, 64))  # fmt: skip
    assert math.isnan(values["pts_within_1"]) and math.isnan(values["position_accuracy"])
    assert values["jaccard_1"] == 0.0 and values["average_jaccard"] == 0.0
    assert values["occlusion_accuracy"] == 0.0


def test_mean_metrics_averages_videos_and_sums_queries():
    nan = float("nan")
    a = {"queries": 3, **{name: 1.0 for name in FIGURES}}
    b = {"queries": 5, **{name: 0.5 for name in FIGURES}}
    c = {"queries": 1, **{name: nan for name in FIGURES}, "occlusion_accuracy": 0.0}
    means = mean_metrics([a, b, c])
    assert means["videos"] == 3 and means["queries"] == 9
    # The NaN video has nothing to measure and is left out: (1 + 0.5) / 2.
    assert means["average_jaccard"] == pytest.approx(0.75)
    assert means["occlusion_accuracy"] == pytest.approx(0.5)  # (1 + 0.5 + 0) / 3


def test_evaluate_tracks_scores_an_oracle_one_and_a_still_tracker_by_hand():
    video = small_video()

    def oracle(queries: Queries) -> Tracks:
        # Each query names its point by its (unique) position at the query frame.
        visible_at = ~video.occluded[:, queries.frame].T  # (Q, N)
        same = video.target_points[:, queries.frame].transpose(1, 0, 2) == queries.xy[:, None]
        point = np.argmax(same.all(axis=-1) & visible_at, axis=1)
        xy = np.nan_to_num(video.target_points[point])
        return Tracks(xy, ~video.occluded[point], np.ones(xy.shape[:2], np.float32))

    results = evaluate_tracks(video, oracle, stride=2)
    for mode in ("first", "strided"):
        assert_figures(results[mode], expected([1.0] * 5, [1.0] * 5, 1.0))
    assert results["first"]["queries"] == 3 and results["strided"]["queries"] == 5

    def still(queries: Queries) -> Tracks:
        xy = np.repeat(queries.xy[:, None], video.frames, axis=1)
        return Tracks(xy, np.ones(xy.shape[:2], bool), np.ones(xy.shape[:2], np.float32))

    first = evaluate_tracks(video, still, modes=("first",))["first"]
    # Points drift by (1, 1) px a frame in a 32 x 24 image: 8 x (1, 32/3) in 256 x 256, so a
    # still point is sqrt(8^2 + 10.67^2) = 13.3 px off per frame since its query.
    # Point 0 (query frame 1) evaluates frames 2, 3 (hidden), 4, 5 at lags 1-4; point 2 (query
    # 0) frames 1-5 at lags 1-5; point 3 (query 5) none: 9 entries, 8 visible. Within 16 px: lag
    # 1 only, 2 entries, so pts_within_16 = 2/8; the other 7 entries, predicted visible, are
    # false positives (6 too far, 1 hidden): Jaccard_16 = 2 / (8 + 7) = 2/15. Below 16 px
    # nothing is within: 0. Occlusion right in 8 of 9 entries.
    assert_figures(first, expected([0, 0, 0, 0, 0.25], [0, 0, 0, 0, 2 / 15], 8 / 9))
    assert first["queries"] == 3


def test_evaluate_tracks_without_a_visible_point_does_not_call_the_tracker():
    video = small_video()
    hidden = TapVidVideo(video.video, video.target_points, np.ones_like(video.occluded),
                         video.query_points)  # fmt: skip

    def tracker(queries: Queries) -> Tracks:
        raise AssertionError("no query to track")

    results = evaluate_tracks(hidden, tracker)
    assert results["first"]["queries"] == 0 and math.isnan(results["first"]["average_jaccard"])


# --- files ------------------------------------------------------------------------------------
