"""``make_request``: a ``SearchRequest`` from the loose values people type (the Python API and
the CLI): boxes as tuples or ``"W,S,E,N"``, areas as GeoJSON (a file, a mapping or a
``GeoPolygon``), sensors as ``"s1"`` / ``"s2"`` / ``"both"``, dates as ISO text, 👍 / 👎
marks as chip keys or a label file."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.errors import BandContractError, SearchError
from closp_core.feedback import NOT_RELEVANT, RELEVANT, FeedbackLabels
from closp_core.search.request import DEFAULT_LIMIT, DEFAULT_TEXT_WEIGHT, SearchRequest
from closp_core.store import BBox, GeoPolygon

BoxLike = BBox | Sequence[float] | str
AreaLike = GeoPolygon | Mapping[str, Any] | str | Path
MAX_AREA_FILE_BYTES = 10_000_000


def parse_box(box: BoxLike) -> BBox:
    """A ``BBox`` from ``(west, south, east, north)`` degrees or ``"W,S,E,N"`` text."""
    if isinstance(box, BBox):
        return box
    parts: Sequence[Any] = box.split(",") if isinstance(box, str) else box
    try:
        values = [float(v) for v in parts]
    except (TypeError, ValueError):
        raise SearchError(f"bbox must be four numbers west,south,east,north; got {box!r}") from None
    if len(values) != 4:
        raise SearchError(f"bbox must be four numbers west,south,east,north; got {len(values)}")
    return BBox(*values)


def parse_point(point: tuple[float, float] | str) -> tuple[float, float]:
    """``(lon, lat)`` degrees from a pair or ``"LON,LAT"`` text (range checked by the request)."""
    parts: Sequence[Any] = point.split(",") if isinstance(point, str) else point
    try:
        lon, lat = (float(v) for v in parts)
    except (TypeError, ValueError):
        raise SearchError(f"near must be two numbers lon,lat; got {point!r}") from None
    return lon, lat


def _polygon_geometry(data: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The one Polygon geometry of a geometry, Feature or FeatureCollection."""
    kind = data.get("type")
    if kind == "FeatureCollection":
        features = data.get("features") or []
        if len(features) != 1:
            raise SearchError(
                f"{where}: a FeatureCollection with {len(features)} features; give one polygon"
            )
        return _polygon_geometry(features[0], where)
    if kind == "Feature":
        return _polygon_geometry(data.get("geometry") or {}, where)
    if kind != "Polygon":
        raise SearchError(
            f"{where}: expected a GeoJSON Polygon (or a Feature of one), got {kind!r}"
        )
    return data


def read_area(area: AreaLike) -> GeoPolygon:
    """A ``GeoPolygon`` from a GeoJSON file path, a GeoJSON mapping (geometry, Feature, or a
    FeatureCollection of one feature) or a ``GeoPolygon``. Only the exterior ring is used."""
    if isinstance(area, GeoPolygon):
        return area
    where = "the area"
    if isinstance(area, str | Path):
        path = Path(area)
        where = str(path)
        try:
            if path.stat().st_size > MAX_AREA_FILE_BYTES:
                raise SearchError(f"{path} is larger than {MAX_AREA_FILE_BYTES} bytes")
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SearchError(f"cannot read the area file {path}: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SearchError(f"{path} is not GeoJSON: {exc}") from None
    else:
        data = area
    if not isinstance(data, Mapping):
        raise SearchError(f"{where}: expected a GeoJSON object, got {type(data).__name__}")
    return GeoPolygon.from_geojson(_polygon_geometry(data, where))


def parse_sensor(sensor: Sensor | str | None) -> Sensor | None:
    """``None`` for both sensors (``None`` or ``"both"``), else ``Sensor.S1`` / ``Sensor.S2``."""
    if sensor is None or sensor == "both":
        return None
    try:
        return Sensor.parse(sensor)
    except BandContractError:
        raise SearchError(f"sensor must be s1, s2 or both, got {sensor!r}") from None


def parse_day(day: dt.date | str | None, what: str) -> dt.date | None:
    """A whole day from a ``date`` or ``YYYY-MM-DD`` text."""
    if day is None or (isinstance(day, dt.date) and not isinstance(day, dt.datetime)):
        return day
    if isinstance(day, str):
        try:
            return dt.date.fromisoformat(day)
        except ValueError:
            pass
    raise SearchError(f"{what} must be a date (YYYY-MM-DD), got {day!r}")


def marks_of(
    relevant: Iterable[str] = (),
    not_relevant: Iterable[str] = (),
    marks: FeedbackLabels | None = None,
) -> FeedbackLabels:
    """``marks`` plus chips marked relevant / not relevant by key (a key in both: error)."""
    good, bad = list(relevant), list(not_relevant)
    both = set(good) & set(bad)
    if both:
        raise SearchError(f"chips marked both relevant and not relevant: {sorted(both)}")
    pairs = [(key, RELEVANT) for key in good] + [(key, NOT_RELEVANT) for key in bad]
    extra = FeedbackLabels.of(pairs)
    return (marks or FeedbackLabels()).merged(extra)


def make_request(
    text: str = "",
    *,
    bbox: BoxLike | None = None,
    intersects: AreaLike | None = None,
    labels: Iterable[str] = (),
    sensor: Sensor | str | None = None,
    date_from: dt.date | str | None = None,
    date_to: dt.date | str | None = None,
    near: tuple[float, float] | str | None = None,
    like: str | None = None,
    vector: np.ndarray | None = None,
    text_weight: float = DEFAULT_TEXT_WEIGHT,
    relevant: Iterable[str] = (),
    not_relevant: Iterable[str] = (),
    marks: FeedbackLabels | None = None,
    hide_labelled: bool = False,
    limit: int = DEFAULT_LIMIT,
) -> SearchRequest:
    """A checked ``SearchRequest`` (see its docstring) from loose values; ``labels`` are
    filter labels (``closp_core.labels.LABELS``, any of them), ``relevant`` / ``not_relevant``
    the keys of chips marked 👍 / 👎."""
    if isinstance(labels, str):
        labels = (labels,)
    return SearchRequest(
        text=text,
        vector=vector,
        like=like,
        near=parse_point(near) if near is not None else None,
        text_weight=text_weight,
        labels=tuple(labels),
        sensor=parse_sensor(sensor),
        date_from=parse_day(date_from, "date_from"),
        date_to=parse_day(date_to, "date_to"),
        bbox=parse_box(bbox) if bbox is not None else None,
        area=read_area(intersects) if intersects is not None else None,
        marks=marks_of(relevant, not_relevant, marks),
        hide_labelled=hide_labelled,
        limit=limit,
    )
