"""Counting a STAC API search before reading it: the count equals the chips a read yields,
from ``proj:`` fields (no file touched) or from the COG headers (no pixel read). Real server
on 127.0.0.1 (``tests/data/stac_api``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pystac
import pytest

from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.api import StacSearchSource
from closp_core.data.stac.count import count_search, proj_header
from closp_core.errors import DataError
from tests.data.stac_api import layouts
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import FAST, S1, query, read_all, serve

AOI = Aoi.from_bbox("-75.65,37.655,-75.62,37.67")  # inside the Virginia strip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")


def triangle() -> Aoi:
    w, s, e, n = AOI.bounds
    ring = [[w, s], [e, s], [w, n], [w, s]]
    return Aoi.from_geojson({"type": "Polygon", "coordinates": [ring]})


@pytest.mark.parametrize(
    ("layout", "aoi", "from_headers"),
    [
        pytest.param(layouts.pc_s2, AOI, 0, id="pc-proj-fields-box"),
        pytest.param(layouts.pc_s2, "triangle", 0, id="pc-proj-fields-polygon"),
        pytest.param(layouts.earth_search_s2, AOI, 1, id="earth-search-headers"),
    ],
)
def test_the_count_is_what_the_read_yields(
    files: Path, layout: Any, aoi: Aoi | str | None, from_headers: int
) -> None:
    area = triangle() if aoi == "triangle" else aoi
    kw = {"aoi": area} if isinstance(area, Aoi) else {}
    with serve(files, [layout(files)]) as server:
        count = count_search(StacSearchSource(query(server, **kw), remote=FAST))
        counted_bytes = server.total_bytes()
        chips = read_all(StacSearchSource(query(server, **kw), remote=FAST))
    assert (count.items, count.scenes, count.matched) == (1, 1, 1)
    assert count.chips == len(chips) > 0 and count.from_headers == from_headers
    assert not count.failed
    if not from_headers:
        assert counted_bytes == 0  # proj fields only: no file was touched
    else:
        assert counted_bytes <= 13 * FAST.header_bytes  # headers, never the pixels


def test_an_item_without_bands_is_counted_as_failed(files: Path) -> None:
    item = layouts.pc_s1_rtc(files)
    item["assets"] = {"thumbnail": item["assets"]["rendered_preview"]}
    with serve(files, [item]) as server:
        count = count_search(StacSearchSource(query(server, S1), remote=FAST))
    assert count.chips == 0 and count.items == 1
    assert "has no usable band assets" in count.failed[0]


def test_a_failed_search_is_an_error(files: Path) -> None:
    with serve(files, []) as server:
        server.custom["/search"] = lambda handler, method: handler._json({"x": 1}, 500)
        with pytest.raises(DataError, match=r"HTTP 500"):
            count_search(StacSearchSource(query(server), remote=FAST))


@pytest.mark.parametrize(
    ("field", "value"),
    [("proj:shape", [10]), ("proj:transform", ["a"] * 6), ("proj:epsg", "not a crs")],
)
def test_proj_fields_that_do_not_place_a_grid_give_no_header(
    files: Path, field: str, value: object
) -> None:
    doc = layouts.pc_s2(files)
    doc["properties"].pop("proj:epsg")
    doc["assets"]["B02"]["proj:epsg"] = doc["assets"]["B03"]["proj:epsg"] = 32618
    item = pystac.Item.from_dict(doc)
    assert proj_header(item.assets["B03"], item) is not None
    item.assets["B02"].extra_fields[field] = value
    assert proj_header(item.assets["B02"], item) is None
