"""Cameras, rigid transforms and the one reprojection path (numpy and batched torch).

Reconstruction, correspondences, depth estimation and tracking ground truth all call these
functions; none keeps a copy of its own. Maths only: no files, no errors a user can cause
(those are `formats`).
"""

from geometry.camera import (
    PinholeCamera,
    backproject,
    backproject_depth,
    inside_image,
    pixel_grid,
    plane_depths,
    project,
    warp,
)
from geometry.transforms import (
    axis_angle_to_matrix,
    invert_pose,
    look_at,
    make_pose,
    matrix_to_quaternion,
    pose_from_quaternion,
    quaternion_to_matrix,
    rotation_about_axis,
    rotation_angle,
    rotation_from_rpy,
    transform,
)

__all__ = [
    "PinholeCamera",
    "axis_angle_to_matrix",
    "backproject",
    "backproject_depth",
    "inside_image",
    "invert_pose",
    "look_at",
    "make_pose",
    "matrix_to_quaternion",
    "pixel_grid",
    "plane_depths",
    "pose_from_quaternion",
    "project",
    "quaternion_to_matrix",
    "rotation_about_axis",
    "rotation_angle",
    "rotation_from_rpy",
    "transform",
    "warp",
]
