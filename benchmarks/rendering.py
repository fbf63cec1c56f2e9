"""How exactly each renderer renders the camera it is asked for.

For a few cameras (centred and off-centre principal points, three sizes), the (cx, cy, f) that
TinyRenderer and EGL really render, fitted on rendered depth (collect.checks.rendered_intrinsics),
against the intrinsics written to camera_info.yaml. Run from the repository root:
    .venv/bin/python -m benchmarks.rendering
"""

from __future__ import annotations

import shlex
import sys

from collect.checks import rendered_intrinsics
from donkit.table import format_table
from formats import DonkitError
from geometry import PinholeCamera

CAMERAS = [
    PinholeCamera.from_fov(160, 120, 60.0),
    PinholeCamera(160, 120, 150.0, 150.0, 71.3, 64.8),
    PinholeCamera.from_fov(320, 240, 50.0),
    PinholeCamera.from_fov(640, 480, 45.0),
]


def main() -> None:
    print(f"command: {shlex.join(sys.orig_argv)}")
    rows = []
    for renderer in ("tiny", "egl"):
        for camera in CAMERAS:
            try:
                cx, cy, focal = rendered_intrinsics(renderer, camera)
            except DonkitError as error:
                rows.append(
                    [renderer, f"{camera.width}x{camera.height}", "-", "-", "-", str(error)]
                )
                break
            rows.append(
                [
                    renderer,
                    f"{camera.width}x{camera.height}",
                    f"({camera.cx:.1f}, {camera.cy:.1f}, {camera.fx:.2f})",
                    f"{cx - camera.cx:+.4f}",
                    f"{cy - camera.cy:+.4f}",
                    f"{focal - camera.fx:+.4f}",
                ]
            )
    header = ["renderer", "image", "asked (cx, cy, f)", "cx error px", "cy error px", "f error px"]
    print(format_table(header, rows))


if __name__ == "__main__":
    main()
