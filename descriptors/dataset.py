"""`donkit correspond`: correspondence datasets, DATASET/index.yaml and DATASET/pairs/XXXXXX.npz
(their format: formats.correspondences).

Pairs are written one by one (each file atomically) and index.yaml last, so a dataset with an
index is complete; an interrupted run resumes, keeping the pairs already written (each pair is
deterministic from the config's seed and its index).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from descriptors.config import CorrespondConfig
from descriptors.correspondence import BACKGROUND, BLIND, CROSS_OBJECT, MASKED
from descriptors.pairs import PairPlan, PairSample, SceneEntry, catalog, make_pair, plan_pairs
from formats import DonkitError
from formats.atomic import remove_stale_temporaries
from formats.correspondences import (
    INDEX,
    PAIRS_DIR,
    REJECTIONS,
    pair_filename,
    read_pair,
    write_pair,
)
from formats.images import write_rgb
from formats.plain import read_yaml, to_plain, write_yaml
from formats.scenes import complete_scenes, load_scene
from jobs import progress_bar, run_tasks
from reconstruct.pipeline import is_fused

SHOW_DIR = Path("show")


@dataclass
class PairRecord:
    """One planned pair as the index and the summary see it."""

    index: int
    kind: str
    scene_a: str
    frame_a: int  # frame indices (pose_data.yaml keys)
    scene_b: str
    frame_b: int
    matches: int
    nonmatches: int
    skipped: str
    rejected: dict[str, int]


@dataclass
class DatasetSummary:
    """The outcome of `donkit correspond`."""

    out: Path
    records: list[PairRecord]
    status: str  # "written", "resumed" or "complete" (found finished)
    seconds: float
    refused: list[Path]

    def line(self) -> str:
        written = [r for r in self.records if not r.skipped]
        skipped = Counter(r.skipped for r in self.records if r.skipped)
        kinds = Counter(r.kind for r in written)
        matched = [r.matches for r in written if r.kind != "different_object"]
        rejected = Counter()
        for record in written:
            rejected.update(record.rejected)
        line = f"{len(written)} pairs ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})"
        if matched:
            line += f", {np.mean(matched):.0f} matches per pair (min {min(matched)})"
        if rejected:
            line += "; samples rejected: " + ", ".join(f"{k} {n}" for k, n in rejected.items())
        if skipped:
            line += "; pairs skipped: " + ", ".join(f"{k} {n}" for k, n in skipped.items())
        line += f"; {self.status} in {self.seconds:.1f} s"
        if self.refused:
            line += f"; {len(self.refused)} unfinished .partial scene(s) refused"
        return line


def pair_arrays(sample: PairSample) -> dict[str, np.ndarray]:
    """A pair's arrays as its file holds them (formats.correspondences)."""
    return {
        "uv_a": sample.matches.uv_a.astype(np.int32),
        "uv_b": sample.matches.uv_b.astype(np.int32),
        "xyz": sample.matches.xyz.astype(np.float32),
        "nonmatch_uv_a": sample.nonmatches.uv_a.astype(np.int32),
        "nonmatch_uv_b": sample.nonmatches.uv_b.astype(np.int32),
        "nonmatch_kind": sample.nonmatches.kind.astype(np.uint8),
        "frame_b": np.array(sample.frame_b, np.int64),
        "rejected": np.array([sample.rejected.get(k, 0) for k in REJECTIONS], np.int64),
    }


