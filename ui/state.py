"""The search state: one frozen record, and its URL form (``st.query_params``) both ways.

Everything here is plain Python (no Streamlit import) so it is easy to test: ``from_params``
reads a query-parameter mapping leniently (anything invalid falls back to its default, nothing
is evaluated, text is length-limited) and ``to_params`` writes the inverse.

URL keys: ``q`` query text, ``event`` / ``cover`` labels (repeated), ``sensor`` (s1|s2),
``from`` / ``to`` ISO dates, ``n`` results, ``comp`` S2 composite, ``base`` basemap,
``inview`` + ``bbox`` (west,south,east,north) map-view filter, ``area`` drawn polygon
(lon,lat;lon,lat;...), ``view`` map centre and zoom (lat,lon,zoom), ``chip`` selected chip,
``like`` "More like this" chip, ``near`` "Near here" point (lon,lat); the responder's loop:
``fb`` 👍/👎 labels (``closp_core.feedback.encode_labels``: base64url point ids, ~21 characters
a label), ``hidel`` hide labelled chips, ``mode`` ``change`` for "what changed into <text>
after <date>" with ``when`` the event date, ``tl`` the selected chip's place over time and
``cmp`` the two chips compared (key|key).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from closp_core.labels import EVENT_LABELS, LAND_COVER_LABELS
from closp_core.records import LonLat
from closp_core.render import S2_COMPOSITES

MAX_QUERY_CHARS = 200
MAX_KEY_CHARS = 300
MAX_AREA_POINTS = 200
DEFAULT_LIMIT = 50
MAX_RESULTS = 200
SENSORS = ("both", "s1", "s2")
MODES = ("find", "change")
MAX_FEEDBACK_CHARS = 6000  # ~280 labels: far under browsers' URL limits
BASEMAPS = ("offline", "osm", "esri")


@dataclasses.dataclass(frozen=True)
class SearchState:
    """What the user asked for: shared by the sidebar, the pages and the URL."""

    query: str = ""
    events: tuple[str, ...] = ()
    land_cover: tuple[str, ...] = ()
    sensor: str = "both"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    limit: int = DEFAULT_LIMIT
    composite: str = "true_color"
    basemap: str = "offline"
    in_view: bool = False
    bbox: tuple[float, float, float, float] | None = None
    area: tuple[LonLat, ...] | None = None
    view: tuple[float, float, int] | None = None
    selected: str | None = None
    like: str | None = None
    near: LonLat | None = None
    feedback: str = ""  # 👍/👎 labels in their URL form (closp_core.feedback.encode_labels)
    hide_labelled: bool = False
    mode: str = "find"  # "find" | "change"
    event_date: dt.date | None = None  # change mode: before / after this day
    timeline: bool = False  # the selected chip's place over time is open
    compare: tuple[str, str] | None = None  # two chips side by side (keys)

    @property
    def labels(self) -> tuple[str, ...]:
        """Event and land-cover labels together (a chip matches any of them)."""
        return self.events + self.land_cover

    def search_key(self) -> tuple[Any, ...]:
        """What decides the result list (not the selection, view or display options)."""
        return (
            self.query,
            self.labels,
            self.sensor,
            self.date_from,
            self.date_to,
            self.limit,
            self.bbox if self.in_view else None,
            self.area,
            self.like,
            self.near,
            self.feedback,
            self.hide_labelled,
            self.mode,
            self.event_date if self.mode == "change" else None,
        )

    def search_id(self) -> str:
        """A short, stable name of ``search_key()`` (the map frames each new one once)."""
        return hashlib.sha1(repr(self.search_key()).encode(), usedforsecurity=False).hexdigest()[
            :16
        ]


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


def _lon_lat(text: str) -> LonLat | None:
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
    points = [_lon_lat(p) for p in text.split(";")[:MAX_AREA_POINTS] if p]
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


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _key(text: str | None) -> str | None:
    if not text or len(text) > MAX_KEY_CHARS or not text.isprintable():
        return None
    return text


def _feedback(text: str | None) -> str:
    """The labels' URL value, if it only holds base64url and a dot (decoded later, with the
    store: a bad one is then reported, not silently dropped)."""
    if not text or len(text) > MAX_FEEDBACK_CHARS:
        return ""
    return text if all(c.isalnum() or c in "-_." for c in text) else ""


def _pair(text: str | None) -> tuple[str, str] | None:
    keys = (text or "").split("|")
    if len(keys) != 2:
        return None
    first, second = _key(keys[0]), _key(keys[1])
    return (first, second) if first and second else None


def _limit(text: str | None) -> int:
    try:
        return min(max(int(text or DEFAULT_LIMIT), 1), MAX_RESULTS)
    except ValueError:
        return DEFAULT_LIMIT


def _choice(text: str | None, options: Sequence[str], default: str) -> str:
    return text if text is not None and text in options else default


def from_params(params: Mapping[str, Sequence[str]]) -> SearchState:
    """Read a state from query parameters (each key -> all its values); invalid -> default."""

    def one(name: str) -> str | None:
        values = params.get(name) or []
        return values[-1] if values else None

    return SearchState(
        query=clean_query(one("q") or ""),
        events=tuple(v for v in EVENT_LABELS if v in (params.get("event") or [])),
        land_cover=tuple(v for v in LAND_COVER_LABELS if v in (params.get("cover") or [])),
        sensor=_choice(one("sensor"), SENSORS, "both"),
        date_from=_date(one("from") or ""),
        date_to=_date(one("to") or ""),
        limit=_limit(one("n")),
        composite=_choice(one("comp"), tuple(S2_COMPOSITES), "true_color"),
        basemap=_choice(one("base"), BASEMAPS, "offline"),
        in_view=one("inview") == "1",
        bbox=parse_bbox(one("bbox") or ""),
        area=parse_area(one("area") or ""),
        view=parse_view(one("view") or ""),
        selected=_key(one("chip")),
        like=_key(one("like")),
        near=_lon_lat(one("near") or ""),
        feedback=_feedback(one("fb")),
        hide_labelled=one("hidel") == "1",
        mode=_choice(one("mode"), MODES, "find"),
        event_date=_date(one("when") or ""),
        timeline=one("tl") == "1",
        compare=_pair(one("cmp")),
    )


def _num(value: float) -> str:
    return f"{value:.5f}".rstrip("0").rstrip(".")


def to_params(state: SearchState) -> dict[str, str | list[str]]:
    """The query parameters of ``state`` (defaults left out, so URLs stay short)."""
    out: dict[str, str | list[str]] = {}
    if state.query:
        out["q"] = state.query
    if state.events:
        out["event"] = list(state.events)
    if state.land_cover:
        out["cover"] = list(state.land_cover)
    if state.sensor != "both":
        out["sensor"] = state.sensor
    if state.date_from:
        out["from"] = state.date_from.isoformat()
    if state.date_to:
        out["to"] = state.date_to.isoformat()
    if state.limit != DEFAULT_LIMIT:
        out["n"] = str(state.limit)
    if state.composite != "true_color":
        out["comp"] = state.composite
    if state.basemap != "offline":
        out["base"] = state.basemap
    if state.in_view:
        out["inview"] = "1"
    if state.bbox:
        out["bbox"] = ",".join(_num(v) for v in state.bbox)
    if state.area:
        out["area"] = ";".join(f"{_num(x)},{_num(y)}" for x, y in state.area)
    if state.view:
        out["view"] = f"{_num(state.view[0])},{_num(state.view[1])},{state.view[2]}"
    for name, value in (("chip", state.selected), ("like", state.like)):
        if value:
            out[name] = value
    if state.near:
        out["near"] = f"{_num(state.near[0])},{_num(state.near[1])}"
    if state.feedback:
        out["fb"] = state.feedback
    if state.hide_labelled:
        out["hidel"] = "1"
    if state.mode != "find":
        out["mode"] = state.mode
    if state.event_date:
        out["when"] = state.event_date.isoformat()
    if state.timeline:
        out["tl"] = "1"
    if state.compare:
        out["cmp"] = "|".join(state.compare)
    return out
