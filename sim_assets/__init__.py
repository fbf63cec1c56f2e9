"""Object library by name: exact meshes, render arrays and seeded textures for the simulator.

`build_object("mug_red")` gives an `ObjectAsset` with the ground-truth mesh (object frame,
metres, z up, resting on z = 0) and what a renderer needs (vertices, faces, UVs, normals,
texture); `make_texture` and `make_background` make seeded images for domain randomization.
"""

from sim_assets.library import (
    ObjectAsset,
    ObjectSpec,
    build_box,
    build_distractor,
    build_object,
    get_object_spec,
    list_classes,
    list_objects,
)
from textures import make_background, make_texture

__all__ = [
    "ObjectAsset",
    "ObjectSpec",
    "build_box",
    "build_distractor",
    "build_object",
    "get_object_spec",
    "list_classes",
    "list_objects",
    "make_background",
    "make_texture",
]
