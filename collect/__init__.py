"""Simulated RGB-D collection: an arm orbits objects on a table and records posed views.

`collect(config, out)` writes `config.scenes` scene folders in the Dense Object Nets layout (see
ARCHITECTURE.md), with simulator ground truth apart under ground_truth/; `collect_scene` makes
one of them and is what worker processes and Ray tasks run.
"""

from collect.config import CollectConfig
from collect.runner import CollectSummary, collect
from collect.scene import SceneReport, collect_scene, scene_name

__all__ = [
    "CollectConfig",
    "CollectSummary",
    "SceneReport",
    "collect",
    "collect_scene",
    "scene_name",
]
