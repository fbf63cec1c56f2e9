"""`donkit track`: trackers run on video files, their tracks.csv and overlays, and the TAP-Vid
evaluation of the descriptor tracker against the Lucas-Kanade baseline.

Both trackers sit behind one interface (`Tracker`): `prepare` does the per-video work that does
not depend on the queries (the network's descriptors of every frame; nothing for LK), `track`
follows query points. The time of both is the tracker's speed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from descriptors.config import CorrespondConfig
from formats import DonkitError
from formats.atomic import remove_stale_temporaries, write_bytes_atomic
from formats.tapvid import CameraPath, TapVidVideo, frames_and_xy, read_camera_path, read_tapvid
from formats.video import read_video, write_video
from geometry import inside_image
from jobs import progress_bar
from tracking.config import TrackConfig
from tracking.lucas_kanade import track_lucas_kanade
from tracking.metrics import QUERY_MODES, evaluate_tracks, mean_metrics
from tracking.overlay import draw_tracks
from tracking.tracks import Queries, Tracks, write_tracks_csv

DESCRIPTOR_METHODS = ("donkit", "descriptors")  # the methods that need a trained run
METHODS = (*DESCRIPTOR_METHODS, "lk")
HEADLINE_MODE = "first"  # the query mode of the figures at the top of metrics.json
TRACKS_CSV = "tracks.csv"
OVERLAY_MP4 = "overlay.mp4"
AUTOMATIC_POINTS = 32  # corners chosen when only --query-frame is given, on a plain video


@dataclass
class Tracker:
    """A tracking method: per-video preparation, then tracks for any queries."""

    name: str
    # (T, H, W, 3) uint8 video and, where it records them, the camera's poses -> state
    prepare: Callable[[np.ndarray, CameraPath | None], Any]
    track: Callable[[Any, Queries], Tracks]
    details: dict[str, Any]  # what the method was run with (threshold, checkpoint, ...)


def lucas_kanade_tracker(track: TrackConfig) -> Tracker:
    """The baseline: pyramidal Lucas-Kanade with a forward-backward check."""
    return Tracker(
        "lk",
        prepare=lambda video, camera=None: video,
        track=lambda video, queries: track_lucas_kanade(video, queries, track.lk),
        details={"window_px": track.lk.window_px, "fb_threshold_px": track.lk.fb_threshold_px},
    )


def descriptor_trackers(
    run: Path,
    correspond: CorrespondConfig,
    track: TrackConfig,
    device_name: str = "auto",
    threshold: float | None = None,
    calibration_data: Path | None = None,
    show_progress: bool | None = None,
    methods: Sequence[str] = DESCRIPTOR_METHODS,
) -> list[Tracker]:
    """The run's trackers, in the order of `methods`, sharing one network and one visibility
    threshold (`threshold`, or calibrated on the run's training data):
    - "donkit": Lucas-Kanade steps guarded and found again by the descriptors
      (tracking.combined);
    - "descriptors": the descriptors alone, best matches refined by a spatial expectation."""
    from descriptors.network import load_network
    from learn.devices import resolve_device
    from tracking.combined import track_combined
    from tracking.descriptor_tracker import describe_video, load_or_calibrate, track_descriptors

    network, state = load_network(run)
    device = resolve_device(device_name)
    details: dict[str, Any] = {"run": str(run), "step": int(state["step"])}
    if threshold is None:
        calibration = load_or_calibrate(
            run, network, state, correspond, track, device, calibration_data, show_progress
        )
        threshold = calibration.threshold
        details["calibration"] = {
            "balanced_accuracy": calibration.balanced_accuracy,
            "data": calibration.data,
            "seen_median": calibration.seen_median,
            "unseen_median": calibration.unseen_median,
        }
    elif not (math.isfinite(threshold) and threshold > 0):
        raise DonkitError(f"--threshold must be a positive distance; got {threshold}")
    details["threshold"] = threshold

    def describe(video: np.ndarray):
        return describe_video(network, video, device)

    made = {
        "donkit": Tracker(
            "donkit",
            prepare=lambda video, camera=None: (video, describe(video), camera),
            track=lambda prepared, queries: track_combined(
                prepared[0], prepared[1], queries, track, threshold, prepared[2]
            ),
            details=details,
        ),
        "descriptors": Tracker(
            "descriptors",
            prepare=lambda video, camera=None: describe(video),
            track=lambda descriptors, queries: track_descriptors(
                descriptors, queries, track, threshold
            ),
            details=details,
        ),
    }
    return [made[method] for method in methods]


@dataclass
class TrackResult:
    """What `track_video_file` did."""

    tracks: Tracks
    seconds: float  # preparing and tracking
    files: list[Path]

    @property
    def frames_per_second(self) -> float:
        return self.tracks.frames / self.seconds if self.seconds > 0 else math.inf


def choose_queries(
    video: np.ndarray,
    tapvid: TapVidVideo | None,
    points: np.ndarray | None,
    query_frame: int | None,
) -> Queries:
    """The points to track: `points` (N, 2) in frame `query_frame` (default 0); with only a
    query frame, the ground-truth points visible there (TAP-Vid input) or up to 32 corners found
    there; with neither, a TAP-Vid file's own query points. DonkitError for what does not fit
    the video."""
    frames, height, width = video.shape[:3]
    if query_frame is not None and not 0 <= query_frame < frames:
        raise DonkitError(
            f"--query-frame {query_frame} is not a frame of the video (0-{frames - 1})"
        )
    if points is not None:
        frame = 0 if query_frame is None else query_frame
        outside = ~inside_image(points.astype(np.float64), width, height)
        if outside.any():
            raise DonkitError(
                f"--points {points[outside][0].tolist()} lies outside the {width}x{height} video"
            )
        return Queries(np.full(len(points), frame, np.int64), points.astype(np.float32))
    if query_frame is None:
        if tapvid is None:
            raise DonkitError(
                'say what to track: --points "x,y;x,y" (in --query-frame T, default 0), or '
                "--query-frame T alone to track corners found in that frame"
            )
        return Queries(*frames_and_xy(tapvid.query_points))
    if tapvid is not None:
        seen = np.flatnonzero(~tapvid.occluded[:, query_frame])
        if not len(seen):
            raise DonkitError(
                f"no ground-truth point of the video is visible in frame {query_frame}"
            )
        xy = tapvid.target_points[seen, query_frame]
        return Queries(np.full(len(seen), query_frame, np.int64), xy.astype(np.float32))
    grey = cv2.cvtColor(video[query_frame], cv2.COLOR_RGB2GRAY)
    corners = cv2.goodFeaturesToTrack(grey, AUTOMATIC_POINTS, 0.01, 10)
    if corners is None:
        raise DonkitError(f"frame {query_frame} has no corner to track; give --points")
    xy = corners.reshape(-1, 2).astype(np.float32)
    return Queries(np.full(len(xy), query_frame, np.int64), xy)


def run_tracker(
    tracker: Tracker, video: np.ndarray, queries: Queries, camera: CameraPath | None = None
) -> tuple[Tracks, float]:
    """Tracks of the queries through the video, and the seconds it took (preparation
    included)."""
    started = time.perf_counter()
    tracks = tracker.track(tracker.prepare(video, camera), queries)
    return tracks, time.perf_counter() - started


def write_outputs(
    out: Path, video: np.ndarray, fps: float, tracks: Tracks, trail: int = 8
) -> list[Path]:
    """OUT/tracks.csv and OUT/overlay.mp4 (filled markers where visible, rings where not, short
    trails)."""
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)  # of a run killed while writing
    write_tracks_csv(out / TRACKS_CSV, tracks)
    write_video(out / OVERLAY_MP4, draw_tracks(video, tracks, trail), fps)
    return [out / TRACKS_CSV, out / OVERLAY_MP4]


def track_video_file(
    tracker: Tracker,
    path: Path,
    out: Path,
    points: np.ndarray | None = None,
    query_frame: int | None = None,
) -> TrackResult:
    """Track points through the video at `path` (mp4, folder of frames, TAP-Vid npz) into
    OUT/tracks.csv and OUT/overlay.mp4."""
    path = Path(path)
    tapvid = read_tapvid(path) if path.suffix.lower() == ".npz" else None
    video, fps = (tapvid.video, 10.0) if tapvid is not None else read_video(path)
    queries = choose_queries(video, tapvid, points, query_frame)
    camera = None if tapvid is None else read_camera_path(path, tapvid)
    tracks, seconds = run_tracker(tracker, video, queries, camera)
    return TrackResult(tracks, seconds, write_outputs(Path(out), video, fps, tracks))


def tapvid_files(paths: Sequence[Path]) -> list[Path]:
    """The .npz files named, or found in the folders named (sorted); DonkitError if none."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.glob("*.npz"))
        elif path.is_file():
            found.append(path)
        else:
            raise DonkitError(f"{path} does not exist; give TAP-Vid .npz files or folders of them")
    if not found:
        raise DonkitError(
            f"no TAP-Vid .npz under {', '.join(map(str, paths))}; make some with `donkit sim-video`"
        )
    return found


def evaluate_videos(
    trackers: Sequence[Tracker],
    paths: Sequence[Path],
    out: Path,
    stride: int = 5,
    fps: float = 10.0,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """TAP-Vid figures of each tracker on each video, in both query modes, and their means.

    For each video V: OUT/V/<method>/tracks.csv and overlay.mp4 of the file's own query points
    (each point from the first frame it is visible in), then both query modes scored. Writes
    OUT/metrics.json: per method the "first"-mode means at the top (average_jaccard,
    occlusion_accuracy, position_accuracy, ...), both modes under "query_modes", and the
    method's speed in frames a second (preparation included, on the files' own queries);
    per-video figures under "videos".
    """
    files = tapvid_files(paths)
    out = Path(out)
    per_video: dict[str, dict[str, Any]] = {}
    speed = {tracker.name: [0, 0.0] for tracker in trackers}  # frames, seconds
    with progress_bar(len(files) * len(trackers), "track", show_progress, "video") as bar:
        for path in files:
            tapvid = read_tapvid(path)
            camera = read_camera_path(path, tapvid)
            per_video[path.stem] = {}
            for tracker in trackers:
                started = time.perf_counter()
                state = tracker.prepare(tapvid.video, camera)
                tracks = tracker.track(state, Queries(*frames_and_xy(tapvid.query_points)))
                speed[tracker.name][0] += tapvid.frames
                speed[tracker.name][1] += time.perf_counter() - started
                write_outputs(out / path.stem / tracker.name, tapvid.video, fps, tracks)
                per_video[path.stem][tracker.name] = evaluate_tracks(
                    tapvid, partial(tracker.track, state), QUERY_MODES, stride
                )
                bar.update(1)
    results: dict[str, Any] = {}
    for tracker in trackers:
        modes = {
            mode: mean_metrics([per_video[v][tracker.name][mode] for v in per_video])
            for mode in QUERY_MODES
        }
        frames, seconds = speed[tracker.name]
        results[tracker.name] = {
            **modes[HEADLINE_MODE],
            "query_modes": modes,
            "frames_per_second": frames / seconds if seconds > 0 else math.inf,
            "details": tracker.details,
        }
    results |= {
        "headline_query_mode": HEADLINE_MODE,
        "query_stride": stride,
        "videos": per_video,
        "files": [str(path) for path in files],
    }
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, allow_nan=True)
    write_bytes_atomic(out / "metrics.json", (text + "\n").encode())
    return results


def metrics_table(results: dict[str, Any]) -> list[list[str]]:
    """Header and rows: each method in each query mode."""
    header = ["method", "query mode", "AJ", "occlusion acc", "position acc", "<1", "<4", "<16",
              "frames/s"]  # fmt: skip
    rows = []
    for name in METHODS:
        if name not in results:
            continue
        for mode, figures in results[name]["query_modes"].items():
            rows.append(
                [name, mode, f"{figures['average_jaccard']:.3f}",
                 f"{figures['occlusion_accuracy']:.3f}", f"{figures['position_accuracy']:.3f}",
                 f"{figures['pts_within_1']:.3f}", f"{figures['pts_within_4']:.3f}",
                 f"{figures['pts_within_16']:.3f}", f"{results[name]['frames_per_second']:.1f}"]
            )  # fmt: skip
    return [header, *rows]
