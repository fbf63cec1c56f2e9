"""`donkit demo`: the stage records and their skipping, then a whole tiny demo end to end with
its report in headless Chromium."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from donkit.config import load_config
from donkit.demo import STAGES_FILE, Stage, StageRecords, config_digest, run_stages
from donkit.report import SECTIONS
from tests.conftest import SMALL_VIDEO

# --- stage records, with stages that count their calls -----------------------------------


def counting_stages(calls: dict[str, int]) -> list[Stage]:
    def make(name: str):
        def run() -> list[str]:
            calls[name] = calls.get(name, 0) + 1
            return [f"{name}: done {calls[name]} time(s)"]

        return run

    return [Stage(name, 1.0, make(name)) for name in ("first", "second")]


def test_finished_stages_are_skipped_with_the_same_config(tmp_path):
    calls: dict[str, int] = {}
    done = run_stages(counting_stages(calls), StageRecords(tmp_path, "a"), show_progress=False)
    assert [stage["ran"] for stage in done] == [True, True]
    again = run_stages(counting_stages(calls), StageRecords(tmp_path, "a"), show_progress=False)
    assert calls == {"first": 1, "second": 1}
    assert [stage["ran"] for stage in again] == [False, False]
    assert again[0]["lines"] == ["first: done 1 time(s)"]  # the record of the run that did it
    assert again[0]["seconds"] == done[0]["seconds"]


def test_another_config_runs_every_stage_again(tmp_path):
    calls: dict[str, int] = {}
    run_stages(counting_stages(calls), StageRecords(tmp_path, "a"), show_progress=False)
    run_stages(counting_stages(calls), StageRecords(tmp_path, "b"), show_progress=False)
    assert calls == {"first": 2, "second": 2}


def test_a_stage_that_fails_leaves_the_earlier_ones_recorded(tmp_path):
    calls: dict[str, int] = {}

    def fail() -> list[str]:
        raise RuntimeError("killed")

    stages = [counting_stages(calls)[0], Stage("second", 1.0, fail)]
    with pytest.raises(RuntimeError):
        run_stages(stages, StageRecords(tmp_path, "a"), show_progress=False)
    saved = json.loads((tmp_path / STAGES_FILE).read_text())
    assert list(saved["stages"]) == ["first"]
    run_stages(counting_stages(calls), StageRecords(tmp_path, "a"), show_progress=False)
    assert calls == {"first": 1, "second": 1}  # only the failed stage ran again


def test_an_unreadable_record_runs_everything_again(tmp_path):
    (tmp_path / STAGES_FILE).write_text('{"format": 1, "config": "a", "sta')  # cut off
    calls: dict[str, int] = {}
    run_stages(counting_stages(calls), StageRecords(tmp_path, "a"), show_progress=False)
    assert calls == {"first": 1, "second": 1}


def test_what_a_stage_prints_itself_comes_out_whole(tmp_path, capsys):
    def chatty() -> list[str]:
        print("a line the stage printed")
        print("partial", end="")
        print(" and its end")
        return ["chatty: done"]

    run_stages([Stage("chatty", 1.0, chatty)], StageRecords(tmp_path, "a"), show_progress=True)
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["a line the stage printed", "partial and its end", "chatty: done"]


def test_config_digest_follows_every_value():
    base = load_config(None, [])
    assert config_digest(base) == config_digest(load_config(None, []))
    assert config_digest(base) != config_digest(load_config(None, ["depth.loop.steps=361"]))


# --- the whole demo, tiny ----------------------------------------------------------------

# Two scenes of six views, a few steps of each training, one short video: every stage runs
# on real components in about two minutes.
TINY_DEMO = (
    "collect.scenes=2",
    "collect.orbit.views=6",
    "collect.scene.objects_per_scene=[1, 2]",
    "demo.test_scenes=1",
    "evaluate.pairs=4",
    "evaluate.matches=20",
    "correspond.pairs=16",
    "train.loop.steps=4",
    "train.loop.last_every=2",
    "train.validation_pairs=2",
    "track.calibration_pairs=4",
    "track.calibration_points=40",
    "depth.loop.steps=2",
    "depth.batch_size=2",
    *SMALL_VIDEO,
)
STAGE_NAMES = [
    "collect", "collect held-out", "fuse", "fuse held-out", "correspond", "train", "evaluate",
    "visualize", "sim-video", "track", "depth",
]  # fmt: skip


def run_demo(out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "donkit.cli", "demo", "--out", str(out), "--workers", "2"]
    for override in TINY_DEMO:
        command += ["--set", override]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = run_demo(out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout


@pytest.mark.slow
def test_demo_writes_every_stage_output_and_records_its_time(tiny_demo):
    out, printed = tiny_demo
    evaluation = json.loads((out / "runs/demo/eval/metrics.json").read_text())
    assert {"donkit", "sift", "random_init"} <= set(evaluation)
    assert evaluation["pairs"] >= 1 and evaluation["step"] == 4
    tracking = json.loads((out / "track/metrics.json").read_text())
    for method in ("donkit", "lk"):
        assert {"average_jaccard", "occlusion_accuracy", "position_accuracy"} <= set(
            tracking[method]
        )
        assert 0.0 <= tracking[method]["average_jaccard"] <= 1.0
    depth = json.loads((out / "depth/metrics.json").read_text())
    assert {"metric", "median_scaled", "baselines"} <= set(depth)
    stages = json.loads((out / STAGES_FILE).read_text())["stages"]
    assert list(stages) == STAGE_NAMES
    assert all(stage["seconds"] > 0 for stage in stages.values())
    assert (out / "report.html").is_file()
    assert "report: " not in printed and "demo: 11 stages" in printed


@pytest.mark.slow
def test_demo_run_again_skips_every_stage_and_keeps_the_outputs(tiny_demo):
    out, _ = tiny_demo
    watched = [out / "runs/demo/eval/metrics.json", out / "track/metrics.json"]
    before = [path.read_bytes() for path in watched]
    result = run_demo(out)
    assert result.returncode == 0, result.stderr[-3000:]
    skipped = [line for line in result.stdout.splitlines() if line.endswith("skipped")]
    assert [line.split(":")[0] for line in skipped] == STAGE_NAMES
    assert [path.read_bytes() for path in watched] == before


@pytest.mark.slow
def test_report_renders_every_section_in_chromium(tiny_demo, browser, tmp_path):
    from selenium.webdriver.common.by import By

    out, _ = tiny_demo
    browser.get((out / "report.html").as_uri())
    browser.execute_script(
        "return Promise.all(Array.from(document.images).map(i => i.decode().catch(() => 0)))"
    )
    for key, title in SECTIONS.items():
        section = browser.find_element(By.ID, key)
        assert section.is_displayed()
        assert section.find_element(By.TAG_NAME, "h2").text == title
        assert "Not made yet" not in section.text, key
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth == 0)"
        ".map(i => i.src)"
    )
    assert broken == []
    images = browser.execute_script("return document.images.length")
    # 2 frames + 2 masks, 3 meshes, correspondences, descriptors, CDF, 2 posters, 3 depth.
    assert images >= 2 + 2 + 3 + 1 + 1 + 1 + 2 + 3
    stage_rows = browser.find_elements(By.CSS_SELECTOR, "#stages tr")
    assert len(stage_rows) == 1 + len(STAGE_NAMES)
    screenshot = tmp_path / "report.png"
    assert browser.save_screenshot(str(screenshot))
    picture = cv2.imread(str(screenshot))
    assert picture.shape[0] > 100 and picture.shape[1] > 100
    assert np.ptp(picture) > 0  # not a blank page
