"""Walking a static STAC document: an Item, an ItemCollection, or a Catalog/Collection whose
``child`` and ``item`` links are followed breadth first (at most ``MAX_DEPTH`` deep, each
document once, within ``remote.search_deadline_s``). Remote documents are fetched under the
budgets of ``fetch.py`` (hosts, a deadline per request, bytes); local ones are at most
``MAX_DOCUMENT_BYTES``. A document that cannot be read becomes a failure of its own
(``Found.failures``); only the top document's failure stops everything.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Protocol

import pystac

from closp_core.data.stac.fetch import DeadlineError, HostPolicy, get_json_bytes, host_of
from closp_core.data.stac.hrefs import HrefPolicy, is_http
from closp_core.data.stac.item import item_kind as _kind
from closp_core.data.stac.item import make_item
from closp_core.data.stac.remote import RemoteOptions
from closp_core.errors import DataError, HrefRefusedError


class StacRead(Protocol):
    """What the walk needs of ``stac.StacRead``: the remote budgets and the allowed hosts."""

    @property
    def remote(self) -> RemoteOptions: ...

    @property
    def hosts(self) -> HostPolicy | None: ...


MAX_DEPTH = 16
MAX_DOCUMENT_BYTES = 64 * 2**20


def read_document(href: str, remote: RemoteOptions, hosts: HostPolicy | None = None) -> Any:
    """The JSON at a local path or http(s) URL (fetched under ``remote``'s budgets, from a host
    ``hosts`` allows); ``DataError`` naming it otherwise."""
    try:
        if is_http(href):
            deadline = time.monotonic() + remote.timeout_s
            policy = hosts or HostPolicy.for_url(href, remote)
            data = get_json_bytes(href, remote, policy, deadline)
        else:
            path = Path(href)
            if path.stat().st_size > MAX_DOCUMENT_BYTES:
                raise DataError(f"STAC {href}: larger than {MAX_DOCUMENT_BYTES >> 20} MiB")
            data = path.read_bytes()
        return json.loads(data)
    except FileNotFoundError:
        raise DataError(f"STAC {href}: no such file; give a STAC JSON file or URL") from None
    except RecursionError:
        raise DataError(f"STAC {href}: cannot read it (its JSON nests too deep)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        what = "cannot reach" if is_http(href) else "cannot read"
        raise DataError(f"STAC {href}: {what} it ({type(err).__name__}: {err})") from None
    except DataError as err:
        message = str(err).removeprefix(f"{host_of(href)}: ")
        raise type(err)(f"STAC {href}: {message}") from None


@dataclasses.dataclass
class Found:
    """What a walk found: items with their document hrefs; documents that failed -> why."""

    items: list[tuple[pystac.Item, str]] = dataclasses.field(default_factory=list)
    failures: dict[str, DataError] = dataclasses.field(default_factory=dict)


def walk_stac(href: str, policy: HrefPolicy, read: StacRead) -> Found:
    """Items under a STAC document (module docstring); ``DataError`` if the top one fails."""
    found = Found()
    doc = read_document(href, read.remote, read.hosts)
    kind = _kind(doc)
    if kind == "Feature":
        found.items.append((make_item(doc, href), href))
    elif kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise DataError(f"STAC {href}: FeatureCollection without a features list")
        for i, feature in enumerate(features):
            _add_item(found, feature, href, f"{href}#features[{i}]")
    elif kind in ("Catalog", "Collection"):
        _walk_catalog(found, doc, href, policy, read)
    else:
        raise DataError(f"STAC {href}: not a STAC Item, ItemCollection or Catalog")
    if not found.items and not found.failures:
        raise DataError(f"STAC {href}: holds no items")
    return found


def _add_item(found: Found, doc: Any, base: str, where: str) -> None:
    try:
        found.items.append((make_item(doc, base), base))
    except DataError as err:
        found.failures[where] = DataError(str(err).replace(f"STAC {base}:", f"STAC {where}:"))


def _walk_catalog(found: Found, doc: Any, href: str, policy: HrefPolicy, read: StacRead) -> None:
    visited = {href}
    queue: list[tuple[Any, str, int]] = [(doc, href, 0)]
    ends = time.monotonic() + read.remote.search_deadline_s
    while queue:
        catalog, base, depth = queue.pop(0)
        for link in catalog.get("links") or []:
            rel = link.get("rel") if isinstance(link, dict) else None
            if rel not in ("child", "item"):
                continue
            if time.monotonic() > ends:
                found.failures[f"{href}: walk stopped"] = DeadlineError(
                    f"STAC {href}: reading the catalogue ran past its deadline of "
                    f"{read.remote.search_deadline_s:g} s (setting stac_search_deadline_s); "
                    "the items found so far are read"
                )
                return
            try:
                target = policy.resolve(link.get("href"), base)
            except HrefRefusedError as err:
                found.failures[f"{base} -> {link.get('href')!r}"] = err
                continue
            if target in visited:
                if rel == "child":
                    found.failures[target] = DataError(
                        f"STAC {target}: linked again from {base} (a cycle); read once"
                    )
                continue
            visited.add(target)
            try:
                child = read_document(target, read.remote, read.hosts)
            except DataError as err:
                found.failures[target] = err
                continue
            if rel == "item":
                _add_item(found, child, target, target)
            elif _kind(child) not in ("Catalog", "Collection"):
                found.failures[target] = DataError(
                    f"STAC {target}: a child link to a {_kind(child)!r}"
                )
            elif depth + 1 > MAX_DEPTH:
                found.failures[target] = DataError(f"STAC {target}: deeper than {MAX_DEPTH} levels")
            else:
                queue.append((child, target, depth + 1))
