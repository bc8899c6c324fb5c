"""The app in a real browser: Debian's chromium driven by Playwright (no downloaded browser).

Starts ``streamlit run app.py`` on 127.0.0.1 (free port) over a copy of the small test index,
types a query, presses Enter and checks the Leaflet DOM inside the ``st_folium`` iframe
(footprints and image overlays), applies an event filter, opens the share URL in a new page,
downloads the GeoJSON, and measures "Enter -> all overlays drawn" and the search call (printed,
not asserted tightly). Screenshots go to ``artifacts/browser/``. Every network request must stay
on 127.0.0.1: the map works offline.

No chromium: in CI (``CI`` set) the test fails, since ``make test`` installs it; elsewhere it is
skipped with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.app.browser import (
    ARGS,
    CHROMIUM,
    MAP_FRAME,
    WAIT_MS,
    result_count,
    serve_app,
    shot,
    wait_results,
)


@pytest.fixture(scope="module")
def server(index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run app.py`` on a free port over a copy of the test index; always stopped."""
    work = tmp_path_factory.mktemp("browser")
    data_dir = work / "data"
    shutil.copytree(index_template, data_dir)
    with serve_app(data_dir, work / "streamlit.log") as url:
        yield url


def gallery_captions(page: Page) -> list[str]:
    return page.get_by_text(re.compile(r"^#\d+ · ")).all_inner_texts()


def test_search_filter_share_download_in_chromium(server: str) -> None:
    external: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1500, "height": 1100})
            context.set_default_timeout(WAIT_MS)
            context.on(
                "request",
                lambda r: None if r.url.startswith((server, "data:")) else external.append(r.url),
            )
            page = context.new_page()
            page.goto(server)
            box = page.get_by_label("Describe what you are looking for")
            box.wait_for()
            shot(page, "0-start")

            # Enter -> all overlays drawn (50 results), and the search call time
            box.fill("flooded fields next to a river")
            start = time.perf_counter()
            box.press("Enter")
            n = wait_results(page)
            drawn_s = time.perf_counter() - start
            assert n == 50
            frame = page.frame_locator(MAP_FRAME).last
            assert frame.locator("img.leaflet-image-layer").count() == 50
            assert frame.locator("path.leaflet-interactive").count() >= 50  # footprints + dots
            line = page.get_by_text(re.compile(r"search call [\d.]+ ms")).first.inner_text()
            timing = line[line.index("query encoded") :]
            search_ms = float(re.search(r"search call ([\d.]+) ms", timing).group(1))  # type: ignore[union-attr]
            print(f"\nEnter -> all {n} overlays drawn: {drawn_s:.2f} s; {timing}")
            shot(page, "1-results")

            # Event filter: fewer results, all flood chips; the URL carries it
            events = page.locator("[data-testid='stMultiSelect']").filter(has_text="Event type")
            events.locator("input").click()
            page.get_by_role("option", name="Flooded Area").click()
            page.keyboard.press("Escape")
            deadline = time.monotonic() + WAIT_MS / 1000
            while result_count(page) == 50 and time.monotonic() < deadline:
                time.sleep(0.1)
            floods = wait_results(page)
            assert 0 < floods < 50
            assert "event=Flooded+Area" in page.url
            captions = gallery_captions(page)
            assert len(captions) == floods
            shot(page, "2-flooded")

            # The share URL restores the same search in a new page
            shared = context.new_page()
            shared.goto(page.url)
            wait_results(shared, floods)
            assert gallery_captions(shared) == captions
            shot(shared, "3-shared")
            shared.close()

            # GeoJSON download parses and holds the filtered results
            with page.expect_download() as info:
                page.get_by_role("button", name="Download GeoJSON").click()
            collection = json.loads(Path(info.value.path()).read_text())
            features = collection["features"]
            assert len(features) == floods
            assert all("Flooded Area" in f["properties"]["labels"] for f in features)
            assert all(f["geometry"]["type"] == "Polygon" for f in features)
        finally:
            browser.close()
    assert external == [], f"requests left 127.0.0.1 (the map must work offline): {external[:5]}"
    print(f"search call {search_ms:.1f} ms (target <= 100 ms); overlays {drawn_s:.2f} s (<= 1.5 s)")
