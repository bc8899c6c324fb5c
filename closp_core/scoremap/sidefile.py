"""A numpy side file of the chip table: every chip's vector, footprint, sensor and time by
point id, in ``.npy`` columns read through mmap, so an area is selected in numpy instead of
scrolled out of the store (``bench/scoremap.py`` measures both).

Disk: 1,536 bytes of vector + 64 of footprint + 16 of centre + 16 of id + 9 of sensor and time
a chip (≈ 1.64 kB, 1.6 GB per million chips) plus the keys (``keys.npy``, object array
pickled: ~60 bytes a key). It lives beside the index (``side_file_path``) and is a copy.

Layout: ``manifest.json`` (``{"count": chips of the store when written, "segments": [...]}``)
and one folder of columns per segment. An ingest run appends one segment with the chips it
added (``refresh_side_file``, called by ``ingest`` after every run), so the first score map
after an ingest is fast without rewriting the whole file.

Consistency: a segment is written completely before ``manifest.json`` names it, and the
manifest is replaced atomically (write, fsync, ``os.replace``); folders the manifest does not
name are leftovers of a run that died and are removed. So the side file never lists a chip
before the manifest's count says the store holds it. ``load_table`` / ``select_side_file``
refuse a side file whose count differs from the store's (an ingest died between its upserts
and the refresh, or chips were removed): the score map then reads the store, and the next
``refresh_side_file`` rebuilds the file from the store (as it does when chips it already holds
were re-ingested with ``--force``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import shapely

from closp_core.errors import ClospError, ScoreMapError
from closp_core.scoremap.table import PAGE, SENSORS, ChipTable, fetch_table
from closp_core.settings import Settings
from closp_core.store import SearchFilters, VectorStore
from closp_core.store.payload import point_id

COLUMNS = tuple(f.name for f in dataclasses.fields(ChipTable))
MANIFEST = "manifest.json"


@dataclasses.dataclass(frozen=True)
class Refresh:
    """What ``refresh_side_file`` did: ``added`` chips appended, or ``rebuilt`` (and why),
    and ``count``, the chips the side file now holds."""

    added: int
    count: int
    rebuilt: str = ""

    def message(self) -> str:
        """One line for the ingest report."""
        if self.rebuilt:
            return f"score-map side file rebuilt ({self.rebuilt}): {self.count:,} chips"
        return f"score-map side file: +{self.added:,} chips, {self.count:,} in all"


def _write_segment(table: ChipTable, folder: Path) -> str:
    name = f"seg-{uuid.uuid4().hex[:12]}"
    part = folder / name
    part.mkdir(parents=True)
    for column in COLUMNS:
        np.save(part / f"{column}.npy", getattr(table, column), allow_pickle=column == "keys")
    return name


def _write_manifest(folder: Path, count: int, segments: Sequence[str]) -> None:
    """Atomically name the segments of the side file, then remove any other folder."""
    tmp = folder / f".{MANIFEST}.{uuid.uuid4().hex[:8]}"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump({"count": int(count), "segments": list(segments)}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, folder / MANIFEST)
    for leftover in folder.iterdir():
        if leftover.is_dir() and leftover.name not in segments:
            shutil.rmtree(leftover, ignore_errors=True)
        elif leftover.suffix == ".npy" or leftover.name == "count.txt":
            leftover.unlink(missing_ok=True)  # the one-folder layout of earlier versions


def _manifest(folder: Path) -> tuple[int, list[str]]:
    try:
        body = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return int(body["count"]), [str(s) for s in body["segments"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScoreMapError(
            f"no usable score-map side file in {folder} ({exc!r}): rebuild it with save_table"
        ) from None


def save_table(table: ChipTable, folder: str | Path, store_count: int) -> Path:
    """Write ``table`` as the whole side file in ``folder`` (one segment, replacing what was
    there); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_manifest(folder, store_count, [_write_segment(table, folder)])
    return folder


