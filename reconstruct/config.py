"""FuseConfig: how scenes become meshes, masks and rendered depth.

Each field is documented once, by the string under it. The workspace is found from the data
alone (the table plane and the point the cameras look at), so the same settings serve simulated
scenes and real ones recorded in the Dense Object Nets layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from formats.checks import at_least, check, positive


@dataclass(frozen=True)
class FuseConfig:
    """TSDF fusion, workspace crop, mesh clean-up and rendering."""

    voxel_m: float = 0.002
    """Edge of a TSDF voxel, metres."""
    truncation_voxels: float = 3.0
    """TSDF truncation distance, in voxels. Measured on the 12 demo scenes at 2 mm: 3 gave the
    best worst-object F-score at 2 mm (0.994, against 0.992 for 3.5 and 0.957 for 4, where the
    two sides of a 5 mm mug wall start to interfere)."""
    weight_threshold: float = 1.0
    """Surfaces integrated fewer times than this are not extracted."""
    max_depth_m: float = 1.5
    """Depth readings farther than this are not integrated."""
    workspace_half_size_m: float = 0.3
    """Half the side of the square, in the table plane, around the point the cameras look at,
    that holds the objects."""
    min_height_m: float = 0.003
    """What lies lower than this above the table is the table: not fused, not in the mesh."""
    max_height_m: float = 0.4
    """What lies higher than this above the table is not fused."""
    min_component_share: float = 0.01
    """Mesh pieces with fewer than this share of the triangles are dropped as floating
    fragments."""
    table_inlier_m: float = 0.004
    """A point within this distance of a candidate table plane supports it (RANSAC)."""
    table_iterations: int = 300
    """RANSAC hypotheses for the table plane."""
    seed: int = 0
    """Seed of the table-plane RANSAC: the same scene and seed give the same mesh bytes."""

    def __post_init__(self) -> None:
        positive(self, "voxel_m", "truncation_voxels", "max_depth_m", "workspace_half_size_m")
        check(
            self,
            0 <= self.min_height_m < self.max_height_m,
            f"need 0 <= min_height_m < max_height_m; got {self.min_height_m} and "
            f"{self.max_height_m}",
        )
        check(
            self,
            0 <= self.min_component_share < 1,
            f"must lie in [0, 1); got {self.min_component_share}",
            "min_component_share",
        )
        positive(self, "table_inlier_m")
        at_least(self, 1, "table_iterations")
