"""BigEarthNet patch folders: one chip per patch, CORINE labels mapped, metadata quirks."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.data import BigEarthNetSource, DataError, Tally
from tests.data.bigearthnet import make_data as md
from tests.data.conftest import read_all, ring_contains


def test_patches_become_chips() -> None:
    tally = Tally()
    source = BigEarthNetSource(md.HERE)
    assert [Path(u).name for u in source.units()] == [md.S1_PATCH, md.S2_PATCH]
    s1, s2 = read_all(source, tally)
    assert s2.key == f"bigearthnet/{md.S2_PATCH}" and s2.sensor is Sensor.S2
    assert s2.pixels.shape == (13, 120, 120) and not s2.pixels[10].any()  # B10 zero-filled
    # the 20 m / 60 m bands were upsampled onto the 10 m grid
    assert s2.labels == ("Trees", "Water", "Flooded Vegetation")  # "Peatbogs" spelling mapped
    assert s2.acquired == dt.datetime(2017, 9, 24, 9, 30, 20, tzinfo=dt.UTC)
    assert s2.crs == "EPSG:32635" and ring_contains(s2.footprint, s2.center)
    assert 30 < s2.center[0] < 31 and 62 < s2.center[1] < 63
    assert s1.sensor is Sensor.S1 and np.allclose(s1.pixels[0], -11.0)
    assert np.allclose(s1.pixels[1], -18.0)
    assert s1.center == pytest.approx(s2.center)  # ``lly`` typo read as the lower y
    assert s1.labels == ("Grass",) and s1.unmapped_labels == ("Lunar regolith",)
    assert s1.original_labels == ("Pastures", "Lunar regolith")
    assert tally.flagged == {"label outside the label space: 'Lunar regolith'": 1}


def test_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        BigEarthNetSource(tmp_path / "nope").units()
    with pytest.raises(DataError, match="no BigEarthNet patch folders"):
        BigEarthNetSource(tmp_path).units()


def test_bad_metadata(tmp_path: Path) -> None:
    folder = md.write_s1_patch(tmp_path)
    meta_file = folder / f"{md.S1_PATCH}_labels_metadata.json"
    meta = json.loads(meta_file.read_text())
    del meta["coordinates"]["lly"]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"labels_metadata\.json: coordinates need"):
        read_all(BigEarthNetSource(tmp_path))
    meta_file.write_text("{not json")
    with pytest.raises(DataError, match=r"labels_metadata\.json: not readable JSON"):
        read_all(BigEarthNetSource(tmp_path))


def test_patch_missing_a_band(tmp_path: Path) -> None:
    shutil.copytree(md.HERE / md.S2_PATCH, tmp_path / md.S2_PATCH)
    (tmp_path / md.S2_PATCH / f"{md.S2_PATCH}_B8A.tif").unlink()
    with pytest.raises(DataError, match=r"missing S2 bands \['B8A'\]"):
        read_all(BigEarthNetSource(tmp_path))
