import dataclasses
import math
import re
from pathlib import Path
from typing import Literal, get_args, get_origin, get_type_hints

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from collect.config import CollectConfig
from donkit.config import (
    DonkitConfig,
    commented_yaml,
    describe_fields,
    field_docs,
    from_dict,
    load_config,
)
from formats import DonkitError
from formats.plain import to_plain
from sim_assets.catalog import list_objects

DEMO_YAML = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
DEFAULTS = DonkitConfig()


def leaf_keys(cls: type, prefix: str = "") -> list[str]:
    """Dotted keys of every leaf field, walked here independently of describe_fields."""
    keys = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            keys += leaf_keys(hints[f.name], f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def section_classes(cls: type) -> list[type]:
    classes = [cls]
    for annotation in get_type_hints(cls).values():
        if dataclasses.is_dataclass(annotation):
            classes += section_classes(annotation)
    return classes


def value_at(config, dotted_key: str):
    for name in dotted_key.split("."):
        config = getattr(config, name)
    return config


def replaced(config, dotted_key: str, value):
    """`config` with one nested field changed, built without the loader."""
    head, _, rest = dotted_key.partition(".")
    if not rest:
        return dataclasses.replace(config, **{head: value})
    return dataclasses.replace(config, **{head: replaced(getattr(config, head), rest, value)})


# --- the demo config and the defaults ----------------------------------------------------------


def test_demo_yaml_equals_the_defaults():
    assert load_config(DEMO_YAML) == DEFAULTS
    # The same comparison on plain data, without the loader.
    assert yaml.safe_load(DEMO_YAML.read_text()) == to_plain(DEFAULTS)


def test_demo_yaml_is_what_config_yaml_writes():
    """configs/demo.yaml says it is the output of `donkit config --yaml`; keep them in step."""
    first, second, body = DEMO_YAML.read_text().split("\n", 2)
    assert first.startswith("# ") and second.startswith("# ")
    assert body == commented_yaml(DEFAULTS) + "\n"


def test_demo_yaml_loads():
    assert isinstance(load_config(DEMO_YAML), DonkitConfig)


def test_no_config_file_or_an_empty_one_gives_the_defaults(tmp_path):
    assert load_config(None) == DEFAULTS
    (tmp_path / "empty.yaml").write_text("# nothing set\n")
    (tmp_path / "sections.yaml").write_text("collect:\ndemo:\n")
    assert load_config(tmp_path / "empty.yaml") == DEFAULTS
    assert load_config(tmp_path / "sections.yaml") == DEFAULTS


# --- overrides ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "key", "value"),
    [
        ("collect.orbit.views=20", "collect.orbit.views", 20),
        ("collect.seed = 7", "collect.seed", 7),
        ("collect.camera.fov_y_deg=60", "collect.camera.fov_y_deg", 60.0),
        ("collect.camera.renderer=egl", "collect.camera.renderer", "egl"),
        ("collect.randomization.light=false", "collect.randomization.light", False),
        ("collect.orbit.radius_m=[0.3, 0.5]", "collect.orbit.radius_m", (0.3, 0.5)),
        ("collect.camera.mount_xyz_m=[0, 0, 2.5e-2]", "collect.camera.mount_xyz_m", (0, 0, 0.025)),
        (
            "collect.scene.objects=[duck, mug_red, box_tea]",
            "collect.scene.objects",
            ("duck", "mug_red", "box_tea"),
        ),
        ("collect.robot.arm=kuka_iiwa", "collect.robot.arm", "kuka_iiwa"),
        ("demo.test_seed=5", "demo.test_seed", 5),
    ],
)
def test_override_changes_one_nested_value(assignment, key, value):
    config = load_config(None, [assignment])
    assert value_at(config, key) == value
    assert type(value_at(config, key)) is type(value_at(DEFAULTS, key))
    assert config == replaced(DEFAULTS, key, value)


