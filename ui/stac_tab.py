"""The Add imagery page's "Fetch from a STAC API" tab: pick an API, type or pick collections,
take the area from the map, pick dates, **Check** what a search would add, then fetch it.

- **APIs**: the operator's (``CLOSP_STAC_APIS``); any URL only when the operator allows free
  entry (``CLOSP_STAC_FREE_ENTRY``).
- **Collections**: a field that takes any typed name (Enter adds it) and suggests the usual
  ones of the chosen API (``SUGGESTED``), plus those "List its collections" found. An API
  that does not list its collections (or lists none) is searched by the typed name all the
  same: nothing waits on the listing.
- **Check** runs the search and counts its items, scenes and chips without reading pixels
  (``closp_core.data.stac.count``); "Fetch and add" starts the job.
- **Messages** speak of this page's fields and buttons: the engine's CLI flags are put in the
  page's words (``FIELD_WORDS``), a remote body is never shown, and no class names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import streamlit as st

from closp_core.data import SceneOptions
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.api import (
    CollectionsNotListedError,
    StacQuery,
    StacSearchSource,
    list_collections,
)
from closp_core.data.stac.count import SearchCount, count_search
from closp_core.data.stac.fetch import host_of
from closp_core.data.stac.remote import RemoteOptions
from closp_core.errors import ClospError, DataError, StoreError, WeightsUnavailableError
from ingest.job_process import SourceSpec
from ui import session
from ui.dates import sentinel_date
from ui.mapview import LAST_BOUNDS
from ui.resources import AppContext, explain, start_ingest_job
from ui.text import md

# The usual collections of the public APIs (their documentation and collection listings):
# Earth Search v1 (Element 84), Planetary Computer, Copernicus Data Space Ecosystem STAC.
SUGGESTED: dict[str, tuple[tuple[str, str], ...]] = {
    "earth-search.aws.element84.com": (
        ("sentinel-2-l2a", "Sentinel-2 surface reflectance (L2A), cloud-optimised GeoTIFFs"),
        ("sentinel-2-l1c", "Sentinel-2 top-of-atmosphere (L1C)"),
        ("sentinel-1-grd", "Sentinel-1 GRD (radar; files in a requester-pays bucket)"),
    ),
    "planetarycomputer.microsoft.com": (
        ("sentinel-2-l2a", "Sentinel-2 surface reflectance (L2A)"),
        ("sentinel-1-grd", "Sentinel-1 GRD (radar, not terrain-corrected)"),
        ("sentinel-1-rtc", "Sentinel-1 terrain-corrected radar (gamma0)"),
    ),
    "stac.dataspace.copernicus.eu": (
        ("sentinel-2-l2a", "Sentinel-2 surface reflectance (L2A)"),
        ("sentinel-2-l1c", "Sentinel-2 top-of-atmosphere (L1C)"),
        ("sentinel-1-grd", "Sentinel-1 GRD (radar)"),
    ),
}
ANY_API = (
    ("sentinel-2-l2a", "Sentinel-2 surface reflectance (L2A)"),
    ("sentinel-2-l1c", "Sentinel-2 top-of-atmosphere (L1C)"),
    ("sentinel-1-rtc", "Sentinel-1 terrain-corrected radar"),
    ("sentinel-1-grd", "Sentinel-1 GRD (radar)"),
)
# The engine's words for the command line -> this page's fields.
FIELD_WORDS: tuple[tuple[str, str], ...] = (
    ("--collections:", "Collections:"),
    ("--datetime", "From / To"),
    ("--max-items", "At most this many items"),
    (
        "check the collections, the dates, the filter and the query",
        "check the names in Collections and the From / To dates",
    ),
)
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_LISTED = "s_stac_collections"  # (api url, [(id, title)]) of the last listing
_COUNTED = "s_stac_count"  # (search signature, SearchCount) of the last Check


def suggestions(url: str) -> tuple[tuple[str, str], ...]:
    """The usual collections of the API at ``url`` (by host), else those of most APIs."""
    return SUGGESTED.get(host_of(url) if url.startswith(("http://", "https://")) else "", ANY_API)


def in_page_words(err: ClospError) -> str:
    """An engine error as this page says it (``FIELD_WORDS``), markdown-escaped."""
    text = str(err)
    for cli, page in FIELD_WORDS:
        text = text.replace(cli, page)
    return md(text)


def show_error(err: ClospError, ctx: AppContext) -> None:
    """The index's and the model's problems with what to check (``explain``); the rest
    (the API, the fields, a job already running) in plain words."""
    if isinstance(err, StoreError | WeightsUnavailableError):
        st.error(explain(err, ctx.settings))
    else:
        st.error(in_page_words(err))


def check_names(names: list[str]) -> list[str]:
    """The typed collection names, trimmed; ``DataError`` in the page's words for one that is
    not a collection name (letters, digits, ``. _ : -``)."""
    clean = [n.strip() for n in names if n.strip()]
    for name in clean:
        if not COLLECTION_NAME.match(name):
            raise DataError(
                f"Collections: {name[:60]!r} is not a collection name; names are one word of "
                "letters, digits and . _ : - such as sentinel-2-l2a"
            )
    return clean


def api_url(ctx: AppContext) -> str:
    """The STAC API to use: one the operator configured (``CLOSP_STAC_APIS``), or any URL when
    the operator allows free entry (``CLOSP_STAC_FREE_ENTRY``)."""
    apis = ctx.settings.stac_api_list
    if ctx.settings.stac_free_entry:
        return st.text_input("STAC API", value=apis[0] if apis else "", key="stac_url")
    return str(st.selectbox("STAC API", apis, key="stac_api"))


def stac_area() -> tuple[Aoi | None, str]:
    """The drawn area, else the last map view of the Search page; and how to say it."""
    state = session.current_state()
    if state.area:
        return Aoi.from_geojson({"type": "Polygon", "coordinates": [list(state.area)]}), (
            f"the area drawn on the map ({len(state.area) - 1} corners)"
        )
    bounds = st.session_state.get(LAST_BOUNDS)
    if bounds:
        return Aoi.from_bbox(bounds), "the map view: " + ", ".join(f"{v:.3f}" for v in bounds)
    return None, ""


def list_button(url: str, remote: RemoteOptions, ctx: AppContext) -> None:
    """ "List its collections": what the API lists, or why it lists nothing (type a name)."""
    if not st.button("List its collections", key="stac_list"):
        return
    typed = "Type a collection's name in **Collections** (press Enter to add it)"
    try:  # the page waits at most two requests' deadlines
        limit = min(2 * remote.timeout_s, remote.search_deadline_s)
        found = list_collections(url, dataclasses.replace(remote, search_deadline_s=limit))
    except CollectionsNotListedError:
        st.info(f"{md(host_of(url))} does not list its collections. {typed}, e.g. one of the "
                "suggestions, then press **Check** or **Fetch and add**.")  # fmt: skip
        return
    except ClospError as exc:
        show_error(exc, ctx)
        return
    st.session_state[_LISTED] = (url, list(found.entries))
    for note in found.notes:
        st.caption(md(note))
    if not found.entries:
        st.info(f"{md(host_of(url))} lists no collections. {typed}.")
    else:
        st.caption(f"{len(found.entries)} collections listed: pick them in **Collections**.")


def collections_field(url: str) -> list[str]:
    """The collections field: typed names, the API's usual ones, and those listed."""
    suggested = suggestions(url)
    listed = st.session_state.get(_LISTED)
    titles = dict(listed[1]) if listed and listed[0] == url else {}
    titles = {**titles, **{c: t for c, t in suggested if c not in titles or not titles[c]}}
    chosen = st.multiselect(
        "Collections",
        sorted(titles, key=lambda c: (c not in dict(suggested), c)),
        key="stac_c",
        accept_new_options=True,
        placeholder="Type a collection's name and press Enter, or pick one",
        help="Any collection of this API: type its name (Enter adds it). Its usual ones are "
        "offered; 'List its collections' adds the rest, where the API lists them.",
    )
    st.caption("Usual here: " + "; ".join(f"**{md(c)}**: {md(t)}" for c, t in suggested))
    return [str(c) for c in chosen]


