"""Every date field takes any day from the first Sentinel image (2014-04-03) to today."""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from closp_core.bands import Sensor
from tests.app.test_add_imagery import add_page
from tests.app.test_pages import new_app
from ui.dates import first_day, range_text

FIRST = dt.date(2014, 4, 3)


def test_first_days_and_words() -> None:
    assert first_day(None) == FIRST and first_day("both") == FIRST
    assert first_day(Sensor.S2) == dt.date(2015, 6, 23) and first_day("s1") == FIRST
    assert range_text() == "2014-04-03 (first Sentinel-1 image) to today"


def _limits(at: AppTest, key: str) -> tuple[dt.date, dt.date]:
    field = at.date_input(key=key)
    return field.min, field.max  # type: ignore[attr-defined]


@pytest.mark.usefixtures("app_data")
def test_sidebar_and_event_dates_reach_back_to_2014() -> None:
    at = new_app().run()
    for key in ("w_from", "w_to"):
        assert _limits(at, key) == (FIRST, dt.date.today())
    at.date_input(key="w_from").set_value(dt.date(2016, 1, 12)).run()
    assert not at.exception
    assert at.query_params.get("from") in ("2016-01-12", ["2016-01-12"])
    assert any("2014-04-03" in c.value for c in at.caption)


@pytest.mark.usefixtures("app_data")
def test_add_imagery_dates_reach_back_to_2014() -> None:
    at = add_page()
    for key in ("up_d", "stac_from", "stac_to"):
        assert _limits(at, key)[0] == FIRST, key
    at.date_input(key="up_d").set_value(dt.date(2016, 1, 12)).run()
    assert not at.exception
