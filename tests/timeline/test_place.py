"""same_place and default_pair: synthetic grids on both back ends, and the real samples."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from closp_core.bands import Sensor
from closp_core.store import ChipRecord, SearchFilters, VectorStore
from closp_core.timeline import TimelineError, default_pair, same_place
from tests.store.conftest import square
from tests.timeline.conftest import preflood_id

H = 0.006  # half a chip (degrees)
T0 = dt.datetime(2021, 3, 1, tzinfo=dt.UTC)


def _chip(key: str, sensor: Sensor, lon: float, lat: float, day: int, scene: str) -> ChipRecord:
    vec = [0.0] * 384
    vec[len(key) % 384] = 1.0
    return ChipRecord(
        key=key,
        vector=vec,
        sensor=sensor,
        source="benv2s1" if sensor is Sensor.S1 else "benv2s2",
        scene_id=scene,
        acquired=T0 + dt.timedelta(days=day),
        center=(lon, lat),
        footprint=square(lon, lat),
    )


def place_records() -> list[ChipRecord]:
    """A place at (10, 45): S2 on its own grid on days 0, 10, 20; S1 scenes on offset grids."""
    lon, lat = 10.0, 45.0
    return [
        _chip("s2-day0", Sensor.S2, lon, lat, 0, "s2a"),
        _chip("s2-day10", Sensor.S2, lon, lat, 10, "s2b"),
        _chip("s2-day20", Sensor.S2, lon, lat, 20, "s2c"),
        # S1 scene 1: grid offset by 0.3 chip east -> this chip covers 70 % of the place
        _chip("s1-day5", Sensor.S1, lon + 0.6 * H, lat, 5, "s1a"),
        _chip("s1-day5-east", Sensor.S1, lon + 2.6 * H, lat, 5, "s1a"),  # covers 0 %
        # S1 scene 2: offset by half a chip -> two chips of 50 % each: one kept per scene
        _chip("s1-day15-w", Sensor.S1, lon - H, lat, 15, "s1b"),
        _chip("s1-day15-e", Sensor.S1, lon + H, lat, 15, "s1b"),
        # S1 scene 3: offset by 0.8 chip both ways -> 0.2 * 0.2 = 4 %: not the same place
        _chip("s1-day25", Sensor.S1, lon + 1.6 * H, lat + 1.6 * H, 25, "s1c"),
        _chip("far-away", Sensor.S2, lon + 1.0, lat, 3, "s2d"),
    ]


def test_same_place_on_a_grid(store: VectorStore) -> None:
    records = place_records()
    store.upsert(records)
    place = records[1]  # s2-day10
    strip = same_place(store, place)
    assert [c.key for c in strip] == ["s2-day0", "s1-day5", "s2-day10", "s1-day15-e", "s2-day20"]
    shares = {c.key: c.overlap for c in strip}
    assert shares["s2-day10"] == 1.0 and shares["s2-day0"] == pytest.approx(1.0)
    assert shares["s1-day5"] == pytest.approx(0.7) and shares["s1-day15-e"] == pytest.approx(0.5)
    every = [c.key for c in same_place(store, place, one_per_scene=False)]
    assert "s1-day15-w" in every and "s1-day15-e" in every
    strict = [c.key for c in same_place(store, place, min_overlap=0.6)]
    assert strict == ["s2-day0", "s1-day5", "s2-day10", "s2-day20"]
    loose = [c.key for c in same_place(store, place, min_overlap=0.01, one_per_scene=False)]
    assert "s1-day25" in loose and "far-away" not in loose and "s1-day5-east" not in loose
    only_s1 = same_place(store, place, filters=SearchFilters(sensor=Sensor.S1))
    assert [c.key for c in only_s1] == ["s1-day5", "s2-day10", "s1-day15-e"]  # + the chip


def test_same_place_bad_input(store: VectorStore) -> None:
    records = place_records()
    store.upsert(records)
    no_footprint = dataclasses.replace(records[0], footprint=None)
    with pytest.raises(TimelineError, match="has no footprint; re-ingest"):
        same_place(store, no_footprint)
    for bad in (0, 1.5, "0.5", True):
        with pytest.raises(TimelineError, match="min_overlap must be"):
            same_place(store, records[0], min_overlap=bad)  # type: ignore[arg-type]


def test_default_pair() -> None:
    records = place_records()[:7]
    by_key = {r.key: r for r in records}
    before, after = default_pair(records, dt.date(2021, 3, 11))
    assert (before.key, after.key) == ("s1-day5-east", "s2-day10")  # type: ignore[union-attr]
    # a chip acquired on the date itself counts as after
    before, after = default_pair(records, T0 + dt.timedelta(days=10))
    assert after is by_key["s2-day10"]
    before, after = default_pair(records, dt.date(2021, 3, 11), sensor=Sensor.S2)
    assert (before, after) == (by_key["s2-day0"], by_key["s2-day10"])
    assert default_pair(records, dt.date(2020, 1, 1)) == (None, by_key["s2-day0"])
    assert default_pair(records, dt.date(2030, 1, 1)) == (by_key["s2-day20"], None)
    assert default_pair(records) == (by_key["s1-day15-w"], by_key["s2-day20"])
    assert default_pair(records[:1]) == (None, by_key["s2-day0"])
    assert default_pair([]) == (None, None)
    with pytest.raises(TimelineError, match="expected a date or datetime"):
        default_pair(records, "2021-03-11")  # type: ignore[arg-type]


def test_real_samples_same_place_across_sensors_and_dates(multidate_store: VectorStore) -> None:
    """Spain: the real S1 (2019-09-17) and S2 (2019-09-18) chips share one grid; the synthetic
    pre-flood copies (August) too. BigEarthNet: real S1/S2 patches of one place."""
    key = "scene/sen1floods11-Spain_7370579-s2/s2/r120_c240"
    record = multidate_store.get([key])[0]
    strip = same_place(multidate_store, record)
    assert [(c.record.sensor.value, c.record.acquired.date().isoformat()) for c in strip] == [  # type: ignore[union-attr]
        ("s1", "2019-08-17"),
        ("s2", "2019-08-18"),
        ("s1", "2019-09-17"),
        ("s2", "2019-09-18"),
    ]
    assert strip[0].record.scene_id == preflood_id(Sensor.S1)
    assert all(c.overlap == pytest.approx(1.0) for c in strip)
    before, after = default_pair([c.record for c in strip], dt.date(2019, 9, 18))
    assert (before.sensor, after.sensor) == (Sensor.S1, Sensor.S2)  # type: ignore[union-attr]
    ben = multidate_store.get(["bigearthnet/S2B_MSIL2A_20170924T93020_69_24"])[0]
    pair = same_place(multidate_store, ben)
    assert [(c.record.sensor, c.record.acquired.day) for c in pair] == [  # type: ignore[union-attr]
        (Sensor.S2, 24),
        (Sensor.S1, 25),
    ]
    assert pair[1].overlap > 0.9
