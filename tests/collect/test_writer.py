"""Scene folders: .partial while being written, complete once renamed, resumable, guarded."""

import numpy as np
import pytest
import trimesh

from collect.writer import COLLECT_STATE, SceneWriter
from formats import DonkitError
from formats.images import read_depth, read_labels, read_rgb
from formats.plain import read_yaml
from formats.scenes import load_scene, pose_entry
from geometry import PinholeCamera, look_at

IDENTITY = {"seed": 1, "scene_index": 0, "config": {"views": 2}}
CAMERA = PinholeCamera(8, 6, 10.0, 10.0, 3.5, 2.5)


def frame(value: int):
    rgb = np.full((6, 8, 3), value, np.uint8)
    depth = np.full((6, 8), 0.5 + value / 1000, np.float32)
    segmentation = np.full((6, 8), value, np.uint16)
    return rgb, depth, segmentation


def finish(writer: SceneWriter, frames: int = 2):
    poses = {i: pose_entry(i, look_at([0.0, -1.0, 1.0], [0, 0, 0]), 0.5 * i) for i in range(frames)}
    return writer.finish(
        CAMERA,
        poses,
        {"objects": []},
        {"cube.obj": trimesh.creation.box((0.1, 0.1, 0.1))},
        {"frames": {"kept": frames}},
    )


def test_a_scene_is_partial_until_finished(tmp_path):
    writer = SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False)
    assert writer.status == "new"
    assert (tmp_path / "scene_0000.partial" / COLLECT_STATE).is_file()
    for index in range(2):
        assert not writer.frame_done(index)
        writer.write_frame(index, *frame(index + 1))
        assert writer.frame_done(index)
    assert not (tmp_path / "scene_0000").exists()
    final = finish(writer)
    assert final == tmp_path / "scene_0000"
    assert not (tmp_path / "scene_0000.partial").exists()
    assert not (final / COLLECT_STATE).exists()
    scene = load_scene(final)
    assert scene.camera == CAMERA
    np.testing.assert_array_equal(read_rgb(scene.frames[1].rgb_path), frame(2)[0])
    np.testing.assert_allclose(read_depth(scene.frames[1].depth_path), 0.502, atol=1e-6)
    labels = read_labels(final / "ground_truth" / "segmentation" / "000001_seg.png")
    assert labels.dtype == np.uint16 and labels[0, 0] == 2
    metadata = read_yaml(final / "metadata.yaml")
    assert list(metadata)[:3] == ["seed", "scene_index", "config"]
    assert metadata["frames"] == {"kept": 2}
    assert (final / "ground_truth" / "meshes" / "cube.obj").is_file()
    # No temporary files are left behind by the atomic writes.
    assert not [p for p in final.rglob("*") if p.name.endswith(".tmp")]


def test_a_complete_scene_is_kept_when_the_identity_matches(tmp_path):
    finish(SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False))
    again = SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False)
    assert again.status == "complete"
    assert not (tmp_path / "scene_0000.partial").exists()


def test_a_complete_scene_made_otherwise_is_refused_unless_overwrite(tmp_path):
    finish(SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False))
    other = {**IDENTITY, "seed": 2}
    with pytest.raises(DonkitError, match="--overwrite"):
        SceneWriter(tmp_path, "scene_0000", other, overwrite=False)
    writer = SceneWriter(tmp_path, "scene_0000", other, overwrite=True)
    assert writer.status == "new"
    writer.write_frame(0, *frame(9))
    finish(writer, frames=1)
    assert read_yaml(tmp_path / "scene_0000" / "metadata.yaml")["seed"] == 2
    assert len(load_scene(tmp_path / "scene_0000").frames) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["scene_0000"]  # the old one is gone


def test_a_scene_from_elsewhere_is_not_overwritten(tmp_path):
    # A DON-layout scene recorded by another tool has no metadata.yaml.
    (tmp_path / "scene_0000" / "processed" / "images").mkdir(parents=True)
    with pytest.raises(DonkitError, match="already exists"):
        SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False)


def test_an_interrupted_scene_resumes_with_its_frames(tmp_path):
    first = SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False)
    first.write_frame(0, *frame(1))
    resumed = SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False)
    assert resumed.status == "resume"
    assert resumed.frame_done(0) and not resumed.frame_done(1)


def test_an_interrupted_scene_started_otherwise_is_refused_unless_overwrite(tmp_path):
    SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False).write_frame(0, *frame(1))
    other = {**IDENTITY, "config": {"views": 3}}
    with pytest.raises(DonkitError, match="different config"):
        SceneWriter(tmp_path, "scene_0000", other, overwrite=False)
    fresh = SceneWriter(tmp_path, "scene_0000", other, overwrite=True)
    assert fresh.status == "new" and not fresh.frame_done(0)


def test_a_crash_between_metadata_and_rename_still_resumes(tmp_path):
    writer = SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False)
    writer.write_frame(0, *frame(1))
    partial = tmp_path / "scene_0000.partial"
    # As if killed after metadata.yaml was written and the state file removed, before the rename.
    (partial / "metadata.yaml").write_text("seed: 1\nscene_index: 0\nconfig: {views: 2}\n")
    (partial / COLLECT_STATE).unlink()
    assert SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False).status == "resume"


def test_a_scene_that_never_started_leaves_nothing(tmp_path):
    writer = SceneWriter(tmp_path, "scene_0000", IDENTITY, overwrite=False)
    writer.discard_if_empty()
    assert not (tmp_path / "scene_0000.partial").exists()
    started = SceneWriter(tmp_path, "scene_0001", IDENTITY, overwrite=False)
    started.write_frame(0, *frame(1))
    started.discard_if_empty()  # a frame is worth resuming: kept
    assert started.frame_done(0)
