"""STAC API item search (pystac-client) -> de-duplicated items -> chips of the AOI.

``StacQuery(url, collections, aoi, datetime, ...)`` describes one search of the STAC API
item-search endpoint (https://github.com/radiantearth/stac-api-spec/tree/release/v1.0.0/item-search):
``collections``, an AOI sent as ``bbox`` (a box) or ``intersects`` (a polygon), ``datetime``
(``START/END``, RFC 3339 dates or times, ``..`` for an open end), ``max_items``, a CQL2
``filter`` (text, or JSON when it starts with ``{``; the filter extension) or ``query``
expressions (``eo:cloud_cover<20``, or a JSON object; the query extension). Arguments are
checked before anything is sent (``DataError`` saying what to fix).

``search_items(query, remote)`` pages through the results with pystac-client
(https://pystac-client.readthedocs.io/en/stable/usage.html) on our I/O
(``stac_io.BudgetedStacApiIO``: hosts checked on every hop, a deadline per request,
``remote.timeout_s``, retries included, and per search, ``remote.search_deadline_s``, bytes
and pages bounded), and yields each item id once. Requests are retried ``remote.retries``
times with back-off on connection errors and HTTP 429 / 5xx. Errors are ``DataError``s with
the status and the host, never the API's own words (a rejected search: HTTP 400).

**Per-item verdicts**: each feature of a page is parsed on its own (``stac_item.make_item``);
one that is not an item becomes a failed unit of its own and the others go on. A page that is
not a STAC page is "not a STAC API". **Duplicates**: an item id seen before (on this page or
an earlier one) is dropped and counted (``duplicates``, reported as flagged with the first
unit); a page whose items were all seen before, a ``next`` link followed before, or
``remote.max_pages`` pages end the search with a note (``notes``, reported the same way).

``StacSearchSource(query, options)`` is the ``ChipSource``: ``units()`` runs the search (a
progress bar counts items and pages), groups items into scenes (``stac.group_scenes``), and
``read`` reads only the chips that overlap the AOI. A page that still fails after its retries
once some items came back ends the search: it becomes a failed unit of its own and the items
found so far are read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pystac
from pystac.errors import STACError, STACTypeError
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.warnings import DoesNotConformTo
from tqdm import tqdm

from closp_core.data.base import check_labels
from closp_core.data.chip import Chip, Tally
from closp_core.data.chipping import SceneOptions
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.fetch import HostPolicy, host_of
from closp_core.data.stac.hrefs import HrefPolicy, is_http
from closp_core.data.stac.io import BudgetedStacApiIO, NotStacError
from closp_core.data.stac.item import make_item
from closp_core.data.stac.remote import RemoteOptions, Signer
from closp_core.data.stac.static import SceneItems, StacRead, group_scenes, read_unit
from closp_core.errors import DataError

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_QUERY_EXPR = re.compile(r"^\s*([A-Za-z0-9:_.\-]+)\s*(<=|>=|!=|<|>|=)\s*(.+?)\s*$")
_QUERY_OPS = {"<=": "lte", ">=": "gte", "!=": "neq", "<": "lt", ">": "gt", "=": "eq"}
_CLIENT_ERRORS = (APIError, DoesNotConformTo, STACError, STACTypeError, ValueError, KeyError)


@dataclasses.dataclass(frozen=True)
class StacQuery:
    """One STAC API search (see the module docstring)."""

    url: str
    collections: tuple[str, ...]
    aoi: Aoi
    datetime: str
    max_items: int | None = None
    filter: str | None = None
    query: tuple[str, ...] = ()
    page_size: int = 100
    method: str | None = None  # GET or POST; None: pystac-client's default (POST)

    def __post_init__(self) -> None:
        if not is_http(self.url):
            raise DataError(f"STAC API {self.url!r}: give an http(s) URL")
        if not self.collections or not all(c.strip() for c in self.collections):
            raise DataError("--collections: name at least one collection, e.g. sentinel-2-l2a")
        check_interval(self.datetime)
        if self.max_items is not None and self.max_items < 1:
            raise DataError(f"--max-items {self.max_items}: must be at least 1")
        if not 1 <= self.page_size <= 10000:
            raise DataError(f"page size {self.page_size}: must be 1..10000")
        if self.filter is not None and self.query:
            raise DataError("give --filter (CQL2) or --query, not both")
        self.search_parameters()  # parses filter and query: bad ones fail here

    def search_parameters(self) -> dict[str, Any]:
        """Keyword arguments of ``pystac_client.Client.search``."""
        params: dict[str, Any] = {
            "collections": list(self.collections),
            "datetime": self.datetime,
            "max_items": self.max_items,
            "limit": self.page_size,
        }
        if self.method is not None:
            params["method"] = self.method
        if self.aoi.is_box:
            params["bbox"] = list(self.aoi.bounds)
        else:
            params["intersects"] = self.aoi.geometry()
        if self.filter is not None:
            params["filter"], params["filter_lang"] = parse_filter(self.filter)
        if self.query:
            params["query"] = parse_query(self.query)
        return params


def check_interval(text: str) -> None:
    """``START/END`` (or one instant): each RFC 3339 date/time or ``..``; else ``DataError``."""
    parts = text.split("/")
    if not text.strip() or len(parts) > 2 or all(p in ("", "..") for p in parts):
        raise DataError(
            f"--datetime {text!r}: give START/END, e.g. 2023-06-01/2023-06-30 or "
            "2023-06-01T00:00:00Z/.. (one end may be open)"
        )
    for part in parts:
        if part in ("", "..") or _DATE.match(part):
            continue
        try:
            dt.datetime.fromisoformat(part.replace("Z", "+00:00"))
        except ValueError:
            raise DataError(
                f"--datetime {text!r}: {part!r} is not an RFC 3339 date or time "
                "(2023-06-01 or 2023-06-01T10:00:00Z)"
            ) from None


def parse_filter(text: str) -> tuple[dict[str, Any] | str, str]:
    """CQL2 text, or CQL2 JSON when it starts with ``{`` -> (filter, filter-lang)."""
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"--filter: not valid CQL2 JSON ({err})") from None
        return value, "cql2-json"
    if not text.strip():
        raise DataError('--filter: empty; give CQL2 text such as "eo:cloud_cover < 20"')
    return text, "cql2-text"


def parse_query(expressions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``("eo:cloud_cover<20", ...)`` or JSON objects -> the query extension's object."""
    merged: dict[str, dict[str, Any]] = {}
    for expr in expressions:
        if expr.lstrip().startswith("{"):
            try:
                value = json.loads(expr)
            except json.JSONDecodeError as err:
                raise DataError(f"--query {expr!r}: not valid JSON ({err})") from None
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise DataError(f'--query {expr!r}: give {{"property": {{"lt": 20}}}}')
            for prop, ops in value.items():
                merged.setdefault(prop, {}).update(ops)
            continue
        match = _QUERY_EXPR.match(expr)
        if match is None:
            raise DataError(f"--query {expr!r}: give PROPERTY OP VALUE, e.g. eo:cloud_cover<20")
        prop, op, raw = match.groups()
        merged.setdefault(prop, {})[_QUERY_OPS[op]] = _number_or_text(raw)
    return merged


def _number_or_text(raw: str) -> float | str:
    try:
        return float(raw)
    except ValueError:
        return raw.strip("\"'")


def open_client(
    url: str, remote: RemoteOptions, stac_io: BudgetedStacApiIO | None = None
) -> Client:
    """A pystac-client ``Client`` on our I/O (``stac_io.BudgetedStacApiIO``); ``DataError``
    when the API cannot be reached, is refused or is not a STAC API."""
    stac_io = stac_io or BudgetedStacApiIO(url, remote)
    try:
        stac_io.landing_page()
        return Client.open(url, stac_io=stac_io)
    except _CLIENT_ERRORS as err:
        raise DataError(api_error_message(url, err, remote, "open")) from None


def api_error_message(url: str, err: Exception, remote: RemoteOptions, doing: str) -> str:
    """One sentence about a failed API request: status and host, never the remote's body."""
    status = getattr(err, "status_code", None)
    host = host_of(url)
    if status is not None and 400 <= status < 500 and status != 429:
        return (
            f"STAC API {host} rejected the request to {doing} (HTTP {status}); check the "
            "collections, the dates, the filter and the query"
        )
    if status is not None:
        return f"STAC API {host}: HTTP {status} after {remote.retries} retries"
    if isinstance(err, APIError):
        return f"STAC API {host}: cannot reach it to {doing}; check the URL and the network"
    return f"STAC API {host}: not a STAC API ({type(err).__name__})"


class CollectionsNotListedError(DataError):
    """The API answers, but has no collection listing (``/collections`` is not there): its
    collections are searched by name all the same."""


_NOT_LISTED = frozenset({404, 405, 501})


@dataclasses.dataclass(frozen=True)
class Collections:
    """What ``list_collections`` found: ``(id, title)`` sorted by id, and notes (entries that
    were not collections, a paging that ended early)."""

    entries: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()


def list_collections(url: str, remote: RemoteOptions | None = None) -> Collections:
    """The API's collections (``/collections``, its pages within the budget);
    ``CollectionsNotListedError`` when the API has no listing (HTTP 404, 405, 501),
    ``DataError`` when it cannot be reached or listed."""
    remote = remote or RemoteOptions()
    if not is_http(url):
        raise DataError(f"STAC API {url!r}: give an http(s) URL")
    stac_io = BudgetedStacApiIO(url, remote)
    found: dict[str, str] = {}
    bad = 0
    try:
        for page in stac_io.get_pages(stac_io.collections_href()):
            for entry in page.get("collections") or []:
                if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]:
                    title = entry.get("title")
                    found.setdefault(entry["id"], title if isinstance(title, str) else "")
                else:
                    bad += 1
    except _CLIENT_ERRORS as err:
        if getattr(err, "status_code", None) in _NOT_LISTED:
            raise CollectionsNotListedError(
                f"STAC API {host_of(url)} does not list its collections (HTTP "
                f"{getattr(err, 'status_code', '')}); search it with a collection's name"
            ) from None
        raise DataError(api_error_message(url, err, remote, "list its collections")) from None
    notes = [*stac_io.notes] + ([f"{bad} entries were not collections"] if bad else [])
    if not found and bad:
        raise NotStacError(f"STAC API {host_of(url)}: not a STAC API (no collection has an id)")
    return Collections(tuple(sorted(found.items())), tuple(notes))