def make_pairs(
    plans: list[PairPlan],
    scene_paths: list[Path],
    config: CorrespondConfig,
    out: Path,
    progress: Callable[[int], object] | None = None,
) -> list[tuple[int, str, int, int, int, dict[str, int]]]:
    """Make and write the planned pairs not on disk yet (the work of one worker).

    Returns:
        Per plan: (index, skipped reason or "", frame_b position or -1, matches, non-matches,
        rejections).
    """
    report = progress or (lambda n: None)
    scenes = [load_scene(path) for path in scene_paths]
    views: dict = {}
    results = []
    for plan in plans:
        path = out / PAIRS_DIR / pair_filename(plan.index)
        if path.is_file():  # written before an interruption
            data = read_pair(path)
            rejected = dict(zip(REJECTIONS, (int(n) for n in data["rejected"]), strict=False))
            results.append(
                (
                    plan.index,
                    "",
                    int(data["frame_b"]),
                    len(data["uv_a"]),
                    len(data["nonmatch_kind"]),
                    rejected,
                )
            )
        else:
            sample = make_pair(plan, scenes, views, config, config.saved_nonmatches_per_match)
            if not sample.skipped:
                write_pair(path, pair_arrays(sample))
            rejected = {reason: sample.rejected.get(reason, 0) for reason in REJECTIONS}
            results.append(
                (
                    plan.index, sample.skipped, -1 if sample.skipped else sample.frame_b,
                    len(sample.matches.uv_a), len(sample.nonmatches.kind), rejected,
                )
            )  # fmt: skip
        if len(views) > 256:  # keep memory bounded on large datasets
            views.clear()
        report(1)
    return results


def dataset_identity(config: CorrespondConfig, data: Path, scenes: list[Path]) -> dict[str, Any]:
    """What decides a dataset's content: the config and the scenes it was made from."""
    return {
        "config": to_plain(config),
        "data": str(Path(data).resolve()),
        "scenes": [s.name for s in scenes],
    }


def write_dataset(
    data: Path,
    out: Path,
    config: CorrespondConfig,
    workers: int = 1,
    backend: str = "local",
    overwrite: bool = False,
    show: int = 0,
    show_progress: bool | None = None,
) -> DatasetSummary:
    """Make `config.pairs` pairs from the fused scenes at or below `data` into the dataset `out`."""
    started = time.perf_counter()
    data, out = Path(data), Path(out)
    scene_paths, refused = complete_scenes(
        data, "nothing to make pairs from: collect and fuse some with `donkit collect` and `fuse`"
    )
    for path in scene_paths:
        if not is_fused(load_scene(path)):
            raise DonkitError(f"{path} is not fused; run `donkit fuse {data}` first")
    identity = dataset_identity(config, data, scene_paths)
    status = _prepare_output(out, identity, overwrite)
    entries = catalog(scene_paths)
    plans = plan_pairs(entries, config, config.pairs)
    if status == "complete":
        index = read_yaml(out / INDEX, "dataset index")
        records = [PairRecord(**entry) for entry in index["records"]]
        return DatasetSummary(out, records, status, time.perf_counter() - started, refused)

    chunks = [plans[start :: max(workers, 1)] for start in range(max(workers, 1))]
    bar = progress_bar(len(plans), f"correspond {out}", show_progress)
    try:
        tasks = [
            (chunk, [p.resolve() for p in scene_paths], config, out.resolve())
            for chunk in chunks
            if chunk
        ]
        results = run_tasks(
            make_pairs, tasks, workers, backend, bar.update, [len(c) for c in chunks if c]
        )
    finally:
        bar.close()
    frames = [[f.index for f in load_scene(path).frames] for path in scene_paths]
    by_index = {result[0]: result for chunk in results for result in chunk}
    records = []
    for plan in plans:
        _, skipped, frame_b, matches, nonmatches, rejected = by_index[plan.index]
        records.append(
            PairRecord(
                index=plan.index,
                kind=plan.kind,
                scene_a=entries[plan.scene_a].path.name,
                frame_a=frames[plan.scene_a][plan.frame_a],
                scene_b=entries[plan.scene_b].path.name,
                frame_b=frames[plan.scene_b][frame_b] if frame_b >= 0 else -1,
                matches=matches,
                nonmatches=nonmatches,
                skipped=skipped,
                rejected=rejected,
            )
        )
    if show:
        _write_show(out, records[:show], entries, frames)
    _write_index(out, identity, records)
    return DatasetSummary(out, records, status, time.perf_counter() - started, refused)


