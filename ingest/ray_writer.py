"""The one writer of an ``--engine ray`` run (an actor; ``ray_units`` has the rest).

``UnitWriter`` is the only process that opens the store, so the embedded index keeps its single
writer; its methods run one at a time. It also keeps the run's figures (chips indexed, already
indexed, ``limit``) and the keys each unit in flight has written, so a unit run again after its
worker died neither re-embeds nor counts twice what the dead attempt had acknowledged. This
module imports no torch: the writer's process starts in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from closp_core.settings import Settings
from closp_core.store import ChipRecord, VectorStore, open_store

StoreOpener = Callable[[], VectorStore]


@dataclasses.dataclass(frozen=True)
class StoreSettingsOpener:
    """Opens the configured store (``open_store``) in the writer actor; picklable."""

    settings: Settings
    model_id: str

    def __call__(self) -> VectorStore:
        return open_store(self.settings, self.model_id)


@dataclasses.dataclass(frozen=True)
class RunFigures:
    """The writer's count so far: chips written by this run and chips found already indexed."""

    indexed: int
    already_indexed: int
    exhausted: bool


class UnitWriter:
    """The run's single store writer (see the module docstring). ``unit`` ids are
    ``"<source index>:<unit>"``; ``limit`` caps the chips taken over all units (``None``: all)."""

    def __init__(self, opener: StoreOpener, limit: int | None, build: bool) -> None:
        self.store = opener()
        self.store.check_writable()
        self.limit, self.build = limit, build
        self.taken = 0
        self.claimed: dict[str, int] = {}  # chips each unit in flight took against ``limit``
        self.written: dict[str, set[str]] = {}  # keys each unit in flight wrote in this run
        self.indexed = 0
        self.already_indexed = 0

    def admit(self, unit: str, keys: list[str], force: bool, first: bool) -> tuple[list[int], bool]:
        """Rows of a batch's ``keys`` to embed: within ``limit``, and not in the store (with
        ``force``: not written by this unit in this run, so a retried unit never re-embeds
        what was acknowledged). ``first``: the unit's first batch in this attempt (a unit run
        again after its worker died gives back what it took against ``limit``). Also returns
        whether ``limit`` cut this batch (the unit stops)."""
        if first:
            self.taken -= self.claimed.pop(unit, 0)
        mine = self.written.setdefault(unit, set())
        granted = len(keys)
        if self.limit is not None:
            granted = max(0, min(granted, self.limit - self.taken))
        self.taken += granted
        self.claimed[unit] = self.claimed.get(unit, 0) + granted
        cut, keys = granted < len(keys), keys[:granted]
        if force:
            return [i for i, key in enumerate(keys) if key not in mine], cut
        present = {record.key for record in self.store.get(keys)} if keys else set()
        self.already_indexed += len(present - mine)
        return [i for i, key in enumerate(keys) if key not in present], cut

    def upsert(self, unit: str, records: list[ChipRecord]) -> int:
        """Write ``records``; returns once the store acknowledged them."""
        self.store.upsert(records)
        mine = self.written[unit]
        new = {record.key for record in records} - mine
        mine.update(new)
        self.indexed += len(new)
        if self.build:
            self.store.optimize_if_due()
        return len(records)

    def finish(self, unit: str) -> None:
        """The unit is done: forget its keys (memory stays bounded by the units in flight)."""
        self.written.pop(unit, None)
        self.claimed.pop(unit, None)

    def figures(self) -> RunFigures:
        exhausted = self.limit is not None and self.taken >= self.limit
        return RunFigures(self.indexed, self.already_indexed, exhausted)

    def close(self, optimize: bool) -> RunFigures:
        """Build the search graph (``optimize``), flush and close the store."""
        try:
            if optimize:
                self.store.optimize()
        finally:
            self.store.close()
        return self.figures()
