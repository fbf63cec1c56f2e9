"""Keypoint tracking: TAP-Vid figures of a run's descriptors against Lucas-Kanade, and speed.

On simulated videos with ground truth (`donkit sim-video`, made here unless --videos names a
folder of them), both trackers run on every video in TAP-Vid's "first" and "strided" query
modes (`tracking.videos.evaluate_videos`, what `donkit track --evaluate` runs). The
goals: donkit's average Jaccard at least Lucas-Kanade's + 0.10, and at least 10 frames a second
at 320x240 on the CPU. Speed counts everything per video (the network's descriptors of every
frame, then tracking the video's own query points); it is also given as a ratio against
Lucas-Kanade in the same process, and split into the network's share and the matching's.

With --ablation it also prints the donkit tracker's figures with each of its parts off in turn
(`ABLATIONS`). With --limits it also prints what limits each tracker (`print_limits`): its
average Jaccard with the true visibility or the true positions in place of its own, its outcome
on visible frames seen again after an occlusion against those in view since the query, and how
fast a point's descriptor changes with the viewpoint.

Run from the repository root:
    .venv/bin/python -m benchmarks.track RUN [--videos DIR] [--count N] [--out DIR] [--limits]
        [--ablation]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmarks import code_version
from collect.video import sim_videos
from descriptors.matching import FrameMatcher
from descriptors.network import load_network
from donkit.config import load_config
from donkit.table import format_table
from formats.plain import read_yaml
from formats.tapvid import TapVidVideo, frames_and_xy, read_camera_path, read_tapvid
from tracking.config import TrackConfig
from tracking.descriptor_tracker import describe_video, query_descriptors
from tracking.metrics import sample_queries, tapvid_metrics
from tracking.tracks import Queries, Tracks
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
# The donkit tracker with each of its parts off in turn (--ablation): label, config overrides.
ABLATIONS = (
    ("donkit, all parts", ()),
    ("without the camera's poses", ("track.poses.enabled=false",)),
    ("static test without the patches' agreement", ("track.poses.static_agreement=-1",)),
    ("without the moved test", ("track.poses.moved_frames=100000",)),
    ("depth search on patches alone", ("track.poses.descriptor_weight=0",)),
    ("depth not refined through planes in far frames", ("track.poses.refine_span=0",)),
    ("every projected point in the image visible", ("track.poses.visible_share=1000.0",)),
    ("without the descriptor gate on LK's steps", ("track.keep_share=0",)),
    ("without re-finding lost points", ("track.refind_share=0",)),
)
HISTORIES = ("in view since the query", "seen again after hiding")  # by hidden_since_query
ABLATION_METRICS = ("average_jaccard", "occlusion_accuracy")
LIMIT_PX = 8  # a position this near the truth counts as right in print_limits
TEMPLATE_AGES = (0, 3, 5, 10, 20)  # 0: the query frame


@dataclass
class FirstQueryTracks:
    """One video's "first" queries, their truth and each tracker's tracks of them."""

    video: TapVidVideo
    queries: Queries
    truth: np.ndarray  # (Q, T, 2) pixels (x, y)
    occluded: np.ndarray  # (Q, T) bool
    tracks: dict[str, Tracks]  # by tracker name

    @property
    def size(self) -> tuple[int, int]:
        return self.video.width, self.video.height

    def metrics(
        self,
        xy: np.ndarray,
        occluded: np.ndarray,
        frames_from_query: tuple[int, int] | None = None,
    ) -> dict[str, float]:
        """TAP-Vid metrics of predicted positions (Q, T, 2) and occlusion (Q, T), over the
        frames `frames_from_query` (low, high) away from the query (None: all after it)."""
        return tapvid_metrics(
            self.queries, self.truth, self.occluded, xy, occluded, "first", self.size,
            frames_from_query,
        )  # fmt: skip

    def jaccard(
        self,
        xy: np.ndarray,
        occluded: np.ndarray,
        frames_from_query: tuple[int, int] | None = None,
    ) -> float:
        """Average Jaccard of `metrics`."""
        return self.metrics(xy, occluded, frames_from_query)["average_jaccard"]


def first_query_tracks(trackers, files) -> list[FirstQueryTracks]:
    """Each tracker run once per video on TAP-Vid's "first" queries."""
    runs = []
    for path in files:
        tapvid = read_tapvid(path)
        queries, track = sample_queries(tapvid.target_points, tapvid.occluded, "first")
        camera = read_camera_path(path, tapvid)
        tracks = {t.name: t.track(t.prepare(tapvid.video, camera), queries) for t in trackers}
        runs.append(
            FirstQueryTracks(
                tapvid, queries, tapvid.target_points[track], tapvid.occluded[track], tracks
            )
        )
    return runs


