"""From our camera model to pybullet's OpenGL matrices and back (pure numpy).

pybullet renders with OpenGL conventions: a column-major view matrix for a camera looking down its
-z axis with y up, a projection matrix to normalized device coordinates, and a non-linear depth
buffer. These functions convert an OpenCV `camera_to_world` and intrinsics K into those matrices
so that the rendered image follows K exactly, and turn the depth buffer back into metres.
"""

from __future__ import annotations

import numpy as np

from geometry import PinholeCamera, invert_pose

# Where each renderer puts pixel centres, relative to OpenGL's convention (centres at x + 0.5).
# Measured by fitting the principal point to rendered depth of a plane (tests/collect/
# test_rendering.py checks it): TinyRenderer's rows sit half a pixel off, EGL follows OpenGL.
RENDERER_PIXEL_OFFSET = {"tiny": (-0.5, 0.5), "egl": (0.0, 0.0)}

# OpenCV camera axes (x right, y down, z forward) to OpenGL eye axes (x right, y up, z backward).
_OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


def view_matrix(camera_to_world: np.ndarray) -> list[float]:
    """pybullet's view matrix (16 floats, column-major) for an OpenCV `camera_to_world` (4, 4)."""
    world_to_eye = _OPENCV_TO_OPENGL @ invert_pose(np.asarray(camera_to_world, dtype=np.float64))
    return world_to_eye.flatten(order="F").tolist()


def projection_matrix(
    camera: PinholeCamera, near_m: float, far_m: float, renderer: str
) -> list[float]:
    """pybullet's projection matrix (16 floats, column-major) that renders with intrinsics K.

    Pixel u spans normalized device x in [2u/W - 1, 2(u+1)/W - 1], so a pixel centre (integer u in
    our convention) is at x_ndc = 2(u + 0.5)/W - 1; rows count downwards while y_ndc points up.
    """
    offset_u, offset_v = RENDERER_PIXEL_OFFSET[renderer]
    width, height = camera.width, camera.height
    matrix = np.zeros((4, 4))
    matrix[0, 0] = 2 * camera.fx / width
    matrix[0, 2] = 1 - 2 * (camera.cx + offset_u + 0.5) / width
    matrix[1, 1] = 2 * camera.fy / height
    matrix[1, 2] = 2 * (camera.cy + offset_v + 0.5) / height - 1
    matrix[2, 2] = -(far_m + near_m) / (far_m - near_m)
    matrix[2, 3] = -2 * far_m * near_m / (far_m - near_m)
    matrix[3, 2] = -1
    return matrix.flatten(order="F").tolist()


def linearize_depth(depth_buffer: np.ndarray, near_m: float, far_m: float) -> np.ndarray:
    """Camera z in metres from OpenGL depth-buffer values d in [0, 1]; 0 where nothing was hit.

    Args:
        depth_buffer: (H, W) float depth-buffer values (1 = the far plane, i.e. background).

    Returns:
        (H, W) float32 metres.
    """
    buffer = np.asarray(depth_buffer, dtype=np.float64)
    depth = far_m * near_m / (far_m - (far_m - near_m) * buffer)
    depth[buffer >= 1.0] = 0.0
    return depth.astype(np.float32)
