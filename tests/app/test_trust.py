"""Trust: outside text never becomes markup or code, exports are defused, and the app keeps
answering — with a clear message, never a traceback page — when the index folder goes away,
is replaced, turns read-only, or a preview file is missing or corrupt; it recovers when the
problem is gone. (The real-browser side is ``test_browser_hostile.py``.)"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import folium
import pytest
from streamlit.testing.v1 import AppTest
from streamlit_folium import _get_feature_group_string

from closp_core.bands import Sensor
from closp_core.feedback import FeedbackLabels
from closp_core.search.export import defuse_formula, hits_csv
from closp_core.settings import Settings
from closp_core.store import (
    ChipRecord,
    GeoPolygon,
    Hit,
    StoreError,
    StoreUnavailableError,
    open_store,
    stored_model_id,
)
from tests.app.test_pages import new_app, outcome, texts
from ui.maps import collection_layers, popup_html, results_layers, search_base_map
from ui.resources import _store_key, open_index
from ui.state import SearchState
from ui.text import html_text, md, md_code

HOSTILE = (
    "<img src=x onerror=alert(1)> ${alert(2)} `x` \\` [a](javascript:alert(3)) ![i](http://x/)"
)


def test_md_escapes_markdown_and_html() -> None:
    escaped = md(HOSTILE + "\n# heading\n:red[x] $y$")
    assert "\n" not in escaped
    for char in "<>[]()!$`:#=":  # each one escaped wherever it occurs
        assert re.search(rf"(?<!\\){re.escape(char)}", escaped) is None, char
    assert escaped.startswith("\\<img src\\=x")
    assert md("plain words 12") == "plain words 12"


def test_md_code_cannot_be_closed_by_backticks() -> None:
    assert md_code("a``b") == "```a``b```"
    assert md_code("`start") == "`` `start ``"


def test_html_text_is_inert_in_html_and_js_template_literals() -> None:
    text = html_text(HOSTILE)
    for raw in ("<", ">", "`", "${", "\\"):
        assert raw not in text
    assert "&lt;img" in text and "&#36;&#123;alert(2)&#125;" in text and "&#96;x&#96;" in text


def record(**fields: object) -> ChipRecord:
    base: dict[str, object] = {"key": "k", "vector": None, "sensor": Sensor.S2, "source": "s"}
    return ChipRecord(**(base | fields))  # type: ignore[arg-type]


def test_popup_of_a_hostile_record_is_escaped() -> None:
    popup = popup_html(record(key=HOSTILE, source=HOSTILE), 0.5, 1)
    assert "<img" not in popup and "${" not in popup and "`" not in popup
    assert popup.startswith("<b>#1</b> score 0.500<br>")


# Folium compiles each rendered piece of a map again as a Jinja template: template syntax from
# outside would break the page (the app's layer path compiles them) or run on the server (a
# whole map rendered at once renders them). Each payload would print a number the page must not
# hold, or raise a TemplateSyntaxError.
JINJA = (
    "{{ 7*7000 }}",
    "{{ lipsum.__globals__.os.getpid() }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{# comment",
    "{{ 'unclosed",
)


@pytest.mark.parametrize("payload", JINJA)
def test_template_syntax_from_the_index_is_text_in_the_map(payload: str, tmp_path: Path) -> None:
    hostile = record(
        key=f"k {payload}",
        source=payload,
        center=(10.0, 45.0),
        footprint=GeoPolygon(
            ((10.0, 45.0), (10.1, 45.0), (10.1, 45.1), (10.0, 45.1), (10.0, 45.0))
        ),
    )
    state = SearchState(query=payload)
    hits = [Hit(record=hostile, score=0.5)]

    def layers() -> list[folium.FeatureGroup]:
        return [
            results_layers(hits, tmp_path, state, fit_key="f", labels=FeedbackLabels()),
            collection_layers([hostile], state, hostile, tmp_path, fit_key="f"),
        ]

    scripts = [_get_feature_group_string(group, search_base_map(state)) for group in layers()]
    for group in layers():  # the whole map at once, as folium's own HTML output does
        whole = search_base_map(state)
        group.add_to(whole)
        scripts.append(whole.get_root().render())
    for script in scripts:
        for ran in ("49000", str(os.getpid()), "looploop"):
            # a whole word: a pid's digits turn up inside folium's random hex ids by chance
            assert not re.search(rf"(?<![\w.]){ran}(?![\w.])", script), ran
    shown = payload.replace("{", "&#123;")[:8]
    assert shown in scripts[0] and shown in scripts[2]  # the popup shows it as text


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_defuses_formula_cells(start: str) -> None:
    formula = f'{start}HYPERLINK("http://evil","x")'
    hits = [Hit(record(key=formula, source=formula, scene_id="-2+3"), 0.25)]
    rows = list(csv.DictReader(io.StringIO(hits_csv(hits))))
    assert rows[0]["key"] == "'" + formula and rows[0]["source"] == "'" + formula
    assert rows[0]["scene_id"] == "'-2+3"
    assert rows[0]["score"] == "0.25"  # numbers are not text: a number stays a number
    assert defuse_formula(-3.5) == -3.5 and defuse_formula("Water") == "Water"


def markup_outside_code(text: str) -> list[str]:
    """Unescaped ``<``, ``[`` and ``!`` of ``text`` outside inline code spans."""
    prose = re.sub(r"(`+).*?\1", "", text)
    return re.findall(r"(?<!\\)[<\[!]", prose)


@pytest.mark.usefixtures("app_data")
@pytest.mark.parametrize(
    ("param", "shown_in"),
    [("q", "results** for"), ("like", "is not in the index"), ("chip", "is not in the index")],
)
def test_hostile_url_values_are_shown_as_text(param: str, shown_in: str) -> None:
    at = new_app()
    if param == "chip":
        at.query_params["q"] = "water"
    at.query_params[param] = "<script>alert(1)</script> [x](javascript:alert(2)) ![i](http://x/)"
    at.run()
    assert not at.exception
    lines = [line for line in texts(at).splitlines() if shown_in in line]
    assert lines, texts(at)
    assert all(markup_outside_code(line) == [] for line in lines), lines


def search(at: AppTest, query: str = "flooded fields") -> AppTest:
    at.text_input(key="w_query").input(query).run()
    return at


def test_index_folder_gone_then_back(app_data: Path) -> None:
    at = search(new_app().run())
    assert not at.exception and len(outcome(at).hits) == 50
    index = app_data / "index"
    away = app_data / "index.away"
    index.rename(away)  # deleted, moved or its disk unmounted
    try:
        at.run()
        assert not at.exception
        assert any("has gone" in e.value for e in at.error), texts(at)
    finally:
        away.rename(index)
    at = search(new_app().run(), "dense forest")
    assert not at.exception and len(outcome(at).hits) == 50


def test_index_folder_replaced_is_reopened(app_data: Path) -> None:
    at = search(new_app().run())
    assert len(outcome(at).hits) == 50
    index = app_data / "index"
    shutil.move(index, app_data / "index.old")
    shutil.copytree(app_data / "index.old", index)  # same content, another folder
    at = search(new_app().run(), "dense forest")
    assert not at.exception and len(outcome(at).hits) == 50
    assert "62 chips" in texts(at)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only for this process: a read-only bind mount as root (root ignores
    permissions), permissions otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", folder, folder], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", folder, folder], check=True)
            yield
        finally:
            subprocess.run(["umount", folder], check=True)
        return
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
    for path, mode in modes.items():
        path.chmod(mode & ~0o222)
    try:
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def test_read_only_index_still_searches_and_refuses_writes(app_data: Path) -> None:
    at = search(new_app().run())
    assert len(outcome(at).hits) == 50
    settings = Settings(data_dir=app_data)
    with read_only(app_data / "index" / settings.collection):
        at = search(new_app().run(), "dense forest")
        assert not at.exception and len(outcome(at).hits) == 50
        assert "index read-only" in texts(at)
        model_id = stored_model_id(settings)
        assert model_id is not None
        store = open_index(settings, _store_key(settings), model_id)  # the app's own handle
        with pytest.raises(StoreError, match="read-only"):
            store.check_writable()
    at = search(new_app().run(), "urban area with buildings")
    assert not at.exception and "index read-only" not in texts(at)


def test_missing_and_corrupt_previews_show_no_traceback(app_data: Path) -> None:
    at = search(new_app().run())
    hits = outcome(at).hits
    names = ["sar" if h.record.sensor is Sensor.S1 else "true_color" for h in hits[:2]]
    first, second = (app_data / h.record.previews[n] for h, n in zip(hits, names, strict=False))
    saved = first.read_bytes()
    first.write_bytes(saved[: len(saved) // 3])  # truncated
    second.unlink()
    try:
        at = search(new_app().run(), "flooded fields")
        assert not at.exception
        assert sum(c.value == "preview unavailable" for c in at.caption) == 2
    finally:
        first.write_bytes(saved)
    at = search(new_app().run(), "flooded fields")
    assert not at.exception
    assert sum(c.value == "preview unavailable" for c in at.caption) == 1  # the deleted one


def test_store_refuses_writes_into_a_folder_that_has_gone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings, "model-a")
    try:
        folder = settings.index_dir / settings.collection
        folder.rename(tmp_path / "elsewhere")
        with pytest.raises(StoreUnavailableError, match="has gone"):
            store.upsert([])
        with pytest.raises(StoreUnavailableError, match="has gone"):
            store.check_writable()
        (tmp_path / "elsewhere").rename(folder)
        store.check_available()
    finally:
        store.close()
