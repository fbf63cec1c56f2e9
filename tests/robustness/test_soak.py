"""A soak: 1,000 steps of `donkit train` without memory growth.

The real command runs on two tiny fused scenes (64x48 images, a 16-channel pyramid and 3-D
descriptors; the ResNet-18 backbone is the one size there is), and this process samples its
resident set size (RSS) as its log.jsonl advances. Every periodic event of the loop (log line,
last.pt, kept checkpoint, TensorBoard images) happens within the first 200 steps, so by then the
allocator, TensorBoard and the sample caches have reached their working size; RSS after that must
stay flat.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DONKIT = Path(sys.executable).parent / "donkit"
STEPS = 1000
LOG_EVERY = 10
WARM_UP = (200, 300)  # steps whose RSS samples give the baseline ...
END = (900, STEPS + 1)  # ... and the end
# A leak of what one step makes is far above this: its two 3x48x64 float32 descriptor images
# (74 KB) kept each step grow RSS by 59 MB over the 800 steps measured, a kept autograd graph of
# ResNet-18 activations by gigabytes, a log or validation list of floats kept per sample by
# tens of MB. Below it lies the allocator's noise: the medians of RSS over 100 steps differ by a
# few MB between runs without a leak, and checkpoint buffers (about 135 MB with Adam's moments)
# are returned to the system when freed.
MAX_GROWTH_MB = 32.0

COLLECT = [
    "--workers", "1",
    "--set", "collect.scenes=2",
    "--set", "collect.orbit.views=4",
    "--set", "collect.camera.width=64",
    "--set", "collect.camera.height=48",
    "--set", "collect.scene.objects_per_scene=[1, 2]",
]  # fmt: skip
TRAIN = [
    "--device", "cpu", "--steps", str(STEPS),
    "--set", "train.pairs_per_step=1",
    "--set", "train.width=16",
    "--set", "train.descriptor_dim=3",
    "--set", f"train.loop.log_every={LOG_EVERY}",
    "--set", "train.loop.last_every=100",
    "--set", "train.loop.checkpoint_every=200",
    "--set", "train.loop.image_every=100",
    "--set", "train.loop.loader_workers=0",
    "--set", "correspond.attempts=500",
    "--set", "correspond.matches=100",
    "--set", "correspond.nonmatches_per_match=10",
    "--set", "correspond.blind_nonmatches=100",
    "--set", "correspond.cross_object_nonmatches=200",
]  # fmt: skip


def rss_bytes(pid: int) -> int | None:
    """Resident set size of process `pid` (psutil where installed, else /proc), None once it
    has exited."""
    try:
        import psutil
    except ImportError:
        try:
            pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            return None
        return pages * os.sysconf("SC_PAGE_SIZE")
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return None


def logged_step(log: Path) -> int:
    """The last step in log.jsonl (0 before the first line); a line being written is skipped."""
    if not log.is_file():
        return 0
    step = 0
    for line in log.read_text().splitlines():
        try:
            step = json.loads(line)["step"]
        except (ValueError, KeyError):
            break
    return step


def donkit(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(DONKIT), *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr


def test_a_thousand_training_steps_do_not_grow_memory(tmp_path):
    # Two threads: the backward pass and Adam on ResNet-18's 11 M parameters take most of a
    # step's 0.2 s on one core.
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    donkit(["collect", "--out", "data", *COLLECT], tmp_path, env)
    donkit(["fuse", "data", "--workers", "1"], tmp_path, env)
    process = subprocess.Popen(
        [str(DONKIT), "train", "--data", "data", "--out", "run", *TRAIN], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    samples: list[tuple[int, int]] = []  # (step logged, RSS bytes)
    try:
        while process.poll() is None:
            rss = rss_bytes(process.pid)
            if rss is not None:
                samples.append((logged_step(tmp_path / "run" / "log.jsonl"), rss))
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
        stderr = process.stderr.read()
        process.stderr.close()
    assert process.wait() == 0, stderr
    assert logged_step(tmp_path / "run" / "log.jsonl") == STEPS

    def median_mb(window: tuple[int, int]) -> float:
        inside = [rss for step, rss in samples if window[0] <= step < window[1]]
        assert len(inside) >= 5, f"only {len(inside)} RSS samples in steps {window}"
        return statistics.median(inside) / 2**20

    baseline, end = median_mb(WARM_UP), median_mb(END)
    growth = end - baseline
    print(f"soak: RSS {baseline:.0f} MB after warm-up, {end:.0f} MB at the end ({growth:+.1f} MB)")
    assert growth < MAX_GROWTH_MB, (
        f"RSS grew by {growth:.1f} MB from steps {WARM_UP} to {END} ({baseline:.0f} -> "
        f"{end:.0f} MB)"
    )
