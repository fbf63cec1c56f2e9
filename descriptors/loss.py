"""The descriptor losses, each term kept apart for logging.

Dense Object Nets' pixelwise contrastive loss: matches pull descriptors together,
mean ||d_a - d_b||^2. Non-matches push them apart up to a margin: max(0, M - ||d_a - d_b||)^2,
with hard-negative scaling, i.e. divided by the number of terms that are not zero rather than by
all of them (most non-matches are far apart already, and averaging over them would drown the few
that teach anything).

The distributional loss replaces the match, masked and background terms: a match's descriptor
in A against every pixel of B gives p(x) = softmax_x(-||d_a - d_b(x)||^2 / T), and the loss is
KL(target || p) for a Gaussian target of sigma px around the true match (cut at 3 sigma). Every
pixel of B is a negative at once, weighted by how near it comes, which is what the best-match
search needs: the sampled non-matches of the contrastive loss rarely include the few pixels that
beat the match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from descriptors.config import LossConfig
from descriptors.correspondence import BACKGROUND, BLIND, CROSS_OBJECT, MASKED
from descriptors.matching import square_offsets


@dataclass
class Samples:
    """A batch's correspondences, packed: one row per sample, with the pair it belongs to."""

    match_pair: torch.Tensor  # (N,) int64 index of the pair in the batch
    match_uv_a: torch.Tensor  # (N, 2) int64 (u, v)
    match_uv_b: torch.Tensor  # (N, 2)
    nonmatch_pair: torch.Tensor  # (M,)
    nonmatch_uv_a: torch.Tensor  # (M, 2)
    nonmatch_uv_b: torch.Tensor  # (M, 2)
    nonmatch_kind: torch.Tensor  # (M,) int64: MASKED, BACKGROUND, BLIND or CROSS_OBJECT
    cross_instance: torch.Tensor | None = None  # (B,) bool: pairs across instances of a class
    excluded_b: torch.Tensor | None = None  # (B, H, W) bool: pixels of B that match nothing

    def to(self, device: torch.device) -> Samples:
        return Samples(
            *(
                None if (value := getattr(self, name)) is None else value.to(device)
                for name in self.__dataclass_fields__
            )
        )