def print_ablation(run: Path, overrides: list[str], files: list[Path]) -> None:
    """AJ and occlusion accuracy of the donkit tracker with each of ABLATIONS' parts off in
    turn ("first" queries, mean of videos)."""
    run_config = load_config(run / "config.yaml")
    rows = []
    for label, ablated in ABLATIONS:
        config = load_config(None, [*overrides, *ablated])
        donkit = descriptor_trackers(
            run, run_config.correspond, config.track, "cpu", show_progress=False, methods=["donkit"]
        )
        scores = [
            r.metrics(r.tracks["donkit"].xy, ~r.tracks["donkit"].visible)
            for r in first_query_tracks(donkit, files)
        ]
        rows.append(
            [label, " ".join(ablated) or "-"]
            + [f"{np.mean([s[key] for s in scores]):.3f}" for key in ABLATION_METRICS]
        )
    print("\nablation: the donkit tracker with each part off (query mode first, mean of videos):")
    print(format_table(["tracker", "--set", "AJ", "occlusion acc"], rows))


def print_by_distance(runs: list[FirstQueryTracks]) -> None:
    """By how many frames a visible frame lies from the query ("first" queries): the median
    pixel error there, and the average Jaccard of the frames in each of AJ_BUCKETS (each
    video's figure, then their mean): how each method copes with growing changes of
    viewpoint."""
    names = list(runs[0].tracks)
    errors = {name: {bucket: [] for bucket in BUCKETS} for name in names}
    jaccards = {name: {bucket: [] for bucket in AJ_BUCKETS} for name in names}
    for run in runs:
        away = np.arange(run.video.frames)[None] - run.queries.frame[:, None]
        for name, tracks in run.tracks.items():
            error = np.linalg.norm(tracks.xy - run.truth, axis=-1)
            for low, high in BUCKETS:
                chosen = ~run.occluded & (away >= low) & (away < high)
                errors[name][(low, high)].append(error[chosen])
            for bucket in AJ_BUCKETS:
                jaccards[name][bucket].append(run.jaccard(tracks.xy, ~tracks.visible, bucket))
    rows = []
    for low, high in BUCKETS:
        row = [_bucket_name(low, high)]
        for name in names:
            error = np.concatenate(errors[name][(low, high)])
            row += [f"{np.median(error):.1f}", f"{np.mean(error < 5):.2f}"]
        rows.append(row)
    header = ["frames from query"]
    for name in names:
        header += [f"{name} median px", f"{name} < 5 px"]
    print("\nerror on visible frames by distance from the query frame (query mode first):")
    print(format_table(header, rows))
    rows = [
        [_bucket_name(low, high)]
        + [f"{np.nanmean(jaccards[name][(low, high)]):.3f}" for name in names]
        for low, high in AJ_BUCKETS
    ]
    print("\naverage Jaccard by distance from the query frame (query mode first, mean of videos):")
    print(format_table(["frames from query", *names], rows))


def _bucket_name(low: int, high: int) -> str:
    return f"{low}-{high - 1}" if high < 10**6 else f"{low}+"


