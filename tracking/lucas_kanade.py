"""The baseline point tracker: OpenCV's pyramidal Lucas-Kanade with a forward-backward check.

Each query point is tracked frame to frame on grey images, forward from its query frame to the
last frame and backward to the first. A step is trusted when LK converges, the point lands inside
the image and tracking it back from where it landed returns within `fb_threshold_px` of where it
started (the forward-backward error of Kalal, Mikolajczyk and Matas, 2010). Then the point moves
there and is visible. Otherwise it is not visible in that frame and keeps its last trusted
position, and the next frame is tracked from that position *in the frame where it was last
trusted*: the patch LK matches is still the point's own appearance, not the occluder's, so the
point is found again when it reappears near where it was lost.

Known limits of the method (measured in tests/descriptors/test_lucas_kanade.py): the edge of an
occluder that crosses a point's window drags the point along, since that motion is consistent
forward and backward; and a point tracked again after it was lost is now and then "found" on a
wrong patch that passes the check.
"""

from __future__ import annotations

import cv2
import numpy as np

from formats import DonkitError
from geometry import inside_image
from tracking.config import LucasKanadeConfig
from tracking.tracks import VISIBLE_SCORE, Queries, Tracks, score_from_statistic


def track_lucas_kanade(
    video: np.ndarray, queries: Queries, config: LucasKanadeConfig | None = None
) -> Tracks:
    """Track query points through a video with pyramidal Lucas-Kanade.

    video: (T, H, W, 3) uint8 RGB. queries: N points, each given in a frame of [0, T) at a
    position inside the image (DonkitError otherwise). Returns Tracks: xy (N, T, 2) float32 pixels
    (x, y), visible (N, T) bool, score (N, T) float32 = 2^(-fb_error / fb_threshold_px) for the
    step into that frame, 0 where LK failed or the point left the image; 1 at the query frame.
    Where a point is not visible, xy is its last trusted position.
    """
    config = config or LucasKanadeConfig()
    grey = grey_video(video, queries)
    frames = len(grey)
    start = queries.frame.astype(np.int64)
    start_xy = queries.xy.astype(np.float32)

    forward = _track_onward(grey, start, start_xy, config)
    backward = _track_onward(grey[::-1], frames - 1 - start, start_xy, config)
    xy, score = join_sweeps(start, forward, backward)
    return Tracks(xy.astype(np.float32), score >= VISIBLE_SCORE, score.astype(np.float32))


def join_sweeps(
    start: np.ndarray, forward: tuple[np.ndarray, ...], backward: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, ...]:
    """Per-point arrays (N, T, ...) of a sweep forward from each point's start frame `start`
    (N,) and of one backward over the reversed video (its frames reversed), joined: frames
    from the start on from the forward sweep, earlier ones from the backward sweep."""
    frames = forward[0].shape[1]
    earlier = np.arange(frames)[None, :] < start[:, None]  # (N, T)
    joined = []
    for ahead, behind in zip(forward, backward, strict=True):
        pick = earlier[..., None] if ahead.ndim == 3 else earlier  # positions (N, T, 2) or (N, T)
        joined.append(np.where(pick, behind[:, ::-1], ahead))
    return tuple(joined)


def grey_video(video: np.ndarray, queries: Queries) -> np.ndarray:
    """(T, H, W) uint8 grey frames of a (T, H, W, 3) uint8 RGB video (ValueError otherwise),
    after checking that every query lies in a frame of it and inside the image (DonkitError
    naming the first that does not)."""
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[3] != 3 or len(video) == 0:
        raise ValueError(f"videos are (T, H, W, 3) uint8, T >= 1; got {video.dtype} {video.shape}")
    frames, height, width, _ = video.shape
    _check_queries(queries, frames, width, height)
    return np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in video])


def _check_queries(queries: Queries, frames: int, width: int, height: int) -> None:
    outside_video = (queries.frame < 0) | (queries.frame >= frames)
    if outside_video.any():
        point = int(np.flatnonzero(outside_video)[0])
        raise DonkitError(
            f"query point {point} is given in frame {queries.frame[point]}, but the video has "
            f"frames 0 to {frames - 1}; give a frame inside it"
        )
    outside_image = ~inside_image(queries.xy, width, height)
    if outside_image.any():
        point = int(np.flatnonzero(outside_image)[0])
        x, y = queries.xy[point]
        raise DonkitError(
            f"query point {point} at (x, y) = ({x:g}, {y:g}) lies outside the {width}x{height} "
            f"video; give points with 0 <= x <= {width - 1} and 0 <= y <= {height - 1}"
        )


