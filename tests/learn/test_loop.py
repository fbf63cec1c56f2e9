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


def test_a_slower_part_learns_at_its_share_of_the_rate(tmp_path):
    from learn.devices import Processes
    from learn.loop import TrainingRun

    network = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    loop = LoopConfig(schedule="step", decay_every=2, decay_factor=0.5, learning_rate=0.1)
    run = TrainingRun(loop, RunFolder(tmp_path), torch.device("cpu"), Processes(), False)
    run.set_networks([network], network[0], 0.25)
    rates = [group["lr"] for group in run.optimizer.param_groups]
    sizes = [sum(p.numel() for p in group["params"]) for group in run.optimizer.param_groups]
    assert rates == pytest.approx([0.1, 0.025]) and sizes == [3 + 1, 6 + 3]
    for _ in range(2):  # the schedule scales both groups alike
        run.optimizer.step()
        run.scheduler.step()
    assert [g["lr"] for g in run.optimizer.param_groups] == pytest.approx([0.05, 0.0125])
    # Without a slower part: one group, as the optimizer states of earlier runs hold.
    run.set_networks([network])
    assert len(run.optimizer.param_groups) == 1
    assert len(run.parameters) == 4


class _TinyRun:
    """A TrainingRun of one linear layer on constant samples, to watch the loop's saving."""

    @staticmethod
    def make(root, loop):
        from learn.devices import Processes
        from learn.loop import TrainingRun

        class Tiny(TrainingRun):
            kind = "tiny"

            def __init__(self):
                super().__init__(loop, RunFolder(root), torch.device("cpu"), Processes(), False)
                self.network = torch.nn.Linear(2, 1)
                self.set_networks([self.network])

            def network_state(self):
                return {"model": self.network.state_dict()}

            def train_step(self, batch, writer):
                loss = self.network(batch).square().mean()
                log = {"total": float(loss.detach())}
                self.optimize(loss, log)
                return log

        return Tiny()


def test_kept_checkpoints_are_written_when_due_whatever_last_every_is(tmp_path):
    # checkpoint_every 3 and last_every 5 do not divide each other: steps 3 and 6 are kept
    # anyway (they used to be kept only when last.pt was refreshed too), and the final step 7.
    loop = LoopConfig(steps=7, checkpoint_every=3, last_every=5, log_every=1, loader_workers=0)
    run = _TinyRun.make(tmp_path, loop)
    samples = [torch.ones(2)] * 7
    run.loop(samples, torch.stack, 1, {})
    kept = sorted(path.name for path in RunFolder(tmp_path).checkpoints.glob("step_*.pt"))
    assert kept == ["step_000003.pt", "step_000006.pt", "step_000007.pt"]
    assert torch.load(RunFolder(tmp_path).last, weights_only=True)["step"] == 7
