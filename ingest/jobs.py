"""The app's one ingest job: run by a child process, owned by the app, seen by every session.

The embedded index has exactly one owning process, the app, and a job must not slow the
sessions searching meanwhile. So a ``JobRunner`` (one per app process, ``st.cache_resource``)
runs at most one job at a time **in a child process** (``python -m ingest.job_process``):
reading, chip cutting, forward passes and previews run there, under its own interpreter lock;
the app's link thread (``_Link``) answers the child's questions (which chips are indexed) and
writes each embedded batch it hands over with the app's own store handle, so each batch is
searchable as soon as it is acknowledged, and the child never holds the index (the store
takes upserts while other threads search; tested). A job outlives the session that started
it (reloading the page, closing the tab), and every session sees its progress (chips done of
the total its files' headers announced, chips/s, ETA) and may cancel it.

**Cancel** takes effect in every phase within ``grace_s`` + a poll: the app refuses writes
from the moment ``cancel()`` returns (an upsert under way finishes first and is kept), tells
the child through its cancel pipe (checked before every chip read, between embedding chunks,
before every preview), and kills the child if it has not ended within ``grace_s`` (a STAC
search, one slow read). Killing it is safe: it holds nothing of the index. The slot is free
once the child has gone.

**What became of a job** is said on the page: a child that dies without a word (killed,
out of memory) ends the job ``failed`` with what was kept; with a ``state_file`` the runner
writes the job's state there (title, wall-clock start, chips acknowledged, state) when it
starts, on every change and when it ends, so a runner that finds a job still marked running
(the app was killed or crashed mid-job; its child then stops at its next check, as its cancel
pipe reads end-of-file) starts in the ``interrupted`` state, whose report says what was kept
and how to finish. The file is best effort: a full disk never stops a job.

The job never builds the HNSW graph (``optimize()`` blocks the whole process for minutes on a
large index): new chips are searched exactly; the graph is rebuilt explicitly (``python -m
ingest optimize`` while the app is stopped, or by a Qdrant server's own background optimiser).

Nothing here imports Streamlit: the page (``app_pages/add_imagery.py``) renders ``status()``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from closp_core.errors import ClospError
from ingest.job_link import JobStartError, Launcher, Link, LinkEnd, launch_process
from ingest.job_process import JobSpec
from ingest.previews import PREVIEW_DIR

if TYPE_CHECKING:  # the app's side never needs torch itself
    from closp_core.settings import Settings
    from ingest.pipeline import IndexWriter, IngestSummary

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
    ("(rerun to go on)", "(add the same imagery again to go on: chips already added are skipped)"),
)


def for_web(text: str) -> str:
    """``text`` with the CLI's advice (``WEB_WORDS``) in the words of the Add imagery page."""
    for cli, page in WEB_WORDS:
        text = text.replace(cli, page)
    return text


ACTIVE = frozenset({RUNNING, CANCELLING})


class JobBusyError(ClospError):
    """A job is already running; one at a time."""


__all__ = ["JobBusyError", "JobRunner", "JobSpec", "JobStartError", "JobStatus"]


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
    pid: int | None = None  # the job's process (None: run on a thread, or none yet)

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


GRACE_S = 0.5  # after a cancel, the child's time to end by itself before it is killed


