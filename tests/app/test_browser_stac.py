"""The STAC tab in a real browser, as a responder uses it: a 2016 Sentinel-2 scene from a STAC
API that does not list its collections (the collection typed), counted by "Check", added,
then found by text and date. The API runs on 127.0.0.1 in this process."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.app.browser import (
    ARGS,
    CHROMIUM,
    WAIT_MS,
    serve_app,
    shot,
    wait_idle,
    wait_results,
)
from tests.app.test_stac_tab import archive_item
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import serve
from tests.data.stac_api.server import StacApiServer

# A drawn area (as a shared link carries it): a corner of the served Virginia scene, a few chips
AREA = "-75.64,37.66;-75.625,37.66;-75.625,37.668;-75.64,37.668;-75.64,37.66"


@pytest.fixture(scope="module")
def stac_app(
    index_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, StacApiServer]]:
    """The app over a copy of the test index, its one STAC API: a server without a listing."""
    work = tmp_path_factory.mktemp("browser-stac")
    shutil.copytree(index_template, work / "data")
    files = md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")
    with serve(files, [archive_item(files)], lists_collections=False) as api:
        env = {"CLOSP_STAC_APIS": api.base_url}
        with serve_app(work / "data", work / "streamlit.log", **env) as url:
            yield url, api


def type_date(page: Page, label: str, day: str) -> None:
    """Type ``day`` (YYYY-MM-DD) into a date field, segment by segment as a person types it;
    the field takes it when it loses the focus. A rerun that lands while typing can reset the
    field, so the test reads the segments back and types again (at most three times)."""
    want = day.split("-")
    segments = page.get_by_label(label, exact=True).get_by_role("spinbutton")
    shown: list[str] = []
    for _ in range(3):
        wait_idle(page)
        segments.first.click()
        for part in want:
            page.keyboard.type(part)
        page.get_by_role("heading", name="Add imagery").click()
        wait_idle(page)
        shown = [segments.nth(i).inner_text().strip() for i in range(3)]
        if shown == want:
            return
    raise AssertionError(f"the {label} field shows {'-'.join(shown)} after typing {day}")


def test_add_a_2016_scene_from_an_api_without_a_listing_then_find_it(
    stac_app: tuple[str, StacApiServer],
) -> None:
    url, api = stac_app
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{url}/add?area={AREA}")
            page.get_by_role("tab", name="Fetch from a STAC API").click()
            drawn = page.get_by_text("Area: the area drawn on the map")
            expect(drawn).to_be_visible(timeout=WAIT_MS)
            page.get_by_role("button", name="List its collections").click()
            expect(page.get_by_text("does not list its collections")).to_be_visible(timeout=WAIT_MS)
            collections = page.locator("[data-testid='stMultiSelect']").filter(
                has_text="Collections"
            )
            collections.locator("input").first.click()
            page.keyboard.type("s2-archive")
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            expect(collections.get_by_text("s2-archive")).to_be_visible()
            type_date(page, "From", "2016-01-01")
            type_date(page, "To", "2016-01-31")
            page.get_by_role("button", name="Check", exact=True).click()
            counted = page.get_by_text(re.compile(r"1 item in 1 scene: \d+ chips"))
            expect(counted.first).to_be_visible(timeout=WAIT_MS)
            chips = int(re.findall(r"(\d+) chips", counted.first.inner_text())[0])
            shot(page, "stac-checked")
            page.get_by_role("button", name="Fetch and add").click()
            expect(page.get_by_text(re.compile(r": done after"))).to_be_visible(timeout=WAIT_MS)
            expect(page.get_by_text(f"indexed {chips} chips")).to_be_visible(timeout=WAIT_MS)
            shot(page, "stac-done")
            page.goto(f"{url}/?q=farmland+with+crops&from=2016-01-12&to=2016-01-12")
            assert wait_results(page) == chips and 0 < chips < 50
            shot(page, "stac-found")
        finally:
            browser.close()
    assert api.searches and all("s2-archive" in str(s["collections"]) for s in api.searches)
