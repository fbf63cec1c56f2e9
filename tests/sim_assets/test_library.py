from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pybullet
import pybullet_data
import pytest
import trimesh

from formats import DonkitError
from sim_assets import (
    ObjectAsset,
    build_box,
    build_distractor,
    build_object,
    get_object_spec,
    list_classes,
    list_objects,
)
from sim_assets import procedural as P
from tests.sim_assets.checks import (
    assert_render_arrays_match,
    hue_distance_deg,
    mean_hue_deg,
    shared_texel_fraction,
)
from textures import make_background

CANONICAL_MESHES = {"mug": P.mug_mesh, "box": P.box_mesh, "can": P.can_mesh, "shoe": P.shoe_mesh}


@pytest.fixture(scope="module")
def assets() -> dict[str, ObjectAsset]:
    return {name: build_object(name) for name in list_objects()}


def test_library_listing():
    names = list_objects()
    assert names == sorted(set(names)) and len(names) >= 10
    classes = list_classes()
    assert len(classes) >= 4
    per_class = Counter(get_object_spec(n).object_class for n in names)
    assert set(per_class) == set(classes)
    assert sum(count >= 2 for count in per_class.values()) >= 3
    for name in names:
        spec = get_object_spec(name)
        assert spec.name == name and 0.1 <= spec.mass_kg <= 0.5 and spec.description


def test_unknown_name_suggests_the_nearest():
    with pytest.raises(DonkitError, match="unknown object 'mug_rd'") as error:
        get_object_spec("mug_rd")
    message = str(error.value)
    assert "Did you mean 'mug_red'" in message
    assert all(name in message for name in list_objects())  # and lists the valid ones
    with pytest.raises(DonkitError, match="unknown object"):
        build_object("teapot")


@pytest.mark.parametrize("name", list_objects())
def test_object_mesh_is_closed_grounded_and_centred(assets, name):
    asset = assets[name]
    mesh = asset.mesh
    assert asset.name == name and asset.object_class == get_object_spec(name).object_class
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert abs(mesh.bounds[0, 2]) < 1e-9
    np.testing.assert_allclose(mesh.bounds[:, :2].mean(axis=0), 0.0, atol=1e-12)
    assert 1000 <= len(mesh.faces) <= 12_000
    assert_render_arrays_match(
        mesh, asset.render_vertices, asset.render_faces, asset.render_uvs, asset.render_normals
    )
    assert asset.texture.dtype == np.uint8 and asset.texture.ndim == 3


@pytest.mark.parametrize("name", [n for n in list_objects() if n != "duck"])
def test_instance_is_canonical_times_scale(assets, name):
    asset = assets[name]
    spec = get_object_spec(name)
    canonical = CANONICAL_MESHES[spec.object_class]()
    np.testing.assert_array_equal(asset.canonical_scale, spec.canonical_scale)
    np.testing.assert_allclose(asset.mesh.vertices, canonical.vertices * spec.canonical_scale)
    np.testing.assert_allclose(
        asset.mesh.extents / canonical.extents, spec.canonical_scale, rtol=1e-12
    )


@pytest.mark.parametrize("name", ["mug_blue", "shoe_boot", "box_cereal", "can_soda"])
def test_own_atlas_texture_is_not_shared_between_regions(assets, name):
    asset = assets[name]
    shared = shared_texel_fraction(
        asset.render_vertices, asset.render_faces, asset.render_uvs, asset.texture.shape[:2]
    )
    assert shared < 1e-3


def test_own_texture_is_the_identity(assets):
    again = build_object("mug_red")
    np.testing.assert_array_equal(again.texture, assets["mug_red"].texture)
    np.testing.assert_array_equal(again.render_uvs, assets["mug_red"].render_uvs)


def test_texture_seed_changes_texture_not_mesh(assets):
    own = assets["can_soup"]
    seeded = build_object("can_soup", texture_seed=3)
    np.testing.assert_array_equal(seeded.mesh.vertices, own.mesh.vertices)
    np.testing.assert_array_equal(seeded.mesh.faces, own.mesh.faces)
    np.testing.assert_array_equal(seeded.render_uvs, own.render_uvs)  # one layout per class
    assert seeded.texture.shape == own.texture.shape
    assert np.mean(np.any(seeded.texture != own.texture, axis=-1)) > 0.9
    np.testing.assert_array_equal(build_object("can_soup", texture_seed=3).texture, seeded.texture)
    other = build_object("can_soup", texture_seed=4).texture
    assert np.mean(np.any(other != seeded.texture, axis=-1)) > 0.9
    # The seed is mixed with the name: two objects given one seed still look different.
    soda = build_object("can_soda", texture_seed=3).texture
    assert np.mean(np.any(soda != seeded.texture, axis=-1)) > 0.9


