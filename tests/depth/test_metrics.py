"""Depth metrics against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from depth.metrics import METRIC_KEYS, depth_errors, median_scale

# Four valid pixels, plus one marked invalid and one without a reading (gt = 0): both ignored.
GT = np.array([1.0, 2.0, 5.0, 2.0, 3.0, 0.0])
PRED = np.array([1.2, 1.5, 9.0, 5.0, 100.0, 7.0])
VALID = np.array([True, True, True, True, False, True])


def test_every_metric_by_hand():
    errors = depth_errors(PRED, GT, VALID)
    assert tuple(errors) == METRIC_KEYS
    assert METRIC_KEYS == ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta_1", "delta_2", "delta_3")
    # |p - g| = 0.2, 0.5, 4, 3; / g = 0.2, 0.25, 0.8, 1.5 -> mean 2.75 / 4 = 0.6875.
    assert errors["abs_rel"] == pytest.approx(0.6875)
    # (p - g)^2 = 0.04, 0.25, 16, 9; / g = 0.04, 0.125, 3.2, 4.5 -> 7.865 / 4 = 1.96625.
    assert errors["sq_rel"] == pytest.approx(1.96625)
    # sqrt((0.04 + 0.25 + 16 + 9) / 4) = sqrt(6.3225) = 2.514458.
    assert errors["rmse"] == pytest.approx(2.5144581, abs=1e-7)
    # ln(p / g) = ln 1.2, ln 0.75, ln 1.8, ln 2.5 = 0.182322, -0.287682, 0.587787, 0.916291;
    # squares 0.033241, 0.082761, 0.345493, 0.839589 -> sqrt(1.301084 / 4) = 0.570325.
    assert errors["rmse_log"] == pytest.approx(0.570325, abs=1e-6)
    assert errors["rmse_log"] == pytest.approx(
        math.sqrt(sum(math.log(r) ** 2 for r in (1.2, 0.75, 1.8, 2.5)) / 4)
    )
    # max(p / g, g / p) = 1.2, 1.333, 1.8, 2.5 against 1.25, 1.5625, 1.953125.
    assert errors["delta_1"] == pytest.approx(1 / 4)
    assert errors["delta_2"] == pytest.approx(2 / 4)
    assert errors["delta_3"] == pytest.approx(3 / 4)


def test_torch_inputs_give_the_same_numbers():
    from_torch = depth_errors(torch.tensor(PRED), torch.tensor(GT), torch.tensor(VALID))
    assert from_torch == depth_errors(PRED, GT, VALID)
    assert median_scale(torch.tensor(PRED), torch.tensor(GT), torch.tensor(VALID)) == (
        median_scale(PRED, GT, VALID)
    )


def test_median_scaling():
    # Valid gt 1, 2, 5, 2 -> median 2; pred 1.2, 1.5, 9, 5 -> median (1.5 + 5) / 2 = 3.25.
    assert median_scale(PRED, GT, VALID) == pytest.approx(2 / 3.25)
    gt = np.array([[0.5, 1.0], [1.7, 0.0]])
    pred = 2 * gt + np.array([[0.0, 0.0], [0.0, 3.0]])
    valid = gt > 0
    scale = median_scale(pred, gt, valid)
    assert scale == pytest.approx(0.5)
    errors = depth_errors(scale * pred, gt, valid)
    for key in ("abs_rel", "sq_rel", "rmse", "rmse_log"):
        assert errors[key] == pytest.approx(0.0, abs=1e-12)
    assert errors["delta_1"] == errors["delta_2"] == errors["delta_3"] == 1.0
    assert depth_errors(pred, gt, valid)["delta_3"] == 0.0  # unscaled: a factor 2 everywhere


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="no valid pixel"):
        depth_errors(PRED, GT, np.zeros(6, dtype=bool))
    with pytest.raises(ValueError, match="positive and finite"):
        depth_errors(np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([True, True]))
    with pytest.raises(ValueError, match="one shape"):
        depth_errors(PRED[:3], GT, VALID)
