"""Stereo scenes: a right camera the baseline beside the left, recorded, read and sampled."""

import shutil

import numpy as np
import pytest
import torch

from collect import collect
from collect.config import scene_identity
from collect.writer import COLLECT_STATE, SceneWriter
from depth.data import DepthSamples
from depth.layers import relative_pose
from formats import DonkitError
from formats.plain import read_yaml, write_yaml
from formats.scenes import RIGHT_CAMERA_INFO, camera_info_dict, load_scene, pose_entry
from geometry import PinholeCamera, look_at
from geometry.sampling import sample_bilinear
from tests.collect.test_scene import files_of
from tests.conftest import small_config
from tests.depth.conftest import BASELINE_M, tiny_config

STEREO = f"collect.camera.stereo_baseline_m={BASELINE_M}"


def test_a_stereo_scene_has_a_right_image_per_frame_and_its_baseline(stereo_scenes):
    root = stereo_scenes / "scene_0000"
    scene = load_scene(root)
    assert scene.stereo_baseline_m == pytest.approx(BASELINE_M, abs=1e-12)
    assert len(scene.frames) == 4
    for position, frame in enumerate(scene.frames):
        assert frame.right_rgb_path == root / f"processed/images/{frame.index:06d}_right_rgb.png"
        left, right = scene.rgb(position), scene.right_rgb(position)
        assert right.shape == left.shape and not np.array_equal(left, right)
    # The right camera's intrinsics in ROS form: P[0, 3] = -fx * baseline.
    info = read_yaml(root / RIGHT_CAMERA_INFO)
    fx = info["camera_matrix"]["data"][0]
    assert info["projection_matrix"]["data"][3] == pytest.approx(-fx * BASELINE_M)
    assert read_yaml(root / "metadata.yaml")["config"]["camera"]["stereo_baseline_m"] == BASELINE_M


def test_the_right_camera_is_the_left_moved_by_the_baseline_along_its_x(stereo_scenes):
    scene = load_scene(stereo_scenes / "scene_0000")
    for position in range(len(scene.frames)):
        left_to_right = relative_pose(
            scene.frames[position].camera_to_world, scene.right_camera_to_world(position)
        )
        np.testing.assert_allclose(left_to_right[:3, :3], np.eye(3), atol=1e-12)
        np.testing.assert_allclose(left_to_right[:3, 3], [-BASELINE_M, 0, 0], atol=1e-12)


def test_rendered_disparity_is_fx_times_baseline_over_depth(stereo_scenes):
    # A left pixel with depth z shows in the right image fx * b / z pixels further left. Sampled
    # there, the right image reproduces the left one; with any other baseline it does not.
    scene = load_scene(stereo_scenes / "scene_0000")
    errors = {}
    for baseline in (0.8 * BASELINE_M, 0.9 * BASELINE_M, BASELINE_M, 1.1 * BASELINE_M):
        differences = []
        for position in range(len(scene.frames)):
            left = scene.rgb(position).astype(np.float32)
            right = torch.from_numpy(scene.right_rgb(position).astype(np.float32))
            depth = scene.depth(position)
            v, u = np.nonzero(depth > 0)
            disparity = scene.camera.fx * baseline / depth[v, u]
            keep = u - disparity > 2
            uv = np.stack([u - disparity, v], -1)[keep][None].astype(np.float32)
            sampled = sample_bilinear(right.permute(2, 0, 1)[None], torch.from_numpy(uv))
            differences.append(np.abs(sampled[0].T.numpy() - left[v[keep], u[keep]]))
        errors[baseline] = float(np.concatenate(differences).mean())
    assert min(errors, key=errors.get) == BASELINE_M
    assert errors[BASELINE_M] < 10.0 < min(e for b, e in errors.items() if b != BASELINE_M)


def test_stereo_samples_hold_both_images_and_their_motion(stereo_scenes):
    samples = DepthSamples([stereo_scenes / "scene_0000"], tiny_config(mode="stereo"), 4)
    sample = samples[2]
    expected = np.eye(4)
    expected[0, 3] = -BASELINE_M
    np.testing.assert_allclose(sample["left_to_right"].numpy(), expected, atol=1e-7)
    assert float(sample["baseline_m"]) == pytest.approx(BASELINE_M)
    assert sample["right"].shape == sample["image"].shape == (3, 72, 96)
    assert not torch.equal(sample["right"], sample["image"])


