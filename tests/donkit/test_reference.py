"""docs/configuration.md: generated from the typed configs, and never behind them."""

import re
from pathlib import Path

from donkit.config import DonkitConfig
from donkit.reference import REGENERATE, configuration_reference
from tests.donkit.test_config import leaf_keys

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_reference_is_the_generated_one():
    assert REFERENCE.is_file(), f"{REFERENCE} is missing; write it with `{REGENERATE}`"
    assert REFERENCE.read_text() == configuration_reference(), (
        f"{REFERENCE} is out of date with the configs; regenerate it with `{REGENERATE}`"
    )


def test_every_leaf_key_has_a_row_with_its_default():
    text = REFERENCE.read_text()
    rows = re.findall(r"^\| `([a-z0-9_.]+)` \| [^|]+ \| (`[^\n]*?`) \|", text, re.MULTILINE)
    documented = [key for key, _ in rows]
    keys = leaf_keys(DonkitConfig)
    assert len(keys) > 150
    assert documented == keys
    defaults = dict(rows)
    assert defaults["collect.orbit.views"] == "`30`"
    assert defaults["collect.camera.renderer"] == "`tiny`"
    assert defaults["collect.orbit.radius_m"] == "`[0.33, 0.48]`"


def test_sections_and_types_are_named():
    text = configuration_reference()
    for section in ("collect", "collect.camera", "fuse", "correspond", "train", "track.lk"):
        assert re.search(rf"^#+ {re.escape(section)}$", text, re.MULTILINE), section
    assert "| `collect.camera.renderer` | one of `tiny`, `egl` |" in text
    assert "| `collect.scene.objects` | list of str |" in text
    assert "| `collect.camera.mount_xyz_m` | list of 3 float |" in text
