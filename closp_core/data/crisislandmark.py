"""CrisisLandMark (HDF5 + parquet) -> chips. ``CrisisLandMarkSource`` reads it.

Layout (see ../shared/docs/CLOSP.md): ``crisislandmark.h5`` holds (external links to) one group
per sample key in shard files; each group has datasets ``image`` ``(bands, 120, 120) float32``
and ``coords`` ``(2, 120, 120)`` (per-pixel x, y of pixel centres in the chip's CRS) and
attributes ``crs`` (EPSG), ``timestamp`` (when known), ``labels``. A root whose links point at
shard-level groups holding the sample groups is accepted too. ``metadata.parquet`` has
``key``, ``labels`` (list), ``split``; optional ``queries.jsonl`` and ``qrels/`` are exposed for
evaluation (``queries_path``, ``qrels_dir``, ``load_queries``).

Decisions:

- **Sensor / source** from the key prefix: ``benv2s2``, ``cabuar``, ``sen2flood`` -> S2 (12 bands
  B1-B9, B8A, B11, B12, digital numbers; B10 zero-filled); ``benv2s1``, ``mmflood``,
  ``sen1flood``, ``quakeset`` -> S1 (dB). Unknown prefixes are skipped and counted.
- **Channel conventions** of the reference loader, as options because it is unverified whether
  the published files already fixed them: ``reverse_s1_channels`` (default True, as the reference
  loader) reverses the channels of ``benv2s1``/``sen1flood``; ``quakeset_post_event`` (default
  True) keeps channels ``[2:]`` (post-event VV, VH) of 4-channel ``quakeset`` images, else
  ``[:2]``.
- **Labels** from ``metadata.parquet`` (the group's ``labels`` attribute when the row has none):
  names in our label space pass through, CORINE names are mapped, others are kept as original,
  listed as unmapped and flagged.
- **Location**: centre and footprint from ``coords`` corners (extended by half a pixel) through
  ``crs``. **Time** from the ``timestamp`` attribute (ISO text or Unix seconds), else None.
- **No-data**: NaN (and +/-inf, masked and flagged); chips above ``max_nodata`` are skipped.
- **Units**: ranges of the sorted, split-filtered, limited keys: ``<root>/crisislandmark.h5[a:b]``.
- **Key** ``crisislandmark/<sample key>``; ``scene_id`` the sample key; ``source``
  ``crisislandmark/<prefix>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin  # noqa: F401  (registers Blosc/Zstd/... filters the published files use)
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from closp_core.bands import S1_BANDS, S2_BANDS, S2_BANDS_WITHOUT_B10, Sensor
from closp_core.data.base import existing_path, flag_unmapped, harmonise_labels
from closp_core.data.chip import Chip, DataError, Tally
from closp_core.data.chipping import prepare_chip
from closp_core.data.geo import crs_name, locate_quads, parse_crs
from closp_core.data.timestamps import parse_time

SOURCES: dict[str, Sensor] = {
    "benv2s2": Sensor.S2,
    "cabuar": Sensor.S2,
    "sen2flood": Sensor.S2,
    "benv2s1": Sensor.S1,
    "mmflood": Sensor.S1,
    "sen1flood": Sensor.S1,
    "quakeset": Sensor.S1,
}
REVERSED_S1_SOURCES: frozenset[str] = frozenset({"benv2s1", "sen1flood"})
ROOT_FILE = "crisislandmark.h5"
_UNIT = re.compile(r"^(?P<file>.+)\[(?P<start>\d+):(?P<stop>\d+)\]$")


def key_source(key: str) -> str | None:
    """The source prefix of a sample key (``"benv2s2_123"`` -> ``"benv2s2"``), or None."""
    return next((p for p in sorted(SOURCES, key=len, reverse=True) if key.startswith(p)), None)


class CrisisLandMarkSource:
    """``ChipSource`` for CrisisLandMark.

    ``CrisisLandMarkSource(root, *, split=None, limit=None, keys_per_unit=10000,
    reverse_s1_channels=True, quakeset_post_event=True, max_nodata=0.1)``: ``root`` the folder
    with ``crisislandmark.h5``, its shards and ``metadata.parquet``; ``split`` one split name or
    several (None: all); ``limit`` the first N keys (sorted) after the split filter.
    """

    name = "crisislandmark"

    def __init__(
        self,
        root: str | Path,
        *,
        split: str | Sequence[str] | None = None,
        limit: int | None = None,
        keys_per_unit: int = 10000,
        reverse_s1_channels: bool = True,
        quakeset_post_event: bool = True,
        max_nodata: float = 0.1,
    ) -> None:
        self.root = Path(root)
        self.splits = {split} if isinstance(split, str) else set(split) if split else None
        self.limit = limit
        self.keys_per_unit = max(1, keys_per_unit)
        self.reverse_s1_channels = reverse_s1_channels
        self.quakeset_post_event = quakeset_post_event
        self.max_nodata = max_nodata
        self._rows: dict[str, list[str]] | None = None

    @property
    def root_file(self) -> Path:
        return self.root / ROOT_FILE

    @property
    def queries_path(self) -> Path | None:
        path = self.root / "queries.jsonl"
        return path if path.is_file() else None

    @property
    def qrels_dir(self) -> Path | None:
        path = self.root / "qrels"
        return path if path.is_dir() else None

    def load_queries(self) -> dict[str, str]:
        """``queries.jsonl`` -> {query id: text} (fields ``query_id``/``qid``/``id``/``_id``
        and ``text``/``query``); empty when the file is absent."""
        path = self.queries_path
        if path is None:
            return {}
        queries: dict[str, str] = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                qid = next(row[k] for k in ("query_id", "qid", "id", "_id") if k in row)
                text = next(row[k] for k in ("text", "query") if k in row)
            except (json.JSONDecodeError, StopIteration, TypeError) as err:
                raise DataError(f"{path}:{number}: expected {{id, text}} JSON ({err})") from None
            queries[str(qid)] = str(text)
        return queries

    def metadata(self) -> dict[str, list[str]]:
        """key -> labels for the keys passing the split filter and limit, sorted by key."""
        if self._rows is None:
            existing_path(self.root, "CrisisLandMark folder")
            path = self.root / "metadata.parquet"
            if not path.is_file():
                raise DataError(
                    f"{path}: missing; CrisisLandMark needs metadata.parquet (key, labels, split)"
                )
            try:
                table = pq.read_table(path)
            except (pa.ArrowException, OSError) as err:
                raise DataError(f"{path}: not a readable parquet file ({err})") from None
            missing = {"key", "labels", "split"} - set(table.column_names)
            if missing:
                raise DataError(f"{path}: missing columns {sorted(missing)}")
            rows: dict[str, list[str]] = {}
            for key, labels, split in zip(
                *(table.column(c).to_pylist() for c in ("key", "labels", "split")), strict=True
            ):
                if self.splits is None or split in self.splits:
                    rows[str(key)] = [str(x) for x in labels or []]
            keys = sorted(rows)[: self.limit] if self.limit is not None else sorted(rows)
            self._rows = {k: rows[k] for k in keys}
        return self._rows

    def units(self) -> list[str]:
        """Key ranges ``<root>/crisislandmark.h5[a:b]`` of at most ``keys_per_unit`` keys."""
        keys = self.metadata()
        existing_path(self.root_file, "CrisisLandMark root file")
        if not keys:
            raise DataError(f"{self.root / 'metadata.parquet'}: no keys for split {self.splits}")
        step = self.keys_per_unit
        return [
            f"{self.root_file}[{a}:{min(a + step, len(keys))}]" for a in range(0, len(keys), step)
        ]

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        """Stream the chips of one key range."""
        match = _UNIT.match(unit)
        if match is None or Path(match["file"]) != self.root_file:
            raise DataError(f"unknown CrisisLandMark unit {unit!r}; use one from units()")
        rows = self.metadata()
        keys = list(rows)[int(match["start"]) : int(match["stop"])]
        tally.expect(len(keys))
        return self._stream(keys, rows, tally)

    def _stream(self, keys: list[str], rows: dict[str, list[str]], tally: Tally) -> Iterator[Chip]:
        try:
            handle = h5py.File(self.root_file, "r")
        except OSError as err:
            raise DataError(f"{self.root_file}: not a readable HDF5 file ({err})") from None
        with handle:
            nested: dict[str, str] | None = None
            for key in keys:
                group = handle.get(key)
                if group is None:
                    nested = _nested_index(handle) if nested is None else nested
                    group = handle.get(nested.get(key, key))
                if group is None:
                    _check_link(handle, key, self.root_file)
                    tally.skip("key in metadata.parquet but not in the HDF5 files")
                    continue
                chip = self._chip(key, group, rows[key], tally)
                if chip is not None:
                    yield chip

    def _chip(self, key: str, group: Any, names: list[str], tally: Tally) -> Chip | None:
        where = f"{self.root_file}:/{key}"
        prefix = key_source(key)
        if prefix is None:
            tally.skip("unknown CrisisLandMark key prefix")
            return None
        if not isinstance(group, h5py.Group) or "image" not in group or "coords" not in group:
            raise DataError(f"{where}: sample group needs datasets 'image' and 'coords'")
        try:
            image = np.asarray(group["image"][()], dtype=np.float32)
            coords = np.asarray(group["coords"][()], dtype=np.float64)
        except OSError as err:  # h5py raises OSError for unreadable / unfiltered data
            raise DataError(f"{where}: cannot read ({err}); is hdf5plugin installed?") from None
        image = self._channels(image, prefix, where)
        infinite = np.isinf(image)
        if infinite.any():
            tally.flag("infinite pixels treated as no-data", int(infinite.sum()))
            image = np.where(infinite, np.nan, image)
        if float(np.isnan(image).any(axis=0).mean()) > self.max_nodata:
            tally.skip(f"no-data share above {self.max_nodata:.0%}")
            return None
        sensor = SOURCES[prefix]
        pixels = prepare_chip(image, sensor, _band_names(sensor, image), False, where)
        crs = parse_crs(group.attrs.get("crs"), where)
        ((center, ring),) = locate_quads(crs, [_coords_quad(coords, where)], where)
        if not names:
            names = _attr_labels(group.attrs.get("labels"))
        labels, unmapped = harmonise_labels(names)
        flag_unmapped(tally, unmapped)
        return Chip(
            key=f"crisislandmark/{key}",
            sensor=sensor,
            pixels=pixels,
            center=center,
            footprint=ring,
            crs=crs_name(crs),
            source=f"crisislandmark/{prefix}",
            scene_id=key,
            acquired=parse_time(group.attrs.get("timestamp")),
            labels=labels,
            original_labels=tuple(names),
            unmapped_labels=unmapped,
        )

    def _channels(self, image: np.ndarray, prefix: str, where: str) -> np.ndarray:
        """Apply the per-source channel conventions (see the module docstring)."""
        if image.ndim != 3:
            raise DataError(f"{where}: image must be (bands, H, W), got shape {image.shape}")
        if prefix == "quakeset" and image.shape[0] == 4:
            image = image[2:] if self.quakeset_post_event else image[:2]
        if prefix in REVERSED_S1_SOURCES and self.reverse_s1_channels:
            image = image[::-1]
        return np.ascontiguousarray(image)


def _band_names(sensor: Sensor, image: np.ndarray) -> list[str]:
    if sensor is Sensor.S1:
        return list(S1_BANDS)
    return list(S2_BANDS if image.shape[0] == len(S2_BANDS) else S2_BANDS_WITHOUT_B10)


def _coords_quad(coords: np.ndarray, where: str) -> Any:
    """Corner quad (outer pixel edges) from per-pixel-centre coordinates ``(2, H, W)``."""
    if coords.ndim != 3 or coords.shape[0] != 2 or min(coords.shape[1:]) < 2:
        raise DataError(f"{where}: coords must be (2, H, W) with H, W >= 2, got {coords.shape}")
    if not np.isfinite(coords[:, [0, 0, -1, -1], [0, -1, 0, -1]]).all():
        raise DataError(f"{where}: coords corners are not finite")
    height, width = coords.shape[1:]
    p00, p0w, ph0 = coords[:, 0, 0], coords[:, 0, -1], coords[:, -1, 0]
    step_col = (p0w - p00) / (width - 1)
    step_row = (ph0 - p00) / (height - 1)
    origin = p00 - 0.5 * step_col - 0.5 * step_row
    corners = [origin, origin + height * step_row, origin + height * step_row + width * step_col,
               origin + width * step_col]  # fmt: skip
    return tuple((float(c[0]), float(c[1])) for c in corners)


def _attr_labels(value: Any) -> list[str]:
    """The ``labels`` attribute (array of strings/bytes, JSON text, or ``;``/``,`` list)."""
    if value is None:
        return []
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return [str(x) for x in json.loads(text)]
            except json.JSONDecodeError:
                pass
        return [p.strip() for p in re.split(r"[;,]", text) if p.strip()]
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.ravel(value)]


def _nested_index(handle: h5py.File) -> dict[str, str]:
    """sample key -> path for roots whose members are shard-level groups of samples."""
    index: dict[str, str] = {}
    for name, member in handle.items():
        if isinstance(member, h5py.Group) and "image" not in member:
            for key in member:
                index[key] = f"{name}/{key}"
    return index


def _check_link(handle: h5py.File, key: str, root_file: Path) -> None:
    """A key whose external link points at a shard that cannot be opened is a ``DataError``."""
    link = handle.get(key, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise DataError(
            f"{root_file}: key {key!r} links to shard {link.filename!r}, which cannot be "
            "opened; put the shard files next to crisislandmark.h5"
        )
