"""Date fields that take every day a Sentinel satellite has seen (no Streamlit default range).

Streamlit's ``st.date_input`` accepts only today - 10 years ... today + 10 years by default and
silently drops a typed date outside (the field turns red): the CrisisLandMark corpus (2017-2018)
falls off that range in 2027, and a 2016 scene could not be dated. Every date field of the app
goes through ``sentinel_date``: from the first acquisition (``FIRST_DAYS``: Sentinel-1A
2014-04-03, Sentinel-2A 2015-06-23; fields that serve both sensors start at the earlier, so
switching the sensor never invalidates a date already typed) to today, with the range said in
the field's help and caption, so a date the field cannot take is never a surprise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from closp_core.bands import Sensor
from closp_core.data.timestamps import FIRST_DAYS


def first_day(sensor: Sensor | str | None) -> dt.date:
    """The first acquisition day of ``sensor`` (``None``/"both": the earliest of the two)."""
    if sensor in (None, "both", "auto"):
        return min(FIRST_DAYS.values())
    return FIRST_DAYS[Sensor.parse(sensor)]


def range_text(sensor: Sensor | str | None = None) -> str:
    """``"2014-04-03 (first Sentinel-1 image) to today"``-style words for help texts."""
    start = first_day(sensor)
    which = next(s for s, d in FIRST_DAYS.items() if d == start)
    return f"{start.isoformat()} (first Sentinel-{which.value[1]} image) to today"


def sentinel_date(
    label: str,
    *,
    key: str,
    sensor: Sensor | str | None = None,
    container: Any = None,
    **kwargs: Any,
) -> dt.date | None:
    """``st.date_input`` (in ``container``, else the page) limited to ``first_day(sensor)`` ...
    today, its range in the help text; ``kwargs`` go to ``st.date_input`` (``value`` ...)."""
    where = container if container is not None else st
    help_text = kwargs.pop("help", None)
    words = f"Any day from {range_text(sensor)}."
    day: dt.date | None = where.date_input(
        label,
        key=key,
        min_value=first_day(sensor),
        max_value=dt.date.today(),
        format="YYYY-MM-DD",
        help=f"{help_text} {words}" if help_text else words,
        **kwargs,
    )
    return day