@dataclasses.dataclass
class SearchPage:
    """One page of a search: its items, and its features that are not items (where -> why);
    ``matched``: how many items the whole search matches, when the API says so."""

    number: int
    items: list[pystac.Item]
    failures: dict[str, DataError]
    matched: int | None = None


def search_pages(
    query: StacQuery, remote: RemoteOptions, notes: list[str] | None = None
) -> Iterator[SearchPage]:
    """Pages of the search, each feature parsed on its own (``stac.make_item``); ``DataError``
    when a request fails; ``notes`` receives why the paging ended early, if it did."""
    stac_io = BudgetedStacApiIO(query.url, remote)
    client = open_client(query.url, remote, stac_io)
    try:
        pages = client.search(**query.search_parameters()).pages_as_dicts()
        for number, page in enumerate(pages, start=1):
            yield parse_page(page, number, query.url)
    except _CLIENT_ERRORS as err:
        raise DataError(api_error_message(query.url, err, remote, "search")) from None
    finally:
        if notes is not None:
            notes += stac_io.notes


def parse_page(page: dict[str, Any], number: int, url: str) -> SearchPage:
    """The items of one search page; a feature that is not an item is a failure of its own."""
    result = SearchPage(number, [], {}, _matched(page))
    base = url.rstrip("/") + "/search"
    for i, feature in enumerate(page.get("features") or []):
        item_id = feature.get("id") if isinstance(feature, dict) else None
        where = f"{host_of(url)} search page {number}, feature {i + 1}"
        if isinstance(item_id, str) and item_id:
            where += f" (item {item_id[:80]!r})"  # ids may repeat: the position names it
        try:
            result.items.append(make_item(feature, base))
        except DataError as err:
            result.failures[where] = DataError(str(err).replace(f"STAC {base}:", f"{where}:"))
    return result


