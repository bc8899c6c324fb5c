"""One STAC Item from JSON of any shape: ``make_item(doc, href)`` -> ``pystac.Item`` or our
``DataError`` naming what is wrong (never another exception: property-tested with hypothesis in
``tests/data/test_stac_item.py``).

pystac reads a dict as it comes; a feature that is not an object, an asset or link without a
string href, ``"properties": []``, a null or non-string ``datetime`` (without
``start_datetime`` / ``end_datetime``), a garbage date, a bbox that is not 4 or 6 numbers ...
are checked here first, so that one malformed item is one failed unit and the others go on.
"""

from __future__ import annotations

from typing import Any

import pystac
from pystac.errors import STACError, STACTypeError

from closp_core.errors import DataError

_ITEM_ERRORS = (STACError, STACTypeError, KeyError, TypeError, ValueError, OverflowError)


def make_item(doc: Any, href: str) -> pystac.Item:
    """A STAC Item from its JSON; ``DataError`` naming ``href`` when it is not one (any shape
    of JSON: checked here before pystac reads it)."""
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise DataError(f"STAC {href}: not a STAC Item (type {item_kind(doc)!r:.80})")
    if not isinstance(doc.get("id"), str) or not doc["id"]:
        raise DataError(f"STAC {href}: an item without an id (a non-empty string)")
    if not isinstance(doc.get("assets"), dict) or not isinstance(doc.get("properties"), dict):
        raise DataError(f"STAC {href}: item {doc['id']!r:.80} lacks assets or properties objects")
    problem = _item_shape_problem(doc)
    if problem:
        raise DataError(f"STAC {href}: item {doc['id']!r:.80} is malformed ({problem})")
    try:
        return pystac.Item.from_dict(doc, href=href, migrate=False, preserve_dict=True)
    except _ITEM_ERRORS as err:
        raise DataError(
            f"STAC {href}: item {doc['id']!r:.80} is malformed ({type(err).__name__}: "
            f"{str(err)[:200]})"
        ) from None


def _item_shape_problem(doc: dict[str, Any]) -> str | None:
    """What in an item's JSON is not the shape STAC gives it, or ``None``."""
    for key, asset in doc["assets"].items():
        if not isinstance(asset, dict) or not isinstance(asset.get("href"), str):
            return f"asset {str(key)[:40]!r} has no string href"
    links = doc.get("links", [])
    if not isinstance(links, list) or not all(
        isinstance(x, dict) and isinstance(x.get("rel"), str) and isinstance(x.get("href"), str)
        for x in links
    ):
        return "links is not a list of objects with rel and href"
    if not isinstance(doc.get("geometry"), dict | None):
        return "geometry is not an object or null"
    bbox = doc.get("bbox")
    if bbox is not None and not (
        isinstance(bbox, list) and all(_is_number(v) for v in bbox) and len(bbox) in (4, 6)
    ):
        return "bbox is not a list of 4 or 6 numbers"
    for key in ("collection", "stac_version"):
        if not isinstance(doc.get(key, ""), str):
            return f"{key} is not a string"
    extensions = doc.get("stac_extensions", [])
    if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
        return "stac_extensions is not a list of strings"
    return _datetime_problem(doc["properties"])


def _datetime_problem(properties: dict[str, Any]) -> str | None:
    when = properties.get("datetime")
    if when is None:
        ends = (properties.get("start_datetime"), properties.get("end_datetime"))
        if not all(isinstance(e, str) for e in ends):
            return "datetime is null without start_datetime and end_datetime"
        return None
    if not isinstance(when, str):
        return f"datetime {when!r:.40} is not a string"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def item_kind(doc: Any) -> str | None:
    return doc.get("type") if isinstance(doc, dict) else type(doc).__name__
