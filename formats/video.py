"""Videos: the one place that reads and writes them.

In memory a video is (T, H, W, 3) uint8 RGB frames and a frame rate in frames per second. On disk
it is one of: a video file that ffmpeg decodes (.mp4 and the like), a folder of frames (.png,
.jpg, .jpeg), or a TAP-Vid .npz (its `video` array; `formats.tapvid` checks the rest of that
format). donkit writes H.264 .mp4 in yuv420p, the format every browser plays, atomically like
every other file it writes (see `formats.atomic.write_bytes_atomic`).

ffmpeg is the binary inside the imageio-ffmpeg wheel, so no system package is needed.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from formats import DonkitError
from formats.atomic import temporary_beside
from formats.images import read_rgb
from formats.npz import UNREADABLE

DEFAULT_FPS = 10.0
"""Frames per second assumed where the source records none (a folder of frames, an .npz)."""
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".gif")
"""Video files read through ffmpeg (it reads more; these are the ones donkit accepts by name)."""
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
"""Images that make up a folder of frames."""
H264_CRF = 15
"""x264 constant rate factor (0 lossless .. 51 worst). Measured on the test clip: mean absolute
error 2.2 grey levels against 1.7 for lossless H.264, whose residue is the RGB -> yuv420p
conversion itself; the default 23 gave 3.3. Overlays are small, so quality wins over size."""
_COMPLETE_SHARE = 0.9
"""A video file is taken as truncated when it decodes to fewer frames than this share of what its
header promises (duration x fps). Not 1: the header's duration may include a longer audio track."""
_WHAT_TO_GIVE = "give an .mp4 (or other video file), a folder of .png/.jpg frames or a TAP-Vid .npz"


def read_video(path: Path) -> tuple[np.ndarray, float]:
    """Frames and frame rate of a video file, a folder of frames or a TAP-Vid .npz.

    Returns (T, H, W, 3) uint8 RGB frames and frames per second: the file's own rate for video
    files (`DEFAULT_FPS` if it records none), `DEFAULT_FPS` for folders and .npz files. A
    folder's frames are its .png/.jpg/.jpeg files in natural name order (frame_2 before
    frame_10; zero-padded names sort the same either way); other files and hidden ones are
    ignored. Raises DonkitError, naming the path, for anything that is not a readable video.
    """
    path = Path(path)
    if path.is_dir():
        return _read_frame_folder(path), DEFAULT_FPS
    if not path.is_file():
        raise DonkitError(f"video {path} does not exist; {_WHAT_TO_GIVE}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz_video(path), DEFAULT_FPS
    if suffix in VIDEO_SUFFIXES:
        return _read_video_file(path)
    raise DonkitError(
        f"video {path}: the suffix {path.suffix or '(none)'} is not a video donkit reads; "
        f"{_WHAT_TO_GIVE} ({', '.join(VIDEO_SUFFIXES)} are read through ffmpeg)"
    )


def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    """Write (T, H, W, 3) uint8 RGB frames as an H.264 .mp4 (yuv420p) at `fps` frames per second.

    yuv420p stores colour at half resolution, so it needs an even width and height: an odd one is
    padded by one column (row) that repeats the last, and such a video reads back one pixel wider
    (taller); pixel coordinates are unchanged, so tracks drawn on it stay where they were. The
    moov index is written at the front (faststart) so that browsers play it before it has fully
    loaded. Written to a temporary file beside `path` and renamed onto it, so `path` is never
    seen half-written. ffmpeg stays silent unless it fails.
    """
    path = Path(path)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or len(frames) == 0:
        raise ValueError(
            f"videos are (T, H, W, 3) uint8, T >= 1; got {frames.dtype} {frames.shape}"
        )
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number; got {fps}")
    _, height, width, _ = frames.shape
    padding = ((0, height % 2), (0, width % 2), (0, 0))
    handle, temporary = temporary_beside(path, ".mp4")
    os.close(handle)
    try:
        writer = imageio_ffmpeg.write_frames(
            os.path.abspath(temporary),  # absolute: ffmpeg would read "name:..." as a protocol
            (width + width % 2, height + height % 2),
            fps=float(fps),
            quality=None,  # the CRF below instead
            macro_block_size=1,  # no rescaling: pixel coordinates must survive
            ffmpeg_log_level="error",
            output_params=["-crf", str(H264_CRF), "-movflags", "+faststart", "-f", "mp4"],
        )
        try:
            writer.send(None)
            for frame in frames:
                writer.send(np.ascontiguousarray(np.pad(frame, padding, mode="edge")))
        finally:
            writer.close()  # waits for ffmpeg to finish the file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_video_file(path: Path) -> tuple[np.ndarray, float]:
    reader = imageio_ffmpeg.read_frames(os.path.abspath(path))
    unreadable = f"video {path} is not a video ffmpeg can read (damaged or truncated?)"
    try:
        meta = next(reader)
        width, height = meta["size"]
        frames = [np.frombuffer(data, np.uint8).reshape(height, width, 3) for data in reader]
    except (OSError, RuntimeError):
        raise DonkitError(f"{unreadable}; {_WHAT_TO_GIVE}") from None
    finally:
        reader.close()
    if not frames:
        raise DonkitError(f"video {path} holds no frames; {_WHAT_TO_GIVE}")
    fps = float(meta.get("fps") or 0.0)  # 0 where ffmpeg found no rate
    promised = float(meta.get("duration") or 0.0) * fps
    if len(frames) < _COMPLETE_SHARE * promised:
        raise DonkitError(
            f"video {path} decodes to {len(frames)} frames but its header promises about "
            f"{promised:.0f}: the file is truncated; copy it again from its source"
        )
    return np.stack(frames), fps or DEFAULT_FPS


def _natural_key(path: Path) -> list:
    """Sort key that orders digit runs by value: frame_2.png before frame_10.png."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _read_frame_folder(folder: Path) -> np.ndarray:
    paths = sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")
        ),
        key=_natural_key,
    )
    if not paths:
        raise DonkitError(
            f"frame folder {folder} holds no {'/'.join(FRAME_SUFFIXES)} images; {_WHAT_TO_GIVE}"
        )
    frames = [read_rgb(paths[0])]
    for frame_path in paths[1:]:
        frame = read_rgb(frame_path)
        if frame.shape != frames[0].shape:
            raise DonkitError(
                f"frame {frame_path} is {frame.shape[1]}x{frame.shape[0]} but {paths[0].name} in "
                f"the same folder is {frames[0].shape[1]}x{frames[0].shape[0]}; all frames of a "
                "video must have one size"
            )
        frames.append(frame)
    return np.stack(frames)


def _read_npz_video(path: Path) -> np.ndarray:
    unreadable = f"{path} is not a readable .npz file (truncated or corrupt?)"
    try:
        archive = np.load(path, allow_pickle=False)
    except UNREADABLE:
        raise DonkitError(unreadable) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a lone .npy array saved as .npz
        raise DonkitError(f"{path} holds a single array, not the named arrays of an .npz")
    with archive:
        if "video" not in archive.files:
            raise DonkitError(
                f"{path} holds no `video` array (it has {', '.join(archive.files) or 'none'}); "
                "a TAP-Vid .npz has video, target_points, occluded and query_points"
            )
        try:
            video = archive["video"]
        except UNREADABLE:
            raise DonkitError(unreadable) from None
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[3] != 3 or len(video) == 0:
        raise DonkitError(
            f"{path}: `video` is {video.dtype} {video.shape}; expected (T, H, W, 3) uint8, T >= 1"
        )
    return video
