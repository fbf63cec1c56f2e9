"""Matches and non-matches between two views, from the fused mesh's rendered depth and masks.

The one implementation (vectorized, no loop over samples): datasets are written with it, and the
trainer draws its pairs with it on the fly. The geometry is geometry.warp: a pixel of A, its
rendered depth and both poses give its pixel in B.

Pixels are integers (u, v) = (column, row); a match's pixel in B is the nearest pixel to its
exact projection, so rounding alone puts it a median 0.38 px from the true location.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.ndimage import maximum_filter, minimum_filter

from geometry import PinholeCamera, backproject, inside_image, transform, warp

# Non-match kinds, as stored in datasets (formats.correspondences).
MASKED, BACKGROUND, BLIND, CROSS_OBJECT = 0, 1, 2, 3
_REDRAWS = 20  # rounds of redrawing non-matches that fell within the radius of their match


@dataclass(frozen=True)
class View:
    """What correspondences need of one frame: camera, pose, and the mesh rendered into it."""

    camera: PinholeCamera
    camera_to_world: np.ndarray  # (4, 4)
    depth: np.ndarray  # (H, W) float32 metres of the fused mesh, 0 where it is not
    mask: np.ndarray  # (H, W) bool, the fused objects
    edge_threshold_m: float = 0.02
    # (H, W) float32 metres: the frame's own depth image (0 = no reading), or None when unknown
    sensor_depth: np.ndarray | None = None
    sensor_tolerance: float = 0.0  # see sensor_disagrees; 0 = the depth image is not consulted

    @cached_property
    def object_pixels(self) -> np.ndarray:
        """(K,) int64 flat indices (row * W + column) of the mask's pixels."""
        return np.flatnonzero(self.mask)

    @cached_property
    def on_edge(self) -> np.ndarray:
        """(H, W) bool: pixels whose 3 x 3 neighbourhood of rendered depth spans more than
        `edge_threshold_m`, or reaches off the mesh (silhouettes, rims, folds).

        Matches are neither made from nor landed on such pixels: there a pixel mixes surfaces,
        and the fused mesh is least like the object (measured against ground truth, matches on
        edges held nearly all of the 1.9 % that were really hidden in B).
        """
        spread = maximum_filter(self.depth, size=3) - minimum_filter(self.depth, size=3)
        return spread > self.edge_threshold_m

    @cached_property
    def sensor_disagrees(self) -> np.ndarray:
        """(H, W) bool: pixels where the frame's own depth image contradicts the fused mesh's
        depth by more than `sensor_tolerance` times that depth, in front or behind; where the
        image has no reading, where one in the 3 x 3 neighbourhood lies that far in front of
        the mesh. All False without a depth image or a tolerance.

        The fused mesh can lack what the sensor saw (a thin part, or the rim of a silhouette,
        which depth cameras read in few views) or bleed past an object, and only the sensor
        then shows that a match is wrong. Depth cameras read nothing on a silhouette's rim; the
        readings beside such a hole still show the occluder. Compared pixel by pixel with the
        mesh, a slanted surface does not count as disagreement.
        """
        if self.sensor_depth is None or self.sensor_tolerance <= 0:
            return np.zeros(self.depth.shape, bool)
        read = self.sensor_depth > 0
        both = read & (self.depth > 0)
        limit = self.sensor_tolerance * self.depth
        disagrees = both & (np.abs(self.sensor_depth - self.depth) > limit)
        in_front = np.where(both, self.depth - self.sensor_depth, -np.inf)
        return disagrees | (~read & (maximum_filter(in_front, size=3) > limit))

    @cached_property
    def match_pixels(self) -> np.ndarray:
        """(K,) int64 flat indices of the mask's pixels away from depth edges, where the depth
        image does not contradict the mesh."""
        return np.flatnonzero(self.mask & ~self.on_edge & ~self.sensor_disagrees)

    @cached_property
    def background_pixels(self) -> np.ndarray:
        """(K,) int64 flat indices of the pixels outside the mask."""
        return np.flatnonzero(~self.mask)

    @cached_property
    def object_uv(self) -> np.ndarray:
        """(K, 2) int32 pixels (u, v) of the mask."""
        return _uv(self.object_pixels, self.camera.width)

    @cached_property
    def background_uv(self) -> np.ndarray:
        """(K, 2) int32 pixels (u, v) outside the mask."""
        return _uv(self.background_pixels, self.camera.width)


