"""Do a scene's depth images, intrinsics and poses agree? Checked from its files alone.

Each frame is compared with the frames whose views overlap it most: its depth moved into the
other frame against that frame's depth (geometry.depth_agreement), as a share of the depth (so
that a sensor's noise, which grows with distance, weighs alike near and far). A pair's figure is
the mean of that relative disagreement, each point's capped at `CAP` (a few points on an object
that moved, or a missed occlusion, must not decide it). A mean rather than a median: a pose
moved along a plane (the table) changes nothing there, only on the objects, a minority of points.

A frame's figure is the median over its pairs, so one frame whose pose or depth scale is off
stands out against its neighbours. It is off when its figure exceeds FRAME_LIMIT and FRAME_RATIO
times the scene's typical pair (the lower quartile of the pairs, which a few off frames do not
reach although each is in several pairs). Off frames are found one at a time, worst first: once a
frame is called off, its pairs no longer count, against its neighbours or in the scene's figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.scenes import Scene, load_scene
from geometry import backproject, invert_pose, pixel_grid, project, transform
from geometry.agreement import depth_agreement

PARTNERS = 4  # each frame is compared with the frames that overlap it most, this many
MIN_POINTS = 500  # a pair sharing fewer points than this tells nothing
CAP = 0.05  # a point's |dz| / z counts up to this much
FRAME_LIMIT = 0.002  # a frame disagreeing with its partners by more (mean |dz| / z) is off ...
FRAME_RATIO = 3.0  # ... when that is also this many times the scene's lower-quartile pair
SCENE_LIMIT = 0.01  # a scene whose pairs disagree by more than this, typically, is off as a whole
_OVERLAP_GRID = 16  # pixels between the points that estimate how much two views overlap


@dataclass(frozen=True)
class PairAgreement:
    """How frames a and b (positions in the scene's frames) agree where both see a surface."""

    a: int
    b: int
    points: int
    """Points of A that B sees (forward-backward visible, away from edges)."""
    relative: float
    """Mean of |dz| / z (each capped at CAP): the depth disagreement as a share of the depth."""
    median_mm: float
    """Median |dz| in millimetres."""


@dataclass(frozen=True)
class FrameAgreement:
    """One frame against its partners."""

    index: int
    """The frame's index (its file number)."""
    pairs: int
    relative: float
    """Median over its pairs of their relative disagreement (NaN: no pair shares enough
    points)."""
    median_mm: float
    """Median over its pairs of their median |dz|, millimetres."""
    off: bool
    """Disagrees with its partners: above FRAME_LIMIT and FRAME_RATIO times the scene's typical
    pair."""


@dataclass(frozen=True)
class SceneAgreement:
    path: Path
    pairs: list[PairAgreement]
    frames: list[FrameAgreement]
    relative: float
    """Median over the scene's pairs, those of off frames left out, of their relative
    disagreement (NaN: no pair shares enough points)."""
    median_mm: float

    @property
    def off_frames(self) -> list[int]:
        return [frame.index for frame in self.frames if frame.off]

    @property
    def consistent(self) -> bool:
        return bool(self.pairs) and self.relative <= SCENE_LIMIT and not self.off_frames


def overlap_partners(scene: Scene, depths: list[np.ndarray], count: int) -> list[tuple[int, int]]:
    """Pairs (a, b), a < b, joining each frame to the `count` frames its depth, on a coarse
    grid of pixels, lands inside of most (in front of the camera and inside the image)."""
    camera = scene.camera
    grid = pixel_grid(camera.height, camera.width, np.zeros(1))
    grid = grid[::_OVERLAP_GRID, ::_OVERLAP_GRID].reshape(-1, 2)
    columns, rows = grid.astype(int).T
    world = []
    for frame, depth in zip(scene.frames, depths, strict=True):
        z = depth[rows, columns].astype(np.float64)
        valid = z > 0
        points = backproject(grid[valid], z[valid], camera.matrix)
        world.append(transform(points, frame.camera_to_world))
    chosen = set()
    for a, points in enumerate(world):
        shares = np.zeros(len(world))
        for b, frame in enumerate(scene.frames):
            if b == a or len(points) == 0:
                continue
            uv, z = project(transform(points, invert_pose(frame.camera_to_world)), camera.matrix)
            inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] <= camera.width - 1)
            inside &= (uv[:, 1] >= 0) & (uv[:, 1] <= camera.height - 1)
            shares[b] = inside.mean()
        for b in np.argsort(-shares, kind="stable")[:count]:
            if b != a and shares[b] > 0:
                chosen.add((min(a, int(b)), max(a, int(b))))
    return sorted(chosen)


