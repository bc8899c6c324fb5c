""" "What changed into <text> after <date>": places whose chips moved towards a query.

``changed_into(store, q, date, area)`` pairs, per place, a chip acquired *before* the date with
a chip of the **same sensor** acquired *at or after* it (footprints overlapping by at least
``min_overlap`` of the after chip, as in ``place.py``) and ranks the places.

**Pairs.** Each after chip is paired with the *latest* overlapping before chip (the state just
before the event). A place seen after the date more than once keeps its best-scoring after
chip (a flood may show on the second pass), and places are de-duplicated per sensor: a pair is
dropped when its after chip overlaps the after chip of a better pair of the same sensor.
S1 and S2 pairs of one place are both kept (two independent pieces of evidence).

**Score.** The change of cosine similarity to the query, ``delta = sim(after, q) −
sim(before, q)``, then standardised per sensor with robust statistics over all candidate
pairs of that sensor in the area: ``score = (delta − median) / (1.4826 · MAD)``. Why:
(1) a same-sensor difference cancels the sensor's own offset in similarity (S1 and S2 chips
sit at different cosines to any text: CLOSP aligns each sensor to text separately);
(2) most places in an area do not change, so the median change estimates a shift that hits
every place (season, another orbit or processing baseline) and the MAD the noise between two
acquisitions of an unchanged place; the score says how unusual a place's move towards ``q`` is
against that noise, in comparable units for S1 and S2 (it is the robust z-test of change-vector
analysis). Within one sensor the order is exactly that of ``delta``. With fewer than
``MIN_PAIRS_FOR_Z`` (8) pairs of a sensor the statistics are not trusted: the raw ``delta`` is
the score for all pairs (``ChangeResult.score_name`` says which).

**Limits.** At most ``MAX_LIMIT`` (10,000) chips per side are read: after the date the most
similar to ``q``, before it the least similar (both with their vectors); ``truncated`` says when
the area held more. An empty result always carries a ``reason`` and a sentence for the user.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from closp_core.errors import TimelineError
from closp_core.records import BBox, ChipRecord, GeoPolygon, Hit, check_vector
from closp_core.store import MAX_LIMIT, SearchFilters, TimeRange, VectorStore
from closp_core.timeline.place import DEFAULT_MIN_OVERLAP, as_instant, check_overlap

MIN_PAIRS_FOR_Z = 8
_MAD_TO_SIGMA = 1.4826
_TICK = dt.timedelta(microseconds=1)
SCORE_Z = "robust z of the similarity change, per sensor"
SCORE_DELTA = "similarity change sim(after) - sim(before)"


class ChangeReason(enum.Enum):
    """Why a change search found no place (``value``: a short label)."""

    DATE_OUTSIDE_INDEX = "date outside the index"
    NO_CHIPS = "no chips in the area"
    NO_BEFORE = "no chips before the date"
    NO_AFTER = "no chips after the date"
    NO_PAIRS = "no place seen before and after"


@dataclasses.dataclass(frozen=True)
class ChangePair:
    """One place: its chip before and after the date (same sensor) and how it changed.

    ``sim_*``: cosine to the query; ``delta = sim_after - sim_before``; ``score``: the ranking
    score (see ``ChangeResult.score_name``); ``overlap``: share of the after chip's footprint
    that the before chip covers."""

    before: ChipRecord
    after: ChipRecord
    score: float
    delta: float
    sim_before: float
    sim_after: float
    overlap: float

    @property
    def key(self) -> str:
        """The after chip's key (what a click opens)."""
        return self.after.key


@dataclasses.dataclass(frozen=True)
class ChangeResult:
    """Places ranked by change towards the query, best first; ``reason`` set when empty.

    ``message``: one sentence for the user (why empty, or what was found and how ranked).
    ``before_chips`` / ``after_chips``: chips on each side in the area (under the filters);
    ``candidate_pairs``: after chips that found a before chip; ``truncated``: a side held
    more than 10,000 chips and only the 10,000 most telling were read."""

    pairs: tuple[ChangePair, ...]
    reason: ChangeReason | None
    message: str
    before_chips: int = 0
    after_chips: int = 0
    candidate_pairs: int = 0
    truncated: bool = False
    score_name: str = SCORE_DELTA

    def as_hits(self) -> tuple[Hit, ...]:
        """The after chips with their scores, for the map, the gallery and the usual exports."""
        return tuple(Hit(p.after, p.score) for p in self.pairs)


def _day(instant: dt.datetime) -> str:
    return instant.date().isoformat() if instant.time() == dt.time() else instant.isoformat()


