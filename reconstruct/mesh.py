"""The fused mesh after fusion: cropped to the workspace, cleaned of fragments, read and written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from formats import DonkitError
from formats.atomic import write_bytes_atomic
from reconstruct.tsdf import TriangleMesh, canonical
from reconstruct.workspace import Workspace


def keep_faces(mesh: TriangleMesh, keep: np.ndarray) -> TriangleMesh:
    """The mesh with only the faces where `keep` (F,) is true, and the vertices they use."""
    faces = mesh.faces[keep]
    used = np.unique(faces)
    new_index = np.full(len(mesh.vertices), -1, dtype=np.int64)
    new_index[used] = np.arange(len(used))
    return canonical(mesh.vertices[used], new_index[faces], mesh.colors[used])


def crop_to_workspace(mesh: TriangleMesh, workspace: Workspace) -> TriangleMesh:
    """Faces whose three corners lie inside the workspace box (above the table)."""
    inside = workspace.contains(mesh.vertices)
    return keep_faces(mesh, inside[mesh.faces].all(axis=1))


def drop_fragments(mesh: TriangleMesh, min_share: float) -> TriangleMesh:
    """Connected pieces (sharing vertices) with fewer than `min_share` of all faces removed."""
    if mesh.empty:
        return mesh
    count = len(mesh.vertices)
    # Vertices joined along face edges; a piece is a connected component of that graph.
    rows = mesh.faces[:, [0, 1, 2]].ravel()
    columns = mesh.faces[:, [1, 2, 0]].ravel()
    graph = coo_matrix((np.ones(len(rows)), (rows, columns)), shape=(count, count))
    _, label_of_vertex = connected_components(graph, directed=False)
    label_of_face = label_of_vertex[mesh.faces[:, 0]]
    faces_per_label = np.bincount(label_of_face)
    return keep_faces(mesh, faces_per_label[label_of_face] >= min_share * len(mesh.faces))


def ply_bytes(mesh: TriangleMesh) -> bytes:
    """Binary PLY with per-vertex colours."""
    colors = np.concatenate([mesh.colors, np.full((len(mesh.colors), 1), 255, np.uint8)], axis=1)
    shape = trimesh.Trimesh(mesh.vertices, mesh.faces, vertex_colors=colors, process=False)
    return trimesh.exchange.ply.export_ply(shape, encoding="binary", include_attributes=False)


def write_mesh(path: Path, mesh: TriangleMesh) -> None:
    write_bytes_atomic(path, ply_bytes(mesh))


def read_mesh(path: Path) -> TriangleMesh:
    """A mesh written by `write_mesh` (or any PLY triangle mesh)."""
    path = Path(path)
    if not path.is_file():
        raise DonkitError(f"mesh {path} is missing; run `donkit fuse` on the scene")
    try:
        shape = trimesh.load(path, process=False, force="mesh")
    except Exception as error:  # trimesh raises many kinds for a damaged file
        raise DonkitError(f"mesh {path} is not a readable PLY ({error})") from None
    colors = getattr(shape.visual, "vertex_colors", None)
    colors = (
        np.asarray(colors)[:, :3].astype(np.uint8)
        if colors is not None and len(colors) == len(shape.vertices)
        else np.full((len(shape.vertices), 3), 128, np.uint8)
    )
    return TriangleMesh(
        np.asarray(shape.vertices, np.float64), np.asarray(shape.faces, np.int64), colors
    )
