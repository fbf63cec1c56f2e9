"""Correspondence generation speed and truth, against a plain per-pixel Python loop.

Speed: pairs per second on one core at 320x240 with 10,000 sampling attempts and 150 non-matches
per match, for views already in memory (loading PNGs timed apart), with the matches kept capped
as the config does (1,000) and uncapped (every match gets its 150 non-matches). The baseline is
the same work written as a plain loop over pixels and samples, timed in the same run on the same
pairs (on fewer of them: it is slow).
Truth: a dataset of the demo's fused scenes measured against ground truth (descriptors.truth).

Run from the repository root:
    .venv/bin/python -m benchmarks.correspond [--pairs N] [--loop-pairs N]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import collect
from descriptors.config import CorrespondConfig
from descriptors.correspondence import (
    BLIND,
    View,
    find_matches,
    keep_subset,
    nonmatches_for,
    random_pairs,
)
from descriptors.dataset import write_dataset
from descriptors.pairs import load_view
from descriptors.truth import check_dataset
from donkit.table import format_table
from formats.scenes import find_scenes, load_scene
from geometry import invert_pose
from reconstruct import FuseConfig, fuse

GOAL_PAIRS_PER_SECOND = 100
GOAL_SPEEDUP = 50


def vectorized_pair(a: View, b: View, config: CorrespondConfig, cap: bool, rng) -> int:
    """One pair as the pipeline makes it; returns the number of samples made."""
    matches = find_matches(a, b, config.attempts, config.occlusion_margin_m, rng)
    if cap:
        matches = keep_subset(matches, config.matches, rng)
    nonmatches = nonmatches_for(
        matches, b, config.nonmatches_per_match, config.masked_share, config.nonmatch_radius_px, rng
    )
    blind = random_pairs(a.mask, b.mask, config.blind_nonmatches, False, BLIND, rng)
    return len(matches.uv_a) + len(nonmatches.kind) + len(blind.kind)


def loop_pair(a: View, b: View, config: CorrespondConfig, cap: bool, rng) -> int:
    """The same pair written the plain way: one pixel, one sample at a time."""
    k_a, k_b = a.camera.matrix, b.camera.matrix
    a_to_b = invert_pose(b.camera_to_world) @ a.camera_to_world
    height, width = b.depth.shape
    candidates = [(int(p) % a.camera.width, int(p) // a.camera.width) for p in a.match_pixels]
    rng.shuffle(candidates)
    matches = []
    for u, v in candidates[: config.attempts]:
        z = float(a.depth[v, u])
        x = (u - k_a[0, 2]) / k_a[0, 0] * z
        y = (v - k_a[1, 2]) / k_a[1, 1] * z
        point = a_to_b[:3, :3] @ np.array([x, y, z]) + a_to_b[:3, 3]
        if point[2] <= 0:
            continue
        ub = round(k_b[0, 0] * point[0] / point[2] + k_b[0, 2])
        vb = round(k_b[1, 1] * point[1] / point[2] + k_b[1, 2])
        if not (0 <= ub < width and 0 <= vb < height):
            continue
        seen = float(b.depth[vb, ub])
        if seen <= 0 or b.on_edge[vb, ub] or abs(point[2] - seen) > config.occlusion_margin_m:
            continue
        matches.append((u, v, ub, vb))
    if cap and len(matches) > config.matches:
        matches = [matches[i] for i in rng.choice(len(matches), config.matches, replace=False)]
    masked = round(config.nonmatches_per_match * config.masked_share)
    object_pixels = [(int(p) % width, int(p) // width) for p in b.object_pixels]
    background = [(int(p) % width, int(p) // width) for p in b.background_pixels]
    nonmatches = []
    for u, v, ub, vb in matches:
        for draw in range(config.nonmatches_per_match):
            pool = object_pixels if draw < masked else background
            while True:
                x, y = pool[int(rng.integers(len(pool)))]
                if math.hypot(x - ub, y - vb) >= config.nonmatch_radius_px:
                    break
            nonmatches.append((u, v, x, y))
    for _ in range(config.blind_nonmatches):
        nonmatches.append(
            (
                *candidates[int(rng.integers(len(candidates)))],
                int(rng.integers(width)),
                int(rng.integers(height)),
            )
        )
    return len(matches) + len(nonmatches)


def timed(function, pairs, config, cap) -> tuple[float, int]:
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    samples = sum(function(a, b, config, cap, rng) for a, b in pairs)
    return time.perf_counter() - started, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100, help="pairs timed (default 100)")
    parser.add_argument("--loop-pairs", type=int, default=3, help="of them, timed as a loop too")
    parser.add_argument("--truth-pairs", type=int, default=300, help="pairs checked for truth")
    args = parser.parse_args()
    print(f"command: {shlex.join(sys.orig_argv)}")
    config = CorrespondConfig()
    with tempfile.TemporaryDirectory(prefix="bench-correspond-") as temporary:
        root = Path(temporary)
        collect_config = dataclasses.replace(collect.CollectConfig(), scenes=4)
        collect.collect(collect_config, root / "data", workers=2, show_progress=False)
        fuse(root / "data", FuseConfig(), workers=2, show_progress=False)

        scenes = [load_scene(path) for path in find_scenes(root / "data")[0]]
        started = time.perf_counter()
        views = [
            [
                load_view(s, i, config.edge_threshold_m, config.sensor_tolerance)
                for i in range(len(s.frames))
            ]
            for s in scenes
        ]
        loading = (time.perf_counter() - started) / sum(len(v) for v in views)
        rng = np.random.default_rng(1)
        pairs = []
        while len(pairs) < args.pairs:
            scene = views[int(rng.integers(len(views)))]
            i, j = rng.choice(len(scene), 2, replace=False)
            if len(find_matches(scene[i], scene[j], 500, config.occlusion_margin_m, rng).uv_a) > 50:
                pairs.append((scene[i], scene[j]))
        for a, b in pairs:  # the per-view pixel lists are part of loading, not of a pair
            for view in (a, b):
                view.match_pixels, view.object_uv, view.background_uv  # noqa: B018
        rows = []
        for cap in (True, False):
            fast, samples = timed(vectorized_pair, pairs, config, cap)
            slow, _ = timed(loop_pair, pairs[: args.loop_pairs], config, cap)
            fast_per_pair = fast / len(pairs)
            slow_per_pair = slow / args.loop_pairs
            rows.append(
                [
                    f"pairs/s, matches {'capped at 1,000' if cap else 'uncapped'}",
                    f"loop {1 / slow_per_pair:.2f} pairs/s",
                    f"{1 / fast_per_pair:.0f} pairs/s ({samples / len(pairs):,.0f} samples a pair)",
                    f"{slow_per_pair / fast_per_pair:.0f}x",
                    f">= {GOAL_PAIRS_PER_SECOND} pairs/s, >= {GOAL_SPEEDUP}x",
                ]
            )
        count = sum(len(v) for v in views)
        print(f"views:   {count} views of 4 demo scenes, loaded at {1000 * loading:.1f} ms each")
        print()
        print(format_table(["measurement", "baseline", "result", "ratio", "goal"], rows))

        truth_config = dataclasses.replace(config, pairs=args.truth_pairs)
        write_dataset(root / "data", root / "corr", truth_config, workers=2, show_progress=False)
        truth = check_dataset(root / "corr", root / "data", config.nonmatch_radius_px)
    print()
    print(
        format_table(
            ["against ground truth", "result", "goal"],
            [
                ["matches checked", f"{truth.matches:,}", ""],
                [
                    "error in B, median",
                    f"{np.median(truth.error_px):.2f} px",
                    "<= 0.75 px (rounding alone: 0.38)",
                ],
                [
                    "error in B, 99th percentile",
                    f"{np.percentile(truth.error_px, 99):.2f} px",
                    "<= 2 px",
                ],
                ["really hidden in B", f"{truth.hidden / truth.matches:.3%}", "<= 0.5 %"],
                [
                    "masked non-matches within the radius",
                    f"{truth.masked_within_radius} of {truth.masked_nonmatches:,}",
                    "0",
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
