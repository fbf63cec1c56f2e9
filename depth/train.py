"""Depth training, self-supervised, stereo or supervised: the loop, its logs and checkpoints.

Step s trains on samples s * B * R + r * B + i (B samples a step, R processes, r this one's
rank, i < B), each a pure function of the seed and its number (data.py). With the initial
weights drawn from the seed too, a run is reproducible, and resuming from a checkpoint continues
with exactly the samples and state an uninterrupted run would have had.

What each mode minimizes is depth/objective.py; this module builds the networks, optimizer
and schedule; the loop, logs, checkpoints, the NaN stop and torchrun are learn/loop.py,
shared with descriptor training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from depth.checkpoint import build_depth_network, depth_spec
from depth.config import DepthConfig
from depth.data import DepthSamples, collate
from depth.network import DepthNet, PoseNet, disparity_to_depth
from depth.objective import batch_loss
from depth.visual import colourise_depth
from formats import DonkitError
from learn.devices import training_processes
from learn.efficientnet import load_efficientnet_lite0
from learn.encoders import EFFICIENTNET_LITE0
from learn.loop import RunSummary, TrainingRun, TrainingStart, start_training


@dataclass(kw_only=True)
class DepthTrainSummary(RunSummary):
    """What a depth training run did."""

    mode: str
    samples_per_second: float

    def line(self) -> str:
        progress = self.progress_text(self.samples_per_second, "samples")
        return f"{self.mode}: {progress}{self.ranks_text()}"


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
        resume: continue from `run_root`'s last.pt up to `config.loop.steps`.
        device_name: overrides `config.loop.device`.
    """
    hint = "run `donkit collect` first"
    if config.mode == "stereo":
        hint = (
            "record stereo scenes with `donkit collect --set collect.camera.stereo_baseline_m=0.06`"
        )
    start = start_training(
        config.loop,
        data,
        run_root,
        resume,
        device_name,
        kind=_Trainer.kind,
        command="donkit depth train",
        missing_data_hint=hint,
    )
    with training_processes(start.processes, start.device):
        trainer = _Trainer(config_plain, config, start, {"data": str(data)}, show_progress)
        return trainer.run()


class _Trainer(TrainingRun):
    """One depth training run: the depth (and pose) network and its mode's loss."""

    kind = "depth"
    section = "depth"
    label = "depth train"

    def __init__(
        self,
        config_plain: dict[str, Any],
        config: DepthConfig,
        start: TrainingStart,
        sources: dict[str, str],
        show_progress: bool | None,
    ):
        super().__init__(config.loop, start.run, start.device, start.processes, show_progress)
        self.config_plain, self.config, self.sources = config_plain, config, sources
        torch.manual_seed(config.seed)
        self.spec = depth_spec(config)
        self.depth_net = build_depth_network(self.spec).to(self.device)
        if config.backbone == EFFICIENTNET_LITE0 and start.resume_state is None:
            load_efficientnet_lite0(self.depth_net.encoder)
        if config.initial_depth_m:
            start_at_depth(self.depth_net, config)
        self.pose_net = None
        if config.mode == "self_supervised" and config.pose_source == "network":
            pose_backbone = 18 if config.backbone == EFFICIENTNET_LITE0 else config.backbone
            self.pose_net = PoseNet(pose_backbone).to(self.device)
        # Scales the losses leave out leave their heads without gradients.
        self.depth_model = self.distributed(
            self.depth_net, find_unused_parameters=config.scales < 4
        )
        self.pose_model = None if self.pose_net is None else self.distributed(self.pose_net)
        self.set_networks([self.depth_net] + ([self.pose_net] if self.pose_net is not None else []))
        if start.resume_state is not None:
            self.resume(start.resume_state)
        count = config.loop.steps * self.processes.world * config.batch_size
        self.samples = DepthSamples(start.scenes, config, count)

    def network_state(self) -> dict[str, Any]:
        return {
            "model": self.depth_net.state_dict(),
            "pose_model": None if self.pose_net is None else self.pose_net.state_dict(),
            "config": self.config_plain,
            "depth": self.spec,
            "sources": self.sources,
        }

    def load_network_state(self, state: dict[str, Any]) -> None:
        if state.get("depth") != self.spec:
            raise DonkitError(
                f"{self.folder.last} holds a depth network of another kind or shape "
                f"({state.get('depth')}) than the config asks for; resume with the run's own "
                "config"
            )
        self.depth_net.load_state_dict(state["model"])
        if self.pose_net is not None:
            self.pose_net.load_state_dict(state["pose_model"])

    def run(self) -> DepthTrainSummary:
        config = self.config
        times = self.loop(self.samples, collate, config.batch_size, self.config_plain)
        summary = DepthTrainSummary(
            **self.summary_fields(times),
            mode=config.mode,
            samples_per_second=times.samples_per_second,
        )
        self.write_summary(summary)
        return summary

    def train_step(self, batch: dict[str, Any], writer: Any) -> dict[str, float]:
        self.depth_model.train()
        if self.pose_model is not None:
            self.pose_model.train()
        batch = {
            key: value.to(self.device, non_blocking=True) if value.is_floating_point() else value
            for key, value in batch.items()
        }
        total, log, disparity = batch_loss(self.config, self.depth_model, self.pose_model, batch)
        self.optimize(total, log)
        if writer is not None and self.images_due():
            self._images(writer, batch["image"][0], disparity[0].detach(), self.step + 1)
        return log

    def _images(self, writer: Any, image: torch.Tensor, disparity: torch.Tensor, step: int):
        writer.add_image("images/input", image.cpu(), step)
        depth = disparity_to_depth(disparity[0], self.config.min_depth_m, self.config.max_depth_m)
        colour = colourise_depth(depth.cpu().numpy(), self.config.min_depth_m)
        writer.add_image("images/depth", colour.transpose(2, 0, 1), step)
