"""Benchmark scripts: each prints ratios against a baseline measured in the same run."""

import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def code_version() -> str:
    """The short commit of the donkit checkout these scripts belong to (wherever they are run
    from), and whether its work tree has changes."""

    def git(*arguments: str) -> str:
        try:
            done = subprocess.run(
                ["git", *arguments], capture_output=True, text=True, check=False, cwd=REPOSITORY
            )
        except OSError:
            return ""
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    changed = " with uncommitted changes" if git("status", "--porcelain") else ""
    return f"git {commit}{changed}"
