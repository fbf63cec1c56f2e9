"""Depth from RGB: networks, view synthesis through geometry's reprojection, the plane sweep,
losses, metrics, training in three modes, evaluation and prediction.

Self-supervised training rebuilds a target frame from its neighbours with predicted depth and
the forward-kinematics poses (`relative_pose`, `synthesize`), so depth comes out in metres;
`PoseNet` stands in where poses are missing (scale then from `median_scale`). With known poses a
frame's neighbours also give a cost volume (`plane_sweep_cost`): its cheapest plane per pixel,
with the least distinct ones filled from their neighbours, is the classical baseline
(`PlaneSweep`), and `MultiFrameDepthNet` refines it. Stereo and
supervised training use the same pieces (`left_right_consistency`, `scale_invariant_log_loss`).
`train_depth`, `evaluate_depth` and `predict_run` are what `donkit depth` calls;
`run_demo_depth` is the demo's depth stage.

Names are imported on first use, so that reading the config (`depth.config`, which every
command does) does not load torch.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DepthConfig": "depth.config",
    "DepthSamples": "depth.data",
    "relative_pose": "depth.layers",
    "reproject": "depth.layers",
    "synthesize": "depth.layers",
    "edge_aware_smoothness": "depth.losses",
    "left_right_consistency": "depth.losses",
    "minimum_reprojection": "depth.losses",
    "photometric_error": "depth.losses",
    "scale_invariant_log_loss": "depth.losses",
    "ssim": "depth.losses",
    "METRIC_KEYS": "depth.metrics",
    "depth_errors": "depth.metrics",
    "median_scale": "depth.metrics",
    "DepthNet": "depth.network",
    "MultiFrameDepthNet": "depth.network",
    "plane_sweep_cost": "depth.sweep",
    "cheapest_sources": "depth.sweep",
    "cheapest_plane": "depth.sweep",
    "minimum_distinctness": "depth.sweep",
    "fill_indistinct": "depth.sweep",
    "PlaneSweep": "depth.sweep",
    "predict_frames": "depth.frames",
    "PoseNet": "depth.network",
    "disparity_to_depth": "depth.network",
    "pose_from_axis_angle": "depth.network",
    "load_depth_network": "depth.checkpoint",
    "predict_depth": "depth.checkpoint",
    "train_depth": "depth.train",
    "evaluate_depth": "depth.evaluate",
    "predict_run": "depth.predict",
    "run_demo_depth": "depth.demo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'depth' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
