"""Training pairs drawn on the fly: deterministic, composed and augmented without losing matches."""

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from descriptors.config import CorrespondConfig, LossConfig, TrainConfig
from descriptors.correspondence import BACKGROUND, BLIND, CROSS_OBJECT, MASKED
from descriptors.pairs import catalog, plan_pairs
from descriptors.training_data import TrainingPairs, collate
from formats import DonkitError
from formats.ground_truth import read_ground_truth
from formats.scenes import load_scene
from geometry import backproject, invert_pose, transform

PLAIN = TrainConfig(
    background_randomization=0.0,
    colour_jitter=0.0,
    rotate_180=0.0,
    scale_range=(1.0, 1.0),
    crop_px=(0, 0),
)
CORRESPOND = CorrespondConfig(attempts=3000, matches=300, nonmatches_per_match=20)


def scenes(root: Path) -> list[Path]:
    return sorted(root.glob("scene_*"))


def colour_gap(image_a: np.ndarray, image_b: np.ndarray, uv_a, uv_b) -> float:
    """Median absolute colour difference (0-255) between pixels uv_a of A and uv_b of B."""
    a = image_a[uv_a[:, 1], uv_a[:, 0]].astype(float)
    b = image_b[uv_b[:, 1], uv_b[:, 0]].astype(float)
    return float(np.median(np.abs(a - b).mean(axis=1)))


