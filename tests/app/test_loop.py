"""The responder's loop in the app (AppTest): 👍 / 👎 mark chips in place, re-rank on "Re-rank"
and live in the share URL (1,000 of them too) and in exports, label files go out and come back,
a place over time opens and compares, and the "what changed" mode finds the flooded places of
the (synthetic pre-flood) Spain scene."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from streamlit.testing.v1 import AppTest

from closp_core.feedback import FeedbackLabels, RankMethod, encode_labels, export_labels
from closp_core.feedback.sharelink import IndexIds, encode_link
from closp_core.settings import Settings
from closp_core.store import open_store, stored_model_id
from tests.app.test_pages import new_app, outcome, texts
from tests.store.conftest import make_records
from ui.feedback import MARKS
from ui.maps import hits_at

QUERY = "flooded fields next to a river"


def plain(text: str) -> str:
    """Markdown as shown: outside text reaches the page backslash-escaped (``ui.text.md``)."""
    return re.sub(r"\\(.)", r"\1", text)


def search(query: str = QUERY, **params: str) -> AppTest:
    at = new_app()
    at.query_params["q"] = query
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def mark(at: AppTest, key: str, value: int) -> AppTest:
    """Click 👍 (1) or 👎 (-1) under the gallery thumbnail of chip ``key`` (wherever the
    last ranking put it; every thumbnail is shown first)."""
    if at.button(key="gallery_all").label.startswith("Show all"):
        at.button(key="gallery_all").click().run()
    rank = [h.key for h in outcome(at).hits].index(key) + 1
    at.button(key=f"fb_g{rank}_{value}").click().run()
    assert not at.exception
    return at


def marks_in_order(keys: list[str], labels: FeedbackLabels) -> bool:
    """Whether no chip marked relevant ranks below one marked not relevant."""
    marks = [labels.get(k) for k in keys if labels.get(k) is not None]
    return marks == sorted(marks, reverse=True)


@pytest.mark.usefixtures("app_data")
def test_marks_stay_in_place_until_rerank_then_keep_the_order_rule() -> None:
    """Issue 18 "Marks": a click marks the chip under it and nothing moves (the next click
    lands on the chip aimed at); "Re-rank" ranks with every mark, relevant above not
    relevant."""
    at = search()
    before = [h.key for h in outcome(at).hits]
    assert at.button(key="rerank_gallery").disabled  # nothing new to rank with yet
    marks = {before[7]: -1, before[1]: -1, before[20]: 1, before[4]: 1, before[25]: 1}
    for key, value in marks.items():
        at = mark(at, key, value)
        assert [h.key for h in outcome(at).hits] == before  # every chip where it was
        cards = [c.value for c in at.caption if c.value.startswith("#")]
        rank = before.index(key)
        assert cards[rank].startswith(f"#{rank + 1} ") and MARKS[value] in cards[rank]
    assert outcome(at).method is RankMethod.QUERY  # not re-ranked yet
    assert "5 marks since the last ranking" in texts(at)
    labels = FeedbackLabels.of(marks)
    assert at.session_state["s_labels"][1] == labels
    at.button(key="rerank_gallery").click().run()
    assert not at.exception
    result = outcome(at)
    after = [h.key for h in result.hits]
    assert after != before and marks_in_order(after, labels)
    assert "3 relevant, 2 not relevant" in result.note and "Rocchio" in result.note
    assert at.button(key="rerank_top").disabled
    captions = [c.value for c in at.caption if c.value.startswith("#")]
    assert sum("✓ relevant" in c for c in captions) == 3
    assert sum("✗ not relevant" in c for c in captions) == 2
    value = at.query_params["fb"]
    assert value.startswith("2.") and len(value) < 40  # short prefixes, not whole ids
    assert search(fb=value).session_state["s_labels"][1] == labels  # a new session reads it
    # the same button again takes the mark off (the ranking follows on Re-rank)
    at = mark(at, before[7], -1)
    at.button(key="rerank_top").click().run()
    assert outcome(at).note.startswith("3 relevant, 1 not relevant")
    # hiding labelled chips keeps the labels for ranking but not in the list
    at.checkbox(key="w_hide_labelled").check().run()
    hidden = [h.key for h in outcome(at).hits]
    assert not {before[20], before[4], before[1]} & set(hidden)
    assert at.query_params["hidel"] == "1"
    # "Clear all labels" ranks without marks at once (nothing left to re-rank with)
    at.button(key="labels_clear").click().run()
    assert outcome(at).method is RankMethod.QUERY and "fb" not in at.query_params
    assert at.button(key="rerank_top").disabled


@pytest.mark.usefixtures("app_data")
def test_a_shared_link_brings_its_labels() -> None:
    at = search()
    keys = [h.key for h in outcome(at).hits]
    labels = FeedbackLabels.of({keys[0]: 1, keys[1]: 1, keys[2]: 1, keys[3]: -1, keys[4]: -1,
                                keys[5]: -1})  # fmt: skip
    shared = search(fb=encode_labels(labels))
    assert not shared.exception
    result = outcome(shared)
    assert "3 relevant, 3 not relevant" in result.note and "classifier" in result.note
    assert 0 <= min(h.score for h in result.hits) <= max(h.score for h in result.hits) <= 1


def test_links_with_labels_of_chips_gone_or_damaged(app_data: Path) -> None:
    at = search()
    keys = [h.key for h in outcome(at).hits]
    fake = FeedbackLabels.of({keys[0]: 1, "scene/not-in-this-index/s2/r0_c0": 1})
    at = search(fb=encode_labels(fake))
    assert not at.exception
    assert any(
        "1 label of the link dropped: 1 whose chip is no longer in the index" in i.value
        for i in at.info
    )  # a link of the first form (whole point ids) still opens
    assert at.query_params["fb"].startswith("2.")  # and is written in the short form
    assert "1 relevant, 0 not relevant" in outcome(at).note
    at = search(fb="AAAA.BBBB")  # base64url, but not whole point ids
    assert not at.exception
    assert any("labels in the link were dropped" in i.value for i in at.info)
    at = search(fb="2.AQEBAQ")  # the short form with a wrong checksum
    assert not at.exception
    assert any("damaged or cut short" in i.value for i in at.info), texts(at)
    assert len(outcome(at).hits) == 50  # the rest of the link still searches


def test_a_link_with_1000_labels_opens_with_every_one(app_data: Path) -> None:
    """Issue 17: the 1,000 labels allowed travel in one link of at most 8 kB and come back."""
    settings = Settings(data_dir=app_data)
    model_id = stored_model_id(settings)
    assert model_id is not None
    extra = make_records(1000, seed=11)  # 1,000 more chips (random vectors, no previews)
    labels = FeedbackLabels.of({r.key: 1 if i % 2 else -1 for i, r in enumerate(extra)})
    with open_store(settings, model_id) as store:
        store.upsert(extra)
        value = encode_link(labels, IndexIds.of(store))
    at = search(fb=value)
    assert not at.exception
    assert at.session_state["s_labels"][1] == labels
    assert not any("dropped" in i.value for i in at.info), texts(at)
    assert at.query_params["fb"] == value
    url = "http://127.0.0.1:8501/?" + urlencode(dict(at.query_params), doseq=True)
    assert len(url.encode()) <= 8_000, len(url)
    assert "500 relevant, 500 not relevant" in outcome(at).note


def test_label_files_out_and_in(app_data: Path) -> None:
    at = search()
    keys = [h.key for h in outcome(at).hits]
    settings = Settings(data_dir=app_data)
    model_id = stored_model_id(settings)
    assert model_id is not None
    labels = FeedbackLabels.of({keys[0]: 1, keys[5]: -1})
    from ui.resources import _store_key, open_index  # the app's own handle of the index

    store = open_index(settings, _store_key(settings), model_id)
    text = export_labels(store, labels, settings.collection, query=QUERY)
    at.file_uploader(key="labels_import").set_value(
        ("mine.geojson", text.encode(), "application/geo+json")
    ).run()
    at.button(key="labels_import_go").click().run()
    assert not at.exception
    assert any("Imported 2 labels" in i.value for i in at.info), texts(at)
    assert "1 relevant, 1 not relevant" in outcome(at).note
    foreign = json.loads(text)
    foreign["closp"]["model_id"] = "DarthReca/CLOSP-VL"
    at.file_uploader(key="labels_import").set_value(
        ("theirs.geojson", json.dumps(foreign).encode(), "application/geo+json")
    ).run()
    at.button(key="labels_import_go").click().run()
    assert not at.exception
    assert any("DarthReca/CLOSP-VL" in plain(e.value) for e in at.error), texts(at)


@pytest.mark.usefixtures("multidate_data")
def test_place_over_time_and_compare() -> None:
    at = search("flooded area")
    chip = next(h.key for h in outcome(at).hits if "/s2/" in h.key and "preflood" not in h.key)
    at = search("flooded area", chip=chip)
    at.button(key="timeline_toggle").click().run()
    assert not at.exception and at.query_params["tl"] == "1"
    assert "Same place over time" in [s.value for s in at.subheader]
    strip = [c.value for c in at.caption if c.value[:4] in ("2019",)]
    assert len(strip) >= 4  # S1 + S2, each before (synthetic) and after (real) the flood
    before, after = at.selectbox(key="cmp_a").value, at.selectbox(key="cmp_b").value
    assert before != after
    at.selectbox(key="cmp_a").set_value(0).run()
    assert not at.exception and "cmp" in at.query_params


@pytest.mark.usefixtures("multidate_data")
def test_what_changed_into_flooded_area() -> None:
    at = search("flooded area", mode="change", when="2019-09-01")
    assert not at.exception
    lines = plain(texts(at))
    assert "places** changed into" in lines, lines
    assert "after 2019-09-01" in lines
    # a date before the first Sentinel image: left out of the link, and said so
    at = search("flooded area", mode="change", when="2001-01-01")
    assert not at.exception
    assert any("Left out of the link, not valid: when" in plain(w.value) for w in at.warning)
    # a date before every chip of the index: said so, no empty map silently
    at = search("flooded area", mode="change", when="2014-05-01")
    assert not at.exception
    assert any("outside the index's time range" in plain(w.value) for w in at.warning)


@pytest.mark.usefixtures("multidate_data")
def test_change_mode_asks_for_what_it_needs() -> None:
    at = search("", mode="change")
    assert any("event date" in i.value for i in at.info)
    at = search("flooded area", mode="change", when=dt.date(2019, 9, 1).isoformat())
    assert "cmp" not in at.query_params


@pytest.mark.usefixtures("app_data")
def test_a_click_where_footprints_overlap_lists_every_chip_under_it() -> None:
    """Spain's S1 and S2 chips share one grid: a click inside a footprint is on both
    (``hits_at``); the side panel lists both and opens the other one on a click."""
    at = search()
    hits = list(outcome(at).hits)
    both = (hits_at(hits, *h.record.center) for h in hits if h.record.center is not None)
    under = next(k for k in both if {str(r.sensor) for r in _records(hits, k)} == {"s1", "s2"})
    at.session_state["s_under_point"] = under
    at.session_state["s_selected"] = under[0]
    at.run()
    assert not at.exception
    assert any(f"{len(under)} chips under this point" in c.value for c in at.caption)
    at.button(key="under_1").click().run()
    assert at.session_state["s_selected"] == under[1]


def _records(hits: list, keys: list[str]) -> list:
    by_key = {h.key: h.record for h in hits}
    return [by_key[k] for k in keys]
