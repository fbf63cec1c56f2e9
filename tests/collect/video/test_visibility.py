"""Which points a frame shows, on a hand-made frame."""

import numpy as np

from collect.video.visibility import point_visibility
from geometry import (
    PinholeCamera,
    backproject,
)


def test_point_visibility_on_a_hand_made_frame():
    camera = PinholeCamera(8, 6, 10.0, 10.0, 3.5, 2.5)
    depth = np.full((6, 8), 1.0, np.float32)
    body = np.full((6, 8), 7, np.int64)
    depth[2, 5], body[2, 5] = 0.5, 9  # body 9 stands in front of body 7 at pixel (5, 2)
    camera_to_world = np.eye(4)
    points = backproject(
        np.array([[1.0, 1.0], [5.0, 2.0], [5.0, 2.0], [1.0, 1.0], [20.0, 2.0], [2.0, 3.0]]),
        np.array([1.0, 1.0, 0.5, 1.01, 1.0, -1.0]),
        camera.matrix,
    )
    bodies = np.array([7, 7, 9, 7, 7, 7])
    xy, visible, seen = point_visibility(points, bodies, camera, camera_to_world, depth, body,
                                         0.004)  # fmt: skip
    # Seen; hidden by body 9; body 9 itself; 1 cm behind its own surface; outside; behind.
    np.testing.assert_array_equal(visible, [True, False, True, False, False, False])
    np.testing.assert_array_equal(seen, [7, 9, 9, 7, -2, -2])
    np.testing.assert_allclose(xy[:4], [[1, 1], [5, 2], [5, 2], [1, 1]], atol=1e-9)