@dataclasses.dataclass(frozen=True)
class SearchForm:
    """What the tab's fields say; ``signature`` tells a Check's result apart."""

    url: str
    collections: tuple[str, ...]
    aoi: Aoi
    start: dt.date
    end: dt.date
    most: int

    @property
    def signature(self) -> tuple[Any, ...]:
        return (self.url, self.collections, self.aoi.polygons, self.start, self.end, self.most)

    def query(self) -> StacQuery:
        interval = f"{self.start}/{self.end}"
        return StacQuery(self.url, self.collections, self.aoi, interval, max_items=self.most)


def count_text(count: SearchCount, most: int) -> str:
    """A Check's result in words."""
    if count.items == 0:
        return (
            "No items match: check the names in **Collections** (the API's own, e.g. "
            "sentinel-2-l2a), the area and the **From / To** dates."
        )
    items = f"{count.items} item{'s' * (count.items != 1)}"
    if count.matched is not None and count.matched > count.items:
        items += f" (of {count.matched} matching; raise **At most this many items** for more)"
    elif count.items >= most:
        items += " (the most asked for; raise **At most this many items** for more)"
    text = (
        f"{items} in {count.scenes} scene{'s' * (count.scenes != 1)}: "
        f"**{count.chips} chip{'s' * (count.chips != 1)}** for this area (fewer where a chip is "
        "mostly no-data). **Fetch and add** reads them."
    )
    if count.failed:
        text += f" {len(count.failed)} cannot be read: " + md("; ".join(count.failed[:3]))
    return text


