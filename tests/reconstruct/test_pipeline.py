"""Fusing collected scenes: outputs, quality against ground truth, resume, real-data layout."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from formats import DonkitError
from formats.images import read_depth, read_labels
from formats.plain import read_yaml
from formats.scenes import (
    FUSION_MESH,
    GROUND_TRUTH_DIR,
    MASKS_DIR,
    METADATA,
    RENDERED_DIR,
    depth_filename,
    load_scene,
    mask_filename,
)
from reconstruct import FuseConfig, fuse
from reconstruct.mesh import read_mesh
from reconstruct.pipeline import FUSION_INFO, METRICS


def copy_of(root: Path, tmp_path: Path) -> Path:
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    return tmp_path


def fused_files(root: Path) -> dict[str, bytes]:
    """The files fusion writes, by path relative to `root` (fusion_info's timings left out)."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = str(path.relative_to(root))
        if path.name == FUSION_INFO.name:
            info = read_yaml(path)
            info.pop("timings_s")
            files[relative] = repr(info).encode()
        elif any(part in relative for part in ("fusion_mesh", "rendered_images", "image_masks")):
            files[relative] = path.read_bytes()
    return files


def test_fusion_writes_the_layout(fused_small):
    for name in ("scene_0000", "scene_0001"):
        root = fused_small / name
        scene = load_scene(root)
        mesh = read_mesh(root / FUSION_MESH)
        assert len(mesh.faces) > 10_000
        for frame in scene.frames:
            depth = read_depth(root / RENDERED_DIR / depth_filename(frame.index))
            mask = read_labels(root / MASKS_DIR / mask_filename(frame.index))
            assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
            np.testing.assert_array_equal(mask > 0, depth > 0)  # the mask is where the mesh is
            assert 0.01 < (mask > 0).mean() < 0.8
        info = read_yaml(root / FUSION_INFO)
        # The simulated table top is at z = 0.75 m in the world: found from the data alone.
        normal, offset = np.array(info["workspace"]["normal"]), info["workspace"]["offset"]
        np.testing.assert_allclose(normal, [0.0, 0.0, 1.0], atol=2e-3)
        assert offset == pytest.approx(-0.75, abs=0.001)


def test_fusion_never_reads_ground_truth(fused_small, small_dataset, tmp_path):
    # The same scene stripped to the DON layout (no ground_truth/, no metadata.yaml) fuses into
    # the same bytes.
    root = copy_of(small_dataset / "scene_0000", tmp_path / "scene_0000")
    shutil.rmtree(root / GROUND_TRUTH_DIR)
    (root / METADATA).unlink()
    summary = fuse(root, FuseConfig(), show_progress=False)
    assert [r.status for r in summary.reports] == ["fused"]
    assert fused_files(root) == fused_files(fused_small / "scene_0000")


def test_fused_scenes_are_skipped_and_overwrite_gives_the_same_bytes(fused_small, tmp_path):
    root = copy_of(fused_small, tmp_path)
    before = fused_files(root)
    assert [r.status for r in fuse(root, FuseConfig(), show_progress=False).reports] == [
        "skipped",
        "skipped",
    ]
    summary = fuse(root, FuseConfig(), overwrite=True, show_progress=False)
    assert [r.status for r in summary.reports] == ["fused", "fused"]
    assert fused_files(root) == before


@pytest.mark.slow
def test_two_workers_give_the_same_bytes(fused_small, small_dataset, tmp_path):
    root = copy_of(small_dataset, tmp_path)
    fuse(root, FuseConfig(), workers=2, show_progress=False)
    assert fused_files(root) == fused_files(fused_small)


@pytest.mark.slow
def test_ray_gives_the_same_bytes(fused_small, small_dataset, tmp_path):
    pytest.importorskip("ray", reason="the optional extra donkit[cluster] is not installed")
    root = copy_of(small_dataset, tmp_path)
    fuse(root, FuseConfig(), workers=2, backend="ray", show_progress=False)
    assert fused_files(root) == fused_files(fused_small)


def test_an_unfinished_scene_is_refused(small_dataset, tmp_path):
    partial = copy_of(small_dataset / "scene_0000", tmp_path / "scene_0005.partial")
    with pytest.raises(DonkitError, match="unfinished scene"):
        fuse(partial, FuseConfig(), show_progress=False)
    # Beside complete scenes it is left alone and counted.
    copy_of(small_dataset / "scene_0001", tmp_path / "scene_0001")
    summary = fuse(tmp_path, FuseConfig(), show_progress=False)
    assert len(summary.reports) == 1 and summary.refused == [partial]
    assert "1 unfinished .partial scene(s) refused" in summary.line()
    assert not (partial / FUSION_MESH).exists()


def test_an_empty_crop_is_an_error_not_an_empty_file(small_dataset, tmp_path):
    root = copy_of(small_dataset / "scene_0000", tmp_path / "scene")
    config = FuseConfig(min_height_m=0.3, max_height_m=0.4)  # above every object
    with pytest.raises(DonkitError, match=r"empty after cropping.*min_height_m"):
        fuse(root, config, show_progress=False)
    assert not (root / FUSION_MESH).exists()


def test_a_missing_frame_is_named(small_dataset, tmp_path):
    root = copy_of(small_dataset / "scene_0000", tmp_path / "scene")
    (root / "processed/images/000003_depth.png").unlink()
    with pytest.raises(DonkitError, match=r"000003_depth\.png is missing"):
        fuse(root, FuseConfig(), show_progress=False)


def test_evaluation_needs_ground_truth(small_dataset, tmp_path):
    root = copy_of(small_dataset / "scene_0000", tmp_path / "scene")
    shutil.rmtree(root / GROUND_TRUTH_DIR)
    with pytest.raises(DonkitError, match="--evaluate needs simulator ground truth"):
        fuse(root, FuseConfig(), evaluate=True, show_progress=False)


@pytest.mark.slow
def test_demo_scenes_meet_the_quality_goals(fused_demo_scenes, tmp_path):
    # The figures on the demo's own scenes: 30 views, noise off, 2 mm voxels.
    root = copy_of(fused_demo_scenes, tmp_path)
    summary = fuse(root, FuseConfig(), workers=2, evaluate=True, show_progress=False)
    for report in summary.reports:
        metrics = json.loads((report.scene / METRICS).read_text())
        assert metrics == json.loads(json.dumps(report.metrics))
        for name, values in metrics["objects"].items():
            assert values["chamfer_l1_mm"] <= 1.0, (report.scene.name, name, values)
            assert values["f_score_2mm"] >= 0.97, (report.scene.name, name, values)
        assert metrics["mask_iou"]["median"] >= 0.95
        assert metrics["rendered_depth_error_mm"]["median"] <= 1.0


def test_a_fusion_cut_short_is_done_again(fused_small, tmp_path):
    # As if killed after the rendered images, before the mesh (written last): not fused yet.
    root = copy_of(fused_small, tmp_path)
    before = fused_files(root)
    (root / "scene_0001" / FUSION_MESH).unlink()
    (root / "scene_0001" / MASKS_DIR / mask_filename(4)).write_bytes(b"half a file")
    summary = fuse(root, FuseConfig(), show_progress=False)
    assert [r.status for r in summary.reports] == ["skipped", "fused"]
    assert fused_files(root) == before
