"""The installed `donkit` console script, run as a user would run it.

Each command costs about a second of interpreter start-up and imports, so the module starts them
all at once in a thread pool (`runs`) and each test checks one result.
"""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from donkit.config import DonkitConfig, from_dict
from formats.plain import to_plain

DONKIT = Path(sys.executable).parent / "donkit"
DEFAULTS = DonkitConfig()
# A collection that gets as far as the simulator, kept as small as the config allows.
FAST = [
    "--scenes", "1", "--workers", "1",
    "--set", "collect.orbit.views=2",
    "--set", "collect.camera.width=64",
    "--set", "collect.camera.height=48",
]  # fmt: skip


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


COMMANDS = {
    "help": ["--help"],
    "collect help": ["collect", "--help"],
    "config help": ["config", "--help"],
    "demo help": ["demo", "--help"],
    "list objects": ["collect", "--list-objects"],
    "config": ["config"],
    "config yaml": ["config", "--yaml"],
    "config unknown key": ["config", "--set", "colect.seed=1"],
    "unknown object": [
        "collect", "--out", "out_object", *FAST,
        "--set", "collect.scene.objects=[mug_rd, duck, box_tea]",
    ],
    "unknown only object": [
        "collect", "--out", "out_only_object", *FAST, "--set", "collect.scene.objects=[mug_rd]",
    ],
    "invalid yaml": ["collect", "--config", "bad.yaml", "--out", "out_yaml"],
    "unknown key": ["collect", "--out", "out_key", *FAST, "--set", "collect.orbit.viewz=3"],
    "out under a file": ["collect", "--out", "a_file/sub", *FAST],
    "missing out": ["collect", *FAST],
    "unreachable orbit": [
        "collect", "--out", "out_orbit", *FAST, "--set", "collect.orbit.radius_m=[2.5, 3.0]",
    ],
    "fuse help": ["fuse", "--help"],
    "fuse missing data": ["fuse", "no_such_folder"],
    "fuse no scenes": ["fuse", "empty_folder"],
    "fuse partial": ["fuse", "scene_0000.partial"],
    "fuse bad voxel": ["fuse", "empty_folder", "--voxel", "-0.002"],
    "correspond help": ["correspond", "--help"],
    "correspond empty": ["correspond", "empty_folder", "--out", "corr_out"],
    "correspond missing out": ["correspond", "empty_folder"],
    "check help": ["check", "--help"],
    "check no scenes": ["check", "empty_folder"],
    "import tum help": ["import", "tum", "--help"],
    "import tum not a folder": ["import", "tum", "no_such_folder", "--out", "tum_scene"],
}  # fmt: skip


