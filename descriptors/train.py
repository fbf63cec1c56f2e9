"""Descriptor training: the loop, its logs and checkpoints, and scaling out with torchrun.

Step s trains on samples s * P * R + r * P + i (P pairs a step, R processes, r this one's rank,
i < P), each a pure function of the seed and its number (training_data.py). With the network's
initial weights drawn from the seed too, a run is reproducible, and resuming from a checkpoint
continues with exactly the pairs and state an uninterrupted run would have had.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from descriptors.checkpoint import RunFolder, load_checkpoint, network_spec, save_checkpoint
from descriptors.config import CorrespondConfig, TrainConfig
from descriptors.loss import LossWeights, Samples, contrastive_loss
from descriptors.network import DescriptorNet, load_backbone_weights, normalize_images
from descriptors.training_data import TrainingPairs, collate
from descriptors.visual import descriptor_image
from geometry import DonkitError
from geometry.image_io import to_plain, write_bytes_atomic, write_yaml
from geometry.parallel import progress_bar
from geometry.scene_io import complete_scenes

_VALIDATION_SEED_OFFSET = 7919  # held-out pairs are drawn apart from the training stream


@dataclass
class TrainSummary:
    """What a training run did."""

    run: Path
    first_step: int  # where this call started (0, or the resumed checkpoint's step)
    steps: int  # where it stopped
    seconds: float
    pairs_per_second: float
    data_share: float  # share of step time spent waiting for pairs
    losses: dict[str, float]  # the last logged means
    validation: list[dict[str, float]] = field(default_factory=list)  # with "step"
    ranks: int = 1
    rank_parameter_spread: float = 0.0  # largest difference of a parameter between processes

    def line(self) -> str:
        text = (
            f"steps {self.first_step}-{self.steps} in {self.seconds:.0f} s "
            f"({self.pairs_per_second:.1f} pairs/s, {100 * self.data_share:.0f} % waiting for "
            f"data); loss {self.losses.get('total', math.nan):.4f}"
        )
        if len(self.validation) >= 2:
            first, last = self.validation[0]["total"], self.validation[-1]["total"]
            text += f"; held-out loss {first:.4f} -> {last:.4f}"
        return text + (f"; {self.ranks} processes" if self.ranks > 1 else "")


@dataclass(frozen=True)
class _Processes:
    """This process's place among torchrun's (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @staticmethod
    def from_environment() -> _Processes:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return _Processes()
        return _Processes(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` is cuda when present, else cpu; cuda picks the process's local GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise DonkitError("--device cuda was asked for, but torch sees no CUDA device here")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name != "cpu":
        raise DonkitError(f"device must be auto, cpu or cuda; got {name!r}")
    return torch.device("cpu")


def loss_weights(train: TrainConfig) -> LossWeights:
    return LossWeights(
        train.margin, train.background_margin, train.match_weight, train.blind_weight,
        train.cross_object_weight,
    )  # fmt: skip


def build_network(train: TrainConfig) -> DescriptorNet:
    """The network with its initial weights, drawn from the seed (or the pretrained file)."""
    torch.manual_seed(train.seed)
    network = DescriptorNet(
        train.backbone, train.descriptor_dim, train.width, train.normalize, train.finest_stride
    )
    if train.pretrained:
        load_backbone_weights(network, Path(train.pretrained))
    return network


class _StepBatches(torch.utils.data.Sampler):
    """The sample numbers of steps `first` to `last` - 1, one list per step, for one rank."""

    def __init__(self, first: int, last: int, pairs: int, processes: _Processes):
        self.first, self.last, self.pairs, self.processes = first, last, pairs, processes

    def __len__(self) -> int:
        return self.last - self.first

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.first, self.last):
            start = (step * self.processes.world + self.processes.rank) * self.pairs
            yield list(range(start, start + self.pairs))


def describe(
    network: torch.nn.Module,
    images_a: torch.Tensor,
    images_b: torch.Tensor,
    device: torch.device,
    mixed_precision: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Descriptors (B, D, H, W) float32 of both images of each pair, in one forward pass (so
    batch normalization sees both)."""
    images = normalize_images(torch.cat([images_a, images_b]).to(device, non_blocking=True))
    with torch.autocast(device.type, dtype=torch.float16, enabled=mixed_precision):
        descriptors = network(images)
    return descriptors.float().chunk(2)


def train_descriptors(
    config_plain: dict[str, Any],
    correspond: CorrespondConfig,
    train: TrainConfig,
    data: Path,
    run_root: Path,
    validation_data: Path | None = None,
    resume: bool = False,
    device_name: str | None = None,
    show_progress: bool | None = None,
) -> TrainSummary:
    """Train descriptors on the fused scenes under `data`, into run folder `run_root`.

    Args:
        config_plain: the whole resolved config, saved with the run.
        resume: continue from `run_root`'s last.pt up to `train.steps`.
        device_name: overrides `train.device`.
    """
    processes = _Processes.from_environment()
    device = resolve_device(device_name or train.device, processes.local_rank)
    run = RunFolder(Path(run_root))
    _check_run_folder(run, resume)
    scenes, partial = complete_scenes(data, "run `donkit collect` and `donkit fuse` first")
    held_out = None
    if validation_data is not None:
        held_out, _ = complete_scenes(validation_data, "pass fused held-out scenes to --val")
    if partial and processes.main:
        print(f"train: leaving out {len(partial)} unfinished scene(s) under {data}")
    if processes.world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    # With two CPU threads, some reductions otherwise add in a varying order, and the difference
    # in the 7th digit grows into another model within a few hundred steps. Where an op has no
    # deterministic kernel (on CUDA), torch warns instead of failing.
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _Trainer(
            config_plain, correspond, train, scenes, held_out, run, resume, device, processes,
            show_progress, {"data": str(data), "validation_data": str(validation_data or "")},
        ).run()  # fmt: skip
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        if processes.world > 1:
            dist.destroy_process_group()


def _check_run_folder(run: RunFolder, resume: bool) -> None:
    if resume and not run.last.is_file():
        raise DonkitError(f"cannot resume: {run.last} does not exist")
    if not resume and run.last.is_file():
        raise DonkitError(
            f"{run.root} already holds a training run; continue it with `donkit train --resume "
            f"{run.root}`, or choose another --out"
        )


class _Trainer:
    """One training run's state and loop."""

    def __init__(
        self,
        config_plain: dict[str, Any],
        correspond: CorrespondConfig,
        train: TrainConfig,
        scenes: list[Path],
        held_out: list[Path] | None,
        run: RunFolder,
        resume: bool,
        device: torch.device,
        processes: _Processes,
        show_progress: bool | None,
        sources: dict[str, str],
    ):
        self.config_plain, self.train, self.folder = config_plain, train, run
        self.device, self.processes, self.sources = device, processes, sources
        self.show_progress = show_progress if processes.main else False
        self.mixed_precision = train.mixed_precision and device.type == "cuda"
        self.weights = loss_weights(train)
        self.network = build_network(train).to(device)
        self.model: torch.nn.Module = self.network
        if processes.world > 1:
            self.model = DistributedDataParallel(
                self.network, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimizer, train.decay_every, train.decay_factor
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.mixed_precision)
        self.step = 0
        self.validation: list[dict[str, float]] = []
        self.last_means: dict[str, float] = {}
        self.saved_step: int | None = None
        if resume:
            self._restore(load_checkpoint(run.last))
            self.saved_step = self.step
        count = train.steps * processes.world * train.pairs_per_step
        self.pairs = TrainingPairs(scenes, correspond, train, count)
        self.held_out = None
        if held_out is not None:
            seed = dataclasses.replace(train, seed=train.seed + _VALIDATION_SEED_OFFSET)
            self.held_out = TrainingPairs(
                held_out, correspond, seed, train.validation_pairs, augment=False
            )

    # State.

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "model": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
            "config": self.config_plain,
            "network": network_spec(self.network),
            "descriptor_dim": self.network.descriptor_dim,
            "sources": self.sources,
            "validation": self.validation,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        saved = {"finest_stride": 8} | state["network"]  # older checkpoints: stride 8
        if network_spec(self.network) != saved:
            raise DonkitError(
                f"{self.folder.last} holds a network of another shape ({state['network']}) "
                "than the config asks for; resume with the run's own config"
            )
        self.network.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step = int(state["step"])
        self.validation = list(state.get("validation", []))

    def _save(self) -> None:
        """last.pt, and a kept checkpoint at every `checkpoint_every` steps (main process)."""
        if not self.processes.main:
            return
        self.folder.checkpoints.mkdir(parents=True, exist_ok=True)
        state = self._state()
        save_checkpoint(self.folder.last, state)
        self.saved_step = self.step
        if self.step % self.train.checkpoint_every == 0 or self.step == self.train.steps:
            save_checkpoint(self.folder.step_checkpoint(self.step), state)

    # The loop.

    def run(self) -> TrainSummary:
        train, main = self.train, self.processes.main
        first = self.step
        if main:
            self.folder.root.mkdir(parents=True, exist_ok=True)
            write_yaml(self.folder.config, self.config_plain)
        writer = self._tensorboard() if main else None
        loader = torch.utils.data.DataLoader(
            self.pairs,
            batch_sampler=_StepBatches(first, train.steps, train.pairs_per_step, self.processes),
            num_workers=train.loader_workers,
            collate_fn=collate,
            pin_memory=self.device.type == "cuda",
        )
        window: list[dict[str, float]] = []
        waited = elapsed = 0.0
        started = time.perf_counter()
        if self.held_out is not None and first == 0:
            self._validate(writer)
        bar = progress_bar(train.steps, "train", self.show_progress, unit="step")
        bar.update(first)
        try:
            clock = time.perf_counter()
            for images_a, images_b, samples in loader:
                ready = time.perf_counter()
                log = self._train_step(images_a, images_b, samples, writer)
                self.step += 1
                done = time.perf_counter()
                waited += ready - clock
                elapsed += done - clock
                window.append({**log, "step_time_s": done - clock, "data_time_s": ready - clock})
                bar.update(1)
                if self.step % train.log_every == 0 or self.step == train.steps:
                    means = self._log(window, writer)
                    bar.set_postfix(loss=f"{means['total']:.4f}")
                    window = []
                if self.held_out is not None and (
                    self.step % train.validate_every == 0 or self.step == train.steps
                ):
                    self._validate(writer)
                if self.step % train.last_every == 0 or self.step == train.steps:
                    self._save()
                clock = time.perf_counter()  # logs, validation and saving are not step time
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        spread = self._rank_spread()
        summary = TrainSummary(
            self.folder.root, first, self.step, time.perf_counter() - started,
            (self.step - first) * train.pairs_per_step * self.processes.world / max(elapsed, 1e-9),
            waited / max(elapsed, 1e-9), self.last_means, self.validation,
            self.processes.world, spread,
        )  # fmt: skip
        if main:
            text = json.dumps(
                to_plain(dataclasses.asdict(summary)) | {"run": str(self.folder.root)}
            )
            write_bytes_atomic(self.folder.summary, (text + "\n").encode())
        return summary

    def _train_step(
        self, images_a: torch.Tensor, images_b: torch.Tensor, samples: Samples, writer: Any
    ) -> dict[str, float]:
        self.model.train()
        descriptors_a, descriptors_b = describe(
            self.model, images_a, images_b, self.device, self.mixed_precision
        )
        total, log = contrastive_loss(
            descriptors_a, descriptors_b, samples.to(self.device), self.weights
        )
        if not math.isfinite(log["total"]):
            self._stop(f"the loss became {log['total']} at step {self.step + 1}")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(
            self.network.parameters(), self.train.clip_grad_norm or math.inf
        )
        if not self.mixed_precision and not torch.isfinite(norm):
            self._stop(f"the gradient became {float(norm)} at step {self.step + 1}")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        log["gradient_norm"] = float(norm)
        log["learning_rate"] = self.scheduler.get_last_lr()[0]
        if writer is not None and (self.step + 1) % self.train.image_every == 0:
            self._images(writer, images_a[0], descriptors_a[0], self.step + 1)
        return log

    def _stop(self, what: str) -> None:
        kept = "no checkpoint was written yet"
        if self.saved_step is not None:
            kept = f"{self.folder.last} keeps step {self.saved_step}"
        raise DonkitError(
            f"training stopped: {what}; {kept}. Lower train.learning_rate (or "
            "train.clip_grad_norm) and train again"
        )

    # Logs.

    def _tensorboard(self) -> Any:
        from torch.utils.tensorboard import SummaryWriter  # imported here: slow to import

        return SummaryWriter(str(self.folder.tensorboard), purge_step=self.step or None)

    def _log(self, window: list[dict[str, float]], writer: Any) -> dict[str, float]:
        """The means over the steps since the last log, written to log.jsonl and TensorBoard."""
        keys = sorted({key for entry in window for key in entry})
        means = {
            key: float(np.mean([entry[key] for entry in window if key in entry])) for key in keys
        }
        self.last_means = means
        if not self.processes.main:
            return means
        with self.folder.log.open("a") as file:
            file.write(json.dumps({"step": self.step, **means}) + "\n")
        for key, value in means.items():
            group = "time" if key.endswith("_s") else "optimizer" if key in _OPTIMIZER else "loss"
            group = "hard_negatives" if key.startswith("hard_share") else group
            writer.add_scalar(f"{group}/{key}", value, self.step)
        return means

    def _images(self, writer: Any, image: torch.Tensor, descriptors: torch.Tensor, step: int):
        writer.add_image("images/input", image.permute(2, 0, 1), step)
        writer.add_image("images/descriptors", descriptor_image(descriptors), step)

    @torch.no_grad()
    def _validate(self, writer: Any) -> None:
        """The mean loss over the held-out pairs (network in eval mode; main process)."""
        if not self.processes.main:
            return
        self.network.eval()
        totals: dict[str, list[float]] = {}
        for index in range(len(self.held_out)):
            images_a, images_b, samples = collate([self.held_out[index]])
            descriptors = describe(
                self.network, images_a, images_b, self.device, self.mixed_precision
            )
            _, log = contrastive_loss(*descriptors, samples.to(self.device), self.weights)
            for key, value in log.items():
                totals.setdefault(key, []).append(value)
        result = {"step": self.step, **{k: float(np.mean(v)) for k, v in totals.items()}}
        self.validation.append(result)
        if writer is not None:
            for key, value in result.items():
                if key != "step":
                    writer.add_scalar(f"held_out/{key}", value, self.step)

    def _rank_spread(self) -> float:
        """The largest difference between this process's parameters and rank 0's (0 alone)."""
        if self.processes.world == 1:
            return 0.0
        spread = torch.zeros((), device=self.device)
        for parameter in self.network.parameters():
            reference = parameter.detach().clone()
            dist.broadcast(reference, 0)
            spread = torch.maximum(spread, (parameter.detach() - reference).abs().max())
        dist.all_reduce(spread, op=dist.ReduceOp.MAX)
        return float(spread)


_OPTIMIZER = {"learning_rate", "gradient_norm"}
