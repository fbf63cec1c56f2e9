"""A video's files: the TAP-Vid npz, mp4 and yaml agree, and are kept when asked again."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from collect.video import make_video
from donkit.config import load_config
from formats import DonkitError
from formats.plain import read_yaml
from formats.tapvid import read_tapvid
from formats.video import read_video
from tests.conftest import SMALL_VIDEO


def test_small_video_files_agree_and_are_kept_when_asked_again(small_video: Path):
    tapvid = read_tapvid(small_video / "video_0000.npz")
    frames, fps = read_video(small_video / "video_0000.mp4")
    assert fps == pytest.approx(12.0)
    assert frames.shape == tapvid.video.shape
    # H.264 at CRF 15 (formats.video): a mean error of a few grey levels.
    # H.264 (CRF 15) of busy random textures at 160x120 costs several grey levels; a frame
    # taken for its neighbour would cost several times more.
    error = np.abs(frames.astype(float) - tapvid.video).mean()
    assert error < 0.4 * np.abs(frames[1:].astype(float) - tapvid.video[:-1]).mean()
    metadata = read_yaml(small_video / "video_0000.yaml")
    shares = metadata["occlusion"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert np.mean(~tapvid.occluded) == pytest.approx(shares["visible"])
    # Each point's query is at the first frame where it is visible.
    first = (~tapvid.occluded).argmax(axis=1)
    np.testing.assert_array_equal(tapvid.query_points[:, 0], first)
    config = load_config(None, list(SMALL_VIDEO))
    stamp = (small_video / "video_0000.npz").stat().st_mtime_ns
    report = make_video(config.collect, config.video, 0, small_video)
    assert report.status == "skipped"
    assert (small_video / "video_0000.npz").stat().st_mtime_ns == stamp
    other = dataclasses.replace(config.video, turn_deg=(10.0, 20.0))
    with pytest.raises(DonkitError, match="another config"):
        make_video(config.collect, other, 0, small_video)
