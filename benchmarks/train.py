"""Training benchmarks, in two modes: training speed (the default), and training recipes.

Speed (the default): iterations/s and images/s of ResNet-18 and ResNet-34 at 320x240 and 640x480.
Each configuration trains `--warmup + --steps` steps of the demo recipe (`TrainConfig()`:
pairs composed, augmented and their correspondences generated on the fly in the loader) on a few
freshly collected and fused scenes of its resolution; the steps after the warm-up count. Speeds
are given as ratios against ResNet-18 at 320x240, run in the same process, since absolute times
on a shared machine mean little. Beside them, the share of step time spent waiting for the next
batch of pairs (goal <= 20 %): the loader prepares pairs while the network trains.

Recipes (`--recipes`): how good each training recipe of RECIPES gets, and how fast. Each recipe
is the demo config (`donkit config --yaml`), or the config file RECIPE_CONFIGS names for it, with
its `--set` overrides, and fixes its own steps;
it is trained in full by `donkit train` into DIR/NAME, keeping `--checkpoints` checkpoints on the
way. Every kept checkpoint (and the untrained network, step 0) is scored on the same held-out
pairs `donkit evaluate` draws by default (100 pairs of up to 100 matches, seed 0, the run's pair
policy), with the trained network only; the final checkpoint is also run through the real
`donkit evaluate --breakdown` once, whose dense SIFT median on the same pairs is the baseline the
recipe's median is set against. Training time is the run's own train_summary.json (wall clock)
and log.jsonl (step time); the minutes at a checkpoint are the step time summed up to it. Each
stage skips work already done (a trained run, a scored checkpoint in DIR/NAME/scores.json, a
DIR/NAME/eval/metrics.json), so an interrupted benchmark (Ctrl-C or kill: its training stops
too) continues where it stopped, resuming a part-trained run. Writes DIR/recipes.md (the
tables, printed too) and DIR/median_vs_minutes.png. On 2 busy CPU cores, scoring a checkpoint
takes 1-4 minutes, `donkit evaluate` with SIFT about 10.

Run from the repository root:
    .venv/bin/python -m benchmarks.train [--steps N] [--warmup N] [--scenes N] [--views N]
        [--loader-workers N]
    .venv/bin/python -m benchmarks.train --recipes NAME[,NAME...] --data TRAIN --held-out TEST
        --out DIR [--checkpoints N] [--extra-set KEY=VALUE ...]
e.g. `nice -n 10 .venv/bin/python -m benchmarks.train --recipes demo,demo_distributional
--data out/demo/data --held-out out/demo/data_test --out out/recipes`; `--extra-set
train.loop.steps=20` shortens every recipe for a smoke run (into another --out).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import io
import json
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import collect
from benchmarks import code_version
from descriptors.config import CorrespondConfig, EvaluateConfig, TrainConfig
from descriptors.train import train_descriptors
from donkit.table import format_table
from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.runs import RunFolder
from learn.config import LoopConfig
from reconstruct import FuseConfig, fuse

# Recipe name -> the `--set KEY=VALUE` overrides it adds to the demo config (`donkit config
# --yaml`). A recipe fixes its own steps (the demo's train.loop.steps unless it sets
# `train.loop.steps=N`): the benchmark measures how long they take, it never cuts them short.
# Add recipes here; a run folder DIR/NAME remembers its overrides (recipe.json), so change a
# recipe's overrides under a new name (or delete its folder) rather than in place.
RECIPES: dict[str, tuple[str, ...]] = {
    "demo": (),  # the demo config as it stands
    # The demo recipe before the sharp-descriptors work: ResNet-18 from scratch at stride 8,
    # Dense Object Nets' contrastive loss, whole images, 600 steps.
    "resnet18_contrastive": (
        "train.backbone=18",
        "train.width=128",
        "train.finest_stride=8",
        "train.loss.kind=contrastive",
        "train.crop_px=[0, 0]",
        "train.loop.steps=600",
        "train.loop.decay_every=250",
    ),
    # The demo recipe on whole images, in the steps that take about as long.
    "demo_whole_images": (
        "train.crop_px=[0, 0]",
        "train.loop.steps=600",
        "train.loop.decay_every=250",
    ),
    # The demo recipe with a quarter of its pairs across instances of a class.
    "demo_cross_instance": ("train.cross_instance_share=0.25",),
    "full": (),  # configs/full.yaml as it stands (RECIPE_CONFIGS)
}
# Recipes trained from a config file (`donkit train --config PATH`) rather than the demo config;
# paths are relative to the repository root.
RECIPE_CONFIGS: dict[str, str] = {"full": "configs/full.yaml"}
REPOSITORY = Path(__file__).resolve().parent.parent

GOAL_DATA_SHARE = 0.20
RESOLUTIONS = ((320, 240), (640, 480))
BACKBONES = (18, 34)

# The held-out pairs of `donkit evaluate`'s defaults (100 pairs, 100 matches, seed 0): every
# checkpoint of every recipe is scored on these.
EVAL_PAIRS, EVAL_MATCHES, EVAL_SEED = (
    EvaluateConfig().pairs,
    EvaluateConfig().matches,
    EvaluateConfig().seed,
)


# Speed mode.


@dataclasses.dataclass
class Speed:
    backbone: int
    width: int
    height: int
    steps_per_second: float
    images_per_second: float
    data_share: float


def scenes_at(root: Path, width: int, height: int, scenes: int, views: int) -> Path:
    """Collect and fuse `scenes` demo scenes of `views` views at width x height under root."""
    base = collect.CollectConfig()
    config = dataclasses.replace(
        base,
        scenes=scenes,
        camera=dataclasses.replace(base.camera, width=width, height=height),
        orbit=dataclasses.replace(base.orbit, views=views),
    )
    data = root / f"data_{width}x{height}"
    collect.collect(config, data, workers=2, show_progress=False)
    fuse(data, FuseConfig(), workers=2, show_progress=False)
    return data


def measure(data: Path, run: Path, backbone: int, warmup: int, steps: int, workers: int) -> Speed:
    """Train and read per-step times from the run's log (one entry per step)."""
    many = 10**9  # no images, checkpoints or validation inside the timed steps
    loop = LoopConfig(
        steps=warmup + steps,
        loader_workers=workers,
        log_every=1,
        image_every=many,
        checkpoint_every=many,
        last_every=many,
    )
    # Whole images: the table is about a backbone's speed at each resolution.
    train = dataclasses.replace(TrainConfig(), backbone=backbone, crop_px=(0, 0), loop=loop)
    train_descriptors({}, CorrespondConfig(), train, data, run, show_progress=False)
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    timed = [entry for entry in entries if entry["step"] > warmup]
    step_time = float(np.sum([entry["step_time_s"] for entry in timed]))
    data_time = float(np.sum([entry["data_time_s"] for entry in timed]))
    images = 2 * train.pairs_per_step * len(timed)
    width, height = (int(size) for size in data.name.split("_")[1].split("x"))
    return Speed(
        backbone, width, height, len(timed) / step_time, images / step_time, data_time / step_time
    )


