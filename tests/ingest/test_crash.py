"""A crash during ingest loses at most the batches in flight, and a rerun completes the index."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from closp_core.data.samples import SAMPLES_DIR
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.cli import main
from tests.data.bigearthnet.make_data import write_patch_folders
from tests.ingest.conftest import cli_args

ROOT = Path(__file__).resolve().parents[2]
MODEL_ID = "closp-rn:random-seed0"

# Runs the real pipeline on the Spain S1 sample scene (25 chips) in batches of 2 and SIGKILLs
# its own process when the reader is asked for chip number KILL_AT. It prints "acked N" each
# time the store acknowledges a batch, so the test knows what must have survived. (The reader
# works ahead of the embedder, up to three batches, so the kill lands while batch 5 to 8 is
# being embedded or upserted.)
KILL_AT = 16
CRASHING_READER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from closp_core.data import SceneSource
    from closp_core.data.samples import SAMPLES_DIR
    from closp_core.embedder import Embedder
    from closp_core.model import load_model
    from closp_core.settings import Settings
    from closp_core.store import open_store
    from ingest.pipeline import Ingestor

    class Crashing(SceneSource):
        served = 0
        def read(self, unit, tally):
            for chip in super().read(unit, tally):
                if Crashing.served == int(sys.argv[2]) - 1:
                    os.kill(os.getpid(), signal.SIGKILL)
                Crashing.served += 1
                yield chip

    settings = Settings(data_dir=Path(sys.argv[1]))
    embedder = Embedder(load_model("random:closp-rn"), "cpu")
    store = open_store(settings, embedder.model_id)
    upsert = store.upsert
    def acknowledged(records, **kwargs):
        done = upsert(records, **kwargs)
        print("acked", store.count(), flush=True)
        return done
    store.upsert = acknowledged
    Ingestor(embedder, store, settings.data_dir, batch_size=2, progress=False).run(
        Crashing(SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif")
    )
    """
)

# Many one-chip units: BigEarthNet patch folders in batches of 4 (each batch spans 4 folders),
# read by a thread or by a worker process. The process SIGKILLs itself when the store is asked
# to upsert its 4th batch: that batch was read and embedded but never acknowledged.
CRASHING_UPSERT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from closp_core.data import BigEarthNetSource
    from closp_core.embedder import Embedder
    from closp_core.model import load_model
    from closp_core.settings import Settings
    from closp_core.store import open_store
    from ingest.pipeline import Ingestor

    settings = Settings(data_dir=Path(sys.argv[1]))
    embedder = Embedder(load_model("random:closp-rn"), "cpu", threads=1)
    store = open_store(settings, embedder.model_id)
    upsert = store.upsert
    def acknowledged(records, **kwargs):
        if acknowledged.calls == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        done = upsert(records, **kwargs)
        acknowledged.calls += 1
        print("acked", store.count(), *sorted(r.key for r in records), flush=True)
        return done
    acknowledged.calls = 0
    store.upsert = acknowledged
    Ingestor(
        embedder, store, settings.data_dir, batch_size=4, progress=False, workers=int(sys.argv[3])
    ).run(BigEarthNetSource(sys.argv[2]))
    """
)


def _crash(*args: str) -> list[list[str]]:
    """Run a crashing script; the words of its "acked" lines."""
    proc = subprocess.run(
        [sys.executable, "-c", *args],
        cwd=ROOT,
        timeout=240,
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -9, proc.stderr  # SIGKILL
    return [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("acked")]


def _count(settings: Settings) -> int:
    store = open_store(settings, MODEL_ID)  # the lock died with the process (and its workers)
    try:
        return store.count()
    finally:
        store.close()


def test_killed_ingest_keeps_acknowledged_batches(settings: Settings) -> None:
    acks = _crash(CRASHING_READER, str(settings.data_dir), str(KILL_AT))
    acked = [int(words[0]) for words in acks]
    assert acked and acked[-1] >= 4  # at least two batches went in before the kill
    count = _count(settings)
    # every acknowledged batch (one more may have landed between its ack and the print),
    # whole batches only, and never the batch whose 16th chip was never read
    assert acked[-1] <= count <= KILL_AT - 2 and count % 2 == 0

    scene = SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif"
    assert main(cli_args(settings, "scene", str(scene))) == 0
    assert _count(settings) == 25  # completed, no duplicates


@pytest.mark.parametrize("workers", [0, 1], ids=["reader-thread", "reader-process"])
def test_killed_ingest_of_many_small_units(
    settings: Settings, tmp_path: Path, workers: int
) -> None:
    patches = tmp_path / "patches"
    write_patch_folders(patches, 30)
    acks = _crash(CRASHING_UPSERT, str(settings.data_dir), str(patches), str(workers))
    assert [int(words[0]) for words in acks] == [4, 8, 12]
    keys = [key for words in acks for key in words[1:]]
    assert len(set(keys)) == 12  # twelve patch folders, four to a batch
    assert _count(settings) == 12  # what was acknowledged, not the batch in flight

    # the rerun as people run it: reader processes re-import the main module, so not in-process
    # here (AppTest, earlier in the session, leaves app.py as this process's __main__)
    rerun = cli_args(settings, "bigearthnet", str(patches), "--workers", str(workers))
    proc = subprocess.run(
        [sys.executable, "-m", "ingest", *rerun], cwd=ROOT, timeout=240, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"indexed 18 chips", out) and "skipped 12 chips already indexed" in out
    assert _count(settings) == 30  # completed exactly, no duplicates
