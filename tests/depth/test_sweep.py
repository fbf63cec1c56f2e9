"""The plane sweep: its warp against geometry's, a known plane found at its minimum, the
reduction over sources, the refinement between planes and the fill of indistinct minima by hand,
and the multi-frame network that starts from the sweep's answer."""

import numpy as np
import pytest
import torch

from depth.config import multi_frame_spec
from depth.data import DepthSamples, mirror, nearest_sources
from depth.frames import posed_batch
from depth.network import MultiFrameDepthNet
from depth.sweep import (
    UNSEEN_COST,
    PlaneSweep,
    cheapest_sources,
    fill_indistinct,
    minimum_distinctness,
    plane_inverse_depths,
    plane_sweep_cost,
)
from geometry import make_pose, rotation_about_axis, warp
from tests.depth.conftest import tiny_config

FX, CX, CY = 100.0, 31.5, 23.5


def _intrinsics(dtype=torch.float64):
    return torch.tensor([[[FX, 0.0, CX], [0.0, FX, CY], [0.0, 0.0, 1.0]]], dtype=dtype)


def test_planes_are_even_in_inverse_depth_from_far_to_near():
    inverse = plane_inverse_depths(0.25, 1.0, 7)
    np.testing.assert_allclose(inverse.numpy(), [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    with pytest.raises(ValueError, match="planes"):
        plane_inverse_depths(0.5, 0.4, 8)


def test_each_plane_samples_the_source_where_geometry_warps_its_pixels():
    # A source whose value is its own column (then its row) coordinate, a target of zeros and a
    # 1-pixel window: the cost of each plane is where the target's pixels land in the source,
    # which geometry.warp computes independently (numpy, float64).
    height, width = 48, 64
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    target_to_source = make_pose(
        rotation_about_axis(np.array([0.2, 1.0, 0.1]), 0.05), np.array([-0.04, 0.01, 0.02])
    )
    k = _intrinsics()
    inverse = plane_inverse_depths(0.4, 2.0, 5)
    uv = np.stack([columns, rows], -1).reshape(-1, 2)
    for channel, ramp in enumerate((columns, rows)):
        source = torch.from_numpy(ramp)[None, None, None]
        cost, seen = plane_sweep_cost(
            torch.zeros(1, 1, height, width, dtype=torch.float64), source, k,
            torch.from_numpy(target_to_source)[None, None], inverse, window=1,
        )  # fmt: skip
        for plane, inverse_depth in enumerate(inverse.numpy()):
            depth = np.full(len(uv), 1.0 / inverse_depth)
            landed, _ = warp(uv, depth, k[0].numpy(), target_to_source, k[0].numpy(), np.eye(4))
            # Seen pixels, less the outer half pixel where sampling clamps to the border.
            between_centres = (
                (landed >= 0).all(1) & (landed[:, 0] <= width - 1) & (landed[:, 1] <= height - 1)
            ).reshape(height, width)
            inside = seen[0, 0, plane].numpy() & between_centres
            assert inside.mean() > 0.5
            np.testing.assert_allclose(
                cost[0, 0, plane].numpy()[inside],
                landed[:, channel].reshape(height, width)[inside],
                atol=1e-8,
            )


def test_a_textured_plane_is_found_at_its_depth():
    # The source camera 5 cm to the right of the target's: a fronto-parallel plane at 0.5 m moves
    # every pixel by fx * b / z = 10 px to the left, so the target is the source shifted right.
    generator = torch.Generator().manual_seed(3)
    source = torch.rand(1, 3, 48, 64 + 10, generator=generator, dtype=torch.float64)
    target = source[..., :64]
    source = source[..., 10:]
    target_to_source = torch.from_numpy(make_pose(np.eye(3), np.array([-0.05, 0.0, 0.0])))[
        None, None
    ]
    inverse = plane_inverse_depths(0.25, 1.0, 7)  # 1/m: 1.0, 1.5, ..., 4.0; 0.5 m is plane 2
    cost, seen = plane_sweep_cost(target, source[:, None], _intrinsics(), target_to_source,
                                  inverse, window=5)  # fmt: skip
    volume = cheapest_sources(cost, seen, keep=1)
    inner = volume[0, :, 4:-4, 16:-4]  # pixels whose window the source sees at every plane
    assert torch.equal(inner.argmin(0), torch.full_like(inner[0], 2, dtype=torch.long))
    assert float(inner[2].max()) < 1e-12 < float(inner[[0, 1, 3, 4, 5, 6]].min())
    # The refinement between planes moves the answer less than half a plane (0.25 / m).
    sweep = PlaneSweep(planes=7, near_m=0.25, far_m=1.0, window=5, keep=1)
    found = sweep.inverse_depth(volume)[0, 0, 4:-4, 16:-4]
    assert float((found - 2.0).abs().max()) <= 0.25 + 1e-9


def test_the_cheapest_seen_sources_are_averaged_by_hand():
    cost = torch.tensor([0.2, 0.1, 0.5]).view(1, 3, 1, 1, 1).expand(1, 3, 1, 1, 3).clone()
    seen = torch.tensor([[True, True, False], [False, False, True], [False, False, False]])
    seen = seen.T.reshape(1, 3, 1, 1, 3)  # pixel p sees the sources of row p
    reduced = cheapest_sources(cost, seen, keep=2)[0, 0, 0]
    np.testing.assert_allclose(reduced.numpy(), [0.15, 0.5, UNSEEN_COST])
    np.testing.assert_allclose(cheapest_sources(cost, seen, keep=1)[0, 0, 0].numpy(),
                               [0.1, 0.5, UNSEEN_COST])  # fmt: skip


def test_the_refinement_between_planes_finds_a_parabolas_vertex():
    inverse = plane_inverse_depths(0.25, 1.0, 7)
    planes = torch.arange(7, dtype=torch.float64)
    cost = ((planes - 3.25) ** 2).view(1, 7, 1, 1)
    sweep = PlaneSweep(planes=7, near_m=0.25, far_m=1.0, window=1, keep=1)
    np.testing.assert_allclose(sweep.inverse_depths().numpy(), inverse.numpy())
    assert float(sweep.inverse_depth(cost)) == pytest.approx(2.5 + 0.25 * 0.5)  # 1/m
    # At the first plane there is no parabola: its own depth.
    assert float(sweep.inverse_depth(planes.view(1, 7, 1, 1))) == pytest.approx(1.0)


def test_a_minimums_distinctness_is_its_lead_over_planes_farther_than_two_away():
    # Pixel 0: cheapest 0.1 at plane 1, the rival beyond planes 0-3 is 0.3 at plane 5 -> 2.0;
    # its own neighbours (0.15 at plane 2) do not count. Pixel 1: all planes equal -> 0.
    cost = torch.tensor([[0.4, 0.1, 0.15, 0.2, 0.6, 0.3, 0.9], [0.5] * 7]).T.reshape(1, 7, 1, 2)
    np.testing.assert_allclose(minimum_distinctness(cost)[0, 0, 0].numpy(), [2.0, 0.0], rtol=1e-6)


def test_the_least_distinct_share_takes_the_median_of_its_distinct_neighbours():
    values = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # 1 2 3 / 4 5 6 / 7 8 9
    distinctness = torch.ones(1, 1, 3, 3)
    distinctness[0, 0, 1, 1] = 0.0  # the centre, 1 pixel of 9, is the least distinct
    filled = fill_indistinct(values, distinctness, share=0.1, window=3)
    expected = values.clone()
    expected[0, 0, 1, 1] = 4.0  # the median of its 8 neighbours 1-4, 6-9 (torch's: the lower)
    np.testing.assert_allclose(filled.numpy(), expected.numpy())
    # With a 1-pixel window it has no other pixel to take; share 0 changes nothing.
    assert torch.equal(fill_indistinct(values, distinctness, 0.1, 1), values)
    assert torch.equal(fill_indistinct(values, distinctness, 0.0, 3), values)


def test_older_checkpoints_get_the_sweep_they_were_trained_with():
    spec = multi_frame_spec(tiny_config(multi_frame=True))
    assert PlaneSweep.from_spec(spec).near_m == spec["sweep_min_depth_m"] == 0.15
    for key in ("sweep_min_depth_m", "sweep_fill", "sweep_fill_window"):
        del spec[key]
    older = PlaneSweep.from_spec(spec)
    assert older.near_m == spec["min_depth_m"] and older.fill == 0.0


@pytest.mark.parametrize("backbone", [18, "efficientnet_lite0"])
def test_the_untrained_multi_frame_network_gives_the_sweeps_plane(backbone):
    torch.manual_seed(0)
    sweep = PlaneSweep(planes=8, near_m=0.2, far_m=2.0, window=1, keep=1)
    network = MultiFrameDepthNet(sweep, 0.1, 2.0, backbone, (4, 8, 16, 32, 64)).eval()
    cost = torch.ones(1, 8, 40, 48)
    cost[0, 5, :, :24] = 0.0  # left half: plane 5; right half: plane 2
    cost[0, 2, :, 24:] = 0.0
    with torch.no_grad():
        disparities = network(torch.rand(1, 3, 40, 48), cost)
    assert [tuple(d.shape[-2:]) for d in disparities] == [(40, 48), (20, 24), (10, 12), (5, 6)]
    finest = disparities[0][0, 0]
    # Plane p of 8 is at 0.5 + p (5 - 0.5) / 7 per metre; over the network's 0.1-2.0 m that is
    # disparity (1 / depth - 0.5) / (10 - 0.5). The refinement's change starts at zero.
    for plane, half in ((5, finest[:, :24]), (2, finest[:, 24:])):
        disparity = (0.5 + plane * 4.5 / 7 - 0.5) / 9.5
        np.testing.assert_allclose(half.numpy(), disparity, atol=1e-6)
    with pytest.raises(ValueError, match="cost must be"):
        network(torch.rand(1, 3, 40, 48), cost[:, :7])


def test_a_samples_cost_volume_is_its_nearest_frames_and_mirrors_with_it(small_dataset):
    # The cost volume comes from the 3 nearest frames, the loss's 2 sources are the next ones.
    config = tiny_config(multi_frame=True, sweep_sources=3, sources=2, planes=16, flip=0.0)
    samples = DepthSamples([small_dataset / "scene_0000"], config, 4)
    sample = samples[1]
    scene = samples.scenes[0]
    poses = np.stack([frame.camera_to_world for frame in scene.frames])
    nearest = nearest_sources(poses, scene.camera, 5, config.overlap_depth_m, config.min_overlap)
    frame = sample["frame"]
    assert samples.sources_of(0, frame) == tuple(nearest[frame][3:])
    sweep = {frame: nearest[frame][:3]}
    batch = posed_batch(scene, [frame], sweep, config.width, config.height)
    sweep = PlaneSweep.from_spec(multi_frame_spec(config))
    expected = sweep.cost_volume(batch)[0]
    assert sample["cost"].shape == (16, 72, 96)
    np.testing.assert_allclose(sample["cost"].numpy(), expected.numpy(), atol=1e-3)  # float16
    # The mirror-image world (images flipped, intrinsics and motions mirrored) has the mirrored
    # cost volume, which is what a mirrored sample holds.
    flipped = mirror({key: value[0] for key, value in batch.items()} | {"cost": expected})
    again = sweep.cost_volume({key: value[None] for key, value in flipped.items()})[0]
    np.testing.assert_allclose(flipped["cost"].numpy(), again.numpy(), atol=1e-4)