@pytest.mark.parametrize("name, hue_deg", [("mug_red", 0), ("mug_blue", 225), ("mug_green", 130)])
def test_own_texture_has_the_instance_colour(assets, name, hue_deg):
    assert hue_distance_deg(mean_hue_deg(assets[name].texture), hue_deg) < 20


def test_duck_is_pybullet_data_duck_in_our_frame(assets):
    duck = assets["duck"]
    raw = trimesh.load(Path(pybullet_data.getDataPath()) / "duck.obj", process=False, force="mesh")
    obj_extents = raw.extents * 0.05  # duck_vhacd.urdf's scale
    # The obj is y-up: our x, y, z extents are its x, z, y.
    np.testing.assert_allclose(duck.mesh.extents, obj_extents[[0, 2, 1]], rtol=1e-9)
    np.testing.assert_allclose(duck.mesh.volume, raw.volume * 0.05**3, rtol=1e-9)
    png = cv2.imread(str(Path(pybullet_data.getDataPath()) / "duckCM.png"))
    np.testing.assert_array_equal(duck.texture, png[..., ::-1])


def test_duck_uvs_put_the_beak_paint_on_the_beak(assets):
    """The texture's orange square is the beak: with OBJ uvs ((0, 0) = bottom-left) the faces
    at the duck's front tip sample orange; read top-down they would not."""
    duck = assets["duck"]
    height, width = duck.texture.shape[:2]
    uv = duck.render_uvs[duck.render_faces].mean(axis=1)
    tip = duck.mesh.triangles_center[:, 0] < duck.mesh.bounds[0, 0] + 0.006  # the beak is at -x
    assert tip.sum() > 50

    def orange_fraction(rows: np.ndarray) -> float:
        cols = np.clip((uv[tip, 0] * width).astype(int), 0, width - 1)
        rgb = duck.texture[np.clip(rows.astype(int), 0, height - 1), cols].astype(int)
        orange = (rgb[:, 0] > 200) & (rgb[:, 1] > 80) & (rgb[:, 1] < 170) & (rgb[:, 2] < 60)
        return float(orange.mean())

    assert orange_fraction((1 - uv[tip, 1]) * height) > 0.9
    assert orange_fraction(uv[tip, 1] * height) < 0.1


def test_duck_randomized_texture_uses_a_unique_atlas(assets):
    """duck.obj's uvs map both sides onto the same texels (fine for its symmetric paint); a
    randomized texture gets the atlas instead, so the sides differ."""
    own = assets["duck"]
    seeded = build_object("duck", texture_seed=1)
    np.testing.assert_array_equal(seeded.mesh.vertices, own.mesh.vertices)

    def shared(asset: ObjectAsset) -> float:
        return shared_texel_fraction(
            asset.render_vertices, asset.render_faces, asset.render_uvs, asset.texture.shape[:2]
        )

    assert shared(own) > 0.3
    assert shared(seeded) < 2e-3


def test_build_box():
    texture = make_background(0, 96, 128)
    box = build_box((0.6, 0.4, 0.05), texture, name="table")
    assert box.name == "table" and box.object_class == "primitive_box"
    np.testing.assert_allclose(box.mesh.extents, [0.6, 0.4, 0.05], atol=1e-12)
    assert abs(box.mesh.bounds[0, 2]) < 1e-12 and box.mesh.is_watertight
    np.testing.assert_allclose(box.mass_kg, 0.6 * 0.4 * 0.05 * 500)
    np.testing.assert_array_equal(box.texture, texture)
    assert_render_arrays_match(
        box.mesh, box.render_vertices, box.render_faces, box.render_uvs, box.render_normals
    )
    # Sharp edges: every normal is one of the six axis directions.
    np.testing.assert_allclose(np.abs(box.render_normals).max(axis=1), 1.0, atol=1e-6)
    with pytest.raises(DonkitError, match="positive"):
        build_box((0.1, 0.0, 0.1), texture)
    with pytest.raises(DonkitError, match="uint8"):
        build_box((0.1, 0.1, 0.1), texture.astype(np.float32))


def test_build_distractor():
    kinds = set()
    for seed in range(12):
        distractor = build_distractor(seed)
        kinds.add(get_kind(distractor))
        assert distractor.name == "distractor" and distractor.mesh.is_watertight
        assert np.all(distractor.mesh.extents >= 0.03 - 1e-9)
        assert np.all(distractor.mesh.extents <= 0.08 + 1e-9)
        assert 0.02 <= distractor.mass_kg <= 0.5
        assert_render_arrays_match(
            distractor.mesh,
            distractor.render_vertices,
            distractor.render_faces,
            distractor.render_uvs,
            distractor.render_normals,
        )
    assert len(kinds) >= 3
    again, first = build_distractor(5), build_distractor(5)
    np.testing.assert_array_equal(again.mesh.vertices, first.mesh.vertices)
    np.testing.assert_array_equal(again.texture, first.texture)


