"""How good descriptors are: Dense Object Nets' best-match evaluation on held-out pairs.

For each true match (u_a in A, u_b in B, from the shared correspondence generator) the best match
is the pixel of B whose descriptor is nearest to A's descriptor at u_a, searched over all of B and
refined to sub-pixel (descriptors.matching). Its distance in pixels to the true match (the
point's exact projection into B), its 3D distance to the true point (through B's rendered depth),
and the share of B's object pixels nearer in descriptor space than the true match measure the
descriptors. The same pairs give the baselines: dense SIFT and the untrained network.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from descriptors.breakdown import MatchRecords, breakdown, pair_records
from descriptors.config import CorrespondConfig, TrainConfig
from descriptors.correspondence import View
from descriptors.cross_instance import cross_instance_pairs
from descriptors.evaluation_pairs import EvaluationPair, evaluation_pairs
from descriptors.matching import FrameMatcher
from descriptors.network import load_network
from descriptors.train import build_network
from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.scenes import complete_scenes
from geometry import backproject, invert_pose, project, transform
from jobs import progress_bar
from learn.backbones import normalize_images
from learn.devices import resolve_device

PCK_LIMIT_PX = 20.0
SIFT_KEYPOINT_SIZE_PX = 48.0  # the SIFT window; of 8-96 px, the best median error on demo pairs
# SIFT of image B on this grid, interpolated between: a 48-px window varies slowly, and on 20
# demo pairs an 8-px grid gives the median error of a 2-px grid (67.2 px both) 10x quicker.
SIFT_GRID_STEP_PX = 8

# A pair -> (N, D) descriptors of A at the pair's uv_a, and (D, H, W) descriptors of all of B.
DescribePair = Callable[[EvaluationPair], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class BestMatches:
    """Where descriptors of A find their nearest neighbours in B."""

    uv: np.ndarray  # (N, 2) float64 best matches (u, v), refined to sub-pixel
    pixel: np.ndarray  # (N, 2) int64 the best pixels themselves
    distance: np.ndarray  # (N,) descriptor distance to the best pixel
    true_distance: np.ndarray  # (N,) descriptor distance to the true match (NaN without one)
    closer: np.ndarray  # (N,) share of B's object pixels nearer than the true match (NaN ...)
    squared: torch.Tensor | None = None  # (N, H * W) squared distances to B's pixels (with uv_b)


def best_matches(
    queries: torch.Tensor,
    descriptors_b: torch.Tensor,
    mask_b: np.ndarray,
    uv_b: np.ndarray | None = None,
    excluded_b: np.ndarray | None = None,
) -> BestMatches:
    """Best matches in B of descriptors `queries` (N, D), searched over all of B and refined
    to sub-pixel by a parabola through the squared distances (descriptors.matching), in float64.

    Args:
        descriptors_b: (D, H, W).
        mask_b: (H, W) bool, B's object pixels.
        uv_b: (N, 2) true matches, or None (different objects: there are none).
        excluded_b: (H, W) bool pixels of B not searched, or None.
    """
    excluded = torch.from_numpy(excluded_b) if excluded_b is not None else None
    matcher = FrameMatcher(descriptors_b.double(), excluded=excluded)
    uv, best_distance = (values.numpy() for values in matcher.match(queries.double()))
    pixel = np.rint(uv).astype(np.int64)  # a refined match stays within 0.5 px of its pixel
    if uv_b is None:
        missing = np.full(len(queries), np.nan)
        return BestMatches(uv, pixel, best_distance, missing, missing.copy())
    squared = matcher.squared_distances(queries.double())
    width = descriptors_b.shape[2]
    true = squared[torch.arange(len(uv_b)), torch.from_numpy(uv_b[:, 1] * width + uv_b[:, 0])]
    on_object = torch.from_numpy(mask_b.reshape(-1))
    closer = (squared[:, on_object] < true[:, None]).double().mean(dim=1).numpy()
    return BestMatches(uv, pixel, best_distance, true.sqrt().numpy(), closer, squared)


def exact_true_matches(pair: EvaluationPair) -> np.ndarray:
    """(N, 2) float64 the true matches' exact pixels in B: their 3D points projected (the
    pair's uv_b are these rounded)."""
    view = pair.view_b
    uv, _ = project(transform(pair.xyz, invert_pose(view.camera_to_world)), view.camera.matrix)
    return uv


