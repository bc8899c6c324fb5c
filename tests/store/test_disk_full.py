"""The embedded index on a full disk (``closp_core/store/space.py``), on a small tmpfs, in a
child process (were the guard to fail, Qdrant Edge's mapped write-ahead log would kill the
process with SIGBUS, as it did before; the parent then sees the signal, not a hang).
Before: the write died with SIGBUS, and so did every later open with 10 MB freed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.small_disk import small_disk

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from closp_core.store import StoreDiskFullError
    from closp_core.store.edge import EdgeStore
    from tests.small_disk import fill, free_space
    from tests.store.conftest import make_records

    disk = Path(sys.argv[1])
    records = make_records(600)
    store = EdgeStore(disk / "index", "m")
    store.upsert(records[:300])
    fill(disk, 10 * 2**20)  # 10 MB left: less than the mapped log may claim
    try:
        store.upsert(records[300:])
    except StoreDiskFullError as err:
        print("WRITE:", err)
    store.close()
    try:
        EdgeStore(disk / "index", "m")
    except StoreDiskFullError as err:
        print("OPEN:", err)
    free_space(disk)
    store = EdgeStore(disk / "index", "m")
    hits = store.search(records[7].vector, limit=1)
    print("AFTER:", store.count(), hits[0].key == records[7].key)
    store.upsert(records[300:])
    print("MORE:", store.count())
    store.close()
    """
)


def test_a_full_disk_refuses_writes_and_opens_and_the_index_comes_back(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 320) as disk:
        done = subprocess.run(
            [sys.executable, "-c", SCENARIO, str(disk)],
            capture_output=True,
            text=True,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert lines["WRITE"].startswith("disk full: 10.0 MB free on the disk of the index")
    assert "adding 256 chips needs at least" in lines["WRITE"]
    assert "nothing was written" in lines["WRITE"]
    assert "opening it (its write-ahead log is mapped) needs at least" in lines["OPEN"]
    assert lines["AFTER"] == "300 True"  # what was acknowledged, searchable again
    assert lines["MORE"] == "600"