def speed_benchmark(args: argparse.Namespace) -> None:
    """The default mode: train each backbone at each resolution, print the speed table."""
    speeds = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as temporary:
        root = Path(temporary)
        for width, height in RESOLUTIONS:
            data = scenes_at(root, width, height, args.scenes, args.views)
            for backbone in BACKBONES:
                run = root / f"run_{backbone}_{width}x{height}"
                speeds.append(
                    measure(data, run, backbone, args.warmup, args.steps, args.loader_workers)
                )
    baseline = speeds[0]
    pairs = TrainConfig().pairs_per_step
    print(
        f"{args.steps} timed steps after {args.warmup}, {pairs} pairs ({2 * pairs} images) a "
        f"step, loader workers {args.loader_workers}, on {args.scenes} scenes x {args.views} "
        "views per resolution"
    )
    print()
    rows = [
        [
            f"ResNet-{speed.backbone}",
            f"{speed.width}x{speed.height}",
            f"{speed.steps_per_second:.2f}",
            f"{speed.images_per_second:.1f}",
            f"{speed.steps_per_second / baseline.steps_per_second:.2f}x",
            f"{100 * speed.data_share:.0f} %",
            "yes" if speed.data_share <= GOAL_DATA_SHARE else "NO",
        ]
        for speed in speeds
    ]
    header = ["backbone", "size", "steps/s", "images/s", "vs R18 320x240", "data wait", "<= 20 %"]
    print(format_table(header, rows))


# Recipe mode: pure figures.


