"""Descriptor pictures: one colour basis across images, heatmaps with best and true matches."""

import numpy as np
import pytest
import torch

from descriptors.correspondence import View
from descriptors.evaluation_pairs import EvaluationPair
from descriptors.visual import descriptor_images, distances_to, to_rgb8
from descriptors.visualize import BEST, TRUE, match_panel
from donkit.cli import main
from formats.images import read_rgb
from geometry import PinholeCamera


def test_equal_descriptors_get_equal_colours_in_every_image():
    generator = torch.Generator().manual_seed(0)
    first = torch.randn(16, 10, 12, generator=generator)
    second = first[:, :, :6] * 1.0  # the same descriptors as first's left half, on their own
    colours = descriptor_images([first, second])
    torch.testing.assert_close(colours[1], colours[0][:, :, :6])
    # Stretched on its own, the second image would get other colours: the basis is shared.
    alone = descriptor_images([second])[0]
    assert (alone - colours[1]).abs().max() > 0.05


def test_three_dimensions_are_shown_as_they_are():
    ramp = torch.linspace(0, 1, 101)
    descriptors = torch.stack([ramp, 1 - ramp, torch.zeros(101)])[:, None, :]  # (3, 1, 101)
    colours = descriptor_images([descriptors])[0]
    # Channels stretch between their 1st and 99th percentiles: 0.01 and 0.99 for the ramp.
    expected = ((ramp - 0.01) / 0.98).clamp(0, 1)
    torch.testing.assert_close(colours[0, 0], expected)
    torch.testing.assert_close(colours[1, 0], expected.flip(0))
    assert colours[2].abs().max() == 0
    assert to_rgb8(colours).shape == (1, 101, 3)


def test_distances_to_a_query():
    descriptors = torch.tensor([[[0.0, 3.0]], [[0.0, 4.0]]])  # (2, 1, 2)
    torch.testing.assert_close(
        distances_to(torch.zeros(2), descriptors), torch.tensor([[0.0, 5.0]])
    )


def test_match_panel_marks_the_best_match_and_the_true_match():
    height, width = 40, 60
    camera = PinholeCamera(width=width, height=height, fx=50.0, fy=50.0, cx=30.0, cy=20.0)
    view = View(
        camera, np.eye(4), np.ones((height, width), np.float32), np.ones((height, width), bool)
    )
    image = np.full((height, width, 3), 128, np.uint8)
    v, u = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    coordinates = torch.stack([u, v]).float()  # each pixel's descriptor is its own (u, v)
    # A's pixel (10, 12) is described as (40, 25) in B: the best match is there, the true match
    # (given as (20, 30)) elsewhere.
    uv_a, uv_b = np.array([[10, 12]]), np.array([[20, 30]])
    descriptors_a = coordinates.clone()
    descriptors_a[:, 12, 10] = torch.tensor([40.0, 25.0])
    pair = EvaluationPair("same_object", image, image, view, uv_a, uv_b, np.zeros((1, 3)))
    panel = match_panel(pair, descriptors_a, coordinates, 0)
    assert panel.shape == (height, 2 * width, 3)
    # The circle (radius 6) passes through (40 + 6, 25) of B, the cross's arm through (20 + 4, 30).
    assert tuple(panel[25, width + 46]) == pytest.approx(BEST, abs=40)
    assert tuple(panel[30, width + 24]) == pytest.approx(TRUE, abs=40)
    # A keeps its image apart from the white circle around the chosen pixel.
    assert tuple(panel[0, 0]) == (128, 128, 128)
    assert tuple(panel[12, 16]) == pytest.approx((255, 255, 255), abs=40)


@pytest.mark.slow
def test_donkit_visualize_draws_pairs_and_writes_the_viewer(fused_singles, tmp_path, capsys):
    run, out = tmp_path / "run", tmp_path / "pictures"
    quick = ["--set", "train.width=32", "--set", "train.pairs_per_step=1"]
    assert main(["train", "--data", str(fused_singles), "--out", str(run), "--steps", "1",
                 "--device", "cpu", *quick]) == 0  # fmt: skip
    command = ["visualize", str(run), "--data", str(fused_singles), "--out", str(out)]
    assert main([*command, "--pairs", "2", "--pixels", "2", "--html", "--device", "cpu"]) == 0
    for number in range(2):
        strip = read_rgb(out / f"pair_{number:02d}_descriptors.png")
        assert strip.shape == (240, 4 * 320, 3)  # A, its descriptors, B, its descriptors
        matches = read_rgb(out / f"pair_{number:02d}_matches.png")
        assert matches.shape == (2 * 240, 2 * 320, 3)  # one row per drawn match
    assert (out / "viewer.html").stat().st_size > 100_000
    printed = capsys.readouterr().out
    assert "4 pictures" in printed and str(out / "viewer.html") in printed
    assert main([*command, "--pairs", "0"]) == 1
    assert main(["visualize", str(tmp_path), "--data", str(fused_singles), "--out", str(out)]) == 1
