"""True matches across instances of a class, checked against the instances' meshes."""

import numpy as np
import open3d as o3d
import open3d.core as o3c
import pytest

from descriptors.cross_instance import Instance, cross_instance_pairs, instances, transfer
from geometry import look_at, transform
from reconstruct.metrics import true_objects
from sim_assets.library import build_object


def posed(name: str, pose: np.ndarray) -> tuple[Instance, np.ndarray]:
    """An instance of the library at `pose`, and its mesh's vertices in the world."""
    asset = build_object(name)
    instance = Instance(0, name, asset.object_class, pose, asset.canonical_scale, 1)
    return instance, transform(np.asarray(asset.mesh.vertices), pose)


def test_transfer_maps_one_mug_onto_the_other_vertex_for_vertex():
    # Both mugs are the canonical mug scaled ((1, 1, 1) and (0.9, 0.9, 1.1)): same vertex order.
    red, red_vertices = posed("mug_red", look_at([0.3, 0.1, 0.8], [0.5, 0.0, 0.7]))
    blue, blue_vertices = posed("mug_blue", look_at([-0.2, 0.4, 0.75], [0.0, 0.0, 0.7]))
    assert not np.allclose(red.scale, blue.scale)
    np.testing.assert_allclose(transfer(red_vertices, red, blue), blue_vertices, atol=1e-9)
    np.testing.assert_allclose(transfer(blue_vertices, blue, red), red_vertices, atol=1e-9)


@pytest.mark.slow
def test_matches_across_instances_land_on_the_other_instance(fused_demo_scenes):
    paths = sorted(fused_demo_scenes.glob("scene_*"))
    # Demo scene 0 holds mug_red and mug_blue; a shoe_boot in both scenes is one instance.
    classes = {(item.scene, item.name): item.object_class for item in instances(paths)}
    assert classes[(0, "mug_red")] == classes[(0, "mug_blue")] == "mug"
    pairs = cross_instance_pairs(paths, pairs=4, matches=50, seed=0)
    assert len(pairs) == 4
    surfaces = {}
    for path in paths:
        for obj in true_objects(path):
            surface = o3d.t.geometry.RaycastingScene()
            surface.add_triangles(
                o3c.Tensor(obj.vertices.astype(np.float32)), o3c.Tensor(obj.faces.astype(np.uint32))
            )
            surfaces[f"{path.name}/{obj.name}"] = surface
    for pair in pairs:
        assert pair.kind == "cross_instance" and 0 < len(pair.uv_b) <= 50
        from_x, onto_y = pair.instances
        assert from_x.split("/")[1] != onto_y.split("/")[1]
        # Every true point lies on Y's true surface, within the sensor's millimetre rounding.
        points = o3c.Tensor(pair.xyz.astype(np.float32))
        distances = surfaces[onto_y].compute_distance(points).numpy()
        assert np.percentile(distances, 95) < 0.003
