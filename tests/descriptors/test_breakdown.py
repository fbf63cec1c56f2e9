"""The error decomposition of `donkit evaluate --breakdown`, on pairs built by hand."""

from pathlib import Path

import numpy as np
import pytest
import torch

from descriptors.breakdown import (
    NO_GROUND_TRUTH,
    breakdown,
    nearest_wrong_distance,
    object_labels,
    pair_records,
    silhouette_distance_px,
    viewpoint_change_deg,
)
from descriptors.correspondence import View
from descriptors.cross_instance import cross_instance_pairs, instances
from descriptors.evaluate import best_matches, evaluate_method, exact_true_matches, world_points
from descriptors.evaluation_pairs import EvaluationPair
from donkit.summaries import evaluation_lines
from formats.scenes import load_scene
from geometry import PinholeCamera, invert_pose, transform
from tests.descriptors.test_evaluate import coordinate_descriptors

HEIGHT, WIDTH = 24, 40
MUG, DUCK = 3, 5  # segmentation ids
NAMES = {MUG: "mug", DUCK: "duck"}

# Seven true matches in B and where their descriptors (descriptor = pixel (u, v)) send them:
#   mug  (9, 11) -> (9, 11)     exact                    silhouette 8 (column 1 is outside)
#   mug  (4, 11) -> (4.25, 11)  0.25 px off              3
#   mug  (10, 6) -> (30, 6)     onto the duck, 20 px     5 (row 1)
#   mug  (12, 15) -> (5, 18)    elsewhere on the mug     6 (column 18)
#   duck (29, 12) -> (29.4, 12) 0.4 px off               8 (column 21)
#   duck (25, 8) -> (19, 8)     between the objects, 6   4 (column 21)
#   duck (33, 4) -> (33, 4)     exact                    3 (row 1)
TRUE_UV = np.array([[9, 11], [4, 11], [10, 6], [12, 15], [29, 12], [25, 8], [33, 4]])
QUERY_UV = np.array([[9, 11], [4.25, 11], [30, 6], [5, 18], [29.4, 12], [19, 8], [33, 4]])
ERRORS = np.array([0.0, 0.25, 20.0, np.hypot(7, 3), 0.4, 6.0, 0.0])
RIGHT_OBJECT = np.array([True, True, False, True, True, False, True])
SILHOUETTE = np.array([8.0, 3.0, 5.0, 6.0, 8.0, 4.0, 3.0])


def two_objects(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """(H, W) segmentation: the mug at columns 2-17, the duck at 22-37, both rows 2-21."""
    segmentation = np.zeros((height, width), np.int64)
    segmentation[2:22, 2:18] = MUG
    segmentation[2:22, 22:38] = DUCK
    return segmentation


def hand_pair(
    mask: np.ndarray,
    uv_b: np.ndarray,
    camera_to_world_b: np.ndarray | None = None,
    **extra,
) -> EvaluationPair:
    """A pair whose B looks at a plane 1 m ahead, with true matches `uv_b` whose points are
    consistent with B (their exact projections are `uv_b`)."""
    height, width = mask.shape
    camera = PinholeCamera(width=width, height=height, fx=20.0, fy=20.0, cx=19.5, cy=11.5)
    pose = np.eye(4) if camera_to_world_b is None else camera_to_world_b
    view = View(camera, pose, np.ones((height, width), np.float32), mask)
    image = np.zeros((height, width, 3), np.uint8)
    xyz = world_points(view, uv_b)
    return EvaluationPair("multi_object", image, image, view, uv_b, uv_b, xyz, **extra)


def labelled_pair(**extra) -> EvaluationPair:
    segmentation = two_objects()
    return hand_pair(
        segmentation > 0, TRUE_UV, segmentation_b=segmentation, object_names_b=NAMES, **extra
    )


def describe(pair: EvaluationPair) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = pair.view_b.mask.shape
    return torch.from_numpy(QUERY_UV), coordinate_descriptors(height, width)


def brute_force_wrong_distance(query: np.ndarray, true_uv: np.ndarray) -> float:
    """The descriptor distance (= pixel distance, for coordinate descriptors) from the query
    to the nearest pixel more than 5 px from the true match, pixel by pixel."""
    best = np.inf
    for v in range(HEIGHT):
        for u in range(WIDTH):
            if np.hypot(u - true_uv[0], v - true_uv[1]) > 5:
                best = min(best, np.hypot(u - query[0], v - query[1]))
    return best


def test_viewpoint_change_by_hand():
    # B's camera at (0, 0, -2), A's at (0, 0, -4): a point on their common line in front of
    # both sees them in one direction (0 deg), a point between them in opposite ones (180);
    # from (1, 0, -3) the rays (-1, 0, -1) and (-1, 0, 1) are perpendicular; from (2, 0, -2)
    # the rays (-2, 0, -2) and (-2, 0, 0) are 45 deg apart.
    pose_b, pose_a = np.eye(4), np.eye(4)
    pose_b[:3, 3], pose_a[:3, 3] = [0.0, 0.0, -2.0], [0.0, 0.0, -4.0]
    pair = hand_pair(np.ones((4, 4), bool), np.zeros((4, 2), np.int64), pose_b)
    pair.xyz = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -3.0], [1.0, 0.0, -3.0], [2.0, 0.0, -2.0]])
    assert np.isnan(viewpoint_change_deg(pair)).all()  # without A's pose
    pair.camera_to_world_a = pose_a
    np.testing.assert_allclose(viewpoint_change_deg(pair), [0.0, 180.0, 90.0, 45.0], atol=1e-6)


