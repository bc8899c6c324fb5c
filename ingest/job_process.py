"""The app's ingest job, in a process of its own: ``python -m ingest.job_process LINK CANCEL``.

The app (``ingest/jobs.py``) starts this module as a child process, so the job's reading,
chip cutting, forward passes and previews never take the app's interpreter lock from the
sessions searching meanwhile. The app keeps sole ownership of the index: the child asks it,
over ``LINK`` (a ``multiprocessing`` connection on an inherited socket), which chips are
already indexed and hands it each embedded batch to write (``LinkedStore``); the app writes
it with its own store handle and acknowledges. Killing the child therefore can never harm the
index: it holds no lock, no file and no write of it.

Order of work, so that a job is useful from its first seconds:

1. the sources are opened (a STAC search runs here);
2. for local files, the chip total is counted from each file's header (``count_chips``;
   torch is not imported yet, so this takes well under a second) and sent to the app;
3. the model is loaded, then the pipeline (``ingest.pipeline.Ingestor``) runs with the
   cancel flag and the app's store behind the link.

**Cancel**: the app writes a byte to the ``CANCEL`` pipe (or dies: the pipe's end is then
readable too). ``CancelPipe.is_set`` is checked before every chip read, between chunks of
``EMBED_CHUNK`` chips embedded, before every preview and before every write; the app also
refuses writes once it has asked to cancel, and kills this process if it is not gone within
its grace period. Messages to the app (``tuple``\\ s, first item the kind):
``("total", chips)``, ``("progress", done, expected)``, ``("present", keys)`` -> keys,
``("upsert", records)`` -> ``("ok", n)`` | ``("cancelled",)`` | ``("disk-full", why)`` |
``("error", why)``; last ``("end", IngestSummary)`` or ``("failed", why)``.

This module imports no torch at its top (the chip total must not wait for it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import select
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closp_core.data import ChipSource
from closp_core.data.chip import Tally
from closp_core.errors import ClospError, StoreDiskFullError, StoreError
from closp_core.settings import Settings
from closp_core.sources import open_source

if TYPE_CHECKING:
    from closp_core.embedder import Embedder
    from closp_core.store import ChipRecord

log = logging.getLogger(__name__)

COUNT_BUDGET_S = 1.5  # the header count's time; units not reached by then are extrapolated


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """One source of a job, as ``closp_core.sources.open_source`` takes it (picklable)."""

    kind: str
    target: Any
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def open(self) -> ChipSource:
        return open_source(self.kind, self.target, self.options)


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """What a job does: its title, sources, the app's settings and model id (the child loads
    the same model and refuses to run with another), ``force`` (re-embed chips already
    indexed) and ``notes`` (lines that head its report)."""

    title: str
    sources: tuple[SourceSpec, ...]
    settings: Settings
    model_id: str
    force: bool = False
    notes: tuple[str, ...] = ()


class CancelPipe:
    """The cancel flag of a job: set once the app wrote to the pipe or closed its end."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._set = False

    def is_set(self) -> bool:
        if not self._set:
            self._set = bool(select.select([self.fd], [], [], 0)[0])
        return self._set


@dataclasses.dataclass(frozen=True)
class _Present:
    key: str


