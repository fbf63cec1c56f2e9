"""Depth from RGB with a trained run, for a scene, a folder of scenes or a folder of images
(`donkit depth predict`).

Writes OUT/XXXXXX_depth.png (uint16 millimetres, the scene format's depth) and
OUT/XXXXXX_depth_colour.png (inverse depth through a colour map, for people). XXXXXX is the
frame index for a scene, and the image's position in name order for a folder of images (listed
in OUT/index.yaml). With `as_scene`, OUT is instead a scene folder in the Dense Object Nets layout:
the input's RGB, camera_info.yaml and pose_data.yaml with the predicted depth as its depth
images, so that `donkit fuse` makes a mesh of RGB-only data; it is written into OUT.partial/ and
renamed when complete, as every scene is. A folder of scenes gives each its own OUT/<its path
under the input>, so that with `as_scene` OUT is a folder of scenes for `donkit fuse`. A
multi-frame run predicts each frame from its scene's neighbouring frames and poses as well, so it
takes scenes only.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from depth.checkpoint import load_depth_network, predict_depth
from depth.frames import predict_frames, prediction_sources
from depth.visual import colourise_depth
from formats import DonkitError
from formats.images import read_rgb, write_depth, write_rgb
from formats.plain import write_yaml
from formats.scenes import (
    CAMERA_INFO,
    IMAGES_DIR,
    PARTIAL_SUFFIX,
    POSE_DATA,
    Scene,
    depth_filename,
    find_scenes,
    load_scene,
    pose_entry,
    write_camera_info,
    write_pose_data,
)
from jobs import progress_bar
from learn.devices import resolve_device

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
INDEX = Path("index.yaml")  # OUT/index.yaml: the run, and which image each number is
COLOUR_DIR = Path("depth_colour")  # a predicted scene's pictures of depth, beside processed/
PROVENANCE = Path("predicted_depth.yaml")  # a predicted scene: which run and input made it
_BATCH = 8  # images predicted at once


def depth_colour_filename(index: int) -> str:
    return f"{index:06d}_depth_colour.png"


@dataclass
class PredictSummary:
    """What `predict_run` wrote."""

    out: Path
    images: int
    scenes: int  # 0 for a folder of images
    as_scene: bool
    median_depth_m: float  # the median over images of each prediction's median

    def line(self) -> str:
        what = "depth and colour PNGs"
        if self.as_scene:
            what = "a scene" if self.scenes == 1 else f"{self.scenes} scenes"
            what += " for `donkit fuse`"
        source = f" of {self.scenes} scenes" if self.scenes > 1 else ""
        return (
            f"{self.images} images{source} -> {what} in {self.out} (median predicted depth "
            f"{self.median_depth_m:.3f} m)"
        )


class PredictedScene:
    """A scene with the frames, intrinsics and poses of `source` and depth given frame by frame,
    written into `out`.partial/ and renamed to `out` by `finish`."""

    def __init__(self, source: Scene, out: Path, min_depth_m: float):
        self.source, self.out, self.min_depth_m = source, Path(out), min_depth_m
        if self.out.exists() and not (self.out / PROVENANCE).is_file():
            raise DonkitError(
                f"--out {self.out} exists and is not a scene made by `donkit depth predict "
                "--as-scene`; choose a new folder (it is never overwritten)"
            )
        self.partial = self.out.with_name(self.out.name + PARTIAL_SUFFIX)
        shutil.rmtree(self.partial, ignore_errors=True)  # an interrupted prediction is redone
        (self.partial / IMAGES_DIR).mkdir(parents=True)
        (self.partial / COLOUR_DIR).mkdir(parents=True)
        self.added: set[int] = set()

    def add(self, position: int, depth_m: np.ndarray) -> None:
        """Frame `position` of the source, with (H, W) float32 depth in metres."""
        frame = self.source.frames[position]
        shutil.copyfile(frame.rgb_path, self.partial / IMAGES_DIR / frame.rgb_path.name)
        write_depth(self.partial / IMAGES_DIR / depth_filename(frame.index), depth_m)
        colour = colourise_depth(depth_m, self.min_depth_m)
        write_rgb(self.partial / COLOUR_DIR / depth_colour_filename(frame.index), colour)
        self.added.add(position)

    def finish(self, provenance: dict[str, Any]) -> Path:
        """Write camera_info, pose_data and the provenance, and rename the folder to `out`."""
        missing = len(self.source.frames) - len(self.added)
        if missing:
            raise ValueError(f"{missing} frame(s) of {self.source.path} have no depth yet")
        write_camera_info(self.partial / CAMERA_INFO, self.source.camera)
        entries = {
            frame.index: pose_entry(frame.index, frame.camera_to_world, frame.timestamp_s)
            | {"rgb_image_filename": frame.rgb_path.name}
            for frame in self.source.frames
        }
        write_pose_data(self.partial / POSE_DATA, entries)
        write_yaml(self.partial / PROVENANCE, provenance)
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.partial, self.out)
        return self.out


def predict_run(
    run: Path,
    input_path: Path,
    out: Path,
    as_scene: bool = False,
    device_name: str = "auto",
    show_progress: bool | None = None,
) -> PredictSummary:
    """Predict depth for `input_path` into `out`: a scene folder, a folder of scenes (each into
    OUT/<its path under the input>), or a folder of RGB images (single-frame runs only)."""
    input_path, out = Path(input_path), Path(out)
    if not input_path.is_dir():
        raise DonkitError(
            f"--input {input_path} is not a folder (a scene, a folder of scenes, or RGB images)"
        )
    if out.resolve() == input_path.resolve():
        raise DonkitError("--out must differ from --input (the input's depth would be replaced)")
    scenes, _ = find_scenes(input_path)
    if as_scene and not scenes:
        raise DonkitError(
            f"--as-scene needs a scene (or a folder of scenes) as --input (their "
            f"camera_info.yaml and pose_data.yaml give the new scenes' intrinsics and poses); "
            f"{input_path} holds no {POSE_DATA}"
        )
    device = resolve_device(device_name)
    network, state = load_depth_network(run)
    network.to(device)
    spec = state["depth"]
    provenance = {"run": str(run), "step": int(state["step"])}
    if not scenes:
        if spec.get("multi_frame"):
            raise DonkitError(
                f"{run} is a multi-frame run: it predicts from a frame's posed neighbours, which "
                f"a folder of images does not have; give a scene (or a folder of scenes) as "
                "--input, or use a single-frame run"
            )
        paths = _images_in(input_path)
        bar = progress_bar(len(paths), "depth predict", show_progress, unit="image")
        medians = _predict_images(network, spec, paths, input_path, out, provenance, device, bar)
        bar.close()
        return PredictSummary(out, len(paths), 0, as_scene, float(np.median(medians)))
    loaded = [load_scene(path) for path in scenes]
    total = sum(len(scene.frames) for scene in loaded)
    bar = progress_bar(total, "depth predict", show_progress, unit="image")
    medians = []
    for scene in loaded:
        scene_out = out if scene.path == input_path else out / scene.path.relative_to(input_path)
        medians += _predict_frames(
            network, spec, scene, scene_out, as_scene, provenance, device, bar
        )
    bar.close()
    return PredictSummary(out, total, len(loaded), as_scene, float(np.median(medians)))


def _predict_frames(
    network: torch.nn.Module,
    spec: dict[str, Any],
    scene: Scene,
    out: Path,
    as_scene: bool,
    provenance: dict[str, Any],
    device: torch.device,
    bar: Any,
) -> list[float]:
    """Every frame of `scene` (with its neighbours for a multi-frame run) into `out`; returns
    each prediction's median depth."""
    provenance = provenance | {"input": str(scene.path)}
    predicted = PredictedScene(scene, out, spec["min_depth_m"]) if as_scene else None
    if predicted is None:
        out.mkdir(parents=True, exist_ok=True)
    sources = prediction_sources(scene, spec) if spec.get("multi_frame") else []
    medians = []
    for start in range(0, len(scene.frames), _BATCH):
        positions = list(range(start, min(start + _BATCH, len(scene.frames))))
        depths = predict_frames(network, spec, scene, positions, sources, device)
        for position, depth in zip(positions, depths, strict=True):
            medians.append(float(np.median(depth)))
            if predicted is not None:
                predicted.add(position, depth)
            else:
                _write_depth(out, scene.frames[position].index, depth, spec)
        bar.update(len(positions))
    if predicted is not None:
        predicted.finish(provenance)
    else:
        write_yaml(out / INDEX, provenance)
    return medians


