"""The object library: instances by name, built from one canonical shape per class.

An instance is a class's canonical mesh scaled per axis, with its own colour and fixed texture
(its identity); `build_object(name, texture_seed=...)` swaps in a randomized texture for domain
randomization. Canonical shapes (mesh and UV layout) are built once per class and process.
"""

import functools
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np
import pybullet_data
import trimesh

from formats import DonkitError
from sim_assets import procedural
from sim_assets.catalog import INSTANCES, ObjectSpec, get_object_spec
from textures import make_texture, palette_around

# The duck as pybullet_data's duck_vhacd.urdf shows it: obj units * 0.05 = metres.
DUCK_OBJ_SCALE = 0.05
DISTRACTOR_SIZE_RANGE_M = (0.03, 0.08)
_DENSITY_KG_M3 = 500.0  # for boxes and distractors, whose mass is not given: a light solid


@dataclass(frozen=True, eq=False)
class ObjectAsset:
    """Everything needed to put an object in a simulator and to judge a reconstruction of it.

    name, object_class, mass_kg: as in `ObjectSpec`.
    canonical_scale: (3,) float64.
    mesh: the exact ground-truth mesh, welded and watertight, object frame, metres, scale
        applied. Object frame: z up, resting on z = 0 in its upright stable pose, xy origin at the
        centre of the footprint's bounding box.
    render_vertices: (V, 3) float64, the same triangles as `mesh`, unwelded at texture seams
        and creases.
    render_faces: (F, 3) int32 into render_vertices, in the order of `mesh.faces`.
    render_uvs: (V, 2) float32, OBJ convention: (0, 0) is the bottom-left of `texture`.
    render_normals: (V, 3) float32 unit normals, smooth on curved parts, sharp at creases.
    texture: (H, W, 3) uint8 RGB.
    """

    name: str
    object_class: str
    canonical_scale: np.ndarray
    mass_kg: float
    mesh: trimesh.Trimesh
    render_vertices: np.ndarray
    render_faces: np.ndarray
    render_uvs: np.ndarray
    render_normals: np.ndarray
    texture: np.ndarray


@dataclass(frozen=True, eq=False)
class _Canonical:
    """A class's canonical shape: welded mesh and UV layouts (arrays read-only when cached)."""

    vertices_m: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    corner_uvs: np.ndarray  # (F, 3, 2) float64, the atlas generated textures are made for
    texture_size: tuple[int, int]  # (height, width) of a generated texture for `corner_uvs`
    # A model file's own UVs for its own texture, where they differ from the atlas: the duck's
    # map the left and right halves onto the same texels, fine for its symmetric paint but not
    # for randomized textures, which must tell the two sides apart.
    file_corner_uvs: np.ndarray | None = None


def build_object(name: str, texture_seed: int | None = None) -> ObjectAsset:
    """Build instance `name` with its mesh, render arrays and texture.

    texture_seed: None gives the instance's own texture (its identity: the same bytes on every
        call); an int gives a randomized texture for domain randomization, deterministic from
        (texture_seed, name), so two objects given the same seed still look different.
    """
    spec = get_object_spec(name)
    if texture_seed is None:
        return _own_asset(name)
    height, width = _canonical(spec.object_class).texture_size
    texture = make_texture(_mix_seed(texture_seed, name), height, width)
    return _assemble(spec, _canonical(spec.object_class), texture)


@functools.cache
def _own_asset(name: str) -> ObjectAsset:
    """Instance `name` with its own texture, built once per process (arrays are read-only):
    collection workers build the same objects scene after scene."""
    spec = get_object_spec(name)
    instance = INSTANCES[name]
    canonical = _canonical(spec.object_class)
    corner_uvs = None  # the class's atlas
    if instance.base_rgb is None:  # a model file's own paint, on the file's own uvs
        texture, corner_uvs = _duck_texture(), canonical.file_corner_uvs
    else:
        height, width = canonical.texture_size
        palette = palette_around(instance.base_rgb, instance.texture_seed)
        texture = make_texture(instance.texture_seed, height, width, palette)
    asset = _assemble(spec, canonical, texture, corner_uvs)
    for array in (
        asset.canonical_scale,
        asset.render_vertices,
        asset.render_faces,
        asset.render_uvs,
        asset.render_normals,
        asset.texture,
    ):
        array.setflags(write=False)
    return asset


def build_box(
    extents_m: tuple[float, float, float], texture: np.ndarray, name: str = "box"
) -> ObjectAsset:
    """A box of `extents_m` (x, y, z) resting on z = 0, for tables, pedestals and the like.

    Every face shows the whole `texture` ((H, W, 3) uint8 RGB), upright as seen from outside
    (the image's top towards +z on the sides), stretched to the face: a table top gets all of its
    texels. The object class is "primitive_box"; the mass assumes a light solid of 500 kg/m^3
    (the caller makes tables static).
    """
    size = np.asarray(extents_m, np.float64)
    if size.shape != (3,) or np.any(size <= 0):
        raise DonkitError(f"box extents must be 3 positive lengths in metres, got {extents_m}")
    texture = _check_texture(texture)
    mesh = procedural.primitive_mesh("box", tuple(size), max_edge_m=None)
    corner_uvs = procedural.whole_texture_uvs(mesh.vertices, mesh.faces)
    canonical = _Canonical(mesh.vertices, mesh.faces, corner_uvs, texture.shape[:2])
    spec = ObjectSpec(
        name, "primitive_box", (1.0, 1.0, 1.0), float(np.prod(size) * _DENSITY_KG_M3), "box"
    )
    return _assemble(spec, canonical, texture)


