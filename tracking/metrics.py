"""The TAP-Vid benchmark's query modes and metrics, for trackers of donkit `Queries`.

The files themselves (formats.tapvid) hold ground-truth tracks; here a tracker's
predictions are scored against them as TAP-Vid scores them (Doersch et al. 2022).

Metrics follow TAP-Vid's `compute_tapvid_metrics`: positions rescaled to 256 x 256, every entry
of a video pooled (sums over all queries and frames, not a mean over queries), and figures
averaged over videos.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from formats.tapvid import TapVidVideo, frames_and_xy, query_points_of
from tracking.tracks import Queries, Tracks

QueryMode = Literal["first", "strided"]
QUERY_MODES: tuple[QueryMode, ...] = ("first", "strided")
THRESHOLDS_PX = (1, 2, 4, 8, 16)  # in the 256 x 256 frame TAP-Vid measures in
METRIC_SIZE_PX = 256
FIGURES = (
    "average_jaccard",
    "occlusion_accuracy",
    "position_accuracy",
    *(f"pts_within_{d}" for d in THRESHOLDS_PX),
    *(f"jaccard_{d}" for d in THRESHOLDS_PX),
)


def queries_of(video: TapVidVideo) -> Queries:
    """The file's query points as donkit Queries."""
    return Queries(*frames_and_xy(video.query_points))


def tapvid_query_points(queries: Queries) -> np.ndarray:
    """(N, 3) float32 TAP-Vid query points (t, y, x) of donkit Queries."""
    return query_points_of(queries.frame, queries.xy)


def _check_mode(mode: str) -> None:
    if mode not in QUERY_MODES:
        raise ValueError(f"query mode must be one of {QUERY_MODES}; got {mode!r}")