def check_button(
    form: SearchForm | None, options: SceneOptions, remote: RemoteOptions, ctx: AppContext
) -> None:
    """ "Check": the items, scenes and chips this search would add; kept while the fields
    stay the same."""
    if st.button("Check", key="stac_check", disabled=form is None) and form is not None:
        try:
            source = StacSearchSource(form.query(), options, remote=remote)
            st.session_state[_COUNTED] = (form.signature, count_search(source))
        except ClospError as exc:
            show_error(exc, ctx)
    counted = st.session_state.get(_COUNTED)
    if form is not None and counted and counted[0] == form.signature:
        st.info(count_text(counted[1], form.most))


def stac_tab(ctx: AppContext, busy: bool, options_for: Callable[[], SceneOptions]) -> None:
    """The whole tab (module docstring); ``options_for()`` draws the scene options."""
    url = api_url(ctx)
    remote = RemoteOptions.from_settings(ctx.settings)
    collections = collections_field(url)
    list_button(url, remote, ctx)
    aoi, where = stac_area()
    if aoi is None:
        st.info("Draw an area on the Search page's map, or move the map there, first.")
    else:
        st.caption(f"Area: {md(where)}")
    today = dt.date.today()
    left, right = st.columns(2)
    start = sentinel_date("From", key="stac_from", container=left,
                          value=today - dt.timedelta(days=14))  # fmt: skip
    end = sentinel_date("To", key="stac_to", container=right, value=today)
    most = int(st.number_input("At most this many items", 1, 500, 10, key="stac_max"))
    options = options_for()
    form = None
    try:
        names = check_names(collections)
    except DataError as exc:
        show_error(exc, ctx)
        names = []
    if start and end and start > end:
        st.error("**From** is after **To**: pick a From date on or before the To date.")
    elif aoi is not None and names and start and end:
        form = SearchForm(url, tuple(names), aoi, start, end, most)
    if form is None and not collections:
        st.caption("Type or pick a collection in **Collections** to search.")
    check_button(form, options, remote, ctx)
    go = st.button("Fetch and add", disabled=form is None or busy, type="primary", key="stac_go")
    if not go or form is None:
        return
    try:
        query = form.query()
        title = f"STAC {', '.join(form.collections)} {form.start}/{form.end}"
        spec = {"options": options, "remote": remote}
        start_ingest_job(ctx, title, [SourceSpec("stac-search", query, spec)])
    except ClospError as exc:
        show_error(exc, ctx)
        return
    st.rerun()
