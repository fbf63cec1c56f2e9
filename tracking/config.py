"""TrackConfig: keypoint tracking in video, and the Lucas-Kanade baseline it is measured against.

Each field is documented once, by the string under it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from formats.checks import at_least, check, not_negative, positive, within


@dataclass(frozen=True)
class LucasKanadeConfig:
    """Pyramidal Lucas-Kanade tracking with a forward-backward check."""

    window_px: int = 21
    """Side of the square patch matched around each point, pixels, at every pyramid level."""
    pyramid_levels: int = 3
    """Pyramid levels above full resolution (OpenCV's maxLevel), each half the size of the one
    below; LK follows motions up to roughly window_px / 2 * 2^levels pixels a frame."""
    fb_threshold_px: float = 1.0
    """A step whose forward-then-backward round trip misses its start by more than this, pixels,
    is not trusted: the point is not visible in that frame. It also scales the score,
    2^(-error / fb_threshold_px), which is 0.5 at this error."""
    max_iterations: int = 30
    """Most LK iterations per point and pyramid level."""
    epsilon_px: float = 0.01
    """LK stops earlier at a level once an iteration moves the point less than this, pixels."""

    def __post_init__(self) -> None:
        at_least(self, 3, "window_px")
        within(self, 0, 10, "pyramid_levels")
        positive(self, "fb_threshold_px", "epsilon_px")
        at_least(self, 1, "max_iterations")


@dataclass(frozen=True)
class PosedConfig:
    """Static points followed through the camera's recorded poses (tracking.posed), in videos
    that record them: a TAP-Vid .npz whose .yaml beside it lists camera_to_world for every frame,
    as `donkit sim-video` writes it."""

    enabled: bool = True
    """Use the poses where a video records them; false: the combined tracker alone."""
    window_frames: int = 12
    """The depth of a point is found from the frames within this many of its query frame."""
    patch_px: int = 4
    """Half the side of the square patches compared between frames, pixels."""
    depth_candidates: int = 300
    """Depths tried along each query ray, even in log depth."""
    min_depth_m: float = 0.12
    """Nearest depth tried, metres."""
    max_depth_m: float = 2.0
    """Farthest depth tried, metres."""
    descriptor_weight: float = 0.3
    """Weight of the descriptors' agreement beside the patches' in the depth search (it tells
    depths apart on surfaces without texture)."""
    refine_span: float = 0.05
    """The depth is then refined within this share of itself (in log depth) by warping the
    query's patch through planes of several tilts at each depth into frames across the whole
    video, where the wide baseline pins the depth down (tracking.posed.refine_depths); 0: no
    refinement."""
    refine_frame_step: int = 4
    """The refinement compares the planes on every this-many-th frame from the query, then
    refines the best one's depth on every frame."""
    static_px: float = 2.0
    """A point is static when the combined tracker's positions within `static_frames` of its
    query frame lie a median of at most this far from its projection, pixels."""
    static_frames: int = 4
    """See `static_px`."""
    static_agreement: float = 0.5
    """... and its patches along the projection agree with those 1-2 frames away by a mean
    normalized cross-correlation of at least this over the frames it projects into (on an
    object that moves, the projection slides off the point; -1: no such test)."""
    moved_px: float = 3.0
    """The combined tracker sees a static point farther than this from its projection, pixels,
    while the projection's descriptor is not the query's, in `moved_frames` frames in a row: the
    point has moved, and the combined track is kept from the first of them."""
    moved_frames: int = 3
    """See `moved_px`."""
    visible_share: float = 2.0
    """A projected point is visible where its descriptor lies within this share of the
    visibility threshold of the query's."""

    def __post_init__(self) -> None:
        at_least(
            self,
            1,
            "window_frames",
            "static_frames",
            "patch_px",
            "moved_frames",
            "refine_frame_step",
        )
        at_least(self, 3, "depth_candidates")
        positive(self, "min_depth_m", "static_px", "moved_px", "visible_share")
        not_negative(self, "descriptor_weight", "refine_span")
        within(self, -1, 1, "static_agreement")
        check(
            self,
            self.max_depth_m > self.min_depth_m,
            f"must exceed min_depth_m ({self.min_depth_m}); got {self.max_depth_m!r}",
            "max_depth_m",
        )


@dataclass(frozen=True)
class TrackConfig:
    """Keypoint tracking in video with a trained run's descriptors (`donkit track`), and the
    Lucas-Kanade baseline it is measured against."""

    window_px: int = 24
    """Half the side of the square searched around where a point was last seen, pixels (a
    point not found there is searched for over the whole image); 0 searches the whole image in
    every frame."""
    expectation_radius_px: int = 3
    """The best match is refined to sub-pixel by the softmax-weighted mean position of the
    pixels within this radius of it (0: the best pixel itself)."""
    expectation_temperature: float = 0.05
    """Temperature of that softmax over descriptor distances, in units of the visibility
    threshold."""
    calibration_pairs: int = 40
    """Pairs of training views the visibility threshold is calibrated on (once per checkpoint,
    kept in RUN/tracking/calibration.json)."""
    calibration_points: int = 200
    """Seen and unseen points measured per calibration pair, at most."""
    redetect_px: float = 0.0
    """The combined tracker leaves Lucas-Kanade's point for the descriptors' best match when the
    two lie farther apart than this, pixels, and the match is nearer to the query in descriptor
    space; 0: never (it lowered the average Jaccard on the development videos)."""
    keep_share: float = 2.0
    """The combined tracker keeps LK's point only while its descriptor distance to the query is
    below this share of the visibility threshold (a step onto another surface that passes LK's
    check); 0: LK's check alone."""
    refind_share: float = 0.4
    """The combined tracker finds a point LK lost again at the descriptors' best match when its
    distance to the query is below this share of the visibility threshold."""
    refine_px: float = 8.0
    """A point the descriptors found again is refined by LK from its query frame; the refined
    point is kept when it lies within this many pixels of the match."""
    query_stride: int = 5
    """Frames between query frames in TAP-Vid's "strided" evaluation mode."""
    lk: LucasKanadeConfig = field(default_factory=LucasKanadeConfig)
    """The Lucas-Kanade baseline (`--method lk`)."""
    poses: PosedConfig = field(default_factory=PosedConfig)
    """The combined tracker's use of the camera's poses, where a video records them."""

    def __post_init__(self) -> None:
        not_negative(
            self,
            "window_px",
            "expectation_radius_px",
            "redetect_px",
            "refine_px",
            "refind_share",
            "keep_share",
        )
        positive(self, "expectation_temperature")
        at_least(self, 1, "calibration_pairs", "calibration_points", "query_stride")
