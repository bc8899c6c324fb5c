"""URL codecs of the search state: each turns a query parameter's values into a value and back.

Reading is lenient (no Streamlit, nothing evaluated): anything invalid reads as ``None`` and the
field then keeps its default; text is length-limited. Writing is the exact inverse, with
numbers as short as they can be (5 decimals: ~1 m).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

from closp_core.data.timestamps import FIRST_DAYS
from closp_core.feedback.sharelink import MAX_LINK_CHARS
from closp_core.records import LonLat

MAX_QUERY_CHARS = 200
MAX_KEY_CHARS = 300
MAX_AREA_POINTS = 200
# the longest ``fb`` read: 1,000 labels of the first form (whole ids); the app writes the short
# form (``closp_core.feedback.sharelink``: 1,000 labels in ~4 kB)
MAX_FEEDBACK_CHARS = MAX_LINK_CHARS
DEFAULT_LIMIT = 50
MAX_RESULTS = 200


@dataclasses.dataclass(frozen=True)
class Codec:
    """``read``: all values of the URL key (the last one counts, unless ``repeated``) -> the
    value, ``None`` when invalid; ``write``: a non-default value -> its URL text (a list of
    texts for a repeated key)."""

    read: Callable[[Sequence[str]], Any]
    write: Callable[[Any], str | list[str]]
    repeated: bool = False


def _last(read: Callable[[str], Any]) -> Callable[[Sequence[str]], Any]:
    return lambda values: read(values[-1]) if values else None


def clean_query(text: object) -> str:
    """Query text: a string, stripped of control characters, at most ``MAX_QUERY_CHARS``."""
    if not isinstance(text, str):
        return ""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:MAX_QUERY_CHARS]


def _floats(text: str, n: int) -> tuple[float, ...] | None:
    parts = text.split(",")
    if len(parts) != n:
        return None
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def parse_lon_lat(text: str) -> LonLat | None:
    """``"lon,lat"`` in degrees, or ``None`` if invalid."""
    pair = _floats(text, 2)
    if pair is None or abs(pair[0]) > 180 or abs(pair[1]) > 90:
        return None
    return pair[0], pair[1]


def parse_bbox(text: str) -> tuple[float, float, float, float] | None:
    """``"west,south,east,north"`` in degrees, or ``None`` if invalid."""
    box = _floats(text, 4)
    if box is None:
        return None
    w, s, e, n = box
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        return None
    return w, s, e, n


def parse_area(text: str) -> tuple[LonLat, ...] | None:
    """A closed ring ``"lon,lat;lon,lat;..."`` (closed if needed), or ``None`` if invalid."""
    points = [parse_lon_lat(p) for p in text.split(";")[:MAX_AREA_POINTS] if p]
    if len(points) < 3 or any(p is None for p in points):
        return None
    ring = [p for p in points if p is not None]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return tuple(ring) if len(ring) >= 4 else None


def parse_view(text: str) -> tuple[float, float, int] | None:
    """``"lat,lon,zoom"`` or ``None``."""
    view = _floats(text, 3)
    if view is None or abs(view[0]) > 90 or abs(view[1]) > 180 or not 0 <= view[2] <= 20:
        return None
    return view[0], view[1], int(view[2])


def parse_date(text: str) -> dt.date | None:
    """An ISO day from the first Sentinel image (2014-04-03) to today, else ``None``."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if min(FIRST_DAYS.values()) <= day <= dt.date.today() else None


def parse_key(text: str | None) -> str | None:
    """A chip key: printable, at most ``MAX_KEY_CHARS``."""
    if not text or len(text) > MAX_KEY_CHARS or not text.isprintable():
        return None
    return text


def parse_feedback(text: str) -> str | None:
    """The labels' URL value, if it only holds base64url and a dot (decoded later, with the
    store: a bad one is then reported, not silently dropped)."""
    if not text or len(text) > MAX_FEEDBACK_CHARS:
        return None
    return text if all(c.isalnum() or c in "-_." for c in text) else None


def parse_pair(text: str) -> tuple[str, str] | None:
    keys = text.split("|")
    if len(keys) != 2:
        return None
    first, second = parse_key(keys[0]), parse_key(keys[1])
    return (first, second) if first and second else None


def parse_limit(text: str) -> int:
    """A result count, clamped to ``1 .. MAX_RESULTS`` (``DEFAULT_LIMIT`` if not a number)."""
    try:
        return min(max(int(text or DEFAULT_LIMIT), 1), MAX_RESULTS)
    except ValueError:
        return DEFAULT_LIMIT


def parse_threshold(text: str) -> float | None:
    """A score threshold: a finite number in [-1, 1] (cosine, probability, change)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if -1.0 <= value <= 1.0 else None


def num(value: float) -> str:
    """A number as short as it can be written (at most 5 decimals)."""
    return f"{value:.5f}".rstrip("0").rstrip(".")


def _nums(values: Sequence[float]) -> str:
    return ",".join(num(v) for v in values)


TEXT = Codec(_last(clean_query), str)
DATE = Codec(_last(parse_date), lambda day: day.isoformat())
FLAG = Codec(_last(lambda text: text == "1"), lambda _: "1")
LIMIT = Codec(_last(parse_limit), str)
BOX = Codec(_last(parse_bbox), _nums)
AREA = Codec(_last(parse_area), lambda ring: ";".join(_nums(p) for p in ring))
VIEW = Codec(_last(parse_view), lambda v: f"{num(v[0])},{num(v[1])},{v[2]}")
POINT = Codec(_last(parse_lon_lat), _nums)
KEY = Codec(_last(parse_key), str)
FEEDBACK = Codec(_last(parse_feedback), str)
PAIR = Codec(_last(parse_pair), "|".join)
THRESHOLD = Codec(_last(parse_threshold), lambda value: num(value))


def choice(options: Sequence[str]) -> Codec:
    """One of ``options`` (anything else reads as ``None``)."""
    return Codec(_last(lambda text: text if text in options else None), str)


def labels(allowed: Sequence[str]) -> Codec:
    """A repeated key of labels: those of ``allowed`` that appear, in ``allowed``'s order."""
    return Codec(
        lambda values: tuple(label for label in allowed if label in values),
        list,
        repeated=True,
    )