def cumulative_step_seconds(entries: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Steps and the training (step) seconds summed up to each, from log.jsonl's entries: each
    entry's step_time_s is the mean over its window, the steps since the previous entry (the
    last window may be shorter than log_every). Starts at (0, 0)."""
    steps, seconds = [0], [0.0]
    for entry in entries:
        window = entry["step"] - steps[-1]
        steps.append(int(entry["step"]))
        seconds.append(seconds[-1] + window * float(entry["step_time_s"]))
    return np.array(steps), np.array(seconds)


def step_seconds_at(entries: list[dict[str, float]], step: int) -> float:
    """Training seconds up to `step`: exact at a logged step, interpolated between two."""
    steps, seconds = cumulative_step_seconds(entries)
    if step > steps[-1]:
        raise ValueError(f"log.jsonl ends at step {steps[-1]}, before step {step}")
    return float(np.interp(step, steps, seconds))


def checkpoint_overrides(loop: LoopConfig, checkpoints: int) -> list[str]:
    """Overrides keeping `checkpoints` checkpoints evenly over a run of `loop.steps` (the last
    step's is always kept)."""
    return [f"train.loop.checkpoint_every={max(1, loop.steps // checkpoints)}"]


# Recipe mode: one recipe's run.


@dataclasses.dataclass
class RecipeRun:
    """A recipe's run folder and what training it, scoring it and evaluating it found."""

    name: str
    folder: Path
    overrides: list[str]  # recipe, --extra-set and checkpoint overrides, as given to --set
    config: Path | None = None  # the config file the overrides apply to; None: the demo's
    steps: int = 0
    train_seconds: float = float("nan")  # train_summary.json: wall clock of the training call
    resumed: bool = False  # the summary covers only the last call; minutes from log.jsonl
    step_seconds: float = float("nan")  # log.jsonl: summed step time
    scores: dict[int, dict[str, float]] = dataclasses.field(default_factory=dict)  # by step
    minutes: dict[int, float] = dataclasses.field(default_factory=dict)  # step time, by step
    pairs_fingerprint: str = ""
    sift_median: float = float("nan")
    evaluate_median: float = float("nan")  # `donkit evaluate`'s own median of the final network

    @property
    def final(self) -> dict[str, float]:
        return self.scores[self.steps]

    @property
    def train_minutes(self) -> float:
        return (self.step_seconds if self.resumed else self.train_seconds) / 60


def donkit_command(*arguments: str | Path) -> list[str]:
    """The command line running `donkit ARGUMENTS` with this Python."""
    return [sys.executable, "-m", "donkit.cli", *(str(argument) for argument in arguments)]


def check_recipe_record(run: RecipeRun, data: Path) -> None:
    """Write DIR/NAME/recipe.json on the first visit; later, refuse a folder trained with other
    overrides or data (its results would be reported under the wrong recipe)."""
    record = {"recipe": run.name, "overrides": run.overrides, "data": str(data)}
    if run.config is not None:
        record["config"] = str(run.config)
    path = run.folder / "recipe.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved != record:
            raise SystemExit(
                f"{run.folder} was trained as {saved}, not {record}: delete it, or choose another "
                "--out"
            )
        return
    if (run.folder / "train_summary.json").is_file():
        print(f"  {run.name}: {run.folder} has no recipe.json; taken to be this recipe's run")
    run.folder.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, (json.dumps(record, indent=2) + "\n").encode())


def follow_training(process: subprocess.Popen, run: RecipeRun, steps: int) -> None:
    """Wait for a training subprocess, showing one progress line from its log.jsonl."""
    started, shown = time.monotonic(), None
    while process.poll() is None:
        time.sleep(2.0)
        entries = RunFolder(run.folder).log_entries()
        step = int(entries[-1]["step"]) if entries else 0
        if step != shown:
            shown = step
            elapsed = (time.monotonic() - started) / 60
            rate = f", {entries[-1]['step_time_s']:.2f} s/step" if entries else ""
            print(f"\r  {run.name}: step {step}/{steps}{rate}, {elapsed:.1f} min", end="")
            sys.stdout.flush()
    print()


