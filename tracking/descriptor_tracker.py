"""Keypoint tracking with dense descriptors, and the calibration of its visibility test.

A query point is described once, by its descriptor in the query frame (sampled bilinearly at
its sub-pixel position). In every other frame its best match is the pixel with the nearest
descriptor (searched in a window around where it was last seen, or over the whole image), refined
to sub-pixel by a spatial expectation: the mean position of the pixels around the best match,
weighted by a softmax of their descriptor distances. The point is visible when the best match is
nearer than a threshold calibrated on the run's training data; a point not found in its window
is searched for over the whole image (re-detection after an occlusion).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from descriptors.config import CorrespondConfig
from descriptors.evaluate import describe_images
from descriptors.matching import FrameMatcher
from descriptors.pairs import catalog, make_pair, plan_pairs
from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.scenes import complete_scenes, load_scene
from geometry import inside_image, warp
from geometry.sampling import sample_bilinear
from jobs import progress_bar
from tracking.config import TrackConfig
from tracking.tracks import Queries, Tracks, score_from_statistic

CALIBRATION_FILE = Path("tracking") / "calibration.json"
# What calibration.json holds; a file of another format is made again. On three development
# videos (seed 9000, not those measured) the threshold of best balanced accuracy gave a higher
# average Jaccard (0.19) than the one maximizing average Jaccard on the training pairs (0.16),
# whose wide baselines misplace far more matches than consecutive frames do.
CALIBRATION_FORMAT = 1
_BATCH_FRAMES = 8  # frames described per forward pass


@dataclass(frozen=True)
class Calibration:
    """The descriptor distance that separates seen points from unseen ones."""

    threshold: float  # a best match nearer than this is taken as the point, seen
    balanced_accuracy: float  # (share of seen below + share of unseen above) / 2, on the data
    seen: int  # matches measured (best-match distance of a point B sees)
    unseen: int  # points of A that B does not see (outside B, or hidden there)
    seen_median: float
    unseen_median: float
    step: int  # the checkpoint's training step
    data: str


def calibrate_visibility(
    network: torch.nn.Module,
    data: Path,
    correspond: CorrespondConfig,
    track: TrackConfig,
    device: torch.device,
    step: int = 0,
    show_progress: bool | None = None,
) -> Calibration:
    """The distance threshold that best tells points a second view sees from points it hides.

    On `track.calibration_pairs` pairs of views of the fused scenes under `data` (the run's
    training scenes), drawn with the correspondence config, for up to
    `track.calibration_points` points of A of each kind, the distance from A's descriptor to
    the nearest descriptor of B in the tracker's search window (`track.window_px`) around where
    the point lands in B: "seen" for matches, "unseen" for points hidden there behind
    something. The threshold maximizes the balanced accuracy of "seen when nearer than it".
    """
    paths, _ = complete_scenes(data, "pass the run's fused training scenes")
    config = dataclasses.replace(
        correspond, nonmatches_per_match=0, saved_nonmatches_per_match=0, blind_nonmatches=0
    )
    entries, scenes = catalog(paths), [load_scene(path) for path in paths]
    wanted = track.calibration_pairs
    plans = [p for p in plan_pairs(entries, config, 2 * wanted) if p.kind != "different_object"]
    seen, unseen = [], []
    rng = np.random.default_rng(config.seed)
    views: dict = {}
    with progress_bar(
        min(wanted, len(plans)), "calibrate visibility", show_progress, "pair"
    ) as bar:
        for plan in plans[:wanted]:
            bar.update(1)
            sample = make_pair(plan, scenes, views, config, 0)
            if sample.skipped:
                continue
            view_a = views[(plan.scene_a, plan.frame_a)]
            view_b = views[(plan.scene_b, sample.frame_b)]
            hidden_a = sample.matches.hidden_uv_a
            depth = view_a.depth[hidden_a[:, 1], hidden_a[:, 0]].astype(np.float64)
            landing, _ = warp(
                hidden_a.astype(np.float64), depth, view_a.camera.matrix,
                view_a.camera_to_world, view_b.camera.matrix, view_b.camera_to_world,
            )  # fmt: skip
            inside = inside_image(landing, view_b.camera.width, view_b.camera.height)
            kinds = [
                (sample.matches.uv_a, sample.matches.uv_b, seen),
                (hidden_a[inside], np.rint(landing[inside]).astype(np.int64), unseen),
            ]
            count = min(track.calibration_points, *(len(uv_a) for uv_a, _, _ in kinds))
            if count == 0:
                continue
            image_a = scenes[plan.scene_a].rgb(plan.frame_a)
            image_b = scenes[plan.scene_b].rgb(sample.frame_b)
            descriptors = describe_images(network, [image_a, image_b], device)
            for uv_a, uv_b, into in kinds:
                chosen = rng.choice(len(uv_a), count, replace=False)
                queries = descriptors[0][:, uv_a[chosen, 1], uv_a[chosen, 0]].T
                centre = torch.from_numpy(uv_b[chosen]).float()
                found = FrameMatcher(descriptors[1]).match(queries, centre, track.window_px)
                into.append(found[1].numpy())
    if not seen:
        raise DonkitError(
            f"no pair of views under {data} has both seen and hidden points to calibrate "
            "tracking visibility on; give more scenes (--calibration-data) or --threshold"
        )
    seen_d, unseen_d = np.concatenate(seen), np.concatenate(unseen)
    threshold, accuracy = best_threshold(seen_d, unseen_d)
    return Calibration(
        threshold=threshold,
        balanced_accuracy=accuracy,
        seen=len(seen_d),
        unseen=len(unseen_d),
        seen_median=float(np.median(seen_d)),
        unseen_median=float(np.median(unseen_d)),
        step=step,
        data=str(data),
    )


def best_threshold(seen: np.ndarray, unseen: np.ndarray) -> tuple[float, float]:
    """The threshold t maximizing ((seen < t).mean() + (unseen >= t).mean()) / 2, and that
    balanced accuracy; t is halfway between the two sorted distances it falls between."""
    values = np.sort(np.concatenate([seen, unseen]))
    candidates = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2])
    seen_sorted, unseen_sorted = np.sort(seen), np.sort(unseen)
    seen_below = np.searchsorted(seen_sorted, candidates, side="left") / len(seen)
    unseen_above = 1 - np.searchsorted(unseen_sorted, candidates, side="left") / len(unseen)
    accuracy = (seen_below + unseen_above) / 2
    best = int(np.argmax(accuracy))
    return float(candidates[best]), float(accuracy[best])


def load_or_calibrate(
    run: Path,
    network: torch.nn.Module,
    state: dict[str, Any],
    correspond: CorrespondConfig,
    track: TrackConfig,
    device: torch.device,
    data: Path | None = None,
    show_progress: bool | None = None,
) -> Calibration:
    """The run's visibility calibration: RUN/tracking/calibration.json when it was made for
    this checkpoint and config, otherwise made now (on `data`, or the run's training data) and
    written there."""
    path = Path(run) / CALIBRATION_FILE
    if data is None:
        recorded = (state.get("sources") or {}).get("data")
        if not recorded:
            raise DonkitError(
                f"{run} does not record the data it was trained on, which calibrates the "
                "visibility threshold; pass fused scenes with --calibration-data DIR, or a "
                "threshold with --threshold"
            )
        data = recorded
    data = Path(data)
    wanted = {
        "format": CALIBRATION_FORMAT,
        "step": int(state["step"]),
        "pairs": track.calibration_pairs,
        "points": track.calibration_points,
        "window_px": track.window_px,
        "data": str(data),
    }
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
            if {key: stored.get(key) for key in wanted} == wanted:
                fields = {f.name for f in dataclasses.fields(Calibration)}
                return Calibration(**{key: stored[key] for key in fields})
        except (ValueError, KeyError, TypeError):
            pass  # damaged or from another version: made again below
    if not data.exists():
        raise DonkitError(
            f"the visibility threshold of {run} is calibrated on its training data, but {data} "
            "does not exist; pass the fused training scenes with --calibration-data DIR, or a "
            "threshold with --threshold"
        )
    calibration = calibrate_visibility(
        network, data, correspond, track, device, int(state["step"]), show_progress
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dataclasses.asdict(calibration) | wanted
    write_bytes_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
    return calibration


def describe_video(
    network: torch.nn.Module, video: np.ndarray, device: torch.device
) -> torch.Tensor:
    """(T, D, H, W) float32 descriptors (CPU) of a (T, H, W, 3) uint8 video, a batch at a time."""
    return torch.cat(
        [
            describe_images(network, list(video[start : start + _BATCH_FRAMES]), device)
            for start in range(0, len(video), _BATCH_FRAMES)
        ]
    )


def query_descriptors(descriptors: torch.Tensor, queries: Queries) -> torch.Tensor:
    """(N, D) descriptors of the query points, sampled bilinearly at their (sub-pixel) positions
    in their frames of `descriptors` (T, D, H, W)."""
    features = torch.zeros(len(queries), descriptors.shape[1], dtype=descriptors.dtype)
    xy = torch.from_numpy(np.asarray(queries.xy, np.float32))
    for frame in np.unique(queries.frame).tolist():
        here = torch.from_numpy(queries.frame == frame)
        features[here] = sample_bilinear(descriptors[frame : frame + 1], xy[here][None])[0].T
    return features


def track_descriptors(
    descriptors: torch.Tensor, queries: Queries, track: TrackConfig, threshold: float
) -> Tracks:
    """Track query points through a video's descriptors.

    Each point is followed forward from its query frame to the last frame and backward to the
    first, every frame searched around where it was last seen (when `track.window_px` > 0).

    Args:
        descriptors: (T, D, H, W) float32, one descriptor image per frame.
        queries: N points, each in a frame of [0, T).
        threshold: best matches nearer than this are visible.

    Returns:
        Tracks over all T frames; at its query frame a point is at its query position, visible,
        with score 1.
    """
    frames = descriptors.shape[0]
    if len(queries) and (queries.frame.min() < 0 or queries.frame.max() >= frames):
        raise DonkitError(f"query frames must lie in [0, {frames}); got {queries.frame.tolist()}")
    count = len(queries)
    query_frame = torch.from_numpy(queries.frame)
    query_xy = torch.from_numpy(queries.xy).float()
    features = query_descriptors(descriptors, queries)
    xy = torch.zeros(count, frames, 2)
    distance = torch.full((count, frames), float("nan"))
    matchers: dict[int, FrameMatcher] = {}  # both sweeps visit most frames
    for sweep in (range(frames), range(frames - 1, -1, -1)):
        forward = sweep.start == 0
        last_seen = torch.full((count, 2), float("nan"))
        for t in sweep:
            starting = query_frame == t
            active = query_frame < t if forward else query_frame > t
            if active.any():
                if t not in matchers:
                    matchers[t] = FrameMatcher(descriptors[t])
                position, nearest = matchers[t].match(
                    features[active], last_seen[active], track.window_px, threshold,
                    "expectation", track.expectation_radius_px,
                    track.expectation_temperature * threshold,
                )  # fmt: skip
                xy[active, t] = position
                distance[active, t] = nearest
                seen = torch.nonzero(active).squeeze(1)[nearest <= threshold]
                last_seen[seen] = xy[seen, t]
            xy[starting, t] = query_xy[starting]
            distance[starting, t] = 0.0
            last_seen[starting] = query_xy[starting]
    statistic = distance.numpy()
    visible = statistic <= threshold
    return Tracks(
        xy=xy.numpy().astype(np.float32),
        visible=visible,
        score=score_from_statistic(statistic, threshold),
    )