def world_points(view: View, uv: np.ndarray) -> np.ndarray:
    """(N, 3) world points of pixels `uv` of a view through its rendered depth (NaN off the
    mesh)."""
    depth = view.depth[uv[:, 1], uv[:, 0]].astype(np.float64)
    points = transform(
        backproject(uv.astype(np.float64), depth, view.camera.matrix), view.camera_to_world
    )
    points[depth <= 0] = np.nan
    return points


FIGURES = (
    "pixel_error_median", "pixel_error_mean", "pixel_error_p90", "within_5px", "within_10px",
    "within_20px", "pck_auc_20px", "pck_auc_1_100px", "error_3d_median_m",
    "fraction_closer_median",
)  # fmt: skip


def pck_auc(errors_px: np.ndarray, limit_px: int = 100) -> float:
    """Mean over k = 1, 2, ..., limit_px of PCK@k, the share of errors within k px: the area
    under the PCK curve that the follow-ups of Dense Object Nets report (1 is perfect)."""
    thresholds = np.arange(1, limit_px + 1)
    return float((errors_px[None, :] <= thresholds[:, None]).mean())


def summarize(errors_px: np.ndarray, errors_m: np.ndarray, closer: np.ndarray) -> dict[str, float]:
    """The figures of eval/metrics.json (docs/data-formats.md), from per-match errors."""
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
        "pck_auc_1_100px": pck_auc(errors_px),
        "error_3d_median_m": float(np.median(valid_m)) if len(valid_m) else float("nan"),
        "fraction_closer_median": float(np.median(closer)),
    }


def evaluate_method(
    describe_pair: DescribePair,
    pairs: list[EvaluationPair],
    name: str,
    show: bool | None,
    with_breakdown: bool = False,
) -> dict[str, Any]:
    """`summarize` over every match of the pairs with matches, overall and by pair kind; for
    pairs of different objects, how often a point's best match on the other object is nearer
    in descriptor space than the median true match; with `with_breakdown`, the error
    decomposition of descriptors.breakdown under "breakdown". Per-match pixel errors go under
    "errors_px" (for the CDF plots; callers drop them before writing JSON)."""
    records: list[MatchRecords] | None = [] if with_breakdown else None
    found: dict[str, list[BestMatches]] = {}
    errors_px: dict[str, list[np.ndarray]] = {}
    errors_m: dict[str, list[np.ndarray]] = {}
    with progress_bar(len(pairs), f"evaluate {name}", show, unit="pair") as bar:
        for pair in pairs:
            queries, descriptors_b = describe_pair(pair)
            matched = pair.kind != "different_object"
            best = best_matches(
                queries, descriptors_b, pair.view_b.mask, pair.uv_b if matched else None,
                pair.excluded_b,
            )  # fmt: skip
            if matched:
                uv_true = exact_true_matches(pair)
                error = np.linalg.norm(best.uv - uv_true, axis=1)
                errors_px.setdefault(pair.kind, []).append(error)
                error_m = np.linalg.norm(world_points(pair.view_b, best.pixel) - pair.xyz, axis=1)
                errors_m.setdefault(pair.kind, []).append(error_m)
                if records is not None:
                    records.append(
                        pair_records(pair, best.uv, uv_true, best.squared, best.true_distance)
                    )
            best.squared = None  # (N, H * W): not kept beyond its pair
            found.setdefault(pair.kind, []).append(best)
            bar.update(1)

    def joined(kinds: list[str], values: dict[str, list[np.ndarray]]) -> np.ndarray:
        return np.concatenate([value for kind in kinds for value in values[kind]])

    def closer(kinds: list[str]) -> np.ndarray:
        return np.concatenate([best.closer for kind in kinds for best in found[kind]])

    matched_kinds = list(errors_px)
    if not matched_kinds:
        raise DonkitError("no evaluation pair has true matches: held-out scenes overlap nowhere")
    results: dict[str, Any] = summarize(
        joined(matched_kinds, errors_px), joined(matched_kinds, errors_m), closer(matched_kinds)
    )
    results["by_kind"] = {
        kind: {"pairs": len(found[kind])}
        | summarize(joined([kind], errors_px), joined([kind], errors_m), closer([kind]))
        for kind in matched_kinds
    }
    if "different_object" in found:
        true_median = np.median(
            np.concatenate([best.true_distance for kind in matched_kinds for best in found[kind]])
        )
        wrong = np.concatenate([best.distance for best in found["different_object"]])
        results["by_kind"]["different_object"] = {
            "pairs": len(found["different_object"]),
            "points": len(wrong),
            # A point of object X whose nearest pixel of object Y is nearer than a typical true
            # match would be taken for a match: the lower the better.
            "share_nearer_than_true_median": float(np.mean(wrong < true_median)),
        }
    if records is not None:
        results["breakdown"] = breakdown(MatchRecords.join(records))
    results["errors_px"] = joined(matched_kinds, errors_px)
    return results


