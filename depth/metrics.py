"""The standard depth metrics (Eigen et al. 2014) and median scaling, in numpy.

Torch tensors are accepted too (detached and copied to numpy first): evaluation is not part of
any graph, and one float64 code path keeps the numbers identical whatever the caller holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

METRIC_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta_1", "delta_2", "delta_3")
DELTA_THRESHOLD = 1.25


def depth_errors(pred: Any, gt: Any, valid: Any) -> dict[str, float]:
    """Error of predicted depth against ground truth over the valid pixels.

    abs_rel = mean |p - g| / g; sq_rel = mean (p - g)^2 / g (metres); rmse = sqrt(mean (p - g)^2)
    (metres); rmse_log = sqrt(mean (ln p - ln g)^2); delta_k = share of pixels with
    max(p / g, g / p) < 1.25^k. All pixels passed are pooled: for the usual per-image average
    over a test set, call this once per image and average the values.

    Args:
        pred: (...) predicted depth, metres, positive at valid pixels.
        gt: (...) true depth, metres; 0 = no reading (never counted, whatever `valid` says).
        valid: (...) bool, the pixels to evaluate.

    Returns:
        {abs_rel, sq_rel, rmse, rmse_log, delta_1, delta_2, delta_3} as floats.
    """
    p, g = _valid_pairs(pred, gt, valid)
    if (p <= 0).any() or not np.isfinite(p).all():
        raise ValueError("predicted depth must be positive and finite at every valid pixel")
    ratio = np.maximum(p / g, g / p)
    errors = {
        "abs_rel": np.mean(np.abs(p - g) / g),
        "sq_rel": np.mean((p - g) ** 2 / g),
        "rmse": np.sqrt(np.mean((p - g) ** 2)),
        "rmse_log": np.sqrt(np.mean((np.log(p) - np.log(g)) ** 2)),
        "delta_1": np.mean(ratio < DELTA_THRESHOLD),
        "delta_2": np.mean(ratio < DELTA_THRESHOLD**2),
        "delta_3": np.mean(ratio < DELTA_THRESHOLD**3),
    }
    return {key: float(errors[key]) for key in METRIC_KEYS}


def median_scale(pred: Any, gt: Any, valid: Any) -> float:
    """median(gt) / median(pred) over the valid pixels: the factor that fixes the unknown scale
    of a prediction (a pose network's) before `depth_errors`, as Zhou et al. (2017) evaluate.

    Args as `depth_errors`; returns a float to multiply `pred` by.
    """
    p, g = _valid_pairs(pred, gt, valid)
    median_pred = float(np.median(p))
    if not median_pred > 0:
        raise ValueError(f"the median predicted depth must be positive; got {median_pred}")
    return float(np.median(g)) / median_pred


def _valid_pairs(pred: Any, gt: Any, valid: Any) -> tuple[np.ndarray, np.ndarray]:
    pred, gt, valid = (_to_numpy(a) for a in (pred, gt, valid))
    if not pred.shape == gt.shape == valid.shape:
        raise ValueError(
            f"pred {pred.shape}, gt {gt.shape} and valid {valid.shape} must have one shape"
        )
    keep = valid.astype(bool) & (gt > 0)
    if not keep.any():
        raise ValueError("no valid pixel with a ground-truth depth to evaluate")
    return pred[keep].astype(np.float64), gt[keep].astype(np.float64)


def _to_numpy(array: Any) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)
