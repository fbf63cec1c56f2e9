"""Static points tracked through the camera's poses: rays and projections against hand-computed
values, the depth's parabola, the static/moved decision, and a textured plane filmed by a moving
camera with a board passing in front."""

import cv2
import numpy as np
import torch

from formats.tapvid import CameraPath
from geometry import make_pose, rotation_about_axis
from tracking.combined import track_combined
from tracking.config import PosedConfig, TrackConfig
from tracking.posed import (
    best_depth,
    facing_planes,
    plane_costs,
    project_into_frames,
    query_rays,
    refine_depths,
    static_frames,
)
from tracking.tracks import Queries, Tracks

K = np.array([[150.0, 0.0, 99.5], [0.0, 150.0, 59.5], [0.0, 0.0, 1.0]])
HEIGHT, WIDTH = 120, 200


def test_a_query_ray_meets_its_point_and_projects_where_the_other_camera_sees_it():
    # Camera 0 at the origin looking down +z; camera 1 is 0.1 m to its right. The query pixel
    # lies 15 px right of the centre, so its ray is (0.1, 0, 1) per metre of depth; at depth 2
    # it meets (0.2, 0, 2), which camera 1 sees at x = 0.1: u = 99.5 + 150 * 0.1 / 2 = 107.
    poses = np.stack([np.eye(4), make_pose(np.eye(3), np.array([0.1, 0.0, 0.0]))])
    queries = Queries(np.array([0]), np.array([[114.5, 59.5]], np.float32))
    origins, directions = query_rays(queries, poses, K)
    np.testing.assert_allclose(origins, [[0.0, 0.0, 0.0]])
    np.testing.assert_allclose(directions, [[0.1, 0.0, 1.0]])
    point = torch.from_numpy(origins + 2.0 * directions)
    uv, depth = project_into_frames(point, torch.from_numpy(poses), torch.from_numpy(K))
    np.testing.assert_allclose(uv[:, 0].numpy(), [[114.5, 59.5], [107.0, 59.5]], atol=1e-9)
    np.testing.assert_allclose(depth[:, 0].numpy(), [2.0, 2.0])


def test_the_best_depth_is_the_vertex_of_a_cost_parabolic_in_log_depth():
    # Each row has its own candidates, even in log depth.
    depths = torch.from_numpy(np.stack([np.geomspace(0.1, 2.0, 50), np.geomspace(1.0, 1.5, 50)]))
    truth = torch.tensor([0.437, 1.21], dtype=torch.float64)
    costs = (depths.log() - truth.log()[:, None]) ** 2 + 3.0
    np.testing.assert_allclose(best_depth(costs, depths).numpy(), truth.numpy(), rtol=1e-9)


def test_a_point_follows_its_projection_until_seen_elsewhere_while_the_projection_is_not():
    # Three points, all on their projection near the query (frame 2). The tracker sees each
    # 10 px off from frame 9 on, and the second also in frame 5 alone. The first one's
    # projection still shows the query's descriptor there (the tracker drifted): it stays. The
    # second's and third's projections do not from frame 9 on (they were pushed): they leave it
    # there, the third after the default moved_frames, the second after 5 frames.
    frames = 16
    projected = np.zeros((3, frames, 2))
    tracked = projected + np.array([0.4, 0.0])
    tracked[:, 9:, 0] += 10.0
    tracked[1, 5, 0] += 10.0
    tracks = Tracks(tracked, np.ones((3, frames), bool), np.ones((3, frames), np.float32))
    queries = Queries(np.array([2, 2, 2]), np.zeros((3, 2), np.float32))
    in_view, agreement = np.ones((3, frames), bool), np.ones((3, frames))
    seen = np.ones((3, frames), bool)
    seen[1:, 9:] = False
    follows = static_frames(tracks, queries, projected, in_view, agreement, seen, PosedConfig())
    assert follows[0].all()
    np.testing.assert_array_equal(follows[1], np.arange(frames) < 9)
    np.testing.assert_array_equal(follows[2], np.arange(frames) < 9)
    patient = PosedConfig(moved_frames=8)  # 7 frames apart (9-15) are not enough
    assert static_frames(tracks, queries, projected, in_view, agreement, seen, patient).all()


def test_a_point_off_its_projection_or_whose_patches_disagree_along_it_is_not_static():
    frames = 10
    projected = np.zeros((2, frames, 2))
    tracked = projected + np.array([[[2.5, 0.0]], [[0.5, 0.0]]])  # the first beyond static_px 2
    tracks = Tracks(tracked, np.ones((2, frames), bool), np.ones((2, frames), np.float32))
    queries = Queries(np.array([0, 0]), np.zeros((2, 2), np.float32))
    in_view, seen = np.ones((2, frames), bool), np.ones((2, frames), bool)
    agreeing = np.ones((2, frames))
    follows = static_frames(tracks, queries, projected, in_view, agreeing, seen, PosedConfig())
    assert not follows[0].any() and follows[1].all()
    sliding = np.full((2, frames), 0.45)  # below static_agreement 0.5
    assert not static_frames(
        tracks, queries, projected, in_view, sliding, seen, PosedConfig()
    ).any()


