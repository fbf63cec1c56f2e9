"""The robustness suite prints what it injected and tried at the end of the session."""

import pytest

from tests.robustness import tally


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = tally.summary_lines()
    if lines:
        terminalreporter.section("robustness")
        for line in lines:
            terminalreporter.write_line(line)
