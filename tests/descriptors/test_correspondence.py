"""Matches and non-matches between views of a known scene (no simulator: a mesh and cameras)."""

import dataclasses

import numpy as np
import pytest
import trimesh

from descriptors.correspondence import (
    BACKGROUND,
    BLIND,
    CROSS_OBJECT,
    MASKED,
    Matches,
    View,
    find_matches,
    keep_subset,
    nonmatches_for,
    random_pairs,
)
from geometry import PinholeCamera, backproject, invert_pose, look_at, project, transform
from reconstruct.render import MeshRenderer
from reconstruct.tsdf import canonical

CAMERA = PinholeCamera.from_fov(160, 120, 50.0)


def mesh_of(*shapes: trimesh.Trimesh):
    shape = trimesh.util.concatenate(shapes)
    vertices = np.asarray(shape.vertices, np.float64)
    return canonical(vertices, np.asarray(shape.faces), np.zeros((len(vertices), 3), np.uint8))


def view_of(mesh, camera_to_world: np.ndarray) -> View:
    depth = MeshRenderer(mesh).depth(CAMERA, camera_to_world)
    return View(CAMERA, camera_to_world, depth, depth > 0)


@pytest.fixture(scope="module")
def box_views():
    box = trimesh.creation.box((0.1, 0.08, 0.06))
    mesh = mesh_of(box)
    a = view_of(mesh, look_at([0.25, -0.2, 0.2], [0, 0, 0], roll_rad=0.1))
    b = view_of(mesh, look_at([0.1, -0.3, 0.25], [0, 0, 0], roll_rad=-0.2))
    return a, b


def test_matches_land_on_the_projection_of_their_point(box_views):
    a, b = box_views
    matches = find_matches(a, b, 10_000, 0.003, np.random.default_rng(0))
    assert len(matches.uv_a) > 500
    # Independent: each match's world point, projected into B with geometry.project, rounds to
    # the match's pixel in B; the point is the ray through A's pixel at the rendered depth.
    uv, z = project(
        transform(matches.xyz.astype(np.float64), invert_pose(b.camera_to_world)), CAMERA.matrix
    )
    np.testing.assert_array_equal(np.rint(uv).astype(np.int32), matches.uv_b)
    assert np.abs(z - b.depth[matches.uv_b[:, 1], matches.uv_b[:, 0]]).max() <= 0.003
    # Every match starts in A's mask, off its edges, and lands in B's mask, off its edges.
    assert a.mask[matches.uv_a[:, 1], matches.uv_a[:, 0]].all()
    assert not a.on_edge[matches.uv_a[:, 1], matches.uv_a[:, 0]].any()
    assert not b.on_edge[matches.uv_b[:, 1], matches.uv_b[:, 0]].any()
    assert matches.attempts == len(a.match_pixels)  # fewer pixels than attempts: each once
    rejected = sum(matches.rejected.values())
    assert rejected + len(matches.uv_a) == matches.attempts


def test_a_hidden_point_is_rejected_as_occluded():
    # A plate floats between B's camera and part of the box: what A sees behind it is hidden in B.
    box = trimesh.creation.box((0.1, 0.1, 0.02))
    plate = trimesh.creation.box((0.03, 0.2, 0.002))
    plate.apply_translation((0.0, 0.0, 0.1))
    a_pose = look_at([0.3, 0.0, 0.15], [0, 0, 0])  # from the side: sees under the plate
    b_pose = look_at([0.0, 0.0, 0.4], [0.0, 0.01, 0.0])  # from above: the plate hides a strip
    scene = mesh_of(box, plate)
    a = view_of(scene, a_pose)
    b = view_of(scene, b_pose)
    matches = find_matches(a, b, 20_000, 0.003, np.random.default_rng(1))
    assert matches.rejected["occluded"] > 100
    # No match of a box-top point lies under the plate's strip (|x| < 1.5 cm) as seen from B.
    on_box_top = np.abs(matches.xyz[:, 2] - 0.01) < 0.001
    assert not (on_box_top & (np.abs(matches.xyz[:, 0]) < 0.014)).any()
    # The hidden pixels of A are those rejected as occluded or outside B, and the box-top
    # points among them lie in the plate's shadow from B's camera at height 0.4 m: its rays past
    # the plate's edge (|x| = 1.5 cm at height 0.1 m) meet the box top (0.01 m) at
    # |x| = 0.015 * 0.39 / 0.3 = 1.95 cm; a pixel (1.4 mm there) of rounding beyond that.
    hidden = matches.hidden_uv_a
    assert len(hidden) == matches.rejected["occluded"] + matches.rejected["outside_b"]
    depth = a.depth[hidden[:, 1], hidden[:, 0]].astype(np.float64)
    points = transform(backproject(hidden.astype(np.float64), depth, CAMERA.matrix), a_pose)
    hidden_top = np.abs(points[:, 2] - 0.01) < 0.001
    assert hidden_top.sum() > 100
    assert np.abs(points[hidden_top, 0]).max() < 0.0195 + 0.0014


