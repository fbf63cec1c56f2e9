"""Held-out pairs of views with their true matches: what evaluation and pictures are made on.

`evaluation_pairs` draws them with the correspondence generator (pairs of one object, of several,
of different objects); `descriptors.cross_instance` makes pairs across two instances of a class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from descriptors.config import CorrespondConfig
from descriptors.correspondence import View
from descriptors.pairs import catalog, make_pair, plan_pairs
from formats.ground_truth import has_ground_truth, read_ground_truth
from formats.scenes import Scene, load_scene


@dataclass
class EvaluationPair:
    """Two held-out views and their true matches (none when they show different objects)."""

    kind: str  # a pair kind of descriptors.pairs.KINDS, or "cross_instance"
    image_a: np.ndarray  # (H, W, 3) uint8
    image_b: np.ndarray
    view_b: View  # rendered depth, mask and pose of B
    uv_a: np.ndarray  # (N, 2) int64: match pixels, or object pixels for different objects
    uv_b: np.ndarray  # (N, 2) int64 true matches; (0, 2) for different objects
    xyz: np.ndarray  # (N, 3) world points of the matches, metres; (0, 3) for different objects
    instances: tuple[str, str] = ("", "")  # "scene/object" of A and B, across instances only
    camera_to_world_a: np.ndarray | None = None  # (4, 4) pose of A
    # Simulated scenes only (ground_truth/): B's object ids per pixel and their names.
    segmentation_b: np.ndarray | None = None  # (H, W) int
    object_names_b: dict[int, str] = field(default_factory=dict)
    # (H, W) bool pixels of B that are not searched: across instances, B's view of A's own
    # instance when both stand in one scene (there the same point of the same object would
    # rightly be nearest).
    excluded_b: np.ndarray | None = None


def evaluation_pairs(
    paths: list[Path], correspond: CorrespondConfig, pairs: int, matches: int, seed: int
) -> list[EvaluationPair]:
    """`pairs` pairs drawn with the correspondence config's kind odds, with `matches` matches
    each at most (for different objects: `matches` pixels on A's object)."""
    config = dataclasses.replace(
        correspond,
        seed=seed,
        matches=matches,
        cross_object_nonmatches=matches,
        nonmatches_per_match=0,
        saved_nonmatches_per_match=0,
        blind_nonmatches=0,
    )
    entries, scenes = catalog(paths), [load_scene(path) for path in paths]
    names = [object_names(path) for path in paths]
    views: dict[tuple[int, int], View] = {}
    chosen = []
    for plan in plan_pairs(entries, config, pairs):
        sample = make_pair(plan, scenes, views, config, 0)
        if plan.kind == "different_object":
            uv_a, uv_b, xyz = sample.nonmatches.uv_a, np.zeros((0, 2)), np.zeros((0, 3))
        else:
            uv_a, uv_b, xyz = sample.matches.uv_a, sample.matches.uv_b, sample.matches.xyz
        if sample.skipped or len(uv_a) == 0:
            continue
        scene_b = scenes[plan.scene_b]
        chosen.append(
            EvaluationPair(
                plan.kind,
                scenes[plan.scene_a].rgb(plan.frame_a),
                scene_b.rgb(sample.frame_b),
                views[(plan.scene_b, sample.frame_b)],
                uv_a.astype(np.int64),
                uv_b.astype(np.int64),
                xyz,
                camera_to_world_a=scenes[plan.scene_a].frames[plan.frame_a].camera_to_world,
                **ground_truth_of(scene_b, sample.frame_b, names[plan.scene_b]),
            )
        )
    return chosen


def object_names(path: Path) -> dict[int, str] | None:
    """Segmentation id -> object name of a simulated scene; None without ground truth."""
    if not has_ground_truth(path):
        return None
    return {obj.segmentation_id: obj.name for obj in read_ground_truth(path).objects}


def ground_truth_of(scene: Scene, position: int, names: dict[int, str] | None) -> dict:
    """The `segmentation_b` and `object_names_b` of an EvaluationPair whose B is frame
    `position` of `scene`, whose `object_names` are `names`; none without ground truth."""
    if names is None:
        return {}
    return {"segmentation_b": scene.segmentation(position), "object_names_b": names}
