"""Load typed configs from YAML: the one config parser.

Each stage declares its config as frozen dataclasses (`collect.CollectConfig`, ...); this module
builds them from YAML and `--set key=value` overrides, checking every value against the declared
type. An unknown key is an error that names it and suggests the nearest valid key, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import itertools
import math
import re
import textwrap
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from collect.config import CollectConfig, VideoConfig
from depth.config import DepthConfig
from descriptors.config import CorrespondConfig, EvaluateConfig, TrainConfig, VisualizeConfig
from formats import DonkitError
from formats.checks import ConfigValueError, at_least
from formats.plain import read_yaml, to_plain
from reconstruct.config import FuseConfig
from tracking.config import TrackConfig

T = TypeVar("T")
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True)
class DemoConfig:
    """What `donkit demo` adds to the stages' own configs."""

    test_seed: int = 1000
    """Seed of the held-out scenes (OUT/data_test); differs from collect.seed so that they are
    new layouts and views."""
    test_scenes: int = 2
    """Number of held-out scenes."""

    def __post_init__(self) -> None:
        at_least(self, 1, "test_scenes")


@dataclass(frozen=True)
class DonkitConfig:
    """The whole pipeline's configuration: one section per stage."""

    collect: CollectConfig = field(default_factory=CollectConfig)
    """Simulated RGB-D collection (`donkit collect`)."""
    fuse: FuseConfig = field(default_factory=FuseConfig)
    """TSDF fusion, workspace crop, rendered depth and masks (`donkit fuse`)."""
    correspond: CorrespondConfig = field(default_factory=CorrespondConfig)
    """Matches and non-matches between views (`donkit correspond`, and training on the fly)."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Dense descriptor training (`donkit train`)."""
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    """Held-out evaluation of trained descriptors (`donkit evaluate`)."""
    visualize: VisualizeConfig = field(default_factory=VisualizeConfig)
    """Pictures of trained descriptors (`donkit visualize`)."""
    video: VideoConfig = field(default_factory=VideoConfig)
    """Simulated videos with ground-truth point tracks (`donkit sim-video`)."""
    track: TrackConfig = field(default_factory=TrackConfig)
    """Keypoint tracking in video (`donkit track`)."""
    depth: DepthConfig = field(default_factory=DepthConfig)
    """Depth from one RGB image: self-supervised, stereo or supervised (`donkit depth`)."""
    demo: DemoConfig = field(default_factory=DemoConfig)
    """The demo run (`donkit demo`)."""


_LOOP_KEYS = (
    "steps",
    "learning_rate",
    "decay_every",
    "decay_factor",
    "weight_decay",
    "clip_grad_norm",
    "device",
    "loader_workers",
    "log_every",
    "image_every",
    "checkpoint_every",
    "last_every",
)
_LOSS_KEYS = ("margin", "background_margin", "match_weight", "blind_weight", "cross_object_weight")
MOVED_KEYS = {
    **{f"train.{key}": f"train.loop.{key}" for key in _LOOP_KEYS},
    **{f"train.{key}": f"train.loss.{key}" for key in _LOSS_KEYS},
    **{f"depth.{key}": f"depth.loop.{key}" for key in (*_LOOP_KEYS, "schedule")},
    "demo.eval_pairs": "evaluate.pairs",
    "demo.eval_matches": "evaluate.matches",
}
"""Keys of earlier versions and where they live now: config files and run folders written
before the move are read with them moved (docs/configuration.md lists them)."""


