"""Devices: subnormal floats flushed to zero in every CPU thread when asked for first."""

import subprocess
import sys

import pytest

# Sums a million copies of 1e-39 (subnormal: below float32's smallest normal, 1.18e-38), times
# 1.0 so that each element passes through arithmetic, over two intra-op threads. With FTZ/DAZ in
# every thread each product is 0; in none, the sum is about 1e-33.
PROGRAM = """
import contextlib, sys, torch
from learn.devices import subnormals_flushed
flushed = subnormals_flushed() if sys.argv[1] == "first" else contextlib.nullcontext()
with flushed:
    torch.set_num_threads(2)
    values = torch.full((1 << 20,), 1e-39)
    if sys.argv[1] == "late":  # the threads exist already: only this one flushes
        values * 1.0
        flushed = subnormals_flushed()
        flushed.__enter__()
    print(float((values * 1.0).to(torch.float64).sum()))
# Outside the block, this thread computes with subnormals again.
print(float(torch.tensor([1e-39]) * 1.0))
"""


def run(mode: str) -> float:
    """The sum, after checking that the calling thread computes with subnormals again outside
    the block."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True
    )
    inside, after = (float(line) for line in done.stdout.split())
    assert after == pytest.approx(1e-39) or mode == "late"
    return inside


def test_subnormals_are_flushed_in_every_thread_when_asked_for_first():
    everything = (1 << 20) * 1e-39
    assert run("first") == 0.0
    assert run("never") == pytest.approx(everything, rel=0.01)
    # Asked for after torch's threads started, it reaches the calling thread's share only.
    assert 0.0 < run("late") < 0.9 * everything
