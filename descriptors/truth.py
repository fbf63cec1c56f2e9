"""How true a correspondence dataset is, against the simulator's ground truth.

Read only by tests and benchmarks (the pipeline never looks at ground_truth/). For each match, the
true point is where the ray through A's pixel centre meets the true meshes (objects and table
top); its exact projection into B is the true location of the match, and a ray from B's camera to
it tells whether something really hides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open3d as o3d
import open3d.core as o3c

from descriptors.correspondence import MASKED
from formats.correspondences import INDEX, read_pair
from formats.ground_truth import read_ground_truth
from formats.plain import read_yaml
from formats.scenes import Scene, load_scene
from geometry import backproject, invert_pose, project, transform
from reconstruct.metrics import true_objects

_HIDDEN_BY_M = 0.002  # an occluder this much nearer to B than the point hides it


@dataclass(frozen=True)
class TruthCheck:
    """Matches and non-matches of a dataset measured against ground truth."""

    matches: int
    error_px: np.ndarray  # (matches,) distance of each match's pixel in B to its true location
    hidden: int  # matches whose true point something really hides from B
    missed_truth: int  # A pixels whose ray meets no true surface (left out of the figures)
    masked_nonmatches: int
    masked_within_radius: int  # of those, closer to their match than the radius


def _true_scene(root: Path) -> o3d.t.geometry.RaycastingScene:
    scene = o3d.t.geometry.RaycastingScene()
    for obj in true_objects(root):
        scene.add_triangles(
            o3c.Tensor(obj.vertices.astype(np.float32)), o3c.Tensor(obj.faces.astype(np.uint32))
        )
    table = read_ground_truth(root).table
    (cx, cy), (sx, sy), z = table.centre_m, table.size_m, table.height_m
    corners = np.array(
        [[cx - sx / 2, cy - sy / 2, z], [cx + sx / 2, cy - sy / 2, z],
         [cx + sx / 2, cy + sy / 2, z], [cx - sx / 2, cy + sy / 2, z]], np.float32,
    )  # fmt: skip
    scene.add_triangles(
        o3c.Tensor(corners), o3c.Tensor(np.array([[0, 1, 2], [0, 2, 3]], np.uint32))
    )
    return scene


def _first_hits(
    scene: o3d.t.geometry.RaycastingScene, origin: np.ndarray, directions: np.ndarray
) -> np.ndarray:
    rays = np.concatenate([np.broadcast_to(origin, directions.shape), directions], axis=1)
    return scene.cast_rays(o3c.Tensor(rays.astype(np.float32)))["t_hit"].numpy().astype(np.float64)


def check_dataset(
    dataset: Path, data: Path, radius_px: float, limit: int | None = None
) -> TruthCheck:
    """Measure the first `limit` pairs (all when None) of `dataset`, made from the scenes in
    `data`, against their ground truth."""
    index = read_yaml(Path(dataset) / INDEX, "dataset index")
    pairs = [p for p in index["pairs"] if p["kind"] != "different_object"][:limit]
    truths: dict[str, o3d.t.geometry.RaycastingScene] = {}
    scenes: dict[str, Scene] = {}
    errors, hidden, missed, masked, close = [], 0, 0, 0, 0
    for pair in pairs:
        name = pair["scene_a"]
        if name not in truths:
            truths[name] = _true_scene(Path(data) / name)
            scenes[name] = load_scene(Path(data) / name)
        scene, truth = scenes[name], truths[name]
        frames = {frame.index: frame for frame in scene.frames}
        a_to_world = frames[pair["frame_a"]].camera_to_world
        b_to_world = frames[pair["frame_b"]].camera_to_world
        arrays = read_pair(Path(dataset) / pair["file"])
        uv_a, uv_b = arrays["uv_a"].astype(np.float64), arrays["uv_b"].astype(np.float64)
        k = scene.camera.matrix
        directions = backproject(uv_a, np.ones(len(uv_a)), k) @ a_to_world[:3, :3].T
        depth = _first_hits(truth, a_to_world[:3, 3], directions)  # directions have camera z = 1
        found = np.isfinite(depth)
        missed += int(np.count_nonzero(~found))
        points = a_to_world[:3, 3] + directions[found] * depth[found, None]
        true_uv, _ = project(transform(points, invert_pose(b_to_world)), k)
        errors.append(np.linalg.norm(uv_b[found] - true_uv, axis=1))
        towards = points - b_to_world[:3, 3]
        distance = np.linalg.norm(towards, axis=1)
        first = _first_hits(truth, b_to_world[:3, 3], towards / distance[:, None])
        hidden += int(np.count_nonzero(first < distance - _HIDDEN_BY_M))
        # Masked non-matches against the match of the same A pixel.
        is_masked = arrays["nonmatch_kind"] == MASKED
        match_of = {tuple(p): i for i, p in enumerate(arrays["uv_a"].tolist())}
        owners = [match_of[tuple(p)] for p in arrays["nonmatch_uv_a"][is_masked].tolist()]
        offsets = arrays["nonmatch_uv_b"][is_masked] - arrays["uv_b"][owners]
        masked += len(owners)
        close += int(np.count_nonzero(np.hypot(offsets[:, 0], offsets[:, 1]) < radius_px))
    error = np.concatenate(errors) if errors else np.zeros(0)
    return TruthCheck(len(error), error, hidden, missed, masked, close)
