"""The combined tracker: Lucas-Kanade's precision from frame to frame, guarded by the
descriptors, which also find a point again after an occlusion or a drift.

Each point is followed onward from its query frame to the last frame, then backward to the
first. In each frame:
1. **Local step**: pyramidal LK from the frame where the point was last trusted, with the
   forward-backward check (tracking.lucas_kanade).
2. **Global match**: the query's descriptor against the whole frame: its best match and the
   descriptor distance there (for the points LK's step does not keep, or for every point when
   the match may overrule LK, `redetect_px` > 0).
3. **Decision**:
   - LK's point is kept when LK trusts it and its descriptor lies within `keep_share` times
     the visibility threshold of the query's (0: LK's check alone), unless the global match
     contradicts it (with `redetect_px` > 0: farther than that from it *and* nearer to the
     query in descriptor space);
   - otherwise, when the global match lies within `refind_share` times the threshold, the
     point is found again there and refined by LK from the query frame (anchored to the
     query's own appearance, so that re-finding does not inherit a drift), started at the
     global match; the refinement is kept when LK trusts it and it stays within `refine_px`
     of the match;
   - otherwise the point is hidden, and stays where it was last trusted.
A point is visible where it was kept or found; its score comes from the descriptor distance at
its position.
4. **Poses** (where the video records the camera's pose in every frame): the points that do not
   move follow their projection instead (tracking.posed).

Chosen on development videos (`donkit sim-video --set video.seed=9000`, TAP-Vid "first"
queries, the demo model), average Jaccard against Lucas-Kanade's 0.291 (the descriptors alone:
0.175): keep_share 0 / 1.5 / 2 / 3 gave 0.265 / 0.262 / 0.277 / 0.271 (refind_share 0.7);
with keep_share 2, refind_share 0.3 / 0.4 / 0.5 / 1.0 gave 0.313 / 0.311 / 0.305 / 0.240.
Re-detection where LK and the global match part by 12-40 px lowered it (redetect_px is off).
What limits it: re-found points are few and imprecise (median 15.6 px from the truth with the
demo model), and the refinement from the query frame rarely passes LK's check across the
viewpoint change since the query.
"""

from __future__ import annotations

import numpy as np
import torch

from descriptors.matching import FrameMatcher
from formats.tapvid import CameraPath
from geometry.sampling import sample_bilinear
from tracking.config import TrackConfig
from tracking.descriptor_tracker import query_descriptors
from tracking.lucas_kanade import (
    grey_video,
    join_sweeps,
    lucas_kanade_step,
    step_from_trusted,
)
from tracking.posed import track_posed
from tracking.tracks import VISIBLE_SCORE, Queries, Tracks, score_from_statistic


def track_combined(
    video: np.ndarray,
    descriptors: torch.Tensor,
    queries: Queries,
    track: TrackConfig,
    threshold: float,
    camera: CameraPath | None = None,
) -> Tracks:
    """Track query points with LK steps guarded and re-found by descriptors, and the static
    ones through the camera's poses when `camera` gives them (tracking.posed).

    Args:
        video: (T, H, W, 3) uint8 RGB.
        descriptors: (T, D, H, W) float32, one descriptor image per frame.
        queries: N points, each in a frame of [0, T) inside the image.
        threshold: descriptor distance below which a point is visible.
        camera: where the camera was in every frame, if the video records it.

    Returns:
        Tracks over all T frames; at its query frame a point is at its query position, visible,
        with score 1.
    """
    grey = grey_video(video, queries)
    frames = len(grey)
    start = queries.frame.astype(np.int64)
    start_xy = queries.xy.astype(np.float32)
    features = query_descriptors(descriptors, queries)
    forward = _follow(grey, descriptors, start, start_xy, features, track, threshold)
    backward = _follow(
        grey[::-1], descriptors.flip(0), frames - 1 - start, start_xy, features, track, threshold
    )
    xy, statistic = join_sweeps(start, forward, backward)
    score = score_from_statistic(statistic, threshold)
    tracks = Tracks(xy.astype(np.float32), score >= VISIBLE_SCORE, score)
    if camera is None or not track.poses.enabled:
        return tracks
    return track_posed(
        grey,
        descriptors,
        queries,
        features,
        tracks,
        camera.camera_to_world,
        camera.intrinsics,
        track.poses,
        threshold,
    )


