"""How close a fused scene is to the simulator's truth: meshes, masks and rendered depth.

Read only by evaluation (`donkit fuse --evaluate`), tests and benchmarks; fusion itself never
looks at ground_truth/.

Mesh metrics follow the usual reconstruction benchmarks. Accuracy: distance from points on the
fused mesh to the true surface. Completeness: distance from points on the true surface to the
fused mesh. Chamfer-L1 is their mean; precision and recall are the shares within a threshold, and
the F-score their harmonic mean. Normal consistency is the mean |cos| between each point's normal
and the normal of the closest point on the other mesh. The true surface is restricted to what the
views could see: points above the workspace's bottom (min_height_m over the table) seen,
unoccluded and within 75 degrees of head-on, by at least `min_views` frames (3 by default). A
bottom resting on the table, or the inside of a mug that one grazing view glimpsed, cannot be
reconstructed by any fusion and would only measure the camera path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import open3d as o3d
import open3d.core as o3c
import trimesh

from formats.ground_truth import read_ground_truth
from formats.scenes import Scene
from geometry import inside_image, invert_pose, project, transform
from reconstruct.render import MeshRenderer
from reconstruct.tsdf import TriangleMesh
from reconstruct.workspace import Workspace

SAMPLES_PER_OBJECT = 50_000
FUSED_SAMPLES = 200_000
VISIBILITY_TOLERANCE_M = 0.003
# Views that see a surface more obliquely than this do not count towards observing it: fusion
# from grazing views alone fails (measured on the demo scenes: the surface points a 2 mm TSDF
# missed had a median of one view under 75 degrees, those it recovered fifteen), and the same
# limit bounds the depth agreement check of collection (collect.checks).
GRAZING_LIMIT_DEG = 75.0


@dataclass(frozen=True)
class SurfaceMetrics:
    """One object's mesh metrics (distances in millimetres)."""

    chamfer_l1_mm: float
    accuracy_mm: float
    completeness_mm: float
    precision_1mm: float
    recall_1mm: float
    f_score_1mm: float
    precision_2mm: float
    recall_2mm: float
    f_score_2mm: float
    normal_consistency: float
    fused_points: int
    reference_points: int


class _Surface:
    """A mesh for closest-point queries."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        self.scene = o3d.t.geometry.RaycastingScene()
        self.scene.add_triangles(
            o3c.Tensor(vertices.astype(np.float32)), o3c.Tensor(faces.astype(np.uint32))
        )
        shape = trimesh.Trimesh(vertices, faces, process=False)
        self.face_normals = np.asarray(shape.face_normals)

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) distances in metres and (N, 3) normals at the closest points."""
        answer = self.scene.compute_closest_points(o3c.Tensor(points.astype(np.float32)))
        closest = answer["points"].numpy().astype(np.float64)
        normals = self.face_normals[answer["primitive_ids"].numpy().astype(np.int64)]
        return np.linalg.norm(points - closest, axis=1), normals


@dataclass(frozen=True)
class TrueObject:
    """A ground-truth object in world coordinates."""

    name: str
    vertices: np.ndarray  # (V, 3) world, metres
    faces: np.ndarray  # (F, 3)
    segmentation_id: int


def true_objects(scene_root: Path) -> list[TrueObject]:
    """The objects of the scene's ground truth, posed in the world."""
    objects = []
    for obj in read_ground_truth(scene_root).objects:
        vertices, faces = obj.vertices_world()
        objects.append(TrueObject(obj.name, vertices, faces, obj.segmentation_id))
    return objects


def observed_points(
    obj: TrueObject,
    scene: Scene,
    unoccluded_depths: list[np.ndarray],
    workspace: Workspace,
    min_views: int,
    samples: int = SAMPLES_PER_OBJECT,
) -> np.ndarray:
    """(N, 3) points on the object's surface that at least `min_views` frames see unoccluded and
    within `GRAZING_LIMIT_DEG` of head-on, higher above the table than the workspace's bottom.

    Args:
        unoccluded_depths: per frame, the depth of all true objects rendered together.
    """
    shape = trimesh.Trimesh(obj.vertices, obj.faces, process=False)
    points, faces = trimesh.sample.sample_surface(shape, samples, seed=0)
    normals = np.asarray(shape.face_normals)[faces]
    above = workspace.heights(points) > workspace.min_height_m
    points, normals = points[above], normals[above]
    views = np.zeros(len(points), dtype=int)
    camera = scene.camera
    cos_limit = np.cos(np.radians(GRAZING_LIMIT_DEG))
    for frame, depth in zip(scene.frames, unoccluded_depths, strict=True):
        uv, z = project(transform(points, invert_pose(frame.camera_to_world)), camera.matrix)
        inside = inside_image(uv, camera.width, camera.height) & (z > 0)
        u, v = np.rint(uv[inside]).astype(int).T
        seen = np.zeros(len(points), dtype=bool)
        seen[np.flatnonzero(inside)] = np.abs(depth[v, u] - z[inside]) < VISIBILITY_TOLERANCE_M
        towards_camera = frame.camera_to_world[:3, 3] - points
        towards_camera /= np.linalg.norm(towards_camera, axis=1, keepdims=True)
        views += seen & ((towards_camera * normals).sum(axis=1) > cos_limit)
    return points[views >= min_views]