def test_a_sample_is_the_same_whoever_makes_it(fused_singles):
    config = dataclasses.replace(TrainConfig(), synthetic_multi_object_share=0.5)
    first = TrainingPairs(scenes(fused_singles), CORRESPOND, config, 12)
    second = TrainingPairs(scenes(fused_singles), CORRESPOND, config, 40)  # longer run
    for index in (11, 3, 7):  # in another order, from a fresh cache
        a, b = first[index], second[index]
        for name in ("image_a", "image_b", "match_uv_a", "match_uv_b", "nonmatch_uv_b"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_matches_see_the_same_colours_and_nonmatches_do_not(fused_singles):
    # Lighting is fixed and the objects are matte, so a surface point has nearly the same colour
    # in both views; pixels of a non-match usually differ.
    pairs = TrainingPairs(scenes(fused_singles), CORRESPOND, PLAIN, 30)
    same = [pairs[i] for i in range(30) if pairs[i].kind == "same_object"][:5]
    assert same
    for pair in same:
        match = colour_gap(pair.image_a, pair.image_b, pair.match_uv_a, pair.match_uv_b)
        other = colour_gap(pair.image_a, pair.image_b, pair.nonmatch_uv_a, pair.nonmatch_uv_b)
        assert match < 12 and match < 0.4 * other


def test_turning_an_image_turns_its_matches(fused_singles):
    plain = TrainingPairs(scenes(fused_singles), CORRESPOND, PLAIN, 4, augment=False)
    turned = TrainingPairs(
        scenes(fused_singles), CORRESPOND, dataclasses.replace(PLAIN, rotate_180=1.0), 4
    )
    height, width = plain.shape
    for index in range(4):
        a, b = plain[index], turned[index]
        np.testing.assert_array_equal(b.image_a, a.image_a[::-1, ::-1])
        np.testing.assert_array_equal(b.image_b, a.image_b[::-1, ::-1])
        np.testing.assert_array_equal(b.match_uv_a, [width - 1, height - 1] - a.match_uv_a)
        np.testing.assert_array_equal(b.nonmatch_uv_b, [width - 1, height - 1] - a.nonmatch_uv_b)


def test_augmented_matches_stay_on_the_objects(fused_singles):
    config = dataclasses.replace(
        TrainConfig(), background_randomization=1.0, colour_jitter=0.0, rotate_180=0.5
    )
    pairs = TrainingPairs(scenes(fused_singles), CORRESPOND, config, 8)
    for index in range(8):
        pair = pairs[index]
        if len(pair.match_uv_a) == 0:
            continue
        on_a = pair.mask_a[pair.match_uv_a[:, 1], pair.match_uv_a[:, 0]]
        on_b = pair.mask_b[pair.match_uv_b[:, 1], pair.match_uv_b[:, 0]]
        # Zooming moves a match to the nearest pixel, which at a silhouette may fall just off.
        assert on_a.mean() > 0.98 and on_b.mean() > 0.98
        gap = colour_gap(pair.image_a, pair.image_b, pair.match_uv_a, pair.match_uv_b)
        assert gap < 20


def window_offset(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """(u, v) of the top-left pixel where `window` lies in `image`, checked to be exact."""
    scores = cv2.matchTemplate(image, window, cv2.TM_SQDIFF)
    v, u = np.unravel_index(np.argmin(scores), scores.shape)
    height, width = window.shape[:2]
    np.testing.assert_array_equal(image[v : v + height, u : u + width], window)
    return np.array([u, v])


def test_a_crop_is_a_window_of_the_image_with_its_matches_moved_along(fused_singles):
    plain = TrainingPairs(scenes(fused_singles), CORRESPOND, PLAIN, 6, augment=False)
    cropped = TrainingPairs(
        scenes(fused_singles), CORRESPOND, dataclasses.replace(PLAIN, crop_px=(96, 64)), 6
    )
    for index in range(6):
        whole, crop = plain[index], cropped[index]
        assert crop.image_a.shape == crop.image_b.shape == (64, 96, 3)
        # Without zoom a crop is a whole-pixel window of its image.
        offset_a = window_offset(whole.image_a, crop.image_a)
        offset_b = window_offset(whole.image_b, crop.image_b)
        if len(whole.match_uv_a) == 0:
            continue
        # Crops are placed around one match, so some matches are always kept, and each kept
        # one is a whole-image match moved by the two windows' offsets.
        assert len(crop.match_uv_a) > 0
        whole_matches = {tuple(row) for row in np.hstack([whole.match_uv_a, whole.match_uv_b])}
        moved = np.hstack([crop.match_uv_a + offset_a, crop.match_uv_b + offset_b])
        assert all(tuple(row) in whole_matches for row in moved)
        size = np.array([96, 64])
        inside_a = np.all((whole.match_uv_a >= offset_a) & (whole.match_uv_a < offset_a + size), 1)
        inside_b = np.all((whole.match_uv_b >= offset_b) & (whole.match_uv_b < offset_b + size), 1)
        inside = inside_a & inside_b
        assert len(crop.match_uv_a) == inside.sum()  # and none inside both windows is lost


def test_the_distributional_loss_gets_no_masked_or_background_nonmatches(fused_singles):
    # It takes every pixel of B as a negative; the blind ones it still uses are drawn.
    config = dataclasses.replace(PLAIN, loss=LossConfig(kind="distributional"))
    pairs = TrainingPairs(scenes(fused_singles), CORRESPOND, config, 6)
    same = [pairs[i] for i in range(6) if pairs[i].kind == "same_object"]
    assert same
    for pair in same:
        assert len(pair.match_uv_a) > 0
        assert not np.isin(pair.nonmatch_kind, [MASKED, BACKGROUND]).any()
        assert (pair.nonmatch_kind == BLIND).sum() > 0


def test_a_crop_side_longer_than_the_images_is_the_whole_side(fused_singles):
    config = dataclasses.replace(PLAIN, crop_px=(1000, 64))
    pairs = TrainingPairs(scenes(fused_singles), CORRESPOND, config, 2)
    height, width = pairs.shape
    assert pairs[0].image_a.shape == pairs[1].image_b.shape == (64, width, 3)
    assert height > 64


def canonical_points(path: Path, image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(N, 3) canonical-shape points seen at pixels `uv` of `image`, a view of the single
    object of scene `path`, found by comparing it with every view's RGB."""
    scene = load_scene(path)
    (frame,) = [i for i in range(len(scene.frames)) if np.array_equal(scene.rgb(i), image)]
    depth = scene.depth(frame)[uv[:, 1], uv[:, 0]].astype(np.float64)
    points = transform(
        backproject(uv.astype(np.float64), depth, scene.camera.matrix),
        scene.frames[frame].camera_to_world,
    )
    (obj,) = read_ground_truth(path).main_objects()
    return transform(points, invert_pose(obj.object_to_world)) / obj.scale


def test_cross_instance_pairs_match_the_same_canonical_point(fused_singles):
    # fused_singles holds box_tea and box_cereal: two instances of the class box, each the
    # canonical box scaled, in scenes of their own.
    paths = scenes(fused_singles)
    config = dataclasses.replace(PLAIN, class_consistent=True, cross_instance_share=1.0)
    pairs = TrainingPairs(paths, CORRESPOND, config, 4, augment=False)
    for index in range(4):
        pair = pairs[index]
        assert pair.kind == "cross_instance" and len(pair.match_uv_a) > 50
        shown = [
            [path for path in paths if any(np.array_equal(image, load_scene(path).rgb(i))
                                           for i in range(8))]
            for image in (pair.image_a, pair.image_b)
        ]  # fmt: skip
        (path_a,), (path_b,) = shown
        assert path_a != path_b
        # Through each view's own sensor depth, both pixels of a match see one canonical point:
        # B's pixel is rounded (about 1.5 mm at 0.4 m, more on surfaces seen at a slant) and
        # depth is in whole millimetres; pixels paired at random are centimetres apart.
        canonical_a = canonical_points(path_a, pair.image_a, pair.match_uv_a)
        canonical_b = canonical_points(path_b, pair.image_b, pair.match_uv_b)
        gap = np.linalg.norm(canonical_a - canonical_b, axis=1)
        assert np.median(gap) < 0.003 and np.percentile(gap, 90) < 0.008
        shuffled = np.linalg.norm(canonical_a - np.roll(canonical_b, 1, axis=0), axis=1)
        assert np.median(shuffled) > 0.02
        assert len(pair.nonmatch_uv_b) > 0


@pytest.mark.slow
def test_a_copy_of_x_in_y_s_scene_is_excluded_from_b(fused_demo_scenes):
    # Demo scene 0 holds mug_red and mug_blue, scene 1 mug_blue without mug_red: a pair from
    # mug_blue (scene 1) onto mug_red (scene 0) has a copy of mug_blue in B, whose pixels are
    # excluded; a pair from mug_red onto mug_blue (scene 1) has none to exclude.
    paths = scenes(fused_demo_scenes)
    scene_0 = load_scene(paths[0])
    ids = {obj.name: obj.segmentation_id for obj in read_ground_truth(paths[0]).objects}
    config = dataclasses.replace(PLAIN, cross_instance_share=1.0)
    pairs = TrainingPairs(paths, CORRESPOND, config, 24, augment=False)
    seen = {"excluded": 0, "none": 0}
    for index in range(24):
        pair = pairs[index]
        frames = [
            i for i in range(len(scene_0.frames)) if np.array_equal(scene_0.rgb(i), pair.image_b)
        ]
        if not frames or pair.excluded_b is None:
            assert pair.excluded_b is None or frames
            seen["none"] += pair.excluded_b is None
            continue
        segmentation = scene_0.segmentation(frames[0])
        np.testing.assert_array_equal(pair.excluded_b, segmentation == ids["mug_blue"])
        on_y = segmentation[pair.match_uv_b[:, 1], pair.match_uv_b[:, 0]]
        assert (on_y == ids["mug_red"]).all()
        seen["excluded"] += 1
    assert seen["excluded"] > 0 and seen["none"] > 0
    # Augmented (turned, zoomed, cropped), the excluded pixels move with B's image: none of
    # the matches, all on Y, lands on them.
    augmented = TrainingPairs(
        paths, CORRESPOND, dataclasses.replace(TrainConfig(), cross_instance_share=1.0), 24
    )
    for index in range(24):
        pair = augmented[index]
        if pair.excluded_b is not None:
            assert pair.excluded_b.shape == pair.image_b.shape[:2]
            assert not pair.excluded_b[pair.match_uv_b[:, 1], pair.match_uv_b[:, 0]].any()


def test_cross_instance_pairs_need_two_instances_of_a_class(fused_singles):
    config = dataclasses.replace(PLAIN, class_consistent=True, cross_instance_share=0.5)
    box_tea_and_duck = scenes(fused_singles)[:2]
    with pytest.raises(DonkitError, match="two instances of one class"):
        TrainingPairs(box_tea_and_duck, CORRESPOND, config, 2)


def test_synthetic_pairs_paste_a_second_object_with_its_matches(fused_singles):
    config = dataclasses.replace(PLAIN, synthetic_multi_object_share=1.0)
    pairs = TrainingPairs(scenes(fused_singles), CORRESPOND, config, 20, augment=False)
    plain = TrainingPairs(scenes(fused_singles), CORRESPOND, PLAIN, 20, augment=False)
    synthetic = [i for i in range(20) if pairs[i].kind == "synthetic_multi_object"]
    assert len(synthetic) >= 3
    pasted_matches = 0
    for index in synthetic[:6]:
        pair, base = pairs[index], plain[index]
        # The pasted object is where the composed image differs from the base pair's image.
        pasted_a = (pair.image_a != base.image_a).any(axis=-1)
        pasted_b = (pair.image_b != base.image_b).any(axis=-1)
        assert pasted_a.any() and pair.mask_a[pasted_a].all() and pair.mask_b[pasted_b].all()
        # A match starts and ends on the same object: both on the pasted one, or neither.
        on_a = pasted_a[pair.match_uv_a[:, 1], pair.match_uv_a[:, 0]]
        on_b = pasted_b[pair.match_uv_b[:, 1], pair.match_uv_b[:, 0]]
        assert (on_a == on_b).mean() > 0.97
        pasted_matches += on_a.sum()
        gap = colour_gap(pair.image_a, pair.image_b, pair.match_uv_a, pair.match_uv_b)
        assert gap < 12
        # Cross-object non-matches join the two objects, each way.
        cross = pair.nonmatch_kind == CROSS_OBJECT
        assert cross.sum() == CORRESPOND.cross_object_nonmatches
        a_pasted = pasted_a[pair.nonmatch_uv_a[cross, 1], pair.nonmatch_uv_a[cross, 0]]
        b_pasted = pasted_b[pair.nonmatch_uv_b[cross, 1], pair.nonmatch_uv_b[cross, 0]]
        assert (a_pasted != b_pasted).mean() > 0.97
    assert pasted_matches > 200


def test_class_consistent_pairs_only_push_apart_objects_of_other_classes(fused_singles):
    entries = catalog(scenes(fused_singles))
    assert [e.classes for e in entries] == [("box",), ("duck",), ("box",)]
    plans = plan_pairs(entries, CORRESPOND, 200, class_consistent=True)
    different = [p for p in plans if p.kind == "different_object"]
    assert different and all({p.scene_a, p.scene_b} in ({0, 1}, {1, 2}) for p in different)
    plans = plan_pairs(entries, CORRESPOND, 200)
    assert any({p.scene_a, p.scene_b} == {0, 2} for p in plans if p.kind == "different_object")


def test_collate_packs_samples_with_their_pair(fused_singles):
    pairs = TrainingPairs(scenes(fused_singles), CORRESPOND, PLAIN, 3, augment=False)
    images_a, _, samples = collate([pairs[0], pairs[1], pairs[2]])
    assert images_a.shape == (3, *pairs.shape, 3)
    counts = [len(pairs[i].match_uv_a) for i in range(3)]
    np.testing.assert_array_equal(np.bincount(samples.match_pair, minlength=3), counts)
    np.testing.assert_array_equal(samples.match_uv_a[counts[0] :][:2], pairs[1].match_uv_a[:2])


def test_unfused_scenes_are_refused(small_dataset):
    with pytest.raises(DonkitError, match="not fused"):
        TrainingPairs(scenes(small_dataset), CORRESPOND, PLAIN, 2)
