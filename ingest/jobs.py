"""The app's one background ingest job: owned by the process, seen by every session.

The embedded index has exactly one owning process, the app, so imagery added from the app is
ingested by the app itself: a ``JobRunner`` (one per process, ``st.cache_resource``) runs at most
one job at a time in a daemon thread with the app's own model and store handle. A job outlives
the session that started it (reloading the page, closing the tab), every session sees its
progress (chips done of those expected, chips/s, ETA) and may cancel it, and each batch is
searchable as soon as the store acknowledges it: the store takes upserts while other threads
search (Qdrant Edge is safe for that; tested).

Two rules keep the app responsive while a job runs:

- the job's forward passes run with the background thread budget of ``Embedder.threads_for``
  (one core left to query encoding and searches), and
- the job never builds the HNSW graph (``optimize()`` blocks the whole process for minutes on a
  large index): new chips are searched exactly, which is correct and fast enough for the
  thousands a job adds; the graph is rebuilt explicitly (``python -m ingest optimize`` while
  the app is stopped, or by a Qdrant server's own background optimiser).

**What became of a job when the app died**: with a ``state_file`` the runner writes the job's
state there (title, wall-clock start, chips acknowledged, state) when it starts, after each
acknowledged batch and when it ends. A runner that finds a job still marked running in that
file (the app was killed or crashed mid-job) starts in the ``interrupted`` state, whose report
says what was kept and how to finish. The file is best effort: a full disk never stops a job.

Nothing here imports Streamlit: the page (``app_pages/add_imagery.py``) renders ``status()``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from closp_core.data import ChipSource
from closp_core.errors import ClospError
from ingest.pipeline import BatchHook, Ingestor, IngestSummary

log = logging.getLogger(__name__)

IDLE, RUNNING, CANCELLING, DONE, CANCELLED, FAILED, INTERRUPTED = (
    "idle",
    "running",
    "cancelling",
    "done",
    "cancelled",
    "failed",
    "interrupted",
)
ALREADY_INDEXED = "the same imagery was added before; nothing is added twice"
# The engine's advice names the CLI's flags; on the page the same advice names its fields.
WEB_WORDS: tuple[tuple[str, str], ...] = (
    (
        "pass --units-check off (units_check=False) to index the values as they are",
        "tick 'Index the values as they are' to add them anyway",
    ),
    (
        "pass --linear (s1_linear=True) if it is linear power",
        "choose 'Linear power' under 'Sentinel-1 values' if it is linear power",
    ),
    ("(--linear or a units tag)", "(chosen under 'Sentinel-1 values', or a units tag)"),
    (
        "drop --linear (pass --db if a units tag is wrong)",
        "choose 'dB' under 'Sentinel-1 values'",
    ),
    ("; python -m ingest scene: --s2-offset 1000 --force)", ")"),
    ("(tag or --date)", "(its date tag, or the 'Acquired' field)"),
)


def for_web(text: str) -> str:
    """``text`` with the CLI's advice (``WEB_WORDS``) in the words of the Add imagery page."""
    for cli, page in WEB_WORDS:
        text = text.replace(cli, page)
    return text


ACTIVE = frozenset({RUNNING, CANCELLING})


class JobBusyError(ClospError):
    """A job is already running; one at a time."""


@dataclasses.dataclass(frozen=True)
class JobStatus:
    """A snapshot of the job, safe to read from any session."""

    state: str = IDLE
    title: str = ""
    done: int = 0  # chips acknowledged by the store
    expected: int = 0  # chips the readers announced so far
    started: float | None = None  # time.monotonic()
    finished: float | None = None
    report: str = ""  # the run's summary, or what went wrong
    failed_units: tuple[str, ...] = ()
    started_at: str = ""  # wall-clock start (ISO 8601, UTC), for the state file

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Chips per second so far."""
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate (None while unknown)."""
        if not self.active or self.rate <= 0 or self.expected <= self.done:
            return None
        return (self.expected - self.done) / self.rate


# Builds the sources of a job inside its thread (a STAC search, for one, takes time and may fail)
SourceFactory = Callable[[], Sequence[ChipSource]]
# Builds the Ingestor of a job from its hooks (on_batch, cancel)
IngestorFactory = Callable[[BatchHook, threading.Event], Ingestor]


