"""Collection runs: worker processes and Ray give the same bytes; summaries; early errors."""

import shutil

import numpy as np
import pytest

from collect import collect
from collect.runner import CollectSummary, check_output_writable
from collect.scene import SceneReport
from formats import DonkitError
from formats.scenes import load_scene
from tests.collect.test_scene import files_of
from tests.conftest import small_config


@pytest.mark.slow
def test_two_worker_processes_write_the_same_files_as_one(small_dataset, tmp_path):
    summary = collect(small_config(), tmp_path, workers=2, show_progress=False)
    assert [r.status for r in summary.reports] == ["collected", "collected"]
    assert files_of(tmp_path) == files_of(small_dataset)


@pytest.mark.slow
def test_ray_backend_writes_the_same_files(small_dataset, tmp_path):
    pytest.importorskip("ray", reason="the optional extra donkit[cluster] is not installed")
    summary = collect(small_config(), tmp_path, workers=2, backend="ray", show_progress=False)
    assert summary.frames == 20
    assert files_of(tmp_path) == files_of(small_dataset)


def test_finished_scenes_are_kept_and_more_scenes_extend_them(small_dataset, tmp_path):
    shutil.copytree(small_dataset, tmp_path, dirs_exist_ok=True)
    other = small_config("collect.scenes=3", "collect.camera.width=64", "collect.camera.height=48")
    with pytest.raises(DonkitError, match="not collected with this config"):
        collect(other, tmp_path, workers=1, show_progress=False)
    summary = collect(small_config("collect.scenes=3"), tmp_path, workers=1, show_progress=False)
    assert [r.status for r in summary.reports] == ["skipped", "skipped", "collected"]
    assert len(load_scene(tmp_path / "scene_0002").frames) == 10


def test_unknown_objects_fail_before_any_work(tmp_path):
    with pytest.raises(DonkitError, match="mug_red"):
        collect(small_config("collect.scene.objects=[mug_rd, duck]"), tmp_path / "out", 1)
    assert not (tmp_path / "out").exists()


def test_an_output_folder_under_a_file_is_reported(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(DonkitError, match="cannot write to the output directory"):
        check_output_writable(blocker / "scenes")


def test_depth_noise_changes_depth_by_the_modelled_amount(tmp_path):
    # One small scene with and without the sensor model: same views, noisy depth.
    overrides = ("collect.scenes=1", "collect.orbit.views=3")
    collect(small_config(*overrides), tmp_path / "clean", 1, show_progress=False)
    noisy_config = small_config(*overrides, "collect.randomization.depth_noise=true")
    collect(noisy_config, tmp_path / "noisy", 1, show_progress=False)
    clean = load_scene(tmp_path / "clean" / "scene_0000")
    noisy = load_scene(tmp_path / "noisy" / "scene_0000")
    np.testing.assert_array_equal(clean.frames[0].camera_to_world, noisy.frames[0].camera_to_world)
    depth_clean, depth_noisy = clean.depth(0), noisy.depth(0)
    both = (depth_clean > 0) & (depth_noisy > 0)
    difference = (depth_noisy - depth_clean)[both]
    # sigma(z) at the scene's distances (0.3-0.9 m) is 1.2-1.7 mm; millimetre storage adds 0.4 mm.
    assert 0.0010 < difference.std() < 0.0025
    dropped = (depth_clean > 0) & (depth_noisy == 0)
    assert 0.001 < dropped.mean() < 0.1


def test_summary_line_counts_everything():
    summary = CollectSummary(
        reports=[
            SceneReport("scene_0000", "collected", 30, 0, {"unreachable": 3}, 4.0),
            SceneReport("scene_0001", "resumed", 28, 10, {"unreachable": 1, "collision": 1}, 3.0),
            SceneReport("scene_0002", "skipped", 30),
        ],
        seconds=8.0,
    )
    line = summary.line()
    assert "3 scenes (1 collected, 1 resumed, 1 skipped), 88 frames" in line
    assert "5 views dropped (collision 1, unreachable 4)" in line
    assert "48 frames rendered in 8.0 s (6.0 frames/s)" in line
