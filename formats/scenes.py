"""Scene folders in the Dense Object Nets layout (docs/data-formats.md, "Scenes").

Only what a real robot has lives under processed/: RGB, depth, intrinsics (camera_info.yaml) and
forward-kinematics camera poses (pose_data.yaml). Every stage reads scenes through `load_scene`,
so scenes written by donkit and scenes recorded elsewhere in the same layout are read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from formats import DonkitError
from formats.images import read_depth, read_labels, read_rgb
from formats.plain import finite_float, read_yaml, whole_number, write_yaml
from geometry.camera import PinholeCamera
from geometry.transforms import matrix_to_quaternion, pose_from_quaternion

IMAGES_DIR = Path("processed/images")
CAMERA_INFO = IMAGES_DIR / "camera_info.yaml"
# A stereo scene's right camera: the left one moved by the baseline along its own x axis, same
# intrinsics (rectified by construction); its baseline is in the ROS form, P[0, 3] = -fx * b.
RIGHT_CAMERA_INFO = IMAGES_DIR / "right_camera_info.yaml"
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


def right_rgb_filename(index: int) -> str:
    return f"{index:06d}_right_rgb.png"


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
    right_rgb_path: Path | None = None  # a stereo scene's right image


@dataclass(frozen=True)
class Scene:
    """A complete scene folder: intrinsics and the frames of pose_data.yaml, sorted by index."""

    path: Path
    camera: PinholeCamera
    frames: tuple[Frame, ...]
    stereo_baseline_m: float = 0.0  # > 0: every frame has a right image, this far to the right

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

    def right_rgb(self, position: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB of the right camera of the frame at `position` (stereo scenes)."""
        path = self.frames[position].right_rgb_path
        if path is None:
            raise DonkitError(
                f"{self.path} has no right images (not recorded with "
                "collect.camera.stereo_baseline_m > 0)"
            )
        return read_rgb(path)

    def right_camera_to_world(self, position: int) -> np.ndarray:
        """(4, 4) pose of the right camera: the left one moved by the baseline along its x."""
        shift = np.eye(4)
        shift[0, 3] = self.stereo_baseline_m
        return self.frames[position].camera_to_world @ shift


