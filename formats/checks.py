"""Checks of config values, run by each config dataclass when it is made.

Every config section is a frozen dataclass whose `__post_init__` checks its own values with
these functions, so a config made in code (`dataclasses.replace(config, steps=0)`) is checked as
one read from YAML is. A failed check raises `ConfigValueError`, which names the field and the
value given; the YAML loader adds the section's dotted path (`train.loop.steps must be at least
1; got 0`).
"""

from __future__ import annotations

import math
from typing import Any

from formats.errors import DonkitError

SECTION = "{section}."
"""Written before a field's name in a problem's text, it becomes the section's dotted path, so
that a message names other fields as a user would write them in --set."""


class ConfigValueError(DonkitError):
    """A config value out of its range: `key` is the field within its section ("" when the
    problem concerns several fields), `owner` the dataclass's name."""

    def __init__(self, owner: str, key: str, problem: str):
        self.owner, self.key, self.problem = owner, key, problem
        super().__init__(self.located(owner))

    def located(self, where: str) -> str:
        """The message with the fields named from `where`, a section's dotted path."""
        problem = self.problem.replace(SECTION, f"{where}." if where else "")
        if not self.key:
            return f"{where}: {problem}" if where else problem
        field = f"{where}.{self.key}" if where else self.key
        return f"{field}{'' if problem.startswith(':') else ' '}{problem}"


def fail(config: Any, problem: str, key: str = "") -> None:
    """Raise ConfigValueError for `config`'s field `key` (or for several fields when "")."""
    raise ConfigValueError(type(config).__name__, key, problem)


def check(config: Any, condition: bool, problem: str, key: str = "") -> None:
    """`fail` unless `condition`."""
    if not condition:
        fail(config, problem, key)


def at_least(config: Any, minimum: float, *names: str) -> None:
    """Each field of `names` is at least `minimum`."""
    for name in names:
        value = getattr(config, name)
        check(config, value >= minimum, f"must be at least {minimum}; got {value!r}", name)


def not_negative(config: Any, *names: str) -> None:
    """Each field of `names` is >= 0."""
    for name in names:
        value = getattr(config, name)
        check(config, value >= 0, f"must not be negative; got {value!r}", name)


def positive(config: Any, *names: str) -> None:
    """Each field of `names` is a finite number > 0."""
    for name in names:
        value = getattr(config, name)
        check(config, math.isfinite(value) and value > 0, f"must be positive; got {value!r}", name)


def within(config: Any, low: float, high: float, *names: str) -> None:
    """Each field of `names` lies in [low, high]."""
    for name in names:
        value = getattr(config, name)
        check(config, low <= value <= high, f"must lie in [{low}, {high}]; got {value!r}", name)


def ordered(config: Any, *names: str) -> None:
    """Each field of `names` is a (low, high) range with low <= high."""
    for name in names:
        low, high = getattr(config, name)
        check(
            config,
            low <= high,
            f"must be [low, high] with low <= high; got [{low}, {high}]",
            name,
        )
