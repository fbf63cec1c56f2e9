"""Seeded procedural textures: rich, non-repeating images for objects, tables and backgrounds.

A dense-descriptor network learns to tell every visible surface point apart, so an object texture
must be distinctive at every scale and must never repeat: smooth multi-octave value noise through
a palette gives large regions, cv2 shapes and glyphs (like product packaging) give edges and
corners from a few pixels to a quarter of the image, and a fine grain breaks up flat areas.

Every function takes a seed and draws from its own `numpy.random.Generator`: the same arguments
give the same bytes on every call and in every process.
"""

import colorsys

import cv2
import numpy as np

# Cell sizes (pixels) of the value-noise octaves: from a few large blobs down to fine mottling.
_NOISE_CELLS_PX = (192, 96, 48, 24, 12, 6)
# About one drawn shape per this many pixels: ~200 shapes on a 768x512 texture.
_PIXELS_PER_SHAPE = 2000
_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_ITALIC | cv2.FONT_HERSHEY_SIMPLEX,
)
_GLYPHS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789%&#@+"
_PALETTE_LEVELS = 1024


def make_texture(
    seed: int, height: int, width: int, palette: np.ndarray | None = None
) -> np.ndarray:
    """A rich, non-repeating texture, deterministic from `seed`.

    Args:
        seed: any non-negative int; the same seed gives the same bytes.
        height, width: image size in pixels.
        palette: (K, 3) RGB colours in [0, 255] (K >= 2) the texture is made of, e.g. from
            `palette_around`; None draws a random palette of 3-6 colours from the seed.

    Returns:
        (height, width, 3) uint8 RGB.
    """
    _check_size(height, width)
    rng = np.random.default_rng(seed)
    colours = _random_palette(rng) if palette is None else _check_palette(palette)

    # Base: palette gradient driven by smooth noise, times a second noise field as shading.
    image = _palette_lookup(colours, _value_noise(rng, height, width))
    shading = 0.8 + 0.4 * _value_noise(rng, height, width)
    image = _to_uint8(image * shading[..., None])
    _draw_shapes(rng, image, colours, count=max(8, height * width // _PIXELS_PER_SHAPE))
    return _add_grain(rng, image, sigma=7.0)


def make_background(seed: int, height: int, width: int) -> np.ndarray:
    """A random background or table/floor texture, deterministic from `seed`.

    Unlike `make_texture` it picks one of several material-like styles (warped stripes like wood,
    a warped checker like tiles, thresholded blobs, plain noise) with a random palette and fewer
    shapes, so that backgrounds vary in character between seeds, not only in colour.

    Returns:
        (height, width, 3) uint8 RGB.
    """
    _check_size(height, width)
    rng = np.random.default_rng(seed)
    colours = _random_palette(rng)
    style = rng.integers(4)
    noise = _value_noise(rng, height, width)
    warp = _value_noise(rng, height, width) - 0.5
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0.0, np.pi)
    along = cols * np.cos(angle) + rows * np.sin(angle)
    across = -cols * np.sin(angle) + rows * np.cos(angle)
    period_px = rng.uniform(12.0, 60.0)
    if style == 0:  # wood-like: stripes bent by the noise, so no two stripes are alike
        field = 0.5 + 0.5 * np.sin(2 * np.pi * along / period_px + 8.0 * warp)
        field = 0.6 * field + 0.4 * noise
    elif style == 1:  # tiles: a checker whose squares are bent and shaded individually
        phase = 2 * np.pi / (3 * period_px)
        check = np.sin(phase * along + 4.0 * warp) * np.sin(phase * across - 4.0 * warp)
        field = 0.65 * (check > 0) + 0.35 * noise
    elif style == 2:  # blobs: thresholded noise, like terrazzo or camouflage
        field = np.floor(noise * len(colours)) / max(1, len(colours) - 1)
        field = 0.8 * np.clip(field, 0.0, 1.0) + 0.2 * (warp + 0.5)
    else:
        field = noise
    image = _palette_lookup(colours, field)
    image = _to_uint8(image * (0.85 + 0.3 * _value_noise(rng, height, width))[..., None])
    _draw_shapes(rng, image, colours, count=int(rng.integers(0, height * width // 6000 + 1)))
    return _add_grain(rng, image, sigma=5.0)


def palette_around(base_rgb: tuple[int, int, int], seed: int, count: int = 5) -> np.ndarray:
    """`count` colours close to `base_rgb` in hue, varied in saturation and brightness.

    Used for an instance's own texture so that `mug_red` is mostly red: hues stay within
    +-15 deg of the base hue, and one dark and one light shade of it give contrast.

    Returns:
        (count, 3) float64 RGB in [0, 255].
    """
    if count < 3:
        raise ValueError(f"count must be >= 3, got {count}")
    rng = np.random.default_rng(seed)
    hue, saturation, value = colorsys.rgb_to_hsv(*(np.asarray(base_rgb, np.float64) / 255.0))
    hsv = [
        (hue + rng.uniform(-15, 15) / 360.0, saturation * rng.uniform(0.7, 1.0), value)
        for _ in range(count - 2)
    ]
    hsv.append((hue, saturation, value * 0.35))  # dark shade
    hsv.append((hue, saturation * 0.45, min(1.0, value * 1.25)))  # light shade
    rgb = [
        colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
        for h, s, v in hsv
    ]
    return np.asarray(rgb, np.float64) * 255.0


def _check_size(height: int, width: int) -> None:
    if height < 8 or width < 8:
        raise ValueError(f"texture size must be at least 8x8 pixels, got {height}x{width}")


def _check_palette(palette: np.ndarray) -> np.ndarray:
    colours = np.asarray(palette, np.float64)
    if colours.ndim != 2 or colours.shape[1] != 3 or colours.shape[0] < 2:
        raise ValueError(f"palette must be (K, 3) RGB with K >= 2, got shape {colours.shape}")
    return np.clip(colours, 0.0, 255.0)


def _random_palette(rng: np.random.Generator) -> np.ndarray:
    """3-6 colours of random hue, saturation and brightness: (K, 3) float64 RGB in [0, 255]."""
    count = int(rng.integers(3, 7))
    hsv = np.column_stack(
        [rng.uniform(0, 1, count), rng.uniform(0.2, 1.0, count), rng.uniform(0.25, 1.0, count)]
    )
    return np.asarray([colorsys.hsv_to_rgb(*c) for c in hsv], np.float64) * 255.0


def _value_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Multi-octave value noise: (height, width) float64 rescaled to [0, 1].

    Each octave is a grid of random values upsampled with bicubic interpolation; octaves with
    larger cells get larger amplitudes, so the result has blobs at every scale and no period.
    """
    total = np.zeros((height, width), np.float32)
    for cell_px in _NOISE_CELLS_PX:
        grid = rng.uniform(-1.0, 1.0, (height // cell_px + 2, width // cell_px + 2))
        octave = cv2.resize(grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
        total += octave * np.float32((cell_px / _NOISE_CELLS_PX[0]) ** 0.6)
    low, high = total.min(), total.max()
    return (total - low) / max(high - low, 1e-12)


def _palette_lookup(colours: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Map a [0, 1] field through a piecewise-linear gradient of `colours`: (H, W, 3) float32.

    Through a 1024-entry table (a step of 0.1 % of the field), ten times faster than
    interpolating every pixel."""
    stops = np.linspace(0.0, 1.0, len(colours))
    levels = np.linspace(0.0, 1.0, _PALETTE_LEVELS)
    table = np.stack([np.interp(levels, stops, colours[:, c]) for c in range(3)], axis=-1)
    index = np.rint(np.clip(field, 0.0, 1.0) * (_PALETTE_LEVELS - 1)).astype(np.intp)
    return table.astype(np.float32)[index]


def _draw_shapes(
    rng: np.random.Generator, image: np.ndarray, colours: np.ndarray, count: int
) -> None:
    """Draw `count` random shapes and glyphs into `image` ((H, W, 3) uint8, in place).

    Sizes are log-uniform from 3 px to a quarter of the image and drawn largest first, so small
    features stay visible on top of large ones: every scale has edges and corners.
    """
    height, width = image.shape[:2]
    sizes = np.sort(np.exp(rng.uniform(np.log(3.0), np.log(max(height, width) / 4.0), count)))
    for size in sizes[::-1]:
        colour = _shape_colour(rng, colours)
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        thickness = int(rng.integers(1, max(2, int(size / 6)) + 1))
        kind = rng.integers(6)
        if kind == 0:  # filled ellipse
            axes = (max(1, int(size)), max(1, int(size * rng.uniform(0.2, 1.0))))
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(image, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
        elif kind == 1:  # filled or outlined rotated rectangle
            box = cv2.boxPoints(
                (centre, (size * 2, size * rng.uniform(0.3, 2.0)), rng.uniform(0, 90))
            )
            fill = -1 if rng.random() < 0.6 else thickness
            cv2.drawContours(image, [np.round(box).astype(np.int32)], 0, colour, fill, cv2.LINE_AA)
        elif kind == 2:  # polyline: a random walk, like a signature or a drawn logo
            steps = rng.normal(0.0, size / 2.0, (int(rng.integers(3, 9)), 2))
            points = np.round(np.asarray(centre) + np.cumsum(steps, axis=0)).astype(np.int32)
            cv2.polylines(image, [points], bool(rng.random() < 0.3), colour, thickness, cv2.LINE_AA)
        elif kind == 3:  # thick straight line
            angle = rng.uniform(0, 2 * np.pi)
            delta = np.round(size * 1.5 * np.array([np.cos(angle), np.sin(angle)])).astype(int)
            end = (centre[0] + int(delta[0]), centre[1] + int(delta[1]))
            cv2.line(image, centre, end, colour, thickness, cv2.LINE_AA)
        elif kind == 4:  # ring
            cv2.circle(image, centre, max(1, int(size)), colour, thickness, cv2.LINE_AA)
        else:  # glyphs, like the lettering on packaging
            text = "".join(rng.choice(list(_GLYPHS), int(rng.integers(1, 6))))
            font = int(rng.choice(_FONTS))
            scale = max(0.3, size / 22.0)
            weight = int(rng.integers(1, max(2, int(scale * 2.5)) + 1))
            cv2.putText(image, text, centre, font, scale, colour, weight, cv2.LINE_AA)


def _shape_colour(rng: np.random.Generator, colours: np.ndarray) -> tuple[float, float, float]:
    """Mostly a palette colour, brightened or darkened; sometimes near-black or near-white ink."""
    draw = rng.random()
    if draw < 0.1:
        colour = np.full(3, rng.uniform(0, 40))
    elif draw < 0.18:
        colour = np.full(3, rng.uniform(215, 255))
    else:
        colour = colours[rng.integers(len(colours))] * rng.uniform(0.6, 1.3)
    return tuple(float(c) for c in np.clip(colour, 0, 255))


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip to (H, W, 3) uint8; cv2 anti-aliases only on 8-bit images."""
    image = np.rint(image.astype(np.float32, copy=False))
    return np.clip(image, 0, 255, out=image).astype(np.uint8)


def _add_grain(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Add fine luminance and colour grain of standard deviation about `sigma` to (H, W, 3)
    uint8: (H, W, 3) uint8.

    The grain is uniform rather than Gaussian (nobody can tell), drawn as random bytes: five
    times faster, which matters for the large table textures made for every scene.
    """
    height, width = image.shape[:2]

    def uniform(channels: int, std: float) -> np.ndarray:
        values = np.frombuffer(rng.bytes(height * width * channels), np.uint8)
        values = values.reshape(height, width, channels).astype(np.float32)
        return (values - np.float32(127.5)) * np.float32(std * np.sqrt(12.0) / 256.0)

    return _to_uint8(image + uniform(1, sigma) + uniform(3, sigma / 3))