def surface_metrics(
    fused: TriangleMesh,
    objects: list[TrueObject],
    references: list[np.ndarray],
) -> dict[str, SurfaceMetrics]:
    """Mesh metrics of each true object against the part of the fused mesh closest to it.

    Args:
        references: per object, the (N, 3) observed surface points (`observed_points`).
    """
    fused_shape = trimesh.Trimesh(fused.vertices, fused.faces, process=False)
    fused_points, fused_faces = trimesh.sample.sample_surface(fused_shape, FUSED_SAMPLES, seed=0)
    fused_normals = np.asarray(fused_shape.face_normals)[fused_faces]
    fused_surface = _Surface(fused.vertices, fused.faces)
    answers = [_Surface(obj.vertices, obj.faces).closest(fused_points) for obj in objects]
    owner = np.argmin(np.stack([distance for distance, _ in answers]), axis=0)
    results = {}
    for index, (obj, reference) in enumerate(zip(objects, references, strict=True)):
        mine = owner == index
        accuracy, true_normals = answers[index][0][mine], answers[index][1][mine]
        completeness, nearest_normals = fused_surface.closest(reference)
        reference_normals = _Surface(obj.vertices, obj.faces).closest(reference)[1]
        consistency = np.concatenate(
            [
                np.abs((fused_normals[mine] * true_normals).sum(axis=1)),
                np.abs((reference_normals * nearest_normals).sum(axis=1)),
            ]
        )
        scores = {}
        for threshold_mm in (1, 2):
            precision = float(np.mean(accuracy < threshold_mm / 1000)) if mine.any() else 0.0
            recall = float(np.mean(completeness < threshold_mm / 1000)) if len(reference) else 0.0
            total = precision + recall
            scores[threshold_mm] = (
                precision,
                recall,
                2 * precision * recall / total if total else 0.0,
            )
        results[obj.name] = SurfaceMetrics(
            chamfer_l1_mm=float(1000 * (accuracy.mean() + completeness.mean()) / 2),
            accuracy_mm=float(1000 * accuracy.mean()),
            completeness_mm=float(1000 * completeness.mean()),
            precision_1mm=scores[1][0],
            recall_1mm=scores[1][1],
            f_score_1mm=scores[1][2],
            precision_2mm=scores[2][0],
            recall_2mm=scores[2][1],
            f_score_2mm=scores[2][2],
            normal_consistency=float(consistency.mean()),
            fused_points=int(mine.sum()),
            reference_points=len(reference),
        )
    return results


def mask_iou(mask: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool masks (1 when both are empty)."""
    union = np.count_nonzero(mask | truth)
    return np.count_nonzero(mask & truth) / union if union else 1.0


def evaluate_scene(
    scene: Scene,
    fused: TriangleMesh,
    sensor_depths: list[np.ndarray],
    workspace: Workspace,
    min_views: int = 3,
) -> dict[str, Any]:
    """metrics.json content for a fused simulated scene.

    Masks and depth are rendered afresh from the mesh, in metres: the stored images round depth
    to whole millimetres, which would dominate a sub-millimetre comparison.
    """
    objects = true_objects(scene.path)
    truth_renderer = MeshRenderer(
        TriangleMesh(
            np.concatenate([obj.vertices for obj in objects]),
            np.concatenate(
                [obj.faces + offset for obj, offset in zip(objects, _offsets(objects), strict=True)]
            ),
            np.zeros((sum(len(obj.vertices) for obj in objects), 3), np.uint8),
        )
    )
    unoccluded = [truth_renderer.depth(scene.camera, f.camera_to_world) for f in scene.frames]
    references = [observed_points(obj, scene, unoccluded, workspace, min_views) for obj in objects]
    surfaces = surface_metrics(fused, objects, references)
    fused_renderer = MeshRenderer(fused)
    ious, depth_errors = [], []
    for position, (frame, sensor) in enumerate(zip(scene.frames, sensor_depths, strict=True)):
        rendered = fused_renderer.depth(scene.camera, frame.camera_to_world)
        segmentation = scene.segmentation(position)
        ious.append(mask_iou(rendered > 0, segmentation > 0))
        on_object = (segmentation > 0) & (rendered > 0) & (sensor > 0)
        depth_errors.append(np.abs(rendered[on_object] - sensor[on_object]))
    depth_errors = np.concatenate(depth_errors)
    return {
        "reference": (
            f"true surface more than {1000 * workspace.min_height_m:g} mm above the table, seen "
            f"unoccluded within {GRAZING_LIMIT_DEG:g} degrees of head-on by at least {min_views} "
            "frames"
        ),
        "objects": {name: asdict(metrics) for name, metrics in surfaces.items()},
        "mask_iou": {
            "median": float(np.median(ious)),
            "mean": float(np.mean(ious)),
            "min": float(np.min(ious)),
        },
        "rendered_depth_error_mm": {
            "median": float(1000 * np.median(depth_errors)) if len(depth_errors) else None,
            "p90": float(1000 * np.percentile(depth_errors, 90)) if len(depth_errors) else None,
            "pixels": len(depth_errors),
        },
    }


def _offsets(objects: list[TrueObject]) -> list[int]:
    sizes = [len(obj.vertices) for obj in objects]
    return list(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int))
