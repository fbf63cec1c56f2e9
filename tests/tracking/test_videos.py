"""`donkit track` end to end: tracks.csv and overlays of the three methods, and TAP-Vid metrics that
an independent run of the same pieces reproduces."""

import json
from pathlib import Path

import numpy as np
import pytest

from donkit.cli import main
from formats import DonkitError
from formats.tapvid import read_tapvid
from formats.video import read_video
from tracking.config import TrackConfig
from tracking.lucas_kanade import track_lucas_kanade
from tracking.metrics import evaluate_tracks
from tracking.tracks import read_tracks_csv
from tracking.videos import choose_queries


@pytest.fixture(scope="module")
def tiny_run(fused_singles: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run trained for one step: its descriptors are poor, which does not matter here."""
    run = tmp_path_factory.mktemp("track_run") / "run"
    quick = ["--set", "train.width=32", "--set", "train.pairs_per_step=1"]
    assert main(["train", "--data", str(fused_singles), "--out", str(run), "--steps", "1",
                 "--device", "cpu", *quick]) == 0  # fmt: skip
    return run


def test_evaluate_writes_both_methods_and_reproducible_metrics(
    tiny_run: Path, small_video: Path, tmp_path: Path, capsys
):
    out = tmp_path / "track"
    small = ["--set", "track.calibration_pairs=4", "--set", "track.calibration_points=50"]
    assert main(["track", str(tiny_run), "--video", str(small_video), "--evaluate", "--out",
                 str(out), "--device", "cpu", *small]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "average Jaccard donkit" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    tapvid = read_tapvid(small_video / "video_0000.npz")
    for method in ("donkit", "descriptors", "lk"):
        for key in ("average_jaccard", "occlusion_accuracy", "position_accuracy"):
            assert 0.0 <= metrics[method][key] <= 1.0
        assert metrics[method]["frames_per_second"] > 0
        assert set(metrics[method]["query_modes"]) == {"first", "strided"}
        tracks = read_tracks_csv(out / "video_0000" / method / "tracks.csv")
        assert (tracks.points, tracks.frames) == (tapvid.points, tapvid.frames)
        overlay, _ = read_video(out / "video_0000" / method / "overlay.mp4")
        assert overlay.shape == tapvid.video.shape
    # The baseline's figures, recomputed from its pieces directly.
    direct = evaluate_tracks(tapvid, lambda queries: track_lucas_kanade(tapvid.video, queries))
    for mode in ("first", "strided"):
        assert metrics["lk"]["query_modes"][mode]["average_jaccard"] == pytest.approx(
            direct[mode]["average_jaccard"]
        )
    # The calibration is kept in the run for the next time.
    assert (tiny_run / "tracking" / "calibration.json").is_file()
    assert metrics["donkit"]["details"]["threshold"] > 0


def test_track_a_video_file_with_lucas_kanade(small_video: Path, tmp_path: Path, capsys):
    out = tmp_path / "lk"
    video = small_video / "video_0000.mp4"
    assert main(["track", "--method", "lk", "--video", str(video), "--points", "80,60;40,30",
                 "--query-frame", "2", "--out", str(out)]) == 0  # fmt: skip
    tracks = read_tracks_csv(out / "tracks.csv")
    assert (tracks.points, tracks.frames) == (2, 12)
    np.testing.assert_allclose(tracks.xy[:, 2], [[80, 60], [40, 30]], atol=1e-3)
    assert tracks.visible[:, 2].all()
    assert "2 points over 12 frames (lk)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--out", "x"], "give --video V to track"),
        (["--video", "v.mp4", "--out", "x"], "needs a trained RUN folder"),
        (["--method", "lk", "--video", "missing.mp4", "--out", "x"], "does not exist"),
        (["--video", "a.npz", "--evaluate", "--points", "1,2", "--out", "x"], "leave out --points"),
        (["--method", "lk", "--video", "a.npz", "--video", "b.npz", "--out", "x"], "give one"),
        (["--video", "a.npz", "--evaluate", "--out", "x"], "needs a trained RUN folder"),
        (["run", "--video", "a.npz", "--config", "c.yaml", "--out", "x"], "leave out --config"),
    ],
)
def test_mistakes_are_one_line_errors(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["track", *arguments]) == 1
    error = capsys.readouterr().err
    assert error.startswith("donkit track: error: ") and message in error


def test_queries_from_points_ground_truth_or_the_file(small_video: Path):
    tapvid = read_tapvid(small_video / "video_0000.npz")
    given = choose_queries(tapvid.video, None, np.array([[3.0, 4.0]]), 5)
    np.testing.assert_array_equal(given.frame, [5])
    seen_at_3 = choose_queries(tapvid.video, tapvid, None, 3)
    assert len(seen_at_3) == int((~tapvid.occluded[:, 3]).sum())
    np.testing.assert_array_equal(seen_at_3.frame, 3)
    own = choose_queries(tapvid.video, tapvid, None, None)
    np.testing.assert_array_equal(own.frame, tapvid.query_points[:, 0])
    corners = choose_queries(tapvid.video, None, None, 0)
    assert 1 <= len(corners) <= 32
    with pytest.raises(DonkitError, match="outside the 160x120 video"):
        choose_queries(tapvid.video, None, np.array([[170.0, 4.0]]), 0)
    with pytest.raises(DonkitError, match="not a frame of the video"):
        choose_queries(tapvid.video, None, None, 12)
    assert TrackConfig().query_stride == 5