def hidden_since_query(occluded: np.ndarray, query_frame: np.ndarray) -> np.ndarray:
    """(Q, T) bool: whether the point was hidden in some frame from its query frame (Q,) up to
    and including each frame, given `occluded` (Q, T) bool. At a frame where the point is
    visible: whether it is seen again after an occlusion (True) or has been in view since the
    query (False)."""
    from_query = np.arange(occluded.shape[1])[None] >= query_frame[:, None]
    return np.logical_or.accumulate(occluded & from_query, axis=1)


def print_limits(
    runs: list[FirstQueryTracks], descriptors_of, track: TrackConfig, threshold: float
) -> None:
    """What limits each tracker ("first" queries), in three tables:
    - its average Jaccard as it is, with the true visibility in place of its own, and with the
      true positions wherever it calls the point visible;
    - the visible frames, split by whether the point was hidden since its query and by the
      distance from the query: the share it places within LIMIT_PX and calls visible, calls
      visible farther off, and calls hidden;
    - how far the descriptors' best match (over the whole frame, refined as the trackers do)
      lands when the template is the descriptor at the point's true position in the query
      frame, or k frames before (where the point is visible there), for frames at least 10
      from the query: how fast the descriptor of a point changes with the viewpoint.
    descriptors_of: (T, H, W, 3) uint8 video -> (T, D, H, W) descriptors; `track` and
    `threshold`: the trackers' sub-pixel refinement of a best match."""
    names = list(runs[0].tracks)
    oracle = {name: {"as is": [], "true visibility": [], "true positions": []} for name in names}
    history: dict[tuple[str, str, str], np.ndarray] = {}  # frames right, off, hidden
    for run in runs:
        frame = np.arange(run.video.frames)[None]
        evaluated = ~run.occluded & (frame > run.queries.frame[:, None])
        again = hidden_since_query(run.occluded, run.queries.frame)
        away = frame - run.queries.frame[:, None]
        for name, tracks in run.tracks.items():
            oracle[name]["as is"].append(run.jaccard(tracks.xy, ~tracks.visible))
            oracle[name]["true visibility"].append(run.jaccard(tracks.xy, run.occluded))
            oracle[name]["true positions"].append(run.jaccard(run.truth, ~tracks.visible))
            near = np.linalg.norm(tracks.xy - run.truth, axis=-1) < LIMIT_PX
            outcome = {
                "right": tracks.visible & near,
                "off": tracks.visible & ~near,
                "hidden": ~tracks.visible,
            }
            for seen_again in (False, True):
                for low, high in AJ_BUCKETS:
                    chosen = evaluated & (again == seen_again) & (away >= low) & (away < high)
                    label = (HISTORIES[seen_again], _bucket_name(low, high))
                    counts = np.array([(chosen & kind).sum() for kind in outcome.values()])
                    history[(*label, name)] = history.get((*label, name), 0) + counts
    print("\nwhat limits the average Jaccard (query mode first, mean of videos):")
    rows = [
        [name, *(f"{np.mean(values):.3f}" for values in oracle[name].values())] for name in names
    ]
    print(
        format_table(["method", "as is", "true visibility", "true positions where visible"], rows)
    )

    print(f"\nvisible frames: share within {LIMIT_PX} px and called visible / called visible "
          "farther off / called hidden")  # fmt: skip
    rows = []
    for since in HISTORIES:
        for low, high in AJ_BUCKETS:
            bucket = _bucket_name(low, high)
            counts = [history[(since, bucket, name)] for name in names]
            frames = sum(counts[0])
            rows.append(
                [since, bucket, str(frames)]
                + [" / ".join(f"{count / max(frames, 1):.2f}" for count in c) for c in counts]
            )
    print(format_table(["visible frames", "frames from query", "frames", *names], rows))

    errors: dict[int, list[np.ndarray]] = {age: [] for age in TEMPLATE_AGES}
    for run in runs:
        descriptors = descriptors_of(run.video.video)
        for age in TEMPLATE_AGES:
            errors[age].append(_template_errors(descriptors, run, age, track, threshold))
    rows = []
    for age in TEMPLATE_AGES:
        error = np.concatenate(errors[age])
        rows.append(
            ["the query frame" if age == 0 else f"{age} frames before", str(len(error)),
             f"{np.median(error):.1f}", f"{np.mean(error < 4):.2f}", f"{np.mean(error < 8):.2f}"]
        )  # fmt: skip
    print("\nbest match of the descriptor at the true position in an earlier frame, frames >= 10 "
          "from the query:")  # fmt: skip
    print(format_table(["template from", "matches", "median px", "< 4 px", "< 8 px"], rows))


