"""CollectConfig: everything that decides what a collected scene contains.

Each field is documented once, by the string under it; the configuration reference is generated
from these. The defaults are the demo's values (configs/demo.yaml spells them out). Each section
checks its values when it is made (`__post_init__`, with formats.checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from formats import DonkitError
from formats.checks import (
    SECTION,
    at_least,
    check,
    fail,
    not_negative,
    ordered,
    positive,
    within,
)
from formats.plain import to_plain
from sim_assets.catalog import get_object_spec


@dataclass(frozen=True)
class CameraConfig:
    """The camera on the arm's end effector and the depth sensor it stands for."""

    width: int = 320
    """Image width, pixels."""
    height: int = 240
    """Image height, pixels."""
    fov_y_deg: float = 50.0
    """Vertical field of view, degrees (square pixels)."""
    near_m: float = 0.03
    """Renderer near clipping plane, metres."""
    far_m: float = 3.0
    """Renderer far clipping plane, metres."""
    min_depth_m: float = 0.1
    """Depth closer than this is written as 0 (no reading), as a real sensor's minimum range."""
    max_depth_m: float = 2.0
    """Depth farther than this is written as 0 (no reading)."""
    renderer: Literal["tiny", "egl"] = "tiny"
    """'tiny': pybullet's CPU TinyRenderer, everywhere. 'egl': the EGL plugin (headless OpenGL,
    about 2x faster with Mesa), where the EGL library is available."""
    mount_xyz_m: tuple[float, float, float] = (0.0, 0.0, 0.03)
    """Camera origin in the arm's tool frame, metres. The default sits 3 cm beyond the Panda's
    fingertips, so the gripper stays behind the camera and out of view."""
    mount_rpy_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Camera orientation in the tool frame (URDF roll, pitch, yaw, degrees); zero puts the
    optical axis along the tool's z axis (the approach direction)."""
    stereo_baseline_m: float = 0.0
    """A second, right camera this far along the camera's own x axis, with the same intrinsics
    (a rectified stereo pair), recorded as processed/images/XXXXXX_right_rgb.png with its
    right_camera_info.yaml (ROS form, P[0, 3] = -fx * baseline); metres, 0: no right camera."""

    def __post_init__(self) -> None:
        within(self, 0.0, 1.0, "stereo_baseline_m")
        at_least(self, 16, "width", "height")
        within(self, 5.0, 150.0, "fov_y_deg")
        check(
            self,
            0 < self.near_m < self.min_depth_m < self.max_depth_m < self.far_m,
            "need 0 < near_m < min_depth_m < max_depth_m < far_m; got "
            f"{self.near_m}, {self.min_depth_m}, {self.max_depth_m}, {self.far_m}",
        )


@dataclass(frozen=True)
class OrbitConfig:
    """Views on a spherical cap around the objects, reached by the arm."""

    views: int = 30
    """Views kept per scene."""
    radius_m: tuple[float, float] = (0.33, 0.48)
    """Range of camera distances from the orbit centre (the middle of the objects), metres."""
    elevation_deg: tuple[float, float] = (30.0, 70.0)
    """Range of camera elevations above the table plane, degrees."""
    azimuth_deg: tuple[float, float] = (-110.0, 110.0)
    """Range of azimuths about the vertical through the orbit centre, degrees; 0 is the side that
    faces the robot base, +-180 the far side."""
    roll_deg: tuple[float, float] = (-20.0, 20.0)
    """Range of rotations about the optical axis, degrees."""
    candidates_per_view: float = 1.6
    """Candidate views sampled per kept view: unreachable ones are dropped, and the kept ones are
    thinned evenly along the path to `views`."""
    position_tolerance_m: float = 0.002
    """A view is kept only if forward kinematics puts the camera this close to its target."""
    angle_tolerance_deg: float = 1.0
    """... and its orientation within this angle of the target's."""
    collision_margin_m: float = 0.01
    """Minimum clearance between the arm and the table or objects, metres."""
    joint_speed_rad_s: float = 2.0
    """Speed of the fastest joint when the arm moves between views (the Panda's joints reach
    2.2 to 2.6 rad/s)."""

    def __post_init__(self) -> None:
        at_least(self, 1, "views")
        ordered(self, "radius_m", "elevation_deg", "azimuth_deg", "roll_deg")
        check(
            self, self.radius_m[0] > 0, f"must be positive; got {list(self.radius_m)}", "radius_m"
        )
        check(
            self,
            -10.0 <= self.elevation_deg[0] and self.elevation_deg[1] <= 89.0,
            f"must lie within [-10, 89]; got {list(self.elevation_deg)}",
            "elevation_deg",
        )
        at_least(self, 1.0, "candidates_per_view")