def _prepare_output(out: Path, identity: dict[str, Any], overwrite: bool) -> str:
    """'complete' (same dataset already there), 'resumed' or 'written'; refuses to mix."""
    if (out / INDEX).is_file():
        found = read_yaml(out / INDEX, "dataset index")
        same = isinstance(found, dict) and {k: found.get(k) for k in identity} == identity
        if same and not overwrite:
            return "complete"
        if not overwrite:
            raise DonkitError(
                f"{out} already holds a dataset made from other data or settings; pass "
                "--overwrite to replace it, or choose another --out"
            )
        shutil.rmtree(out)
    elif (out / PAIRS_DIR).is_dir():
        state = out / ".correspond_state.yaml"
        found = read_yaml(state, "dataset state") if state.is_file() else None
        if found != identity and not overwrite:
            raise DonkitError(
                f"{out} holds an unfinished dataset made with other settings; run again with "
                "those settings to finish it, or pass --overwrite to start afresh"
            )
        if found != identity:
            shutil.rmtree(out)
        else:
            remove_stale_temporaries(out, recursive=True)
            return "resumed"
    try:
        (out / PAIRS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DonkitError(
            f"cannot write the dataset to {out} ({error.strerror}); choose another --out"
        ) from None
    write_yaml(out / ".correspond_state.yaml", identity)
    return "written"


def _write_index(out: Path, identity: dict[str, Any], records: list[PairRecord]) -> None:
    written = [r for r in records if not r.skipped]
    write_yaml(
        out / INDEX,
        {
            **identity,
            "pairs": [
                {
                    "file": str(PAIRS_DIR / pair_filename(r.index)),
                    "scene_a": r.scene_a,
                    "frame_a": r.frame_a,
                    "scene_b": r.scene_b,
                    "frame_b": r.frame_b,
                    "kind": r.kind,
                }
                for r in written
            ],
            "records": [to_plain(r) for r in records],
        },
    )
    (out / ".correspond_state.yaml").unlink(missing_ok=True)


_KIND_COLOURS = {  # BGR-free RGB for drawing
    MASKED: (255, 60, 60),
    BACKGROUND: (60, 120, 255),
    BLIND: (255, 200, 0),
    CROSS_OBJECT: (255, 0, 255),
}


def _write_show(
    out: Path, records: list[PairRecord], entries: list[SceneEntry], frames: list[list[int]]
) -> None:
    """PNGs of pairs for a person to look at: A beside B, match lines, non-match dots."""
    (out / SHOW_DIR).mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    names = {entry.path.name: entry.path for entry in entries}
    for record in records:
        if record.skipped:
            continue
        data = read_pair(out / PAIRS_DIR / pair_filename(record.index))
        scene_a, scene_b = load_scene(names[record.scene_a]), load_scene(names[record.scene_b])
        image_a = scene_a.rgb([f.index for f in scene_a.frames].index(record.frame_a))
        image_b = scene_b.rgb([f.index for f in scene_b.frames].index(record.frame_b))
        width = image_a.shape[1]
        canvas = np.ascontiguousarray(np.concatenate([image_a, image_b], axis=1))
        shown = rng.choice(len(data["uv_a"]), min(30, len(data["uv_a"])), replace=False)
        for a, b in zip(data["uv_a"][shown], data["uv_b"][shown], strict=True):
            colour = tuple(int(c) for c in rng.integers(64, 256, 3))
            cv2.line(
                canvas,
                (int(a[0]), int(a[1])),
                (int(b[0]) + width, int(b[1])),
                colour,
                1,
                cv2.LINE_AA,
            )
            cv2.circle(canvas, (int(a[0]), int(a[1])), 2, colour, -1)
            cv2.circle(canvas, (int(b[0]) + width, int(b[1])), 2, colour, -1)
        kinds = data["nonmatch_kind"]
        for pick in rng.choice(len(kinds), min(60, len(kinds)), replace=False):
            u, v = data["nonmatch_uv_b"][pick]
            cv2.drawMarker(
                canvas,
                (int(u) + width, int(v)),
                _KIND_COLOURS[int(kinds[pick])],
                cv2.MARKER_TILTED_CROSS,
                5,
                1,
            )
        cv2.putText(
            canvas,
            record.kind,
            (4, 14),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        write_rgb(out / SHOW_DIR / f"{record.index:06d}.png", canvas)
