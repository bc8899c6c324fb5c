"""The embedded index with real processes: one owner at a time, and SIGKILL durability."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from closp_core.store import ChipRecord, IndexParams, StoreLockedError
from closp_core.store.edge import EdgeStore

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# A child process: opens the index, then obeys commands read line by line from stdin.
CHILD = """
import sys
sys.path[:0] = [{repo!r}, {here!r}]
from conftest import make_records, MODEL
from closp_core.store import StoreLockedError
from closp_core.store.edge import EdgeStore
folder = {folder!r}
records = make_records({n}, seed=11)
try:
    store = EdgeStore(folder, MODEL)
except StoreLockedError as exc:
    print("locked:", exc, flush=True)
    sys.exit(3)
print("ready", flush=True)
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "write":  # write records[a:b] in batches of 50, acknowledging each batch
        a, b = int(args[0]), int(args[1])
        for start in range(a, b, 50):
            store.upsert(records[start:min(start + 50, b)])
            print("acked", min(start + 50, b), flush=True)
    elif cmd == "flush":
        store.flush()
        print("flushed", flush=True)
    elif cmd == "close":
        store.close()
        print("closed", flush=True)
        break
"""


def _spawn(folder: Path, n: int = 600) -> subprocess.Popen[str]:
    code = textwrap.dedent(CHILD).format(repo=str(REPO), here=str(HERE), folder=str(folder), n=n)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _expect(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(prefix):
        err = proc.stderr.read() if proc.stderr is not None and proc.poll() is not None else ""
        pytest.fail(f"child said {line!r}, expected {prefix!r}; stderr: {err[-2000:]}")
    return line


def _send(proc: subprocess.Popen[str], command: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()


def test_second_opener_in_same_process_is_refused(tmp_path: Path, model_id: str) -> None:
    folder = tmp_path / "index"
    message = rf"index {re.escape(str(folder))} is open .*pid {os.getpid()}"
    with EdgeStore(folder, model_id), pytest.raises(StoreLockedError, match=message):
        EdgeStore(folder, model_id)
    with EdgeStore(tmp_path / "index", model_id) as again:  # released on close
        assert again.count() == 0


def test_two_processes_one_owner_no_loss(tmp_path: Path, model_id: str, record_factory) -> None:
    folder = tmp_path / "index"
    writer = _spawn(folder)
    try:
        _expect(writer, "ready")
        # this process cannot open it while the writer holds it, and is told who does
        with pytest.raises(StoreLockedError, match=rf"pid {writer.pid}.*CLOSP_STORE_URL"):
            EdgeStore(folder, model_id)
        _send(writer, "write 0 300")
        for _ in range(6):
            _expect(writer, "acked")
        # a second child is refused too, cleanly (exit code 3, our message)
        other = _spawn(folder)
        out, _ = other.communicate(timeout=60)
        assert other.returncode == 3 and f"pid {writer.pid}" in out
        _send(writer, "close")
        _expect(writer, "closed")
        assert writer.wait(timeout=60) == 0
    finally:
        writer.kill()
    expected = record_factory(600, seed=11)[:300]
    with EdgeStore(folder, model_id) as store:
        assert store.count() == 300
        got = store.get([r.key for r in expected], with_vectors=True)
        assert got == expected  # nothing lost, nothing corrupted


def test_sigkill_mid_batch_keeps_acknowledged_batches(
    tmp_path: Path, model_id: str, record_factory
) -> None:
    folder = tmp_path / "index"
    n = 6000
    writer = _spawn(folder, n)
    try:
        _expect(writer, "ready")
        _send(writer, f"write 0 {n}")
        acked = 0
        for _ in range(20):  # 1,000 chips acknowledged, then kill while it writes more
            acked = int(_expect(writer, "acked").split()[1])
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=60)
    finally:
        writer.kill()
    assert writer.returncode == -signal.SIGKILL
    records: list[ChipRecord] = record_factory(n, seed=11)
    with EdgeStore(folder, model_id) as store:  # opens: the kernel dropped the lock
        held = store.count()
        assert acked <= held < n  # every acknowledged batch is there; the rest was cut off
        got = store.get([r.key for r in records[:acked]], with_vectors=True)
        assert got == records[:acked]
        # an ingest rerun completes it without duplicates
        store.upsert(records, batch_size=500)
        assert store.count() == n
        assert store.counts_by("sensor") == {"s1": n // 2, "s2": n // 2}


def test_hnsw_index_and_int8_keep_recall(tmp_path: Path, model_id: str, record_factory) -> None:
    chips: list[ChipRecord] = record_factory(8000, seed=5)
    params = IndexParams(m=8, ef_construct=32, int8=True)
    with EdgeStore(tmp_path / "index", model_id, params) as store:
        store.upsert(chips, batch_size=2000)
        queries = [chips[i].vector for i in range(0, 8000, 400)]
        exact = [[h.key for h in store.search(q, limit=10, exact=True)] for q in queries]
        assert store.info().indexed_vectors == 0
        store.optimize()
        assert store.info().indexed_vectors == 8000
        approx = [[h.key for h in store.search(q, limit=10)] for q in queries]
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx, exact, strict=True))
    assert hits / (10 * len(queries)) >= 0.9
    with EdgeStore(tmp_path / "index", model_id) as again:  # parameters come from the folder
        assert again.params == params
