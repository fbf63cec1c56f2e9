import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from formats import DonkitError
from formats.images import write_rgb
from formats.video import DEFAULT_FPS, read_video, write_video

# The budget for H.264 at the CRF write_video uses, as a mean absolute error in grey levels over
# all pixels and channels. Measured on `moving_square`: 1.7 for lossless H.264 (the residue of
# RGB -> limited-range yuv420p -> RGB, largest at the square's colour edges, where chroma is shared
# by 2x2 pixels) and 2.2 at the CRF used; 3 leaves room for x264 builds that differ in detail,
# while the default CRF 23 (3.3) or a frame shifted by one pixel (14) fails.
MEAN_ERROR_LEVELS = 3.0


def moving_square(frames: int = 12, width: int = 64, height: int = 48) -> np.ndarray:
    """(T, H, W, 3) uint8: a bright yellow square moving 3 px a frame to the right over a
    textured background (fine grey texture over smooth colour, as photographs are)."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(
        rng.normal(0.0, 1.0, (height, width)).astype(np.float32), (0, 0), 1.5
    )
    texture *= 40.0 / texture.std()
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    colour = np.stack([80 + 1.5 * columns, 90 + 1.5 * rows, 140 - 0.8 * columns], axis=-1)
    background = np.clip(colour + texture[..., None], 0, 255).astype(np.uint8)
    video = np.repeat(background[None], frames, axis=0)
    for t in range(frames):
        video[t, 10:22, 4 + 3 * t : 16 + 3 * t] = (250, 240, 60)
    return video


def square_centre_x(frame: np.ndarray) -> float:
    """Column of the centroid of the yellow square's pixels (blue channel well below red)."""
    mask = (frame[..., 0] > 200) & (frame[..., 2] < 130)
    return float(np.nonzero(mask)[1].mean())


def test_round_trip_keeps_frames_size_rate_and_pixels(tmp_path: Path):
    video = moving_square()
    write_video(tmp_path / "clip.mp4", video, fps=12.5)

    back, fps = read_video(tmp_path / "clip.mp4")

    assert back.shape == video.shape and back.dtype == np.uint8
    assert fps == pytest.approx(12.5)
    assert np.abs(back.astype(np.float32) - video).mean() < MEAN_ERROR_LEVELS
    for t in (0, 5, 11):  # frames not swapped or dropped: the square is where it was drawn
        assert square_centre_x(back[t]) == pytest.approx(square_centre_x(video[t]), abs=0.5)


def test_odd_size_is_padded_with_its_edge_pixels(tmp_path: Path):
    video = moving_square(frames=6, width=65, height=47)
    write_video(tmp_path / "odd.mp4", video, fps=10.0)

    back, _ = read_video(tmp_path / "odd.mp4")

    assert back.shape == (6, 48, 66, 3)  # yuv420p needs even sizes: one column and row added
    assert np.abs(back[:, :47, :65].astype(np.float32) - video).mean() < MEAN_ERROR_LEVELS
    padded_column = np.abs(back[:, :47, 65].astype(np.float32) - video[:, :, 64]).mean()
    padded_row = np.abs(back[:, 47, :65].astype(np.float32) - video[:, 46, :]).mean()
    assert padded_column < MEAN_ERROR_LEVELS and padded_row < MEAN_ERROR_LEVELS


def test_ffmpeg_stays_quiet(tmp_path: Path, capfd: pytest.CaptureFixture[str]):
    write_video(tmp_path / "clip.mp4", moving_square(frames=3, width=33, height=17), fps=10.0)
    read_video(tmp_path / "clip.mp4")
    assert capfd.readouterr() == ("", "")  # ffmpeg's own output goes to the file descriptors


def test_write_replaces_atomically_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"old")
    write_video(target, moving_square(frames=3), fps=10.0)

    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]
    assert read_video(target)[0].shape == (3, 48, 64, 3)


def test_write_rejects_bad_arrays(tmp_path: Path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "a.mp4", np.zeros((2, 8, 8, 3), np.float32), fps=10.0)
    with pytest.raises(ValueError, match="T >= 1"):
        write_video(tmp_path / "a.mp4", np.zeros((0, 8, 8, 3), np.uint8), fps=10.0)
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "a.mp4", np.zeros((2, 8, 8, 3), np.uint8), fps=0.0)
    assert os.listdir(tmp_path) == []


