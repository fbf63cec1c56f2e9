"""CorrespondConfig: which image pairs, and which matches and non-matches in them.

Each field is documented once, by the string under it. The same settings drive the datasets
written by `donkit correspond` and the pairs the trainer draws on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from formats import DonkitError


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


@dataclass(frozen=True)
class TrainConfig:
    """Descriptor training: network, optimizer, augmentation, logging.

    Which pairs are drawn, and how many matches and non-matches each gives, is the `correspond`
    section's pair policy (its seed is replaced by this section's)."""

    seed: int = 0
    """Seed of the network's initial weights, the pairs drawn and their augmentation: the same
    config, data and seed train the same model (on one device type)."""
    steps: int = 600
    """Optimizer steps (600 of 2 pairs: about 7.5 minutes on 2 CPU cores at 320x240)."""
    pairs_per_step: int = 2
    """Image pairs per step (per process under torchrun)."""
    backbone: Literal[18, 34] = 18
    """ResNet depth of the backbone."""
    pretrained: str = ""
    """A torchvision ResNet state dict (.pth) to start the backbone from; "" trains from
    scratch. Nothing is ever downloaded."""
    descriptor_dim: int = 16
    """Descriptor dimensions D (3 can be viewed directly as colours)."""
    width: int = 128
    """Channels of the feature pyramid between backbone and head."""
    finest_stride: Literal[4, 8] = 8
    """Stride of the finest backbone features the pyramid merges: 8 (layer2), or 4 (layer1 as
    well: finer detail for precise matches, at some cost in speed)."""
    normalize: bool = False
    """L2-normalize descriptors to unit length (margins then apply on the sphere)."""
    learning_rate: float = 1e-3
    """Adam's learning rate. Training from scratch for the demo's 600 steps, 1e-3 beat 1e-4 and
    3e-3 on held-out best matches (benchmarks/RESULTS.md); from pretrained weights, try 1e-4."""
    weight_decay: float = 1e-4
    """Adam's weight decay."""
    decay_every: int = 250
    """Steps between learning-rate decays ..."""
    decay_factor: float = 0.9
    """... each multiplying it by this."""
    clip_grad_norm: float = 10.0
    """Largest gradient norm; larger gradients are scaled down (0: no clipping)."""
    margin: float = 0.5
    """Non-match margin M: non-matches closer than M in descriptor space are penalized."""
    background_margin: float = 0.5
    """Margin of the background non-matches."""
    match_weight: float = 1.0
    """Weight of the match term ..."""
    blind_weight: float = 1.0
    """... of the blind non-match term ..."""
    cross_object_weight: float = 1.0
    """... and of the cross-object term (masked and background terms weigh 1)."""
    class_consistent: bool = False
    """Cross-object non-matches only between objects of different classes, and no multi-object
    scene with two objects of one class, so that instances of a class can share descriptors."""
    synthetic_multi_object_share: float = 0.0
    """Share of same-object pairs given a second object, cut from a view of another
    single-object scene and pasted into both images (DON's synthetic multi-object scenes)."""
    background_randomization: float = 0.5
    """Probability that an image's background (outside the fused objects' mask) is replaced
    by a random texture."""
    background_textures: int = 256
    """Distinct random background textures (made once per worker, flipped and shifted)."""
    colour_jitter: float = 0.2
    """Strength of the random brightness, contrast and saturation change (0: none)."""
    rotate_180: float = 0.5
    """Probability that an image is turned by 180 degrees (its pixels' matches turned too)."""
    scale_range: tuple[float, float] = (0.8, 1.25)
    """Random zoom of each image (then cropped or padded back to its size); (1, 1): none."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: auto picks cuda when present (`donkit train --device` overrides)."""
    mixed_precision: bool = True
    """float16 autocast on cuda (CPU trains in float32)."""
    loader_workers: int = 1
    """Processes preparing pairs beside training (0: in the training process)."""
    log_every: int = 10
    """Steps between logged losses (TensorBoard and log.jsonl)."""
    image_every: int = 250
    """Steps between descriptor images in TensorBoard."""
    checkpoint_every: int = 500
    """Steps between kept checkpoints (checkpoints/step_XXXXXX.pt) ..."""
    last_every: int = 50
    """... and between refreshes of checkpoints/last.pt, which `--resume` continues from (a
    crash loses at most these steps)."""
    validate_every: int = 250
    """Steps between losses on held-out pairs (when `donkit train --val DATA` is given)."""
    validation_pairs: int = 32
    """Held-out pairs the validation loss is averaged over (the same pairs every time)."""

    def validate(self, where: str) -> None:
        for name in ("steps", "pairs_per_step", "descriptor_dim", "width", "decay_every"):
            if getattr(self, name) < 1:
                raise DonkitError(f"{where}.{name} must be at least 1")
        for name in (
            "log_every",
            "image_every",
            "checkpoint_every",
            "last_every",
            "validate_every",
        ):
            if getattr(self, name) < 1:
                raise DonkitError(f"{where}.{name} must be at least 1")
        if self.validation_pairs < 1 or self.background_textures < 1:
            raise DonkitError(f"{where}: validation_pairs and background_textures must be >= 1")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise DonkitError(f"{where}: learning_rate > 0 and weight_decay >= 0")
        if not 0 < self.decay_factor <= 1:
            raise DonkitError(f"{where}.decay_factor must lie in (0, 1]")
        if self.clip_grad_norm < 0 or self.loader_workers < 0:
            raise DonkitError(f"{where}: clip_grad_norm and loader_workers must not be negative")
        if self.margin <= 0 or self.background_margin <= 0:
            raise DonkitError(f"{where}: margin and background_margin must be positive")
        for name in ("match_weight", "blind_weight", "cross_object_weight", "colour_jitter"):
            if getattr(self, name) < 0:
                raise DonkitError(f"{where}.{name} must not be negative")
        for name in ("synthetic_multi_object_share", "background_randomization", "rotate_180"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DonkitError(f"{where}.{name} must lie in [0, 1]")
        low, high = self.scale_range
        if not 0.25 <= low <= high <= 4.0:
            raise DonkitError(
                f"{where}.scale_range must be [low, high] with 0.25 <= low <= high <= 4"
            )
