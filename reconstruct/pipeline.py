"""Fuse one scene: workspace, TSDF, cropped mesh, rendered depth and masks for every view.

Reads only processed/ (what a real robot records); writes processed/rendered_images/,
processed/image_masks/, processed/fusion_info.yaml and, last, processed/fusion_mesh.ply: a scene
with that file is fused. With `evaluate`, ground_truth/ is read afterwards to write metrics.json.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from formats import DonkitError
from formats.atomic import remove_stale_temporaries, write_bytes_atomic
from formats.images import write_depth, write_labels
from formats.plain import read_yaml, write_yaml
from formats.scenes import (
    FUSION_MESH,
    MASKS_DIR,
    RENDERED_DIR,
    Scene,
    depth_filename,
    load_scene,
    mask_filename,
)
from reconstruct.config import FuseConfig
from reconstruct.mesh import crop_to_workspace, drop_fragments, read_mesh, write_mesh
from reconstruct.metrics import evaluate_scene
from reconstruct.render import MeshRenderer
from reconstruct.tsdf import TsdfVolume
from reconstruct.workspace import Workspace, find_workspace, pixel_rays

FUSION_INFO = Path("processed/fusion_info.yaml")
METRICS = Path("metrics.json")
MASK_VALUE = 255  # image_masks: nonzero = object


@dataclass
class FuseReport:
    """What happened to one scene."""

    scene: Path
    status: str  # "fused" or "skipped" (already fused)
    frames: int
    triangles: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None


def is_fused(scene: Scene) -> bool:
    """Whether the scene has its mesh and a rendered depth image and mask for every frame."""
    return (scene.path / FUSION_MESH).is_file() and all(
        (scene.path / RENDERED_DIR / depth_filename(f.index)).is_file()
        and (scene.path / MASKS_DIR / mask_filename(f.index)).is_file()
        for f in scene.frames
    )


def fuse_scene(
    scene_path: Path,
    config: FuseConfig,
    overwrite: bool = False,
    evaluate: bool = False,
    progress: Callable[[int], object] | None = None,
) -> FuseReport:
    """Fuse the scene at `scene_path` (skipped when already fused, unless `overwrite`).

    `progress(n)` is called per frame integrated and per frame rendered: 2 units a frame.
    """
    report_progress = progress or (lambda n: None)
    scene = load_scene(Path(scene_path))
    frames = len(scene.frames)
    if is_fused(scene) and not overwrite:
        report_progress(2 * frames)
        report = FuseReport(scene.path, "skipped", frames)
        if evaluate:
            report.metrics = _evaluate_from_files(scene)
        return report
    # Whatever happens next, the scene stops counting as fused until the new mesh is written.
    (scene.path / FUSION_MESH).unlink(missing_ok=True)
    for folder in (FUSION_MESH.parent, RENDERED_DIR, MASKS_DIR):
        remove_stale_temporaries(scene.path / folder)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    depths = [scene.depth(i) for i in range(frames)]
    colours = [scene.rgb(i) for i in range(frames)]
    timings["read"] = _lap(clock)

    clock = time.perf_counter()
    workspace = find_workspace(scene, depths, config)
    timings["workspace"] = _lap(clock)

    clock = time.perf_counter()
    volume = TsdfVolume(config.voxel_m, config.truncation_voxels, config.max_depth_m)
    rays = pixel_rays(scene.camera)
    for frame, depth, rgb in zip(scene.frames, depths, colours, strict=True):
        inside = workspace.contains_pixels(rays, depth, frame.camera_to_world)
        volume.integrate(np.where(inside, depth, 0.0), rgb, scene.camera, frame.camera_to_world)
        report_progress(1)
    timings["integrate"] = _lap(clock)

    clock = time.perf_counter()
    raw = volume.extract_mesh(config.weight_threshold)
    timings["extract"] = _lap(clock)
    clock = time.perf_counter()
    mesh = drop_fragments(crop_to_workspace(raw, workspace), config.min_component_share)
    timings["clean"] = _lap(clock)
    if mesh.empty:
        raise DonkitError(
            f"{scene.path}: the fused mesh is empty after cropping to the workspace ("
            f"{len(raw.faces)} triangles before); check that objects stand within "
            f"fuse.workspace_half_size_m ({config.workspace_half_size_m} m) of where the cameras "
            f"look and between fuse.min_height_m and max_height_m above the table, and that "
            f"fuse.voxel_m ({config.voxel_m} m) is small enough for them"
        )

    clock = time.perf_counter()
    renderer = MeshRenderer(mesh)
    for folder in (RENDERED_DIR, MASKS_DIR):
        (scene.path / folder).mkdir(parents=True, exist_ok=True)
    for frame in scene.frames:
        depth = renderer.depth(scene.camera, frame.camera_to_world)
        mask = (depth > 0).astype(np.uint8) * MASK_VALUE
        write_depth(scene.path / RENDERED_DIR / depth_filename(frame.index), depth)
        write_labels(scene.path / MASKS_DIR / mask_filename(frame.index), mask)
        report_progress(1)
    timings["render"] = _lap(clock)

    write_yaml(
        scene.path / FUSION_INFO,
        {
            "config": config,
            "workspace": workspace,
            "triangles": len(mesh.faces),
            "triangles_before_crop": len(raw.faces),
            "timings_s": {key: round(value, 3) for key, value in timings.items()},
        },
    )
    write_mesh(scene.path / FUSION_MESH, mesh)
    report = FuseReport(scene.path, "fused", frames, len(mesh.faces), timings)
    if evaluate:
        report.metrics = evaluate_scene(scene, mesh, depths, workspace)
        _write_metrics(scene, report.metrics)
    return report


def _lap(started: float) -> float:
    return time.perf_counter() - started


def _workspace_from_dict(data: dict[str, Any]) -> Workspace:
    arrays = ("normal", "centre", "axis_u", "axis_v")
    return Workspace(**{k: np.array(v) if k in arrays else v for k, v in data.items()})


def _evaluate_from_files(scene: Scene) -> dict[str, Any]:
    """Metrics of an already fused scene, from its mesh and workspace on disk."""
    info = read_yaml(scene.path / FUSION_INFO, "fusion info")
    workspace = _workspace_from_dict(info["workspace"])
    sensor = [scene.depth(i) for i in range(len(scene.frames))]
    metrics = evaluate_scene(scene, read_mesh(scene.path / FUSION_MESH), sensor, workspace)
    _write_metrics(scene, metrics)
    return metrics


def _write_metrics(scene: Scene, metrics: dict[str, Any]) -> None:
    text = json.dumps(metrics, indent=2, sort_keys=False)
    write_bytes_atomic(scene.path / METRICS, (text + "\n").encode())
