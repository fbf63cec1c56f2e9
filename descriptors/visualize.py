"""`donkit visualize`: pictures of a run's descriptors on held-out pairs.

For each pair (two views of a scene with true matches, drawn as the evaluation draws them):
- pair_XX_descriptors.png: A and B with their descriptors as colours (one basis for all pairs);
- pair_XX_matches.png: for a few of the true matches, A with the chosen pixel, and B with the
  heatmap of descriptor distance to it, the best match (circle; found to sub-pixel, drawn at its
  nearest pixel) and the true match (cross).
With `html`, viewer.html lets a person hover any pixel and see the same, computed in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from descriptors.config import CorrespondConfig
from descriptors.evaluate import describe_images
from descriptors.evaluation_pairs import EvaluationPair, evaluation_pairs
from descriptors.matching import FrameMatcher
from descriptors.network import load_network
from descriptors.visual import (
    descriptor_images,
    distances_to,
    draw_marker,
    heatmap_overlay,
    to_rgb8,
)
from formats import DonkitError
from formats.images import write_rgb
from formats.scenes import complete_scenes
from learn.devices import resolve_device

CHOSEN = (255, 255, 255)  # the pixel of A
BEST = (0, 255, 0)  # its best match in B
TRUE = (0, 160, 255)  # its true match in B


@dataclass
class Visualization:
    """What `visualize_run` wrote."""

    pairs: int
    files: list[Path]
    viewer: Path | None


def _chosen_matches(pair: EvaluationPair, count: int) -> np.ndarray:
    """Indices of `count` matches spread over the pair's list (the list is in random order)."""
    return np.linspace(0, len(pair.uv_a) - 1, min(count, len(pair.uv_a))).round().astype(int)


def match_panel(
    pair: EvaluationPair, descriptors_a: torch.Tensor, descriptors_b: torch.Tensor, index: int
) -> np.ndarray:
    """(H, 2W, 3): A with match `index`'s pixel; B with the distance heatmap, best and true."""
    u, v = pair.uv_a[index]
    distances = distances_to(descriptors_a[:, v, u], descriptors_b)
    best, _ = FrameMatcher(descriptors_b).match(descriptors_a[:, v, u][None])
    scale = float(torch.quantile(distances.flatten()[::16], 0.05))  # hot on the nearest 5 %
    panel_b = heatmap_overlay(pair.image_b, distances.numpy(), scale)
    draw_marker(panel_b, pair.uv_b[index], TRUE, cross=True)
    draw_marker(panel_b, best[0].tolist(), BEST)
    panel_a = draw_marker(pair.image_a.copy(), (u, v), CHOSEN)
    return np.concatenate([panel_a, panel_b], axis=1)


def visualize_run(
    run: Path,
    data: Path,
    out: Path,
    correspond: CorrespondConfig,
    pairs: int = 4,
    pixels: int = 3,
    seed: int = 0,
    device_name: str = "auto",
    html: bool = False,
) -> Visualization:
    """Draw run `run`'s descriptors on `pairs` held-out pairs of the fused scenes under `data`."""
    network, _ = load_network(run)
    paths, _ = complete_scenes(data, "pass fused held-out scenes (`donkit fuse`) to --data")
    chosen = [
        pair for pair in evaluation_pairs(paths, correspond, pairs * 3, 200, seed) if len(pair.uv_b)
    ][:pairs]
    if not chosen:
        raise DonkitError(f"no pair of views under {data} overlaps: nothing to draw")
    images = [image for pair in chosen for image in (pair.image_a, pair.image_b)]
    device = resolve_device(device_name)
    descriptors = [describe_images(network, [image], device)[0] for image in images]
    colours = [to_rgb8(colour) for colour in descriptor_images(descriptors)]
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for number, pair in enumerate(chosen):
        descriptors_a, descriptors_b = descriptors[2 * number], descriptors[2 * number + 1]
        strip = np.concatenate(
            [pair.image_a, colours[2 * number], pair.image_b, colours[2 * number + 1]], axis=1
        )
        files.append(out / f"pair_{number:02d}_descriptors.png")
        write_rgb(files[-1], strip)
        panels = [
            match_panel(pair, descriptors_a, descriptors_b, index)
            for index in _chosen_matches(pair, pixels)
        ]
        files.append(out / f"pair_{number:02d}_matches.png")
        write_rgb(files[-1], np.concatenate(panels, axis=0))
    viewer = None
    if html:
        from descriptors.viewer import write_viewer

        viewer = out / "viewer.html"
        titles = [f"pair {n} {side}" for n in range(len(chosen)) for side in ("A", "B")]
        write_viewer(viewer, images, [d.numpy() for d in descriptors], titles)
    return Visualization(len(chosen), files, viewer)
