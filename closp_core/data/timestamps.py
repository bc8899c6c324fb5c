"""Acquisition times from metadata values and file names, always as timezone-aware UTC.

A Sentinel acquisition lies between ``FIRST_ACQUISITION`` (2014-04-03, launch of Sentinel-1A,
the first Sentinel satellite) and now (plus one day of clock skew): ``check_acquired`` refuses
anything else with a ``DataError`` (an explicit date, a metadata tag). A date found in a *name*
outside that window is taken as not a date at all (``time_from_name``: names hold other
numbers too). ``parse_time`` never raises: text that is no time, or a number that is no Unix
time, gives ``None``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence

from closp_core.bands import Sensor
from closp_core.errors import DataError
from closp_core.records import as_utc

FIRST_ACQUISITION = dt.datetime(2014, 4, 3, tzinfo=dt.UTC)
# First acquisition of each sensor: Sentinel-1A (launched 2014-04-03), Sentinel-2A (2015-06-23)
FIRST_DAYS: dict[Sensor, dt.date] = {
    Sensor.S1: dt.date(2014, 4, 3),
    Sensor.S2: dt.date(2015, 6, 23),
}
CLOCK_SKEW = dt.timedelta(days=1)

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
# Keys of times a file *was written* (TIFF 6.0 tag 306, "YYYY:MM:DD HH:MM:SS"), which often is
# the acquisition time of an exported scene, but may be any later day: the last resort.
FILE_TIME_KEYS: tuple[str, ...] = ("tifftag_datetime",)
_TIFF_STAMP = re.compile(r"^((?:19|20)\d{2}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$")
_SAFE_STAMP = re.compile(r"(?<!\d)((?:19|20)\d{6})T(\d{6})(?!\d)")
_DATE8 = re.compile(r"(?<!\d)((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
_ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)")


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
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):  # beyond year 9999
            return None
    if hasattr(value, "item"):  # numpy scalar
        return parse_time(value.item())
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    tiff = _TIFF_STAMP.match(text)
    if tiff:  # TIFF's own "2016:01:12 16:06:32"
        try:
            year, month, day, hour, minute, second = (int(g) for g in tiff.groups())
            return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
        except ValueError:
            return None
    try:
        return as_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # OverflowError: a UTC offset past year 1 or 9999
        pass
    return _name_time(text)


def is_plausible(value: dt.datetime) -> bool:
    """Whether ``value`` (aware) lies in the Sentinel era: FIRST_ACQUISITION ... now + skew."""
    return FIRST_ACQUISITION <= value <= dt.datetime.now(dt.UTC) + CLOCK_SKEW


def check_acquired(value: dt.datetime | None, what: str) -> dt.datetime | None:
    """``value`` in UTC, or ``DataError`` when it is no Sentinel acquisition time."""
    if value is None:
        return None
    value = as_utc(value)
    if not is_plausible(value):
        raise DataError(
            f"{what}: acquisition time {value.isoformat()} is outside the Sentinel era "
            f"({FIRST_ACQUISITION.date()} until today); fix the date (tag or --date)"
        )
    return value


def time_from_name(name: str) -> dt.datetime | None:
    """A time embedded in a name: SAFE-style ``20160112T160632``, ISO date, or 8-digit date;
    ``None`` when there is none or it is outside the Sentinel era (then it is no date)."""
    found = _name_time(name)
    return found if found is not None and is_plausible(found) else None


def _name_time(name: str) -> dt.datetime | None:
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


def time_from_metadata(
    tags: Mapping[str, object], keys: Sequence[str] = TIME_KEYS
) -> dt.datetime | None:
    """The first parseable value among ``keys`` (compared case-insensitively)."""
    lowered = {str(k).lower(): v for k, v in tags.items()}
    for key in keys:
        if key in lowered:
            found = parse_time(lowered[key])
            if found is not None:
                return found
    return None


def first_time(candidates: Iterable[dt.datetime | None]) -> dt.datetime | None:
    """The first candidate that is not ``None``."""
    return next((c for c in candidates if c is not None), None)
