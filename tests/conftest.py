"""A small collected dataset, made once per test session and shared by the collect tests."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from collect import CollectConfig, collect
from collect.video import make_video
from donkit.config import load_config

# Session fixtures that simulate, fuse or train: a test that uses one (directly or through another
# fixture) is marked `simulated`, which `make test-fast` leaves out (`make test` runs everything).
SIMULATED_FIXTURES = frozenset(
    {
        "small_dataset",
        "demo_scenes",
        "fused_small",
        "fused_demo_scenes",
        "fused_singles",
        "fused_held_out",
        "small_video",
        "stereo_scenes",
        "tiny_runs",
    }
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Two scenes of ten views at full demo resolution: small enough to collect in seconds, large
# enough for the geometric checks to mean something. As `--set` overrides, so that tests that
# run the real command line collect exactly the same scenes.
SMALL_OVERRIDES = (
    "collect.scenes=2",
    "collect.orbit.views=10",
    "collect.scene.objects_per_scene=[1, 2]",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SIMULATED_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.simulated)


def small_config(*extra: str) -> CollectConfig:
    return load_config(None, [*SMALL_OVERRIDES, *extra]).collect


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root folder with scene_0000 and scene_0001 collected with `small_config()`."""
    root = tmp_path_factory.mktemp("small_dataset")
    collect(small_config(), root, workers=1, show_progress=False)
    return root


@pytest.fixture(scope="session")
def demo_scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first two scenes of the demo config (byte for byte those of `make demo`)."""
    root = tmp_path_factory.mktemp("demo_scenes")
    config = load_config(None, ["collect.scenes=2"]).collect
    collect(config, root, workers=2, show_progress=False)
    return root


def _fused_copy(source: Path, folder: Path) -> Path:
    from reconstruct import FuseConfig, fuse

    shutil.copytree(source, folder, dirs_exist_ok=True)
    fuse(folder, FuseConfig(), workers=2, show_progress=False)
    return folder


@pytest.fixture(scope="session")
def fused_small(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`small_dataset`, fused with the default FuseConfig."""
    return _fused_copy(small_dataset, tmp_path_factory.mktemp("fused_small"))


@pytest.fixture(scope="session")
def fused_demo_scenes(demo_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`demo_scenes`, fused with the default FuseConfig."""
    return _fused_copy(demo_scenes, tmp_path_factory.mktemp("fused_demo"))


@pytest.fixture(scope="session")
def fused_singles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three fused single-object scenes of eight views: box_tea, duck and box_cereal."""
    root = tmp_path_factory.mktemp("fused_singles")
    overrides = (
        "collect.scene.single_object_share=1.0",
        "collect.orbit.views=8",
        "collect.scenes=3",
    )
    collect(small_config(*overrides), root / "raw", workers=2, show_progress=False)
    return _fused_copy(root / "raw", root / "fused")


@pytest.fixture(scope="session")
def fused_held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's two held-out scenes (collected with demo.test_seed), fused."""
    root = tmp_path_factory.mktemp("held_out")
    config = load_config(None, [])
    held_out = dataclasses.replace(config.collect, seed=config.demo.test_seed, scenes=2)
    collect(held_out, root / "raw", workers=2, show_progress=False)
    return _fused_copy(root / "raw", root / "fused")


# 160x120 and 12 frames keep the simulation to a few seconds; the geometry is the demo's.
SMALL_VIDEO = (
    "collect.camera.width=160",
    "collect.camera.height=120",
    "video.frames=12",
    "video.points=16",
    "video.videos=1",
)


@pytest.fixture(scope="session")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT with video_0000.{npz,mp4,yaml} made with SMALL_VIDEO."""
    out = tmp_path_factory.mktemp("videos")
    config = load_config(None, list(SMALL_VIDEO))
    make_video(config.collect, config.video, 0, out)
    return out


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Debian Chromium driven by selenium; fails (not skips) when either is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the Python package selenium")
    if missing:
        pytest.fail(
            f"the browser tests need {', '.join(missing)}; run `make setup` as root (it installs "
            "the Debian packages chromium and chromium-driver, and selenium into the venv)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()
