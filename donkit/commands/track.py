"""`donkit track`: keypoints through a video with a run's descriptors (or Lucas-Kanade)."""

from __future__ import annotations

import argparse
from pathlib import Path

from donkit.config import load_config
from donkit.options import add_command, add_config_options, add_device_option, trained_run_config
from donkit.summaries import tracking_lines
from formats import DonkitError

NAME = "track"
USES_TORCH = True  # the command line sets up torch's CPU threads for it (donkit/cli.py)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        NAME,
        "track keypoints through a video with a run's descriptors (or Lucas-Kanade)",
        """\
        Track points through a video (an .mp4, a folder of frames, or a TAP-Vid .npz) with
        run RUN. Each point is described in its query frame and followed from frame to frame
        by pyramidal Lucas-Kanade with a forward-backward check; a step is kept while the
        point's descriptor stays within track.keep_share times a distance threshold of the
        query's (calibrated on the run's training data, kept in
        RUN/tracking/calibration.json). A point lost that way is found again where its
        descriptor matches within track.refind_share of the threshold, refined by
        Lucas-Kanade from its query frame. --method descriptors uses the descriptors alone
        (in every frame the best match within track.window_px of where the point was last
        seen, or anywhere, refined by a spatial expectation, visible below the threshold);
        --method lk uses Lucas-Kanade alone (no RUN needed). Writes OUT/tracks.csv
        (frame,point_id,x,y,visible,score; visible where score >= 0.5) and OUT/overlay.mp4
        (filled markers where visible, rings where not, short trails). With a RUN, the run's
        own config is used (--set changes it); without, --config.

        With --evaluate, the videos are TAP-Vid files with ground truth (made by
        `donkit sim-video`; --video names a file or a folder of them, and may be repeated)
        and the three methods run on each: OUT/V/donkit/, OUT/V/descriptors/ and OUT/V/lk/
        for each video V, and TAP-Vid's metrics (average Jaccard, occlusion accuracy,
        position accuracy within 1-16 px of a 256x256 frame) in the query modes first and
        strided, with each method's speed, in OUT/metrics.json.""",
    )
    parser.add_argument(
        "run", type=Path, nargs="?", metavar="RUN", help="a `donkit train` run folder"
    )
    parser.add_argument(
        "--video",
        type=Path,
        action="append",
        metavar="V",
        help="the video: an .mp4, a folder of frames or an .npz (with --evaluate: a TAP-Vid .npz "
        "or a folder of them; repeat --video for more)",
    )
    parser.add_argument(
        "--points",
        metavar='"x,y;x,y"',
        help="pixels to track (column, row), in the query frame",
    )
    parser.add_argument(
        "--query-frame",
        type=int,
        metavar="T",
        help="the frame --points are given in (default 0); alone, track the ground-truth points "
        "visible in frame T (.npz) or 32 corners found there",
    )
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="also score the three methods against the videos' ground truth (TAP-Vid "
        ".npz), and write OUT/metrics.json",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--method",
        choices=["donkit", "descriptors", "lk"],
        default="donkit",
        help="tracker: donkit (Lucas-Kanade steps guarded and found again by the run's "
        "descriptors; the default), descriptors (the descriptors alone) or lk (Lucas-Kanade "
        "alone)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="D",
        help="descriptor distance below which a point is visible, instead of the calibrated one",
    )
    parser.add_argument(
        "--calibration-data",
        type=Path,
        metavar="DATA",
        help="fused scenes to calibrate the visibility threshold on (default: the run's "
        "training data)",
    )
    add_config_options(parser, "track.window_px=32")
    add_device_option(parser)


def run(args: argparse.Namespace) -> None:
    from tracking.tracks import parse_points
    from tracking.videos import (
        DESCRIPTOR_METHODS,
        descriptor_trackers,
        evaluate_videos,
        lucas_kanade_tracker,
        track_video_file,
    )

    if args.video is None:
        raise DonkitError("give --video V to track (with --evaluate: TAP-Vid files to measure on)")
    if args.evaluate and args.points is not None:
        raise DonkitError("--evaluate tracks the files' own points; leave out --points")
    if not args.evaluate and len(args.video) > 1:
        raise DonkitError("give one --video to track, or several with --evaluate")
    needs_run = args.evaluate or args.method in DESCRIPTOR_METHODS
    if needs_run and args.run is None:
        raise DonkitError("tracking with descriptors needs a trained RUN folder (or --method lk)")
    if args.run is not None:
        if args.config is not None:
            raise DonkitError("with a RUN, its own config is used; leave out --config (use --set)")
        config = trained_run_config(args.run, args.overrides, "descriptors", "donkit track")
    else:
        config = load_config(args.config, args.overrides)
    lk = lucas_kanade_tracker(config.track)
    trackers = [lk]
    if needs_run:
        methods = DESCRIPTOR_METHODS if args.evaluate else (args.method,)
        trackers = descriptor_trackers(
            args.run,
            config.correspond,
            config.track,
            args.device or "auto",
            args.threshold,
            args.calibration_data,
            methods=methods,
        )
    if args.evaluate:
        results = evaluate_videos(
            [*trackers, lk], args.video, args.out, config.track.query_stride, config.video.fps
        )
        print("\n".join(tracking_lines(results, args.out)))
        return
    points = parse_points(args.points) if args.points is not None else None
    tracker = trackers[0]
    result = track_video_file(tracker, args.video[0], args.out, points, args.query_frame)
    tracks = result.tracks
    print(
        f"track: {tracks.points} points over {tracks.frames} frames ({tracker.name}), visible "
        f"in {100 * tracks.visible.mean():.0f} % of them, {result.frames_per_second:.1f} "
        f"frames/s -> {result.files[0]}, {result.files[1]}"
    )
