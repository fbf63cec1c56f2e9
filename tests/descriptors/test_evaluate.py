"""Best-match evaluation, on descriptors whose answer is known."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from descriptors.config import CorrespondConfig
from descriptors.correspondence import View
from descriptors.evaluate import (
    FIGURES,
    EvaluationPair,
    best_matches,
    dense_sift,
    evaluate_method,
    evaluation_pairs,
    exact_true_matches,
    sift_at,
    summarize,
    world_points,
)
from donkit.cli import main
from geometry import PinholeCamera, backproject_depth, transform

CORRESPOND = CorrespondConfig()


def coordinate_descriptors(height: int, width: int) -> torch.Tensor:
    """(2, H, W): each pixel's own (u, v)."""
    v, u = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([u, v]).double()


def test_descriptors_equal_to_pixel_coordinates_find_every_match():
    descriptors = coordinate_descriptors(6, 8)
    uv_b = np.array([[0, 0], [7, 5], [3, 2]])
    mask = np.ones((6, 8), bool)
    found = best_matches(torch.from_numpy(uv_b).double(), descriptors, mask, uv_b)
    # Each query is a pixel's own descriptor: the parabolas through its neighbours are
    # symmetric (or, on the border, not drawn), so refinement leaves the pixel.
    np.testing.assert_array_equal(found.uv, uv_b)
    np.testing.assert_array_equal(found.pixel, uv_b)
    assert found.uv.dtype == np.float64 and found.pixel.dtype == np.int64
    np.testing.assert_array_equal(found.closer, 0.0)
    np.testing.assert_array_equal(found.distance, 0.0)
    np.testing.assert_array_equal(found.true_distance, 0.0)


def test_constant_descriptors_leave_no_pixel_closer_and_pick_the_first():
    descriptors = torch.ones(3, 4, 5)
    uv_b = np.array([[2, 2], [4, 3]])
    mask = np.zeros((4, 5), bool)
    mask[1:3] = True
    found = best_matches(torch.ones(2, 3), descriptors, mask, uv_b)
    # Every distance ties: the first pixel, not refined (flat, and on the border).
    np.testing.assert_array_equal(found.uv, [[0, 0], [0, 0]])
    np.testing.assert_array_equal(found.pixel, [[0, 0], [0, 0]])
    np.testing.assert_array_equal(found.closer, 0.0)


def test_fraction_closer_counts_object_pixels_nearer_than_the_true_match():
    # Descriptor = u: the query 2.2 is nearest to u = 2; with the true match at u = 4, pixels
    # u = 1, 2, 3 are nearer (|u - 2.2| < 1.8), 3 of the 5 object pixels of the row.
    descriptors = coordinate_descriptors(1, 5)[:1]
    found = best_matches(
        torch.tensor([[2.2]], dtype=torch.double), descriptors, np.ones((1, 5), bool),
        np.array([[4, 0]]),
    )  # fmt: skip
    np.testing.assert_array_equal(found.pixel, [[2, 0]])
    # Squared distance (u - 2.2)^2 is exactly the parabola through u = 1, 2, 3: its vertex is
    # the query; the single row is the image's border along v, not refined.
    np.testing.assert_allclose(found.uv, [[2.2, 0.0]], atol=1e-12)
    assert found.closer[0] == pytest.approx(3 / 5)
    assert found.distance[0] == pytest.approx(0.2)  # to the best pixel, not the refined point
    assert found.true_distance[0] == pytest.approx(1.8)
    # The squared distances to every pixel come along for the breakdown.
    np.testing.assert_allclose(found.squared.numpy(), [[2.2**2, 1.2**2, 0.2**2, 0.8**2, 1.8**2]])


def test_without_true_matches_only_the_best_match_is_known():
    descriptors = coordinate_descriptors(1, 5)[:1]
    found = best_matches(
        torch.tensor([[3.6]], dtype=torch.double), descriptors, np.ones((1, 5), bool)
    )
    # u = 4 is the last column: on the border nothing is refined, though the query is at 3.6.
    np.testing.assert_array_equal(found.uv, [[4, 0]])
    np.testing.assert_array_equal(found.pixel, [[4, 0]])
    assert found.distance[0] == pytest.approx(0.4)
    assert np.isnan(found.true_distance[0]) and np.isnan(found.closer[0])
    assert found.squared is None


