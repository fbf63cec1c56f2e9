"""Simulated RGB-D collection: an arm orbits objects on a table and records posed views.

`collect(config, out)` writes `config.scenes` scene folders in the Dense Object Nets layout
(docs/data-formats.md), with simulator ground truth apart under ground_truth/; `collect_scene`
makes one of them and is what worker processes and Ray tasks run. `collect.video` simulates the
tracking videos.

The names below are imported on first use, so that reading a config (collect.config) does not
load pybullet and the asset library.
"""

import importlib
from typing import Any

_PUBLIC = {
    "CollectConfig": "collect.config",
    "CollectSummary": "collect.runner",
    "collect": "collect.runner",
    "SceneReport": "collect.scene",
    "collect_scene": "collect.scene",
    "scene_name": "collect.scene",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'collect' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