def describe_images(
    network: torch.nn.Module, images: list[np.ndarray], device: torch.device
) -> torch.Tensor:
    """(N, D, H, W) float32 descriptors (on the CPU) of N (H, W, 3) uint8 images, in one batch;
    the network is put in eval mode."""
    network = network.to(device).eval()
    with torch.no_grad():
        batch = torch.from_numpy(np.stack(images)).to(device)
        return network(normalize_images(batch)).float().cpu()


def network_describer(network: torch.nn.Module, device: torch.device) -> DescribePair:
    """Descriptors of a network, both images in one batch."""

    def describe_pair(pair: EvaluationPair) -> tuple[torch.Tensor, torch.Tensor]:
        descriptors = describe_images(network, [pair.image_a, pair.image_b], device)
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


def sift_grid(image: np.ndarray, step_px: int) -> torch.Tensor:
    """(128, rows, columns) upright SIFT descriptors of an RGB image at every `step_px`-th pixel
    of every `step_px`-th row, from (0, 0)."""
    height, width = image.shape[:2]
    rows, columns = np.arange(0, height, step_px), np.arange(0, width, step_px)
    grid_uv = np.stack(np.meshgrid(columns, rows), axis=-1).reshape(-1, 2)
    return sift_at(image, grid_uv).T.reshape(128, len(rows), len(columns))


def dense_from_grid(grid: torch.Tensor, height: int, width: int, step_px: int) -> torch.Tensor:
    """(128, H, W) descriptors interpolated bilinearly between those of `sift_grid`."""
    if step_px == 1:
        return grid
    rows, columns = grid.shape[1:]
    # Grid pixel i sits at image pixel i * step: align corners of the covered span, then pad.
    covered = ((rows - 1) * step_px + 1, (columns - 1) * step_px + 1)
    dense = F.interpolate(grid[None].float(), covered, mode="bilinear", align_corners=True)
    return F.pad(dense, (0, width - covered[1], 0, height - covered[0]), mode="replicate")[0]


def dense_sift(image: np.ndarray, step_px: int = 1) -> torch.Tensor:
    """(128, H, W) upright SIFT descriptors of an RGB image, computed on a grid of `step_px`
    and interpolated bilinearly between the grid's pixels."""
    return dense_from_grid(sift_grid(image, step_px), *image.shape[:2], step_px)


def sift_describer(step_px: int = SIFT_GRID_STEP_PX) -> DescribePair:
    """Dense SIFT: exact at A's pixels, interpolated from a grid of `step_px` in B.

    B's grid is kept for later pairs with the same image B: held-out frames recur in many
    pairs, and SIFT is most of the evaluation's time (a grid is small: 128 x H/step x W/step)."""
    grids: dict[bytes, torch.Tensor] = {}

    def describe_pair(pair: EvaluationPair) -> tuple[torch.Tensor, torch.Tensor]:
        image_b = pair.image_b
        key = hashlib.sha1(image_b.tobytes()).digest() + str(image_b.shape).encode()
        if key not in grids:
            grids[key] = sift_grid(image_b, step_px)
        dense_b = dense_from_grid(grids[key], *image_b.shape[:2], step_px)
        return sift_at(pair.image_a, pair.uv_a).float(), dense_b

    return describe_pair


METHODS = ("donkit", "random_init", "sift")