@dataclass
class Matches:
    """Pixels of A and B that see the same surface point."""

    uv_a: np.ndarray  # (N, 2) int32
    uv_b: np.ndarray  # (N, 2) int32
    xyz: np.ndarray  # (N, 3) float32 world points, metres
    attempts: int  # pixels of A tried
    rejected: dict[str, int] = field(default_factory=dict)  # by reason
    # (K, 2) int32 pixels of A that B cannot see: outside its image or hidden behind something
    # (not those at depth edges or off its mesh, which are merely uncertain). What a tracker's
    # visibility test must call unseen; evaluation and calibration use them.
    hidden_uv_a: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int32))

    @staticmethod
    def empty() -> Matches:
        return Matches(
            np.zeros((0, 2), np.int32), np.zeros((0, 2), np.int32), np.zeros((0, 3), np.float32), 0
        )


@dataclass
class NonMatches:
    """Pixel pairs that see different points."""

    uv_a: np.ndarray  # (M, 2) int32
    uv_b: np.ndarray  # (M, 2) int32
    kind: np.ndarray  # (M,) uint8: MASKED, BACKGROUND, BLIND or CROSS_OBJECT

    @staticmethod
    def empty() -> NonMatches:
        return NonMatches(
            np.zeros((0, 2), np.int32), np.zeros((0, 2), np.int32), np.zeros(0, np.uint8)
        )

    @staticmethod
    def concatenate(parts: list[NonMatches]) -> NonMatches:
        return NonMatches(
            np.concatenate([p.uv_a for p in parts]).reshape(-1, 2).astype(np.int32),
            np.concatenate([p.uv_b for p in parts]).reshape(-1, 2).astype(np.int32),
            np.concatenate([p.kind for p in parts]).astype(np.uint8),
        )


def _uv(flat: np.ndarray, width: int) -> np.ndarray:
    """(N, 2) int32 (u, v) of flat pixel indices."""
    rows, columns = np.divmod(flat, width)
    return np.stack([columns, rows], axis=-1).astype(np.int32)


def find_matches(
    view_a: View,
    view_b: View,
    attempts: int,
    occlusion_margin_m: float,
    rng: np.random.Generator,
) -> Matches:
    """Matches from up to `attempts` of A's match pixels (no pixel twice).

    Each is moved into B with its rendered depth (geometry.warp) and kept when its nearest pixel
    lies inside B, on B's mesh away from a depth edge, B's rendered depth there agrees with the
    point's depth in B within `occlusion_margin_m` (otherwise something hides it), and B's own
    depth image does not contradict the mesh there (View.sensor_disagrees).
    """
    pixels = view_a.match_pixels
    if attempts < len(pixels):
        pixels = rng.choice(pixels, attempts, replace=False)
    uv_a = _uv(pixels, view_a.camera.width)
    depth_a = view_a.depth.reshape(-1)[pixels].astype(np.float64)
    uv_b, z_b = warp(
        uv_a.astype(np.float64),
        depth_a,
        view_a.camera.matrix,
        view_a.camera_to_world,
        view_b.camera.matrix,
        view_b.camera_to_world,
    )
    inside = inside_image(uv_b, view_b.camera.width, view_b.camera.height) & (z_b > 0)
    nearest = np.rint(uv_b).astype(np.int32)
    seen_depth = np.zeros(len(uv_b))
    seen_depth[inside] = view_b.depth[nearest[inside, 1], nearest[inside, 0]]
    on_mesh = inside & (seen_depth > 0)
    off_edge = on_mesh.copy()
    off_edge[on_mesh] = ~view_b.on_edge[nearest[on_mesh, 1], nearest[on_mesh, 0]]
    unhidden = off_edge & (np.abs(z_b - seen_depth) <= occlusion_margin_m)
    visible = unhidden.copy()
    visible[unhidden] = ~view_b.sensor_disagrees[nearest[unhidden, 1], nearest[unhidden, 0]]
    points = transform(
        backproject(uv_a[visible], depth_a[visible], view_a.camera.matrix), view_a.camera_to_world
    )
    hidden = ~inside | (off_edge & ~unhidden)
    return Matches(
        uv_a=uv_a[visible],
        uv_b=nearest[visible],
        xyz=points.astype(np.float32),
        attempts=len(pixels),
        rejected={
            "outside_b": int(np.count_nonzero(~inside)),
            "off_mesh_in_b": int(np.count_nonzero(inside & ~on_mesh)),
            "edge_in_b": int(np.count_nonzero(on_mesh & ~off_edge)),
            "occluded": int(np.count_nonzero(off_edge & ~unhidden)),
            "sensor_disagrees": int(np.count_nonzero(unhidden & ~visible)),
        },
        hidden_uv_a=uv_a[hidden],
    )


