"""The score map on the Search page (AppTest): the button scores every chip in view and draws
one raster overlay with a legend, the threshold slider moves the area figure, the share link
reproduces the map, 👍 / 👎 marks make it a probability map and the change mode draws
after − before."""

from __future__ import annotations

import io
import threading
import zipfile

import numpy as np
import pytest
import rasterio
from streamlit.testing.v1 import AppTest

from closp_core.scoremap import ScoreKind, ScoreMap
from tests.app.test_loop import search
from ui.scoremap import scoring_pool

SPAIN = "-0.79,38.07,-0.73,38.14"


def score_map_of(at: AppTest) -> ScoreMap:
    """The page's score map; one still computing (on the app's worker) is waited for and
    picked up by the next run, as the page's polling fragment would in a browser."""
    assert not at.exception and not at.error, [e.value for e in at.error]
    if "s_scoremap_pending" in at.session_state:
        at.session_state["s_scoremap_pending"][1].result(timeout=120)
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    return at.session_state["s_scoremap_memo"][1]  # type: ignore[no-any-return]


def area_metric(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Area ≥ t (map)")


@pytest.mark.usefixtures("app_data")
def test_button_slider_and_share_link() -> None:
    at = search("flooded fields", bbox=SPAIN)
    assert not at.metric  # no score map until asked
    at.button(key="score_map_button").click().run()
    smap = score_map_of(at)
    assert at.query_params["smap"] == "1"
    assert smap.kind is ScoreKind.COSINE and np.isfinite(smap.grid.values).any()
    assert at.slider(key="w_score_t").value == pytest.approx(smap.suggested, abs=1e-3)
    before = area_metric(at)
    high = float(np.nanmax(smap.scores)) - 1e-3
    at.slider(key="w_score_t").set_value(high).run()
    assert area_metric(at) != before  # the area figure follows the slider
    assert float(at.query_params["st"]) == pytest.approx(high, abs=1e-3)
    link = {k: at.query_params[k] for k in ("q", "bbox", "smap", "st")}
    count = len(smap.table)
    again = search(**{"query": link.pop("q"), **link})
    assert area_metric(again) == area_metric(at)  # the share link reproduces the map
    np.testing.assert_array_equal(score_map_of(again).grid.values, smap.grid.values)
    labels = [m.label for m in at.metric]
    assert labels == ["Area ≥ t (map)", "S1 ≥ t", "S2 ≥ t"]
    assert {b.label for b in at.get("download_button")} >= {"score-map.tif", "area.gpkg"}
    assert count == 50  # every chip in view: the Spain S1 and S2 scenes, 25 chips each
    west, south, east, north = map(float, SPAIN.split(","))
    lon, lat = smap.table.centers[:, 0], smap.table.centers[:, 1]
    assert ((lon > west) & (lon < east) & (lat > south) & (lat < north)).all()


@pytest.mark.usefixtures("multidate_data")
def test_change_variant_draws_after_minus_before() -> None:
    at = search("flooded area", bbox=SPAIN, smap="1", mode="change", when="2019-09-01")
    smap = score_map_of(at)
    assert smap.kind is ScoreKind.CHANGE and smap.request.change_after is not None
    assert np.nanmax(smap.grid.values) > 0.05


@pytest.mark.usefixtures("app_data")
def test_scoring_never_blocks_the_page() -> None:
    """While the worker is busy (as with a 1M-chip area) the page run ends without the map:
    the results, gallery and map are drawn and usable, a note says the map is coming; the
    next run after it is done draws it. Then the top chips' imagery exports as COGs."""
    at = search("flooded fields", bbox=SPAIN)
    busy = threading.Event()
    blocker = scoring_pool().submit(busy.wait, 60)  # the real worker, held
    try:
        at.button(key="score_map_button").click().run()
        assert not at.exception and "s_scoremap_memo" not in at.session_state
        assert any("Scoring every chip in view" in c.value for c in at.caption)
        assert not at.metric  # no area figures yet, but the results and the gallery are there
        assert at.button(key="fb_g1_1") and at.button(key="gallery_all")
    finally:
        busy.set()
        blocker.result(timeout=60)
    smap = score_map_of(at)
    assert area_metric(at) and np.isfinite(smap.grid.values).any()
    at.button(key="w_score_imagery").click().run()
    assert not at.exception and not at.warning  # every top chip of the sample index exported
    assert "imagery.zip" in {b.label for b in at.get("download_button")}
    _, body, report = at.session_state["s_scoremap_imagery"]  # the zip offered for download
    assert len(report.written) == len(smap.top) > 0
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        names = zipped.namelist()
        assert "stac.json" in names and "imagery/report.json" in names
        chip = next(n for n in names if n.startswith("imagery/") and n.endswith(".tif"))
        with rasterio.open(io.BytesIO(zipped.read(chip))) as src:
            assert src.crs is not None and src.descriptions[0] in {"B1", "VV"}
