"""TAP-Vid files: round trips, conversions of query points, and every malformed file refused."""

from pathlib import Path

import numpy as np
import pytest

from formats import DonkitError
from formats.plain import write_yaml
from formats.scenes import camera_info_dict, pose_to_dict
from formats.tapvid import (
    KEYS,
    TapVidVideo,
    first_visible_query_points,
    frames_and_xy,
    query_points_of,
    read_camera_path,
    read_tapvid,
    write_tapvid,
)
from geometry import PinholeCamera, make_pose
from geometry.transforms import rotation_about_axis

# Four points over six frames (1 = occluded): point 0 hides at frames 0 and 3, point 1 is never
# seen, point 2 always, point 3 only in the last frame.
OCCLUDED = np.array(
    [
        [1, 0, 0, 1, 0, 0],
        [1, 1, 1, 1, 1, 1],
        [0, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0],
    ],
    bool,
)


def point_positions(points: int, frames: int) -> np.ndarray:
    """(N, T, 2) float32: point n at (10 n + t, 100 n + t) in frame t, unique everywhere."""
    n, t = np.meshgrid(np.arange(points), np.arange(frames), indexing="ij")
    return np.stack([10 * n + t, 100 * n + t], axis=-1).astype(np.float32)


def small_video() -> TapVidVideo:
    """OCCLUDED's four points, queried where each is first seen, over random frames."""
    points, frames = OCCLUDED.shape
    target_points = point_positions(points, frames)
    target_points[1] = np.nan  # never visible: TAP-Vid files may hold anything there
    query_points = first_visible_query_points(np.nan_to_num(target_points), OCCLUDED)
    rgb = np.random.default_rng(0).integers(0, 256, (frames, 24, 32, 3), dtype=np.uint8)
    return TapVidVideo(rgb, target_points, OCCLUDED.copy(), query_points)


def test_query_points_are_t_y_x_at_the_first_visible_frame():
    query_points = small_video().query_points
    # Point 0 first seen at frame 1 at (1, 1); point 1 never (frame 0, its zeroed position);
    # point 2 at frame 0 at (20, 200); point 3 at frame 5 at (35, 305).
    np.testing.assert_array_equal(query_points, [[1, 1, 1], [0, 0, 0], [0, 200, 20], [5, 305, 35]])
    frame, xy = frames_and_xy(query_points)
    np.testing.assert_array_equal(frame, [1, 0, 0, 5])
    np.testing.assert_array_equal(xy, [[1, 1], [0, 0], [20, 200], [35, 305]])
    np.testing.assert_array_equal(query_points_of(frame, xy), query_points)


def test_write_then_read_gives_the_same_video(tmp_path: Path):
    video = small_video()
    write_tapvid(tmp_path / "v.npz", video)
    back = read_tapvid(tmp_path / "v.npz")
    for name in KEYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(video, name))
        assert getattr(back, name).dtype == getattr(video, name).dtype
    assert (back.frames, back.points, back.width, back.height) == (6, 4, 32, 24)
    assert not list(tmp_path.glob(".*.tmp"))


def test_read_casts_real_points_and_0_1_occlusion(tmp_path: Path):
    video = small_video()
    np.savez(
        tmp_path / "v.npz",
        video=video.video,
        target_points=video.target_points.astype(np.float64),
        occluded=video.occluded.astype(np.int8),
        query_points=video.query_points.astype(np.int32),
    )
    back = read_tapvid(tmp_path / "v.npz")
    assert back.target_points.dtype == np.float32 and back.occluded.dtype == np.bool_
    assert back.query_points.dtype == np.float32
    np.testing.assert_array_equal(back.occluded, video.occluded)


def arrays_of(video: TapVidVideo) -> dict[str, np.ndarray]:
    return {name: getattr(video, name).copy() for name in KEYS}


def _missing_keys(arrays):
    del arrays["occluded"], arrays["query_points"]


def _wrong_shape(arrays):
    arrays["target_points"] = arrays["target_points"][:, :5]


def _nan_where_visible(arrays):
    arrays["target_points"][2, 3, 0] = np.nan


def _query_frame_out_of_range(arrays):
    arrays["query_points"][0, 0] = 6


