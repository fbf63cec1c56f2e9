"""Command-line options that several `donkit` commands take, each defined once, and the one way
commands read a run folder: starting or resuming a training run, or using a trained one."""

from __future__ import annotations

import argparse
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

from donkit.config import DonkitConfig, load_config
from formats import DonkitError
from formats.runs import RunFolder
from learn.config import DEVICES


def add_command(
    commands: argparse._SubParsersAction, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """A command (or subcommand) whose `--help` shows `description`, dedented, with its line
    breaks, and whose one-line `summary` shows in the list of commands."""
    return commands.add_parser(
        name,
        help=summary,
        description=textwrap.dedent(description),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_config_options(
    parser: argparse.ArgumentParser,
    example: str = "collect.orbit.views=20",
    with_file: bool = True,
) -> None:
    """--config YAML (when `with_file`) and repeatable --set KEY=VALUE (`example` shows a key of
    the command's)."""
    if with_file:
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


def add_device_option(parser: argparse.ArgumentParser, key: str | None = None) -> None:
    """--device auto|cpu|cuda; `key` is the config key it overrides, if any."""
    default = f"{key} of the config" if key else "auto"
    parser.add_argument(
        "--device",
        choices=DEVICES,
        help=f"where the network runs; auto: cuda when torch sees a GPU (default: {default})",
    )


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    """--workers K: processes that share the work."""
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        metavar="K",
        help="worker processes, a scene or video at a time each (default: the CPUs here)",
    )


def add_parallel_options(parser: argparse.ArgumentParser) -> None:
    """--workers K and --backend local|ray of the jobs that run a task per scene."""
    add_workers_option(parser)
    parser.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="'local' worker processes, or 'ray' tasks (optional extra donkit[cluster]; a local "
        "Ray instance, or the cluster at RAY_ADDRESS whose nodes all see the data)",
    )


def set_from_options(args: argparse.Namespace, keys: dict[str, str]) -> list[str]:
    """The command's --set overrides, then one KEY=VALUE per option of `keys` (option name ->
    config key) that was given: an option is a shorthand for its config key."""
    overrides = list(args.overrides)
    for option, key in keys.items():
        value = getattr(args, option)
        if value is not None:
            overrides.append(f"{key}={value}")
    return overrides


@dataclass(frozen=True)
class TrainingRequest:
    """What a training command was asked to do, once its options are checked."""

    config: DonkitConfig
    data: Path
    out: Path
    resume: bool
    validation: Path | None = None


def training_request(
    args: argparse.Namespace, overrides: list[str], kind: str, command: str
) -> TrainingRequest:
    """The config, data and run folder of `donkit train` or `donkit depth train`: a new run from
    --config, --data and --out, or run --resume RUN continued with its own config and data (the
    folder must hold a `kind` run)."""
    from learn.loop import check_run_folder  # torch: imported by the commands that train only

    if args.resume is None:
        if args.data is None or args.out is None:
            raise DonkitError("give --data DATA and --out RUN (or --resume RUN)")
        config = load_config(args.config, overrides)
        return TrainingRequest(config, args.data, args.out, False, getattr(args, "val", None))
    if args.config is not None:
        raise DonkitError("--resume uses the run's own config; leave out --config")
    if args.out is not None and args.out != args.resume:
        raise DonkitError("--resume RUN writes to RUN; leave out --out")
    run = RunFolder(args.resume)
    state = check_run_folder(run, True, kind, command)
    sources = state.get("sources") or {}
    data = args.data or _source(sources, "data", run)
    validation = getattr(args, "val", None)
    if validation is None and sources.get("validation_data"):
        validation = Path(sources["validation_data"])
    config = load_config(run.config, overrides)
    return TrainingRequest(config, data, run.root, True, validation)


def resume_hint(command: str, args: argparse.Namespace) -> str:
    """What to run to continue a training command that was interrupted."""
    run = args.resume or args.out
    return f"continue with `{command} --resume {run}`" if run else "run it again"


def trained_run_config(
    run_root: Path, overrides: list[str], kind: str, command: str
) -> DonkitConfig:
    """The config a trained `kind` run was made with (RUN/config.yaml), with `overrides`."""
    from learn.checkpoints import load_checkpoint, require_kind  # torch, as above

    run = RunFolder(run_root)
    if not run.last.is_file():
        raise DonkitError(f"{run_root} holds no trained model ({run.last} is missing)")
    require_kind(run_root, load_checkpoint(run.last), kind, command)
    return load_config(run.config, overrides)


def _source(sources: dict[str, str], key: str, run: RunFolder) -> Path:
    if not sources.get(key):
        raise DonkitError(
            f"{run.last} does not record the data it was trained on; give it with --data DATA"
        )
    return Path(sources[key])
