"""A self-contained HTML page to explore dense descriptors by hovering pixels.

Hover a pixel of one image: every other image shows a heatmap of descriptor distance to that
pixel's descriptor and a marker at its best match (the nearest descriptor over the whole image),
computed in the browser. One file, no network: images and descriptors are embedded, so it can be
mailed or opened from a run folder.

Descriptors are embedded quantized to uint8 with one affine map per dimension shared by all
images (4x smaller than float32). The page searches the dequantized values `low + code * scale`
in float64, with exactly the operations of `dequantize` and `best_match` in the same order, so its
best matches are bit for bit those of numpy, ties included (the first pixel in row-major order).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from formats import DonkitError
from formats.atomic import write_bytes_atomic
from formats.images import encode_rgb

DISPLAY_WIDTH_PX = 640  # images are shown at the integer zoom that brings them nearest this width
SIGMA_SHARE = 0.1  # heatmap scale: this share of the typical distance between two random pixels


def quantize(descriptors: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Descriptors of several images -> uint8 codes under one affine map per dimension.

    descriptors: per image a (D, H, W) float array, finite; D equal for all, H and W may differ.
    Returns codes (per image (D, H, W) uint8), low (D,) float64 and scale (D,) float64 with
    value ~= low + code * scale (error at most scale / 2). The map is shared so that codes compare
    across images; a dimension that is constant everywhere gets scale 1 and code 0.
    """
    _check_descriptors(descriptors)
    low = np.min([d.reshape(len(d), -1).min(axis=1) for d in descriptors], axis=0)
    high = np.max([d.reshape(len(d), -1).max(axis=1) for d in descriptors], axis=0)
    low = low.astype(np.float64)
    value_range = high.astype(np.float64) - low
    scale = np.where(value_range > 0, value_range / 255.0, 1.0)
    codes = [
        np.clip(np.rint((d - low[:, None, None]) / scale[:, None, None]), 0, 255).astype(np.uint8)
        for d in descriptors
    ]
    return codes, low, scale