def keep_subset(matches: Matches, count: int, rng: np.random.Generator) -> Matches:
    """At most `count` of the matches, chosen at random."""
    if len(matches.uv_a) <= count:
        return matches
    chosen = np.sort(rng.choice(len(matches.uv_a), count, replace=False))
    return Matches(
        matches.uv_a[chosen], matches.uv_b[chosen], matches.xyz[chosen], matches.attempts,
        matches.rejected, matches.hidden_uv_a,
    )  # fmt: skip


def nonmatches_for(
    matches: Matches,
    view_b: View,
    per_match: int,
    masked_share: float,
    radius_px: float,
    rng: np.random.Generator,
) -> NonMatches:
    """For each match, `per_match` pixels of B that are not its match: a `masked_share` of them
    on B's object mask, the rest on its background, all at least `radius_px` from the match.

    At 5,000 matches and 150 non-matches each, every pass over the 750,000 pixels costs about a
    millisecond, so the draws are laid out draw-major ((per_match, N): each row one draw for
    every match, so that every array is contiguous), gathered once from both pools packed side
    by side, tested once, and only the few that fall too close are drawn again.
    """
    masked = round(per_match * masked_share)
    pools = (view_b.object_uv, view_b.background_uv)
    # Both pools in one array, each pixel's (u, v) as one int64: a one-dimensional gather.
    packed = np.concatenate(pools).view(np.int64).reshape(-1)
    split, count = len(pools[0]), len(matches.uv_b)
    bounds = np.empty((per_match, 2), np.int64)  # the index range of each row's pool
    index = np.zeros((per_match, count), np.int32)
    for first, last, low, high in ((0, masked, 0, split), (masked, per_match, split, len(packed))):
        bounds[first:last] = (low, high)
        if last > first and high > low:
            index[first:last] = rng.integers(low, high, (last - first, count), np.int32)
    usable = bounds[:, 1] > bounds[:, 0]  # an empty pool (no mask, no background) draws nothing
    drawn = packed[index].view(np.int32).reshape(per_match, count, 2)
    du = drawn[..., 0] - matches.uv_b[:, 0]
    dv = drawn[..., 1] - matches.uv_b[:, 1]
    limit = radius_px * radius_px
    rows, columns = np.nonzero((du * du + dv * dv < limit) & usable[:, None])
    for _ in range(_REDRAWS):
        if len(rows) == 0:
            break
        fresh = packed[rng.integers(bounds[rows, 0], bounds[rows, 1])].view(np.int32).reshape(-1, 2)
        drawn[rows, columns] = fresh
        offset = fresh - matches.uv_b[columns]
        still = (offset * offset).sum(axis=1) < limit
        rows, columns = rows[still], columns[still]
    kinds = np.repeat(
        np.where(np.arange(per_match) < masked, MASKED, BACKGROUND).astype(np.uint8), count
    )
    uv_a = np.tile(matches.uv_a, (per_match, 1))
    keep = np.repeat(usable, count)
    keep[rows * count + columns] = False
    drawn = drawn.reshape(-1, 2)
    if keep.all():
        return NonMatches(uv_a, drawn, kinds)
    return NonMatches(uv_a[keep], drawn[keep], kinds[keep])


def random_pairs(
    mask_a: np.ndarray,
    mask_b: np.ndarray,
    count: int,
    b_on_object: bool,
    kind: int,
    rng: np.random.Generator,
) -> NonMatches:
    """`count` random pixels of `mask_a` (H, W) bool, each against a random pixel of image B
    (anywhere, or on `mask_b`): blind non-matches, or cross-object ones between views of two
    different objects."""
    pool_a = np.flatnonzero(mask_a)
    pool_b = np.flatnonzero(mask_b) if b_on_object else np.arange(mask_b.size)
    if count == 0 or len(pool_a) == 0 or len(pool_b) == 0:
        return NonMatches.empty()
    uv_a = _uv(pool_a[rng.integers(0, len(pool_a), count)], mask_a.shape[1])
    uv_b = _uv(pool_b[rng.integers(0, len(pool_b), count)], mask_b.shape[1])
    return NonMatches(uv_a, uv_b, np.full(count, kind, np.uint8))
