"""OUT/report.html: what `donkit demo` made, on one page.

Sections, in order (each a <section> with the id given): stages (what ran, how long),
collect (sample frames and their object masks), fuse (a picture of each fused mesh from its
first view), correspond (matched pairs), descriptors (descriptor images, link to the viewer),
evaluation (the table against the baselines, the CDF), tracking (a clip with both trackers'
tables), depth (held-out frames, predicted and sensor depth, the table).

Pictures the demo did not already draw go to OUT/report/; the page links every picture and
clip by a path relative to itself, so OUT can be moved or copied whole.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from formats.atomic import write_bytes_atomic
from formats.images import read_labels, write_rgb
from formats.scenes import FUSION_MESH, MASKS_DIR, Scene, find_scenes, load_scene, mask_filename

PICTURES = Path("report")  # OUT/report/: the report's own pictures
SAMPLE_FRAMES = 4  # frames shown of the collected data, and of depth
SAMPLE_PAIRS = 4  # correspondence and descriptor pictures shown

SECTIONS = {
    "stages": "Stages",
    "collect": "Collected frames and masks",
    "fuse": "Fused meshes",
    "correspond": "Correspondences",
    "descriptors": "Descriptors",
    "evaluation": "Descriptor evaluation",
    "tracking": "Keypoint tracking",
    "depth": "Depth from one image",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { display: inline-block; margin: 0 0.6em 0.8em 0; vertical-align: top; }
figure img, figure video { display: block; border: 1px solid #ccc; }
figcaption { font-size: 0.8em; color: #555; max-width: 330px; }
.note { color: #555; font-size: 0.9em; max-width: 60em; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.8em; }
"""


def html_table(rows: Sequence[Sequence[Any]]) -> str:
    """A table whose first row is the header; cells are escaped."""
    header, *body = rows
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    lines = [
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in body
    ]
    return f"<table><tr>{head}</tr>{''.join(lines)}</table>"


def _figure(path: str, caption: str, width: int = 320) -> str:
    return (
        f'<figure><img src="{html.escape(path)}" width="{width}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _missing(what: str) -> str:
    return f'<p class="note">Not made yet: {html.escape(what)}.</p>'


class _Pictures:
    """Writes the report's own pictures into OUT/report/ and names them relative to OUT."""

    def __init__(self, out: Path):
        self.out = out
        (out / PICTURES).mkdir(parents=True, exist_ok=True)

    def write(self, name: str, rgb: np.ndarray) -> str:
        write_rgb(self.out / PICTURES / name, rgb)
        return (PICTURES / name).as_posix()

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.out).as_posix()


