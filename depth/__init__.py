"""Depth from RGB: networks, view synthesis through geometry's reprojection, losses and metrics.

Self-supervised training rebuilds a target frame from its neighbours with predicted depth and
the forward-kinematics poses (`relative_pose`, `synthesize`), so depth comes out in metres;
`PoseNet` stands in where poses are missing (scale then from `median_scale`). Stereo and
supervised training use the same pieces (`left_right_consistency`, `scale_invariant_log_loss`).
"""

from depth.layers import relative_pose, reproject, synthesize
from depth.losses import (
    edge_aware_smoothness,
    left_right_consistency,
    minimum_reprojection,
    photometric_error,
    scale_invariant_log_loss,
    ssim,
)
from depth.metrics import METRIC_KEYS, depth_errors, median_scale
from depth.network import DepthNet, PoseNet, disparity_to_depth, pose_from_axis_angle

__all__ = [
    "METRIC_KEYS",
    "DepthNet",
    "PoseNet",
    "depth_errors",
    "disparity_to_depth",
    "edge_aware_smoothness",
    "left_right_consistency",
    "median_scale",
    "minimum_reprojection",
    "photometric_error",
    "pose_from_axis_angle",
    "relative_pose",
    "reproject",
    "scale_invariant_log_loss",
    "ssim",
    "synthesize",
]
