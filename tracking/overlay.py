"""Point tracks drawn over video: one colour per track, trails, visible or hidden."""

from __future__ import annotations

import cv2
import numpy as np

from tracking.tracks import Tracks

_GOLDEN_ANGLE_DEG = 137.50776405003785  # 360 (1 - 1 / golden ratio)
_SUBPIXEL_BITS = 4  # OpenCV draws at 1/16 pixel: sub-pixel tracks are drawn where they are


def track_colours(points: int) -> np.ndarray:
    """(N, 3) uint8 RGB colours, one per track point, deterministic: full saturation and value,
    hues stepping round the circle by the golden angle. Consecutive point ids (often
    neighbouring points) get far-apart hues, and a point keeps its colour whatever N is."""
    if points == 0:
        return np.zeros((0, 3), np.uint8)
    hue_deg = (np.arange(points) * _GOLDEN_ANGLE_DEG) % 360.0
    hsv = np.stack([hue_deg, np.ones(points), np.ones(points)], axis=1).astype(np.float32)
    rgb = cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]  # float HSV: H in degrees, S, V in [0, 1]
    return np.round(rgb * 255).astype(np.uint8)


def draw_tracks(
    video: np.ndarray, tracks: Tracks, trail: int = 8, radius_px: int = 4
) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of `video` (T, H, W, 3) uint8 RGB with `tracks` drawn on them.

    In each frame each point is drawn in its colour (`track_colours`): a filled disc of
    `radius_px` where it is visible, a ring where it is not, and a trail of lines joining its
    positions over the previous `trail` frames, only between two frames where it was visible.
    Anti-aliased, at sub-pixel positions. `video` is not changed.
    """
    if video.ndim != 4 or video.shape[0] != tracks.frames:
        raise ValueError(f"video {video.shape} and tracks of {tracks.frames} frames disagree")
    colours = [tuple(int(c) for c in colour) for colour in track_colours(tracks.points)]
    xy_fixed = np.round(tracks.xy * (1 << _SUBPIXEL_BITS)).astype(np.int64)  # (N, T, 2)
    radius_fixed = radius_px << _SUBPIXEL_BITS
    thickness = 1 + radius_px // 4
    drawn = video.copy()
    for frame in range(tracks.frames):
        image = drawn[frame]
        for point, colour in enumerate(colours):
            for earlier in range(max(0, frame - trail), frame):
                if tracks.visible[point, earlier] and tracks.visible[point, earlier + 1]:
                    start, end = xy_fixed[point, earlier], xy_fixed[point, earlier + 1]
                    cv2.line(
                        image,
                        tuple(start),
                        tuple(end),
                        colour,
                        thickness,
                        cv2.LINE_AA,
                        _SUBPIXEL_BITS,
                    )
        for point, colour in enumerate(colours):  # markers over every trail
            fill = cv2.FILLED if tracks.visible[point, frame] else thickness
            centre = tuple(xy_fixed[point, frame])
            cv2.circle(image, centre, radius_fixed, colour, fill, cv2.LINE_AA, _SUBPIXEL_BITS)
    return drawn
