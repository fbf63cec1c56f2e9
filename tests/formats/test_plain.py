"""YAML files and the checked reading of numbers."""

import re

import numpy as np
import pytest

from formats import DonkitError
from formats.plain import finite_float, read_yaml, write_yaml


def test_yaml_round_trip_converts_numpy_and_tuples(tmp_path):
    data = {
        "camera_matrix": {"rows": 3, "data": np.arange(3, dtype=np.float64) / 4},
        "pair": (np.int64(3), np.float32(0.5)),
        "nested": [{"a": np.bool_(True)}],
    }
    write_yaml(tmp_path / "x.yaml", data)
    assert read_yaml(tmp_path / "x.yaml") == {
        "camera_matrix": {"rows": 3, "data": [0.0, 0.25, 0.5]},
        "pair": [3, 0.5],
        "nested": [{"a": True}],
    }


def test_read_yaml_missing_file(tmp_path):
    path = tmp_path / "camera_info.yaml"
    with pytest.raises(DonkitError, match=re.escape(f"camera info {path} does not exist")):
        read_yaml(path, "camera info")


@pytest.mark.parametrize(
    ("text", "line_column", "problem"),
    [
        ("a: 1\nb: @x\n", "2:4", "found character '@' that cannot start any token"),
        ("collect:\n  seed: 1\n   scenes: 2\n", "3:10", "mapping values are not allowed here"),
        ("a:\n\t- 1\n", "2:1", "found character '\\t' that cannot start any token"),
        ("collect:\n  seed: [1\n", "3:1", "expected ',' or ']'"),
    ],
)
def test_read_yaml_syntax_error_names_file_line_and_column(tmp_path, text, line_column, problem):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    expected = f"config {path}:{line_column} is not valid YAML: {problem}"
    with pytest.raises(DonkitError, match=re.escape(expected)):
        read_yaml(path, "config")


def test_read_yaml_binary_file(tmp_path):
    path = tmp_path / "pose_data.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(DonkitError, match=re.escape(f"pose data {path} is not a text file")):
        read_yaml(path, "pose data")


def test_read_yaml_deeply_nested_is_reported(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(DonkitError, match=re.escape(str(path))):
        read_yaml(path, "config")


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, "x must be a number; got None"),
        ("abc", "x must be a number; got 'abc'"),
        ([1.0], r"x must be a number; got \[1.0\]"),
        (float("nan"), "x must be finite; got nan"),
        (float("-inf"), "x must be finite; got -inf"),
    ],
)
def test_finite_float_rejects(value, match):
    with pytest.raises(DonkitError, match=match):
        finite_float(value, "x")


def test_finite_float_accepts_numbers():
    assert finite_float(3, "x") == 3.0
    assert finite_float(-0.25, "x") == -0.25


def test_finite_float_rejects_huge_integer():
    with pytest.raises(DonkitError, match="x must be"):
        finite_float(10**400, "x")
