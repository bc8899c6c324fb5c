"""Fixtures for the reader tests: paths of the committed tiny files and of the real samples."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from closp_core.data import Chip, ChipSource, Tally

HERE = Path(__file__).resolve().parent


def shared_data() -> Path | None:
    """``../shared/data`` next to the checkout (or ``$CLOSP_SHARED_DATA``), when present."""
    env = os.environ.get("CLOSP_SHARED_DATA")
    path = Path(env) if env else HERE.parents[2] / "shared" / "data"
    return path if path.is_dir() else None


def read_all(source: ChipSource, tally: Tally | None = None) -> list[Chip]:
    """Every chip of every unit."""
    tally = tally if tally is not None else Tally()
    return [chip for unit in source.units() for chip in source.read(unit, tally)]


def ring_contains(ring: Iterable[tuple[float, float]], point: tuple[float, float]) -> bool:
    """Whether ``point`` lies within the bounding box of ``ring``."""
    lons, lats = zip(*ring, strict=True)
    return min(lons) <= point[0] <= max(lons) and min(lats) <= point[1] <= max(lats)


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_data()
    if path is None:
        pytest.skip("../shared/data (real Sentinel samples) not present")
    return path


def pytest_configure(config: pytest.Config) -> None:
    # rasterio 1.4 still multiplies Affine objects with ``*``, which affine 3 deprecates.
    config.addinivalue_line(
        "filterwarnings", "ignore:Use `@` matmul:PendingDeprecationWarning:rasterio.*"
    )
