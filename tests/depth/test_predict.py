"""`donkit depth predict`: millimetre PNGs of the prediction, and scenes that fuse."""

import dataclasses
import shutil

import cv2
import numpy as np
import pytest

from depth.checkpoint import load_depth_network, predict_depth
from depth.evaluate import evaluate_depth
from depth.frames import predict_frames, prediction_sources
from depth.predict import PredictedScene, predict_run
from depth.train import train_depth
from formats import DonkitError
from formats.images import read_depth, read_rgb
from formats.plain import read_yaml
from formats.scenes import load_scene
from learn.checkpoints import save_checkpoint
from reconstruct import FuseConfig, fuse
from tests.depth.conftest import tiny_config


@pytest.fixture(scope="module")
def run(tiny_runs):
    return tiny_runs["self_supervised"]


def prediction(run, rgb):
    network, state = load_depth_network(run)
    return predict_depth(network, state["depth"], [rgb], "cpu")[0]


def test_depth_is_written_in_millimetres_that_read_back_as_the_prediction(
    run, small_dataset, tmp_path
):
    scene_path = small_dataset / "scene_0001"
    summary = predict_run(run, scene_path, tmp_path, device_name="cpu")
    assert summary.images == 10 and not summary.as_scene
    scene = load_scene(scene_path)
    for position, frame in enumerate(scene.frames):
        path = tmp_path / f"{frame.index:06d}_depth.png"
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16 and raw.shape == (240, 320)
        expected = prediction(run, scene.rgb(position))
        np.testing.assert_allclose(read_depth(path), expected, atol=0.0005 + 1e-6)
        colour = read_rgb(tmp_path / f"{frame.index:06d}_depth_colour.png")
        assert colour.shape == (240, 320, 3) and colour.std() > 0
    assert read_yaml(tmp_path / "index.yaml")["step"] == 4


