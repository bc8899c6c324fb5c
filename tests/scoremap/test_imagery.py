"""The selected chips' imagery read again from the sources named in their payload (``origin``)
and written as COGs: read back with rasterio, each equals its source window; chips that cannot
be exported are named with the reason."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import pystac
import pytest
import rasterio
from rasterio.windows import Window

from closp_core.bands import Sensor
from closp_core.embedder import Embedder
from closp_core.errors import ScoreMapError
from closp_core.records import ChipRecord, OriginBand
from closp_core.scoremap import ScoreMap, ScoreMapRequest, score_map
from closp_core.scoremap.export import write_exports
from closp_core.scoremap.imagery import MAX_CHIPS, NO_ORIGIN, export_imagery
from closp_core.search import SearchRequest
from closp_core.store import BBox, VectorStore
from tests.store import conftest as store_fixtures

SPAIN = BBox(-0.79, 38.08, -0.73, 38.13)


def _source_window(record: ChipRecord, band: int) -> np.ndarray:
    """Band ``band`` (0-based) of the chip's window, read straight from its file."""
    origin = record.origin
    assert origin is not None
    ref = origin.bands[band]
    with rasterio.open(ref.href) as src:
        window = Window(origin.col, origin.row, origin.size, origin.size)
        return src.read(ref.index, window=window)


def _pick(records: list[ChipRecord], sensor: Sensor, source: str) -> ChipRecord:
    return next(r for r in records if r.sensor is sensor and r.source == source)


def test_chip_cogs_equal_their_source_windows(
    multidate_store: VectorStore, multidate_records: list[ChipRecord], tmp_path: Path
) -> None:
    s2 = _pick(multidate_records, Sensor.S2, "scene")
    s1 = _pick(multidate_records, Sensor.S1, "scene")
    ben = _pick(multidate_records, Sensor.S2, "bigearthnet")
    keys = [s2.key, s1.key, ben.key, "no/such/chip"]
    report = export_imagery(multidate_store, keys, tmp_path / "img")
    assert [c.key for c in report.chips] == keys  # every chip asked for is reported
    assert report.missing[0].reason == "not in the index" and len(report.written) == 3
    paths = {c.key: c.path for c in report.written}
    with rasterio.open(paths[s2.key]) as src:
        assert src.crs.to_string() == s2.crs == "EPSG:4326" and src.dtypes[0] == "uint16"
        assert src.descriptions[:4] == ("B1", "B2", "B3", "B4") and src.count == 13
        assert src.tags()["units"].startswith("DN") and src.nodata == 0
        assert src.transform.almost_equals(rasterio.Affine(*s2.origin.transform))  # type: ignore[union-attr]
        for band in (1, 7, 12):
            np.testing.assert_array_equal(src.read(band + 1), _source_window(s2, band))
    with rasterio.open(paths[s1.key]) as src:
        assert src.descriptions == ("VV", "VH") and src.dtypes == ("float32", "float32")
        assert src.tags()["units"] == "dB"
        np.testing.assert_array_equal(src.read(1), _source_window(s1, 0))
        np.testing.assert_array_equal(src.read(2), _source_window(s1, 1))
    with rasterio.open(paths[ben.key]) as src:  # per-band files; 20/60 m bands resampled
        assert src.crs.to_string() == ben.crs and src.crs.is_projected and src.res == (10, 10)
        b2 = src.descriptions.index("B2") + 1
        np.testing.assert_array_equal(src.read(b2), _source_window(ben, b2 - 1))


def test_chips_without_a_readable_source_are_reported(
    multidate_records: list[ChipRecord], demo_embedder: Embedder, tmp_path: Path
) -> None:
    base = _pick(multidate_records, Sensor.S1, "scene")
    origin = base.origin
    assert origin is not None
    gone = dataclasses.replace(
        origin, bands=tuple(OriginBand(b.name, str(tmp_path / "moved.tif")) for b in origin.bands)
    )
    shifted = dataclasses.replace(origin, transform=(1e-4, 0, 10.0, 0, -1e-4, 50.0, 0, 0, 1)[:6])
    records = [
        dataclasses.replace(base, key="legacy/chip", origin=None),
        dataclasses.replace(base, key="gone/chip", origin=gone),
        dataclasses.replace(base, key="changed/chip", origin=shifted),
    ]
    store = store_fixtures.open_backend("memory", tmp_path, demo_embedder.model_id)
    store.upsert(records)
    report = export_imagery(store, [r.key for r in records], tmp_path / "img")
    assert not report.written
    reasons = [c.reason for c in report.missing]
    assert reasons[0] == NO_ORIGIN and "re-ingest" in reasons[0]
    assert "cannot be read" in reasons[1] and "moved.tif" in reasons[1]
    assert "grid changed" in reasons[2]
    assert report.lines()[0] == f"legacy/chip: not exported: {NO_ORIGIN}"
    with pytest.raises(ScoreMapError, match=f"at most {MAX_CHIPS}"):
        export_imagery(store, [f"k{i}" for i in range(MAX_CHIPS + 1)], tmp_path)
    with pytest.raises(ScoreMapError, match=r"imagery folder .*name another"):
        export_imagery(store, ["legacy/chip"], Path("/proc/closp-no-folder"))
    store.close()