def test_exponent_without_a_dot_is_taken_as_the_number_meant():
    """YAML 1.1 (PyYAML) reads 1e-2 as text; number fields take such text as the number."""
    assert load_config(None, ["collect.camera.near_m=1e-2"]).collect.camera.near_m == 0.01
    assert load_config(None, ["collect.camera.near_m=1.0e-2"]).collect.camera.near_m == 0.01
    with pytest.raises(DonkitError, match=re.escape("near_m must be a number; got '1e-2cm'")):
        load_config(None, ["collect.camera.near_m=1e-2cm"])


def test_overrides_apply_in_order_on_top_of_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("collect:\n  scenes: 3\n  orbit:\n    views: 10\n    roll_deg: [-5, 5]\n")
    config = load_config(path, ["collect.orbit.views=12", "collect.orbit.views=14"])
    assert config.collect.orbit.views == 14
    assert config.collect.orbit.roll_deg == (-5.0, 5.0)
    assert config.collect.scenes == 3
    assert config.collect.orbit.radius_m == DEFAULTS.collect.orbit.radius_m


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("collect.orbit.views", "--set 'collect.orbit.views': expected key.path=value"),
        ("=3", "--set '=3': expected key.path=value"),
        ("collect..views=3", "--set 'collect..views=3': expected key.path=value"),
        ("collect.orbit.=3", "expected key.path=value, e.g. collect.scenes=4"),
        ("collect.scene.objects=[duck, mug", "the value is not valid YAML"),
        ("collect.seed.x=1", "collect.seed must be an integer; got {'x': 1}"),
    ],
)
def test_malformed_override_is_reported(assignment, message):
    with pytest.raises(DonkitError, match=re.escape(message)):
        load_config(None, [assignment])


def test_override_into_a_value_is_reported():
    with pytest.raises(DonkitError, match=re.escape("collect.seed is a value, not a section")):
        load_config(None, ["collect.seed=1", "collect.seed.x=2"])


def test_override_into_an_empty_section_of_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("collect:\n  camera:\n    # width: 320\n")
    assert load_config(path).collect.camera == DEFAULTS.collect.camera
    assert load_config(path, ["collect.camera.width=64"]).collect.camera.width == 64


# --- unknown keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "full_key", "nearest"),
    [
        ("colect.seed=1", "colect", "collect"),
        ("dmeo.test_seed=1", "dmeo", "demo"),
        ("collect.sede=1", "collect.sede", "seed"),
        ("collect.camra.width=64", "collect.camra", "camera"),
        ("collect.orbit.viewz=3", "collect.orbit.viewz", "views"),
        ("collect.camera.widht=64", "collect.camera.widht", "width"),
        ("collect.scene.object=[duck]", "collect.scene.object", "objects"),
        ("collect.randomization.lights=true", "collect.randomization.lights", "light"),
        ("collect.depth_noise.edge_drop=0.1", "collect.depth_noise.edge_drop", "edge_dropout"),
        ("collect.robot.arms=panda", "collect.robot.arms", "arm"),
        ("demo.test_seeds=3", "demo.test_seeds", "test_seed"),
    ],
)
def test_unknown_key_names_it_and_suggests_the_nearest(assignment, full_key, nearest):
    with pytest.raises(DonkitError) as caught:
        load_config(None, [assignment])
    message = str(caught.value)
    assert f"unknown key '{full_key}'; did you mean '{nearest}'? valid keys here: " in message


def test_unknown_key_lists_the_valid_keys_at_its_level():
    with pytest.raises(DonkitError) as caught:
        load_config(None, ["collect.orbit.qqqqq=1"])
    message = str(caught.value)
    assert "unknown key 'collect.orbit.qqqqq'; valid keys here: views, radius_m," in message
    assert "did you mean" not in message
    listed = message.split("valid keys here: ")[1].split(", ")
    assert listed == [key.split(".")[-1] for key in leaf_keys(DonkitConfig) if ".orbit." in key]


def test_unknown_key_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("collect:\n  camera:\n    hieght: 64\n")
    expected = f"config {path}: unknown key 'collect.camera.hieght'; did you mean 'height'?"
    with pytest.raises(DonkitError, match=re.escape(expected)):
        load_config(path)


