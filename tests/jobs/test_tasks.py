import os

import pytest

from formats import DonkitError
from jobs import run_tasks


def square_with_pid(value: int, progress) -> tuple[int, int]:
    """A task: the square of `value`, and the process that computed it."""
    progress(value)
    return value * value, os.getpid()


def refuse(value: int, progress) -> int:
    raise DonkitError(f"task {value} refuses")


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_back_in_task_order_with_progress(workers):
    reported = []
    results = run_tasks(square_with_pid, [(3,), (1,), (2,)], workers, progress=reported.append)
    assert [square for square, _ in results] == [9, 1, 4]
    assert sorted(reported) == [1, 2, 3]  # each task's units, whichever process did it
    pids = {pid for _, pid in results}
    assert (pids == {os.getpid()}) == (workers == 1)


def test_a_task_error_reaches_the_caller_as_it_is():
    with pytest.raises(DonkitError, match="task 2 refuses"):
        run_tasks(refuse, [(2,)], workers=1)
    with pytest.raises(DonkitError, match="refuses"):
        run_tasks(refuse, [(1,), (2,)], workers=2)


def test_bad_settings_are_user_errors():
    with pytest.raises(DonkitError, match="--workers must be at least 1; got 0"):
        run_tasks(square_with_pid, [(1,)], workers=0)
    with pytest.raises(DonkitError, match="unknown backend 'slurm'"):
        run_tasks(square_with_pid, [(1,)], backend="slurm")
