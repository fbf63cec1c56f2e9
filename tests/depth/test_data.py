"""Depth training samples: which frames, which motion, which pixels, from the scene files."""

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from depth.data import (
    DepthSamples,
    adjacent_sources,
    mirror,
    nearest_sources,
    resize_depth,
    resized_camera,
    view_overlap,
)
from depth.layers import synthesize
from depth.losses import photometric_error
from formats.scenes import load_scene
from geometry import PinholeCamera, look_at, project, transform
from tests.depth.conftest import tiny_config

CAMERA = PinholeCamera(320, 240, 257.3, 257.3, 159.5, 119.5)


def test_resized_intrinsics_keep_the_pixel_edges_where_they_were():
    points = np.array([[0.1, -0.05, 0.5], [-0.2, 0.1, 1.0]])
    uv, _ = project(points, CAMERA.matrix)
    small = resized_camera(CAMERA, 160, 120)
    uv_small, _ = project(points, small.matrix)
    # A pixel of the small image covers 2 x 2 pixels; their shared corner is at (2u + 0.5).
    np.testing.assert_allclose(uv_small, (uv + 0.5) / 2 - 0.5, atol=1e-9)
    assert (small.width, small.height) == (160, 120)
    np.testing.assert_allclose([small.cx, small.cy], [79.5, 59.5])


def test_overlap_of_a_view_with_itself_is_whole_and_with_one_facing_away_none():
    eye = look_at([0.0, -0.4, 0.3], [0.0, 0.0, 0.0])
    away = look_at([0.0, -0.4, 0.3], [0.0, -0.8, 0.6])
    assert view_overlap(CAMERA, eye, eye, 0.45) == 1.0
    assert view_overlap(CAMERA, eye, away, 0.45) == 0.0


def test_sources_are_the_nearest_frames_that_overlap():
    # Cameras on an arc around the origin, looking at it, and one beside the first that looks
    # away: nearest in position, but seeing none of the target.
    angles = np.radians([0.0, 10.0, 25.0, 45.0, 90.0])
    eyes = [[0.45 * np.sin(a), -0.45 * np.cos(a), 0.2] for a in angles]
    poses = [look_at(eye, [0.0, 0.0, 0.0]) for eye in eyes]
    poses.append(look_at([0.01, -0.45, 0.2], [0.0, -1.0, 0.2]))
    sources = nearest_sources(np.stack(poses), CAMERA, 2, 0.45, 0.5)
    centres = np.array([pose[:3, 3] for pose in poses])
    for target in range(5):
        distance = np.linalg.norm(centres - centres[target], axis=1)
        by_distance = [i for i in np.argsort(distance) if i not in (target, 5)]
        overlapping = [
            i for i in by_distance if view_overlap(CAMERA, poses[target], poses[i], 0.45) >= 0.5
        ]
        assert sources[target] == overlapping[:2], target
    assert sources[0] == [1, 2]  # not 5, which is nearest but faces away
    assert sources[5] == []  # it sees nothing the others see


def test_adjacent_sources_are_the_index_neighbours():
    assert adjacent_sources(5, 2) == [[1, 2], [0, 2], [1, 3], [2, 4], [3, 2]]
    assert adjacent_sources(3, 1) == [[1], [0], [1]]


@pytest.fixture(scope="module")
def samples(small_dataset):
    config = tiny_config(width=160, height=120, colour_jitter=0.2, flip=0.0)
    return DepthSamples([small_dataset / "scene_0000", small_dataset / "scene_0001"], config, 16)


