"""``score_map(store, request, encoder)``: the one score map of the app, the CLI, the Python API
and the bench: fetch the area's chips (cached per area and model), score each, burn the scores
into a grid, and keep what the area figures and the exports need.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from pathlib import Path

import numpy as np

from closp_core.errors import ScoreMapError
from closp_core.scoremap.area import AreaPolygon, SensorFigures, km2_above, polygons_above
from closp_core.scoremap.change import ChangeScores, change_scores
from closp_core.scoremap.grid import ScoreGrid, burn, draw, grid_frame
from closp_core.scoremap.request import ScoreMapRequest
from closp_core.scoremap.score import ScoreKind, cosine_scores, score_chips, suggested_threshold
from closp_core.scoremap.sidefile import MANIFEST, select_side_file
from closp_core.scoremap.table import ChipTable, fetch_table, too_many
from closp_core.scoremap.wrap import unwrap
from closp_core.search.query import QueryEncoder, query_vector
from closp_core.settings import Settings
from closp_core.store import SearchFilters, VectorStore


@dataclasses.dataclass(frozen=True, eq=False)
class ScoreMap:
    """A scored area: ``table`` (its chips), ``scores (N,) float32`` (NaN: not scored, e.g. a
    before chip of a change map), ``kind``, ``grid`` (combined) and ``grids`` (per sensor),
    ``side`` (change maps: 1 only before, 2 only after, NaN else), the ``threshold`` asked for
    or suggested, ``top`` (rows of the best ``limit`` chips), ``title`` and timings in ms."""

    request: ScoreMapRequest
    table: ChipTable
    scores: np.ndarray
    kind: ScoreKind
    grid: ScoreGrid
    grids: dict[str, ScoreGrid]
    side: ScoreGrid | None
    threshold: float
    suggested: float
    top: np.ndarray
    title: str
    timings: dict[str, float]

    def figures(self, threshold: float | None = None) -> dict[str, SensorFigures]:
        """Per sensor (``"s1"``, ``"s2"``) km² and chips ≥ ``threshold`` (default: the map's),
        and the acquisition days of those chips."""
        t = self.threshold if threshold is None else float(threshold)
        out = {}
        for code, name in enumerate(("s1", "s2")):
            rows = self.table.sensors == code
            with np.errstate(invalid="ignore"):
                above = rows & (self.scores >= t)
            out[name] = SensorFigures(
                name,
                km2_above(self.grids[name], t),
                int(above.sum()),
                int((rows & np.isfinite(self.scores)).sum()),
                self.table.dates(above),
            )
        return out

    def km2(self, threshold: float | None = None) -> float:
        """km² of the combined grid ≥ ``threshold`` (the map's by default)."""
        return km2_above(self.grid, self.threshold if threshold is None else float(threshold))

    def polygons(self, threshold: float | None = None) -> list[AreaPolygon]:
        """The dissolved area of the combined grid ≥ ``threshold``, largest first."""
        t = self.threshold if threshold is None else float(threshold)
        return polygons_above(self.grid, t)

    @property
    def top_keys(self) -> list[str]:
        """Keys of the top-N chips, best first."""
        return [str(k) for k in self.table.keys[self.top]]


class AreaCache:
    """The chip tables of the last ``size`` areas, per model (thread-safe, in memory).

    A table comes from the numpy side file ``side_file`` (``sidefile.py``) when one is given,
    exists and matches the store's count (the faster way: ``bench/scoremap.py``), else from
    the store (scroll, then retrieve with vectors)."""

    def __init__(self, size: int, side_file: Path | None = None) -> None:
        self.size = max(0, int(size))
        self.side_file = side_file
        self._tables: collections.OrderedDict[tuple[object, ...], ChipTable] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def table(self, store: VectorStore, request: ScoreMapRequest, max_chips: int) -> ChipTable:
        """The area's chips, fetched from ``store`` the first time."""
        count = store.count()
        key = (store.model_id, count, *request.cache_key())
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        table = self._fetch(store, request, max_chips, count)
        with self._lock:
            self._tables[key] = table
            while len(self._tables) > self.size:
                self._tables.popitem(last=False)
        return table

    def _fetch(
        self, store: VectorStore, request: ScoreMapRequest, max_chips: int, count: int
    ) -> ChipTable:
        parts = [self._fetch_one(store, f, max_chips, count) for f in request.area_filters()]
        table = ChipTable.concat(parts)
        if len(table) > max_chips:
            raise ScoreMapError(too_many(len(table), max_chips))
        return unwrap(table) if request.antimeridian_box is not None else table

    def _fetch_one(
        self, store: VectorStore, filters: SearchFilters, max_chips: int, count: int
    ) -> ChipTable:
        if self.side_file is None or not (self.side_file / MANIFEST).exists():
            return fetch_table(store, filters, max_chips)
        try:
            table = select_side_file(self.side_file, count, filters)
        except ScoreMapError:  # stale, or a filter it cannot apply: the store answers
            return fetch_table(store, filters, max_chips)
        if len(table) > max_chips:
            raise ScoreMapError(too_many(len(table), max_chips))
        return table  # in memory: select copies the rows out of the mmap


def score_map(
    store: VectorStore,
    request: ScoreMapRequest,
    encoder: QueryEncoder | None = None,
    *,
    settings: Settings | None = None,
    cache: AreaCache | None = None,
) -> ScoreMap:
    """Score every chip of the request's area and draw the map (module docstring).

    Raises ``ScoreMapError`` for an empty area, too many chips or nothing to score by;
    ``SearchError`` when the query needs the model and there is none; store errors."""
    if not isinstance(request, ScoreMapRequest):
        raise ScoreMapError(f"score_map takes a ScoreMapRequest, got {type(request).__name__}")
    settings = settings or Settings()
    if not request.search.has_query:
        raise ScoreMapError("nothing to score by: type a query, pick a chip or mark one relevant")
    start = time.perf_counter()
    vector, title = query_vector(store, request.search, encoder)
    cache = cache or AreaCache(0)
    table = cache.table(store, request, settings.score_map_max_chips)
    if not len(table):
        raise ScoreMapError(
            "no chips in this area: move the map, draw a larger area or clear filters"
        )
    fetched = time.perf_counter()
    marks = request.search.marks
    marked = {
        r.key: np.asarray(r.vector) for r in store.get([k for k, _ in marks], with_vectors=True)
    }
    chip_scores = score_chips(table, vector, marks, marked)
    scores, kind, changes = chip_scores.values, chip_scores.kind, None
    if request.change_after is not None:
        cosine = scores if kind is ScoreKind.COSINE else _ranking_cosine(table, vector)
        changes = change_scores(table, cosine, request.change_after)
        scores, kind = changes.values, ScoreKind.CHANGE
    scored = time.perf_counter()
    max_pixels = request.max_pixels or settings.score_map_max_pixels
    grid, grids = draw(table, scores, request.combine, max_pixels)
    side = _side_grid(table, changes, max_pixels) if changes is not None else None
    drawn = time.perf_counter()
    suggested = suggested_threshold(scores, kind)
    finite = np.flatnonzero(np.isfinite(scores))
    top = finite[np.argsort(-scores[finite], kind="stable")[: request.search.limit]]
    timings = {
        "fetch_ms": (fetched - start) * 1e3,
        "score_ms": (scored - fetched) * 1e3,
        "draw_ms": (drawn - scored) * 1e3,
    }
    threshold = suggested if request.threshold is None else request.threshold
    return ScoreMap(
        request, table, scores, kind, grid, grids, side, threshold, suggested, top, title, timings
    )


def _ranking_cosine(table: ChipTable, vector: np.ndarray | None) -> np.ndarray:
    if vector is None:
        raise ScoreMapError("a change map needs a query (text or a chip), not only marks")
    return cosine_scores(table, vector)


def _side_grid(table: ChipTable, changes: ChangeScores, max_pixels: int) -> ScoreGrid:
    frame = grid_frame(table, max_pixels)
    rows = np.flatnonzero(np.isfinite(changes.side))
    return ScoreGrid(burn(table, changes.side, rows, frame), frame[0], frame[3])