@dataclass(frozen=True)
class SceneConfig:
    """Which objects stand where."""

    objects: tuple[str, ...] = (
        "mug_red",
        "mug_blue",
        "box_cereal",
        "box_tea",
        "shoe_sneaker",
        "shoe_boot",
        "duck",
    )
    """Object instances to draw scenes from (names from `donkit collect --list-objects`)."""
    objects_per_scene: tuple[int, int] = (1, 3)
    """Fewest and most objects in one scene."""
    single_object_share: float = 0.5
    """Share of scenes that hold exactly one object; the others hold 2 to the most."""
    region_m: tuple[float, float] = (0.26, 0.30)
    """Size (x, y) of the table area, centred on `workspace_centre_m`, that objects stand in."""
    workspace_centre_m: tuple[float, float] = (0.55, 0.0)
    """Centre of that area relative to the robot base, metres."""
    min_gap_m: float = 0.02
    """Least distance between the footprints of two objects."""
    table_height_m: float = 0.75
    """Height of the table top above the floor; the arm is mounted on the table top."""
    settle_steps: int = 120
    """Physics steps for the objects to come to rest before they are frozen in place."""

    def __post_init__(self) -> None:

        for name in self.objects:
            try:
                get_object_spec(name)
            except DonkitError as error:
                fail(self, f": {error}", "objects")
        check(
            self,
            len(set(self.objects)) == len(self.objects),
            f"lists an object twice; got {list(self.objects)}",
            "objects",
        )
        low, high = self.objects_per_scene
        check(
            self,
            1 <= low <= high,
            f"must satisfy 1 <= fewest <= most; got [{low}, {high}]",
            "objects_per_scene",
        )
        check(
            self,
            high <= len(self.objects),
            f"allows up to {high} objects in a scene, but {SECTION}objects lists "
            f"{len(self.objects)}",
            "objects_per_scene",
        )
        within(self, 0.0, 1.0, "single_object_share")
        not_negative(self, "min_gap_m", "settle_steps")
        check(
            self, min(self.region_m) > 0, f"must be positive; got {list(self.region_m)}", "region_m"
        )


@dataclass(frozen=True)
class DepthNoiseConfig:
    """A structured-light depth sensor (Nguyen et al. 2012 for the axial noise)."""

    axial_base_m: float = 0.0012
    """Axial standard deviation sigma(z) = base + quadratic * (z - offset)^2, metres."""
    axial_quadratic_m: float = 0.0019
    """See axial_base_m; per square metre of distance from the offset."""
    axial_offset_m: float = 0.4
    """See axial_base_m; distance of least noise, metres."""
    edge_threshold_m: float = 0.01
    """A pixel is on a depth edge when a 4-neighbour differs by more than this, metres."""
    edge_dropout: float = 0.5
    """Probability that a depth-edge pixel reads nothing."""
    random_dropout: float = 0.002
    """Probability that any pixel reads nothing."""

    def __post_init__(self) -> None:
        not_negative(self, "axial_base_m", "axial_quadratic_m", "edge_threshold_m")
        within(self, 0.0, 1.0, "edge_dropout", "random_dropout")


