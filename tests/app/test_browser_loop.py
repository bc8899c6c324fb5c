"""The responder's loop in a real browser: mark a result 👍 from its map popup and five from the
gallery (each click lands on the chip aimed at: the gallery does not move under the pointer),
press Re-rank and see the ranking change, relevant above not relevant, and the labels in the
URL; open a chip's place over time and its Compare swipe (leaflet-side-by-side, served
locally); the "what changed" mode."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.app.browser import ARGS, CHROMIUM, MAP_FRAME, WAIT_MS, serve_app, shot, wait_results

CAPTION = re.compile(r"^#\d+ · ")


@pytest.fixture(scope="module")
def loop_server(
    multidate_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    work = tmp_path_factory.mktemp("browser-loop")
    shutil.copytree(multidate_template, work / "data")
    with serve_app(work / "data", work / "streamlit.log") as url:
        yield url


def captions(page: Page) -> list[str]:
    return page.get_by_text(CAPTION).all_inner_texts()


def wait_captions_change(page: Page, before: list[str]) -> list[str]:
    """The gallery's captions once they differ from ``before`` (the rerun has landed)."""
    page.wait_for_function(
        """(before) => {
            const now = Array.from(document.querySelectorAll("[data-testid='stCaptionContainer']"))
                .map((e) => e.innerText).filter((t) => /^#\\d+ · /.test(t));
            return now.length > 0 && now.join("|") !== before.join("|");
        }""",
        arg=before,
        timeout=WAIT_MS,
    )
    return captions(page)


def wait_marks(page: Page, relevant: int, not_relevant: int) -> list[str]:
    """The gallery's captions once ``relevant`` of them say ✓ and ``not_relevant`` say ✗ (a
    rerun lands in steps: the first changed caption is not yet the whole new list)."""
    page.wait_for_function(
        """([up, down]) => {
            const now = Array.from(document.querySelectorAll("[data-testid='stCaptionContainer']"))
                .map((e) => e.innerText).filter((t) => /^#\\d+ · /.test(t));
            return now.filter((t) => t.includes("✓ relevant")).length === up
                && now.filter((t) => t.includes("✗ not relevant")).length === down;
        }""",
        arg=[relevant, not_relevant],
        timeout=WAIT_MS,
    )
    return captions(page)


def wait_reranked(page: Page, before: list[str]) -> list[str]:
    """The gallery's captions once a new order of all 30 has landed with the 6 marks on it
    and, as the rule says, no ✓ below a ✗ (a wrong order times out here)."""
    page.wait_for_function(
        """(before) => {
            const now = Array.from(document.querySelectorAll("[data-testid='stCaptionContainer']"))
                .map((e) => e.innerText).filter((t) => /^#\\d+ · /.test(t));
            const marks = now.filter((t) => t.includes("relevant"))
                .map((t) => (t.includes("✓ relevant") ? 1 : -1));
            const head = (t) => t.split("\\n")[0];
            return now.length === 30 && marks.length === 6
                && now.map(head).join("|") !== before.map(head).join("|")
                && marks.every((m, i) => i === 0 || marks[i - 1] >= m);
        }""",
        arg=before,
        timeout=WAIT_MS,
    )
    return captions(page)


GALLERY_MARKS = ((1, 1), (-1, 2), (1, 3), (-1, 2), (1, 2))  # (value, ranks on from the last)


def mark_five(page: Page) -> list[str]:
    """Mark five unmarked gallery chips (👍 👎 👍 👎 👍), each by its button under the
    thumbnail; after each click the card there is the same chip, now marked, and every card
    is where it was (the gallery does not move under the pointer). The captions at the end."""
    before = captions(page)
    heads = [c.split("\n")[0] for c in before]
    rank, up, down = 0, 1, 0  # one 👍 from the map popup already
    for value, step in GALLERY_MARKS:
        rank += step
        while "not marked" not in before[rank - 1]:
            rank += 1
        page.locator(f".st-key-fb_g{rank}_{value} button").first.click()
        up, down = up + (value == 1), down + (value == -1)
        now = wait_marks(page, up, down)
        assert [c.split("\n")[0] for c in now] == heads  # no card moved
        assert ("✓ relevant" if value == 1 else "✗ not relevant") in now[rank - 1], now[rank - 1]
        before = now
    return before


def area_figure(page: Page) -> str:
    """The score map's "Area ≥ t (map)" figure as the page shows it."""
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Area ≥ t (map)")
    return metric.locator("[data-testid='stMetricValue']").inner_text(timeout=WAIT_MS)


def wait_score_map(page: Page) -> str:
    """The area figure once the score map's overlay is on the map and its legend drawn."""
    frame = page.frame_locator(MAP_FRAME).last
    frame.locator("img.leaflet-image-layer").first.wait_for(state="attached", timeout=WAIT_MS)
    page.get_by_text(re.compile(r"coloured where ≥ ")).first.wait_for()
    return area_figure(page)


