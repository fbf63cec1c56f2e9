"""The object library's catalogue: every instance by name, with its class, scale, mass and own
texture, and nothing built. Reading it costs nothing, so a config can check object names without
loading meshes (sim_assets.library builds them).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from formats import DonkitError


@dataclass(frozen=True)
class ObjectSpec:
    """A cheap description of a library object; no mesh is built.

    name: instance name, unique in the library, e.g. "mug_red".
    object_class: e.g. "mug"; instances of a class share a canonical shape and UV layout.
    canonical_scale: the instance mesh is the canonical mesh times this, per object-frame axis.
    mass_kg: mass in kilograms.
    description: one line for listings and `--help`.
    """

    name: str
    object_class: str
    canonical_scale: tuple[float, float, float]
    mass_kg: float
    description: str


@dataclass(frozen=True)
class Instance:
    spec: ObjectSpec
    base_rgb: tuple[int, int, int] | None  # colour its own texture is made around; None: a file
    texture_seed: int  # of its own texture


# name: (class, canonical_scale, mass_kg, colour its own texture is made around (None: the
#        model file's own texture), seed of its own texture, description)
_TABLE = {
    "duck": ("duck", (1, 1, 1), 0.10, None, 0, "rubber duck from pybullet_data"),
    "mug_red": ("mug", (1, 1, 1), 0.30, (200, 30, 35), 101, "red mug, 9.5 cm tall"),
    "mug_blue": ("mug", (0.9, 0.9, 1.1), 0.28, (30, 70, 200), 102, "blue mug, slim and tall"),
    "mug_green": ("mug", (1.12, 1.12, 0.92), 0.33, (40, 160, 60), 103, "green mug, wide and low"),
    "box_cereal": ("box", (1.3, 1, 1.5), 0.40, (235, 150, 20), 201, "cereal box, 21 cm tall"),
    "box_tea": ("box", (0.8, 0.8, 0.6), 0.12, (120, 40, 140), 202, "small tea box"),
    "can_soup": ("can", (1, 1, 1), 0.35, (190, 20, 60), 301, "soup can, 10 cm tall"),
    "can_soda": ("can", (0.9, 0.9, 1.22), 0.33, (20, 170, 200), 302, "soda can, slim and tall"),
    "shoe_sneaker": ("shoe", (1, 1, 1), 0.30, (240, 90, 30), 401, "low sneaker, 22 cm long"),
    "shoe_boot": ("shoe", (1.05, 1.05, 1.45), 0.50, (110, 70, 40), 402, "boot, a taller shoe"),
}
INSTANCES: Mapping[str, Instance] = MappingProxyType(
    {
        name: Instance(
            ObjectSpec(name, cls, tuple(float(s) for s in scale), mass, description), rgb, seed
        )
        for name, (cls, scale, mass, rgb, seed, description) in _TABLE.items()
    }
)


def list_objects() -> list[str]:
    """Sorted names of the library's instances."""
    return sorted(INSTANCES)


def list_classes() -> list[str]:
    """Sorted names of the library's object classes."""
    return sorted({i.spec.object_class for i in INSTANCES.values()})


def get_object_spec(name: str) -> ObjectSpec:
    """The description of instance `name`; an unknown name raises DonkitError with suggestions."""
    if name not in INSTANCES:
        close = difflib.get_close_matches(name, list(INSTANCES), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DonkitError(
            f"unknown object {name!r}.{hint} Use one of the library's objects: "
            f"{', '.join(list_objects())}."
        )
    return INSTANCES[name].spec