def train_recipe(run: RecipeRun, data: Path, steps: int) -> None:
    """Train the recipe with `donkit train` unless its run is done (train_summary.json); a run
    stopped part-way (it has a last.pt) is resumed. Its output goes to DIR/NAME/train.out."""
    if (run.folder / "train_summary.json").is_file():
        print(f"  {run.name}: trained already ({run.folder / 'train_summary.json'})")
        return
    if (run.folder / "checkpoints" / "last.pt").is_file():
        command = donkit_command("train", "--resume", run.folder, "--data", data)
    else:
        sets = [part for override in run.overrides for part in ("--set", override)]
        config = ["--config", run.config] if run.config is not None else []
        command = donkit_command("train", "--data", data, "--out", run.folder, *config, *sets)
    print(f"  {run.name}: training: {shlex.join(command)}")
    output = run.folder / "train.out"
    with output.open("a") as file:
        process = subprocess.Popen(command, stdout=file, stderr=subprocess.STDOUT)
        try:
            follow_training(process, run, steps)
        except BaseException:  # stopped (Ctrl-C): stop training too; a re-run resumes it
            process.terminate()
            process.wait()
            raise
    if process.returncode != 0:
        tail = "\n".join(output.read_text().splitlines()[-20:])
        raise SystemExit(f"{run.name}: donkit train failed ({process.returncode}):\n{tail}")


def read_training_times(run: RecipeRun) -> None:
    """The run's steps, wall clock (train_summary.json) and step time (log.jsonl)."""
    summary = json.loads((run.folder / "train_summary.json").read_text())
    run.steps = int(summary["steps"])
    run.train_seconds = float(summary["seconds"])
    run.resumed = int(summary["first_step"]) > 0
    run.step_seconds = step_seconds_at(RunFolder(run.folder).log_entries(), run.steps)


def kept_checkpoints(folder: Path) -> dict[int, Path]:
    """Step -> checkpoints/step_XXXXXX.pt of a run folder."""
    paths = sorted((folder / "checkpoints").glob("step_*.pt"))
    return {int(path.stem.removeprefix("step_")): path for path in paths}


# Recipe mode: scoring checkpoints.


