"""Where best matches go wrong: the error decomposition of `donkit evaluate --breakdown`.

Per true match it records whether the best match landed on the right object, how far the view
turned between A and B, how near the silhouette the true match lies, and the descriptor
distances of the true match and of the nearest wrong pixel. Grouped, these separate the two
ways descriptors fail: confusing one object or part with another (a far-off best match), and
locating the point only roughly on the right surface (a near miss).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt, label

from descriptors.evaluation_pairs import EvaluationPair

WRONG_RADIUS_PX = 5.0  # farther from the true match than this is a wrong answer (the goal's 5 px)
VIEWPOINT_BINS_DEG = (0.0, 30.0, 60.0, 90.0, 180.0)
SILHOUETTE_BINS_PX = (0.0, 5.0, 10.0, 20.0, np.inf)
NO_GROUND_TRUTH = "objects"  # the one object group of scenes without ground truth


@dataclass
class MatchRecords:
    """Per true match of one pair (N matches)."""

    error_px: np.ndarray  # (N,) sub-pixel best match to the exact true match
    object_name: np.ndarray  # (N,) str: the object under the true match in B
    right_object: np.ndarray  # (N,) bool: the best match lies on that object
    on_objects: np.ndarray  # (N,) bool: the best match lies on B's fused object mask
    viewpoint_deg: np.ndarray  # (N,) angle between the point's rays to A's and B's cameras
    silhouette_px: np.ndarray  # (N,) distance of the true match to its object's silhouette
    true_distance: np.ndarray  # (N,) descriptor distance to the true match
    wrong_distance: np.ndarray  # (N,) to the nearest pixel farther than WRONG_RADIUS_PX

    @staticmethod
    def join(records: list[MatchRecords]) -> MatchRecords:
        return MatchRecords(
            *(np.concatenate([getattr(r, name) for r in records]) for name in _FIELDS)
        )


_FIELDS = tuple(MatchRecords.__dataclass_fields__)


def object_labels(pair: EvaluationPair) -> tuple[np.ndarray, dict[int, str]]:
    """(H, W) int labels of B's objects, and label -> name: the simulator's segmentation where
    the scene has one, else the connected parts of B's fused object mask (touching objects
    then count as one; all are named NO_GROUND_TRUTH)."""
    if pair.segmentation_b is not None:
        return pair.segmentation_b, pair.object_names_b
    parts, count = label(pair.view_b.mask)
    return parts, dict.fromkeys(range(1, count + 1), NO_GROUND_TRUTH)


def viewpoint_change_deg(pair: EvaluationPair) -> np.ndarray:
    """(N,) angle at each true match's 3D point between its rays to the cameras of A and B, in
    degrees (NaN without A's pose)."""
    if pair.camera_to_world_a is None:
        return np.full(len(pair.xyz), np.nan)
    to_a = pair.camera_to_world_a[:3, 3] - pair.xyz
    to_b = pair.view_b.camera_to_world[:3, 3] - pair.xyz
    cosine = np.sum(to_a * to_b, axis=1) / (
        np.linalg.norm(to_a, axis=1) * np.linalg.norm(to_b, axis=1)
    )
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def silhouette_distance_px(labels: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(N,) distance in pixels from pixels `uv` (N, 2) to the nearest pixel outside their own
    object (of `labels`, (H, W))."""
    own = labels[uv[:, 1], uv[:, 0]]
    distance = np.zeros(len(uv))
    for value in np.unique(own):
        here = own == value
        field = distance_transform_edt(labels == value)
        distance[here] = field[uv[here, 1], uv[here, 0]]
    return distance


def nearest_wrong_distance(squared: torch.Tensor, uv_true: np.ndarray, width: int) -> np.ndarray:
    """(N,) descriptor distance to the nearest pixel farther than WRONG_RADIUS_PX from the true
    match, from squared distances (N, H * W) to every pixel and true matches (N, 2)."""
    pixels = torch.arange(squared.shape[1])
    u, v = (pixels % width).double(), (pixels // width).double()
    true = torch.from_numpy(uv_true).double()
    far = (u[None] - true[:, :1]) ** 2 + (v[None] - true[:, 1:]) ** 2 > WRONG_RADIUS_PX**2
    masked = torch.where(far, squared.double(), torch.full_like(squared.double(), np.inf))
    return masked.min(dim=1).values.sqrt().numpy()


def pair_records(
    pair: EvaluationPair,
    best_uv: np.ndarray,
    uv_true: np.ndarray,
    squared: torch.Tensor,
    true_distance: np.ndarray,
) -> MatchRecords:
    """The records of a pair's matches.

    Args:
        best_uv: (N, 2) float sub-pixel best matches in B.
        uv_true: (N, 2) float exact true matches in B.
        squared: (N, H * W) squared descriptor distances of A's matches to every pixel of B.
        true_distance: (N,) descriptor distances to the true matches (pixels uv_b).
    """
    labels, names = object_labels(pair)
    height, width = labels.shape
    best = np.clip(np.rint(best_uv).astype(np.int64), 0, [width - 1, height - 1])
    truth = pair.uv_b
    true_label = labels[truth[:, 1], truth[:, 0]]
    return MatchRecords(
        error_px=np.linalg.norm(best_uv - uv_true, axis=1),
        object_name=np.array([names.get(int(value), NO_GROUND_TRUTH) for value in true_label]),
        right_object=(labels[best[:, 1], best[:, 0]] == true_label) & (true_label != 0),
        on_objects=pair.view_b.mask[best[:, 1], best[:, 0]],
        viewpoint_deg=viewpoint_change_deg(pair),
        silhouette_px=silhouette_distance_px(labels, truth),
        true_distance=true_distance,
        wrong_distance=nearest_wrong_distance(squared, uv_true, width),
    )


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def group_figures(records: MatchRecords, chosen: np.ndarray) -> dict[str, float]:
    """Figures of the matches `chosen` (bool (N,)) of `records`."""
    errors, right = records.error_px[chosen], records.right_object[chosen]
    return {
        "matches": int(np.count_nonzero(chosen)),
        "pixel_error_median": _median(errors),
        "within_5px": float(np.mean(errors <= 5)) if len(errors) else float("nan"),
        "right_object_share": float(np.mean(right)) if len(right) else float("nan"),
        "pixel_error_median_right_object": _median(errors[right]),
    }


def _bins(values: np.ndarray, edges: tuple[float, ...], unit: str) -> dict[str, np.ndarray]:
    groups = {}
    for low, high in pairwise(edges):
        name = f"{low:g}+ {unit}" if np.isinf(high) else f"{low:g}-{high:g} {unit}"
        below = values <= high if high == edges[-1] else values < high  # the last bin is closed
        groups[name] = (values >= low) & below
    return groups


def distance_ratio(records: MatchRecords) -> np.ndarray:
    """(N,) descriptor distance to the true match over that to the nearest wrong pixel: inf
    when only the wrong pixel is at distance 0, 1 when both are (a tie)."""
    true, wrong = records.true_distance, records.wrong_distance
    ratio = np.divide(true, wrong, out=np.full_like(true, np.inf), where=wrong > 0)
    ratio[(true == 0) & (wrong == 0)] = 1.0
    return ratio


def breakdown(records: MatchRecords) -> dict[str, Any]:
    """The decomposition written under "breakdown" in eval/metrics.json."""
    everything = np.ones(len(records.error_px), bool)
    right = records.right_object
    gap = records.wrong_distance - records.true_distance
    summary = group_figures(records, everything) | {
        "on_objects_share": float(np.mean(records.on_objects)),
        "pixel_error_median_wrong_object": _median(records.error_px[~right]),
        # The true match is nearer than every pixel beyond 5 px: a descriptor that ranks truly.
        "true_match_nearest_share": float(np.mean(gap > 0)),
        "true_distance_median": _median(records.true_distance),
        "wrong_distance_median": _median(records.wrong_distance),
        "distance_ratio_median": _median(distance_ratio(records)),
    }
    groups = {
        "by_object": {
            str(name): records.object_name == name for name in np.unique(records.object_name)
        },
        "by_viewpoint_change": _bins(records.viewpoint_deg, VIEWPOINT_BINS_DEG, "deg"),
        "by_silhouette_distance": _bins(records.silhouette_px, SILHOUETTE_BINS_PX, "px"),
    }
    for key, chosen in groups.items():
        summary[key] = {
            name: group_figures(records, where) for name, where in chosen.items() if where.any()
        }
    return summary


def breakdown_lines(name: str, figures: dict[str, Any]) -> tuple[str, list[list[str]]]:
    """A summary sentence and table rows (header first) for one method's breakdown."""
    sentence = (
        f"breakdown of {name} ({figures['matches']} matches): the best match lies on the right "
        f"object for {100 * figures['right_object_share']:.0f} % (median error there "
        f"{figures['pixel_error_median_right_object']:.1f} px, elsewhere "
        f"{figures['pixel_error_median_wrong_object']:.1f} px), on an object for "
        f"{100 * figures['on_objects_share']:.0f} %; the true match is nearer than every pixel "
        f"beyond {WRONG_RADIUS_PX:g} px for {100 * figures['true_match_nearest_share']:.0f} % "
        f"(median descriptor distance to it {figures['true_distance_median']:.3f}, to the "
        f"nearest wrong pixel {figures['wrong_distance_median']:.3f})"
    )
    rows = [["group", "matches", "median px", "<=5px", "right object", "median px on it"]]
    for key, title in (
        ("by_object", "object"),
        ("by_viewpoint_change", "viewpoint change"),
        ("by_silhouette_distance", "from silhouette"),
    ):
        for group, values in figures[key].items():
            rows.append([
                f"{title} {group}",
                str(values["matches"]),
                f"{values['pixel_error_median']:.1f}",
                f"{100 * values['within_5px']:.0f}%",
                f"{100 * values['right_object_share']:.0f}%",
                f"{values['pixel_error_median_right_object']:.1f}",
            ])  # fmt: skip
    return sentence, rows