class JobRunner:
    """At most one ingest job at a time, in a child process (see the module docstring).
    ``launcher``: how the child starts (``launch_process``; tests may run it on a thread)."""

    def __init__(
        self,
        state_file: Path | None = None,
        *,
        launcher: Launcher = launch_process,
        grace_s: float = GRACE_S,
    ) -> None:
        self._lock = threading.Lock()
        self._state_file = state_file
        self._launcher, self._grace_s = launcher, grace_s
        self._status = interrupted_job(state_file) if state_file else JobStatus()
        self._thread: threading.Thread | None = None
        self._link: Link | None = None
        self._total = 0  # chips the job's headers announced
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

    def start(self, spec: JobSpec, store: IndexWriter) -> None:
        """Start ``spec`` in a child that writes through ``store`` (the app's own handle);
        ``JobBusyError`` when a job is running, ``JobStartError`` when no child starts."""
        with self._lock:
            if self._status.active:
                raise JobBusyError(
                    f"a job is already running ({self._status.title}); wait for it or cancel it"
                )
            self._total = 0
            self._link = link = Link(spec, store, self._launcher, self._on_message)
            self._status = JobStatus(
                state=RUNNING,
                title=spec.title,
                started=time.monotonic(),
                started_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                pid=getattr(link.worker, "pid", None),
            )
            self._save(self._status)
            self._thread = threading.Thread(
                target=self._serve, args=(link, spec), daemon=True, name="closp-job-link"
            )
            self._thread.start()

    def cancel(self) -> None:
        """Stop the running job: from when this returns nothing more is written (chips
        acknowledged before stay); the child ends within the grace period or is killed."""
        with self._lock:
            if self._status.state != RUNNING or self._link is None:
                return
            self._status = dataclasses.replace(self._status, state=CANCELLING)
            link, status = self._link, self._status
        link.request_cancel(self._grace_s)
        self._save(status)

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the job has ended (tests, shutdown); the final status."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    def _on_message(self, message: tuple[object, ...]) -> None:
        """The child's news: its chip total (from headers), then progress after each batch."""
        if message[0] == "total":
            self._total = int(message[1])  # type: ignore[call-overload]
            self._update(expected=max(self._total, self.status().done))
        elif message[0] == "progress":
            done, expected = int(message[1]), int(message[2])  # type: ignore[call-overload]
            self._update(done=done, expected=max(expected, self._total, done))

    def _serve(self, link: Link, spec: JobSpec) -> None:
        try:
            end = link.serve()
        except Exception as exc:  # our bug: say so in every session instead of hanging
            log.exception("the ingest job's link failed")
            link.worker.kill()
            self._update(state=FAILED, finished=time.monotonic(),
                         report=f"unexpected error, please report it: {type(exc).__name__}: "
                         f"{exc}")  # fmt: skip
            return
        pid = self.status().pid
        if end.message is None and pid is not None and spec.settings is not None:
            remove_partial_previews(spec.settings.data_dir, pid)
        verdict = self._verdict(end, link.written, spec)
        if spec.settings is not None and (line := _refresh_side_file(link, spec.settings)):
            verdict["report"] = f"{verdict['report']}\n{line}"
        self._update(finished=time.monotonic(), **verdict)

    def _verdict(self, end: LinkEnd, written: int, spec: JobSpec) -> dict[str, object]:
        """State and report of a job that ended as ``end`` says."""
        cancelled = self.status().state == CANCELLING
        notes = spec.notes
        names = given_names(spec)
        if end.message is not None and end.message[0] == "end":
            summary: IngestSummary = end.message[1]
            report = summary.report(already_hint=ALREADY_INDEXED)
            return {
                "state": CANCELLED if summary.cancelled or cancelled else DONE,
                "done": summary.indexed + summary.already_indexed,
                "report": _web(notes, report, names),
                "failed_units": tuple(summary.failed),
            }
        if end.message is not None:
            return {"state": FAILED, "report": _web(notes, end.message[1], names)}
        if cancelled:
            lines = (
                f"cancelled: stopped at once (the job's process was ended, {end.how})",
                f"kept the {written} chips the index had acknowledged",
                "to go on, add the same imagery again: chips already indexed are skipped",
            )
            return {"state": CANCELLED, "report": _web(notes, "\n".join(lines), names)}
        lines = (
            f"The job's process ended before the job did ({end.how}).",
            f"The {written} chips it had added are in the index; the rest were not.",
            "To finish, add the same imagery again: chips already indexed are skipped.",
        )
        return {"state": FAILED, "report": _web(notes, "\n".join(lines), names)}


def _refresh_side_file(link: Link, settings: Settings) -> str:
    """The score-map side file brought up to date with the job's chips (by the app, which owns
    the store), in one line for the job's report."""
    from closp_core.scoremap.sidefile import refresh_after_run, side_file_path
    from closp_core.store import VectorStore

    if not isinstance(link.store, VectorStore):
        return ""
    return refresh_after_run(link.store, side_file_path(settings), link.keys)


def remove_partial_previews(data_dir: Path, pid: int) -> int:
    """Delete the temporary preview files a killed job process ``pid`` left (each preview is
    written to ``<name>.<pid>-<thread>.tmp``, then renamed); how many there were."""
    removed = 0
    for path in (data_dir / PREVIEW_DIR).glob(f"*/*.{pid}-*.tmp"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def given_names(spec: JobSpec) -> dict[str, str]:
    """The server paths of uploaded files -> the names they were uploaded as (a source's
    ``names`` option: stored file name -> given name), so a report names what people sent;
    anything else in the upload's folder (a band group ``scene_*``) by its path inside it."""
    names: dict[str, str] = {}
    for source in spec.sources:
        given = source.options.get("names") if isinstance(source.options, Mapping) else None
        if not isinstance(given, Mapping) or not isinstance(source.target, str | Path):
            continue
        folder = Path(source.target)
        names[f"{folder}{os.sep}"] = ""
        names.update({str(folder / stored): str(name) for stored, name in given.items()})
    return names


def _web(notes: tuple[str, ...], report: str, names: Mapping[str, str]) -> str:
    """``report`` headed by ``notes``, in the page's words (``for_web``), each uploaded file
    called by the name it was uploaded as (``given_names``) instead of its server path."""
    for path in sorted(names, key=len, reverse=True):
        report = report.replace(path, names[path])
    return for_web("\n".join([*notes, report]))


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
