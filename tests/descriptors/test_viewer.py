"""The descriptor viewer: quantization and best match by hand, then the page in real Chromium."""

import time

import numpy as np
import pytest

from descriptors.viewer import best_match, dequantize, quantize, write_viewer
from formats import DonkitError

HEIGHT, WIDTH = 48, 64
# Image j sees the world point (u + du, v + dv) at its pixel (u, v): the true match of a world
# point in image j is that point minus image j's shift.
SHIFTS = [(0, 0), (5, 3), (2, 6)]


def test_quantize_shares_one_map_per_dimension_across_images():
    first = np.array([[[-1.0, 1.0]], [[5.0, 5.0]]], np.float32)  # (D=2, H=1, W=2)
    second = np.array([[[0.0, 4.1]], [[5.0, 5.0]]], np.float32)
    codes, low, scale = quantize([first, second])
    # Dimension 0 spans [-1, 4.1] over both images: steps of 5.1 / 255 = 0.02.
    np.testing.assert_allclose(low, [-1.0, 5.0], atol=1e-6)
    np.testing.assert_allclose(scale, [0.02, 1.0], atol=1e-7)  # constant dimension: scale 1
    np.testing.assert_array_equal(codes[0], [[[0, 100]], [[0, 0]]])
    np.testing.assert_array_equal(codes[1], [[[50, 255]], [[0, 0]]])
    assert all(c.dtype == np.uint8 for c in codes)


def test_dequantize_is_within_half_a_step():
    rng = np.random.default_rng(0)
    descriptors = [rng.normal(size=(4, 5, 6)).astype(np.float32) * [[[1]], [[10]], [[0.1]], [[3]]]]
    codes, low, scale = quantize(descriptors)
    error = np.abs(dequantize(codes[0], low, scale) - descriptors[0])
    assert (error <= scale[:, None, None] / 2 + 1e-6).all()


def test_best_match_is_the_nearest_pixel_as_u_v():
    descriptors = np.full((2, 2, 3), 10.0)  # (D=2, H=2, W=3)
    descriptors[:, 1, 2] = [1.0, 1.0]  # u=2, v=1: squared distance 0.25 + 0.25 = 0.5
    descriptors[:, 0, 1] = [0.0, 3.0]  # u=1, v=0: squared distance 0.25 + 2.25 = 2.5
    assert best_match(np.array([0.5, 1.5]), descriptors) == (2, 1)


def test_best_match_tie_goes_to_the_first_pixel_in_row_major_order():
    descriptors = np.full((2, 2, 3), 10.0)
    descriptors[:, 1, 0] = [-1.0, 0.0]  # u=0, v=1: index 3, distance 1
    descriptors[:, 0, 2] = [1.0, 0.0]  # u=2, v=0: index 2, distance 1
    assert best_match(np.zeros(2), descriptors) == (2, 0)


def test_best_match_rejects_a_query_of_another_dimension():
    with pytest.raises(DonkitError, match=r"\(D,\) query.*got \(3,\) and \(2, 2, 3\)"):
        best_match(np.zeros(3), np.zeros((2, 2, 3)))


@pytest.mark.parametrize(
    ("images", "descriptors", "titles", "message"),
    [
        ([np.zeros((4, 5, 3), np.uint8)], [], ["a"], r"1 images, 0 descriptor arrays and 1"),
        ([np.zeros((4, 5, 3), np.uint8)], [np.zeros((2, 4, 6))], ["a"], r"image 0 is \(4, 5\)"),
        ([np.zeros((4, 5), np.uint8)], [np.zeros((2, 4, 5))], ["a"], r"\(H, W, 3\) uint8"),
        ([np.zeros((4, 5, 3))], [np.zeros((2, 4, 5))], ["a"], r"got float64 \(4, 5, 3\)"),
        (
            [np.zeros((4, 5, 3), np.uint8)] * 2,
            [np.zeros((2, 4, 5)), np.zeros((3, 4, 5))],
            ["a", "b"],
            r"descriptors 1 have D = 3 but the first have D = 2",
        ),
        ([np.zeros((4, 5, 3), np.uint8)], [np.full((2, 4, 5), np.nan)], ["a"], r"NaN"),
    ],
)
def test_write_viewer_rejects_bad_input(tmp_path, images, descriptors, titles, message):
    with pytest.raises(DonkitError, match=message):
        write_viewer(tmp_path / "viewer.html", images, descriptors, titles)
    assert not (tmp_path / "viewer.html").exists()