def gather(descriptors: torch.Tensor, pair: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """(K, D) descriptors at pixels `uv` (K, 2) of images `pair` (K,) of (B, D, H, W)."""
    return descriptors[pair, :, uv[:, 1], uv[:, 0]]


def hard_negative_term(distances: torch.Tensor, margin: float) -> tuple[torch.Tensor, int]:
    """Sum of max(0, margin - distance)^2 over the terms, divided by the number of non-zero
    terms (0 when there is none); and that number."""
    terms = torch.clamp(margin - distances, min=0.0) ** 2
    hard = int(torch.count_nonzero(terms))
    return terms.sum() / max(hard, 1), hard


def gaussian_window(
    uv_b: torch.Tensor, height: int, width: int, sigma_px: float, stride: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """A Gaussian of `sigma_px` around each pixel uv_b (N, 2), on the grid of every `stride`-th
    pixel of each row and column (H x W grid points; grid point (i, j) is pixel
    (j * stride, i * stride)), cut at 3 sigma and at the grid's border and normalized there:
    (N, K) flat grid indices and (N, K) weights summing to 1 (0 for the window's points outside
    the grid, whose indices are clamped in)."""
    centre = uv_b.float()
    base = torch.round(centre / stride).long()  # the nearest grid point
    radius = max(1, math.ceil(3.0 * sigma_px / stride))
    du, dv = (offset.to(uv_b.device) for offset in square_offsets(radius))
    columns, rows = base[:, :1] + du, base[:, 1:] + dv  # (N, K)
    inside = (columns >= 0) & (columns < width) & (rows >= 0) & (rows < height)
    squared = (columns * stride - centre[:, :1]) ** 2 + (rows * stride - centre[:, 1:]) ** 2
    weights = torch.exp(-squared / (2.0 * sigma_px**2)) * inside
    index = rows.clamp(0, height - 1) * width + columns.clamp(0, width - 1)
    return index, weights / weights.sum(dim=1, keepdim=True)


def distributional_term(
    descriptors_a: torch.Tensor,
    descriptors_b: torch.Tensor,
    pair: torch.Tensor,
    uv_a: torch.Tensor,
    uv_b: torch.Tensor,
    sigma_px: float,
    temperature: float,
    stride: int = 1,
    excluded_b: torch.Tensor | None = None,
    dims: list[int] | None = None,
) -> torch.Tensor:
    """Mean over matches of KL(Gaussian target around uv_b || softmax over B's pixels).

    The target is `gaussian_window`'s: only its pixels enter the sum, and the softmax's
    normalizer is over all of B's pixels, or over every `stride`-th of each row and column
    (stride^2 times fewer distances). Excluded pixels are in neither: no probability goes to
    them, and the target is renormalized over the rest of its window.

    Args:
        descriptors_a, descriptors_b: (B, D, H, W).
        pair: (N,) the pair of each match; uv_a, uv_b: (N, 2) its pixels (u, v).
        excluded_b: (B, H, W) bool pixels of B that are no candidate, or None.
        dims: per pair, how many leading descriptor dimensions are compared (None: all).
    """
    descriptors_b = descriptors_b[:, :, ::stride, ::stride]
    height, width = descriptors_b.shape[-2:]
    queries = gather(descriptors_a, pair, uv_a)  # (N, D)
    terms = []
    for index in torch.unique(pair).tolist():
        rows = pair == index
        compared = descriptors_b.shape[1] if dims is None else dims[index]
        flat_b = descriptors_b[index, :compared].flatten(1)  # (D', H * W)
        query = queries[rows, :compared]
        squared = (
            query.square().sum(dim=1, keepdim=True)
            - 2.0 * query @ flat_b
            + flat_b.square().sum(dim=0, keepdim=True)
        )  # (n, H * W)
        pixels, target = gaussian_window(uv_b[rows], height, width, sigma_px, stride)
        if excluded_b is not None and bool(excluded_b[index].any()):
            excluded = excluded_b[index, ::stride, ::stride].reshape(-1)
            squared = squared.masked_fill(excluded, float("inf"))
            target = target * ~excluded[pixels]
            target = target / target.sum(dim=1, keepdim=True).clamp_min(1e-12)
        log_p = torch.log_softmax(-squared / temperature, dim=1)
        log_target = torch.log(target.clamp_min(torch.finfo(target.dtype).tiny))
        # Where the target is 0, so is the term (log_p may be -inf there: an excluded pixel).
        kl = target * (log_target - log_p.gather(1, pixels).clamp_min(-1e4))
        terms.append(kl.sum(dim=1))
    return torch.cat(terms).mean()


def first_per_pair(pair: torch.Tensor, count: int) -> torch.Tensor:
    """(N,) bool: the first `count` rows of each pair (rows of a pair arrive in random order)."""
    order = torch.arange(len(pair), device=pair.device)
    starts = torch.full((int(pair.max()) + 1,), len(pair), device=pair.device)
    starts = starts.scatter_reduce(0, pair, order, reduce="amin")
    return order - starts[pair] < count


def descriptor_loss(
    descriptors_a: torch.Tensor,
    descriptors_b: torch.Tensor,
    samples: Samples,
    weights: LossConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The total loss, and each term and hard-negative share as plain numbers for logging.

    Args:
        descriptors_a, descriptors_b: (B, D, H, W) descriptors of the pairs' images.
    """
    zero = descriptors_a.sum() * 0.0  # keeps the graph (and the device) when a term is empty
    distributional = weights.kind == "distributional"
    if distributional and len(samples.match_pair):
        chosen = first_per_pair(samples.match_pair, weights.distributional_matches)
        every = descriptors_a.shape[1]
        crossing = [] if samples.cross_instance is None else samples.cross_instance.tolist()
        dims = [(weights.class_dims or every) if crosses else every for crosses in crossing]
        match = distributional_term(
            descriptors_a, descriptors_b, samples.match_pair[chosen],
            samples.match_uv_a[chosen], samples.match_uv_b[chosen], weights.sigma_px,
            weights.temperature, weights.distributional_stride, samples.excluded_b, dims or None,
        )  # fmt: skip
    elif len(samples.match_pair):
        match_a = gather(descriptors_a, samples.match_pair, samples.match_uv_a)
        match_b = gather(descriptors_b, samples.match_pair, samples.match_uv_b)
        match = ((match_a - match_b) ** 2).sum(dim=1).mean()
    else:
        match = zero
    distances = torch.linalg.norm(
        gather(descriptors_a, samples.nonmatch_pair, samples.nonmatch_uv_a)
        - gather(descriptors_b, samples.nonmatch_pair, samples.nonmatch_uv_b),
        dim=1,
    )
    terms, log = {}, {}
    for name, kind, margin in (
        ("masked", MASKED, weights.margin),
        ("background", BACKGROUND, weights.background_margin),
        ("blind", BLIND, weights.margin),
        ("cross_object", CROSS_OBJECT, weights.margin),
    ):
        chosen = distances[samples.nonmatch_kind == kind]
        # The distributional term has every pixel of B for its masked and background negatives.
        if len(chosen) and not (distributional and kind in (MASKED, BACKGROUND)):
            terms[name], hard = hard_negative_term(chosen, margin)
            log[f"hard_share_{name}"] = hard / len(chosen)
        else:
            terms[name] = zero
    total = (
        weights.match_weight * match
        + terms["masked"]
        + terms["background"]
        + weights.blind_weight * terms["blind"]
        + weights.cross_object_weight * terms["cross_object"]
    )
    log.update({"total": float(total.detach()), "match": float(match.detach())})
    log.update({name: float(value.detach()) for name, value in terms.items()})
    return total, log
