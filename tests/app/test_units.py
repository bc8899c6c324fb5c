"""The app's plain-Python parts: URL state, filters, "Near here", exports, previews, maps."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import json
from pathlib import Path

import folium
import numpy as np
import pytest
from streamlit_folium import _get_feature_group_string

from closp_core.bands import Sensor
from closp_core.errors import ClospError, SearchError
from closp_core.feedback import FeedbackLabels
from closp_core.search import blend_near
from closp_core.search.export import hits_csv, hits_geojson
from closp_core.settings import Settings
from closp_core.store import (
    ChipRecord,
    GeoPolygon,
    Hit,
    StoreInputError,
    open_store,
    stored_model_id,
)
from tests.app.conftest import ROOT
from ui import session
from ui.maps import (
    OPENED_COLOUR,
    footprint_bounds,
    hit_at,
    nearest_record,
    results_layers,
    score_colour,
    search_base_map,
    union_bounds,
)
from ui.mapview import area_change
from ui.offline import STATIC_URL, base_map
from ui.previews import safe_preview_path
from ui.query import filters_for, request_for
from ui.state import FIELDS, MAX_QUERY_CHARS, SearchState, dropped_params, from_params, to_params

RING = ((10.0, 45.0), (10.02, 45.0), (10.02, 45.01), (10.0, 45.01), (10.0, 45.0))


def record(key: str = "k1", labels: tuple[str, ...] = ("Water",)) -> ChipRecord:
    return ChipRecord(
        key=key,
        vector=None,
        sensor=Sensor.S2,
        source="test",
        labels=labels,
        acquired=dt.datetime(2020, 5, 1, tzinfo=dt.UTC),
        center=(10.01, 45.005),
        footprint=GeoPolygon(RING),
        previews={"true_color": "previews/none.jpg"},
    )


def test_closp_core_and_ingest_never_import_streamlit() -> None:
    offenders = []
    for package in ("closp_core", "ingest"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n.split(".")[0] in {"streamlit", "streamlit_folium", "ui"} for n in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_state_round_trips_through_the_url() -> None:
    state = SearchState(
        query="burned forest",
        events=("Burned Area",),
        land_cover=("Trees", "Grass"),
        sensor="s2",
        date_from=dt.date(2020, 1, 1),
        date_to=dt.date(2020, 12, 31),
        limit=20,
        composite="swir",
        basemap="esri",
        in_view=True,
        bbox=(-1.0, 37.0, 0.5, 38.5),
        area=RING,
        view=(45.0, 10.0, 9),
        selected="benv2s2_x",
        like="benv2s2_y",
        near=(10.0, 45.0),
    )
    params = {k: v if isinstance(v, list) else [v] for k, v in to_params(state).items()}
    assert from_params(params) == state
    assert to_params(SearchState()) == {}


def test_share_links_keep_their_format() -> None:
    """The URL a state writes, key by key, as links shared before the field table did."""
    state = SearchState(
        query="flooded fields",
        events=("Flooded Area",),
        land_cover=("Trees", "Grass"),
        sensor="s1",
        date_from=dt.date(2019, 9, 1),
        limit=20,
        in_view=True,
        bbox=(-0.8, 38.0, -0.70001, 38.2),
        area=RING,
        view=(38.1, -0.75, 12),
        selected="scene/a",
        near=(-0.75, 38.125),
        feedback="AbC-_.xY",
        hide_labelled=True,
        mode="change",
        event_date=dt.date(2019, 9, 13),
        timeline=True,
        compare=("scene/a", "scene/b"),
    )
    assert to_params(state) == {
        "q": "flooded fields",
        "event": ["Flooded Area"],
        "cover": ["Trees", "Grass"],
        "sensor": "s1",
        "from": "2019-09-01",
        "n": "20",
        "inview": "1",
        "bbox": "-0.8,38,-0.70001,38.2",
        "area": "10,45;10.02,45;10.02,45.01;10,45.01;10,45",
        "view": "38.1,-0.75,12",
        "chip": "scene/a",
        "near": "-0.75,38.125",
        "fb": "AbC-_.xY",
        "hidel": "1",
        "mode": "change",
        "when": "2019-09-13",
        "tl": "1",
        "cmp": "scene/a|scene/b",
    }
    assert list(to_params(state)) == [f.url for f in FIELDS if f.url in to_params(state)]
    params = {k: v if isinstance(v, list) else [v] for k, v in to_params(state).items()}
    assert from_params(params) == state
    link = {"q": ["a b"], "cover": ["Grass", "Trees"], "like": ["k"], "comp": ["swir"]}
    assert from_params(link) == SearchState(
        query="a b", land_cover=("Trees", "Grass"), like="k", composite="swir"
    )  # labels in the label space's order, whatever the link's


def test_the_field_table_names_each_key_once() -> None:
    assert len({f.url for f in FIELDS}) == len({f.key for f in FIELDS}) == len(FIELDS)
    assert {f.name for f in FIELDS} == {f.name for f in dataclasses.fields(SearchState)}
    assert session.WIDGETS[session.W_QUERY] == "query" and session.OTHERS["s_area"] == "area"
    assert set(session.WIDGETS) | set(session.OTHERS) == {f.key for f in FIELDS}
    assert from_params({}) == SearchState() and to_params(SearchState()) == {}


def test_request_for_state() -> None:
    labels = FeedbackLabels.of({"a": 1})
    state = SearchState(query="water", near=(1.0, 2.0), land_cover=("Water",), hide_labelled=True)
    request = request_for(state, labels, text_weight=0.3)
    assert (request.text, request.near, request.text_weight) == ("water", (1.0, 2.0), 0.3)
    assert request.marks == labels and request.hide_labelled and request.labels == ("Water",)
    assert request_for(state, with_near=False).near is None  # not a GeoCLOSP model
    liked = request_for(dataclasses.replace(state, like="k"))
    assert (liked.like, liked.text, liked.near) == ("k", "", None)  # "More like this" wins
    assert request_for(SearchState(sensor="s2")).sensor is Sensor.S2
    assert not request_for(SearchState()).has_query


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": ["a\x00b  c"]}, SearchState(query="a b c")),
        ({"q": ["x" * 999]}, SearchState(query="x" * MAX_QUERY_CHARS)),
        ({"n": ["1e9"], "sensor": ["s3"], "comp": ["../x"]}, SearchState()),
        ({"n": ["100000"]}, SearchState(limit=200)),
        (
            {"event": ["Fire", "Flooded Area"], "cover": ["Flooded Area"]},
            SearchState(events=("Flooded Area",)),
        ),
        (
            {"bbox": ["5,5,1,1"], "area": ["1,1;2,2"], "near": ["200,1"], "view": ["1,2,99"]},
            SearchState(),
        ),
        ({"from": ["2020-13-01"], "chip": ["a\nb"]}, SearchState()),
    ],
)
def test_invalid_url_values_fall_back_to_defaults(
    params: dict[str, list[str]], expected: SearchState
) -> None:
    assert from_params(params) == expected


def test_filters_for_state() -> None:
    state = SearchState(
        events=("Flooded Area",),
        sensor="s1",
        date_from=dt.date(2019, 9, 17),
        date_to=dt.date(2019, 9, 17),
        in_view=True,
        bbox=(-1.0, 37.0, 0.0, 39.0),
        area=RING,
    )
    filters = filters_for(state)
    assert filters.labels == ("Flooded Area",) and filters.sensor is Sensor.S1
    assert filters.time is not None and filters.time.end is not None
    assert filters.time.end - filters.time.start == dt.timedelta(days=1, microseconds=-1)
    assert filters.bbox is not None and filters.polygon is not None
    assert filters_for(SearchState(bbox=(-1.0, 37.0, 0.0, 39.0))).bbox is None  # not in_view
    with pytest.raises(SearchError, match="is after date_to"):
        filters_for(SearchState(date_from=dt.date(2020, 2, 1), date_to=dt.date(2020, 1, 1)))
    with pytest.raises(StoreInputError, match="reversed"):
        filters_for(SearchState(in_view=True, bbox=(1.0, 37.0, 0.0, 39.0)))


def test_blend_near_is_a_normalised_weighted_sum() -> None:
    text = np.eye(384, dtype=np.float32)[0]
    place = np.eye(384, dtype=np.float32)[1]
    mixed = blend_near(text, place, 0.5)
    assert np.isclose(np.linalg.norm(mixed), 1.0) and np.isclose(mixed[0], mixed[1])
    assert np.allclose(blend_near(None, place, 0.5), place)
    assert np.allclose(blend_near(text, place, 1.0), text)
    with pytest.raises(ClospError, match="between 0 and 1"):
        blend_near(text, place, 1.5)
    with pytest.raises(ClospError, match="cancel out"):
        blend_near(text, -text, 0.5)


def test_exports_parse_and_carry_properties() -> None:
    hits = [Hit(record("a", ("Flooded Area", "Crops")), 0.5), Hit(record("b"), 0.25)]
    collection = json.loads(hits_geojson(hits))
    assert [f["properties"]["rank"] for f in collection["features"]] == [1, 2]
    first = collection["features"][0]
    assert first["geometry"]["type"] == "Polygon"
    assert first["properties"]["labels"] == "Flooded Area; Crops"
    rows = hits_csv(hits).splitlines()
    assert rows[0].startswith("rank,score,key,sensor") and len(rows) == 3
    assert hits_csv([]).strip() == "rank,score,key"


def test_preview_paths_stay_inside_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "previews").mkdir(parents=True)
    (data / "previews" / "a.jpg").write_bytes(b"jpg")
    (tmp_path / "secret.jpg").write_bytes(b"no")
    (data / "previews" / "notes.txt").write_text("no")
    (data / "previews" / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    assert safe_preview_path(data, "previews/a.jpg") == (data / "previews" / "a.jpg").resolve()
    for bad in (
        "../secret.jpg",
        str(tmp_path / "secret.jpg"),
        "previews/notes.txt",
        "previews/link.jpg",
        "previews/missing.jpg",
        "",
        None,
    ):
        assert safe_preview_path(data, bad) is None


def test_map_assets_are_local_only() -> None:
    fmap = search_base_map(SearchState())
    results_layers([Hit(record(), 0.3)], Path("/nonexistent"), SearchState()).add_to(fmap)
    links: list[str] = []
    for element in [fmap, *fmap._children.values()]:
        links += [src for _, src in getattr(element, "default_js", [])]
        links += [href for _, href in getattr(element, "default_css", [])]
    assert links and all(link.startswith(STATIC_URL) for link in links)
    for link in links:
        assert (ROOT / "static" / link.removeprefix(STATIC_URL + "/")).is_file()
    assert (ROOT / "static" / "basemap" / "countries-110m.geojson").is_file()
    html = fmap.get_root().render()
    assert "L.polygon" in html and "countries-110m.geojson" in html
    assert isinstance(base_map("osm"), folium.Map)


def test_hit_at_and_score_colours() -> None:
    hits = [Hit(record("low"), 0.1), Hit(record("high"), 0.9)]
    assert hit_at(hits, 10.01, 45.005) == "high"
    assert hit_at(hits, 11.0, 45.005) is None
    assert score_colour(0.9, 0.1, 0.9) != score_colour(0.1, 0.1, 0.9)
    assert score_colour(0.5, 0.5, 0.5) == score_colour(1.0, 0.0, 1.0)


def test_map_boxes_in_leaflet_order_and_the_nearest_chip() -> None:
    assert footprint_bounds(record()) == [[45.0, 10.0], [45.01, 10.02]]  # [[S, W], [N, E]]
    assert union_bounds([[[45.0, 10.0], [45.01, 10.02]], [[-1.0, 5.0], [0.0, 6.0]]]) == [
        [-1.0, 5.0],
        [45.01, 10.02],
    ]
    assert union_bounds([]) is None
    far = ChipRecord(key="far", vector=None, sensor=Sensor.S1, source="test", center=(11.0, 45.0))
    records = [ChipRecord(key="none", vector=None, sensor=Sensor.S1, source="t"), record(), far]
    assert nearest_record(records, 10.0, 45.0) == "k1"
    assert nearest_record(records, 10.96, 45.0) == "far"
    assert nearest_record(records, 10.5, 45.0) is None  # nothing within 0.05 degrees
    assert hit_at([Hit(record(), 0.5)], 10.0, 45.005) == "k1"  # on the footprint's edge


def _hits_like_the_first_chip(limit: int) -> list[Hit]:
    """``limit`` hits of the app's index for the first chip's own vector."""
    settings = Settings.load()
    store = open_store(settings, stored_model_id(settings))
    try:
        first = next(store.iter_records())
        query = store.get([first.key], with_vectors=True)[0].vector
        assert query is not None
        return store.search(query, limit=limit)
    finally:
        store.close()


def test_layers_give_st_folium_the_same_script_without_folium_html(app_data: Path) -> None:
    """``Layers.scripts_only`` (what ``show_map`` sets) skips folium's HTML rendering; the
    script ``st_folium`` builds from it, previews and popups included, is the same."""
    hits = _hits_like_the_first_chip(50)
    state = SearchState(query="q")
    scripts = []
    for scripts_only in (False, True):
        layers = results_layers(
            hits, app_data, state, fit_key="f", labels=FeedbackLabels.of({hits[3].key: 1})
        )
        layers.scripts_only = scripts_only
        scripts.append(_get_feature_group_string(layers, search_base_map(state)))
    assert len(hits) == 50 and scripts[0].count("L.imageOverlay(") == 50
    assert scripts[0].count(".addTo(") >= 100  # the overlays, shapes, dots and the group
    assert scripts[1] == scripts[0]


def test_an_opened_chip_is_outlined_and_brought_into_view_once(app_data: Path) -> None:
    """ "Open" (``state.selected``): a thick outline of its own colour, and a fit to the chip in
    its own slot, so the results frame and the opened chip never undo each other."""
    hits = _hits_like_the_first_chip(10)
    opened = hits[4]
    plain = _get_feature_group_string(
        results_layers(hits, app_data, SearchState(query="q"), fit_key="f"),
        search_base_map(SearchState()),
    )
    state = SearchState(query="q", selected=opened.key)
    script = _get_feature_group_string(
        results_layers(hits, app_data, state, fit_key="f", opened=opened.key),
        search_base_map(state),
    )
    assert OPENED_COLOUR not in plain
    assert script.count("closp-opened") == 1 and OPENED_COLOUR in script
    assert '__clospFitted["chip"] !== "open:' + opened.key in script
    assert '__clospFitted["results"] !== "f"' in script and "maxZoom: 13" in script
    assert json.dumps(footprint_bounds(opened.record)) in script


def test_one_drawn_area_for_map_and_sidebar() -> None:
    """Drawing sets the area; the map's trash tool clears it; a sidebar clear never comes back
    from the map; an area from a share link stays while nothing is drawn."""
    ring = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0))
    shape = [{"geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}}]
    assert area_change(shape, None, SearchState()) == (ring, ring)  # drawn
    assert area_change(shape, ring, SearchState(area=ring)) == (ring, False)  # nothing new
    assert area_change([], ring, SearchState(area=ring)) == (None, None)  # trash tool
    assert area_change(shape, ring, SearchState()) == (ring, False)  # cleared in the sidebar
    assert area_change([], None, SearchState(area=ring)) == (None, False)  # from a share link
    assert area_change(None, None, SearchState(area=ring)) == (None, False)  # map not ready


def test_sidebar_clear_reaches_the_map_and_the_area_stays_in_the_frame(app_data: Path) -> None:
    ring = ((-0.9, 38.0), (-0.7, 38.0), (-0.7, 38.2), (-0.9, 38.2), (-0.9, 38.0))
    state = SearchState(query="q", area=ring)
    script = _get_feature_group_string(
        results_layers([], app_data, state, fit_key="f", cleared=2), search_base_map(state)
    )
    assert "window.__clospCleared !== 2" in script and "drawnItems.clearLayers()" in script
    settings = Settings.load()
    store = open_store(settings, stored_model_id(settings))
    try:
        hits = [Hit(r, 0.5) for r in list(store.iter_records())[:3]]
    finally:
        store.close()
    framed = _get_feature_group_string(
        results_layers(hits, app_data, state, fit_key="f"), search_base_map(state)
    )
    boxes = [footprint_bounds(h.record) for h in hits]
    area_box = [[38.0, -0.9], [38.2, -0.7]]
    assert json.dumps(union_bounds([*boxes, area_box])) in framed


def test_a_link_says_what_it_could_not_use() -> None:
    params = {"q": ["water"], "from": ["2001-01-01"], "to": ["2099-01-01"], "n": ["7"],
              "bbox": ["not,a,box"], "sensor": [""]}  # fmt: skip
    assert dropped_params(params) == ["from", "to", "bbox"]
    state = from_params(params)
    assert state.query == "water" and state.date_from is None and state.limit == 7
    assert dropped_params({"from": ["2016-01-12"]}) == []


@pytest.mark.parametrize("value", ["AbC=.xY", "AbC%2F.xY", "2.AQ==", "2.A B", "A" * 23_000])
def test_a_link_says_it_left_out_labels_it_cannot_read(value: str) -> None:
    """Issue 17: an ``fb`` value with padding, escapes, spaces or over the longest readable
    (1,000 labels of the first form) is named among what the link could not use."""
    assert dropped_params({"q": ["water"], "fb": [value]}) == ["fb"]
    assert dropped_params({"fb": ["2.AQEB-_"]}) == []  # the short form's alphabet is read
