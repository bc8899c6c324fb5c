"""The parts of the Ray tests that travel to Ray's workers (pickled by reference to this
module): it imports no torch and no test module, so a worker that unpickles them starts as fast
as one of a real run."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from closp_core.data import ChipSource
from closp_core.data.chip import Chip, Tally
from closp_core.store import VectorStore
from closp_core.store.remote import RemoteStore


@dataclasses.dataclass(frozen=True)
class ShardOpener:
    """A shared store as the engine sees one (every encoder writes), made of qdrant-client's
    local mode: one folder per process that opens it (local mode admits one process a folder;
    a server is one store for all). The union of the folders is the index."""

    root: Path
    model_id: str
    shared = True

    def __call__(self) -> VectorStore:
        return RemoteStore(self.model_id, path=self.root / f"process-{os.getpid()}")

    def shards(self) -> list[VectorStore]:
        return [RemoteStore(self.model_id, path=path) for path in sorted(self.root.iterdir())]


@dataclasses.dataclass(frozen=True)
class ServerOpener:
    """A ``closp_test_*`` collection on the server at ``CLOSP_TEST_QDRANT_URL``."""

    url: str
    api_key: str | None
    collection: str
    model_id: str
    shared = True

    def __call__(self) -> VectorStore:
        return RemoteStore(
            self.model_id, url=self.url, api_key=self.api_key, collection=self.collection
        )


@dataclasses.dataclass
class DyingSource(ChipSource):
    """``inner``, whose worker SIGKILLs itself after ``after`` chips of its first unit, once
    (``marker`` remembers it across processes)."""

    inner: ChipSource
    marker: Path
    after: int

    def units(self) -> list[str]:
        return self.inner.units()

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        for number, chip in enumerate(self.inner.read(unit, tally)):
            if number == self.after and not self.marker.exists():
                self.marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            yield chip
