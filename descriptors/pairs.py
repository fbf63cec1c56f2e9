"""Which views to pair, and the matches and non-matches of one pair.

Pair kinds follow Dense Object Nets' data types: two views of one single-object scene
("same_object"), views of two different objects ("different_object": non-matches only) and two
views of a scene holding several objects ("multi_object"). What stands in each scene comes from
its metadata.yaml (the list a person recording real scenes would give, as in DON's dataset
configs); a scene without that list only pairs with itself, as "same_object".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from descriptors.config import CorrespondConfig
from descriptors.correspondence import (
    BLIND,
    CROSS_OBJECT,
    Matches,
    NonMatches,
    View,
    find_matches,
    keep_subset,
    nonmatches_for,
    random_pairs,
)
from formats import DonkitError
from formats.images import read_depth, read_labels
from formats.plain import read_yaml
from formats.scenes import (
    MASKS_DIR,
    METADATA,
    RENDERED_DIR,
    Scene,
    depth_filename,
    load_scene,
    mask_filename,
)

KINDS = ("same_object", "different_object", "multi_object")
_PLAN_STREAM, _PAIR_STREAM = 0, 1


@dataclass(frozen=True)
class SceneEntry:
    """A fused scene and what stands in it (None: not listed)."""

    path: Path
    frames: int
    objects: tuple[str, ...] | None
    classes: tuple[str, ...] | None

    @property
    def single_object(self) -> bool:
        return self.objects is None or len(self.objects) == 1


def catalog(paths: list[Path]) -> list[SceneEntry]:
    """The scenes with their frame counts and object lists (from metadata.yaml, when present)."""
    entries = []
    for path in paths:
        scene = load_scene(path)
        objects = classes = None
        if (path / METADATA).is_file():
            metadata = read_yaml(path / METADATA, "metadata") or {}
            listed = metadata.get("objects") if isinstance(metadata, dict) else None
            if listed:
                objects, classes = _object_list(listed, path / METADATA)
        entries.append(SceneEntry(path, len(scene.frames), objects, classes))
    return entries


def _object_list(listed: Any, where: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names and classes of a metadata.yaml `objects` list, or a DonkitError naming the file."""
    if not isinstance(listed, list) or not all(
        isinstance(entry, dict) and "name" in entry and "class" in entry for entry in listed
    ):
        raise DonkitError(
            f"{where}: `objects` must be a list of entries with `name` and `class` (as donkit "
            "collect writes them); fix the file, or delete the list for a scene without one"
        )
    return tuple(str(o["name"]) for o in listed), tuple(str(o["class"]) for o in listed)


@dataclass(frozen=True)
class PairPlan:
    """A pair to make: its kind, scenes and first view (the second is found when it is made)."""

    index: int
    kind: str
    scene_a: int  # positions in the catalog
    scene_b: int
    frame_a: int  # position in scene_a's frames


def plan_pairs(
    entries: list[SceneEntry], config: CorrespondConfig, count: int, class_consistent: bool = False
) -> list[PairPlan]:
    """`count` pair plans drawn with the configured odds from the kinds the scenes allow.

    With `class_consistent`, different-object pairs are of objects of different classes and
    multi-object scenes holding two objects of one class are left out, so that no non-match
    ever pushes two instances of a class apart.
    """
    singles = [i for i, e in enumerate(entries) if e.single_object and e.frames >= 2]
    labelled = [i for i in singles if entries[i].objects is not None]
    multis = [i for i, e in enumerate(entries) if not e.single_object and e.frames >= 2]
    if class_consistent:
        multis = [i for i in multis if _classes_distinct(entries[i])]
    partners = {i: _different(entries, i, labelled, class_consistent) for i in labelled}
    labelled = [i for i in labelled if partners[i]]
    odds = np.array(
        [
            config.same_object_share if singles else 0.0,
            config.different_object_share if labelled else 0.0,
            config.multi_object_share if multis else 0.0,
        ]
    )
    if odds.sum() == 0:
        raise DonkitError(
            "no pair can be made from these scenes: each needs at least two frames (and pairs of "
            "different objects need scenes listing their objects in metadata.yaml)"
        )
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _PLAN_STREAM]))
    plans = []
    for index in range(count):
        kind = KINDS[int(rng.choice(3, p=odds / odds.sum()))]
        if kind == "different_object":
            scene_a = int(rng.choice(labelled))
            scene_b = int(rng.choice(partners[scene_a]))
        else:
            scene_a = scene_b = int(rng.choice(singles if kind == "same_object" else multis))
        frame_a = int(rng.integers(entries[scene_a].frames))
        plans.append(PairPlan(index, kind, scene_a, scene_b, frame_a))
    return plans


