"""True matches across two instances of one class, from the simulator's ground truth.

sim_assets makes every instance of a class from one canonical mesh scaled per object axis, so a
surface point of instance X has a corresponding point on instance Y: into X's object frame,
divided by X's scale (the canonical point), times Y's scale, out of Y's object frame. A pixel of a
view of X therefore has a true match in a view of Y wherever that point is visible: where B's
sensor depth agrees with the point's depth and B's segmentation shows Y. Class-consistent
descriptors should find it. When X and Y stand in one scene, B may show X too, where the same
point of the same object is rightly nearest: B's pixels of X (or of a copy of X, the same object
in Y's scene) are then left out of the search, in training as in evaluation.
Only simulated scenes (with ground_truth/) have such pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from descriptors.evaluation_pairs import EvaluationPair, ground_truth_of, object_names
from descriptors.pairs import load_view
from formats.ground_truth import has_ground_truth, read_ground_truth
from formats.scenes import Scene, load_scene
from geometry import backproject, inside_image, invert_pose, project, transform

VISIBLE_WITHIN_M = 0.005  # B's sensor depth this close to the point's depth: nothing hides it
MIN_PIXELS = 200  # an instance smaller than this in a view is not worth a pair
_ATTEMPTS_PER_MATCH = 4  # pixels of A tried per match wanted (some land hidden or off Y)


@dataclass(frozen=True)
class Instance:
    """One object of a simulated scene."""

    scene: int  # position in the list of scenes
    name: str
    object_class: str
    object_to_world: np.ndarray  # (4, 4)
    scale: np.ndarray  # (3,) the instance's mesh is the canonical mesh times this, per axis
    segmentation_id: int


def transfer(points: np.ndarray, source: Instance, target: Instance) -> np.ndarray:
    """(N, 3) world points on `target` at the canonical positions of world points `points`
    (N, 3) on `source`."""
    canonical = transform(points, invert_pose(source.object_to_world)) / source.scale
    return transform(canonical * target.scale, target.object_to_world)


def instances(paths: list[Path]) -> list[Instance]:
    """The non-distractor objects of every scene that has ground truth."""
    found = []
    for position, path in enumerate(paths):
        if not has_ground_truth(path):
            continue
        for obj in read_ground_truth(path).main_objects():
            instance = Instance(
                position,
                obj.name,
                obj.object_class,
                obj.object_to_world,
                obj.scale,
                obj.segmentation_id,
            )
            found.append(instance)
    return found


def class_partners(found: list[Instance]) -> list[tuple[Instance, Instance]]:
    """Every ordered pair (X, Y) of two instances of one class among `found`."""
    return [
        (x, y)
        for x in found
        for y in found
        if x.object_class == y.object_class and x.name != y.name
    ]


def views_showing(scene: Scene, instance: Instance) -> list[int]:
    """Positions of the views of `scene` that show `instance` with at least MIN_PIXELS."""
    return [
        position
        for position in range(len(scene.frames))
        if np.count_nonzero(scene.segmentation(position) == instance.segmentation_id) >= MIN_PIXELS
    ]


def cross_instance_pairs(
    paths: list[Path], pairs: int, matches: int, seed: int, edge_threshold_m: float = 0.02
) -> list[EvaluationPair]:
    """Up to `pairs` pairs (kind "cross_instance"): a view of instance X, a view of another
    instance Y of its class, and up to `matches` true matches between them."""
    found = instances(paths)
    partners = class_partners(found)
    segment_ids = {(item.scene, item.name): item.segmentation_id for item in found}
    if not partners:
        return []
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC1A55]))
    scenes = {x.scene: load_scene(paths[x.scene]) for pair in partners for x in pair}
    names = {position: object_names(paths[position]) for position in scenes}
    showing: dict[tuple[int, str], list[int]] = {}
    chosen = []
    for _ in range(pairs * 3):  # some draws find no visible match
        if len(chosen) == pairs:
            break
        x, y = partners[int(rng.integers(len(partners)))]
        for instance in (x, y):
            key = (instance.scene, instance.name)
            if key not in showing:
                showing[key] = views_showing(scenes[instance.scene], instance)
        views_x, views_y = showing[(x.scene, x.name)], showing[(y.scene, y.name)]
        if not views_x or not views_y:
            continue
        frame_a = views_x[int(rng.integers(len(views_x)))]
        frame_b = views_y[int(rng.integers(len(views_y)))]
        scene_a, scene_b = scenes[x.scene], scenes[y.scene]
        uv_a, uv_b, on_y = instance_matches(scene_a, frame_a, x, scene_b, frame_b, y, matches, rng)
        if len(uv_a) == 0:
            continue
        pair = EvaluationPair(
            "cross_instance",
            scene_a.rgb(frame_a),
            scene_b.rgb(frame_b),
            load_view(scene_b, frame_b, edge_threshold_m),
            uv_a,
            uv_b,
            on_y,
            (f"{scene_a.path.name}/{x.name}", f"{scene_b.path.name}/{y.name}"),
            # A's camera carried rigidly from X onto Y (where it would stand to see Y as it saw
            # X): the points are on Y, and A's own pose is about X, elsewhere or in another
            # scene.
            y.object_to_world
            @ invert_pose(x.object_to_world)
            @ scene_a.frames[frame_a].camera_to_world,
            **ground_truth_of(scene_b, frame_b, names[y.scene]),
            excluded_b=copy_in_view(scene_b, frame_b, segment_ids.get((y.scene, x.name))),
        )
        chosen.append(pair)
    return chosen


def copy_in_view(scene: Scene, frame: int, segmentation_id: int | None) -> np.ndarray | None:
    """(H, W) bool pixels of view `frame` of `scene` on the object `segmentation_id` (None: the
    scene holds no such object, and None is returned)."""
    if segmentation_id is None:
        return None
    return scene.segmentation(frame) == segmentation_id


def instance_matches(
    scene_a: Scene,
    frame_a: int,
    x: Instance,
    scene_b: Scene,
    frame_b: int,
    y: Instance,
    matches: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to `matches` true matches between instance X in view `frame_a` of `scene_a` and
    instance Y in view `frame_b` of `scene_b`: random pixels of X carried through the canonical
    shape onto Y, kept where B sees that point of Y.

    Returns:
        uv_a (N, 2) int64, uv_b (N, 2) int64 (rounded to B's pixels), and the points on Y
        (N, 3) float64, world frame of scene B, metres.
    """
    depth_a = scene_a.depth(frame_a)
    on_x = np.flatnonzero((scene_a.segmentation(frame_a) == x.segmentation_id) & (depth_a > 0))
    tried = rng.choice(on_x, min(len(on_x), matches * _ATTEMPTS_PER_MATCH), replace=False)
    width = depth_a.shape[1]
    uv_a = np.stack([tried % width, tried // width], axis=1)
    camera_a = scene_a.camera.matrix
    points = transform(
        backproject(uv_a.astype(np.float64), depth_a.reshape(-1)[tried].astype(np.float64),
                    camera_a),
        scene_a.frames[frame_a].camera_to_world,
    )  # fmt: skip
    on_y = transfer(points, x, y)
    uv_b, visible = seen_on(on_y, scene_b, frame_b, y)
    keep = np.flatnonzero(visible)[:matches]
    return uv_a[keep].astype(np.int64), uv_b[keep], on_y[keep]


def seen_on(
    points: np.ndarray, scene: Scene, frame: int, instance: Instance
) -> tuple[np.ndarray, np.ndarray]:
    """Where view `frame` of `scene` sees world points `points` (N, 3) on `instance`: (N, 2)
    int64 pixels (rounded) and (N,) bool, whether each lies inside the image, on the instance
    and unhidden (the sensor's depth there within VISIBLE_WITHIN_M of the point's)."""
    world_to_view = invert_pose(scene.frames[frame].camera_to_world)
    uv_exact, z = project(transform(points, world_to_view), scene.camera.matrix)
    uv = np.round(uv_exact).astype(np.int64)
    depth = scene.depth(frame)
    height, width = depth.shape
    visible = (z > 0) & inside_image(uv_exact, width, height)
    inside = np.flatnonzero(visible)
    rows, columns = uv[inside, 1], uv[inside, 0]
    visible[inside] = (np.abs(depth[rows, columns] - z[inside]) < VISIBLE_WITHIN_M) & (
        scene.segmentation(frame)[rows, columns] == instance.segmentation_id
    )
    return uv, visible