def _video_dtype(arrays):
    arrays["video"] = arrays["video"].astype(np.float32)


def _occluded_values(arrays):
    arrays["occluded"] = arrays["occluded"].astype(np.int64) * 2


def _occluded_dtype(arrays):
    arrays["occluded"] = arrays["occluded"].astype(np.float32)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (_missing_keys, r"lacks the arrays occluded, query_points"),
        (_wrong_shape, r"target_points has shape \(4, 5, 2\), expected \(N, T, 2\) = \(4, 6, 2\)"),
        (_nan_where_visible, r"NaN or inf at 1 visible entries \(first: point 2, frame 3\)"),
        (_query_frame_out_of_range, r"whole numbers in \[0, 6\), but point 0 has t = 6"),
        (_video_dtype, r"video has dtype float32, expected uint8"),
        (_occluded_values, r"occluded holds integers other than 0 and 1"),
        (_occluded_dtype, r"occluded has dtype float32, expected bool"),
    ],
)
def test_malformed_arrays_raise_one_clear_error(tmp_path: Path, damage, match):
    arrays = arrays_of(small_video())
    damage(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DonkitError, match=rf"TAP-Vid file .*bad\.npz.*{match}"):
        read_tapvid(path)


def test_unreadable_files_raise_one_clear_error(tmp_path: Path):
    with pytest.raises(DonkitError, match="does not exist"):
        read_tapvid(tmp_path / "absent.npz")
    write_tapvid(tmp_path / "v.npz", small_video())
    data = (tmp_path / "v.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DonkitError, match=r"cut\.npz is not a readable \.npz of plain arrays \(truncated"
    ):
        read_tapvid(tmp_path / "cut.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(DonkitError, match="not a readable"):
        read_tapvid(tmp_path / "empty.npz")
    np.savez(tmp_path / "objects.npz", **{key: np.array([None]) for key in KEYS})
    with pytest.raises(DonkitError, match="holding pickled objects"):
        read_tapvid(tmp_path / "objects.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(DonkitError, match=r"holds a single array, not an \.npz"):
        read_tapvid(tmp_path / "single.npy")


def test_a_video_in_memory_must_have_the_file_dtypes():
    arrays = arrays_of(small_video())
    arrays["occluded"] = arrays["occluded"].astype(np.uint8)
    with pytest.raises(ValueError, match="occluded must be bool"):
        TapVidVideo(**arrays)


def blank_video(frames: int, width: int, height: int) -> TapVidVideo:
    """A black video of one point, visible in every frame."""
    return TapVidVideo(
        np.zeros((frames, height, width, 3), np.uint8),
        np.zeros((1, frames, 2), np.float32),
        np.zeros((1, frames), bool),
        np.zeros((1, 3), np.float32),
    )


def test_the_camera_path_beside_a_video_is_read_back_and_refused_when_it_does_not_fit(tmp_path):
    video = tmp_path / "clip.npz"
    fits = blank_video(2, 320, 240)
    assert read_camera_path(video, fits) is None  # no .yaml beside it
    camera = PinholeCamera(320, 240, 250.0, 251.0, 159.5, 119.5)
    poses = [np.eye(4), make_pose(rotation_about_axis((0, 0, 1), 0.3), np.array([0.1, 0.2, 0.3]))]
    write_yaml(
        video.with_suffix(".yaml"),
        {"camera": camera_info_dict(camera), "camera_to_world": [pose_to_dict(p) for p in poses]},
    )
    path = read_camera_path(video, fits)
    np.testing.assert_allclose(path.camera_to_world, np.stack(poses), atol=1e-12)
    np.testing.assert_allclose(path.intrinsics, camera.matrix)
    with pytest.raises(DonkitError, match="each of the video's 3 frames; it has 2 poses"):
        read_camera_path(video, blank_video(3, 320, 240))
    with pytest.raises(DonkitError, match="its camera is 320 x 240 pixels but the video is 640"):
        read_camera_path(video, blank_video(2, 640, 480))
    write_yaml(video.with_suffix(".yaml"), {"fps": 10.0})
    assert read_camera_path(video, fits) is None  # a description without poses