def angle_deg(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    cosine = np.sum(first * second, axis=1) / (
        np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1)
    )
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def test_viewpoint_change_across_instances_is_the_turn_about_the_object(fused_singles: Path):
    # box_tea and box_cereal (two scenes) are two instances of the class box, placed and
    # turned differently: A sees X, B sees Y, and the view's turn is about the object.
    paths = sorted(fused_singles.glob("scene_*"))
    by_name = {f"{paths[item.scene].name}/{item.name}": item for item in instances(paths)}
    pairs = cross_instance_pairs(paths, pairs=4, matches=50, seed=0)
    assert pairs
    for pair in pairs:
        x, y = (by_name[name] for name in pair.instances)
        scene_a = load_scene(paths[x.scene])
        (frame_a,) = [
            frame
            for position, frame in enumerate(scene_a.frames)
            if np.array_equal(scene_a.rgb(position), pair.image_a)
        ]
        # Independently, each ray in its own object's frame: from the point on X (the same
        # canonical point, at X's scale) to A's camera, and from the point on Y to B's camera.
        camera_a = transform(frame_a.camera_to_world[:3, 3], invert_pose(x.object_to_world))
        camera_b = transform(pair.view_b.camera_to_world[:3, 3], invert_pose(y.object_to_world))
        on_y = transform(pair.xyz, invert_pose(y.object_to_world))
        on_x = on_y / y.scale * x.scale
        expected = angle_deg(camera_a - on_x, camera_b - on_y)
        # The breakdown draws both rays from the point on Y: A's ray then starts
        # |on_x - on_y| (the boxes' sizes differ) from where it should, which turns it by at
        # most asin(|on_x - on_y| / |camera_a - on_x|).
        slack = np.degrees(
            np.arcsin(np.linalg.norm(on_x - on_y, axis=1) / np.linalg.norm(camera_a - on_x, axis=1))
        )
        assert (np.abs(viewpoint_change_deg(pair) - expected) <= slack + 1e-6).all()


def test_silhouette_distance_is_to_the_nearest_pixel_off_the_own_object():
    labels = np.zeros((9, 14), np.int64)
    labels[1:8, 1:8] = 2  # a 7 x 7 square, columns and rows 1-7
    labels[1:8, 8:13] = 5  # another object touching its right side, columns 8-12
    uv = np.array([[4, 4], [1, 1], [2, 3], [6, 4], [10, 4]])
    # scipy's distance_transform_edt gives each object pixel's Euclidean distance to the
    # nearest pixel off the object: the square's centre is 4 from rows and columns 0 and 8;
    # its corner 1 from row 0; (2, 3) 2 from column 0; (6, 4) 2 from column 8, the other
    # object, which counts as outside; the other object's (10, 4) 3 from columns 7 and 13.
    np.testing.assert_allclose(silhouette_distance_px(labels, uv), [4.0, 1.0, 2.0, 2.0, 3.0])


def test_the_nearest_wrong_pixel_is_the_best_one_more_than_5_px_away():
    squared = torch.full((1, 12 * 12), 50.0, dtype=torch.float64)

    def at(u: int, v: int) -> int:
        return v * 12 + u

    squared[0, at(5, 5)] = 0.0  # the true match: the best pixel
    squared[0, at(9, 8)] = 0.25  # (4, 3) from it: exactly 5 px, still a right answer
    squared[0, at(5, 10)] = 0.5  # (0, 5): exactly 5 px too
    squared[0, at(9, 9)] = 4.0  # (4, 4): 5.7 px away, the best wrong pixel
    squared[0, at(0, 0)] = 9.0
    distance = nearest_wrong_distance(squared, np.array([[5.0, 5.0]]), 12)
    np.testing.assert_allclose(distance, [2.0])


