"""Every bad training config fails with our ConfigError before any compute."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from closp_core.errors import ConfigError
from closp_core.train import load_config, train
from closp_core.train.config import TrainConfig
from tests.train.conftest import tiny_config

REFERENCE = Path(__file__).resolve().parents[2] / "configs" / "reference.toml"


def test_reference_config_parses(tmp_path: Path) -> None:
    raw = tomllib.loads(REFERENCE.read_text())
    assert raw["data"]["sources"][0]["kind"] == "crisislandmark"
    raw["data"]["sources"][0]["path"] = str(tmp_path)  # the corpus is not shipped
    config = TrainConfig.from_mapping(raw, base_dir=REFERENCE.parent)
    assert config.train.batch_size == 64 and config.train.epochs == 30
    assert config.train.lr == 1e-6 and config.train.logit_scale == 1.0
    assert config.model.seed == 42 and config.train.warmup_fraction == 0.1


@pytest.mark.parametrize(
    ("sections", "match"),
    [
        ({"model": {"variant": "closp-xx"}}, "unknown CLOSP variant"),
        ({"model": {"colour": 1}}, r"unknown keys \['colour'\]"),
        ({"train": {"batch_size": "64"}}, r"train.batch_size: expected int"),
        ({"train": {"batch_size": 1}}, "in-batch negatives"),
        ({"train": {"precision": "fp8"}}, "train.precision must be one of"),
        ({"train": {"trainable": ["decoder"]}}, "names no part of the model"),
        ({"train": {"cache_features": True}}, "set flips = false"),
        ({"train": {"cache_features": True, "trainable": ["all"]}}, "needs frozen image"),
        ({"data": {"val_fraction": 1.5}}, r"val_fraction must be in \[0, 1\)"),
        ({"data": {"sensors": ["s3"]}}, "unknown sensor 's3'"),
        ({"output": {"save": "zip"}}, "output.save must be one of"),
    ],
)
def test_bad_values(tmp_path: Path, sections: dict[str, dict[str, object]], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        tiny_config(tmp_path, **sections)


def test_missing_data_path(tmp_path: Path) -> None:
    source = {"kind": "synthetic", "path": "no/such/folder"}
    with pytest.raises(ConfigError, match="does not exist; check the path"):
        tiny_config(tmp_path, data={"sources": [source]})


def test_unknown_kind(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, data={"sources": [{"kind": "zarr", "path": str(tmp_path)}]})
    with pytest.raises(ConfigError, match="unknown data source kind 'zarr'"):
        train(config)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"data\.sources is empty"):
        TrainConfig.from_mapping({}, base_dir=tmp_path)


def test_batch_larger_than_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batch_size 64 is larger than the"):
        train(tiny_config(tmp_path, train={"batch_size": 64}))


def test_sensor_without_chips(tmp_path: Path) -> None:
    source = {"kind": "synthetic", "path": str(tmp_path), "options": {"sensors": ["s2"]}}
    with pytest.raises(ConfigError, match="sensor s1 has no labelled training chips"):
        train(tiny_config(tmp_path, data={"sources": [source]}))


def test_no_validation_chips(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no validation chips"):
        train(tiny_config(tmp_path, data={"val_fraction": 0.0}))


def test_grad_accum_beyond_an_epoch(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs more chips than one epoch has"):
        train(tiny_config(tmp_path, train={"grad_accum": 5}))


def test_resume_without_state(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(tiny_config(tmp_path), resume=True)


def test_samples_kind_keeps_its_split() -> None:
    from closp_core.data.chip import Tally
    from closp_core.sources import build_source

    root = REFERENCE.parents[1] / "samples"
    held_out = build_source("samples", root, {"split": "heldout"})
    tally = Tally()
    unit = next(u for u in held_out.units() if "S1Hand" in u)
    keys = [chip.key for chip in held_out.read(unit, tally)]
    assert keys and all(int(k.split("_c")[-1].split("_")[0].split("/")[0]) >= 360 for k in keys)
    with pytest.raises(ConfigError, match="split must be train, heldout or all"):
        build_source("samples", root, {"split": "test"})