def pairs_fingerprint(pairs: list) -> str:
    """A short hash of the evaluation pairs (kinds and pixels), to show recipes share them."""
    digest = hashlib.sha1()
    for pair in pairs:
        digest.update(pair.kind.encode())
        for values in (pair.uv_a, pair.uv_b):
            digest.update(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return digest.hexdigest()[:10]


class HeldOutPairs:
    """The held-out evaluation pairs of each pair policy (CorrespondConfig), drawn once."""

    def __init__(self, held_out: Path):
        self.held_out = held_out
        self.drawn: dict[CorrespondConfig, tuple[list, str]] = {}

    def of(self, correspond: CorrespondConfig) -> tuple[list, str]:
        """The pairs `donkit evaluate` draws by default under `correspond`, and their hash."""
        if correspond not in self.drawn:
            from descriptors.evaluation_pairs import evaluation_pairs
            from formats.scenes import complete_scenes

            paths, _ = complete_scenes(self.held_out, "pass fused held-out scenes to --held-out")
            print(f"  drawing {EVAL_PAIRS} held-out pairs from {self.held_out}")
            pairs = evaluation_pairs(paths, correspond, EVAL_PAIRS, EVAL_MATCHES, EVAL_SEED)
            self.drawn[correspond] = (pairs, pairs_fingerprint(pairs))
        return self.drawn[correspond]


def score_network(network: Any, pairs: list, label: str) -> dict[str, float]:
    """The figures of a network's best matches on `pairs`, as in scores.json."""
    from descriptors.evaluate import evaluate_method, network_describer
    from learn.devices import resolve_device

    describe = network_describer(network, resolve_device("auto"))
    results = evaluate_method(describe, pairs, label, None, with_breakdown=True)
    errors = results["errors_px"]
    return {
        "median_px": results["pixel_error_median"],
        "mean_px": results["pixel_error_mean"],
        "p90_px": results["pixel_error_p90"],
        "within_5px": results["within_5px"],
        "within_10px": results["within_10px"],
        "pck_auc_100px": results["pck_auc_1_100px"],
        "right_object_share": results["breakdown"]["right_object_share"],
        "true_match_nearest_share": results["breakdown"]["true_match_nearest_share"],
        "matches": len(errors),
    }


def network_at(folder: Path, step: int, checkpoints: dict[int, Path]) -> Any:
    """The run's network at `step`: a kept checkpoint, or at 0 the untrained one (its initial
    weights, drawn from the run's seed as training drew them)."""
    if step == 0:
        from descriptors.train import build_network
        from donkit.config import load_config

        return build_network(load_config(folder / "config.yaml").train).eval()
    from descriptors.network import load_network

    return load_network(checkpoints[step])[0]


def score_run(run: RecipeRun, held_out_pairs: HeldOutPairs) -> None:
    """Score step 0 and every kept checkpoint of the run on the held-out pairs, skipping those
    already in DIR/NAME/scores.json (written after each checkpoint)."""
    from donkit.config import load_config

    path = run.folder / "scores.json"
    source = {
        "held_out": str(held_out_pairs.held_out),
        "pairs": EVAL_PAIRS,
        "matches": EVAL_MATCHES,
        "seed": EVAL_SEED,
    }
    cache = json.loads(path.read_text()) if path.is_file() else {}
    if cache.get("source") != source:
        cache = {"source": source, "pairs_fingerprint": "", "steps": {}}
    correspond = load_config(run.folder / "config.yaml").correspond
    checkpoints = kept_checkpoints(run.folder)
    if run.steps not in checkpoints:
        raise SystemExit(f"{run.name}: the final checkpoint (step {run.steps}) was not kept")
    for step in [0, *checkpoints]:
        if str(step) in cache["steps"]:
            continue
        pairs, fingerprint = held_out_pairs.of(correspond)
        print(f"  {run.name}: scoring step {step} on {len(pairs)} held-out pairs")
        network = network_at(run.folder, step, checkpoints)
        cache["steps"][str(step)] = score_network(network, pairs, f"{run.name} step {step}")
        cache["pairs_fingerprint"] = fingerprint
        write_bytes_atomic(path, (json.dumps(cache, indent=2) + "\n").encode())
    print(f"  {run.name}: scored steps {', '.join(cache['steps'])} ({path})")
    run.scores = {int(step): figures for step, figures in cache["steps"].items()}
    run.pairs_fingerprint = cache["pairs_fingerprint"]
    entries = RunFolder(run.folder).log_entries()
    run.minutes = {step: step_seconds_at(entries, step) / 60 for step in run.scores}


def evaluate_final(run: RecipeRun, held_out: Path) -> None:
    """Run `donkit evaluate RUN --data TEST --breakdown` on the final network (with dense SIFT
    and the untrained network) unless DIR/NAME/eval/metrics.json holds it; read SIFT's median
    and the network's own (which should equal ours: the same pairs)."""
    metrics_path = run.folder / "eval" / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    if metrics is not None:
        evaluated = (Path(metrics["data"]).resolve(), int(metrics["step"]))
        if evaluated != (held_out, run.steps):
            print(f"  {run.name}: {metrics_path} is of {evaluated}; evaluating again")
            metrics = None
    if metrics is None:
        command = donkit_command("evaluate", run.folder, "--data", held_out, "--breakdown")
        print(f"  {run.name}: evaluating with SIFT (a few minutes): {shlex.join(command)}")
        output = run.folder / "evaluate.out"
        with output.open("w") as file:
            done = subprocess.run(command, stdout=file, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            tail = "\n".join(output.read_text().splitlines()[-20:])
            raise SystemExit(f"{run.name}: donkit evaluate failed ({done.returncode}):\n{tail}")
        metrics = json.loads(metrics_path.read_text())
    else:
        print(f"  {run.name}: evaluated already ({metrics_path})")
    run.sift_median = float(metrics["sift"]["pixel_error_median"])
    run.evaluate_median = float(metrics["donkit"]["pixel_error_median"])


# Recipe mode: the report.


def percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def recipes_table(runs: list[RecipeRun]) -> str:
    """One row per recipe: its training time and its final checkpoint's figures."""
    header = [
        "recipe", "steps", "train min", "s/step", "median px", "mean px", "p90 px", "<=5px",
        "<=10px", "AUC PCK 1-100", "right object", "SIFT median", "vs SIFT",
    ]  # fmt: skip
    rows = []
    for run in runs:
        final = run.final
        rows.append([
            run.name,
            str(run.steps),
            f"{run.train_minutes:.1f}" + ("*" if run.resumed else ""),
            f"{run.step_seconds / run.steps:.2f}",
            f"{final['median_px']:.1f}",
            f"{final['mean_px']:.1f}",
            f"{final['p90_px']:.1f}",
            percent(final["within_5px"]),
            percent(final["within_10px"]),
            f"{final['pck_auc_100px']:.3f}",
            percent(final["right_object_share"]),
            f"{run.sift_median:.1f}",
            f"{final['median_px'] / run.sift_median:.2f}",
        ])  # fmt: skip
    return format_table(header, rows)


def curve_table(run: RecipeRun) -> str:
    """One row per scored checkpoint of a recipe, against its training minutes."""
    header = ["step", "minutes", "median px", "<=5px", "AUC PCK 1-100", "right object",
              "true nearest"]  # fmt: skip
    rows = [
        [
            str(step),
            f"{run.minutes[step]:.1f}",
            f"{figures['median_px']:.1f}",
            percent(figures["within_5px"]),
            f"{figures['pck_auc_100px']:.3f}",
            percent(figures["right_object_share"]),
            percent(figures["true_match_nearest_share"]),
        ]
        for step, figures in sorted(run.scores.items())
    ]
    return format_table(header, rows)


def plot_curves(runs: list[RecipeRun], path: Path) -> None:
    """A PNG of each recipe's median pixel error against training minutes, with dense SIFT's."""
    from matplotlib.figure import Figure  # imported here: slow to import

    figure = Figure(figsize=(7, 4.5), dpi=100)
    axes = figure.add_subplot()
    for run in runs:
        steps = sorted(run.scores)
        minutes = [run.minutes[step] for step in steps]
        axes.plot(minutes, [run.scores[step]["median_px"] for step in steps], "o-", label=run.name)
    for median in sorted({round(run.sift_median, 3) for run in runs}):
        axes.axhline(median, color="grey", linestyle="--", linewidth=1)
        axes.annotate(
            f"dense SIFT {median:.1f} px",
            (1, median),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 2),
            textcoords="offset points",
            horizontalalignment="right",
            color="grey",
            fontsize=8,
        )
    axes.set(
        xlabel="training minutes (step time from log.jsonl)",
        ylabel="median best-match error (px)",
        title=f"Held-out median error ({EVAL_PAIRS} pairs) against training time",
    )
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())


