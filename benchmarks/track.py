"""Keypoint tracking: TAP-Vid figures of a run's descriptors against Lucas-Kanade, and speed.

On simulated videos with ground truth (`donkit sim-video`, made here unless --videos names a
folder of them), both trackers run on every video in TAP-Vid's "first" and "strided" query
modes (`tracking.videos.evaluate_videos`, what `donkit track --evaluate` runs). The
goals: donkit's average Jaccard at least Lucas-Kanade's + 0.10, and at least 10 frames a second
at 320x240 on the CPU. Speed counts everything per video (the network's descriptors of every
frame, then tracking the video's own query points); it is also given as a ratio against
Lucas-Kanade in the same process, and split into the network's share and the matching's.

Run from the repository root:
    .venv/bin/python -m benchmarks.track RUN [--videos DIR] [--count N] [--out DIR]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from collect.video import sim_videos
from descriptors.network import load_network
from donkit.config import load_config
from donkit.table import format_table
from formats.plain import read_yaml
from formats.tapvid import frames_and_xy, read_tapvid
from tracking.descriptor_tracker import describe_video
from tracking.metrics import sample_queries, tapvid_metrics
from tracking.tracks import Queries
from tracking.videos import (
    descriptor_trackers,
    evaluate_videos,
    lucas_kanade_tracker,
    metrics_table,
    tapvid_files,
)

GOAL_MARGIN = 0.10
GOAL_FPS = 10.0


BUCKETS = ((1, 3), (3, 8), (8, 16), (16, 30), (30, 10**6))


AJ_BUCKETS = ((1, 10), (10, 30), (30, 10**6))  # the 0-10, 10-30 and 30+ frames


def print_by_distance(trackers, files) -> None:
    """By how many frames a visible frame lies from the query ("first" queries): the median
    pixel error there, and the average Jaccard of the frames in each of AJ_BUCKETS (each
    video's figure, then their mean): how each method copes with growing changes of
    viewpoint."""
    errors = {tracker.name: {bucket: [] for bucket in BUCKETS} for tracker in trackers}
    jaccards = {tracker.name: {bucket: [] for bucket in AJ_BUCKETS} for tracker in trackers}
    for path in files:
        tapvid = read_tapvid(path)
        queries, track = sample_queries(tapvid.target_points, tapvid.occluded, "first")
        truth, occluded = tapvid.target_points[track], tapvid.occluded[track]
        away = np.arange(tapvid.frames)[None] - queries.frame[:, None]
        size = (tapvid.video.shape[2], tapvid.video.shape[1])
        for tracker in trackers:
            tracks = tracker.track(tracker.prepare(tapvid.video), queries)
            error = np.linalg.norm(tracks.xy - truth, axis=-1)
            for low, high in BUCKETS:
                chosen = ~occluded & (away >= low) & (away < high)
                errors[tracker.name][(low, high)].append(error[chosen])
            for bucket in AJ_BUCKETS:
                figures = tapvid_metrics(
                    queries, truth, occluded, tracks.xy, ~tracks.visible, "first", size, bucket
                )
                jaccards[tracker.name][bucket].append(figures["average_jaccard"])
    rows = []
    for low, high in BUCKETS:
        row = [f"{low}-{high - 1}" if high < 10**6 else f"{low}+"]
        for tracker in trackers:
            error = np.concatenate(errors[tracker.name][(low, high)])
            row += [f"{np.median(error):.1f}", f"{np.mean(error < 5):.2f}"]
        rows.append(row)
    header = ["frames from query"]
    for tracker in trackers:
        header += [f"{tracker.name} median px", f"{tracker.name} < 5 px"]
    print("\nerror on visible frames by distance from the query frame (query mode first):")
    print(format_table(header, rows))
    rows = [
        [f"{low}-{high - 1}" if high < 10**6 else f"{low}+"]
        + [f"{np.nanmean(jaccards[tracker.name][(low, high)]):.3f}" for tracker in trackers]
        for low, high in AJ_BUCKETS
    ]
    print("\naverage Jaccard by distance from the query frame (query mode first, mean of videos):")
    print(format_table(["frames from query", *(tracker.name for tracker in trackers)], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a `donkit train` run folder")
    parser.add_argument("--videos", type=Path, help="folder of TAP-Vid videos (default: made)")
    parser.add_argument("--count", type=int, default=5, help="videos to make (default 5)")
    parser.add_argument("--out", type=Path, default=Path("out/bench_track"), help="outputs")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"command: {shlex.join(sys.orig_argv)}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"code:    git {commit.stdout.strip()}")
    config = load_config(None, [f"video.videos={args.count}", *args.overrides])
    videos = args.videos
    if videos is None:
        videos = args.out / "videos"
        made = sim_videos(config.collect, config.video, videos, workers=2, show_progress=False)
        print(f"videos:  {made.line()} -> {videos}")
    for path in tapvid_files([videos]):
        meta = path.with_suffix(".yaml")
        if meta.is_file():
            data = read_yaml(meta)
            change = min(data["viewpoint_change_deg"].values())
            hidden = 1 - data["occlusion"]["visible"]
            print(f"  {path.stem}: viewpoint change >= {change:.0f} deg, {100 * hidden:.0f} % "
                  f"of track frames occluded (by the arm {100 * data['occlusion']['by_arm']:.0f}"
                  f" %, by objects {100 * data['occlusion']['by_object']:.0f} %)")  # fmt: skip

    run_config = load_config(args.run / "config.yaml")
    trackers = [
        *descriptor_trackers(args.run, run_config.correspond, config.track, "cpu"),
        lucas_kanade_tracker(config.track),
    ]
    results = evaluate_videos(
        trackers, [videos], args.out / "track", config.track.query_stride, config.video.fps,
        show_progress=False,
    )  # fmt: skip
    print()
    print(format_table(*(lambda t: (t[0], t[1:]))(metrics_table(results))))
    donkit, lk = results["donkit"], results["lk"]
    print()
    print(f"threshold: {donkit['details']['threshold']:.4f} (calibrated: "
          f"{donkit['details'].get('calibration', 'given')})")  # fmt: skip

    print_by_distance(trackers, tapvid_files([videos]))

    # Where the donkit tracker's time goes, on the first video, three times.
    network, _ = load_network(args.run)
    device = torch.device("cpu")
    first = read_tapvid(tapvid_files([videos])[0])
    queries = Queries(*frames_and_xy(first.query_points))
    describe, match = [], []
    for _ in range(3):
        started = time.perf_counter()
        descriptors = describe_video(network, first.video, device)
        describe.append(time.perf_counter() - started)
        started = time.perf_counter()
        trackers[0].track((first.video, descriptors), queries)
        match.append(time.perf_counter() - started)
    frames = first.frames
    rows = [
        ["donkit, all of it", f"{donkit['frames_per_second']:.1f}",
         f"{donkit['frames_per_second'] / lk['frames_per_second']:.3f}", f">= {GOAL_FPS:.0f}",
         "PASS" if donkit["frames_per_second"] >= GOAL_FPS else "FAIL"],
        ["  network (descriptors of each frame)", f"{frames / min(describe):.1f}", "", "", ""],
        [f"  tracking ({len(queries)} points: LK and matching)", f"{frames / min(match):.1f}",
         "", "", ""],
        ["lk", f"{lk['frames_per_second']:.1f}", "1.000", "", ""],
    ]  # fmt: skip
    height, width = first.video.shape[1:3]
    print(f"\nspeed at {width}x{height} (frames/s; ratio against Lucas-Kanade in this process):")
    print(format_table(["what", "frames/s", "vs lk", "goal", "pass"], rows))
    margin = donkit["average_jaccard"] - lk["average_jaccard"]
    print(
        f"\naverage Jaccard (query mode first): donkit {donkit['average_jaccard']:.3f}, lk "
        f"{lk['average_jaccard']:.3f}, margin {margin:+.3f} (goal >= +{GOAL_MARGIN:.2f}: "
        f"{'PASS' if margin >= GOAL_MARGIN else 'FAIL'})"
    )


if __name__ == "__main__":
    main()
