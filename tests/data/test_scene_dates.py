"""Where a scene's date comes from, in order: the explicit date, date tags, a Sentinel name,
the form's fallback date, then the TIFF's own write time (``TIFFTAG_DATETIME``, the last
resort: a file may be written any day after its acquisition)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from closp_core.data import SceneOptions, SceneSource
from closp_core.data.timestamps import parse_time
from tests.data.conftest import read_all
from tests.hostile.harness import write_stack

WRITTEN = {"TIFFTAG_DATETIME": "2016:01:12 15:55:09"}
FORM = dt.datetime(2017, 3, 1, tzinfo=dt.UTC)


def day(path: Path, options: SceneOptions | None = None, **kw: object) -> dt.date | None:
    chips = read_all(SceneSource(path, options, **kw))  # type: ignore[arg-type]
    dates = {c.acquired.date() if c.acquired else None for c in chips}
    assert len(dates) == 1
    return dates.pop()


@pytest.mark.parametrize(
    ("name", "tags", "fallback", "expected"),
    [
        pytest.param("flood.tif", WRITTEN, None, dt.date(2016, 1, 12), id="tiff-tag"),
        pytest.param(
            "S2B_MSIL2A_20180131T105229.tif",
            WRITTEN,
            None,
            dt.date(2018, 1, 31),
            id="name-beats-tiff-tag",
        ),
        pytest.param("flood.tif", WRITTEN, FORM, dt.date(2017, 3, 1), id="form-beats-tiff-tag"),
        pytest.param(
            "flood.tif",
            {"ACQUISITION_DATE": "2019-09-17"},
            FORM,
            dt.date(2019, 9, 17),
            id="date-tag-beats-form",
        ),
        pytest.param(
            "flood.tif",
            {"TIFFTAG_DATETIME": "1999:01:01 00:00:00"},
            None,
            None,
            id="implausible-tiff-tag-is-no-date",
        ),
    ],
)
def test_the_date_comes_from_the_best_source(
    name: str,
    tags: dict[str, str],
    fallback: dt.datetime | None,
    expected: dt.date | None,
    tmp_path: Path,
) -> None:
    path = write_stack(tmp_path / name, "s1", tags=tags)
    assert day(path, SceneOptions(fallback_acquired=fallback)) == expected


def test_a_given_name_dates_the_scene_not_the_saved_one(tmp_path: Path) -> None:
    """An upload saved as ``x_<hash>.tif``: only the name it was given is read for a date."""
    path = write_stack(tmp_path / "x_20170101abcd.tif", "s1")
    given = {path.name: "T31TCF_20160412T105022.tif"}
    assert day(path) == dt.date(2017, 1, 1)  # unnamed, the saved name would date it
    assert day(path, names=given) == dt.date(2016, 4, 12)
    chips = read_all(SceneSource(path, names=given))
    assert {c.scene_id for c in chips} == {"T31TCF_20160412T105022"}
    assert all(c.key.startswith("scene/x_20170101abcd/") for c in chips)


def test_tiff_write_times_parse() -> None:
    assert parse_time("2016:01:12 15:55:09") == dt.datetime(2016, 1, 12, 15, 55, 9, tzinfo=dt.UTC)
    assert parse_time("2016:13:12 15:55:09") is None