# --- types and validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("collect.seed=abc", "collect.seed must be an integer; got 'abc'"),
        ("collect.seed=true", "collect.seed must be an integer; got True"),
        ("collect.seed=1.5", "collect.seed must be an integer; got 1.5"),
        ("collect.seed=", "collect.seed must be an integer; got None"),
        ("collect.orbit.views=[3]", "collect.orbit.views must be an integer; got [3]"),
        ("collect.camera.fov_y_deg=wide", "collect.camera.fov_y_deg must be a number; got 'wide'"),
        ("collect.camera.fov_y_deg=true", "collect.camera.fov_y_deg must be a number; got True"),
        ("collect.camera.fov_y_deg=.nan", "fov_y_deg must be a finite number; got nan"),
        ("collect.camera.far_m=.inf", "collect.camera.far_m must be a finite number; got inf"),
        ("collect.randomization.light=1", "randomization.light must be true or false; got 1"),
        ("collect.randomization.light=maybe", "light must be true or false; got 'maybe'"),
        ("collect.orbit.radius_m=0.3", "collect.orbit.radius_m must be a list; got 0.3"),
        ("collect.orbit.radius_m=[0.3]", "collect.orbit.radius_m must hold 2 values; got [0.3]"),
        ("collect.orbit.radius_m=[0.3, 0.4, 0.5]", "radius_m must hold 2 values; got [0.3, 0.4,"),
        ("collect.orbit.radius_m=[0.3, far]", "collect.orbit.radius_m[1] must be a number"),
        ("collect.camera.mount_xyz_m=[0, 0, .nan]", "mount_xyz_m[2] must be a finite number"),
        ("collect.scene.objects=duck", "collect.scene.objects must be a list; got 'duck'"),
        ("collect.scene.objects=[duck, 3, x]", "collect.scene.objects[1] must be a string; got 3"),
        ("collect.camera.renderer=opengl", "renderer must be one of 'tiny', 'egl'; got 'opengl'"),
        ("collect.robot.arm=ur5", "collect.robot.arm must be one of 'panda', 'kuka_iiwa'"),
        ("collect.camera=5", "collect.camera must be a mapping of keys; got 5"),
        ("collect=[1, 2]", "collect must be a mapping of keys; got [1, 2]"),
    ],
)
def test_wrong_type_is_reported(assignment, message):
    with pytest.raises(
        DonkitError, match="^the built-in config with --set .*" + re.escape(message)
    ):
        load_config(None, [assignment])


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (
            "collect.scene.objects_per_scene=[3, 1]",
            "collect.scene.objects_per_scene must satisfy 1 <= fewest <= most; got [3, 1]",
        ),
        (
            "collect.scene.objects_per_scene=[0, 2]",
            "objects_per_scene must satisfy 1 <= fewest <= most; got [0, 2]",
        ),
        (
            "collect.scene.objects_per_scene=[1, 9]",
            "collect.scene.objects_per_scene allows up to 9 objects in a scene, but "
            "collect.scene.objects lists 7",
        ),
        (
            "collect.scene.single_object_share=1.5",
            "collect.scene.single_object_share must lie in [0.0, 1.0]; got 1.5",
        ),
        ("collect.scenes=0", "collect.scenes must be at least 1; got 0"),
        ("collect.orbit.views=0", "collect.orbit.views must be at least 1; got 0"),
        (
            "collect.orbit.radius_m=[0.5, 0.3]",
            "collect.orbit.radius_m must be [low, high] with low <= high; got [0.5, 0.3]",
        ),
        (
            "collect.orbit.roll_deg=[5, -5]",
            "collect.orbit.roll_deg must be [low, high] with low <= high; got [5.0, -5.0]",
        ),
        ("collect.orbit.radius_m=[0, 0.3]", "collect.orbit.radius_m must be positive; got [0.0"),
        (
            "collect.orbit.elevation_deg=[30, 95]",
            "collect.orbit.elevation_deg must lie within [-10, 89]; got [30.0, 95.0]",
        ),
        (
            "collect.orbit.candidates_per_view=0.5",
            "collect.orbit.candidates_per_view must be at least 1.0; got 0.5",
        ),
        ("collect.camera.width=8", "collect.camera.width must be at least 16; got 8"),
        ("collect.camera.fov_y_deg=170", "fov_y_deg must lie in [5.0, 150.0]; got 170.0"),
        (
            "collect.camera.near_m=0.5",
            "collect.camera: need 0 < near_m < min_depth_m < max_depth_m < far_m; got 0.5, 0.1, "
            "2.0, 3.0",
        ),
        ("correspond.pairs=0", "correspond.pairs must be at least 1; got 0"),
        ("train.loop.steps=0", "train.loop.steps must be at least 1; got 0"),
        ("train.loss.margin=-1", "train.loss.margin must be positive; got -1.0"),
        ("track.lk.window_px=1", "track.lk.window_px must be at least 3; got 1"),
        ("evaluate.matches=0", "evaluate.matches must be at least 1; got 0"),
        ("depth.loop.learning_rate=0", "depth.loop.learning_rate must be positive; got 0.0"),
    ],
)
def test_invalid_value_is_reported(assignment, message):
    with pytest.raises(DonkitError, match=re.escape(message)):
        load_config(None, [assignment])