@dataclass(frozen=True)
class RandomizationConfig:
    """Domain randomization switches; every draw comes from the scene's seed."""

    object_textures: bool = False
    """Give objects random textures instead of their own (their identity then changes per scene)."""
    table_texture: bool = True
    """A random texture on the table in every scene."""
    floor_texture: bool = True
    """A random texture on the floor in every scene."""
    light: bool = True
    """Random light direction, colour and strength in every scene."""
    focal_jitter: float = 0.0
    """Relative standard deviation of the focal length across scenes (0.02 = 2 %)."""
    principal_point_jitter_px: float = 0.0
    """Standard deviation of the principal point across scenes, pixels."""
    distractors: tuple[int, int] = (0, 0)
    """Fewest and most small random distractor objects added around the objects."""
    depth_noise: bool = False
    """Apply the depth-sensor noise model (`depth_noise`) to the written depth."""

    def __post_init__(self) -> None:
        low, high = self.distractors
        check(
            self,
            0 <= low <= high,
            f"must satisfy 0 <= fewest <= most; got [{low}, {high}]",
            "distractors",
        )
        not_negative(self, "focal_jitter", "principal_point_jitter_px")


@dataclass(frozen=True)
class RobotConfig:
    """The arm that carries the camera."""

    arm: Literal["panda", "kuka_iiwa"] = "panda"
    """Franka Panda (default) or KUKA LBR iiwa, both from pybullet_data."""
    time_step_s: float = 1.0 / 240.0
    """Physics time step while the arm moves, seconds."""
    settle_tolerance_rad: float = 1e-4
    """After a move the arm is stepped until every joint is this close to its target."""

    def __post_init__(self) -> None:
        positive(self, "time_step_s", "settle_tolerance_rad")


@dataclass(frozen=True)
class CollectConfig:
    """Simulated RGB-D collection: scenes, arm, camera, orbit and randomization."""

    seed: int = 0
    """Seed of every random choice; the same config and seed give the same bytes."""
    scenes: int = 12
    """Number of scenes (scene_0000, scene_0001, ...)."""
    camera: CameraConfig = field(default_factory=CameraConfig)
    """The camera on the arm and the depth sensor it stands for."""
    orbit: OrbitConfig = field(default_factory=OrbitConfig)
    """Where the views are and how the arm reaches them."""
    scene: SceneConfig = field(default_factory=SceneConfig)
    """Which objects stand where on the table."""
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)
    """Domain randomization switches."""
    depth_noise: DepthNoiseConfig = field(default_factory=DepthNoiseConfig)
    """Parameters of the depth-sensor noise model (used when randomization.depth_noise)."""
    robot: RobotConfig = field(default_factory=RobotConfig)
    """The arm and its motion."""

    def __post_init__(self) -> None:
        at_least(self, 1, "scenes")


def plain_config(config: CollectConfig) -> dict[str, Any]:
    """The config as plain YAML data, as scenes record it. Options that are off and were added
    after scenes had been recorded (camera.stereo_baseline_m = 0) are left out, so scenes made
    before them keep their bytes and are still recognised as made with this config."""
    data = to_plain(config)
    if config.camera.stereo_baseline_m == 0:
        data["camera"].pop("stereo_baseline_m")
    return data


def scene_identity(config: CollectConfig, scene_index: int) -> dict[str, Any]:
    """What decides a scene's bytes, as plain YAML data: seed, scene index and the config
    without the scene count.

    A finished scene is reused (not collected again) exactly when this matches, so growing
    `scenes` from 4 to 8 keeps the first four.
    """
    config_data = plain_config(config)
    config_data.pop("scenes")
    return {"seed": config.seed, "scene_index": scene_index, "config": config_data}


