"""STAC API search -> windowed COG reads over HTTP -> chips, against a real server on 127.0.0.1.

The server (``tests/data/stac_api/server.py``) speaks STAC API item search with paging and
serves real COGs made from ``samples/`` with HTTP Range support; nothing is mocked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pystac
import pytest

from closp_core.bands import Sensor
from closp_core.data import SceneOptions, SceneSource, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.api import StacQuery, StacSearchSource, parse_query, search_items
from closp_core.data.stac.bands import dn_offset, processing_baseline
from closp_core.data.stac.static import safe_key_id
from closp_core.errors import DataError
from tests.data.stac_api import layouts
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import (
    ALL_TIME,
    FAST,
    S1,
    S2,
    WORLD,
    inner_lonlat_box,
    query,
    read_all,
    same_s2_pixels,
    serve,
    virginia_reference,
)

VIRGINIA_AOI = Aoi.from_bbox("-75.65,37.655,-75.62,37.67")  # inside the strip


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    return virginia_reference()  # type: ignore[return-value]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_search_pages_follow_next_links_and_drop_duplicates(files: Path, method: str) -> None:
    a = layouts.pc_s2(files, "a", product="A")
    b = layouts.pc_s2(files, "b", product="B")
    with serve(files, [a, b, a, layouts.pc_s2(files, "c", product="C")]) as server:
        pages: list[tuple[int, int]] = []
        notes: list[str] = []
        q = query(server, page_size=1, method=method)
        ids = [i.id for i in search_items(q, FAST, lambda p, n, d: pages.append((n, d)), notes)]
        # issue 17: a page of ids already seen is how a paging loop looks: it ends the search,
        # with a note (the duplicate is counted)
        assert ids == ["a", "b"]
        assert pages == [(1, 0), (1, 0), (0, 1)]
        assert notes == ["search ended: page 3 repeats items already seen"]
        assert [s.get("token") for s in server.searches] == [None, "1", "2"]
        capped = [i.id for i in search_items(query(server, page_size=1, max_items=2), FAST)]
        assert capped == ["a", "b"]


@pytest.mark.parametrize(
    "make",
    [layouts.earth_search_s2, layouts.pc_s2, layouts.cdse_s2],
    ids=["earth-search", "planetary-computer", "cdse"],
)
def test_s2_layouts_map_bands_and_remove_the_offset(
    files: Path, reference: dict[str, object], make: object
) -> None:
    item = make(files)  # type: ignore[operator]
    with serve(files, [item]) as server:
        source = StacSearchSource(query(server, aoi=VIRGINIA_AOI), remote=FAST)
        chips = read_all(source)
    assert chips and all(c.sensor is Sensor.S2 and c.key.startswith("stac/") for c in chips)
    for chip in chips:  # +1000 DN in the files, none in the band contract
        assert same_s2_pixels(chip, reference[chip.key.rsplit("/", 1)[1]])  # type: ignore[arg-type]
    assert chips[0].acquired is not None and chips[0].acquired.year == 2023


def test_cdse_reads_the_10m_alternate_not_s3_or_coarser(files: Path) -> None:
    with serve(files, [layouts.cdse_s2(files)]) as server:
        read_all(StacSearchSource(query(server, aoi=VIRGINIA_AOI), remote=FAST))
        paths = {path for _, path in server.requests if path.startswith("/files/")}
    assert any(p.endswith("_B02_10m.jp2") for p in paths)
    assert not any("B02_20m" in p or "B02_60m" in p for p in paths)


def test_s1_rtc_linear_gamma0_becomes_db(files: Path) -> None:
    spain = SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif"
    expected = {c.key.rsplit("/", 1)[1]: c for c in read_all(SceneSource(spain))}
    with serve(files, [layouts.pc_s1_rtc(files)]) as server:
        chips = read_all(StacSearchSource(query(server, S1), remote=FAST))
    assert len(chips) == len(expected) == 25
    for chip in chips:
        assert chip.sensor is Sensor.S1
        np.testing.assert_allclose(
            chip.pixels, expected[chip.key.rsplit("/", 1)[1]].pixels, atol=1e-3
        )


def test_aoi_limits_chips_and_bytes(files: Path, reference: dict[str, object]) -> None:
    item = layouts.pc_s2(files)
    with serve(files, [item]) as server:
        chips = read_all(StacSearchSource(query(server, aoi=VIRGINIA_AOI), remote=FAST))
        aoi_bytes = server.total_bytes()
    with serve(files, [item]) as server:
        everything = read_all(StacSearchSource(query(server), remote=FAST))
        all_bytes = server.total_bytes()
    expected = {k for k, c in reference.items() if VIRGINIA_AOI.meets(c.footprint)}  # type: ignore[attr-defined]
    assert {c.key.rsplit("/", 1)[1] for c in chips} == expected
    assert 0 < len(chips) < len(everything) == 64
    assert aoi_bytes < 0.45 * all_bytes  # small files: 20/60 m bands are a few tiles wide


def test_polygon_aoi_keeps_only_chips_in_the_polygon(files: Path) -> None:
    w, s, e, n = VIRGINIA_AOI.bounds
    triangle = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [w, n], [w, s]]]}
    aoi = Aoi.from_geojson({"type": "Feature", "geometry": triangle, "properties": {}})
    with serve(files, [layouts.pc_s2(files)]) as server:
        tally = Tally()
        chips = read_all(StacSearchSource(query(server, aoi=aoi), remote=FAST), tally)
        assert "intersects" in server.searches[0]
    assert chips and all(aoi.meets(c.footprint) for c in chips)
    assert tally.skipped["outside the AOI"] > 0


def test_item_that_only_touches_the_aoi_gives_nothing(files: Path) -> None:
    s1 = layouts.pc_s1_rtc(files)
    _, south, east, north = s1["bbox"]
    touching = Aoi.from_bbox((east, south, east + 0.01, north))
    with serve(files, [s1]) as server:
        tally = Tally()
        source = StacSearchSource(query(server, S1, aoi=touching), remote=FAST)
        assert len(source.units()) == 1  # the API returns it: its box touches the AOI
        assert read_all(source, tally) == [] and not tally.flagged
        assert server.total_bytes() <= 2 * FAST.header_bytes  # the two headers only


def test_scene_split_over_items_is_one_scene_with_stable_keys(
    files: Path, reference: dict[str, object]
) -> None:
    bands = tuple(layouts.COMMON)
    part1 = layouts.pc_s2(files, "split-b", bands=bands[:6])
    part2 = layouts.pc_s2(files, "split-a", bands=bands[6:])
    with serve(files, [part1, part2]) as server:
        source = StacSearchSource(query(server, aoi=VIRGINIA_AOI), remote=FAST)
        assert source.units() == ["split-a (1/1)"]
        chips = read_all(source)
        again = read_all(StacSearchSource(query(server, aoi=VIRGINIA_AOI), remote=FAST))
    assert all(c.key.startswith("stac/split-a/s2/") and c.scene_id == "split-a" for c in chips)
    assert [c.key for c in chips] == [c.key for c in again]
    assert all(same_s2_pixels(c, reference[c.key.rsplit("/", 1)[1]]) for c in chips)  # type: ignore[arg-type]


def test_query_and_filter_reach_the_api(files: Path) -> None:
    items = [
        layouts.pc_s2(files, "clear", product="P1", cloud=2.0),
        layouts.pc_s2(files, "cloudy", product="P2", cloud=80.0),
    ]
    with serve(files, items) as server:
        cql2_json = '{"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]}'
        for kw in (
            {"query": ("eo:cloud_cover<10",)},
            {"filter": "eo:cloud_cover < 10"},
            {"filter": cql2_json},
        ):
            assert [i.id for i in search_items(query(server, **kw), FAST)] == ["clear"]
    assert parse_query(("eo:cloud_cover<=5", '{"s2:mgrs_tile": {"eq": "18SVG"}}')) == {
        "eo:cloud_cover": {"lte": 5.0},
        "s2:mgrs_tile": {"eq": "18SVG"},
    }


def test_signer_hook_signs_asset_urls(files: Path) -> None:
    signed: list[str] = []

    def sign(href: str) -> str:
        signed.append(href)
        return f"{href}?st=2023&sig=test"

    with serve(files, [layouts.pc_s1_rtc(files)]) as server:
        server.signed.add("/files/s1/")
        chips = read_all(StacSearchSource(query(server, S1), signer=sign, remote=FAST))
    assert len(chips) == 25 and all(h.startswith("http://127.0.0.1") for h in signed)


def test_a_10980_px_scene_reads_only_the_aoi(
    files: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("big")
    big = md.write_big_cog(folder / "big.tif")  # one band, all 12 assets point at it
    item = layouts.pc_s2(files, "big-tile")
    for band in layouts.COMMON:
        item["assets"][band]["href"] = "{base}/files/big.tif"
    place = layouts.footprint(big)
    item["bbox"], item["geometry"] = place["bbox"], place["geometry"]
    aoi = inner_lonlat_box(big, rows=(1040, 2138), cols=(1040, 2138))  # ~1 % of the tile
    with serve(folder, [item]) as server:
        chips = read_all(StacSearchSource(query(server, aoi=aoi), remote=FAST))
        share = server.total_bytes() / big.stat().st_size
    assert 80 <= len(chips) <= 100
    assert share < 0.05, f"read {share:.1%} of the file for a 1 % AOI"


def test_dn_offset_rule() -> None:
    def item(props: dict[str, object], **asset: object) -> tuple[pystac.Item, pystac.Asset]:
        doc = layouts.feature(
            "x",
            "sentinel-2-l2a",
            {"bbox": None, "geometry": None},
            props,
            {"B04": {"href": "b.tif", **asset}},
        )
        parsed = pystac.Item.from_dict(doc, migrate=False)
        return parsed, parsed.assets["B04"]

    rb = {"raster:bands": [{"scale": 0.0001, "offset": -0.1}]}
    assert dn_offset(*item({}, **rb), 0) == pytest.approx(-1000)
    assert dn_offset(*item({"earthsearch:boa_offset_applied": True}, **rb), 0) == 0
    assert dn_offset(*item({"s2:processing_baseline": "05.10"}), 0) == -1000
    assert dn_offset(*item({"s2:processing_baseline": "02.14"}), 0) == 0
    assert dn_offset(*item({"s2:processing_baseline": "05.10"}, **{"raster:offset": 0}), 0) == 0
    assert dn_offset(*item({"processing:version": "04.00"}), 0) == -1000
    uri = {"s2:product_uri": "S2A_MSIL1C_20220301T000000_N0400_R001_T01ABC_20220301T0.SAFE"}
    assert processing_baseline(item(uri)[0]) == 4.0
    assert dn_offset(*item({}), 0) is None  # nothing said: read as 0, the guard may speak


def test_safe_key_ids() -> None:
    assert safe_key_id("S2B_18SVG_20230112_0_L2A") == "S2B_18SVG_20230112_0_L2A"
    for bad in ("../../etc/passwd", "<script>alert(1)</script>", "a\x00b\nc", "..", "a/b"):
        key = safe_key_id(bad)
        assert ".." not in key and "/" not in key and "<" not in key
        assert all(ch.isalnum() or ch in "._-" for ch in key)
    assert safe_key_id("a/b") != safe_key_id("a_b")


def test_bad_search_arguments_fail_before_sending(files: Path) -> None:
    with serve(files, []) as server:
        with pytest.raises(DataError, match="give START/END"):
            query(server, datetime="../..")
        with pytest.raises(DataError, match="not both"):
            query(server, filter="a < 1", query=("a<1",))
        with pytest.raises(DataError, match="PROPERTY OP VALUE"):
            query(server, query=("cloudy please",))
        with pytest.raises(DataError, match="must be at least 1"):
            query(server, max_items=0)
        assert server.requests == []
    with pytest.raises(DataError, match="give an http"):
        StacQuery("ftp://example.org", S2, WORLD, ALL_TIME)


def test_scene_options_still_apply(files: Path) -> None:
    with serve(files, [layouts.pc_s1_rtc(files)]) as server:
        options = SceneOptions(labels=("Water",), stride=240)
        chips = read_all(StacSearchSource(query(server, S1), options, remote=FAST))
    assert len(chips) == 9 and all(c.labels == ("Water",) for c in chips)