def load_config(path: Path | None = None, overrides: Sequence[str] = ()) -> DonkitConfig:
    """The config of YAML file `path` (defaults where None), with `key.path=value` overrides."""
    data: Any = {} if path is None else read_yaml(Path(path), "config")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DonkitError(f"config {path} must be a mapping of sections (collect: ...)")
    move_keys(data, f"config {path}")
    for assignment in overrides:
        key, separator, value = assignment.partition("=")
        apply_override(data, f"{MOVED_KEYS.get(key.strip(), key)}{separator}{value}")
    try:
        return from_dict(DonkitConfig, data, where="")
    except DonkitError as error:
        source = "the built-in config" if path is None else f"config {path}"
        if overrides:
            source += " with --set " + " ".join(overrides)
        raise DonkitError(f"{source}: {error}") from None


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Set `a.b.c=value` in nested dicts; the value is parsed as YAML (`3`, `[a, b]`, `true`)."""
    key_path, separator, text = assignment.partition("=")
    keys = key_path.strip().split(".")
    if not separator or not all(keys):
        raise DonkitError(f"--set {assignment!r}: expected key.path=value, e.g. collect.scenes=4")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise DonkitError(f"--set {assignment!r}: the value is not valid YAML") from None
    node = data
    for depth, key in enumerate(keys[:-1]):
        if node.get(key) is None:  # absent, or left empty in the file (`camera:`)
            node[key] = {}
        child = node[key]
        if not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise DonkitError(f"--set {assignment!r}: {where} is a value, not a section")
        node = child
    node[keys[-1]] = value


def move_keys(data: dict[str, Any], where: str) -> None:
    """Move the keys of `MOVED_KEYS` found in nested dicts `data` to where they live now."""
    for old, new in MOVED_KEYS.items():
        *section_path, name = old.split(".")
        section = _section(data, section_path)
        if section is None or name not in section:
            continue
        *new_path, new_name = new.split(".")
        target = _section(data, new_path, create=True)
        if target is None:
            raise DonkitError(f"{where}: {'.'.join(new_path)} is a value, not a section")
        if new_name in target:
            raise DonkitError(f"{where} sets both {old} and its new name {new}; keep {new}")
        target[new_name] = section.pop(name)


def _section(data: dict[str, Any], keys: list[str], create: bool = False) -> dict | None:
    """The nested dict at `keys` (made when `create`), or None where there is none."""
    node: Any = data
    for key in keys:
        if create and node.get(key) is None:
            node[key] = {}
        node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return None
    return node


def from_dict(cls: type[T], data: Any, where: str, defaults: T | None = None) -> T:
    """Build dataclass `cls` from a mapping, checking keys and types; `where` names it in errors.

    Keys the mapping leaves out keep their values in `defaults` (the class's defaults when None),
    and a nested section starts from its parent's default for it: `--set depth.loop.steps=3`
    keeps the rest of depth's own loop (its learning rate, schedule), not LoopConfig's."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise DonkitError(f"{where or 'the top level'} must be a mapping of keys; got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [key for key in data if key not in fields]
    if unknown:
        raise DonkitError(unknown_key_message(str(unknown[0]), list(fields), where))
    hints = get_type_hints(cls)
    defaults = cls() if defaults is None else defaults
    values = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if dataclasses.is_dataclass(hints[key]):
            values[key] = from_dict(hints[key], value, path, getattr(defaults, key))
        else:
            values[key] = _convert(hints[key], value, path)
    try:
        return dataclasses.replace(defaults, **values)
    except ConfigValueError as error:
        raise DonkitError(error.located(where)) from None


def unknown_key_message(key: str, valid: Sequence[str], where: str) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    full_key = f"{where}.{key}" if where else key
    return f"unknown key '{full_key}'; {hint}valid keys here: {', '.join(valid)}"


def _convert(annotation: Any, value: Any, where: str) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, where)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise DonkitError(f"{where} must be one of {choices}; got {value!r}")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, where)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise DonkitError(f"{where} must be a list; got {value!r}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise DonkitError(f"{where} must hold {len(args)} values; got {value!r}")
            pairs = enumerate(zip(args, value, strict=True))
            items = [_convert(a, v, f"{where}[{i}]") for i, (a, v) in pairs]
        else:
            items = [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    return _convert_scalar(annotation, value, where)


def _convert_scalar(annotation: Any, value: Any, where: str) -> Any:
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        # PyYAML reads 1e-2 (an exponent without a dot) as a string: take it as the number meant.
        if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
            value = float(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise DonkitError(f"{where} must be a finite number; got {str(value)[:40]}")
            return number
    elif annotation is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"config fields of type {annotation!r} are not supported ({where})")
    raise DonkitError(f"{where} must be {_describe(annotation)}; got {value!r}")


def _describe(annotation: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[
        annotation
    ]


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The documentation string written under each field of dataclass `cls`."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for statement, following in itertools.pairwise(body):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = inspect.cleandoc(following.value.value)
    return docs


def describe_fields(
    cls: type, prefix: str = "", instance: Any = None
) -> list[tuple[str, str, str]]:
    """(dotted key, value, documentation) of every leaf field of dataclass `cls`, depth first.

    Values are those of `instance`, or the defaults when it is None, written as YAML.
    """
    rows = []
    instance = cls() if instance is None else instance
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            rows += describe_fields(hints[f.name], f"{key}.", value)
        else:
            text = yaml.safe_dump(to_plain(value), default_flow_style=True)
            rows.append(
                (key, text.strip().removesuffix("...").strip(), field_docs(cls).get(f.name, ""))
            )
    return rows


def commented_yaml(instance: Any, indent: int = 0) -> str:
    """A config as YAML with each field's documentation above it as a comment."""
    lines = []
    cls = type(instance)
    docs = field_docs(cls)
    pad = "  " * indent
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        for line in textwrap.wrap(docs.get(f.name, ""), 96 - len(pad), break_on_hyphens=False):
            lines.append(f"{pad}# {line}")
        if dataclasses.is_dataclass(value):
            lines.append(f"{pad}{f.name}:")
            lines.append(commented_yaml(value, indent + 1))
        else:
            text = yaml.safe_dump(to_plain(value), default_flow_style=True, width=1000)
            lines.append(f"{pad}{f.name}: {text.strip().removesuffix('...').strip()}")
    return "\n".join(lines)
