"""closp_core.records: one definition of the shared types, below the readers and the store."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

import closp_core.records as records
import closp_core.store as store
import closp_core.store.types as store_types
from closp_core.data import chip as data_chip
from closp_core.errors import StoreInputError
from closp_core.store import errors as store_errors


def test_the_store_re_exports_the_same_objects() -> None:
    for name in ("BBox", "GeoPolygon", "ChipRecord", "Hit"):
        assert getattr(store, name) is getattr(records, name)
    for name in ("as_utc", "check_vector", "LonLat", "DIM"):
        assert getattr(store_types, name) is getattr(records, name)
    assert store_errors.StoreInputError is StoreInputError
    assert data_chip.LonLat is records.LonLat
    assert not hasattr(data_chip, "DataError")  # errors live in closp_core.errors only


def test_readers_import_neither_the_store_nor_the_app() -> None:
    code = (
        "import sys, closp_core.data, closp_core.data.stac.aoi, closp_core.data.stac.static, "
        "closp_core.data.scene.source, closp_core.data.bigearthnet.source, "
        "closp_core.data.crisislandmark.source; "
        "print(sorted(m for m in sys.modules if m.startswith(('closp_core.store', 'ui'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_as_utc() -> None:
    naive = dt.datetime(2021, 7, 4, 10, 21)
    assert records.as_utc(naive) == naive.replace(tzinfo=dt.UTC)
    plus2 = dt.datetime(2021, 7, 4, 12, 21, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert records.as_utc(plus2).hour == 10 and records.as_utc(plus2).tzinfo is dt.UTC
    with pytest.raises(StoreInputError, match="acquired: expected a datetime, got str"):
        records.as_utc("2021-07-04", "acquired")  # type: ignore[arg-type]


def test_geometry_errors_come_as_store_input_errors() -> None:
    with pytest.raises(StoreInputError, match=r"bbox is reversed: west 10.0 > east -10.0"):
        records.BBox(10, 0, -10, 1)
    with pytest.raises(StoreInputError, match=r"polygon: point 1: .*latitude 95.0 is outside"):
        records.GeoPolygon(((0, 0), (1, 95), (1, 0), (0, 0)))
    with pytest.raises(StoreInputError, match=r"chip 'k' center: .*longitude 200.0 is outside"):
        records.ChipRecord(key="k", vector=None, sensor="s2", source="x", center=(200, 0))  # type: ignore[arg-type]


def test_polygon_bounds_and_overlap() -> None:
    a = records.GeoPolygon(((0, 0), (2, 0), (2, 2), (0, 2), (0, 0)))
    b = records.GeoPolygon(((1, 0), (3, 0), (3, 2), (1, 2), (1, 0)))
    assert a.bounds == (0.0, 0.0, 2.0, 2.0)
    assert a.overlap_share(b) == pytest.approx(0.5)
