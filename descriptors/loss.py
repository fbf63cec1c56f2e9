"""The pixelwise contrastive loss of Dense Object Nets, each term kept apart for logging.

Matches pull descriptors together: mean ||d_a - d_b||^2. Non-matches push them apart up to a
margin: max(0, M - ||d_a - d_b||)^2, with hard-negative scaling, i.e. divided by the number of
terms that are not zero rather than by all of them (most non-matches are far apart already,
and averaging over them would drown the few that teach anything).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from descriptors.config import LossConfig
from descriptors.correspondence import BACKGROUND, BLIND, CROSS_OBJECT, MASKED


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

    def to(self, device: torch.device) -> Samples:
        return Samples(*(getattr(self, name).to(device) for name in self.__dataclass_fields__))


def gather(descriptors: torch.Tensor, pair: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """(K, D) descriptors at pixels `uv` (K, 2) of images `pair` (K,) of (B, D, H, W)."""
    return descriptors[pair, :, uv[:, 1], uv[:, 0]]


def hard_negative_term(distances: torch.Tensor, margin: float) -> tuple[torch.Tensor, int]:
    """Sum of max(0, margin - distance)^2 over the terms, divided by the number of non-zero
    terms (0 when there is none); and that number."""
    terms = torch.clamp(margin - distances, min=0.0) ** 2
    hard = int(torch.count_nonzero(terms))
    return terms.sum() / max(hard, 1), hard


def contrastive_loss(
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
    if len(samples.match_pair):
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
        if len(chosen):
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