def test_frame_folder_reads_in_natural_name_order(tmp_path: Path):
    video = moving_square(frames=11)
    for t, frame in enumerate(video):
        write_rgb(tmp_path / f"frame_{t}.png", frame)  # unpadded: frame_10 sorts after frame_9
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "._frame_0.png").write_bytes(b"a hidden file, as macOS leaves on USB sticks")

    back, fps = read_video(tmp_path)

    np.testing.assert_array_equal(back, video)  # PNG is lossless
    assert fps == DEFAULT_FPS


def test_npz_video(tmp_path: Path):
    video = moving_square(frames=4)
    np.savez(tmp_path / "clip.npz", video=video, occluded=np.zeros((2, 4), bool))

    back, fps = read_video(tmp_path / "clip.npz")

    np.testing.assert_array_equal(back, video)
    assert fps == DEFAULT_FPS


def test_missing_path(tmp_path: Path):
    with pytest.raises(DonkitError, match=r"nowhere\.mp4 does not exist; give an \.mp4"):
        read_video(tmp_path / "nowhere.mp4")


def test_empty_folder(tmp_path: Path):
    (tmp_path / "readme.txt").write_text("no frames here")
    with pytest.raises(DonkitError, match=r"holds no \.png/\.jpg/\.jpeg images"):
        read_video(tmp_path)


def test_frames_of_different_sizes(tmp_path: Path):
    write_rgb(tmp_path / "000.png", np.zeros((48, 64, 3), np.uint8))
    write_rgb(tmp_path / "001.png", np.zeros((48, 60, 3), np.uint8))
    with pytest.raises(DonkitError, match=r"001\.png is 60x48 but 000\.png .* is 64x48"):
        read_video(tmp_path)


def test_unreadable_frame_in_folder(tmp_path: Path):
    write_rgb(tmp_path / "000.png", np.zeros((48, 64, 3), np.uint8))
    (tmp_path / "001.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DonkitError, match=r"001\.png is not a readable PNG"):
        read_video(tmp_path)


def test_garbage_video_file(tmp_path: Path):
    (tmp_path / "clip.mp4").write_bytes(b"this is not a video " * 20)
    with pytest.raises(DonkitError, match=r"clip\.mp4 is not a video ffmpeg can read"):
        read_video(tmp_path / "clip.mp4")


def test_truncated_video_file(tmp_path: Path):
    write_video(tmp_path / "clip.mp4", moving_square(frames=30), fps=10.0)
    data = (tmp_path / "clip.mp4").read_bytes()
    # faststart puts the index first, so ffmpeg decodes the frames that remain without
    # complaint: the frame count is what gives the truncation away.
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(DonkitError, match=r"half\.mp4 decodes to \d+ frames .* truncated"):
        read_video(tmp_path / "half.mp4")
    (tmp_path / "head.mp4").write_bytes(data[:40])  # cut inside the index
    with pytest.raises(DonkitError, match=r"head\.mp4 is not a video ffmpeg can read"):
        read_video(tmp_path / "head.mp4")


def test_npz_without_video(tmp_path: Path):
    np.savez(tmp_path / "points.npz", target_points=np.zeros((2, 3, 2), np.float32))
    with pytest.raises(DonkitError, match=r"holds no `video` array \(it has target_points\)"):
        read_video(tmp_path / "points.npz")


def test_npz_that_is_damaged_or_of_the_wrong_kind(tmp_path: Path):
    np.savez(tmp_path / "clip.npz", video=moving_square(frames=2))
    data = (tmp_path / "clip.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DonkitError, match=r"cut\.npz is not a readable \.npz"):
        read_video(tmp_path / "cut.npz")
    np.savez(tmp_path / "grey.npz", video=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DonkitError, match=r"`video` is uint8 \(2, 8, 8\); expected \(T, H, W, 3\)"):
        read_video(tmp_path / "grey.npz")
    np.savez(tmp_path / "objects.npz", video=np.array([None, 1], dtype=object))
    with pytest.raises(DonkitError, match=r"objects\.npz is not a readable \.npz"):
        read_video(tmp_path / "objects.npz")


def test_unknown_suffix(tmp_path: Path):
    (tmp_path / "clip.txt").write_text("frames?")
    with pytest.raises(DonkitError, match=r"the suffix \.txt is not a video donkit reads"):
        read_video(tmp_path / "clip.txt")
