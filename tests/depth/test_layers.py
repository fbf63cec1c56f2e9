"""View synthesis: identity, a closed-form stereo shift, and real pybullet frames with FK poses."""

import numpy as np
import pytest
import torch

from depth.layers import relative_pose, reproject, synthesize
from formats.scenes import load_scene
from geometry import make_pose, rotation_about_axis, warp


def intrinsics(dtype=torch.float64, fx=250.0, fy=260.0, cx=15.3, cy=11.7):
    return torch.tensor([[[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]], dtype=dtype)


def test_identity_pose_reproduces_the_source_where_valid():
    generator = torch.Generator().manual_seed(0)
    source = torch.rand(1, 3, 24, 32, generator=generator, dtype=torch.float64)
    depth = 0.3 + 2 * torch.rand(1, 1, 24, 32, generator=generator, dtype=torch.float64)
    depth[0, 0, 5, 7] = 0.0  # no reading: never valid
    k = intrinsics()
    warped, valid = synthesize(source, depth, k, k, torch.eye(4, dtype=torch.float64)[None])
    expected_valid = depth > 0
    assert torch.equal(valid, expected_valid)
    # Exact up to the rounding of backproject-then-project (float64: 1e-13 px).
    np.testing.assert_allclose(
        warped.masked_select(valid).numpy(), source.masked_select(valid).numpy(), atol=1e-10
    )
    # float32, the training dtype: uv is off by ~1e-5 px, so values by ~1e-5 of an image in [0, 1].
    warped_32, valid_32 = synthesize(
        source.float(), depth.float(), k.float(), k.float(), torch.eye(4)[None]
    )
    assert torch.equal(valid_32, expected_valid)
    np.testing.assert_allclose(
        warped_32.masked_select(valid_32).numpy(),
        source.float().masked_select(valid_32).numpy(),
        atol=1e-4,
    )


def test_fronto_parallel_plane_and_x_translation_shift_pixels_by_fx_b_over_z():
    # Plane z = 2 m in front of the target; the source camera sits b = 0.09 m to the right
    # (+x) of the target, so a point at X in the target frame is at X - b in the source and
    # u_source = fx (X - b) / z + cx = u_target - fx b / z = u_target - 250 * 0.09 / 2 = u - 11.25
    # (a shift that puts no pixel on the image border, where "inside" would be a coin toss).
    height, width, b, z, fx = 24, 32, 0.09, 2.0, 250.0
    k = intrinsics()
    target_to_world = make_pose(
        torch.tensor(rotation_about_axis((0, 0, 1), 0.3)),
        torch.tensor([0.5, -0.2, 1.0], dtype=torch.float64),
    )[None]
    offset = make_pose(
        torch.eye(3, dtype=torch.float64), torch.tensor([b, 0.0, 0.0], dtype=torch.float64)
    )
    source_to_world = target_to_world @ offset  # b to the right, in the target's own frame
    target_to_source = relative_pose(target_to_world, source_to_world)
    depth = torch.full((1, 1, height, width), z, dtype=torch.float64)
    uv, depth_source = reproject(depth, k, k, target_to_source)
    v, u = torch.meshgrid(
        torch.arange(height, dtype=torch.float64),
        torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )
    shift = fx * b / z
    np.testing.assert_allclose(uv[0, ..., 0].numpy(), (u - shift).numpy(), atol=1e-9)
    np.testing.assert_allclose(uv[0, ..., 1].numpy(), v.numpy(), atol=1e-9)
    np.testing.assert_allclose(depth_source.numpy(), z, atol=1e-12)
    # A source that is a ramp in u is warped to the ramp shifted by 11.25 px; the pixels whose
    # nearest source pixel centre lies inside the image (u - 11.25 >= -0.5) are the valid ones.
    ramp = u[None, None].clone()
    warped, valid = synthesize(ramp, depth, k, k, target_to_source)
    assert torch.equal(valid[0, 0], (u - shift >= -0.5).expand(height, width))
    interior = u - shift >= 0  # bilinear interpolation between two source pixels
    np.testing.assert_allclose(
        warped[0, 0][interior].numpy(), (u - shift)[interior].numpy(), atol=1e-9
    )


def test_reproject_agrees_with_geometry_warp_and_is_differentiable_in_depth():
    generator = torch.Generator().manual_seed(1)
    k_target, k_source = intrinsics(), intrinsics(fx=240.0, fy=241.0, cx=16.0, cy=12.0)
    target_to_world = make_pose(
        torch.tensor(rotation_about_axis((1, 2, 3), 0.2)),
        torch.tensor([0.1, 0.0, 0.5], dtype=torch.float64),
    )[None]
    source_to_world = make_pose(
        torch.tensor(rotation_about_axis((0, 1, 0), -0.1)),
        torch.tensor([0.15, 0.02, 0.48], dtype=torch.float64),
    )[None]
    depth = 0.5 + torch.rand(1, 1, 6, 8, generator=generator, dtype=torch.float64)
    uv, depth_source = reproject(
        depth, k_target, k_source, relative_pose(target_to_world, source_to_world)
    )
    v, u = torch.meshgrid(
        torch.arange(6, dtype=torch.float64), torch.arange(8, dtype=torch.float64), indexing="ij"
    )
    uv_expected, depth_expected = warp(
        torch.stack([u, v], -1).reshape(1, 48, 2),
        depth.reshape(1, 48),
        k_target,
        target_to_world,
        k_source,
        source_to_world,
    )
    np.testing.assert_allclose(uv.reshape(1, 48, 2).numpy(), uv_expected.numpy(), atol=1e-9)
    np.testing.assert_allclose(depth_source.reshape(1, 48).numpy(), depth_expected.numpy())

    source = torch.rand(1, 2, 6, 8, generator=generator, dtype=torch.float64)
    target_to_source = relative_pose(target_to_world, source_to_world)
    depth.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda d: synthesize(source, d, k_target, k_source, target_to_source)[0], (depth,)
    )


