"""Long jobs: one function over many tasks (in this process, in worker processes or as Ray
tasks), and the progress bar every long job shows."""

from jobs.progress import progress_bar
from jobs.tasks import run_tasks

__all__ = ["progress_bar", "run_tasks"]
