"""Best matches of query descriptors in a descriptor image, to sub-pixel precision.

The one implementation of "the pixel of B whose descriptor is nearest": evaluation, the pictures
and the tracker all call `FrameMatcher.match`. The best pixel is refined to sub-pixel by one of

- "quadratic": a quadratic surface fitted (least squares) to the squared distances of the 3 x 3
  pixels around the best one, and its minimum. Where descriptors vary linearly
  (d(x) ~ d(x0) + J (x - x0)), the squared distance ||q - d(x)||^2 is exactly such a quadratic,
  so its minimum is the exact one. Where the fit has no minimum, or a neighbour is missing (the
  image's border, an excluded pixel), each axis falls back to a parabola through the best pixel
  and its two neighbours on that axis, or to no shift;
- "expectation": the mean position of the pixels within a radius of the best one, weighted by a
  softmax of their descriptor distances (a local soft-argmax);
- "none": the best pixel itself.
"""

from __future__ import annotations

from typing import Literal

import torch

Refinement = Literal["none", "quadratic", "expectation"]
REFINEMENTS: tuple[Refinement, ...] = ("none", "quadratic", "expectation")


def square_offsets(radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(K,) int64 column and row offsets of the (2r + 1)^2 pixels of a square."""
    steps = torch.arange(-radius, radius + 1)
    dv, du = torch.meshgrid(steps, steps, indexing="ij")
    return du.reshape(-1), dv.reshape(-1)


def parabola_vertex(before: torch.Tensor, at: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Offset in [-0.5, 0.5] of the vertex of the parabola through (-1, before), (0, at) and
    (1, after), for `at` a discrete minimum; 0 where the three are not convex (flat), or where
    one is infinite (an excluded pixel: no parabola, as on the image's border)."""
    curvature = before - 2.0 * at + after
    convex = torch.isfinite(curvature) & (curvature > 0)
    safe = torch.where(convex, curvature, torch.ones_like(curvature))
    offset = torch.where(convex, 0.5 * (before - after) / safe, torch.zeros_like(at))
    return offset.clamp(-0.5, 0.5)


def quadratic_vertex(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum of the quadratic a + b u + c v + d u^2 + e v^2 + g u v fitted by least squares
    to values (n, 9) at the 3 x 3 offsets u, v in {-1, 0, 1} (row-major: v, then u).

    Returns (n, 2) offsets (u, v), and (n,) bool where the fit has a minimum (positive definite,
    every value finite) within half a pixel on both axes."""
    grid = values.reshape(-1, 3, 3)  # [row v + 1, column u + 1]
    columns, rows = grid.sum(dim=1), grid.sum(dim=2)  # sums at u = -1, 0, 1 and at v = ...
    # The closed-form least-squares coefficients on this symmetric grid.
    b = (columns[:, 2] - columns[:, 0]) / 6.0
    c = (rows[:, 2] - rows[:, 0]) / 6.0
    d = (columns[:, 2] + columns[:, 0] - 2.0 * columns[:, 1]) / 6.0
    e = (rows[:, 2] + rows[:, 0] - 2.0 * rows[:, 1]) / 6.0
    g = (grid[:, 2, 2] + grid[:, 0, 0] - grid[:, 0, 2] - grid[:, 2, 0]) / 4.0
    determinant = 4.0 * d * e - g * g
    valid = torch.isfinite(values).all(dim=1) & (d > 0) & (determinant > 0)
    safe = torch.where(valid, determinant, torch.ones_like(determinant))
    # The gradient b + 2 d u + g v = 0 and c + g u + 2 e v = 0, solved.
    offsets = torch.stack([(g * c - 2.0 * e * b) / safe, (g * b - 2.0 * d * c) / safe], dim=1)
    valid = valid & (offsets.abs() <= 0.5).all(dim=1)
    return torch.where(valid[:, None], offsets, torch.zeros_like(offsets)), valid


class FrameMatcher:
    """Best matches of query descriptors in one descriptor image.

    Distances to every pixel come from one matrix product per chunk of queries (|d|^2 - 2 q.d;
    |q|^2 is the same for every pixel of a query, so it is added to the minima only), which is
    many times faster than torch.cdist; search windows and the pixels around a best match are
    gathered from those. The image's dtype is the arithmetic's (float64 for evaluation).
    """

    def __init__(
        self, descriptors: torch.Tensor, chunk: int = 256, excluded: torch.Tensor | None = None
    ):
        """descriptors: (D, H, W); excluded: (H, W) bool pixels that are never a match."""
        dims, self.height, self.width = descriptors.shape
        self.flat_t = descriptors.reshape(dims, -1)  # (D, H * W)
        self.flat_squared = self.flat_t.square().sum(dim=0)  # (H * W,)
        if excluded is not None:  # infinitely far from every query
            self.flat_squared = self.flat_squared.masked_fill(excluded.reshape(-1), float("inf"))
        self.chunk = chunk

    def squared_distances(self, queries: torch.Tensor) -> torch.Tensor:
        """(N, H * W) squared descriptor distances of queries (N, D) to every pixel."""
        queries = queries.to(self.flat_t.dtype)
        partial = torch.addmm(self.flat_squared, queries, self.flat_t, alpha=-2.0)
        return (partial + queries.square().sum(dim=1, keepdim=True)).clamp_min(0.0)

    def match(
        self,
        queries: torch.Tensor,
        centre: torch.Tensor | None = None,
        radius: int = 0,
        threshold: float = float("inf"),
        refine: Refinement = "quadratic",
        refine_radius: int = 3,
        temperature: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Where each query is in this image.

        Args:
            queries: (N, D) descriptors.
            centre: (N, 2) float pixels to search around (NaN entries, or None: the whole image).
            radius: half the side of the square searched around `centre`, pixels (0: the whole
                image); a query with nothing nearer than `threshold` there is searched for over
                the whole image.
            refine: how the best pixel is refined to sub-pixel (see the module's docstring);
                "expectation" weighs the pixels within `refine_radius` of it by
                softmax(-distance / temperature).

        Returns:
            xy: (N, 2) pixels (x, y) in the image's dtype; distance: (N,) to the best pixel.
        """
        if centre is None:
            centre = torch.full((len(queries), 2), float("nan"))
        queries = queries.to(self.flat_t.dtype)
        xy, distance = [], []
        for start in range(0, len(queries), self.chunk):
            block = slice(start, start + self.chunk)
            found = self._match_chunk(
                queries[block], centre[block], radius, threshold, refine, refine_radius,
                temperature,
            )  # fmt: skip
            xy.append(found[0])
            distance.append(found[1])
        if not xy:
            return torch.zeros(0, 2, dtype=self.flat_t.dtype), torch.zeros(
                0, dtype=self.flat_t.dtype
            )
        return torch.cat(xy), torch.cat(distance)

    def _pixels_around(self, u: torch.Tensor, v: torch.Tensor, radius: int):
        """(n, K) columns, rows and flat indices of the square of `radius` around pixels (u, v)
        (n,), clamped into the image (a square at the border repeats its edge pixels)."""
        du, dv = square_offsets(radius)
        columns = (u[:, None] + du).clamp(0, self.width - 1)
        rows = (v[:, None] + dv).clamp(0, self.height - 1)
        return columns, rows, rows * self.width + columns

    def _match_chunk(
        self, queries, centre, radius, threshold, refine, refine_radius, temperature
    ) -> tuple[torch.Tensor, torch.Tensor]:
        query_squared = queries.square().sum(dim=1, keepdim=True)  # (n, 1)
        # |d|^2 - 2 q.d for every pixel: the squared distance less |q|^2.
        partial = torch.addmm(self.flat_squared, queries, self.flat_t, alpha=-2.0)  # (n, H * W)
        nearest, best = partial.min(dim=1)
        windowed = (
            torch.isfinite(centre[:, 0])
            if radius > 0
            else torch.zeros(len(queries), dtype=torch.bool)
        )
        if windowed.any():
            anchor = centre[windowed].round().long()
            _, _, window = self._pixels_around(anchor[:, 0], anchor[:, 1], radius)
            window_nearest, index = partial[windowed].gather(1, window).min(dim=1)
            # Found in its window: it stays there. Otherwise the whole image's best match:
            # re-detection after an occlusion, or a point that moved far.
            squared = window_nearest + query_squared[windowed, 0]
            keep = squared <= threshold**2
            rows = torch.nonzero(windowed).squeeze(1)[keep]
            nearest[rows] = window_nearest[keep]
            best[rows] = window.gather(1, index[:, None])[keep, 0]
        best_u, best_v = best % self.width, best // self.width
        xy = torch.stack([best_u, best_v], dim=1).to(partial.dtype)
        if refine == "quadratic":
            _, _, around = self._pixels_around(best_u, best_v, 1)
            # Squares of radius 1 in row-major order: 1 above, 3 left, 4 centre, 5 right, 7 below.
            values = partial.gather(1, around)
            offset_u = parabola_vertex(values[:, 3], values[:, 4], values[:, 5])
            offset_v = parabola_vertex(values[:, 1], values[:, 4], values[:, 7])
            # On the image's border one neighbour is missing: no parabola there.
            inside_u = (best_u > 0) & (best_u < self.width - 1)
            inside_v = (best_v > 0) & (best_v < self.height - 1)
            axes = torch.stack([offset_u * inside_u, offset_v * inside_v], dim=1)
            surface, fitted = quadratic_vertex(values)
            fitted = fitted & inside_u & inside_v
            xy = xy + torch.where(fitted[:, None], surface, axes)
        elif refine == "expectation" and refine_radius > 0:
            columns, rows, around = self._pixels_around(best_u, best_v, refine_radius)
            distances = (partial.gather(1, around) + query_squared).clamp_min(0.0).sqrt()
            weights = torch.softmax(-distances / temperature, dim=1)  # (n, K)
            xy = torch.stack([(weights * columns).sum(1), (weights * rows).sum(1)], dim=1)
        return xy, (nearest + query_squared[:, 0]).clamp_min(0.0).sqrt()
