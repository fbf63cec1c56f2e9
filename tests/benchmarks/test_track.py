"""The tracking benchmark's analysis of what limits a tracker, on hand-made cases."""

import numpy as np
import torch

from benchmarks.track import ABLATIONS, FirstQueryTracks, _template_errors, hidden_since_query
from donkit.config import load_config
from formats.tapvid import TapVidVideo, first_visible_query_points
from tracking.config import TrackConfig
from tracking.metrics import sample_queries


def test_hidden_since_query_marks_frames_after_an_occlusion():
    occluded = np.array(
        [
            [1, 0, 0, 1, 1, 0, 0],  # queried at frame 1, hidden at 3-4, seen again from 5
            [0, 0, 0, 0, 0, 0, 0],  # never hidden
            [0, 1, 0, 0, 0, 0, 0],  # queried at 2 (hidden before it: does not count)
        ],
        bool,
    )
    query_frame = np.array([1, 0, 2])
    expected = np.array(
        [
            [0, 0, 0, 1, 1, 1, 1],
            [0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0],
        ],
        bool,
    )
    np.testing.assert_array_equal(hidden_since_query(occluded, query_frame), expected)


def test_template_errors_follow_a_point_through_translating_descriptors():
    """Descriptors that code each pixel's position on a pattern moving 1 px a frame to the
    right: a template taken at the true position in any earlier frame finds the point exactly,
    and a frame the template comes from where the point is hidden leaves the point out."""
    frames, height, width = 16, 12, 40
    u = torch.arange(width, dtype=torch.float32)[None, None, :].expand(frames, height, width)
    v = torch.arange(height, dtype=torch.float32)[None, :, None].expand(frames, height, width)
    shift = torch.arange(frames, dtype=torch.float32)[:, None, None]
    descriptors = torch.stack([(u - shift) / 4, v / 4], dim=1)  # (T, 2, H, W)
    truth = np.zeros((2, frames, 2), np.float32)
    truth[:, :, 0] = np.array([[5.0], [9.0]]) + np.arange(frames)  # moves with the pattern
    truth[:, :, 1] = np.array([[3.0], [7.0]])
    occluded = np.zeros((2, frames), bool)
    occluded[1, 8] = True  # point 1's template 3 frames before frame 11 is hidden
    video = TapVidVideo(
        np.zeros((frames, height, width, 3), np.uint8),
        truth,
        occluded,
        first_visible_query_points(truth, occluded),
    )
    queries, _ = sample_queries(truth, occluded, "first")
    run = FirstQueryTracks(video, queries, truth, occluded, {})

    for age, expected_count in ((0, 2 * 6), (3, 2 * 6 - 1)):  # frames 10-15, both points
        errors = _template_errors(descriptors, run, age, TrackConfig(), threshold=1.0)
        assert len(errors) == expected_count
        np.testing.assert_allclose(errors, 0.0, atol=1e-4)


def test_each_ablation_turns_off_one_part_of_a_valid_config():
    defaults = load_config(None, [])
    for label, overrides in ABLATIONS[1:]:
        config = load_config(None, list(overrides))
        assert config.track != defaults.track, label
        for override in overrides:
            key, value = override.split("=")
            node = config
            for name in key.split("."):
                node = getattr(node, name)
            assert str(node).lower() == value.lower() or float(node) == float(value), label