def median_agrees(run: RecipeRun) -> bool:
    """Whether `donkit evaluate` and this benchmark found the final network's median within 1 %:
    both score it on the same pairs, but CPU float sums differ slightly from run to run (its
    untrained network's median too, by a few thousandths of a pixel)."""
    return abs(run.evaluate_median - run.final["median_px"]) <= 0.01 * run.final["median_px"]


def report(runs: list[RecipeRun], args: argparse.Namespace, command: str) -> str:
    """DIR/recipes.md: the command, the recipe table, notes, and each recipe's curve."""
    fingerprints = sorted({run.pairs_fingerprint for run in runs})
    matches = sorted({run.final["matches"] for run in runs})
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    lines = [
        "# Training recipes",
        "",
        f"command: `{command}`  ",
        f"date: {now}, code: {code_version()}  ",
        f"training data: {args.data}; held-out: {args.held_out} ({EVAL_PAIRS} pairs drawn, "
        f"{'/'.join(map(str, matches))} matches, seed {EVAL_SEED}; pairs "
        f"{', '.join(fingerprints)})",
        "",
        "```",
        format_table(
            ["recipe", "config", "overrides (--set)"],
            [
                [run.name, RECIPE_CONFIGS.get(run.name, "the demo's"), " ".join(run.overrides)]
                for run in runs
            ],
        ),
        "```",
        "",
        "```",
        recipes_table(runs),
        "```",
        "",
        "- train min: wall clock of `donkit train` (train_summary.json); s/step: step time "
        "(log.jsonl), without start-up, logging and saving. Figures of the final checkpoint, the "
        "trained network only; right object: share of best matches on the true match's object. "
        "SIFT median: dense SIFT in `donkit evaluate --breakdown` (NAME/eval/metrics.json) on "
        "the same pairs; vs SIFT: median / SIFT median (below 1 beats SIFT).",
    ]
    if any(run.resumed for run in runs):
        lines.append("- *: resumed run; its minutes are step time (log.jsonl), not wall clock.")
    if len(fingerprints) > 1:
        lines.append("- NOTE: the recipes' pair policies draw different held-out pairs.")
    lines.append(
        "- check, `donkit evaluate`'s own median of the final network against this benchmark's "
        "(equal but for float noise between runs): "
        + ", ".join(
            f"{run.name} {run.evaluate_median:.2f} / {run.final['median_px']:.2f} px"
            + (" (NOTE: over 1 % apart)" if not median_agrees(run) else "")
            for run in runs
        )
    )
    lines += [
        "",
        "## Median pixel error against training minutes",
        "",
        "![median against minutes](median_vs_minutes.png)",
        "",
        "Minutes: step time summed up to the checkpoint (log.jsonl; interpolated between "
        "logged steps). Step 0: the untrained network. True nearest: share of true matches "
        "nearer in descriptor space than every pixel beyond 5 px of them.",
    ]
    for run in runs:
        lines += ["", f"### {run.name}", "", "```", curve_table(run), "```"]
    return "\n".join(lines) + "\n"


