"""Training samples for depth, drawn from scenes read through formats.scenes.load_scene.

Sample `index` is a pure function of the seed and the index (its target frame and colour jitter
come from a random stream keyed by them), so loader workers draw the same samples as the
training process would, and a resumed run continues with the samples an uninterrupted one would
have seen.

Every sample holds the target image twice: `image`, the photometric target, resized only, and
`network_image`, what the network sees, colour-jittered as well. What else it holds depends on
the mode:
- self_supervised: `sources` (S, 3, H, W) and `network_sources`, `target_to_source` (S, 4, 4)
  from the scenes' forward-kinematics poses;
- stereo: `right` and `network_right`, `left_to_right` (4, 4), `baseline_m`;
- supervised: `depth` (1, H, W) sensor depth in metres, 0 = no reading.
Images are float32 RGB in [0, 1], channels first; `intrinsics` (3, 3) are those of the resized
image.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from depth.config import DepthConfig, multi_frame_spec
from depth.layers import relative_pose
from depth.sweep import PlaneSweep
from formats import DonkitError
from formats.scenes import Scene, load_scene
from geometry import PinholeCamera, inside_image, pixel_grid, warp
from learn.augment import jitter_colour

_SAMPLE_STREAM = 20  # random stream of a sample: (seed, stream, index)
_OVERLAP_GRID_PX = 8  # the overlap of two views is measured on every 8th pixel
_CACHE = 512  # resized images kept per process (about 0.2 MB each at 160 x 120)
_COST_CACHE = 400  # cost volumes kept per process (2.5 MB each: 64 planes at 160 x 120)


def resized_camera(camera: PinholeCamera, width: int, height: int) -> PinholeCamera:
    """The intrinsics of `camera`'s image resized to `width` x `height`.

    Pixel edges scale with the image: the edge at -0.5 stays there, so a pixel centre u maps to
    (u + 0.5) * width / camera.width - 0.5.
    """
    sx, sy = width / camera.width, height / camera.height
    return PinholeCamera(
        width, height, camera.fx * sx, camera.fy * sy,
        (camera.cx + 0.5) * sx - 0.5, (camera.cy + 0.5) * sy - 0.5,
    )  # fmt: skip


def view_overlap(
    camera: PinholeCamera,
    target_to_world: np.ndarray,
    source_to_world: np.ndarray,
    depth_m: float,
) -> float:
    """Share of the target image's pixels that land inside the source image, in front of it,
    when placed at `depth_m` (every 8th pixel of each row and column)."""
    grid = pixel_grid(camera.height, camera.width, np.zeros(1))
    uv = grid[::_OVERLAP_GRID_PX, ::_OVERLAP_GRID_PX].reshape(-1, 2)
    depth = np.full(len(uv), depth_m)
    k = camera.matrix
    uv_source, depth_source = warp(uv, depth, k, target_to_world, k, source_to_world)
    inside = inside_image(uv_source, camera.width, camera.height) & (depth_source > 0)
    return float(inside.mean())


def nearest_sources(
    camera_to_world: np.ndarray,
    camera: PinholeCamera,
    count: int,
    overlap_depth_m: float,
    min_overlap: float,
) -> list[list[int]]:
    """For each frame, up to `count` other frames whose camera centres are nearest its own,
    among those that overlap it by at least `min_overlap` (see `view_overlap`).

    Args:
        camera_to_world: (N, 4, 4) the frames' poses.

    Returns:
        N lists of frame positions, nearest first (empty where no frame overlaps enough).
    """
    centres = camera_to_world[:, :3, 3]
    sources = []
    for target in range(len(camera_to_world)):
        distance = np.linalg.norm(centres - centres[target], axis=1)
        chosen = []
        for candidate in np.argsort(distance, kind="stable"):
            if candidate == target:
                continue
            overlap = view_overlap(
                camera, camera_to_world[target], camera_to_world[candidate], overlap_depth_m
            )
            if overlap >= min_overlap:
                chosen.append(int(candidate))
                if len(chosen) == count:
                    break
        sources.append(chosen)
    return sources


def adjacent_sources(frames: int, count: int) -> list[list[int]]:
    """For each of `frames` frames, the `count` frames nearest it in index order (i - 1, i + 1,
    i - 2, ...; at the ends, from one side only)."""
    sources = []
    for target in range(frames):
        near = sorted((p for p in range(frames) if p != target), key=lambda p: (abs(p - target), p))
        sources.append(near[:count])
    return sources


@dataclass(frozen=True)
class _Target:
    scene: int  # position in the list of scenes
    frame: int  # position in the scene's frames
    sources: tuple[int, ...]  # positions of its source frames (self_supervised)
    sweep: tuple[int, ...] = ()  # positions of the frames of its cost volume (multi_frame)


class DepthSamples(torch.utils.data.Dataset):
    """`count` training samples for `config.mode` from the scenes at `paths`."""

    def __init__(self, paths: list[Path], config: DepthConfig, count: int, augment: bool = True):
        self.config, self.count, self.augment = config, count, augment
        self.scenes = [load_scene(path) for path in paths]
        self.targets = self._targets()
        self._cache: OrderedDict[tuple[int, int, str], np.ndarray] = OrderedDict()
        self._costs: OrderedDict[tuple[int, int], torch.Tensor] = OrderedDict()

    def _targets(self) -> list[_Target]:
        config = self.config
        targets = []
        for number, scene in enumerate(self.scenes):
            if config.mode == "stereo" and scene.stereo_baseline_m <= 0:
                raise DonkitError(
                    f"{scene.path} has no right images; stereo training needs scenes recorded "
                    "with a second camera: `donkit collect --set "
                    "collect.camera.stereo_baseline_m=0.06 ...`"
                )
            frames = len(scene.frames)
            if config.mode != "self_supervised":
                targets += [_Target(number, frame, ()) for frame in range(frames)]
                continue
            sweep = config.sweep_sources if config.multi_frame else 0
            if config.source_choice == "adjacent":
                sources = adjacent_sources(frames, sweep + config.sources)
            else:
                poses = np.stack([frame.camera_to_world for frame in scene.frames])
                sources = nearest_sources(
                    poses, scene.camera, sweep + config.sources, config.overlap_depth_m,
                    config.min_overlap,
                )  # fmt: skip
            # Too few overlapping neighbours: the nearest repeat (the per-pixel minimum over
            # sources is unchanged by a repeat, and every sample keeps one shape). A multi-frame
            # target's nearest frames build its cost volume and the next ones train it, so that
            # the loss does not only repeat what the cost volume already says.
            for frame, chosen in enumerate(sources):
                if not chosen:
                    continue
                rebuilt_from = chosen[sweep:] or chosen
                targets.append(
                    _Target(
                        number, frame,
                        tuple((rebuilt_from * config.sources)[: config.sources]),
                        tuple((chosen[:sweep] * sweep)[:sweep]),
                    )
                )  # fmt: skip
        if not targets:
            raise DonkitError(
                "no frame of the training scenes has a source frame overlapping it by "
                f"depth.min_overlap = {config.min_overlap}; lower it, or record more views"
            )
        return targets

    def __len__(self) -> int:
        return self.count

    def sources_of(self, scene: int, frame: int) -> tuple[int, ...]:
        """The source frames (positions) of frame `frame` of scene `scene` (self_supervised)."""
        for target in self.targets:
            if (target.scene, target.frame) == (scene, frame):
                return target.sources
        raise KeyError(f"frame {frame} of scene {scene} is not a target")

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.count:
            raise IndexError(f"sample {index} of {self.count}")
        config = self.config
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, _SAMPLE_STREAM, index]))
        target = self.targets[int(rng.integers(len(self.targets)))]
        jitter = (1.0, 1.0, 1.0)
        if self.augment and config.colour_jitter > 0:
            low, high = 1.0 - config.colour_jitter, 1.0 + config.colour_jitter
            jitter = tuple(float(x) for x in rng.uniform(low, high, 3))
        mirrored = self.augment and rng.random() < config.flip
        scene = self.scenes[target.scene]
        camera = resized_camera(scene.camera, config.width, config.height)
        image = self._rgb(target.scene, target.frame, "left")
        sample: dict[str, Any] = {
            "image": rgb_tensor(image),
            "network_image": rgb_tensor(jitter_colour(image, *jitter)),
            "intrinsics": torch.tensor(camera.matrix, dtype=torch.float32),
            "scene": target.scene,
            "frame": target.frame,
        }
        if config.mode == "self_supervised":
            sources = [self._rgb(target.scene, s, "left") for s in target.sources]
            sample["sources"] = torch.stack([rgb_tensor(s) for s in sources])
            sample["network_sources"] = torch.stack(
                [rgb_tensor(jitter_colour(s, *jitter)) for s in sources]
            )
            sample["target_to_source"] = motions(scene, target.frame, target.sources)
            if config.multi_frame:
                sample["cost"] = self._cost_volume(target, sample)
        elif config.mode == "stereo":
            right = self._rgb(target.scene, target.frame, "right")
            sample["right"] = rgb_tensor(right)
            sample["network_right"] = rgb_tensor(jitter_colour(right, *jitter))
            left_to_world = scene.frames[target.frame].camera_to_world
            right_to_world = scene.right_camera_to_world(target.frame)
            sample["left_to_right"] = torch.tensor(
                relative_pose(left_to_world, right_to_world), dtype=torch.float32
            )
            sample["baseline_m"] = torch.tensor(scene.stereo_baseline_m, dtype=torch.float32)
        else:
            depth = resize_depth(scene.depth(target.frame), config.width, config.height)
            sample["depth"] = torch.from_numpy(depth)[None]
        return mirror(sample) if mirrored else sample

    def _cost_volume(self, target: _Target, sample: dict[str, Any]) -> torch.Tensor:
        """(D, H, W) float32 cost volume of the target (depth.sweep.PlaneSweep.cost_volume) from the
        sample's unjittered images, before any mirroring: a function of the frame alone, so it
        is computed once per frame and kept (as float16, most recent _COST_CACHE frames)."""
        key = (target.scene, target.frame)
        if key not in self._costs:
            sweep = [rgb_tensor(self._rgb(target.scene, s, "left")) for s in target.sweep]
            motion = motions(self.scenes[target.scene], target.frame, target.sweep)
            batch = {
                "image": sample["image"][None],
                "sources": torch.stack(sweep)[None],
                "intrinsics": sample["intrinsics"][None],
                "target_to_source": motion[None],
            }
            plane_sweep = PlaneSweep.from_spec(multi_frame_spec(self.config))
            self._costs[key] = plane_sweep.cost_volume(batch)[0].half()
            if len(self._costs) > _COST_CACHE:
                self._costs.popitem(last=False)
        return self._costs[key].float()

    def _rgb(self, scene: int, frame: int, side: str) -> np.ndarray:
        key = (scene, frame, side)
        if key not in self._cache:
            read = self.scenes[scene].rgb if side == "left" else self.scenes[scene].right_rgb
            self._cache[key] = resize_rgb(read(frame), self.config.width, self.config.height)
            if len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return self._cache[key]


_IMAGES = ("image", "network_image", "sources", "network_sources", "right", "network_right", "cost")
_MOTIONS = ("target_to_source", "left_to_right")
_MIRROR = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0]))  # x -> -x in the camera frame


def mirror(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample of the mirror-image world: every image flipped left to right, cx moved to
    W - 1 - cx, and each motion T conjugated by the mirror M = diag(-1, 1, 1), M T M, so that
    warps and depths stay exactly consistent (a pixel's depth is unchanged by the mirror)."""
    mirrored = dict(sample)
    for key in (*_IMAGES, "depth"):
        if key in sample:
            mirrored[key] = sample[key].flip(-1)
    width = sample["image"].shape[-1]
    intrinsics = sample["intrinsics"].clone()
    intrinsics[0, 2] = width - 1 - intrinsics[0, 2]
    mirrored["intrinsics"] = intrinsics
    for key in _MOTIONS:
        if key in sample:
            mirrored[key] = _MIRROR @ sample[key] @ _MIRROR
    return mirrored


def motions(scene: Scene, target: int, sources: Sequence[int]) -> torch.Tensor:
    """(S, 4, 4) float32 target_to_source from frame position `target` of `scene` to each of
    `sources`, from the scene's poses."""
    target_to_world = scene.frames[target].camera_to_world
    return torch.tensor(
        np.stack(
            [relative_pose(target_to_world, scene.frames[s].camera_to_world) for s in sources]
        ),
        dtype=torch.float32,
    )


def rgb_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float() / 255.0


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 resized to (height, width, 3) (area averaging when shrinking)."""
    if rgb.shape[:2] == (height, width):
        return rgb
    shrinking = width < rgb.shape[1]
    method = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=method)


def resize_depth(depth_m: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W) float32 depth resized to (height, width) by nearest pixel, so no depth is made up
    between an object and what lies behind it (0 = no reading stays 0). The pixel taken is the
    one under the output pixel's centre (of two equally near, the later)."""
    if depth_m.shape == (height, width):
        return depth_m
    return cv2.resize(depth_m, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of samples into one batch (tensors stacked, numbers as a tensor)."""
    batch = {}
    for key in samples[0]:
        values = [sample[key] for sample in samples]
        if isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        else:
            batch[key] = torch.tensor(values)
    return batch
