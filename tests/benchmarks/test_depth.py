"""The depth benchmark's scenes with a pushed object: rendered again from the recorded views they
are the recorded images, and the push changes only the pushed object's pixels, from the middle
frame on."""

from pathlib import Path

import cv2
import numpy as np

from benchmarks.depth import pushed_object_scenes
from formats.scenes import load_scene


def test_scenes_rendered_again_match_and_a_push_moves_only_the_object(
    small_dataset: Path, tmp_path: Path
):
    again = pushed_object_scenes(small_dataset, tmp_path / "again", 0.0)
    pushed = pushed_object_scenes(small_dataset, tmp_path / "pushed", 0.05)
    for name in ("scene_0000", "scene_0001"):
        roots = (small_dataset, again, pushed)
        recorded, control, moved = (load_scene(root / name) for root in roots)
        half = len(recorded.frames) // 2
        changed_frames = 0
        for position in range(len(recorded.frames)):
            # The recorded joints, poses, textures and light give the recorded frame (the
            # small scenes have no depth noise), to a grey level.
            difference = np.abs(control.rgb(position).astype(int) - recorded.rgb(position))
            assert difference.max() <= 1
            np.testing.assert_allclose(control.depth(position), recorded.depth(position), atol=1e-3)
            assert np.array_equal(control.segmentation(position), recorded.segmentation(position))
            changed = np.abs(moved.rgb(position).astype(int) - control.rgb(position)).max(-1) > 1
            if position < half:
                assert not changed.any()
                continue
            # The first object (segmentation id 1) where it stood or now stands, and a pixel
            # around it (its antialiased outline).
            footprint = (control.segmentation(position) == 1) | (moved.segmentation(position) == 1)
            footprint = cv2.dilate(footprint.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            assert not (changed & ~footprint).any()
            changed_frames += bool(changed.any())
        assert changed_frames > 0