def test_a_folder_of_images_is_numbered_in_name_order(run, small_dataset, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    source = small_dataset / "scene_0000" / "processed" / "images"
    for name, frame in (("b.png", 2), ("a.png", 5), ("c.png", 7)):
        shutil.copyfile(source / f"{frame:06d}_rgb.png", images / name)
    (images / "notes.txt").write_text("not an image")
    predict_run(run, images, tmp_path / "out", device_name="cpu")
    index = read_yaml(tmp_path / "out" / "index.yaml")
    assert index["images"] == {0: "a.png", 1: "b.png", 2: "c.png"}
    written = read_depth(tmp_path / "out" / "000001_depth.png")
    expected = prediction(run, read_rgb(images / "b.png"))
    np.testing.assert_allclose(written, expected, atol=0.0005 + 1e-6)
    assert not (tmp_path / "out" / "000003_depth.png").exists()


def test_as_scene_keeps_the_rgb_intrinsics_and_poses_and_gives_the_prediction(
    run, small_dataset, tmp_path
):
    source = load_scene(small_dataset / "scene_0001")
    out = tmp_path / "predicted"
    predict_run(run, source.path, out, as_scene=True, device_name="cpu")
    scene = load_scene(out)
    assert scene.camera == source.camera
    for position, (frame, original) in enumerate(zip(scene.frames, source.frames, strict=True)):
        assert frame.index == original.index
        np.testing.assert_allclose(frame.camera_to_world, original.camera_to_world, atol=1e-12)
        assert frame.rgb_path.read_bytes() == original.rgb_path.read_bytes()
        expected = prediction(run, source.rgb(position))
        np.testing.assert_allclose(scene.depth(position), expected, atol=0.0005 + 1e-6)
        assert (out / "depth_colour" / f"{frame.index:06d}_depth_colour.png").is_file()
    assert not out.with_name("predicted.partial").exists()
    # Predicting again replaces its own scene; any other folder is never overwritten.
    predict_run(run, source.path, out, as_scene=True, device_name="cpu")
    with pytest.raises(DonkitError, match="is not a scene made by `donkit depth predict"):
        predict_run(run, source.path, small_dataset, as_scene=True, device_name="cpu")


def test_a_predicted_scene_fuses(small_dataset, tmp_path):
    # The scene `--as-scene` writes, with depth as good as the sensor's: `donkit fuse` makes
    # its mesh, masks and rendered depth, which agrees with the depth it was given.
    source = load_scene(small_dataset / "scene_0000")
    predicted = PredictedScene(source, tmp_path / "scene", 0.1)
    for position in range(len(source.frames)):
        predicted.add(position, source.depth(position))
    root = predicted.finish({"run": "sensor depth"})
    summary = fuse(root, FuseConfig(), workers=1, show_progress=False)
    assert summary.line()
    assert (root / "processed" / "fusion_mesh.ply").stat().st_size > 10_000
    rendered = read_depth(root / "processed" / "rendered_images" / "000000_depth.png")
    mask = cv2.imread(str(root / "processed/image_masks/000000_mask.png"), cv2.IMREAD_UNCHANGED)
    sensor = source.depth(0)
    on_objects = (mask > 0) & (rendered > 0) & (sensor > 0)
    assert on_objects.sum() > 500
    assert np.median(np.abs(rendered - sensor)[on_objects]) < 0.003


def test_mistakes_are_explained(run, small_dataset, tmp_path):
    images = small_dataset / "scene_0000" / "processed" / "images"
    with pytest.raises(DonkitError, match="--as-scene needs a scene"):
        predict_run(run, images, tmp_path / "out", as_scene=True, device_name="cpu")
    with pytest.raises(DonkitError, match="is not a folder"):
        predict_run(run, tmp_path / "nothing", tmp_path / "out", device_name="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DonkitError, match="neither a scene"):
        predict_run(run, tmp_path / "empty", tmp_path / "out", device_name="cpu")
    with pytest.raises(DonkitError, match="does not exist"):
        predict_run(tmp_path, small_dataset / "scene_0000", tmp_path / "out", device_name="cpu")
    descriptor_run = tmp_path / "descriptors"
    (descriptor_run / "checkpoints").mkdir(parents=True)
    save_checkpoint(descriptor_run / "checkpoints" / "last.pt", {"model": {}, "step": 1})
    with pytest.raises(DonkitError, match="is not a depth run"):
        predict_run(descriptor_run, images, tmp_path / "out", device_name="cpu")


def test_a_folder_of_scenes_gives_a_scene_for_each(run, small_dataset, tmp_path):
    out = tmp_path / "predicted"
    summary = predict_run(run, small_dataset, out, as_scene=True, device_name="cpu")
    names = sorted(path.name for path in small_dataset.glob("scene_*"))
    assert summary.scenes == len(names) >= 2 and f"{len(names)} scenes" in summary.line()
    for name in names:
        source, scene = load_scene(small_dataset / name), load_scene(out / name)
        assert summary.images >= len(scene.frames) == len(source.frames)
        expected = prediction(run, source.rgb(3))
        np.testing.assert_allclose(scene.depth(3), expected, atol=0.0005 + 1e-6)


@pytest.fixture(scope="module")
def multi_frame_run(small_dataset, tmp_path_factory):
    """A multi-frame run of 2 steps: cost volumes of 3 frames, 16 planes."""
    config = tiny_config(multi_frame=True, sweep_sources=3, sources=1, planes=16, steps=2)
    run = tmp_path_factory.mktemp("multi_frame") / "run"
    plain = {"depth": dataclasses.asdict(config)}
    train_depth(plain, config, small_dataset / "scene_0000", run, show_progress=False)
    return run


def test_a_multi_frame_run_predicts_from_each_frames_neighbours(
    multi_frame_run, small_dataset, tmp_path
):
    network, state = load_depth_network(multi_frame_run)
    spec = state["depth"]
    assert spec["multi_frame"] and spec["sweep_sources"] == 3 and spec["planes"] == 16
    scene = load_scene(small_dataset / "scene_0001")
    predict_run(multi_frame_run, scene.path, tmp_path / "out", device_name="cpu")
    sources = prediction_sources(scene, spec)
    assert all(len(near) == 3 and position not in near for position, near in enumerate(sources))
    expected = predict_frames(network, spec, scene, [4], sources, "cpu")[0]
    assert expected.shape == (240, 320) and 0.1 <= expected.min() <= expected.max() <= 2.0
    written = read_depth(tmp_path / "out" / f"{scene.frames[4].index:06d}_depth.png")
    np.testing.assert_allclose(written, expected, atol=0.0005 + 1e-6)
    images = small_dataset / "scene_0000" / "processed" / "images"
    with pytest.raises(DonkitError, match="is a multi-frame run"):
        predict_run(multi_frame_run, images, tmp_path / "images_out", device_name="cpu")
    # Evaluation compares it with the sweep over the same neighbours; the run starts from the
    # sweep's answer, and two steps cannot move it far.
    metrics = evaluate_depth(multi_frame_run, scene.path, training_data=small_dataset,
                             device_name="cpu")  # fmt: skip
    assert metrics["baselines"]["sweep"]["settings"]["sweep_sources"] == 3
    sweep = metrics["baselines"]["sweep"]["metric"]["abs_rel"]
    assert metrics["metric"]["abs_rel"] == pytest.approx(sweep, abs=0.05)
