"""The Python API: ``open_index()`` opens the index of the settings with its model, and
``Index.search`` runs one search through ``closp_core.search.search``::

    import closp_core
    idx = closp_core.open_index()
    out = idx.search("flooded fields", bbox=(-1.0, 37.9, -0.6, 38.2))
    gdf = out.to_geodataframe()

The embedded index has one owning process at a time: close the ``Index`` (or use it in a
``with`` block) before the app or ``python -m ingest`` opens the same folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from closp_core.embedder import Embedder
from closp_core.errors import IndexNotFoundError, SearchError
from closp_core.feedback import ResolvedLabels, import_labels
from closp_core.search.build import make_request
from closp_core.search.outcome import SearchOutcome
from closp_core.search.request import SearchRequest
from closp_core.search.run import search
from closp_core.settings import Settings
from closp_core.store import VectorStore, open_store, stored_model_id

if TYPE_CHECKING:
    from closp_core.scoremap import AreaCache, ScoreMap, ScoreMapRequest
    from closp_core.scoremap.imagery import ImageryReport


class Index:
    """An open index and the model that embeds its queries (one ``VectorStore``, one
    ``Embedder``). Build with ``open_index``; ``close()`` releases the index folder."""

    def __init__(self, store: VectorStore, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._areas: AreaCache | None = None

    def search(self, query: str | SearchRequest = "", **options: Any) -> SearchOutcome:
        """Search with text (or a ready ``SearchRequest``) and the options of
        ``closp_core.search.make_request``: ``bbox=(W, S, E, N)``, ``intersects=`` a GeoJSON
        file or mapping, ``labels=`` filter labels, ``sensor=``, ``date_from=`` /
        ``date_to=``, ``relevant=`` / ``not_relevant=`` chip keys, ``limit=`` (50)...

        Raises ``SearchError`` for a bad request, the store's errors for bad filters."""
        if isinstance(query, SearchRequest):
            if options:
                raise SearchError("give either a SearchRequest or text with options, not both")
            request = query
        else:
            request = make_request(query, **options)
        return search(self.store, request, self.embedder)

    def score_map(
        self,
        query: str | SearchRequest | ScoreMapRequest = "",
        *,
        combine: str = "either",
        threshold: float | None = None,
        change_after: dt.date | str | None = None,
        max_pixels: int | None = None,
        antimeridian_box: tuple[float, float, float, float] | None = None,
        **options: Any,
    ) -> ScoreMap:
        """Score every chip of an area (``closp_core.scoremap.score_map``): text (or a
        ``SearchRequest``, or a ready ``ScoreMapRequest``) with ``make_request``'s options for
        the area and the filters (``bbox=``, ``intersects=``...), ``combine=`` ``"s1"`` /
        ``"s2"`` / ``"either"`` / ``"both"``, ``threshold=`` (default: suggested),
        ``change_after=`` a day (a change map). A ``bbox=`` with west > east crosses the
        antimeridian (``closp_core.scoremap.wrap``; or give it as ``antimeridian_box=``).
        Areas' chips are cached in this ``Index``.

        Raises ``ScoreMapError`` / ``SearchError`` for a bad request or an empty area."""
        from closp_core.scoremap import AreaCache, ScoreMapRequest, score_map
        from closp_core.scoremap.sidefile import side_file_path
        from closp_core.scoremap.wrap import crossing_box
        from closp_core.search.build import parse_day

        crossing = crossing_box(options.get("bbox")) or antimeridian_box
        if crossing is not None:
            options = {k: v for k, v in options.items() if k != "bbox"}
        if isinstance(query, ScoreMapRequest):
            if options or threshold is not None or change_after is not None or crossing:
                raise SearchError("give either a ScoreMapRequest or text with options, not both")
            request = query
        else:
            search_request = query if isinstance(query, SearchRequest) else None
            if search_request is None:
                search_request = make_request(str(query), **options)
            elif options:
                raise SearchError("give either a SearchRequest or text with options, not both")
            request = ScoreMapRequest(
                search_request,
                combine=combine,  # type: ignore[arg-type]
                threshold=threshold,
                change_after=parse_day(change_after, "change_after"),
                max_pixels=max_pixels,
                antimeridian_box=crossing,
            )
        if self._areas is None:
            side = side_file_path(self.settings)
            self._areas = AreaCache(self.settings.score_map_cache_areas, side)
        return score_map(
            self.store, request, self.embedder, settings=self.settings, cache=self._areas
        )

    def export_imagery(self, keys: list[str], folder: str | Path) -> ImageryReport:
        """The imagery of the chips ``keys`` (e.g. ``ScoreMap.top_keys``) read again from their
        sources, one COG each in ``folder`` (``closp_core.scoremap.imagery``); the report says
        per chip what was written or why not."""
        from closp_core.scoremap.imagery import export_imagery

        return export_imagery(self.store, keys, folder)

    def write_score_map_side_file(self) -> Path:
        """Write the numpy side file score maps read an area's vectors from (~90x faster than
        the store; 1.66 kB a chip on disk; ``closp_core.scoremap.sidefile``) from the whole
        index. ``python -m ingest`` and the app's jobs keep it current after each run; this
        rebuilds it, e.g. for an index filled by other means."""
        from closp_core.scoremap.sidefile import write_side_file

        self._areas = None
        return write_side_file(self.store, self.settings)

    def read_marks(self, path: str | Path) -> ResolvedLabels:
        """The 👍 / 👎 marks of a label file (GeoJSON, as the app exports them) that fit this
        index: ``.labels`` to pass as ``marks=``, ``.missing`` the keys not in the index.

        Raises ``FeedbackError`` for a file that is not a label file or was made for another
        model or collection, ``SearchError`` when the file cannot be read."""
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise SearchError(f"cannot read the label file {path}: {exc.strerror}") from None
        return import_labels(text, self.store, self.settings.collection)

    def count(self) -> int:
        """Chips in the index."""
        return self.store.count()

    def close(self) -> None:
        """Release the index (the app or ``python -m ingest`` may open it afterwards)."""
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def open_index(settings: Settings | None = None) -> Index:
    """Open the index of ``settings`` (default: ``Settings.load()``, i.e. ``CLOSP_*``) with
    the model it was built with (``settings.model``; the demo model offline, see
    ``model.demo``).

    Raises ``IndexNotFoundError`` when there is no index there (nothing is created),
    ``ModelMismatchError`` when the index holds vectors of another model, ``StoreLockedError``
    when another process owns the embedded index folder."""
    settings = settings or Settings.load()
    if stored_model_id(settings) is None:
        where = settings.store_url or settings.index_dir / settings.collection
        raise IndexNotFoundError(
            f"no index at {where} (collection {settings.collection!r}): build one with "
            "`python -m ingest demo` (the shipped samples) or `python -m ingest ...`, or point "
            "CLOSP_DATA_DIR / CLOSP_STORE_URL / CLOSP_COLLECTION at an existing one"
        )
    embedder = Embedder.from_settings(settings)
    return Index(open_store(settings, embedder.model_id), embedder, settings)
