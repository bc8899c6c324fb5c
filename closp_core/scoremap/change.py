"""The change variant: per place, score after − score before, same sensor.

Chips acquired on or after the day (00:00 UTC) are "after", earlier ones "before". Each after
chip is paired, as ``closp_core.timeline`` pairs them, with the latest before chip of its sensor
covering ≥ ``MIN_OVERLAP`` of its footprint (ties: the larger overlap). Its change score is
``cos(after, q) − cos(before, q)``; after chips with no such partner are "only after", before
chips that no after chip took are "only before": shown as such, never as a change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import shapely

from closp_core.scoremap.table import ChipTable

MIN_OVERLAP = 0.25
ONLY_BEFORE = 1.0
ONLY_AFTER = 2.0


@dataclasses.dataclass(frozen=True, eq=False)
class ChangeScores:
    """``values (N,) float32``: after − before for paired after chips, NaN elsewhere;
    ``side (N,) float32``: ``ONLY_BEFORE`` / ``ONLY_AFTER`` for unpaired chips, NaN else;
    ``partner (N,) int64``: the row of the before chip of each paired after chip, −1 else."""

    values: np.ndarray
    side: np.ndarray
    partner: np.ndarray


def change_scores(table: ChipTable, cosine: np.ndarray, after: dt.date) -> ChangeScores:
    """Pair and score the chips of ``table`` (``cosine``: ``(N,)`` each chip's cosine to q)."""
    n = len(table)
    start = int(dt.datetime(after.year, after.month, after.day, tzinfo=dt.UTC).timestamp())
    is_after = table.times >= start
    before_rows = np.flatnonzero(~is_after)
    after_rows = np.flatnonzero(is_after)
    partner = np.full(n, -1, np.int64)
    polys = shapely.polygons(table.quads)
    if len(before_rows) and len(after_rows):
        tree = shapely.STRtree(polys[before_rows])
        a_idx, b_idx = tree.query(polys[after_rows], predicate="intersects")
        a_rows, b_rows = after_rows[a_idx], before_rows[b_idx]
        same = table.sensors[a_rows] == table.sensors[b_rows]
        a_rows, b_rows = a_rows[same], b_rows[same]
        inter = shapely.area(shapely.intersection(polys[a_rows], polys[b_rows]))
        share = inter / np.maximum(shapely.area(polys[a_rows]), 1e-18)
        ok = share >= MIN_OVERLAP
        a_rows, b_rows, share = a_rows[ok], b_rows[ok], share[ok]
        # best partner last: by time, then overlap; the last write per after chip wins
        order = np.lexsort((share, table.times[b_rows]))
        partner[a_rows[order]] = b_rows[order]
    values = np.full(n, np.nan, np.float32)
    paired = np.flatnonzero(partner >= 0)
    values[paired] = cosine[paired] - cosine[partner[paired]]
    side = np.full(n, np.nan, np.float32)
    side[after_rows[partner[after_rows] < 0]] = ONLY_AFTER
    taken = np.zeros(n, bool)
    taken[partner[paired]] = True
    side[before_rows[~taken[before_rows]]] = ONLY_BEFORE
    return ChangeScores(values, side, partner)
