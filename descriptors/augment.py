"""Image augmentation for descriptor training, with the pixels of matches moved along.

An image's geometric change (random zoom, crop or pad, and a 180-degree turn) is one affine map
of pixel centres, applied to the image, its mask and every (u, v) that refers to it, so a match
stays a match. The output is the input's size, or a smaller crop (`TrainConfig.crop_px`) placed
around an anchor pixel. Background randomization and colour jitter change colours only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from descriptors.config import TrainConfig


@dataclass(frozen=True)
class Augmentation:
    """One image's random changes."""

    pixel_map: np.ndarray  # (2, 3) float64 affine map of pixel centres: input (u, v, 1) -> output
    size: tuple[int, int]  # (width, height) of the output, pixels
    background: int | None  # index of the background texture replacing the background, or None
    background_flip: bool  # the texture turned by 180 degrees (more variety from one texture)
    brightness: float  # factors of the colour jitter, 1 = unchanged
    contrast: float
    saturation: float


def draw_augmentation(
    rng: np.random.Generator,
    config: TrainConfig,
    height: int,
    width: int,
    anchor_uv: np.ndarray | None = None,
) -> Augmentation:
    """Random changes of an image of `height` x `width` pixels, drawn as `config` says. With
    `config.crop_px`, the output is a crop of that size (a side longer than the image's is the
    image's), placed so that `anchor_uv` (a pixel of the input; default its centre) lands at a
    random place in the crop's middle half."""
    scale = float(np.exp(rng.uniform(*np.log(config.scale_range))))
    if any(config.crop_px):
        out_width, out_height = min(config.crop_px[0], width), min(config.crop_px[1], height)
        if anchor_uv is None:
            anchor_uv = np.array([(width - 1) / 2, (height - 1) / 2])
        target = rng.uniform(0.25, 0.75, 2) * (out_width, out_height)
        anchored = scale * np.asarray(anchor_uv, float) + 0.5 * scale - 0.5
        # The crop stays inside the zoomed image where it can (no empty border), and moves by
        # whole pixels (so that, without zoom, it is a window of the image: no resampling blur).
        limits = np.array([out_width, out_height]) - scale * np.array([width, height])
        low, high = np.minimum(limits, 0.0), np.maximum(limits, 0.0)
        shift = [float(value) for value in np.clip(np.rint(target - anchored), low, high)]
    else:
        out_width, out_height = width, height
        # The zoomed image's origin may move anywhere that keeps it covering the output, or
        # (when it is smaller) anywhere inside it.
        shift = [rng.uniform(*sorted((0.0, size - size * scale))) for size in (width, height)]
    pixel_map = zoom_map(scale, shift[0], shift[1])
    if rng.random() < config.rotate_180:
        pixel_map = compose(rotation_180_map(out_height, out_width), pixel_map)
    background = None
    if rng.random() < config.background_randomization:
        background = int(rng.integers(config.background_textures))
    background_flip = bool(rng.random() < 0.5)
    jitter = rng.uniform(1.0 - config.colour_jitter, 1.0 + config.colour_jitter, 3)
    return Augmentation(
        pixel_map, (out_width, out_height), background, background_flip, *map(float, jitter)
    )


def zoom_map(scale: float, shift_u: float, shift_v: float) -> np.ndarray:
    """(2, 3) map of pixel centres for an image scaled by `scale` about its corner (the pixel
    edge at (-0.5, -0.5)), then moved by (shift_u, shift_v) pixels."""
    offset = 0.5 * scale - 0.5
    return np.array([[scale, 0.0, offset + shift_u], [0.0, scale, offset + shift_v]])


def rotation_180_map(height: int, width: int) -> np.ndarray:
    """(2, 3) map turning an image by 180 degrees: (u, v) -> (W - 1 - u, H - 1 - v)."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, -1.0, height - 1.0]])


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """(2, 3) map applying `first`, then `second`."""
    return second[:, :2] @ first + np.array([[0.0, 0.0, second[0, 2]], [0.0, 0.0, second[1, 2]]])


def map_pixels(pixel_map: np.ndarray, uv: np.ndarray, height: int, width: int):
    """Pixels `uv` (N, 2) moved by `pixel_map` to the nearest output pixel.

    Returns:
        (N, 2) int64 pixels, and (N,) bool: whether each lies inside the `height` x `width`
        output (the others were cropped away).
    """
    moved = np.rint(uv @ pixel_map[:, :2].T + pixel_map[:, 2]).astype(np.int64)
    inside = (
        (moved[:, 0] >= 0) & (moved[:, 0] < width) & (moved[:, 1] >= 0) & (moved[:, 1] < height)
    )
    return moved, inside


def warp_image(
    image: np.ndarray,
    pixel_map: np.ndarray,
    nearest: bool = False,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """`image` (H, W, ...) resampled by `pixel_map` into `size` (width, height; default the
    input's); uncovered pixels are 0."""
    height, width = image.shape[:2]
    return cv2.warpAffine(
        image, pixel_map, size or (width, height),
        flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip


def replace_background(image: np.ndarray, mask: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """`image` (H, W, 3) uint8 with its pixels outside `mask` (H, W) bool taken from `texture`."""
    return np.where(mask[..., None], image, texture)
