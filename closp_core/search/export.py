"""Hits as files: GeoJSON (footprints + properties) and CSV, for the app's downloads and the CLI.

CSV cells are opened by spreadsheets, which run a cell starting with ``=``, ``+``, ``-``, ``@``
(or a tab / carriage return before one) as a formula. Every *text* cell starting with one of
those characters gets a leading apostrophe (OWASP's advice), which spreadsheets show as text;
numbers (a negative longitude) stay numbers. GeoJSON is data, not a formula language: values go
out unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from closp_core.feedback import FeedbackLabels, relevance_name
from closp_core.store import ChipRecord, Hit


def chip_properties(
    record: ChipRecord,
    score: float | None = None,
    rank: int | None = None,
    feedback: FeedbackLabels | None = None,
) -> dict[str, Any]:
    """Flat, JSON-ready properties of one chip (labels joined with "; "); with ``feedback``,
    a ``label`` property: "relevant", "not relevant" or "" (the user's 👍 / 👎)."""
    props: dict[str, Any] = {}
    if rank is not None:
        props["rank"] = rank
    if score is not None:
        props["score"] = round(float(score), 6)
    props.update(
        key=record.key,
        sensor=record.sensor.value,
        source=record.source,
        acquired=record.acquired.isoformat() if record.acquired else None,
        labels="; ".join(record.labels),
        source_labels="; ".join(record.source_labels),
        scene_id=record.scene_id,
        crs=record.crs,
        lon=record.center[0] if record.center else None,
        lat=record.center[1] if record.center else None,
    )
    if feedback is not None:
        props["label"] = relevance_name(feedback.get(record.key))
    return props


def hits_geojson(
    hits: Sequence[Hit],
    feedback: FeedbackLabels | None = None,
    extra: Sequence[dict[str, Any]] | None = None,
) -> str:
    """A GeoJSON FeatureCollection: one feature per hit, its footprint (or centre point)."""
    features = []
    extras = extra if extra is not None else [{}] * len(hits)
    for rank, (hit, more) in enumerate(zip(hits, extras, strict=True), start=1):
        rec = hit.record
        if rec.footprint is not None:
            geometry: dict[str, Any] | None = rec.footprint.to_geojson()
        elif rec.center is not None:
            geometry = {"type": "Point", "coordinates": list(rec.center)}
        else:
            geometry = None
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": chip_properties(rec, hit.score, rank, feedback) | more,
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with ``'``; others as given."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def hits_csv(
    hits: Sequence[Hit],
    feedback: FeedbackLabels | None = None,
    extra: Sequence[dict[str, Any]] | None = None,
) -> str:
    """One CSV row per hit with the same properties as the GeoJSON (centre as lon/lat); text
    cells that a spreadsheet would run as formulas are defused (see the module docstring)."""
    extras = extra if extra is not None else [{}] * len(hits)
    rows = [
        {
            name: defuse_formula(value)
            for name, value in (
                chip_properties(hit.record, hit.score, rank, feedback) | more
            ).items()
        }
        for rank, (hit, more) in enumerate(zip(hits, extras, strict=True), start=1)
    ]
    out = io.StringIO()
    fields = list(rows[0]) if rows else ["rank", "score", "key"]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