def sample_queries(
    target_points: np.ndarray, occluded: np.ndarray, mode: QueryMode, stride: int = 5
) -> tuple[Queries, np.ndarray]:
    """Queries as the TAP-Vid benchmark samples them, at ground-truth positions.

    target_points: (N, T, 2) float, pixel (x, y); occluded: (N, T) bool.
    "first": one query per point, at the first frame where it is visible (a point never visible
    gets none), in point order. "strided": at frames 0, stride, 2 * stride, ... one query per
    point visible there, frame by frame and in point order within a frame.
    Returns the queries and (Q,) int64, the index of the point (track) each query belongs to.
    """
    _check_mode(mode)
    if stride < 1:
        raise ValueError(f"stride must be at least 1; got {stride}")
    visible = ~np.asarray(occluded, bool)
    if mode == "first":
        track_index = np.flatnonzero(visible.any(axis=1))
        frame = visible[track_index].argmax(axis=1)
    else:
        strided_frames = np.arange(0, visible.shape[1], stride)
        frame_index, track_index = np.nonzero(visible[:, strided_frames].T)
        frame = strided_frames[frame_index]
    track_index, frame = track_index.astype(np.int64), frame.astype(np.int64)
    xy = np.asarray(target_points, np.float32)[track_index, frame].reshape(-1, 2)
    return Queries(frame=frame, xy=xy), track_index


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator, NaN when there is nothing to divide by (as numpy's 0 / 0)."""
    return float(numerator / denominator) if denominator else math.nan


def tapvid_metrics(
    queries: Queries,
    gt_xy: np.ndarray,
    gt_occluded: np.ndarray,
    pred_xy: np.ndarray,
    pred_occluded: np.ndarray,
    mode: QueryMode,
    image_size: tuple[int, int],
    frames_from_query: tuple[int, int] | None = None,
) -> dict[str, float]:
    """TAP-Vid's figures for one video, pooled over all its queries and evaluated frames.

    queries: Q queries (frame of each decides which frames are evaluated);
    gt_xy, pred_xy: (Q, T, 2) float, pixels (x, y) in the video; gt_occluded, pred_occluded:
    (Q, T) bool; image_size: (width, height) of the video in pixels.
    Evaluated frames: "first", those strictly after the query frame; "strided", all but it;
    with `frames_from_query` (low, high), only those whose distance from the query frame (in
    frames, either way) lies in [low, high): how a tracker copes as the view changes.
    Positions are compared in a 256 x 256 rescaling of the image (x * 256 / width,
    y * 256 / height), so that thresholds mean the same on every video.
    A ratio with nothing to count is NaN, as numpy's 0 / 0 in TAP-Vid's own code, rather than a
    silent 0: occlusion_accuracy without evaluated entries, pts_within_* and position_accuracy
    without visible evaluated ones, jaccard_* when there is not even a false positive.
    "queries" is Q.
    """
    _check_mode(mode)
    gt_occluded = np.asarray(gt_occluded, bool)
    pred_occluded = np.asarray(pred_occluded, bool)
    count, frames = gt_occluded.shape
    if (
        len(queries) != count
        or np.shape(gt_xy) != (count, frames, 2)
        or np.shape(pred_xy) != (count, frames, 2)
        or pred_occluded.shape != (count, frames)
    ):
        raise ValueError(
            f"{len(queries)} queries need gt_xy and pred_xy (Q, T, 2), gt_occluded and "
            f"pred_occluded (Q, T); got {np.shape(gt_xy)}, {np.shape(pred_xy)}, "
            f"{gt_occluded.shape}, {pred_occluded.shape}"
        )
    if count and (queries.frame.min() < 0 or queries.frame.max() >= frames):
        raise ValueError(f"query frames must be in [0, {frames}); got {queries.frame}")

    frame = np.arange(frames)
    query_frame = queries.frame[:, None]
    evaluated = frame > query_frame if mode == "first" else frame != query_frame
    if frames_from_query is not None:
        low, high = frames_from_query
        away = np.abs(frame - query_frame)
        evaluated = evaluated & (away >= low) & (away < high)
    width, height = image_size
    to_metric = np.array([METRIC_SIZE_PX / width, METRIC_SIZE_PX / height])
    squared_distance = np.sum(
        np.square((np.asarray(pred_xy, np.float64) - np.asarray(gt_xy, np.float64)) * to_metric),
        axis=-1,
    )
    gt_visible = ~gt_occluded & evaluated
    pred_visible = ~pred_occluded & evaluated
    visible_count = int(gt_visible.sum())

    figures = {
        "occlusion_accuracy": _ratio(
            int(((pred_occluded == gt_occluded) & evaluated).sum()), int(evaluated.sum())
        )
    }
    for threshold in THRESHOLDS_PX:
        within = squared_distance < threshold**2  # NaN predictions are never within
        true_positives = int((within & gt_visible & pred_visible).sum())
        false_positives = int((pred_visible & (gt_occluded | ~within)).sum())
        figures[f"pts_within_{threshold}"] = _ratio(int((within & gt_visible).sum()), visible_count)
        figures[f"jaccard_{threshold}"] = _ratio(true_positives, visible_count + false_positives)
    figures["position_accuracy"] = float(
        np.mean([figures[f"pts_within_{d}"] for d in THRESHOLDS_PX])
    )
    figures["average_jaccard"] = float(np.mean([figures[f"jaccard_{d}"] for d in THRESHOLDS_PX]))
    return {"queries": count, **{name: figures[name] for name in FIGURES}}


def mean_metrics(per_video: list[dict]) -> dict:
    """Each figure averaged over videos (as TAP-Vid reports a dataset), with "videos" and the
    summed "queries". A video whose figure is NaN (nothing to measure) is left out of that
    figure's mean; a figure NaN in every video stays NaN."""
    means: dict = {"videos": len(per_video), "queries": sum(m["queries"] for m in per_video)}
    for name in FIGURES:
        values = [m[name] for m in per_video if not math.isnan(m[name])]
        means[name] = float(np.mean(values)) if values else math.nan
    return means


def evaluate_tracks(
    video: TapVidVideo,
    predict: Callable[[Queries], Tracks],
    modes: Sequence[QueryMode] = QUERY_MODES,
    stride: int = 5,
) -> dict[str, dict]:
    """TAP-Vid figures of a tracker on one video, for each query mode.

    predict: given Q queries, the tracks of those points over all T frames of the video (a
    point is predicted occluded where it is not visible). A mode that samples no query (no
    point ever visible) is not predicted and gets NaN figures with "queries" 0.
    """
    results = {}
    for mode in modes:
        queries, track_index = sample_queries(video.target_points, video.occluded, mode, stride)
        if len(queries):
            tracks = predict(queries)
            if tracks.points != len(queries) or tracks.frames != video.frames:
                raise ValueError(
                    f"the tracker returned {tracks.points} points x {tracks.frames} frames for "
                    f"{len(queries)} queries on a video of {video.frames} frames"
                )
            pred_xy, pred_occluded = tracks.xy, ~tracks.visible
        else:
            pred_xy = np.zeros((0, video.frames, 2), np.float32)
            pred_occluded = np.zeros((0, video.frames), bool)
        results[mode] = tapvid_metrics(
            queries,
            video.target_points[track_index],
            video.occluded[track_index],
            pred_xy,
            pred_occluded,
            mode,
            (video.width, video.height),
        )
    return results
