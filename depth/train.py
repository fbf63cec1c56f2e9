"""Depth training, self-supervised, stereo or supervised: the loop, its logs and checkpoints.

Step s trains on samples s * B * R + r * B + i (B samples a step, R processes, r this one's
rank, i < B), each a pure function of the seed and its number (data.py). With the initial
weights drawn from the seed too, a run is reproducible, and resuming from a checkpoint continues
with exactly the samples and state an uninterrupted run would have had.

What each mode minimizes is depth/objective.py; this module keeps the run: the loop, the
optimizer and schedule, TensorBoard and log.jsonl, checkpoints, the NaN stop, torchrun.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from depth.checkpoint import build_depth_network, depth_spec
from depth.config import DepthConfig
from depth.data import DepthSamples, collate
from depth.network import DepthNet, PoseNet, disparity_to_depth
from depth.objective import batch_loss
from depth.visual import colourise_depth
from descriptors.checkpoint import RunFolder, load_checkpoint, save_checkpoint
from descriptors.train import resolve_device
from geometry import DonkitError
from geometry.image_io import to_plain, write_bytes_atomic, write_yaml
from geometry.parallel import progress_bar
from geometry.scene_io import complete_scenes


@dataclass
class DepthTrainSummary:
    """What a depth training run did."""

    run: Path
    mode: str
    first_step: int  # where this call started (0, or the resumed checkpoint's step)
    steps: int  # where it stopped
    seconds: float
    samples_per_second: float
    data_share: float  # share of step time spent waiting for samples
    losses: dict[str, float]  # the last logged means
    ranks: int = 1
    rank_parameter_spread: float = 0.0  # largest difference of a parameter between processes

    def line(self) -> str:
        text = (
            f"{self.mode}: steps {self.first_step}-{self.steps} in {self.seconds:.0f} s "
            f"({self.samples_per_second:.1f} samples/s, {100 * self.data_share:.0f} % waiting "
            f"for data); loss {self.losses.get('total', math.nan):.4f}"
        )
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


class _StepBatches(torch.utils.data.Sampler):
    """The sample numbers of steps `first` to `last` - 1, one list per step, for one rank."""

    def __init__(self, first: int, last: int, batch: int, processes: _Processes):
        self.first, self.last, self.batch, self.processes = first, last, batch, processes

    def __len__(self) -> int:
        return self.last - self.first

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.first, self.last):
            start = (step * self.processes.world + self.processes.rank) * self.batch
            yield list(range(start, start + self.batch))


def learning_rate_factor(config: DepthConfig, step: int) -> float:
    """The share of config.learning_rate used at `step` (0-based) under config.schedule."""
    if config.schedule == "step":
        return config.decay_factor ** (step // config.decay_every)
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, config.steps) / config.steps))
    return 1.0


def start_at_depth(network: DepthNet, config: DepthConfig) -> None:
    """Set the disparity heads' bias so that zero features give config.initial_depth_m."""
    low, high = 1.0 / config.max_depth_m, 1.0 / config.min_depth_m
    disparity = (1.0 / config.initial_depth_m - low) / (high - low)
    with torch.no_grad():
        for head in network.disparity_heads:
            head[-1].bias.fill_(math.log(disparity / (1.0 - disparity)))


def train_depth(
    config_plain: dict[str, Any],
    config: DepthConfig,
    data: Path,
    run_root: Path,
    resume: bool = False,
    device_name: str | None = None,
    show_progress: bool | None = None,
) -> DepthTrainSummary:
    """Train a depth network on the scenes under `data` into run folder `run_root`.

    Args:
        config_plain: the whole resolved config, saved with the run (config.yaml).
        config: its `depth` section.
        resume: continue from `run_root`'s last.pt up to `config.steps`.
        device_name: overrides `config.device`.
    """
    processes = _Processes.from_environment()
    device = resolve_device(device_name or config.device, processes.local_rank)
    run = RunFolder(Path(run_root))
    if resume and not run.last.is_file():
        raise DonkitError(f"cannot resume: {run.last} does not exist")
    if not resume and run.last.is_file():
        raise DonkitError(
            f"{run.root} already holds a training run; continue it with `donkit depth train "
            f"--resume {run.root}`, or choose another --out"
        )
    hint = "run `donkit collect` first"
    if config.mode == "stereo":
        hint = (
            "record stereo scenes with `donkit collect --set collect.camera.stereo_baseline_m=0.06`"
        )
    scenes, partial = complete_scenes(data, hint)
    if partial and processes.main:
        print(f"depth train: leaving out {len(partial)} unfinished scene(s) under {data}")
    if processes.world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    # As in descriptor training: two CPU threads otherwise reduce in varying order, and runs of
    # one config drift apart; where an op has no deterministic kernel, torch only warns.
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        trainer = _Trainer(
            config_plain, config, scenes, run, resume, device, processes, show_progress,
            {"data": str(data)},
        )  # fmt: skip
        return trainer.run()
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        if processes.world > 1:
            dist.destroy_process_group()


