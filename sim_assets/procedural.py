"""Exact object meshes built with manifold3d, and the render arrays (UV atlas, normals) for them.

Every mesh here is in its object frame: metres, z up, resting on the plane z = 0 in its upright
stable pose, the xy origin at the centre of its footprint's bounding box. Meshes come out of
manifold3d, so they are watertight and welded by construction; the dimensions below are the
construction parameters, and the tests check the meshes against them.

The render arrays describe the same triangles as the mesh, unwelded where the texture or the
shading is discontinuous: a UV atlas in which no two surface regions share texels (a network
learns to tell every surface point apart from its texture), and per-corner normals that are
smooth across gentle edges and sharp across creases.
"""

from dataclasses import dataclass
from typing import Literal

import manifold3d
import numpy as np
import trimesh

# --- Dimensions of the canonical shapes (metres), before any instance scale. ---
MUG_OUTER_RADIUS_M = 0.040
MUG_HEIGHT_M = 0.095
MUG_WALL_M = 0.005
MUG_BOTTOM_M = 0.007
MUG_HANDLE_RADIUS_M = 0.030  # centre line of the handle arc, before squashing it into a D
MUG_HANDLE_THICKNESS_M = 0.007  # radial
MUG_HANDLE_WIDTH_M = 0.012  # along the mug's y axis
MUG_HANDLE_SQUASH = 0.8  # the arc is scaled by this along x: a D shape that reaches less far out
MUG_HANDLE_CENTRE_Z_M = 0.052
# The handle's ends sit in the middle of the wall, so the union fuses them with it.
MUG_HANDLE_REACH_M = (
    MUG_OUTER_RADIUS_M
    - MUG_WALL_M / 2
    + MUG_HANDLE_SQUASH * (MUG_HANDLE_RADIUS_M + MUG_HANDLE_THICKNESS_M / 2)
)  # x of the handle's outermost point, from the mug's axis

BOX_EXTENTS_M = (0.10, 0.06, 0.14)
BOX_BEVEL_RADIUS_M = 0.004

CAN_RADIUS_M = 0.034
CAN_HEIGHT_M = 0.100
CAN_LID_INSET_M = 0.004  # depth of the lid below the rim's top

SHOE_TOE_RADIUS_M = 0.043  # the sole's outline: hull(toe, waist) + hull(waist, heel) circles
SHOE_WAIST_RADIUS_M = 0.036
SHOE_HEEL_RADIUS_M = 0.036
SHOE_TOE_X_M = 0.067
SHOE_WAIST_X_M = -0.010
SHOE_HEEL_X_M = -0.074
SHOE_SOLE_THICKNESS_M = 0.025
SHOE_LENGTH_M = SHOE_TOE_X_M + SHOE_TOE_RADIUS_M - (SHOE_HEEL_X_M - SHOE_HEEL_RADIUS_M)
SHOE_WIDTH_M = 2 * SHOE_TOE_RADIUS_M

PrimitiveKind = Literal["box", "cylinder", "spheroid", "capsule"]
PRIMITIVE_KINDS: tuple[PrimitiveKind, ...] = ("box", "cylinder", "spheroid", "capsule")

# --- Render arrays ---
ATLAS_TILE_PX = 256
ATLAS_COLUMNS = 3
ATLAS_INSET = 0.02  # fraction of a tile left free at each border, so bilinear lookups never bleed
SHARP_EDGE_DEG = 30.0

# Per direction (+x, -x, +y, -y, +z, -z): the (axis, sign) that points right and up in its tile,
# chosen so that the tile reads unmirrored when the face is seen from outside.
_TILE_RIGHT = ((1, 1.0), (1, -1.0), (0, -1.0), (0, 1.0), (0, 1.0), (0, 1.0))
_TILE_UP = ((2, 1.0), (2, 1.0), (2, 1.0), (2, 1.0), (1, 1.0), (1, -1.0))
# Segments per full circle of curved parts: enough for smooth silhouettes at 640x480, few enough
# to keep every object under ~12k triangles.
_SEGMENTS = 64
_FILLET_SEGMENTS = 24