def dequantize(codes: np.ndarray, low: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(D, H, W) uint8 codes, (D,) low and scale -> (D, H, W) float64 `low + code * scale`.

    The page computes exactly this (a product, then a sum, in float64) for every pixel.
    """
    return codes * scale[:, None, None] + low[:, None, None]


def best_match(query: np.ndarray, descriptors: np.ndarray) -> tuple[int, int]:
    """(u, v) of the pixel whose descriptor is nearest to `query` (Euclidean).

    query: (D,) descriptor; descriptors: (D, H, W) of one image. Computed in float64 with the
    squares summed one dimension after the other, the page's order, so that both round alike. Of
    equally near pixels the first in row-major order (smallest v * W + u) wins.
    """
    query = np.asarray(query, np.float64)
    descriptors = np.asarray(descriptors, np.float64)
    if query.shape != descriptors.shape[:1] or descriptors.ndim != 3:
        raise DonkitError(
            f"best_match needs a (D,) query and (D, H, W) descriptors; "
            f"got {query.shape} and {descriptors.shape}"
        )
    squared = np.zeros(descriptors.shape[1:], np.float64)
    for dimension in range(len(query)):
        difference = descriptors[dimension] - query[dimension]
        squared += difference * difference
    v, u = np.unravel_index(np.argmin(squared), squared.shape)  # argmin: first of ties
    return int(u), int(v)


def write_viewer(
    path: Path, images: list[np.ndarray], descriptors: list[np.ndarray], titles: list[str]
) -> None:
    """Write one self-contained HTML file showing `images` with their `descriptors`.

    images: per image (H, W, 3) uint8 RGB; descriptors: per image (D, H, W) float, the same D for
    all; titles: one caption per image. Each image is shown beside its first three quantized
    descriptor dimensions as RGB (shared quantization, so colours compare across images).
    """
    if not len(images) == len(descriptors) == len(titles):
        raise DonkitError(
            f"write_viewer needs one descriptor array and one title per image; got "
            f"{len(images)} images, {len(descriptors)} descriptor arrays and {len(titles)} titles"
        )
    _check_descriptors(descriptors)
    for index, (image, described) in enumerate(zip(images, descriptors, strict=True)):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise DonkitError(
                f"image {index} must be (H, W, 3) uint8 RGB; got {image.dtype} {image.shape}"
            )
        if image.shape[:2] != described.shape[1:]:
            raise DonkitError(
                f"image {index} is {image.shape[:2]} (H, W) but its descriptors are "
                f"{described.shape} (D, H, W); pass the descriptors of that image"
            )
    codes, low, scale = quantize(descriptors)
    page_data = {
        "low": low.tolist(),
        "scale": scale.tolist(),
        "sigma": _heatmap_sigma(codes, low, scale),
        "images": [
            {
                "title": str(title),
                "width": image.shape[1],
                "height": image.shape[0],
                "zoom": max(1, round(DISPLAY_WIDTH_PX / image.shape[1])),
                "rgb": _png_base64(image),
                "descriptorRgb": _png_base64(_first_three(code)),
                # (H, W, D): one pixel's descriptor is contiguous, as the page reads it.
                "codes": base64.b64encode(code.transpose(1, 2, 0).tobytes()).decode("ascii"),
            }
            for image, code, title in zip(images, codes, titles, strict=True)
        ],
    }
    # "<" escaped so that no title can close the <script> element that holds the data.
    embedded = json.dumps(page_data).replace("<", "\\u003c")
    write_bytes_atomic(Path(path), _PAGE.replace("__DATA__", embedded).encode("utf-8"))


def _check_descriptors(descriptors: list[np.ndarray]) -> None:
    if len(descriptors) == 0:
        raise DonkitError("no descriptors given; pass at least one (D, H, W) array")
    for index, described in enumerate(descriptors):
        if described.ndim != 3 or described.size == 0:
            raise DonkitError(f"descriptors {index} must be (D, H, W); got {described.shape}")
        if described.shape[0] != descriptors[0].shape[0]:
            raise DonkitError(
                f"descriptors {index} have D = {described.shape[0]} but the first have "
                f"D = {descriptors[0].shape[0]}; all images need descriptors of one network"
            )
        if not np.isfinite(described).all():
            raise DonkitError(f"descriptors {index} hold NaN or infinite values")


def _heatmap_sigma(codes: list[np.ndarray], low: np.ndarray, scale: np.ndarray) -> float:
    """A tenth of the RMS distance between two random pixels: nearby descriptors glow, the
    rest fades, whatever the descriptors' units."""
    values = np.concatenate([dequantize(c, low, scale).reshape(len(low), -1) for c in codes], 1)
    typical = float(np.sqrt(2.0 * values.var(axis=1).sum()))
    return SIGMA_SHARE * typical if typical > 0 else 1.0


def _first_three(codes: np.ndarray) -> np.ndarray:
    """(D, H, W) uint8 codes -> (H, W, 3) uint8 RGB of dimensions 0-2 (zeros where D < 3)."""
    rgb = np.zeros((*codes.shape[1:], 3), np.uint8)
    shown = min(3, len(codes))
    rgb[..., :shown] = codes[:shown].transpose(1, 2, 0)
    return rgb


def _png_base64(rgb: np.ndarray) -> str:
    return base64.b64encode(encode_rgb(rgb)).decode("ascii")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>donkit descriptors</title>
<style>
  body { font: 14px sans-serif; margin: 12px; background: #222; color: #eee; }
  #grid { display: flex; flex-wrap: wrap; gap: 16px; }
  figure { margin: 0; }
  .panes { display: flex; gap: 4px; }
  .pane { position: relative; line-height: 0; }
  .pane img { image-rendering: pixelated; }
  .pane canvas { position: absolute; left: 0; top: 0; }
  .pane canvas.markers { cursor: crosshair; }
  figcaption { margin: 4px 0; }
</style>
</head>
<body>
<p>Hover a pixel: the other images show descriptor distance to it (bright = near) and its best
match (circle). Right of each image: its first three descriptor dimensions as RGB.</p>
<div id="grid"></div>
<script type="application/json" id="donkit-data">__DATA__</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("donkit-data").textContent);
const dims = data.low.length;
const viewer = { lastHover: null, lastBestMatches: [], hover: hover };
window.donkitViewer = viewer;

function makePane(parent, view, pngBase64, withHeat) {
  const width = view.width * view.zoom, height = view.height * view.zoom;
  const pane = parent.appendChild(document.createElement("div"));
  pane.className = "pane";
  const img = pane.appendChild(document.createElement("img"));
  img.src = "data:image/png;base64," + pngBase64;
  img.width = width;
  img.height = height;
  const layers = withHeat ? ["heat", "markers"] : ["markers"];
  const canvases = layers.map((name) => {
    const canvas = pane.appendChild(document.createElement("canvas"));
    canvas.className = name;
    canvas.width = width;
    canvas.height = height;
    return canvas;
  });
  const markers = canvases[canvases.length - 1];
  // Pixel from the offset in CSS pixels, so any zoom or CSS scaling maps back exactly.
  markers.addEventListener("mousemove", (event) => {
    const u = Math.floor((event.offsetX * view.width) / markers.clientWidth);
    const v = Math.floor((event.offsetY * view.height) / markers.clientHeight);
    hover(view.index, clamp(u, view.width), clamp(v, view.height));
  });
  if (withHeat) view.heat = canvases[0];
  view.markers.push(markers);
}

function clamp(value, size) {
  return Math.min(size - 1, Math.max(0, value));
}

const views = data.images.map((image, index) => {
  const codes = Uint8Array.from(atob(image.codes), (c) => c.charCodeAt(0));
  // Dequantized as descriptors.viewer.dequantize does: code * scale, then + low, in float64.
  const values = new Float64Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const k = i % dims;
    values[i] = codes[i] * data.scale[k] + data.low[k];
  }
  const view = { index, width: image.width, height: image.height, zoom: image.zoom, values,
                 markers: [] };
  const figure = document.getElementById("grid").appendChild(document.createElement("figure"));
  figure.className = "donkit-image";
  figure.dataset.index = index;
  figure.appendChild(document.createElement("figcaption")).textContent = image.title;
  const panes = figure.appendChild(document.createElement("div"));
  panes.className = "panes";
  makePane(panes, view, image.rgb, true);
  makePane(panes, view, image.descriptorRgb, false);
  view.info = figure.appendChild(document.createElement("div"));
  view.info.className = "info";
  view.figure = figure;
  return view;
});

