"""A simulated scene's ground truth, `ground_truth/scene.yaml`: read here and nowhere else.

Only evaluation, tests and benchmarks read it; the pipeline never does (a real robot has no
such file). The file lists each object as

    objects:
      - name: mug_1                  # unique in the scene
        class: mug
        mesh: meshes/mug_1.obj       # in the object's own frame, metres, scale applied
        object_to_world: {translation: {x, y, z}, quaternion: {w, x, y, z}}
        segmentation_id: 2           # its value in segmentation/*.png
        scale: [sx, sy, sz]          # the mesh is its class's canonical mesh times this
        distractor: false
    table: {height_m, size_m: [x, y], centre_m: [x, y]}
    robot: {joint_positions: {frame index: [radians, ...]}, ...}

beside the light, the orbit centre, the seed and the resolved config (written by
`collect.scene`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from formats.errors import DonkitError
from formats.plain import finite_float, read_yaml, whole_number
from formats.scenes import GROUND_TRUTH_DIR, SCENE_YAML, pose_from_dict
from geometry import transform


@dataclass(frozen=True)
class GroundTruthObject:
    """One object of a simulated scene, as the simulator placed it."""

    name: str
    object_class: str  # "distractor" for the small random objects added around the others
    mesh_path: Path  # object frame, metres, scale applied
    object_to_world: np.ndarray  # (4, 4) float64
    segmentation_id: int  # its value in ground_truth/segmentation/XXXXXX_seg.png
    scale: np.ndarray  # (3,) the mesh is its class's canonical mesh times this, per axis
    distractor: bool

    def mesh(self) -> trimesh.Trimesh:
        """The object's mesh in its own frame (metres), as written."""
        try:
            return trimesh.load(self.mesh_path, process=False)
        except (OSError, ValueError, IndexError) as error:
            raise DonkitError(
                f"ground-truth mesh {self.mesh_path} cannot be read ({error})"
            ) from None

    def vertices_world(self) -> tuple[np.ndarray, np.ndarray]:
        """(V, 3) float64 world vertices in metres and (F, 3) int64 faces of the posed mesh."""
        mesh = self.mesh()
        vertices = transform(np.asarray(mesh.vertices, np.float64), self.object_to_world)
        return vertices, np.asarray(mesh.faces, np.int64)


@dataclass(frozen=True)
class Table:
    """The table top the objects stand on."""

    height_m: float  # of its top surface above the floor (the world's z = 0)
    size_m: tuple[float, float]  # along x and y
    centre_m: tuple[float, float]  # (x, y)


@dataclass(frozen=True)
class GroundTruth:
    """What `ground_truth/scene.yaml` says of a scene."""

    path: Path  # the scene folder
    objects: tuple[GroundTruthObject, ...]
    table: Table
    joint_positions: dict[int, np.ndarray]  # frame index -> (joints,) the arm's configuration, rad

    def main_objects(self) -> tuple[GroundTruthObject, ...]:
        """The objects that are not distractors."""
        return tuple(obj for obj in self.objects if not obj.distractor)


def has_ground_truth(scene_root: Path) -> bool:
    """Whether a scene folder has simulator ground truth."""
    return (Path(scene_root) / SCENE_YAML).is_file()


def read_ground_truth(scene_root: Path) -> GroundTruth:
    """The ground truth of a simulated scene; DonkitError naming the file and the entry for a
    scene without one or a malformed one."""
    scene_root = Path(scene_root)
    path = scene_root / SCENE_YAML
    if not path.is_file():
        raise DonkitError(
            f"{scene_root} has no {SCENE_YAML}: only scenes made by `donkit collect` have "
            "simulator ground truth to measure against"
        )
    data = read_yaml(path, "ground truth")
    if not isinstance(data, dict):
        raise DonkitError(f"ground truth {path} must be a mapping with objects and table")
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise DonkitError(f"ground truth {path}: objects must be a list")
    return GroundTruth(
        path=scene_root,
        objects=tuple(_object(entry, scene_root, i) for i, entry in enumerate(objects)),
        table=_table(data.get("table"), path),
        joint_positions=_joint_positions(data.get("robot"), path),
    )


def _object(entry: Any, scene_root: Path, position: int) -> GroundTruthObject:
    where = f"ground truth {scene_root / SCENE_YAML}, objects[{position}]"
    try:
        name, object_class, mesh = str(entry["name"]), str(entry["class"]), str(entry["mesh"])
        segmentation_id = whole_number(entry["segmentation_id"], f"{where}.segmentation_id")
        pose = pose_from_dict(entry["object_to_world"], f"{where}.object_to_world")
        scale = np.array(
            [finite_float(s, f"{where}.scale") for s in entry.get("scale", [1.0, 1.0, 1.0])]
        )
    except (KeyError, TypeError):
        raise DonkitError(
            f"{where} needs name, class, mesh, object_to_world and segmentation_id"
        ) from None
    if scale.shape != (3,):
        raise DonkitError(f"{where}.scale must hold 3 numbers; got {entry.get('scale')!r}")
    return GroundTruthObject(
        name=name,
        object_class=object_class,
        mesh_path=scene_root / GROUND_TRUTH_DIR / mesh,
        object_to_world=pose,
        segmentation_id=segmentation_id,
        scale=scale,
        distractor=bool(entry.get("distractor", False)),
    )


def _table(entry: Any, path: Path) -> Table:
    where = f"ground truth {path}, table"
    try:
        size = [finite_float(v, f"{where}.size_m") for v in entry["size_m"]]
        centre = [finite_float(v, f"{where}.centre_m") for v in entry["centre_m"]]
        height = finite_float(entry["height_m"], f"{where}.height_m")
    except (KeyError, TypeError):
        raise DonkitError(f"{where} needs height_m, size_m [x, y] and centre_m [x, y]") from None
    if len(size) != 2 or len(centre) != 2:
        raise DonkitError(f"{where}: size_m and centre_m hold 2 numbers each")
    return Table(height_m=height, size_m=(size[0], size[1]), centre_m=(centre[0], centre[1]))


def _joint_positions(robot: Any, path: Path) -> dict[int, np.ndarray]:
    where = f"ground truth {path}, robot.joint_positions"
    robot = {} if robot is None else robot
    entries = robot.get("joint_positions", {}) if isinstance(robot, dict) else None
    if not isinstance(entries, dict):
        raise DonkitError(f"{where} must map frame indices to joint angles")
    return {
        whole_number(index, where): np.array([finite_float(q, where) for q in joints])
        for index, joints in entries.items()
    }
