"""Every page through ``streamlit.testing.v1.AppTest`` against a small real index."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.resources
from closp_core.data.samples import sample_sources
from closp_core.settings import Settings
from closp_core.store import open_store
from tests.app.conftest import APP
from ui.results import GALLERY_FIRST, SearchOutcome

TIMEOUT = 120


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT)


def outcome(at: AppTest) -> SearchOutcome:
    memo = at.session_state["s_search_memo"]
    return memo[1]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += (
        [i.value for i in at.info] + [e.value for e in at.error] + [w.value for w in at.warning]
    )
    return "\n".join(str(p) for p in parts)


@pytest.mark.usefixtures("app_data")
def test_search_page_prompts_for_a_query_and_shows_status() -> None:
    at = new_app().run()
    assert not at.exception
    assert "press **Enter**" in texts(at)
    assert "DEMO" in texts(at) and "62 chips" in texts(at)


@pytest.mark.usefixtures("app_data")
def test_query_returns_results_with_map_gallery_and_downloads() -> None:
    at = new_app().run()
    at.text_input(key="w_query").input("flooded fields next to a river").run()
    assert not at.exception
    result = outcome(at)
    assert len(result.hits) == 50
    assert "50 results" in texts(at)
    assert [b.label for b in at.button if b.label == "Open"].__len__() == GALLERY_FIRST
    at.button(key="gallery_all").click().run()  # every thumbnail, for the rest of the session
    assert [b.label for b in at.button if b.label == "Open"].__len__() == 50
    assert at.button(key="gallery_all").label == f"Show the first {GALLERY_FIRST} thumbnails"
    assert at.query_params["q"] == "flooded fields next to a river"
    at.text_input(key="w_query").input("farmland").run()
    assert [b.label for b in at.button if b.label == "Open"].__len__() == 50


@pytest.mark.usefixtures("app_data")
def test_event_filter_keeps_only_flood_chips() -> None:
    at = new_app().run()
    at.text_input(key="w_query").input("flooded fields").run()
    everything = outcome(at).hits
    at.multiselect(key="w_events").set_value(["Flooded Area"]).run()
    assert not at.exception
    floods = outcome(at).hits
    assert floods and len(floods) < len(everything)
    assert all("Flooded Area" in hit.record.labels for hit in floods)
    assert at.query_params["event"] == "Flooded Area"


@pytest.mark.usefixtures("app_data")
def test_sensor_and_example_query() -> None:
    at = new_app().run()
    at.button(key="example_1").click().run()
    assert at.text_input(key="w_query").value == "farmland with crops"
    at.radio(key="w_sensor").set_value("s1").run()
    assert not at.exception
    assert {hit.record.sensor.value for hit in outcome(at).hits} == {"s1"}


@pytest.mark.usefixtures("app_data")
def test_url_restores_the_search() -> None:
    at = new_app()
    at.query_params["q"] = "flooded fields"
    at.query_params["event"] = "Flooded Area"
    at.query_params["n"] = "5"
    at.query_params["sensor"] = "s2"
    at.run()
    assert not at.exception
    assert at.text_input(key="w_query").value == "flooded fields"
    assert at.multiselect(key="w_events").value == ["Flooded Area"]
    hits = outcome(at).hits
    assert 0 < len(hits) <= 5
    assert all(h.record.sensor.value == "s2" and "Flooded Area" in h.record.labels for h in hits)


def scripts_scrolling_to_the_map(at: AppTest) -> list[str]:
    bodies = [str(getattr(e.proto, "body", "")) for e in at.get("html")]
    return [b for b in bodies if "scrollIntoView" in b]


@pytest.mark.usefixtures("app_data")
def test_open_a_chip_then_more_like_this() -> None:
    at = new_app().run()
    at.text_input(key="w_query").input("farmland").run()
    first = outcome(at).hits[2].key
    at.button(key="open_3").click().run()
    assert at.query_params["chip"] == first
    assert any(s.value == "Chip details" for s in at.subheader)
    assert len(scripts_scrolling_to_the_map(at)) == 1  # the map comes into the window, once
    at.button(key="more_like_this").click().run()
    assert not at.exception
    assert not scripts_scrolling_to_the_map(at)
    assert at.query_params["like"] == first
    best = outcome(at).hits[0]
    assert best.key == first and best.score > 0.99  # its own vector finds itself first


@pytest.mark.usefixtures("app_data")
def test_garbage_url_is_ignored() -> None:
    at = new_app()
    at.query_params["q"] = "x" * 5000
    at.query_params["n"] = "__import__('os')"
    at.query_params["area"] = "1,2;3"
    at.query_params["chip"] = "../../etc/passwd"
    at.run()
    assert not at.exception
    assert len(at.text_input(key="w_query").value) == 200
    assert any("is not in the index" in w.value for w in at.warning)


@pytest.mark.usefixtures("app_data")
def test_explore_page() -> None:
    at = new_app().run()
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception
    assert "62 chips match the filters" in texts(at)
    at.multiselect(key="w_events").set_value(["Flooded Area"]).run()
    assert not at.exception
    assert "62 chips match" not in texts(at)


@pytest.mark.usefixtures("app_data")
def test_collection_page() -> None:
    at = new_app().run()
    at.switch_page("app_pages/collection.py").run()
    assert not at.exception
    assert at.metric[0].value == "62"
    assert "edge" in texts(at) and "python -m ingest" in "\n".join(c.value for c in at.code)
    assert "Add imagery" in texts(at) and "Stop the app first" not in texts(at)
    assert "0 on a small index is normal" in at.metric[1].help  # the graph count explained


@pytest.mark.usefixtures("app_data")
def test_about_page() -> None:
    at = new_app().run()
    at.switch_page("app_pages/about.py").run()
    assert not at.exception
    assert "Contains modified Copernicus Sentinel data" in texts(at)
    assert "hf download DarthReca/CLOSP-RN" in texts(at)


def test_empty_index_offers_the_demo_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSP_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("CLOSP_DEVICE", "cpu")
    monkeypatch.setattr(ui.resources, "demo_sources", lambda: sample_sources()[3:])
    at = new_app().run()
    assert "is empty" in texts(at)
    at.button(key="build_demo").click().run()
    assert not at.exception
    assert "12 chips" in texts(at)  # BigEarthNet: 6 S1 + 6 S2


def test_locked_index_says_what_to_check(app_data: Path) -> None:
    holder = open_store(Settings(data_dir=app_data), "someone-else")
    try:
        at = new_app().run()
        assert not at.exception
        assert any("held by another process" in e.value for e in at.error)
    finally:
        holder.close()


def test_missing_weights_say_how_to_get_them(
    app_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOSP_DEMO_FALLBACK", "0")  # hub weights unreachable offline, no demo
    at = new_app().run()
    assert not at.exception
    assert any("No model weights" in e.value and "hf download" in e.value for e in at.error)
    at.switch_page("app_pages/collection.py").run()  # browsing what is indexed still works
    assert not at.exception and at.metric[0].value == "62"