def plane_video(frames: int, board: range) -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
    """A textured plane at z = 0.5 m filmed by a camera sliding right 8 mm a frame (2.4 px of
    parallax), rendered exactly through each frame's ray-plane intersections; a flat grey board
    covers the middle of the image in the frames `board`. Descriptors are the plane's own
    coordinates (5 on the board). Returns the video, descriptors and poses."""
    plane_z = 0.5
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.random((600, 600)).astype(np.float32), (0, 0), 2.0)
    texture = (texture - texture.min()) / np.ptp(texture) * 255
    poses = np.stack([make_pose(np.eye(3), np.array([0.008 * t, 0.0, 0.0])) for t in range(frames)])
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    video = np.zeros((frames, HEIGHT, WIDTH, 3), np.uint8)
    descriptors = torch.zeros((frames, 2, HEIGHT, WIDTH))
    for t in range(frames):
        x = (columns - K[0, 2]) / K[0, 0] * plane_z + poses[t, 0, 3]  # world x on the plane
        y = (rows - K[1, 2]) / K[1, 1] * plane_z
        map_x, map_y = (x * 600 + 250).astype(np.float32), (y * 600 + 300).astype(np.float32)
        grey = cv2.remap(texture, map_x, map_y, cv2.INTER_CUBIC)
        features = torch.from_numpy(np.stack([x, y]) * 10).float()
        if t in board:
            grey[:, 70:130] = 128
            features[:, :, 70:130] = 5.0
        video[t] = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        descriptors[t] = features
    return video, descriptors, poses


def test_a_static_point_is_followed_through_an_occluder_to_within_a_fifth_of_a_pixel():
    frames, board = 20, range(8, 12)
    video, descriptors, poses = plane_video(frames, board)
    queries = Queries(np.array([0]), np.array([[130.0, 60.0]], np.float32))
    # The truth: the query's ray meets the plane at depth 0.5 m; in frame t the camera has slid
    # 0.008 t m to the right, so the point has moved 150 * 0.008 t / 0.5 = 2.4 t px left.
    truth = np.stack([130.0 - 2.4 * np.arange(frames), np.full(frames, 60.0)], axis=1)
    camera = CameraPath(poses, K)
    posed = track_combined(video, descriptors, queries, TrackConfig(), 0.5, camera)
    np.testing.assert_allclose(posed.xy[0], truth, atol=0.2)
    shown = np.array([t not in board for t in range(frames)])
    np.testing.assert_array_equal(posed.visible[0], shown)
    # Without the poses the combined tracker leaves the point where it was last trusted.
    alone = track_combined(video, descriptors, queries, TrackConfig(), 0.5)
    assert np.abs(alone.xy[0, 11] - truth[11]).max() > 5


def tilted_plane_video(frames: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """A textured plane through (0, 0, 0.5) m whose normal (sin 40°, 0, -cos 40°) is tilted 40°
    from facing camera 0 (at the origin, looking along +z), filmed by a camera orbiting that
    point about the vertical (y) by up to 30°, rendered exactly through each pixel's ray-plane
    intersection. Returns grey frames (T, 1, H, W) in [0, 1], poses (T, 4, 4) and the normal."""
    centre = np.array([0.0, 0.0, 0.5])
    tilt = np.radians(40.0)
    normal = np.array([np.sin(tilt), 0.0, -np.cos(tilt)])
    along = np.array([np.cos(tilt), 0.0, np.sin(tilt)])  # in the plane, with the y axis
    rng = np.random.default_rng(5)
    texture = cv2.GaussianBlur(rng.random((1200, 1200)).astype(np.float32), (0, 0), 2.0)
    texture = (texture - texture.min()) / np.ptp(texture)
    to_centre, back = make_pose(np.eye(3), centre), make_pose(np.eye(3), -centre)
    poses = np.stack([
        to_centre @ make_pose(rotation_about_axis((0, 1, 0), angle), np.zeros(3)) @ back
        for angle in np.radians(np.linspace(0.0, 30.0, frames))
    ])  # fmt: skip
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    rays = np.stack(
        [(columns - K[0, 2]) / K[0, 0], (rows - K[1, 2]) / K[1, 1], np.ones_like(rows)], -1
    )
    images = np.zeros((frames, 1, HEIGHT, WIDTH), np.float32)
    for t, pose in enumerate(poses):
        world_rays = rays @ pose[:3, :3].T
        origin = pose[:3, 3]
        reach = ((centre - origin) @ normal) / (world_rays @ normal)
        on_plane = origin + reach[..., None] * world_rays - centre
        map_x = (on_plane @ along * 600 + 600).astype(np.float32)
        map_y = (on_plane[..., 1] * 600 + 600).astype(np.float32)
        images[t, 0] = cv2.remap(
            texture, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
        )
    return torch.from_numpy(images), torch.from_numpy(poses), normal


def test_the_warped_patch_agrees_best_through_the_true_plane_and_pins_the_depth_down():
    images, poses, normal = tilted_plane_video(16)
    k = torch.from_numpy(K)
    # The query is camera 0's principal point, whose ray meets the plane at depth 0.5 m.
    queries = Queries(np.array([0]), np.array([[K[0, 2], K[1, 2]]]))
    query_xy = torch.tensor([K[0, 2], K[1, 2]], dtype=torch.float64)
    normals = facing_planes(torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64))[0]
    # Facing the camera, then tilted 20° towards 8 directions, then 40° (the first of them
    # towards +x: the true plane), then 60°.
    assert normals.shape == (25, 3)
    np.testing.assert_allclose(normals[0].numpy(), [0.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(normals[9].numpy(), normal, atol=1e-12)
    costs = plane_costs(
        images, poses, k, 0, query_xy, torch.tensor([0.49, 0.5, 0.51], dtype=torch.float64),
        normals, torch.arange(1, 16), 4,
    )  # fmt: skip
    assert costs.shape == (3, 25)
    assert int(costs.argmin()) == 1 * 25 + 9  # the true depth, through the true plane
    # From a first estimate 3% too far (2.3 px off in the last frame, 30° round), the refinement
    # finds the depth to within 0.2%, which moves the point by 0.15 px in that frame.
    start = torch.tensor([0.515], dtype=torch.float64)
    refined = refine_depths(images, poses, k, queries, start, PosedConfig())
    np.testing.assert_allclose(refined.numpy(), [0.5], rtol=2e-3)
