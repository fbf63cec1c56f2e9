"""What descriptor and depth training share: the run folder and its kind, the optimizer and
learning-rate schedule, the step loop and its timing, log.jsonl and TensorBoard, checkpoints and
resuming, the NaN stop, torchrun's processes.

A trainer subclasses `TrainingRun`: it names its `kind`, builds its networks and hands them to
`set_networks` (which makes the optimizer and schedule of its LoopConfig), supplies its
networks' share of the checkpoint (`network_state`, `load_network_state`) and one step's loss
(`train_step`, which ends in `optimize`); held-out validation is an optional hook.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from formats import DonkitError
from formats.atomic import remove_stale_temporaries, write_bytes_atomic
from formats.plain import to_plain, write_yaml
from formats.runs import RunFolder
from formats.scenes import complete_scenes
from jobs import progress_bar
from learn.checkpoints import load_checkpoint, require_kind, save_checkpoint
from learn.config import LoopConfig
from learn.devices import Processes, resolve_device

_OPTIMIZER_LOGS = {"learning_rate", "gradient_norm"}


class StepBatches(torch.utils.data.Sampler):
    """The sample numbers of steps `first` to `last` - 1, one list per step, for one rank:
    step s of rank r takes samples (s * R + r) * per_step onwards (R processes)."""

    def __init__(self, first: int, last: int, per_step: int, processes: Processes):
        self.first, self.last, self.per_step, self.processes = first, last, per_step, processes

    def __len__(self) -> int:
        return self.last - self.first

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.first, self.last):
            start = (step * self.processes.world + self.processes.rank) * self.per_step
            yield list(range(start, start + self.per_step))


def learning_rate_factor(loop: LoopConfig, step: int) -> float:
    """The share of loop.learning_rate used at `step` (0-based) under loop.schedule."""
    if loop.schedule == "step":
        return loop.decay_factor ** (step // loop.decay_every)
    if loop.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, loop.steps) / loop.steps))
    return 1.0


def check_run_folder(
    run: RunFolder, resume: bool, kind: str, command: str
) -> dict[str, Any] | None:
    """A new run needs a folder without one; resuming needs a last.pt of a `kind` run, whose
    state is returned."""
    if not resume:
        if run.last.is_file():
            raise DonkitError(
                f"{run.root} already holds a training run; continue it with `{command} --resume "
                f"{run.root}`, or choose another --out"
            )
        return None
    if not run.last.is_file():
        raise DonkitError(
            f"cannot resume: {run.last} does not exist (is {run.root} a run folder of `{command}`?)"
        )
    state = load_checkpoint(run.last)
    require_kind(run.root, state, kind, command)
    return state


@dataclass(frozen=True)
class TrainingStart:
    """Where and on what a training process starts."""

    processes: Processes
    device: torch.device
    run: RunFolder
    scenes: list[Path]
    resume_state: dict[str, Any] | None = None  # the last.pt to continue from, when resuming


def start_training(
    loop: LoopConfig,
    data: Path,
    run_root: Path,
    resume: bool,
    device_name: str | None,
    kind: str,
    command: str,
    missing_data_hint: str,
) -> TrainingStart:
    """This process's rank and device, the checked run folder, and the complete scenes under
    `data` (unfinished ones are left out with a note)."""
    processes = Processes.from_environment()
    device = resolve_device(device_name or loop.device, processes.local_rank)
    run = RunFolder(Path(run_root))
    resume_state = check_run_folder(run, resume, kind, command)
    scenes, partial = complete_scenes(data, missing_data_hint)
    if partial and processes.main:
        label = command.removeprefix("donkit ")
        print(f"{label}: leaving out {len(partial)} unfinished scene(s) under {data}")
    return TrainingStart(processes, device, run, scenes, resume_state)


@dataclass(kw_only=True)
class RunSummary:
    """What a training call did (train_summary.json): the fields every trainer's summary has."""

    run: Path
    first_step: int  # where this call started (0, or the resumed checkpoint's step)
    steps: int  # where it stopped
    seconds: float
    data_share: float  # share of step time spent waiting for samples
    losses: dict[str, float]  # the last logged means
    ranks: int = 1
    rank_parameter_spread: float = 0.0  # largest difference of a parameter between processes

    def progress_text(self, rate: float, unit: str) -> str:
        """ "steps A-B in S s (R unit/s, W % waiting for data); loss L"."""
        return (
            f"steps {self.first_step}-{self.steps} in {self.seconds:.0f} s ({rate:.1f} {unit}/s, "
            f"{100 * self.data_share:.0f} % waiting for data); loss "
            f"{self.losses.get('total', math.nan):.4f}"
        )

    def ranks_text(self) -> str:
        return f"; {self.ranks} processes" if self.ranks > 1 else ""


