"""Aligned plain-text tables, for command output and benchmark scripts."""

from __future__ import annotations


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Plain-text table with left-aligned columns and a rule under the header."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
