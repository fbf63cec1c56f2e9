"""CorrespondConfig: which image pairs, and which matches and non-matches in them.

Each field is documented once, by the string under it. The same settings drive the datasets
written by `donkit correspond` and the pairs the trainer draws on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass

from geometry.errors import DonkitError


@dataclass(frozen=True)
class CorrespondConfig:
    """Correspondence generation and the pair policy."""

    seed: int = 0
    """Seed of every pair and sample: the same config, data and seed give the same dataset."""
    pairs: int = 1000
    """Pairs written by `donkit correspond`."""
    attempts: int = 10000
    """Pixels of A's object mask tried per pair (without repeats while the mask has enough)."""
    matches: int = 1000
    """Most matches kept per pair (a random subset of the valid ones)."""
    nonmatches_per_match: int = 150
    """Non-matches drawn in B for each match (masked and background together)."""
    saved_nonmatches_per_match: int = 5
    """Of those, how many per match a written dataset keeps (datasets stay small; the trainer
    draws its own on the fly)."""
    masked_share: float = 0.5
    """Share of the non-matches drawn on B's object mask; the rest come from its background."""
    nonmatch_radius_px: float = 8.0
    """Non-matches lie at least this far from the true match, pixels."""
    blind_nonmatches: int = 500
    """Blind non-matches per pair: random object pixels of A against random pixels of B."""
    cross_object_nonmatches: int = 2000
    """Non-matches per pair of views of two different objects (every pixel pair is one)."""
    occlusion_margin_m: float = 0.003
    """A point is hidden in B when its depth there and B's rendered depth differ by more."""
    edge_threshold_m: float = 0.02
    """No match starts or lands on a pixel whose 3 x 3 neighbourhood of rendered depth spans
    more than this (silhouettes, rims), where the fused mesh is least reliable."""
    min_overlap: float = 0.1
    """Pairs of one scene need at least this share of A's tried pixels to match in B."""
    partner_tries: int = 10
    """Views B tried for a view A before the pair is skipped for lack of overlap."""
    same_object_share: float = 0.5
    """Pair kind odds: two views of one single-object scene ..."""
    different_object_share: float = 0.25
    """... views of two different objects (non-matches only) ..."""
    multi_object_share: float = 0.25
    """... two views of one scene with several objects. Kinds the data cannot give are
    dropped and the others renormalized."""

    def validate(self, where: str) -> None:
        for name in ("pairs", "attempts", "matches", "partner_tries"):
            if getattr(self, name) < 1:
                raise DonkitError(f"{where}.{name} must be at least 1")
        for name in ("nonmatches_per_match", "saved_nonmatches_per_match", "blind_nonmatches"):
            if getattr(self, name) < 0:
                raise DonkitError(f"{where}.{name} must not be negative")
        if self.saved_nonmatches_per_match > self.nonmatches_per_match:
            raise DonkitError(
                f"{where}.saved_nonmatches_per_match cannot exceed nonmatches_per_match"
            )
        for name in ("masked_share", "min_overlap"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DonkitError(f"{where}.{name} must lie in [0, 1]")
        shares = (self.same_object_share, self.different_object_share, self.multi_object_share)
        if min(shares) < 0 or sum(shares) <= 0:
            raise DonkitError(f"{where}: the pair kind shares must be >= 0 and not all 0")
        if self.nonmatch_radius_px < 0 or self.occlusion_margin_m <= 0:
            raise DonkitError(f"{where}: nonmatch_radius_px >= 0 and occlusion_margin_m > 0")
        if self.edge_threshold_m <= 0:
            raise DonkitError(f"{where}.edge_threshold_m must be positive")
