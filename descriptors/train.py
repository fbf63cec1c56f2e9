"""Descriptor training: the network, its loss and held-out validation (the loop, logs,
checkpoints and torchrun are learn/loop.py, which depth training shares).

Step s trains on samples s * P * R + r * P + i (P pairs a step, R processes, r this one's rank,
i < P), each a pure function of the seed and its number (training_data.py). With the network's
initial weights drawn from the seed too, a run is reproducible, and resuming from a checkpoint
continues with exactly the pairs and state an uninterrupted run would have had.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from descriptors.config import CorrespondConfig, TrainConfig
from descriptors.loss import descriptor_loss
from descriptors.network import DescriptorNet, network_spec
from descriptors.training_data import TrainingPairs, collate
from descriptors.visual import descriptor_image
from formats import DonkitError
from formats.scenes import complete_scenes
from learn.backbones import load_backbone_weights, normalize_images
from learn.devices import training_processes
from learn.efficientnet import load_efficientnet_lite0
from learn.encoders import EFFICIENTNET_LITE0
from learn.loop import RunSummary, TrainingRun, TrainingStart, start_training

_VALIDATION_SEED_OFFSET = 7919  # held-out pairs are drawn apart from the training stream


@dataclass(kw_only=True)
class TrainSummary(RunSummary):
    """What a descriptor training run did."""

    pairs_per_second: float
    validation: list[dict[str, float]] = field(default_factory=list)  # with "step"

    def line(self) -> str:
        text = self.progress_text(self.pairs_per_second, "pairs")
        if len(self.validation) >= 2:
            first, last = self.validation[0]["total"], self.validation[-1]["total"]
            text += f"; held-out loss {first:.4f} -> {last:.4f}"
        return text + self.ranks_text()


def build_network(train: TrainConfig) -> DescriptorNet:
    """The network with its initial weights, drawn from the seed (or the pretrained file)."""
    torch.manual_seed(train.seed)
    network = DescriptorNet(
        train.backbone, train.descriptor_dim, train.width, train.normalize, train.finest_stride
    )
    weights = Path(train.pretrained) if train.pretrained else None
    if train.backbone == EFFICIENTNET_LITE0:
        load_efficientnet_lite0(network.backbone, weights)
    elif weights is not None:
        load_backbone_weights(network.backbone, weights)
    return network


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
        resume: continue from `run_root`'s last.pt up to `train.loop.steps`.
        device_name: overrides `train.loop.device`.
    """
    start = start_training(
        train.loop,
        data,
        run_root,
        resume,
        device_name,
        kind=_Trainer.kind,
        command="donkit train",
        missing_data_hint="run `donkit collect` and `donkit fuse` first",
    )
    held_out = None
    if validation_data is not None:
        held_out, _ = complete_scenes(validation_data, "pass fused held-out scenes to --val")
    sources = {"data": str(data), "validation_data": str(validation_data or "")}
    with training_processes(start.processes, start.device):
        trainer = _Trainer(config_plain, correspond, train, start, held_out, sources, show_progress)
        return trainer.run()


class _Trainer(TrainingRun):
    """One descriptor training run: the network, its loss and held-out validation."""

    kind = "descriptors"

    def __init__(
        self,
        config_plain: dict[str, Any],
        correspond: CorrespondConfig,
        train: TrainConfig,
        start: TrainingStart,
        held_out: list[Path] | None,
        sources: dict[str, str],
        show_progress: bool | None,
    ):
        super().__init__(train.loop, start.run, start.device, start.processes, show_progress)
        self.config_plain, self.train, self.sources = config_plain, train, sources
        self.mixed_precision = train.mixed_precision and self.device.type == "cuda"
        self.network = build_network(train).to(self.device)
        self.model = self.distributed(self.network)
        factor = train.backbone_learning_rate_factor
        slower = self.network.backbone if factor != 1.0 else None
        self.set_networks([self.network], slower, factor)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.mixed_precision)
        self.validation: list[dict[str, float]] = []
        if start.resume_state is not None:
            self.resume(start.resume_state)
        count = train.loop.steps * self.processes.world * train.pairs_per_step
        self.pairs = TrainingPairs(start.scenes, correspond, train, count)
        self.held_out = None
        if held_out is not None:
            seed = dataclasses.replace(train, seed=train.seed + _VALIDATION_SEED_OFFSET)
            self.held_out = TrainingPairs(
                held_out, correspond, seed, train.validation_pairs, augment=False
            )

    def network_state(self) -> dict[str, Any]:
        return {
            "model": self.network.state_dict(),
            "config": self.config_plain,
            "network": network_spec(self.network),
            "descriptor_dim": self.network.descriptor_dim,
            "sources": self.sources,
            "validation": self.validation,
        }

    def load_network_state(self, state: dict[str, Any]) -> None:
        saved = {"finest_stride": 8} | state["network"]  # older checkpoints: stride 8
        if network_spec(self.network) != saved:
            raise DonkitError(
                f"{self.folder.last} holds a network of another shape ({state['network']}) "
                "than the config asks for; resume with the run's own config"
            )
        self.network.load_state_dict(state["model"])
        self.validation = list(state.get("validation", []))

    def run(self) -> TrainSummary:
        times = self.loop(self.pairs, collate, self.train.pairs_per_step, self.config_plain)
        summary = TrainSummary(
            **self.summary_fields(times),
            pairs_per_second=times.samples_per_second,
            validation=self.validation,
        )
        self.write_summary(summary)
        return summary

    def train_step(self, batch: tuple, writer: Any) -> dict[str, float]:
        images_a, images_b, samples = batch
        self.model.train()
        descriptors_a, descriptors_b = describe(
            self.model, images_a, images_b, self.device, self.mixed_precision
        )
        total, log = descriptor_loss(
            descriptors_a, descriptors_b, samples.to(self.device), self.train.loss
        )
        self.optimize(total, log)
        if writer is not None and self.images_due():
            writer.add_image("images/input", images_a[0].permute(2, 0, 1), self.step + 1)
            writer.add_image(
                "images/descriptors", descriptor_image(descriptors_a[0]), self.step + 1
            )
        return log

    def log_group(self, key: str) -> str:
        return "hard_negatives" if key.startswith("hard_share") else super().log_group(key)

    def validate_due(self) -> bool:
        return self.step % self.train.validate_every == 0

    @torch.no_grad()
    def validate(self, writer: Any) -> None:
        """The mean loss over the held-out pairs (network in eval mode; main process)."""
        if self.held_out is None or not self.processes.main:
            return
        self.network.eval()
        totals: dict[str, list[float]] = {}
        for index in range(len(self.held_out)):
            images_a, images_b, samples = collate([self.held_out[index]])
            descriptors = describe(
                self.network, images_a, images_b, self.device, self.mixed_precision
            )
            _, log = descriptor_loss(*descriptors, samples.to(self.device), self.train.loss)
            for key, value in log.items():
                totals.setdefault(key, []).append(value)
        result = {"step": self.step, **{k: float(np.mean(v)) for k, v in totals.items()}}
        self.validation.append(result)
        if writer is not None:
            for key, value in result.items():
                if key != "step":
                    writer.add_scalar(f"held_out/{key}", value, self.step)
