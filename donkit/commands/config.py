"""`donkit config`: every config key with its value and meaning."""

from __future__ import annotations

import argparse
import textwrap

from donkit.config import DonkitConfig, commented_yaml, describe_fields, load_config
from donkit.options import add_config_options

NAME = "config"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        NAME,
        help="print every config key with its value and meaning",
        description="Print every config key, its value (the default, or from --config/--set) "
        "and what it means.",
    )
    add_config_options(parser)
    parser.add_argument(
        "--yaml",
        action="store_true",
        help="print the config as a commented YAML file (a starting point for --config)",
    )


def run(args: argparse.Namespace) -> None:
    config = load_config(args.config, args.overrides)
    if args.yaml:
        print(commented_yaml(config))
        return
    for key, value, doc in describe_fields(DonkitConfig, instance=config):
        print(f"{key} = {value}")
        for line in textwrap.wrap(doc, 92):
            print(f"    {line}")
