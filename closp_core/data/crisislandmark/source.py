"""CrisisLandMark (HDF5 + parquet) -> chips. ``CrisisLandMarkSource`` reads a local folder;
``open_crisislandmark`` also takes a hub dataset id (``crisislandmark_hub.py``).

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
  ``sen1flood``, ``quakeset`` -> S1 (dB). Unknown prefixes are skipped and counted. ``sources``
  keeps only keys of the named sources.
- **Channel conventions** of the reference loader, as options because it is unverified whether
  the published files already fixed them: ``reverse_s1_channels`` (default True, as the reference
  loader) reverses the channels of ``benv2s1``/``sen1flood``; ``quakeset_post_event`` (default
  True) keeps channels ``[2:]`` (post-event VV, VH) of 4-channel ``quakeset`` images, else
  ``[:2]``.
- **Labels** from ``metadata.parquet`` (the group's ``labels`` attribute when the row has none):
  names in our label space pass through, CORINE names are mapped, others are kept as original,
  listed as unmapped and flagged. A ``labels`` column of text (not lists) is split on ``;``/``,``
  and flagged; a column of anything else (numbers, nested lists) is refused.
- **Repeated rows** (the rule): a key given in several rows with the same labels and split is
  read once and its chip flagged (``REPEATED_ROWS``); a key whose rows disagree (other labels,
  or another split: a leak between splits) is left out, counted as skipped
  (``CONFLICTING_ROWS``) — never "last row wins".
- **Location**: centre and footprint from ``coords`` corners (extended by half a pixel) through
  ``crs``. **Time** from the ``timestamp`` attribute (ISO text or Unix seconds), else None.
- **No-data**: NaN (and +/-inf, masked and flagged); chips above ``max_nodata`` are skipped.
- **Speed**: each unit opens one shard file once and reads its samples in storage order (see
  ``crisislandmark_index.py``), ``read_batch`` samples at a time (one WGS84 transform per CRS
  per batch). HDF5 never follows the root's links: we resolve them and refuse targets outside
  the corpus folder.
- **Units**: ranges of at most ``keys_per_unit`` keys of one shard, over the split-, source- and
  limit-filtered keys ordered by shard, then storage: ``<root>/crisislandmark.h5[a:b]``. A shard
  that is missing, unreadable or refused fails its units only.
- **Bad samples** (unreadable, wrong shape or band count, bad CRS or coords, unsafe links) are
  skipped alone, counted as ``bad sample: <shard>:<path>: <what is wrong>`` (the first ten are
  listed, the rest counted together); the rest of the batch goes on.
- **Key** ``crisislandmark/<sample key>``; ``scene_id`` the sample key; ``source``
  ``crisislandmark/<prefix>``.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (registers Blosc/Zstd/... filters the published files use)
import pyarrow as pa
import pyarrow.parquet as pq

from closp_core.data.base import existing_path
from closp_core.data.chip import Chip, Tally
from closp_core.data.crisislandmark.index import ROOT_FILE, ShardPlan, plan_shards
from closp_core.data.crisislandmark.sample import (
    REVERSED_S1_SOURCES,
    SOURCES,
    SampleOptions,
    SampleReader,
    key_source,
    report_bad_sample,
    text_labels,
)
from closp_core.errors import DataError

__all__ = ["REVERSED_S1_SOURCES", "ROOT_FILE", "SOURCES", "CrisisLandMarkSource", "key_source"]
_UNIT = re.compile(r"^(?P<file>.+)\[(?P<start>\d+):(?P<stop>\d+)\]$")
TEXT_LABELS_NOTE = "labels in metadata.parquet given as text, not lists: split on ';' or ','"
NOT_IN_FILES = "key in metadata.parquet but not in the HDF5 files"
REPEATED_ROWS = "key repeated in metadata.parquet with the same labels and split: read once"
CONFLICTING_ROWS = "key repeated in metadata.parquet with other labels or split: left out"


def check_sources(names: Iterable[str] | str | None) -> frozenset[str] | None:
    """Validated source names (a list, or one text ``"a,b"``; None: all); ``DataError``
    listing the valid ones."""
    if names is None:
        return None
    if isinstance(names, str):
        names = names.split(",")
    chosen = frozenset(n.strip() for n in names if n.strip())
    unknown = sorted(chosen - set(SOURCES))
    if unknown or not chosen:
        raise DataError(
            f"unknown CrisisLandMark source(s) {unknown or sorted(chosen)}; "
            f"valid: {', '.join(SOURCES)}"
        )
    return chosen


class CrisisLandMarkSource:
    """``ChipSource`` for a CrisisLandMark folder.

    ``CrisisLandMarkSource(root, *, split=None, sources=None, limit=None, keys_per_unit=10000,
    read_batch=64, reverse_s1_channels=True, quakeset_post_event=True, max_nodata=0.1)``:
    ``root`` the folder with ``crisislandmark.h5``, its shards and ``metadata.parquet``;
    ``split`` one split name or several (None: all); ``sources`` source names (``SOURCES``;
    None: all); ``limit`` the first N keys (sorted) after those filters.
    """

    name = "crisislandmark"

    def __init__(
        self,
        root: str | Path,
        *,
        split: str | Sequence[str] | None = None,
        sources: Iterable[str] | str | None = None,
        limit: int | None = None,
        keys_per_unit: int = 10000,
        read_batch: int = 64,
        reverse_s1_channels: bool = True,
        quakeset_post_event: bool = True,
        max_nodata: float = 0.1,
    ) -> None:
        self.root = Path(root).expanduser()
        self.splits = {split} if isinstance(split, str) else set(split) if split else None
        self.sources = check_sources(sources)
        self.limit = limit
        self.keys_per_unit = max(1, keys_per_unit)
        self.read_batch = max(1, read_batch)
        self.options = SampleOptions(reverse_s1_channels, quakeset_post_event, max_nodata)
        self._rows: dict[str, tuple[str, ...]] | None = None
        self._all_keys: frozenset[str] = frozenset()
        self._notes: dict[str, str] = {}
        self._repeats: set[str] = set()  # keys with repeated, identical rows
        self._conflicts: set[str] = set()  # keys with rows that disagree
        self._plans: list[ShardPlan] | None = None
        self._starts: list[int] = []

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

    def metadata(self) -> dict[str, tuple[str, ...]]:
        """key -> label names for the keys passing the split/source filters and limit, sorted.
        Repeated rows follow ``REPEAT_RULE`` (module docstring)."""
        if self._rows is None:
            table = _read_metadata(existing_path(self.root, "CrisisLandMark folder"))
            kind = table.schema.field("labels").type
            as_text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
            keys = [str(key) for key in table.column("key").to_pylist()]
            columns = (table.column(c).to_pylist() for c in ("labels", "split"))
            first: dict[str, tuple[object, object]] = {}
            rows: dict[str, tuple[str, ...]] = {}
            for key, labels, split in zip(keys, *columns, strict=True):
                row = (tuple(labels) if isinstance(labels, list) else labels, split)
                if key in first:
                    (self._repeats if first[key] == row else self._conflicts).add(key)
                    continue
                first[key] = row
                if self.splits is not None and split not in self.splits:
                    continue
                if self.sources is not None and key_source(key) not in self.sources:
                    continue
                rows[key] = self._row_labels(key, labels, as_text)
            self._all_keys = frozenset(keys)
            chosen = sorted(rows)[: self.limit] if self.limit is not None else sorted(rows)
            self._rows = {k: rows[k] for k in chosen}
        return self._rows

    def _row_labels(self, key: str, labels: object, as_text: bool) -> tuple[str, ...]:
        """One row's label names; text rows are split (and noted, to flag when read)."""
        if labels is None:
            return ()
        if as_text:
            names, note = text_labels(str(labels))
            self._notes[key] = note or TEXT_LABELS_NOTE
            return names
        if not isinstance(labels, list):  # _read_metadata admits only list<string> here
            return ()
        return tuple(x.strip() for x in labels if isinstance(x, str) and x.strip())

    def units(self) -> list[str]:
        """Key ranges ``<root>/crisislandmark.h5[a:b]`` of at most ``keys_per_unit`` keys, each
        within one shard."""
        plans = self._plan()
        step = self.keys_per_unit
        return [
            f"{self.root_file}[{start + a}:{start + min(a + step, len(plan.keys))}]"
            for plan, start in zip(plans, self._starts, strict=True)
            for a in range(0, len(plan.keys), step)
        ]

    def _plan(self) -> list[ShardPlan]:
        if self._plans is None:
            keys = self.metadata()
            existing_path(self.root_file, "CrisisLandMark root file")
            if not keys:
                raise DataError(
                    f"{self.root / 'metadata.parquet'}: no keys for split {self.splits} and "
                    f"sources {sorted(self.sources) if self.sources else 'all'}"
                )
            self._plans = plan_shards(self.root, keys, self._all_keys)
            self._starts = []
            total = 0
            for plan in self._plans:
                self._starts.append(total)
                total += len(plan.keys)
        return self._plans

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        """Stream the chips of one key range; ``DataError`` when its shard cannot be read."""
        match = _UNIT.match(unit)
        plans = self._plan() if match and Path(match["file"]) == self.root_file else []
        start, stop = (int(match["start"]), int(match["stop"])) if match else (0, 0)
        index = bisect.bisect_right(self._starts, start) - 1 if plans else -1
        if index < 0 or not start < stop <= self._starts[index] + len(plans[index].keys):
            raise DataError(f"unknown CrisisLandMark unit {unit!r}; use one from units()")
        plan, offset = plans[index], self._starts[index]
        tally.expect(stop - start)
        if plan.shard is None:
            tally.skip(NOT_IN_FILES, stop - start)
            return iter(())
        if plan.problem is not None:
            raise DataError(plan.problem)
        return self._stream(plan, start - offset, stop - offset, tally)

    def _stream(self, plan: ShardPlan, a: int, b: int, tally: Tally) -> Iterator[Chip]:
        path = self.root / str(plan.shard)
        try:
            handle = h5py.File(path, "r")
        except OSError as err:
            raise DataError(f"{path}: not a readable HDF5 file ({err}); fetch it again") from None
        rows = self.metadata()
        with handle:
            reader = SampleReader(handle, self.options, tally)
            for first in range(a, b, self.read_batch):
                batch = []
                last = min(first + self.read_batch, b)
                for key, object_path in zip(
                    plan.keys[first:last], plan.paths[first:last], strict=True
                ):
                    if key in self._conflicts:
                        tally.skip(CONFLICTING_ROWS)
                        continue
                    try:
                        sample = reader.read(key, object_path, rows[key])
                    except DataError as err:
                        report_bad_sample(tally, err)
                        continue
                    if sample is not None:
                        batch.append(sample)
                        if key in self._notes:
                            tally.flag(self._notes[key])
                        if key in self._repeats:
                            tally.flag(REPEATED_ROWS)
                yield from reader.locate(batch)


def _read_metadata(root: Path) -> pa.Table:
    """``metadata.parquet`` with its columns checked; ``DataError`` saying what is wrong."""
    path = root / "metadata.parquet"
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
        raise DataError(
            f"{path}: missing columns {sorted(missing)} (has {table.column_names}); "
            "CrisisLandMark metadata needs key, labels, split"
        )
    kind = table.schema.field("labels").type
    inner = kind.value_type if pa.types.is_list(kind) or pa.types.is_large_list(kind) else kind
    texts = (pa.types.is_string, pa.types.is_large_string, pa.types.is_null)
    if not any(is_kind(inner) for is_kind in texts):
        raise DataError(
            f"refused: {path}: column 'labels' holds {kind}; expected lists of label names "
            "(text), e.g. ['Trees', 'Water']"
        )
    return table
