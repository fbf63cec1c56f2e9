"""The commit the benchmarks record is the checkout's, wherever they are run from."""

import subprocess
from pathlib import Path

import pytest

from benchmarks import REPOSITORY, code_version


def test_code_version_names_the_checkouts_commit_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPOSITORY
    ).stdout.strip()
    monkeypatch.chdir(tmp_path)  # not a git checkout
    assert code_version().split(" with ")[0] == f"git {commit}"
