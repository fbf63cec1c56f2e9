"""What the robustness suite did, counted as it runs, and printed at the end of the session.

Faults are counted only when they happened (a SIGKILL that reached a still-running job), and
malformed inputs once per input a reader was given, so the summary line reports what was tried
rather than what was planned.
"""

from collections import Counter

faults: Counter[str] = Counter()  # stage -> SIGKILLs delivered to a running job
malformed: Counter[str] = Counter()  # reader -> malformed inputs it was given


def summary_lines() -> list[str]:
    lines = []
    if faults:
        per_stage = ", ".join(f"{stage} {count}" for stage, count in faults.items())
        lines.append(
            f"faults injected (SIGKILL, then resume): {sum(faults.values())} ({per_stage})"
        )
    if malformed:
        per_reader = ", ".join(f"{reader} {count}" for reader, count in sorted(malformed.items()))
        lines.append(f"malformed inputs tried: {sum(malformed.values())} ({per_reader})")
    return lines
