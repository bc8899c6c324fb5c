"""``SearchRequest``: everything one search asks for, checked once, whoever builds it.

What is searched for (at least one of them):

- ``text``: encoded by the CLOSP text tower; or ``vector``, a ``(384,)`` query vector used
  instead of encoding the text (then ``text`` only names the search);
- ``like``: a chip key whose own stored embedding is the query ("More like this"; the text,
  the vector and "near" are then not allowed);
- ``near``: a ``(lon, lat)`` point in degrees (GeoCLOSP models only), blended with the text as
  ``normalise(w * text + (1 - w) * place)`` with ``w`` = ``text_weight`` (see ``query.py``);
- ``marks``: 👍 / 👎 feedback labels (chip key -> +1 / -1); with any marks the ranking is
  ``closp_core.feedback.rerank`` (Rocchio, then a classifier), which needs a query or at
  least one chip marked relevant.

Filters (all optional, combined with AND): ``labels`` (a chip matches any of them), ``sensor``,
``date_from`` / ``date_to`` (whole UTC days, both inclusive), ``bbox`` (the map view: chips
whose centre is inside) and ``area`` (a drawn polygon).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np

from closp_core.bands import Sensor
from closp_core.errors import LabelError, SearchError
from closp_core.feedback import FeedbackLabels
from closp_core.labels import canonical_label
from closp_core.store import MAX_LIMIT, BBox, GeoPolygon, SearchFilters, TimeRange
from closp_core.store.types import check_vector

DEFAULT_LIMIT = 50
DEFAULT_TEXT_WEIGHT = 0.5
MAX_TEXT_CHARS = 1_000


@dataclasses.dataclass(frozen=True, eq=False)
class SearchRequest:
    """One search: what to look for, the filters, the feedback marks and how many hits.

    ``vector``: ``(384,) float32`` (kept as a read-only copy); ``near``: lon, lat degrees;
    ``limit``: 1 .. 10,000 hits. Invalid values raise ``SearchError`` (or the store's
    ``StoreInputError`` for a bad box or polygon, when they are built).
    """

    text: str = ""
    vector: np.ndarray | None = None
    like: str | None = None
    near: tuple[float, float] | None = None
    text_weight: float = DEFAULT_TEXT_WEIGHT
    labels: tuple[str, ...] = ()
    sensor: Sensor | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    bbox: BBox | None = None
    area: GeoPolygon | None = None
    marks: FeedbackLabels = dataclasses.field(default_factory=FeedbackLabels)
    hide_labelled: bool = False
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        self._check_what()
        self._check_filters()
        if isinstance(self.limit, bool) or not isinstance(self.limit, int | np.integer):
            raise SearchError(f"limit must be an integer, got {self.limit!r}")
        if not 1 <= int(self.limit) <= MAX_LIMIT:
            raise SearchError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if not isinstance(self.marks, FeedbackLabels):
            raise SearchError("marks must be FeedbackLabels (FeedbackLabels.of({key: +1 or -1}))")

    def _check_what(self) -> None:
        if not isinstance(self.text, str) or len(self.text) > MAX_TEXT_CHARS:
            raise SearchError(f"text must be a string of at most {MAX_TEXT_CHARS} characters")
        object.__setattr__(self, "text", " ".join(self.text.split()))
        if self.vector is not None:
            vector = check_vector(self.vector, "query vector").copy()
            vector.flags.writeable = False
            object.__setattr__(self, "vector", vector)
        if self.like is not None and (not isinstance(self.like, str) or not self.like.strip()):
            raise SearchError(f"like must be a chip key, got {self.like!r}")
        if self.like and (self.text or self.vector is not None or self.near):
            raise SearchError(
                "'like' searches with one chip's own embedding: leave out text, vector and near"
            )
        if self.near is not None:
            object.__setattr__(self, "near", _lon_lat(self.near))
        weight = self.text_weight
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise SearchError(f"text_weight must be a number between 0 and 1, got {weight!r}")
        if not 0.0 <= weight <= 1.0:
            raise SearchError(f"text_weight must be between 0 and 1, got {weight}")

    def _check_filters(self) -> None:
        try:
            labels = tuple(canonical_label(label) for label in self.labels)
        except LabelError as exc:
            raise SearchError(str(exc)) from None
        object.__setattr__(self, "labels", labels)
        if self.sensor is not None and not isinstance(self.sensor, Sensor):
            raise SearchError(f"sensor must be Sensor.S1, Sensor.S2 or None, got {self.sensor!r}")
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, dt.date) or isinstance(value, dt.datetime)
            ):
                raise SearchError(f"{name} must be a datetime.date (a whole day), got {value!r}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise SearchError(
                f"date_from {self.date_from} is after date_to {self.date_to}; swap them"
            )
        if self.bbox is not None and not isinstance(self.bbox, BBox):
            raise SearchError(f"bbox must be a BBox, got {type(self.bbox).__name__}")
        if self.area is not None and not isinstance(self.area, GeoPolygon):
            raise SearchError(f"area must be a GeoPolygon, got {type(self.area).__name__}")

    @property
    def has_query(self) -> bool:
        """Whether there is anything to rank by (text, vector, like, near or a 👍 mark)."""
        return bool(
            self.text or self.vector is not None or self.like or self.near or self.marks.positive
        )

    def filters(self) -> SearchFilters:
        """The store filters of this request (dates as whole UTC days)."""
        time = None
        if self.date_from or self.date_to:
            start = _day_start(self.date_from) if self.date_from else None
            end = (
                _day_start(self.date_to) + dt.timedelta(days=1, microseconds=-1)
                if self.date_to
                else None
            )
            time = TimeRange(start, end)
        return SearchFilters(
            labels=self.labels, sensor=self.sensor, time=time, bbox=self.bbox, polygon=self.area
        )


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _lon_lat(point: object) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in point)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise SearchError(f"near must be a (lon, lat) pair of numbers, got {point!r}") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
        raise SearchError(
            f"near ({lon}, {lat}) is not a place: longitude in [-180, 180], latitude in [-90, 90]"
        )
    return lon, lat