def _classes_distinct(entry: SceneEntry) -> bool:
    return entry.classes is not None and len(set(entry.classes)) == len(entry.classes)


def _different(
    entries: list[SceneEntry], scene: int, candidates: list[int], by_class: bool
) -> list[int]:
    """The candidates showing other objects than `scene` (of other classes, when `by_class`)."""
    if by_class:
        classes = set(entries[scene].classes or ())
        return [i for i in candidates if not classes & set(entries[i].classes or ())]
    return [i for i in candidates if entries[i].objects != entries[scene].objects]


def load_view(
    scene: Scene, position: int, edge_threshold_m: float, sensor_tolerance: float = 0.0
) -> View:
    """The view of frame `position`: rendered mesh depth and mask from fusion, and the frame's
    own depth image (consulted with a `sensor_tolerance` > 0: View.sensor_disagrees)."""
    frame = scene.frames[position]
    depth_path = scene.path / RENDERED_DIR / depth_filename(frame.index)
    mask_path = scene.path / MASKS_DIR / mask_filename(frame.index)
    if not depth_path.is_file() or not mask_path.is_file():
        raise DonkitError(
            f"{scene.path} is not fused ({depth_path.relative_to(scene.path)} is missing); "
            f"run `donkit fuse {scene.path}` first"
        )
    depth, mask = read_depth(depth_path), read_labels(mask_path) > 0
    sensor = scene.depth(position) if sensor_tolerance > 0 else None
    return View(
        scene.camera, frame.camera_to_world, depth, mask, edge_threshold_m, sensor, sensor_tolerance
    )


@dataclass
class PairSample:
    """One pair's matches and non-matches (no matches for different objects)."""

    plan: PairPlan
    frame_b: int  # position in scene_b's frames
    matches: Matches
    nonmatches: NonMatches
    skipped: str = ""  # why no sample could be made ("no_overlap"), or ""
    rejected: dict[str, int] = field(default_factory=dict)


def make_pair(
    plan: PairPlan,
    scenes: list[Scene],
    views: dict[tuple[int, int], View],
    config: CorrespondConfig,
    nonmatches_per_match: int,
) -> PairSample:
    """Make the pair `plan` (deterministic from the config's seed and the plan's index).

    Args:
        scenes: loaded scenes, by catalog position.
        views: a cache of loaded views by (scene, frame position), filled as needed.
        nonmatches_per_match: masked and background non-matches drawn per match.
    """
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _PAIR_STREAM, plan.index]))

    def view(scene: int, frame: int) -> View:
        if (scene, frame) not in views:
            views[(scene, frame)] = load_view(
                scenes[scene], frame, config.edge_threshold_m, config.sensor_tolerance
            )
        return views[(scene, frame)]

    view_a = view(plan.scene_a, plan.frame_a)
    if plan.kind == "different_object":
        frame_b = int(rng.integers(len(scenes[plan.scene_b].frames)))
        nonmatches = random_pairs(
            view_a.mask, view(plan.scene_b, frame_b).mask, config.cross_object_nonmatches, True,
            CROSS_OBJECT, rng,
        )  # fmt: skip
        return PairSample(plan, frame_b, Matches.empty(), nonmatches)

    frames = len(scenes[plan.scene_a].frames)
    for _ in range(config.partner_tries):
        frame_b = int(rng.integers(frames - 1))
        frame_b += frame_b >= plan.frame_a  # any frame but A's
        view_b = view(plan.scene_b, frame_b)
        matches = find_matches(view_a, view_b, config.attempts, config.occlusion_margin_m, rng)
        if matches.attempts and len(matches.uv_a) >= config.min_overlap * matches.attempts:
            break
    else:
        return PairSample(plan, frame_b, matches, NonMatches.empty(), skipped="no_overlap")
    rejected = matches.rejected
    matches = keep_subset(matches, config.matches, rng)
    nonmatches = pair_nonmatches(matches, view_a, view_b, config, nonmatches_per_match, rng)
    return PairSample(plan, frame_b, matches, nonmatches, rejected=rejected)


def pair_nonmatches(
    matches: Matches,
    view_a: View,
    view_b: View,
    config: CorrespondConfig,
    nonmatches_per_match: int,
    rng: np.random.Generator,
) -> NonMatches:
    """The non-matches of a pair of views with `matches`: `nonmatches_per_match` masked and
    background ones per match, then the config's blind ones."""
    return NonMatches.concatenate(
        [
            nonmatches_for(
                matches, view_b, nonmatches_per_match, config.masked_share,
                config.nonmatch_radius_px, rng,
            ),
            random_pairs(view_a.mask, view_b.mask, config.blind_nonmatches, False, BLIND, rng),
        ]
    )  # fmt: skip
