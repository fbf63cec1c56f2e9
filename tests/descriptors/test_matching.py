"""Best matches of descriptors in a descriptor image, and their sub-pixel refinement, on images
whose answers are known."""

import numpy as np
import pytest
import torch

from descriptors.matching import FrameMatcher, parabola_vertex, quadratic_vertex
from tests.descriptors.test_evaluate import coordinate_descriptors

NOWHERE = float("nan")


def scaled_coordinates(height: int, width: int, scale_u: float, scale_v: float) -> torch.Tensor:
    """(2, H, W) float64: each pixel's (u, v) times a constant per axis."""
    return coordinate_descriptors(height, width) * torch.tensor([scale_u, scale_v])[:, None, None]


@pytest.mark.parametrize("scales", [(0.05, 0.05), (0.05, 0.2)])
def test_quadratic_refinement_recovers_points_exactly_where_descriptors_are_linear(scales):
    scale_u, scale_v = scales
    descriptors = scaled_coordinates(20, 30, scale_u, scale_v)
    truth = torch.tensor([[10.3, 5.7], [3.8, 12.2], [25.6, 1.4]], dtype=torch.float64)
    queries = truth * torch.tensor([scale_u, scale_v])  # the descriptors of the points
    xy, distance = FrameMatcher(descriptors).match(queries)
    # ||q - d(u, v)||^2 = su^2 (u - u*)^2 + sv^2 (v - v*)^2 is exactly the quadratic surface
    # fitted to the 3 x 3 samples, whose minimum is the point itself. Only rounding remains:
    # float64 squared distances of about 2 carry errors of ~1e-15 against a curvature of
    # 2 su^2 = 5e-3, which move the vertex by ~1e-12 px.
    np.testing.assert_allclose(xy.numpy(), truth.numpy(), atol=1e-9)
    assert xy.dtype == torch.float64
    nearest = truth.round()  # no point is halfway between pixels: the nearest pixel is unique
    offset = (truth - nearest) * torch.tensor([scale_u, scale_v])
    # The distance is to the best pixel, not to the refined point.
    np.testing.assert_allclose(distance.numpy(), offset.norm(dim=1).numpy(), atol=1e-9)
    pixel, pixel_distance = FrameMatcher(descriptors).match(queries, refine="none")
    np.testing.assert_array_equal(pixel.numpy(), nearest.numpy())
    np.testing.assert_allclose(pixel_distance.numpy(), distance.numpy(), atol=1e-12)


def test_quadratic_refinement_is_exact_for_linear_descriptors_with_a_cross_term():
    # d(u, v) = (u + 0.5 v, v): ||q - d||^2 has a u-v term, so parabolas along each axis miss
    # the minimum ((10.3, 5.7) comes out as (10.15, 5.82)), but the fitted surface is exact.
    base = coordinate_descriptors(20, 30)
    descriptors = torch.stack([base[0] + 0.5 * base[1], base[1]])
    truth = torch.tensor([[10.3, 5.7], [3.2, 7.9]], dtype=torch.float64)
    queries = torch.stack([truth[:, 0] + 0.5 * truth[:, 1], truth[:, 1]], dim=1)
    xy, _ = FrameMatcher(descriptors).match(queries)
    np.testing.assert_allclose(xy.numpy(), truth.numpy(), atol=1e-9)


def test_quadratic_vertex_by_hand():
    # f = 2 (u - 0.25)^2 + (v + 0.4)^2 + 0.5 (u - 0.25) (v + 0.4) sampled on the 3 x 3 grid:
    # its minimum is (0.25, -0.4), and the least-squares fit of an exact quadratic is exact.
    v, u = torch.meshgrid(torch.arange(-1.0, 2.0), torch.arange(-1.0, 2.0), indexing="ij")
    f = 2 * (u - 0.25) ** 2 + (v + 0.4) ** 2 + 0.5 * (u - 0.25) * (v + 0.4)
    offsets, valid = quadratic_vertex(f.reshape(1, 9).double())
    assert valid.item()
    np.testing.assert_allclose(offsets.numpy(), [[0.25, -0.4]], atol=1e-12)
    # A saddle (u^2 - v^2) has no minimum; a minimum beyond half a pixel is not trusted.
    saddle = (u**2 - v**2).reshape(1, 9).double()
    far = ((u - 0.8) ** 2 + v**2).reshape(1, 9).double()
    _, valid = quadratic_vertex(torch.cat([saddle, far]))
    assert valid.tolist() == [False, False]