def test_inputs_are_checked():
    k = intrinsics()
    with pytest.raises(ValueError, match=r"depth_target must be \(B, 1, H, W\)"):
        reproject(torch.ones(1, 4, 4), k, k, torch.eye(4)[None])
    with pytest.raises(ValueError, match="target_to_source must be"):
        reproject(torch.ones(2, 1, 4, 4), k.expand(2, 3, 3), k.expand(2, 3, 3), torch.eye(4)[None])


# Real frames. The warp of a neighbouring frame with the target's sensor depth and the two FK
# poses is compared with the target on the pixels that are valid and not occluded (the source's
# own depth, sampled where the pixel lands, agrees with the warped point's depth within 1 cm).
# What remains is not geometry: lighting is directional and diffuse (view-independent) plus a
# specular coefficient of at most 0.05, the same light within a scene; resampling a textured
# image seen at another scale and angle costs a few grey levels where the texture is busy, and
# TinyRenderer does not antialias; 1 mm depth quantization moves points by < 0.2 px here. On the
# 18 neighbouring pairs of the fixture the median error was 2.2-3.4 grey levels and 88-95 % of
# pixels were within 10 levels. The bounds leave room for that, and the same pairs show they
# are tight enough to catch a wrong pose (2 cm off: median 7.5-14, at least 2.9x) and even a
# principal point off by 1 px (at least 1.39x the median), so a convention slip would fail.
MEDIAN_BOUND_GREY = 4.0
WITHIN_GREY = 10.0
WITHIN_SHARE = 0.80
VISIBLE_SHARE = 0.40  # of the target's pixels: the pairs overlap (measured 48-96 %)


def _frame(scene, position):
    rgb = torch.tensor(scene.rgb(position)).permute(2, 0, 1)[None].float()
    depth = torch.tensor(scene.depth(position))[None, None]
    pose = torch.tensor(scene.frames[position].camera_to_world)[None]
    return rgb, depth, pose


def _warp_error(target, source, intrinsics_target, intrinsics_source, target_to_source):
    """Grey-level errors (mean over RGB) of the visible pixels, and their share of the image."""
    rgb_target, depth_target, _ = target
    rgb_source, depth_source, _ = source
    warped, valid = synthesize(
        torch.cat([rgb_source, depth_source], 1),
        depth_target,
        intrinsics_target,
        intrinsics_source,
        target_to_source,
    )
    _, depth_in_source = reproject(
        depth_target, intrinsics_target, intrinsics_source, target_to_source
    )
    visible = valid[:, 0] & ((warped[:, 3] - depth_in_source).abs() < 0.01)
    errors = (warped[:, :3] - rgb_target).abs().mean(1)[visible]
    return errors, visible.float().mean().item()


def test_true_depth_and_fk_poses_reproduce_the_target(small_dataset):
    failures = []
    for scene_dir in sorted(small_dataset.iterdir()):
        scene = load_scene(scene_dir)
        k = torch.tensor(scene.camera.matrix, dtype=torch.float32)[None]
        k_off = k.clone()
        k_off[0, 0, 2] += 1.0  # the source's principal point 1 px off
        frames = [_frame(scene, i) for i in range(len(scene.frames))]
        for position in range(len(frames) - 1):
            target, source = frames[position], frames[position + 1]
            target_to_source = relative_pose(target[2], source[2]).float()
            errors, visible = _warp_error(target, source, k, k, target_to_source)
            median = errors.median().item()
            within = (errors < WITHIN_GREY).float().mean().item()
            shifted = target_to_source.clone()
            shifted[0, 0, 3] += 0.02
            wrong_median = _warp_error(target, source, k, k, shifted)[0].median().item()
            off_median = _warp_error(target, source, k, k_off, target_to_source)[0]
            off_median = off_median.median().item()
            where = f"{scene_dir.name} frames {position}->{position + 1}"
            if visible < VISIBLE_SHARE:
                failures.append(f"{where}: only {visible:.0%} of pixels visible")
            if median > MEDIAN_BOUND_GREY or within < WITHIN_SHARE:
                failures.append(f"{where}: median {median:.2f}, {within:.0%} within 10 levels")
            if wrong_median < 2 * median:
                failures.append(f"{where}: 2 cm off gives median {wrong_median:.2f} only")
            if off_median < 1.2 * median:
                failures.append(f"{where}: cx 1 px off gives median {off_median:.2f} only")
    assert not failures, "\n".join(failures)