@dataclass(frozen=True, eq=False)
class RenderArrays:
    """A mesh laid out for a renderer: one vertex per distinct (position, uv, normal).

    vertices: (V, 3) float64, the positions of the mesh's corners (same frame and units).
    faces: (F, 3) int32, the mesh's triangles in the mesh's order, indexing `vertices`.
    uvs: (V, 2) float32 in [0, 1], OBJ convention: (0, 0) is the bottom-left of the texture.
    normals: (V, 3) float32 unit normals.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    normals: np.ndarray


def mug_mesh() -> trimesh.Trimesh:
    """A mug: a revolved cup with a real cavity and bottom, and a D-shaped handle on +x.

    Outer radius `MUG_OUTER_RADIUS_M`, height `MUG_HEIGHT_M`; the handle reaches
    `MUG_HANDLE_REACH_M` from the axis. Rim and outer corners are rounded, the cavity floor is
    filleted.
    """
    radius, wall, height = MUG_OUTER_RADIUS_M, MUG_WALL_M, MUG_HEIGHT_M
    inner = radius - wall
    # A U-shaped section through the axis, mirrored so that rounding its corners leaves the part
    # on the axis untouched (revolve keeps only x >= 0).
    section = _polygon(
        [
            (-radius, 0),
            (radius, 0),
            (radius, height),
            (inner, height),
            (inner, MUG_BOTTOM_M),
            (-inner, MUG_BOTTOM_M),
            (-inner, height),
            (-radius, height),
        ]
    )
    section = _round_corners(section, convex_m=0.0022, concave_m=0.003)
    cup = manifold3d.Manifold.revolve(section, _SEGMENTS)

    handle_section = _round_corners(
        manifold3d.CrossSection.square((MUG_HANDLE_THICKNESS_M, MUG_HANDLE_WIDTH_M), center=True),
        convex_m=0.0025,
    ).translate((MUG_HANDLE_RADIUS_M, 0.0))
    # A half torus around z from +x to -x; turned so that it spans z in the plane y = 0 and bulges
    # towards +x, with both ends (at x = 0) facing the wall.
    handle = (
        manifold3d.Manifold.revolve(handle_section, 24, 180.0)
        .rotate((0.0, 0.0, -90.0))
        .rotate((90.0, 0.0, 0.0))
        .scale((MUG_HANDLE_SQUASH, 1.0, 1.0))
        .translate((radius - wall / 2, 0.0, MUG_HANDLE_CENTRE_Z_M))
    )
    # Split the long wall strips, so that depth layering in `atlas_uvs` sees where they pass
    # behind the handle.
    return _finish((cup + handle).refine_to_length(0.02))


def box_mesh() -> trimesh.Trimesh:
    """A box of `BOX_EXTENTS_M` with edges rounded by `BOX_BEVEL_RADIUS_M`."""
    half = np.asarray(BOX_EXTENTS_M) / 2 - BOX_BEVEL_RADIUS_M
    corner = manifold3d.Manifold.sphere(BOX_BEVEL_RADIUS_M, 24)
    corners = [
        corner.translate((sx * half[0], sy * half[1], sz * half[2]))
        for sx in (-1, 1)
        for sy in (-1, 1)
        for sz in (-1, 1)
    ]
    # Split the large flat faces: renderers interpolate texture and depth per triangle, and long
    # thin triangles clip badly near the camera.
    return _finish(manifold3d.Manifold.batch_hull(corners).refine_to_length(0.015))


def can_mesh() -> trimesh.Trimesh:
    """A can of radius `CAN_RADIUS_M`, height `CAN_HEIGHT_M`: chamfered base, a raised rim around
    a lid `CAN_LID_INSET_M` below the rim's top."""
    radius, height, lid = CAN_RADIUS_M, CAN_HEIGHT_M, CAN_HEIGHT_M - CAN_LID_INSET_M
    right = [
        (radius - 0.003, 0.0),
        (radius, 0.004),
        (radius, height - 0.005),
        (radius - 0.0015, height),
        (radius - 0.0045, height),
        (radius - 0.006, lid),
    ]
    left = [(-x, z) for x, z in reversed(right)]
    section = _round_corners(_polygon([*right, *left]), convex_m=0.0007, concave_m=0.0007)
    return _finish(manifold3d.Manifold.revolve(section, _SEGMENTS))