def _template_errors(
    descriptors: torch.Tensor,
    run: FirstQueryTracks,
    age: int,
    track: TrackConfig,
    threshold: float,
) -> np.ndarray:
    """Pixel errors of best matches of templates `age` frames old (0: from the query frame) at
    frames at least 10 from the query where the point is visible, as is its template."""
    errors = []
    for target in range(run.video.frames):
        source = run.queries.frame if age == 0 else np.maximum(run.queries.frame, target - age)
        points = np.flatnonzero(
            (target - run.queries.frame >= 10)
            & ~run.occluded[:, target]
            & ~run.occluded[np.arange(len(source)), source]
        )
        if not len(points):
            continue
        templates = query_descriptors(
            descriptors, Queries(source[points], run.truth[points, source[points]])
        )
        best, _ = FrameMatcher(descriptors[target]).match(
            templates, refine="expectation", refine_radius=track.expectation_radius_px,
            temperature=track.expectation_temperature * threshold,
        )  # fmt: skip
        errors.append(np.linalg.norm(best.numpy() - run.truth[points, target], axis=1))
    return np.concatenate(errors) if errors else np.zeros(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a `donkit train` run folder")
    parser.add_argument("--videos", type=Path, help="folder of TAP-Vid videos (default: made)")
    parser.add_argument("--count", type=int, default=5, help="videos to make (default 5)")
    parser.add_argument("--out", type=Path, default=Path("out/bench_track"), help="outputs")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument(
        "--limits", action="store_true", help="also print what limits each tracker (slower)"
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="also print the donkit tracker's figures with each of its parts off in turn",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(f"code:    {code_version()}")
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

    runs = first_query_tracks(trackers, tapvid_files([videos]))
    print_by_distance(runs)
    if args.limits:
        describe_only = next(t for t in trackers if t.name == "descriptors")
        print_limits(runs, describe_only.prepare, config.track, donkit["details"]["threshold"])
    if args.ablation:
        print_ablation(args.run, args.overrides, tapvid_files([videos]))

    # Where the donkit tracker's time goes, on the first video, three times.
    network, _ = load_network(args.run)
    device = torch.device("cpu")
    first_path = tapvid_files([videos])[0]
    first = read_tapvid(first_path)
    camera = read_camera_path(first_path, first)
    queries = Queries(*frames_and_xy(first.query_points))
    describe, match = [], []
    for _ in range(3):
        started = time.perf_counter()
        descriptors = describe_video(network, first.video, device)
        describe.append(time.perf_counter() - started)
        started = time.perf_counter()
        trackers[0].track((first.video, descriptors, camera), queries)
        match.append(time.perf_counter() - started)
    frames = first.frames
    rows = [
        ["donkit, all of it", f"{donkit['frames_per_second']:.1f}",
         f"{donkit['frames_per_second'] / lk['frames_per_second']:.3f}", f">= {GOAL_FPS:.0f}",
         "PASS" if donkit["frames_per_second"] >= GOAL_FPS else "FAIL"],
        ["  network (descriptors of each frame)", f"{frames / min(describe):.1f}", "", "", ""],
        [f"  tracking ({len(queries)} points: LK, matching, poses)", f"{frames / min(match):.1f}",
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
