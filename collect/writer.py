"""Scene folders on disk: written into `<scene>.partial/`, renamed to `<scene>/` when complete.

Frames are written one by one (each file atomically); `metadata.yaml` is written last and the
folder renamed, so a folder without `.partial` is always complete. An interrupted `.partial`
folder is resumed: the frames already on disk are kept. Knows nothing of pybullet.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from formats import DonkitError
from formats.atomic import remove_stale_temporaries, write_bytes_atomic
from formats.images import write_depth, write_labels, write_rgb
from formats.plain import read_yaml, write_yaml
from formats.scenes import (
    CAMERA_INFO,
    IMAGES_DIR,
    MESHES_DIR,
    METADATA,
    PARTIAL_SUFFIX,
    POSE_DATA,
    RIGHT_CAMERA_INFO,
    SCENE_YAML,
    SEGMENTATION_DIR,
    depth_filename,
    rgb_filename,
    right_rgb_filename,
    segmentation_filename,
    write_camera_info,
    write_pose_data,
)
from geometry import PinholeCamera

# Written first into a .partial folder: what it is being collected with, to refuse resuming
# with a different config.
COLLECT_STATE = Path("collect_state.yaml")


class SceneWriter:
    """Writes one scene; `status` says whether it is 'complete' (nothing to do), 'new' or
    'resume'. A stereo scene (`stereo_baseline_m` > 0) has a right RGB image in every frame."""

    def __init__(
        self,
        root: Path,
        name: str,
        identity: dict[str, Any],
        overwrite: bool,
        stereo_baseline_m: float = 0.0,
    ):
        self.final = Path(root) / name
        self.partial = Path(root) / f"{name}{PARTIAL_SUFFIX}"
        self.identity = identity
        self.stereo_baseline_m = stereo_baseline_m
        if self.final.exists():
            if not overwrite:
                self._check_reusable(self.final)
                self.status = "complete"
                return
        if self.partial.exists():
            if overwrite or self._partial_identity() != identity:
                if not overwrite:
                    raise DonkitError(
                        f"{self.partial} is an unfinished scene started with a different config; "
                        "run again with that config to finish it, or pass --overwrite to start "
                        "it afresh"
                    )
                shutil.rmtree(self.partial)
        self.status = "resume" if self.partial.exists() else "new"
        for folder in (IMAGES_DIR, SEGMENTATION_DIR, MESHES_DIR):
            (self.partial / folder).mkdir(parents=True, exist_ok=True)
        if self.status == "new":
            write_yaml(self.partial / COLLECT_STATE, identity)
        else:
            remove_stale_temporaries(self.partial, recursive=True)

    def _partial_identity(self) -> dict[str, Any] | None:
        state_file = self.partial / COLLECT_STATE
        if state_file.is_file():
            return read_yaml(state_file, "collection state")
        return _identity_in_metadata(self.partial / METADATA, self.identity)

    def _check_reusable(self, scene: Path) -> None:
        if _identity_in_metadata(scene / METADATA, self.identity) != self.identity:
            raise DonkitError(
                f"{scene} already exists and was not collected with this config and seed; "
                "pass --overwrite to replace it, or choose another --out"
            )

    def discard_if_empty(self) -> None:
        """Remove the .partial folder when it holds no frame yet (nothing worth resuming)."""
        if self.partial.exists() and not any((self.partial / IMAGES_DIR).iterdir()):
            shutil.rmtree(self.partial)

    def frame_done(self, index: int) -> bool:
        """True when all of frame `index`'s files are on disk (each was written atomically)."""
        return all(path.is_file() for path in self._frame_paths(index))

    def _frame_paths(self, index: int) -> tuple[Path, ...]:
        """The frame's files in the order they are written: the (left) RGB image last."""
        paths = [
            self.partial / SEGMENTATION_DIR / segmentation_filename(index),
            self.partial / IMAGES_DIR / depth_filename(index),
        ]
        if self.stereo_baseline_m > 0:
            paths.append(self.partial / IMAGES_DIR / right_rgb_filename(index))
        return (*paths, self.partial / IMAGES_DIR / rgb_filename(index))

    def write_frame(
        self,
        index: int,
        rgb: np.ndarray,
        depth_m: np.ndarray,
        segmentation: np.ndarray,
        right_rgb: np.ndarray | None = None,
    ) -> None:
        """Write frame `index`: RGB, depth (metres, written in mm), uint16 segmentation, and the
        right camera's RGB in a stereo scene."""
        if (right_rgb is not None) != (self.stereo_baseline_m > 0):
            raise ValueError("a stereo scene's frames need a right image, and only those")
        paths = self._frame_paths(index)
        write_labels(paths[0], segmentation)
        write_depth(paths[1], depth_m)
        if right_rgb is not None:
            write_rgb(paths[2], right_rgb)
        write_rgb(paths[-1], rgb)

    def finish(
        self,
        camera: PinholeCamera,
        poses: dict[int, dict[str, Any]],
        scene_description: dict[str, Any],
        meshes: dict[str, trimesh.Trimesh],
        metadata: dict[str, Any],
    ) -> Path:
        """Write the per-scene files, metadata.yaml last, and rename the folder to its final name.

        Args:
            poses: pose_data.yaml entries by frame index.
            scene_description: ground_truth/scene.yaml content.
            meshes: ground-truth meshes by file name relative to ground_truth/meshes/.
            metadata: metadata.yaml content besides the identity (seed, scene index, config),
                which this writer puts first.
        """
        for file_name, mesh in meshes.items():
            text = trimesh.exchange.obj.export_obj(
                mesh, include_normals=False, include_texture=False
            )
            write_bytes_atomic(self.partial / MESHES_DIR / file_name, text.encode())
        write_camera_info(self.partial / CAMERA_INFO, camera)
        if self.stereo_baseline_m > 0:
            write_camera_info(self.partial / RIGHT_CAMERA_INFO, camera, self.stereo_baseline_m)
        write_pose_data(self.partial / POSE_DATA, poses)
        write_yaml(self.partial / SCENE_YAML, scene_description)
        write_yaml(self.partial / METADATA, {**self.identity, **metadata})
        (self.partial / COLLECT_STATE).unlink()
        if self.final.exists():  # --overwrite: swap, so a crash never leaves neither
            retired = self.final.with_name(f"{self.final.name}.replaced-{os.getpid()}")
            os.replace(self.final, retired)
            os.replace(self.partial, self.final)
            shutil.rmtree(retired)
        else:
            os.replace(self.partial, self.final)
        return self.final


def _identity_in_metadata(metadata_file: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The identity keys of a metadata.yaml, or None when there is no such file."""
    if not metadata_file.is_file():
        return None
    metadata = read_yaml(metadata_file, "metadata")
    if not isinstance(metadata, dict):
        return None
    return {key: metadata.get(key) for key in identity}
