"""Depth losses against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from depth.losses import (
    IDENTITY_TIE_BREAK,
    edge_aware_smoothness,
    left_right_consistency,
    minimum_reprojection,
    photometric_error,
    scale_invariant_log_loss,
    ssim,
)


def test_ssim_of_an_image_with_itself_is_one_and_its_error_zero():
    image = torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ssim(image, image), torch.ones_like(image))
    torch.testing.assert_close(photometric_error(image, image), torch.zeros(2, 1, 9, 11))
    assert (ssim(image, image.flip(-1)) < 1).any()


def test_photometric_error_of_constant_images_by_hand():
    # Constant 4x4 images: every window has zero variance, so SSIM reduces to its luminance term
    # (2 a b + C1) / (a^2 + b^2 + C1). Channel 0: a = 0.5, b = 0.25 ->
    # SSIM = (0.25 + 1e-4) / (0.3125 + 1e-4) = 0.80006398, error = 0.85 (1 - SSIM) / 2 + 0.15 * 0.25
    # = 0.08497281 + 0.0375 = 0.12247281. Channel 1: a = b = 0.7 -> error 0. Mean over channels:
    # 0.06123641.
    pred = torch.tensor([0.5, 0.7], dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, 4, 4)
    target = torch.tensor([0.25, 0.7], dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, 4, 4)
    c1 = 0.01**2
    luminance = (2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert luminance == pytest.approx(0.80006398, abs=1e-8)
    expected = (0.85 * (1 - luminance) / 2 + 0.15 * 0.25) / 2
    assert expected == pytest.approx(0.06123641, abs=1e-8)
    error = photometric_error(pred, target)
    assert error.shape == (1, 1, 4, 4)
    np.testing.assert_allclose(error.numpy(), expected, atol=1e-12)


def _map(values):
    return torch.tensor(values, dtype=torch.float64).view(1, 1, 1, -1)


def test_minimum_reprojection_takes_the_best_source_per_pixel():
    errors = [_map([0.1, 0.5, 0.3]), _map([0.2, 0.4, 0.6])]
    loss, kept = minimum_reprojection(errors)
    assert kept.all()
    assert loss.item() == pytest.approx((0.1 + 0.4 + 0.3) / 3)
    # A source invalid at a pixel is left out there; no valid source drops the pixel.
    valid = [_map([1, 0, 0]).bool(), _map([1, 1, 0]).bool()]
    loss, kept = minimum_reprojection(errors, valid=valid)
    assert kept.flatten().tolist() == [True, True, False]
    assert loss.item() == pytest.approx((0.1 + 0.4 + 0.0) / 3)


def test_auto_masking_prefers_the_unwarped_source_that_matches_the_target():
    generator = torch.Generator().manual_seed(2)
    target = torch.rand(1, 3, 8, 8, generator=generator)
    moved = target.roll(2, -1)
    # Source 0 equals the target unwarped (a static camera): its identity error is 0, so every
    # pixel is masked whatever the warp does.
    warped_errors = [photometric_error(moved, target), photometric_error(moved.flip(-2), target)]
    identity_errors = [photometric_error(target, target), photometric_error(moved, target)]
    loss, kept = minimum_reprojection(warped_errors, identity_errors)
    assert not kept.any() and loss.item() == 0.0
    # An exact tie (the warp is the identity too) goes to the unwarped source, deterministically.
    loss, kept = minimum_reprojection([identity_errors[0]], [identity_errors[0]])
    assert not kept.any()
    # A warp that explains the target better than any unwarped source is kept, by the margin.
    better = [_map([0.1, 0.2 - IDENTITY_TIE_BREAK / 2])]
    loss, kept = minimum_reprojection(better, [_map([0.3, 0.2])])
    assert kept.flatten().tolist() == [True, False]
    assert loss.item() == pytest.approx(0.1 / 2)


def test_edge_aware_smoothness_by_hand():
    constant = torch.full((1, 1, 5, 6), 0.3)
    assert edge_aware_smoothness(constant, torch.rand(1, 3, 5, 6)).item() == 0.0
    # Ramp 1, 2, 3 along x in both rows; mean 2, so the normalized disparity is 0.5, 1, 1.5:
    # |dx| = 0.5, 0.5, |dy| = 0. On a flat image: mean(0.5, 0.5, 0.5, 0.5) + 0 = 0.5.
    ramp = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=torch.float64)[None, None]
    flat = torch.zeros(1, 3, 2, 3, dtype=torch.float64)
    assert edge_aware_smoothness(ramp, flat).item() == pytest.approx(0.5)
    # Scaling disparity changes nothing (the mean normalization).
    assert edge_aware_smoothness(10 * ramp, flat).item() == pytest.approx(0.5)
    # An image edge of height 1 between columns 1 and 2 weights that gradient by exp(-1):
    # mean(0.5, 0.5 e^-1) over both rows = 0.25 (1 + e^-1) = 0.34197.
    edge = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    edge = edge[None, None].expand(1, 3, 2, 3)
    assert edge_aware_smoothness(ramp, edge).item() == pytest.approx(0.25 * (1 + math.exp(-1)))


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.85, 1.0])
def test_scale_invariant_log_loss_of_a_scaled_prediction(lam):
    generator = torch.Generator().manual_seed(3)
    gt = 0.2 + 2 * torch.rand(2, 1, 6, 7, generator=generator, dtype=torch.float64)
    valid = torch.rand(2, 1, 6, 7, generator=generator) > 0.3
    gt[0, 0, 0, 0] = 0.0  # no reading: never counted, even if marked valid
    valid[0, 0, 0, 0] = True
    scale = torch.tensor([3.0, 0.5], dtype=torch.float64).view(2, 1, 1, 1)
    pred = scale * gt
    pred[~valid] = 1e-9  # garbage outside the valid pixels is ignored
    pred.requires_grad_(True)
    # d = log(c) at every pixel: mean(d^2) - lam mean(d)^2 = (1 - lam) log(c)^2 per image, and
    # the loss averages the two images.
    expected = (1 - lam) * (math.log(3.0) ** 2 + math.log(0.5) ** 2) / 2
    loss = scale_invariant_log_loss(pred, gt, valid, lam)
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    loss.backward()
    assert torch.isfinite(pred.grad).all()


def test_scale_invariant_log_loss_by_hand_and_checks():
    # d = log(2), log(1), log(0.5) = (a, 0, -a) with a = log 2: mean(d^2) = 2 a^2 / 3, mean(d) = 0.
    pred = torch.tensor([2.0, 1.0, 0.5]).view(1, 3)
    gt = torch.ones(1, 3)
    loss = scale_invariant_log_loss(pred, gt, torch.ones(1, 3, dtype=torch.bool), 0.5)
    assert loss.item() == pytest.approx(2 * math.log(2) ** 2 / 3, rel=1e-6)
    nothing = scale_invariant_log_loss(pred, gt, torch.zeros(1, 3, dtype=torch.bool), 0.5)
    assert nothing.item() == 0.0
    with pytest.raises(ValueError, match=r"lam must be in \[0, 1\]"):
        scale_invariant_log_loss(pred, gt, gt > 0, 1.5)


def test_left_right_consistency_by_hand():
    left = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    right_to_left = torch.tensor([1.0, 1.0, 4.0, 14.0]).view(1, 1, 1, 4)
    # |differences| = 0, 1, 1, 10: mean 3; over the first three pixels only: 2 / 3.
    assert left_right_consistency(left, right_to_left).item() == pytest.approx(3.0)
    valid = torch.tensor([True, True, True, False]).view(1, 1, 1, 4)
    assert left_right_consistency(left, right_to_left, valid).item() == pytest.approx(2 / 3)
