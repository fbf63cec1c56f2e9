"""DepthConfig: depth training, evaluation and prediction (`donkit depth`).

Each field is documented once, by the string under it. The defaults are the demo's recipe: the
self-supervised model with forward-kinematics poses, trained in a few minutes on 2 CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from formats import DonkitError


@dataclass(frozen=True)
class DepthConfig:
    """Depth from one RGB image: which training signal, the network, the optimizer, the losses."""

    mode: Literal["self_supervised", "stereo", "supervised"] = "self_supervised"
    """Training signal. 'self_supervised': rebuild each frame from neighbouring frames of its
    scene with the predicted depth and the camera motion (photometric loss). 'stereo': rebuild
    each image of a rectified pair from the other (scenes recorded with
    collect.camera.stereo_baseline_m > 0), with left-right disparity consistency. 'supervised':
    the scale-invariant log loss against the sensor depth. All three predict depth from one
    image."""
    pose_source: Literal["kinematics", "network"] = "kinematics"
    """Camera motion for 'self_supervised': 'kinematics' takes it from the scenes' poses (forward
    kinematics), which gives depth in metres; 'network' learns it with a pose network, for
    sequences without poses (depth then has an unknown scale: see the median-scaled figures)."""
    sources: int = 2
    """Source frames each target frame is rebuilt from ('self_supervised')."""
    source_choice: Literal["nearest_pose", "adjacent"] = "nearest_pose"
    """Which frames are a target's sources: 'nearest_pose', the frames whose cameras are
    nearest the target's (camera centres, metres) among those that overlap it enough
    (min_overlap); 'adjacent', the frames next to it in index order, for sequences without
    poses (a scene's views follow a nearest-neighbour path, so index neighbours are near too)."""
    overlap_depth_m: float = 0.45
    """The overlap of a candidate source is measured by moving the target's pixels, at this
    depth, into it with the two cameras' poses: about the median depth of the demo scenes."""
    min_overlap: float = 0.5
    """Least share of the target's pixels that must land inside a source ('nearest_pose'); a
    target with no such source is not trained on."""
    width: int = 160
    """Width of the network's input, pixels; images are resized to it (intrinsics scaled)."""
    height: int = 120
    """Height of the network's input, pixels."""
    backbone: Literal[18, 34] = 18
    """ResNet depth of the encoder (the descriptor network's ResNet), and of the pose network."""
    decoder_channels: tuple[int, int, int, int, int] = (16, 32, 64, 128, 256)
    """Widths of the depth decoder at strides 1, 2, 4, 8 and 16."""
    initial_depth_m: float = 0.45
    """Depth the untrained network predicts (about the median of the scenes' depth), metres: the
    disparity heads start with the bias that gives it, so that the warps of the first steps are
    already roughly right; 0: the sigmoid's middle (about 2 min_depth_m)."""
    scales: int = 4
    """Disparity scales the losses use (1-4, finest first); each is upsampled to the input size
    for the photometric loss."""
    steps: int = 360
    """Optimizer steps (360 of 4 samples at 160 x 120: under 5 minutes on 2 CPU cores)."""
    batch_size: int = 4
    """Target images (or stereo pairs) per step, per process under torchrun."""
    learning_rate: float = 3e-4
    """Adam's learning rate at the start."""
    schedule: Literal["constant", "step", "cosine"] = "cosine"
    """Learning-rate schedule: 'constant'; 'step', multiplied by decay_factor every decay_every
    steps; 'cosine', falling along a half cosine to 0 at the last step (so raising the steps of
    a run on `--resume` changes the rest of its schedule)."""
    decay_every: int = 400
    """Steps between decays of the 'step' schedule ..."""
    decay_factor: float = 0.5
    """... each multiplying the learning rate by this."""
    weight_decay: float = 0.0
    """Adam's weight decay."""
    clip_grad_norm: float = 10.0
    """Largest gradient norm; larger gradients are scaled down (0: no clipping)."""
    smoothness_weight: float = 1e-3
    """Weight of the edge-aware smoothness of disparity (divided by 2^k at scale k);
    'self_supervised' and 'stereo'."""
    auto_mask: bool = False
    """Leave out pixels that an unwarped source already matches at least as well as every
    warped one (a static camera, textureless patches): 'self_supervised' and 'stereo'. Off in
    the demo: its cameras always move 3-25 cm between views, so the pixels it drops are those
    the current depth warps badly, which are the ones to learn from (benchmarks/RESULTS.md)."""
    silog_lambda: float = 0.5
    """lambda of the scale-invariant log loss ('supervised'), in [0, 1]: 0 is the plain
    squared log error, 1 ignores scale entirely; Eigen et al. used 0.5."""
    left_right_weight: float = 1.0
    """Weight of the left-right disparity consistency ('stereo')."""
    min_depth_m: float = 0.1
    """Nearest depth the network can predict, metres (the sensor's minimum range); sensor depth
    outside [min_depth_m, max_depth_m] is neither trained nor evaluated on."""
    max_depth_m: float = 2.0
    """Farthest depth the network can predict, metres (the sensor's maximum range)."""
    colour_jitter: float = 0.1
    """Strength of the random brightness, contrast and saturation change of the network's input
    (never of the images the photometric loss compares); 0: none."""
    flip: float = 0.5
    """Probability that a sample is mirrored left to right: its images flipped, and intrinsics
    and motions mirrored with them, so that the geometry stays exact."""
    baseline_depth_m: float = 0.0
    """Depth of the constant baseline in evaluation, metres; 0: the median sensor depth (within
    min/max depth) of the training scenes."""
    seed: int = 0
    """Seed of the initial weights, the samples and their augmentation: the same config, data
    and seed train the same model (on one device type)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: auto picks cuda when present (`donkit depth train --device` overrides)."""
    loader_workers: int = 1
    """Processes preparing samples beside training (0: in the training process)."""
    log_every: int = 10
    """Steps between logged losses (TensorBoard and log.jsonl)."""
    image_every: int = 200
    """Steps between example images (input, predicted depth) in TensorBoard."""
    checkpoint_every: int = 500
    """Steps between kept checkpoints (checkpoints/step_XXXXXX.pt) ..."""
    last_every: int = 50
    """... and between refreshes of checkpoints/last.pt, which `--resume` continues from."""

    def validate(self, where: str) -> None:
        for name in (
            "sources", "steps", "batch_size", "decay_every", "log_every", "image_every",
            "checkpoint_every", "last_every",
        ):  # fmt: skip
            if getattr(self, name) < 1:
                raise DonkitError(f"{where}.{name} must be at least 1; got {getattr(self, name)}")
        if not 64 <= self.width <= 4096 or not 64 <= self.height <= 4096:
            raise DonkitError(
                f"{where}: width and height must lie in [64, 4096] pixels (the network's coarsest "
                f"features are 1/32 of them); got {self.width} x {self.height}"
            )
        if not 1 <= self.scales <= 4:
            raise DonkitError(f"{where}.scales must lie in [1, 4]; got {self.scales}")
        if min(self.decoder_channels) < 1:
            raise DonkitError(f"{where}.decoder_channels must all be at least 1")
        if not 0 < self.min_depth_m < self.max_depth_m:
            raise DonkitError(
                f"{where}: need 0 < min_depth_m < max_depth_m; got {self.min_depth_m} and "
                f"{self.max_depth_m}"
            )
        if self.initial_depth_m != 0 and not (
            self.min_depth_m < self.initial_depth_m < self.max_depth_m
        ):
            raise DonkitError(
                f"{where}.initial_depth_m must lie strictly within (min_depth_m, max_depth_m), or "
                f"be 0; got {self.initial_depth_m}"
            )
        if not self.min_depth_m <= self.overlap_depth_m <= self.max_depth_m:
            raise DonkitError(f"{where}.overlap_depth_m must lie within [min_depth_m, max_depth_m]")
        if self.baseline_depth_m < 0:
            raise DonkitError(f"{where}.baseline_depth_m must not be negative (0: training median)")
        if self.learning_rate <= 0:
            raise DonkitError(f"{where}.learning_rate must be positive; got {self.learning_rate}")
        if not 0 < self.decay_factor <= 1:
            raise DonkitError(f"{where}.decay_factor must lie in (0, 1]; got {self.decay_factor}")
        for name in (
            "weight_decay", "clip_grad_norm", "smoothness_weight", "left_right_weight",
            "colour_jitter", "loader_workers",
        ):  # fmt: skip
            if getattr(self, name) < 0:
                raise DonkitError(f"{where}.{name} must not be negative")
        for name in ("min_overlap", "silog_lambda", "flip"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DonkitError(f"{where}.{name} must lie in [0, 1]; got {getattr(self, name)}")
        if self.pose_source == "network" and self.source_choice == "nearest_pose":
            raise DonkitError(
                f"{where}: pose_source 'network' is for sequences without poses, but "
                "source_choice 'nearest_pose' picks sources by their poses; set "
                f"{where}.source_choice=adjacent"
            )