def test_write_viewer_page_is_self_contained(tmp_path):
    images = [np.zeros((4, 5, 3), np.uint8)] * 2
    descriptors = [np.zeros((2, 4, 5), np.float32), np.ones((2, 4, 5), np.float32)]
    path = tmp_path / "viewer.html"
    write_viewer(path, images, descriptors, ["plain", "</script><b>bold"])
    page = path.read_text("utf-8")
    assert "http" not in page and "<link" not in page and "src=" not in page
    assert page.count("</script>") == 2  # a title cannot end the data block early
    assert "\\u003c/script>\\u003cb>bold" in page


def scene() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Three random RGB images; descriptors (4, H, W): the world point (u + du, v + dv) that the
    pixel sees, then two dimensions of noise below 0.3, so that the true match is the only pixel
    with equal first dimensions and nearer than any neighbour (one step away in a coordinate)."""
    rng = np.random.default_rng(7)
    v, u = np.mgrid[:HEIGHT, :WIDTH]
    images, descriptors = [], []
    for du, dv in SHIFTS:
        images.append(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))
        noise = 0.3 * rng.random((2, HEIGHT, WIDTH))
        descriptors.append(np.concatenate([[u + du, v + dv], noise]).astype(np.float32))
    return images, descriptors


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory: pytest.TempPathFactory):
    """The viewer of `scene()` loaded in the browser; yields (driver, dequantized descriptors)."""
    images, descriptors = scene()
    path = tmp_path_factory.mktemp("viewer") / "viewer.html"
    write_viewer(path, images, descriptors, ["zero", "one", "two"])
    browser.get(path.as_uri())
    assert browser.execute_script("return window.donkitViewer.lastHover") is None
    codes, low, scale = quantize(descriptors)
    return browser, [dequantize(c, low, scale) for c in codes]


def hover(driver, image: int, pane: int, u: int, v: int) -> dict:
    """Move the real mouse onto the centre of pixel (u, v) of one pane (0 RGB, 1 descriptors) of
    an image; returns the page's window.donkitViewer.lastHover once it has changed."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    panes = driver.find_elements(By.CSS_SELECTOR, f'figure[data-index="{image}"] canvas.markers')
    target = panes[pane]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", target)
    size = target.size
    zoom = size["width"] / WIDTH
    # Selenium 4 offsets are from the element's centre.
    dx = round((u + 0.5) * zoom - size["width"] / 2)
    dy = round((v + 0.5) * zoom - size["height"] / 2)
    ActionChains(driver, duration=0).move_to_element_with_offset(target, dx, dy).perform()
    expected = {"image": image, "u": u, "v": v}
    deadline = time.monotonic() + 5.0
    hovered = driver.execute_script("return window.donkitViewer.lastHover")
    while hovered != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        hovered = driver.execute_script("return window.donkitViewer.lastHover")
    return hovered


HEAT_AT = """
const [image, u, v, width] = arguments;
const canvas = document.querySelector(`figure[data-index="${image}"] canvas.heat`);
const rgba = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let max = 0;
for (let i = 3; i < rgba.length; i += 4) max = Math.max(max, rgba[i]);
const zoom = canvas.width / width;
const x = Math.floor((u + 0.5) * zoom), y = Math.floor((v + 0.5) * zoom);
return { max: max, atPixel: rgba[4 * (y * canvas.width + x) + 3] };
"""


@pytest.mark.parametrize(
    ("image", "pane", "u", "v"),
    [(0, 0, 20, 15), (0, 0, 63, 47), (0, 1, 6, 7), (2, 1, 40, 20)],
    ids=["image0-centre", "image0-last-pixel", "image0-descriptor-pane", "image2-descriptor-pane"],
)
def test_hovering_shows_the_numpy_best_match_in_every_other_image(page, image, pane, u, v):
    driver, dequantized = page
    assert hover(driver, image, pane, u, v) == {"image": image, "u": u, "v": v}
    matches = driver.execute_script("return window.donkitViewer.lastBestMatches")
    others = [j for j in range(len(SHIFTS)) if j != image]
    assert [m["image"] for m in matches] == others
    world = np.add((u, v), SHIFTS[image])
    for match in matches:
        j = match["image"]
        expected = best_match(dequantized[image][:, v, u], dequantized[j])
        assert (match["u"], match["v"]) == expected
        assert expected == tuple(world - SHIFTS[j])  # the true match, known by construction
        figure = driver.find_element("css selector", f'figure[data-index="{j}"]')
        best_u, best_v = figure.get_attribute("data-best-u"), figure.get_attribute("data-best-v")
        assert (int(best_u), int(best_v)) == expected
        # The heat is brightest at the best match (alpha is monotonic in distance).
        heat = driver.execute_script(HEAT_AT, j, *expected, WIDTH)
        assert heat["max"] > 0
        assert heat["atPixel"] == heat["max"]
    assert driver.execute_script(HEAT_AT, image, u, v, WIDTH)["max"] == 0  # no heat where hovered