def test_a_target_is_rebuilt_from_its_sources_with_its_true_depth(samples, small_dataset):
    sample = samples[3]
    scene = samples.scenes[sample["scene"]]
    frames = scene.frames
    target = sample["frame"]
    # The sources are the frames whose cameras are nearest the target's.
    centres = np.array([frame.camera_to_world[:3, 3] for frame in frames])
    distance = np.linalg.norm(centres - centres[target], axis=1)
    nearest = [int(i) for i in np.argsort(distance)[1:3]]
    assert list(samples.sources_of(sample["scene"], target)) == nearest
    # Their motion is forward kinematics: target camera -> world -> source camera.
    for s, source in enumerate(nearest):
        expected = np.linalg.inv(frames[source].camera_to_world) @ frames[target].camera_to_world
        np.testing.assert_allclose(sample["target_to_source"][s].numpy(), expected, atol=1e-6)
    # The photometric target is the resized image itself; only the network's input is jittered.
    rgb = cv2.resize(scene.rgb(target), (160, 120), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(
        (sample["image"] * 255).round().byte().permute(1, 2, 0).numpy(), rgb
    )
    assert not torch.equal(sample["image"], sample["network_image"])
    # With the sensor depth, the resized intrinsics and the FK motion, the sources rebuild the
    # target far better than with depth off by 20 %: every piece agrees with the others.
    depth = torch.from_numpy(resize_depth(scene.depth(target), 160, 120))[None, None]
    k = sample["intrinsics"][None]
    errors = {}
    for factor in (0.8, 1.0, 1.2):
        warped, valid = synthesize(
            sample["sources"][:1], depth * factor, k, k, sample["target_to_source"][:1]
        )
        error = photometric_error(warped, sample["image"][None])
        errors[factor] = float(error[valid].mean())
    assert errors[1.0] < 0.6 * min(errors[0.8], errors[1.2]), errors
    assert errors[1.0] < 0.1


def test_a_sample_is_a_function_of_the_seed_and_its_number(samples, small_dataset):
    again = DepthSamples(samples_paths(samples), samples.config, 16)
    for index in (0, 7, 15):
        first, second = samples[index], again[index]
        assert first.keys() == second.keys()
        for key, value in first.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, second[key]), (index, key)
            else:
                assert value == second[key]
    other_seed = DepthSamples(
        samples_paths(samples), dataclasses.replace(samples.config, seed=1), 16
    )
    assert any(
        not torch.equal(samples[i]["network_image"], other_seed[i]["network_image"])
        for i in range(4)
    )
    with pytest.raises(IndexError):
        samples[16]


def samples_paths(samples):
    return [scene.path for scene in samples.scenes]


def test_supervised_samples_hold_the_sensor_depth_resized_by_nearest_pixel(small_dataset):
    config = tiny_config(mode="supervised", width=160, height=120)
    samples = DepthSamples([small_dataset / "scene_0000"], config, 4)
    sample = samples[1]
    sensor = load_scene(small_dataset / "scene_0000").depth(sample["frame"])
    depth = sample["depth"][0].numpy()
    assert depth.shape == (120, 160)
    # Nearest-pixel resizing makes up no depth: each value is a reading of the pixel under it.
    rows, columns = np.mgrid[0:120, 0:160]
    np.testing.assert_array_equal(depth, sensor[2 * rows + 1, 2 * columns + 1])


def test_a_target_without_overlapping_frames_is_left_out(small_dataset):
    strict = tiny_config(min_overlap=1.0)
    with pytest.raises(Exception, match="no frame of the training scenes has a source"):
        DepthSamples([small_dataset / "scene_0000"], strict, 4)


def test_motion_moves_points_as_the_poses_say(samples):
    # target_to_source applied to a target-frame point equals going through the world.
    sample = samples[5]
    scene = samples.scenes[sample["scene"]]
    target = scene.frames[sample["frame"]].camera_to_world
    point = np.array([[0.02, -0.01, 0.4]])
    world = transform(point, target)
    for s, source in enumerate(samples.sources_of(sample["scene"], sample["frame"])):
        in_source = transform(world, np.linalg.inv(scene.frames[source].camera_to_world))
        moved = transform(point, sample["target_to_source"][s].double().numpy())
        np.testing.assert_allclose(moved, in_source, atol=1e-6)


def test_a_mirrored_sample_keeps_its_geometry_exact(samples):
    # Mirrored images with mirrored intrinsics and motion rebuild the (mirrored) target from
    # its source as well as the originals do; mirrored images with the original geometry don't.
    sample = samples[3]
    scene = samples.scenes[sample["scene"]]
    depth = torch.from_numpy(resize_depth(scene.depth(sample["frame"]), 160, 120))[None, None]
    flipped = mirror(sample)
    np.testing.assert_array_equal(flipped["image"].numpy(), sample["image"].numpy()[..., ::-1])
    assert float(flipped["intrinsics"][0, 2]) == pytest.approx(
        159 - float(sample["intrinsics"][0, 2])
    )

    def error(entry, depth, geometry):
        k = geometry["intrinsics"][None]
        warped, valid = synthesize(
            entry["sources"][:1], depth, k, k, geometry["target_to_source"][:1]
        )
        return float(photometric_error(warped, entry["image"][None])[valid].mean())

    original = error(sample, depth, sample)
    assert error(flipped, depth.flip(-1), flipped) == pytest.approx(original, rel=0.05)
    assert error(flipped, depth.flip(-1), sample) > 1.5 * original