def test_huge_integer_for_a_float_field_is_reported():
    with pytest.raises(DonkitError, match=re.escape("collect.camera.fov_y_deg")):
        load_config(None, ["collect.camera.fov_y_deg=1" + "0" * 400])


def test_distractor_range_is_validated():
    with pytest.raises(DonkitError, match=re.escape("collect.randomization.distractors")):
        load_config(None, ["collect.randomization.distractors=[3, 1]"])


@pytest.mark.parametrize("value", [1.5, -0.1])
def test_dropout_probability_is_validated(value):
    with pytest.raises(DonkitError, match=re.escape("collect.depth_noise.edge_dropout")):
        load_config(None, [f"collect.depth_noise.edge_dropout={value}"])


def test_config_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- collect\n- demo\n")
    with pytest.raises(DonkitError, match=re.escape(f"config {path} must be a mapping")):
        load_config(path)


def test_missing_config_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(DonkitError, match=re.escape(f"config {path} does not exist")):
        load_config(path)


# --- documentation of the fields ---------------------------------------------------------------


def test_describe_fields_covers_every_leaf_with_documentation():
    rows = describe_fields(DonkitConfig)
    assert [key for key, _, _ in rows] == leaf_keys(DonkitConfig)
    assert {"collect.seed", "collect.orbit.views", "collect.robot.arm", "demo.test_seed"} <= {
        key for key, _, _ in rows
    }
    for key, value, doc in rows:
        assert doc.strip(), f"{key} has no documentation"
        assert yaml.safe_load(value) == to_plain(value_at(DEFAULTS, key)), key


def test_describe_fields_shows_the_instance_values():
    overrides = ["collect.orbit.views=7", "collect.scene.objects=[duck, mug_red, can_soda]"]
    config = load_config(None, overrides)
    values = {key: value for key, value, _ in describe_fields(DonkitConfig, instance=config)}
    assert values["collect.orbit.views"] == "7"
    assert values["collect.scene.objects"] == "[duck, mug_red, can_soda]"


def test_every_section_is_documented_too():
    for cls in section_classes(DonkitConfig):
        assert (cls.__doc__ or "").strip(), cls.__name__
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            assert docs.get(f.name, "").strip(), f"{cls.__name__}.{f.name}"


def test_commented_yaml_parses_back_to_the_same_config(tmp_path):
    text = commented_yaml(DEFAULTS)
    assert from_dict(DonkitConfig, yaml.safe_load(text), where="") == DEFAULTS
    (tmp_path / "written.yaml").write_text(text)
    assert load_config(tmp_path / "written.yaml") == DEFAULTS
    # Every field's documentation is in it as a comment.
    comments = " ".join(line.strip().lstrip("# ") for line in text.splitlines() if "#" in line)
    for _, _, doc in describe_fields(DonkitConfig):
        assert " ".join(doc.split()) in " ".join(comments.split())


# --- properties --------------------------------------------------------------------------------