def test_a_point_halfway_between_two_pixels_is_found_halfway():
    descriptors = coordinate_descriptors(20, 30)
    truth = torch.tensor([[17.5, 8.5]], dtype=torch.float64)
    # Pixels 17 and 18 tie; from either the parabola's vertex lies 0.5 px towards the other.
    xy, _ = FrameMatcher(descriptors).match(truth)
    np.testing.assert_allclose(xy.numpy(), truth.numpy(), atol=1e-9)


def gaussian_features(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(..., 4) descriptors of points (x, y): Gaussian bumps 8 px wide centred 6 px left,
    right, above and below (16, 16): smooth, non-linear, one-to-one near (16, 16)."""
    centres = np.array([[22.0, 16.0], [10.0, 16.0], [16.0, 22.0], [16.0, 10.0]])
    squared = (x[..., None] - centres[:, 0]) ** 2 + (y[..., None] - centres[:, 1]) ** 2
    return np.exp(-squared / (2 * 8.0**2))


def test_quadratic_refinement_of_a_smooth_non_linear_peak_is_near_the_true_minimum():
    v, u = np.meshgrid(np.arange(32.0), np.arange(32.0), indexing="ij")
    descriptors = torch.from_numpy(np.moveaxis(gaussian_features(u, v), -1, 0))  # (4, 32, 32)
    points = np.array([[15.3, 16.6], [17.7, 14.2], [16.45, 15.55], [14.2, 18.9], [20.35, 19.7]])
    queries = gaussian_features(points[:, 0], points[:, 1])
    matcher = FrameMatcher(descriptors)
    xy = matcher.match(torch.from_numpy(queries))[0].numpy()
    pixel = matcher.match(torch.from_numpy(queries), refine="none")[0].numpy()
    for query, found, best in zip(queries, xy, pixel, strict=True):
        # The true minimum, independently: the analytic squared distance on a grid 20 times
        # finer than the pixels over +-1 px around the best pixel (to 0.025 px).
        steps = np.arange(-20, 21) / 20
        grid_u, grid_v = np.meshgrid(best[0] + steps, best[1] + steps)
        squared = np.sum((gaussian_features(grid_u, grid_v) - query) ** 2, axis=-1)
        row, column = np.unravel_index(squared.argmin(), squared.shape)
        minimum = np.array([grid_u[row, column], grid_v[row, column]])
        # The parabolas miss two things: the squared distance's cubic terms over their +-1 px,
        # which move a vertex by about |f'''| / (6 f'') (at most 0.007 px here: the features
        # vary over 8 px), and its u-v cross term, which the axis-wise parabolas ignore: up to
        # |f_uv / f_uu| x 0.5 px (f_uv / f_uu is at most 0.045 here, so 0.022 px). Both within
        # 0.03 px, and the grid's 0.025 px: 0.06 px. The best pixel is 0.22 to 0.64 px away.
        assert np.linalg.norm(found - minimum) < 0.06
        assert np.linalg.norm(best - minimum) > 0.2
    # And the minima are the points themselves (each query is a point's own descriptor).
    np.testing.assert_allclose(xy, points, atol=0.06)


def test_parabola_vertex_by_hand():
    # Through (-1, 4), (0, 1), (1, 2): 2 t^2 - t + 1, whose vertex is at t = 1/4.
    offset = parabola_vertex(torch.tensor([4.0]), torch.tensor([1.0]), torch.tensor([2.0]))
    assert offset.item() == pytest.approx(0.25)
    # Through (-1, 1), (0, 0), (1, 4): 2.5 t^2 + 1.5 t, vertex at -1.5 / 5 = -0.3.
    offset = parabola_vertex(torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([4.0]))
    assert offset.item() == pytest.approx(-0.3)
    # Symmetric: at the middle. Flat, or not convex: no shift.
    before = torch.tensor([3.0, 1.0, 0.0, 5.0])
    at = torch.tensor([1.0, 1.0, 1.0, 5.0])
    after = torch.tensor([3.0, 1.0, 0.0, 2.0])
    np.testing.assert_array_equal(parabola_vertex(before, at, after).numpy(), [0, 0, 0, 0])
    # An infinite neighbour (an excluded pixel): no parabola, no shift.
    inf = float("inf")
    offset = parabola_vertex(
        torch.tensor([inf, 4.0, inf]), torch.tensor([1.0, 1.0, 1.0]), torch.tensor([2.0, inf, inf])
    )
    np.testing.assert_array_equal(offset.numpy(), [0.0, 0.0, 0.0])
    # A vertex beyond a neighbour (possible when `at` is only the best of a window, not a
    # minimum): clamped to half a pixel. Through (-1, 0), (0, 1), (1, 3): t^2/2 + 3 t/2 + 1,
    # vertex at -1.5; and its mirror image at +1.5.
    offset = parabola_vertex(
        torch.tensor([0.0, 3.0]), torch.tensor([1.0, 1.0]), torch.tensor([3.0, 0.0])
    )
    np.testing.assert_array_equal(offset.numpy(), [-0.5, 0.5])


def test_a_best_pixel_on_the_image_border_is_not_shifted_along_that_axis():
    descriptors = coordinate_descriptors(20, 30)
    # Best pixels (0, 6): left column; (29, 19): the bottom-right corner; (14, 0): top row.
    truth = torch.tensor([[0.3, 5.7], [28.8, 19.3], [14.4, 0.4]], dtype=torch.float64)
    xy, _ = FrameMatcher(descriptors).match(truth)
    # Along a border axis a neighbour is missing, so that coordinate stays on the pixel (even
    # where the point lies inwards, as here); the other axis is refined as inside.
    np.testing.assert_allclose(xy.numpy(), [[0.0, 5.7], [29.0, 19.0], [14.4, 0.0]], atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_squared_distances_equal_cdist_squared(dtype):
    generator = torch.Generator().manual_seed(0)
    descriptors = torch.randn(16, 7, 9, generator=generator, dtype=torch.float64).to(dtype)
    queries = torch.randn(5, 16, generator=generator, dtype=torch.float64)
    queries[4] = descriptors[:, 3, 2]  # a pixel's own descriptor: distance 0 there
    squared = FrameMatcher(descriptors).squared_distances(queries)
    assert squared.shape == (5, 63) and squared.dtype == dtype  # queries take the image's dtype
    # cdist computes the differences themselves (not, as for many points it may, by the same
    # expansion as the matcher).
    pixels = descriptors.reshape(16, -1).T
    expected = torch.cdist(queries.to(dtype), pixels, compute_mode="donot_use_mm_for_euclid_dist")
    expected = expected**2
    # |q|^2 - 2 q.d + |d|^2 loses about eps (|q|^2 + |d|^2) to cancellation; |q|^2 and |d|^2
    # are about 16 (16 unit-variance dimensions), so ~1e-14 in float64 and ~1e-5 in float32.
    atol = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(squared, expected, rtol=0, atol=atol)
    assert (squared >= 0).all()  # clamped: cancellation never makes a distance negative
    assert squared[4, 3 * 9 + 2] <= atol


def test_squared_distances_are_never_negative_despite_cancellation():
    generator = torch.Generator().manual_seed(0)
    descriptors = torch.randn(8, 4, 5, generator=generator) * 100 + 1000  # float32, ~1000
    queries = descriptors.reshape(8, -1).T.clone()  # each pixel's own descriptor
    squared = FrameMatcher(descriptors).squared_distances(queries).diagonal()
    # |q|^2 and |d|^2 are about 8e6, where float32's spacing is 0.5 to 1: |q|^2 - 2 q.d + |d|^2
    # comes out a few units either side of 0 (down to -4 here, before clamping).
    assert (squared >= 0).all() and (squared <= 8).all()


def test_the_best_match_is_refined_by_expectation_or_by_a_parabola():
    descriptors = coordinate_descriptors(20, 30).float() * 0.05  # (u, v) / 20, as the tracker's
    truth = torch.tensor([[10.3, 5.7], [2.0, 14.0]])
    queries = truth * 0.05  # the descriptors of the two points
    nowhere = torch.full((2, 2), NOWHERE)
    matcher = FrameMatcher(descriptors)
    xy, distance = matcher.match(queries, nowhere, radius=0, refine="none")
    np.testing.assert_allclose(xy.numpy(), [[10, 6], [2, 14]])  # the nearest pixels
    np.testing.assert_allclose(distance.numpy(), [0.05 * np.hypot(0.3, 0.3), 0.0], atol=1e-5)
    # In the order the tracker passes them: window, threshold, refinement, its radius and
    # temperature.
    refined, _ = matcher.match(queries, nowhere, 0, float("inf"), "expectation", 2, 0.02)
    # The softmax-weighted mean of the 5 x 5 pixels around (10, 6) leans towards the point:
    # nearer than the best pixel (0.42 px away), and exact where the point is a pixel.
    assert torch.linalg.vector_norm(refined[0] - truth[0]) < 0.3
    np.testing.assert_allclose(refined[1].numpy(), [2.0, 14.0], atol=1e-4)
    # The default parabola finds the point itself; in float32 the squared distances (up to
    # about 3) carry errors of ~3e-7 against a curvature of 2 x 0.05^2 = 5e-3: ~1e-4 px.
    quadratic, _ = matcher.match(queries, nowhere)
    np.testing.assert_allclose(quadratic.numpy(), truth.numpy(), atol=1e-3)


def test_a_window_keeps_the_local_match_and_a_lost_point_is_found_anywhere():
    descriptors = torch.zeros(1, 30, 40)
    descriptors[0, 5, 5] = 1.0  # the point where it was
    descriptors[0, 25, 35] = 1.02  # a slightly worse look-alike far away
    query = torch.tensor([[1.02]])
    centre = torch.tensor([[6.0, 6.0]])
    matcher = FrameMatcher(descriptors)
    # The default parabolas leave these answers on their pixels: both neighbours along each
    # axis are 0, equally far from the query, so every vertex is at the middle.
    xy, distance = matcher.match(query, centre, radius=4, threshold=0.05)
    np.testing.assert_allclose(xy.numpy(), [[5, 5]])  # within the window, though not the best
    assert distance.item() == pytest.approx(0.02, abs=1e-5)  # float32 |q|^2 - 2 q.d + |d|^2
    xy, _ = matcher.match(query, torch.full((1, 2), NOWHERE), radius=4)
    np.testing.assert_allclose(xy.numpy(), [[35, 25]])  # never seen: the whole image
    xy, _ = matcher.match(query, None, radius=4, refine="none")
    np.testing.assert_array_equal(xy.numpy(), [[35, 25]])  # no centre at all: the same
    descriptors[0, 5, 5] = 0.0  # hidden where it was: nothing near in the window
    xy, distance = FrameMatcher(descriptors).match(query, centre, radius=4, threshold=0.05)
    np.testing.assert_allclose(xy.numpy(), [[35, 25]])
    assert distance.item() == pytest.approx(0.0)


def test_a_window_edge_match_is_refined_at_most_half_a_pixel_outwards():
    descriptors = coordinate_descriptors(20, 30)
    query = torch.tensor([[20.0, 10.0]], dtype=torch.float64)
    centre = torch.tensor([[10.0, 10.0]])
    # The window around (10, 10) spans columns 6 to 14: its best pixel is (14, 10), 6 away.
    xy, distance = FrameMatcher(descriptors).match(query, centre, radius=4)
    # Along u the squared distances 49, 36, 25 at columns 13, 14, 15 fall towards the point:
    # the vertex lies 6 px out (at 20), clamped to 14.5. Along v the pixel is the point's row.
    np.testing.assert_allclose(xy.numpy(), [[14.5, 10.0]], atol=1e-12)
    assert distance.item() == pytest.approx(6.0)  # to the best pixel of the window


def test_excluded_pixels_are_never_matched_nor_used_to_refine():
    descriptors = coordinate_descriptors(10, 12)
    excluded = torch.zeros(10, 12, dtype=torch.bool)
    excluded[:, 6:] = True  # columns 6 to 11 are not searched
    matcher = FrameMatcher(descriptors, excluded=excluded)
    truth = torch.tensor([[5.3, 4.6], [8.0, 4.0], [3.2, 4.4]], dtype=torch.float64)
    xy, distance = matcher.match(truth)
    # (5.3, 4.6) and (8, 4) are nearest to column 5, the last one searched. Its right-hand
    # neighbour is excluded: like a pixel on the border, no parabola along u there (a
    # parabola through an infinite distance has no vertex). Along v, and for (3.2, 4.4) away
    # from the excluded columns, the parabolas find the points.
    np.testing.assert_allclose(xy.numpy(), [[5.0, 4.6], [5.0, 4.0], [3.2, 4.4]], atol=1e-9)
    np.testing.assert_allclose(distance.numpy(), [np.hypot(0.3, 0.4), 3.0, np.hypot(0.2, 0.4)])
    squared = matcher.squared_distances(truth)
    assert torch.isinf(squared[:, excluded.reshape(-1)]).all()
