import cv2
import numpy as np
import pytest

from tests.sim_assets.checks import hue_distance_deg, mean_hue_deg
from textures import make_background, make_texture, palette_around


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    return make_texture(11, 512, 768)


@pytest.mark.parametrize("height, width", [(512, 768), (37, 53)])
def test_make_texture_shape_and_dtype(height, width):
    image = make_texture(3, height, width)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8


def test_same_seed_same_bytes():
    palette = palette_around((200, 30, 35), seed=1)
    np.testing.assert_array_equal(make_texture(5, 96, 128), make_texture(5, 96, 128))
    np.testing.assert_array_equal(
        make_texture(5, 96, 128, palette), make_texture(5, 96, 128, palette)
    )
    np.testing.assert_array_equal(make_background(5, 96, 128), make_background(5, 96, 128))


def test_different_seeds_differ():
    a, b = make_texture(1, 128, 192), make_texture(2, 128, 192)
    assert np.mean(np.any(a != b, axis=-1)) > 0.9
    c, d = make_background(1, 128, 192), make_background(2, 128, 192)
    assert np.mean(np.any(c != d, axis=-1)) > 0.9


def test_no_repetition_at_fine_scale(texture):
    """A 32x32 patch correlates > 0.99 with the texture only at (within 1 px of) its own place."""
    rng = np.random.default_rng(0)
    height, width = texture.shape[:2]
    for _ in range(12):
        row, col = rng.integers(0, height - 32), rng.integers(0, width - 32)
        ncc = cv2.matchTemplate(
            texture, texture[row : row + 32, col : col + 32], cv2.TM_CCOEFF_NORMED
        )
        assert ncc[row, col] > 0.999
        rows, cols = np.nonzero(ncc > 0.99)
        assert np.max(np.maximum(np.abs(rows - row), np.abs(cols - col))) <= 1


def test_no_repetition_at_coarse_scale(texture):
    """Features exist at coarser scales too: at a quarter of the resolution, 16x16 patches
    (64x64 texels of the original) still match only their own place."""
    small = cv2.resize(texture, (192, 128), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(1)
    for _ in range(12):
        row, col = rng.integers(0, 128 - 16), rng.integers(0, 192 - 16)
        ncc = cv2.matchTemplate(small, small[row : row + 16, col : col + 16], cv2.TM_CCOEFF_NORMED)
        rows, cols = np.nonzero(ncc > 0.95)
        assert np.max(np.maximum(np.abs(rows - row), np.abs(cols - col))) <= 1


def test_texture_is_not_flat(texture):
    """Contrast everywhere: the local standard deviation in 32x32 windows is rarely tiny."""
    gray = cv2.cvtColor(texture, cv2.COLOR_RGB2GRAY).astype(np.float64)
    mean = cv2.blur(gray, (32, 32))
    local_std = np.sqrt(np.maximum(cv2.blur(gray**2, (32, 32)) - mean**2, 0.0))
    assert np.mean(local_std < 5.0) < 0.01


@pytest.mark.parametrize(
    "base_rgb, hue_deg", [((200, 30, 35), 0), ((30, 70, 200), 225), ((40, 160, 60), 130)]
)
def test_palette_sets_the_mean_hue(base_rgb, hue_deg):
    expected = mean_hue_deg(np.asarray([[base_rgb]], np.uint8))
    assert hue_distance_deg(expected, hue_deg) < 10  # the reference hue itself, via cv2
    image = make_texture(4, 256, 384, palette_around(base_rgb, seed=4))
    assert hue_distance_deg(mean_hue_deg(image), expected) < 20


def test_palette_around_stays_near_the_base_hue():
    colours = palette_around((30, 70, 200), seed=9, count=6)
    assert colours.shape == (6, 3) and colours.min() >= 0 and colours.max() <= 255
    hues = [mean_hue_deg(np.clip(c, 0, 255).astype(np.uint8)[None, None]) for c in colours]
    base = mean_hue_deg(np.asarray([[[30, 70, 200]]], np.uint8))
    assert max(hue_distance_deg(h, base) for h in hues) < 17


def test_backgrounds_vary_in_character():
    """Different seeds give different palettes and styles, not only shifted noise."""
    means = np.array([make_background(s, 64, 96).reshape(-1, 3).mean(axis=0) for s in range(8)])
    assert np.ptp(means, axis=0).min() > 40


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least 8x8"):
        make_texture(0, 4, 100)
    with pytest.raises(ValueError, match=r"\(K, 3\)"):
        make_texture(0, 32, 32, palette=np.zeros((3, 4)))
