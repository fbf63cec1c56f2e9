"""Depth checkpoints: what rebuilds the network, and depth from images with it.

A depth run folder is laid out as a descriptor run (formats.runs.RunFolder, files
written whole or not at all). Its checkpoints add a `depth` entry, the network's shape and the
terms it predicts in (mode, input size, depth range, image normalization), so `donkit depth
evaluate` and `predict` need no config file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from depth.config import DepthConfig, multi_frame_spec
from depth.data import resize_rgb
from depth.network import DepthNet, MultiFrameDepthNet, disparity_to_depth
from depth.sweep import PlaneSweep
from formats import DonkitError
from learn.backbones import IMAGE_MEAN, IMAGE_STD
from learn.checkpoints import load_checkpoint


def depth_spec(config: DepthConfig) -> dict[str, Any]:
    """The `depth` entry of a checkpoint: what rebuilds the network and how to read its output."""
    return {
        "mode": config.mode,
        "pose_source": config.pose_source,
        "backbone": config.backbone,
        "decoder_channels": list(config.decoder_channels),
        "width": config.width,
        "height": config.height,
        "min_depth_m": config.min_depth_m,
        "max_depth_m": config.max_depth_m,
        "image_mean": list(IMAGE_MEAN),
        "image_std": list(IMAGE_STD),
    } | (multi_frame_spec(config) if config.multi_frame else {})


def build_depth_network(spec: dict[str, Any]) -> DepthNet:
    if spec.get("multi_frame"):
        return MultiFrameDepthNet(
            PlaneSweep.from_spec(spec), spec["min_depth_m"], spec["max_depth_m"], spec["backbone"],
            tuple(spec["decoder_channels"]),
        )  # fmt: skip
    return DepthNet(spec["backbone"], tuple(spec["decoder_channels"]))


def load_depth_network(path: Path) -> tuple[DepthNet, dict[str, Any]]:
    """The trained depth network of a checkpoint, or of a run folder's last.pt, in eval mode,
    with the checkpoint's state (its `depth` entry is `depth_spec`)."""
    state = load_checkpoint(Path(path))
    if "depth" not in state:
        raise DonkitError(
            f"{path} is not a depth run (its checkpoint has no depth network); give a run "
            "folder made by `donkit depth train`"
        )
    network = build_depth_network(state["depth"])
    network.load_state_dict(state["model"])
    return network.eval(), state


@torch.no_grad()
def predict_depth(
    network: DepthNet, spec: dict[str, Any], images: list[np.ndarray], device: torch.device
) -> np.ndarray:
    """Depth of each image, at the image's own size.

    Each image is resized to the network's input size; the finest disparity is upsampled
    bilinearly to the image's size and turned into metres.

    Args:
        images: (H, W, 3) uint8 RGB, all of one size.

    Returns:
        (N, H, W) float32 metres, within [min_depth_m, max_depth_m] of `spec`.
    """
    height, width = images[0].shape[:2]
    if any(image.shape != images[0].shape for image in images):
        raise ValueError("predict_depth needs images of one size")
    resized = np.stack([resize_rgb(image, spec["width"], spec["height"]) for image in images])
    batch = torch.from_numpy(resized).permute(0, 3, 1, 2).float().div(255.0).to(device)
    disparity = network(batch)[0]
    disparity = F.interpolate(disparity, (height, width), mode="bilinear", align_corners=False)
    depth = disparity_to_depth(disparity, spec["min_depth_m"], spec["max_depth_m"])
    return depth[:, 0].cpu().numpy().astype(np.float32)
