"""The descriptor losses against values worked out by hand on tiny tensors."""

import dataclasses
import math

import pytest
import torch

from descriptors.config import LossConfig
from descriptors.correspondence import BACKGROUND, BLIND, CROSS_OBJECT, MASKED
from descriptors.loss import (
    Samples,
    descriptor_loss,
    distributional_term,
    first_per_pair,
    gaussian_window,
    hard_negative_term,
)


def tensor(*rows):
    return torch.tensor(rows, dtype=torch.int64)


def tiny():
    # One pair of 2 x 2 images with 2-dimensional descriptors; pixel (u, v) = (column, row).
    a = torch.zeros(1, 2, 2, 2)
    b = torch.zeros(1, 2, 2, 2)
    a[0, :, 0, 0] = torch.tensor([0.0, 0.0])  # a(0, 0)
    a[0, :, 0, 1] = torch.tensor([1.0, 0.0])  # a(1, 0)
    b[0, :, 0, 0] = torch.tensor([0.0, 0.3])  # b(0, 0): 0.3 from a(0, 0)
    b[0, :, 1, 1] = torch.tensor([1.0, 0.4])  # b(1, 1): 0.4 from a(1, 0)
    b[0, :, 1, 0] = torch.tensor([0.1, 0.0])  # b(0, 1): 0.1 from a(0, 0)
    return a, b


def test_hard_negative_term_divides_by_the_non_zero_terms_only():
    distances = torch.tensor([0.1, 0.3, 0.7, 2.0])  # margin 0.5: 0.4^2, 0.2^2, 0, 0
    value, hard = hard_negative_term(distances, 0.5)
    assert hard == 2
    assert value.item() == pytest.approx((0.16 + 0.04) / 2)
    value, hard = hard_negative_term(torch.tensor([0.9, 1.0]), 0.5)
    assert hard == 0 and value.item() == 0.0


def test_each_term_by_hand():
    a, b = tiny()
    samples = Samples(
        match_pair=tensor(0, 0),
        match_uv_a=tensor([0, 0], [1, 0]),
        match_uv_b=tensor([0, 0], [1, 1]),
        nonmatch_pair=tensor(0, 0, 0, 0, 0, 0),
        nonmatch_uv_a=tensor([0, 0], [1, 0], [0, 0], [0, 0], [1, 0], [0, 0]),
        nonmatch_uv_b=tensor([0, 1], [0, 0], [1, 1], [0, 1], [0, 1], [0, 0]),
        nonmatch_kind=tensor(MASKED, MASKED, BACKGROUND, BLIND, BLIND, CROSS_OBJECT),
    )
    weights = LossConfig(
        kind="contrastive", margin=0.5, background_margin=2.0, blind_weight=0.5,
        cross_object_weight=2.0,
    )  # fmt: skip
    total, log = descriptor_loss(a, b, samples, weights)
    match = (0.3**2 + 0.4**2) / 2
    # Masked: a(0,0)-b(0,1) is 0.1 -> 0.4^2; a(1,0)-b(0,0) is sqrt(1 + 0.09) > 0.5 -> 0:
    # one hard negative, so the term is 0.16 / 1 (not 0.16 / 2).
    masked = 0.4**2
    background = (2.0 - math.hypot(1.0, 0.4)) ** 2  # a(0,0)-b(1,1), margin 2
    blind = 0.4**2 / 1  # a(0,0)-b(0,1) is 0.1; a(1,0)-b(0,1) is 0.9 > 0.5, not counted
    cross = (0.5 - 0.3) ** 2  # a(0,0)-b(0,0)
    assert log["match"] == pytest.approx(match)
    assert log["masked"] == pytest.approx(masked)
    assert log["background"] == pytest.approx(background)
    assert log["blind"] == pytest.approx(blind) and log["cross_object"] == pytest.approx(cross)
    assert log["hard_share_masked"] == pytest.approx(0.5)
    assert log["hard_share_blind"] == pytest.approx(0.5)
    assert total.item() == pytest.approx(match + masked + background + 0.5 * blind + 2.0 * cross)


def test_gradients_flow_and_empty_terms_are_zero():
    a, b = tiny()
    a.requires_grad_(True)
    none = torch.zeros(0, dtype=torch.int64)
    samples = Samples(
        match_pair=tensor(0), match_uv_a=tensor([0, 0]), match_uv_b=tensor([0, 0]),
        nonmatch_pair=none, nonmatch_uv_a=none.view(0, 2), nonmatch_uv_b=none.view(0, 2),
        nonmatch_kind=none,
    )  # fmt: skip
    total, log = descriptor_loss(a, b, samples, LossConfig(kind="contrastive"))
    total.backward()
    # d/da of ||a - b||^2 at a(0,0) = 2 (a - b) = (0, -0.6).
    torch.testing.assert_close(a.grad[0, :, 0, 0], torch.tensor([0.0, -0.6]))
    assert log["masked"] == 0.0 and log["total"] == pytest.approx(0.09)


