"""Command-line options that many `donkit` commands take, defined once."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_config_options(
    parser: argparse.ArgumentParser, example: str = "collect.orbit.views=20"
) -> None:
    """--config YAML and repeatable --set KEY=VALUE (`example` shows a key of the command's)."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="YAML",
        help="config file (default: the embedded demo config, as configs/demo.yaml)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override one config value, e.g. --set {example} (repeatable; the value is YAML: "
        "3, 0.5, true, [a, b]); `donkit config` lists every key",
    )


def add_run_folder_options(parser: argparse.ArgumentParser, data_help: str) -> None:
    """--data DATA, --out RUN and --resume RUN of the training commands."""
    parser.add_argument("--data", type=Path, metavar="DATA", help=data_help)
    parser.add_argument("--out", type=Path, metavar="RUN", help="run folder (must not hold a run)")
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="continue run RUN from its last.pt with its own config (and data, unless --data is "
        "given), exactly as if it had not stopped; --steps raises its total",
    )