class JobRunner:
    """At most one background ingest job per process (see the module docstring)."""

    def __init__(self, state_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._state_file = state_file
        self._status = interrupted_job(state_file) if state_file else JobStatus()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._notes: tuple[str, ...] = ()
        if self._status.state == INTERRUPTED:
            self._save(self._status)

    def status(self) -> JobStatus:
        with self._lock:
            return self._status

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._status = dataclasses.replace(self._status, **changes)  # type: ignore[arg-type]
            status = self._status
        self._save(status)

    def _save(self, status: JobStatus) -> None:
        """Write ``status`` to the state file (atomically; errors only logged)."""
        if self._state_file is None:
            return
        fields = ("state", "title", "done", "expected", "report", "started_at")
        record = {name: getattr(status, name) for name in fields}
        temp = self._state_file.with_name(self._state_file.name + ".tmp")
        try:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(record))
            os.replace(temp, self._state_file)
        except OSError as err:
            log.warning("cannot record the job's state in %s: %s", self._state_file, err)

    def start(
        self,
        title: str,
        sources: SourceFactory,
        ingestor: IngestorFactory,
        notes: Sequence[str] = (),
    ) -> None:
        """Start a job; ``JobBusyError`` when one is running. ``notes``: lines that head the
        job's report (e.g. uploaded files left out as repeats)."""
        with self._lock:
            if self._status.active:
                raise JobBusyError(
                    f"a job is already running ({self._status.title}); wait for it or cancel it"
                )
            self._cancel = threading.Event()
            self._notes = tuple(notes)
            self._status = JobStatus(
                state=RUNNING,
                title=title,
                started=time.monotonic(),
                started_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            )
            self._save(self._status)
            self._thread = threading.Thread(
                target=self._run, args=(sources, ingestor, self._cancel), daemon=True,
                name="closp-ingest-job",
            )  # fmt: skip
            self._thread.start()

    def cancel(self) -> None:
        """Ask the running job to stop after its current batch (acknowledged chips stay)."""
        with self._lock:
            if self._status.state == RUNNING:
                self._cancel.set()
                self._status = dataclasses.replace(self._status, state=CANCELLING)

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the job's thread ends (tests, shutdown); the final status."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    def _progress(self, done: int, expected: int) -> None:
        self._update(done=done, expected=max(expected, done))

    def _run(
        self, sources: SourceFactory, ingestor: IngestorFactory, cancel: threading.Event
    ) -> None:
        summary: IngestSummary | None = None
        try:
            summary = ingestor(self._progress, cancel).run_many(list(sources()))
        except ClospError as exc:
            self._update(state=FAILED, finished=time.monotonic(), report=self._with_notes(exc))
            return
        except Exception as exc:  # our bug: say so in every session instead of dying silently
            log.exception("the ingest job failed")
            self._update(
                state=FAILED,
                finished=time.monotonic(),
                report=f"unexpected error, please report it (the app's log has the "
                f"traceback): {type(exc).__name__}: {exc}",
            )
            return
        self._update(
            state=CANCELLED if summary.cancelled else DONE,
            finished=time.monotonic(),
            done=summary.indexed + summary.already_indexed,
            report=self._with_notes(summary.report(already_hint=ALREADY_INDEXED)),
            failed_units=tuple(summary.failed),
        )

    def _with_notes(self, report: object) -> str:
        return for_web("\n".join([*self._notes, str(report)]))


def interrupted_job(state_file: Path) -> JobStatus:
    """The last job recorded in ``state_file``: ``interrupted`` (with what was kept) when it
    was still running, the idle status when there is none, it ended, or it is unreadable."""
    try:
        record = json.loads(state_file.read_text())
        state, title, done = record["state"], str(record["title"]), int(record["done"])
        started_at = str(record.get("started_at", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return JobStatus()
    if state not in ACTIVE and state != INTERRUPTED:
        return JobStatus()
    report = str(record.get("report", ""))
    if state != INTERRUPTED:
        report = (
            f"The app stopped while this job was running (started {started_at}): "
            f"{done} chips had been added and are in the index; the rest were not. To finish, "
            "add the same imagery again: chips already indexed are skipped."
        )
    return JobStatus(state=INTERRUPTED, title=title, done=done, report=report,
                     started_at=started_at)  # fmt: skip