def test_the_gaussian_window_is_normalized_centred_and_cut_at_the_border():
    pixels, weights = gaussian_window(torch.tensor([[3, 2], [0, 0]]), 5, 7, 1.0)
    assert pixels.shape == weights.shape == (2, 49)  # radius ceil(3 sigma) = 3: 7 x 7
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2))
    target = torch.zeros(2, 35).scatter_add(1, pixels, weights).reshape(2, 5, 7)
    assert target[0].argmax().item() == 2 * 7 + 3
    # A neighbour 1 px away weighs exp(-1 / 2) of the centre, one 1 px diagonally exp(-1).
    assert (target[0, 2, 4] / target[0, 2, 3]).item() == pytest.approx(math.exp(-0.5))
    assert (target[0, 1, 4] / target[0, 2, 3]).item() == pytest.approx(math.exp(-1.0))
    # In the corner, the window's pixels outside the image weigh nothing: what is inside is
    # the product of two half Gaussians, exp(-u^2 / 2) exp(-v^2 / 2) over u, v in 0..3.
    half = sum(math.exp(-(k**2) / 2) for k in range(4))
    assert target[1, 0, 0].item() == pytest.approx(1 / half**2, rel=1e-5)
    assert target[1].sum().item() == pytest.approx(1.0)


def test_distributional_term_by_hand():
    # B is one row of 3 pixels with 1-D descriptors 0, 1, 2; the query (A's pixel) is 0 and its
    # true match is pixel 0. With sigma 0.05 px the target is pixel 0 alone (its neighbours weigh
    # exp(-200)), so KL(target || p) = -log p(0) = log(1 + e^-1 + e^-4) at temperature 1, and
    # log(1 + e^-2 + e^-8) at temperature 0.5.
    a = torch.zeros(1, 1, 1, 3)
    b = torch.tensor([0.0, 1.0, 2.0]).view(1, 1, 1, 3)
    pair, uv_a, uv_b = tensor(0), tensor([0, 0]), tensor([0, 0])
    value = distributional_term(a, b, pair, uv_a, uv_b, sigma_px=0.05, temperature=1.0)
    assert value.item() == pytest.approx(math.log(1 + math.exp(-1) + math.exp(-4)), rel=1e-5)
    value = distributional_term(a, b, pair, uv_a, uv_b, sigma_px=0.05, temperature=0.5)
    assert value.item() == pytest.approx(math.log(1 + math.exp(-2) + math.exp(-8)), rel=1e-5)


def test_distributional_term_is_zero_when_the_softmax_is_the_target():
    # Descriptors equal to sqrt(1 / (2 sigma^2)) times the pixel's column: the softmax of
    # -(d_a - d_b)^2 is then exactly the Gaussian target around the query's own column.
    sigma = 1.5
    columns = torch.arange(9.0) / (math.sqrt(2.0) * sigma)
    a = columns.view(1, 1, 1, 9)
    b = columns.view(1, 1, 1, 9).clone()
    value = distributional_term(a, b, tensor(0), tensor([4, 0]), tensor([4, 0]), sigma, 1.0)
    assert value.item() == pytest.approx(0.0, abs=1e-6)
    # The true match elsewhere than the softmax's peak costs more.
    worse = distributional_term(a, b, tensor(0), tensor([4, 0]), tensor([6, 0]), sigma, 1.0)
    assert worse.item() > 0.5


def test_the_distributional_kind_replaces_match_masked_and_background_terms():
    a, b = tiny()
    samples = Samples(
        match_pair=tensor(0), match_uv_a=tensor([0, 0]), match_uv_b=tensor([0, 0]),
        nonmatch_pair=tensor(0, 0, 0), nonmatch_uv_a=tensor([0, 0], [0, 0], [0, 0]),
        nonmatch_uv_b=tensor([0, 1], [1, 1], [0, 1]),
        nonmatch_kind=tensor(MASKED, BACKGROUND, BLIND),
    )  # fmt: skip
    weights = LossConfig(kind="distributional", sigma_px=0.05, distributional_stride=1)
    total, log = descriptor_loss(a, b, samples, weights)
    # a(0,0) = (0, 0) against b's four pixels: b(0,0) 0.09, b(1,0) 0, b(0,1) 0.01, b(1,1) 1.16
    # squared away; the target is b(0,0) alone.
    squared = torch.tensor([0.09, 0.0, 0.01, 1.16])
    expected = -torch.log_softmax(-squared, dim=0)[0].item()
    assert log["match"] == pytest.approx(expected, rel=1e-5)
    assert log["masked"] == 0.0 and log["background"] == 0.0
    assert log["blind"] == pytest.approx(0.4**2)  # a(0,0)-b(0,1) is 0.1: still a hinge
    assert total.item() == pytest.approx(expected + 0.4**2, rel=1e-5)


def test_first_per_pair_keeps_the_first_rows_of_each_pair():
    pair = tensor(0, 0, 0, 1, 1, 0, 1, 2)
    kept = first_per_pair(pair, 2)
    assert kept.tolist() == [True, True, False, True, True, False, False, True]


