"""The pair policy: kinds the scenes allow, their odds, reproducibility."""

from collections import Counter
from pathlib import Path

import pytest

from descriptors.config import CorrespondConfig
from descriptors.pairs import SceneEntry, plan_pairs
from formats import DonkitError


def entries() -> list[SceneEntry]:
    return [
        SceneEntry(Path("single_mug"), 30, ("mug_red",), ("mug",)),
        SceneEntry(Path("single_box"), 30, ("box_tea",), ("box",)),
        SceneEntry(Path("multi"), 30, ("mug_red", "box_tea"), ("mug", "box")),
        SceneEntry(Path("unlabelled"), 30, None, None),
    ]


def test_kinds_follow_the_odds_and_pick_fitting_scenes():
    config = CorrespondConfig(
        same_object_share=0.5, different_object_share=0.3, multi_object_share=0.2
    )
    plans = plan_pairs(entries(), config, 4000)
    kinds = Counter(plan.kind for plan in plans)
    # 4000 draws: each share is estimated to within 0.8 % (one standard error), 3 allowed.
    assert abs(kinds["same_object"] / 4000 - 0.5) < 0.025
    assert abs(kinds["different_object"] / 4000 - 0.3) < 0.025
    for plan in plans:
        if plan.kind == "same_object":
            assert plan.scene_a == plan.scene_b and plan.scene_a in (0, 1, 3)
        elif plan.kind == "multi_object":
            assert plan.scene_a == plan.scene_b == 2
        else:  # two labelled single-object scenes of different objects
            assert {plan.scene_a, plan.scene_b} == {0, 1}
        assert 0 <= plan.frame_a < 30


def test_plans_are_reproducible_from_the_seed():
    first = plan_pairs(entries(), CorrespondConfig(seed=3), 50)
    assert first == plan_pairs(entries(), CorrespondConfig(seed=3), 50)
    assert first != plan_pairs(entries(), CorrespondConfig(seed=4), 50)


def test_kinds_the_data_cannot_give_are_dropped():
    only_unlabelled = [SceneEntry(Path("a"), 10, None, None), SceneEntry(Path("b"), 10, None, None)]
    plans = plan_pairs(only_unlabelled, CorrespondConfig(), 100)
    assert {plan.kind for plan in plans} == {"same_object"}


def test_no_possible_pair_is_an_error():
    with pytest.raises(DonkitError, match="no pair can be made"):
        plan_pairs([SceneEntry(Path("a"), 1, None, None)], CorrespondConfig(), 10)


@pytest.mark.parametrize(
    "objects",
    ["[{name: mug_0}]", "[mug, duck]", "{name: mug}"],
    ids=["no class", "bare names", "not a list"],
)
def test_catalog_names_a_malformed_object_list(small_dataset, tmp_path, objects):
    import shutil

    from descriptors.pairs import catalog

    scene = tmp_path / "scene_0000"
    shutil.copytree(small_dataset / "scene_0000", scene)
    (scene / "metadata.yaml").write_text(f"objects: {objects}\n")
    with pytest.raises(DonkitError, match=r"metadata.yaml: `objects` must be a list"):
        catalog([scene])