def shoe_mesh() -> trimesh.Trimesh:
    """A shoe pointing to +x: a flat sole (outline with a narrower waist), an upper that is low at
    the toe and high at the heel, and a cavity for the foot opening at the top of the heel.

    The sole's outline is `SHOE_LENGTH_M` long and `SHOE_WIDTH_M` wide; the upper stays inside
    the sole's bounding box.
    """

    def disc(radius_m: float, x_m: float) -> manifold3d.CrossSection:
        return manifold3d.CrossSection.circle(radius_m, _SEGMENTS).translate((x_m, 0.0))

    toe = disc(SHOE_TOE_RADIUS_M, SHOE_TOE_X_M)
    waist = disc(SHOE_WAIST_RADIUS_M, SHOE_WAIST_X_M)
    heel = disc(SHOE_HEEL_RADIUS_M, SHOE_HEEL_X_M)
    outline = manifold3d.CrossSection.batch_hull([toe, waist]) + manifold3d.CrossSection.batch_hull(
        [waist, heel]
    )
    sole = outline.extrude(SHOE_SOLE_THICKNESS_M)

    def ellipsoid(centre_m: tuple, radii_m: tuple) -> manifold3d.Manifold:
        return manifold3d.Manifold.sphere(1.0, 32).scale(radii_m).translate(centre_m)

    # The upper: a low toe box, an instep rising to a high heel, with the foot's cavity cut out
    # of its back half, so the opening shows from above as on a real shoe.
    toe_box = ellipsoid((0.068, 0.0, 0.025), (0.040, 0.036, 0.025))
    instep = ellipsoid((0.0, 0.0, 0.040), (0.050, 0.037, 0.040))
    heel_cup = ellipsoid((-0.070, 0.0, 0.050), (0.036, 0.035, 0.050))
    upper = manifold3d.Manifold.batch_hull([toe_box, instep]) + manifold3d.Manifold.batch_hull(
        [instep, heel_cup]
    )
    opening = ellipsoid((-0.045, 0.0, 0.100), (0.048, 0.029, 0.060))
    return _finish(sole + upper - opening)


def primitive_mesh(
    kind: PrimitiveKind, extents_m: tuple[float, float, float], max_edge_m: float | None = 0.012
) -> trimesh.Trimesh:
    """A simple solid whose bounding box is `extents_m` (x, y, z), for distractors.

    Boxes and cylinders are refined to edges of at most `max_edge_m` (None: not refined, as
    for a table, where millions of triangles would buy nothing).

    box: a box. cylinder: upright, elliptic if x != y. spheroid: an ellipsoid with its bottom
    sixth cut flat so it does not roll (its height is `extents_m[2]`). capsule: lying along x,
    round in y-z with diameter `extents_m[1]` (`extents_m[2]` is ignored; x >= y required).
    """
    size = np.asarray(extents_m, np.float64)
    if size.shape != (3,) or np.any(size <= 0):
        raise ValueError(f"extents_m must be 3 positive lengths, got {extents_m}")
    if kind == "box":
        solid = manifold3d.Manifold.cube(tuple(size), center=True)
    elif kind == "cylinder":
        solid = manifold3d.Manifold.cylinder(size[2], 0.5, -1.0, _SEGMENTS).scale(
            (size[0], size[1], 1.0)
        )
    elif kind == "spheroid":
        # Cut at z = -2/3 of the radius: the height is then 5/3 of the radius.
        radius_z = size[2] * 3 / 5
        solid = manifold3d.Manifold.sphere(1.0, 48).scale((size[0] / 2, size[1] / 2, radius_z))
        solid = solid.trim_by_plane((0.0, 0.0, 1.0), -2 / 3 * radius_z)
    elif kind == "capsule":
        radius = size[1] / 2
        if size[0] < size[1]:
            raise ValueError(f"a capsule needs x >= y, got extents {extents_m}")
        ball = manifold3d.Manifold.sphere(radius, 32)
        offset = size[0] / 2 - radius
        solid = manifold3d.Manifold.batch_hull(
            [ball.translate((-offset, 0.0, 0.0)), ball.translate((offset, 0.0, 0.0))]
        )
    else:
        raise ValueError(f"unknown primitive kind {kind!r}; expected one of {PRIMITIVE_KINDS}")
    if kind in ("box", "cylinder") and max_edge_m is not None:
        solid = solid.refine_to_length(max_edge_m)
    return _finish(solid)