def run_donkit(args: list[str], cwd: Path) -> Result:
    done = subprocess.run(
        [str(DONKIT), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    (folder / "bad.yaml").write_text("collect:\n  seed: 1\n   scenes: 2\n")
    (folder / "a_file").write_text("a regular file, so a_file/sub cannot be created\n")
    (folder / "empty_folder").mkdir()
    (folder / "scene_0000.partial" / "processed" / "images").mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def runs(workdir) -> dict[str, Result]:
    workers = max(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda args: run_donkit(args, workdir), COMMANDS.values())
        return dict(zip(COMMANDS, results, strict=True))


def assert_user_error(result: Result, command: str, message: str) -> None:
    """Exit code 1, one line on stderr naming the command, the message in it, no traceback."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"donkit {command}: error: "), lines[0]
    assert message in lines[0], lines[0]


# --- help and information ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mentions"),
    [
        ("help", ["collect", "config", "demo", "--version", "COMMAND --help"]),
        (
            "collect help",
            [
                *["--out", "--config", "--set", "--scenes", "--workers", "--backend"],
                *["--overwrite", "--gui", "--list-objects", "scene_XXXX.partial", "uint16 mm"],
            ],
        ),
        ("config help", ["--yaml", "--config", "--set", "collect.orbit.views=20"]),
        ("demo help", ["--out", "--workers", "--config", "--set", "data_test"]),
        (
            "correspond help",
            [
                *["DATA", "--out", "--pairs", "--matches", "--saved-nonmatches", "--workers"],
                "--show",
                *["index.yaml", "nonmatch_kind", "same_object", "different_object"],
            ],
        ),
        (
            "fuse help",
            [
                *["DATA", "--voxel", "--workers", "--backend", "--overwrite", "--evaluate"],
                *["fusion_mesh.ply", "image_masks", "rendered_images", "Dense Object Nets"],
            ],
        ),
        (
            "check help",
            [
                *["DATA", "--json", "--workers", "relative", "median mm", "OFF", "exits 0"],
                *["thin wall", "camera_info.yaml", "pose_data.yaml"],
            ],
        ),
        (
            "import tum help",
            [
                *["SRC", "--out", "--intrinsics", "--every", "--max-frames", "--max-difference"],
                *["--max-gap", "groundtruth.txt", "1/5000 m", "slerp", "donkit check"],
            ],
        ),
    ],
)
def test_help(runs, name, mentions):
    result = runs[name]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: donkit")
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for mention in mentions:
        assert mention in text, mention


def test_list_objects(runs):
    result = runs["list objects"]
    assert result.returncode == 0, result.stderr
    rows = [line.split(maxsplit=2) for line in result.stdout.splitlines()]
    names = [row[0] for row in rows]
    assert len(names) >= 10
    assert len(set(names)) == len(names)
    assert {"mug_red", "mug_blue", "duck"} <= set(names)
    assert all(len(row) == 3 for row in rows), result.stdout  # name, class, description
    assert set(DEFAULTS.collect.scene.objects) <= set(names)


def leaf_values(config, prefix: str = "") -> dict:
    """Dotted key -> plain value of every leaf field."""
    values = {}
    for key, value in to_plain(config).items():
        if isinstance(value, dict):
            values.update(leaf_values(value, f"{prefix}{key}."))
        else:
            values[f"{prefix}{key}"] = value
    return values


def test_config_prints_every_key_with_its_value_and_meaning(runs):
    result = runs["config"]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    printed = {}
    for number, line in enumerate(lines):
        if not line.startswith(" "):
            key, _, value = line.partition(" = ")
            printed[key] = yaml.safe_load(value)
            assert lines[number + 1].startswith("    "), f"{key} has no explanation"
    assert printed == leaf_values(DEFAULTS)


def test_config_yaml_loads_back_to_the_defaults(runs):
    result = runs["config yaml"]
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data == to_plain(DEFAULTS)
    assert from_dict(DonkitConfig, data, where="") == DEFAULTS
    assert result.stdout.lstrip().startswith("#")


# --- mistakes get one clear line and exit code 1 -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "command", "message"),
    [
        (
            "unknown object",
            "collect",
            "unknown object 'mug_rd'. Did you mean 'mug_red'",
        ),
        (
            "invalid yaml",
            "collect",
            "config bad.yaml:3:10 is not valid YAML: mapping values are not allowed here",
        ),
        ("unknown key", "collect", "unknown key 'collect.orbit.viewz'; did you mean 'views'?"),
        ("out under a file", "collect", "a_file/sub"),
        ("missing out", "collect", "donkit collect needs --out DIR"),
        ("unreachable orbit", "collect", "candidate views is reachable by the panda arm"),
        ("config unknown key", "config", "unknown key 'colect'; did you mean 'collect'?"),
        ("fuse missing data", "fuse", "no_such_folder does not exist"),
        ("fuse no scenes", "fuse", "no complete scene at or below empty_folder"),
        ("fuse partial", "fuse", "is an unfinished scene; run `donkit collect` again"),
        ("fuse bad voxel", "fuse", "fuse.voxel_m must be positive"),
        ("correspond empty", "correspond", "no complete scene at or below empty_folder"),
        ("check no scenes", "check", "no complete scene at or below empty_folder"),
        ("import tum not a folder", "import", "no_such_folder is not a folder"),
    ],
)
def test_user_error(runs, name, command, message):
    assert_user_error(runs[name], command, message)


def test_unwritable_output_message_says_what_to_do(runs):
    line = runs["out under a file"].stderr.strip()
    assert re.search(
        r"cannot write to the output directory a_file/sub \(.+\); choose another", line
    )


def test_unreachable_orbit_message_names_the_settings(runs, workdir):
    line = runs["unreachable orbit"].stderr.strip()
    assert re.search(
        r"none of \d+ candidate views is reachable by the panda arm \(unreachable \d+\)", line
    )
    assert "collect.orbit.radius_m" in line
    # The scene never started: no .partial folder is left to resume.
    assert list((workdir / "out_orbit").iterdir()) == []


def test_correspond_needs_out(runs):
    result = runs["correspond missing out"]
    assert result.returncode == 2 and "--out" in result.stderr  # argparse's usage error


def test_single_unknown_object_is_named(runs):
    assert_user_error(runs["unknown only object"], "collect", "Did you mean 'mug_red'")


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into a 0o500 folder"
)
def test_read_only_output_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_donkit(["collect", "--out", str(locked / "data"), *FAST], tmp_path)
    finally:
        locked.chmod(0o700)
    assert_user_error(result, "collect", f"cannot write to the output directory {locked}")


def test_the_command_line_starts_without_torch():
    """`donkit --help` and the data commands answer in a fraction of a second: the command line
    imports torch only in the commands that run a network."""
    probe = "import sys, donkit.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], timeout=60).returncode == 0