def recipe_benchmark(args: argparse.Namespace, command: str) -> None:
    """The --recipes mode: train, score and evaluate each recipe, then report."""
    from donkit.config import load_config

    names = [name.strip() for name in args.recipes.split(",") if name.strip()]
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        raise SystemExit(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    data, held_out, out = (path.resolve() for path in (args.data, args.held_out, args.out))
    runs, steps = [], {}
    for name in names:  # every recipe's config is checked before anything trains
        given = [*RECIPES[name], *args.extra_set]
        config = REPOSITORY / RECIPE_CONFIGS[name] if name in RECIPE_CONFIGS else None
        loop = load_config(config, given).train.loop
        overrides = [*given, *checkpoint_overrides(loop, args.checkpoints)]
        load_config(config, overrides)
        runs.append(RecipeRun(name, out / name, overrides, config))
        steps[name] = loop.steps
    held_out_pairs = HeldOutPairs(held_out)
    for run in runs:
        print(f"recipe {run.name}: {' '.join(run.overrides)} -> {run.folder}")
        check_recipe_record(run, data)
        train_recipe(run, data, steps[run.name])
        read_training_times(run)
        score_run(run, held_out_pairs)
        evaluate_final(run, held_out)
    plot_curves(runs, out / "median_vs_minutes.png")
    text = report(runs, args, command)
    write_bytes_atomic(out / "recipes.md", text.encode())
    print()
    print(text)
    print(f"-> {out / 'recipes.md'}, {out / 'median_vs_minutes.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    speed = parser.add_argument_group("speed mode (the default)")
    speed.add_argument("--steps", type=int, default=30, help="timed steps (default 30)")
    speed.add_argument("--warmup", type=int, default=5, help="untimed first steps (default 5)")
    speed.add_argument("--scenes", type=int, default=3, help="scenes per resolution (default 3)")
    speed.add_argument("--views", type=int, default=12, help="views per scene (default 12)")
    speed.add_argument(
        "--loader-workers",
        type=int,
        default=TrainConfig().loop.loader_workers,
        help="train.loop.loader_workers (default: the demo config's)",
    )
    recipes = parser.add_argument_group("recipe mode")
    recipes.add_argument(
        "--recipes", metavar="NAME[,NAME...]", help=f"recipes to benchmark: {', '.join(RECIPES)}"
    )
    recipes.add_argument("--data", type=Path, metavar="TRAIN", help="fused training scenes")
    recipes.add_argument("--held-out", type=Path, metavar="TEST", help="fused held-out scenes")
    recipes.add_argument(
        "--out", type=Path, metavar="DIR", help="run folders DIR/NAME, DIR/recipes.md, the plot"
    )
    recipes.add_argument(
        "--checkpoints", type=int, default=4, metavar="N", help="kept checkpoints a run (default 4)"
    )
    recipes.add_argument(
        "--extra-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override added to every recipe (e.g. train.loop.steps=20 for a smoke run)",
    )
    args = parser.parse_args()
    command = shlex.join(sys.orig_argv)
    print(f"command: {command}")
    if args.recipes is None:
        speed_benchmark(args)
        return
    missing = [option for option in ("data", "held_out", "out") if getattr(args, option) is None]
    if missing:
        parser.error("--recipes needs " + ", ".join(f"--{m.replace('_', '-')}" for m in missing))
    if args.checkpoints < 1:
        parser.error("--checkpoints must be at least 1")
    # A `kill` stops the benchmark as Ctrl-C does: the training it runs stops with it.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    try:
        recipe_benchmark(args, command)
    except DonkitError as error:  # a recipe's config, or the held-out data
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
