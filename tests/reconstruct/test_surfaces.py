"""Rendering, fusion, mesh clean-up and mesh metrics on shapes whose answer is known."""

import numpy as np
import pytest
import trimesh

from geometry import PinholeCamera, look_at, project, transform
from reconstruct.mesh import drop_fragments, keep_faces, read_mesh, write_mesh
from reconstruct.metrics import TrueObject, mask_iou, surface_metrics
from reconstruct.render import MeshRenderer
from reconstruct.tsdf import TriangleMesh, TsdfVolume, canonical

CAMERA = PinholeCamera.from_fov(160, 120, 50.0)


def as_mesh(shape: trimesh.Trimesh, offset=(0.0, 0.0, 0.0)) -> TriangleMesh:
    vertices = np.asarray(shape.vertices, np.float64) + offset
    colors = np.full((len(vertices), 3), 200, np.uint8)
    return canonical(vertices, np.asarray(shape.faces, np.int64), colors)


def test_rendered_depth_of_a_plane_is_its_distance():
    plane = as_mesh(trimesh.creation.box((2.0, 2.0, 0.01)), offset=(0, 0, -0.005))  # top at z = 0
    camera_to_world = look_at([0.0, 0.0, 0.5], [0.1, 0.05, 0.0], roll_rad=0.4)
    depth = MeshRenderer(plane).depth(CAMERA, camera_to_world)
    # A pixel's ray with camera z = 1 reaches z = 0 at depth 0.5 / -(its world z component).
    v, u = np.mgrid[0:120, 0:160]
    rays = np.stack([(u - CAMERA.cx) / CAMERA.fx, (v - CAMERA.cy) / CAMERA.fy, np.ones_like(u)], -1)
    expected = 0.5 / -(rays @ camera_to_world[:3, :3].T)[..., 2]
    np.testing.assert_allclose(depth, expected, rtol=1e-5)


def test_picture_of_a_plane_seen_head_on_is_its_colour_where_the_depth_is():
    plane = as_mesh(trimesh.creation.box((0.2, 0.2, 0.01)), offset=(0, 0, -0.005))  # colour 200
    camera_to_world = look_at([0.0, 0.0, 0.5], [0.0, 0.0, 0.0], up=(0.0, 1.0, 0.0))
    renderer = MeshRenderer(plane)
    picture = renderer.picture(CAMERA, camera_to_world, background=17)
    seen = renderer.depth(CAMERA, camera_to_world) > 0
    assert picture.shape == (120, 160, 3) and picture.dtype == np.uint8
    assert (picture[~seen] == 17).all()
    # The light sits at the camera: the cosine of a ray with the plane's normal is
    # 1 / sqrt(1 + x^2 + y^2) for its camera-z-1 direction (x, y); at the centre pixel ~1.
    centre = picture[60, 80].astype(int)
    assert np.all(np.abs(centre - 200) <= 1)
    corner_v, corner_u = np.argwhere(seen)[0]
    x, y = (corner_u - CAMERA.cx) / CAMERA.fx, (corner_v - CAMERA.cy) / CAMERA.fy
    expected = 200 / np.sqrt(1 + x * x + y * y)
    assert abs(int(picture[corner_v, corner_u, 0]) - expected) <= 1.5


def test_rendered_depth_puts_a_vertex_on_its_projection():
    box = as_mesh(trimesh.creation.box((0.1, 0.1, 0.1)))
    camera_to_world = look_at([0.25, -0.2, 0.3], [0.0, 0.0, 0.0], roll_rad=0.2)
    depth = MeshRenderer(box).depth(CAMERA, camera_to_world)
    # The corner nearest the camera: its projection's pixel shows a depth within the box's
    # slope over half a pixel of the corner's own depth.
    corners = box.vertices
    uv, z = project(transform(corners, np.linalg.inv(camera_to_world)), CAMERA.matrix)
    nearest = int(np.argmin(z))
    u, v = np.rint(uv[nearest]).astype(int)
    assert abs(depth[v, u] - z[nearest]) < 0.003
    assert depth.max() < 0.6 and (depth == 0).mean() > 0.5  # background reads 0


