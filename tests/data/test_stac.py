"""STAC Item / ItemCollection / Catalog -> band assets -> raster-scene chips."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.data import DataError, StacSource
from closp_core.data.stac.hrefs import HrefPolicy, parse_roots
from closp_core.errors import HrefRefusedError
from tests.data.conftest import read_all
from tests.data.stac import make_data as md


@pytest.mark.parametrize("doc", ["items.json", "catalog/catalog.json"])
def test_collection_and_catalog(doc: str) -> None:
    source = StacSource(md.HERE / doc)
    assert [u.rsplit("#", 1)[1] for u in source.units()] == ["s1-item", "s2-item"]
    chips = read_all(source)
    s1, s2 = chips[0], chips[1:]
    assert s1.key == "stac/s1-item/s1/r0_c0" and s1.sensor is Sensor.S1 and s1.source == "stac"
    assert np.allclose(s1.pixels[0], -9.0) and np.allclose(s1.pixels[1], -17.0)
    assert s1.acquired == dt.datetime(2019, 9, 17, 6, tzinfo=dt.UTC)
    assert len(s2) == 4 and s2[0].sensor is Sensor.S2 and s2[0].pixels.shape == (13, 120, 120)
    assert s2[0].pixels[8, 0, 0] == pytest.approx(
        0.18, abs=0.005
    )  # B8A, named via eo:bands / nir08


def test_single_item() -> None:
    (chip,) = read_all(StacSource(md.HERE / "catalog" / "s1-item" / "s1-item.json"))
    assert chip.scene_id == "s1-item"


def test_item_without_usable_assets(tmp_path: Path) -> None:
    doc = md.item(
        "empty",
        {"datetime": "2020-01-01T00:00:00Z"},
        {"thumbnail": {"href": "t.png", "roles": ["thumbnail"]}, "metadata": {"href": "m.xml"}},
    )
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"empty\.json: item 'empty' has no usable band assets"):
        read_all(StacSource(path))


def test_missing_and_not_stac(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        StacSource(tmp_path / "nope.json").units()
    path = tmp_path / "x.json"
    path.write_text('{"type": "Topology"}')
    with pytest.raises(DataError, match=r"x\.json: not a STAC Item"):
        StacSource(path).units()


def test_hrefs_outside_the_folder_need_a_setting(tmp_path: Path) -> None:
    doc = md.s1_item(md.S1_DIR)
    for pol in ("vv", "vh"):
        doc["assets"][pol]["href"] = str(md.S1_DIR / f"{pol}.tif")  # absolute, elsewhere
    path = tmp_path / "item.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(HrefRefusedError, match="outside the catalogue's folder"):
        read_all(StacSource(path))
    for roots in ((str(md.S1_DIR),), ("*",)):
        (chip,) = read_all(StacSource(path, allowed_roots=roots))
        assert chip.key == "stac/s1-item/s1/r0_c0"


def test_href_policy() -> None:
    remote = HrefPolicy(None)
    base = "https://example.org/stac/items/a.json"
    assert remote.resolve("b.tif", base) == "https://example.org/stac/items/b.tif"
    assert remote.resolve("../b.tif", base) == "https://example.org/stac/b.tif"
    assert remote.resolve("http://other.org/c.tif", base) == "http://other.org/c.tif"
    local = HrefPolicy.for_document(str(md.HERE / "items.json"))
    assert local.resolve("catalog/s1-item/vv.tif", str(md.HERE / "items.json")) == str(
        md.S1_DIR / "vv.tif"
    )
    for bad in ("/vsimem/x.tif", "s3://bucket/x.tif", "../x.tif", "/etc/hostname", "a\nb.tif"):
        with pytest.raises(HrefRefusedError, match=r"refused|control characters"):
            local.resolve(bad, str(md.HERE / "items.json"))
    assert parse_roots(" /a, ,/b ") == ("/a", "/b")
