import numpy as np
import pytest
import trimesh

from sim_assets import procedural as P
from tests.sim_assets.checks import assert_render_arrays_match, shared_texel_fraction

# Bounding-box extents (x, y, z) that follow from each construction: the extremes lie on flat
# parts or on polygon vertices placed exactly at the extremes, so they hold to float precision.
MUG_EXTENTS = (
    P.MUG_OUTER_RADIUS_M + P.MUG_HANDLE_REACH_M,
    2 * P.MUG_OUTER_RADIUS_M,
    P.MUG_HEIGHT_M,
)
CAN_EXTENTS = (2 * P.CAN_RADIUS_M, 2 * P.CAN_RADIUS_M, P.CAN_HEIGHT_M)


@pytest.fixture(scope="module")
def meshes() -> dict[str, trimesh.Trimesh]:
    return {
        "mug": P.mug_mesh(),
        "box": P.box_mesh(),
        "can": P.can_mesh(),
        "shoe": P.shoe_mesh(),
        **{f"primitive_{k}": P.primitive_mesh(k, (0.07, 0.04, 0.05)) for k in P.PRIMITIVE_KINDS},
    }


def winding_number(mesh: trimesh.Trimesh, point: np.ndarray) -> float:
    """Generalized winding number of a closed mesh around a point (1 inside, 0 outside), by the
    solid angle of every triangle (Van Oosterom and Strackee): independent of trimesh's queries."""
    a, b, c = (mesh.vertices[mesh.faces[:, k]] - point for k in range(3))
    la, lb, lc = (np.linalg.norm(v, axis=1) for v in (a, b, c))
    numerator = np.einsum("ij,ij->i", a, np.cross(b, c))
    denominator = (
        la * lb * lc
        + np.einsum("ij,ij->i", a, b) * lc
        + np.einsum("ij,ij->i", b, c) * la
        + np.einsum("ij,ij->i", c, a) * lb
    )
    return float(np.sum(2 * np.arctan2(numerator, denominator)) / (4 * np.pi))


@pytest.mark.parametrize(
    "name, min_faces",
    [("mug", 1000), ("box", 1000), ("can", 1000), ("shoe", 1000)]
    + [(f"primitive_{k}", 200) for k in P.PRIMITIVE_KINDS],
)
def test_mesh_is_closed_grounded_and_centred(meshes, name, min_faces):
    mesh = meshes[name]
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0
    low, high = mesh.bounds
    assert abs(low[2]) < 1e-9
    np.testing.assert_allclose((low[:2] + high[:2]) / 2, 0.0, atol=1e-12)
    assert min_faces <= len(mesh.faces) <= 12_000


@pytest.mark.parametrize(
    "name, extents",
    [("mug", MUG_EXTENTS), ("box", P.BOX_EXTENTS_M), ("can", CAN_EXTENTS)],
)
def test_extents_match_construction(meshes, name, extents):
    np.testing.assert_allclose(meshes[name].extents, extents, atol=1e-6)


def test_shoe_extents(meshes):
    x, y, z = meshes["shoe"].extents
    np.testing.assert_allclose([x, y], [P.SHOE_LENGTH_M, P.SHOE_WIDTH_M], atol=1e-6)
    np.testing.assert_allclose(P.SHOE_LENGTH_M, 0.22, atol=0.005)  # the intended ~22 cm
    # The heel's ellipsoid tops out at 0.10 m; the foot opening cuts it, the sole is 2.5 cm.
    assert 0.06 < z < 0.10


def test_shoe_is_higher_at_the_heel(meshes):
    vertices = meshes["shoe"].vertices
    back = vertices[vertices[:, 0] < -0.05, 2].max()
    front = vertices[vertices[:, 0] > 0.05, 2].max()
    assert back > front + 0.02


