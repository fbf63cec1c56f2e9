"""The lines a command reports for its results, shared by the stage commands and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from donkit.table import format_table


def evaluation_lines(results: dict[str, Any], run: Path) -> list[str]:
    """A descriptor evaluation (eval/metrics.json): its table, the confusion line, a summary."""
    from descriptors.evaluate import confusion_line, metrics_table

    header, *rows = metrics_table(results)
    lines = format_table(header, rows).splitlines()
    if line := confusion_line(results):
        lines.append(line)
    lines += breakdown_text(results)
    lines.append(
        f"evaluate: {results['pairs']} held-out pairs, {results['matches']} matches -> "
        f"{run / 'eval' / 'metrics.json'}, CDF plot {run / 'eval' / 'cdf.png'}"
    )
    return lines


def breakdown_text(results: dict[str, Any]) -> list[str]:
    """The trained network's error decompositions (held-out, and across instances), when
    the evaluation made them."""
    from descriptors.breakdown import breakdown_lines

    lines = []
    for name, figures in (
        ("donkit", results["donkit"].get("breakdown")),
        (
            "donkit across instances",
            results.get("cross_instance", {}).get("donkit", {}).get("breakdown"),
        ),
    ):
        if figures is not None:
            sentence, (header, *rows) = breakdown_lines(name, figures)
            lines += [sentence, *format_table(header, rows).splitlines()]
    return lines


def tracking_lines(results: dict[str, Any], out: Path) -> list[str]:
    """A tracking evaluation (OUT/metrics.json of `donkit track --evaluate`)."""
    from tracking.videos import metrics_table

    header, *rows = metrics_table(results)
    lines = format_table(header, rows).splitlines()
    donkit, baseline = results["donkit"], results["lk"]
    lines.append(
        f"track: {len(results['videos'])} videos; average Jaccard donkit "
        f"{donkit['average_jaccard']:.3f}, lk {baseline['average_jaccard']:.3f} (query mode "
        f"first); {donkit['frames_per_second']:.1f} frames/s -> {out / 'metrics.json'}, "
        f"overlays {out}/VIDEO/METHOD/overlay.mp4"
    )
    return lines


def depth_lines(results: dict[str, Any]) -> list[str]:
    """A depth evaluation (RUN/metrics.json): its table and a summary."""
    from depth.evaluate import metrics_table

    header, *rows = metrics_table(results)
    lines = format_table(header, rows).splitlines()
    metric = results["metric"]
    lines.append(
        f"depth evaluate: {results['frames']} held-out frames; abs_rel {metric['abs_rel']:.3f} "
        f"metric ({results['median_scaled']['abs_rel']:.3f} median-scaled), d<1.25 "
        f"{metric['delta_1']:.3f} -> {Path(results['run']) / 'metrics.json'}"
    )
    return lines
