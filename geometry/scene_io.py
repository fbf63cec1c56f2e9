"""Scene folders in the Dense Object Nets layout (ARCHITECTURE.md, "Scene format").

Only what a real robot has lives under processed/: RGB, depth, intrinsics (camera_info.yaml) and
forward-kinematics camera poses (pose_data.yaml). Every stage reads scenes through `load_scene`,
so scenes written by donkit and scenes recorded elsewhere in the same layout are read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geometry.camera import PinholeCamera
from geometry.errors import DonkitError
from geometry.image_io import (
    finite_float,
    read_depth,
    read_labels,
    read_rgb,
    read_yaml,
    whole_number,
    write_yaml,
)
from geometry.transforms import matrix_to_quaternion, pose_from_quaternion

IMAGES_DIR = Path("processed/images")
CAMERA_INFO = IMAGES_DIR / "camera_info.yaml"
POSE_DATA = IMAGES_DIR / "pose_data.yaml"
GROUND_TRUTH_DIR = Path("ground_truth")
SCENE_YAML = GROUND_TRUTH_DIR / "scene.yaml"
SEGMENTATION_DIR = GROUND_TRUTH_DIR / "segmentation"
MESHES_DIR = GROUND_TRUTH_DIR / "meshes"
RENDERED_DIR = Path("processed/rendered_images")
MASKS_DIR = Path("processed/image_masks")
FUSION_MESH = Path("processed/fusion_mesh.ply")
METADATA = Path("metadata.yaml")
PARTIAL_SUFFIX = ".partial"


def rgb_filename(index: int) -> str:
    return f"{index:06d}_rgb.png"


def depth_filename(index: int) -> str:
    return f"{index:06d}_depth.png"


def segmentation_filename(index: int) -> str:
    return f"{index:06d}_seg.png"


def mask_filename(index: int) -> str:
    return f"{index:06d}_mask.png"


@dataclass(frozen=True)
class Frame:
    """One recorded view: its pose, time and image files."""

    index: int
    camera_to_world: np.ndarray  # (4, 4) float64
    timestamp_s: float
    rgb_path: Path
    depth_path: Path


@dataclass(frozen=True)
class Scene:
    """A complete scene folder: intrinsics and the frames of pose_data.yaml, sorted by index."""

    path: Path
    camera: PinholeCamera
    frames: tuple[Frame, ...]

    def rgb(self, position: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB of the frame at `position` in `frames`."""
        return read_rgb(self.frames[position].rgb_path)

    def depth(self, position: int) -> np.ndarray:
        """(H, W) float32 depth in metres (0 = no reading) of the frame at `position`."""
        return read_depth(self.frames[position].depth_path)

    def segmentation(self, position: int) -> np.ndarray:
        """(H, W) object ids (ground_truth/, simulated scenes only) of the frame at `position`."""
        index = self.frames[position].index
        return read_labels(self.path / SEGMENTATION_DIR / segmentation_filename(index))


