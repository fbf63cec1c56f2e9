"""The contrastive loss against values worked out by hand on tiny tensors."""

import math

import pytest
import torch

from descriptors.config import LossConfig
from descriptors.correspondence import BACKGROUND, BLIND, CROSS_OBJECT, MASKED
from descriptors.loss import Samples, contrastive_loss, hard_negative_term


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
        margin=0.5, background_margin=2.0, blind_weight=0.5, cross_object_weight=2.0
    )
    total, log = contrastive_loss(a, b, samples, weights)
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
    total, log = contrastive_loss(a, b, samples, LossConfig())
    total.backward()
    # d/da of ||a - b||^2 at a(0,0) = 2 (a - b) = (0, -0.6).
    torch.testing.assert_close(a.grad[0, :, 0, 0], torch.tensor([0.0, -0.6]))
    assert log["masked"] == 0.0 and log["total"] == pytest.approx(0.09)
