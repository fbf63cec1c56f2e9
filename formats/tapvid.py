"""TAP-Vid files: videos with ground-truth point tracks (Doersch et al. 2022, "TAP-Vid").

Layout of the .npz: `video` (T, H, W, 3) uint8 RGB, `target_points` (N, T, 2) float32 pixel
(x, y), `occluded` (N, T) bool, `query_points` (N, 3) float32 (t, y, x). The simulator writes
them (`donkit sim-video`), the tracker and its evaluation read them. This module is the only
place that knows TAP-Vid's (t, y, x) order: `query_points_of` and `frames_and_xy` convert.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.npz import UNREADABLE
from formats.plain import read_yaml
from formats.scenes import camera_info_from_dict, pose_from_dict

KEYS = ("video", "target_points", "occluded", "query_points")

_LAYOUT = (
    "A TAP-Vid .npz holds video (T, H, W, 3) uint8, target_points (N, T, 2) pixel (x, y), "
    "occluded (N, T) bool and query_points (N, 3) (t, y, x): write it again with write_tapvid "
    "(donkit sim-video)."
)


@dataclass(frozen=True)
class TapVidVideo:
    """One TAP-Vid video with the ground-truth track of each of its points."""

    video: np.ndarray  # (T, H, W, 3) uint8 RGB
    target_points: np.ndarray  # (N, T, 2) float32 pixel (x, y); anything where occluded
    occluded: np.ndarray  # (N, T) bool
    query_points: np.ndarray  # (N, 3) float32 (t, y, x): frame, row, column

    def __post_init__(self) -> None:
        expected = {
            "video": np.uint8,
            "target_points": np.float32,
            "occluded": np.bool_,
            "query_points": np.float32,
        }
        arrays = self._arrays()
        problems = [
            f"{name} must be {np.dtype(dtype)}; got {arrays[name].dtype}"
            for name, dtype in expected.items()
            if arrays[name].dtype != dtype
        ]
        problems = problems or _layout_problems(arrays) or _value_problems(arrays)
        if problems:
            raise ValueError("TapVidVideo: " + "; ".join(problems))

    def _arrays(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, key) for key in KEYS}

    @property
    def frames(self) -> int:
        return self.video.shape[0]

    @property
    def points(self) -> int:
        return self.target_points.shape[0]

    @property
    def height(self) -> int:
        return self.video.shape[1]

    @property
    def width(self) -> int:
        return self.video.shape[2]


def _shape_text(shape: Sequence[int | str], sizes: dict[str, int | None]) -> str:
    """An expected shape as text: (N, T, 2), followed by = (3, 10, 2) when the sizes are known."""
    symbolic = f"({', '.join(str(s) for s in shape)})"
    known = [sizes.get(s) if isinstance(s, str) else s for s in shape]
    if any(size is None for size in known):
        return symbolic
    return f"{symbolic} = ({', '.join(str(s) for s in known)})"


def _layout_problems(arrays: dict[str, np.ndarray]) -> list[str]:
    """What is wrong with the dtypes, shapes and occlusion flags (empty when nothing)."""
    video, occluded = arrays["video"], arrays["occluded"]
    problems = []
    if video.dtype != np.uint8:
        problems.append(f"video has dtype {video.dtype}, expected uint8 RGB")
    for name in ("target_points", "query_points"):
        dtype = arrays[name].dtype
        if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
            problems.append(f"{name} has dtype {dtype}, expected real numbers (float32)")
    if occluded.dtype != np.bool_ and not np.issubdtype(occluded.dtype, np.integer):
        problems.append(f"occluded has dtype {occluded.dtype}, expected bool (or 0/1 integers)")
    elif occluded.dtype != np.bool_ and not np.isin(occluded, (0, 1)).all():
        problems.append("occluded holds integers other than 0 and 1, expected bool (or 0/1)")

    if video.ndim != 4 or video.shape[3] != 3 or 0 in video.shape:
        problems.append(
            f"video has shape {video.shape}, expected (T, H, W, 3) with at least one frame"
        )
    sizes: dict[str, int | None] = {"T": video.shape[0] if video.ndim == 4 else None, "N": None}
    for name, rank in (("target_points", 3), ("occluded", 2), ("query_points", 2)):
        if arrays[name].ndim == rank:
            sizes["N"] = arrays[name].shape[0]
            break
    for name, shape in (
        ("target_points", ("N", "T", 2)),
        ("occluded", ("N", "T")),
        ("query_points", ("N", 3)),
    ):
        got = arrays[name].shape
        wanted = [sizes[s] if isinstance(s, str) else s for s in shape]
        fits = len(got) == len(shape) and all(
            want is None or size == want for size, want in zip(got, wanted, strict=True)
        )
        if not fits:
            problems.append(f"{name} has shape {got}, expected {_shape_text(shape, sizes)}")
    return problems


def _value_problems(arrays: dict[str, np.ndarray]) -> list[str]:
    """What is wrong with the values of well-laid-out arrays (empty when nothing)."""
    target_points, query_points = arrays["target_points"], arrays["query_points"]
    visible = ~arrays["occluded"].astype(bool)
    frames = arrays["video"].shape[0]
    problems = []
    bad = visible & ~np.isfinite(target_points).all(axis=-1)
    if bad.any():
        point, frame = np.argwhere(bad)[0]
        problems.append(
            f"target_points holds NaN or inf at {bad.sum()} visible entries (first: point "
            f"{point}, frame {frame}), allowed only where occluded"
        )
    finite = np.isfinite(query_points).all(axis=-1)
    if not finite.all():
        problems.append(
            f"query_points holds NaN or inf (first: point {np.flatnonzero(~finite)[0]})"
        )
    query_frame = np.where(finite, query_points[:, 0], 0.0)
    outside = (query_frame != np.rint(query_frame)) | (query_frame < 0) | (query_frame >= frames)
    if outside.any():
        point = np.flatnonzero(outside)[0]
        problems.append(
            f"query_points frames (column 0, t) must be whole numbers in [0, {frames}), but "
            f"point {point} has t = {query_frame[point]:g}"
        )
    return problems


def read_tapvid(path: Path) -> TapVidVideo:
    """A TAP-Vid .npz, checked; DonkitError naming the file and every problem when malformed.

    Points of any real dtype are cast to float32, occlusion flags of 0/1 integers to bool.
    """
    path = Path(path)
    if not path.is_file():
        raise DonkitError(f"TAP-Vid file {path} does not exist; check the path")
    unreadable = (
        f"TAP-Vid file {path} is not a readable .npz of plain arrays (truncated, corrupt, or "
        f"holding pickled objects?). {_LAYOUT}"
    )
    try:
        loaded = np.load(path, allow_pickle=False)
    except UNREADABLE:
        raise DonkitError(unreadable) from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DonkitError(f"TAP-Vid file {path} holds a single array, not an .npz. {_LAYOUT}")
    with loaded:
        missing = [key for key in KEYS if key not in loaded.files]
        if missing:
            raise DonkitError(
                f"TAP-Vid file {path} lacks the arrays {', '.join(missing)}. {_LAYOUT}"
            )
        try:
            arrays = {key: loaded[key] for key in KEYS}
        except UNREADABLE:
            raise DonkitError(unreadable) from None
    problems = _layout_problems(arrays)
    if not problems:
        arrays = {
            "video": arrays["video"],
            "target_points": arrays["target_points"].astype(np.float32),
            "occluded": arrays["occluded"].astype(bool),
            "query_points": arrays["query_points"].astype(np.float32),
        }
        problems = _value_problems(arrays)
    if problems:
        raise DonkitError(f"TAP-Vid file {path}: {'; '.join(problems)}. {_LAYOUT}")
    return TapVidVideo(**arrays)


def write_tapvid(path: Path, video: TapVidVideo) -> None:
    """Write a TAP-Vid .npz (compressed) atomically, so that a reader never sees half of it."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **video._arrays())
    write_bytes_atomic(Path(path), buffer.getvalue())


