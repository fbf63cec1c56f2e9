"""Tracking videos on disk: OUT/video_XXXX.npz (TAP-Vid), .mp4 and .yaml, made in parallel and kept
when the same config asks for them again (`donkit sim-video`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from collect.config import CollectConfig, VideoConfig, plain_config
from collect.runner import check_output_writable
from collect.scene import software_versions
from collect.video.simulate import SimulatedVideo, simulate_video
from collect.video.visibility import REASONS
from formats import DonkitError
from formats.atomic import remove_stale_temporaries
from formats.plain import read_yaml, to_plain, write_yaml
from formats.scenes import camera_info_dict, pose_to_dict
from formats.tapvid import TapVidVideo, first_visible_query_points, write_tapvid
from formats.video import write_video
from jobs import progress_bar, run_tasks

VIDEO_FORMAT = 1


def video_name(index: int) -> str:
    return f"video_{index:04d}"


def video_identity(config: CollectConfig, video: VideoConfig, index: int) -> dict[str, Any]:
    """What decides a video's bytes, as plain data: the seeds, its index and both configs
    without the counts (so that growing `video.videos` keeps the videos already made)."""
    collect_data, video_data = plain_config(config), to_plain(video)
    collect_data.pop("scenes")
    video_data.pop("videos")
    return {"format": VIDEO_FORMAT, "index": index, "video": video_data, "collect": collect_data}


@dataclass
class VideoReport:
    """What happened to one video, for the summary line."""

    name: str
    status: str  # "made", or "skipped" (already made with the same config)
    frames: int
    points: int
    viewpoint_change_deg: float  # the least over its tracked objects
    reason_shares: dict[str, float]
    attempts: int
    seconds: float


@dataclass
class VideoSummary:
    reports: list[VideoReport]
    seconds: float

    def line(self) -> str:
        """One line for the end of `donkit sim-video`."""
        made = sum(report.status == "made" for report in self.reports)
        frames = sum(report.frames for report in self.reports)
        points = sum(report.points for report in self.reports)
        weights = np.array([r.points * r.frames for r in self.reports], dtype=np.float64)
        shares = {
            name: float(np.average([r.reason_shares[name] for r in self.reports], weights=weights))
            for name in REASONS
        }
        hidden = ", ".join(
            f"{name.replace('_', ' ')} {100 * shares[name]:.0f} %" for name in REASONS[1:]
        )
        least = min(report.viewpoint_change_deg for report in self.reports)
        return (
            f"{len(self.reports)} videos ({made} made, {len(self.reports) - made} kept), "
            f"{frames} frames, {points} tracks; viewpoint change >= {least:.0f} deg; "
            f"{100 * (1 - shares['visible']):.0f} % of track frames occluded ({hidden}); "
            f"{self.seconds:.1f} s"
        )


def make_video(
    config: CollectConfig,
    video: VideoConfig,
    index: int,
    out: Path,
    overwrite: bool = False,
    progress: Callable[[int], object] | None = None,
) -> VideoReport:
    """Simulate video `index` and write OUT/video_XXXX.npz (TAP-Vid), .mp4 and .yaml.

    The .yaml (what made the video, camera and object poses per frame, the tracked points in
    their objects' frames, occlusion shares) is written last: a video with its .yaml is complete
    and is kept when the same config asks for it again.
    """
    started = time.perf_counter()
    report_progress = progress or (lambda n: None)
    name = video_name(index)
    paths = {suffix: Path(out) / f"{name}{suffix}" for suffix in (".npz", ".mp4", ".yaml")}
    identity = video_identity(config, video, index)
    if paths[".yaml"].is_file():
        metadata = read_yaml(paths[".yaml"], "video metadata")
        complete = all(path.is_file() for path in paths.values())
        if isinstance(metadata, dict) and metadata.get("identity") == identity and complete:
            report_progress(video.frames)
            return _report_of_kept(name, metadata)
        if not overwrite:
            raise DonkitError(
                f"{paths['.yaml']} was made with another config (or is incomplete); pass "
                "--overwrite to replace it, or choose another --out"
            )
    simulated = simulate_video(config, video, index, report_progress)
    query_points = first_visible_query_points(simulated.target_points, simulated.occluded)
    write_tapvid(
        paths[".npz"],
        TapVidVideo(simulated.frames, simulated.target_points, simulated.occluded, query_points),
    )
    write_video(paths[".mp4"], simulated.frames, video.fps)
    seconds = time.perf_counter() - started
    metadata = _metadata(simulated, identity, video, seconds)
    write_yaml(paths[".yaml"], metadata)
    return _report_of_kept(name, metadata, status="made")


def _report_of_kept(name: str, metadata: dict[str, Any], status: str = "skipped") -> VideoReport:
    return VideoReport(
        name=name,
        status=status,
        frames=int(metadata["frames"]),
        points=len(metadata["points"]),
        viewpoint_change_deg=min(metadata["viewpoint_change_deg"].values()),
        reason_shares=metadata["occlusion"],
        attempts=int(metadata["attempts"]),
        seconds=float(metadata["seconds"]),
    )


def _metadata(
    simulated: SimulatedVideo, identity: dict[str, Any], video: VideoConfig, seconds: float
) -> dict[str, Any]:
    names = simulated.object_names
    return {
        "identity": identity,
        "software": software_versions(),
        "frames": len(simulated.frames),
        "fps": video.fps,
        "camera": camera_info_dict(simulated.camera),
        "camera_to_world": [pose_to_dict(pose) for pose in simulated.camera_to_world],
        "objects": [
            {
                "name": name,
                "moving": name in simulated.moving,
                # One pose per frame for an object that moves, one for all frames otherwise.
                "object_to_world": (
                    [pose_to_dict(pose) for pose in simulated.object_to_world[:, i]]
                    if name in simulated.moving
                    else pose_to_dict(simulated.object_to_world[0, i])
                ),
            }
            for i, name in enumerate(names)
        ],
        "points": [
            {"object": names[int(owner)], "xyz_object": [round(float(c), 6) for c in point]}
            for point, owner in zip(simulated.points_object, simulated.point_object, strict=True)
        ],
        "occlusion": simulated.reason_shares(),
        "viewpoint_change_deg": {
            name: round(value, 2) for name, value in simulated.viewpoint_change_deg.items()
        },
        "attempts": simulated.attempts,
        "rejected_attempts": simulated.rejected,
        "seconds": round(seconds, 3),
    }


def sim_videos(
    config: CollectConfig,
    video: VideoConfig,
    out: Path,
    workers: int = 1,
    backend: str = "local",
    overwrite: bool = False,
    show_progress: bool | None = None,
) -> VideoSummary:
    """Make `video.videos` videos in `out` (video_0000, ...); finished ones are kept."""
    out = Path(out)
    check_output_writable(out)
    remove_stale_temporaries(out)  # of a run killed while writing; no worker has started yet
    started = time.perf_counter()
    tasks = [(config, video, index, out.resolve(), overwrite) for index in range(video.videos)]
    with progress_bar(video.videos * video.frames, f"sim-video {out}", show_progress) as bar:
        reports = run_tasks(make_video, tasks, workers, backend, bar.update, video.frames)
    return VideoSummary(reports, time.perf_counter() - started)