def _mask_picture(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The frame with everything outside the object mask darkened and tinted blue."""
    picture = rgb.astype(np.float32)
    outside = mask == 0
    picture[outside] = picture[outside] * 0.25 + np.array([0, 0, 90], np.float32)
    return picture.astype(np.uint8)


def _sample_scenes(data: Path, count: int | None = None) -> list[Scene]:
    """The first `count` complete scenes under `data` (all of them by default)."""
    scenes, _ = find_scenes(data)
    return [load_scene(path) for path in scenes[:count]]


def _collect_section(out: Path, pictures: _Pictures) -> str:
    if not (out / "data").is_dir():
        return _missing("the collected scenes (OUT/data)")
    parts = []
    for scene in _sample_scenes(out / "data", SAMPLE_FRAMES):
        frame = scene.frames[0]
        rgb = scene.rgb(0)
        name = scene.path.name
        parts.append(_figure(pictures.write(f"{name}_rgb.png", rgb), f"{name}, view 0"))
        mask_path = scene.path / MASKS_DIR / mask_filename(frame.index)
        if mask_path.is_file():
            masked = _mask_picture(rgb, read_labels(mask_path))
            parts.append(
                _figure(pictures.write(f"{name}_mask.png", masked), f"{name}: object mask")
            )
    return (
        '<p class="note">The first view of the first scenes, as the arm\'s camera recorded it, '
        "and the object mask that fusion rendered from the mesh (outside it darkened).</p>"
        + "".join(parts)
    )


def _fuse_section(out: Path, pictures: _Pictures) -> str:
    from reconstruct.mesh import read_mesh
    from reconstruct.render import MeshRenderer

    if not (out / "data").is_dir():
        return _missing("the fused scenes")
    parts = []
    for folder in (out / "data", out / "data_test"):
        if not folder.is_dir():
            continue
        for scene in _sample_scenes(folder):
            mesh_path = scene.path / FUSION_MESH
            if not mesh_path.is_file():
                continue
            mesh = read_mesh(mesh_path)
            picture = MeshRenderer(mesh).picture(scene.camera, scene.frames[0].camera_to_world)
            name = f"{folder.name}_{scene.path.name}_mesh.png"
            caption = f"{folder.name}/{scene.path.name}: {len(mesh.faces):,} triangles"
            parts.append(_figure(pictures.write(name, picture), caption, width=240))
    if not parts:
        return _missing("fused meshes")
    return (
        '<p class="note">Each fused mesh (TSDF, cropped to the workspace) seen from the scene\'s '
        "first camera pose, shaded by a light at the camera.</p>" + "".join(parts)
    )


def _correspond_section(out: Path, pictures: _Pictures) -> str:
    shown = sorted((out / "correspondences" / "show").glob("*.png"))[:SAMPLE_PAIRS]
    if not shown:
        return _missing("correspondence pictures (OUT/correspondences/show)")
    parts = [_figure(pictures.relative(path), f"pair {path.stem}", 480) for path in shown]
    return (
        '<p class="note">Pairs of views with some of their matches (lines) and non-matches, as '
        "the correspondence generator found them by projecting the fused mesh.</p>" + "".join(parts)
    )


def _descriptors_section(out: Path, pictures: _Pictures) -> str:
    viz = out / "runs" / "demo" / "viz"
    shown = sorted(viz.glob("*.png"))[:SAMPLE_PAIRS]
    if not shown:
        return _missing("descriptor pictures (OUT/runs/demo/viz)")
    parts = [_figure(pictures.relative(path), path.stem, 480) for path in shown]
    viewer = viz / "viewer.html"
    link = ""
    if viewer.is_file():
        link = (
            f'<p>Open the <a href="{pictures.relative(viewer)}">descriptor viewer</a> and hover '
            "a pixel to see its best matches in the other images.</p>"
        )
    return (
        '<p class="note">Held-out pairs: the trained descriptors shown as colours, and best '
        "matches of sample pixels.</p>" + "".join(parts) + link
    )


def _evaluation_section(out: Path, pictures: _Pictures) -> str:
    from descriptors.evaluate import confusion_line, metrics_table

    metrics = out / "runs" / "demo" / "eval" / "metrics.json"
    if not metrics.is_file():
        return _missing("the descriptor evaluation (OUT/runs/demo/eval/metrics.json)")
    results = json.loads(metrics.read_text())
    text = html_table(metrics_table(results))
    if line := confusion_line(results):
        text += f'<p class="note">{html.escape(line)}</p>'
    cdf = metrics.parent / "cdf.png"
    if cdf.is_file():
        text += _figure(pictures.relative(cdf), "share of matches within an error", 560)
    return (
        f'<p class="note">{results["pairs"]} held-out pairs, {results["matches"]} true matches: '
        "the pixel error of each method's best match, against dense SIFT and the untrained "
        "network.</p>" + text
    )


def _tracking_section(out: Path, pictures: _Pictures) -> str:
    from formats.video import read_video
    from tracking.videos import metrics_table

    metrics = out / "track" / "metrics.json"
    if not metrics.is_file():
        return _missing("tracking (OUT/track/metrics.json)")
    results = json.loads(metrics.read_text())
    clips = []
    for method in ("donkit", "descriptors", "lk"):
        overlays = sorted((out / "track").glob(f"*/{method}/overlay.mp4"))
        if not overlays:
            continue
        clip = overlays[0]
        frames, _ = read_video(clip)
        poster = pictures.write(f"track_{method}_poster.png", frames[len(frames) // 2])
        caption = f"{clip.parent.parent.name}, {method}: filled markers seen, hollow hidden"
        clips.append(
            f'<figure><video src="{pictures.relative(clip)}" poster="{poster}" width="320" '
            f"controls loop muted></video><figcaption>{html.escape(caption)}</figcaption>"
            "</figure>"
        )
    return (
        f'<p class="note">{len(results["videos"])} simulated videos with ground-truth tracks: '
        "donkit's tracker, the descriptors alone and Lucas-Kanade, TAP-Vid metrics (average "
        "Jaccard, occlusion and position accuracy).</p>"
        + html_table(metrics_table(results))
        + "".join(clips)
    )


def _depth_section(out: Path, pictures: _Pictures) -> str:
    import torch

    from depth.checkpoint import load_depth_network, predict_depth
    from depth.evaluate import metrics_table
    from depth.visual import colourise_depth

    metrics = out / "depth" / "metrics.json"
    if not metrics.is_file():
        return _missing("depth (OUT/depth/metrics.json)")
    results = json.loads(metrics.read_text())
    network, state = load_depth_network(out / "depth")
    spec = state["depth"]
    parts = []
    for scene in _sample_scenes(out / "data_test", SAMPLE_FRAMES):
        rgb, sensor = scene.rgb(0), scene.depth(0)
        predicted = predict_depth(network, spec, [rgb], torch.device("cpu"))[0]
        name = scene.path.name
        parts.append(_figure(pictures.write(f"depth_{name}_rgb.png", rgb), f"{name}, view 0"))
        colour = colourise_depth(predicted, spec["min_depth_m"], scale_like=sensor)
        caption = f"predicted, median {np.median(predicted):.3f} m"
        parts.append(_figure(pictures.write(f"depth_{name}_predicted.png", colour), caption))
        colour = colourise_depth(sensor, spec["min_depth_m"])
        caption = f"sensor, median {np.median(sensor[sensor > 0]):.3f} m"
        parts.append(_figure(pictures.write(f"depth_{name}_sensor.png", colour), caption))
    return (
        f'<p class="note">Depth from one RGB image, trained self-supervised with the arm\'s '
        f"camera poses; {results['frames']} held-out frames against the sensor depth "
        "(near is bright, both pictures in the sensor's colours).</p>"
        + html_table(metrics_table(results))
        + "".join(parts)
    )


def _stages_section(stages: list[dict[str, Any]]) -> str:
    rows = [["stage", "seconds", "when", "result"]]
    for stage in stages:
        when = "this run" if stage.get("ran") else "earlier (skipped now)"
        rows.append([stage["name"], f"{stage['seconds']:.1f}", when, stage["lines"][-1]])
    total = sum(stage["seconds"] for stage in stages)
    return html_table(rows) + f"<p>Total: {total:.0f} s ({total / 60:.1f} minutes).</p>"


def write_report(out: Path, stages: list[dict[str, Any]], version: str) -> Path:
    """Write OUT/report.html from what OUT holds; `stages` as recorded in OUT/stages.json
    (name, seconds, lines, ran). Returns its path."""
    out = Path(out)
    pictures = _Pictures(out)
    builders = {
        "collect": _collect_section,
        "fuse": _fuse_section,
        "correspond": _correspond_section,
        "descriptors": _descriptors_section,
        "evaluation": _evaluation_section,
        "tracking": _tracking_section,
        "depth": _depth_section,
    }
    bodies = {"stages": _stages_section(stages)}
    bodies |= {key: build(out, pictures) for key, build in builders.items()}
    sections = "".join(
        f'<section id="{key}"><h2>{html.escape(SECTIONS[key])}</h2>{bodies[key]}</section>'
        for key in SECTIONS
    )
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>donkit demo report</title><style>{_STYLE}</style></head><body>"
        f'<h1>donkit demo report</h1><p class="note">donkit {html.escape(version)}, made '
        f"{made} from {html.escape(str(out))}.</p>{sections}</body></html>\n"
    )
    path = out / "report.html"
    write_bytes_atomic(path, page.encode())
    return path
