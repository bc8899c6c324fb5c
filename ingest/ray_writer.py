"""Who writes in an ``--engine ray`` run: the ledger actor, and the store's writers.

``UnitWriter`` (one actor) keeps the run's ledger: the figures (chips indexed, already
indexed, ``limit``) and the keys each unit in flight has had acknowledged, so a unit run again
after its worker died neither re-embeds nor counts twice what the dead attempt had written.
Where the writes happen depends on the store (``StoreOpener.shared``):

- **the embedded index** (``shared`` false): a folder one process writes. The ledger is that
  process: it checks which chips are indexed and upserts every batch (one writer, pinned to
  this machine by ``ray_engine``).
- **a Qdrant server or cluster** (``shared`` true): every machine reaches it, so each encoder
  actor (``ray_units.ChipEncoder``, one per GPU on every machine) opens its own connection,
  checks which chips of a batch are indexed, embeds the others, upserts them and reports the
  acknowledged keys here before its call returns. The ledger keeps only counts and key sets:
  no vector passes through it, and writes scale with the machines.

This module imports no torch: the ledger's process starts in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from closp_core.settings import Settings
from closp_core.store import ChipRecord, VectorStore, open_store


class StoreOpener(Protocol):
    """Opens the run's store in whichever actor calls it; picklable. ``shared``: the store is
    a server every machine writes to (each encoder writes its own batches); false: a store one
    process writes (the ledger actor is that process)."""

    @property
    def shared(self) -> bool: ...

    def __call__(self) -> VectorStore: ...


@dataclasses.dataclass(frozen=True)
class StoreSettingsOpener:
    """Opens the configured store (``open_store``): a server when ``settings.store_url``."""

    settings: Settings
    model_id: str

    @property
    def shared(self) -> bool:
        return bool(self.settings.store_url)

    def __call__(self) -> VectorStore:
        return open_store(self.settings, self.model_id)


@dataclasses.dataclass(frozen=True)
class RunFigures:
    """The ledger's count so far: chips written by this run and chips found already indexed."""

    indexed: int
    already_indexed: int
    exhausted: bool


class UnitWriter:
    """The run's ledger, and its writer when the store is not shared (module docstring).
    ``unit`` ids are ``"<source index>:<unit>"``; ``limit`` caps the chips taken over all
    units (``None``: all)."""

    def __init__(self, opener: StoreOpener, limit: int | None, build: bool) -> None:
        self.store = opener()
        self.store.check_writable()
        self.writes = not opener.shared  # else the encoders write
        self.limit, self.build = limit, build
        self.taken = 0
        self.claimed: dict[str, int] = {}  # chips each unit in flight took against ``limit``
        self.written: dict[str, set[str]] = {}  # keys each unit in flight wrote in this run
        self.indexed = 0
        self.already_indexed = 0

    def admit(self, unit: str, keys: list[str], force: bool, first: bool) -> tuple[list[int], bool]:
        """Rows of a batch's ``keys`` to send on: within ``limit`` and not acknowledged for this
        unit in this run (so a retried unit never re-embeds what was acknowledged); for the
        embedded index, without ``force``, not in the store either (a shared store: the
        encoder checks that, next to the store). ``first``: the unit's first batch in this
        attempt (a unit run again after its worker died gives back what it took against
        ``limit``). Also returns whether ``limit`` cut this batch (the unit stops)."""
        if first:
            self.taken -= self.claimed.pop(unit, 0)
        mine = self.written.setdefault(unit, set())
        granted = len(keys)
        if self.limit is not None:
            granted = max(0, min(granted, self.limit - self.taken))
        self.taken += granted
        self.claimed[unit] = self.claimed.get(unit, 0) + granted
        cut, keys = granted < len(keys), keys[:granted]
        if force or not self.writes:
            return [i for i, key in enumerate(keys) if key not in mine], cut
        present = {record.key for record in self.store.get(keys)} if keys else set()
        self.already_indexed += len(present - mine)
        return [i for i, key in enumerate(keys) if key not in present], cut

    def upsert(self, unit: str, records: list[ChipRecord]) -> int:
        """Write ``records`` (the embedded index); returns once the store acknowledged them."""
        self.store.upsert(records)
        self.acknowledge(unit, [record.key for record in records], [])
        if self.build:
            self.store.optimize_if_due()
        return len(records)

    def acknowledge(self, unit: str, written: list[str], present: list[str]) -> None:
        """``written``: keys of ``unit`` the store acknowledged; ``present``: keys an encoder
        found already indexed (a shared store) and did not embed."""
        mine = self.written.setdefault(unit, set())
        self.already_indexed += len(set(present) - mine)
        new = set(written) - mine
        mine.update(new)
        self.indexed += len(new)

    def finish(self, unit: str) -> None:
        """The unit is done: forget its keys (memory stays bounded by the units in flight)."""
        self.written.pop(unit, None)
        self.claimed.pop(unit, None)

    def figures(self) -> RunFigures:
        exhausted = self.limit is not None and self.taken >= self.limit
        return RunFigures(self.indexed, self.already_indexed, exhausted)

    def close(self, optimize: bool) -> RunFigures:
        """Build the search graph (``optimize``; a server builds its own), flush and close."""
        try:
            if optimize:
                self.store.optimize()
        finally:
            self.store.close()
        return self.figures()
