"""Videos with ground-truth point tracks, made in simulation (TAP-Vid conventions).

The arm sweeps its wrist camera around objects on the table while some of them slide and turn
and a second arm passes its hand between the camera and the objects; points on the objects'
exact meshes are projected into every frame and marked hidden where something is in front of
them. `sim_videos` (`donkit sim-video`) writes them; the modules, in the order things happen:

- `motion`: the camera's sweep, the objects' slides and turns, keyframes;
- `occluder`: the second arm's sweep across the line of sight;
- `plan`: all of it made reachable and collision-free, frame by frame;
- `visibility`: which points a frame shows, and why the others are hidden;
- `simulate`: the frames rendered and the points tracked (`simulate_video`);
- `files`: OUT/video_XXXX.npz (TAP-Vid), .mp4 and .yaml (`make_video`, `sim_videos`).
"""

from collect.video.files import VideoReport, VideoSummary, make_video, sim_videos
from collect.video.simulate import SimulatedVideo, simulate_video
from collect.video.visibility import REASONS

__all__ = [
    "REASONS",
    "SimulatedVideo",
    "VideoReport",
    "VideoSummary",
    "make_video",
    "sim_videos",
    "simulate_video",
]