def query_points_of(frame: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N, 3) float32 TAP-Vid query points (t, y, x) from (N,) frames and (N, 2) pixels (x, y)."""
    xy = np.asarray(xy)
    return np.column_stack([frame, xy[:, 1], xy[:, 0]]).astype(np.float32)


def frames_and_xy(query_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) int64 frames and (N, 2) float32 pixels (x, y) of TAP-Vid query points (t, y, x)."""
    frame = np.rint(query_points[:, 0]).astype(np.int64)
    return frame, np.ascontiguousarray(query_points[:, [2, 1]], dtype=np.float32)


def first_visible_query_points(target_points: np.ndarray, occluded: np.ndarray) -> np.ndarray:
    """(N, 3) float32 query points (t, y, x) of each track at the first frame it is visible
    (frame 0 and its position there for a track never visible).

    Args:
        target_points: (N, T, 2) pixel (x, y); occluded: (N, T) bool.
    """
    frame = (~np.asarray(occluded, bool)).argmax(axis=1)
    xy = np.asarray(target_points)[np.arange(len(frame)), frame]
    return query_points_of(frame, xy)


@dataclass(frozen=True)
class CameraPath:
    """Where a video's camera was in every frame, as a robot's forward kinematics gives it."""

    camera_to_world: np.ndarray  # (T, 4, 4) float64
    intrinsics: np.ndarray  # (3, 3) float64 K


def read_camera_path(path: Path, video: TapVidVideo) -> CameraPath | None:
    """The camera path recorded beside the TAP-Vid file `path`: its .yaml with `camera` (a
    camera_info) and `camera_to_world` (a pose per frame), as `donkit sim-video` writes it.

    None when there is no such file or it records no poses; DonkitError when it does not fit
    `video` (the file's contents): a pose per frame, the same image size.
    """
    frames, width, height = video.frames, video.width, video.height
    sidecar = Path(path).with_suffix(".yaml")
    if not sidecar.is_file():
        return None
    data = read_yaml(sidecar, "video description")
    if not isinstance(data, dict) or "camera_to_world" not in data:
        return None
    poses = data["camera_to_world"]
    if not isinstance(poses, list) or len(poses) != frames:
        count = len(poses) if isinstance(poses, list) else "no list of"
        raise DonkitError(
            f"{sidecar}: camera_to_world must list a pose for each of the video's {frames} "
            f"frames; it has {count} poses"
        )
    camera = camera_info_from_dict(data.get("camera"), f"{sidecar}: camera")
    if (camera.width, camera.height) != (width, height):
        raise DonkitError(
            f"{sidecar}: its camera is {camera.width} x {camera.height} pixels but the video is "
            f"{width} x {height}"
        )
    camera_to_world = np.stack(
        [pose_from_dict(pose, f"{sidecar}: camera_to_world[{i}]") for i, pose in enumerate(poses)]
    )
    return CameraPath(camera_to_world, camera.matrix)