def camera_info_dict(camera: PinholeCamera, baseline_m: float = 0.0) -> dict[str, Any]:
    """camera_info.yaml content, with the ROS fields that DON's tools also write.

    `baseline_m` > 0 describes the right camera of a rectified stereo pair whose left camera is
    `camera`, as ROS does: projection_matrix P[0, 3] = -fx * baseline_m.
    """
    k = [float(x) for x in camera.matrix.ravel()]
    tx = -k[0] * baseline_m if baseline_m else 0.0
    p = [k[0], k[1], k[2], tx, k[3], k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
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


def write_camera_info(path: Path, camera: PinholeCamera, baseline_m: float = 0.0) -> None:
    write_yaml(path, camera_info_dict(camera, baseline_m))


def read_stereo_baseline(path: Path, left: PinholeCamera) -> float:
    """The baseline (metres, > 0) of a right camera's camera_info.yaml, -P[0, 3] / fx; its
    intrinsics must be the left camera's (a rectified pair)."""
    right = read_camera_info(path)
    if right != left:
        raise DonkitError(
            f"right camera info {path} has other intrinsics than the left camera's; donkit reads "
            "rectified pairs only (one K for both images)"
        )
    data = read_yaml(path, "camera info")
    try:
        values = data["projection_matrix"]["data"]
        tx = finite_float(values[3], f"camera info {path}: projection_matrix.data[3]")
    except (KeyError, TypeError, IndexError):
        raise DonkitError(
            f"right camera info {path} needs projection_matrix.data (12 numbers, P[0, 3] = "
            "-fx * baseline)"
        ) from None
    baseline = -tx / right.fx
    if not baseline > 0:
        raise DonkitError(
            f"right camera info {path}: projection_matrix P[0, 3] = {tx} gives a baseline of "
            f"{baseline} m; the right camera must lie to the right (P[0, 3] = -fx * b < 0)"
        )
    return baseline


def read_camera_info(path: Path) -> PinholeCamera:
    """PinholeCamera from a camera_info.yaml (DON/ROS layout)."""
    return camera_info_from_dict(read_yaml(path, "camera info"), f"camera info {path}")


def camera_info_from_dict(data: Any, where: str) -> PinholeCamera:
    """PinholeCamera from camera_info.yaml's fields; `where` names them in errors."""
    try:
        width = whole_number(data["image_width"], f"{where}: image_width")
        height = whole_number(data["image_height"], f"{where}: image_height")
        values = data["camera_matrix"]["data"]
    except (KeyError, TypeError):
        raise DonkitError(
            f"{where} needs image_width, image_height and camera_matrix.data (9 numbers)"
        ) from None
    if not isinstance(values, list) or len(values) != 9:
        raise DonkitError(f"{where}: camera_matrix.data must hold 9 numbers")
    k = np.array([finite_float(x, f"{where}: camera_matrix.data") for x in values])
    camera = PinholeCamera.from_matrix(k.reshape(3, 3), width, height)
    if width <= 0 or height <= 0 or camera.fx <= 0 or camera.fy <= 0:
        raise DonkitError(f"{where}: image size and focal lengths must be positive")
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


def pose_entry(
    index: int, camera_to_world: np.ndarray, timestamp_s: float, stereo: bool = False
) -> dict[str, Any]:
    """One pose_data.yaml entry (with the right image's file name in a stereo scene)."""
    entry = {
        "camera_to_world": pose_to_dict(camera_to_world),
        "timestamp": float(timestamp_s),
        "rgb_image_filename": rgb_filename(index),
        "depth_image_filename": depth_filename(index),
    }
    if stereo:
        entry["right_rgb_image_filename"] = right_rgb_filename(index)
    return entry


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
        timestamp = _timestamp_s(entry.get("timestamp", 0.0), f"{where}.timestamp")
        right_name = entry.get("right_rgb_image_filename")
        frames.append(
            Frame(
                index=index,
                camera_to_world=pose_from_dict(
                    entry.get("camera_to_world"), f"{where}.camera_to_world"
                ),
                timestamp_s=timestamp,
                rgb_path=path / IMAGES_DIR / rgb_name,
                depth_path=path / IMAGES_DIR / depth_name,
                right_rgb_path=None if right_name is None else path / IMAGES_DIR / str(right_name),
            )
        )
    frames.sort(key=lambda frame: frame.index)
    indices = [frame.index for frame in frames]
    if len(set(indices)) != len(indices):
        raise DonkitError(
            f"pose data {path / POSE_DATA} lists a frame index twice (e.g. 1 and '1')"
        )
    baseline = 0.0
    if (path / RIGHT_CAMERA_INFO).is_file():
        baseline = read_stereo_baseline(path / RIGHT_CAMERA_INFO, camera)
    with_right = sum(frame.right_rgb_path is not None for frame in frames)
    if baseline > 0 and with_right < len(frames):
        raise DonkitError(
            f"{path} is a stereo scene ({RIGHT_CAMERA_INFO} exists), but "
            f"{len(frames) - with_right} frame(s) of {POSE_DATA} name no right_rgb_image_filename"
        )
    if baseline == 0 and with_right:
        raise DonkitError(
            f"{POSE_DATA} of {path} names right images, but {RIGHT_CAMERA_INFO}, which gives "
            "their baseline, is missing"
        )
    return Scene(path=path, camera=camera, frames=tuple(frames), stereo_baseline_m=baseline)


def _timestamp_s(value: Any, where: str) -> float:
    """A pose file's timestamp in seconds: an integer is in nanoseconds (as Dense Object Nets'
    own recordings write them, sometimes quoted), a number with a fraction in seconds (as donkit
    writes them)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value / 1e9
    return finite_float(value, where)


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
