"""The `donkit` command line: one command, a subcommand per stage (donkit/commands/).

A user's mistake (DonkitError) prints one line and exits 1; anything else is a bug and keeps its
traceback. Ctrl-C exits 130 with what to run to continue.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from donkit.commands import COMMANDS
from formats import DonkitError

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="donkit",
        description="Self-supervised robot perception: simulated RGB-D collection, fusion, "
        "dense object descriptors, keypoint tracking and depth estimation.",
        epilog="Run `donkit COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=metadata.version("donkit"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS.values():
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    flushed = contextlib.nullcontext()
    if getattr(command, "USES_TORCH", False):
        from learn.devices import subnormals_flushed

        flushed = subnormals_flushed()  # before torch starts its threads, which inherit it
    try:
        with flushed:
            # A command returns its exit status when it has one of its own (a failed check: 1).
            status = command.run(args)
    except DonkitError as error:
        print(f"donkit {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        # The reader of our output went away (`donkit config | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        interrupted = getattr(command, "interrupted", None)
        hint = interrupted(args) if interrupted else "run the same command again to resume"
        print(f"donkit {args.command}: interrupted; {hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
