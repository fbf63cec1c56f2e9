"""Training speed: iterations/s and images/s of ResNet-18 and ResNet-34 at 320x240 and 640x480.

Each configuration trains `--warmup + --steps` steps of the demo recipe (`TrainConfig()`:
pairs composed, augmented and their correspondences generated on the fly in the loader) on a few
freshly collected and fused scenes of its resolution; the steps after the warm-up count. Speeds
are given as ratios against ResNet-18 at 320x240, run in the same process, since absolute times
on a shared machine mean little. Beside them, the share of step time spent waiting for the next
batch of pairs (goal <= 20 %): the loader prepares pairs while the network trains.

Run from the repository root:
    .venv/bin/python -m benchmarks.train [--steps N] [--warmup N] [--scenes N] [--views N]
        [--loader-workers N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

import collect
from descriptors.config import CorrespondConfig, TrainConfig
from descriptors.train import train_descriptors
from donkit.table import format_table
from learn.config import LoopConfig
from reconstruct import FuseConfig, fuse

GOAL_DATA_SHARE = 0.20
RESOLUTIONS = ((320, 240), (640, 480))
BACKBONES = (18, 34)


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
    train = dataclasses.replace(TrainConfig(), backbone=backbone, loop=loop)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps (default 5)")
    parser.add_argument("--scenes", type=int, default=3, help="scenes per resolution (default 3)")
    parser.add_argument("--views", type=int, default=12, help="views per scene (default 12)")
    parser.add_argument(
        "--loader-workers",
        type=int,
        default=TrainConfig().loop.loader_workers,
        help="train.loop.loader_workers (default: the demo config's)",
    )
    args = parser.parse_args()
    print(f"command: {shlex.join(sys.orig_argv)}")
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


if __name__ == "__main__":
    main()
