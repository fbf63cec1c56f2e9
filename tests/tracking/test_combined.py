"""The combined tracker on constructed videos: LK's sub-pixel steps, and a point hidden for a few
frames that comes back elsewhere."""

import cv2
import numpy as np
import torch

from tracking.combined import track_combined
from tracking.config import LucasKanadeConfig, TrackConfig
from tracking.lucas_kanade import lucas_kanade_step
from tracking.tracks import Queries

HEIGHT, WIDTH = 96, 200
SIDE = 30  # the moving square, pixels


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """(H, W) uint8 smooth random texture: LK has gradients everywhere."""
    noise = np.random.default_rng(seed).random((height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 1.5)
    return np.clip((smooth - smooth.min()) / np.ptp(smooth) * 255, 0, 255).astype(np.uint8)


def test_a_step_from_a_start_guess_recovers_a_subpixel_shift():
    source = texture(HEIGHT, WIDTH, 0)
    shift = np.array([3.3, -2.6])
    target = cv2.warpAffine(
        source, np.array([[1, 0, shift[0]], [0, 1, shift[1]]]), (WIDTH, HEIGHT),
        flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT,
    )  # fmt: skip
    points = np.array([[60.0, 40.0], [100.5, 50.25], [80.0, 60.0]], np.float32)
    for guess in (None, points + np.float32([2.0, -3.0])):
        moved, score = lucas_kanade_step(source, target, points, LucasKanadeConfig(), guess)
        np.testing.assert_allclose(moved, points + shift, atol=0.05)
        assert (score >= 0.5).all()


def test_a_hidden_point_is_hidden_then_found_again_where_it_reappears():
    # A textured square moves right 1 px a frame over a textured background; a flat grey board
    # covers it in frames 8-11, and from frame 12 on it is 120 px further right than before
    # (pushed while hidden, beyond where LK searches). Its descriptors are its own coordinates,
    # far from the background's. LK alone latches onto the background where the square was.
    frames = 18
    background, square = texture(HEIGHT, WIDTH, 1), texture(SIDE, SIDE, 2)
    corner_x = np.array([10.0 + t + (120 if t >= 12 else 0) for t in range(frames)])
    corner_y = 30
    video = np.zeros((frames, HEIGHT, WIDTH, 3), np.uint8)
    descriptors = torch.full((frames, 3, HEIGHT, WIDTH), 5.0)
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    for t in range(frames):
        grey = background.copy()
        x = int(corner_x[t])
        grey[corner_y : corner_y + SIDE, x : x + SIDE] = square
        on_square = (
            (columns >= x) & (columns < x + SIDE) & (rows >= corner_y) & (rows < corner_y + SIDE)
        )
        if 8 <= t <= 11:
            grey[10:90, 0:WIDTH] = 128
            on_square[:] = False
        video[t] = np.repeat(grey[..., None], 3, axis=2)
        coordinates = np.stack([(columns - x) / SIDE, (rows - corner_y) / SIDE, np.ones_like(rows)])
        descriptors[t] = torch.where(
            torch.from_numpy(on_square)[None], torch.from_numpy(coordinates).float(), 5.0
        )
    query = np.array([[corner_x[0] + 15.0, corner_y + 15.0]], np.float32)
    tracks = track_combined(video, descriptors, Queries(np.array([0]), query), TrackConfig(), 0.5)
    truth = np.stack([corner_x + 15.0, np.full(frames, corner_y + 15.0)], axis=1)
    visible = tracks.visible[0]
    assert visible[:8].all() and not visible[8:12].any() and visible[12:].all()
    seen = np.r_[0:8, 12:frames]
    np.testing.assert_allclose(tracks.xy[0, seen], truth[seen], atol=0.5)
