"""`donkit demo`: every stage of the pipeline on one config, one progress display, a report.

The stages run in order; each returns the lines it reports. OUT/stages.json records each
finished stage (its seconds and lines) with a digest of the resolved config: run again with
the same config, a finished stage is skipped (its record kept); with another config, every
stage runs again, and each stage's own reuse (collect keeps matching scenes, fuse fused ones,
training continues from its last.pt) keeps what still holds. OUT/report.html is written
anew at the end of every run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from donkit.config import DonkitConfig
from donkit.summaries import depth_lines, evaluation_lines, tracking_lines
from formats.atomic import write_bytes_atomic
from formats.plain import to_plain

STAGES_FILE = "stages.json"
_FORMAT = 1


@dataclass(frozen=True)
class Stage:
    """One step of the demo."""

    name: str
    expected_s: float  # on 2 idle cores at demo size: the share of the progress bar it fills
    run: Callable[[], list[str]]  # does the work; returns the lines to report


def config_digest(config: DonkitConfig) -> str:
    text = json.dumps(to_plain(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class StageRecords:
    """OUT/stages.json: the finished stages of a demo run, for one config digest."""

    def __init__(self, out: Path, digest: str):
        self.path = out / STAGES_FILE
        self.digest = digest
        self.stages: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                saved = json.loads(self.path.read_text())
            except (OSError, ValueError):
                saved = {}  # unreadable: run everything again (each stage reuses its outputs)
            if saved.get("format") == _FORMAT and saved.get("config") == digest:
                self.stages = dict(saved.get("stages", {}))

    def done(self, name: str) -> dict[str, Any] | None:
        return self.stages.get(name)

    def finish(self, name: str, seconds: float, lines: list[str]) -> None:
        self.stages[name] = {"seconds": seconds, "lines": lines}
        data = {"format": _FORMAT, "config": self.digest, "stages": self.stages}
        write_bytes_atomic(self.path, (json.dumps(data, indent=1) + "\n").encode())


class _AboveBar(io.TextIOBase):
    """A text stream whose complete lines are written above a tqdm bar, to the stdout of the
    time it was made (so that it can stand in for sys.stdout)."""

    def __init__(self, bar: tqdm):
        self.bar, self.target, self.pending = bar, sys.stdout, ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self.bar.write(line, file=self.target)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.bar.write(self.pending, file=self.target)
            self.pending = ""
        self.target.flush()


def run_stages(
    stages: list[Stage], records: StageRecords, show_progress: bool | None = None
) -> list[dict[str, Any]]:
    """Run the stages not yet recorded as finished, under one progress bar for the whole run
    (each stage's own bar, if any, shows beneath it while it runs). Returns, per stage, its
    name, seconds, lines and whether it ran now."""
    total = sum(stage.expected_s for stage in stages)
    bar = tqdm(
        total=total,
        desc="demo",
        disable=None if show_progress is None else not show_progress,
        bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed} elapsed, about {remaining} left",
    )
    report = []
    try:
        for number, stage in enumerate(stages, start=1):
            bar.set_description_str(f"demo [{number}/{len(stages)} {stage.name}]")
            record = records.done(stage.name)
            ran = record is None
            if ran:
                started = time.perf_counter()
                # What a stage prints itself goes above the bar too, not through it.
                with contextlib.redirect_stdout(_AboveBar(bar)):
                    lines = stage.run()
                record = {"seconds": time.perf_counter() - started, "lines": lines}
                records.finish(stage.name, record["seconds"], lines)
            else:
                lines = [f"{stage.name}: finished earlier ({record['seconds']:.0f} s), skipped"]
            for line in lines:
                bar.write(line)
            bar.update(stage.expected_s)
            report.append({"name": stage.name, **record, "ran": ran})
    finally:
        bar.close()
    return report


def demo_stages(config: DonkitConfig, out: Path, workers: int) -> list[Stage]:
    """The demo's stages on `config` into `out` (see `donkit demo --help` for what each
    writes)."""
    data, held_out = out / "data", out / "data_test"
    run = out / "runs" / "demo"
    test_collect = dataclasses.replace(
        config.collect, seed=config.demo.test_seed, scenes=config.demo.test_scenes
    )

    def collect_stage(collect_config, folder: Path, label: str) -> Callable[[], list[str]]:
        def run_collect() -> list[str]:
            from collect import collect

            summary = collect(collect_config, folder, workers=workers)
            return [f"{label}: {summary.line()} -> {folder}"]

        return run_collect

    def fuse_stage(folder: Path) -> Callable[[], list[str]]:
        def run_fuse() -> list[str]:
            from reconstruct import fuse

            summary = fuse(folder, config.fuse, workers=workers)
            return [f"fuse: {summary.line()} -> {folder}"]

        return run_fuse

    def correspond() -> list[str]:
        from descriptors.dataset import write_dataset

        dataset = write_dataset(data, out / "correspondences", config.correspond, workers, show=8)
        return [f"correspond: {dataset.line()} -> {out / 'correspondences'}"]

    def train() -> list[str]:
        from descriptors.train import train_descriptors
        from formats.runs import RunFolder
        from learn.checkpoints import trained_steps

        resume = RunFolder(run).last.is_file()
        if trained_steps(RunFolder(run)) >= config.train.loop.steps:
            return [f"train: {run} is trained ({config.train.loop.steps} steps)"]
        summary = train_descriptors(
            to_plain(config), config.correspond, config.train, data, run, held_out, resume=resume
        )
        return [f"train: {summary.line()} -> {run}"]

    def evaluate() -> list[str]:
        from descriptors.evaluate import evaluate_run

        results = evaluate_run(
            run,
            held_out,
            config.correspond,
            config.train,
            pairs=config.evaluate.pairs,
            matches=config.evaluate.matches,
            seed=config.evaluate.seed,
        )
        return evaluation_lines(results, run)

    def visualize() -> list[str]:
        from descriptors.visualize import visualize_run

        pictures = visualize_run(
            run,
            held_out,
            run / "viz",
            config.correspond,
            pairs=config.visualize.pairs,
            pixels=config.visualize.pixels,
            seed=config.visualize.seed,
            html=True,
        )
        return [
            f"visualize: {len(pictures.files)} pictures of {pictures.pairs} held-out pairs; "
            f"viewer {pictures.viewer} (hover a pixel to see its best matches)"
        ]

    def sim_video() -> list[str]:
        from collect.video import sim_videos

        videos = sim_videos(config.collect, config.video, out / "videos", workers=workers)
        return [f"sim-video: {videos.line()} -> {out / 'videos'}"]

    def track() -> list[str]:
        from tracking.videos import descriptor_trackers, evaluate_videos, lucas_kanade_tracker

        trackers = [
            *descriptor_trackers(run, config.correspond, config.track),
            lucas_kanade_tracker(config.track),
        ]
        results = evaluate_videos(
            trackers, [out / "videos"], out / "track", config.track.query_stride, config.video.fps
        )
        return tracking_lines(results, out / "track")

    def depth() -> list[str]:
        from depth.demo import run_demo_depth

        return depth_lines(run_demo_depth(config, data, held_out, out / "depth"))

    return [
        Stage("collect", 20, collect_stage(config.collect, data, "collect")),
        Stage("collect held-out", 5, collect_stage(test_collect, held_out, "collect held-out")),
        Stage("fuse", 15, fuse_stage(data)),
        Stage("fuse held-out", 5, fuse_stage(held_out)),
        Stage("correspond", 40, correspond),
        Stage("train", 440, train),
        Stage("evaluate", 60, evaluate),
        Stage("visualize", 15, visualize),
        Stage("sim-video", 30, sim_video),
        Stage("track", 40, track),
        Stage("depth", 240, depth),
    ]


def run_demo(
    config: DonkitConfig, out: Path, workers: int, version: str, show_progress: bool | None = None
) -> Path:
    """Run (or finish) every stage into `out`, then write OUT/report.html; returns its path."""
    from donkit.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    records = StageRecords(out, config_digest(config))
    done = run_stages(demo_stages(config, out, workers), records, show_progress)
    # The report is made anew every time, from every stage's record, this run's or earlier.
    path = write_report(out, done, version)
    total = sum(stage["seconds"] for stage in done)
    print(f"demo: {len(done)} stages, {total:.0f} s of work; report {path} (open it in a browser)")
    return path