def area_filters(area: BBox | GeoPolygon | None, filters: SearchFilters | None) -> SearchFilters:
    """``filters`` with their box and polygon replaced by ``area`` (when given)."""
    base = filters or SearchFilters()
    if area is None:
        return base
    if isinstance(area, BBox):
        return dataclasses.replace(base, bbox=area, polygon=None)
    if isinstance(area, GeoPolygon):
        return dataclasses.replace(base, bbox=None, polygon=area)
    raise TimelineError(f"area must be a BBox or a GeoPolygon, got {type(area).__name__}")


def _side(
    base: SearchFilters, start: dt.datetime | None, end: dt.datetime | None
) -> SearchFilters | None:
    """``base`` limited to ``[start, end]`` (intersected with its own time); None if empty."""
    if base.time is not None:
        if base.time.start is not None:
            start = base.time.start if start is None else max(start, base.time.start)
        if base.time.end is not None:
            end = base.time.end if end is None else min(end, base.time.end)
    if start is not None and end is not None and start > end:
        return None
    return dataclasses.replace(base, time=TimeRange(start, end))


def _outside_index(store: VectorStore, instant: dt.datetime) -> str | None:
    """A message when no chip of the whole index lies before, or none after, ``instant``."""
    before = store.count(SearchFilters(time=TimeRange(end=instant - _TICK)))
    after = store.count(SearchFilters(time=TimeRange(start=instant)))
    if before and after:
        return None
    months = sorted(store.counts_by("month"))
    span = f"from {months[0]} to {months[-1]}" if months else "no dated chips"
    side = "before" if not before else "after"
    return (
        f"{_day(instant)} is outside the index's time range (it holds chips {span}): no chip "
        f"is acquired {side} it; pick a date inside that range"
    )


def changed_into(
    store: VectorStore,
    query_vector: np.ndarray,
    when: dt.date | dt.datetime,
    area: BBox | GeoPolygon | None,
    filters: SearchFilters | None = None,
    *,
    limit: int = 50,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
) -> ChangeResult:
    """Places in ``area`` (chip centres; ``None``: anywhere) that changed towards the query.

    ``query_vector``: ``(384,)`` CLOSP embedding (text, or any vector); ``when``: the event
    date (a date = its 00:00 UTC; chips at or after it are "after"); ``filters``: further
    conditions (sensor, labels, source, a time window around the event); their box/polygon are
    replaced by ``area``. Method and score: module docstring.
    """
    q = check_vector(query_vector, "query vector").astype(np.float64)
    q /= np.linalg.norm(q)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise TimelineError(f"limit must be an integer between 1 and {MAX_LIMIT}, got {limit!r}")
    min_overlap = check_overlap(min_overlap)
    instant = as_instant(when)
    base = area_filters(area, filters)
    outside = _outside_index(store, instant)
    if outside is not None:
        return ChangeResult((), ChangeReason.DATE_OUTSIDE_INDEX, outside)
    before_f, after_f = _side(base, None, instant - _TICK), _side(base, instant, None)
    n_before = store.count(before_f) if before_f is not None else 0
    n_after = store.count(after_f) if after_f is not None else 0
    empty = _empty_reason(n_before, n_after, _day(instant))
    if empty is not None:
        return ChangeResult((), empty[0], empty[1], n_before, n_after)
    assert before_f is not None and after_f is not None  # both sides counted chips
    after = store.search(q, limit=min(n_after, MAX_LIMIT), filters=after_f, with_vectors=True)
    before = store.search(-q, limit=min(n_before, MAX_LIMIT), filters=before_f, with_vectors=True)
    counts = (n_before, n_after, max(n_before, n_after) > MAX_LIMIT)
    found = pair_places([h.record for h in before], [h.record for h in after], q, min_overlap)
    return _ranked(found, counts, _day(instant), limit, min_overlap)


def _ranked(
    candidates: list[ChangePair],
    counts: tuple[int, int, bool],
    day: str,
    limit: int,
    min_overlap: float,
) -> ChangeResult:
    """The result of the candidate pairs: scored, one per place, or why there are none."""
    n_before, n_after, truncated = counts
    if not candidates:
        message = (
            f"{n_before} chips before and {n_after} after {day} in this area, but no place was "
            "seen twice by one sensor (before and after, with footprints overlapping by at least "
            f"{min_overlap:.0%}): a change compares a sensor with itself, so add imagery of the "
            "same sensor for the other side, or pick a date between two images of one sensor"
        )
        return ChangeResult((), ChangeReason.NO_PAIRS, message, n_before, n_after, 0, truncated)
    scored, score_name = score_pairs(candidates)
    pairs = one_per_place(scored, min_overlap)[:limit]
    message = f"{len(pairs)} places seen before and after {day}, ranked by {score_name}"
    if truncated:
        message += f" (the area holds over {MAX_LIMIT} chips on a side: draw a smaller area)"
    return ChangeResult(
        tuple(pairs), None, message, n_before, n_after, len(candidates), truncated, score_name
    )