def get_kind(asset: ObjectAsset) -> str:
    """Tell primitives apart by how much of their bounding box they fill."""
    fill = asset.mesh.volume / np.prod(asset.mesh.extents)
    return "box" if fill > 0.99 else "cylinder" if fill > 0.77 else "round"


# --- pybullet smoke tests: the render arrays as a simulator consumes them ---

WIDTH, HEIGHT = 160, 120


def render_tiny_renderer(asset: ObjectAsset, png: Path, eye, target):
    """Render `asset` at the origin with TinyRenderer; returns rgb (H, W, 3), object mask (H, W),
    and the pybullet view and projection matrices as 4x4 (column-major unpacked)."""
    cv2.imwrite(str(png), cv2.cvtColor(asset.texture, cv2.COLOR_RGB2BGR))
    client = pybullet.connect(pybullet.DIRECT)
    try:
        shape = pybullet.createVisualShape(
            pybullet.GEOM_MESH,
            vertices=asset.render_vertices.tolist(),
            indices=asset.render_faces.ravel().tolist(),
            uvs=asset.render_uvs.tolist(),
            normals=asset.render_normals.tolist(),
            physicsClientId=client,
        )
        body = pybullet.createMultiBody(0.0, -1, shape, physicsClientId=client)
        texture = pybullet.loadTexture(str(png), physicsClientId=client)
        pybullet.changeVisualShape(body, -1, textureUniqueId=texture, physicsClientId=client)
        view = pybullet.computeViewMatrix(eye, target, [0, 0, 1], physicsClientId=client)
        projection = pybullet.computeProjectionMatrixFOV(
            50.0, WIDTH / HEIGHT, 0.01, 2.0, physicsClientId=client
        )
        _, _, rgb, _, seg = pybullet.getCameraImage(
            WIDTH,
            HEIGHT,
            view,
            projection,
            renderer=pybullet.ER_TINY_RENDERER,
            physicsClientId=client,
        )
    finally:
        pybullet.disconnect(client)
    rgb = np.asarray(rgb, np.uint8).reshape(HEIGHT, WIDTH, 4)[..., :3]
    mask = np.asarray(seg).reshape(HEIGHT, WIDTH) == body
    as_matrix = lambda m: np.asarray(m).reshape(4, 4, order="F")  # noqa: E731
    return rgb, mask, as_matrix(view), as_matrix(projection)


def projected_pixel_box(points: np.ndarray, view: np.ndarray, projection: np.ndarray):
    """(col_min, row_min, col_max, row_max) of the pixels containing the points' projections."""
    clip = (projection @ view @ np.c_[points, np.ones(len(points))].T).T
    ndc = clip[:, :3] / clip[:, 3:]
    cols = (ndc[:, 0] + 1) / 2 * WIDTH
    rows = (1 - ndc[:, 1]) / 2 * HEIGHT
    return np.floor([cols.min(), rows.min(), cols.max(), rows.max()])


def test_pybullet_renders_mug_where_its_mesh_projects(assets, tmp_path):
    mug = assets["mug_red"]
    rgb, mask, view, projection = render_tiny_renderer(
        mug, tmp_path / "mug.png", eye=[0.17, -0.14, 0.15], target=[0.0, 0.0, 0.045]
    )
    rows, cols = np.nonzero(mask)
    expected = projected_pixel_box(mug.mesh.vertices, view, projection)
    rendered = np.array([cols.min(), rows.min(), cols.max(), rows.max()])
    # The silhouette's extremes are vertices; allow the renderer's sub-pixel offset.
    np.testing.assert_allclose(rendered, expected, atol=1.5)
    box_area = (expected[2] - expected[0] + 1) * (expected[3] - expected[1] + 1)
    assert box_area > 2000 and len(rows) > 0.6 * box_area  # a mug fills most of its box
    assert hue_distance_deg(mean_hue_deg(rgb[mask]), 0) < 25  # textured, and red


def test_pybullet_reads_uvs_with_v_up(tmp_path):
    """A box side shows the texture's top half (red) above its bottom half (green)."""
    texture = np.zeros((64, 64, 3), np.uint8)
    texture[:32] = (255, 0, 0)
    texture[32:] = (0, 255, 0)
    box = build_box((0.1, 0.1, 0.1), texture)
    rgb, mask, _, _ = render_tiny_renderer(
        box, tmp_path / "box.png", eye=[0.4, 0.0, 0.05], target=[0.0, 0.0, 0.05]
    )
    rows, _ = np.nonzero(mask)
    top, bottom = rows.min(), rows.max()
    upper = rgb[top : top + (bottom - top) // 3][mask[top : top + (bottom - top) // 3]]
    lower = rgb[bottom - (bottom - top) // 3 : bottom + 1][
        mask[bottom - (bottom - top) // 3 : bottom + 1]
    ]
    assert upper[:, 0].mean() > 100 > upper[:, 1].mean()
    assert lower[:, 1].mean() > 100 > lower[:, 0].mean()
