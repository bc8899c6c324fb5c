"""A numpy side file of the chip table: every chip's vector, footprint, sensor and time by
point id, in one folder of ``.npy`` columns read through mmap, so an area is selected in numpy
instead of scrolled out of the store (``bench/scoremap.py`` measures both).

Disk: 1,536 bytes of vector + 64 of footprint + 16 of centre + 16 of id + 9 of sensor and time
a chip (≈ 1.64 kB, 1.6 GB per million chips) plus the keys (``keys.npy``, object array
pickled: ~60 bytes a key). It lives beside the index (``side_file_path``; ``write_side_file``
or ``Index.write_score_map_side_file()`` writes it) and is a copy: rebuild it after every
ingest (``count.txt`` holds the store's count at writing; ``load_table`` refuses a side file
whose count differs).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import shapely

from closp_core.errors import ScoreMapError
from closp_core.scoremap.table import SENSORS, ChipTable, fetch_table
from closp_core.settings import Settings
from closp_core.store import SearchFilters, VectorStore

COLUMNS = tuple(f.name for f in dataclasses.fields(ChipTable))


def save_table(table: ChipTable, folder: str | Path, store_count: int) -> Path:
    """Write ``table`` as one ``.npy`` per column into ``folder``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in COLUMNS:
        np.save(folder / f"{name}.npy", getattr(table, name), allow_pickle=name == "keys")
    (folder / "count.txt").write_text(str(int(store_count)), encoding="utf-8")
    return folder


def load_table(folder: str | Path, store_count: int | None = None) -> ChipTable:
    """The side file of ``folder`` (columns memory-mapped, keys loaded). ``ScoreMapError``
    when it is missing, damaged or written for another number of chips than ``store_count``."""
    folder = Path(folder)
    try:
        written = int((folder / "count.txt").read_text(encoding="utf-8"))
        columns = {
            name: np.load(
                folder / f"{name}.npy",
                mmap_mode=None if name == "keys" else "r",
                allow_pickle=name == "keys",
            )
            for name in COLUMNS
        }
    except (OSError, ValueError) as exc:
        raise ScoreMapError(
            f"no usable score-map side file in {folder} ({exc}): rebuild it with save_table"
        ) from None
    if store_count is not None and written != store_count:
        raise ScoreMapError(
            f"the side file in {folder} holds {written:,} chips, the index {store_count:,}: "
            "rebuild it with save_table after an ingest"
        )
    return ChipTable(**columns)


def select(table: ChipTable, filters: SearchFilters) -> ChipTable:
    """The chips of ``table`` passing ``filters`` (box and polygon on the centre, a centre on
    a box edge is outside as in the store; sensor; time). Labels, source and scene need the
    store: ``ScoreMapError``."""
    if filters.labels or filters.source or filters.scene_id:
        raise ScoreMapError("the side file filters by area, sensor and time only: use the store")
    lon, lat = table.centers[:, 0], table.centers[:, 1]
    keep = np.ones(len(table), bool)
    if filters.bbox is not None:
        b = filters.bbox
        keep &= (lon > b.west) & (lon < b.east) & (lat > b.south) & (lat < b.north)
    if filters.polygon is not None:
        shape = shapely.Polygon(filters.polygon.exterior)
        rows = np.flatnonzero(keep)
        keep[rows] = shapely.contains_xy(shape, lon[rows], lat[rows])
    if filters.sensor is not None:
        keep &= table.sensors == SENSORS.index(filters.sensor)
    if filters.time is not None:
        if filters.time.start is not None:
            keep &= table.times >= int(filters.time.start.timestamp())
        if filters.time.end is not None:
            keep &= table.times <= int(filters.time.end.timestamp())
    return table.take(np.flatnonzero(keep))


def side_file_path(settings: Settings) -> Path:
    """Where the side file of the settings' embedded index lives (beside the index folder)."""
    return settings.index_dir / f"{settings.collection}.scoremap"


def write_side_file(store: VectorStore, settings: Settings) -> Path:
    """Fetch every chip of ``store`` with its vector and write the side file at
    ``side_file_path(settings)``; returns its folder. Run it after each ingest."""
    count = store.count()
    table = fetch_table(store, SearchFilters(), max(count, 1))
    return save_table(table, side_file_path(settings), count)