@dataclass
class LoopTimes:
    """What a call of `TrainingRun.loop` did."""

    first_step: int
    seconds: float
    samples_per_second: float
    data_share: float  # share of step time spent waiting for samples


class TrainingRun:
    """The state and loop every training run has; subclasses add networks and a loss."""

    kind = ""  # what its checkpoints hold ("descriptors", "depth"): `--resume` checks it
    section = "train"  # the config section the NaN stop's advice names
    label = "train"  # of the progress bar

    def __init__(
        self,
        loop: LoopConfig,
        run: RunFolder,
        device: torch.device,
        processes: Processes,
        show_progress: bool | None,
    ):
        self.loop_config, self.folder = loop, run
        self.device, self.processes = device, processes
        self.show_progress = show_progress if processes.main else False
        self.step = 0
        self.last_means: dict[str, float] = {}
        self.saved_step: int | None = None
        # Set by `set_networks`, before `resume` or `loop`:
        self.parameters: list[torch.nn.Parameter] = []
        self.optimizer: torch.optim.Optimizer
        self.scheduler: torch.optim.lr_scheduler.LRScheduler
        self.scaler = torch.amp.GradScaler(device.type, enabled=False)

    def set_networks(
        self,
        networks: list[torch.nn.Module],
        slower: torch.nn.Module | None = None,
        slower_factor: float = 1.0,
    ) -> None:
        """Train the parameters of `networks` with Adam under the loop's schedule; those of
        `slower` (a part of them, e.g. a pretrained encoder) at `slower_factor` times the
        learning rate."""
        loop = self.loop_config
        self.parameters = [p for network in networks for p in network.parameters()]
        held_back = {id(p) for p in slower.parameters()} if slower is not None else set()
        groups = [{"params": [p for p in self.parameters if id(p) not in held_back]}]
        if held_back:
            slow = [p for p in self.parameters if id(p) in held_back]
            groups.append({"params": slow, "lr": loop.learning_rate * slower_factor})
        # foreach: one kernel over all parameters (the default loops over them on CPU); the
        # same numbers either way.
        self.optimizer = torch.optim.Adam(
            groups, lr=loop.learning_rate, weight_decay=loop.weight_decay, foreach=True
        )
        if loop.schedule == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(
                self.optimizer, loop.decay_every, loop.decay_factor
            )
        else:
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer, lambda step: learning_rate_factor(loop, step)
            )

    def distributed(
        self, network: torch.nn.Module, find_unused_parameters: bool = False
    ) -> torch.nn.Module:
        """`network` wrapped for torchrun's processes (itself when there is one process)."""
        if self.processes.world == 1:
            return network
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(
            network, device_ids=ids, find_unused_parameters=find_unused_parameters
        )

    # State.

    def network_state(self) -> dict[str, Any]:
        """The networks' share of a checkpoint (weights, their spec, run metadata)."""
        raise NotImplementedError

    def load_network_state(self, state: dict[str, Any]) -> None:
        """Check that `state` fits the networks built, and load it."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "step": self.step,
            "processes": self.processes.world,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
            **self.network_state(),
        }

    def resume(self, state: dict[str, Any]) -> None:
        """Continue from `state`, the run folder's last.pt."""
        saved = state.get("processes", self.processes.world)  # older checkpoints: not recorded
        if saved != self.processes.world and self.processes.main:
            # Each step's samples are numbered by (step * processes + rank): another count
            # draws other samples from here on, so the run is no longer the uninterrupted one.
            print(
                f"warning: {self.folder.last} was trained by {saved} process(es), resumed by "
                f"{self.processes.world}: the samples from here on differ from an uninterrupted "
                f"run's; resume with {saved} to continue it exactly",
                file=sys.stderr,
            )
        self.load_network_state(state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step = self.saved_step = int(state["step"])

    def save(self) -> None:
        """A kept checkpoint at every `checkpoint_every` steps, then last.pt (main process).

        last.pt goes last because a resume starts from it: killed between the two, the run
        takes the steps again and writes both; the other way round, a run killed after its
        final last.pt would resume with nothing to do and never keep its final checkpoint."""
        if not self.processes.main:
            return
        self.folder.checkpoints.mkdir(parents=True, exist_ok=True)
        state = self.state()
        loop = self.loop_config
        if self.step % loop.checkpoint_every == 0 or self.step == loop.steps:
            save_checkpoint(self.folder.step_checkpoint(self.step), state)
        save_checkpoint(self.folder.last, state)
        self.saved_step = self.step

    # The loop.

    def train_step(self, batch: Any, writer: Any) -> dict[str, float]:
        """One optimizer step on `batch` (ending in `optimize`); returns what to log."""
        raise NotImplementedError

    def validate(self, writer: Any) -> None:
        """Held-out validation, called before step 1 and at `validate_due` steps."""

    def validate_due(self) -> bool:
        return False

    def loop(
        self, dataset: torch.utils.data.Dataset, collate: Callable, per_step: int, config: dict
    ) -> LoopTimes:
        """Train from `self.step` to `loop.steps` on `dataset` (per_step samples a step per
        process), logging, validating and saving on the way; `config` is saved as config.yaml."""
        loop, first = self.loop_config, self.step
        if self.processes.main:
            self.folder.root.mkdir(parents=True, exist_ok=True)
            for folder in (self.folder.root, self.folder.checkpoints):
                remove_stale_temporaries(folder)  # of a run killed while writing
            write_yaml(self.folder.config, config)
            self._truncate_log()
        writer = self._tensorboard() if self.processes.main else None
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_sampler=StepBatches(first, loop.steps, per_step, self.processes),
            num_workers=loop.loader_workers,
            collate_fn=collate,
            pin_memory=self.device.type == "cuda",
            # Its own generator for the workers' base seed: drawn from the global one, it would
            # advance the RNG state a resumed run restored, and last.pt would differ from that
            # of an uninterrupted run (samples are seeded by their number, not by this).
            generator=torch.Generator(),
        )
        window: list[dict[str, float]] = []
        waited = elapsed = 0.0
        started = time.perf_counter()
        if first == 0:
            self.validate(writer)
        bar = progress_bar(loop.steps, self.label, self.show_progress, unit="step")
        bar.update(first)
        try:
            clock = time.perf_counter()
            for batch in loader:
                ready = time.perf_counter()
                log = self.train_step(batch, writer)
                self.step += 1
                done = time.perf_counter()
                waited += ready - clock
                elapsed += done - clock
                window.append({**log, "step_time_s": done - clock, "data_time_s": ready - clock})
                bar.update(1)
                last = self.step == loop.steps
                if self.step % loop.log_every == 0 or last:
                    means = self._log(window, writer)
                    bar.set_postfix(loss=f"{means['total']:.4f}")
                    window = []
                if self.validate_due() or last:
                    self.validate(writer)
                if (
                    self.step % loop.last_every == 0
                    or self.step % loop.checkpoint_every == 0
                    or last
                ):
                    self.save()
                clock = time.perf_counter()  # logs, validation and saving are not step time
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        rate = (self.step - first) * per_step * self.processes.world / max(elapsed, 1e-9)
        return LoopTimes(first, time.perf_counter() - started, rate, waited / max(elapsed, 1e-9))

    def images_due(self) -> bool:
        """Whether the step being taken writes its images to TensorBoard."""
        return (self.step + 1) % self.loop_config.image_every == 0

    def optimize(self, total: torch.Tensor, log: dict[str, float]) -> None:
        """Backward, clip, step the optimizer and the schedule; stop on a NaN loss or gradient.
        Adds gradient_norm and learning_rate to `log`."""
        if not math.isfinite(log["total"]):
            self._stop(f"the loss became {log['total']} at step {self.step + 1}")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(
            self.parameters, self.loop_config.clip_grad_norm or math.inf
        )
        # With mixed precision, the scaler skips steps with inf gradients and lowers its scale.
        if not self.scaler.is_enabled() and not torch.isfinite(norm):
            self._stop(f"the gradient became {float(norm)} at step {self.step + 1}")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        log["gradient_norm"] = float(norm)
        log["learning_rate"] = self.scheduler.get_last_lr()[0]

    def _stop(self, what: str) -> None:
        kept = "no checkpoint was written yet"
        if self.saved_step is not None:
            kept = f"{self.folder.last} keeps step {self.saved_step}"
        raise DonkitError(
            f"training stopped: {what}; {kept}. Lower {self.section}.loop.learning_rate (or "
            f"{self.section}.loop.clip_grad_norm) and train again"
        )

    # Logs.

    def log_group(self, key: str) -> str:
        """The TensorBoard group of a logged value."""
        return "time" if key.endswith("_s") else "optimizer" if key in _OPTIMIZER_LOGS else "loss"

    def _tensorboard(self) -> Any:
        from torch.utils.tensorboard import SummaryWriter  # imported here: slow to import

        return SummaryWriter(str(self.folder.tensorboard), purge_step=self.step or None)

    def _truncate_log(self) -> None:
        """Keep the log.jsonl lines of the steps up to `self.step` (where this call starts): a
        run stopped after its last save logged steps that the resume takes again, and a kill
        may have cut its last line short."""
        if not self.folder.log.is_file():
            return
        kept = []
        for entry in self.folder.log_entries():
            if entry["step"] > self.step:
                break
            kept.append(json.dumps(entry) + "\n")  # as `_log` wrote it
            # What the summary reports when nothing is left to do (a run killed after its
            # last save and before its summary): the means of the last logged window.
            self.last_means = {k: v for k, v in entry.items() if k != "step"}
        write_bytes_atomic(self.folder.log, "".join(kept).encode())

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
            writer.add_scalar(f"{self.log_group(key)}/{key}", value, self.step)
        return means

    def rank_spread(self) -> float:
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

    def summary_fields(self, times: LoopTimes) -> dict[str, Any]:
        """What every run's summary holds: where this call started and stopped, its seconds,
        the share of step time spent waiting for data, the last logged losses, the processes
        and the largest difference of a parameter between them."""
        return {
            "run": self.folder.root,
            "first_step": times.first_step,
            "steps": self.step,
            "seconds": times.seconds,
            "data_share": times.data_share,
            "losses": self.last_means,
            "ranks": self.processes.world,
            "rank_parameter_spread": self.rank_spread(),
        }

    def write_summary(self, summary: Any) -> None:
        """summary.json in the run folder (main process), from a summary dataclass."""
        if self.processes.main:
            text = json.dumps(
                to_plain(dataclasses.asdict(summary)) | {"run": str(self.folder.root)}
            )
            write_bytes_atomic(self.folder.summary, (text + "\n").encode())
