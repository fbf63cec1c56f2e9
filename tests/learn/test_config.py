import dataclasses

import pytest

from formats import DonkitError
from learn.config import DEVICES, LoopConfig


def test_devices_are_the_literal_choices():
    assert DEVICES == ("auto", "cpu", "cuda")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 0}, "LoopConfig.steps must be at least 1; got 0"),
        ({"learning_rate": -1e-3}, "LoopConfig.learning_rate must be positive; got -0.001"),
        ({"decay_factor": 1.5}, "LoopConfig.decay_factor must lie in (0, 1]; got 1.5"),
        ({"clip_grad_norm": -1.0}, "LoopConfig.clip_grad_norm must not be negative; got -1.0"),
        ({"last_every": 0}, "LoopConfig.last_every must be at least 1; got 0"),
    ],
)
def test_a_loop_made_in_code_checks_itself(changes, message):
    with pytest.raises(DonkitError) as error:
        dataclasses.replace(LoopConfig(), **changes)
    assert str(error.value) == message
