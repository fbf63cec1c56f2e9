"""Keypoint tracking in video, measured with TAP-Vid's conventions.

- `tracks`: query points, tracks and tracks.csv;
- `metrics`: TAP-Vid's query modes and metrics (average Jaccard, occlusion and position
  accuracy);
- `descriptor_tracker`: tracking with a trained run's descriptors, and the calibration of its
  visibility threshold;
- `lucas_kanade`: the pyramidal Lucas-Kanade baseline with a forward-backward check;
- `videos`: both behind one `Tracker` interface, run on video files and evaluated on TAP-Vid
  files (`donkit track`);
- `config`: `TrackConfig`, the `track` section; `overlay`: tracks drawn over the video.
"""
