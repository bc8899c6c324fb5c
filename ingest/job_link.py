"""The app's side of a job's child process: starting it (``Launcher``) and serving its link.

``launch_process`` starts ``python -m ingest.job_process`` with two inherited descriptors: one
end of a socket pair (a ``multiprocessing`` connection: pickled messages both ways) and the
read end of the cancel pipe. ``launch_thread`` runs the same child code on a thread of this
process instead (tests with a model already loaded, notebooks): same messages, same cancel
pipe, but it cannot be killed. ``Link.serve`` answers the child until it ends (see
``ingest/job_process.py`` for the messages) and says how it ended (``LinkEnd``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from closp_core.errors import ClospError, StoreDiskFullError
from ingest.job_process import JobSpec, run_job

if TYPE_CHECKING:
    from closp_core.embedder import Embedder
    from ingest.pipeline import IndexWriter

POLL_S = 0.05  # how often the link looks at the child, the clock and the cancel deadline
ROOT = Path(__file__).resolve().parents[1]  # the folder holding ``ingest/``


class JobStartError(ClospError):
    """The job's process could not be started."""


class Worker(Protocol):
    """The child running a job."""

    def alive(self) -> bool: ...

    def kill(self) -> None: ...

    def ended(self) -> str:
        """How it ended, for people ("exit status 1", "killed by signal 9 (SIGKILL)")."""
        ...


# Starts the child on its end of the link and the read end of the cancel pipe (both its own
# to close); the app sends the ``JobSpec`` as the link's first message.
Launcher = Callable[[Connection, int], Worker]


@dataclasses.dataclass
class ProcessWorker:
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(timeout=30)

    def ended(self) -> str:
        code = self.proc.wait(timeout=30)
        if code < 0:
            return f"killed by signal {-code} ({signal.Signals(-code).name})"
        return f"exit status {code}"


def launch_process(conn: Connection, cancel_fd: int) -> ProcessWorker:
    """``python -m ingest.job_process`` with this interpreter and environment (the app's
    ``CLOSP_*`` settings travel in the ``JobSpec``), ``ingest`` importable from ``ROOT``."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    args = [sys.executable, "-m", "ingest.job_process", str(conn.fileno()), str(cancel_fd)]
    try:
        proc = subprocess.Popen(
            args, pass_fds=(conn.fileno(), cancel_fd), env=os.environ | {"PYTHONPATH": path}
        )
    except OSError as err:
        raise JobStartError(
            f"cannot start the job's process ({err}); check the app's memory and process "
            "limits, then try again"
        ) from None
    finally:
        conn.close()
        os.close(cancel_fd)
    return ProcessWorker(proc)


@dataclasses.dataclass
class ThreadWorker:
    thread: threading.Thread

    def alive(self) -> bool:
        return self.thread.is_alive()

    def kill(self) -> None:
        """A thread cannot be killed: it stops at its next cancel check."""

    def ended(self) -> str:
        return "its thread ended"


def launch_thread(embedder: Embedder | None = None) -> Launcher:
    """A launcher running the child's code on a thread of this process, with ``embedder``."""

    def launch(conn: Connection, cancel_fd: int) -> ThreadWorker:
        from ingest.job_process import CancelPipe

        def work() -> None:
            try:
                run_job(conn.recv(), conn, CancelPipe(cancel_fd), embedder)
            except (EOFError, BrokenPipeError, ConnectionResetError):
                pass  # the app's end has gone
            finally:
                conn.close()
                os.close(cancel_fd)

        thread = threading.Thread(target=work, daemon=True, name="closp-ingest-job")
        thread.start()
        return ThreadWorker(thread)

    return launch


@dataclasses.dataclass(frozen=True)
class LinkEnd:
    """How a job's child ended: its last message (``("end", summary)``, ``("failed", why)``,
    or None when it said nothing), whether the app killed it after a cancel, and how its
    process ended."""

    message: tuple[Any, ...] | None
    killed: bool
    how: str


class Link:
    """The app's end of one job: answers the child, writes its batches, watches it."""

    def __init__(
        self,
        spec: JobSpec,
        store: IndexWriter,
        launcher: Launcher,
        on_message: Callable[[tuple[Any, ...]], None],
    ) -> None:
        self.store, self.on_message = store, on_message
        self.written = 0  # chips this job's writes put in the index (acknowledged)
        self.keys: list[str] = []  # their keys (the score-map side file takes them after)
        self._refused = False
        self._closed = False  # the cancel pipe's write end is closed (never write to it then)
        self._kill_at: float | None = None
        self._write_lock = threading.Lock()
        try:
            payload = pickle.dumps(spec)
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            raise JobStartError(
                f"cannot hand this job to its process ({err}); please report it"
            ) from None
        ours, theirs = multiprocessing.Pipe(duplex=True)
        cancel_r, self._cancel_w = os.pipe()
        try:
            self.worker = launcher(theirs, cancel_r)
        except BaseException:
            ours.close()
            os.close(self._cancel_w)
            raise
        self._conn = ours
        ours.send_bytes(payload)  # the child's first ``recv()``

    def request_cancel(self, grace_s: float) -> None:
        """Refuse writes from now on (one under way ends first), tell the child, and kill it
        if it has not ended ``grace_s`` from now."""
        self._kill_at = time.monotonic() + grace_s
        with self._write_lock:
            self._refused = True
            if not self._closed:
                with contextlib.suppress(OSError):  # the child has already gone
                    os.write(self._cancel_w, b"x")

    def serve(self) -> LinkEnd:
        """Answer the child until it ends or is killed; then close this end."""
        try:
            return self._serve()
        finally:
            self._conn.close()
            with self._write_lock:
                self._closed = True
                os.close(self._cancel_w)

    def _serve(self) -> LinkEnd:
        while True:
            if self._conn.poll(POLL_S):
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    return self._end(None)
                if message[0] in ("end", "failed"):
                    return self._end(message)
                self._answer(message)
            elif not self.worker.alive():
                return self._end(None)
            if self._kill_at is not None and time.monotonic() >= self._kill_at:
                self.worker.kill()
                return LinkEnd(None, True, self.worker.ended())

    def _end(self, message: tuple[Any, ...] | None) -> LinkEnd:
        deadline = time.monotonic() + 5.0  # a child that said its last word exits at once
        while self.worker.alive() and time.monotonic() < deadline:
            time.sleep(POLL_S)
        if self.worker.alive():
            self.worker.kill()
        return LinkEnd(message, False, self.worker.ended())

    def _answer(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind not in ("present", "upsert"):
            self.on_message(message)
            return
        try:
            reply = self._present(message[1]) if kind == "present" else self._write(message[1])
        except StoreDiskFullError as err:
            reply = ("disk-full", str(err))
        except ClospError as err:
            reply = ("error", f"{type(err).__name__}: {err}")
        with contextlib.suppress(OSError):  # the child has gone; the next poll finds it so
            self._conn.send(reply)

    def _present(self, keys: list[str]) -> tuple[Any, ...]:
        return ("ok", [record.key for record in self.store.get(keys)])

    def _write(self, records: list[Any]) -> tuple[Any, ...]:
        with self._write_lock:
            if self._refused:
                return ("cancelled",)
            written = self.store.upsert(records)
            self.written += written
            self.keys += [record.key for record in records]
        return ("ok", written)