def test_mug_volume_matches_its_profile(meshes):
    """Cup by the cylinder formula (walls, bottom) plus the handle's swept section, to within
    the rounded corners' few percent."""
    radius, inner = P.MUG_OUTER_RADIUS_M, P.MUG_OUTER_RADIUS_M - P.MUG_WALL_M
    cup = np.pi * radius**2 * P.MUG_HEIGHT_M - np.pi * inner**2 * (P.MUG_HEIGHT_M - P.MUG_BOTTOM_M)
    handle = P.MUG_HANDLE_THICKNESS_M * P.MUG_HANDLE_WIDTH_M * np.pi * P.MUG_HANDLE_RADIUS_M * 0.9
    np.testing.assert_allclose(meshes["mug"].volume, cup + handle, rtol=0.06)


def test_mug_has_a_cavity_and_a_handle(meshes):
    """On the axis the mug is solid only below MUG_BOTTOM_M; its wall and handle are solid."""
    mug = meshes["mug"]
    axis_x = mug.bounds[0, 0] + P.MUG_OUTER_RADIUS_M  # the axis sits R in from the -x side
    height = P.MUG_HEIGHT_M
    handle_x = axis_x + P.MUG_HANDLE_REACH_M - P.MUG_HANDLE_SQUASH * P.MUG_HANDLE_THICKNESS_M / 2
    expected = {
        (axis_x, 0.0, P.MUG_BOTTOM_M / 2): 1.0,  # bottom
        (axis_x, 0.0, height / 2): 0.0,  # cavity
        (axis_x, 0.0, height - 0.001): 0.0,  # cavity, open at the rim
        (axis_x - P.MUG_OUTER_RADIUS_M + P.MUG_WALL_M / 2, 0.0, height / 2): 1.0,  # wall
        (handle_x, 0.0, P.MUG_HANDLE_CENTRE_Z_M): 1.0,  # handle's outer bar
        (handle_x - 0.01, 0.0, P.MUG_HANDLE_CENTRE_Z_M): 0.0,  # the hole of the handle
    }
    for point, inside in expected.items():
        assert winding_number(mug, np.asarray(point)) == pytest.approx(inside, abs=1e-6), point


def test_box_volume_with_bevels(meshes):
    """Rounded box: full box minus what the bevel radius r removes (edges and corners)."""
    ex, ey, ez = P.BOX_EXTENTS_M
    r = P.BOX_BEVEL_RADIUS_M
    edges = (4 - np.pi) * r**2 * ((ex - 2 * r) + (ey - 2 * r) + (ez - 2 * r))
    corners = 8 * r**3 - 4 / 3 * np.pi * r**3
    np.testing.assert_allclose(meshes["box"].volume, ex * ey * ez - edges - corners, rtol=2e-3)


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("box", (0.07, 0.04, 0.05)),
        ("cylinder", (0.07, 0.04, 0.05)),
        ("spheroid", (0.07, 0.04, 0.05)),
        ("capsule", (0.07, 0.04, 0.04)),
    ],
)
def test_primitive_extents(meshes, kind, expected):
    np.testing.assert_allclose(meshes[f"primitive_{kind}"].extents, expected, atol=1e-6)


def test_primitive_rejects_bad_input():
    with pytest.raises(ValueError, match="positive"):
        P.primitive_mesh("box", (0.1, -0.1, 0.1))
    with pytest.raises(ValueError, match="x >= y"):
        P.primitive_mesh("capsule", (0.02, 0.05, 0.05))
    with pytest.raises(ValueError, match="unknown primitive"):
        P.primitive_mesh("torus", (0.1, 0.1, 0.1))


@pytest.mark.parametrize("name", ["mug", "box", "can", "shoe", "primitive_spheroid"])
def test_render_arrays_match_mesh(meshes, name):
    mesh = meshes[name]
    corner_uvs, _ = P.atlas_uvs(mesh.vertices, mesh.faces)
    render = P.render_arrays(mesh.vertices, mesh.faces, corner_uvs)
    assert_render_arrays_match(mesh, render.vertices, render.faces, render.uvs, render.normals)
    assert len(render.vertices) < 3 * len(mesh.faces)  # corners that agree are shared