def test_stac_lists_the_chip_images(
    multidate_store: VectorStore, demo_embedder: Embedder, tmp_path: Path
) -> None:
    search = SearchRequest(text="flooded area", bbox=SPAIN, limit=3)
    smap: ScoreMap = score_map(multidate_store, ScoreMapRequest(search), demo_embedder)
    with pytest.raises(ScoreMapError, match="pass store="):
        write_exports(smap, imagery=tmp_path / "img")
    written = write_exports(
        smap,
        score_map=tmp_path / "m.tif",
        stac=tmp_path / "s.json",
        imagery=tmp_path / "img",
        store=multidate_store,
    )
    assert written.imagery is not None and len(written.imagery.written) == 3
    rows = json.loads(written["imagery"].read_text())
    assert [r["key"] for r in rows] == smap.top_keys and all(r["file"] for r in rows)
    items = list(pystac.ItemCollection.from_file(str(written["stac"])))
    assert len(items) == 4 and items[0].properties["closp:imagery_missing"] == []
    chip = items[1]
    assert chip.properties["closp:key"] == smap.top_keys[0]
    image = chip.assets["image"]
    assert image.media_type == pystac.MediaType.COG and image.href.startswith("img/")
    with rasterio.open(tmp_path / image.href) as src:
        names = [b["name"] for b in image.extra_fields["eo:bands"]]
        assert list(src.descriptions) == names


def test_crisislandmark_chips_export_from_their_shard(tmp_path: Path) -> None:
    """HDF5 chips: the ``image`` planes in the source's band order (conventions applied), on
    the grid of their ``coords``."""
    from closp_core.data import CrisisLandMarkSource
    from closp_core.data.chip import chip_record
    from closp_core.scoremap.imagery import write_chip_cog
    from tests.data.conftest import read_all
    from tests.data.crisislandmark import make_data as md

    chips = {c.scene_id: c for c in read_all(CrisisLandMarkSource(md.ROOT), None)}
    vector = np.ones(384, np.float32) / np.sqrt(384)
    s2 = chip_record(chips["benv2s2_000"], vector)
    with rasterio.open(write_chip_cog(s2, tmp_path / "s2.tif")) as src:
        assert src.crs.to_string() == "EPSG:32635" and src.count == 12  # stored without B10
        assert "B10" not in src.descriptions and src.dtypes[0] == "uint16"
        assert src.read(src.descriptions.index("B11") + 1)[0, 0] == 2000  # 0.2 x 10000
        centre = src.xy(0, 0)  # the first pixel's centre sits on its stored coordinate
    with h5py.File(s2.origin.bands[0].href) as shard:  # type: ignore[union-attr]
        coords = shard[s2.origin.dataset.rsplit("/", 1)[0] + "/coords"][:, 0, 0]  # type: ignore[union-attr]
    assert centre == pytest.approx(tuple(coords), abs=1e-6)
    s1 = chip_record(chips["benv2s1_000"], vector)  # channels stored VH, VV: reversed
    with rasterio.open(write_chip_cog(s1, tmp_path / "s1.tif")) as src:
        assert src.descriptions == ("VV", "VH")
        assert np.allclose(src.read(1), -11.0) and np.allclose(src.read(2), -18.0)


def test_origin_payload_round_trip() -> None:
    """Compact in the payload (hrefs once, their common folder once), the same back."""
    from closp_core.errors import StoreInputError
    from closp_core.records import ChipOrigin
    from closp_core.store.payload import _origin

    url = "https://data.example/s2/T33/"
    origin = ChipOrigin(
        (OriginBand("B2", url + "B02.tif", 1, -1000.0), OriginBand("B8A", url + "B8A.tif")),
        row=240, col=360, size=120, crs="EPSG:32633",
        transform=(10.0, 0.0, 300000.0, 0.0, -10.0, 5000000.0), zero_is_nodata=True,
    )  # fmt: skip
    body = origin.as_json()
    assert body["root"] == url and body["files"] == ["B02.tif", "B8A.tif"]
    assert "resampling" not in body and body["zero_is_nodata"] is True
    assert ChipOrigin.from_json(body) == origin
    assert _origin({"files": []}) is None and _origin(None) is None  # the export says why
    with pytest.raises(StoreInputError, match="not a stored origin"):
        ChipOrigin.from_json({"root": "", "files": [], "bands": [["B2", 3, 1, None]]})
