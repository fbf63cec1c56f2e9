"""Object library by name: exact meshes and render arrays for the simulator.

`build_object("mug_red")` gives an `ObjectAsset` with the ground-truth mesh (object frame,
metres, z up, resting on z = 0) and what a renderer needs (vertices, faces, UVs, normals,
texture). `list_objects` and `get_object_spec` read the catalogue (sim_assets.catalog) without
building anything; seeded textures are the `textures` package's.

Names are imported on first use, so that checking a config's object names does not load the
meshes' libraries (trimesh, manifold3d).
"""

import importlib
from typing import Any

_PUBLIC = {
    "ObjectSpec": "sim_assets.catalog",
    "get_object_spec": "sim_assets.catalog",
    "list_classes": "sim_assets.catalog",
    "list_objects": "sim_assets.catalog",
    "ObjectAsset": "sim_assets.library",
    "build_box": "sim_assets.library",
    "build_distractor": "sim_assets.library",
    "build_object": "sim_assets.library",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'sim_assets' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
