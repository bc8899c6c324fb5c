"""``closp_core.rundata``: a training config's ``[data]`` as evaluation reads it, split as training
splits it (the synthetic source of ``conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from closp_core.errors import ConfigError
from closp_core.rundata import (
    DataSection,
    SourceSection,
    is_validation_key,
    load_data_section,
    role_chips,
)
from closp_core.train import data as train_data
from closp_core.train.data import read_training_data
from tests.train.conftest import tiny_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_data_section_is_read_alone_with_paths_resolved(tmp_path: Path) -> None:
    (tmp_path / "chips").mkdir()
    path = _write(
        tmp_path,
        '[model]\nvariant = "closp-rn"\n[train]\nepochs = 3\n'
        '[data]\nval_fraction = 0.2\nsensors = ["s2"]\n'
        '[[data.sources]]\nkind = "synthetic"\npath = "chips"\noptions = { per_set = 2 }\n',
    )
    data = load_data_section(path)
    assert data.val_fraction == 0.2 and [s.value for s in data.sensor_set] == ["s2"]
    assert data.sources == (
        SourceSection("synthetic", str(tmp_path / "chips"), options={"per_set": 2}),
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[data]\nsources = []\n", "data.sources is empty"),
        ("[data]\nval_fractoin = 0.1\n", r"config.data: unknown keys \['val_fractoin'\]"),
        ('[data]\nval_fraction = "a tenth"\n', r"config.data.val_fraction: expected float"),
        (
            '[[data.sources]]\nkind = "synthetic"\npath = "."\nrole = "holdout"\n',
            r"data.sources\[0\].role must be one of",
        ),
        ('[[data.sources]]\nkind = "synthetic"\npath = "nowhere"\n', "does not exist; check"),
        ("[data\n", "is not valid TOML"),
    ],
)
def test_bad_data_sections(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_data_section(_write(tmp_path, text))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist; see configs/reference.toml"):
        load_data_section(tmp_path / "absent.toml")


def test_roles_split_exactly_as_training_splits(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    trained = read_training_data(config)
    for role in ("train", "val"):
        ours = {c.key for c in role_chips(config.data, role) if c.labels}
        theirs = {key for pool in trained.pools[role].values() for key in pool.keys}
        assert ours == theirs and ours
    every = {c.key for c in role_chips(config.data, "all")}
    split = {c.key for r in ("train", "val") for c in role_chips(config.data, r)}
    assert every == split and any(k.endswith("-nolabel") for k in every)  # distractors stay


def test_role_chips_keep_only_the_data_sensors(tmp_path: Path) -> None:
    source = SourceSection("synthetic", str(tmp_path), role="test", options={"per_set": 1})
    data = DataSection(sources=(source,), sensors=("s1",))
    chips = list(role_chips(data, "test"))
    assert chips and {c.sensor.value for c in chips} == {"s1"}
    assert list(role_chips(data, "val")) == []


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    data = DataSection(sources=(SourceSection("synthetic", str(tmp_path)),))
    with pytest.raises(ConfigError, match=r"role must be one of \('train', 'val', 'test', 'all'\)"):
        next(role_chips(data, "heldout"))


def test_training_and_evaluation_share_one_split_rule() -> None:
    keys = [f"s2-chip-{i}" for i in range(2000)]
    assert train_data.is_validation_key is is_validation_key
    assert 150 < sum(is_validation_key(k, 0.1) for k in keys) < 250
    assert not any(is_validation_key(k, 0.0) for k in keys)