def test_summary_figures_by_hand():
    errors = np.array([0.0, 3.0, 6.0, 30.0])
    metrics = summarize(
        errors, np.array([0.001, np.nan, 0.003, 0.01]), np.array([0, 0.1, 0.2, 0.5])
    )
    assert metrics["pixel_error_median"] == 4.5
    assert metrics["pixel_error_mean"] == pytest.approx(9.75)
    assert metrics["within_5px"] == 0.5 and metrics["within_10px"] == 0.75
    # PCK is 1/4 below 3 px, 1/2 from 3 to 6 px, 3/4 from 6 to 20 px: area 12.75 of 20.
    assert metrics["pck_auc_20px"] == pytest.approx(12.75 / 20, abs=0.002)
    assert metrics["error_3d_median_m"] == pytest.approx(0.003)
    assert metrics["fraction_closer_median"] == pytest.approx(0.15)
    # PCK@k for k = 1..100: 1/4 for k = 1, 2; 2/4 for k = 3..5; 3/4 for k = 6..29; 1 after.
    expected = (2 * 0.25 + 3 * 0.5 + 24 * 0.75 + 71 * 1.0) / 100
    assert metrics["pck_auc_1_100px"] == pytest.approx(expected)
    assert tuple(metrics) == FIGURES


def test_world_points_through_rendered_depth():
    camera = PinholeCamera(width=4, height=3, fx=2.0, fy=2.0, cx=1.0, cy=1.0)
    depth = np.full((3, 4), 2.0, np.float32)
    depth[0, 0] = 0.0
    pose = np.eye(4)
    pose[:3, 3] = [1.0, 0.0, 0.0]
    view = View(camera, pose, depth, np.ones((3, 4), bool))
    points = world_points(view, np.array([[1, 1], [3, 1], [0, 0]]))
    # x = (u - cx) / fx * z: pixel (3, 1) is (3 - 1) / 2 * 2 = 2 to the right, then the pose adds 1.
    np.testing.assert_allclose(points[:2], [[1.0, 0.0, 2.0], [3.0, 0.0, 2.0]])
    assert np.isnan(points[2]).all()


def test_dense_sift_on_a_grid_equals_sift_at_the_grid_pixels():
    rng = np.random.default_rng(0)
    image = (rng.random((40, 50, 3)) * 255).astype(np.uint8)
    dense = dense_sift(image, step_px=2)
    uv = np.array([[10, 10], [20, 30], [48, 38]])
    exact = sift_at(image, uv).float()
    torch.testing.assert_close(dense[:, uv[:, 1], uv[:, 0]].T, exact)
    assert dense.shape == (128, 40, 50)


def test_descriptors_equal_to_3d_positions_give_zero_pixel_error(fused_singles: Path):
    paths = sorted(fused_singles.glob("scene_*"))
    pairs = evaluation_pairs(paths, CORRESPOND, pairs=8, matches=50, seed=3)
    # Pairs of different objects have no true matches, hence no 3D points to describe A with.
    pairs = [pair for pair in pairs if pair.kind != "different_object"]
    assert pairs

    def world_descriptors(pair):
        view = pair.view_b
        points = transform(backproject_depth(view.depth, view.camera.matrix), view.camera_to_world)
        points[view.depth <= 0] = 1e3  # off the mesh: far from every surface point
        return torch.from_numpy(pair.xyz).double(), torch.from_numpy(points).permute(2, 0, 1)

    metrics = evaluate_method(world_descriptors, pairs, "xyz", False)
    # Errors are to the exact projections, which lie anywhere within their pixels: even the
    # right pixel is off by a median of about 0.38 px (from a uniform point in a unit square to
    # its centre; 0.41 on these pairs). The refinement does better, though not exactly, as the
    # world points are not linear in the pixels (curved surfaces, edges): 0.17 px here.
    exact = np.concatenate([exact_true_matches(pair) for pair in pairs])
    rounding = np.linalg.norm(exact - np.rint(exact), axis=1)
    assert metrics["pixel_error_median"] < 0.25 < np.median(rounding)
    assert metrics["pixel_error_p90"] <= 1.5  # near the pixel of the true projection
    assert metrics["error_3d_median_m"] < 0.002


