"""The TUM RGB-D benchmark's layout, read and turned into a Dense Object Nets scene.

A TUM sequence folder holds
    rgb.txt           "timestamp filename" per line (seconds; '#' starts a comment)
    depth.txt         the same for the depth images: uint16 PNG, 5000 units a metre, 0 = none
    groundtruth.txt   "timestamp tx ty tz qx qy qz qw": the colour camera's optical frame
                      (x right, y down, z forward) in the world, metres, at its own rate
The three streams are not synchronized. Each colour image is paired with the nearest depth image
(within `max_difference_s`) and with the pose interpolated at its time (position linearly,
orientation by slerp) from the two ground-truth poses around it, both within `max_gap_s`.
The files carry no intrinsics: the benchmark's registered depth goes with its ROS default camera
(fx = fy = 525, cx = 319.5, cy = 239.5 at 640 x 480) unless other intrinsics are given.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from formats import DonkitError
from formats.images import read_depth, read_rgb, write_depth, write_rgb
from formats.scenes import (
    CAMERA_INFO,
    IMAGES_DIR,
    PARTIAL_SUFFIX,
    POSE_DATA,
    depth_filename,
    pose_entry,
    rgb_filename,
    write_camera_info,
    write_pose_data,
)
from geometry import PinholeCamera

TUM_DEPTH_UNITS_PER_METRE = 5000.0
ROS_DEFAULT_INTRINSICS = (525.0, 525.0, 319.5, 239.5)  # fx, fy, cx, cy at 640 x 480


@dataclass(frozen=True)
class TumFrame:
    """One colour image with its depth image and its interpolated pose."""

    time_s: float
    rgb: Path
    depth: Path
    camera_to_world: np.ndarray  # (4, 4)


def read_list(path: Path) -> list[tuple[float, str]]:
    """(timestamp seconds, rest of the line) of each entry of a TUM list file, in time order."""
    if not path.is_file():
        raise DonkitError(f"{path} is missing: a TUM RGB-D sequence has rgb.txt, depth.txt and "
                          "groundtruth.txt")  # fmt: skip
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        stamp, _, rest = line.partition(" ")
        try:
            entries.append((float(stamp), rest.strip()))
        except ValueError:
            raise DonkitError(
                f"{path}, line {number}: expected 'timestamp ...', got {line!r}"
            ) from None
    if not entries:
        raise DonkitError(f"{path} lists nothing")
    return sorted(entries, key=lambda entry: entry[0])


def read_trajectory(path: Path) -> tuple[np.ndarray, np.ndarray, Rotation]:
    """Times (N,), positions (N, 3) and orientations of groundtruth.txt."""
    times, positions, quaternions = [], [], []
    for time_s, rest in read_list(path):
        values = rest.split()
        try:
            numbers = [float(value) for value in values]
        except ValueError:
            numbers = []
        if len(numbers) != 7 or not np.all(np.isfinite(numbers)):
            raise DonkitError(
                f"{path}: the line at {time_s} needs 'tx ty tz qx qy qz qw'; got {rest!r}"
            )
        times.append(time_s)
        positions.append(numbers[:3])
        quaternions.append(numbers[3:])
    quaternions = np.asarray(quaternions)
    norms = np.linalg.norm(quaternions, axis=1)
    if np.any(np.abs(norms - 1.0) > 1e-2):
        bad = times[int(np.argmax(np.abs(norms - 1.0)))]
        raise DonkitError(f"{path}: the quaternion at {bad} is not a unit quaternion")
    return np.asarray(times), np.asarray(positions), Rotation.from_quat(quaternions)


def tum_frames(
    source: Path, max_difference_s: float = 0.02, max_gap_s: float = 0.1
) -> list[TumFrame]:
    """The colour images of the sequence at `source` that have a depth image within
    `max_difference_s` and ground truth on both sides within `max_gap_s`, with their poses."""
    source = Path(source)
    colour = read_list(source / "rgb.txt")
    depth = read_list(source / "depth.txt")
    times, positions, orientations = read_trajectory(source / "groundtruth.txt")
    depth_times = np.array([time_s for time_s, _ in depth])
    slerp = Slerp(times, orientations) if len(times) >= 2 else None
    frames = []
    for time_s, name in colour:
        nearest = int(np.argmin(np.abs(depth_times - time_s)))
        if abs(depth_times[nearest] - time_s) > max_difference_s or slerp is None:
            continue
        after = int(np.searchsorted(times, time_s))
        if after == 0 or after == len(times):
            continue
        before = after - 1
        if times[after] - time_s > max_gap_s or time_s - times[before] > max_gap_s:
            continue
        share = (time_s - times[before]) / (times[after] - times[before])
        pose = np.eye(4)
        pose[:3, :3] = slerp([time_s]).as_matrix()[0]
        pose[:3, 3] = (1 - share) * positions[before] + share * positions[after]
        frames.append(TumFrame(time_s, source / name, source / depth[nearest][1], pose))
    return frames


def chosen_frames(
    source: Path,
    every: int = 1,
    max_frames: int = 0,
    max_difference_s: float = 0.02,
    max_gap_s: float = 0.1,
) -> list[TumFrame]:
    """Every `every`-th of `tum_frames`, at most `max_frames` of them (0: all); at least 2."""
    frames = tum_frames(source, max_difference_s, max_gap_s)[::every]
    if max_frames:
        frames = frames[:max_frames]
    if len(frames) < 2:
        raise DonkitError(
            f"{source}: {len(frames)} colour image(s) have a depth image within "
            f"{max_difference_s} s and ground truth around them; a scene needs at least 2 (try a "
            "larger --max-difference)"
        )
    return frames


def import_tum(
    frames: list[TumFrame],
    scene: Path,
    intrinsics: tuple[float, float, float, float] | None = None,
    progress: Callable[[int], object] = lambda n: None,
) -> None:
    """Write the TUM frames (`chosen_frames`) as a DON-layout scene at `scene`.

    Args:
        intrinsics: (fx, fy, cx, cy) pixels; None: the ROS default, scaled to the image size.

    The scene is written into `scene.partial/` and renamed when complete, so an interrupted
    import leaves no scene behind (a new import starts the partial folder afresh).
    """
    scene = Path(scene)
    if scene.exists():
        raise DonkitError(f"{scene} exists; choose another --out or delete it")
    partial = scene.with_name(scene.name + PARTIAL_SUFFIX)
    if partial.exists():
        shutil.rmtree(partial)
    (partial / IMAGES_DIR).mkdir(parents=True)
    height, width = read_rgb(frames[0].rgb).shape[:2]
    if intrinsics is None:
        fx, fy, cx, cy = ROS_DEFAULT_INTRINSICS
        scale_x, scale_y = width / 640.0, height / 480.0
        intrinsics = (fx * scale_x, fy * scale_y, (cx + 0.5) * scale_x - 0.5,
                      (cy + 0.5) * scale_y - 0.5)  # fmt: skip
    camera = PinholeCamera(width, height, *intrinsics)
    entries = {}
    for index, frame in enumerate(frames):
        rgb = read_rgb(frame.rgb)
        depth = read_depth(frame.depth, TUM_DEPTH_UNITS_PER_METRE)
        if rgb.shape[:2] != (height, width) or depth.shape != (height, width):
            raise DonkitError(
                f"{frame.rgb} and {frame.depth} are {rgb.shape[1]}x{rgb.shape[0]} and "
                f"{depth.shape[1]}x{depth.shape[0]}; every image must be {width}x{height}"
            )
        write_rgb(partial / IMAGES_DIR / rgb_filename(index), rgb)
        write_depth(partial / IMAGES_DIR / depth_filename(index), depth)
        entries[index] = pose_entry(index, frame.camera_to_world, frame.time_s)
        progress(1)
    write_camera_info(partial / CAMERA_INFO, camera)
    write_pose_data(partial / POSE_DATA, entries)
    os.replace(partial, scene)