def _track_onward(
    grey: np.ndarray, start: np.ndarray, start_xy: np.ndarray, config: LucasKanadeConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Track each point from its start frame to the last frame of `grey` (T, H, W) uint8.

    start: (N,) int64 start frames; start_xy: (N, 2) float32 pixels there. Returns xy (N, T, 2)
    float32 and score (N, T) float32, meaningful from each point's start frame on (zero before).
    """
    points, frames = len(start), len(grey)
    xy = np.zeros((points, frames, 2), np.float32)
    score = np.zeros((points, frames), np.float32)
    every_point = np.arange(points)
    xy[every_point, start] = start_xy
    score[every_point, start] = 1.0
    trusted_xy = start_xy.copy()  # (N, 2) where each point was last trusted ...
    trusted_frame = start.copy()  # (N,) ... and in which frame
    for frame in range(int(start.min(initial=frames)), frames - 1):
        target = frame + 1
        active = np.flatnonzero(start <= frame)
        moved, step_score = step_from_trusted(
            grey, target, active, trusted_frame, trusted_xy, config
        )
        trusted = step_score >= VISIBLE_SCORE
        xy[active, target] = np.where(trusted[:, None], moved, trusted_xy[active])
        score[active, target] = step_score
        trusted_xy[active[trusted]] = moved[trusted]
        trusted_frame[active[trusted]] = target
    return xy, score


def step_from_trusted(
    grey: np.ndarray,
    target: int,
    points: np.ndarray,
    trusted_frame: np.ndarray,
    trusted_xy: np.ndarray,
    config: LucasKanadeConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Each of `points` (n,) stepped by LK into frame `target` of `grey` (T, H, W) uint8 from
    the frame it was last trusted in, `trusted_frame` (N,), at `trusted_xy` (N, 2).

    One LK call per source frame: all points trusted in the previous frame, and one call for
    each frame in which lost points were last seen (few: points are lost together, by
    occluders). Returns positions (n, 2) float32 and scores (n,) float32 as lucas_kanade_step.
    """
    moved = np.zeros((len(points), 2), np.float32)
    score = np.zeros(len(points), np.float32)
    for source in np.unique(trusted_frame[points]):
        rows = trusted_frame[points] == source
        moved[rows], score[rows] = lucas_kanade_step(
            grey[source], grey[target], trusted_xy[points[rows]], config
        )
    return moved, score


def lucas_kanade_step(
    source: np.ndarray,
    target: np.ndarray,
    source_xy: np.ndarray,
    config: LucasKanadeConfig,
    initial_xy: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points (M, 2) float32 of grey image `source` (H, W) uint8 found in `target`, searched for
    from `initial_xy` (M, 2) when given, else from where they are in `source`.

    Returns their positions there, (M, 2) float32 pixels, and scores (M,) float32 from the
    forward-backward error: 0 where either LK call failed or the point left the image. The
    backward call always starts from the found position itself, so that a given start does not
    make the check pass by itself.

    OpenCV builds both pyramids in each call: its Python binding does not take the pyramids of
    buildOpticalFlowPyramid (opencv/opencv#4777), and building them is about 15 % of a call
    with 50 points at 320x240.
    """
    options = {
        "winSize": (config.window_px, config.window_px),
        "maxLevel": config.pyramid_levels,
        "criteria": (
            cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS,
            config.max_iterations,
            config.epsilon_px,
        ),
    }
    start = np.ascontiguousarray(source_xy, np.float32).reshape(-1, 1, 2)
    if initial_xy is None:
        moved, found, _ = cv2.calcOpticalFlowPyrLK(source, target, start, None, **options)
    else:
        guess = np.ascontiguousarray(initial_xy, np.float32).reshape(-1, 1, 2)
        moved, found, _ = cv2.calcOpticalFlowPyrLK(
            source, target, start, guess, flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **options
        )
    returned, found_back, _ = cv2.calcOpticalFlowPyrLK(target, source, moved, None, **options)
    moved, returned = moved.reshape(-1, 2), returned.reshape(-1, 2)
    height, width = target.shape
    succeeded = (
        (found.ravel() == 1) & (found_back.ravel() == 1) & inside_image(moved, width, height)
    )
    fb_error = np.linalg.norm(returned - start.reshape(-1, 2), axis=1)
    score = score_from_statistic(np.where(succeeded, fb_error, np.nan), config.fb_threshold_px)
    return moved, score