def test_canonical_order_does_not_depend_on_the_input_order():
    shape = trimesh.creation.icosphere(subdivisions=2)
    mesh = as_mesh(shape)
    rng = np.random.default_rng(0)
    permutation = rng.permutation(len(mesh.vertices))
    inverse = np.argsort(permutation)
    shuffled_faces = inverse[mesh.faces][rng.permutation(len(mesh.faces))]
    shuffled_faces = np.roll(shuffled_faces, 1, axis=1)  # same orientation, other first corner
    again = canonical(mesh.vertices[permutation], shuffled_faces, mesh.colors[permutation])
    np.testing.assert_array_equal(again.vertices, mesh.vertices)
    np.testing.assert_array_equal(again.faces, mesh.faces)


def test_drop_fragments_keeps_the_large_pieces():
    big = trimesh.creation.icosphere(subdivisions=3, radius=0.05)  # 1280 faces
    crumb = trimesh.creation.box((0.001, 0.001, 0.001))  # 12 faces
    crumb.apply_translation((0.2, 0.0, 0.0))
    mesh = as_mesh(trimesh.util.concatenate([big, crumb]))
    cleaned = drop_fragments(mesh, 0.05)
    assert len(cleaned.faces) == 1280
    assert np.linalg.norm(cleaned.vertices, axis=1).max() < 0.051
    assert len(keep_faces(mesh, np.zeros(len(mesh.faces), bool)).faces) == 0


def test_ply_round_trip(tmp_path):
    mesh = as_mesh(trimesh.creation.icosphere(subdivisions=1))
    write_mesh(tmp_path / "mesh.ply", mesh)
    again = read_mesh(tmp_path / "mesh.ply")
    np.testing.assert_allclose(again.vertices, mesh.vertices, atol=1e-6)  # float32 in PLY
    np.testing.assert_array_equal(again.faces, mesh.faces)
    np.testing.assert_array_equal(again.colors, mesh.colors)


def test_metrics_of_a_mesh_against_itself_and_shifted():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
    truth = TrueObject("ball", np.asarray(sphere.vertices), np.asarray(sphere.faces), 1)
    reference, _ = trimesh.sample.sample_surface(sphere, 20000, seed=3)
    same = surface_metrics(as_mesh(sphere), [truth], [reference])["ball"]
    assert same.chamfer_l1_mm < 0.01 and same.f_score_1mm == 1.0
    assert same.normal_consistency > 0.999
    # Shifted by 1.5 mm along x: every distance lies between 0 and 1.5 mm, so nothing is beyond
    # 2 mm, and points facing along x are 1.5 mm away (beyond 1 mm).
    shifted = surface_metrics(as_mesh(sphere, offset=(0.0015, 0, 0)), [truth], [reference])["ball"]
    assert shifted.f_score_2mm == 1.0
    assert 0.3 < shifted.precision_1mm < 0.95
    assert 0.4 < shifted.chamfer_l1_mm < 1.5


def test_mask_iou_hand_computed():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True  # 8 pixels
    b[1:3] = True  # 8 pixels, 4 shared
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    assert mask_iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0


def test_fusing_exact_views_of_a_shape_recovers_it():
    # Depth rendered from a known mesh and fused back: the TSDF alone decides the error.
    shape = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
    truth_mesh = as_mesh(shape, offset=(0.0, 0.0, 0.06))
    renderer = MeshRenderer(truth_mesh)
    volume = TsdfVolume(voxel_m=0.002, truncation_voxels=4.0, max_depth_m=2.0)
    camera = PinholeCamera.from_fov(320, 240, 50.0)
    references = []
    for azimuth in np.linspace(0, 2 * np.pi, 16, endpoint=False):
        eye = [0.35 * np.cos(azimuth), 0.35 * np.sin(azimuth), 0.25]
        camera_to_world = look_at(eye, [0.0, 0.0, 0.06])
        depth = renderer.depth(camera, camera_to_world)
        volume.integrate(depth, np.full((240, 320, 3), 150, np.uint8), camera, camera_to_world)
    fused = volume.extract_mesh(weight_threshold=1.0)
    truth = TrueObject("ball", truth_mesh.vertices, truth_mesh.faces, 1)
    points, _ = trimesh.sample.sample_surface(shape, 20000, seed=0)
    points += (0.0, 0.0, 0.06)
    references.append(points[points[:, 2] > 0.04])  # the views look down: the lower half is hidden
    metrics = surface_metrics(fused, [truth], references)["ball"]
    assert metrics.chamfer_l1_mm < 0.5
    assert metrics.f_score_2mm > 0.99
    assert metrics.normal_consistency > 0.98