def test_without_ground_truth_objects_are_the_connected_parts_of_the_mask():
    mask = np.zeros((10, 12), bool)
    mask[1:4, 1:4] = True
    mask[5:7, 6:9] = True
    mask[7, 9] = True  # touches the second part at a corner only: a part of its own
    pair = hand_pair(mask, np.zeros((0, 2), np.int64))
    labels, names = object_labels(pair)
    # scipy's label joins pixels that share a side, numbering parts in raster order.
    assert names == {1: NO_GROUND_TRUTH, 2: NO_GROUND_TRUTH, 3: NO_GROUND_TRUTH}
    assert (labels[1:4, 1:4] == 1).all() and (labels[5:7, 6:9] == 2).all() and labels[7, 9] == 3
    assert (labels[~mask] == 0).all()
    # With the simulator's segmentation, that is used as it is.
    segmentation = two_objects()
    pair = labelled_pair()
    labels, names = object_labels(pair)
    assert labels is pair.segmentation_b and names == NAMES
    np.testing.assert_array_equal(labels, segmentation)


def test_records_of_a_pair_with_matches_on_the_wrong_object():
    pair = labelled_pair()
    queries, descriptors = describe(pair)
    found = best_matches(queries, descriptors, pair.view_b.mask, pair.uv_b)
    uv_true = exact_true_matches(pair)
    records = pair_records(pair, found.uv, uv_true, found.squared, found.true_distance)
    # Coordinate descriptors: the refined best matches are the queries' positions (exactly:
    # the squared distances are parabolas), and descriptor distance is pixel distance.
    np.testing.assert_allclose(found.uv, QUERY_UV, atol=1e-9)
    np.testing.assert_allclose(records.error_px, ERRORS, atol=1e-9)
    names = ["mug"] * 4 + ["duck"] * 3
    np.testing.assert_array_equal(records.object_name, names)
    np.testing.assert_array_equal(records.right_object, RIGHT_OBJECT)
    # Only the match sent to (19, 8), between the objects, is off them.
    np.testing.assert_array_equal(records.on_objects, [True] * 5 + [False, True])
    np.testing.assert_allclose(records.silhouette_px, SILHOUETTE)
    np.testing.assert_allclose(records.true_distance, ERRORS, atol=1e-9)
    wrong = [brute_force_wrong_distance(q, t) for q, t in zip(QUERY_UV, TRUE_UV, strict=True)]
    np.testing.assert_allclose(records.wrong_distance, wrong, atol=1e-9)
    assert np.isnan(records.viewpoint_deg).all()  # the pair has no pose of A


def test_breakdown_figures_of_a_pair_with_matches_on_the_wrong_object():
    pair = labelled_pair()
    queries, descriptors = describe(pair)
    found = best_matches(queries, descriptors, pair.view_b.mask, pair.uv_b)
    figures = breakdown(
        pair_records(pair, found.uv, exact_true_matches(pair), found.squared, found.true_distance)
    )
    assert figures["matches"] == 7
    assert figures["right_object_share"] == pytest.approx(5 / 7)
    assert figures["on_objects_share"] == pytest.approx(6 / 7)
    assert figures["within_5px"] == pytest.approx(4 / 7)
    # Errors 0, 0, 0.25, 0.4, 6, 7.6, 20: median 0.4; on the right object 0, 0, 0.25, 0.4,
    # 7.6 (median 0.25); on the wrong one 6 and 20 (median 13).
    assert figures["pixel_error_median"] == pytest.approx(0.4)
    assert figures["pixel_error_median_right_object"] == pytest.approx(0.25)
    assert figures["pixel_error_median_wrong_object"] == pytest.approx(13.0)
    # The true match is nearer than every pixel beyond 5 px unless the query sits on such a
    # pixel (the three matches sent 20, 7.6 and 6 px away): 4 of 7.
    assert figures["true_match_nearest_share"] == pytest.approx(4 / 7)
    assert figures["true_distance_median"] == pytest.approx(0.4)
    # Nearest wrong pixels: 0 for those three; sqrt(26) (5 and 1 px off) for the two exact
    # ones; for (4.25, 11) pixel (9, 12): sqrt(4.75^2 + 1); for (29.4, 12) pixel (34, 13):
    # sqrt(4.6^2 + 1), the median.
    assert figures["wrong_distance_median"] == pytest.approx(np.hypot(4.6, 1.0))
    by_object = figures["by_object"]
    assert {name: group["matches"] for name, group in by_object.items()} == {"duck": 3, "mug": 4}
    assert by_object["mug"]["right_object_share"] == pytest.approx(3 / 4)
    assert by_object["duck"]["right_object_share"] == pytest.approx(2 / 3)
    assert by_object["mug"]["pixel_error_median"] == pytest.approx((0.25 + np.hypot(7, 3)) / 2)
    silhouette = figures["by_silhouette_distance"]
    assert {name: group["matches"] for name, group in silhouette.items()} == {
        "0-5 px": 3,
        "5-10 px": 4,
    }
    assert figures["by_viewpoint_change"] == {}  # no pose of A: no angle to group by