def metrics_table(results: dict[str, Any]) -> list[list[str]]:
    """Rows for format_table: a header, then one row per method and one per method and kind."""
    rows = [["method", "pairs", "median px", "mean px", "p90 px", "<=5px", "<=10px", "AUC@20",
             "3D mm"]]  # fmt: skip

    def row(name: str, pairs: str, m: dict[str, float]) -> list[str]:
        return [
            name,
            pairs,
            f"{m['pixel_error_median']:.1f}",
            f"{m['pixel_error_mean']:.1f}",
            f"{m['pixel_error_p90']:.1f}",
            f"{100 * m['within_5px']:.0f}%",
            f"{100 * m['within_10px']:.0f}%",
            f"{m['pck_auc_20px']:.3f}",
            f"{1000 * m['error_3d_median_m']:.1f}",
        ]

    methods = [name for name in METHODS if name in results]
    rows += [row(name, str(results["pairs"]), results[name]) for name in methods]
    for name in methods:
        for kind, m in results[name].get("by_kind", {}).items():
            if kind != "different_object":
                rows.append(row(f"{name}, {kind}", str(m["pairs"]), m))
    crossing = results.get("cross_instance", {})
    for name in methods:
        if name in crossing:
            rows.append(row(f"{name}, across instances", str(crossing["pairs"]), crossing[name]))
    return rows


def confusion_line(results: dict[str, Any]) -> str:
    """One line on pairs of different objects, or "" when there were none."""
    shares = [
        f"{name} {100 * results[name]['by_kind']['different_object']['share_nearer_than_true_median']:.0f} %"  # noqa: E501
        for name in METHODS
        if "different_object" in results.get(name, {}).get("by_kind", {})
    ]
    if not shares:
        return ""
    return (
        "different objects: points whose best match on the other object is nearer than the "
        "median true match: " + ", ".join(shares)
    )


def plot_cdf(errors_px: dict[str, np.ndarray], path: Path, limit_px: float = 100.0) -> None:
    """Write a PNG of the share of matches within each pixel error, one curve per method."""
    from matplotlib.figure import Figure  # imported here: slow to import

    figure = Figure(figsize=(6, 4), dpi=100)
    axes = figure.add_subplot()
    thresholds = np.linspace(0.0, limit_px, 401)
    for name, errors in errors_px.items():
        axes.plot(thresholds, (errors[None, :] <= thresholds[:, None]).mean(axis=1), label=name)
    axes.axvline(PCK_LIMIT_PX, color="grey", linestyle=":", linewidth=1)
    axes.set(
        xlabel="best-match pixel error (px)",
        ylabel="share of matches within",
        xlim=(0, limit_px),
        ylim=(0, 1),
        title="Best matches on held-out pairs",
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())


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
    with_breakdown: bool = False,
) -> dict[str, Any]:
    """Evaluate run `run`'s last checkpoint, dense SIFT and the untrained network on the same
    held-out pairs of the fused scenes under `data`; write RUN/eval/metrics.json.

    Args:
        correspond, train: the run's config sections (pair policy; the untrained network).
        with_breakdown: add each method's error decomposition (descriptors.breakdown).
    """
    network, state = load_network(run)
    untrained = build_network(train)
    paths, _ = complete_scenes(data, "pass fused held-out scenes (`donkit fuse`) to --data")
    chosen = evaluation_pairs(paths, correspond, pairs, matches, seed)
    if not chosen:
        raise DonkitError(f"no pair of views under {data} overlaps: nothing to evaluate on")
    device = resolve_device(device_name)
    describers = {
        "donkit": network_describer(network, device),
        "sift": sift_describer(),
        "random_init": network_describer(untrained, device),
    }
    results: dict[str, Any] = {
        name: evaluate_method(describe_pair, chosen, name, show_progress, with_breakdown)
        for name, describe_pair in describers.items()
    }
    errors_px = {name: results[name].pop("errors_px") for name in METHODS}
    crossing = cross_instance_pairs(
        paths, max(1, pairs // 4), matches, seed, correspond.edge_threshold_m
    )
    if crossing:  # simulated scenes with two instances of a class
        across: dict[str, Any] = {}
        for name, describe_pair in describers.items():
            figures = evaluate_method(
                describe_pair, crossing, f"{name} across", show_progress, with_breakdown
            )
            kept = (*FIGURES, "breakdown")
            across[name] = {key: value for key, value in figures.items() if key in kept}
        matches_across = int(sum(len(pair.uv_b) for pair in crossing))
        results["cross_instance"] = across | {"pairs": len(crossing), "matches": matches_across}
    with_matches = [pair for pair in chosen if len(pair.uv_b)]
    results |= {
        "pairs": len(with_matches),
        "matches": int(sum(len(pair.uv_b) for pair in with_matches)),
        "step": int(state["step"]),
        "data": str(data),
    }
    folder = Path(run) / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    plot_cdf(errors_px, folder / "cdf.png")
    text = json.dumps(results, indent=2)
    write_bytes_atomic(folder / "metrics.json", (text + "\n").encode())
    return results