def _distances_at(descriptors: torch.Tensor, xy: np.ndarray, features: torch.Tensor) -> np.ndarray:
    """(n,) descriptor distances between `features` (n, D) and descriptor image (D, H, W) at
    pixels `xy` (n, 2)."""
    sampled = sample_bilinear(descriptors[None], torch.from_numpy(xy).float()[None])[0].T
    return torch.linalg.norm(sampled - features, dim=1).numpy()


def _follow(
    grey: np.ndarray,
    descriptors: torch.Tensor,
    start: np.ndarray,
    start_xy: np.ndarray,
    features: torch.Tensor,
    track: TrackConfig,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Each point from its start frame to the last frame of `grey` (T, H, W) uint8.

    Returns xy (N, T, 2) float32 and the descriptor distance (N, T) behind each decision (at most
    `threshold` where the point is visible), meaningful from each point's start frame on.
    """
    points, frames = len(start), len(grey)
    xy = np.zeros((points, frames, 2), np.float32)
    statistic = np.full((points, frames), np.nan)
    every_point = np.arange(points)
    xy[every_point, start] = start_xy
    statistic[every_point, start] = 0.0
    trusted_xy = start_xy.copy()  # (N, 2) where each point was last trusted ...
    trusted_frame = start.copy()  # (N,) ... and in which frame
    for target in range(int(start.min(initial=frames)) + 1, frames):
        active = np.flatnonzero(start < target)
        # 1. The local step.
        moved, step_score = step_from_trusted(
            grey, target, active, trusted_frame, trusted_xy, track.lk
        )
        lk_trusted = step_score >= VISIBLE_SCORE
        moved_distance = _distances_at(descriptors[target], moved, features[active])
        gated = (track.keep_share > 0) & (moved_distance > track.keep_share * threshold)
        kept = lk_trusted & ~gated
        # 2. The global match: of every point where it may overrule LK, else of those not kept.
        searched = np.ones(len(active), bool) if track.redetect_px > 0 else ~kept
        matched = np.zeros((len(active), 2), np.float32)
        matched_distance = np.full(len(active), np.inf, np.float32)
        if searched.any():
            best, distance = FrameMatcher(descriptors[target]).match(
                features[active[searched]], refine="expectation",
                refine_radius=track.expectation_radius_px,
                temperature=track.expectation_temperature * threshold,
            )  # fmt: skip
            matched[searched] = best.float().numpy()
            matched_distance[searched] = distance.float().numpy()
        # 3. The decision.
        if track.redetect_px > 0:
            apart = np.linalg.norm(moved - matched, axis=1) > track.redetect_px
            kept &= ~(apart & (matched_distance < moved_distance))
        found = ~kept & (matched_distance <= track.refind_share * threshold)
        position = np.where(kept[:, None], moved, matched)
        if found.any():
            position[found] = _refine(
                grey, target, active[found], matched[found], start, start_xy, track
            )
        seen = kept | found
        rows = active[seen]
        xy[active, target] = np.where(seen[:, None], position, trusted_xy[active])
        # Beyond the threshold by a margin that survives the score's rounding to float32.
        hidden_distance = np.maximum(matched_distance, 1.01 * threshold)
        statistic[active, target] = np.where(
            kept,
            np.minimum(moved_distance, threshold),
            np.where(found, matched_distance, hidden_distance),
        )
        trusted_xy[rows], trusted_frame[rows] = position[seen], target
    return xy, statistic


def _refine(
    grey: np.ndarray,
    target: int,
    points: np.ndarray,
    matched: np.ndarray,
    start: np.ndarray,
    start_xy: np.ndarray,
    track: TrackConfig,
) -> np.ndarray:
    """(n, 2) positions in frame `target` of re-found `points` (n,): LK from each one's query
    frame, started at its global match `matched` (n, 2); the match itself where LK does not
    trust the result or it strays more than `track.refine_px` from the match."""
    refined = matched.copy()
    for anchor in np.unique(start[points]):
        rows = start[points] == anchor
        step_xy, step_score = lucas_kanade_step(
            grey[anchor], grey[target], start_xy[points[rows]], track.lk, matched[rows]
        )
        near = np.linalg.norm(step_xy - matched[rows], axis=1) <= track.refine_px
        good = (step_score >= VISIBLE_SCORE) & near
        refined[rows] = np.where(good[:, None], step_xy, matched[rows])
    return refined
