"""Depth test data: a stereo scene, and tiny trained runs shared by the evaluate, predict and
command-line tests (made once per session)."""

import dataclasses
from pathlib import Path

import pytest

from collect import collect
from depth.config import DepthConfig
from depth.train import train_depth
from learn.config import LoopConfig
from tests.conftest import small_config

BASELINE_M = 0.06
# A network small enough to train a step in a fraction of a second: 96 x 72 inputs, a narrow
# decoder, two samples a step, everything logged and saved.
TINY = {
    "width": 96,
    "height": 72,
    "decoder_channels": (4, 8, 16, 32, 64),
    "batch_size": 2,
}
TINY_LOOP = {"log_every": 1, "last_every": 2, "loader_workers": 0, "device": "cpu"}
TINY_OVERRIDES = (
    *(
        f"depth.{key}={list(value) if isinstance(value, tuple) else value}"
        for key, value in TINY.items()
    ),
    *(f"depth.loop.{key}={value}" for key, value in TINY_LOOP.items()),
)
_LOOP_FIELDS = {f.name for f in dataclasses.fields(LoopConfig)}


def tiny_config(**changes) -> DepthConfig:
    """The tiny network's config with `changes`, of the depth section or of its loop."""
    loop = {key: value for key, value in changes.items() if key in _LOOP_FIELDS}
    rest = {key: value for key, value in changes.items() if key not in _LOOP_FIELDS}
    base = DepthConfig()
    return dataclasses.replace(
        base, **{**TINY, **rest}, loop=dataclasses.replace(base.loop, **{**TINY_LOOP, **loop})
    )


@pytest.fixture(scope="session")
def stereo_scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scene of four views with a right camera 6 cm beside the left."""
    root = tmp_path_factory.mktemp("stereo")
    config = small_config(
        "collect.scenes=1",
        "collect.orbit.views=4",
        f"collect.camera.stereo_baseline_m={BASELINE_M}",
    )
    collect(config, root, workers=1, show_progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_runs(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Self-supervised and supervised runs of 4 steps on scene_0000 of `small_dataset`."""
    root = tmp_path_factory.mktemp("depth_runs")
    runs = {}
    for mode in ("self_supervised", "supervised"):
        config = tiny_config(mode=mode, steps=4)
        runs[mode] = root / mode
        plain = {"depth": dataclasses.asdict(config)}
        train_depth(plain, config, small_dataset / "scene_0000", runs[mode], show_progress=False)
    return runs
