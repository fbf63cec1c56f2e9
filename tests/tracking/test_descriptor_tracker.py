"""The descriptor tracker on descriptors whose answers are known, and the calibration of its
visibility threshold."""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from descriptors.config import CorrespondConfig
from descriptors.pairs import load_view
from formats.scenes import find_scenes, load_scene
from geometry import backproject_depth, transform
from learn.backbones import normalize_images
from tracking.config import TrackConfig
from tracking.descriptor_tracker import best_threshold, calibrate_visibility, track_descriptors
from tracking.tracks import Queries


def test_best_threshold_by_hand():
    # Separable: any threshold between 3 and 4 classifies all; the midpoint is chosen.
    threshold, accuracy = best_threshold(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0]))
    assert threshold == pytest.approx(3.5) and accuracy == 1.0
    # Overlapping: seen [1, 3], unseen [2, 4]. At 1.5: (1/2 + 1) / 2 = 0.75; at 3.5:
    # (1 + 1/2) / 2 = 0.75; at 2.5: (1/2 + 1/2) / 2. The first best is kept.
    threshold, accuracy = best_threshold(np.array([1.0, 3.0]), np.array([2.0, 4.0]))
    assert threshold == pytest.approx(1.5) and accuracy == pytest.approx(0.75)


def moving_patch_video(frames: int = 10, hidden: tuple[int, ...] = (4, 5)) -> torch.Tensor:
    """(T, 3, 40, 60) descriptors of a 12 x 12 patch moving (2, 1) px a frame from (5, 10):
    its pixels carry their own patch coordinates; the background and, in the `hidden` frames,
    an occluder over the whole patch carry far-off values."""
    video = torch.zeros(frames, 3, 40, 60)
    video[:, 2] = 10.0
    local_v, local_u = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    for t in range(frames):
        u0, v0 = 5 + 2 * t, 10 + t
        video[t, :, v0 : v0 + 12, u0 : u0 + 12] = torch.stack(
            [local_u * 0.1, local_v * 0.1, torch.zeros(12, 12)]
        )
        if t in hidden:
            video[t, 2, v0 : v0 + 12, u0 : u0 + 12] = -10.0
    return video


def test_tracks_follow_a_moving_patch_through_an_occlusion_both_ways():
    video = moving_patch_video()
    # Patch pixel (3, 4) at frame 0 is at (8, 14); at frame 7 patch pixel (6, 2) is at (25, 19).
    queries = Queries(np.array([0, 7]), np.array([[8.0, 14.0], [25.0, 19.0]], np.float32))
    track = dataclasses.replace(TrackConfig(), window_px=6, expectation_radius_px=0)
    tracks = track_descriptors(video, queries, track, threshold=0.05)
    frames = np.arange(10)
    truth = np.stack(
        [np.stack([8 + 2 * frames, 14 + frames], 1), np.stack([11 + 2 * frames, 12 + frames], 1)]
    )
    seen = ~np.isin(frames, [4, 5])
    np.testing.assert_allclose(tracks.xy[:, seen], truth[:, seen], atol=1e-5)
    np.testing.assert_array_equal(tracks.visible, np.stack([seen, seen]))
    assert (tracks.score[:, seen] >= 0.5).all() and (tracks.score[:, ~seen] < 0.5).all()
    # At its query frame a point is where it was given, surely visible.
    assert tracks.score[0, 0] == 1.0 and tracks.score[1, 7] == 1.0


class PerfectDescriptors(torch.nn.Module):
    """A stand-in network whose descriptor of each pixel is its true world point (10 x metres),
    from the fused mesh's rendered depth: what calibration should find perfect."""

    def __init__(self, scene_paths: list[Path], edge_threshold_m: float):
        super().__init__()
        self.known: dict[str, torch.Tensor] = {}
        for path in scene_paths:
            scene = load_scene(path)
            for position, frame in enumerate(scene.frames):
                view = load_view(scene, position, edge_threshold_m)
                points = transform(
                    backproject_depth(view.depth.astype(np.float64), scene.camera.matrix)
                    .reshape(-1, 3), frame.camera_to_world,
                ).reshape(*view.depth.shape, 3)  # fmt: skip
                points[view.depth == 0] = 100.0  # nothing there: far from every point
                self.known[self._key(scene.rgb(position))] = torch.from_numpy(
                    10 * points.transpose(2, 0, 1)
                ).float()

    @staticmethod
    def _key(image: np.ndarray) -> str:
        normalized = normalize_images(torch.from_numpy(image)[None])[0]
        return hashlib.sha1(normalized.numpy().tobytes()).hexdigest()

    @staticmethod
    def _key_of_normalized(normalized: torch.Tensor) -> str:
        return hashlib.sha1(normalized.numpy().tobytes()).hexdigest()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.known[self._key_of_normalized(image)] for image in images])


def test_calibration_with_perfect_descriptors_tells_seen_from_hidden(fused_small: Path):
    correspond = CorrespondConfig()
    scenes, _ = find_scenes(fused_small)
    network = PerfectDescriptors(scenes, correspond.edge_threshold_m)
    track = dataclasses.replace(TrackConfig(), calibration_pairs=12, calibration_points=100)
    calibration = calibrate_visibility(
        network, fused_small, correspond, track, torch.device("cpu"), show_progress=False
    )
    assert calibration.seen == calibration.unseen > 100
    # A seen point finds its own world point within a pixel's spacing (about 1.5 mm at 0.4 m,
    # 0.015 in these units); a hidden one only a surface in front of it, at least the
    # occlusion margin (3 mm: 0.03) away.
    assert calibration.seen_median < 0.02
    assert calibration.unseen_median > 0.03
    assert calibration.balanced_accuracy > 0.85
    assert calibration.seen_median < calibration.threshold < calibration.unseen_median
