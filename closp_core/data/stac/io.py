"""pystac-client's I/O with our budgets: ``BudgetedStacApiIO``, a subclass of its ``StacApiIO``.

pystac-client reads every API document through its ``StacApiIO`` (``request`` for one
document, ``get_pages`` for the pages of ``/search`` and ``/collections``). This subclass
changes three things and keeps the rest (links, POST bodies, conformance):

- ``request`` fetches through ``fetch.fetch``: hosts checked on every hop, a deadline per
  request (``remote.timeout_s``) and per search (``remote.search_deadline_s``, from the I/O's
  creation), bytes bounded; a failed status becomes ``APIError`` with its status code and no
  body (the remote's words are never shown).
- ``json_loads`` turns text that is not JSON (or nests too deep) into "not a STAC API".
- ``get_pages`` checks each page's shape ("not a STAC API: ..." for a page that is not an
  object with a ``features`` / ``collections`` list) and ends the paging, with a note in
  ``notes``, when a ``next`` link repeats one already followed or ``remote.max_pages`` pages
  were read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from copy import deepcopy
from typing import Any
from urllib.parse import urljoin

from pystac.link import Link
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from requests import Request

from closp_core.data.stac.fetch import CheckedSession, DeadlineError, HostPolicy, fetch, host_of
from closp_core.data.stac.remote import RemoteOptions
from closp_core.errors import DataError

_BODY_METHODS = ("POST", "PUT", "PATCH")


class NotStacError(DataError):
    """A URL answered, but not as a STAC API does."""


class BudgetedStacApiIO(StacApiIO):
    """``StacApiIO`` for the API at ``url`` under ``remote``'s budgets (module docstring)."""

    def __init__(self, url: str, remote: RemoteOptions) -> None:
        super().__init__(max_retries=None)
        self.url = url
        self.remote = remote
        self.checked = CheckedSession(HostPolicy.for_url(url, remote), remote)
        self.session = self.checked
        self.deadline = time.monotonic() + remote.search_deadline_s
        self.notes: list[str] = []
        self._landing: str | None = None

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        """The text at ``href`` (see the module docstring)."""
        method = (method or "GET").upper()
        landing = method == "GET" and href.rstrip("/") == self.url.rstrip("/") and not parameters
        if landing and self._landing is not None:
            return self._landing  # read once: checked first, then opened by pystac-client
        if method in _BODY_METHODS:
            request = Request(method=method, url=href, headers=headers, json=parameters)
        else:
            request = Request(method, href, headers=headers, params=deepcopy(parameters) or {})
        prepared = self.checked.prepare_request(request)
        now = time.monotonic()
        if now >= self.deadline:
            raise self._past_search_deadline()
        deadline = min(self.deadline, now + self.remote.timeout_s)
        try:
            status, body = fetch(self.checked, prepared, self.remote, deadline)
        except DataError as err:
            if isinstance(err, DeadlineError) and deadline == self.deadline:
                raise self._past_search_deadline() from None
            raise type(err)(f"STAC API {err}") from None
        if not 200 <= status < 300:
            error = APIError(f"HTTP {status}")
            error.status_code = status
            raise error
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotStacError(
                f"STAC API {host_of(href)}: not a STAC API (its answer is not UTF-8 text)"
            ) from None
        if landing:
            self._landing = text
        return text

    def landing_page(self) -> dict[str, Any]:
        """The API's landing page, checked to be a STAC catalogue (``NotStacError``)."""
        page = self.read_json(self.url)
        where = f"STAC API {host_of(self.url)}: not a STAC API"
        if not isinstance(page, dict):
            raise NotStacError(f"{where} (its landing page is a JSON {type(page).__name__})")
        links = page.get("links")
        if not isinstance(links, list) or not all(
            isinstance(link, dict)
            and isinstance(link.get("href"), str)
            and isinstance(link.get("rel"), str)
            for link in links
        ):
            raise NotStacError(f"{where} (its landing page has no list of links)")
        if not isinstance(page.get("id", ""), str) or not isinstance(page.get("type", ""), str):
            raise NotStacError(f"{where} (its landing page's id or type is not text)")
        conforms = page.get("conformsTo", [])
        if not isinstance(conforms, list) or not all(isinstance(c, str) for c in conforms):
            raise NotStacError(f"{where} (its conformsTo is not a list of URIs)")
        return page

    def collections_href(self) -> str:
        """``/collections`` of the API: its ``data`` link, else under the landing page."""
        for link in self.landing_page()["links"]:
            if link["rel"] == "data":
                return str(urljoin(self.url, link["href"]))
        return self.url.rstrip("/") + "/collections"

    def _past_search_deadline(self) -> DeadlineError:
        return DeadlineError(
            f"STAC API {host_of(self.url)}: the search ran past its deadline of "
            f"{self.remote.search_deadline_s:g} s (setting stac_search_deadline_s); stopped"
        )

    def json_loads(self, txt: str, *args: Any, **kwargs: Any) -> Any:
        """JSON of a document; ``NotStacError`` when it is not JSON."""
        try:
            return json.loads(txt)
        except (ValueError, RecursionError) as err:
            what = "nests too deep" if isinstance(err, RecursionError) else "is not JSON"
            raise NotStacError(
                f"STAC API {host_of(self.url)}: not a STAC API (its answer {what})"
            ) from None

    def get_pages(
        self, url: str, method: str | None = None, parameters: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The pages at ``url`` (checked), following ``next`` links within the budget."""
        followed: set[str] = set()
        page = checked_page(self.read_json(url, method=method, parameters=parameters), url)
        count = 1
        while page.get("features") or page.get("collections"):
            yield page
            link = next_link(page, url)
            if link is None:
                return
            mark = json.dumps(link, sort_keys=True, default=str)
            if mark in followed:
                self.notes.append("search ended: the API's next link repeats one followed before")
                return
            if count >= self.remote.max_pages:
                self.notes.append(
                    f"search ended after {count} pages (setting stac_max_pages); narrow it"
                )
                return
            followed.add(mark)
            page = checked_page(self.read_json(Link.from_dict(link), parameters=parameters), url)
            count += 1


def checked_page(page: Any, url: str) -> dict[str, Any]:
    """``page`` when it is an object whose ``features`` / ``collections`` is a list (or
    absent) and whose ``links`` is a list; ``NotStacError`` otherwise."""
    where = f"STAC API {host_of(url)}: not a STAC API"
    if not isinstance(page, dict):
        raise NotStacError(f"{where} (a page is a JSON {type(page).__name__}, not an object)")
    for key in ("features", "collections", "links"):
        if page.get(key) is not None and not isinstance(page[key], list):
            raise NotStacError(f"{where} (its page's {key!r} is not a list)")
    return page


def next_link(page: dict[str, Any], url: str) -> dict[str, Any] | None:
    """The page's ``next`` link (an object with a string href), if it has one."""
    for link in page.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "next":
            href = link.get("href")
            if not isinstance(href, str) or not href:
                raise NotStacError(
                    f"STAC API {host_of(url)}: not a STAC API (a next link without an href)"
                )
            body = link.get("body")
            if body is not None and not isinstance(body, dict):
                raise NotStacError(f"STAC API {host_of(url)}: not a STAC API (a next link's body)")
            return link
    return None