def _predict_images(
    network: torch.nn.Module,
    spec: dict[str, Any],
    paths: list[Path],
    folder: Path,
    out: Path,
    provenance: dict[str, Any],
    device: torch.device,
    bar: Any,
) -> list[float]:
    """The images `paths` (numbered in name order) into `out`; returns each prediction's median."""
    out.mkdir(parents=True, exist_ok=True)
    medians = []
    for start in range(0, len(paths), _BATCH):
        chunk = range(start, min(start + _BATCH, len(paths)))
        images = [read_rgb(paths[i]) for i in chunk]
        if len({image.shape for image in images}) == 1:
            depths = list(predict_depth(network, spec, images, device))
        else:  # a folder of images of several sizes
            depths = [predict_depth(network, spec, [image], device)[0] for image in images]
        for position, depth in zip(chunk, depths, strict=True):
            medians.append(float(np.median(depth)))
            _write_depth(out, position, depth, spec)
        bar.update(len(chunk))
    images = {i: p.name for i, p in enumerate(paths)}
    write_yaml(out / INDEX, provenance | {"input": str(folder), "images": images})
    return medians


def _write_depth(out: Path, index: int, depth: np.ndarray, spec: dict[str, Any]) -> None:
    write_depth(out / depth_filename(index), depth)
    colour = colourise_depth(depth, spec["min_depth_m"])
    write_rgb(out / depth_colour_filename(index), colour)


def _images_in(folder: Path) -> list[Path]:
    """The RGB images of a folder in name order (depth images predicted earlier left out)."""
    paths = sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.endswith(("_depth.png", "_depth_colour.png"))
    )
    if not paths:
        raise DonkitError(
            f"{folder} is neither a scene ({POSE_DATA} is missing), a folder of scenes, nor a "
            f"folder of RGB images ({', '.join(IMAGE_SUFFIXES)})"
        )
    return paths
