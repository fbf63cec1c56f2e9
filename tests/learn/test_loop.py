import pytest
import torch

from formats import DonkitError
from formats.runs import RunFolder
from learn.checkpoints import save_checkpoint
from learn.config import LoopConfig
from learn.loop import check_run_folder, learning_rate_factor


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [("constant", [1.0, 1.0, 1.0]), ("step", [1.0, 0.5, 0.25]), ("cosine", [1.0, 0.5, 0.0])],
)
def test_learning_rate_schedules(schedule, expected):
    loop = LoopConfig(schedule=schedule, steps=8, decay_every=4, decay_factor=0.5)
    assert [learning_rate_factor(loop, step) for step in (0, 4, 8)] == pytest.approx(expected)


def test_the_step_schedule_is_what_the_trainers_step(tmp_path):
    # StepLR (what "step" builds) and the factor above agree step by step.
    loop = LoopConfig(schedule="step", decay_every=3, decay_factor=0.5, learning_rate=0.1)
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=loop.learning_rate)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, loop.decay_every, loop.decay_factor)
    for step in range(10):
        assert scheduler.get_last_lr()[0] == pytest.approx(0.1 * learning_rate_factor(loop, step))
        optimizer.step()
        scheduler.step()


def write_run(root, kind):
    RunFolder(root).checkpoints.mkdir(parents=True)
    save_checkpoint(RunFolder(root).last, {"kind": kind, "model": {}, "step": 3})


def test_a_new_run_needs_a_folder_without_one(tmp_path):
    check_run_folder(RunFolder(tmp_path / "new"), False, "depth", "donkit depth train")
    write_run(tmp_path / "old", "depth")
    with pytest.raises(DonkitError, match=r"continue it with `donkit depth train --resume .*old`"):
        check_run_folder(RunFolder(tmp_path / "old"), False, "depth", "donkit depth train")


def test_resuming_checks_the_run_and_its_kind(tmp_path):
    with pytest.raises(DonkitError, match=r"cannot resume: .*last\.pt does not exist"):
        check_run_folder(RunFolder(tmp_path / "none"), True, "descriptors", "donkit train")
    write_run(tmp_path / "depth_run", "depth")
    check_run_folder(RunFolder(tmp_path / "depth_run"), True, "depth", "donkit depth train")
    with pytest.raises(DonkitError, match="holds a depth run, not a descriptors run"):
        check_run_folder(RunFolder(tmp_path / "depth_run"), True, "descriptors", "donkit train")
