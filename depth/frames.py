"""A scene's frames with their posed neighbours: multi-frame prediction and the classical sweep.

Evaluation and `donkit depth predict` pick each frame's neighbours as training does (the frames
whose cameras are nearest, among those that overlap it), resize everything to the network's
input size and build the cost volume there; depth comes back at the images' own size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from depth.checkpoint import predict_depth
from depth.data import motions, nearest_sources, resize_rgb, resized_camera, rgb_tensor
from depth.network import depth_to_disparity, disparity_to_depth
from depth.sweep import PlaneSweep
from formats import DonkitError
from formats.scenes import Scene


def prediction_sources(scene: Scene, spec: dict[str, Any]) -> list[list[int]]:
    """For each frame of `scene`, the `spec["sweep_sources"]` neighbouring frames (positions) of
    its cost volume, chosen as in training; a frame that no other overlaps by `min_overlap` takes
    the nearest cameras anyway (its cost volume is then mostly unseen, and the network falls back
    on the image)."""
    if len(scene.frames) < 2:
        raise DonkitError(
            f"{scene.path} has {len(scene.frames)} frame; multi-frame depth needs 2 or more "
            "posed frames of a scene (use a single-frame run for lone images)"
        )
    poses = np.stack([frame.camera_to_world for frame in scene.frames])
    count = spec["sweep_sources"]
    chosen = nearest_sources(
        poses, scene.camera, count, spec["overlap_depth_m"], spec["min_overlap"]
    )
    centres = poses[:, :3, 3]
    sources = []
    for target, near in enumerate(chosen):
        if not near:
            distance = np.linalg.norm(centres - centres[target], axis=1)
            near = [int(p) for p in np.argsort(distance, kind="stable") if p != target][:count]
        sources.append((near * count)[:count])
    return sources


def posed_batch(
    scene: Scene, positions: list[int], sources: list[list[int]], width: int, height: int
) -> dict[str, torch.Tensor]:
    """Frames `positions` of `scene` and their sources, resized to width x height.

    Returns:
        image: (B, 3, h, w) float RGB in [0, 1]; sources: (B, S, 3, h, w); intrinsics: (B, 3, 3)
        of the resized images; target_to_source: (B, S, 4, 4).
    """
    camera = resized_camera(scene.camera, width, height)
    images = {
        p: rgb_tensor(resize_rgb(scene.rgb(p), width, height))
        for p in {*positions, *(s for p in positions for s in sources[p])}
    }
    return {
        "image": torch.stack([images[p] for p in positions]),
        "sources": torch.stack([torch.stack([images[s] for s in sources[p]]) for p in positions]),
        "intrinsics": torch.tensor(camera.matrix, dtype=torch.float32).expand(len(positions), 3, 3),
        "target_to_source": torch.stack([motions(scene, p, sources[p]) for p in positions]),
    }


@torch.no_grad()
def posed_cost(
    spec: dict[str, Any],
    scene: Scene,
    positions: list[int],
    sources: list[list[int]],
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images (B, 3, h, w) of frames `positions` of `scene` at `spec`'s input size, on
    `device`, and their cost volume (B, D, h, w) over their `sources` with `spec`'s settings."""
    batch = posed_batch(scene, positions, sources, spec["width"], spec["height"])
    batch = {key: value.to(device) for key, value in batch.items()}
    return batch["image"], PlaneSweep.from_spec(spec).cost_volume(batch)


@torch.no_grad()
def predict_frames(
    network: torch.nn.Module | None,
    spec: dict[str, Any],
    scene: Scene,
    positions: list[int],
    sources: list[list[int]],
    device: torch.device,
    posed: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> np.ndarray:
    """(N, H, W) float32 depth, metres, of frames `positions` of `scene` at the images' size:
    - a multi-frame network's, from each frame and its `sources` (from `prediction_sources`);
    - a single-frame network's, from each frame's image alone (`sources` unused);
    - with network None, the classical plane sweep's (`PlaneSweep.inverse_depth` of the cost
      volume `spec` describes; no learning).
    `posed`: the frames' `posed_cost` with this `spec`, when the caller has it already (the
    network and the sweep of one evaluation share it)."""
    if network is not None and not spec.get("multi_frame"):
        return predict_depth(network, spec, [scene.rgb(p) for p in positions], device)
    images, cost = posed or posed_cost(spec, scene, positions, sources, device)
    if network is None:
        depth = 1.0 / PlaneSweep.from_spec(spec).inverse_depth(cost)
        disparity = depth_to_disparity(depth, spec["min_depth_m"], spec["max_depth_m"])
    else:
        disparity = network(images, cost)[0]
    return _at_image_size(disparity, scene, spec)


def _at_image_size(disparity: torch.Tensor, scene: Scene, spec: dict[str, Any]) -> np.ndarray:
    size = (scene.camera.height, scene.camera.width)
    disparity = F.interpolate(disparity, size, mode="bilinear", align_corners=False)
    depth = disparity_to_depth(disparity, spec["min_depth_m"], spec["max_depth_m"])
    return depth[:, 0].cpu().numpy().astype(np.float32)