@pytest.mark.slow
def test_donkit_evaluate_writes_metrics_for_each_method(fused_singles, tmp_path, capsys):
    run = tmp_path / "run"
    quick = ["--set", "train.width=32", "--set", "train.pairs_per_step=1"]
    assert main(["train", "--data", str(fused_singles), "--out", str(run), "--steps", "1",
                 "--device", "cpu", *quick]) == 0  # fmt: skip
    command = [
        "evaluate",
        str(run),
        "--data",
        str(fused_singles),
        "--pairs",
        "3",
        "--matches",
        "20",
        "--breakdown",
    ]
    assert main(command) == 0
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert (run / "eval" / "cdf.png").read_bytes().startswith(b"\x89PNG")
    different = metrics["donkit"]["by_kind"].get("different_object", {"pairs": 0})["pairs"]
    assert metrics["pairs"] + different == 3 and metrics["matches"] <= 20 * metrics["pairs"]
    for method in ("donkit", "sift", "random_init"):
        assert 0.0 <= metrics[method]["within_5px"] <= metrics[method]["within_20px"] <= 1.0
    # box_tea and box_cereal are two instances of the class box.
    across = metrics["cross_instance"]
    assert across["pairs"] >= 1 and across["matches"] >= 1
    for method in ("donkit", "sift", "random_init"):
        assert set(across[method]) == {*FIGURES, "breakdown"}
        # The simulator's segmentation names the objects of B.
        assert set(metrics[method]["breakdown"]["by_object"]) <= {"box_tea", "duck", "box_cereal"}
    printed = capsys.readouterr().out
    assert "random_init" in printed
    # The trained network's breakdowns are printed, held-out and across instances.
    assert "breakdown of donkit (" in printed
    assert "breakdown of donkit across instances (" in printed
    assert main(["evaluate", str(tmp_path), "--data", str(fused_singles)]) == 1


def test_pairs_of_different_objects_count_best_matches_nearer_than_a_true_match():
    camera = PinholeCamera(width=4, height=3, fx=2.0, fy=2.0, cx=1.0, cy=1.0)
    view = View(camera, np.eye(4), np.full((3, 4), 2.0, np.float32), np.ones((3, 4), bool))
    image = np.zeros((3, 4, 3), np.uint8)
    uv = np.array([[0, 0], [1, 0]])
    same = EvaluationPair("same_object", image, image, view, uv, uv, world_points(view, uv))
    other = np.array([[0, 0], [1, 1], [2, 2]])
    different = EvaluationPair(
        "different_object", image, image, view, other, np.zeros((0, 2)), np.zeros((0, 3))
    )

    def describe(pair):
        if pair.kind == "same_object":  # descriptor = u; true distances 0.5 and 0
            return torch.tensor([[0.5], [1.0]]), coordinate_descriptors(3, 4)[:1]
        return torch.tensor([[0.1], [0.3], [2.5]]), torch.zeros(1, 3, 4)  # best distances = |q|

    metrics = evaluate_method(describe, [same, different], "hand", False)
    # The tie at 0.5 (u = 0 and u = 1) goes to the first pixel, the true match, which is on
    # the border: not refined, so no error.
    assert metrics["pixel_error_median"] == 0.0 and metrics["error_3d_median_m"] == 0.0
    # Median true distance 0.25: of best distances 0.1, 0.3 and 2.5, one is nearer.
    confused = metrics["by_kind"]["different_object"]
    assert confused == {"pairs": 1, "points": 3, "share_nearer_than_true_median": 1 / 3}
    assert metrics["by_kind"]["same_object"]["pairs"] == 1
    np.testing.assert_array_equal(metrics["errors_px"], [0.0, 0.0])


def test_errors_are_measured_to_the_exact_projection_and_in_3d_from_the_best_pixel():
    camera = PinholeCamera(width=12, height=10, fx=10.0, fy=10.0, cx=5.0, cy=4.0)
    view = View(camera, np.eye(4), np.full((10, 12), 2.0, np.float32), np.ones((10, 12), bool))
    image = np.zeros((10, 12, 3), np.uint8)
    # Points at depth 2 projecting to (5.3, 4.6) and (8.0, 3.0); uv_b are their nearest pixels.
    exact = np.array([[5.3, 4.6], [8.0, 3.0]])
    xyz = np.column_stack([(exact - [5.0, 4.0]) / 10.0 * 2.0, [2.0, 2.0]])
    uv_b = np.rint(exact).astype(np.int64)
    pair = EvaluationPair("same_object", image, image, view, uv_b, uv_b, xyz)
    np.testing.assert_allclose(exact_true_matches(pair), exact, atol=1e-12)

    def describe(pair):  # descriptor = (u, v): each query is its point's exact projection
        return torch.from_numpy(exact), coordinate_descriptors(10, 12)

    metrics = evaluate_method(describe, [pair], "hand", False)
    # Linear descriptors: the refined best matches are the exact projections (to rounding),
    # not the pixels uv_b, which are 0.5 and 0 px from them.
    np.testing.assert_allclose(metrics["errors_px"], [0.0, 0.0], atol=1e-9)
    # The 3D error goes through the best pixel's rendered depth: pixel (5, 5) at depth 2 is
    # (0, 0.2, 2), 2 x |(5, 5) - (5.3, 4.6)| / 10 = 0.1 m from (0.06, 0.12, 2); the other 0.
    assert metrics["error_3d_median_m"] == pytest.approx(0.05)