def rest_on_ground(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """A copy of `mesh` translated so that min z = 0 and the xy bounding box is centred on 0."""
    low, high = mesh.bounds
    offset = -np.array([(low[0] + high[0]) / 2, (low[1] + high[1]) / 2, low[2]])
    return trimesh.Trimesh(mesh.vertices + offset, mesh.faces.copy(), process=False)


def atlas_uvs(vertices_m: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """A texture atlas in which no two surface regions share texels.

    Each face goes to the chart of the dominant axis of its normal (+x, -x, +y, -y, +z, -z) and
    its corners are projected onto the two other axes, oriented so that the chart reads
    unmirrored from outside. Where faces of one direction overlap in that projection (the inside
    of a mug behind its outer wall, the wall behind the handle), the ones behind go to further
    charts, one per depth layer. Each chart is normalised by its own bounding box and placed in a
    tile of `ATLAS_TILE_PX`, inset by `ATLAS_INSET`: the six front layers fill a 3x2 grid (+ row
    on top, - row below, columns x, y, z), further layers the rows below it.

    Compute it on the canonical mesh, so that every instance of a class shares the layout.

    Args:
        vertices_m: (V, 3) float, object frame.
        faces: (F, 3) int, outward winding.

    Returns:
        corner_uvs: (F, 3, 2) float64 in [0, 1], OBJ convention ((0, 0) = bottom-left of the
            texture), one per face corner.
        texture_size: (height, width) pixels of the texture this layout is made for.
    """
    direction, planar, depth = project_faces(vertices_m, faces)
    layer = _occlusion_layers(planar, depth, direction)

    # Front layers keep fixed tiles; charts behind them are appended row by row.
    extra = sorted({(int(lay), int(d)) for d, lay in zip(direction, layer, strict=True) if lay > 0})
    tile_of = {(0, d): (d % 2, d // 2) for d in range(6)}  # (tile row from top, column)
    for k, chart in enumerate(extra):
        tile_of[chart] = (2 + k // ATLAS_COLUMNS, k % ATLAS_COLUMNS)
    tile_rows = 2 + -(-len(extra) // ATLAS_COLUMNS)

    corner_uvs = np.empty_like(planar)
    for (lay, d), (tile_row, column) in tile_of.items():
        members = (direction == d) & (layer == lay)
        if not members.any():
            continue
        points = planar[members]
        low = points.reshape(-1, 2).min(axis=0)
        span = np.maximum(points.reshape(-1, 2).max(axis=0) - low, 1e-12)
        in_tile = ATLAS_INSET + (1 - 2 * ATLAS_INSET) * (points - low) / span
        corner_uvs[members, :, 0] = (column + in_tile[..., 0]) / ATLAS_COLUMNS
        corner_uvs[members, :, 1] = (tile_rows - 1 - tile_row + in_tile[..., 1]) / tile_rows
    return corner_uvs, (tile_rows * ATLAS_TILE_PX, ATLAS_COLUMNS * ATLAS_TILE_PX)


def project_faces(
    vertices_m: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each face's dominant normal direction and its corners projected along it.

    Returns:
        direction: (F,) int, 0..5 for +x, -x, +y, -y, +z, -z.
        planar: (F, 3, 2) float64 corner coordinates (right, up) as seen from outside along
            -direction, so the projection is not mirrored.
        depth: (F, 3) float64 corner coordinates along the direction (larger = nearer a viewer
            looking from outside).
    """
    corners = np.asarray(vertices_m, np.float64)[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    axis = np.argmax(np.abs(normals), axis=1)
    positive = normals[np.arange(len(faces)), axis] >= 0
    direction = 2 * axis + (~positive)

    def coordinate(per_face_axis: np.ndarray) -> np.ndarray:  # (F,) axis -> (F, 3) corner coords
        return corners[np.arange(len(faces))[:, None], np.arange(3), per_face_axis[:, None]]

    right, up = np.array(_TILE_RIGHT)[direction], np.array(_TILE_UP)[direction]  # (F, 2)
    planar = np.stack(
        [
            coordinate(right[:, 0].astype(int)) * right[:, 1:],
            coordinate(up[:, 0].astype(int)) * up[:, 1:],
        ],
        axis=-1,
    )
    depth = coordinate(axis) * np.where(positive, 1.0, -1.0)[:, None]
    return direction, planar, depth


def whole_texture_uvs(vertices_m: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """UVs that stretch one whole texture over each of the six sides of a box-like mesh.

    Each direction's faces (see `project_faces`) are normalised by their bounding box onto
    [0, 1]^2, upright and unmirrored from outside. Sides share texels, so use it where
    uniqueness does not matter (tables, pedestals).

    Returns:
        (F, 3, 2) float64 in [0, 1], OBJ convention.
    """
    direction, planar, _ = project_faces(vertices_m, faces)
    corner_uvs = np.empty_like(planar)
    for d in np.unique(direction):
        members = direction == d
        low = planar[members].reshape(-1, 2).min(axis=0)
        span = np.maximum(planar[members].reshape(-1, 2).max(axis=0) - low, 1e-12)
        corner_uvs[members] = (planar[members] - low) / span
    return corner_uvs


def corner_normals(
    vertices_m: np.ndarray, faces: np.ndarray, sharp_edge_deg: float = SHARP_EDGE_DEG
) -> np.ndarray:
    """Shading normals per face corner: smooth across gentle edges, sharp across creases.

    A corner's normal is the angle-weighted mean of the normals of the faces around its vertex
    that differ from its own face's normal by less than `sharp_edge_deg`; so a cylinder's side is
    smooth while its rim stays crisp.

    Args:
        vertices_m: (V, 3) float, welded (faces share vertex indices across smooth edges).
        faces: (F, 3) int.

    Returns:
        (F, 3, 3) float64 unit normals.
    """
    mesh = trimesh.Trimesh(vertices_m, faces, process=False)
    face_normals = np.asarray(mesh.face_normals)
    angle_weights = np.asarray(mesh.face_angles).ravel()  # (3F,) corner angles
    corner_vertex = np.asarray(faces).ravel()
    corner_face = np.repeat(np.arange(len(faces)), 3)

    # All pairs (corner, other corner at the same vertex), vectorised by grouping corners by vertex.
    order = np.argsort(corner_vertex, kind="stable")
    group_size = np.bincount(corner_vertex, minlength=len(vertices_m))
    group_start = np.cumsum(group_size) - group_size
    sizes = group_size[corner_vertex[order]]
    pair_corner = np.repeat(order, sizes)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    pair_other = order[group_start[corner_vertex[pair_corner]] + within]

    own = face_normals[corner_face[pair_corner]]
    other = face_normals[corner_face[pair_other]]
    keep = np.einsum("ij,ij->i", own, other) > np.cos(np.radians(sharp_edge_deg))
    weighted = other[keep] * angle_weights[pair_other[keep], None]
    summed = np.zeros((len(corner_vertex), 3))
    np.add.at(summed, pair_corner[keep], weighted)
    summed /= np.linalg.norm(summed, axis=1, keepdims=True)
    return summed.reshape(-1, 3, 3)


def render_arrays(
    vertices_m: np.ndarray, faces: np.ndarray, corner_uvs: np.ndarray
) -> RenderArrays:
    """Lay out a welded mesh for a renderer, with `corner_uvs` ((F, 3, 2)) and normals from
    `corner_normals`; corners that agree in position, uv and normal share one vertex."""
    positions = np.asarray(vertices_m, np.float64)[faces].reshape(-1, 3)
    keys = np.hstack(
        [positions, corner_uvs.reshape(-1, 2), corner_normals(vertices_m, faces).reshape(-1, 3)]
    )
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    # Number vertices in order of first use, so the layout follows the face order.
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    chosen = keys[first[order]]
    normals = chosen[:, 5:].astype(np.float32)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return RenderArrays(
        vertices=chosen[:, :3].copy(),
        faces=rank[inverse.ravel()].reshape(-1, 3).astype(np.int32),
        uvs=chosen[:, 3:5].astype(np.float32),
        normals=normals,
    )


def _occlusion_layers(planar: np.ndarray, depth: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Depth layer of every face among the faces of its own direction.

    A face is probed at its centroid and at three points between the centroid and its corners;
    a probe's count is the number of same-direction faces in front of it (whose projection
    contains it and that are nearer along the direction), and the face's count the largest of its
    probes'. Counts are ranked per direction, so layer 0 is what one sees looking at the object
    along -direction, and faces that overlap in projection land in different layers (up to
    overlaps that miss all four probes, which small triangles make rare).

    Args:
        planar: (F, 3, 2) projected corners; depth: (F, 3) corner coordinate along the direction;
        direction: (F,) int in [0, 6).

    Returns:
        (F,) int layer.
    """
    probe_weights = np.array([[1 / 3] * 3, [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    layers = np.zeros(len(planar), np.int64)
    for d in range(6):
        members = np.flatnonzero(direction == d)
        if len(members) < 2:
            continue
        tri, tri_depth = planar[members], depth[members]
        probes = np.einsum("pk,fkc->fpc", probe_weights, tri).reshape(-1, 2)  # (4n, 2)
        probe_depth = np.einsum("pk,fk->fp", probe_weights, tri_depth).ravel()
        counts = _faces_in_front(tri, tri_depth, probes, probe_depth)
        counts = counts.reshape(-1, len(probe_weights)).max(axis=1)
        layers[members] = np.unique(counts, return_inverse=True)[1].ravel()
    return layers


def _faces_in_front(
    tri: np.ndarray, tri_depth: np.ndarray, points: np.ndarray, point_depth: np.ndarray
) -> np.ndarray:
    """For each 2D point, how many triangles contain it strictly and lie in front of it.

    tri: (n, 3, 2), tri_depth: (n, 3), points: (m, 2), point_depth: (m,). Returns (m,) int.
    Points are processed in chunks sorted by x, each against the triangles whose x-range
    overlaps the chunk's, which keeps this far from the full n x m work.
    """
    origin, edge_1, edge_2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    det = edge_1[:, 0] * edge_2[:, 1] - edge_1[:, 1] * edge_2[:, 0]
    det = np.where(np.abs(det) > 1e-18, det, np.inf)  # degenerate: contains nothing
    tri_low, tri_high = tri[..., 0].min(axis=1), tri[..., 0].max(axis=1)
    counts = np.zeros(len(points), np.int64)
    order = np.argsort(points[:, 0], kind="stable")
    for start in range(0, len(order), 128):
        chunk = order[start : start + 128]
        xs = points[chunk, 0]
        near = np.flatnonzero((tri_high >= xs.min()) & (tri_low <= xs.max()))
        rel = points[chunk, None, :] - origin[near][None]  # (c, k, 2)
        e1, e2, dt = edge_1[near], edge_2[near], det[near]
        b1 = (rel[..., 0] * e2[:, 1] - rel[..., 1] * e2[:, 0]) / dt
        b2 = (e1[:, 0] * rel[..., 1] - e1[:, 1] * rel[..., 0]) / dt
        b0 = 1.0 - b1 - b2
        # Strictly inside, so neighbours sharing an edge or a vertex never count.
        inside = (b0 > 1e-9) & (b1 > 1e-9) & (b2 > 1e-9)
        td = tri_depth[near]
        depth_there = b0 * td[:, 0] + b1 * td[:, 1] + b2 * td[:, 2]
        counts[chunk] = (inside & (depth_there > point_depth[chunk, None] + 1e-7)).sum(axis=1)
    return counts


def _polygon(points: list[tuple[float, float]]) -> manifold3d.CrossSection:
    """A cross-section from one counter-clockwise outline."""
    return manifold3d.CrossSection([np.asarray(points, np.float64)])


def _round_corners(
    section: manifold3d.CrossSection, convex_m: float = 0.0, concave_m: float = 0.0
) -> manifold3d.CrossSection:
    """Round convex corners with radius `convex_m` (shrink, then grow) and concave corners with
    `concave_m` (grow, then shrink); straight edges stay where they were."""
    round_join = manifold3d.JoinType.Round
    if convex_m > 0:
        section = section.offset(-convex_m, round_join, 2.0, _FILLET_SEGMENTS)
        section = section.offset(convex_m, round_join, 2.0, _FILLET_SEGMENTS)
    if concave_m > 0:
        section = section.offset(concave_m, round_join, 2.0, _FILLET_SEGMENTS)
        section = section.offset(-concave_m, round_join, 2.0, _FILLET_SEGMENTS)
    return section


def _finish(solid: manifold3d.Manifold) -> trimesh.Trimesh:
    """The manifold as a welded trimesh resting on z = 0, centred in xy; checks it is closed."""
    if solid.status() != manifold3d.Error.NoError or solid.is_empty():
        raise RuntimeError(f"manifold3d construction failed: {solid.status()}")
    mesh64 = solid.to_mesh64()
    mesh = trimesh.Trimesh(
        np.asarray(mesh64.vert_properties, np.float64)[:, :3],
        np.asarray(mesh64.tri_verts, np.int64),
        process=False,
    )
    if not (mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0):
        raise RuntimeError("manifold3d returned a mesh that is not closed and outward-facing")
    return rest_on_ground(mesh)
