"""Smoke tests on the real Sentinel samples in ../shared/data (skipped when absent)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from closp_core.bands import Sensor
from closp_core.data import BigEarthNetSource, MaskLabeler, SceneOptions, SceneSource, Tally
from tests.data.conftest import read_all


def test_virginia_l1c_scene(shared: Path) -> None:
    source = SceneSource(shared / "s2-l1c-virginia", SceneOptions(stride=480))
    tally = Tally()
    chips = read_all(source, tally)
    assert len(chips) == 25 and all(c.sensor is Sensor.S2 for c in chips)
    assert all(np.isfinite(c.pixels).all() and c.pixels.max() < 2.0 for c in chips)
    assert chips[0].crs == "EPSG:32618"
    assert -75.8 < chips[0].center[0] < -75.5 and 37.5 < chips[0].center[1] < 37.8


def test_sen1floods11_flood_labels(shared: Path) -> None:
    folder = shared / "sen1floods11-sample"
    labeler = MaskLabeler(folder / "Spain_7370579_LabelHand.tif", "Flooded Area")
    options = SceneOptions(chip_labeler=labeler)
    s1 = read_all(SceneSource(folder / "Spain_7370579_S1Hand.tif", options))
    s2 = read_all(SceneSource(folder / "Spain_7370579_S2Hand.tif", options))
    assert len(s1) == len(s2) == 25 and s1[0].crs == "EPSG:4326"
    assert -25 < float(s1[0].pixels[0].mean()) < 0  # VV in dB
    flooded = sum("Flooded Area" in c.labels for c in s1)
    assert 0 < flooded < 25
    assert [c.center for c in s1] == [c.center for c in s2]


def test_bigearthnet_examples(shared: Path, tmp_path: Path) -> None:
    for name in ("BigEarthNet-S1-Example.tar.bz2", "BigEarthNet-S2-Example.tar.bz2"):
        with tarfile.open(shared / "bigearthnet-examples" / name) as archive:
            archive.extractall(tmp_path, filter="data")
    tally = Tally()
    chips = read_all(BigEarthNetSource(tmp_path), tally)
    assert len(chips) == 12 and not tally.flagged
    assert sum(c.sensor is Sensor.S1 for c in chips) == 6
    assert all(c.labels for c in chips)
