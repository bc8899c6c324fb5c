"""Chip records <-> Qdrant payloads, point ids and the payload schema (back-end neutral).

Payload of a point (JSON)::

    key            str            chip key (e.g. "benv2s2_S2A_..._12_34")     keyword index
    sensor         "s1" | "s2"                                               keyword index
    labels         [str]          our label space                            keyword index
    source_labels  [str]          the source's original labels               keyword index
    source         str            source dataset (key prefix, e.g. "mmflood") keyword index
    scene_id       str | null                                                keyword index
    acquired       RFC3339 UTC    "2021-07-04T10:21:00Z" or null             datetime index
    month          "YYYY-MM"      derived from acquired, for counts          keyword index
    center         {lon, lat}     chip centre, WGS84 degrees                 geo index
    footprint      GeoJSON Polygon in WGS84 or null                          (not indexed)
    crs            str | null     CRS of the source raster                   keyword index
    previews       {name: relative path}                                     (not indexed)
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np

from closp_core.store.types import ChipRecord, GeoPolygon

# Fixed namespace of chip point ids: never change it (ids of existing indexes depend on it).
CHIP_NAMESPACE = uuid.UUID("5d0b5a3c-3f2e-5c61-9a8e-c105b0000001")

# Payload indexes: only the fields that filters and counts use (key, crs and source labels are
# stored but never filtered on; a keyword index on 647k unique keys costs memory and reopen time).
KEYWORD_FIELDS = ("sensor", "labels", "source", "scene_id", "month")
DATETIME_FIELDS = ("acquired",)
GEO_FIELDS = ("center",)
# counts_by() name -> payload field
COUNT_FIELD_PAYLOAD = {"label": "labels", "sensor": "sensor", "source": "source", "month": "month"}


def point_id(key: str) -> str:
    """Point id of a chip: ``uuid5(CHIP_NAMESPACE, key)`` as a string (stable across runs)."""
    return str(uuid.uuid5(CHIP_NAMESPACE, key))


def rfc3339(value: dt.datetime) -> str:
    """UTC datetime -> ``"2021-07-04T10:21:00Z"`` (microseconds kept when present)."""
    text = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def _parse_time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def to_payload(record: ChipRecord) -> dict[str, Any]:
    """The JSON payload stored with a chip's vector."""
    acquired = record.acquired
    return {
        "key": record.key,
        "sensor": record.sensor.value,
        "labels": list(record.labels),
        "source_labels": list(record.source_labels),
        "source": record.source,
        "scene_id": record.scene_id,
        "acquired": None if acquired is None else rfc3339(acquired),
        "month": None if acquired is None else f"{acquired.year:04d}-{acquired.month:02d}",
        "center": None
        if record.center is None
        else {"lon": record.center[0], "lat": record.center[1]},
        "footprint": None if record.footprint is None else record.footprint.to_geojson(),
        "crs": record.crs,
        "previews": dict(record.previews),
    }


def from_payload(payload: dict[str, Any], vector: Any | None) -> ChipRecord:
    """Rebuild a ``ChipRecord`` from a stored payload (and optionally its vector)."""
    center = payload.get("center")
    footprint = payload.get("footprint")
    return ChipRecord(
        key=payload["key"],
        vector=None if vector is None else np.asarray(vector, dtype=np.float32),
        sensor=payload["sensor"],
        source=payload["source"],
        labels=tuple(payload.get("labels") or ()),
        source_labels=tuple(payload.get("source_labels") or ()),
        scene_id=payload.get("scene_id"),
        acquired=_parse_time(payload.get("acquired")),
        center=None if center is None else (center["lon"], center["lat"]),
        footprint=None if footprint is None else GeoPolygon.from_geojson(footprint),
        crs=payload.get("crs"),
        previews=payload.get("previews") or {},
    )