// Squared distances in the order of descriptors.viewer.best_match (dimension by dimension).
function squaredDistances(query, view) {
  const pixels = view.width * view.height;
  const squared = new Float64Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let sum = 0;
    for (let k = 0; k < dims; k++) {
      const difference = view.values[p * dims + k] - query[k];
      sum += difference * difference;
    }
    squared[p] = sum;
  }
  return squared;
}

function drawHeat(view, squared) {
  const context = view.heat.getContext("2d");
  context.clearRect(0, 0, view.heat.width, view.heat.height);
  if (squared === null) return;
  const small = document.createElement("canvas");
  small.width = view.width;
  small.height = view.height;
  const smallContext = small.getContext("2d");
  const pixels = smallContext.createImageData(view.width, view.height);
  for (let p = 0; p < squared.length; p++) {
    const heat = Math.exp(-Math.sqrt(squared[p]) / data.sigma);
    pixels.data[4 * p] = 255;
    pixels.data[4 * p + 1] = Math.round(255 * heat);
    pixels.data[4 * p + 2] = 0;
    pixels.data[4 * p + 3] = Math.round(210 * heat);
  }
  smallContext.putImageData(pixels, 0, 0);
  context.imageSmoothingEnabled = false;
  context.drawImage(small, 0, 0, view.heat.width, view.heat.height);
}

function drawMarker(view, u, v, isBestMatch) {
  for (const canvas of view.markers) {
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    const x = (u + 0.5) * view.zoom, y = (v + 0.5) * view.zoom;
    const radius = Math.max(6, 1.5 * view.zoom);
    for (const [colour, lineWidth] of [["black", 4], [isBestMatch ? "cyan" : "white", 2]]) {
      context.strokeStyle = colour;
      context.lineWidth = lineWidth;
      context.beginPath();
      if (isBestMatch) {
        context.arc(x, y, radius, 0, 2 * Math.PI);
      }
      context.moveTo(x - radius, y);
      context.lineTo(x + radius, y);
      context.moveTo(x, y - radius);
      context.lineTo(x, y + radius);
      context.stroke();
    }
  }
}

function hover(source, u, v) {
  const last = viewer.lastHover;
  if (last && last.image === source && last.u === u && last.v === v) return;
  const start = (v * views[source].width + u) * dims;
  const query = views[source].values.subarray(start, start + dims);
  const matches = [];
  for (const view of views) {
    const dataset = view.figure.dataset;
    if (view.index === source) {
      drawHeat(view, null);
      drawMarker(view, u, v, false);
      delete dataset.bestU;
      delete dataset.bestV;
      dataset.hoverU = u;
      dataset.hoverV = v;
      view.info.textContent = "hovered (" + u + ", " + v + ")";
      continue;
    }
    const squared = squaredDistances(query, view);
    let best = 0;
    for (let p = 1; p < squared.length; p++) {
      if (squared[p] < squared[best]) best = p;  // strict: the first of ties, like np.argmin
    }
    const match = { image: view.index, u: best % view.width,
                    v: Math.floor(best / view.width), distance: Math.sqrt(squared[best]) };
    matches.push(match);
    drawHeat(view, squared);
    drawMarker(view, match.u, match.v, true);
    delete dataset.hoverU;
    delete dataset.hoverV;
    dataset.bestU = match.u;
    dataset.bestV = match.v;
    view.info.textContent = "best match (" + match.u + ", " + match.v + "), distance " +
      match.distance.toPrecision(3);
  }
  viewer.lastHover = { image: source, u, v };
  viewer.lastBestMatches = matches;
}
</script>
</body>
</html>
"""