def test_a_match_off_every_object_is_never_right_and_a_tie_is_not_nearest():
    segmentation = np.zeros((HEIGHT, WIDTH), np.int64)
    segmentation[2:10, 2:10] = MUG
    true_uv = np.array([[15, 20], [5, 5]])
    pair = hand_pair(
        segmentation > 0, true_uv, segmentation_b=segmentation, object_names_b={MUG: "mug"}
    )
    # One channel, 10 everywhere but at (15, 20) (20: off the segmented objects) and at the
    # mug's (5, 5) and the far (16, 5) (both 3).
    descriptors = torch.full((1, HEIGHT, WIDTH), 10.0, dtype=torch.float64)
    descriptors[0, 20, 15], descriptors[0, 5, 5], descriptors[0, 5, 16] = 20.0, 3.0, 3.0
    # The query 20 finds (15, 20) itself, but off every object no object is the right one.
    # The query 0 is 3 from its true match (5, 5), the first of the tie, and 3 from (16, 5).
    queries = torch.tensor([[20.0], [0.0]], dtype=torch.float64)
    found = best_matches(queries, descriptors, pair.view_b.mask, true_uv)
    records = pair_records(
        pair, found.uv, exact_true_matches(pair), found.squared, found.true_distance
    )
    np.testing.assert_allclose(records.error_px, [0.0, 0.0], atol=1e-9)
    np.testing.assert_array_equal(records.right_object, [False, True])
    np.testing.assert_array_equal(records.on_objects, [False, True])
    np.testing.assert_allclose(records.true_distance, [0.0, 3.0])
    np.testing.assert_allclose(records.wrong_distance, [10.0, 3.0])
    # Nearer than every wrong pixel means strictly nearer: the tie does not count.
    assert breakdown(records)["true_match_nearest_share"] == 0.5


def method_results(pairs: list[EvaluationPair], with_breakdown: bool) -> dict:
    results = evaluate_method(describe, pairs, "hand", False, with_breakdown)
    del results["errors_px"]
    return results


def test_evaluate_method_adds_the_breakdown_over_all_pairs_when_asked():
    assert "breakdown" not in method_results([labelled_pair()], with_breakdown=False)
    # A's camera where B's is: every viewpoint change is 0.
    pairs = [labelled_pair(), labelled_pair(camera_to_world_a=np.eye(4))]
    figures = method_results(pairs, with_breakdown=True)["breakdown"]
    # The records of both pairs joined: the same shares, twice the matches.
    assert figures["matches"] == 14
    assert figures["right_object_share"] == pytest.approx(5 / 7)
    assert figures["by_object"]["mug"]["matches"] == 8
    assert figures["by_viewpoint_change"]["0-30 deg"]["matches"] == 7  # the posed pair's
    assert set(figures["by_viewpoint_change"]) == {"0-30 deg"}


def test_printed_lines_include_the_breakdown_only_when_it_was_made(tmp_path: Path):
    def lines(with_breakdown: bool) -> list[str]:
        results = {
            "donkit": method_results([labelled_pair()], with_breakdown),
            "pairs": 1,
            "matches": 7,
        }
        return evaluation_lines(results, tmp_path)

    printed = lines(with_breakdown=True)
    sentence = [line for line in printed if line.startswith("breakdown of donkit")]
    assert len(sentence) == 1
    # 5 of 7 on the right object, 6 of 7 on an object, 4 of 7 truly nearest.
    assert sentence[0].startswith(
        "breakdown of donkit (7 matches): the best match lies on the right object for 71 % "
    )
    assert "elsewhere 13.0 px), on an object for 86 %" in sentence[0]
    assert "beyond 5 px for 57 %" in sentence[0]
    assert any(line.lstrip().startswith("object mug") for line in printed)
    assert not any("breakdown" in line for line in lines(with_breakdown=False))
