import pathlib

import pytest
import torch

from formats import DonkitError
from learn.checkpoints import checkpoint_kind, load_checkpoint, save_checkpoint


class RunsCode:
    """What a malicious checkpoint holds: unpickling it calls Path.touch on the marker."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pt"
    save_checkpoint(path, {"model": {}, "step": 1, "payload": RunsCode(marker)})
    with pytest.raises(DonkitError, match="could run code") as error:
        load_checkpoint(path)
    assert "GLOBAL" in str(error.value) and "\n" not in str(error.value)
    assert not marker.exists()


def test_training_state_round_trips_as_plain_data(tmp_path):
    network = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3, foreach=True)
    network(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    schedulers = [
        torch.optim.lr_scheduler.StepLR(optimizer, 5, 0.5),
        torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1)),
    ]
    state = {
        "kind": "descriptors",
        "step": 7,
        "model": network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": [scheduler.state_dict() for scheduler in schedulers],
        "rng": {"torch": torch.get_rng_state(), "cuda": []},
        "config": {"train": {"loop": {"steps": 7}}, "pairs": [1, 2.5, "x", None, True]},
    }
    save_checkpoint(tmp_path / "last.pt", state)
    loaded = load_checkpoint(tmp_path / "last.pt")
    assert loaded["step"] == 7 and loaded["config"] == state["config"]
    torch.testing.assert_close(loaded["model"]["weight"], network.weight.detach())
    torch.testing.assert_close(loaded["rng"]["torch"], state["rng"]["torch"])
    restored = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    restored.load_state_dict(loaded["optimizer"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"garbage" * 10, "cannot be read"),
        (None, "does not exist"),
    ],
)
def test_unreadable_checkpoints_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "last.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DonkitError, match=message) as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value)


def test_a_checkpoint_without_a_step_is_not_a_donkit_checkpoint(tmp_path):
    torch.save({"format": 1, "model": {}}, tmp_path / "other.pt")
    with pytest.raises(DonkitError, match="is not a donkit checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        ({"kind": "depth", "network": {}}, "depth"),
        ({"kind": "descriptors"}, "descriptors"),
        ({"depth": {"mode": "stereo"}}, "depth"),  # written before checkpoints named their kind
        ({"network": {"backbone": 18}}, "descriptors"),
        ({"model": {}}, "unknown"),
    ],
)
def test_checkpoint_kind(state, kind):
    assert checkpoint_kind(state) == kind