def camera_info_dict(camera: PinholeCamera) -> dict[str, Any]:
    """camera_info.yaml content, with the ROS fields that DON's tools also write."""
    k = [float(x) for x in camera.matrix.ravel()]
    p = [k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
    return {
        "image_width": camera.width,
        "image_height": camera.height,
        "camera_matrix": {"rows": 3, "cols": 3, "data": k},
        "distortion_model": "plumb_bob",
        "distortion_coefficients": {"rows": 1, "cols": 5, "data": [0.0] * 5},
        "rectification_matrix": {
            "rows": 3,
            "cols": 3,
            "data": [float(x) for x in np.eye(3).ravel()],
        },
        "projection_matrix": {"rows": 3, "cols": 4, "data": p},
    }


def write_camera_info(path: Path, camera: PinholeCamera) -> None:
    write_yaml(path, camera_info_dict(camera))


def read_camera_info(path: Path) -> PinholeCamera:
    """PinholeCamera from a camera_info.yaml (DON/ROS layout)."""
    data = read_yaml(path, "camera info")
    try:
        width = whole_number(data["image_width"], f"camera info {path}: image_width")
        height = whole_number(data["image_height"], f"camera info {path}: image_height")
        values = data["camera_matrix"]["data"]
    except (KeyError, TypeError):
        raise DonkitError(
            f"camera info {path} needs image_width, image_height and camera_matrix.data (9 numbers)"
        ) from None
    if not isinstance(values, list) or len(values) != 9:
        raise DonkitError(f"camera info {path}: camera_matrix.data must hold 9 numbers")
    k = np.array([finite_float(x, f"camera info {path}: camera_matrix.data") for x in values])
    camera = PinholeCamera.from_matrix(k.reshape(3, 3), width, height)
    if width <= 0 or height <= 0 or camera.fx <= 0 or camera.fy <= 0:
        raise DonkitError(f"camera info {path}: image size and focal lengths must be positive")
    return camera


def pose_to_dict(pose: np.ndarray) -> dict[str, Any]:
    """A (4, 4) rigid pose as {translation: {x, y, z}, quaternion: {w, x, y, z}}."""
    quaternion = matrix_to_quaternion(np.asarray(pose[:3, :3], dtype=np.float64))
    return {
        "translation": dict(zip("xyz", (float(x) for x in pose[:3, 3]), strict=True)),
        "quaternion": dict(zip("wxyz", (float(x) for x in quaternion), strict=True)),
    }


def pose_from_dict(data: Any, where: str) -> np.ndarray:
    """The (4, 4) pose of {translation: {x, y, z}, quaternion: {w, x, y, z}}; `where` names it
    in errors."""
    try:
        t = [finite_float(data["translation"][k], f"{where}.translation.{k}") for k in "xyz"]
        q = [finite_float(data["quaternion"][k], f"{where}.quaternion.{k}") for k in "wxyz"]
    except (KeyError, TypeError):
        raise DonkitError(
            f"{where} needs translation {{x, y, z}} and quaternion {{w, x, y, z}}"
        ) from None
    if abs(np.linalg.norm(q) - 1.0) > 1e-3:
        raise DonkitError(f"{where}: quaternion {q} is not a unit quaternion")
    return pose_from_quaternion(np.array(q), np.array(t))


def pose_entry(index: int, camera_to_world: np.ndarray, timestamp_s: float) -> dict[str, Any]:
    """One pose_data.yaml entry."""
    return {
        "camera_to_world": pose_to_dict(camera_to_world),
        "timestamp": float(timestamp_s),
        "rgb_image_filename": rgb_filename(index),
        "depth_image_filename": depth_filename(index),
    }


def write_pose_data(path: Path, entries: dict[int, dict[str, Any]]) -> None:
    write_yaml(path, {index: entries[index] for index in sorted(entries)})


def load_scene(path: Path) -> Scene:
    """Read a complete scene's intrinsics and poses (images are read on demand).

    Raises DonkitError for an unfinished `.partial` folder, a folder that is not a scene, or
    malformed camera_info / pose_data, naming the file and what to do.
    """
    path = Path(path)
    if path.name.endswith(PARTIAL_SUFFIX):
        raise DonkitError(
            f"{path} is an unfinished scene; run `donkit collect` again with the same config and "
            "--out to complete it, or delete it"
        )
    if not (path / POSE_DATA).is_file():
        raise DonkitError(f"{path} is not a scene: {POSE_DATA} is missing")
    camera = read_camera_info(path / CAMERA_INFO)
    data = read_yaml(path / POSE_DATA, "pose data")
    if not isinstance(data, dict):
        raise DonkitError(
            f"pose data {path / POSE_DATA} must map frame indices to poses (0: {{camera_to_world: "
            "...}, 1: ...)"
        )
    if not data:
        raise DonkitError(f"pose data {path / POSE_DATA} has no frames")
    frames = []
    for key, entry in data.items():
        where = f"pose data {path / POSE_DATA}, frame {key}"
        try:
            index = whole_number(key, where)
            rgb_name = str(entry["rgb_image_filename"])
            depth_name = str(entry["depth_image_filename"])
        except (KeyError, TypeError, DonkitError):
            raise DonkitError(
                f"{where} needs an integer index, rgb_image_filename and depth_image_filename"
            ) from None
        timestamp = finite_float(entry.get("timestamp", 0.0), f"{where}.timestamp")
        frames.append(
            Frame(
                index=index,
                camera_to_world=pose_from_dict(
                    entry.get("camera_to_world"), f"{where}.camera_to_world"
                ),
                timestamp_s=timestamp,
                rgb_path=path / IMAGES_DIR / rgb_name,
                depth_path=path / IMAGES_DIR / depth_name,
            )
        )
    frames.sort(key=lambda frame: frame.index)
    indices = [frame.index for frame in frames]
    if len(set(indices)) != len(indices):
        raise DonkitError(
            f"pose data {path / POSE_DATA} lists a frame index twice (e.g. 1 and '1')"
        )
    return Scene(path=path, camera=camera, frames=tuple(frames))


def find_scenes(root: Path) -> tuple[list[Path], list[Path]]:
    """Complete scenes at or below `root`, and unfinished `.partial` folders there.

    A complete scene is a folder holding processed/images/pose_data.yaml whose name does not end
    in `.partial`. Returns (scenes, partial), both sorted.
    """
    root = Path(root)
    if root.name.endswith(PARTIAL_SUFFIX):
        return [], [root]
    if (root / POSE_DATA).is_file():
        return [root], []
    scenes = sorted(
        pose_file.parents[2]
        for pose_file in root.glob(f"**/{POSE_DATA}")
        if not any(part.endswith(PARTIAL_SUFFIX) for part in pose_file.relative_to(root).parts)
    )
    partial = sorted(path for path in root.glob(f"**/*{PARTIAL_SUFFIX}") if path.is_dir())
    return scenes, partial


def complete_scenes(data: Path, hint: str) -> tuple[list[Path], list[Path]]:
    """The complete scenes at or below `data` and the unfinished `.partial` ones beside them.

    Raises DonkitError when `data` does not exist, is itself unfinished, or holds no complete
    scene (the message ends with `hint`: what to run to get some).
    """
    data = Path(data)
    if not data.exists():
        raise DonkitError(f"{data} does not exist")
    scenes, partial = find_scenes(data)
    if data in partial:
        load_scene(data)  # raises the message that says how to finish it
    if not scenes:
        raise DonkitError(
            f"no complete scene at or below {data} (a scene holds {POSE_DATA}); {hint}"
        )
    return scenes, partial