class _Trainer:
    """One depth training run's state and loop."""

    def __init__(
        self,
        config_plain: dict[str, Any],
        config: DepthConfig,
        scenes: list[Path],
        run: RunFolder,
        resume: bool,
        device: torch.device,
        processes: _Processes,
        show_progress: bool | None,
        sources: dict[str, str],
    ):
        self.config_plain, self.config, self.folder = config_plain, config, run
        self.device, self.processes, self.sources = device, processes, sources
        self.show_progress = show_progress if processes.main else False
        torch.manual_seed(config.seed)
        self.spec = depth_spec(config)
        self.depth_net = build_depth_network(self.spec).to(device)
        if config.initial_depth_m:
            start_at_depth(self.depth_net, config)
        self.pose_net = None
        if config.mode == "self_supervised" and config.pose_source == "network":
            self.pose_net = PoseNet(config.backbone).to(device)
        networks = [self.depth_net] + ([self.pose_net] if self.pose_net is not None else [])
        self.parameters = [p for network in networks for p in network.parameters()]
        self.depth_model: torch.nn.Module = self.depth_net
        self.pose_model: torch.nn.Module | None = self.pose_net
        if processes.world > 1:
            ids = [device.index] if device.type == "cuda" else None
            # Scales the losses leave out leave their heads without gradients.
            self.depth_model = DistributedDataParallel(
                self.depth_net, device_ids=ids, find_unused_parameters=config.scales < 4
            )
            if self.pose_net is not None:
                self.pose_model = DistributedDataParallel(self.pose_net, device_ids=ids)
        # foreach: one kernel over all parameters; the default loops over 150 tensors on CPU.
        self.optimizer = torch.optim.Adam(
            self.parameters, lr=config.learning_rate, weight_decay=config.weight_decay,
            foreach=True,
        )  # fmt: skip
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: learning_rate_factor(config, step)
        )
        self.step = 0
        self.last_means: dict[str, float] = {}
        self.saved_step: int | None = None
        if resume:
            self._restore(load_checkpoint(run.last))
            self.saved_step = self.step
        count = config.steps * processes.world * config.batch_size
        self.samples = DepthSamples(scenes, config, count)

    # State.

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "model": self.depth_net.state_dict(),
            "pose_model": None if self.pose_net is None else self.pose_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
            "config": self.config_plain,
            "depth": self.spec,
            "sources": self.sources,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if state.get("depth") != self.spec:
            raise DonkitError(
                f"{self.folder.last} holds a depth network of another kind or shape "
                f"({state.get('depth')}) than the config asks for; resume with the run's own "
                "config"
            )
        self.depth_net.load_state_dict(state["model"])
        if self.pose_net is not None:
            self.pose_net.load_state_dict(state["pose_model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step = int(state["step"])

    def _save(self) -> None:
        """last.pt, and a kept checkpoint every `checkpoint_every` steps (main process)."""
        if not self.processes.main:
            return
        self.folder.checkpoints.mkdir(parents=True, exist_ok=True)
        state = self._state()
        save_checkpoint(self.folder.last, state)
        self.saved_step = self.step
        if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps:
            save_checkpoint(self.folder.step_checkpoint(self.step), state)

    # The loop.

    def run(self) -> DepthTrainSummary:
        config, main = self.config, self.processes.main
        first = self.step
        if main:
            self.folder.root.mkdir(parents=True, exist_ok=True)
            write_yaml(self.folder.config, self.config_plain)
        writer = self._tensorboard() if main else None
        loader = torch.utils.data.DataLoader(
            self.samples,
            batch_sampler=_StepBatches(first, config.steps, config.batch_size, self.processes),
            num_workers=config.loader_workers,
            collate_fn=collate,
            pin_memory=self.device.type == "cuda",
        )
        window: list[dict[str, float]] = []
        waited = elapsed = 0.0
        started = time.perf_counter()
        bar = progress_bar(config.steps, "depth train", self.show_progress, unit="step")
        bar.update(first)
        try:
            clock = time.perf_counter()
            for batch in loader:
                ready = time.perf_counter()
                log = self._train_step(batch, writer)
                self.step += 1
                done = time.perf_counter()
                waited += ready - clock
                elapsed += done - clock
                window.append({**log, "step_time_s": done - clock, "data_time_s": ready - clock})
                bar.update(1)
                if self.step % config.log_every == 0 or self.step == config.steps:
                    means = self._log(window, writer)
                    bar.set_postfix(loss=f"{means['total']:.4f}")
                    window = []
                if self.step % config.last_every == 0 or self.step == config.steps:
                    self._save()
                clock = time.perf_counter()  # logs and saving are not step time
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        summary = DepthTrainSummary(
            self.folder.root, config.mode, first, self.step, time.perf_counter() - started,
            (self.step - first) * config.batch_size * self.processes.world / max(elapsed, 1e-9),
            waited / max(elapsed, 1e-9), self.last_means, self.processes.world,
            self._rank_spread(),
        )  # fmt: skip
        if main:
            text = json.dumps(
                to_plain(dataclasses.asdict(summary)) | {"run": str(self.folder.root)}
            )
            write_bytes_atomic(self.folder.summary, (text + "\n").encode())
        return summary

    def _train_step(self, batch: dict[str, Any], writer: Any) -> dict[str, float]:
        self.depth_model.train()
        if self.pose_model is not None:
            self.pose_model.train()
        batch = {
            key: value.to(self.device, non_blocking=True) if value.is_floating_point() else value
            for key, value in batch.items()
        }
        total, log, disparity = batch_loss(self.config, self.depth_model, self.pose_model, batch)
        if not math.isfinite(log["total"]):
            self._stop(f"the loss became {log['total']} at step {self.step + 1}")
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        norm = torch.nn.utils.clip_grad_norm_(
            self.parameters, self.config.clip_grad_norm or math.inf
        )
        if not torch.isfinite(norm):
            self._stop(f"the gradient became {float(norm)} at step {self.step + 1}")
        self.optimizer.step()
        self.scheduler.step()
        log["gradient_norm"] = float(norm)
        log["learning_rate"] = self.scheduler.get_last_lr()[0]
        if writer is not None and (self.step + 1) % self.config.image_every == 0:
            self._images(writer, batch["image"][0], disparity[0].detach(), self.step + 1)
        return log

    def _stop(self, what: str) -> None:
        kept = "no checkpoint was written yet"
        if self.saved_step is not None:
            kept = f"{self.folder.last} keeps step {self.saved_step}"
        raise DonkitError(
            f"training stopped: {what}; {kept}. Lower depth.learning_rate (or "
            "depth.clip_grad_norm) and train again"
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
            writer.add_scalar(f"{group}/{key}", value, self.step)
        return means

    def _images(self, writer: Any, image: torch.Tensor, disparity: torch.Tensor, step: int):
        writer.add_image("images/input", image.cpu(), step)
        depth = disparity_to_depth(disparity[0], self.config.min_depth_m, self.config.max_depth_m)
        colour = colourise_depth(depth.cpu().numpy(), self.config.min_depth_m)
        writer.add_image("images/depth", colour.transpose(2, 0, 1), step)

    def _rank_spread(self) -> float:
        """The largest difference between this process's parameters and rank 0's (0 alone)."""
        if self.processes.world == 1:
            return 0.0
        spread = torch.zeros((), device=self.device)
        for parameter in self.parameters:
            reference = parameter.detach().clone()
            dist.broadcast(reference, 0)
            spread = torch.maximum(spread, (parameter.detach() - reference).abs().max())
        dist.all_reduce(spread, op=dist.ReduceOp.MAX)
        return float(spread)


_OPTIMIZER = {"learning_rate", "gradient_norm"}
