"""The search state: one frozen record, and one table of its fields (``FIELDS``) from which
the URL form (``st.query_params``, both ways) and the session-state keys are derived.

Everything here is plain Python (no Streamlit import) so it is easy to test: ``from_params``
reads a query-parameter mapping leniently (anything invalid falls back to its default, nothing
is evaluated, text is length-limited; ``ui.codecs``) and ``to_params`` writes the inverse,
leaving defaults out. ``ui.query.request_for`` turns a state into the engine's
``SearchRequest``.

URL keys: ``q`` query text, ``event`` / ``cover`` labels (repeated), ``sensor`` (s1|s2),
``from`` / ``to`` ISO dates, ``n`` results, ``comp`` S2 composite, ``base`` basemap,
``inview`` + ``bbox`` (west,south,east,north) map-view filter, ``area`` drawn polygon
(lon,lat;lon,lat;...), ``view`` map centre and zoom (lat,lon,zoom), ``chip`` selected chip,
``like`` "More like this" chip, ``near`` "Near here" point (lon,lat); the responder's loop:
``fb`` 👍/👎 labels (``closp_core.feedback.sharelink``: short point-id prefixes, ~4 characters
a label), ``hidel`` hide labelled chips, ``mode`` ``change`` for "what changed into <text>
after <date>" with ``when`` the event date, ``tl`` the selected chip's place over time and
``cmp`` the two chips compared (key|key); the score map: ``smap`` on, ``st`` its threshold
(absent: the suggested one), ``sc`` how S1 and S2 combine (either|both|s1|s2).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from closp_core.labels import EVENT_LABELS, LAND_COVER_LABELS
from closp_core.records import LonLat
from closp_core.render import S2_COMPOSITES
from ui import codecs
from ui.codecs import (
    DEFAULT_LIMIT,
    MAX_KEY_CHARS,
    MAX_QUERY_CHARS,
    MAX_RESULTS,
    Codec,
    clean_query,
)

SENSORS = ("both", "s1", "s2")
COMBINES = ("either", "both", "s1", "s2")
MODES = ("find", "change")
BASEMAPS = ("offline", "osm", "esri")
__all__ = [
    "BASEMAPS",
    "DEFAULT_LIMIT",
    "FIELDS",
    "MAX_KEY_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_RESULTS",
    "MODES",
    "SENSORS",
    "Field",
    "LonLat",
    "SearchState",
    "clean_query",
    "dropped_params",
    "from_params",
    "to_params",
]


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
    feedback: str = ""  # 👍/👎 labels in their URL form (closp_core.feedback.sharelink)
    hide_labelled: bool = False
    mode: str = "find"  # "find" | "change"
    event_date: dt.date | None = None  # change mode: before / after this day
    timeline: bool = False  # the selected chip's place over time is open
    compare: tuple[str, str] | None = None  # two chips side by side (keys)
    # score map: every chip in view scored and drawn (closp_core.scoremap)
    score_map: bool = False
    score_threshold: float | None = None  # None: the suggested threshold
    score_combine: str = "either"  # s1 | s2 | either | both

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


@dataclasses.dataclass(frozen=True)
class Field:
    """One part of the search state: its ``SearchState`` attribute, its URL key, its
    session-state key (``w_*``: a widget's own key; ``s_*``: kept by the app), its URL codec.
    The default is ``SearchState``'s."""

    name: str
    url: str
    key: str
    codec: Codec

    @property
    def widget(self) -> bool:
        """Whether a widget owns ``key`` (the sidebar's and the page's inputs)."""
        return self.key.startswith("w_")

    @property
    def default(self) -> Any:
        return _DEFAULTS[self.name]


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SearchState)}

# In URL order (share links keep this order).
FIELDS: tuple[Field, ...] = (
    Field("query", "q", "w_query", codecs.TEXT),
    Field("events", "event", "w_events", codecs.labels(EVENT_LABELS)),
    Field("land_cover", "cover", "w_cover", codecs.labels(LAND_COVER_LABELS)),
    Field("sensor", "sensor", "w_sensor", codecs.choice(SENSORS)),
    Field("date_from", "from", "w_from", codecs.DATE),
    Field("date_to", "to", "w_to", codecs.DATE),
    Field("limit", "n", "w_limit", codecs.LIMIT),
    Field("composite", "comp", "w_composite", codecs.choice(tuple(S2_COMPOSITES))),
    Field("basemap", "base", "w_basemap", codecs.choice(BASEMAPS)),
    Field("in_view", "inview", "w_in_view", codecs.FLAG),
    Field("bbox", "bbox", "s_bbox", codecs.BOX),
    Field("area", "area", "s_area", codecs.AREA),
    Field("view", "view", "s_view", codecs.VIEW),
    Field("selected", "chip", "s_selected", codecs.KEY),
    Field("like", "like", "s_like", codecs.KEY),
    Field("near", "near", "s_near", codecs.POINT),
    Field("feedback", "fb", "s_feedback", codecs.FEEDBACK),
    Field("hide_labelled", "hidel", "w_hide_labelled", codecs.FLAG),
    Field("mode", "mode", "w_mode", codecs.choice(MODES)),
    Field("event_date", "when", "w_event_date", codecs.DATE),
    Field("timeline", "tl", "s_timeline", codecs.FLAG),
    Field("compare", "cmp", "s_compare", codecs.PAIR),
    Field("score_map", "smap", "s_score_map", codecs.FLAG),
    Field("score_threshold", "st", "s_score_threshold", codecs.THRESHOLD),
    Field("score_combine", "sc", "w_score_combine", codecs.choice(COMBINES)),
)
BY_NAME: dict[str, Field] = {field.name: field for field in FIELDS}


def from_params(params: Mapping[str, Sequence[str]]) -> SearchState:
    """Read a state from query parameters (each key -> all its values); invalid -> default."""
    values = {}
    for field in FIELDS:
        value = field.codec.read(list(params.get(field.url) or []))
        if value is not None:
            values[field.name] = value
    return SearchState(**values)


def dropped_params(params: Mapping[str, Sequence[str]]) -> list[str]:
    """The URL keys of ``params`` that ``from_params`` could not read (the page says so)."""
    return [
        field.url
        for field in FIELDS
        if any(v for v in params.get(field.url) or [])
        and field.codec.read(list(params.get(field.url) or [])) is None
    ]


def _is_default(value: Any, default: Any) -> bool:
    return value == default or value is None or value == "" or value == ()


def to_params(state: SearchState) -> dict[str, str | list[str]]:
    """The query parameters of ``state`` (defaults left out, so URLs stay short)."""
    return {
        field.url: field.codec.write(getattr(state, field.name))
        for field in FIELDS
        if not _is_default(getattr(state, field.name), field.default)
    }
