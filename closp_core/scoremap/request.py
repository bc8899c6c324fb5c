"""``ScoreMapRequest``: one score map (or change map) asked for, checked once, whoever builds it.

The ranking signal and the area come from a ``SearchRequest`` (text, vector, "like", 👍 / 👎
marks; the map box or a drawn polygon, sensor, dates, labels); its ``limit`` is the length of
the top-N list kept beside the map. Here: how S1 and S2 combine, the threshold ("where score
≥ t", ``None`` = the suggested one), the change date (a change map when given) and the raster
size, and an area across the antimeridian (``antimeridian_box``, ``wrap.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math

from closp_core.errors import ScoreMapError
from closp_core.scoremap.wrap import check_crossing_box, halves
from closp_core.search.request import SearchRequest
from closp_core.store import BBox, SearchFilters

MIN_PIXELS = 16
MAX_PIXELS = 8192


class Combine(enum.Enum):
    """How the S1 and S2 scores of a place make one map: one sensor, either (the higher
    score where both saw it) or both (the lower score, only where both saw it)."""

    S1 = "s1"
    S2 = "s2"
    EITHER = "either"
    BOTH = "both"

    @classmethod
    def parse(cls, value: Combine | str) -> Combine:
        """From a member or its value; ``ScoreMapError`` names the choices otherwise."""
        if isinstance(value, Combine):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ScoreMapError(f"combine must be one of {names}, got {value!r}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class ScoreMapRequest:
    """What to score (``search``), how to combine sensors, the threshold, the change date
    (``change_after``: a day; the map is then score after − score before per place), the
    long side of the raster in pixels (``max_pixels``; ``None`` = the settings') and
    ``antimeridian_box``: ``(west, south, east, north)`` with ``west > east``, an area across
    ±180° used instead of the search's box (``closp_core.scoremap.wrap``)."""

    search: SearchRequest
    combine: Combine = Combine.EITHER
    threshold: float | None = None
    change_after: dt.date | None = None
    max_pixels: int | None = None
    antimeridian_box: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.search, SearchRequest):
            raise ScoreMapError(f"search must be a SearchRequest, got {type(self.search).__name__}")
        object.__setattr__(self, "combine", Combine.parse(self.combine))
        t = self.threshold
        if t is not None:
            if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
                raise ScoreMapError(f"threshold must be a finite number, got {t!r}")
            object.__setattr__(self, "threshold", float(t))
        when = self.change_after
        if when is not None and (not isinstance(when, dt.date) or isinstance(when, dt.datetime)):
            raise ScoreMapError(f"change_after must be a datetime.date, got {when!r}")
        px = self.max_pixels
        if px is not None and (
            isinstance(px, bool) or not isinstance(px, int) or not MIN_PIXELS <= px <= MAX_PIXELS
        ):
            raise ScoreMapError(
                f"max_pixels must be an integer from {MIN_PIXELS} to {MAX_PIXELS}, got {px!r}"
            )
        if self.antimeridian_box is not None:
            if self.search.bbox is not None or self.search.area is not None:
                raise ScoreMapError(
                    "give either an antimeridian box or the search's bbox / drawn area, not both"
                )
            box = check_crossing_box(self.antimeridian_box)
            object.__setattr__(self, "antimeridian_box", box)

    @property
    def is_change(self) -> bool:
        """Whether this asks for a change map (after − before)."""
        return self.change_after is not None

    def cache_key(self) -> tuple[object, ...]:
        """What decides which chips are fetched (not how they are scored): the filters."""
        return (repr(self.search.filters()), self.antimeridian_box)

    def area_filters(self) -> list[SearchFilters]:
        """The filters of the chips to fetch: the search's, or one per half of the
        antimeridian box."""
        base = self.search.filters()
        if self.antimeridian_box is None:
            return [base]
        return [dataclasses.replace(base, bbox=BBox(*h)) for h in halves(self.antimeridian_box)]