@dataclass(frozen=True)
class VideoConfig:
    """Videos with ground-truth point tracks (`donkit sim-video`): the arm's camera sweeps
    around objects on the table while some of them move along scripted paths and a second arm
    passes between the camera and the objects. Camera, objects, randomization and the arm come
    from the `collect` section."""

    seed: int = 2000
    """Seed of every random choice of the videos; differs from collect.seed so that the videos
    show other layouts than the training scenes."""
    videos: int = 5
    """Number of videos (video_0000, video_0001, ...)."""
    frames: int = 48
    """Frames per video."""
    fps: float = 12.0
    """Frame rate of the written mp4 (and the simulated time between frames)."""
    points: int = 40
    """Ground-truth point tracks per video, spread over the objects' surfaces."""
    objects_per_video: tuple[int, int] = (2, 3)
    """Fewest and most objects in a video (at least 2, so that objects can hide each other)."""
    sweep_deg: tuple[float, float] = (110.0, 140.0)
    """Range of the camera's sweep in azimuth around the objects over the video, degrees."""
    elevation_deg: tuple[float, float] = (30.0, 45.0)
    """Range of camera elevations at the two ends of the sweep, degrees."""
    lift_deg: tuple[float, float] = (12.0, 20.0)
    """Range of the extra elevation in the middle of the sweep, degrees (there the camera is
    between the robot base and the objects, reachable only from higher up)."""
    min_viewpoint_change_deg: float = 60.0
    """Every object is seen from directions (in its own frame) at least this far apart over the
    video; trajectories that change the view less are drawn again."""
    radius_m: tuple[float, float] = (0.36, 0.46)
    """Range of camera distances from the objects' centre, metres (start and end drawn)."""
    moving_objects: int = 1
    """Objects that slide and turn on the table along a scripted path during the video."""
    move_distance_m: tuple[float, float] = (0.06, 0.12)
    """Range of the distance a moving object slides, metres."""
    turn_deg: tuple[float, float] = (45.0, 120.0)
    """Range of the angle a moving object turns about the vertical, degrees."""
    hide_behind_objects: bool = True
    """A moving object slides to behind another object (as the camera sees them in the middle
    of the video) where one stands near enough; otherwise it slides `move_distance_m` in a
    random direction."""
    occluder_arm: bool = True
    """A second arm (KUKA iiwa) standing beside the objects sweeps its hand between the camera
    and the objects in the middle of the video."""
    visibility_tolerance_m: float = 0.004
    """A point is visible when the rendered depth at its pixel is within this of its own depth
    (and the pixel shows its object); otherwise it is occluded."""
    min_visible_share: float = 0.25
    """Points are drawn among surface points visible in at least this share of the frames."""
    attempts: int = 40
    """Layouts and trajectories tried per video before giving up (some are unreachable or
    collide)."""

    def __post_init__(self) -> None:
        at_least(self, 1, "videos", "points", "attempts")
        at_least(self, 2, "frames")
        positive(self, "fps", "visibility_tolerance_m")
        low, high = self.objects_per_video
        check(
            self,
            2 <= low <= high,
            f"must satisfy 2 <= fewest <= most; got [{low}, {high}]",
            "objects_per_video",
        )
        within(self, 0, low, "moving_objects")
        ordered(
            self,
            "sweep_deg",
            "elevation_deg",
            "lift_deg",
            "radius_m",
            "move_distance_m",
            "turn_deg",
        )
        check(
            self, self.radius_m[0] > 0, f"must be positive; got {list(self.radius_m)}", "radius_m"
        )
        check(
            self,
            self.elevation_deg[0] >= 5,
            f"must be at least 5 degrees; got {list(self.elevation_deg)}",
            "elevation_deg",
        )
        check(
            self,
            self.lift_deg[0] >= 0 and self.elevation_deg[1] + self.lift_deg[1] <= 85,
            "need lift_deg >= 0 and elevation_deg + lift_deg <= 85; got "
            f"{list(self.lift_deg)} and {list(self.elevation_deg)}",
        )
        check(
            self,
            0 < self.min_visible_share <= 1,
            f"must lie in (0, 1]; got {self.min_visible_share}",
            "min_visible_share",
        )
