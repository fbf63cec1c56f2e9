"""Devices and processes of training: cpu or cuda, torchrun's ranks, deterministic kernels."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from formats import DonkitError


@dataclass(frozen=True)
class Processes:
    """This process's place among torchrun's (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @staticmethod
    def from_environment() -> Processes:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return Processes()
        return Processes(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def main(self) -> bool:
        return self.rank == 0


@contextlib.contextmanager
def subnormals_flushed() -> Iterator[None]:
    """Within the block, this process's CPU threads flush subnormal floats to zero (FTZ/DAZ).

    Over a long run some of a network's weights and activations shrink below the smallest normal
    float, and CPUs compute with such numbers many times more slowly: after 5,000 steps of the
    full descriptor recipe a step took 0.20 s instead of 0.12 s, and forward and backward 0.147 s
    against 0.071 s with subnormals flushed. Threads inherit the setting when they are made, so
    enter this before torch's first parallel operation starts its intra-op threads (the command
    line does, first thing); entered later it reaches only the calling thread. On leaving, the
    calling thread computes with subnormals again (other code in the process, such as a test
    that runs a command in-process, may rely on IEEE arithmetic).
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


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


@contextlib.contextmanager
def training_processes(processes: Processes, device: torch.device) -> Iterator[None]:
    """Within it, torchrun's process group is joined (when there is one) and torch is
    deterministic; both are undone on the way out."""
    if processes.world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    # With two CPU threads, some reductions otherwise add in a varying order, and the difference
    # in the 7th digit grows into another model within a few hundred steps. Where an op has no
    # deterministic kernel (on CUDA), torch warns instead of failing.
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        if processes.world > 1:
            dist.destroy_process_group()