def append_table(table: ChipTable, folder: str | Path, store_count: int) -> Path:
    """Add ``table`` as one more segment of the side file in ``folder``; ``store_count``: the
    store's count with those chips. ``ScoreMapError`` when there is no side file."""
    folder = Path(folder)
    _, segments = _manifest(folder)
    _write_manifest(folder, store_count, [*segments, _write_segment(table, folder)])
    return folder


def _segments(folder: Path, store_count: int | None) -> list[ChipTable]:
    """Each segment's table (columns memory-mapped, keys loaded)."""
    written, names = _manifest(folder)
    if store_count is not None and written != store_count:
        raise ScoreMapError(
            f"the side file in {folder} holds {written:,} chips, the index {store_count:,}: "
            "rebuild it with save_table after an ingest"
        )
    try:
        return [
            ChipTable(
                **{
                    name: np.load(
                        folder / segment / f"{name}.npy",
                        mmap_mode=None if name == "keys" else "r",
                        allow_pickle=name == "keys",
                    )
                    for name in COLUMNS
                }
            )
            for segment in names
        ]
    except (OSError, ValueError) as exc:
        raise ScoreMapError(
            f"no usable score-map side file in {folder} ({exc}): rebuild it with save_table"
        ) from None


def load_table(folder: str | Path, store_count: int | None = None) -> ChipTable:
    """The side file of ``folder`` as one table (one segment: memory-mapped; several: read
    into memory). ``ScoreMapError`` when it is missing, damaged or written for another number
    of chips than ``store_count``."""
    return ChipTable.concat(_segments(Path(folder), store_count))


def select_side_file(folder: str | Path, store_count: int, filters: SearchFilters) -> ChipTable:
    """The chips of the side file in ``folder`` passing ``filters``, segment by segment (only
    the selected rows are read into memory); errors as ``load_table`` and ``select``."""
    return ChipTable.concat([select(t, filters) for t in _segments(Path(folder), store_count)])


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
    ``side_file_path(settings)``; returns its folder."""
    return _rebuild(store, side_file_path(settings))


def _rebuild(store: VectorStore, folder: Path) -> Path:
    count = store.count()
    table = fetch_table(store, SearchFilters(), max(count, 1))
    return save_table(table, folder, count)


def _known_ids(folder: Path) -> np.ndarray:
    tables = _segments(folder, None)
    return np.concatenate([np.asarray(t.ids) for t in tables]) if tables else np.array([], "S16")


def refresh_side_file(store: VectorStore, folder: str | Path, added: Sequence[str]) -> Refresh:
    """Bring the side file in ``folder`` up to date after an ingest that wrote the chips
    ``added`` (keys): append them as a segment when the file was current before them, else
    rebuild it from the whole store (module docstring). Store errors and ``OSError``
    propagate; the side file is then left as it was (or refused as stale)."""
    folder = Path(folder)
    count = store.count()
    try:
        written, _ = _manifest(folder)
        known = _known_ids(folder)
    except ScoreMapError:
        _rebuild(store, folder)
        return Refresh(0, count, "none usable before")
    keys = list(dict.fromkeys(added))
    ids = np.array([uuid.UUID(point_id(k)).bytes for k in keys], dtype="S16")
    if len(ids) and np.isin(ids, known).any():
        _rebuild(store, folder)
        return Refresh(0, count, "chips it held were indexed again")
    if written + len(keys) != count:
        _rebuild(store, folder)
        return Refresh(0, count, f"it held {written:,} chips, the index {count - len(keys):,}")
    if keys:
        records = []
        for i in range(0, len(keys), PAGE):
            records += store.get(keys[i : i + PAGE], with_vectors=True)
        append_table(ChipTable.from_records(records), folder, count)
    return Refresh(len(keys), count)


def refresh_after_run(store: VectorStore, folder: str | Path, added: Sequence[str]) -> str:
    """``refresh_side_file`` at the end of an ingest run, in one line for its report: a refresh
    that fails leaves the index as it is, and score maps then read the index instead."""
    try:
        return refresh_side_file(store, folder, added).message()
    except (ClospError, OSError) as err:
        return f"score-map side file not refreshed ({err}); score maps read the index"