def _empty_reason(n_before: int, n_after: int, day: str) -> tuple[ChangeReason, str] | None:
    if not n_before and not n_after:
        return ChangeReason.NO_CHIPS, (
            "no chips in this area under the current filters; widen the area or the filters"
        )
    if not n_before:
        return ChangeReason.NO_BEFORE, (
            f"no chip in this area was acquired before {day} ({n_after} after it): nothing to "
            "compare with; pick a later date or another area"
        )
    if not n_after:
        return ChangeReason.NO_AFTER, (
            f"no chip in this area was acquired on or after {day} ({n_before} before it); pick "
            "an earlier date or another area"
        )
    return None


def _grid(records: Iterable[ChipRecord], cell: float) -> dict[tuple[str, int, int], list]:
    grid: dict[tuple[str, int, int], list[ChipRecord]] = defaultdict(list)
    for rec in records:
        if rec.center is not None and rec.footprint is not None:
            ix, iy = int(rec.center[0] // cell), int(rec.center[1] // cell)
            grid[(rec.sensor.value, ix, iy)].append(rec)
    return grid


def _near(grid: dict, rec: ChipRecord, cell: float) -> Iterable[ChipRecord]:
    """Records of ``grid`` of ``rec``'s sensor within one cell of its centre."""
    assert rec.center is not None
    ix, iy = int(rec.center[0] // cell), int(rec.center[1] // cell)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            yield from grid.get((rec.sensor.value, ix + dx, iy + dy), ())


def _cell(records: Sequence[ChipRecord]) -> float:
    """Grid cell (degrees) no smaller than any footprint's extent: overlapping chips' centres
    are then at most one cell apart."""
    sizes = [0.01]
    for rec in records:
        if rec.footprint is not None:
            w, s, e, n = rec.footprint.bounds
            sizes.append(max(e - w, n - s))
    return max(sizes)


def pair_places(
    before: Sequence[ChipRecord], after: Sequence[ChipRecord], q: np.ndarray, min_overlap: float
) -> list[ChangePair]:
    """One pair per after chip: the latest overlapping before chip of its sensor (score = delta).

    Records need vectors, centres and footprints (others are skipped)."""
    cell = _cell([*before, *after])
    grid = _grid((r for r in before if r.vector is not None), cell)
    pairs = []
    for a in after:
        if a.vector is None or a.footprint is None or a.center is None:
            continue
        matches = [
            (b, share)
            for b in _near(grid, a, cell)
            if (share := a.footprint.overlap_share(b.footprint)) >= min_overlap  # type: ignore[arg-type]
        ]
        if not matches:
            continue
        b, share = max(matches, key=lambda m: (m[0].acquired or dt.datetime.min, m[1], m[0].key))
        s_after, s_before = float(a.vector @ q), float(np.asarray(b.vector) @ q)
        delta = s_after - s_before
        pairs.append(ChangePair(b, a, delta, delta, s_before, s_after, share))
    return pairs


def score_pairs(pairs: Sequence[ChangePair]) -> tuple[list[ChangePair], str]:
    """Robust z of ``delta`` per sensor, or raw ``delta`` when a sensor has too few pairs."""
    by_sensor: dict[str, list[int]] = defaultdict(list)
    for i, pair in enumerate(pairs):
        by_sensor[pair.after.sensor.value].append(i)
    deltas = np.array([p.delta for p in pairs], np.float64)
    stats = {}
    for sensor, rows in by_sensor.items():
        d = deltas[rows]
        med = float(np.median(d))
        mad = float(np.median(np.abs(d - med))) * _MAD_TO_SIGMA
        if len(rows) < MIN_PAIRS_FOR_Z or mad <= 1e-9:
            return list(pairs), SCORE_DELTA
        stats[sensor] = (med, mad)
    out = []
    for pair in pairs:
        med, mad = stats[pair.after.sensor.value]
        out.append(dataclasses.replace(pair, score=(pair.delta - med) / mad))
    return out, SCORE_Z


def one_per_place(pairs: Sequence[ChangePair], min_overlap: float) -> list[ChangePair]:
    """Best pair first; a pair whose after chip overlaps a kept one of its sensor is dropped."""
    ranked = sorted(pairs, key=lambda p: (-p.score, p.key))
    cell = _cell([p.after for p in ranked])
    kept: list[ChangePair] = []
    grid: dict[tuple[str, int, int], list[ChipRecord]] = defaultdict(list)
    for pair in ranked:
        a = pair.after
        assert a.footprint is not None and a.center is not None  # pair_places checked them
        if any(
            a.footprint.overlap_share(k.footprint) >= min_overlap  # type: ignore[arg-type]
            for k in _near(grid, a, cell)
        ):
            continue
        kept.append(pair)
        grid[(a.sensor.value, int(a.center[0] // cell), int(a.center[1] // cell))].append(a)
    return kept