def score_map_in_chromium(context: BrowserContext, page: Page, marked_url: str) -> None:
    """With the six marks of the link: "Score every chip in view" draws a grid over the chips
    with a legend and a threshold slider; the area figure follows the slider; the share link
    reproduces the map (same figure; opened fresh, the map's first draw); the change variant
    draws after − before."""
    page.goto(marked_url)
    wait_results(page, 30)
    page.get_by_role("button", name="Score every chip in view").click()
    suggested = wait_score_map(page)
    # 4 relevant, 2 not relevant: too few of each for the classifier (3 a class), so the score
    # is the cosine to the query moved by the marks (Rocchio), as the ranking uses
    expect(page.get_by_text(re.compile(r"^cosine similarity: "))).to_be_visible()
    assert re.fullmatch(r"[\d,.]+ km²", suggested), suggested
    slider = page.locator("[data-testid='stSlider']").filter(has_text="Threshold")
    slider.get_by_role("slider").first.focus()
    page.keyboard.press("End")  # the highest threshold: only the best place stays coloured
    page.wait_for_url(re.compile(r"[?&]st="))
    page.wait_for_function(
        """([sel, before]) => {
            const m = Array.from(document.querySelectorAll(sel))
                .find((e) => e.innerText.includes("Area ≥ t (map)"));
            const v = m && m.querySelector("[data-testid='stMetricValue']");
            return v && v.innerText !== before;
        }""",
        arg=["[data-testid='stMetric']", suggested],
        timeout=WAIT_MS,
    )
    highest = area_figure(page)
    assert float(highest.split()[0].replace(",", "")) < float(suggested.split()[0].replace(",", ""))
    assert "smap=1" in page.url
    shot(page, "loop-scoremap")
    shared = context.new_page()  # the share link: the same map, threshold and figure
    shared.goto(page.url)
    assert wait_score_map(shared) == highest
    shared.close()
    page.goto(f"{marked_url.split('?')[0]}?q=flooded+area&mode=change&when=2019-09-01&smap=1")
    wait_score_map(page)
    expect(page.get_by_text(re.compile(r"^cosine after - before: "))).to_be_visible()
    shot(page, "loop-change-map")


def test_marks_timeline_and_compare_in_chromium(loop_server: str) -> None:
    external: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1500, "height": 1200})
            context.set_default_timeout(WAIT_MS)
            context.on(
                "request",
                lambda r: (
                    None if r.url.startswith((loop_server, "data:")) else external.append(r.url)
                ),
            )
            page = context.new_page()
            page.goto(f"{loop_server}/?q=flooded+area&n=30")
            wait_results(page, 30)
            start = captions(page)

            # thumbs up from the best result's map popup (its centre dot at this zoom)
            frame = page.frame_locator(MAP_FRAME).last
            frame.locator("path.chip-dot[fill='#d7191c']").first.click(force=True)
            page.get_by_text("Chip details").wait_for()  # the click also opened the chip
            frame.locator("button.closp-mark[data-value='1']").first.click()
            wait_captions_change(page, start)
            # every thumbnail (the marked chip may rank below the first ones shown)
            page.get_by_role("button", name="Show all 30 thumbnails").click()
            expect(page.get_by_text(CAPTION)).to_have_count(30, timeout=WAIT_MS)
            wait_marks(page, 1, 0)
            # five marks under gallery thumbnails: each lands on the chip aimed at, nothing moves
            marked = mark_five(page)
            # Re-rank: every mark used, relevant above not relevant
            page.locator(".st-key-rerank_gallery button").first.click()
            final = wait_reranked(page, marked)
            assert [c.split("\n")[0] for c in final] != [c.split("\n")[0] for c in start]
            expect(page.get_by_text(re.compile(r"^4 relevant, 2 not relevant: "))).to_be_visible()
            marks = [1 if "✓ relevant" in c else -1 for c in final if "relevant" in c]
            assert marks == sorted(marks, reverse=True), final  # the order rule
            page.wait_for_url(re.compile(r"fb=2\."))
            marked_url = page.url
            shot(page, "loop-marked")

            # the first result's place over time, then the Compare swipe
            page.get_by_role("button", name="Open").first.click()
            page.get_by_text("Chip details").wait_for()
            shot(page, "loop-details")
            page.locator(".st-key-timeline_toggle button").first.click()
            page.get_by_role("heading", name="Same place over time").wait_for()
            page.get_by_text("Compare", exact=True).wait_for()
            swipe = page.frame_locator(MAP_FRAME).last
            swipe.locator(".leaflet-sbs-range").wait_for(state="attached", timeout=WAIT_MS)
            expect(swipe.locator(".leaflet-sbs-divider")).to_be_visible()
            assert swipe.locator("img.leaflet-image-layer").count() == 2
            page.wait_for_url(re.compile(r"tl=1"))
            page.locator(MAP_FRAME).last.scroll_into_view_if_needed()
            shot(page, "loop-compare")

            # what changed into "flooded area" after 2019-09-01
            page.goto(f"{loop_server}/?q=flooded+area&mode=change&when=2019-09-01")
            expect(page.get_by_text(re.compile(r"places changed into"))).to_be_visible()
            shot(page, "loop-change")

            score_map_in_chromium(context, page, marked_url)
        finally:
            browser.close()
    assert external == [], f"requests left 127.0.0.1: {external[:5]}"