def _matched(page: dict[str, Any]) -> int | None:
    """``numberMatched`` (STAC API 1.0), else the context extension's ``matched``."""
    context = page.get("context")
    value = page.get("numberMatched", context.get("matched") if isinstance(context, dict) else None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def search_items(
    query: StacQuery,
    remote: RemoteOptions | None = None,
    on_page: Callable[[SearchPage, int, int], None] | None = None,
    notes: list[str] | None = None,
) -> Iterator[pystac.Item]:
    """Each item of the search once (first seen wins); ``on_page(page, new, duplicates)`` per
    page. A page whose items were all seen before ends the search (a note says so)."""
    seen: set[str] = set()
    for page in search_pages(query, remote or RemoteOptions(), notes):
        fresh: list[pystac.Item] = []
        for item in page.items:
            if item.id not in seen:
                seen.add(item.id)
                fresh.append(item)
        if on_page is not None:
            on_page(page, len(fresh), len(page.items) - len(fresh))
        yield from fresh
        if page.items and not fresh:
            if notes is not None:
                notes.append(f"search ended: page {page.number} repeats items already seen")
            return


class StacSearchSource:
    """``ChipSource`` for a STAC API search: ``StacSearchSource(query, options=None, *,
    signer=None, remote=None, progress=False)``; one unit per scene."""

    name = "stac"

    def __init__(
        self,
        query: StacQuery,
        options: SceneOptions | None = None,
        *,
        signer: Signer | None = None,
        remote: RemoteOptions | None = None,
        progress: bool = False,
    ) -> None:
        self.query = query
        self.options = options or SceneOptions()
        check_labels(self.options.labels, "STAC labels")
        remote = remote or RemoteOptions()
        hosts = HostPolicy.for_url(query.url, remote)
        self.read_with = StacRead(HrefPolicy(None), signer, remote, query.aoi, hosts)
        self.progress = progress
        self.duplicates = 0
        self.matched: int | None = None  # the API's count of matching items, if it says
        self.notes: list[str] = []
        self._scenes: dict[str, SceneItems] | None = None
        self._failures: dict[str, DataError] = {}

    def units(self) -> list[str]:
        """``<item id> (i/n)`` per scene (runs the search the first time)."""
        if self._scenes is None:
            items = self._search()
            base = self.query.url.rstrip("/") + "/search"
            scenes = group_scenes((item, _item_base(item, base)) for item in items)
            n = len(scenes)
            self._scenes = {f"{s.key_id} ({i}/{n})": s for i, s in enumerate(scenes, start=1)}
        return [*self._scenes, *self._failures]

    def scenes(self) -> dict[str, SceneItems]:
        """Unit -> the items of its scene (runs the search the first time)."""
        self.units()
        return dict(self._scenes or {})

    def failures(self) -> dict[str, DataError]:
        """Unit -> why: features that are no items, a page that failed after some items."""
        self.units()
        return dict(self._failures)

    def _search(self) -> list[pystac.Item]:
        items: list[pystac.Item] = []
        pages = 0
        bar = tqdm(desc="searching", unit="item", disable=not self.progress, leave=False)

        def on_page(page: SearchPage, new: int, duplicates: int) -> None:
            nonlocal pages
            pages = page.number
            self.matched = page.matched if page.number == 1 else self.matched
            self.duplicates += duplicates
            self._failures.update(page.failures)
            bar.update(new)
            bar.set_postfix(pages=pages, duplicates=self.duplicates)

        with bar:
            try:
                for item in search_items(self.query, self.read_with.remote, on_page, self.notes):
                    items.append(item)
            except DataError as err:
                if not items and not self._failures:
                    raise
                self._failures[f"{self.query.url} search page {pages + 1}"] = err
        return items

    def _report(self, unit: str, tally: Tally) -> None:
        """Duplicates and notes of the search, counted once: with the first unit's read."""
        self.units()
        if unit != next(iter(self._scenes or ()), None):
            return
        if self.duplicates:
            tally.flag("STAC search: duplicate item ids dropped", self.duplicates, "items")
        for note in self.notes:
            tally.flag(f"STAC {note}", 1, "searches")

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        """The chips of one scene that overlap the AOI."""
        self.units()
        assert self._scenes is not None
        scenes, failures = self._scenes, self._failures
        self._report(unit, tally)
        return read_unit(unit, scenes, failures, self.options, self.read_with, tally, "STAC search")


def _item_base(item: pystac.Item, default: str) -> str:
    self_href = item.get_self_href()
    return self_href if self_href and is_http(self_href) else default
