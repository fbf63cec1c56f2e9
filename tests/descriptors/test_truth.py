"""The truth that correspondences are measured against: exact depth images, sampled."""

from types import SimpleNamespace

import numpy as np
import pytest

from descriptors.truth import DepthImageTruth, true_surface
from formats.scenes import load_scene
from geometry import backproject, invert_pose, project, transform
from tests.foreign_scenes import write_foreign_scene

FRAME = SimpleNamespace(index=7)


def test_a_slanted_plane_is_exact_between_pixel_centres():
    # A plane's inverse depth is affine in (u, v): 1/z = a u + b v + c. Bilinear interpolation
    # of inverse depth reproduces it exactly; a pixel's depth, half a pixel away in u and v, is
    # off by half a pixel's slope (here 3 mm at 0.4 m: 1/z changes by 0.019 / m).
    a, b, c = 0.04, -0.002, 2.0
    v, u = np.mgrid[0:20, 0:30]
    truth = DepthImageTruth({7: (1.0 / (a * u + b * v + c)).astype(np.float32)})
    uv = np.array([[3.25, 4.5], [10.5, 10.5], [0.0, 0.0], [28.9, 18.1], [12.0, 7.0]])
    expected = 1.0 / (a * uv[:, 0] + b * uv[:, 1] + c)
    np.testing.assert_allclose(truth.depth(FRAME, uv), expected, rtol=1e-6)
    neighbour = 1.0 / (a * 10 + b * 10 + c)
    assert abs(neighbour - expected[1]) > 2.5e-3


def test_across_an_edge_the_nearest_pixel_counts():
    image = np.full((10, 10), 0.4, np.float32)
    image[:, 5:] = 0.6  # 50 %: two surfaces, not one slanted one
    image[0, 0] = 0.0  # no surface
    truth = DepthImageTruth({7: image})
    uv = np.array([[4.4, 5.0], [4.6, 5.0], [0.2, 0.2], [-0.6, 3.0], [9.4, 9.4]])
    depth = truth.depth(FRAME, uv)
    np.testing.assert_allclose(depth[:2], [0.4, 0.6], rtol=1e-6)
    assert np.isnan(depth[2]) and np.isnan(depth[3])  # no surface; outside the image
    assert depth[4] == pytest.approx(0.6)


def test_the_foreign_writers_truth_agrees_with_its_cameras(tmp_path):
    # Each view's exact depth, moved into the next view with the declared intrinsics and poses,
    # must meet that view's exact depth: a half-pixel error in the principal point (pybullet's
    # TinyRenderer offset left uncorrected) shows as a median gap of 0.44 mm, against 0.005 mm.
    root = write_foreign_scene(tmp_path / "scene", seed=5, views=4)
    scene = load_scene(root)
    truth = true_surface(root, scene)
    k = scene.camera.matrix
    gaps = []
    for first, second in zip(scene.frames[:-1], scene.frames[1:], strict=True):
        rows, columns = np.nonzero(truth.images[first.index] > 0)
        uv = np.stack([columns, rows], axis=1).astype(np.float64)
        points = transform(backproject(uv, truth.depth(first, uv), k), first.camera_to_world)
        uv_second, z = project(transform(points, invert_pose(second.camera_to_world)), k)
        gap = z - truth.depth(second, uv_second)
        gaps.append(gap[np.abs(gap) < 0.01])  # co-visible: not behind something else
    gaps = np.concatenate(gaps)
    assert len(gaps) > 20_000
    assert np.median(np.abs(gaps)) < 0.00005
