"""Point tracks in video: what every tracker takes (queries) and returns (tracks), and tracks.csv.

Convention: a point's position is (x, y) = (u, v) = (column, row) in pixels, integer values at
pixel centres (as everywhere in donkit); frames are numbered from 0. TAP-Vid files order their
queries as (t, y, x); `formats.tapvid` converts at the file boundary, nowhere else.

Every tracker gives each point a position in every frame, a visibility, and a score in [0, 1]
(higher is surer) that it derives from its own evidence so that a point is visible exactly when
its score is at least 0.5: `score_from_statistic` is that mapping.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.plain import finite_float, whole_number

CSV_COLUMNS = ("frame", "point_id", "x", "y", "visible", "score")
VISIBLE_SCORE = 0.5  # a point is visible when its score is at least this


@dataclass(frozen=True)
class Queries:
    """Points to track: where each one is in the frame it is given in."""

    frame: np.ndarray  # (N,) int64 query frame of each point
    xy: np.ndarray  # (N, 2) float32 its pixel (x, y) in that frame

    def __post_init__(self) -> None:
        if self.frame.ndim != 1 or self.xy.shape != (len(self.frame), 2):
            raise ValueError(
                f"queries need frame (N,) and xy (N, 2); got {self.frame.shape}, {self.xy.shape}"
            )

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class Tracks:
    """Where each query point is in every frame of a video."""

    xy: np.ndarray  # (N, T, 2) float32 pixel (x, y)
    visible: np.ndarray  # (N, T) bool
    score: np.ndarray  # (N, T) float32 in [0, 1], >= VISIBLE_SCORE where visible

    def __post_init__(self) -> None:
        points, frames = self.visible.shape
        if self.xy.shape != (points, frames, 2) or self.score.shape != (points, frames):
            raise ValueError(
                f"tracks need xy (N, T, 2), visible and score (N, T); got {self.xy.shape}, "
                f"{self.visible.shape}, {self.score.shape}"
            )

    @property
    def points(self) -> int:
        return self.visible.shape[0]

    @property
    def frames(self) -> int:
        return self.visible.shape[1]


def score_from_statistic(statistic: np.ndarray, threshold: float) -> np.ndarray:
    """Scores in [0, 1] from a tracker's evidence against a point (lower = surer: a descriptor
    distance, a forward-backward error): 2^(-statistic / threshold), so exactly 0.5 at the
    threshold. NaN (no evidence) scores 0."""
    ratio = np.asarray(statistic, dtype=np.float64) / threshold
    score = np.exp2(-np.clip(ratio, 0.0, None))
    return np.where(np.isnan(score), 0.0, score).astype(np.float32)


def parse_points(text: str) -> np.ndarray:
    """(N, 2) float32 pixels from "x,y;x,y;..." (the `--points` option); DonkitError if not."""
    points = []
    for number, item in enumerate(text.split(";"), 1):
        if not item.strip():
            continue
        parts = item.split(",")
        if len(parts) != 2:
            raise DonkitError(
                f'--points: item {number} ("{item.strip()}") is not "x,y"; write e.g. '
                '--points "120,80;200,95"'
            )
        points.append([finite_float(p.strip(), f"--points item {number}") for p in parts])
    if not points:
        raise DonkitError('--points holds no point; write e.g. --points "120,80;200,95"')
    return np.array(points, dtype=np.float32)


def tracks_csv(tracks: Tracks) -> str:
    """The text of tracks.csv: one row per frame and point, frames first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for frame in range(tracks.frames):
        for point in range(tracks.points):
            x, y = tracks.xy[point, frame]
            writer.writerow(
                [frame, point, f"{x:.3f}", f"{y:.3f}", int(tracks.visible[point, frame]),
                 f"{tracks.score[point, frame]:.4f}"]
            )  # fmt: skip
    return buffer.getvalue()


def write_tracks_csv(path: Path, tracks: Tracks) -> None:
    """Write tracks.csv (columns frame,point_id,x,y,visible,score) atomically."""
    write_bytes_atomic(Path(path), tracks_csv(tracks).encode())


def read_tracks_csv(path: Path) -> Tracks:
    """Tracks from a tracks.csv; DonkitError naming the file and line when it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise DonkitError(f"tracks file {path} does not exist")
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except (UnicodeDecodeError, csv.Error):
        raise DonkitError(
            f"tracks file {path} is not a CSV text file; write it with `donkit track`"
        ) from None
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise DonkitError(f"tracks file {path} must start with the header {','.join(CSV_COLUMNS)}")
    entries = []
    for line, row in enumerate(rows[1:], 2):
        where = f"tracks file {path}:{line}"
        if len(row) != len(CSV_COLUMNS):
            raise DonkitError(f"{where} has {len(row)} columns; expected {len(CSV_COLUMNS)}")
        frame, point = whole_number(row[0], f"{where} frame"), whole_number(row[1], f"{where} id")
        x, y = finite_float(row[2], f"{where} x"), finite_float(row[3], f"{where} y")
        visible = whole_number(row[4], f"{where} visible")
        score = finite_float(row[5], f"{where} score")
        if frame < 0 or point < 0 or visible not in (0, 1) or not 0.0 <= score <= 1.0:
            raise DonkitError(f"{where}: frame and point_id >= 0, visible 0/1, score in [0, 1]")
        entries.append((frame, point, x, y, visible, score))
    if not entries:
        raise DonkitError(f"tracks file {path} holds no rows")
    frames = max(e[0] for e in entries) + 1
    points = max(e[1] for e in entries) + 1
    if len(entries) != frames * points or len({(e[0], e[1]) for e in entries}) != len(entries):
        raise DonkitError(
            f"tracks file {path} must hold one row for each of {frames} frames x {points} points"
        )
    xy = np.zeros((points, frames, 2), np.float32)
    visible_array = np.zeros((points, frames), bool)
    score_array = np.zeros((points, frames), np.float32)
    for frame, point, x, y, visible, score in entries:
        xy[point, frame] = (x, y)
        visible_array[point, frame] = bool(visible)
        score_array[point, frame] = score
    return Tracks(xy, visible_array, score_array)
