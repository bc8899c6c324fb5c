"""Fixtures for training and evaluation: synthetic chips whose pixels encode their labels.

Each label has a fixed spectral signature (S2: 13 reflectances; S1: VV, VH dB); a chip's pixels
are the mean signature of its labels plus noise, so a short run can learn the link.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.data.chip import Chip
from closp_core.train import ChipListSource, TrainResult, register_source, train
from closp_core.train.config import TrainConfig

LABEL_SETS: tuple[tuple[str, ...], ...] = (("Water",), ("Crops",), ("Built",), ("Trees", "Crops"))


def _signature(label: str, sensor: Sensor) -> np.ndarray:
    rng = np.random.default_rng(sum(map(ord, label)))
    if sensor is Sensor.S2:
        return rng.uniform(0.0, 0.5, size=13).astype(np.float32)
    return rng.uniform(-25.0, 0.0, size=2).astype(np.float32)


def synthetic_chip(
    labels: tuple[str, ...], sensor: Sensor, index: int, size: int, rng: np.random.Generator
) -> Chip:
    """One chip of ``sensor`` whose pixels encode ``labels`` (+ noise), centred near 10E 45N."""
    mean = np.mean([_signature(label, sensor) for label in labels], axis=0)
    noise = 0.02 if sensor is Sensor.S2 else 1.0
    pixels = mean[:, None, None] + rng.normal(0.0, noise, size=(len(mean), size, size))
    lon, lat = 10.0 + 0.01 * index, 45.0 + 0.01 * len(labels)
    ring = ((lon, lat), (lon + 0.01, lat), (lon + 0.01, lat + 0.01), (lon, lat))
    return Chip(
        key=f"{sensor.value}-{'-'.join(labels)}-{index}".lower().replace(" ", "_"),
        sensor=sensor,
        pixels=pixels.astype(np.float32),
        center=(lon, lat),
        footprint=ring,
        crs="EPSG:4326",
        source="synthetic",
        scene_id="synthetic",
        labels=labels,
    )


def synthetic_chips(
    per_set: int = 8, size: int = 32, seed: int = 0, sensors: tuple[str, ...] = ("s1", "s2")
) -> list[Chip]:
    """``per_set`` chips per label set and sensor (+ 2 unlabelled chips per sensor)."""
    rng = np.random.default_rng(seed)
    chips = []
    for sensor in map(Sensor, sensors):
        for labels in LABEL_SETS:
            chips += [synthetic_chip(labels, sensor, i, size, rng) for i in range(per_set)]
        for i in range(2):
            chip = synthetic_chip(("Water",), sensor, 1000 + i, size, rng)
            chips.append(Chip(**{**chip.__dict__, "key": f"{chip.key}-nolabel", "labels": ()}))
    return chips


def _synthetic_source(path: Path, options: Mapping[str, Any]) -> ChipListSource:
    return ChipListSource(synthetic_chips(**options), name="synthetic")


register_source("synthetic", _synthetic_source)


def tiny_config(tmp_path: Path, **sections: Mapping[str, Any]) -> TrainConfig:
    """A seconds-long CPU run on synthetic 32x32 chips; ``sections`` override keys per table."""
    raw: dict[str, dict[str, Any]] = {
        "model": {"variant": "closp-rn", "seed": 1},
        "data": {
            "sources": [{"kind": "synthetic", "path": str(tmp_path), "options": {"per_set": 8}}],
            "val_fraction": 0.25,
            "chip_size": 32,
        },
        "train": {
            "epochs": 6,
            "batch_size": 8,
            "lr": 3e-3,
            "trainable": ["projections"],
            "freeze_text": True,
            "progress": False,
            "device": "cpu",
            "threads": 1,
        },
        "output": {"dir": str(tmp_path / "run")},
    }
    for name, values in sections.items():
        raw[name] = {**raw[name], **values}
    return TrainConfig.from_mapping(raw, base_dir=tmp_path)


@pytest.fixture
def chips() -> list[Chip]:
    return synthetic_chips()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """A finished tiny run on cached backbone features, saved in both layouts (shared)."""
    tmp = tmp_path_factory.mktemp("trained")
    config = tiny_config(
        tmp,
        train={
            "epochs": 15,
            "lr": 1e-2,
            "logit_scale": 10.0,
            "cache_features": True,
            "flips": False,
        },
        output={"save": "both"},
    )
    return train(config)