def test_stereo_training_needs_stereo_scenes(small_dataset):
    with pytest.raises(DonkitError, match="has no right images; stereo training needs scenes"):
        DepthSamples([small_dataset / "scene_0000"], tiny_config(mode="stereo"), 4)


def test_an_interrupted_stereo_scene_resumes_to_the_same_bytes(stereo_scenes, tmp_path):
    # Turn the finished scene back into the state a crash during its last frame leaves: the
    # folder still .partial with its collection state, the last frame's left image (written
    # last) missing, and nothing of the files written at the end.
    config = small_config("collect.scenes=1", "collect.orbit.views=4", STEREO)
    partial = tmp_path / "scene_0000.partial"
    shutil.copytree(stereo_scenes / "scene_0000", partial)
    for name in ("metadata.yaml", "processed/images/pose_data.yaml", str(RIGHT_CAMERA_INFO)):
        (partial / name).unlink()
    (partial / "processed/images/000003_rgb.png").unlink()
    write_yaml(partial / COLLECT_STATE, scene_identity(config, 0))
    summary = collect(config, tmp_path, workers=1, show_progress=False)
    assert summary.reports[0].status == "resumed" and summary.reports[0].frames_reused == 3
    assert files_of(tmp_path) == files_of(stereo_scenes)
    # Run again, the complete scene is kept as it is.
    again = collect(config, tmp_path, workers=1, show_progress=False)
    assert again.reports[0].status == "skipped"
    assert files_of(tmp_path) == files_of(stereo_scenes)


def test_a_stereo_frame_is_done_only_with_its_right_image(tmp_path):
    writer = SceneWriter(tmp_path, "scene_0000", {"seed": 0}, False, stereo_baseline_m=0.05)
    rgb = np.zeros((6, 8, 3), np.uint8)
    depth = np.full((6, 8), 0.5, np.float32)
    segmentation = np.zeros((6, 8), np.uint16)
    writer.write_frame(0, rgb, depth, segmentation, right_rgb=rgb + 1)
    assert writer.frame_done(0)
    (writer.partial / "processed/images/000000_right_rgb.png").unlink()
    assert not writer.frame_done(0)
    with pytest.raises(ValueError, match="need a right image"):
        writer.write_frame(1, rgb, depth, segmentation)


def test_a_baseline_of_zero_leaves_the_recorded_config_as_before():
    # Scenes recorded before the option existed keep their identity (and bytes).
    identity = scene_identity(small_config(), 0)
    assert "stereo_baseline_m" not in identity["config"]["camera"]
    stereo = scene_identity(small_config(STEREO), 0)
    assert stereo["config"]["camera"]["stereo_baseline_m"] == BASELINE_M


def write_scene(root, right_info=None, right_names=True):
    camera = PinholeCamera(64, 48, 50.0, 50.0, 31.5, 23.5)
    images = root / "processed" / "images"
    images.mkdir(parents=True)
    write_yaml(images / "camera_info.yaml", camera_info_dict(camera))
    if right_info is not None:
        write_yaml(images / "right_camera_info.yaml", right_info(camera))
    pose = look_at([0.0, -0.5, 0.4], [0.0, 0.0, 0.0])
    write_yaml(images / "pose_data.yaml", {0: pose_entry(0, pose, 0.0, stereo=right_names)})
    return root


def test_a_right_camera_info_gives_the_baseline(tmp_path):
    scene = load_scene(write_scene(tmp_path, lambda c: camera_info_dict(c, 0.12)))
    assert scene.stereo_baseline_m == pytest.approx(0.12)


@pytest.mark.parametrize(
    ("right_info", "right_names", "message"),
    [
        (None, True, "names right images, but processed/images/right_camera_info.yaml"),
        (lambda c: camera_info_dict(c, 0.1), False, "frame(s) of processed/images/pose_data"),
        (lambda c: camera_info_dict(c, -0.1), True, "the right camera must lie to the right"),
        (
            lambda c: camera_info_dict(PinholeCamera(64, 48, 60.0, 60.0, 31.5, 23.5), 0.1),
            True,
            "has other intrinsics than the left camera's",
        ),
    ],
)
def test_inconsistent_stereo_files_are_reported(tmp_path, right_info, right_names, message):
    root = write_scene(tmp_path, right_info, right_names)
    with pytest.raises(DonkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_scene(root)
