import numpy as np
import pytest

from formats import DonkitError
from formats.ground_truth import has_ground_truth, read_ground_truth
from formats.plain import write_yaml
from formats.scenes import pose_to_dict
from geometry import make_pose, rotation_about_axis

TRIANGLE_OBJ = "v 0 0 0\nv 0.1 0 0\nv 0 0.2 0\nf 1 2 3\n"


def write_truth(root, objects=None, table=None):
    (root / "ground_truth" / "meshes").mkdir(parents=True)
    (root / "ground_truth" / "meshes" / "tri.obj").write_text(TRIANGLE_OBJ)
    pose = make_pose(rotation_about_axis((0, 0, 1), np.pi / 2), np.array([1.0, 2.0, 3.0]))
    if objects is None:
        objects = [
            {
                "name": "tri_1",
                "class": "tri",
                "mesh": "meshes/tri.obj",
                "object_to_world": pose_to_dict(pose),
                "segmentation_id": 1,
                "scale": [1.0, 2.0, 0.5],
                "distractor": False,
            },
            {
                "name": "pebble",
                "class": "distractor",
                "mesh": "meshes/tri.obj",
                "object_to_world": pose_to_dict(np.eye(4)),
                "segmentation_id": 2,
                "distractor": True,
            },
        ]
    table = table or {"height_m": 0.75, "size_m": [1.2, 0.8], "centre_m": [0.5, 0.0]}
    write_yaml(
        root / "ground_truth" / "scene.yaml",
        {"objects": objects, "table": table, "robot": {"joint_positions": {0: [0.1, 0.2]}}},
    )


def test_reads_objects_table_and_joints(tmp_path):
    assert not has_ground_truth(tmp_path)
    write_truth(tmp_path)
    assert has_ground_truth(tmp_path)
    truth = read_ground_truth(tmp_path)
    first, pebble = truth.objects
    assert (first.name, first.object_class, first.segmentation_id) == ("tri_1", "tri", 1)
    np.testing.assert_allclose(first.scale, [1.0, 2.0, 0.5])
    np.testing.assert_allclose(pebble.scale, [1.0, 1.0, 1.0])  # absent: the canonical size
    assert [obj.name for obj in truth.main_objects()] == ["tri_1"]
    assert truth.table.height_m == 0.75 and truth.table.size_m == (1.2, 0.8)
    assert list(truth.joint_positions) == [0]
    np.testing.assert_allclose(truth.joint_positions[0], [0.1, 0.2])
    # A quarter turn about z then (1, 2, 3): (0.1, 0, 0) -> (1, 2.1, 3), (0, 0.2, 0) -> (0.8, 2, 3).
    vertices, faces = first.vertices_world()
    np.testing.assert_allclose(vertices, [[1, 2, 3], [1, 2.1, 3], [0.8, 2, 3]], atol=1e-12)
    np.testing.assert_array_equal(faces, [[0, 1, 2]])


def test_a_scene_without_ground_truth_is_a_clear_error(tmp_path):
    with pytest.raises(DonkitError, match=r"has no ground_truth/scene\.yaml"):
        read_ground_truth(tmp_path)


@pytest.mark.parametrize(
    ("objects", "table", "message"),
    [
        ([{"name": "x"}], None, r"objects\[0\] needs name, class, mesh"),
        ("not a list", None, "objects must be a list"),
        (
            [
                {
                    "name": "x",
                    "class": "c",
                    "mesh": "meshes/tri.obj",
                    "object_to_world": pose_to_dict(np.eye(4)),
                    "segmentation_id": 1.5,
                }
            ],
            None,
            "segmentation_id must be a whole number; got 1.5",
        ),
        ([], {"height_m": 0.7}, "table needs height_m, size_m"),
    ],
)
def test_malformed_entries_name_the_place(tmp_path, objects, table, message):
    write_truth(tmp_path, objects, table)
    with pytest.raises(DonkitError, match=message):
        read_ground_truth(tmp_path)