@pytest.mark.parametrize("name", ["mug", "box", "can", "shoe"])
def test_atlas_gives_every_region_its_own_texels(meshes, name):
    mesh = meshes[name]
    corner_uvs, texture_size = P.atlas_uvs(mesh.vertices, mesh.faces)
    render = P.render_arrays(mesh.vertices, mesh.faces, corner_uvs)
    shared = shared_texel_fraction(render.vertices, render.faces, render.uvs, texture_size)
    assert shared < 1e-3


def test_atlas_layout_of_a_convex_shape():
    """A box uses the 3x2 tiles: +x face in the top-left tile, -z face bottom-right, inset."""
    box = P.primitive_mesh("box", (0.1, 0.2, 0.3))
    corner_uvs, texture_size = P.atlas_uvs(box.vertices, box.faces)
    assert texture_size == (2 * P.ATLAS_TILE_PX, 3 * P.ATLAS_TILE_PX)
    plus_x = box.face_normals[:, 0] > 0.99
    minus_z = box.face_normals[:, 2] < -0.99
    inset = P.ATLAS_INSET
    np.testing.assert_allclose(corner_uvs[plus_x, :, 0].min(), inset / 3)
    np.testing.assert_allclose(corner_uvs[plus_x, :, 0].max(), (1 - inset) / 3)
    np.testing.assert_allclose(corner_uvs[plus_x, :, 1].min(), 0.5 + inset / 2)
    np.testing.assert_allclose(corner_uvs[minus_z, :, 0].min(), (2 + inset) / 3)
    np.testing.assert_allclose(corner_uvs[minus_z, :, 1].max(), (1 - inset) / 2)


def test_atlas_is_not_mirrored():
    """On the +x face, moving +y (right, seen from +x) increases u; moving +z increases v."""
    box = P.primitive_mesh("box", (0.1, 0.1, 0.1))
    corner_uvs, _ = P.atlas_uvs(box.vertices, box.faces)
    plus_x = np.flatnonzero(box.face_normals[:, 0] > 0.99)
    corners = box.vertices[box.faces[plus_x]].reshape(-1, 3)
    uvs = corner_uvs[plus_x].reshape(-1, 2)
    assert np.corrcoef(corners[:, 1], uvs[:, 0])[0, 1] > 0.999
    assert np.corrcoef(corners[:, 2], uvs[:, 1])[0, 1] > 0.999


def test_corner_normals_smooth_sides_sharp_rims(meshes):
    """Cylinder: at the side's vertices on the circle, the normal is radial (smooth: the mean of
    the two facets by symmetry); on the caps it is exactly +-z (the rim stays sharp)."""
    cylinder = P.primitive_mesh("cylinder", (0.06, 0.06, 0.05))
    normals = P.corner_normals(cylinder.vertices, cylinder.faces).reshape(-1, 3)
    corners = cylinder.vertices[cylinder.faces].reshape(-1, 3)
    on_side = np.repeat(np.abs(cylinder.face_normals[:, 2]) < 0.5, 3)
    on_circle = np.abs(np.linalg.norm(corners[:, :2], axis=1) - 0.03) < 1e-9
    radial = corners * [1, 1, 0] / 0.03
    check = on_side & on_circle
    assert check.sum() > 100
    np.testing.assert_allclose(normals[check], radial[check], atol=1e-9)
    np.testing.assert_allclose(np.abs(normals[~on_side, 2]), 1.0, atol=1e-12)


def test_whole_texture_uvs_cover_each_side():
    box = P.primitive_mesh("box", (0.6, 0.4, 0.05))
    corner_uvs = P.whole_texture_uvs(box.vertices, box.faces)
    for side in (box.face_normals[:, 2] > 0.99, box.face_normals[:, 0] < -0.99):
        np.testing.assert_allclose(corner_uvs[side].reshape(-1, 2).min(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(corner_uvs[side].reshape(-1, 2).max(axis=0), 1.0, atol=1e-12)