def frame_agreement(
    scene: Scene,
    a: int,
    b: int,
    depth_a: np.ndarray | None = None,
    depth_b: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """geometry.depth_agreement of frames a and b (positions in `scene.frames`): dz (N,) and
    b's depth there (N,), metres. The depth images are read unless given."""
    depth_a = scene.depth(a) if depth_a is None else depth_a
    depth_b = scene.depth(b) if depth_b is None else depth_b
    a_to_b = invert_pose(scene.frames[b].camera_to_world) @ scene.frames[a].camera_to_world
    return depth_agreement(depth_a, depth_b, scene.camera.matrix, a_to_b)


def pair_agreement(scene: Scene, depths: list[np.ndarray], a: int, b: int) -> PairAgreement:
    """Frame a's depth moved into frame b against b's, where b sees the same surface."""
    dz, depth = frame_agreement(scene, a, b, depths[a], depths[b])
    if len(dz) < MIN_POINTS:
        return PairAgreement(a, b, len(dz), float("nan"), float("nan"))
    relative = np.minimum(np.abs(dz) / depth, CAP)
    return PairAgreement(a, b, len(dz), float(relative.mean()), float(1000 * np.median(np.abs(dz))))


def scene_agreement(scene: Scene, partners: int = PARTNERS) -> SceneAgreement:
    """Every frame of `scene` against its `partners` most overlapping frames."""
    depths = [scene.depth(position) for position in range(len(scene.frames))]
    pairs = [
        pair_agreement(scene, depths, a, b) for a, b in overlap_partners(scene, depths, partners)
    ]
    usable = [pair for pair in pairs if pair.points >= MIN_POINTS]
    off: set[int] = set()
    while True:
        kept = [pair for pair in usable if not {pair.a, pair.b} & off]
        # The scene's typical pair: the lower quartile, which the pairs of a few off frames
        # (each frame is in several pairs) do not reach.
        typical = float(np.percentile([p.relative for p in kept], 25)) if kept else math.nan
        figures = {
            position: _median([p.relative for p in _pairs_of(position, kept)])
            for position in range(len(scene.frames))
            if position not in off
        }
        if not figures:
            break
        worst = max(figures, key=lambda position: np.nan_to_num(figures[position], nan=-1.0))
        figure = figures[worst]  # NaN compares False: a frame that shares nothing is not off
        if not (figure > FRAME_LIMIT and figure > FRAME_RATIO * typical):
            break
        off.add(worst)
    kept = [pair for pair in usable if not {pair.a, pair.b} & off]
    frames = []
    for position, frame in enumerate(scene.frames):
        mine = _pairs_of(position, kept if position not in off else usable, off - {position})
        frames.append(
            FrameAgreement(
                frame.index, len(mine), _median([p.relative for p in mine]),
                _median([p.median_mm for p in mine]), position in off,
            )
        )  # fmt: skip
    return SceneAgreement(
        scene.path, usable, frames, _median([p.relative for p in kept]),
        _median([p.median_mm for p in kept]),
    )  # fmt: skip


def _pairs_of(
    position: int, pairs: list[PairAgreement], off: set[int] = frozenset()
) -> list[PairAgreement]:
    """The pairs of frame `position` whose other frame is not in `off`."""
    return [
        pair
        for pair in pairs
        if position in (pair.a, pair.b) and not ({pair.a, pair.b} - {position}) & off
    ]


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def check_scene(path: Path, partners: int = PARTNERS, progress=lambda n: None) -> SceneAgreement:
    """`scene_agreement` of the scene at `path` (a task of jobs.run_tasks: one unit of progress
    when done)."""
    result = scene_agreement(load_scene(path), partners)
    progress(1)
    return result


def report_dict(results: list[SceneAgreement]) -> dict:
    """The results as plain data (the JSON that `donkit check` writes)."""

    def number(value: float) -> float | None:
        return None if np.isnan(value) else round(value, 6)

    return {
        "thresholds": {
            "frame_limit": FRAME_LIMIT, "frame_ratio": FRAME_RATIO, "scene_limit": SCENE_LIMIT,
            "cap": CAP, "partners": PARTNERS, "min_points": MIN_POINTS,
        },
        "consistent": all(result.consistent for result in results),
        "scenes": [
            {
                "scene": str(result.path),
                "consistent": result.consistent,
                "relative": number(result.relative),
                "median_mm": number(result.median_mm),
                "off_frames": result.off_frames,
                "frames": [
                    {"index": frame.index, "pairs": frame.pairs, "relative": number(frame.relative),
                     "median_mm": number(frame.median_mm), "off": frame.off}
                    for frame in result.frames
                ],
                "pairs": [
                    {"a": result.frames[pair.a].index, "b": result.frames[pair.b].index,
                     "points": pair.points, "relative": number(pair.relative),
                     "median_mm": number(pair.median_mm)}
                    for pair in result.pairs
                ],
            }
            for result in results
        ],
    }  # fmt: skip
