"""How good descriptors are: Dense Object Nets' best-match evaluation on held-out pairs.

For each true match (u_a in A, u_b in B, from the shared correspondence generator) the best match
is the pixel of B whose descriptor is nearest to A's descriptor at u_a, searched over all of B.
Its distance to u_b in pixels, its 3D distance to the true point (through B's rendered depth),
and the share of B's object pixels nearer in descriptor space than the true match measure the
descriptors. The same pairs give the baselines: dense SIFT and the untrained network.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from descriptors.config import CorrespondConfig, TrainConfig
from descriptors.correspondence import View
from descriptors.network import normalize_images
from descriptors.pairs import catalog, make_pair, plan_pairs
from geometry import DonkitError, backproject, transform
from geometry.image_io import write_bytes_atomic
from geometry.parallel import progress_bar
from geometry.scene_io import complete_scenes, load_scene

PCK_LIMIT_PX = 20.0
SIFT_KEYPOINT_SIZE_PX = 48.0  # the SIFT window; of 8-96 px, the best median error on demo pairs
# SIFT of image B on this grid, interpolated between: a 48-px window varies slowly, and on 20
# demo pairs an 8-px grid gives the median error of a 2-px grid (67.2 px both) 10x quicker.
SIFT_GRID_STEP_PX = 8

# A pair -> (N, D) descriptors of A at the pair's uv_a, and (D, H, W) descriptors of all of B.
DescribePair = Callable[["EvaluationPair"], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class EvaluationPair:
    """Two held-out views and their true matches."""

    kind: str
    image_a: np.ndarray  # (H, W, 3) uint8
    image_b: np.ndarray
    view_b: View  # rendered depth, mask and pose of B
    uv_a: np.ndarray  # (N, 2) int64
    uv_b: np.ndarray  # (N, 2) int64
    xyz: np.ndarray  # (N, 3) world points of the matches, metres


def evaluation_pairs(
    paths: list[Path], correspond: CorrespondConfig, pairs: int, matches: int, seed: int
) -> list[EvaluationPair]:
    """`pairs` pairs with matches (two views of one scene), `matches` matches each at most."""
    config = dataclasses.replace(
        correspond, seed=seed, matches=matches, different_object_share=0.0,
        nonmatches_per_match=0, blind_nonmatches=0,
    )  # fmt: skip
    entries, scenes = catalog(paths), [load_scene(path) for path in paths]
    views: dict[tuple[int, int], View] = {}
    chosen = []
    for plan in plan_pairs(entries, config, pairs):
        sample = make_pair(plan, scenes, views, config, 0)
        if sample.skipped or len(sample.matches.uv_a) == 0:
            continue
        scene = scenes[plan.scene_a]
        chosen.append(
            EvaluationPair(
                plan.kind,
                scene.rgb(plan.frame_a),
                scene.rgb(sample.frame_b),
                views[(plan.scene_b, sample.frame_b)],
                sample.matches.uv_a.astype(np.int64),
                sample.matches.uv_b.astype(np.int64),
                sample.matches.xyz,
            )
        )
    return chosen


def best_matches(
    queries: torch.Tensor, descriptors_b: torch.Tensor, mask_b: np.ndarray, uv_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Best matches in B of descriptors `queries` (N, D), and the share of B's object pixels
    (`mask_b` (H, W) bool) nearer to each than its true match `uv_b` (N, 2).

    Args:
        descriptors_b: (D, H, W).

    Returns:
        (N, 2) int64 best-match pixels (u, v), and (N,) float shares.
    """
    dims, _, width = descriptors_b.shape
    flat_b = descriptors_b.reshape(dims, -1).T  # (H * W, D)
    distances = torch.cdist(queries.double(), flat_b.double())  # (N, H * W)
    best = distances.argmin(dim=1).numpy()
    true = distances[torch.arange(len(uv_b)), torch.from_numpy(uv_b[:, 1] * width + uv_b[:, 0])]
    on_object = torch.from_numpy(mask_b.reshape(-1))
    closer = (distances[:, on_object] < true[:, None]).double().mean(dim=1).numpy()
    return np.stack([best % width, best // width], axis=1), closer


def world_points(view: View, uv: np.ndarray) -> np.ndarray:
    """(N, 3) world points of pixels `uv` of a view through its rendered depth (NaN off the
    mesh)."""
    depth = view.depth[uv[:, 1], uv[:, 0]].astype(np.float64)
    points = transform(
        backproject(uv.astype(np.float64), depth, view.camera.matrix), view.camera_to_world
    )
    points[depth <= 0] = np.nan
    return points


def summarize(errors_px: np.ndarray, errors_m: np.ndarray, closer: np.ndarray) -> dict[str, float]:
    """The metrics of ARCHITECTURE.md / the evaluation issue, from per-match errors."""
    thresholds = np.linspace(0.0, PCK_LIMIT_PX, 201)
    pck = (errors_px[None, :] <= thresholds[:, None]).mean(axis=1)
    valid_m = errors_m[np.isfinite(errors_m)]
    return {
        "pixel_error_median": float(np.median(errors_px)),
        "pixel_error_mean": float(np.mean(errors_px)),
        "pixel_error_p90": float(np.percentile(errors_px, 90)),
        "within_5px": float(np.mean(errors_px <= 5)),
        "within_10px": float(np.mean(errors_px <= 10)),
        "within_20px": float(np.mean(errors_px <= 20)),
        "pck_auc_20px": float(np.trapezoid(pck, thresholds) / PCK_LIMIT_PX),
        "error_3d_median_m": float(np.median(valid_m)) if len(valid_m) else float("nan"),
        "fraction_closer_median": float(np.median(closer)),
    }


def evaluate_method(
    describe_pair: DescribePair, pairs: list[EvaluationPair], name: str, show: bool | None
) -> dict[str, float]:
    """`summarize` over every match of every pair, for one way of describing images."""
    errors_px, errors_m, closer = [], [], []
    with progress_bar(len(pairs), f"evaluate {name}", show, unit="pair") as bar:
        for pair in pairs:
            queries, descriptors_b = describe_pair(pair)
            best, share = best_matches(queries, descriptors_b, pair.view_b.mask, pair.uv_b)
            errors_px.append(np.linalg.norm((best - pair.uv_b).astype(float), axis=1))
            errors_m.append(np.linalg.norm(world_points(pair.view_b, best) - pair.xyz, axis=1))
            closer.append(share)
            bar.update(1)
    return summarize(*(np.concatenate(values) for values in (errors_px, errors_m, closer)))


def network_describer(network: torch.nn.Module, device: torch.device) -> DescribePair:
    """Descriptors of a network (in eval mode), both images in one batch."""
    network = network.to(device).eval()

    @torch.no_grad()
    def describe_pair(pair: EvaluationPair) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.from_numpy(np.stack([pair.image_a, pair.image_b])).to(device)
        descriptors = network(normalize_images(images)).float().cpu()
        return descriptors[0][:, pair.uv_a[:, 1], pair.uv_a[:, 0]].T, descriptors[1]

    return describe_pair


def sift_at(image: np.ndarray, uv: np.ndarray) -> torch.Tensor:
    """(N, 128) upright SIFT descriptors of an RGB image at pixels `uv` (N, 2)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    keypoints = [cv2.KeyPoint(float(u), float(v), SIFT_KEYPOINT_SIZE_PX) for u, v in uv]
    kept, descriptors = cv2.SIFT_create().compute(grey, keypoints)
    if len(kept) != len(keypoints):  # OpenCV drops none at this size; a silent drop would misalign
        raise RuntimeError(f"SIFT kept {len(kept)} of {len(keypoints)} keypoints")
    return torch.from_numpy(descriptors)


def dense_sift(image: np.ndarray, step_px: int = 1) -> torch.Tensor:
    """(128, H, W) upright SIFT descriptors of an RGB image, computed on a grid of `step_px`
    and interpolated bilinearly between the grid's pixels."""
    height, width = image.shape[:2]
    rows, columns = np.arange(0, height, step_px), np.arange(0, width, step_px)
    grid_uv = np.stack(np.meshgrid(columns, rows), axis=-1).reshape(-1, 2)
    grid = sift_at(image, grid_uv).T.reshape(1, 128, len(rows), len(columns))
    if step_px == 1:
        return grid[0]
    # Grid pixel i sits at image pixel i * step: align corners of the covered span, then pad.
    covered = ((len(rows) - 1) * step_px + 1, (len(columns) - 1) * step_px + 1)
    dense = F.interpolate(grid.float(), covered, mode="bilinear", align_corners=True)
    return F.pad(dense, (0, width - covered[1], 0, height - covered[0]), mode="replicate")[0]


def sift_describer(step_px: int = SIFT_GRID_STEP_PX) -> DescribePair:
    """Dense SIFT: exact at A's pixels, interpolated from a grid of `step_px` in B."""

    def describe_pair(pair: EvaluationPair) -> tuple[torch.Tensor, torch.Tensor]:
        return sift_at(pair.image_a, pair.uv_a).float(), dense_sift(pair.image_b, step_px)

    return describe_pair


def metrics_table(results: dict[str, Any]) -> list[list[str]]:
    """Rows for format_table: one per method."""
    rows = [["method", "median px", "mean px", "p90 px", "<=5px", "<=10px", "AUC@20", "3D mm"]]
    for name in ("donkit", "random_init", "sift"):
        if name in results:
            m = results[name]
            rows.append(
                [
                    name,
                    f"{m['pixel_error_median']:.1f}",
                    f"{m['pixel_error_mean']:.1f}",
                    f"{m['pixel_error_p90']:.1f}",
                    f"{100 * m['within_5px']:.0f}%",
                    f"{100 * m['within_10px']:.0f}%",
                    f"{m['pck_auc_20px']:.3f}",
                    f"{1000 * m['error_3d_median_m']:.1f}",
                ]
            )
    return rows


def evaluate_run(
    run: Path,
    data: Path,
    correspond: CorrespondConfig,
    train: TrainConfig,
    pairs: int = 100,
    matches: int = 100,
    seed: int = 0,
    device_name: str = "auto",
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Evaluate run `run`'s last checkpoint, dense SIFT and the untrained network on the same
    held-out pairs of the fused scenes under `data`; write RUN/eval/metrics.json.

    Args:
        correspond, train: the run's config sections (pair policy; the untrained network).
    """
    from descriptors.checkpoint import load_network
    from descriptors.train import build_network, resolve_device

    network, state = load_network(run)
    untrained = build_network(train)
    paths, _ = complete_scenes(data, "pass fused held-out scenes (`donkit fuse`) to --data")
    chosen = evaluation_pairs(paths, correspond, pairs, matches, seed)
    if not chosen:
        raise DonkitError(f"no pair of views under {data} overlaps: nothing to evaluate on")
    device = resolve_device(device_name)
    results: dict[str, Any] = {
        "donkit": evaluate_method(
            network_describer(network, device), chosen, "donkit", show_progress
        ),
        "sift": evaluate_method(sift_describer(), chosen, "sift", show_progress),
        "random_init": evaluate_method(
            network_describer(untrained, device), chosen, "random_init", show_progress
        ),
        "pairs": len(chosen),
        "matches": int(sum(len(p.uv_a) for p in chosen)),
        "step": int(state["step"]),
        "data": str(data),
    }
    folder = Path(run) / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2)
    write_bytes_atomic(folder / "metrics.json", (text + "\n").encode())
    return results