def test_the_sensor_vetoes_what_the_fused_mesh_lacks(box_views):
    # The fused mesh is the box alone; the frames' own depth images say otherwise in places:
    # - B's sensor reads an occluder 5 cm in front of the box over columns 62-71 (a thin part
    #   the fusion lost), and nothing in column 72 beside it (a depth camera's hole at an edge);
    # - B's sensor reads nothing in column 90, with the box all around it;
    # - A's sensor reads the background 5 cm behind the mesh over rows 50-54 (a mesh that
    #   bleeds past the object).
    a, b = box_views
    sensor_a, sensor_b = a.depth.copy(), b.depth.copy()
    sensor_b[:, 62:72] = np.where(sensor_b[:, 62:72] > 0, sensor_b[:, 62:72] - 0.05, 0.3)
    sensor_b[:, 72] = 0.0
    sensor_b[:, 90] = 0.0
    sensor_a[50:55] = np.where(sensor_a[50:55] > 0, sensor_a[50:55] + 0.05, 0.0)

    def consulting(view: View, sensor: np.ndarray) -> View:
        return dataclasses.replace(view, sensor_depth=sensor, sensor_tolerance=0.01)

    plain = find_matches(a, b, 10_000, 0.003, np.random.default_rng(0))
    a_read, b_read = consulting(a, sensor_a), consulting(b, sensor_b)
    checked = find_matches(a_read, b_read, 10_000, 0.003, np.random.default_rng(0))
    # Exactly the matches starting in A's rows 50-54 or landing in B's columns 62-72 go; those
    # landing in column 90 stay.
    vetoed = (
        ((plain.uv_a[:, 1] >= 50) & (plain.uv_a[:, 1] < 55))
        | ((plain.uv_b[:, 0] >= 62) & (plain.uv_b[:, 0] <= 72))
    )  # fmt: skip
    assert vetoed.sum() > 150 and (plain.uv_b[:, 0] == 90).sum() > 5
    np.testing.assert_array_equal(checked.uv_a, plain.uv_a[~vetoed])
    np.testing.assert_array_equal(checked.uv_b, plain.uv_b[~vetoed])
    in_a_rows = (plain.uv_a[:, 1] >= 50) & (plain.uv_a[:, 1] < 55)
    assert checked.rejected["sensor_disagrees"] == (vetoed & ~in_a_rows).sum()
    assert plain.rejected["sensor_disagrees"] == 0
    # Readings within 1 % of the mesh's depth agree: 3 mm behind it at 0.35-0.4 m, on a box
    # side that slants by up to 5 mm a pixel.
    near = consulting(b, np.where(b.depth > 0, b.depth + np.float32(0.003), 0))
    again = find_matches(a, near, 10_000, 0.003, np.random.default_rng(0))
    np.testing.assert_array_equal(again.uv_a, plain.uv_a)


def test_subset_and_determinism(box_views):
    a, b = box_views
    first = find_matches(a, b, 500, 0.003, np.random.default_rng(5))
    second = find_matches(a, b, 500, 0.003, np.random.default_rng(5))
    np.testing.assert_array_equal(first.uv_a, second.uv_a)
    assert first.attempts == 500
    kept = keep_subset(first, 100, np.random.default_rng(0))
    assert len(kept.uv_a) == 100
    assert {tuple(p) for p in kept.uv_a} <= {tuple(p) for p in first.uv_a}


def test_nonmatches_keep_their_distance_and_place(box_views):
    a, b = box_views
    matches = find_matches(a, b, 2000, 0.003, np.random.default_rng(2))
    nonmatches = nonmatches_for(matches, b, 150, 0.5, 8.0, np.random.default_rng(3))
    masked = nonmatches.kind == MASKED
    background = nonmatches.kind == BACKGROUND
    assert masked.sum() == 75 * len(matches.uv_a)  # all found: the mask is large
    assert background.sum() == 75 * len(matches.uv_a)
    u, v = nonmatches.uv_b[:, 0], nonmatches.uv_b[:, 1]
    assert b.mask[v[masked], u[masked]].all() and not b.mask[v[background], u[background]].any()
    # Each non-match's A pixel is a match's; its B pixel lies >= 8 px from that match's B pixel.
    match_of = {
        tuple(p): q for p, q in zip(matches.uv_a.tolist(), matches.uv_b.tolist(), strict=True)
    }
    partners = np.array([match_of[tuple(p)] for p in nonmatches.uv_a.tolist()])
    assert np.hypot(*(nonmatches.uv_b - partners).T).min() >= 8.0


def test_nonmatches_give_up_where_no_pixel_is_far_enough():
    # B's mask is a single 3 x 3 blob around the match: no masked non-match can be 8 px away.
    depth = np.zeros((120, 160), np.float32)
    depth[59:62, 79:82] = 0.5
    b = View(CAMERA, np.eye(4), depth, depth > 0)

    one = Matches(
        np.array([[10, 10]], np.int32),
        np.array([[80, 60]], np.int32),
        np.zeros((1, 3), np.float32),
        1,
    )
    nonmatches = nonmatches_for(one, b, 10, 1.0, 8.0, np.random.default_rng(0))
    assert len(nonmatches.kind) == 0


def test_blind_and_cross_object_pairs(box_views):
    a, b = box_views
    blind = random_pairs(a.mask, b.mask, 400, False, BLIND, np.random.default_rng(4))
    assert len(blind.kind) == 400 and (blind.kind == BLIND).all()
    assert a.mask[blind.uv_a[:, 1], blind.uv_a[:, 0]].all()
    assert not b.mask[blind.uv_b[:, 1], blind.uv_b[:, 0]].all()  # anywhere in B
    cross = random_pairs(a.mask, b.mask, 400, True, CROSS_OBJECT, np.random.default_rng(4))
    assert b.mask[cross.uv_b[:, 1], cross.uv_b[:, 0]].all() and (cross.kind == CROSS_OBJECT).all()
