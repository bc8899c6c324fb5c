"""Acquisition times from metadata values and file names, always as timezone-aware UTC."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping

# Metadata keys (compared lower-case) that hold an acquisition time, most specific first.
TIME_KEYS: tuple[str, ...] = (
    "acquisition_time",
    "acquisition_date",
    "acquisition_start_time",
    "datatake_1_datatake_sensing_start",
    "sensing_time",
    "product_start_time",
    "start_time",
    "timestamp",
    "datetime",
    "date",
)
_SAFE_STAMP = re.compile(r"(?<!\d)((?:19|20)\d{6})T(\d{6})(?!\d)")
_DATE8 = re.compile(r"(?<!\d)((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
_ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)")


def as_utc(value: dt.datetime) -> dt.datetime:
    """Naive times are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def parse_time(value: object) -> dt.datetime | None:
    """ISO text (``2017-06-13 10:10:31``, ``...T...Z``), ``20160112T160632``, ``20190917``,
    a ``date``/``datetime``, or Unix seconds/milliseconds -> UTC ``datetime``; else ``None``."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, dt.datetime):
        return as_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000.0 if abs(float(value)) > 1e11 else float(value)
        if seconds != seconds or seconds <= 0:  # NaN or unset
            return None
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    if hasattr(value, "item"):  # numpy scalar
        return parse_time(value.item())
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return as_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    return time_from_name(text)


def time_from_name(name: str) -> dt.datetime | None:
    """A time embedded in a name: SAFE-style ``20160112T160632``, ISO date, or 8-digit date."""
    match = _SAFE_STAMP.search(name)
    if match:
        try:
            return dt.datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S").replace(
                tzinfo=dt.UTC
            )
        except ValueError:
            pass
    for pattern in (_ISO_DATE, _DATE8):
        found = pattern.search(name)
        if found:
            year, month, day = (int(g) for g in found.groups())
            try:
                return dt.datetime(year, month, day, tzinfo=dt.UTC)
            except ValueError:
                continue
    return None


def time_from_metadata(tags: Mapping[str, object]) -> dt.datetime | None:
    """The first parseable value among ``TIME_KEYS`` (keys compared case-insensitively)."""
    lowered = {str(k).lower(): v for k, v in tags.items()}
    for key in TIME_KEYS:
        if key in lowered:
            found = parse_time(lowered[key])
            if found is not None:
                return found
    return None


def first_time(candidates: Iterable[dt.datetime | None]) -> dt.datetime | None:
    """The first candidate that is not ``None``."""
    return next((c for c in candidates if c is not None), None)