def test_a_strided_distributional_term_runs_over_every_s_th_pixel():
    # B is one row of 6 pixels with descriptors 0..5; stride 2 keeps pixels 0, 2, 4. A query
    # of 2 with its true match at pixel 2 (sigma 0.05: the target is that grid point alone):
    # squared distances 4, 0, 4, so KL = -log p = log(1 + 2 e^-4).
    a = torch.full((1, 1, 1, 6), 2.0)
    b = torch.arange(6.0).view(1, 1, 1, 6)
    value = distributional_term(a, b, tensor(0), tensor([0, 0]), tensor([2, 0]), 0.05, 1.0, 2)
    assert value.item() == pytest.approx(math.log(1 + 2 * math.exp(-4)), rel=1e-5)
    # A true match between grid points (pixel 3) weighs pixels 2 and 4 alike, pixel 0 by its
    # distance of 3 px: exp(-9 / 2) against exp(-1 / 2), sigma 1.
    pixels, weights = gaussian_window(tensor([3, 0]), 1, 3, 1.0, stride=2)
    target = torch.zeros(1, 3).scatter_add(1, pixels, weights)[0]
    expected = torch.tensor([math.exp(-4.5), math.exp(-0.5), math.exp(-0.5)])
    torch.testing.assert_close(target, expected / expected.sum())


def test_excluded_pixels_of_b_take_no_probability_and_no_target():
    # B is one row of 3 pixels with descriptors 0, 1, 2; the query is 0 and its true match is
    # pixel 2 (sigma 0.05: the target is pixel 2 alone). Pixel 0, a copy of A's own object,
    # would win; excluded, the softmax runs over pixels 1 and 2: -log p(2) = log(1 + e^3).
    a = torch.zeros(1, 1, 1, 3)
    b = torch.tensor([0.0, 1.0, 2.0]).view(1, 1, 1, 3)
    pair, uv_a, uv_b = tensor(0), tensor([0, 0]), tensor([2, 0])
    excluded = torch.tensor([[[True, False, False]]])
    value = distributional_term(a, b, pair, uv_a, uv_b, 0.05, 1.0, excluded_b=excluded)
    assert value.item() == pytest.approx(math.log(1 + math.exp(3)), rel=1e-5)
    unmasked = distributional_term(a, b, pair, uv_a, uv_b, 0.05, 1.0)
    assert unmasked.item() == pytest.approx(4 + math.log(1 + math.exp(-1) + math.exp(-4)))
    # A target window reaching onto an excluded pixel is renormalized over the rest: sigma 1
    # around pixel 1 weighs pixels 1 and 2 as 1 : e^-1/2 once pixel 0 is out.
    near = distributional_term(a, b, pair, uv_a, tensor([1, 0]), 1.0, 1.0, excluded_b=excluded)
    target = torch.tensor([1.0, math.exp(-0.5)])
    target /= target.sum()
    log_p = torch.log_softmax(-torch.tensor([1.0, 4.0]), dim=0)
    assert near.item() == pytest.approx((target * (target.log() - log_p)).sum().item(), rel=1e-5)


def test_cross_instance_pairs_compare_the_class_dimensions_only():
    # 2-D descriptors; B's pixels (0, 5), (1, 0), (2, 0); query (0, 0), true match pixel 0.
    # On the first dimension alone the squared distances are 0, 1, 4: -log p(0) is
    # log(1 + e^-1 + e^-4); on both, 25, 1, 4.
    a = torch.zeros(1, 2, 1, 3)
    b = torch.tensor([[0.0, 1.0, 2.0], [5.0, 0.0, 0.0]]).view(1, 2, 1, 3)
    one_dim = math.log(1 + math.exp(-1) + math.exp(-4))
    both = 25 + math.log(math.exp(-25) + math.exp(-1) + math.exp(-4))
    samples = Samples(
        match_pair=tensor(0), match_uv_a=tensor([0, 0]), match_uv_b=tensor([0, 0]),
        nonmatch_pair=tensor(), nonmatch_uv_a=torch.zeros(0, 2, dtype=torch.int64),
        nonmatch_uv_b=torch.zeros(0, 2, dtype=torch.int64), nonmatch_kind=tensor(),
        cross_instance=torch.tensor([True]),
    )  # fmt: skip
    weights = LossConfig(kind="distributional", sigma_px=0.05, distributional_stride=1)
    _, log = descriptor_loss(a, b, samples, weights)
    assert log["match"] == pytest.approx(both, rel=1e-5)
    class_dims = LossConfig(
        kind="distributional", sigma_px=0.05, distributional_stride=1, class_dims=1
    )
    _, log = descriptor_loss(a, b, samples, class_dims)
    assert log["match"] == pytest.approx(one_dim, rel=1e-5)
    within_instance = dataclasses.replace(samples, cross_instance=torch.tensor([False]))
    _, log = descriptor_loss(a, b, within_instance, class_dims)
    assert log["match"] == pytest.approx(both, rel=1e-5)
