"""Share links and index entries carrying markup, in a real browser: no script may run.

The app is served over a copy of the test index with three extra chips whose key, source, scene
id and source labels are attack strings (and whose previews are corrupt or missing). Then share
links put each payload below into ``q``, ``chip``, ``event``, ``cover``, ``area``, ``sensor``,
``view`` and ``near`` at once, and a few into ``like``. After each page load the test checks,
in the page and in every same-origin iframe (the map):

- no canary: every payload that could run sets ``document.body.dataset.pwned`` of the top page
  (or calls ``alert``, or logs ``PWNED``) — none of that may happen;
- no ``javascript:`` link and no request leaving 127.0.0.1 (a Markdown image would make one);
- the page still works: the query box holds the text and the results line and map are drawn.
"""

from __future__ import annotations

import datetime as dt
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from closp_core.bands import Sensor
from closp_core.settings import Settings
from closp_core.store import ChipRecord, open_store, stored_model_id
from tests.app.browser import ARGS, CHROMIUM, WAIT_MS, result_count, serve_app, shot, wait_results
from ui.state import MAX_KEY_CHARS, clean_query

CANARY = "top.document.body.dataset.pwned"
PAYLOADS = [
    f"<script>{CANARY}='script'</script>",
    f"<iframe srcdoc=\"<script>{CANARY}='iframe'</script>\"></iframe>",
    f"<img src=x onerror=\"{CANARY}='img'\">",
    f"<svg onload=\"{CANARY}='svg'\"><circle r=9></circle></svg>",
    f"[share](javascript:{CANARY}='mdlink')",
    "![map](http://127.0.0.2:9/leak.png) ![x](https://example.org/x.png)",
    f"&lt;script&gt;{CANARY}='entities'&lt;/script&gt; &#60;b&#62;",
    f"\"><script>{CANARY}='attribute'</script><a x=\"",
    f"${{{CANARY}='template'}} `-alert(1)-`",
    f"\\`;{CANARY}='backslash';//",
    f"javascript:{CANARY}='bare';alert(1)",
    ":red[red] $\\alert$ {{7*7}} <style>body{display:none}</style> — 洪水 🌊 ناس",
    "<b>" * 1200 + f"<script>{CANARY}='long'</script>",
]
LONG = PAYLOADS[-1]  # ~11 kB once encoded: sent in `q` and `chip` only (URLs have limits too)
URL_PARAMS = ("q", "chip", "event", "cover", "area", "sensor", "view", "near")
HOSTILE_CHIPS = [
    {
        "key": f"hostile/<img src=x onerror=\"{CANARY}='key'\">",
        "source": f"${{{CANARY}='source'}}",
        "scene_id": f"<script>{CANARY}='scene'</script>",
        "source_labels": (f"<svg onload=\"{CANARY}='label'\">",),
        "preview": "previews/hostile/corrupt.jpg",
    },
    {
        "key": f"hostile/\\`;{CANARY}='key2';//",
        "source": f"\\`-{CANARY}='source2'-\\`",
        "scene_id": "[x](javascript:alert(1))",
        "source_labels": ('=HYPERLINK("http://127.0.0.2")',),
        "preview": "previews/hostile/missing.jpg",
    },
    {
        "key": f"hostile/[x](javascript:{CANARY}='key3')",
        "source": "![i](http://127.0.0.2:9/i.png)",
        "scene_id": "&lt;script&gt;",
        "source_labels": (),
        "preview": "previews/hostile/corrupt.jpg",
    },
]
# Every flag a payload may have left in the page or a same-origin frame, and javascript: links.
TRACES = """
() => {
    const docs = [document];
    for (const frame of document.querySelectorAll("iframe")) {
        try { if (frame.contentDocument) docs.push(frame.contentDocument); } catch (e) {}
    }
    const flags = [];
    let jsLinks = 0;
    for (const doc of docs) {
        if (doc.body && doc.body.dataset.pwned) flags.push(doc.body.dataset.pwned);
        jsLinks += doc.querySelectorAll("a[href^='javascript:' i]").length;
    }
    return {flags, jsLinks, frames: docs.length};
}
"""


