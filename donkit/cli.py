"""The `donkit` command line: one command, a subcommand per stage.

The CLI parses arguments, loads the typed config and calls the stage; it holds no algorithm.
A user's mistake (DonkitError) prints one line and exits 1; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from donkit.config import DonkitConfig, commented_yaml, describe_fields, load_config
from donkit.depth_cli import add_depth_command, run_depth
from donkit.options import add_config_options, add_run_folder_options
from donkit.summaries import evaluation_lines, tracking_lines
from donkit.table import format_table
from formats import DonkitError

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130


def _default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _add_parallel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=_default_workers(),
        metavar="K",
        help="worker processes, a scene at a time each (default: the number of CPUs here)",
    )
    parser.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="'local' worker processes, or 'ray' tasks (optional extra donkit[cluster]; a local "
        "Ray instance, or the cluster at RAY_ADDRESS whose nodes all see the data)",
    )


def _add_collect_options(parser: argparse.ArgumentParser) -> None:
    _add_parallel_options(parser)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace scenes that exist (otherwise a complete scene made with the same config "
        "and seed is kept, an interrupted one resumed, and any other is an error)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="donkit",
        description="Self-supervised robot perception: simulated RGB-D collection, fusion, "
        "dense object descriptors and depth estimation.",
        epilog="Run `donkit COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=metadata.version("donkit"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    collect = commands.add_parser(
        "collect",
        help="record RGB-D scenes with a simulated arm",
        description=textwrap.dedent(
            """\
            Record scenes: objects rest on a table, a simulated arm (Franka Panda or KUKA iiwa)
            moves a camera through views on a spherical cap around them, and each view is
            written as RGB, depth (uint16 mm) and the camera pose from forward kinematics, in
            the Dense Object Nets layout under OUT/scene_XXXX/. Simulator ground truth (meshes,
            object poses, segmentation) goes to ground_truth/ beside it. Scenes are written into
            scene_XXXX.partial/ and renamed when complete; running the same command again
            resumes interrupted scenes and keeps finished ones."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_options(collect)
    collect.add_argument("--out", type=Path, metavar="DIR", help="output folder for the scenes")
    collect.add_argument(
        "--scenes", type=int, metavar="N", help="number of scenes (overrides collect.scenes)"
    )
    _add_collect_options(collect)
    collect.add_argument(
        "--gui", action="store_true", help="show pybullet's window (needs a display; one worker)"
    )
    collect.add_argument(
        "--list-objects", action="store_true", help="list the object library and exit"
    )

    fuse = commands.add_parser(
        "fuse",
        help="fuse scenes into meshes, rendered depth and object masks",
        description=textwrap.dedent(
            """\
            Fuse each complete scene at or below DATA (a scene folder, or a folder of scenes):
            find the table plane and the point the cameras look at from the data, fuse the depth
            of every frame inside the workspace above the table into a TSDF (Open3D), crop the
            mesh to the objects and drop floating fragments, then render the mesh into every
            view. Writes processed/fusion_mesh.ply, processed/rendered_images/XXXXXX_depth.png
            (uint16 mm) and processed/image_masks/XXXXXX_mask.png (nonzero = object). Reads
            only processed/, so scenes recorded elsewhere in the Dense Object Nets layout fuse
            too. Fused scenes are skipped unless --overwrite."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fuse.add_argument("data", type=Path, metavar="DATA", help="a scene, or a folder of scenes")
    add_config_options(fuse)
    fuse.add_argument(
        "--voxel", type=float, metavar="M", help="TSDF voxel size in metres (fuse.voxel_m)"
    )
    _add_parallel_options(fuse)
    fuse.add_argument(
        "--overwrite", action="store_true", help="fuse again scenes that are already fused"
    )
    fuse.add_argument(
        "--evaluate",
        action="store_true",
        help="compare each scene with its simulator ground truth (mesh Chamfer-L1, F-score, "
        "normal consistency per object; mask IoU; rendered against sensor depth), write the "
        "scene's metrics.json and print a table",
    )

    correspond = commands.add_parser(
        "correspond",
        help="make a dataset of pixel matches and non-matches between views",
        description=textwrap.dedent(
            """\
            Make correspondence pairs from the fused scenes at or below DATA (run `donkit fuse`
            first): pixels of a view A's object mask are moved into a view B with the rendered
            mesh depth and the poses, and kept as matches where B sees the same point; non-matches
            are drawn on B's mask and background away from the match, blind (random pixels), and
            between views of two different objects. Pair kinds (same_object, different_object,
            multi_object) follow the odds in the config. Writes DIR/index.yaml and
            DIR/pairs/XXXXXX.npz (uv_a, uv_b, xyz, nonmatch_uv_a, nonmatch_uv_b, nonmatch_kind);
            an interrupted run resumes."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    correspond.add_argument("data", type=Path, metavar="DATA", help="fused scenes")
    correspond.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset folder")
    add_config_options(correspond)
    correspond.add_argument("--pairs", type=int, metavar="N", help="pairs (correspond.pairs)")
    correspond.add_argument(
        "--matches", type=int, metavar="M", help="most matches kept per pair (correspond.matches)"
    )
    correspond.add_argument(
        "--nonmatches",
        type=int,
        metavar="P",
        help="non-matches saved per match (correspond.saved_nonmatches_per_match)",
    )
    _add_parallel_options(correspond)
    correspond.add_argument(
        "--overwrite", action="store_true", help="replace a dataset made with other settings"
    )
    correspond.add_argument(
        "--show",
        type=int,
        default=0,
        metavar="N",
        help="also write DIR/show/XXXXXX.png for the first N pairs: A beside B, match lines, "
        "non-match marks (red masked, blue background, yellow blind, magenta cross-object)",
    )

    train = commands.add_parser(
        "train",
        help="train a dense descriptor network on fused scenes",
        description=textwrap.dedent(
            """\
            Train a fully convolutional network mapping an image to a descriptor per pixel, with
            the pixelwise contrastive loss of Dense Object Nets, on pairs drawn on the fly from
            the fused scenes at or below DATA (the `correspond` section's pair policy; the
            `train` section for the rest). Writes RUN/config.yaml, RUN/log.jsonl (loss terms
            every train.log_every steps), RUN/tb (TensorBoard), RUN/checkpoints/step_XXXXXX.pt
            and last.pt, and RUN/train_summary.json. With --val, the loss on held-out pairs is
            tracked too. Scale out with torchrun: `torchrun --nproc_per_node N -m donkit.cli
            train ...` (each process draws train.pairs_per_step pairs a step)."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_folder_options(train, "fused training scenes")
    train.add_argument("--val", type=Path, metavar="DATA", help="fused held-out scenes")
    add_config_options(train)
    train.add_argument("--steps", type=int, metavar="N", help="total steps (train.steps)")
    train.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        help="where to train (train.device; auto: cuda when present)",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="measure a trained run's descriptors on held-out scenes, against baselines",
        description=textwrap.dedent(
            """\
            Dense Object Nets' evaluation: on pairs of views of the fused held-out scenes under
            DATA, the best match of each true match's pixel of A is the pixel of B with the
            nearest descriptor (searched over all of B). Reports its pixel error (median, mean,
            90th percentile, shares within 5/10/20 px, area under the PCK curve to 20 px), its
            3D error through B's rendered depth, and the share of B's object pixels nearer than
            the true match, for the run's network ("donkit"), dense SIFT ("sift") and the same
            network untrained ("random_init"), on the same pairs, overall and by pair kind
            (same object, multi-object). Pairs of different objects have no true matches: for
            them, the share of points whose best match on the other object is nearer than the
            median true match. Writes RUN/eval/metrics.json and RUN/eval/cdf.png (the share of
            matches within each pixel error, per method)."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("run", type=Path, metavar="RUN", help="a `donkit train` run folder")
    evaluate.add_argument(
        "--data", type=Path, required=True, metavar="DATA", help="held-out scenes"
    )
    evaluate.add_argument("--pairs", type=int, default=100, metavar="N", help="pairs (default 100)")
    evaluate.add_argument(
        "--matches", type=int, default=100, metavar="M", help="matches per pair (default 100)"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the pairs (default 0)")
    evaluate.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")

    visualize = commands.add_parser(
        "visualize",
        help="draw a trained run's descriptors, distance heatmaps and best matches",
        description=textwrap.dedent(
            """\
            Draw a run's descriptors on held-out pairs of views of the fused scenes under DATA,
            into OUT: pair_XX_descriptors.png (A and B beside their descriptors as colours: D = 3
            shown directly, more projected onto three principal components, one basis for all
            images) and pair_XX_matches.png (for a few true matches: the pixel of A, and over B
            the heatmap of descriptor distance to it, the best match as a green circle and the
            true match as a blue cross). With --html, OUT/viewer.html: one self-contained page
            where hovering a pixel of one image shows the heatmap and best match in the others."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    visualize.add_argument("run", type=Path, metavar="RUN", help="a `donkit train` run folder")
    visualize.add_argument(
        "--data", type=Path, required=True, metavar="DATA", help="held-out scenes"
    )
    visualize.add_argument(
        "--out", type=Path, required=True, metavar="OUT", help="folder for the pictures"
    )
    visualize.add_argument("--pairs", type=int, default=4, metavar="N", help="pairs (default 4)")
    visualize.add_argument(
        "--pixels", type=int, default=3, metavar="P", help="matches drawn per pair (default 3)"
    )
    visualize.add_argument("--html", action="store_true", help="also write OUT/viewer.html")
    visualize.add_argument("--seed", type=int, default=0, help="seed of the pairs (default 0)")
    visualize.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")

    add_depth_command(commands)

    sim_video = commands.add_parser(
        "sim-video",
        help="simulate videos with ground-truth point tracks (TAP-Vid files)",
        description=textwrap.dedent(
            """\
            Simulate videos for measuring keypoint tracking: the arm sweeps its camera around
            objects on the table (the `video` section: 110-140 degrees of azimuth, so that every
            object is seen from directions at least video.min_viewpoint_change_deg apart) while
            some objects slide and turn along scripted paths and a second arm passes its hand
            between the camera and the objects. Points sampled on the objects' exact meshes are
            projected into every frame and marked occluded where the rendered depth shows
            something in front of them (another object, an arm, the object's own near side) or
            they leave the image. Writes OUT/video_XXXX.npz (TAP-Vid: video, target_points,
            occluded, query_points), OUT/video_XXXX.mp4 and OUT/video_XXXX.yaml (camera and
            object poses per frame, the points, occlusion shares; written last). Videos made with
            the same config are kept when run again."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_options(sim_video)
    sim_video.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder")
    sim_video.add_argument(
        "--videos", type=int, metavar="N", help="number of videos (overrides video.videos)"
    )
    _add_parallel_options(sim_video)
    sim_video.add_argument(
        "--overwrite",
        action="store_true",
        help="replace videos made with another config (otherwise that is an error; videos made "
        "with the same config are kept)",
    )

    track = commands.add_parser(
        "track",
        help="track keypoints through a video with a run's descriptors (or Lucas-Kanade)",
        description=textwrap.dedent(
            """\
            Track points through a video (an .mp4, a folder of frames, or a TAP-Vid .npz) with
            the descriptors of run RUN: each point is described in its query frame; in every
            frame its best match (the nearest descriptor, searched within track.window_px of
            where it was last seen, over the whole image when it is not found there) is refined
            by a spatial expectation, and it is visible when that match is nearer than a
            distance threshold calibrated on the run's training data (kept in
            RUN/tracking/calibration.json). --method lk tracks with pyramidal Lucas-Kanade and a
            forward-backward check instead (no RUN needed). Writes OUT/tracks.csv
            (frame,point_id,x,y,visible,score; visible where score >= 0.5) and OUT/overlay.mp4
            (filled markers where visible, rings where not, short trails).

            With --evaluate, both methods run on TAP-Vid files with ground truth (made by
            `donkit sim-video`): OUT/V/donkit/ and OUT/V/lk/ for each video V, and TAP-Vid's
            metrics (average Jaccard, occlusion accuracy, position accuracy within 1-16 px of
            a 256x256 frame) in the query modes first and strided, with each method's speed,
            in OUT/metrics.json."""
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    track.add_argument(
        "run", type=Path, nargs="?", metavar="RUN", help="a `donkit train` run folder"
    )
    track.add_argument(
        "--video", type=Path, metavar="V", help="the video: an .mp4, a folder of frames or an .npz"
    )
    track.add_argument(
        "--points",
        metavar='"x,y;x,y"',
        help="pixels to track (column, row), in the query frame",
    )
    track.add_argument(
        "--query-frame",
        type=int,
        metavar="T",
        help="the frame --points are given in (default 0); alone, track the ground-truth points "
        "visible in frame T (.npz) or 32 corners found there",
    )
    track.add_argument(
        "--evaluate",
        type=Path,
        nargs="+",
        metavar="NPZ",
        help="TAP-Vid files (or folders of them) to evaluate donkit and Lucas-Kanade on",
    )
    track.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    track.add_argument(
        "--method", choices=["donkit", "lk"], default="donkit", help="tracker (default donkit)"
    )
    track.add_argument(
        "--threshold",
        type=float,
        metavar="D",
        help="descriptor distance below which a point is visible, instead of the calibrated one",
    )
    track.add_argument(
        "--calibration-data",
        type=Path,
        metavar="DATA",
        help="fused scenes to calibrate the visibility threshold on (default: the run's "
        "training data)",
    )
    add_config_options(track)
    track.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")

    config = commands.add_parser(
        "config",
        help="print every config key with its value and meaning",
        description="Print every config key, its value (the default, or from --config/--set) "
        "and what it means.",
    )
    add_config_options(config)
    config.add_argument(
        "--yaml",
        action="store_true",
        help="print the config as a commented YAML file (a starting point for --config)",
    )

    demo = commands.add_parser(
        "demo",
        help="run the whole pipeline on the demo config",
        description="Run the pipeline on the embedded demo config (or --config): collect the "
        "training scenes into OUT/data and held-out scenes (another seed) into OUT/data_test, "
        "fuse them, make a correspondence dataset of the training scenes in "
        "OUT/correspondences (with pictures of 8 pairs in OUT/correspondences/show), train "
        "descriptors into OUT/runs/demo (held-out loss tracked on OUT/data_test), and evaluate "
        "them against dense SIFT and the untrained network (OUT/runs/demo/eval/metrics.json "
        "and cdf.png), and draw them (OUT/runs/demo/viz, with viewer.html to open in a "
        "browser); then simulate videos with ground-truth point tracks (OUT/videos) and track "
        "them with the descriptors and with Lucas-Kanade (OUT/track/V/donkit, OUT/track/V/lk, "
        "TAP-Vid metrics in OUT/track/metrics.json), and train depth from one RGB image, "
        "self-supervised with the arm's camera poses, into OUT/depth (held-out metrics in "
        "OUT/depth/metrics.json). Last it writes OUT/report.html, every stage's pictures, "
        "tables and time on one page. OUT/stages.json records the finished stages: run again "
        "with the same config, they are skipped, and an interrupted stage continues (training "
        "from its last checkpoint).",
    )
    add_config_options(demo)
    demo.add_argument("--out", type=Path, default=Path("out/demo"), metavar="DIR")
    demo.add_argument(
        "--workers", type=int, default=_default_workers(), metavar="K", help="worker processes"
    )
    return parser


def run_collect(args: argparse.Namespace) -> None:
    from collect import collect
    from sim_assets import get_object_spec, list_objects

    if args.list_objects:
        for name in list_objects():
            spec = get_object_spec(name)
            print(f"{name:16s} {spec.object_class:8s} {spec.description}")
        return
    if args.out is None:
        raise DonkitError("donkit collect needs --out DIR, the folder to write the scenes to")
    overrides = list(args.overrides)
    if args.scenes is not None:
        overrides.append(f"collect.scenes={args.scenes}")
    config = load_config(args.config, overrides).collect
    workers = 1 if args.gui else args.workers
    summary = collect(config, args.out, workers, args.backend, args.overwrite, gui=args.gui)
    print(f"collect: {summary.line()} -> {args.out}")


def run_fuse(args: argparse.Namespace) -> None:
    from reconstruct import fuse

    overrides = list(args.overrides)
    if args.voxel is not None:
        overrides.append(f"fuse.voxel_m={args.voxel}")
    config = load_config(args.config, overrides).fuse
    summary = fuse(args.data, config, args.workers, args.backend, args.overwrite, args.evaluate)
    if args.evaluate:
        print(fuse_metrics_table(summary.reports))
    print(f"fuse: {summary.line()}")


def fuse_metrics_table(reports: list) -> str:
    """Per object of each scene: Chamfer-L1, F-scores, normal consistency; per scene: masks and
    rendered depth."""
    header = ["scene", "object", "chamfer mm", "F@1mm", "F@2mm", "normals", "mask IoU", "depth mm"]
    rows = []
    for report in reports:
        metrics = report.metrics
        for name, values in metrics["objects"].items():
            rows.append(
                [
                    report.scene.name,
                    name,
                    f"{values['chamfer_l1_mm']:.2f}",
                    f"{values['f_score_1mm']:.3f}",
                    f"{values['f_score_2mm']:.3f}",
                    f"{values['normal_consistency']:.3f}",
                    f"{metrics['mask_iou']['median']:.3f}",
                    f"{metrics['rendered_depth_error_mm']['median']:.2f}",
                ]
            )
    return format_table(header, rows)


def run_correspond(args: argparse.Namespace) -> None:
    from descriptors.dataset import write_dataset

    overrides = list(args.overrides)
    for option, key in (
        ("pairs", "pairs"),
        ("matches", "matches"),
        ("nonmatches", "saved_nonmatches_per_match"),
    ):
        if getattr(args, option) is not None:
            overrides.append(f"correspond.{key}={getattr(args, option)}")
    config = load_config(args.config, overrides).correspond
    summary = write_dataset(
        args.data, args.out, config, args.workers, args.backend, args.overwrite, args.show
    )
    print(f"correspond: {summary.line()} -> {args.out}")


def run_train(args: argparse.Namespace) -> None:
    from descriptors.train import train_descriptors
    from formats.plain import to_plain
    from formats.runs import RunFolder
    from learn.checkpoints import load_checkpoint

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    data, validation, out = args.data, args.val, args.out
    if args.resume is not None:
        if args.config is not None:
            raise DonkitError("--resume uses the run's own config; leave out --config")
        if out is not None and out != args.resume:
            raise DonkitError("--resume RUN writes to RUN; leave out --out")
        run = RunFolder(args.resume)
        sources = load_checkpoint(run.last)["sources"]
        config = load_config(run.config, overrides)
        data = data or Path(sources["data"])
        if validation is None and sources["validation_data"]:
            validation = Path(sources["validation_data"])
        out = args.resume
    else:
        if data is None or out is None:
            raise DonkitError("give --data DATA and --out RUN (or --resume RUN)")
        config = load_config(args.config, overrides)
    summary = train_descriptors(
        to_plain(config), config.correspond, config.train, data, out, validation,
        resume=args.resume is not None, device_name=args.device,
    )  # fmt: skip
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"train: {summary.line()} -> {out}")


def run_evaluate(args: argparse.Namespace) -> None:
    from descriptors.evaluate import evaluate_run

    if args.pairs < 1 or args.matches < 1:
        raise DonkitError("--pairs and --matches must be at least 1")
    config = _trained_run_config(args.run)
    results = evaluate_run(
        args.run, args.data, config.correspond, config.train, args.pairs, args.matches,
        args.seed, args.device,
    )  # fmt: skip
    print("\n".join(evaluation_lines(results, args.run)))


def _trained_run_config(run_folder: Path) -> DonkitConfig:
    from formats.runs import RunFolder

    run = RunFolder(run_folder)
    if not run.last.is_file():
        raise DonkitError(f"{run_folder} holds no trained model ({run.last} is missing)")
    return load_config(run.config)


def run_visualize(args: argparse.Namespace) -> None:
    from descriptors.visualize import visualize_run

    if args.pairs < 1 or args.pixels < 1:
        raise DonkitError("--pairs and --pixels must be at least 1")
    config = _trained_run_config(args.run)
    result = visualize_run(
        args.run, args.data, args.out, config.correspond, args.pairs, args.pixels, args.seed,
        args.device, args.html,
    )  # fmt: skip
    print(f"visualize: {result.pairs} pairs, {len(result.files)} pictures -> {args.out}")
    if result.viewer is not None:
        print(f"viewer: {result.viewer}")


def run_sim_video(args: argparse.Namespace) -> None:
    from collect.video import sim_videos

    overrides = list(args.overrides)
    if args.videos is not None:
        overrides.append(f"video.videos={args.videos}")
    config = load_config(args.config, overrides)
    summary = sim_videos(
        config.collect, config.video, args.out, args.workers, args.backend, args.overwrite
    )
    print(f"sim-video: {summary.line()} -> {args.out}")


def run_track(args: argparse.Namespace) -> None:
    from tracking.tracks import parse_points
    from tracking.videos import (
        descriptor_tracker,
        evaluate_videos,
        lucas_kanade_tracker,
        track_video_file,
    )

    if args.evaluate is None and args.video is None:
        raise DonkitError("give --video V to track, or --evaluate NPZ... to measure tracking")
    if args.evaluate is not None and (args.video is not None or args.points is not None):
        raise DonkitError("--evaluate tracks the files' own points; leave out --video and --points")
    needs_run = args.evaluate is not None or args.method == "donkit"
    if needs_run and args.run is None:
        raise DonkitError("tracking with descriptors needs a trained RUN folder (or --method lk)")
    config = load_config(args.config, args.overrides)
    lk = lucas_kanade_tracker(config.track)
    tracker = lk
    if needs_run:
        # The run's own pair policy calibrates the visibility threshold on its training data.
        correspond = _trained_run_config(args.run).correspond
        tracker = descriptor_tracker(
            args.run, correspond, config.track, args.device, args.threshold,
            args.calibration_data,
        )  # fmt: skip
    if args.evaluate is not None:
        results = evaluate_videos(
            [tracker, lk], args.evaluate, args.out, config.track.query_stride, config.video.fps
        )
        print("\n".join(tracking_lines(results, args.out)))
        return
    points = parse_points(args.points) if args.points is not None else None
    result = track_video_file(tracker, args.video, args.out, points, args.query_frame)
    tracks = result.tracks
    print(
        f"track: {tracks.points} points over {tracks.frames} frames ({tracker.name}), visible "
        f"in {100 * tracks.visible.mean():.0f} % of them, {result.frames_per_second:.1f} "
        f"frames/s -> {result.files[0]}, {result.files[1]}"
    )


def run_config(args: argparse.Namespace) -> None:
    config = load_config(args.config, args.overrides)
    if args.yaml:
        print(commented_yaml(config))
        return
    for key, value, doc in describe_fields(DonkitConfig, instance=config):
        print(f"{key} = {value}")
        for line in textwrap.wrap(doc, 92):
            print(f"    {line}")


def run_demo(args: argparse.Namespace) -> None:
    from donkit.demo import run_demo as run_all

    config = load_config(args.config, args.overrides)
    run_all(config, args.out, args.workers, metadata.version("donkit"))


COMMANDS = {
    "collect": run_collect,
    "fuse": run_fuse,
    "correspond": run_correspond,
    "train": run_train,
    "evaluate": run_evaluate,
    "visualize": run_visualize,
    "depth": run_depth,
    "sim-video": run_sim_video,
    "track": run_track,
    "config": run_config,
    "demo": run_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except DonkitError as error:
        print(f"donkit {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        # The reader of our output went away (`donkit config | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        again = "run the same command again"
        if args.command == "train":
            again = f"continue with `donkit train --resume {args.resume or args.out}`"
        print(f"donkit {args.command}: interrupted; {again} to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
