"""Assertions shared by the sim_assets tests: render arrays against their exact mesh."""

import cv2
import numpy as np
import trimesh
from scipy.spatial import cKDTree


def assert_render_arrays_match(
    mesh: trimesh.Trimesh,
    vertices: np.ndarray,
    faces: np.ndarray,
    uvs: np.ndarray,
    normals: np.ndarray,
) -> None:
    """Render arrays describe exactly the mesh's surface, with valid uvs and outward normals."""
    assert vertices.dtype == np.float64 and vertices.shape[1] == 3
    assert faces.dtype == np.int32 and faces.shape == mesh.faces.shape
    assert uvs.dtype == np.float32 and uvs.shape == (len(vertices), 2)
    assert normals.dtype == np.float32 and normals.shape == (len(vertices), 3)
    assert faces.min() >= 0 and faces.max() < len(vertices)

    # Same surface: equal total area, every render vertex is a mesh vertex, same triangles.
    render_area = trimesh.triangles.area(vertices[faces]).sum()
    np.testing.assert_allclose(render_area, mesh.area, rtol=1e-9)
    distance, _ = cKDTree(mesh.vertices).query(vertices)
    assert distance.max() < 1e-12
    np.testing.assert_array_equal(vertices[faces], mesh.vertices[mesh.faces])

    assert uvs.min() >= 0.0 and uvs.max() <= 1.0
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
    # Outward: each corner's shading normal agrees with its face's geometric normal.
    corner_normals = normals[faces].astype(np.float64)  # (F, 3, 3)
    dots = np.einsum("fkc,fc->fk", corner_normals, mesh.face_normals)
    assert dots.min() > 0.0


def shared_texel_fraction(
    vertices: np.ndarray,
    faces: np.ndarray,
    uvs: np.ndarray,
    texture_shape: tuple[int, int],
    samples: int = 100_000,
    apart_m: float = 0.005,
    seed: int = 0,
) -> float:
    """Fraction of random surface points whose texel (within half a texel) is also the texel of
    a surface point more than `apart_m` away: 0 for an atlas where no two regions share texture."""
    rng = np.random.default_rng(seed)
    triangles = vertices[faces]
    area = trimesh.triangles.area(triangles)
    face = rng.choice(len(faces), samples, p=area / area.sum())
    weights = rng.dirichlet([1.0, 1.0, 1.0], samples)
    points = np.einsum("nk,nkc->nc", weights, triangles[face])
    texels = np.einsum("nk,nkc->nc", weights, uvs[faces][face].astype(np.float64))
    texels *= [texture_shape[1], texture_shape[0]]
    pairs = cKDTree(texels).query_pairs(0.5, output_type="ndarray")
    apart = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1) > apart_m
    return np.unique(pairs[apart].ravel()).size / samples


def mean_hue_deg(image_rgb: np.ndarray) -> float:
    """Saturation-weighted circular mean hue of an RGB uint8 image, degrees in [0, 360)."""
    hsv = cv2.cvtColor(image_rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3)
    angle = hsv[:, 0].astype(np.float64) / 256.0 * 2 * np.pi
    weight = hsv[:, 1].astype(np.float64) * hsv[:, 2].astype(np.float64)
    mean = np.arctan2((weight * np.sin(angle)).sum(), (weight * np.cos(angle)).sum())
    return float(np.degrees(mean) % 360.0)


def hue_distance_deg(a_deg: float, b_deg: float) -> float:
    return abs((a_deg - b_deg + 180.0) % 360.0 - 180.0)