class LinkedStore:
    """The app's store, seen through the link (``ingest.pipeline.IndexWriter``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def _ask(self, *message: object) -> tuple[Any, ...]:
        with self._lock:
            self._conn.send(message)
            reply: tuple[Any, ...] = self._conn.recv()
        if reply[0] == "disk-full":
            raise StoreDiskFullError(reply[1])
        if reply[0] == "error":
            raise StoreError(reply[1])
        return reply

    def get(self, keys: Sequence[str]) -> list[_Present]:
        return [_Present(key) for key in self._ask("present", list(keys))[1]]

    def upsert(self, records: list[ChipRecord]) -> int:
        from ingest.pipeline import RunCancelledError  # loaded by now: the pipeline calls this

        reply = self._ask("upsert", records)
        if reply[0] == "cancelled":
            raise RunCancelledError("the app refused the write: the job was cancelled")
        return int(reply[1])

    def optimize_if_due(self) -> bool:
        return False  # the app never builds the graph while it serves searches


def count_chips(
    specs: Sequence[SourceSpec],
    sources: Sequence[ChipSource],
    cancel: CancelPipe,
    budget_s: float = COUNT_BUDGET_S,
) -> int | None:
    """The chips the job's local files will give, from their headers (each reader announces
    its total before its first window: ``Tally.expect``); None unless every source reads a
    local path (a remote source's total waits for its search or listing). Units not
    reached within ``budget_s`` are counted at the mean of those that were. A file that
    cannot be read counts 0 here (the run reports it)."""
    if not specs or not all(isinstance(spec.target, Path) for spec in specs):
        return None
    stop = time.monotonic() + budget_s
    try:
        units = [(source, unit) for source in sources for unit in source.units()]
    except ClospError:
        return None
    total = seen = 0
    for source, unit in units:
        if cancel.is_set() or time.monotonic() > stop:
            break
        tally = Tally()
        with contextlib.suppress(ClospError):  # the run reports it
            _first_chip(source, unit, tally)
        total, seen = total + tally.expected, seen + 1
    return round(total + (total / seen * (len(units) - seen) if seen else 0))


def _first_chip(source: ChipSource, unit: str, tally: Tally) -> None:
    """Read the first chip of ``unit`` (its reader announces its total first), then close it."""
    chips = source.read(unit, tally)
    try:
        next(iter(chips), None)
    finally:
        close = getattr(chips, "close", None)
        if close is not None:
            close()


def run_job(
    spec: JobSpec, conn: Connection, cancel: CancelPipe, embedder: Embedder | None = None
) -> None:
    """Run ``spec``, talking to the app over ``conn`` (see the module docstring); the last
    message says how it ended. ``embedder``: an already loaded one (tests), else the app's
    model is loaded from ``spec.settings``."""
    try:
        conn.send(_outcome(spec, conn, cancel, embedder))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        raise  # the app has gone: nobody to tell
    except ClospError as exc:
        conn.send(("failed", str(exc)))
    except Exception as exc:  # our bug: the app says so instead of "the process died"
        log.exception("the ingest job failed")
        conn.send(("failed", f"unexpected error, please report it (the app's log has the "
                             f"traceback): {type(exc).__name__}: {exc}"))  # fmt: skip


def _outcome(
    spec: JobSpec, conn: Connection, cancel: CancelPipe, embedder: Embedder | None
) -> tuple[str, Any]:
    sources = [source.open() for source in spec.sources]
    total = count_chips(spec.sources, sources, cancel)
    if total:
        conn.send(("total", total))
    from closp_core.embedder import Embedder, threads_for  # torch: after the total is out
    from ingest.pipeline import Ingestor, IngestSummary

    if cancel.is_set():
        return ("end", IngestSummary(cancelled=True))
    settings = spec.settings
    if embedder is None:
        embedder = Embedder.from_settings(settings, role="background")
    if embedder.model_id != spec.model_id:
        raise ClospError(
            f"the job loaded the model {embedder.model_id}, but the index holds vectors of "
            f"{spec.model_id}; restart the app so that both use the same model"
        )
    ingestor = Ingestor(
        embedder,
        LinkedStore(conn),
        settings.data_dir,
        batch_size=settings.batch_size,
        progress=False,
        threads=threads_for("background", settings),
        on_batch=lambda done, expected: conn.send(("progress", done, expected)),
        cancel=cancel,
        force=spec.force,
        max_chips=settings.max_job_chips,
    )
    return ("end", ingestor.run_many(sources))


def main(argv: Sequence[str]) -> int:
    """Entry point of the child process: ``LINK`` and ``CANCEL`` file descriptors."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    conn = Connection(int(argv[0]))
    cancel = CancelPipe(int(argv[1]))
    try:
        run_job(conn.recv(), conn, cancel)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return 1  # the app has gone: nothing to tell, nothing of the index held
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is said and written (previews atomically, the index by the app): skip the
    # interpreter's teardown of torch and GDAL, which took seconds on a busy machine.
    os._exit(code)