def add_hostile_chips(data_dir: Path) -> int:
    """Upsert ``HOSTILE_CHIPS`` next to the test index's own chips (at one of their places);
    return the number of chips now indexed."""
    settings = Settings(data_dir=data_dir)
    model_id = stored_model_id(settings)
    assert model_id is not None
    corrupt = data_dir / "previews" / "hostile" / "corrupt.jpg"
    corrupt.parent.mkdir(parents=True, exist_ok=True)
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 truncated, not a JPEG")
    with open_store(settings, model_id) as store:
        model = next(store.iter_records())
        like = store.get([model.key], with_vectors=True)[0]
        assert like.vector is not None
        rng = np.random.default_rng(0)
        records = []
        for chip in HOSTILE_CHIPS:
            vector = like.vector + rng.normal(0, 0.01, like.vector.shape).astype(np.float32)
            records.append(
                ChipRecord(
                    key=str(chip["key"]),
                    vector=vector / np.linalg.norm(vector),
                    sensor=Sensor.S2,
                    source=str(chip["source"]),
                    labels=("Water",),
                    source_labels=tuple(chip["source_labels"]),
                    scene_id=str(chip["scene_id"]),
                    acquired=dt.datetime(2019, 9, 18, tzinfo=dt.UTC),
                    center=model.center,
                    footprint=model.footprint,
                    crs=model.crs,
                    previews={"true_color": str(chip["preview"])},
                )
            )
        store.upsert(records)
        store.flush()
        return store.count()


@pytest.fixture(scope="module")
def hostile_server(index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("browser-hostile")
    data_dir = work / "data"
    shutil.copytree(index_template, data_dir)
    assert add_hostile_chips(data_dir) == 62 + len(HOSTILE_CHIPS)
    with serve_app(data_dir, work / "streamlit.log") as url:
        yield url


def share_link(server: str, **params: str) -> str:
    return f"{server}/?{urllib.parse.urlencode(params)}"


def check_no_trace(page: Page, what: str) -> None:
    traces = page.evaluate(TRACES)
    assert traces["flags"] == [], f"{what}: script ran ({traces['flags']})"
    assert traces["jsLinks"] == 0, f"{what}: a javascript: link was rendered"
    assert page.locator("[data-testid='stException']").count() == 0, f"{what}: exception page"


def drawn(page: Page, total: int, what: str) -> None:
    """All results listed and their 62 real previews on the map; if the map never finishes,
    say first whether a payload ran (a script error can stop the map half-way)."""
    try:
        assert wait_results(page, total, overlays=62) == total
    except PlaywrightTimeoutError:
        check_no_trace(page, what)
        raise


def open_page(browser: Browser, server: str, seen: dict[str, list[str]]) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    context.on(
        "request",
        lambda r: None if r.url.startswith((server, "data:")) else seen["external"].append(r.url),
    )
    page = context.new_page()
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: seen["console"].append(m.text) if "PWNED" in m.text else None)
    return page


def test_hostile_share_links_and_index_entries_run_no_script(hostile_server: str) -> None:
    seen: dict[str, list[str]] = {"external": [], "dialogs": [], "console": []}
    total = 62 + len(HOSTILE_CHIPS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = open_page(browser, hostile_server, seen)
            for i, payload in enumerate(PAYLOADS):
                names = ("q", "chip") if payload is LONG else URL_PARAMS
                params = dict.fromkeys(names, payload) | {"n": "200"}
                page.goto(share_link(hostile_server, **params))
                if i == 0:
                    shot(page, "hostile-0")
                box = page.get_by_label("Describe what you are looking for")
                expect(box).to_have_value(clean_query(payload), timeout=WAIT_MS)
                # every chip, the hostile ones with their popups and tooltips, on the map
                drawn(page, total, f"payload {i}")
                if len(payload) <= MAX_KEY_CHARS:  # longer chip= values are dropped
                    page.get_by_text("is not in the index").first.wait_for()
                check_no_trace(page, f"payload {i} in {', '.join(URL_PARAMS)}")
            for i, payload in enumerate(PAYLOADS[:4]):
                page.goto(share_link(hostile_server, like=payload))
                page.get_by_text("is not in the index").first.wait_for()
                check_no_trace(page, f"payload {i} in like")
            for chip in HOSTILE_CHIPS:
                page.goto(share_link(hostile_server, q="water", n="200", chip=str(chip["key"])))
                drawn(page, total, f"index entry {chip['key']!r}")
                page.get_by_text("Chip details").wait_for()
                page.get_by_text("preview unavailable").first.wait_for()
                check_no_trace(page, f"index entry {chip['key']!r} opened")
            page.goto(share_link(hostile_server, like=str(HOSTILE_CHIPS[0]["key"]), n="200"))
            assert result_count(page) == total
            check_no_trace(page, "more like a hostile chip")
            shot(page, "hostile-last")
        finally:
            browser.close()
    assert seen["dialogs"] == [], f"alert() ran: {seen['dialogs']}"
    assert seen["console"] == []
    assert seen["external"] == [], f"requests left 127.0.0.1: {seen['external'][:5]}"
    print(f"\n{len(PAYLOADS)} payloads x {len(URL_PARAMS)} URL parameters, 4 in `like`, "
          f"{len(HOSTILE_CHIPS)} hostile index entries: no script ran, page worked")  # fmt: skip