# Integers stay within +-2**1000: beyond 1.8e308 a float field hits the known OverflowError bug
# (test_huge_integer_for_a_float_field_is_reported).
BIG = 2**1000
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-BIG, BIG),
    st.floats(),
    st.text(max_size=10),
    st.sampled_from(["tiny", "egl", "panda", "kuka_iiwa", "mug_red", "duck", "1e-2", ".nan"]),
)
trees = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.one_of(st.text(max_size=6), st.integers(), st.none()), inner, max_size=4
        )
    ),
    max_leaves=10,
)


def typed_values(annotation) -> st.SearchStrategy:
    """Values of the declared type (random, often invalid), or of any type now and then."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        right = st.sampled_from(args)
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        right = st.lists(typed_values(args[0]), max_size=8)
    elif origin is tuple:
        right = st.one_of(
            st.tuples(*(typed_values(a) for a in args)).map(list),
            st.lists(typed_values(args[0]), max_size=4),
        )
    elif annotation is bool:
        right = st.booleans()
    elif annotation is int:
        right = st.integers(-BIG, BIG) | st.integers(-5, 50)
    elif annotation is float:
        right = st.floats() | st.floats(-10, 200) | st.integers(-5, 50)
    elif annotation is str:
        right = st.text(max_size=10)
    else:
        raise AssertionError(f"no strategy for {annotation!r}")
    return st.one_of(right, right, right, trees)


@st.composite
def sections(draw, cls: type) -> dict:
    """A mapping for dataclass `cls`: some of its fields, now and then an unknown key."""
    hints = get_type_hints(cls)
    data = {}
    for f in dataclasses.fields(cls):
        if draw(st.booleans()):
            annotation = hints[f.name]
            if dataclasses.is_dataclass(annotation):
                data[f.name] = draw(st.one_of(sections(annotation), trees))
            else:
                data[f.name] = draw(typed_values(annotation))
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.one_of(st.text(max_size=8), st.integers()))] = draw(trees)
    return data


@settings(max_examples=400, deadline=None)
@given(st.one_of(sections(CollectConfig), trees))
def test_any_collect_section_gives_a_config_or_a_donkit_error(collect):
    try:
        config = from_dict(DonkitConfig, {"collect": collect}, where="")
    except DonkitError as error:
        event("refused")
        assert "collect" in str(error)
    else:
        event("loaded")
        assert isinstance(config.collect, CollectConfig)
        # What loads is written back by commented_yaml and reads back the same.
        assert from_dict(DonkitConfig, yaml.safe_load(commented_yaml(config)), where="") == config


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=30),
        st.builds(
            lambda key, value: f"{key}={value}",
            st.sampled_from(leaf_keys(DonkitConfig)) | st.text(max_size=12),
            st.text(max_size=12) | scalars.map(str),
        ),
    )
)
def test_any_override_gives_a_config_or_a_donkit_error(assignment):
    try:
        config = load_config(None, [assignment])
    except DonkitError as error:
        event("refused")
        assert str(error)
    else:
        event("loaded")
        assert isinstance(config, DonkitConfig)
        for key in leaf_keys(DonkitConfig):
            value = value_at(config, key)
            if isinstance(value, float):
                assert math.isfinite(value)


finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def valid_configs(draw) -> DonkitConfig:
    """The defaults with fields changed to random values that pass validation."""
    changes = {
        "collect.seed": st.integers(-BIG, BIG),
        "collect.scenes": st.integers(1, 10**9),
        "collect.orbit.views": st.integers(1, 10**9),
        "collect.orbit.roll_deg": st.tuples(finite, finite).map(sorted).map(tuple),
        "collect.camera.renderer": st.sampled_from(["tiny", "egl"]),
        "collect.camera.mount_xyz_m": st.tuples(finite, finite, finite),
        "collect.scene.objects": st.lists(
            st.sampled_from(list_objects()), min_size=3, max_size=6, unique=True
        ).map(tuple),
        "collect.scene.min_gap_m": finite.map(abs),
        "collect.randomization.light": st.booleans(),
        "collect.randomization.focal_jitter": finite.map(abs),
        "collect.depth_noise.axial_base_m": finite.map(abs),
        "collect.robot.time_step_s": finite.map(abs).filter(lambda x: x > 0),
        "demo.test_seed": st.integers(-BIG, BIG),
    }
    config = DEFAULTS
    for key, strategy in changes.items():
        if draw(st.booleans()):
            config = replaced(config, key, draw(strategy))
    return config


@settings(max_examples=150, deadline=None)
@given(valid_configs())
def test_commented_yaml_round_trip_of_valid_configs(config):
    assert from_dict(DonkitConfig, yaml.safe_load(commented_yaml(config)), where="") == config


@pytest.mark.parametrize(
    ("section", "changes", "message"),
    [
        (lambda c: c.collect.camera, {"width": 8}, "CameraConfig.width must be at least 16; got 8"),
        (lambda c: c.fuse, {"voxel_m": 0.0}, "FuseConfig.voxel_m must be positive; got 0.0"),
        (lambda c: c.correspond, {"matches": 0}, "CorrespondConfig.matches must be at least 1"),
        (lambda c: c.train, {"width": 0}, "TrainConfig.width must be at least 1; got 0"),
        (lambda c: c.train.loss, {"margin": 0.0}, "LossConfig.margin must be positive; got 0.0"),
        (lambda c: c.video, {"frames": 1}, "VideoConfig.frames must be at least 2; got 1"),
        (lambda c: c.track, {"query_stride": 0}, "TrackConfig.query_stride must be at least 1"),
        (lambda c: c.depth, {"scales": 9}, "DepthConfig.scales must lie in [1, 4]; got 9"),
        (lambda c: c.evaluate, {"pairs": -2}, "EvaluateConfig.pairs must be at least 1; got -2"),
    ],
)
def test_a_section_made_in_code_checks_itself(section, changes, message):
    """dataclasses.replace runs the same checks as the YAML loader, and names the value."""
    with pytest.raises(DonkitError, match=re.escape(message)):
        dataclasses.replace(section(DEFAULTS), **changes)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.crop_px=[16, 16]"], "must be [0, 0] (whole images) or [width, height] of at"),
        (
            ["train.loss.kind=contrastive", "train.class_consistent=false",
             "train.cross_instance_share=0.5"],
            "needs train.class_consistent: true or train.loss.kind: distributional",
        ),
        (
            ["train.descriptor_dim=8", "train.loss.class_dims=9"],
            "train.loss.class_dims cannot exceed train.descriptor_dim (8); got 9",
        ),
    ],
)  # fmt: skip
def test_descriptor_training_options_that_cannot_work_are_refused(overrides, message):
    with pytest.raises(DonkitError, match=re.escape(message)):
        load_config(None, overrides)


def test_cross_instance_pairs_go_with_either_class_consistency_or_the_distributional_loss():
    for extra in ("train.class_consistent=true", "train.loss.kind=distributional"):
        config = load_config(None, ["train.cross_instance_share=0.5", extra]).train
        assert config.cross_instance_share == 0.5


def test_keys_of_earlier_versions_are_read_where_they_live_now(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("train:\n  steps: 7\n  margin: 0.3\ndemo:\n  eval_pairs: 9\n")
    config = load_config(path, ["depth.learning_rate=0.01", "train.loop.last_every=3"])
    assert (config.train.loop.steps, config.train.loss.margin) == (7, 0.3)
    assert config.evaluate.pairs == 9 and config.depth.loop.learning_rate == 0.01
    assert config.train.loop.last_every == 3
    path.write_text("train:\n  steps: 7\n  loop:\n    steps: 8\n")
    with pytest.raises(DonkitError, match=r"sets both train\.steps and its new name"):
        load_config(path)


def test_a_nested_section_keeps_its_parents_defaults():
    """depth's loop has its own defaults (learning rate, schedule); setting one key of it keeps
    the others, not LoopConfig's."""
    config = load_config(None, ["depth.loop.steps=3"])
    assert config.depth.loop == dataclasses.replace(DEFAULTS.depth.loop, steps=3)
    assert config.depth.loop.learning_rate == DEFAULTS.depth.loop.learning_rate != 1e-3