def build_distractor(seed: int) -> ObjectAsset:
    """A random primitive (box, cylinder, spheroid, capsule) of random size within
    `DISTRACTOR_SIZE_RANGE_M` per axis and a random texture, deterministic from `seed`.

    Named "distractor" with class "distractor"; the caller renames it if it needs unique names.
    """
    rng = np.random.default_rng(seed)
    kind = procedural.PRIMITIVE_KINDS[int(rng.integers(len(procedural.PRIMITIVE_KINDS)))]
    extents = rng.uniform(*DISTRACTOR_SIZE_RANGE_M, 3)
    if kind == "capsule":  # round in y-z, so the length along x must be at least the diameter
        extents[0], extents[1] = max(extents[0], extents[1]), min(extents[0], extents[1])
        extents[2] = extents[1]
    mesh = procedural.primitive_mesh(kind, tuple(extents))
    corner_uvs, texture_size = procedural.atlas_uvs(mesh.vertices, mesh.faces)
    texture = make_texture(int(rng.integers(2**31)), *texture_size)
    canonical = _Canonical(mesh.vertices, mesh.faces, corner_uvs, texture_size)
    mass = float(np.clip(mesh.volume * _DENSITY_KG_M3, 0.02, 0.5))
    spec = ObjectSpec("distractor", "distractor", (1.0, 1.0, 1.0), mass, f"random {kind}")
    return _assemble(spec, canonical, texture)


def _assemble(
    spec: ObjectSpec,
    canonical: _Canonical,
    texture: np.ndarray,
    corner_uvs: np.ndarray | None = None,
) -> ObjectAsset:
    """Scale the canonical shape to the instance and lay it out for rendering, with the atlas
    UVs unless `corner_uvs` ((F, 3, 2)) are given."""
    scale = np.asarray(spec.canonical_scale, np.float64)
    vertices = canonical.vertices_m * scale
    mesh = trimesh.Trimesh(vertices, canonical.faces.copy(), process=False)
    # Normals come from the scaled mesh (a non-uniform scale turns them); UVs from the canonical.
    uvs = canonical.corner_uvs if corner_uvs is None else corner_uvs
    render = procedural.render_arrays(vertices, canonical.faces, uvs)
    return ObjectAsset(
        name=spec.name,
        object_class=spec.object_class,
        canonical_scale=scale,
        mass_kg=spec.mass_kg,
        mesh=mesh,
        render_vertices=render.vertices,
        render_faces=render.faces,
        render_uvs=render.uvs,
        render_normals=render.normals,
        texture=np.ascontiguousarray(texture),
    )


_CLASS_MESHES: Mapping[str, Callable[[], trimesh.Trimesh]] = MappingProxyType(
    {
        "mug": procedural.mug_mesh,
        "box": procedural.box_mesh,
        "can": procedural.can_mesh,
        "shoe": procedural.shoe_mesh,
    }
)


@functools.cache
def _canonical(object_class: str) -> _Canonical:
    """The canonical shape of a class, built once per process (arrays are read-only)."""
    if object_class == "duck":
        canonical = _duck_canonical()
    else:
        mesh = _CLASS_MESHES[object_class]()
        corner_uvs, texture_size = procedural.atlas_uvs(mesh.vertices, mesh.faces)
        canonical = _Canonical(mesh.vertices, mesh.faces, corner_uvs, texture_size)
    for array in (canonical.vertices_m, canonical.faces, canonical.corner_uvs):
        array.setflags(write=False)
    if canonical.file_corner_uvs is not None:
        canonical.file_corner_uvs.setflags(write=False)
    return canonical


def _duck_path(filename: str) -> Path:
    return Path(pybullet_data.getDataPath()) / filename


def _duck_canonical() -> _Canonical:
    """pybullet_data's duck.obj in our object frame, with the obj's own UVs and an atlas."""
    raw = trimesh.load(_duck_path("duck.obj"), process=False, force="mesh")
    file_corner_uvs = np.asarray(raw.visual.uv, np.float64)[raw.faces]  # before welding renumbers
    # The obj repeats positions along its UV seams; welding by position closes the surface.
    welded = trimesh.Trimesh(raw.vertices, raw.faces, process=False)
    welded.merge_vertices(merge_tex=True, merge_norm=True)
    # The obj is y-up: +90 deg about x takes its y to our z (and its z to our -y).
    y_up_to_z_up = trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0])
    welded.apply_transform(y_up_to_z_up @ np.diag([DUCK_OBJ_SCALE] * 3 + [1.0]))
    if not (welded.is_watertight and welded.volume > 0):
        raise RuntimeError("pybullet_data's duck.obj no longer welds into a closed mesh")
    grounded = procedural.rest_on_ground(welded)
    vertices, faces = (
        np.asarray(grounded.vertices, np.float64),
        np.asarray(grounded.faces, np.int64),
    )
    corner_uvs, texture_size = procedural.atlas_uvs(vertices, faces)
    return _Canonical(vertices, faces, corner_uvs, texture_size, file_corner_uvs)


def _duck_texture() -> np.ndarray:
    """duckCM.png as (512, 512, 3) uint8 RGB."""
    path = _duck_path("duckCM.png")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DonkitError(f"cannot read the duck's texture {path}; reinstall pybullet")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _mix_seed(seed: int, name: str) -> int:
    """A texture seed from a user's seed and an object name, so that names decorrelate."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def _check_texture(texture: np.ndarray) -> np.ndarray:
    texture = np.asarray(texture)
    if texture.ndim != 3 or texture.shape[2] != 3 or texture.dtype != np.uint8:
        raise DonkitError(
            f"a texture must be an (H, W, 3) uint8 RGB image, got {texture.dtype} {texture.shape}"
        )
    return texture
