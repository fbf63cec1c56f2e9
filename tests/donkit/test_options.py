"""What the commands share: one resume path that checks the run's kind, trained runs read with
their own config, and options that mean the same in every command."""

import argparse

import pytest

from descriptors.network import DescriptorNet, network_spec
from donkit.cli import build_parser, main
from donkit.config import DonkitConfig
from formats.plain import to_plain, write_yaml
from formats.runs import RunFolder
from learn.checkpoints import save_checkpoint
from learn.config import DEVICES


def fake_run(root, kind, sources=None):
    """A run folder as a trainer leaves it: config.yaml and last.pt (a descriptor run with a
    real, untrained network; a depth run with no weights, enough to be told apart)."""
    run = RunFolder(root)
    run.checkpoints.mkdir(parents=True)
    write_yaml(run.config, to_plain(DonkitConfig()))
    state = {"kind": kind, "model": {}, "step": 3}
    if kind == "descriptors":
        network = DescriptorNet(18, 16, 32)
        state |= {"model": network.state_dict(), "network": network_spec(network)}
    if sources is not None:
        state["sources"] = sources
    save_checkpoint(run.last, state)
    return root


@pytest.mark.parametrize(
    ("arguments", "kind", "message"),
    [
        (["train", "--resume", "RUN"], "depth", "not a descriptors run, which `donkit train`"),
        (["depth", "train", "--resume", "RUN"], "descriptors", "not a depth run, which `donkit"),
        (["evaluate", "RUN", "--data", "x"], "depth", "a depth run, not a descriptors run, which"),
        (["visualize", "RUN", "--data", "x", "--out", "y"], "depth", "`donkit visualize` needs"),
        (["track", "RUN", "--video", "v.mp4", "--out", "o"], "depth", "`donkit track` needs"),
    ],
)
def test_a_run_of_the_wrong_kind_is_refused(tmp_path, capsys, arguments, kind, message):
    run = fake_run(tmp_path / "run", kind, {"data": str(tmp_path / "data")})
    assert main([str(run) if argument == "RUN" else argument for argument in arguments]) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_tracking_with_a_checkpoint_that_records_no_data_is_one_clear_line(tmp_path, capsys):
    run = fake_run(tmp_path / "run", "descriptors")  # not written by `donkit train`: no sources
    assert main(["track", str(run), "--video", "v.mp4", "--out", str(tmp_path / "o")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "does not record the data it was trained on" in error and "--calibration-data" in error


def test_resuming_takes_the_data_the_run_recorded(tmp_path, capsys):
    run = fake_run(tmp_path / "run", "descriptors", {"data": str(tmp_path / "gone")})
    assert main(["train", "--resume", str(run)]) == 1
    assert f"{tmp_path / 'gone'} does not exist" in capsys.readouterr().err


def subcommand_parsers(parser: argparse.ArgumentParser, path=()):
    """(command path, parser) of every command and subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subcommand_parsers(sub, (*path, name))


def test_an_option_means_the_same_in_every_command():
    seen: dict[str, list[tuple[tuple[str, ...], argparse.Action]]] = {}
    for path, parser in subcommand_parsers(build_parser()):
        for action in parser._actions:
            for option in action.option_strings:
                seen.setdefault(option, []).append((path, action))
    for path, action in seen["--device"]:
        assert tuple(action.choices) == DEVICES and action.default is None, path
    for path, action in seen["--evaluate"]:  # a flag: also score against ground truth
        assert isinstance(action, argparse._StoreTrueAction), path
        assert "also score" in action.help, path
    assert "--nonmatches" not in seen  # it set the saved count; --saved-nonmatches says so
    # Options that stand for a config key name it, and every command that has one maps it to a
    # key of its own section.
    for option in ("--pairs", "--matches", "--seed", "--steps", "--scenes", "--videos", "--voxel"):
        for path, action in seen[option]:
            assert action.default is None and "." in action.help and "(" in action.help, path
    for path, action in seen["--set"]:
        assert action.dest == "overrides", path
    for path, action in seen["--workers"]:
        assert action.type is int, path
