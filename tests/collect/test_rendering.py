"""The rendered images follow our camera model: intrinsics, pixel centres, depth in metres."""

import math

import numpy as np
import pytest
import trimesh

from collect.bullet import pybullet
from collect.checks import rendered_intrinsics
from collect.rendering import linearize_depth, projection_matrix, view_matrix
from collect.world import Light, SimWorld
from formats import DonkitError
from geometry import PinholeCamera, look_at, make_pose, project, transform
from sim_assets import ObjectAsset

NEAR_M, FAR_M = 0.03, 3.0


def plain_asset(mesh: trimesh.Trimesh, name: str) -> ObjectAsset:
    """A grey object with the given mesh (no atlas needed for these tests)."""
    return ObjectAsset(
        name=name,
        object_class=name,
        canonical_scale=np.ones(3),
        mass_kg=0.0,
        mesh=mesh,
        render_vertices=np.asarray(mesh.vertices, dtype=np.float64),
        render_faces=np.asarray(mesh.faces, dtype=np.int32),
        render_uvs=np.zeros((len(mesh.vertices), 2), dtype=np.float32),
        render_normals=np.asarray(mesh.vertex_normals, dtype=np.float32),
        texture=np.full((8, 8, 3), 128, dtype=np.uint8),
    )


def make_world(renderer: str) -> SimWorld:
    try:
        return SimWorld(renderer)
    except DonkitError as error:  # EGL needs libEGL; TinyRenderer works everywhere
        pytest.skip(f"renderer {renderer} unavailable here: {error}")


@pytest.mark.parametrize("renderer", ["tiny", "egl"])
@pytest.mark.parametrize(
    "camera",
    [
        PinholeCamera.from_fov(320, 240, 50.0),
        PinholeCamera(160, 120, 150.0, 150.0, 71.3, 64.8),  # off-centre principal point
    ],
)
def test_rendered_depth_follows_the_intrinsics(renderer, camera):
    make_world(renderer).close()  # skips where the renderer is unavailable
    cx, cy, focal = rendered_intrinsics(renderer, camera)
    # EGL's 24-bit depth buffer is coarser than TinyRenderer's float one, hence its wider bound.
    tolerance = 0.02 if renderer == "tiny" else 0.1
    assert abs(cx - camera.cx) < tolerance
    assert abs(cy - camera.cy) < tolerance
    assert abs(focal - camera.fx) / camera.fx < 1e-3


@pytest.mark.parametrize("renderer", ["tiny", "egl"])
def test_a_known_point_lands_on_its_pixel(renderer):
    # Small spheres at known places: the centre of each one's silhouette is where the camera
    # model projects its centre (off the axis, perspective moves the silhouette of a 1.5 cm
    # sphere by less than 0.1 px).
    camera = PinholeCamera.from_fov(320, 240, 50.0)
    camera_to_world = look_at([0.0, -0.5, 0.4], [0.0, 0.0, 0.0], roll_rad=0.3)
    centres = np.array(
        [[0.0, 0.0, 0.0], [0.12, 0.05, 0.02], [-0.1, -0.08, 0.06], [0.07, 0.15, -0.05]]
    )
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.015)
    with make_world(renderer) as world:
        bodies = [
            world.add_body(plain_asset(sphere, "sphere"), make_pose(np.eye(3), centre))
            for centre in centres
        ]
        _, _, body_ids = world.render(camera, camera_to_world, NEAR_M, FAR_M, Light())
    world_to_camera = np.linalg.inv(camera_to_world)
    expected, _ = project(transform(centres, world_to_camera), camera.matrix)
    for body, uv in zip(bodies, expected, strict=True):
        rows, columns = np.nonzero(body_ids == body)
        assert len(rows) > 50
        centroid = np.array([columns.mean(), rows.mean()])
        assert np.linalg.norm(centroid - uv) < 0.5, (centroid, uv)


def test_linearize_depth_hand_computed():
    near, far = 0.1, 10.0
    # The OpenGL depth buffer of a point at camera z: d = (1 - near / z) * far / (far - near).
    z = np.array([[0.1, 0.5, 2.0, 9.99]])
    buffer = (1 - near / z) * far / (far - near)
    np.testing.assert_allclose(linearize_depth(buffer, near, far), z, rtol=1e-6)
    assert linearize_depth(np.array([[1.0]]), near, far)[0, 0] == 0  # background: no reading


@pytest.mark.parametrize("renderer,offset", [("tiny", (-0.5, 0.5)), ("egl", (0.0, 0.0))])
def test_projection_matrix_puts_pixel_centres_where_the_renderer_samples(renderer, offset):
    camera = PinholeCamera(160, 120, 140.0, 150.0, 70.2, 61.7)
    camera_to_world = look_at([0.2, -0.3, 0.4], [0.0, 0.0, 0.0])
    point_camera = np.array([0.05, -0.02, 0.5])
    (u, v) = project(point_camera[None], camera.matrix)[0][0]
    view = np.array(view_matrix(camera_to_world)).reshape(4, 4, order="F")
    projection = np.array(projection_matrix(camera, NEAR_M, FAR_M, renderer)).reshape(
        4, 4, order="F"
    )
    clip = projection @ view @ np.append(transform(point_camera[None], camera_to_world)[0], 1.0)
    ndc = clip[:3] / clip[3]
    # OpenGL: window x = (ndc + 1) / 2 * W covers pixel u over [u, u + 1), its centre at u + 0.5;
    # rows count from the top. The renderer's own offset is added on top.
    window_u = (ndc[0] + 1) / 2 * camera.width - 0.5
    window_v = (1 - ndc[1]) / 2 * camera.height - 0.5
    assert window_u == pytest.approx(u + offset[0], abs=1e-9)
    assert window_v == pytest.approx(v + offset[1], abs=1e-9)
    assert math.isclose(ndc[2], 2 * (1 - NEAR_M / 0.5) * FAR_M / (FAR_M - NEAR_M) - 1, rel_tol=1e-9)


def test_body_pose_is_the_mesh_origin_not_the_centre_of_mass():
    # createMultiBody places the link frame; pybullet then reports the centre-of-mass frame,
    # here 5 cm along the link's x axis, which is world +y after a 90-degree turn about z.
    with SimWorld() as world:
        shape = world.client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[0.1, 0.1, 0.1])
        body = world.client.createMultiBody(
            1.0,
            shape,
            -1,
            basePosition=[1.0, 2.0, 3.0],
            baseOrientation=[0.0, 0.0, math.sqrt(0.5), math.sqrt(0.5)],
            baseInertialFramePosition=[0.05, 0.0, 0.0],
        )
        reported, _ = world.client.getBasePositionAndOrientation(body)
        np.testing.assert_allclose(reported, [1.0, 2.05, 3.0], atol=1e-7)
        pose = world.body_pose(body)
        np.testing.assert_allclose(pose[:3, 3], [1.0, 2.0, 3.0], atol=1e-7)
        np.testing.assert_allclose(pose[:3, 0], [0.0, 1.0, 0.0], atol=1e-7)
        target = look_at([0.1, 0.2, 0.3], [0.5, 0.5, 0.5])
        world.set_body_pose(body, target)
        np.testing.assert_allclose(world.body_pose(body), target, atol=1e-7)
