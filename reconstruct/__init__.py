"""From RGB-D scenes to meshes, masks and rendered depth: TSDF fusion, crop, rendering.

`fuse(data, config)` fuses every complete scene under `data`; `fuse_scene` one scene. Both read
only processed/ (as on a real robot); `evaluate` compares against simulator ground truth.
"""

import importlib
from typing import Any

_PUBLIC = {
    "FuseConfig": "reconstruct.config",
    "FuseReport": "reconstruct.pipeline",
    "FuseSummary": "reconstruct.runner",
    "fuse": "reconstruct.runner",
    "fuse_scene": "reconstruct.pipeline",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'reconstruct' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
